//! What NodeResourcesFit scoring and NodeResourcesBalancedAllocation share (upstream's
//! `resourceAllocationScorer`): per configured resource, the node's allocatable and what would
//! be requested on it with the pod added.

use serde::Deserialize;

use crate::node_info::NodeInfo;
use crate::registry::RegistryError;
use crate::resources::{CPU, EPHEMERAL_STORAGE, MEMORY, PODS, Resource};

/// A resource and its weight in a score.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpec {
    /// Resource name (`cpu`, `memory`, `nvidia.com/gpu`, ...).
    pub name: String,
    /// Weight, 1 to 100 (0 or unset means 1).
    #[serde(default)]
    pub weight: i64,
    /// The name resolved once, so scoring does not compare strings per node.
    #[serde(skip)]
    pub kind: ResourceKind,
}

/// Which field of `Resource` a name refers to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResourceKind {
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
    /// `ephemeral-storage`.
    EphemeralStorage,
    /// `pods` (never scored; kept to refuse nothing).
    Pods,
    /// Anything else, looked up by name.
    #[default]
    Scalar,
}

impl ResourceKind {
    /// The kind of a resource name.
    pub fn of(name: &str) -> ResourceKind {
        match name {
            CPU => ResourceKind::Cpu,
            MEMORY => ResourceKind::Memory,
            EPHEMERAL_STORAGE => ResourceKind::EphemeralStorage,
            PODS => ResourceKind::Pods,
            _ => ResourceKind::Scalar,
        }
    }
}

/// `cpu` and `memory`, weight 1 each: the default for every strategy.
pub fn default_resources() -> Vec<ResourceSpec> {
    vec![
        ResourceSpec {
            name: CPU.to_string(),
            weight: 1,
            kind: ResourceKind::Cpu,
        },
        ResourceSpec {
            name: MEMORY.to_string(),
            weight: 1,
            kind: ResourceKind::Memory,
        },
    ]
}

/// Fills weights and kinds and checks ranges.
pub fn validate_resources(
    plugin: &str,
    resources: &mut [ResourceSpec],
) -> Result<(), RegistryError> {
    for resource in resources.iter_mut() {
        resource.kind = ResourceKind::of(&resource.name);
        if resource.weight == 0 {
            resource.weight = 1;
        }
        if !(1..=100).contains(&resource.weight) {
            return Err(RegistryError::InvalidArgs {
                plugin: plugin.to_string(),
                message: format!(
                    "resources[{}].weight: Invalid value: {}: resource weight of {} not in valid range [1, 100]",
                    resource.name, resource.weight, resource.name
                ),
            });
        }
    }
    Ok(())
}

/// The pod's request of each configured resource.
pub fn pod_request_list(pod_requests: &Resource, resources: &[ResourceSpec]) -> Vec<i64> {
    resources
        .iter()
        .map(|r| pod_requests.get(&r.name))
        .collect()
}

/// One resource as a scorer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceUsage {
    /// The node's allocatable.
    pub allocatable: i64,
    /// Requested on the node with the pod added.
    pub requested: i64,
    /// The resource's weight.
    pub weight: i64,
}

/// (allocatable, requested-with-pod, weight) per configured resource, leaving out resources the
/// node lacks and scalar resources the pod does not request (upstream returns (0, 0) for those
/// and the scorers skip them). `node_requested` is the node's `requested` or
/// `non_zero_requested`, as the scorer wants; ephemeral storage and scalar resources always
/// use the actual requests, as upstream does. Allocation-free: called once per node.
pub fn resource_usages<'a>(
    node: &'a NodeInfo,
    node_requested: &'a Resource,
    resources: &'a [ResourceSpec],
    pod_requests: &'a [i64],
) -> impl Iterator<Item = ResourceUsage> + Clone + 'a {
    resources
        .iter()
        .zip(pod_requests)
        .filter_map(move |(resource, pod_request)| {
            let pod_request = *pod_request;
            // Scalar resources (extended, hugepages, ...) are scored only when requested.
            let (allocatable, requested) = match resource.kind {
                ResourceKind::Cpu => (
                    node.allocatable.milli_cpu,
                    node_requested.milli_cpu + pod_request,
                ),
                ResourceKind::Memory => {
                    (node.allocatable.memory, node_requested.memory + pod_request)
                }
                ResourceKind::EphemeralStorage => (
                    node.allocatable.ephemeral_storage,
                    node.requested.ephemeral_storage + pod_request,
                ),
                ResourceKind::Pods | ResourceKind::Scalar => {
                    if pod_request == 0 {
                        return None;
                    }
                    let name = resource.name.as_str();
                    let allocatable = node.allocatable.scalar.get(name).copied()?;
                    (allocatable, node.requested.get(name) + pod_request)
                }
            };
            (allocatable != 0).then_some(ResourceUsage {
                allocatable,
                requested,
                weight: resource.weight,
            })
        })
}
