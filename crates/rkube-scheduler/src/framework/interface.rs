//! One small trait per extension point (upstream's `framework/interface.go`). A plugin is one
//! value implementing the traits of the points it extends; its constructor hands the framework a
//! `PluginExtensions` naming which ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use super::cycle_state::CycleState;
use super::events::ClusterEvent;
use super::status::Status;
use crate::node_info::{NodeInfo, PodInfo, Snapshot};

/// Highest score a Score plugin may give after normalization.
pub const MAX_NODE_SCORE: i64 = 100;
/// Lowest score.
pub const MIN_NODE_SCORE: i64 = 0;

/// Every plugin has a name.
pub trait Plugin: Send + Sync {
    /// The name it is registered and configured under.
    fn name(&self) -> &'static str;
}

/// A pod waiting in the scheduling queue.
#[derive(Debug, Clone)]
pub struct QueuedPodInfo {
    /// The pod and its requests.
    pub pod_info: PodInfo,
    /// When it entered the queue (or was last moved to activeQ after a failure).
    pub timestamp: Instant,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// When it was first added to the queue.
    pub initial_attempt_timestamp: Instant,
    /// Plugins that rejected it in its last attempt.
    pub unschedulable_plugins: Vec<&'static str>,
    /// Whether its last attempt failed with an error rather than a rejection.
    pub failed_with_error: bool,
}

/// Decides whether a pod may enter the active queue at all (e.g. scheduling gates).
pub trait PreEnqueuePlugin: Plugin {
    /// Success, or why the pod must wait (it is parked until an update lets it in).
    fn pre_enqueue(&self, pod: &Pod) -> Status;
}

/// Orders the active queue.
pub trait QueueSortPlugin: Plugin {
    /// Whether `a` should be scheduled before `b`.
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool;
}

/// What PreFilter learned about where the pod can go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreFilterResult {
    /// Only these nodes can possibly fit; `None` means all.
    pub node_names: Option<std::collections::BTreeSet<String>>,
}

impl PreFilterResult {
    /// Intersection of two results.
    pub fn merge(self, other: PreFilterResult) -> PreFilterResult {
        match (self.node_names, other.node_names) {
            (None, x) | (x, None) => PreFilterResult { node_names: x },
            (Some(a), Some(b)) => PreFilterResult {
                node_names: Some(a.intersection(&b).cloned().collect()),
            },
        }
    }
}

/// Runs once per pod before filtering: precomputes state, rejects early, narrows the node set.
pub trait PreFilterPlugin: Plugin {
    /// Returns Success, Skip (the plugin's Filter is not run), or a rejection for all nodes.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        nodes: &[NodeInfo],
    ) -> (Option<PreFilterResult>, Status);

    /// Updates the precomputed state as if `pod_to_add` ran on `node` (used by preemption).
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _pod: &Pod,
        _pod_to_add: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }

    /// Updates the precomputed state as if `pod_to_remove` left `node` (used by preemption).
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &Pod,
        _pod_to_remove: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
}

/// Decides whether the pod can run on one node.
pub trait FilterPlugin: Plugin {
    /// Success, or why the node does not fit.
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status;
}

/// What a PostFilter achieved (preemption nominates a node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostFilterResult {
    /// The node the pod is nominated to once victims are gone; `Some("")` clears a nomination.
    pub nominated_node_name: Option<String>,
}

/// What a PostFilter plugin gets to look at.
pub struct PostFilterContext<'a> {
    /// The profile, to re-run filters (`Profile::run_filters_with_nominated`).
    pub profile: &'a crate::profile::Profile,
    /// The cluster.
    pub snapshot: &'a Snapshot,
    /// Why each node was rejected.
    pub node_statuses: &'a crate::algorithm::NodeToStatus,
}

/// Runs when no node fits (preemption). Its rejection message is appended to the FitError
/// message after a space, e.g. `preemption: 0/3 nodes are available: 3 No preemption victims
/// found for incoming pod.` — the plugin writes the whole sentence, final period included.
pub trait PostFilterPlugin: Plugin {
    /// Success with a nominated node, or Unschedulable with the message to append.
    fn post_filter(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        context: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status);
}

/// Runs once per pod before scoring, with the feasible nodes.
pub trait PreScorePlugin: Plugin {
    /// Success, or Skip to not run this plugin's Score.
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, nodes: &[&NodeInfo]) -> Status;
}

/// A node's score from one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeScore {
    /// Index of the node in the feasible list.
    pub node: usize,
    /// Its score.
    pub score: i64,
}

/// Ranks feasible nodes.
pub trait ScorePlugin: Plugin {
    /// Raw score of one node.
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Result<i64, Status>;

    /// Whether `normalize_scores` does anything (avoids a pass over the nodes).
    fn has_normalize(&self) -> bool {
        false
    }

    /// Maps raw scores into [0, 100] (upstream's `ScoreExtensions.NormalizeScore`).
    fn normalize_scores(
        &self,
        _state: &CycleState,
        _pod: &Pod,
        _scores: &mut [NodeScore],
    ) -> Status {
        Status::success()
    }
}

/// Scales scores to [0, max] by the highest one; `reverse` turns high into low (upstream's
/// `helper.DefaultNormalizeScore`).
pub fn default_normalize_score(max_priority: i64, reverse: bool, scores: &mut [NodeScore]) {
    let max_count = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if max_count == 0 {
        if reverse {
            for s in scores.iter_mut() {
                s.score = max_priority;
            }
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut score = max_priority * s.score / max_count;
        if reverse {
            score = max_priority - score;
        }
        s.score = score;
    }
}

/// Claims resources for a pod on its chosen node before binding (and releases them on failure).
pub trait ReservePlugin: Plugin {
    /// Reserve; failure aborts this attempt.
    fn reserve(&self, state: &mut CycleState, pod: &Pod, node_name: &str) -> Status;
    /// Undo `reserve`; must be idempotent.
    fn unreserve(&self, state: &mut CycleState, pod: &Pod, node_name: &str);
}

/// Approves, denies or delays binding.
pub trait PermitPlugin: Plugin {
    /// Success, a rejection, or Wait with how long to wait at most.
    fn permit(&self, state: &mut CycleState, pod: &Pod, node_name: &str) -> (Status, Duration);
}

/// Prepares binding (e.g. provisions volumes).
pub trait PreBindPlugin: Plugin {
    /// Success or why binding cannot go ahead.
    fn pre_bind(&self, state: &mut CycleState, pod: &Pod, node_name: &str) -> Status;
}

/// Binds the pod to the node (through `pods/binding` in the API). Bind plugins are tried in
/// order until one does not return Skip.
pub trait BindPlugin: Plugin {
    /// Success, Skip (not mine), or an error.
    fn bind(&self, state: &mut CycleState, pod: &Pod, node_name: &str) -> Status;
}

/// Informational, after a successful bind.
pub trait PostBindPlugin: Plugin {
    /// Called after the pod is bound.
    fn post_bind(&self, state: &mut CycleState, pod: &Pod, node_name: &str);
}

/// The extension points one plugin instance implements, handed to the framework by the plugin's
/// constructor, and the cluster events that can make a pod it rejected schedulable.
#[derive(Clone, Default)]
pub struct PluginExtensions {
    /// PreEnqueue.
    pub pre_enqueue: Option<Arc<dyn PreEnqueuePlugin>>,
    /// QueueSort.
    pub queue_sort: Option<Arc<dyn QueueSortPlugin>>,
    /// PreFilter.
    pub pre_filter: Option<Arc<dyn PreFilterPlugin>>,
    /// Filter.
    pub filter: Option<Arc<dyn FilterPlugin>>,
    /// PostFilter.
    pub post_filter: Option<Arc<dyn PostFilterPlugin>>,
    /// PreScore.
    pub pre_score: Option<Arc<dyn PreScorePlugin>>,
    /// Score.
    pub score: Option<Arc<dyn ScorePlugin>>,
    /// Reserve.
    pub reserve: Option<Arc<dyn ReservePlugin>>,
    /// Permit.
    pub permit: Option<Arc<dyn PermitPlugin>>,
    /// PreBind.
    pub pre_bind: Option<Arc<dyn PreBindPlugin>>,
    /// Bind.
    pub bind: Option<Arc<dyn BindPlugin>>,
    /// PostBind.
    pub post_bind: Option<Arc<dyn PostBindPlugin>>,
    /// Events that may make a pod this plugin rejected schedulable (upstream's
    /// `EventsToRegister`, without the per-event hint functions).
    pub events: Vec<ClusterEvent>,
}

impl std::fmt::Debug for PluginExtensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut points = Vec::new();
        let checks = [
            (self.pre_enqueue.is_some(), "PreEnqueue"),
            (self.queue_sort.is_some(), "QueueSort"),
            (self.pre_filter.is_some(), "PreFilter"),
            (self.filter.is_some(), "Filter"),
            (self.post_filter.is_some(), "PostFilter"),
            (self.pre_score.is_some(), "PreScore"),
            (self.score.is_some(), "Score"),
            (self.reserve.is_some(), "Reserve"),
            (self.permit.is_some(), "Permit"),
            (self.pre_bind.is_some(), "PreBind"),
            (self.bind.is_some(), "Bind"),
            (self.post_bind.is_some(), "PostBind"),
        ];
        for (present, name) in checks {
            if present {
                points.push(name);
            }
        }
        f.debug_struct("PluginExtensions")
            .field("points", &points)
            .field("events", &self.events)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(values: &[i64]) -> Vec<NodeScore> {
        values
            .iter()
            .enumerate()
            .map(|(node, score)| NodeScore {
                node,
                score: *score,
            })
            .collect()
    }

    #[test]
    fn default_normalize() {
        let mut s = scores(&[0, 5, 10]);
        default_normalize_score(100, false, &mut s);
        assert_eq!(s.iter().map(|s| s.score).collect::<Vec<_>>(), [0, 50, 100]);
        let mut s = scores(&[0, 5, 10]);
        default_normalize_score(100, true, &mut s);
        assert_eq!(s.iter().map(|s| s.score).collect::<Vec<_>>(), [100, 50, 0]);
        let mut s = scores(&[0, 0]);
        default_normalize_score(100, true, &mut s);
        assert_eq!(s.iter().map(|s| s.score).collect::<Vec<_>>(), [100, 100]);
    }

    #[test]
    fn pre_filter_results_intersect() {
        let a = PreFilterResult {
            node_names: Some(["a".to_string(), "b".to_string()].into()),
        };
        let b = PreFilterResult {
            node_names: Some(["b".to_string(), "c".to_string()].into()),
        };
        assert_eq!(
            a.clone().merge(b).node_names,
            Some(["b".to_string()].into())
        );
        assert_eq!(a.clone().merge(PreFilterResult::default()), a);
    }
}
