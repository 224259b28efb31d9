//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Taint};

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, Plugin, PluginExtensions,
    Status,
};
use crate::node_info::NodeInfo;
use crate::plugins::taint_toleration::tolerations_tolerate_taint;
use crate::registry::RegistryError;

/// The plugin's name.
pub const NAME: &str = "NodeUnschedulable";
/// Upstream's rejection reason.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// The taint a cordoned node is treated as having.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Filters out cordoned nodes.
#[derive(Debug, Default)]
pub struct NodeUnschedulablePlugin;

impl Plugin for NodeUnschedulablePlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl FilterPlugin for NodeUnschedulablePlugin {
    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        if !node.unschedulable() {
            return Status::success();
        }
        let taint = Taint {
            key: TAINT_NODE_UNSCHEDULABLE.to_string(),
            effect: "NoSchedule".to_string(),
            ..Default::default()
        };
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or(&[]);
        if tolerations_tolerate_taint(tolerations, &taint) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_UNSCHEDULABLE)
        }
    }
}

/// Builds the plugin.
pub fn new(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    Ok(PluginExtensions {
        filter: Some(Arc::new(NodeUnschedulablePlugin)),
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
    use crate::plugins::test_support::run_filter;
    use k8s_openapi::api::core::v1::Toleration;

    #[test]
    fn cordoned_nodes_need_a_toleration() {
        let ext = new(None).expect("builds");
        let open = NodeInfo::new(NodeBuilder::new("a").build());
        let cordoned = NodeInfo::new(NodeBuilder::new("b").unschedulable().build());
        let plain = PodBuilder::new("p").build();
        let tolerant = PodBuilder::new("p")
            .with_spec(|s| {
                s.tolerations = Some(vec![Toleration {
                    key: Some(TAINT_NODE_UNSCHEDULABLE.into()),
                    operator: Some("Exists".into()),
                    effect: Some("NoSchedule".into()),
                    ..Default::default()
                }])
            })
            .build();
        assert!(run_filter(&ext, &plain, &open).is_success());
        let status = run_filter(&ext, &plain, &cordoned);
        assert_eq!(status.code(), StatusCode::UnschedulableAndUnresolvable);
        assert_eq!(status.message(), ERR_REASON_UNSCHEDULABLE);
        assert!(run_filter(&ext, &tolerant, &cordoned).is_success());
    }
}
