//! The controller's memory, free of I/O: the NoExecute taints of every node, the node and
//! tolerations of every bound pod, and each pod's eviction (scheduled or carried out).
//!
//! Node and pod changes come in, [`Action`]s come out. A pod's eviction clock starts when the
//! tracker first finds it tolerating the node's taints only for a while, and keeps running
//! while that stays so (more taints do not restart it); it stops when the taints go, when the
//! pod tolerates them for ever, or when the pod goes.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use tokio::time::Instant;

use super::tolerations::{Verdict, no_execute_taints, verdict};

/// A pod, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodKey {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl PodKey {
    /// The key of `pod`, if it has a name.
    pub fn of(pod: &Pod) -> Option<PodKey> {
        Some(PodKey {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: pod.metadata.name.clone()?,
        })
    }
}

impl fmt::Display for PodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What the controller must do after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete the pod now.
    Evict(PodKey),
    /// A scheduled eviction was called off (upstream records an event for it).
    Cancelled(PodKey),
}

#[derive(Debug, Clone, PartialEq)]
struct BoundPod {
    node: String,
    tolerations: Vec<Toleration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eviction {
    /// The pod is deleted at `fire_at`; its clock started at `started`.
    Scheduled { started: Instant, fire_at: Instant },
    /// The eviction was handed out; not handed out again unless called off first.
    Handed,
}

/// The state of the taint eviction controller.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Nodes with at least one NoExecute taint.
    taints: HashMap<String, Vec<Taint>>,
    pods: HashMap<PodKey, BoundPod>,
    pods_on_node: HashMap<String, BTreeSet<PodKey>>,
    evictions: HashMap<PodKey, Eviction>,
    timers: BTreeSet<(Instant, PodKey)>,
}

impl Tracker {
    /// A tracker that knows nothing yet.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// A node was added or changed.
    pub fn node_applied(&mut self, node: &Node, now: Instant) -> Vec<Action> {
        let Some(name) = node.metadata.name.as_deref() else {
            return Vec::new();
        };
        let taints = no_execute_taints(
            node.spec
                .as_ref()
                .and_then(|s| s.taints.as_deref())
                .unwrap_or(&[]),
        );
        let old = self.taints.get(name).map(Vec::as_slice).unwrap_or(&[]);
        if old == taints.as_slice() {
            return Vec::new();
        }
        if taints.is_empty() {
            self.taints.remove(name);
        } else {
            self.taints.insert(name.to_string(), taints);
        }
        let keys: Vec<PodKey> = self
            .pods_on_node
            .get(name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let mut actions = Vec::new();
        for key in keys {
            self.evaluate(&key, now, &mut actions);
        }
        actions
    }

    /// A node went away. As upstream, only its taints are forgotten: evictions already
    /// scheduled for its pods still happen.
    pub fn node_deleted(&mut self, name: &str) {
        self.taints.remove(name);
    }

    /// The names of all nodes with NoExecute taints the tracker knows.
    pub fn tainted_nodes(&self) -> impl Iterator<Item = &str> {
        self.taints.keys().map(String::as_str)
    }

    /// The keys of all pods the tracker knows.
    pub fn pods(&self) -> impl Iterator<Item = &PodKey> {
        self.pods.keys()
    }

    /// A pod was added or changed. Only its node and tolerations matter.
    pub fn pod_applied(&mut self, pod: &Pod, now: Instant) -> Vec<Action> {
        let Some(key) = PodKey::of(pod) else {
            return Vec::new();
        };
        let spec = pod.spec.as_ref();
        let node = spec
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty());
        let Some(node) = node else {
            // Not bound (yet): nothing to evict.
            return self.pod_deleted(&key);
        };
        let bound = BoundPod {
            node,
            tolerations: spec.and_then(|s| s.tolerations.clone()).unwrap_or_default(),
        };
        if self.pods.get(&key) == Some(&bound) {
            return Vec::new();
        }
        if let Some(old) = self.pods.get(&key)
            && old.node != bound.node
        {
            self.unindex(&key, &old.node.clone());
        }
        self.pods_on_node
            .entry(bound.node.clone())
            .or_default()
            .insert(key.clone());
        self.pods.insert(key.clone(), bound);
        let mut actions = Vec::new();
        self.evaluate(&key, now, &mut actions);
        actions
    }

    /// A pod went away: its scheduled eviction, if any, is called off.
    pub fn pod_deleted(&mut self, key: &PodKey) -> Vec<Action> {
        if let Some(old) = self.pods.remove(key) {
            self.unindex(key, &old.node);
        }
        let mut actions = Vec::new();
        self.cancel(key, &mut actions);
        actions
    }

    /// When the next scheduled eviction is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The pods whose eviction is due at `now`; they count as handed out.
    pub fn take_due(&mut self, now: Instant) -> Vec<PodKey> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.timers.first()
            && *at <= now
        {
            let Some((_, key)) = self.timers.pop_first() else {
                break;
            };
            self.evictions.insert(key.clone(), Eviction::Handed);
            due.push(key);
        }
        due
    }

    fn unindex(&mut self, key: &PodKey, node: &str) {
        if let Some(set) = self.pods_on_node.get_mut(node) {
            set.remove(key);
            if set.is_empty() {
                self.pods_on_node.remove(node);
            }
        }
    }

    /// Calls off the pod's eviction; a scheduled one is reported, a handed-out one is only
    /// forgotten (so it can be handed out again later).
    fn cancel(&mut self, key: &PodKey, actions: &mut Vec<Action>) {
        match self.evictions.remove(key) {
            Some(Eviction::Scheduled { fire_at, .. }) => {
                self.timers.remove(&(fire_at, key.clone()));
                actions.push(Action::Cancelled(key.clone()));
            }
            Some(Eviction::Handed) | None => {}
        }
    }

    /// Brings the pod's eviction in line with its node's current taints.
    fn evaluate(&mut self, key: &PodKey, now: Instant, actions: &mut Vec<Action>) {
        let Some(pod) = self.pods.get(key) else {
            return;
        };
        let taints = self.taints.get(&pod.node).map(Vec::as_slice).unwrap_or(&[]);
        match verdict(taints, &pod.tolerations) {
            Verdict::Stay => self.cancel(key, actions),
            Verdict::EvictNow => {
                // As upstream: a scheduled eviction is replaced by an immediate one, and a
                // handed-out eviction is handed out again.
                self.cancel(key, actions);
                self.evictions.insert(key.clone(), Eviction::Handed);
                actions.push(Action::Evict(key.clone()));
            }
            Verdict::EvictAfter(after) => {
                let started = match self.evictions.get(key) {
                    Some(Eviction::Handed) => return,
                    Some(Eviction::Scheduled { started, fire_at }) => {
                        self.timers.remove(&(*fire_at, key.clone()));
                        *started
                    }
                    None => now,
                };
                let fire_at = started + after;
                if fire_at <= now {
                    self.evictions.insert(key.clone(), Eviction::Handed);
                    actions.push(Action::Evict(key.clone()));
                } else {
                    self.evictions
                        .insert(key.clone(), Eviction::Scheduled { started, fire_at });
                    self.timers.insert((fire_at, key.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use k8s_openapi::api::core::v1::{NodeSpec, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn node(name: &str, taints: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                taints: Some(
                    taints
                        .iter()
                        .map(|(key, effect)| Taint {
                            key: key.to_string(),
                            value: None,
                            effect: effect.to_string(),
                            time_added: None,
                        })
                        .collect(),
                ),
                ..NodeSpec::default()
            }),
            status: None,
        }
    }

    /// A pod on `node` tolerating each key for the given seconds (`None`: for ever).
    fn pod(name: &str, node: &str, tolerations: &[(&str, Option<i64>)]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.into()),
                tolerations: Some(
                    tolerations
                        .iter()
                        .map(|(key, secs)| Toleration {
                            key: Some(key.to_string()),
                            operator: Some("Exists".into()),
                            effect: Some("NoExecute".into()),
                            toleration_seconds: *secs,
                            value: None,
                        })
                        .collect(),
                ),
                ..PodSpec::default()
            }),
            status: None,
        }
    }

    fn key(name: &str) -> PodKey {
        PodKey {
            namespace: "default".into(),
            name: name.into(),
        }
    }

    #[test]
    fn taints_evict_at_once_later_or_never() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new();
        assert!(tracker.node_applied(&node("n1", &[]), t0).is_empty());
        for p in [
            pod("intolerant", "n1", &[]),
            pod("three", "n1", &[("dedicated", Some(3))]),
            pod("forever", "n1", &[("dedicated", None)]),
            pod("elsewhere", "n2", &[]),
            pod("pending", "", &[]),
        ] {
            assert!(tracker.pod_applied(&p, t0).is_empty());
        }
        let actions = tracker.node_applied(&node("n1", &[("dedicated", "NoExecute")]), t0);
        assert_eq!(actions, vec![Action::Evict(key("intolerant"))]);
        assert_eq!(tracker.next_deadline(), Some(t0 + Duration::from_secs(3)));
        assert!(tracker.take_due(t0 + Duration::from_secs(2)).is_empty());
        assert_eq!(
            tracker.take_due(t0 + Duration::from_secs(3)),
            vec![key("three")]
        );
        assert_eq!(tracker.next_deadline(), None);
        // An unrelated node change hands nothing out twice.
        let same = node("n1", &[("dedicated", "NoExecute"), ("soft", "NoSchedule")]);
        assert!(tracker.node_applied(&same, t0).is_empty());
        let more = node("n1", &[("dedicated", "NoExecute"), ("x", "NoExecute")]);
        let actions = tracker.node_applied(&more, t0 + Duration::from_secs(4));
        assert_eq!(
            actions,
            vec![
                Action::Evict(key("forever")),
                Action::Evict(key("intolerant")),
                Action::Evict(key("three")),
            ]
        );
    }

    #[test]
    fn removing_the_taint_calls_the_eviction_off() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new();
        tracker.pod_applied(&pod("six", "n1", &[("dedicated", Some(6))]), t0);
        assert!(
            tracker
                .node_applied(&node("n1", &[("dedicated", "NoExecute")]), t0)
                .is_empty()
        );
        assert_eq!(tracker.next_deadline(), Some(t0 + Duration::from_secs(6)));
        let later = t0 + Duration::from_secs(2);
        let actions = tracker.node_applied(&node("n1", &[]), later);
        assert_eq!(actions, vec![Action::Cancelled(key("six"))]);
        assert_eq!(tracker.next_deadline(), None);
        assert_eq!(tracker.tainted_nodes().count(), 0);
        // Tainted again: the clock starts afresh.
        tracker.node_applied(&node("n1", &[("dedicated", "NoExecute")]), later);
        assert_eq!(
            tracker.next_deadline(),
            Some(later + Duration::from_secs(6))
        );
        // The pod going away calls it off too.
        assert_eq!(
            tracker.pod_deleted(&key("six")),
            vec![Action::Cancelled(key("six"))]
        );
        assert_eq!(tracker.next_deadline(), None);
        assert_eq!(tracker.pods().count(), 0);
    }

    #[test]
    fn the_clock_keeps_running_across_taint_changes() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new();
        tracker.pod_applied(&pod("p", "n1", &[("a", Some(10)), ("b", Some(4))]), t0);
        tracker.node_applied(&node("n1", &[("a", "NoExecute")]), t0);
        assert_eq!(tracker.next_deadline(), Some(t0 + Duration::from_secs(10)));
        // A second taint with a shorter toleration shortens the deadline from the same start.
        tracker.node_applied(
            &node("n1", &[("a", "NoExecute"), ("b", "NoExecute")]),
            t0 + Duration::from_secs(2),
        );
        assert_eq!(tracker.next_deadline(), Some(t0 + Duration::from_secs(4)));
        // A shortened deadline already past hands the pod out at once.
        let mut tracker = Tracker::new();
        tracker.pod_applied(&pod("p", "n1", &[("a", Some(10)), ("b", Some(4))]), t0);
        tracker.node_applied(&node("n1", &[("a", "NoExecute")]), t0);
        let actions = tracker.node_applied(
            &node("n1", &[("a", "NoExecute"), ("b", "NoExecute")]),
            t0 + Duration::from_secs(5),
        );
        assert_eq!(actions, vec![Action::Evict(key("p"))]);
        assert_eq!(tracker.next_deadline(), None);
    }

    #[test]
    fn pods_arriving_on_a_tainted_node_are_judged_then() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new();
        tracker.node_applied(&node("n1", &[("dedicated", "NoExecute")]), t0);
        let t1 = t0 + Duration::from_secs(100);
        assert_eq!(
            tracker.pod_applied(&pod("bad", "n1", &[]), t1),
            vec![Action::Evict(key("bad"))]
        );
        assert!(
            tracker
                .pod_applied(&pod("ok", "n1", &[("dedicated", Some(3))]), t1)
                .is_empty()
        );
        assert_eq!(tracker.next_deadline(), Some(t1 + Duration::from_secs(3)));
        // A status-only update changes nothing.
        assert!(
            tracker
                .pod_applied(&pod("ok", "n1", &[("dedicated", Some(3))]), t1)
                .is_empty()
        );
        // Tolerating for ever now (tolerations may be added) calls it off.
        let actions =
            tracker.pod_applied(&pod("ok", "n1", &[("dedicated", Some(3)), ("", None)]), t1);
        assert!(actions.is_empty(), "the first matching toleration counts");
        let actions = tracker.pod_applied(&pod("ok", "n1", &[("dedicated", None)]), t1);
        assert_eq!(actions, vec![Action::Cancelled(key("ok"))]);
        // A deleted node's pods keep their evictions; its taints are forgotten.
        tracker.pod_applied(&pod("late", "n1", &[("dedicated", Some(9))]), t1);
        tracker.node_deleted("n1");
        assert_eq!(tracker.tainted_nodes().count(), 0);
        assert_eq!(tracker.next_deadline(), Some(t1 + Duration::from_secs(9)));
    }
}
