//! The in-tree plugins, one file each with its `NAME` and its constructor `new`.
//!
//! Inputs the snapshot does not hold are passed through the `CycleState` by the caller:
//! namespace labels (`affinity::NAMESPACE_LABELS_KEY`), the default spread selector
//! (`pod_topology_spread::DEFAULT_SELECTOR_KEY`) and PodDisruptionBudgets
//! (`default_preemption::PDBS_KEY`); preemption leaves its victims under
//! `default_preemption::PREEMPTION_OUTCOME_KEY`.

pub mod balanced_allocation;
pub mod default_preemption;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod priority_sort;
pub mod resource_allocation;
pub mod scheduling_gates;
pub mod taint_toleration;

#[cfg(test)]
pub(crate) mod test_support {
    //! Running one plugin the way the framework would.
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};

    use crate::framework::{CycleState, NodeScore, PluginExtensions, Status};
    use crate::node_info::{NodeInfo, Snapshot};

    /// PreFilter (if any, honouring Skip) then Filter on one node.
    pub(crate) fn run_filter(ext: &PluginExtensions, pod: &Pod, node: &NodeInfo) -> Status {
        let mut state = CycleState::default();
        if let Some(pre) = &ext.pre_filter {
            let (_, status) = pre.pre_filter(&mut state, pod, std::slice::from_ref(node));
            if status.is_skip() {
                return Status::success();
            }
            if !status.is_success() {
                return status;
            }
        }
        match &ext.filter {
            Some(filter) => filter.filter(&state, pod, node),
            None => Status::success(),
        }
    }

    /// PreScore, Score and NormalizeScore over a snapshot's nodes; `None` when PreScore skips.
    pub(crate) fn run_score(
        ext: &PluginExtensions,
        pod: &Pod,
        nodes: Vec<Arc<Node>>,
        pods: Vec<Arc<Pod>>,
    ) -> Vec<(String, i64)> {
        let snapshot = Snapshot::new(nodes, pods);
        let infos: Vec<&NodeInfo> = snapshot.nodes().iter().collect();
        let mut state = CycleState::default();
        state.num_all_nodes = infos.len();
        if let Some(pre) = &ext.pre_score {
            let status = pre.pre_score(&mut state, pod, &infos);
            if status.is_skip() {
                return infos.iter().map(|n| (n.name().to_string(), 0)).collect();
            }
            assert!(status.is_success(), "{status:?}");
        }
        let score = ext.score.as_ref().expect("a score plugin");
        let mut scores: Vec<NodeScore> = infos
            .iter()
            .enumerate()
            .map(|(node, info)| NodeScore {
                node,
                score: score.score(&state, pod, info).expect("scores"),
            })
            .collect();
        if score.has_normalize() {
            assert!(
                score
                    .normalize_scores(&state, pod, &mut scores)
                    .is_success()
            );
        }
        scores
            .into_iter()
            .map(|s| (infos[s.node].name().to_string(), s.score))
            .collect()
    }
}
