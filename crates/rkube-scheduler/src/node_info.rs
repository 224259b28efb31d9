//! What the scheduler knows about each node: the node, the pods assigned to it, what they
//! request, the host ports in use and the images present; and a `Snapshot` of all nodes taken at
//! the start of a scheduling cycle (upstream's `NodeInfo` and cache snapshot).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use crate::affinity::PodTerms;
use crate::resources::{Resource, pod_non_zero_requests, pod_requests};

/// `topology.kubernetes.io/zone`.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// `topology.kubernetes.io/region`.
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";

/// A pod with the numbers the scheduler needs computed once.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// Its requests as the Fit filter counts them.
    pub requests: Resource,
    /// Its requests with 100m/200Mi for containers that request no CPU/memory.
    pub non_zero_requests: Resource,
    /// Its pod (anti-)affinity terms, resolved; `None` when it has none.
    pub affinity: Option<Arc<PodTerms>>,
}

impl PodInfo {
    /// Computes the pod's requests and resolves its affinity terms.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        PodInfo {
            requests: pod_requests(&pod),
            non_zero_requests: pod_non_zero_requests(&pod),
            affinity: PodTerms::of_running(&pod),
            pod,
        }
    }

    /// Whether the pod has pod affinity or anti-affinity terms.
    pub fn has_affinity(&self) -> bool {
        self.affinity.is_some()
    }

    /// Whether the pod has required pod anti-affinity terms.
    pub fn has_required_anti_affinity(&self) -> bool {
        self.affinity
            .as_ref()
            .is_some_and(|t| !t.required_anti_affinity.is_empty())
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        pod_key(&self.pod)
    }
}

/// `namespace/name` of a pod.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

/// Default host IP of a host port (all addresses).
pub const DEFAULT_BIND_ALL_HOST_IP: &str = "0.0.0.0";

/// Host ports in use on a node: host IP → (protocol, port).
#[derive(Debug, Clone, Default)]
pub struct HostPortInfo {
    ports: HashMap<String, HashSet<(String, i32)>>,
}

/// One requested host port, with upstream's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host IP (`0.0.0.0` when empty).
    pub ip: String,
    /// Protocol (`TCP` when empty).
    pub protocol: String,
    /// The port.
    pub port: i32,
}

/// The host ports a pod asks for (containers and init containers, `hostPort > 0`).
pub fn pod_host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|port| *port > 0)?;
            Some(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| DEFAULT_BIND_ALL_HOST_IP.to_string()),
                protocol: p
                    .protocol
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "TCP".to_string()),
                port,
            })
        })
        .collect()
}

impl HostPortInfo {
    /// Records a port as used.
    pub fn add(&mut self, port: &HostPort) {
        self.ports
            .entry(port.ip.clone())
            .or_default()
            .insert((port.protocol.clone(), port.port));
    }

    /// Forgets a used port.
    pub fn remove(&mut self, port: &HostPort) {
        if let Some(set) = self.ports.get_mut(&port.ip) {
            set.remove(&(port.protocol.clone(), port.port));
            if set.is_empty() {
                self.ports.remove(&port.ip);
            }
        }
    }

    /// Whether the port conflicts with one in use: same protocol and port on the same IP, or
    /// either side bound to `0.0.0.0`.
    pub fn conflicts(&self, port: &HostPort) -> bool {
        let key = (port.protocol.clone(), port.port);
        if port.ip == DEFAULT_BIND_ALL_HOST_IP {
            return self.ports.values().any(|set| set.contains(&key));
        }
        [port.ip.as_str(), DEFAULT_BIND_ALL_HOST_IP]
            .iter()
            .any(|ip| self.ports.get(*ip).is_some_and(|set| set.contains(&key)))
    }

    /// Number of ports in use.
    pub fn len(&self) -> usize {
        self.ports.values().map(HashSet::len).sum()
    }

    /// Whether no port is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An image on a node, with how many nodes of the cluster have it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageStateSummary {
    /// Size in bytes.
    pub size: i64,
    /// Number of nodes in the snapshot that have the image.
    pub num_nodes: usize,
}

/// Image name with `:latest` added when it has neither tag nor digest.
pub fn normalized_image_name(name: &str) -> String {
    if name.contains('@') {
        return name.to_string();
    }
    let last_slash = name.rfind('/');
    let last_colon = name.rfind(':');
    match (last_colon, last_slash) {
        (Some(colon), Some(slash)) if colon > slash => name.to_string(),
        (Some(_), None) => name.to_string(),
        _ => format!("{name}:latest"),
    }
}

/// Source of `NodeInfo` generations, for the whole process (see `node_memo`); it starts at 1,
/// so 0 is never a node's generation.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// A node and everything assigned to it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// The node.
    pub node: Arc<Node>,
    /// The pods assigned to it (bound or assumed).
    pub pods: Vec<PodInfo>,
    /// Sum of the pods' requests.
    pub requested: Resource,
    /// Sum of the pods' requests with the scoring defaults for missing CPU/memory.
    pub non_zero_requested: Resource,
    /// The node's allocatable resources.
    pub allocatable: Resource,
    /// Host ports in use.
    pub used_ports: HostPortInfo,
    /// Images on the node by the names the node reports.
    pub image_states: HashMap<String, ImageStateSummary>,
    /// How many of its pods have pod affinity or anti-affinity terms.
    pub pods_with_affinity: usize,
    /// How many of its pods have required pod anti-affinity terms.
    pub pods_with_required_anti_affinity: usize,
    /// `spec.unschedulable` and `spec.taints`, copied out of the node: the filters read them
    /// for every node of every cycle, and the node object itself is rarely in cache.
    unschedulable: bool,
    taints: Vec<Taint>,
    /// Unique to this content of this node: new on every change of its pods, and for every
    /// `NodeInfo` built (see `node_memo`).
    generation: u64,
    /// Index in the snapshot's search order (0 outside a snapshot).
    position: usize,
}

impl NodeInfo {
    /// A node with no pods.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let allocatable = node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .map(Resource::from_list)
            .unwrap_or_default();
        let mut image_states = HashMap::new();
        for image in node
            .status
            .as_ref()
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
        {
            // Node-side names are taken as reported (upstream does not normalize them;
            // kubelets report full references such as `docker.io/library/nginx:1.27`).
            for name in image.names.iter().flatten() {
                image_states.insert(
                    name.clone(),
                    ImageStateSummary {
                        size: image.size_bytes.unwrap_or(0),
                        num_nodes: 1,
                    },
                );
            }
        }
        let spec = node.spec.as_ref();
        let unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        let taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        NodeInfo {
            generation: next_generation(),
            position: 0,
            node,
            unschedulable,
            taints,
            pods: Vec::new(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            allocatable,
            used_ports: HostPortInfo::default(),
            image_states,
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or("")
    }

    /// Changes whenever the node or its pods change (never shared by two different contents).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Index in the snapshot's search order (0 outside a snapshot): with the generation, it
    /// lets a plugin find what it computed for the node earlier in the cycle.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Whether the node is cordoned (`spec.unschedulable`).
    pub fn unschedulable(&self) -> bool {
        self.unschedulable
    }

    /// The node's taints.
    pub fn taints(&self) -> &[Taint] {
        &self.taints
    }

    /// The node's labels.
    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.node.metadata.labels.as_ref()
    }

    /// Assigns a pod to the node.
    pub fn add_pod(&mut self, pod: PodInfo) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        for port in pod_host_ports(&pod.pod) {
            self.used_ports.add(&port);
        }
        self.pods_with_affinity += usize::from(pod.has_affinity());
        self.pods_with_required_anti_affinity += usize::from(pod.has_required_anti_affinity());
        self.pods.push(pod);
        self.generation = next_generation();
    }

    /// Removes a pod (by namespace/name); returns whether it was there.
    pub fn remove_pod(&mut self, pod: &Pod) -> bool {
        let key = pod_key(pod);
        let Some(index) = self.pods.iter().position(|p| p.key() == key) else {
            return false;
        };
        let removed = self.pods.remove(index);
        self.requested.sub(&removed.requests);
        self.non_zero_requested.sub(&removed.non_zero_requests);
        for port in pod_host_ports(&removed.pod) {
            self.used_ports.remove(&port);
        }
        self.pods_with_affinity -= usize::from(removed.has_affinity());
        self.pods_with_required_anti_affinity -= usize::from(removed.has_required_anti_affinity());
        self.generation = next_generation();
        true
    }
}

/// Whether a pod has finished (it no longer holds resources on its node).
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Every node with its pods, at one moment, and the pods nominated to nodes by preemption
/// but not yet bound (upstream's nominator, kept by the scheduling queue there).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    nominated: HashMap<String, Vec<PodInfo>>,
    nominated_node_of: HashMap<String, String>,
}

impl Snapshot {
    /// Builds a snapshot from nodes and pods. Pods not bound to a listed node and finished pods
    /// are left out. Nodes are ordered like upstream's node tree: zones interleaved
    /// (one node of each zone in turn), so that a partial search covers every zone.
    pub fn new(nodes: Vec<Arc<Node>>, pods: Vec<Arc<Pod>>) -> Snapshot {
        let mut zones: Vec<(String, Vec<Arc<Node>>)> = Vec::new();
        for node in nodes {
            let zone = zone_key(&node);
            match zones.iter_mut().find(|(z, _)| *z == zone) {
                Some((_, list)) => list.push(node),
                None => zones.push((zone, vec![node])),
            }
        }
        let mut ordered = Vec::new();
        let mut iters: Vec<_> = zones.into_iter().map(|(_, l)| l.into_iter()).collect();
        loop {
            let mut any = false;
            for it in &mut iters {
                if let Some(node) = it.next() {
                    let mut info = NodeInfo::new(node);
                    info.position = ordered.len();
                    ordered.push(info);
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
        let mut snapshot = Snapshot {
            nominated: HashMap::new(),
            nominated_node_of: HashMap::new(),
            index: ordered
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name().to_string(), i))
                .collect(),
            nodes: ordered,
        };
        for pod in pods {
            snapshot.add_pod(pod);
        }
        snapshot.count_image_nodes();
        snapshot
    }

    fn count_image_nodes(&mut self) {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for node in &self.nodes {
            for name in node.image_states.keys() {
                *counts.entry(name.clone()).or_default() += 1;
            }
        }
        for node in &mut self.nodes {
            for (name, state) in &mut node.image_states {
                state.num_nodes = counts.get(name).copied().unwrap_or(1);
            }
        }
    }

    /// All nodes, in search order.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// One node by name.
    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    /// One node by name, to assume a pod onto it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut NodeInfo> {
        self.index.get(name).map(|i| &mut self.nodes[*i])
    }

    /// Position of a node in search order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Adds a node (at the end of the search order) or replaces it, keeping its pods. Image
    /// spread is recounted only when the node's images changed.
    pub fn upsert_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut info = NodeInfo::new(node);
        let images_changed = match self.index.get(&name) {
            Some(&i) => {
                let old = &mut self.nodes[i];
                let changed = !same_images(&old.image_states, &info.image_states);
                if !changed {
                    info.image_states = std::mem::take(&mut old.image_states);
                }
                info.pods = std::mem::take(&mut old.pods);
                info.requested = std::mem::take(&mut old.requested);
                info.non_zero_requested = std::mem::take(&mut old.non_zero_requested);
                info.used_ports = std::mem::take(&mut old.used_ports);
                info.pods_with_affinity = old.pods_with_affinity;
                info.pods_with_required_anti_affinity = old.pods_with_required_anti_affinity;
                info.position = i;
                *old = info;
                changed
            }
            None => {
                let changed = !info.image_states.is_empty();
                self.index.insert(name, self.nodes.len());
                info.position = self.nodes.len();
                self.nodes.push(info);
                changed
            }
        };
        if images_changed {
            self.count_image_nodes();
        }
    }

    /// Removes a node and its pods.
    pub fn remove_node(&mut self, name: &str) -> Option<NodeInfo> {
        let i = self.index.remove(name)?;
        let removed = self.nodes.remove(i);
        for (position, node) in self.nodes.iter_mut().enumerate().skip(i) {
            node.position = position;
            self.index.insert(node.name().to_string(), position);
        }
        if !removed.image_states.is_empty() {
            self.count_image_nodes();
        }
        Some(removed)
    }

    /// Accounts a pod bound (or assumed) to the node in its `spec.nodeName`; false if that node
    /// is unknown or the pod is finished.
    pub fn add_pod(&mut self, pod: Arc<Pod>) -> bool {
        if is_terminal(&pod) {
            return false;
        }
        let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            return false;
        };
        match self.get_mut(&node_name) {
            Some(node) => {
                node.add_pod(PodInfo::new(pod));
                true
            }
            None => false,
        }
    }

    /// Records that `pod` (not bound) is nominated to `node`, or with `None` that it no
    /// longer is nominated anywhere.
    pub fn set_nomination(&mut self, pod: &Arc<Pod>, node: Option<&str>) {
        let key = pod_key(pod);
        self.forget_nomination(&key);
        if let Some(node) = node.filter(|n| !n.is_empty()) {
            self.nominated
                .entry(node.to_string())
                .or_default()
                .push(PodInfo::new(pod.clone()));
            self.nominated_node_of.insert(key, node.to_string());
        }
    }

    /// Forgets the nomination of the pod `namespace/name`, if any.
    pub fn forget_nomination(&mut self, key: &str) {
        if let Some(old) = self.nominated_node_of.remove(key)
            && let Some(pods) = self.nominated.get_mut(&old)
        {
            pods.retain(|p| p.key() != key);
            if pods.is_empty() {
                self.nominated.remove(&old);
            }
        }
    }

    /// Whether any pod is nominated anywhere.
    pub fn has_nominated_pods(&self) -> bool {
        !self.nominated.is_empty()
    }

    /// The pods nominated to a node.
    pub fn nominated_pods(&self, node: &str) -> &[PodInfo] {
        self.nominated.get(node).map_or(&[], Vec::as_slice)
    }

    /// Forgets a pod on the node in its `spec.nodeName`; false if it was not there.
    pub fn remove_pod(&mut self, pod: &Pod) -> bool {
        let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
            return false;
        };
        self.get_mut(node_name)
            .is_some_and(|node| node.remove_pod(pod))
    }
}

fn same_images(
    a: &HashMap<String, ImageStateSummary>,
    b: &HashMap<String, ImageStateSummary>,
) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(name, state)| b.get(name).is_some_and(|other| other.size == state.size))
}

fn zone_key(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref();
    let get = |k: &str| labels.and_then(|l| l.get(k)).cloned().unwrap_or_default();
    let (region, zone) = (get(LABEL_REGION), get(LABEL_ZONE));
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\x00:{zone}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerImage, ContainerPort, NodeSpec, NodeStatus, PodSpec, Taint,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use crate::resources::tests::container;

    /// A test node builder.
    #[derive(Default)]
    pub(crate) struct NodeBuilder(pub Node);

    impl NodeBuilder {
        pub(crate) fn new(name: &str) -> Self {
            NodeBuilder(Node {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    ..Default::default()
                },
                spec: Some(NodeSpec::default()),
                status: Some(NodeStatus::default()),
            })
        }
        pub(crate) fn label(mut self, k: &str, v: &str) -> Self {
            self.0
                .metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(k.to_string(), v.to_string());
            self
        }
        pub(crate) fn allocatable(mut self, list: &[(&str, &str)]) -> Self {
            if let Some(status) = self.0.status.as_mut() {
                status.allocatable = Some(
                    list.iter()
                        .map(|(k, v)| (k.to_string(), ApiQuantity(v.to_string())))
                        .collect(),
                );
            }
            self
        }
        pub(crate) fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
            if let Some(spec) = self.0.spec.as_mut() {
                spec.taints.get_or_insert_with(Vec::new).push(Taint {
                    key: key.to_string(),
                    value: (!value.is_empty()).then(|| value.to_string()),
                    effect: effect.to_string(),
                    time_added: None,
                });
            }
            self
        }
        pub(crate) fn unschedulable(mut self) -> Self {
            if let Some(spec) = self.0.spec.as_mut() {
                spec.unschedulable = Some(true);
            }
            self
        }
        pub(crate) fn image(mut self, names: &[&str], size: i64) -> Self {
            if let Some(status) = self.0.status.as_mut() {
                status
                    .images
                    .get_or_insert_with(Vec::new)
                    .push(ContainerImage {
                        names: Some(names.iter().map(|n| n.to_string()).collect()),
                        size_bytes: Some(size),
                    });
            }
            self
        }
        pub(crate) fn build(self) -> Arc<Node> {
            Arc::new(self.0)
        }
    }

    /// A test pod builder.
    pub(crate) struct PodBuilder(pub Pod);

    impl PodBuilder {
        pub(crate) fn new(name: &str) -> Self {
            PodBuilder(Pod {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some("default".to_string()),
                    ..Default::default()
                },
                spec: Some(PodSpec::default()),
                status: None,
            })
        }
        fn spec(&mut self) -> &mut PodSpec {
            self.0.spec.get_or_insert_with(Default::default)
        }
        pub(crate) fn requests(mut self, list: &[(&str, &str)]) -> Self {
            let n = self.spec().containers.len();
            self.spec()
                .containers
                .push(container(&format!("c{n}"), list));
            self
        }
        pub(crate) fn image(mut self, image: &str) -> Self {
            let n = self.spec().containers.len();
            let mut c = container(&format!("c{n}"), &[]);
            c.image = Some(image.to_string());
            self.spec().containers.push(c);
            self
        }
        pub(crate) fn host_port(mut self, port: i32, protocol: &str, ip: &str) -> Self {
            let n = self.spec().containers.len();
            let mut c = container(&format!("c{n}"), &[]);
            c.ports = Some(vec![ContainerPort {
                container_port: port,
                host_port: Some(port),
                protocol: (!protocol.is_empty()).then(|| protocol.to_string()),
                host_ip: (!ip.is_empty()).then(|| ip.to_string()),
                ..Default::default()
            }]);
            self.spec().containers.push(c);
            self
        }
        pub(crate) fn node(mut self, node: &str) -> Self {
            self.spec().node_name = Some(node.to_string());
            self
        }
        pub(crate) fn priority(mut self, p: i32) -> Self {
            self.spec().priority = Some(p);
            self
        }
        pub(crate) fn with_spec(mut self, f: impl FnOnce(&mut PodSpec)) -> Self {
            f(self.spec());
            self
        }
        pub(crate) fn build(self) -> Arc<Pod> {
            Arc::new(self.0)
        }
    }

    #[test]
    fn node_info_accounts_pods_and_ports() {
        let node = NodeBuilder::new("n1")
            .allocatable(&[("cpu", "4"), ("memory", "8Gi"), ("pods", "110")])
            .build();
        let mut info = NodeInfo::new(node);
        assert_eq!(info.allocatable.milli_cpu, 4000);
        assert_eq!(info.allocatable.allowed_pod_number, 110);
        let pod = PodBuilder::new("p")
            .requests(&[("cpu", "1")])
            .host_port(80, "", "")
            .build();
        info.add_pod(PodInfo::new(pod.clone()));
        assert_eq!(info.requested.milli_cpu, 1000);
        assert_eq!(info.non_zero_requested.memory, 2 * 200 * 1024 * 1024);
        assert_eq!(info.used_ports.len(), 1);
        assert!(info.remove_pod(&pod));
        assert_eq!(info.requested.milli_cpu, 0);
        assert!(info.used_ports.is_empty());
    }

    #[test]
    fn host_port_conflicts() {
        let mut ports = HostPortInfo::default();
        let port = |ip: &str, proto: &str, port| HostPort {
            ip: ip.to_string(),
            protocol: proto.to_string(),
            port,
        };
        ports.add(&port("127.0.0.1", "TCP", 8080));
        assert!(ports.conflicts(&port("127.0.0.1", "TCP", 8080)));
        assert!(ports.conflicts(&port("0.0.0.0", "TCP", 8080)));
        assert!(!ports.conflicts(&port("127.0.0.2", "TCP", 8080)));
        assert!(!ports.conflicts(&port("127.0.0.1", "UDP", 8080)));
        ports.add(&port("0.0.0.0", "UDP", 53));
        assert!(ports.conflicts(&port("10.0.0.1", "UDP", 53)));
    }

    #[test]
    fn snapshot_interleaves_zones_and_counts_images() {
        let nodes = vec![
            NodeBuilder::new("a1")
                .label(LABEL_ZONE, "a")
                .image(&["nginx:latest"], 10)
                .build(),
            NodeBuilder::new("a2").label(LABEL_ZONE, "a").build(),
            NodeBuilder::new("b1")
                .label(LABEL_ZONE, "b")
                .image(&["nginx:latest"], 10)
                .build(),
        ];
        let pods = vec![
            PodBuilder::new("p")
                .node("a2")
                .requests(&[("cpu", "1")])
                .build(),
            PodBuilder::new("q").node("gone").build(),
        ];
        let snapshot = Snapshot::new(nodes, pods);
        let names: Vec<_> = snapshot.nodes().iter().map(NodeInfo::name).collect();
        assert_eq!(names, ["a1", "b1", "a2"]);
        assert_eq!(snapshot.get("a2").map(|n| n.pods.len()), Some(1));
        assert_eq!(
            snapshot
                .get("a1")
                .and_then(|n| n.image_states.get("nginx:latest"))
                .map(|s| s.num_nodes),
            Some(2)
        );
    }

    #[test]
    fn snapshot_updates_in_place() {
        let mut snapshot = Snapshot::new(
            vec![
                NodeBuilder::new("a").image(&["app:latest"], 10).build(),
                NodeBuilder::new("b").build(),
            ],
            vec![],
        );
        let pod = PodBuilder::new("p")
            .node("a")
            .requests(&[("cpu", "1")])
            .build();
        assert!(snapshot.add_pod(pod.clone()));
        assert!(!snapshot.add_pod(PodBuilder::new("q").node("zzz").build()));
        // relabelling keeps the pods
        snapshot.upsert_node(
            NodeBuilder::new("a")
                .label("x", "y")
                .image(&["app:latest"], 10)
                .build(),
        );
        let a = snapshot.get("a").expect("still there");
        assert_eq!(a.requested.milli_cpu, 1000);
        assert_eq!(
            a.labels().and_then(|l| l.get("x")).map(String::as_str),
            Some("y")
        );
        // a new node with the same image raises the spread
        snapshot.upsert_node(NodeBuilder::new("c").image(&["app:latest"], 10).build());
        assert_eq!(
            snapshot
                .get("a")
                .and_then(|n| n.image_states.get("app:latest"))
                .map(|s| s.num_nodes),
            Some(2)
        );
        assert!(snapshot.remove_node("b").is_some());
        assert_eq!(snapshot.position("c"), Some(1));
        let positions: Vec<_> = snapshot.nodes().iter().map(NodeInfo::position).collect();
        assert_eq!(positions, [0, 1]);
        assert!(snapshot.remove_pod(&pod));
        assert_eq!(snapshot.get("a").map(|n| n.requested.milli_cpu), Some(0));
        snapshot.remove_node("c");
        assert_eq!(
            snapshot
                .get("a")
                .and_then(|n| n.image_states.get("app:latest"))
                .map(|s| s.num_nodes),
            Some(1)
        );
    }

    #[test]
    fn image_names_are_normalized() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.2"), "nginx:1.2");
        assert_eq!(
            normalized_image_name("reg:5000/nginx"),
            "reg:5000/nginx:latest"
        );
        assert_eq!(normalized_image_name("nginx@sha256:ab"), "nginx@sha256:ab");
    }
}
