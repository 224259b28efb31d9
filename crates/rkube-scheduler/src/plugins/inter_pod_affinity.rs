//! InterPodAffinity: required pod affinity / anti-affinity of the incoming pod, the required
//! anti-affinity of pods already running (symmetry), and preferred terms (plus existing pods'
//! required affinity, weighted by `hardPodAffinityWeight`) for scoring. Terms select pods by
//! label selector (with `matchLabelKeys` / `mismatchLabelKeys` merged in), in `namespaces` or
//! namespaces matching `namespaceSelector` (the pod's own namespace when both are empty), and
//! count per topology domain (`topologyKey`).
//! Running pods' terms are resolved once, in their `PodInfo`; nodes count the pods with
//! terms, so a pod without terms of its own looks only at nodes running pods that have some.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crate::affinity::{AffinityTerm, NamespaceLabels, PodTerms};
use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeScore,
    Plugin, PluginExtensions, PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin,
    Status,
};
use crate::node_info::{NodeInfo, PodInfo};
use crate::node_memo::NodeMemo;
use crate::registry::{RegistryError, decode_args};

/// The plugin's name.
pub const NAME: &str = "InterPodAffinity";
/// The pod's required affinity is not satisfied on the node.
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// The pod's required anti-affinity is violated on the node.
pub const ERR_REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// A running pod's required anti-affinity forbids the incoming pod on the node.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
const PRE_FILTER_STATE_KEY: &str = "PreFilterInterPodAffinity";
const PRE_SCORE_STATE_KEY: &str = "PreScoreInterPodAffinity";

/// `InterPodAffinityArgs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InterPodAffinityArgs {
    /// Weight of existing pods' required affinity terms when scoring (0..=100, default 1).
    pub hard_pod_affinity_weight: i32,
    /// Ignore existing pods' preferred terms when scoring.
    pub ignore_preferred_terms_of_existing_pods: bool,
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false,
        }
    }
}

fn node_label<'a>(node: &'a NodeInfo, key: &str) -> Option<&'a String> {
    node.labels().and_then(|l| l.get(key))
}

/// Pod counts per topology key, then per value (looked up without building keys).
#[derive(Debug, Clone, Default)]
struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    fn add(&mut self, node: &NodeInfo, key: &str, delta: i64) {
        let Some(value) = node_label(node, key) else {
            return;
        };
        let values = match self.0.get_mut(key) {
            Some(values) => values,
            None => self.0.entry(key.to_string()).or_default(),
        };
        match values.get_mut(value) {
            Some(count) => *count += delta,
            None => {
                values.insert(value.clone(), delta);
            }
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|values| values.get(value))
            .copied()
            .unwrap_or(0)
    }

    fn retain_positive(&mut self) {
        for values in self.0.values_mut() {
            values.retain(|_, c| *c > 0);
        }
        self.0.retain(|_, values| !values.is_empty());
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn all_non_positive(&self) -> bool {
        self.0.values().flat_map(HashMap::values).all(|c| *c <= 0)
    }
}

/// Matches per topology key (a handful at most).
#[derive(Debug, Clone, Default)]
struct KeyCounts(Vec<(String, i64)>);

impl KeyCounts {
    fn add(&mut self, key: &str, n: i64) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, count)) => *count += n,
            None => self.0.push((key.to_string(), n)),
        }
    }
}

/// What the pods of one node (or one pod) add to the counts of a cycle, by topology key; the
/// node's label values turn them into domains.
#[derive(Debug, Clone, Default)]
struct Contributions {
    /// Running pods' required anti-affinity terms selecting the incoming pod.
    existing_anti_affinity: KeyCounts,
    /// Pods matching all of the incoming pod's required affinity terms (once per term).
    affinity: KeyCounts,
    /// Pods matching the incoming pod's required anti-affinity terms.
    anti_affinity: KeyCounts,
    /// A running pod's term selects namespaces by label: namespace labels may change while
    /// the node does not, so the result must not be memoized.
    uses_namespace_labels: bool,
}

impl Contributions {
    fn add_pod(
        &mut self,
        terms: &PodTerms,
        namespace_labels: &NamespaceLabels,
        pod: &Pod,
        existing: &PodInfo,
    ) {
        if let Some(theirs) = &existing.affinity {
            for term in &theirs.required_anti_affinity {
                self.uses_namespace_labels |= term.uses_namespace_selector();
                if term.matches(pod, namespace_labels) {
                    self.existing_anti_affinity.add(&term.topology_key, 1);
                }
            }
        }
        if !terms.required_affinity.is_empty()
            && terms
                .required_affinity
                .iter()
                .all(|t| t.matches(&existing.pod, namespace_labels))
        {
            for term in &terms.required_affinity {
                self.affinity.add(&term.topology_key, 1);
            }
        }
        for term in &terms.required_anti_affinity {
            if term.matches(&existing.pod, namespace_labels) {
                self.anti_affinity.add(&term.topology_key, 1);
            }
        }
    }
}

/// Memo key of what a node's pods contribute: the incoming pod's namespace, labels and terms
/// (of `kinds`), everything the contributions depend on besides the node.
fn memo_key(pod: &Pod, kinds: &str, terms: &[&[AffinityTerm]]) -> String {
    format!(
        "{kinds}\n{}\n{:?}\n{terms:?}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.labels
    )
}

/// Counts computed once per cycle.
#[derive(Debug, Clone, Default)]
struct PreFilterState {
    terms: Arc<PodTerms>,
    namespace_labels: NamespaceLabels,
    /// Domains where a running pod's required anti-affinity selects the incoming pod.
    existing_anti_affinity_counts: TopologyCounts,
    /// Domains with pods matching the incoming pod's required affinity terms (all of them).
    affinity_counts: TopologyCounts,
    /// Domains with pods matching any of the incoming pod's required anti-affinity terms.
    anti_affinity_counts: TopologyCounts,
}

impl PreFilterState {
    /// Whether the incoming pod has required terms of its own (else only running pods'
    /// required anti-affinity can matter).
    fn has_required_terms(&self) -> bool {
        !self.terms.required_affinity.is_empty() || !self.terms.required_anti_affinity.is_empty()
    }

    /// Adds what a node's pods (or one pod) contribute, `delta` times.
    fn apply(&mut self, node: &NodeInfo, c: &Contributions, delta: i64) {
        for (key, n) in &c.existing_anti_affinity.0 {
            self.existing_anti_affinity_counts.add(node, key, n * delta);
        }
        for (key, n) in &c.affinity.0 {
            self.affinity_counts.add(node, key, n * delta);
        }
        for (key, n) in &c.anti_affinity.0 {
            self.anti_affinity_counts.add(node, key, n * delta);
        }
    }

    fn update_with_pod(&mut self, pod: &Pod, existing: &PodInfo, node: &NodeInfo, delta: i64) {
        let mut c = Contributions::default();
        c.add_pod(&self.terms, &self.namespace_labels, pod, existing);
        self.apply(node, &c, delta);
    }

    fn satisfies_affinity(&self, pod: &Pod, node: &NodeInfo) -> bool {
        let mut pods_exist = true;
        for term in &self.terms.required_affinity {
            let Some(value) = node_label(node, &term.topology_key) else {
                return false;
            };
            if self.affinity_counts.get(&term.topology_key, value) <= 0 {
                pods_exist = false;
                break;
            }
        }
        if pods_exist {
            return true;
        }
        // The first pod of a group with affinity to itself may go anywhere the terms' keys exist.
        self.affinity_counts.all_non_positive()
            && self
                .terms
                .required_affinity
                .iter()
                .all(|t| t.matches(pod, &self.namespace_labels))
    }

    fn satisfies_anti_affinity(&self, node: &NodeInfo) -> bool {
        self.terms.required_anti_affinity.iter().all(|term| {
            node_label(node, &term.topology_key)
                .is_none_or(|value| self.anti_affinity_counts.get(&term.topology_key, value) <= 0)
        })
    }

    fn satisfies_existing_anti_affinity(&self, node: &NodeInfo) -> bool {
        if self.existing_anti_affinity_counts.is_empty() {
            return true;
        }
        // Only the keys with counts matter (usually one): look those up, not every label.
        self.existing_anti_affinity_counts
            .0
            .iter()
            .all(|(key, values)| {
                node_label(node, key).is_none_or(|v| values.get(v).copied().unwrap_or(0) <= 0)
            })
    }
}

/// Filters and scores by pod (anti-)affinity.
#[derive(Debug, Default)]
pub struct InterPodAffinityPlugin {
    args: InterPodAffinityArgs,
    /// What each node's pods contribute to filtering, by incoming pod shape: most pods of a
    /// cycle look like the last one, and few nodes change between two cycles.
    filter_memo: NodeMemo<Contributions>,
    /// The same for scoring.
    score_memo: NodeMemo<(KeyCounts, bool)>,
}

impl Plugin for InterPodAffinityPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilterPlugin for InterPodAffinityPlugin {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        nodes: &[NodeInfo],
    ) -> (Option<PreFilterResult>, Status) {
        let mut pre = PreFilterState {
            terms: Arc::new(PodTerms::of(pod)),
            namespace_labels: NamespaceLabels::from_state(state),
            ..Default::default()
        };
        // Without required terms of its own, only running pods' required anti-affinity can
        // keep the pod off a node: skip nodes (and pods) that have none.
        let every_pod = pre.has_required_terms();
        let (terms, namespace_labels) = (pre.terms.clone(), pre.namespace_labels.clone());
        let node_contributions = |node: &NodeInfo| {
            let mut c = Contributions::default();
            for existing in &node.pods {
                if every_pod || existing.has_required_anti_affinity() {
                    c.add_pod(&terms, &namespace_labels, pod, existing);
                }
            }
            c
        };
        let key = memo_key(
            pod,
            "filter",
            &[&terms.required_affinity, &terms.required_anti_affinity],
        );
        // The same holds for the incoming pod's own terms.
        let own_terms_use_namespace_labels = terms
            .required_affinity
            .iter()
            .chain(&terms.required_anti_affinity)
            .any(AffinityTerm::uses_namespace_selector);
        let mut memo = self.filter_memo.take(&key);
        for node in nodes {
            if !every_pod && node.pods_with_required_anti_affinity == 0 {
                continue;
            }
            let c = memo.get_or_compute(node, node_contributions);
            if own_terms_use_namespace_labels || c.uses_namespace_labels {
                pre.apply(node, &node_contributions(node), 1);
            } else {
                pre.apply(node, c, 1);
            }
        }
        self.filter_memo.put(key, memo);
        pre.existing_anti_affinity_counts.retain_positive();
        let skip = !pre.has_required_terms() && pre.existing_anti_affinity_counts.is_empty();
        // Scoring needs every node too, and PreScore only sees the feasible ones.
        let scores = self.topology_scores(pod, &pre.terms, &pre.namespace_labels, nodes.iter());
        state.write(PRE_SCORE_STATE_KEY, scores);
        state.write(PRE_FILTER_STATE_KEY, pre);
        if skip {
            return (None, Status::skip());
        }
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
                pre.update_with_pod(pod, pod_to_add, node, 1);
                Status::success()
            }
            None => Status::error("reading PreFilterInterPodAffinity from cycle state"),
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
                pre.update_with_pod(pod, pod_to_remove, node, -1);
                Status::success()
            }
            None => Status::error("reading PreFilterInterPodAffinity from cycle state"),
        }
    }
}

impl FilterPlugin for InterPodAffinityPlugin {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let Some(pre) = state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            return Status::error("reading PreFilterInterPodAffinity from cycle state");
        };
        if !pre.satisfies_affinity(pod, node) {
            return Status::unresolvable(ERR_REASON_AFFINITY);
        }
        if !pre.satisfies_anti_affinity(node) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY);
        }
        if !pre.satisfies_existing_anti_affinity(node) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}

/// Score per topology key and value.
#[derive(Debug, Clone, Default)]
struct PreScoreState(TopologyCounts);

impl InterPodAffinityPlugin {
    fn topology_scores<'a>(
        &self,
        pod: &Pod,
        terms: &PodTerms,
        namespace_labels: &NamespaceLabels,
        nodes: impl Iterator<Item = &'a NodeInfo>,
    ) -> PreScoreState {
        let has_preferred =
            !terms.preferred_affinity.is_empty() || !terms.preferred_anti_affinity.is_empty();
        let hard_weight = i64::from(self.args.hard_pod_affinity_weight);
        let node_scores = |node: &NodeInfo| {
            let mut scores = KeyCounts::default();
            let mut uses_namespace_labels = has_preferred
                && terms
                    .preferred_affinity
                    .iter()
                    .chain(&terms.preferred_anti_affinity)
                    .any(AffinityTerm::uses_namespace_selector);
            for existing in &node.pods {
                if has_preferred {
                    for term in &terms.preferred_affinity {
                        if term.matches(&existing.pod, namespace_labels) {
                            scores.add(&term.topology_key, term.weight);
                        }
                    }
                    for term in &terms.preferred_anti_affinity {
                        if term.matches(&existing.pod, namespace_labels) {
                            scores.add(&term.topology_key, -term.weight);
                        }
                    }
                }
                let Some(theirs) = &existing.affinity else {
                    continue;
                };
                if hard_weight > 0 {
                    for term in &theirs.required_affinity {
                        uses_namespace_labels |= term.uses_namespace_selector();
                        if term.matches(pod, namespace_labels) {
                            scores.add(&term.topology_key, hard_weight);
                        }
                    }
                }
                if !self.args.ignore_preferred_terms_of_existing_pods {
                    for term in theirs
                        .preferred_affinity
                        .iter()
                        .chain(&theirs.preferred_anti_affinity)
                    {
                        uses_namespace_labels |= term.uses_namespace_selector();
                    }
                    for term in &theirs.preferred_affinity {
                        if term.matches(pod, namespace_labels) {
                            scores.add(&term.topology_key, term.weight);
                        }
                    }
                    for term in &theirs.preferred_anti_affinity {
                        if term.matches(pod, namespace_labels) {
                            scores.add(&term.topology_key, -term.weight);
                        }
                    }
                }
            }
            (scores, uses_namespace_labels)
        };
        let key = memo_key(
            pod,
            "score",
            &[&terms.preferred_affinity, &terms.preferred_anti_affinity],
        );
        let mut memo = self.score_memo.take(&key);
        let mut scores = TopologyCounts::default();
        for node in nodes {
            // Without preferred terms of its own, only running pods' terms score the pod.
            if !has_preferred && node.pods_with_affinity == 0 {
                continue;
            }
            let fresh;
            let (by_key, uses_namespace_labels) = memo.get_or_compute(node, node_scores);
            let by_key = if *uses_namespace_labels {
                fresh = node_scores(node).0;
                &fresh
            } else {
                by_key
            };
            for (key, n) in &by_key.0 {
                scores.add(node, key, *n);
            }
        }
        self.score_memo.put(key, memo);
        PreScoreState(scores)
    }
}

impl PreScorePlugin for InterPodAffinityPlugin {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, nodes: &[&NodeInfo]) -> Status {
        if state.read::<PreScoreState>(PRE_SCORE_STATE_KEY).is_none() {
            let namespace_labels = NamespaceLabels::from_state(state);
            let terms = PodTerms::of(pod);
            let scores =
                self.topology_scores(pod, &terms, &namespace_labels, nodes.iter().copied());
            state.write(PRE_SCORE_STATE_KEY, scores);
        }
        match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(scores) if !scores.0.is_empty() => Status::success(),
            _ => Status::skip(),
        }
    }
}

impl ScorePlugin for InterPodAffinityPlugin {
    fn score(&self, state: &CycleState, _pod: &Pod, node: &NodeInfo) -> Result<i64, Status> {
        let scores = state
            .read::<PreScoreState>(PRE_SCORE_STATE_KEY)
            .ok_or_else(|| Status::error("reading PreScoreInterPodAffinity from cycle state"))?;
        Ok(node
            .labels()
            .into_iter()
            .flatten()
            .map(|(k, v)| scores.0.get(k, v))
            .sum())
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize_scores(
        &self,
        _state: &CycleState,
        _pod: &Pod,
        scores: &mut [NodeScore],
    ) -> Status {
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            s.score = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((s.score - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }
}

/// Builds the plugin from `InterPodAffinityArgs`.
pub fn new(args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let args: InterPodAffinityArgs = decode_args(NAME, args)?;
    if !(0..=100).contains(&args.hard_pod_affinity_weight) {
        return Err(RegistryError::InvalidArgs {
            plugin: NAME.to_string(),
            message: "hardPodAffinityWeight: Invalid value: not in valid range [0, 100]".into(),
        });
    }
    let plugin = Arc::new(InterPodAffinityPlugin {
        args,
        filter_memo: NodeMemo::default(),
        score_memo: NodeMemo::default(),
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
                ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
                "NodeAddOrLabelChange",
            ),
        ],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
