//! The pods of `rkube bench scheduler`: their manifests per scenario, the cheap scan of pod
//! watch events for bindings, and the latency arithmetic over send and bind times.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Prefix of the benchmark pods' names; the rest is the pod's index.
pub const NAME_PREFIX: &str = "bp-";
/// The single container's image.
pub const IMAGE: &str = "registry.k8s.io/pause:3.10";
/// CPU request of each pod.
pub const CPU_REQUEST: &str = "10m";
/// Memory request of each pod.
pub const MEMORY_REQUEST: &str = "16Mi";
/// The label grouping pods for anti-affinity and spreading.
pub const GROUP_LABEL: &str = "app";
/// Topology key of the anti-affinity term.
pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
/// Topology key of the spread constraint.
pub const ZONE_KEY: &str = "topology.kubernetes.io/zone";

/// What the pods ask of the scheduler.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Resource requests only.
    Plain,
    /// A required pod anti-affinity on `kubernetes.io/hostname` against the pod's own group.
    AntiAffinity,
    /// A zone topology spread constraint (maxSkew 1, DoNotSchedule) over the pod's group.
    Spread,
}

impl Scenario {
    /// Every scenario, in the order they are run by default.
    pub const ALL: [Scenario; 3] = [Scenario::Plain, Scenario::AntiAffinity, Scenario::Spread];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Plain => "plain",
            Scenario::AntiAffinity => "anti-affinity",
            Scenario::Spread => "spread",
        }
    }

    /// What the pods carry, for reports.
    pub fn describe(self, group_size: usize) -> String {
        match self {
            Scenario::Plain => format!("requests cpu {CPU_REQUEST}, memory {MEMORY_REQUEST}"),
            Scenario::AntiAffinity => format!(
                "required podAntiAffinity on {HOSTNAME_KEY} within groups of {group_size} pods"
            ),
            Scenario::Spread => format!(
                "topologySpreadConstraints maxSkew 1 on {ZONE_KEY}, DoNotSchedule, groups of {group_size} pods"
            ),
        }
    }

    /// The group size actually used: required anti-affinity on the hostname puts at most one
    /// pod of a group on a node, so its groups are no larger than the node count.
    pub fn effective_group_size(self, group_size: usize, nodes: usize) -> usize {
        match self {
            Scenario::AntiAffinity => group_size.min(nodes).max(1),
            Scenario::Plain | Scenario::Spread => group_size.max(1),
        }
    }
}

/// The name of pod number `index`.
pub fn pod_name(index: usize) -> String {
    format!("{NAME_PREFIX}{index:06}")
}

/// The group label value of pod number `index`.
pub fn group_of(index: usize, group_size: usize) -> String {
    format!("g-{:05}", index / group_size.max(1))
}

/// The manifest of pod number `index` in `namespace`; `group_size` is the effective one.
pub fn pod_manifest(scenario: Scenario, namespace: &str, index: usize, group_size: usize) -> Value {
    let group = group_of(index, group_size);
    let selector = json!({"matchLabels": {GROUP_LABEL: group}});
    let mut spec = json!({
        "containers": [{
            "name": "pause",
            "image": IMAGE,
            "resources": {"requests": {"cpu": CPU_REQUEST, "memory": MEMORY_REQUEST}},
        }],
        "terminationGracePeriodSeconds": 0,
    });
    match scenario {
        Scenario::Plain => {}
        Scenario::AntiAffinity => {
            spec["affinity"] = json!({
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": selector,
                        "topologyKey": HOSTNAME_KEY,
                    }],
                },
            });
        }
        Scenario::Spread => {
            spec["topologySpreadConstraints"] = json!([{
                "maxSkew": 1,
                "topologyKey": ZONE_KEY,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": selector,
            }]);
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(index),
            "namespace": namespace,
            "labels": {GROUP_LABEL: group},
        },
        "spec": spec,
    })
}

/// What one line of a pod watch says about binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchLine {
    /// A benchmark pod with `spec.nodeName` set: its index.
    Bound(usize),
    /// An `ERROR` event: the watch has to be restarted from a fresh list.
    Error,
    /// Anything else.
    Other,
}

/// Classifies a watch event line (compact JSON, as the server writes it) by scanning for
/// `"nodeName":"<non-empty>` and `"name":"bp-<digits>"` instead of parsing: bound pods keep
/// producing events (status updates) and the benchmark shares the machine with the server.
pub fn scan_watch_line(line: &[u8]) -> WatchLine {
    let Ok(text) = std::str::from_utf8(line) else {
        return WatchLine::Other;
    };
    if text.starts_with(r#"{"type":"ERROR""#) {
        return WatchLine::Error;
    }
    const NODE_NAME: &str = r#""nodeName":""#;
    let Some(at) = text.find(NODE_NAME) else {
        return WatchLine::Other;
    };
    if text[at + NODE_NAME.len()..].starts_with('"') {
        return WatchLine::Other;
    }
    match name_index(text) {
        Some(index) => WatchLine::Bound(index),
        None => WatchLine::Other,
    }
}

/// The index of the first `"name":"bp-<digits>"` in `text`.
fn name_index(text: &str) -> Option<usize> {
    let name = format!(r#""name":"{NAME_PREFIX}"#);
    let start = text.find(&name)? + name.len();
    let digits = &text[start..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if !digits[end..].starts_with('"') {
        return None;
    }
    digits[..end].parse().ok()
}

/// Whether a pod object (from a list) has `spec.nodeName` set, and its index when it is a
/// benchmark pod.
pub fn bound_index(pod: &Value) -> Option<usize> {
    let node = pod.pointer("/spec/nodeName")?.as_str()?;
    if node.is_empty() {
        return None;
    }
    let name = pod.pointer("/metadata/name")?.as_str()?;
    name.strip_prefix(NAME_PREFIX)?.parse().ok()
}

/// Latencies of the pods both sent and seen bound, with the first send and the last binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindTimes {
    /// Bind seen − create sent, per pod seen bound.
    pub latencies: Vec<Duration>,
    /// The earliest create send.
    pub first_sent: Option<Instant>,
    /// The latest binding seen.
    pub last_bound: Option<Instant>,
}

impl BindTimes {
    /// Pairs the send time and the binding time of each pod by index.
    pub fn from_times(sent: &[Option<Instant>], bound: &[Option<Instant>]) -> BindTimes {
        let mut times = BindTimes {
            latencies: Vec::new(),
            first_sent: sent.iter().flatten().min().copied(),
            last_bound: None,
        };
        for (sent, bound) in sent.iter().zip(bound) {
            if let (Some(sent), Some(bound)) = (sent, bound) {
                times.latencies.push(bound.saturating_duration_since(*sent));
                times.last_bound = times.last_bound.max(Some(*bound));
            }
        }
        times
    }

    /// From the first create sent to the last binding seen.
    pub fn span(&self) -> Option<Duration> {
        Some(self.last_bound?.saturating_duration_since(self.first_sent?))
    }

    /// Pods bound per second over [`Self::span`].
    pub fn pods_per_second(&self) -> Option<f64> {
        let span = self.span()?;
        (!span.is_zero()).then(|| self.latencies.len() as f64 / span.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_pods_request_little_and_carry_no_constraints() {
        let pod = pod_manifest(Scenario::Plain, "ns", 42, 100);
        assert_eq!(pod["metadata"]["name"], "bp-000042");
        assert_eq!(pod["metadata"]["namespace"], "ns");
        assert_eq!(pod["metadata"]["labels"]["app"], "g-00000");
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["image"], IMAGE);
        assert_eq!(container["resources"]["requests"]["cpu"], "10m");
        assert_eq!(container["resources"]["requests"]["memory"], "16Mi");
        assert!(pod["spec"].get("affinity").is_none());
        assert!(pod["spec"].get("topologySpreadConstraints").is_none());
    }

    #[test]
    fn anti_affinity_pods_repel_their_own_group_per_host() {
        let pod = pod_manifest(Scenario::AntiAffinity, "ns", 250, 100);
        assert_eq!(pod["metadata"]["labels"]["app"], "g-00002");
        let term = &pod["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            [0];
        assert_eq!(term["topologyKey"], HOSTNAME_KEY);
        assert_eq!(term["labelSelector"]["matchLabels"]["app"], "g-00002");
    }

    #[test]
    fn spread_pods_spread_their_group_over_zones() {
        let pod = pod_manifest(Scenario::Spread, "ns", 99, 100);
        let constraint = &pod["spec"]["topologySpreadConstraints"][0];
        assert_eq!(constraint["maxSkew"], 1);
        assert_eq!(constraint["topologyKey"], ZONE_KEY);
        assert_eq!(constraint["whenUnsatisfiable"], "DoNotSchedule");
        assert_eq!(constraint["labelSelector"]["matchLabels"]["app"], "g-00000");
    }

    #[test]
    fn anti_affinity_groups_fit_the_nodes() {
        assert_eq!(Scenario::AntiAffinity.effective_group_size(100, 50), 50);
        assert_eq!(Scenario::AntiAffinity.effective_group_size(100, 5000), 100);
        assert_eq!(Scenario::AntiAffinity.effective_group_size(0, 5000), 1);
        assert_eq!(Scenario::Spread.effective_group_size(100, 50), 100);
        assert_eq!(Scenario::Plain.effective_group_size(0, 50), 1);
    }

    #[test]
    fn scans_bindings_out_of_watch_lines() {
        let bound = br#"{"type":"MODIFIED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bp-000017","namespace":"bench-scheduler"},"spec":{"containers":[{"name":"pause"}],"nodeName":"sim-3"}}}"#;
        assert_eq!(scan_watch_line(bound), WatchLine::Bound(17));
        let unbound = br#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"bp-000017"},"spec":{"containers":[{"name":"pause"}]}}}"#;
        assert_eq!(scan_watch_line(unbound), WatchLine::Other);
        let empty_node = br#"{"type":"ADDED","object":{"metadata":{"name":"bp-000017"},"spec":{"nodeName":""}}}"#;
        assert_eq!(scan_watch_line(empty_node), WatchLine::Other);
        let nominated = br#"{"type":"MODIFIED","object":{"metadata":{"name":"bp-000017"},"spec":{},"status":{"nominatedNodeName":"sim-2"}}}"#;
        assert_eq!(scan_watch_line(nominated), WatchLine::Other);
        let foreign = br#"{"type":"ADDED","object":{"metadata":{"name":"web-1"},"spec":{"nodeName":"sim-1"}}}"#;
        assert_eq!(scan_watch_line(foreign), WatchLine::Other);
        let suffixed = br#"{"type":"ADDED","object":{"metadata":{"name":"bp-12x"},"spec":{"nodeName":"sim-1"}}}"#;
        assert_eq!(scan_watch_line(suffixed), WatchLine::Other);
        let error = br#"{"type":"ERROR","object":{"kind":"Status","code":410}}"#;
        assert_eq!(scan_watch_line(error), WatchLine::Error);
        assert_eq!(scan_watch_line(b""), WatchLine::Other);
        assert_eq!(scan_watch_line(&[0xff, 0xfe]), WatchLine::Other);
    }

    #[test]
    fn reads_bindings_out_of_listed_pods() {
        let pod = json!({"metadata": {"name": "bp-001234"}, "spec": {"nodeName": "sim-0"}});
        assert_eq!(bound_index(&pod), Some(1234));
        let unbound = json!({"metadata": {"name": "bp-001234"}, "spec": {}});
        assert_eq!(bound_index(&unbound), None);
        let foreign = json!({"metadata": {"name": "x-1"}, "spec": {"nodeName": "sim-0"}});
        assert_eq!(bound_index(&foreign), None);
    }

    #[test]
    fn pairs_send_and_bind_times() {
        let t0 = Instant::now();
        let at = |ms: u64| Some(t0 + Duration::from_millis(ms));
        let sent = [at(0), at(10), at(20), None];
        let bound = [at(100), None, at(70), at(500)];
        let times = BindTimes::from_times(&sent, &bound);
        assert_eq!(
            times.latencies,
            vec![Duration::from_millis(100), Duration::from_millis(50)]
        );
        assert_eq!(times.first_sent, at(0));
        assert_eq!(times.last_bound, at(100));
        assert_eq!(times.span(), Some(Duration::from_millis(100)));
        assert_eq!(times.pods_per_second(), Some(20.0));
    }

    #[test]
    fn no_rate_without_bindings() {
        let t0 = Instant::now();
        let times = BindTimes::from_times(&[Some(t0)], &[None]);
        assert!(times.latencies.is_empty());
        assert_eq!(times.span(), None);
        assert_eq!(times.pods_per_second(), None);
        let instant = BindTimes::from_times(&[Some(t0)], &[Some(t0)]);
        assert_eq!(instant.pods_per_second(), None);
    }

    #[test]
    fn names_and_groups() {
        assert_eq!(pod_name(7), "bp-000007");
        assert_eq!(pod_name(1_234_567), "bp-1234567");
        assert_eq!(group_of(199, 100), "g-00001");
        assert_eq!(group_of(5, 0), "g-00005");
        assert_eq!(Scenario::AntiAffinity.name(), "anti-affinity");
    }
}
