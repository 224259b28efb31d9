//! NodeName: a pod that names a node in `spec.nodeName` fits only that node.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{ClusterEvent, CycleState, FilterPlugin, Plugin, PluginExtensions, Status};
use crate::node_info::NodeInfo;
use crate::registry::RegistryError;

/// The plugin's name.
pub const NAME: &str = "NodeName";
/// Upstream's rejection reason.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Filters nodes by `spec.nodeName`.
#[derive(Debug, Default)]
pub struct NodeNamePlugin;

impl Plugin for NodeNamePlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl FilterPlugin for NodeNamePlugin {
    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            Some(name) if !name.is_empty() && name != node.name() => {
                Status::unresolvable(ERR_REASON)
            }
            _ => Status::success(),
        }
    }
}

/// Builds the plugin.
pub fn new(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    Ok(PluginExtensions {
        filter: Some(Arc::new(NodeNamePlugin)),
        events: vec![ClusterEvent::NODE_ADD],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::StatusCode;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};
    use crate::plugins::test_support::run_filter;

    #[test]
    fn matches_requested_node_only() {
        let ext = new(None).expect("builds");
        let node = NodeInfo::new(NodeBuilder::new("n1").build());
        let cases = [
            (PodBuilder::new("p").build(), StatusCode::Success),
            (PodBuilder::new("p").node("n1").build(), StatusCode::Success),
            (
                PodBuilder::new("p").node("n2").build(),
                StatusCode::UnschedulableAndUnresolvable,
            ),
        ];
        for (pod, code) in cases {
            let status = run_filter(&ext, &pod, &node);
            assert_eq!(status.code(), code);
            if code != StatusCode::Success {
                assert_eq!(status.message(), ERR_REASON);
            }
        }
    }
}
