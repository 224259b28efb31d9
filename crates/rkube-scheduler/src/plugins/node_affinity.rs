//! NodeAffinity: `spec.nodeSelector` and required node affinity must match the node (with the
//! scheduler-enforced `addedAffinity` from the plugin args); preferred terms add their weights
//! to the score. `matchFields` on `metadata.name` with `In` also narrows the nodes searched.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm,
};
use serde::Deserialize;

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeScore,
    Plugin, PluginExtensions, PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin,
    Status, default_normalize_score,
};
use crate::node_info::NodeInfo;
use crate::registry::{RegistryError, decode_args};

/// The plugin's name.
pub const NAME: &str = "NodeAffinity";
/// Rejection by the pod's own selector or affinity.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Rejection by the profile's `addedAffinity`.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// Every required term names nodes by `metadata.name`, and no name is common to them.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";
const PRE_FILTER_STATE_KEY: &str = "PreFilterNodeAffinity";
const PRE_SCORE_STATE_KEY: &str = "PreScoreNodeAffinity";

/// `NodeAffinityArgs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeAffinityArgs {
    /// Affinity every pod of the profile must also satisfy.
    pub added_affinity: Option<NodeAffinity>,
}

/// Whether one requirement matches a value looked up by key.
fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or(&[]);
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let [bound] = values else { return false };
            let (Some(value), Ok(bound)) = (value, bound.parse::<i64>()) else {
                return false;
            };
            let Ok(value) = value.parse::<i64>() else {
                return false;
            };
            if requirement.operator == "Gt" {
                value > bound
            } else {
                value < bound
            }
        }
        _ => false,
    }
}

/// Whether a term matches a node: every label expression and every field expression (only
/// `metadata.name` is supported, like upstream). An empty term matches nothing.
pub fn term_matches(
    term: &NodeSelectorTerm,
    node_name: &str,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|r| requirement_matches(r, labels.and_then(|l| l.get(&r.key)).map(String::as_str)))
        && fields.iter().all(|r| {
            r.key == "metadata.name"
                && matches!(r.operator.as_str(), "In" | "NotIn")
                && requirement_matches(r, Some(node_name))
        })
}

/// Whether any term matches (terms are ORed; no terms matches nothing).
pub fn terms_match(terms: &[NodeSelectorTerm], node: &NodeInfo) -> bool {
    terms
        .iter()
        .any(|t| term_matches(t, node.name(), node.labels()))
}

/// Whether a `nodeSelector` map matches the node's labels.
pub fn node_selector_matches(selector: &BTreeMap<String, String>, node: &NodeInfo) -> bool {
    selector
        .iter()
        .all(|(k, v)| node.labels().and_then(|l| l.get(k)) == Some(v))
}

fn required_terms(affinity: Option<&NodeAffinity>) -> Option<&[NodeSelectorTerm]> {
    affinity
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|s| s.node_selector_terms.as_slice())
}

fn preferred_terms(affinity: Option<&NodeAffinity>) -> &[PreferredSchedulingTerm] {
    affinity
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or(&[])
}

fn pod_node_affinity(pod: &Pod) -> Option<&NodeAffinity> {
    pod.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
}

/// Whether the pod's `nodeSelector` and required node affinity match the node (upstream's
/// `RequiredNodeAffinity.Match`; also used by other plugins, e.g. topology spread).
pub fn pod_matches_node_selector_and_affinity(pod: &Pod, node: &NodeInfo) -> bool {
    if let Some(selector) = pod.spec.as_ref().and_then(|s| s.node_selector.as_ref())
        && !node_selector_matches(selector, node)
    {
        return false;
    }
    required_terms(pod_node_affinity(pod)).is_none_or(|terms| terms_match(terms, node))
}

/// Node names a set of required terms is limited to by `metadata.name In`, when every term has
/// such a field requirement (upstream's `getPreFilterNodeNames`).
fn pre_filter_node_names(terms: &[NodeSelectorTerm]) -> Option<BTreeSet<String>> {
    if terms.is_empty() {
        return None;
    }
    let mut names = BTreeSet::new();
    for term in terms {
        let mut term_names: Option<BTreeSet<String>> = None;
        for field in term.match_fields.iter().flatten() {
            if field.key != "metadata.name" || field.operator != "In" {
                continue;
            }
            let values: BTreeSet<String> = field.values.iter().flatten().cloned().collect();
            term_names = Some(match term_names {
                None => values,
                Some(existing) => existing.intersection(&values).cloned().collect(),
            });
        }
        names.extend(term_names?);
    }
    Some(names)
}

/// Filters by selector/required affinity, scores by preferred terms.
#[derive(Debug, Default)]
pub struct NodeAffinityPlugin {
    added_affinity: Option<NodeAffinity>,
}

impl Plugin for NodeAffinityPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

/// Marker that PreFilter ran (the pod has a selector or required affinity).
#[derive(Clone)]
struct PreFilterState;

impl PreFilterPlugin for NodeAffinityPlugin {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        _nodes: &[NodeInfo],
    ) -> (Option<PreFilterResult>, Status) {
        let affinity = pod_node_affinity(pod);
        let has_selector = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_selector.as_ref())
            .is_some_and(|s| !s.is_empty());
        let required = required_terms(affinity);
        if !has_selector
            && required.is_none()
            && required_terms(self.added_affinity.as_ref()).is_none()
        {
            return (None, Status::skip());
        }
        state.write(PRE_FILTER_STATE_KEY, PreFilterState);
        let Some(terms) = required else {
            return (None, Status::success());
        };
        match pre_filter_node_names(terms) {
            Some(names) if names.is_empty() => (None, Status::unresolvable(ERR_REASON_CONFLICT)),
            Some(names) => (
                Some(PreFilterResult {
                    node_names: Some(names),
                }),
                Status::success(),
            ),
            None => (None, Status::success()),
        }
    }
}

impl FilterPlugin for NodeAffinityPlugin {
    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        if let Some(terms) = required_terms(self.added_affinity.as_ref())
            && !terms_match(terms, node)
        {
            return Status::unresolvable(ERR_REASON_ENFORCED);
        }
        if pod_matches_node_selector_and_affinity(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

/// Preferred terms of the pod and of `addedAffinity`.
#[derive(Clone)]
struct PreScoreState(Vec<PreferredSchedulingTerm>);

impl PreScorePlugin for NodeAffinityPlugin {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _nodes: &[&NodeInfo]) -> Status {
        let terms: Vec<PreferredSchedulingTerm> = preferred_terms(self.added_affinity.as_ref())
            .iter()
            .chain(preferred_terms(pod_node_affinity(pod)))
            .filter(|t| t.weight != 0)
            .cloned()
            .collect();
        if terms.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE_STATE_KEY, PreScoreState(terms));
        Status::success()
    }
}

impl ScorePlugin for NodeAffinityPlugin {
    fn score(&self, state: &CycleState, _pod: &Pod, node: &NodeInfo) -> Result<i64, Status> {
        let terms = state
            .read::<PreScoreState>(PRE_SCORE_STATE_KEY)
            .ok_or_else(|| Status::error("reading PreScoreNodeAffinity from cycle state"))?;
        Ok(terms
            .0
            .iter()
            .filter(|t| term_matches(&t.preference, node.name(), node.labels()))
            .map(|t| i64::from(t.weight))
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
        default_normalize_score(MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

/// Builds the plugin from `NodeAffinityArgs`.
pub fn new(args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let args: NodeAffinityArgs = decode_args(NAME, args)?;
    let plugin = Arc::new(NodeAffinityPlugin {
        added_affinity: args.added_affinity,
    });
    Ok(PluginExtensions {
        pre_filter: Some(plugin.clone()),
        filter: Some(plugin.clone()),
        pre_score: Some(plugin.clone()),
        score: Some(plugin),
        events: vec![ClusterEvent::new(
            EventResource::Node,
            ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
            "NodeAddOrLabelChange",
        )],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::StatusCode;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};
    use crate::plugins::test_support::{run_filter, run_score};
    use k8s_openapi::api::core::v1::{Affinity, NodeSelector};

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn term(
        exprs: Vec<NodeSelectorRequirement>,
        fields: Vec<NodeSelectorRequirement>,
    ) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: (!exprs.is_empty()).then_some(exprs),
            match_fields: (!fields.is_empty()).then_some(fields),
        }
    }

    fn pod_with_required(terms: Vec<NodeSelectorTerm>) -> Arc<Pod> {
        PodBuilder::new("p")
            .with_spec(|s| {
                s.affinity = Some(Affinity {
                    node_affinity: Some(NodeAffinity {
                        required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                            node_selector_terms: terms,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            })
            .build()
    }

    #[test]
    fn operators() {
        let node = NodeInfo::new(
            NodeBuilder::new("n1")
                .label("zone", "a")
                .label("cores", "8")
                .build(),
        );
        let cases = [
            (req("zone", "In", &["a", "b"]), true),
            (req("zone", "In", &["b"]), false),
            (req("zone", "NotIn", &["b"]), true),
            (req("missing", "NotIn", &["b"]), true),
            (req("zone", "NotIn", &["a"]), false),
            (req("zone", "Exists", &[]), true),
            (req("missing", "Exists", &[]), false),
            (req("missing", "DoesNotExist", &[]), true),
            (req("zone", "DoesNotExist", &[]), false),
            (req("cores", "Gt", &["4"]), true),
            (req("cores", "Gt", &["8"]), false),
            (req("cores", "Lt", &["9"]), true),
            (req("zone", "Gt", &["1"]), false),
            (req("cores", "Gt", &["x"]), false),
            (req("zone", "Bogus", &["a"]), false),
        ];
        for (requirement, expected) in cases {
            let t = term(vec![requirement.clone()], vec![]);
            assert_eq!(terms_match(&[t], &node), expected, "{requirement:?}");
        }
        let by_name = term(vec![], vec![req("metadata.name", "In", &["n1"])]);
        assert!(terms_match(&[by_name], &node));
        let by_other_field = term(vec![], vec![req("metadata.uid", "In", &["n1"])]);
        assert!(!terms_match(&[by_other_field], &node));
        assert!(!terms_match(&[term(vec![], vec![])], &node));
        // terms are ORed, requirements within a term ANDed
        let or = [
            term(vec![req("zone", "In", &["b"])], vec![]),
            term(
                vec![req("zone", "In", &["a"]), req("cores", "Exists", &[])],
                vec![],
            ),
        ];
        assert!(terms_match(&or, &node));
    }

    #[test]
    fn filter_node_selector_and_required_affinity() {
        let ext = new(None).expect("builds");
        let ssd = NodeInfo::new(NodeBuilder::new("a").label("disktype", "ssd").build());
        let hdd = NodeInfo::new(NodeBuilder::new("b").label("disktype", "hdd").build());
        let pod = PodBuilder::new("p")
            .with_spec(|s| {
                s.node_selector = Some([("disktype".to_string(), "ssd".to_string())].into())
            })
            .build();
        assert!(run_filter(&ext, &pod, &ssd).is_success());
        let status = run_filter(&ext, &pod, &hdd);
        assert_eq!(status.code(), StatusCode::UnschedulableAndUnresolvable);
        assert_eq!(status.message(), ERR_REASON_POD);
        let pod = pod_with_required(vec![term(vec![req("disktype", "In", &["hdd"])], vec![])]);
        assert!(!run_filter(&ext, &pod, &ssd).is_success());
        assert!(run_filter(&ext, &pod, &hdd).is_success());
        // no constraints: PreFilter skips, everything passes
        assert!(run_filter(&ext, &PodBuilder::new("p").build(), &hdd).is_success());
    }

    #[test]
    fn pre_filter_narrows_by_metadata_name() {
        let plugin = NodeAffinityPlugin::default();
        let pod = pod_with_required(vec![
            term(vec![], vec![req("metadata.name", "In", &["a", "b"])]),
            term(vec![], vec![req("metadata.name", "In", &["c"])]),
        ]);
        let (result, status) = plugin.pre_filter(&mut CycleState::default(), &pod, &[]);
        assert!(status.is_success());
        assert_eq!(
            result.and_then(|r| r.node_names),
            Some(["a", "b", "c"].iter().map(|s| s.to_string()).collect())
        );
        let pod = pod_with_required(vec![
            term(vec![], vec![req("metadata.name", "In", &["a"])]),
            term(vec![req("zone", "Exists", &[])], vec![]),
        ]);
        let (result, _) = plugin.pre_filter(&mut CycleState::default(), &pod, &[]);
        assert!(result.is_none());
    }

    #[test]
    fn added_affinity_is_enforced() {
        let args = serde_json::json!({"addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]}]}}});
        let ext = new(Some(&args)).expect("builds");
        let batch = NodeInfo::new(NodeBuilder::new("a").label("pool", "batch").build());
        let web = NodeInfo::new(NodeBuilder::new("b").label("pool", "web").build());
        let pod = PodBuilder::new("p").build();
        assert!(run_filter(&ext, &pod, &batch).is_success());
        assert_eq!(run_filter(&ext, &pod, &web).message(), ERR_REASON_ENFORCED);
        assert!(new(Some(&serde_json::json!({"addedAffinity": 3}))).is_err());
    }

    #[test]
    fn preferred_terms_score_by_weight() {
        let ext = new(None).expect("builds");
        let pod = PodBuilder::new("p")
            .with_spec(|s| {
                s.affinity = Some(Affinity {
                    node_affinity: Some(NodeAffinity {
                        preferred_during_scheduling_ignored_during_execution: Some(vec![
                            PreferredSchedulingTerm {
                                weight: 2,
                                preference: term(vec![req("zone", "In", &["a"])], vec![]),
                            },
                            PreferredSchedulingTerm {
                                weight: 6,
                                preference: term(vec![req("gpu", "Exists", &[])], vec![]),
                            },
                        ]),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            })
            .build();
        let nodes = vec![
            NodeBuilder::new("none").build(),
            NodeBuilder::new("zone").label("zone", "a").build(),
            NodeBuilder::new("gpu").label("gpu", "1").build(),
            NodeBuilder::new("both")
                .label("zone", "a")
                .label("gpu", "1")
                .build(),
        ];
        let scores = run_score(&ext, &pod, nodes.clone(), vec![]);
        let values: Vec<i64> = scores.iter().map(|s| s.1).collect();
        assert_eq!(values, [0, 25, 75, 100]);
        // without preferences PreScore skips
        let scores = run_score(&ext, &PodBuilder::new("q").build(), nodes, vec![]);
        assert!(scores.iter().all(|s| s.1 == 0));
    }
}
