//! TaintToleration: a node's NoSchedule and NoExecute taints keep out pods that do not tolerate
//! them; PreferNoSchedule taints a pod does not tolerate lower the node's score.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Taint, Toleration};

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeScore,
    Plugin, PluginExtensions, PreScorePlugin, ScorePlugin, Status, default_normalize_score,
};
use crate::node_info::NodeInfo;
use crate::registry::RegistryError;

/// The plugin's name.
pub const NAME: &str = "TaintToleration";
const PRE_SCORE_STATE_KEY: &str = "PreScoreTaintToleration";

/// Whether one toleration tolerates one taint (upstream's `ToleratesTaint`): the effect matches
/// or is empty, the key matches or is empty (with `Exists`, tolerating everything), and with
/// `Equal` (the default) the values are equal.
pub fn toleration_tolerates_taint(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        "Exists" => true,
        _ => false,
    }
}

/// Whether any of the tolerations tolerates the taint.
pub fn tolerations_tolerate_taint(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations
        .iter()
        .any(|t| toleration_tolerates_taint(t, taint))
}

/// The first taint passing `filter` that no toleration tolerates.
pub fn find_untolerated_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| filter(t))
        .find(|t| !tolerations_tolerate_taint(tolerations, t))
}

fn pod_tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

/// Filters by NoSchedule/NoExecute taints, scores by PreferNoSchedule taints.
#[derive(Debug, Default)]
pub struct TaintTolerationPlugin;

impl Plugin for TaintTolerationPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl FilterPlugin for TaintTolerationPlugin {
    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let untolerated = find_untolerated_taint(node.taints(), pod_tolerations(pod), |t| {
            t.effect == "NoSchedule" || t.effect == "NoExecute"
        });
        match untolerated {
            None => Status::success(),
            Some(taint) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or("")
            )),
        }
    }
}

/// The pod's tolerations that matter for scoring (effect empty or PreferNoSchedule).
#[derive(Clone)]
struct PreScoreState(Vec<Toleration>);

impl PreScorePlugin for TaintTolerationPlugin {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _nodes: &[&NodeInfo]) -> Status {
        let tolerations = pod_tolerations(pod)
            .iter()
            .filter(|t| {
                matches!(
                    t.effect.as_deref(),
                    None | Some("") | Some("PreferNoSchedule")
                )
            })
            .cloned()
            .collect();
        state.write(PRE_SCORE_STATE_KEY, PreScoreState(tolerations));
        Status::success()
    }
}

impl ScorePlugin for TaintTolerationPlugin {
    fn score(&self, state: &CycleState, _pod: &Pod, node: &NodeInfo) -> Result<i64, Status> {
        let tolerations = state
            .read::<PreScoreState>(PRE_SCORE_STATE_KEY)
            .ok_or_else(|| Status::error("reading PreScoreTaintToleration from cycle state"))?;
        let count = node
            .taints()
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule")
            .filter(|t| !tolerations_tolerate_taint(&tolerations.0, t))
            .count();
        Ok(count as i64)
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
        default_normalize_score(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

/// Builds the plugin.
pub fn new(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let plugin = Arc::new(TaintTolerationPlugin);
    Ok(PluginExtensions {
        filter: Some(plugin.clone()),
        pre_score: Some(plugin.clone()),
        score: Some(plugin),
        events: vec![
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD.or(ActionType::UPDATE_NODE_TAINT),
                "NodeAddOrTaintChange",
            ),
            ClusterEvent::new(
                EventResource::UnscheduledPod,
                ActionType::UPDATE_POD_TOLERATION,
                "PodTolerationChange",
            ),
        ],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::StatusCode;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};
    use crate::plugins::test_support::{run_filter, run_score};

    fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Toleration {
            key: opt(key),
            operator: opt(op),
            value: opt(value),
            effect: opt(effect),
            toleration_seconds: None,
        }
    }

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        }
    }

    #[test]
    fn toleration_matching() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        let cases = [
            (toleration("dedicated", "Equal", "gpu", "NoSchedule"), true),
            (toleration("dedicated", "", "gpu", ""), true),
            (toleration("dedicated", "Equal", "cpu", "NoSchedule"), false),
            (toleration("dedicated", "Exists", "", ""), true),
            (toleration("dedicated", "Exists", "", "NoExecute"), false),
            (toleration("", "Exists", "", ""), true),
            (toleration("other", "Exists", "", ""), false),
            (toleration("dedicated", "Bogus", "gpu", ""), false),
        ];
        for (tol, expected) in cases {
            assert_eq!(toleration_tolerates_taint(&tol, &t), expected, "{tol:?}");
        }
    }

    #[test]
    fn filter_rejects_untolerated_no_schedule_and_no_execute() {
        let ext = new(None).expect("builds");
        let gpu = NodeInfo::new(
            NodeBuilder::new("n")
                .taint("dedicated", "gpu", "NoSchedule")
                .build(),
        );
        let exec = NodeInfo::new(NodeBuilder::new("n").taint("k", "", "NoExecute").build());
        let soft = NodeInfo::new(
            NodeBuilder::new("n")
                .taint("k", "v", "PreferNoSchedule")
                .build(),
        );
        let pod = PodBuilder::new("p").build();
        let status = run_filter(&ext, &pod, &gpu);
        assert_eq!(status.code(), StatusCode::UnschedulableAndUnresolvable);
        assert_eq!(
            status.message(),
            "node(s) had untolerated taint {dedicated: gpu}"
        );
        assert_eq!(
            run_filter(&ext, &pod, &exec).message(),
            "node(s) had untolerated taint {k: }"
        );
        assert!(run_filter(&ext, &pod, &soft).is_success());
        let tolerant = PodBuilder::new("p")
            .with_spec(|s| {
                s.tolerations = Some(vec![toleration("dedicated", "Equal", "gpu", "NoSchedule")])
            })
            .build();
        assert!(run_filter(&ext, &tolerant, &gpu).is_success());
        let tolerate_all = PodBuilder::new("p")
            .with_spec(|s| s.tolerations = Some(vec![toleration("", "Exists", "", "")]))
            .build();
        assert!(run_filter(&ext, &tolerate_all, &exec).is_success());
    }

    #[test]
    fn score_prefers_fewer_intolerable_prefer_no_schedule_taints() {
        let ext = new(None).expect("builds");
        let nodes = vec![
            NodeBuilder::new("clean").build(),
            NodeBuilder::new("one")
                .taint("a", "1", "PreferNoSchedule")
                .build(),
            NodeBuilder::new("two")
                .taint("a", "1", "PreferNoSchedule")
                .taint("b", "2", "PreferNoSchedule")
                .build(),
            NodeBuilder::new("tolerated")
                .taint("c", "3", "PreferNoSchedule")
                .build(),
        ];
        let pod = PodBuilder::new("p")
            .with_spec(|s| {
                s.tolerations = Some(vec![toleration("c", "Equal", "3", "PreferNoSchedule")])
            })
            .build();
        let scores = run_score(&ext, &pod, nodes, vec![]);
        assert_eq!(
            scores,
            [
                ("clean".to_string(), 100),
                ("one".to_string(), 50),
                ("two".to_string(), 0),
                ("tolerated".to_string(), 100)
            ]
        );
    }
}
