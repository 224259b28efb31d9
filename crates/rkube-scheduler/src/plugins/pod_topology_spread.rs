//! PodTopologySpread: `topologySpreadConstraints` with `whenUnsatisfiable: DoNotSchedule` filter
//! (skew = matching pods in the node's domain + the pod itself − the global minimum, which is 0
//! while fewer than `minDomains` domains exist), `ScheduleAnyway` ones score (fewer matching
//! pods, weighted by log(domains + 2), is better). `nodeAffinityPolicy` (default Honor) and
//! `nodeTaintsPolicy` (default Ignore) say which nodes count; `matchLabelKeys` narrow the
//! selector with the pod's own label values.
//!
//! A pod without constraints gets the cluster defaults (`PodTopologySpreadArgs`; by default the
//! system ones: zone maxSkew 5 and hostname maxSkew 3, ScheduleAnyway) when it belongs to a
//! Service, ReplicationController, ReplicaSet or StatefulSet. Those objects are not in the
//! snapshot: the caller computes the merged selector of the objects selecting the pod and writes
//! it as a [`DefaultSpreadSelector`] into the `CycleState` under [`DEFAULT_SELECTOR_KEY`]; with
//! none (or an empty one) the defaults do not apply.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;

use crate::affinity::{label_selector_matches, merge_label_keys};
use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeScore,
    Plugin, PluginExtensions, PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin,
    Status,
};
use crate::node_info::{LABEL_ZONE, NodeInfo, PodInfo};
use crate::node_memo::NodeMemo;
use crate::plugins::node_affinity::pod_matches_node_selector_and_affinity;
use crate::plugins::taint_toleration::find_untolerated_taint;
use crate::registry::{RegistryError, decode_args};

/// The plugin's name.
pub const NAME: &str = "PodTopologySpread";
/// A constraint's skew would exceed maxSkew.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// The node lacks a constraint's topology key.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
/// CycleState key under which the caller stores the [`DefaultSpreadSelector`].
pub const DEFAULT_SELECTOR_KEY: &str = "rkube.io/DefaultSpreadSelector";
/// `kubernetes.io/hostname`.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
const PRE_FILTER_STATE_KEY: &str = "PreFilterPodTopologySpread";
const PRE_SCORE_STATE_KEY: &str = "PreScorePodTopologySpread";

/// The merged selector of the Services, ReplicationControllers, ReplicaSets and StatefulSets
/// selecting the pod (upstream's `helper.DefaultSelector`), for the default constraints.
#[derive(Debug, Clone, Default)]
pub struct DefaultSpreadSelector(pub LabelSelector);

/// `PodTopologySpreadArgs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodTopologySpreadArgs {
    /// Constraints for pods that have none (`List` defaulting); their labelSelector must be empty.
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// `System` (built-in defaults) or `List` (`defaultConstraints`).
    pub defaulting_type: String,
}

impl Default for PodTopologySpreadArgs {
    fn default() -> Self {
        PodTopologySpreadArgs {
            default_constraints: Vec::new(),
            defaulting_type: "System".to_string(),
        }
    }
}

/// The system default constraints.
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    [(LABEL_ZONE, 5), (LABEL_HOSTNAME, 3)]
        .into_iter()
        .map(|(key, skew)| TopologySpreadConstraint {
            max_skew: skew,
            topology_key: key.to_string(),
            when_unsatisfiable: "ScheduleAnyway".to_string(),
            ..Default::default()
        })
        .collect()
}

/// One constraint, resolved for the incoming pod.
#[derive(Debug, Clone)]
struct Constraint {
    max_skew: i64,
    topology_key: String,
    /// `None` matches nothing (a missing labelSelector).
    selector: Option<LabelSelector>,
    min_domains: i64,
    honor_node_affinity: bool,
    honor_node_taints: bool,
}

impl Constraint {
    fn matches(&self, pod: &Pod) -> bool {
        self.selector
            .as_ref()
            .is_some_and(|s| label_selector_matches(s, pod.metadata.labels.as_ref()))
    }

    /// Whether the node counts under the inclusion policies.
    fn includes(&self, pod: &Pod, node: &NodeInfo) -> bool {
        if self.honor_node_affinity && !pod_matches_node_selector_and_affinity(pod, node) {
            return false;
        }
        if self.honor_node_taints {
            let taints = node.taints();
            let tolerations = pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.as_deref())
                .unwrap_or(&[]);
            if find_untolerated_taint(taints, tolerations, |t| {
                t.effect == "NoSchedule" || t.effect == "NoExecute"
            })
            .is_some()
            {
                return false;
            }
        }
        true
    }

    /// What [`Constraint::count`] and the node's domain depend on besides the node.
    fn memo_key(&self, namespace: &str) -> String {
        format!("{namespace}\n{}\n{:?}", self.topology_key, self.selector)
    }

    /// Pods on the node in the pod's namespace, not terminating, matching the selector.
    fn count(&self, namespace: &str, node: &NodeInfo) -> i64 {
        node.pods
            .iter()
            .filter(|p| {
                p.pod.metadata.deletion_timestamp.is_none()
                    && p.pod.metadata.namespace.as_deref().unwrap_or("default") == namespace
                    && self.matches(&p.pod)
            })
            .count() as i64
    }
}

fn has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    constraints.iter().all(|c| {
        node.labels()
            .is_some_and(|l| l.contains_key(&c.topology_key))
    })
}

fn node_label<'a>(node: &'a NodeInfo, key: &str) -> Option<&'a String> {
    node.labels().and_then(|l| l.get(key))
}

fn pod_namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

/// A node's domain for one constraint's topology key and its pods matching the constraint.
#[derive(Debug)]
struct DomainCount {
    value: Option<String>,
    count: i64,
}

/// Spreads pods over topology domains.
#[derive(Debug, Default)]
pub struct PodTopologySpreadPlugin {
    args: PodTopologySpreadArgs,
    /// Per node and (namespace, key, selector): counting pods is most of the plugin's cost,
    /// and few nodes change between two cycles.
    memo: NodeMemo<DomainCount>,
}

impl Plugin for PodTopologySpreadPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PodTopologySpreadPlugin {
    fn default_constraints(&self) -> Vec<TopologySpreadConstraint> {
        if self.args.defaulting_type == "List" {
            self.args.default_constraints.clone()
        } else {
            system_default_constraints()
        }
    }

    /// The pod's constraints with the given `whenUnsatisfiable`, or the defaults; and whether
    /// they are the system defaults.
    fn constraints(&self, state: &CycleState, pod: &Pod, action: &str) -> (Vec<Constraint>, bool) {
        let own = pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_deref())
            .unwrap_or(&[]);
        let labels = pod.metadata.labels.as_ref();
        if !own.is_empty() {
            let constraints = own
                .iter()
                .filter(|c| c.when_unsatisfiable == action)
                .map(|c| {
                    let selector = c.label_selector.clone().map(|mut s| {
                        merge_label_keys(
                            &mut s,
                            c.match_label_keys.as_deref().unwrap_or(&[]),
                            labels,
                            false,
                        );
                        s
                    });
                    resolve(c, selector)
                })
                .collect();
            return (constraints, false);
        }
        let selector = match state.read::<DefaultSpreadSelector>(DEFAULT_SELECTOR_KEY) {
            Some(s)
                if s.0.match_labels.as_ref().is_some_and(|m| !m.is_empty())
                    || s.0
                        .match_expressions
                        .as_ref()
                        .is_some_and(|m| !m.is_empty()) =>
            {
                s.0.clone()
            }
            _ => return (Vec::new(), false),
        };
        let constraints = self
            .default_constraints()
            .iter()
            .filter(|c| c.when_unsatisfiable == action)
            .map(|c| resolve(c, Some(selector.clone())))
            .collect();
        (constraints, self.args.defaulting_type != "List")
    }
}

fn resolve(c: &TopologySpreadConstraint, selector: Option<LabelSelector>) -> Constraint {
    Constraint {
        max_skew: i64::from(c.max_skew),
        topology_key: c.topology_key.clone(),
        selector,
        min_domains: i64::from(c.min_domains.unwrap_or(1)),
        honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
        honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
    }
}

/// One constraint's domains: every value of its key seen on a node gets a slot; the domains
/// are the slots of nodes the constraint counts (`counted`). Each node's slot is kept by its
/// position in the snapshot (with its generation), so that Filter does not look the node's
/// labels up again.
#[derive(Debug, Clone, Default)]
struct Domains {
    slots: HashMap<String, usize>,
    counts: Vec<i64>,
    counted: Vec<bool>,
    by_position: Vec<(u64, NodeSlot)>,
}

/// A node's place among a constraint's domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeSlot {
    /// The node lacks the constraint's key.
    MissingKey,
    /// The node's value of the key.
    Slot(usize),
}

impl Domains {
    fn slot_of(&mut self, value: &str) -> usize {
        if let Some(slot) = self.slots.get(value) {
            return *slot;
        }
        let slot = self.counts.len();
        self.slots.insert(value.to_string(), slot);
        self.counts.push(0);
        self.counted.push(false);
        slot
    }

    /// Matching pods in the domain of a slot (0 when it is not a domain).
    fn count(&self, slot: usize) -> i64 {
        if self.counted.get(slot).copied().unwrap_or(false) {
            self.counts[slot]
        } else {
            0
        }
    }

    /// Remembers the node's slot at its position.
    fn remember(&mut self, node: &NodeInfo, slot: NodeSlot) {
        let position = node.position();
        if self.by_position.len() <= position {
            // Generation 0 is never a node's: the filler matches nothing.
            self.by_position
                .resize(position + 1, (0, NodeSlot::MissingKey));
        }
        self.by_position[position] = (node.generation(), slot);
    }

    /// The node's slot: remembered by position, or from its labels.
    fn node_slot(&self, node: &NodeInfo, key: &str) -> Option<NodeSlot> {
        match self.by_position.get(node.position()) {
            Some((generation, slot)) if *generation == node.generation() => Some(*slot),
            _ => match node_label(node, key) {
                None => Some(NodeSlot::MissingKey),
                Some(value) => self.slots.get(value).map(|s| NodeSlot::Slot(*s)),
            },
        }
    }

    /// Number of domains.
    fn len(&self) -> usize {
        self.counted.iter().filter(|c| **c).count()
    }

    /// Smallest count over the domains (0 without any).
    fn min(&self) -> i64 {
        self.counts
            .iter()
            .zip(&self.counted)
            .filter(|(_, counted)| **counted)
            .map(|(count, _)| *count)
            .min()
            .unwrap_or(0)
    }

    /// Counts by domain value.
    fn into_map(self) -> HashMap<String, i64> {
        self.slots
            .into_iter()
            .filter(|(_, slot)| self.counted[*slot])
            .map(|(value, slot)| (value, self.counts[slot]))
            .collect()
    }
}

/// Matching pods per domain, per filtering constraint.
#[derive(Debug, Clone, Default)]
struct PreFilterState {
    constraints: Vec<Constraint>,
    domains: Vec<Domains>,
    /// Per constraint: the number of domains and the smallest count.
    sizes: Vec<(usize, i64)>,
}

impl PreFilterState {
    fn recompute_min(&mut self) {
        self.sizes = self.domains.iter().map(|d| (d.len(), d.min())).collect();
    }

    fn update(&mut self, pod: &Pod, other: &Pod, node: &NodeInfo, delta: i64) {
        if pod_namespace(other) != pod_namespace(pod)
            || other.metadata.deletion_timestamp.is_some()
            || !has_all_keys(node, &self.constraints)
        {
            return;
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.includes(pod, node) || !c.matches(other) {
                continue;
            }
            let domains = &mut self.domains[i];
            if let Some(value) = node_label(node, &c.topology_key)
                && let Some(&slot) = domains.slots.get(value)
                && domains.counted[slot]
            {
                domains.counts[slot] += delta;
            }
        }
        self.recompute_min();
    }
}

impl PreFilterPlugin for PodTopologySpreadPlugin {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        nodes: &[NodeInfo],
    ) -> (Option<PreFilterResult>, Status) {
        // Scoring needs counts over every node, and PreScore only sees the feasible ones.
        let soft = self.soft_counts(state, pod, nodes.iter());
        state.write(PRE_SCORE_STATE_KEY, soft);
        let (constraints, _) = self.constraints(state, pod, "DoNotSchedule");
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        let domains = self.domain_counts(&constraints, pod, nodes.iter(), |_| true);
        let mut pre = PreFilterState {
            constraints,
            domains,
            sizes: Vec::new(),
        };
        pre.recompute_min();
        state.write(PRE_FILTER_STATE_KEY, pre);
        (None, Status::success())
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        pod_to_add: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        match state.read_mut::<PreFilterState>(PRE_FILTER_STATE_KEY) {
            Some(pre) => {
                pre.update(pod, &pod_to_add.pod, node, 1);
                Status::success()
            }
            None => Status::error("reading PreFilterPodTopologySpread from cycle state"),
        }
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        pod_to_remove: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        match state.read_mut::<PreFilterState>(PRE_FILTER_STATE_KEY) {
            Some(pre) => {
                pre.update(pod, &pod_to_remove.pod, node, -1);
                Status::success()
            }
            None => Status::error("reading PreFilterPodTopologySpread from cycle state"),
        }
    }
}

impl FilterPlugin for PodTopologySpreadPlugin {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let Some(pre) = state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            return Status::error("reading PreFilterPodTopologySpread from cycle state");
        };
        for (i, c) in pre.constraints.iter().enumerate() {
            let domains = &pre.domains[i];
            let matching = match domains.node_slot(node, &c.topology_key) {
                Some(NodeSlot::MissingKey) => {
                    return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
                }
                Some(NodeSlot::Slot(slot)) => domains.count(slot),
                None => 0,
            };
            let self_match = i64::from(c.matches(pod));
            let (size, smallest) = pre.sizes[i];
            let min = if (size as i64) < c.min_domains {
                0
            } else {
                smallest
            };
            if matching + self_match - min > c.max_skew {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

/// Soft constraints with their counts over all nodes, then (after PreScore) the weights and
/// ignored nodes for the feasible ones.
#[derive(Debug, Clone, Default)]
struct PreScoreState {
    constraints: Vec<Constraint>,
    system_defaulted: bool,
    /// Matching pods per domain over all nodes, per constraint (not for hostname keys).
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
    ignored_names: HashSet<String>,
    /// Indexed like the feasible nodes PreScore got.
    ignored: Vec<bool>,
}

impl PodTopologySpreadPlugin {
    /// Matching pods per domain for each constraint `counted`, over the nodes that have every
    /// constraint's key (and that each constraint includes), with each node's domain by its
    /// position.
    fn domain_counts<'a>(
        &self,
        constraints: &[Constraint],
        pod: &Pod,
        nodes: impl Iterator<Item = &'a NodeInfo>,
        counted: impl Fn(&Constraint) -> bool,
    ) -> Vec<Domains> {
        let namespace = pod_namespace(pod);
        let keys: Vec<String> = constraints.iter().map(|c| c.memo_key(namespace)).collect();
        let mut tables: Vec<_> = keys.iter().map(|k| self.memo.take(k)).collect();
        let mut domains = vec![Domains::default(); constraints.len()];
        let compute = |c: &Constraint, node: &NodeInfo| DomainCount {
            value: node_label(node, &c.topology_key).cloned(),
            count: c.count(namespace, node),
        };
        // Matching pods on the node, per constraint (read from the memo once).
        let mut node_counts = vec![0; constraints.len()];
        for node in nodes {
            let mut has_all_keys = true;
            for (i, ((c, table), domains)) in constraints
                .iter()
                .zip(&mut tables)
                .zip(&mut domains)
                .enumerate()
            {
                let domain = table.get_or_compute(node, |node| compute(c, node));
                node_counts[i] = domain.count;
                let slot = match &domain.value {
                    Some(value) => NodeSlot::Slot(domains.slot_of(value)),
                    None => {
                        has_all_keys = false;
                        NodeSlot::MissingKey
                    }
                };
                domains.remember(node, slot);
            }
            if !has_all_keys {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !counted(c) || !c.includes(pod, node) {
                    continue;
                }
                if let Some((_, NodeSlot::Slot(slot))) = domains[i].by_position.get(node.position())
                {
                    let slot = *slot;
                    domains[i].counts[slot] += node_counts[i];
                    domains[i].counted[slot] = true;
                }
            }
        }
        for (key, table) in keys.into_iter().zip(tables) {
            self.memo.put(key, table);
        }
        domains
    }

    fn soft_counts<'a>(
        &self,
        state: &CycleState,
        pod: &Pod,
        nodes: impl Iterator<Item = &'a NodeInfo>,
    ) -> PreScoreState {
        let (constraints, system_defaulted) = self.constraints(state, pod, "ScheduleAnyway");
        let counts = if constraints.is_empty() {
            Vec::new()
        } else {
            self.domain_counts(&constraints, pod, nodes, |c| {
                c.topology_key != LABEL_HOSTNAME
            })
            .into_iter()
            .map(Domains::into_map)
            .collect()
        };
        PreScoreState {
            constraints,
            system_defaulted,
            counts,
            ..Default::default()
        }
    }
}

impl PreScorePlugin for PodTopologySpreadPlugin {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, nodes: &[&NodeInfo]) -> Status {
        if state.read::<PreScoreState>(PRE_SCORE_STATE_KEY).is_none() {
            let soft = self.soft_counts(state, pod, nodes.iter().copied());
            state.write(PRE_SCORE_STATE_KEY, soft);
        }
        let Some(soft) = state.read_mut::<PreScoreState>(PRE_SCORE_STATE_KEY) else {
            return Status::error("reading PreScorePodTopologySpread from cycle state");
        };
        if soft.constraints.is_empty() {
            return Status::skip();
        }
        let own_constraints = pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .is_some_and(|c| !c.is_empty());
        let require_all = own_constraints || !soft.system_defaulted;
        let mut domains: Vec<HashSet<&str>> = vec![HashSet::new(); soft.constraints.len()];
        soft.ignored = Vec::with_capacity(nodes.len());
        soft.ignored_names.clear();
        for node in nodes {
            if require_all && !has_all_keys(node, &soft.constraints) {
                soft.ignored.push(true);
                soft.ignored_names.insert(node.name().to_string());
                continue;
            }
            soft.ignored.push(false);
            for (i, c) in soft.constraints.iter().enumerate() {
                if c.topology_key != LABEL_HOSTNAME {
                    domains[i].insert(node_label(node, &c.topology_key).map_or("", |v| v.as_str()));
                }
            }
        }
        let considered = nodes.len() - soft.ignored_names.len();
        soft.weights = soft
            .constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    considered
                } else {
                    domains[i].len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpreadPlugin {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Result<i64, Status> {
        let soft = state
            .read::<PreScoreState>(PRE_SCORE_STATE_KEY)
            .ok_or_else(|| Status::error("reading PreScorePodTopologySpread from cycle state"))?;
        if soft.ignored_names.contains(node.name()) {
            return Ok(0);
        }
        let mut score = 0.0;
        for (i, c) in soft.constraints.iter().enumerate() {
            let Some(value) = node_label(node, &c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == LABEL_HOSTNAME {
                c.count(pod_namespace(pod), node)
            } else {
                soft.counts[i].get(value).copied().unwrap_or(0)
            };
            let weight = soft.weights.get(i).copied().unwrap_or(1.0);
            score += count as f64 * weight + (c.max_skew - 1) as f64;
        }
        Ok(score.round() as i64)
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize_scores(&self, state: &CycleState, _pod: &Pod, scores: &mut [NodeScore]) -> Status {
        let Some(soft) = state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) else {
            return Status::error("reading PreScorePodTopologySpread from cycle state");
        };
        let ignored = |s: &NodeScore| soft.ignored.get(s.node).copied().unwrap_or(false);
        let mut min = i64::MAX;
        let mut max = 0;
        for s in scores.iter().filter(|s| !ignored(s)) {
            min = min.min(s.score);
            max = max.max(s.score);
        }
        for s in scores.iter_mut() {
            s.score = if ignored(s) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - s.score) / max
            };
        }
        Status::success()
    }
}

/// Builds the plugin from `PodTopologySpreadArgs`.
pub fn new(args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let args: PodTopologySpreadArgs = decode_args(NAME, args)?;
    let invalid = |message: &str| RegistryError::InvalidArgs {
        plugin: NAME.to_string(),
        message: message.to_string(),
    };
    match args.defaulting_type.as_str() {
        "System" if !args.default_constraints.is_empty() => {
            return Err(invalid(
                "defaultConstraints: Invalid value: when .defaultingType is \"System\", .defaultConstraints must be empty",
            ));
        }
        "System" | "List" => {}
        _ => return Err(invalid("defaultingType: Unsupported value")),
    }
    if args
        .default_constraints
        .iter()
        .any(|c| c.label_selector.is_some())
    {
        return Err(invalid(
            "defaultConstraints.labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod",
        ));
    }
    let plugin = Arc::new(PodTopologySpreadPlugin {
        args,
        memo: NodeMemo::default(),
    });
    Ok(PluginExtensions {
        pre_filter: Some(plugin.clone()),
        filter: Some(plugin.clone()),
        pre_score: Some(plugin.clone()),
        score: Some(plugin),
        events: vec![
            ClusterEvent::new(
                EventResource::AssignedPod,
                ActionType::ALL,
                "AssignedPodChange",
            ),
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD
                    .or(ActionType::DELETE)
                    .or(ActionType::UPDATE_NODE_LABEL)
                    .or(ActionType::UPDATE_NODE_TAINT),
                "NodeChange",
            ),
        ],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
