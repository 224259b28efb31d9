//! NodeResourcesBalancedAllocation: prefers nodes where, with the pod added, the requested
//! share of each resource (cpu and memory by default) is most even: score
//! `(1 - standard deviation of the shares) * 100`. Best-effort pods are not scored.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, MAX_NODE_SCORE, Plugin, PluginExtensions,
    PreScorePlugin, ScorePlugin, Status,
};
use crate::node_info::NodeInfo;
use crate::plugins::resource_allocation::{
    ResourceSpec, ResourceUsage, default_resources, pod_request_list, resource_usages,
    validate_resources,
};
use crate::registry::{RegistryError, decode_args};
use crate::resources::pod_requests;

/// The plugin's name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";
const PRE_SCORE_STATE_KEY: &str = "PreScoreNodeResourcesBalancedAllocation";

/// `NodeResourcesBalancedAllocationArgs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BalancedAllocationArgs {
    /// Resources to balance (default cpu and memory).
    pub resources: Vec<ResourceSpec>,
}

/// Scores by how even resource usage would be.
#[derive(Debug)]
pub struct BalancedAllocationPlugin {
    resources: Vec<ResourceSpec>,
}

impl Plugin for BalancedAllocationPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

/// The standard-deviation score of the requested shares (capped at 1) of the resources.
pub fn balanced_resource_score(usages: impl Iterator<Item = ResourceUsage> + Clone) -> i64 {
    let fractions = usages.map(|u| (u.requested as f64 / u.allocatable as f64).min(1.0));
    let count = fractions.clone().count();
    let std = match count {
        0 | 1 => 0.0,
        2 => {
            let mut pair = fractions;
            let (a, b) = (pair.next().unwrap_or(0.0), pair.next().unwrap_or(0.0));
            ((a - b) / 2.0).abs()
        }
        n => {
            let mean = fractions.clone().sum::<f64>() / n as f64;
            (fractions.map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[derive(Clone)]
struct PreScoreState(Vec<i64>);

impl PreScorePlugin for BalancedAllocationPlugin {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _nodes: &[&NodeInfo]) -> Status {
        let requests = pod_request_list(&pod_requests(pod), &self.resources);
        if requests.iter().all(|r| *r == 0) {
            return Status::skip();
        }
        state.write(PRE_SCORE_STATE_KEY, PreScoreState(requests));
        Status::success()
    }
}

impl ScorePlugin for BalancedAllocationPlugin {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Result<i64, Status> {
        let computed;
        let requests = match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(s) => &s.0,
            None => {
                computed = pod_request_list(&pod_requests(pod), &self.resources);
                &computed
            }
        };
        Ok(balanced_resource_score(resource_usages(
            node,
            &node.requested,
            &self.resources,
            requests,
        )))
    }
}

/// Builds the plugin from `NodeResourcesBalancedAllocationArgs`.
pub fn new(args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let args: BalancedAllocationArgs = decode_args(NAME, args)?;
    let mut resources = if args.resources.is_empty() {
        default_resources()
    } else {
        args.resources
    };
    validate_resources(NAME, &mut resources)?;
    let plugin = Arc::new(BalancedAllocationPlugin { resources });
    Ok(PluginExtensions {
        pre_score: Some(plugin.clone()),
        score: Some(plugin),
        events: vec![
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD.or(ActionType::UPDATE_NODE_ALLOCATABLE),
                "NodeAddOrAllocatableChange",
            ),
            ClusterEvent::new(
                EventResource::AssignedPod,
                ActionType::DELETE,
                "AssignedPodDelete",
            ),
        ],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};
    use crate::plugins::test_support::run_score;

    fn score(requested: &[i64], allocatable: &[i64]) -> i64 {
        let usages: Vec<ResourceUsage> = requested
            .iter()
            .zip(allocatable)
            .filter(|(_, a)| **a != 0)
            .map(|(r, a)| ResourceUsage {
                allocatable: *a,
                requested: *r,
                weight: 1,
            })
            .collect();
        balanced_resource_score(usages.into_iter())
    }

    #[test]
    fn score_formula() {
        assert_eq!(score(&[50, 50], &[100, 100]), 100);
        assert_eq!(score(&[100, 0], &[100, 100]), 50);
        assert_eq!(score(&[200, 0], &[100, 100]), 50);
        assert_eq!(score(&[30, 0], &[100, 0]), 100);
        // three resources: fractions 0, 0.5, 1 → std sqrt(1/6) ≈ 0.408
        assert_eq!(score(&[0, 50, 100], &[100, 100, 100]), 59);
    }

    #[test]
    fn prefers_balanced_nodes_and_skips_best_effort() {
        let ext = new(None).expect("builds");
        let nodes = vec![
            NodeBuilder::new("cpu-heavy")
                .allocatable(&[("cpu", "4"), ("memory", "4000")])
                .build(),
            NodeBuilder::new("even")
                .allocatable(&[("cpu", "4"), ("memory", "8000")])
                .build(),
        ];
        let existing = PodBuilder::new("e")
            .node("cpu-heavy")
            .requests(&[("cpu", "2")])
            .build();
        let pod = PodBuilder::new("p")
            .requests(&[("cpu", "1"), ("memory", "2000")])
            .build();
        // cpu-heavy: cpu 3/4, mem 2000/4000 → std .125 → 87; even: 1/4, 1/4 → 100
        let scores = run_score(&ext, &pod, nodes.clone(), vec![existing]);
        assert_eq!(
            scores,
            [("cpu-heavy".to_string(), 87), ("even".to_string(), 100)]
        );
        let scores = run_score(&ext, &PodBuilder::new("be").build(), nodes, vec![]);
        assert!(scores.iter().all(|s| s.1 == 0));
    }
}
