//! Cluster events that may make a rejected pod schedulable (upstream's `ClusterEvent`,
//! `ActionType`, `EventResource`). Plugins say which events matter to them; the queue moves a pod
//! out of the unschedulable set only on an event one of its rejecting plugins cares about.

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::resources::pod_requests;

/// The kind of object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventResource {
    /// A pod not yet scheduled (e.g. its own tolerations were updated).
    UnscheduledPod,
    /// A pod bound to a node.
    AssignedPod,
    /// A node.
    Node,
    /// Any resource: matches every event.
    Wildcard,
}

/// What happened, as a bit set so one registration can cover several actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionType(pub u32);

impl ActionType {
    /// Created.
    pub const ADD: ActionType = ActionType(1);
    /// Deleted.
    pub const DELETE: ActionType = ActionType(1 << 1);
    /// A node's allocatable changed.
    pub const UPDATE_NODE_ALLOCATABLE: ActionType = ActionType(1 << 2);
    /// A node's labels changed.
    pub const UPDATE_NODE_LABEL: ActionType = ActionType(1 << 3);
    /// A node's taints (or `spec.unschedulable`) changed.
    pub const UPDATE_NODE_TAINT: ActionType = ActionType(1 << 4);
    /// A node's conditions changed.
    pub const UPDATE_NODE_CONDITION: ActionType = ActionType(1 << 5);
    /// A node's annotations changed.
    pub const UPDATE_NODE_ANNOTATION: ActionType = ActionType(1 << 6);
    /// A pod's labels changed.
    pub const UPDATE_POD_LABEL: ActionType = ActionType(1 << 7);
    /// A pod's resource requests went down.
    pub const UPDATE_POD_SCALE_DOWN: ActionType = ActionType(1 << 8);
    /// A pod's tolerations changed.
    pub const UPDATE_POD_TOLERATION: ActionType = ActionType(1 << 9);
    /// Any update.
    pub const UPDATE: ActionType = ActionType(
        Self::UPDATE_NODE_ALLOCATABLE.0
            | Self::UPDATE_NODE_LABEL.0
            | Self::UPDATE_NODE_TAINT.0
            | Self::UPDATE_NODE_CONDITION.0
            | Self::UPDATE_NODE_ANNOTATION.0
            | Self::UPDATE_POD_LABEL.0
            | Self::UPDATE_POD_SCALE_DOWN.0
            | Self::UPDATE_POD_TOLERATION.0,
    );
    /// Anything.
    pub const ALL: ActionType = ActionType(Self::ADD.0 | Self::DELETE.0 | Self::UPDATE.0);

    /// Union of two action sets.
    pub const fn or(self, other: ActionType) -> ActionType {
        ActionType(self.0 | other.0)
    }

    /// Whether the sets share an action.
    pub fn intersects(self, other: ActionType) -> bool {
        self.0 & other.0 != 0
    }
}

/// An event in the cluster, or an event a plugin registers interest in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterEvent {
    /// What kind of object.
    pub resource: EventResource,
    /// What happened to it.
    pub action: ActionType,
    /// A short label for logs and metrics (`NodeAdd`, `AssignedPodDelete`, ...).
    pub label: &'static str,
}

impl ClusterEvent {
    /// A node was added.
    pub const NODE_ADD: ClusterEvent =
        ClusterEvent::new(EventResource::Node, ActionType::ADD, "NodeAdd");
    /// A bound pod was deleted.
    pub const ASSIGNED_POD_DELETE: ClusterEvent = ClusterEvent::new(
        EventResource::AssignedPod,
        ActionType::DELETE,
        "AssignedPodDelete",
    );
    /// A pod stayed unschedulable longer than the maximum (5 minutes): moves every pod.
    pub const UNSCHEDULABLE_TIMEOUT: ClusterEvent = ClusterEvent::new(
        EventResource::Wildcard,
        ActionType::ALL,
        "UnschedulableTimeout",
    );
    /// Everything should be retried (e.g. after a resync).
    pub const FORCE_ACTIVATE: ClusterEvent =
        ClusterEvent::new(EventResource::Wildcard, ActionType::ALL, "ForceActivate");

    /// An event.
    pub const fn new(resource: EventResource, action: ActionType, label: &'static str) -> Self {
        ClusterEvent {
            resource,
            action,
            label,
        }
    }

    /// Whether this registration covers `event`.
    pub fn covers(&self, event: &ClusterEvent) -> bool {
        if self.resource == EventResource::Wildcard || event.resource == EventResource::Wildcard {
            return true;
        }
        self.resource == event.resource && self.action.intersects(event.action)
    }
}

/// What changed between two versions of a node, as scheduling cares about it (upstream's
/// `nodeSchedulingPropertiesChange`); heartbeat timestamps in conditions are ignored.
pub fn node_update_action(old: &Node, new: &Node) -> ActionType {
    let mut action = ActionType(0);
    let spec = |n: &Node| {
        let spec = n.spec.as_ref();
        (
            spec.and_then(|s| s.unschedulable).unwrap_or(false),
            spec.and_then(|s| s.taints.clone()).unwrap_or_default(),
        )
    };
    if spec(old) != spec(new) {
        action = action.or(ActionType::UPDATE_NODE_TAINT);
    }
    if old.metadata.labels != new.metadata.labels {
        action = action.or(ActionType::UPDATE_NODE_LABEL);
    }
    if old.metadata.annotations != new.metadata.annotations {
        action = action.or(ActionType::UPDATE_NODE_ANNOTATION);
    }
    let allocatable = |n: &Node| n.status.as_ref().and_then(|s| s.allocatable.clone());
    if allocatable(old) != allocatable(new) {
        action = action.or(ActionType::UPDATE_NODE_ALLOCATABLE);
    }
    let conditions = |n: &Node| -> Vec<(String, String)> {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|c| {
                c.iter()
                    .map(|c| (c.type_.clone(), c.status.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    if conditions(old) != conditions(new) {
        action = action.or(ActionType::UPDATE_NODE_CONDITION);
    }
    action
}

/// What changed between two versions of a pod (labels, tolerations, lower requests).
pub fn pod_update_action(old: &Pod, new: &Pod) -> ActionType {
    let mut action = ActionType(0);
    if old.metadata.labels != new.metadata.labels {
        action = action.or(ActionType::UPDATE_POD_LABEL);
    }
    let tolerations = |p: &Pod| p.spec.as_ref().and_then(|s| s.tolerations.clone());
    if tolerations(old) != tolerations(new) {
        action = action.or(ActionType::UPDATE_POD_TOLERATION);
    }
    let (before, after) = (pod_requests(old), pod_requests(new));
    if after.milli_cpu < before.milli_cpu
        || after.memory < before.memory
        || after.ephemeral_storage < before.ephemeral_storage
        || before.scalar.iter().any(|(k, v)| after.get(k) < *v)
    {
        action = action.or(ActionType::UPDATE_POD_SCALE_DOWN);
    }
    action
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};

    #[test]
    fn node_and_pod_update_actions() {
        let base = NodeBuilder::new("n").label("a", "1").build();
        let tainted = NodeBuilder::new("n")
            .label("a", "1")
            .taint("k", "v", "NoSchedule")
            .build();
        let relabelled = NodeBuilder::new("n").label("a", "2").build();
        let cordoned = NodeBuilder::new("n")
            .label("a", "1")
            .unschedulable()
            .build();
        assert_eq!(node_update_action(&base, &base), ActionType(0));
        assert_eq!(
            node_update_action(&base, &tainted),
            ActionType::UPDATE_NODE_TAINT
        );
        assert_eq!(
            node_update_action(&base, &cordoned),
            ActionType::UPDATE_NODE_TAINT
        );
        assert_eq!(
            node_update_action(&base, &relabelled),
            ActionType::UPDATE_NODE_LABEL
        );
        let big = PodBuilder::new("p").requests(&[("cpu", "2")]).build();
        let small = PodBuilder::new("p").requests(&[("cpu", "1")]).build();
        assert_eq!(
            pod_update_action(&big, &small),
            ActionType::UPDATE_POD_SCALE_DOWN
        );
        assert_eq!(pod_update_action(&small, &big), ActionType(0));
    }

    #[test]
    fn registration_covers_matching_events() {
        let reg = ClusterEvent::new(
            EventResource::Node,
            ActionType::ADD.or(ActionType::UPDATE_NODE_TAINT),
            "",
        );
        assert!(reg.covers(&ClusterEvent::NODE_ADD));
        assert!(reg.covers(&ClusterEvent::new(
            EventResource::Node,
            ActionType::UPDATE_NODE_TAINT,
            ""
        )));
        assert!(!reg.covers(&ClusterEvent::new(
            EventResource::Node,
            ActionType::UPDATE_NODE_LABEL,
            ""
        )));
        assert!(!reg.covers(&ClusterEvent::ASSIGNED_POD_DELETE));
        assert!(reg.covers(&ClusterEvent::UNSCHEDULABLE_TIMEOUT));
    }
}
