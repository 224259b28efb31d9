//! The scheduler's view of the cluster, kept current from watch events (upstream's scheduler
//! cache plus the event handlers that feed the queue): nodes and the pods assigned to them live
//! in one incrementally updated `Snapshot`; pods this scheduler has just placed are *assumed*
//! onto their node until the watch confirms the binding; pending pods of the configured
//! profiles go to the `SchedulingQueue`; and every change that might make a rejected pod
//! schedulable becomes a `ClusterEvent` for the queue.
//!
//! No I/O and no clock here beyond the queue's: the runner feeds events in and takes pods out.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::framework::{ActionType, ClusterEvent, EventResource, node_update_action};
use crate::node_info::{Snapshot, is_terminal, pod_key};
use crate::profile::Profiles;
use crate::queue::SchedulingQueue;

/// A pod assigned to a node was added (or became visible as assigned).
pub const ASSIGNED_POD_ADD: ClusterEvent = ClusterEvent::new(
    EventResource::AssignedPod,
    ActionType::ADD,
    "AssignedPodAdd",
);

/// The scheduler's cluster state.
pub struct SchedulerCache {
    /// Nodes with their assigned (and assumed) pods.
    pub snapshot: Snapshot,
    /// The scheduling queue.
    pub queue: SchedulingQueue,
    profiles: Arc<Profiles>,
    /// Assigned, non-terminal pods by key, as counted (or to be counted once their node
    /// appears) in the snapshot.
    assigned: HashMap<String, Arc<Pod>>,
    /// Keys of assigned pods that are only assumed (binding not yet seen in the watch).
    assumed: HashSet<String>,
    /// Node name → keys of assigned pods on it.
    pods_by_node: HashMap<String, HashSet<String>>,
    /// Pending pods of our profiles by key, as last seen.
    pending: HashMap<String, Arc<Pod>>,
}

impl std::fmt::Debug for SchedulerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerCache")
            .field("nodes", &self.snapshot.len())
            .field("assigned", &self.assigned.len())
            .field("assumed", &self.assumed.len())
            .field("pending", &self.pending.len())
            .field("queue", &self.queue)
            .finish()
    }
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// `status.nominatedNodeName`, when set.
fn nominated_node(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Whether anything but status and bookkeeping metadata changed (upstream's `isPodUpdated`):
/// the scheduler's own status writes must not move a pod out of the unschedulable set.
fn spec_or_labels_changed(old: &Pod, new: &Pod) -> bool {
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || old.metadata.annotations != new.metadata.annotations
        || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
}

impl SchedulerCache {
    /// An empty cache around a queue.
    pub fn new(profiles: Arc<Profiles>, queue: SchedulingQueue) -> SchedulerCache {
        SchedulerCache {
            snapshot: Snapshot::default(),
            queue,
            profiles,
            assigned: HashMap::new(),
            assumed: HashSet::new(),
            pods_by_node: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    /// The profiles.
    pub fn profiles(&self) -> &Arc<Profiles> {
        &self.profiles
    }

    /// Number of pods assumed and not yet confirmed.
    pub fn assumed_len(&self) -> usize {
        self.assumed.len()
    }

    /// The current version of a pending pod, if it is still pending.
    pub fn pending_pod(&self, key: &str) -> Option<&Arc<Pod>> {
        self.pending.get(key)
    }

    /// Keys of every pod the cache knows (for resyncs after a relist).
    pub fn pod_keys(&self) -> Vec<String> {
        self.assigned
            .keys()
            .chain(self.pending.keys())
            .cloned()
            .collect()
    }

    /// Names of every node.
    pub fn node_names(&self) -> Vec<String> {
        self.snapshot
            .nodes()
            .iter()
            .map(|n| n.name().to_string())
            .collect()
    }

    fn add_assigned(&mut self, key: String, pod: Arc<Pod>, node: &str) {
        self.pods_by_node
            .entry(node.to_string())
            .or_default()
            .insert(key.clone());
        self.snapshot.add_pod(pod.clone());
        self.assigned.insert(key, pod);
    }

    fn remove_assigned(&mut self, key: &str) -> Option<Arc<Pod>> {
        let old = self.assigned.remove(key)?;
        self.assumed.remove(key);
        if let Some(node) = node_name(&old) {
            self.snapshot.remove_pod(&old);
            if let Some(keys) = self.pods_by_node.get_mut(node) {
                keys.remove(key);
                if keys.is_empty() {
                    self.pods_by_node.remove(node);
                }
            }
        }
        Some(old)
    }

    /// A pod was added or changed.
    pub fn apply_pod(&mut self, pod: Pod) {
        let key = pod_key(&pod);
        let pod = Arc::new(pod);
        if let Some(node) = node_name(&pod).map(str::to_string) {
            self.snapshot.forget_nomination(&key);
            self.pending.remove(&key);
            self.queue.delete(&key);
            let was_known = self.remove_assigned(&key).is_some();
            if is_terminal(&pod) {
                if was_known {
                    self.queue
                        .move_all_to_active_or_backoff(ClusterEvent::ASSIGNED_POD_DELETE);
                }
                return;
            }
            self.add_assigned(key, pod, &node);
            if !was_known {
                self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_ADD);
            }
            return;
        }
        // Unassigned. A pod assumed by us but not yet bound in the watch stays assumed.
        if self.assumed.contains(&key) {
            return;
        }
        if self.profiles.for_pod(&pod).is_none()
            || pod.metadata.deletion_timestamp.is_some()
            || is_terminal(&pod)
        {
            self.snapshot.forget_nomination(&key);
            self.pending.remove(&key);
            self.queue.delete(&key);
            return;
        }
        self.snapshot.set_nomination(&pod, nominated_node(&pod));
        match self.pending.insert(key, pod.clone()) {
            Some(old) if !spec_or_labels_changed(&old, &pod) => {}
            Some(_) => self.queue.update(pod),
            None => {
                self.queue.add(pod);
            }
        }
    }

    /// A pod was deleted.
    pub fn delete_pod(&mut self, key: &str) {
        self.snapshot.forget_nomination(key);
        self.pending.remove(key);
        self.queue.delete(key);
        if self.remove_assigned(key).is_some() {
            self.queue
                .move_all_to_active_or_backoff(ClusterEvent::ASSIGNED_POD_DELETE);
        }
    }

    /// A node was added or changed.
    pub fn apply_node(&mut self, node: Node) {
        let Some(name) = node.metadata.name.clone() else {
            return;
        };
        let node = Arc::new(node);
        let event = match self.snapshot.get(&name) {
            Some(old) => {
                let action = node_update_action(&old.node, &node);
                self.snapshot.upsert_node(node);
                (action.0 != 0)
                    .then(|| ClusterEvent::new(EventResource::Node, action, "NodeUpdate"))
            }
            None => {
                self.snapshot.upsert_node(node);
                // Pods seen before their node are counted now.
                let keys: Vec<String> = self
                    .pods_by_node
                    .get(&name)
                    .map(|k| k.iter().cloned().collect())
                    .unwrap_or_default();
                for key in keys {
                    if let Some(pod) = self.assigned.get(&key) {
                        self.snapshot.add_pod(pod.clone());
                    }
                }
                Some(ClusterEvent::NODE_ADD)
            }
        };
        if let Some(event) = event {
            self.queue.move_all_to_active_or_backoff(event);
        }
    }

    /// A node was deleted. Its pods stay known and are counted again if it comes back.
    pub fn delete_node(&mut self, name: &str) {
        self.snapshot.remove_node(name);
    }

    /// The scheduler placed `pod` on `node`: count it there at once (upstream's `AssumePod`).
    pub fn assume(&mut self, pod: &Pod, node: &str) {
        let key = pod_key(pod);
        self.pending.remove(&key);
        self.snapshot.forget_nomination(&key);
        let mut assumed = pod.clone();
        if let Some(spec) = assumed.spec.as_mut() {
            spec.node_name = Some(node.to_string());
        }
        self.remove_assigned(&key);
        self.add_assigned(key.clone(), Arc::new(assumed), node);
        self.assumed.insert(key);
    }

    /// Binding the assumed pod failed: forget the assumption. Returns false when the pod is no
    /// longer assumed (the watch already told the truth).
    pub fn forget(&mut self, key: &str) -> bool {
        if !self.assumed.contains(key) {
            return false;
        }
        self.remove_assigned(key);
        true
    }

    /// Preemption nominated `pod` to `node` (`""` clears the nomination): other pods must
    /// leave it the room at once, before the status written to the API comes back.
    pub fn nominate(&mut self, pod: &Arc<Pod>, node: &str) {
        self.snapshot.set_nomination(pod, Some(node));
    }

    /// Puts a pod back among the pending ones (after its binding failed).
    pub fn restore_pending(&mut self, pod: Arc<Pod>) {
        self.pending.insert(pod_key(&pod), pod);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SchedulerConfiguration;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};
    use crate::queue::{QueueName, SystemClock};
    use crate::registry::Registry;

    fn cache() -> SchedulerCache {
        let profiles = Arc::new(
            Profiles::build(&SchedulerConfiguration::default(), &Registry::in_tree())
                .expect("default profiles"),
        );
        let sort = profiles
            .get(crate::config::DEFAULT_SCHEDULER_NAME)
            .expect("default profile")
            .queue_sort
            .clone();
        let queue = SchedulingQueue::new(Arc::new(SystemClock), sort, profiles.plugin_events());
        SchedulerCache::new(profiles, queue)
    }

    fn on_node(name: &str, node: &str) -> Pod {
        let mut pod = Pod::clone(&PodBuilder::new(name).requests(&[("cpu", "1")]).build());
        if let Some(spec) = pod.spec.as_mut() {
            spec.node_name = Some(node.to_string());
        }
        pod
    }

    #[test]
    fn pending_pods_are_queued_and_assigned_pods_counted() {
        let mut cache = cache();
        cache.apply_node(Node::clone(&NodeBuilder::new("n1").build()));
        cache.apply_pod(Pod::clone(&PodBuilder::new("p").build()));
        assert_eq!(cache.queue.lens().0, 1);
        cache.apply_pod(on_node("p", "n1"));
        assert_eq!(cache.queue.lens(), (0, 0, 0));
        assert_eq!(cache.snapshot.get("n1").map(|n| n.pods.len()), Some(1));
        cache.delete_pod("default/p");
        assert_eq!(cache.snapshot.get("n1").map(|n| n.pods.len()), Some(0));
    }

    #[test]
    fn pods_seen_before_their_node_are_counted_when_it_appears() {
        let mut cache = cache();
        cache.apply_pod(on_node("p", "late"));
        cache.apply_node(Node::clone(&NodeBuilder::new("late").build()));
        assert_eq!(cache.snapshot.get("late").map(|n| n.pods.len()), Some(1));
    }

    #[test]
    fn assumed_pods_count_until_forgotten_or_confirmed() {
        let mut cache = cache();
        cache.apply_node(Node::clone(&NodeBuilder::new("n1").build()));
        let pod = Pod::clone(&PodBuilder::new("p").build());
        cache.apply_pod(pod.clone());
        let popped = cache.queue.pop().expect("queued");
        cache.queue.done(&popped.pod_info.key());
        cache.assume(&pod, "n1");
        // A status-only update of the unbound pod does not requeue it.
        cache.apply_pod(pod.clone());
        assert_eq!(cache.queue.lens(), (0, 0, 0));
        assert_eq!(cache.snapshot.get("n1").map(|n| n.pods.len()), Some(1));
        assert!(cache.forget("default/p"));
        assert_eq!(cache.snapshot.get("n1").map(|n| n.pods.len()), Some(0));
        cache.assume(&pod, "n1");
        cache.apply_pod(on_node("p", "n1"));
        assert!(!cache.forget("default/p"));
        assert_eq!(cache.assumed_len(), 0);
        assert_eq!(cache.snapshot.get("n1").map(|n| n.pods.len()), Some(1));
    }

    #[test]
    fn status_only_updates_leave_unschedulable_pods_alone() {
        let mut cache = cache();
        let pod = Pod::clone(&PodBuilder::new("p").build());
        cache.apply_pod(pod.clone());
        let mut info = cache.queue.pop().expect("queued");
        info.unschedulable_plugins = vec!["NodeResourcesFit"];
        assert_eq!(
            cache.queue.add_unschedulable_if_not_present(info),
            Ok(QueueName::Unschedulable)
        );
        let mut patched = pod.clone();
        patched.metadata.resource_version = Some("7".into());
        cache.apply_pod(patched);
        assert_eq!(
            cache.queue.queue_of("default/p"),
            Some(QueueName::Unschedulable)
        );
        let mut other_scheduler = pod;
        if let Some(spec) = other_scheduler.spec.as_mut() {
            spec.scheduler_name = Some("someone-else".into());
        }
        cache.apply_pod(other_scheduler);
        assert_eq!(cache.queue.queue_of("default/p"), None);
    }

    #[test]
    fn nominations_follow_the_pods() {
        let mut cache = cache();
        cache.apply_node(Node::clone(&NodeBuilder::new("n1").build()));
        let mut pod = Pod::clone(&PodBuilder::new("p").build());
        pod.status = Some(k8s_openapi::api::core::v1::PodStatus {
            nominated_node_name: Some("n1".into()),
            ..Default::default()
        });
        cache.apply_pod(pod.clone());
        assert_eq!(cache.snapshot.nominated_pods("n1").len(), 1);
        // bound: no longer nominated
        cache.apply_pod(on_node("p", "n1"));
        assert!(cache.snapshot.nominated_pods("n1").is_empty());
        cache.delete_pod("default/p");
        cache.apply_pod(pod);
        assert!(cache.snapshot.has_nominated_pods());
        cache.delete_pod("default/p");
        assert!(!cache.snapshot.has_nominated_pods());
        // nominated by this scheduler's own preemption, then cleared
        let other = Arc::new(Pod::clone(&PodBuilder::new("q").build()));
        cache.nominate(&other, "n1");
        assert_eq!(cache.snapshot.nominated_pods("n1").len(), 1);
        cache.nominate(&other, "");
        assert!(!cache.snapshot.has_nominated_pods());
    }
}
