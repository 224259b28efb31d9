//! Pod (anti-)affinity terms and label selectors as the scheduler evaluates them: a term is
//! resolved once against the pod that owns it (`matchLabelKeys` / `mismatchLabelKeys` merged
//! into its selector, its namespaces defaulted), and kept with the pod in `PodInfo` so that
//! plugins looking at every running pod never resolve the same term twice.
//!
//! Namespace labels are not part of the `Snapshot`: the caller writes a [`NamespaceLabels`]
//! into the `CycleState` under [`NAMESPACE_LABELS_KEY`] before the cycle. Without it, a
//! `namespaceSelector` sees every namespace as unlabelled (so only `{}` matches).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::framework::CycleState;

/// CycleState key under which the caller stores [`NamespaceLabels`].
pub const NAMESPACE_LABELS_KEY: &str = "rkube.io/NamespaceLabels";

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
    /// Usually one or two: a list is faster to search than a set.
    namespaces: Vec<String>,
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
        let mut namespaces: Vec<String> = term.namespaces.iter().flatten().cloned().collect();
        namespaces.sort();
        namespaces.dedup();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(pod_namespace(owner).to_string());
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

    /// Whether the term selects namespaces by label (its result depends on namespace labels).
    pub fn uses_namespace_selector(&self) -> bool {
        self.namespace_selector.is_some()
    }

    /// Whether the term selects `pod`.
    pub fn matches(&self, pod: &Pod, namespace_labels: &NamespaceLabels) -> bool {
        let namespace = pod_namespace(pod);
        let namespace_ok = self.namespaces.iter().any(|n| n == namespace)
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
    /// Resolves all terms of a pod (required terms carry weight 0: scoring applies
    /// `hardPodAffinityWeight` to running pods' required affinity itself).
    pub fn of(pod: &Pod) -> PodTerms {
        let Some(affinity) = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()) else {
            return PodTerms::default();
        };
        let required = |terms: &Option<Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .iter()
                .flatten()
                .map(|t| AffinityTerm::new(pod, t, 0))
                .collect()
        };
        let preferred = |terms: &Option<Vec<WeightedPodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .iter()
                .flatten()
                .map(|t| AffinityTerm::new(pod, &t.pod_affinity_term, i64::from(t.weight)))
                .collect()
        };
        let mut terms = PodTerms::default();
        if let Some(a) = &affinity.pod_affinity {
            terms.required_affinity =
                required(&a.required_during_scheduling_ignored_during_execution);
            terms.preferred_affinity =
                preferred(&a.preferred_during_scheduling_ignored_during_execution);
        }
        if let Some(a) = &affinity.pod_anti_affinity {
            terms.required_anti_affinity =
                required(&a.required_during_scheduling_ignored_during_execution);
            terms.preferred_anti_affinity =
                preferred(&a.preferred_during_scheduling_ignored_during_execution);
        }
        terms
    }

    /// The terms of a pod that has pod affinity or anti-affinity; `None` for the rest.
    pub fn of_running(pod: &Pod) -> Option<Arc<PodTerms>> {
        let affinity = pod.spec.as_ref()?.affinity.as_ref()?;
        if affinity.pod_affinity.is_none() && affinity.pod_anti_affinity.is_none() {
            return None;
        }
        Some(Arc::new(PodTerms::of(pod)))
    }
}
