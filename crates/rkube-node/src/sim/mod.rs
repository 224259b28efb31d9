//! The node simulator (like kwok): runs every Node annotated `sim.rkube.io/node: "true"` and
//! the pods bound to it without containers.
//!
//! One watcher per kind (Nodes, Pods) feeds reflector stores and two work queues; a few
//! workers per queue act through the API. Each simulated node gets a /24 `spec.podCIDR` out of
//! the cluster CIDR, a Ready status from the [`NodeRuntime`], and a Lease in `kube-node-lease`
//! renewed every 10 s; renewals are spread over the interval in slots rather than run by a task
//! per node. Pods move through the runtime's state machine; a deleted pod is removed with
//! `gracePeriodSeconds=0` once its `deletionTimestamp` (now + grace period) has passed.

pub mod cidr;
pub mod runtime;

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, NodeStatus, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector::store::Writer};
use rkube_controllers::work_queue::WorkQueue;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use cidr::Ipv4Cidr;
pub use runtime::{NodeRuntime, PodContext, PodSync, SimRuntime};

/// The annotation that hands a Node to the simulator.
pub const NODE_ANNOTATION: &str = "sim.rkube.io/node";
/// Where node Leases live.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// `leaseDurationSeconds` of node Leases (the kubelet's default).
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// How often each node's Lease is renewed (the kubelet's default).
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(10);
/// The default cluster CIDR.
pub const DEFAULT_CLUSTER_CIDR: &str = "10.42.0.0/16";
/// Renewals are spread over this many slots per interval.
const LEASE_SLOTS: u64 = 40;
const NODE_WORKERS: usize = 4;
const POD_WORKERS: usize = 8;
const PARALLEL_REQUESTS: usize = 16;
/// How soon a pod whose node is not known (yet) is looked at again.
const UNKNOWN_NODE_RECHECK: Duration = Duration::from_secs(5);
/// How soon a pod waiting for its node's pod CIDR is looked at again.
const CIDR_WAIT_RECHECK: Duration = Duration::from_millis(200);

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster CIDR is unusable.
    #[error("cluster CIDR: {0}")]
    Cidr(#[from] cidr::Error),
    /// An API request failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done.
        action: String,
        /// The failure.
        #[source]
        source: kube::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn api_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let action = action.into();
    move |source| Error::Api { action, source }
}

fn is_status(e: &kube::Error, codes: &[u16]) -> bool {
    matches!(e, kube::Error::Api(s) if codes.contains(&s.code))
}

/// Settings of the simulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// The range node pod CIDRs (/24 each) are taken from.
    pub cluster_cidr: Ipv4Cidr,
}

impl Config {
    /// A configuration with the cluster CIDR `cidr` (IPv4, /24 or larger).
    pub fn new(cidr: &str) -> Result<Self> {
        let cluster_cidr = Ipv4Cidr::parse(cidr)?;
        cidr::NodeCidrAllocator::new(cluster_cidr)?;
        Ok(Config { cluster_cidr })
    }
}

/// Whether the simulator runs `node`.
pub fn is_simulated(node: &Node) -> bool {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(NODE_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// The Node `sim-<index>` that `rkube server --simulated-nodes` creates: 32 CPU, 256 GiB,
/// 110 pods, zone spread over zone-a/b/c.
pub fn simulated_node(index: usize) -> Node {
    let name = format!("sim-{index}");
    let zone = ["zone-a", "zone-b", "zone-c"][index % 3];
    let labels: BTreeMap<String, String> = [
        ("kubernetes.io/hostname", name.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("topology.kubernetes.io/zone", zone),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let capacity: BTreeMap<String, Quantity> =
        [("cpu", "32"), ("memory", "256Gi"), ("pods", "110")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect();
    Node {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(labels),
            annotations: Some([(NODE_ANNOTATION.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        spec: None,
        status: Some(NodeStatus {
            capacity: Some(capacity.clone()),
            allocatable: Some(capacity),
            ..Default::default()
        }),
    }
}

/// Creates `sim-0` … `sim-<count-1>` (existing ones are left as they are).
pub async fn create_nodes(client: &Client, count: usize) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let results: Vec<Result<()>> = stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            async move {
                let node = simulated_node(i);
                match api.create(&PostParams::default(), &node).await {
                    Ok(_) => Ok(()),
                    Err(e) if is_status(&e, &[409]) => Ok(()),
                    Err(e) => Err(api_error(format!("creating node sim-{i}"))(e)),
                }
            }
        })
        .buffer_unordered(PARALLEL_REQUESTS)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Addresses handed out so far.
struct Addresses {
    node_cidrs: cidr::NodeCidrAllocator,
    pod_ips: cidr::PodIpAllocator,
    pod_ip_of: HashMap<ObjectRef<Pod>, Ipv4Addr>,
    exhausted: bool,
}

struct Simulator<R> {
    client: Client,
    runtime: R,
    nodes: Store<Node>,
    pods: Store<Pod>,
    addresses: Mutex<Addresses>,
    /// Simulated nodes whose Lease is renewed: name → uid.
    leased: Mutex<HashMap<String, String>>,
    /// When the simulator first saw each pod being deleted (its grace period counts from then,
    /// as a kubelet's does, and not less than to `deletionTimestamp`).
    deleting_since: Mutex<HashMap<ObjectRef<Pod>, std::time::Instant>>,
    node_queue: Arc<WorkQueue<String>>,
    pod_queue: Arc<WorkQueue<ObjectRef<Pod>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Runs the simulator with [`SimRuntime`] until `shutdown` fires.
pub async fn run(client: Client, config: Config, shutdown: CancellationToken) -> Result<()> {
    run_with(client, config, SimRuntime, shutdown).await
}

/// Runs the simulator with `runtime` until `shutdown` fires.
pub async fn run_with<R: NodeRuntime>(
    client: Client,
    config: Config,
    runtime: R,
    shutdown: CancellationToken,
) -> Result<()> {
    let (nodes, node_writer) = reflector::store::<Node>();
    let (pods, pod_writer) = reflector::store::<Pod>();
    let sim = Arc::new(Simulator {
        client: client.clone(),
        runtime,
        nodes,
        pods,
        addresses: Mutex::new(Addresses {
            node_cidrs: cidr::NodeCidrAllocator::new(config.cluster_cidr)?,
            pod_ips: cidr::PodIpAllocator::default(),
            pod_ip_of: HashMap::new(),
            exhausted: false,
        }),
        leased: Mutex::new(HashMap::new()),
        deleting_since: Mutex::new(HashMap::new()),
        node_queue: WorkQueue::new(),
        pod_queue: WorkQueue::new(),
    });
    info!(cluster_cidr = %config.cluster_cidr, "node simulator started");
    let mut tasks = vec![
        tokio::spawn(sim.clone().watch_nodes(node_writer, shutdown.clone())),
        tokio::spawn(sim.clone().watch_pods(pod_writer, shutdown.clone())),
        tokio::spawn(sim.clone().renew_leases(shutdown.clone())),
    ];
    // One waiter per store: a store's readiness wakes only one of several concurrent waiters.
    let ready = async {
        let nodes = sim.nodes.wait_until_ready().await;
        let pods = sim.pods.wait_until_ready().await;
        nodes.is_ok() && pods.is_ok()
    };
    let ready = tokio::select! {
        _ = shutdown.cancelled() => false,
        r = ready => r,
    };
    if !ready {
        for t in tasks {
            let _ = t.await;
        }
        return Ok(());
    }
    for _ in 0..NODE_WORKERS {
        tasks.push(tokio::spawn(sim.clone().node_worker(shutdown.clone())));
    }
    for _ in 0..POD_WORKERS {
        tasks.push(tokio::spawn(sim.clone().pod_worker(shutdown.clone())));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

fn node_cidr(node: &Node) -> Option<Ipv4Cidr> {
    let c = node.spec.as_ref()?.pod_cidr.as_deref()?;
    Ipv4Cidr::parse(c).ok()
}

/// The InternalIP a simulated node reports: `.1` of its pod CIDR, or a stable address in
/// 172.16.0.0/12 when it has none.
fn node_ip(node: &Node) -> String {
    if let Some(c) = node_cidr(node) {
        return Ipv4Addr::from(c.base + 1).to_string();
    }
    let mut h = DefaultHasher::new();
    node.metadata.name.hash(&mut h);
    let host = (h.finish() as u32) & 0x000f_ffff;
    Ipv4Addr::from(0xac10_0000 | host.max(1)).to_string()
}

fn host_ip(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
}

fn lease_slot(name: &str) -> u64 {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    h.finish() % LEASE_SLOTS
}

fn is_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn bound_node(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

impl<R: NodeRuntime> Simulator<R> {
    async fn watch_nodes(self: Arc<Self>, writer: Writer<Node>, shutdown: CancellationToken) {
        let api: Api<Node> = Api::all(self.client.clone());
        let events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(|node| node.metadata.managed_fields = None)
            .reflect(writer);
        let mut events = std::pin::pin!(events);
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                e = events.next() => e,
            };
            match event {
                None => return,
                Some(Err(e)) => warn!(error = %e, "watching nodes"),
                Some(Ok(Event::Apply(node) | Event::InitApply(node))) => {
                    if let Some(c) = node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()) {
                        lock(&self.addresses).node_cidrs.mark_used(c);
                    }
                    let name = node.metadata.name.clone().unwrap_or_default();
                    debug!(node = %name, simulated = is_simulated(&node), "node event");
                    if is_simulated(&node) || lock(&self.leased).contains_key(&name) {
                        self.node_queue.add(name);
                    }
                }
                Some(Ok(Event::Delete(node))) => {
                    if let Some(c) = node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()) {
                        lock(&self.addresses).node_cidrs.release(c);
                    }
                    if let Some(name) = &node.metadata.name {
                        lock(&self.leased).remove(name);
                    }
                }
                Some(Ok(Event::Init | Event::InitDone)) => debug!("node watch (re)listed"),
            }
        }
    }

    async fn watch_pods(self: Arc<Self>, writer: Writer<Pod>, shutdown: CancellationToken) {
        let api: Api<Pod> = Api::all(self.client.clone());
        // The stores keep no managedFields (nothing here reads them; they are most of a pod).
        let events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(|pod| pod.metadata.managed_fields = None)
            .reflect(writer);
        let mut events = std::pin::pin!(events);
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                e = events.next() => e,
            };
            match event {
                None => return,
                Some(Err(e)) => warn!(error = %e, "watching pods"),
                Some(Ok(Event::Apply(pod) | Event::InitApply(pod))) => {
                    if bound_node(&pod).is_none() {
                        continue;
                    }
                    let key = ObjectRef::from_obj(&pod);
                    let ip = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.pod_ip.as_deref())
                        .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
                    if let Some(ip) = ip
                        && !is_finished(&pod)
                    {
                        let mut a = lock(&self.addresses);
                        if !a.pod_ip_of.contains_key(&key) {
                            a.pod_ips.mark_used(ip);
                            a.pod_ip_of.insert(key.clone(), ip);
                        }
                    }
                    self.pod_queue.add(key);
                }
                Some(Ok(Event::Delete(pod))) => {
                    let key = ObjectRef::from_obj(&pod);
                    lock(&self.deleting_since).remove(&key);
                    self.release_pod_ip(&key);
                }
                Some(Ok(Event::Init | Event::InitDone)) => {}
            }
        }
    }

    fn release_pod_ip(&self, key: &ObjectRef<Pod>) {
        let mut a = lock(&self.addresses);
        if let Some(ip) = a.pod_ip_of.remove(key) {
            a.pod_ips.release(ip);
        }
    }

    async fn node_worker(self: Arc<Self>, shutdown: CancellationToken) {
        while let Some(name) = self.node_queue.next(&shutdown).await {
            match self.sync_node(&name).await {
                Ok(()) => self.node_queue.done(name, false),
                Err(e) => {
                    warn!(node = %name, error = %e, "simulating node");
                    self.node_queue.done(name, true);
                }
            }
        }
    }

    async fn sync_node(&self, name: &str) -> Result<()> {
        debug!(node = %name, "syncing node");
        let node = match self.nodes.get(&ObjectRef::new(name)) {
            Some(n) if is_simulated(&n) => n,
            _ => {
                lock(&self.leased).remove(name);
                return Ok(());
            }
        };
        let api: Api<Node> = Api::all(self.client.clone());
        if node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_ref())
            .is_none()
        {
            let allocated = {
                let mut a = lock(&self.addresses);
                let c = a.node_cidrs.allocate();
                if c.is_none() && !a.exhausted {
                    a.exhausted = true;
                    warn!(node = %name, "cluster CIDR exhausted; nodes get no pod CIDR");
                }
                c
            };
            if let Some(c) = allocated {
                let c = c.to_string();
                let patch = json!({"spec": {"podCIDR": c, "podCIDRs": [c]}});
                if let Err(e) = api
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    lock(&self.addresses).node_cidrs.release(&c);
                    return Err(api_error(format!("assigning pod CIDR {c}"))(e));
                }
                debug!(node = %name, cidr = %c, "assigned pod CIDR");
                // The watch event of the change brings the node back.
                return Ok(());
            }
        }
        let status = self
            .runtime
            .node_status(&node, &node_ip(&node), Timestamp::now());
        if node.status.as_ref() != Some(&status) {
            api.patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": status })),
            )
            .await
            .map_err(api_error("updating node status"))?;
        }
        let uid = node.metadata.uid.clone().unwrap_or_default();
        let first = lock(&self.leased)
            .insert(name.to_string(), uid.clone())
            .is_none();
        if first {
            renew_lease(&self.client, name, &uid).await?;
        }
        Ok(())
    }

    async fn renew_leases(self: Arc<Self>, shutdown: CancellationToken) {
        let tick_every = LEASE_RENEW_INTERVAL / LEASE_SLOTS as u32;
        let mut ticks = tokio::time::interval(tick_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut slot = 0;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let due: Vec<(String, String)> = lock(&self.leased)
                .iter()
                .filter(|(name, _)| lease_slot(name) == slot)
                .map(|(n, u)| (n.clone(), u.clone()))
                .collect();
            let client = &self.client;
            stream::iter(due)
                .for_each_concurrent(PARALLEL_REQUESTS, |(name, uid)| async move {
                    if let Err(e) = renew_lease(client, &name, &uid).await {
                        warn!(node = %name, error = %e, "renewing node lease");
                    }
                })
                .await;
            slot = (slot + 1) % LEASE_SLOTS;
        }
    }

    async fn pod_worker(self: Arc<Self>, shutdown: CancellationToken) {
        while let Some(key) = self.pod_queue.next(&shutdown).await {
            match self.sync_pod(&key).await {
                Ok(after) => {
                    self.pod_queue.done(key.clone(), false);
                    if let Some(after) = after {
                        self.pod_queue.add_after(key, after);
                    }
                }
                Err(e) => {
                    warn!(pod = %key, error = %e, "simulating pod");
                    self.pod_queue.done(key, true);
                }
            }
        }
    }

    /// One step of a pod; returns when to look at it again.
    async fn sync_pod(&self, key: &ObjectRef<Pod>) -> Result<Option<Duration>> {
        let Some(pod) = self.pods.get(key) else {
            return Ok(None);
        };
        let Some(node_name) = bound_node(&pod) else {
            return Ok(None);
        };
        let Some(node) = self.nodes.get(&ObjectRef::new(node_name)) else {
            return Ok(Some(UNKNOWN_NODE_RECHECK));
        };
        if !is_simulated(&node) {
            return Ok(None);
        }
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let now = Timestamp::now();
        if let Some(deleting) = &pod.metadata.deletion_timestamp {
            let grace = pod
                .metadata
                .deletion_grace_period_seconds
                .unwrap_or(0)
                .max(0);
            let since = *lock(&self.deleting_since)
                .entry(key.clone())
                .or_insert_with(std::time::Instant::now);
            let by_grace =
                Duration::from_secs(grace.unsigned_abs()).saturating_sub(since.elapsed());
            let by_timestamp = deleting.0.duration_since(now);
            let by_timestamp = if by_timestamp.is_positive() {
                by_timestamp.unsigned_abs()
            } else {
                Duration::ZERO
            };
            let wait = by_grace.max(by_timestamp);
            if !wait.is_zero() {
                return Ok(Some(wait));
            }
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: pod.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(&key.name, &params).await {
                Ok(_) => {}
                Err(e) if is_status(&e, &[404, 409]) => {}
                Err(e) => return Err(api_error("removing a deleted pod")(e)),
            }
            self.release_pod_ip(key);
            return Ok(None);
        }
        if is_finished(&pod) {
            self.release_pod_ip(key);
            return Ok(None);
        }
        let needs_ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_ref())
            .is_none();
        let mut context = PodContext {
            pod_ip: None,
            host_ip: host_ip(&node),
        };
        if needs_ip {
            match node_cidr(&node) {
                Some(c) => {
                    let mut a = lock(&self.addresses);
                    let ip = match a.pod_ip_of.get(key) {
                        Some(ip) => Some(*ip),
                        None => {
                            let ip = a.pod_ips.allocate(c);
                            if let Some(ip) = ip {
                                a.pod_ip_of.insert(key.clone(), ip);
                            }
                            ip
                        }
                    };
                    context.pod_ip = ip.map(|ip| ip.to_string());
                }
                None if !lock(&self.addresses).exhausted => return Ok(Some(CIDR_WAIT_RECHECK)),
                None => {}
            }
        }
        let sync = self.runtime.sync_pod(&pod, &context, now);
        if let Some(status) = &sync.status {
            match api
                .patch_status(
                    &key.name,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({ "status": status })),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if is_status(&e, &[404]) => return Ok(None),
                Err(e) => return Err(api_error("updating pod status")(e)),
            }
            if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
                self.release_pod_ip(key);
            }
        }
        Ok(sync.recheck_after)
    }
}

/// Renews (or creates) the Lease of node `name` as its kubelet would.
async fn renew_lease(client: &Client, name: &str, node_uid: &str) -> Result<()> {
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let spec = LeaseSpec {
        holder_identity: Some(name.to_string()),
        lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
        renew_time: Some(MicroTime(Timestamp::now())),
        ..Default::default()
    };
    let patch = json!({ "spec": spec });
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => return Ok(()),
        Err(e) if is_status(&e, &[404]) => {}
        Err(e) => return Err(api_error("renewing lease")(e)),
    }
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(LEASE_NAMESPACE.to_string()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: name.to_string(),
                uid: node_uid.to_string(),
                ..Default::default()
            }]),
            ..Default::default()
        },
        spec: Some(spec),
    };
    match api.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, &[409]) => Ok(()),
        Err(e) => Err(api_error("creating lease")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_nodes_have_the_documented_shape() {
        let node = simulated_node(4);
        assert!(is_simulated(&node));
        let labels = node.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("kubernetes.io/hostname").map(String::as_str),
            Some("sim-4")
        );
        assert_eq!(
            labels
                .get("topology.kubernetes.io/zone")
                .map(String::as_str),
            Some("zone-b")
        );
        let capacity = node.status.and_then(|s| s.capacity).unwrap_or_default();
        assert_eq!(capacity.get("cpu"), Some(&Quantity("32".into())));
        assert_eq!(capacity.get("memory"), Some(&Quantity("256Gi".into())));
        assert_eq!(capacity.get("pods"), Some(&Quantity("110".into())));
    }

    #[test]
    fn config_rejects_bad_cidrs() {
        assert!(Config::new(DEFAULT_CLUSTER_CIDR).is_ok());
        assert!(Config::new("10.42.0.0/26").is_err());
        assert!(Config::new("nonsense").is_err());
    }

    #[test]
    fn node_ip_comes_from_the_pod_cidr() {
        let mut node = simulated_node(0);
        let fallback = node_ip(&node);
        assert!(fallback.starts_with("172."));
        node.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
            pod_cidr: Some("10.42.5.0/24".into()),
            ..Default::default()
        });
        assert_eq!(node_ip(&node), "10.42.5.1");
    }

    #[test]
    fn lease_slots_spread_nodes() {
        let mut counts = [0u32; LEASE_SLOTS as usize];
        for i in 0..4000 {
            counts[lease_slot(&format!("sim-{i}")) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (50..=150).contains(c)), "{counts:?}");
    }
}
