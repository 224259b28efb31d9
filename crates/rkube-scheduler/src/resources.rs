//! Resource amounts as the scheduler counts them (milli-CPU, bytes, pod slots, extended
//! resources) and a pod's effective requests: regular containers summed, init containers taken
//! at their peak (sidecars, i.e. restartable init containers, keep running and add up), plus the
//! pod overhead — upstream's `resourcehelper.PodRequests`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use rkube_api::validation::quantity::Quantity;

/// `cpu`.
pub const CPU: &str = "cpu";
/// `memory`.
pub const MEMORY: &str = "memory";
/// `ephemeral-storage`.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// `pods`.
pub const PODS: &str = "pods";

/// CPU assumed for a container that requests none, when scoring (100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container that requests none, when scoring (200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of every resource the scheduler tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// CPU in thousandths of a core.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Local ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Number of pods (only meaningful for a node's allocatable).
    pub allowed_pod_number: i64,
    /// Extended and other scalar resources (`nvidia.com/gpu`, `hugepages-2Mi`, ...) in units.
    pub scalar: BTreeMap<String, i64>,
}

fn clamp_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// A quantity in whole units, rounded up; an unparsable quantity counts as zero (the API
/// server validates quantities, so this only happens with hand-made objects).
pub fn quantity_value(quantity: &ApiQuantity) -> i64 {
    Quantity::parse(&quantity.0).map_or(0, |q| clamp_i64(q.value()))
}

/// A quantity in thousandths, rounded up; unparsable counts as zero.
pub fn quantity_milli_value(quantity: &ApiQuantity) -> i64 {
    Quantity::parse(&quantity.0).map_or(0, |q| clamp_i64(q.milli_value()))
}

impl Resource {
    /// Reads a resource list (`requests`, `allocatable`, `overhead`).
    pub fn from_list(list: &BTreeMap<String, ApiQuantity>) -> Resource {
        let mut resource = Resource::default();
        for (name, quantity) in list {
            resource.add_named(name, quantity);
        }
        resource
    }

    fn add_named(&mut self, name: &str, quantity: &ApiQuantity) {
        match name {
            CPU => {
                self.milli_cpu = self
                    .milli_cpu
                    .saturating_add(quantity_milli_value(quantity))
            }
            MEMORY => self.memory = self.memory.saturating_add(quantity_value(quantity)),
            EPHEMERAL_STORAGE => {
                self.ephemeral_storage = self
                    .ephemeral_storage
                    .saturating_add(quantity_value(quantity))
            }
            PODS => {
                self.allowed_pod_number = self
                    .allowed_pod_number
                    .saturating_add(quantity_value(quantity))
            }
            other => {
                let entry = self.scalar.entry(other.to_string()).or_insert(0);
                *entry = entry.saturating_add(quantity_value(quantity));
            }
        }
    }

    /// Adds another amount to this one.
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.allowed_pod_number = self
            .allowed_pod_number
            .saturating_add(other.allowed_pod_number);
        for (name, value) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = entry.saturating_add(*value);
        }
    }

    /// Subtracts another amount from this one.
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.allowed_pod_number = self
            .allowed_pod_number
            .saturating_sub(other.allowed_pod_number);
        for (name, value) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = entry.saturating_sub(*value);
        }
    }

    /// Raises each resource of this amount to at least the other's.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pod_number = self.allowed_pod_number.max(other.allowed_pod_number);
        for (name, value) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = (*entry).max(*value);
        }
    }

    /// The amount of one resource by its API name.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    /// Whether nothing at all is requested.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// Whether a name is an extended resource (`example.com/foo`, outside `kubernetes.io/`).
pub fn is_extended_resource_name(name: &str) -> bool {
    match name.split_once('/') {
        Some((prefix, _)) => {
            !(prefix == "kubernetes.io"
                || prefix.ends_with(".kubernetes.io")
                || name.starts_with("requests."))
        }
        None => false,
    }
}

/// Whether an init container is a sidecar (`restartPolicy: Always`).
pub fn is_restartable_init_container(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

fn container_requests(container: &Container, non_zero: bool) -> Resource {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let mut resource = requests.map(Resource::from_list).unwrap_or_default();
    if non_zero {
        if !requests.is_some_and(|r| r.contains_key(CPU)) {
            resource.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !requests.is_some_and(|r| r.contains_key(MEMORY)) {
            resource.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    resource
}

fn pod_requests_with(pod: &Pod, non_zero: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else {
        return Resource::default();
    };
    let mut total = Resource::default();
    for container in &spec.containers {
        total.add(&container_requests(container, non_zero));
    }
    let mut sidecars = Resource::default();
    let mut init_peak = Resource::default();
    for container in spec.init_containers.iter().flatten() {
        let requests = container_requests(container, non_zero);
        if is_restartable_init_container(container) {
            // A sidecar keeps running next to everything started after it.
            total.add(&requests);
            sidecars.add(&requests);
            init_peak.set_max(&sidecars);
        } else {
            let mut running = requests;
            running.add(&sidecars);
            init_peak.set_max(&running);
        }
    }
    total.set_max(&init_peak);
    if let Some(overhead) = spec.overhead.as_ref() {
        total.add(&Resource::from_list(overhead));
    }
    total
}

/// What a pod requests, as the Fit filter counts it.
pub fn pod_requests(pod: &Pod) -> Resource {
    pod_requests_with(pod, false)
}

/// What a pod requests with containers that request no CPU or memory counted at 100m / 200MiB,
/// as scoring counts it (so best-effort pods still spread).
pub fn pod_non_zero_requests(pod: &Pod) -> Resource {
    pod_requests_with(pod, true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    pub(crate) fn container(name: &str, requests: &[(&str, &str)]) -> Container {
        Container {
            name: name.to_string(),
            resources: Some(ResourceRequirements {
                requests: Some(
                    requests
                        .iter()
                        .map(|(k, v)| (k.to_string(), ApiQuantity(v.to_string())))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: Some(init),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn sidecar(name: &str, requests: &[(&str, &str)]) -> Container {
        Container {
            restart_policy: Some("Always".to_string()),
            ..container(name, requests)
        }
    }

    #[test]
    fn sums_regular_containers() {
        let p = pod(
            vec![
                container("a", &[("cpu", "500m"), ("memory", "1Gi")]),
                container("b", &[("cpu", "1"), ("example.com/gpu", "2")]),
            ],
            vec![],
        );
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 1500);
        assert_eq!(r.memory, 1 << 30);
        assert_eq!(r.scalar.get("example.com/gpu"), Some(&2));
    }

    #[test]
    fn init_containers_take_the_peak() {
        let p = pod(
            vec![container("a", &[("cpu", "1")])],
            vec![container("i", &[("cpu", "3"), ("memory", "1")])],
        );
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 3000);
        assert_eq!(r.memory, 1);
    }

    #[test]
    fn sidecars_add_up() {
        // sidecar 1 cpu, then a normal init container 2 cpu (runs with the sidecar: 3),
        // then regular 1 cpu (+ sidecar = 2). Peak is 3.
        let p = pod(
            vec![container("a", &[("cpu", "1")])],
            vec![
                sidecar("s", &[("cpu", "1")]),
                container("i", &[("cpu", "2")]),
            ],
        );
        assert_eq!(pod_requests(&p).milli_cpu, 3000);
        // a big regular container wins over the init phase: 5 + 1 sidecar.
        let p = pod(
            vec![container("a", &[("cpu", "5")])],
            vec![
                sidecar("s", &[("cpu", "1")]),
                container("i", &[("cpu", "2")]),
            ],
        );
        assert_eq!(pod_requests(&p).milli_cpu, 6000);
    }

    #[test]
    fn overhead_is_added() {
        let mut p = pod(vec![container("a", &[("cpu", "1")])], vec![]);
        if let Some(spec) = p.spec.as_mut() {
            spec.overhead = Some(
                [("cpu".to_string(), ApiQuantity("250m".to_string()))]
                    .into_iter()
                    .collect(),
            );
        }
        assert_eq!(pod_requests(&p).milli_cpu, 1250);
    }

    #[test]
    fn non_zero_defaults_for_missing_requests_only() {
        let p = pod(
            vec![Container::default(), container("b", &[("cpu", "0")])],
            vec![],
        );
        let r = pod_non_zero_requests(&p);
        assert_eq!(r.milli_cpu, 100);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
        assert!(pod_requests(&p).is_zero());
    }

    #[test]
    fn extended_resource_names() {
        assert!(is_extended_resource_name("nvidia.com/gpu"));
        assert!(!is_extended_resource_name("kubernetes.io/foo"));
        assert!(!is_extended_resource_name("cpu"));
    }
}
