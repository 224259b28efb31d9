//! ImageLocality: prefers nodes that already have the pod's images, weighing each image by its
//! size and by how many nodes have it (an image everywhere says little), between 23 MB and
//! 1000 MB per container.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{
    CycleState, MAX_NODE_SCORE, Plugin, PluginExtensions, PreScorePlugin, ScorePlugin, Status,
};
use crate::node_info::{ImageStateSummary, NodeInfo, normalized_image_name};
use crate::registry::RegistryError;

/// The plugin's name.
pub const NAME: &str = "ImageLocality";
const MB: i64 = 1024 * 1024;
/// Below this the score is 0.
pub const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, above this the score is the maximum.
pub const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;
const PRE_SCORE_STATE_KEY: &str = "PreScoreImageLocality";

/// Scores by images present.
#[derive(Debug, Default)]
pub struct ImageLocalityPlugin;

impl Plugin for ImageLocalityPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

fn scaled_image_score(state: &ImageStateSummary, total_nodes: usize) -> i64 {
    let spread = state.num_nodes as f64 / total_nodes.max(1) as f64;
    (state.size as f64 * spread) as i64
}

/// Maps the summed image score into [0, 100].
pub fn calculate_priority(sum: i64, num_containers: usize) -> i64 {
    let max_threshold = MAX_CONTAINER_THRESHOLD * num_containers as i64;
    if max_threshold <= MIN_THRESHOLD {
        return 0;
    }
    let sum = sum.clamp(MIN_THRESHOLD, max_threshold);
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

/// The pod's images, normalized, and its number of containers.
#[derive(Clone)]
struct PreScoreState {
    images: Vec<String>,
    num_containers: usize,
}

fn pod_images(pod: &Pod) -> PreScoreState {
    let Some(spec) = pod.spec.as_ref() else {
        return PreScoreState {
            images: Vec::new(),
            num_containers: 0,
        };
    };
    let containers = || {
        spec.init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
    };
    PreScoreState {
        images: containers()
            .filter_map(|c| c.image.as_deref())
            .map(normalized_image_name)
            .collect(),
        num_containers: containers().count(),
    }
}

impl PreScorePlugin for ImageLocalityPlugin {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _nodes: &[&NodeInfo]) -> Status {
        state.write(PRE_SCORE_STATE_KEY, pod_images(pod));
        Status::success()
    }
}

impl ScorePlugin for ImageLocalityPlugin {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Result<i64, Status> {
        let computed;
        let images = match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(images) => images,
            None => {
                computed = pod_images(pod);
                &computed
            }
        };
        let total_nodes = state.num_all_nodes.max(1);
        let sum: i64 = images
            .images
            .iter()
            .filter_map(|image| node.image_states.get(image))
            .map(|s| scaled_image_score(s, total_nodes))
            .sum();
        Ok(calculate_priority(sum, images.num_containers))
    }
}

/// Builds the plugin.
pub fn new(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let plugin = Arc::new(ImageLocalityPlugin);
    Ok(PluginExtensions {
        pre_score: Some(plugin.clone()),
        score: Some(plugin),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};
    use crate::plugins::test_support::run_score;

    #[test]
    fn prefers_nodes_with_big_images_present() {
        let ext = new(None).expect("builds");
        let nodes = vec![
            NodeBuilder::new("big").image(&["app:v1"], 500 * MB).build(),
            NodeBuilder::new("small")
                .image(&["app:v1"], 500 * MB)
                .image(&["sidecar"], 10 * MB)
                .build(),
            NodeBuilder::new("none").build(),
        ];
        let pod = PodBuilder::new("p").image("app:v1").build();
        let scores = run_score(&ext, &pod, nodes, vec![]);
        // 500MB on 2 of 3 nodes → 333MB scaled; (333-23)/(1000-23) ≈ 31
        assert_eq!(scores[0].1, scores[1].1);
        assert_eq!(scores[0].1, 31);
        assert_eq!(scores[2].1, 0);
    }

    #[test]
    fn thresholds() {
        assert_eq!(calculate_priority(0, 1), 0);
        assert_eq!(calculate_priority(MIN_THRESHOLD, 1), 0);
        assert_eq!(calculate_priority(MAX_CONTAINER_THRESHOLD * 5, 1), 100);
        assert_eq!(calculate_priority(MAX_CONTAINER_THRESHOLD, 2), 49);
        assert_eq!(calculate_priority(MAX_CONTAINER_THRESHOLD, 0), 0);
    }

    #[test]
    fn untagged_images_match_latest() {
        let ext = new(None).expect("builds");
        let nodes = vec![
            NodeBuilder::new("n")
                .image(&["nginx:latest"], 2000 * MB)
                .build(),
        ];
        let scores = run_score(
            &ext,
            &PodBuilder::new("p").image("nginx").build(),
            nodes,
            vec![],
        );
        assert_eq!(scores[0].1, 100);
    }
}
