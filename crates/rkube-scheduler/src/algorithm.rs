//! Choosing a node for one pod (upstream's `schedulePod`): PreFilter, Filter over the nodes
//! until enough feasible ones are found (`percentageOfNodesToScore`), PreScore, Score with
//! normalization and weights, and picking the best; or, when nothing fits, a `FitError` whose
//! message is upstream's aggregated one, with the PostFilter (preemption) outcome appended.
//!
//! Filtering starts where the previous pod's search stopped (upstream's `nextStartNodeIndex`),
//! so a partial search still visits every node over successive pods. Among nodes with the
//! highest total score, one is picked uniformly at random (upstream uses reservoir sampling
//! over the ties); the generator is seeded so tests are deterministic.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{CycleState, PostFilterContext, Status};
use crate::node_info::{NodeInfo, Snapshot, pod_key};
use crate::profile::{Profile, run_filters};

/// Below this many nodes every node is searched.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;
/// Upstream's base for the adaptive percentage.
pub const DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE: i64 = 50;

/// Why each evaluated node was rejected, and the status of nodes never evaluated.
#[derive(Debug, Clone, Default)]
pub struct NodeToStatus {
    statuses: HashMap<String, Status>,
    absent: Option<Status>,
}

impl NodeToStatus {
    /// Records a node's rejection.
    pub fn set(&mut self, node: &str, status: Status) {
        self.statuses.insert(node.to_string(), status);
    }

    /// The status of a node (its own, or the status of absent nodes).
    pub fn get(&self, node: &str) -> Option<&Status> {
        self.statuses.get(node).or(self.absent.as_ref())
    }

    /// Sets the status that nodes not explicitly recorded have.
    pub fn set_absent_nodes_status(&mut self, status: Status) {
        self.absent = Some(status);
    }

    /// The status of nodes not explicitly recorded.
    pub fn absent_nodes_status(&self) -> Option<&Status> {
        self.absent.as_ref()
    }

    /// Number of explicitly recorded nodes.
    pub fn len(&self) -> usize {
        self.statuses.len()
    }

    /// Whether no node is explicitly recorded.
    pub fn is_empty(&self) -> bool {
        self.statuses.is_empty()
    }

    /// Explicitly recorded nodes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Status)> {
        self.statuses.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Everything learnt while failing to place a pod.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// Per-node rejections.
    pub node_to_status: NodeToStatus,
    /// Plugins that rejected the pod somewhere (the queue uses them to pick retry events).
    pub unschedulable_plugins: BTreeSet<&'static str>,
    /// Set when a PreFilter plugin rejected the pod outright.
    pub pre_filter_msg: String,
    /// What PostFilter (preemption) reported.
    pub post_filter_msg: String,
}

/// No node can run the pod.
#[derive(Debug, Clone)]
pub struct FitError {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// Number of nodes in the snapshot.
    pub num_all_nodes: usize,
    /// Why.
    pub diagnosis: Diagnosis,
    /// Node nominated by PostFilter (preemption); `Some("")` clears a previous nomination.
    pub nominated_node_name: Option<String>,
}

impl std::fmt::Display for FitError {
    /// `0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2
    /// Insufficient cpu.` then, if PostFilter said something, a space and its message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        let diagnosis = &self.diagnosis;
        if !diagnosis.pre_filter_msg.is_empty() {
            write!(f, " {}.", diagnosis.pre_filter_msg)?;
        } else {
            let histogram = reason_histogram(&diagnosis.node_to_status, self.num_all_nodes);
            if !histogram.is_empty() {
                write!(f, " {}.", histogram.join(", "))?;
            }
        }
        if !diagnosis.post_filter_msg.is_empty() {
            write!(f, " {}", diagnosis.post_filter_msg)?;
        }
        Ok(())
    }
}

impl std::error::Error for FitError {}

/// `"<count> <reason>"` for every reason, sorted as strings (as upstream does, so `10 …`
/// sorts before `2 …`). Nodes never evaluated count with the absent-nodes status.
pub fn reason_histogram(statuses: &NodeToStatus, num_all_nodes: usize) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, status) in statuses.iter() {
        for reason in status.reasons() {
            *counts.entry(reason.as_str()).or_default() += 1;
        }
    }
    if statuses.len() < num_all_nodes
        && let Some(absent) = statuses.absent_nodes_status()
    {
        for reason in absent.reasons() {
            *counts.entry(reason.as_str()).or_default() += num_all_nodes - statuses.len();
        }
    }
    let mut lines: Vec<String> = counts
        .into_iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    lines.sort();
    lines
}

/// Why scheduling a pod failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScheduleError {
    /// The cluster has no nodes.
    #[error("no nodes available to schedule pods")]
    NoNodesAvailable,
    /// No node fits.
    #[error("{0}")]
    Fit(Box<FitError>),
    /// A plugin failed internally.
    #[error("{}", .0.message())]
    Plugin(Status),
}

/// Where the pod goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub suggested_host: String,
    /// Nodes evaluated by Filter (feasible plus rejected).
    pub evaluated_nodes: usize,
    /// Nodes found feasible.
    pub feasible_nodes: usize,
}

/// How many feasible nodes to look for before scoring (upstream's `numFeasibleNodesToFind`):
/// every node below 100; otherwise `percentage` of them, where 0 means adaptive
/// (50% minus 1% per 125 nodes, at least 5%), and never fewer than 100.
pub fn num_feasible_nodes_to_find(percentage: i32, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let all = num_all_nodes as i64;
    let mut percentage = i64::from(percentage);
    if percentage <= 0 {
        percentage = (DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE - all / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    if percentage >= 100 {
        return num_all_nodes;
    }
    let nodes = usize::try_from(all * percentage / 100).unwrap_or(num_all_nodes);
    nodes.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The scheduling algorithm with the state it keeps between pods.
#[derive(Debug, Clone)]
pub struct SchedulingAlgorithm {
    /// Global percentage of nodes to score (0 = adaptive); a profile's own value wins.
    pub percentage_of_nodes_to_score: i32,
    next_start_node_index: usize,
    rng: u64,
}

impl Default for SchedulingAlgorithm {
    fn default() -> Self {
        SchedulingAlgorithm::new(0, 0x9E37_79B9_7F4A_7C15)
    }
}

impl SchedulingAlgorithm {
    /// An algorithm with a global percentage and a seed for breaking ties.
    pub fn new(percentage_of_nodes_to_score: i32, seed: u64) -> SchedulingAlgorithm {
        SchedulingAlgorithm {
            percentage_of_nodes_to_score,
            next_start_node_index: 0,
            rng: seed | 1,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Picks a node for the pod. On `FitError` the profile's PostFilter plugins have run and
    /// their message and nomination are in the error.
    pub fn schedule_one(
        &mut self,
        profile: &Profile,
        state: &mut CycleState,
        pod: &Pod,
        snapshot: &Snapshot,
    ) -> Result<ScheduleResult, ScheduleError> {
        match self.schedule_pod(profile, state, pod, snapshot) {
            Err(ScheduleError::Fit(mut fit_error)) => {
                if !profile.post_filter.is_empty() {
                    let context = PostFilterContext {
                        profile,
                        snapshot,
                        node_statuses: &fit_error.diagnosis.node_to_status,
                    };
                    let (result, status) = profile.run_post_filter_plugins(state, pod, &context);
                    if status.code() == crate::framework::StatusCode::Error {
                        return Err(ScheduleError::Plugin(status));
                    }
                    fit_error.diagnosis.post_filter_msg = status.message();
                    fit_error.nominated_node_name = result.and_then(|r| r.nominated_node_name);
                }
                Err(ScheduleError::Fit(fit_error))
            }
            other => other,
        }
    }

    fn schedule_pod(
        &mut self,
        profile: &Profile,
        state: &mut CycleState,
        pod: &Pod,
        snapshot: &Snapshot,
    ) -> Result<ScheduleResult, ScheduleError> {
        if snapshot.is_empty() {
            return Err(ScheduleError::NoNodesAvailable);
        }
        let (feasible, diagnosis) = self.find_nodes_that_fit_pod(profile, state, pod, snapshot)?;
        if feasible.is_empty() {
            return Err(ScheduleError::Fit(Box::new(FitError {
                pod: pod_key(pod),
                num_all_nodes: snapshot.len(),
                diagnosis,
                nominated_node_name: None,
            })));
        }
        let evaluated_nodes = feasible.len() + diagnosis.node_to_status.len();
        if let [only] = feasible.as_slice() {
            return Ok(ScheduleResult {
                suggested_host: only.name().to_string(),
                evaluated_nodes,
                feasible_nodes: 1,
            });
        }
        let totals = self.prioritize_nodes(profile, state, pod, &feasible)?;
        let best = self.select_host(&totals);
        Ok(ScheduleResult {
            suggested_host: feasible[best].name().to_string(),
            evaluated_nodes,
            feasible_nodes: feasible.len(),
        })
    }

    fn find_nodes_that_fit_pod<'s>(
        &mut self,
        profile: &Profile,
        state: &mut CycleState,
        pod: &Pod,
        snapshot: &'s Snapshot,
    ) -> Result<(Vec<&'s NodeInfo>, Diagnosis), ScheduleError> {
        let mut diagnosis = Diagnosis::default();
        let all_nodes = snapshot.nodes();
        state.num_all_nodes = all_nodes.len();
        let (pre_result, status, restricting) =
            profile.run_pre_filter_plugins(state, pod, all_nodes);
        if !status.is_success() {
            if !status.is_rejected() {
                return Err(ScheduleError::Plugin(status));
            }
            diagnosis.pre_filter_msg = status.message();
            if let Some(plugin) = status.plugin() {
                diagnosis.unschedulable_plugins.insert(plugin);
            }
            diagnosis.node_to_status.set_absent_nodes_status(status);
            return Ok((Vec::new(), diagnosis));
        }

        // A pod nominated by an earlier preemption tries its nominated node first.
        if let Some(nominated) = pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .filter(|n| !n.is_empty())
            && let Some(node) = snapshot.get(nominated)
            && pre_result
                .node_names
                .as_ref()
                .is_none_or(|names| names.contains(nominated))
            && profile
                .run_filters_with_nominated(
                    &profile.enabled_filters(state),
                    state,
                    pod,
                    node,
                    snapshot.nominated_pods(nominated),
                )
                .is_success()
        {
            return Ok((vec![node], diagnosis));
        }

        let restricted: Vec<&NodeInfo>;
        let nodes: Vec<&NodeInfo> = match &pre_result.node_names {
            None => all_nodes.iter().collect(),
            Some(names) => {
                restricted = names.iter().filter_map(|n| snapshot.get(n)).collect();
                diagnosis
                    .node_to_status
                    .set_absent_nodes_status(Status::unresolvable(format!(
                        "node(s) didn't satisfy plugin(s) [{}]",
                        restricting.iter().copied().collect::<Vec<_>>().join(" ")
                    )));
                restricted
            }
        };
        let feasible = self.find_nodes_that_pass_filters(
            profile,
            state,
            pod,
            snapshot,
            &nodes,
            &mut diagnosis,
        )?;
        Ok((feasible, diagnosis))
    }

    fn find_nodes_that_pass_filters<'s>(
        &mut self,
        profile: &Profile,
        state: &CycleState,
        pod: &Pod,
        snapshot: &Snapshot,
        nodes: &[&'s NodeInfo],
        diagnosis: &mut Diagnosis,
    ) -> Result<Vec<&'s NodeInfo>, ScheduleError> {
        let num_all = nodes.len();
        if num_all == 0 {
            return Ok(Vec::new());
        }
        let percentage = profile
            .percentage_of_nodes_to_score
            .unwrap_or(self.percentage_of_nodes_to_score);
        let to_find = num_feasible_nodes_to_find(percentage, num_all);
        let start = self.next_start_node_index % num_all;
        if profile.filter.is_empty() {
            // Like upstream, the start does not move when nothing is filtered.
            return Ok((0..to_find).map(|i| nodes[(start + i) % num_all]).collect());
        }
        let filters = profile.enabled_filters(state);
        let mut feasible = Vec::with_capacity(to_find.min(num_all));
        for i in 0..num_all {
            let node = nodes[(start + i) % num_all];
            // (Looking the node up by name would touch the node object: only when needed.)
            let nominated = if snapshot.has_nominated_pods() {
                snapshot.nominated_pods(node.name())
            } else {
                &[]
            };
            let status = match nominated {
                [] => run_filters(&filters, state, pod, node),
                nominated => {
                    profile.run_filters_with_nominated(&filters, state, pod, node, nominated)
                }
            };
            if status.is_success() {
                feasible.push(node);
                if feasible.len() >= to_find {
                    break;
                }
            } else if status.is_rejected() {
                if let Some(plugin) = status.plugin() {
                    diagnosis.unschedulable_plugins.insert(plugin);
                }
                diagnosis.node_to_status.set(node.name(), status);
            } else {
                return Err(ScheduleError::Plugin(status));
            }
        }
        let processed = feasible.len() + diagnosis.node_to_status.len();
        self.next_start_node_index = (start + processed) % num_all;
        Ok(feasible)
    }

    fn prioritize_nodes(
        &mut self,
        profile: &Profile,
        state: &mut CycleState,
        pod: &Pod,
        nodes: &[&NodeInfo],
    ) -> Result<Vec<i64>, ScheduleError> {
        if profile.score.is_empty() {
            return Ok(vec![1; nodes.len()]);
        }
        let status = profile.run_pre_score_plugins(state, pod, nodes);
        if !status.is_success() {
            return Err(ScheduleError::Plugin(status));
        }
        profile
            .run_score_plugins(state, pod, nodes)
            .map_err(ScheduleError::Plugin)
    }

    /// Index of a node with the highest total, uniformly random among ties.
    fn select_host(&mut self, totals: &[i64]) -> usize {
        let mut best = 0;
        let mut ties = 0u64;
        let mut best_score = i64::MIN;
        for (index, score) in totals.iter().enumerate() {
            if *score > best_score {
                best_score = *score;
                best = index;
                ties = 1;
            } else if *score == best_score {
                ties += 1;
                if self.next_random().is_multiple_of(ties) {
                    best = index;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests;
