//! InterPodAffinity: required pod affinity / anti-affinity of the incoming pod, the required
//! anti-affinity of pods already running (symmetry), and preferred terms (plus existing pods'
//! required affinity, weighted by `hardPodAffinityWeight`) for scoring. Terms select pods by
//! label selector (with `matchLabelKeys` / `mismatchLabelKeys` merged in), in `namespaces` or
//! namespaces matching `namespaceSelector` (the pod's own namespace when both are empty), and
//! count per topology domain (`topologyKey`).
//!
//! Namespace labels are not part of the `Snapshot`: the caller writes a [`NamespaceLabels`]
//! into the `CycleState` under [`NAMESPACE_LABELS_KEY`] before the cycle. Without it, a
//! `namespaceSelector` sees every namespace as unlabelled (so only `{}` matches).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde::Deserialize;

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeScore,
    Plugin, PluginExtensions, PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin,
    Status,
};
use crate::node_info::{NodeInfo, PodInfo};
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
/// CycleState key under which the caller stores [`NamespaceLabels`].
pub const NAMESPACE_LABELS_KEY: &str = "rkube.io/NamespaceLabels";
const PRE_FILTER_STATE_KEY: &str = "PreFilterInterPodAffinity";
const PRE_SCORE_STATE_KEY: &str = "PreScoreInterPodAffinity";

/// Labels of every namespace by name, for `namespaceSelector` (written by the caller into the
/// cycle state under [`NAMESPACE_LABELS_KEY`]).
#[derive(Debug, Clone, Default)]
pub struct NamespaceLabels(pub Arc<HashMap<String, BTreeMap<String, String>>>);

impl NamespaceLabels {
    /// The labels of a namespace (none if unknown).
    pub fn get(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.0.get(namespace)
    }

    /// Reads them from the cycle state (empty when the caller stored none).
    pub fn from_state(state: &CycleState) -> NamespaceLabels {
        state
            .read::<NamespaceLabels>(NAMESPACE_LABELS_KEY)
            .cloned()
            .unwrap_or_default()
    }
}

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

fn requirement_matches(
    req: &LabelSelectorRequirement,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let value = labels.and_then(|l| l.get(&req.key));
    let values = req.values.as_deref().unwrap_or(&[]);
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

/// Whether a label selector matches labels; an empty selector matches everything.
pub fn label_selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|r| requirement_matches(r, labels))
}

/// Adds `key In [value]` (or `NotIn` for `mismatch`) for each key the pod has a label for.
pub fn merge_label_keys(
    selector: &mut LabelSelector,
    keys: &[String],
    pod_labels: Option<&BTreeMap<String, String>>,
    mismatch: bool,
) {
    for key in keys {
        if let Some(value) = pod_labels.and_then(|l| l.get(key)) {
            selector
                .match_expressions
                .get_or_insert_with(Vec::new)
                .push(LabelSelectorRequirement {
                    key: key.clone(),
                    operator: if mismatch { "NotIn" } else { "In" }.to_string(),
                    values: Some(vec![value.clone()]),
                });
        }
    }
}

/// One pod (anti-)affinity term, resolved against the pod that owns it.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    namespaces: HashSet<String>,
    namespace_selector: Option<LabelSelector>,
    /// `None` matches no pod (a nil `labelSelector`).
    selector: Option<LabelSelector>,
    /// The topology key.
    pub topology_key: String,
    /// The weight (preferred terms; required terms as scored for existing pods).
    pub weight: i64,
}

impl AffinityTerm {
    /// Resolves a term of `owner`.
    pub fn new(owner: &Pod, term: &PodAffinityTerm, weight: i64) -> AffinityTerm {
        let labels = owner.metadata.labels.as_ref();
        let mut namespaces: HashSet<String> = term.namespaces.iter().flatten().cloned().collect();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.insert(pod_namespace(owner).to_string());
        }
        let selector = term.label_selector.clone().map(|mut s| {
            merge_label_keys(
                &mut s,
                term.match_label_keys.as_deref().unwrap_or(&[]),
                labels,
                false,
            );
            merge_label_keys(
                &mut s,
                term.mismatch_label_keys.as_deref().unwrap_or(&[]),
                labels,
                true,
            );
            s
        });
        AffinityTerm {
            namespaces,
            namespace_selector: term.namespace_selector.clone(),
            selector,
            topology_key: term.topology_key.clone(),
            weight,
        }
    }

    /// Whether the term selects `pod`.
    pub fn matches(&self, pod: &Pod, namespace_labels: &NamespaceLabels) -> bool {
        let namespace = pod_namespace(pod);
        let namespace_ok = self.namespaces.contains(namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| label_selector_matches(s, namespace_labels.get(namespace)));
        namespace_ok
            && self
                .selector
                .as_ref()
                .is_some_and(|s| label_selector_matches(s, pod.metadata.labels.as_ref()))
    }
}

fn pod_namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

/// The pod's terms: required affinity, required anti-affinity, preferred affinity, preferred
/// anti-affinity.
#[derive(Debug, Clone, Default)]
pub struct PodTerms {
    /// Required affinity.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required anti-affinity.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred affinity.
    pub preferred_affinity: Vec<AffinityTerm>,
    /// Preferred anti-affinity.
    pub preferred_anti_affinity: Vec<AffinityTerm>,
}

impl PodTerms {
    /// Resolves all terms of a pod (`hard_weight` is given to required affinity terms).
    pub fn of(pod: &Pod, hard_weight: i64) -> PodTerms {
        let Some(affinity) = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()) else {
            return PodTerms::default();
        };
        let mut terms = PodTerms::default();
        if let Some(a) = &affinity.pod_affinity {
            terms.required_affinity = a
                .required_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .map(|t| AffinityTerm::new(pod, t, hard_weight))
                .collect();
            terms.preferred_affinity = a
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .map(|t| AffinityTerm::new(pod, &t.pod_affinity_term, i64::from(t.weight)))
                .collect();
        }
        if let Some(a) = &affinity.pod_anti_affinity {
            terms.required_anti_affinity = a
                .required_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .map(|t| AffinityTerm::new(pod, t, 0))
                .collect();
            terms.preferred_anti_affinity = a
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .map(|t| AffinityTerm::new(pod, &t.pod_affinity_term, i64::from(t.weight)))
                .collect();
        }
        terms
    }
}

/// Resolved terms of running pods by (uid, resourceVersion): resolving them anew for every
/// pod of every cycle dominates the cost when many running pods have (anti-)affinity.
static TERMS_CACHE: Mutex<Option<TermsByPodVersion>> = Mutex::new(None);
type TermsByPodVersion = HashMap<(String, String), Arc<PodTerms>>;
/// The cache is dropped when it grows past this many pods (stale versions pile up).
const TERMS_CACHE_LIMIT: usize = 200_000;

/// A running pod's terms (required affinity terms carry weight 0; scoring applies
/// `hardPodAffinityWeight` itself), cached when the pod has a uid and resourceVersion.
fn terms_of(pod: &Pod) -> Arc<PodTerms> {
    let (Some(uid), Some(version)) = (
        pod.metadata.uid.as_ref(),
        pod.metadata.resource_version.as_ref(),
    ) else {
        return Arc::new(PodTerms::of(pod, 0));
    };
    let key = (uid.clone(), version.clone());
    if let Ok(guard) = TERMS_CACHE.lock()
        && let Some(terms) = guard.as_ref().and_then(|m| m.get(&key))
    {
        return terms.clone();
    }
    let terms = Arc::new(PodTerms::of(pod, 0));
    if let Ok(mut guard) = TERMS_CACHE.lock() {
        let map = guard.get_or_insert_with(HashMap::new);
        if map.len() >= TERMS_CACHE_LIMIT {
            map.clear();
        }
        map.insert(key, terms.clone());
    }
    terms
}

fn has_affinity(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
}

type TopologyPair = (String, String);

fn node_label<'a>(node: &'a NodeInfo, key: &str) -> Option<&'a String> {
    node.labels().and_then(|l| l.get(key))
}

/// Counts computed once per cycle.
#[derive(Debug, Clone, Default)]
struct PreFilterState {
    terms: PodTerms,
    namespace_labels: NamespaceLabels,
    /// Domains where a running pod's required anti-affinity selects the incoming pod.
    existing_anti_affinity_counts: HashMap<TopologyPair, i64>,
    /// Domains with pods matching the incoming pod's required affinity terms (all of them).
    affinity_counts: HashMap<TopologyPair, i64>,
    /// Domains with pods matching any of the incoming pod's required anti-affinity terms.
    anti_affinity_counts: HashMap<TopologyPair, i64>,
}

impl PreFilterState {
    fn update_with_pod(&mut self, pod: &Pod, existing: &Pod, node: &NodeInfo, delta: i64) {
        let add = |map: &mut HashMap<TopologyPair, i64>, key: &str| {
            if let Some(value) = node_label(node, key) {
                *map.entry((key.to_string(), value.clone())).or_default() += delta;
            }
        };
        if has_affinity(existing) {
            for term in &terms_of(existing).required_anti_affinity {
                if term.matches(pod, &self.namespace_labels) {
                    add(&mut self.existing_anti_affinity_counts, &term.topology_key);
                }
            }
        }
        let terms = &self.terms;
        if !terms.required_affinity.is_empty()
            && terms
                .required_affinity
                .iter()
                .all(|t| t.matches(existing, &self.namespace_labels))
        {
            for term in &terms.required_affinity {
                add(&mut self.affinity_counts, &term.topology_key);
            }
        }
        for term in &terms.required_anti_affinity {
            if term.matches(existing, &self.namespace_labels) {
                add(&mut self.anti_affinity_counts, &term.topology_key);
            }
        }
    }

    fn satisfies_affinity(&self, pod: &Pod, node: &NodeInfo) -> bool {
        let mut pods_exist = true;
        for term in &self.terms.required_affinity {
            let Some(value) = node_label(node, &term.topology_key) else {
                return false;
            };
            let pair = (term.topology_key.clone(), value.clone());
            if self.affinity_counts.get(&pair).copied().unwrap_or(0) <= 0 {
                pods_exist = false;
                break;
            }
        }
        if pods_exist {
            return true;
        }
        // The first pod of a group with affinity to itself may go anywhere the terms' keys exist.
        self.affinity_counts.values().all(|c| *c <= 0)
            && self
                .terms
                .required_affinity
                .iter()
                .all(|t| t.matches(pod, &self.namespace_labels))
    }

    fn satisfies_anti_affinity(&self, node: &NodeInfo) -> bool {
        self.terms.required_anti_affinity.iter().all(|term| {
            node_label(node, &term.topology_key).is_none_or(|value| {
                self.anti_affinity_counts
                    .get(&(term.topology_key.clone(), value.clone()))
                    .copied()
                    .unwrap_or(0)
                    <= 0
            })
        })
    }

    fn satisfies_existing_anti_affinity(&self, node: &NodeInfo) -> bool {
        if self.existing_anti_affinity_counts.is_empty() {
            return true;
        }
        node.labels().into_iter().flatten().all(|(k, v)| {
            self.existing_anti_affinity_counts
                .get(&(k.clone(), v.clone()))
                .copied()
                .unwrap_or(0)
                <= 0
        })
    }
}

/// Filters and scores by pod (anti-)affinity.
#[derive(Debug, Default)]
pub struct InterPodAffinityPlugin {
    args: InterPodAffinityArgs,
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
            terms: PodTerms::of(pod, 0),
            namespace_labels: NamespaceLabels::from_state(state),
            ..Default::default()
        };
        for node in nodes {
            for existing in &node.pods {
                pre.update_with_pod(pod, &existing.pod, node, 1);
            }
        }
        pre.existing_anti_affinity_counts.retain(|_, c| *c > 0);
        let skip = pre.terms.required_affinity.is_empty()
            && pre.terms.required_anti_affinity.is_empty()
            && pre.existing_anti_affinity_counts.is_empty();
        // Scoring needs every node too, and PreScore only sees the feasible ones.
        let scores = self.topology_scores(pod, &pre.namespace_labels, nodes.iter());
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
                pre.update_with_pod(pod, &pod_to_add.pod, node, 1);
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
                pre.update_with_pod(pod, &pod_to_remove.pod, node, -1);
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
struct PreScoreState(HashMap<String, HashMap<String, i64>>);

impl InterPodAffinityPlugin {
    fn topology_scores<'a>(
        &self,
        pod: &Pod,
        namespace_labels: &NamespaceLabels,
        nodes: impl Iterator<Item = &'a NodeInfo>,
    ) -> PreScoreState {
        let terms = PodTerms::of(pod, 0);
        let has_preferred =
            !terms.preferred_affinity.is_empty() || !terms.preferred_anti_affinity.is_empty();
        let hard_weight = i64::from(self.args.hard_pod_affinity_weight);
        let mut scores: HashMap<String, HashMap<String, i64>> = HashMap::new();
        for node in nodes {
            let Some(labels) = node.labels() else {
                continue;
            };
            let mut add = |term: &AffinityTerm, weight: i64| {
                if let Some(value) = labels.get(&term.topology_key) {
                    *scores
                        .entry(term.topology_key.clone())
                        .or_default()
                        .entry(value.clone())
                        .or_default() += weight;
                }
            };
            for existing in &node.pods {
                let existing = &existing.pod;
                if has_preferred {
                    for term in &terms.preferred_affinity {
                        if term.matches(existing, namespace_labels) {
                            add(term, term.weight);
                        }
                    }
                    for term in &terms.preferred_anti_affinity {
                        if term.matches(existing, namespace_labels) {
                            add(term, -term.weight);
                        }
                    }
                }
                if !has_affinity(existing) {
                    continue;
                }
                let theirs = terms_of(existing);
                if hard_weight > 0 {
                    for term in &theirs.required_affinity {
                        if term.matches(pod, namespace_labels) {
                            add(term, hard_weight);
                        }
                    }
                }
                if !self.args.ignore_preferred_terms_of_existing_pods {
                    for term in &theirs.preferred_affinity {
                        if term.matches(pod, namespace_labels) {
                            add(term, term.weight);
                        }
                    }
                    for term in &theirs.preferred_anti_affinity {
                        if term.matches(pod, namespace_labels) {
                            add(term, -term.weight);
                        }
                    }
                }
            }
        }
        PreScoreState(scores)
    }
}

impl PreScorePlugin for InterPodAffinityPlugin {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, nodes: &[&NodeInfo]) -> Status {
        if state.read::<PreScoreState>(PRE_SCORE_STATE_KEY).is_none() {
            let namespace_labels = NamespaceLabels::from_state(state);
            let scores = self.topology_scores(pod, &namespace_labels, nodes.iter().copied());
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
            .filter_map(|(k, v)| scores.0.get(k).and_then(|values| values.get(v)))
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
    let plugin = Arc::new(InterPodAffinityPlugin { args });
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
