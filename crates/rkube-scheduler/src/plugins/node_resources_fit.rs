//! NodeResourcesFit: the pod's requests (containers, init containers, sidecars, overhead,
//! extended resources) must fit in the node's allocatable minus what its pods request, and the
//! pod count must stay within `pods`; nodes are scored by a configurable strategy:
//! LeastAllocated (default), MostAllocated or RequestedToCapacityRatio.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, Plugin,
    PluginExtensions, PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin, Status,
};
use crate::node_info::NodeInfo;
use crate::plugins::resource_allocation::{
    ResourceSpec, ResourceUsage, default_resources, pod_request_list, resource_usages,
    validate_resources,
};
use crate::registry::{RegistryError, decode_args};
use crate::resources::{Resource, is_extended_resource_name, pod_non_zero_requests, pod_requests};

/// The plugin's name.
pub const NAME: &str = "NodeResourcesFit";
const PRE_FILTER_STATE_KEY: &str = "PreFilterNodeResourcesFit";
const PRE_SCORE_STATE_KEY: &str = "PreScoreNodeResourcesFit";
/// Highest score in a RequestedToCapacityRatio shape.
pub const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;
/// Highest utilization in a shape.
pub const MAX_UTILIZATION: i64 = 100;

/// How nodes are scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ScoringStrategyType {
    /// Prefer nodes with the most free resources (spreads pods).
    #[default]
    LeastAllocated,
    /// Prefer the fullest nodes (bin packing).
    MostAllocated,
    /// Score by a piecewise-linear function of utilization.
    RequestedToCapacityRatio,
}

/// One point of the RequestedToCapacityRatio function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UtilizationShapePoint {
    /// Utilization, 0 to 100.
    pub utilization: i64,
    /// Score, 0 to 10.
    pub score: i64,
}

/// `requestedToCapacityRatio`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestedToCapacityRatioParam {
    /// The function's points, by increasing utilization.
    pub shape: Vec<UtilizationShapePoint>,
}

/// `scoringStrategy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScoringStrategy {
    /// The strategy.
    #[serde(rename = "type")]
    pub strategy: ScoringStrategyType,
    /// Resources and weights (default cpu and memory, weight 1).
    pub resources: Vec<ResourceSpec>,
    /// For RequestedToCapacityRatio.
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

/// `NodeResourcesFitArgs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeResourcesFitArgs {
    /// Extended resources the filter ignores.
    pub ignored_resources: Vec<String>,
    /// Extended resource groups (the part before `/`) the filter ignores.
    pub ignored_resource_groups: Vec<String>,
    /// How to score.
    pub scoring_strategy: Option<ScoringStrategy>,
}

/// Filters by resource fit and scores by the configured strategy.
#[derive(Debug)]
pub struct NodeResourcesFitPlugin {
    ignored_resources: Vec<String>,
    ignored_resource_groups: Vec<String>,
    strategy: ScoringStrategyType,
    resources: Vec<ResourceSpec>,
    shape: Vec<UtilizationShapePoint>,
}

impl Plugin for NodeResourcesFitPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

/// One reason a node cannot take the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsufficientResource {
    /// The resource's name (`pods` for the pod count).
    pub resource: String,
    /// The reason shown to users (`Insufficient cpu`, `Too many pods`).
    pub reason: String,
    /// Requested by the pod.
    pub requested: i64,
    /// Already in use on the node.
    pub used: i64,
    /// The node's capacity for it.
    pub capacity: i64,
}

#[derive(Clone)]
struct PreFilterState(Resource);

impl NodeResourcesFitPlugin {
    fn is_ignored(&self, name: &str) -> bool {
        if !is_extended_resource_name(name) {
            return false;
        }
        self.ignored_resources.iter().any(|r| r == name)
            || name
                .split_once('/')
                .is_some_and(|(group, _)| self.ignored_resource_groups.iter().any(|g| g == group))
    }

    /// Every resource the pod lacks on the node (upstream's `fitsRequest`).
    pub fn insufficient_resources(
        &self,
        request: &Resource,
        node: &NodeInfo,
    ) -> Vec<InsufficientResource> {
        let mut insufficient = Vec::new();
        let allowed_pods = node.allocatable.allowed_pod_number;
        if node.pods.len() as i64 + 1 > allowed_pods {
            insufficient.push(InsufficientResource {
                resource: "pods".into(),
                reason: "Too many pods".into(),
                requested: 1,
                used: node.pods.len() as i64,
                capacity: allowed_pods,
            });
        }
        if request.is_zero() {
            return insufficient;
        }
        let native = [
            (
                "cpu",
                request.milli_cpu,
                node.requested.milli_cpu,
                node.allocatable.milli_cpu,
            ),
            (
                "memory",
                request.memory,
                node.requested.memory,
                node.allocatable.memory,
            ),
            (
                "ephemeral-storage",
                request.ephemeral_storage,
                node.requested.ephemeral_storage,
                node.allocatable.ephemeral_storage,
            ),
        ];
        for (name, requested, used, capacity) in native {
            if requested > 0 && requested > capacity - used {
                insufficient.push(InsufficientResource {
                    resource: name.into(),
                    reason: format!("Insufficient {name}"),
                    requested,
                    used,
                    capacity,
                });
            }
        }
        for (name, requested) in &request.scalar {
            if *requested == 0 || self.is_ignored(name) {
                continue;
            }
            let capacity = node.allocatable.get(name);
            let used = node.requested.get(name);
            if *requested > capacity - used {
                insufficient.push(InsufficientResource {
                    resource: name.clone(),
                    reason: format!("Insufficient {name}"),
                    requested: *requested,
                    used,
                    capacity,
                });
            }
        }
        insufficient
    }

    fn node_score(&self, usages: impl Iterator<Item = ResourceUsage>) -> i64 {
        let (mut total, mut weights) = (0i64, 0i64);
        let shape = &self.shape;
        for usage in usages {
            let (req, cap) = (usage.requested, usage.allocatable);
            let score = match self.strategy {
                ScoringStrategyType::LeastAllocated => least_requested_score(req, cap),
                ScoringStrategyType::MostAllocated => most_requested_score(req, cap),
                ScoringStrategyType::RequestedToCapacityRatio => {
                    if cap == 0 || req > cap {
                        broken_linear(shape, MAX_UTILIZATION)
                    } else {
                        broken_linear(shape, req * MAX_UTILIZATION / cap)
                    }
                }
            };
            total += score * usage.weight;
            weights += usage.weight;
        }
        if weights == 0 {
            return 0;
        }
        if self.strategy == ScoringStrategyType::RequestedToCapacityRatio {
            (total as f64 / weights as f64).round() as i64
        } else {
            total / weights
        }
    }
}

/// Free share of capacity, 0..100.
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// Used share of capacity, 0..100 (overcommitted counts as full).
pub fn most_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    requested.min(capacity) * MAX_NODE_SCORE / capacity
}

/// The piecewise-linear function through the shape's points, flat outside them.
pub fn broken_linear(shape: &[UtilizationShapePoint], utilization: i64) -> i64 {
    for (i, point) in shape.iter().enumerate() {
        if utilization <= point.utilization {
            if i == 0 {
                return point.score;
            }
            let prev = shape[i - 1];
            return prev.score
                + (point.score - prev.score) * (utilization - prev.utilization)
                    / (point.utilization - prev.utilization);
        }
    }
    shape.last().map_or(0, |p| p.score)
}

impl PreFilterPlugin for NodeResourcesFitPlugin {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        _nodes: &[NodeInfo],
    ) -> (Option<PreFilterResult>, Status) {
        state.write(PRE_FILTER_STATE_KEY, PreFilterState(pod_requests(pod)));
        (None, Status::success())
    }
}

impl FilterPlugin for NodeResourcesFitPlugin {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let computed;
        let request = match state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) {
            Some(s) => &s.0,
            None => {
                computed = pod_requests(pod);
                &computed
            }
        };
        let insufficient = self.insufficient_resources(request, node);
        if insufficient.is_empty() {
            Status::success()
        } else {
            Status::new(
                crate::framework::StatusCode::Unschedulable,
                insufficient.into_iter().map(|i| i.reason),
            )
        }
    }
}

/// The pod's requests (with scoring defaults) per configured resource.
#[derive(Clone)]
struct PreScoreState(Vec<i64>);

impl PreScorePlugin for NodeResourcesFitPlugin {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _nodes: &[&NodeInfo]) -> Status {
        let requests = pod_request_list(&pod_non_zero_requests(pod), &self.resources);
        state.write(PRE_SCORE_STATE_KEY, PreScoreState(requests));
        Status::success()
    }
}

impl ScorePlugin for NodeResourcesFitPlugin {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Result<i64, Status> {
        let computed;
        let requests = match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(s) => &s.0,
            None => {
                computed = pod_request_list(&pod_non_zero_requests(pod), &self.resources);
                &computed
            }
        };
        Ok(self.node_score(resource_usages(
            node,
            &node.non_zero_requested,
            &self.resources,
            requests,
        )))
    }
}

fn invalid(message: String) -> RegistryError {
    RegistryError::InvalidArgs {
        plugin: NAME.to_string(),
        message,
    }
}

/// Builds the plugin from `NodeResourcesFitArgs`, validating the scoring strategy.
pub fn new(args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let args: NodeResourcesFitArgs = decode_args(NAME, args)?;
    let strategy = args.scoring_strategy.unwrap_or_default();
    let mut resources = if strategy.resources.is_empty() {
        default_resources()
    } else {
        strategy.resources
    };
    validate_resources(NAME, &mut resources)?;
    let mut shape = Vec::new();
    if strategy.strategy == ScoringStrategyType::RequestedToCapacityRatio {
        let points = strategy
            .requested_to_capacity_ratio
            .map(|r| r.shape)
            .unwrap_or_default();
        if points.is_empty() {
            return Err(invalid("scoringStrategy.requestedToCapacityRatio.shape: Required value: at least one point must be specified".into()));
        }
        for (i, point) in points.iter().enumerate() {
            if !(0..=MAX_UTILIZATION).contains(&point.utilization) {
                return Err(invalid(format!(
                    "shape[{i}].utilization: Invalid value: {}: not in valid range [0, 100]",
                    point.utilization
                )));
            }
            if !(0..=MAX_CUSTOM_PRIORITY_SCORE).contains(&point.score) {
                return Err(invalid(format!(
                    "shape[{i}].score: Invalid value: {}: not in valid range [0, 10]",
                    point.score
                )));
            }
            if i > 0 && point.utilization <= points[i - 1].utilization {
                return Err(invalid(format!(
                    "shape[{i}].utilization: Invalid value: {}: utilization values must be sorted in increasing order",
                    point.utilization
                )));
            }
        }
        shape = points
            .into_iter()
            .map(|p| UtilizationShapePoint {
                utilization: p.utilization,
                score: p.score * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE),
            })
            .collect();
    }
    let plugin = Arc::new(NodeResourcesFitPlugin {
        ignored_resources: args.ignored_resources,
        ignored_resource_groups: args.ignored_resource_groups,
        strategy: strategy.strategy,
        resources,
        shape,
    });
    Ok(PluginExtensions {
        pre_filter: Some(plugin.clone()),
        filter: Some(plugin.clone()),
        pre_score: Some(plugin.clone()),
        score: Some(plugin),
        events: vec![
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD
                    .or(ActionType::UPDATE_NODE_ALLOCATABLE)
                    .or(ActionType::UPDATE_NODE_TAINT)
                    .or(ActionType::UPDATE_NODE_LABEL),
                "NodeAddOrAllocatableChange",
            ),
            ClusterEvent::new(
                EventResource::AssignedPod,
                ActionType::DELETE.or(ActionType::UPDATE_POD_SCALE_DOWN),
                "AssignedPodDeleteOrScaleDown",
            ),
            ClusterEvent::new(
                EventResource::UnscheduledPod,
                ActionType::UPDATE_POD_SCALE_DOWN,
                "PodScaleDown",
            ),
        ],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
