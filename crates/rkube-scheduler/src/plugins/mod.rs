//! The in-tree plugins, one file each with its `NAME` and its constructor `new`.
//!
//! Still to come (other work items): InterPodAffinity, PodTopologySpread (PreFilter/Filter/
//! PreScore/Score, weight 2 each in the defaults) and DefaultPreemption (PostFilter); they plug
//! in through `registry::Registry::in_tree` and are already named, with their weights, in
//! `config::DEFAULT_MULTI_POINT_PLUGINS`, so registering them enables them by default.

pub mod balanced_allocation;
pub mod image_locality;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
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
