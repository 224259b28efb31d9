//! NodePorts: a pod asking for host ports fits only nodes where none of them is taken (same
//! protocol and port on the same host IP, or either side bound to `0.0.0.0`).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, Plugin, PluginExtensions,
    PreFilterPlugin, PreFilterResult, Status,
};
use crate::node_info::{HostPort, NodeInfo, pod_host_ports};
use crate::registry::RegistryError;

/// The plugin's name.
pub const NAME: &str = "NodePorts";
/// Upstream's rejection reason.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";
const PRE_FILTER_STATE_KEY: &str = "PreFilterNodePorts";

/// Filters by host port conflicts.
#[derive(Debug, Default)]
pub struct NodePortsPlugin;

impl Plugin for NodePortsPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

#[derive(Clone)]
struct PreFilterState(Vec<HostPort>);

impl PreFilterPlugin for NodePortsPlugin {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        _nodes: &[NodeInfo],
    ) -> (Option<PreFilterResult>, Status) {
        let ports = pod_host_ports(pod);
        if ports.is_empty() {
            return (None, Status::skip());
        }
        state.write(PRE_FILTER_STATE_KEY, PreFilterState(ports));
        (None, Status::success())
    }
}

impl FilterPlugin for NodePortsPlugin {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let computed;
        let ports = match state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) {
            Some(s) => &s.0,
            None => {
                computed = pod_host_ports(pod);
                &computed
            }
        };
        if ports.iter().any(|p| node.used_ports.conflicts(p)) {
            Status::unschedulable(ERR_REASON)
        } else {
            Status::success()
        }
    }
}

/// Builds the plugin.
pub fn new(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let plugin = Arc::new(NodePortsPlugin);
    Ok(PluginExtensions {
        pre_filter: Some(plugin.clone()),
        filter: Some(plugin),
        events: vec![
            ClusterEvent::new(
                EventResource::AssignedPod,
                ActionType::DELETE,
                "AssignedPodDelete",
            ),
            ClusterEvent::NODE_ADD,
        ],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::StatusCode;
    use crate::node_info::PodInfo;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};
    use crate::plugins::test_support::run_filter;

    #[test]
    fn host_port_table() {
        let ext = new(None).expect("builds");
        let cases = [
            (
                "no ports",
                PodBuilder::new("p").build(),
                vec![(8080, "TCP", "")],
                true,
            ),
            (
                "free",
                PodBuilder::new("p").host_port(8080, "", "").build(),
                vec![(9090, "TCP", "")],
                true,
            ),
            (
                "taken",
                PodBuilder::new("p").host_port(8080, "", "").build(),
                vec![(8080, "TCP", "")],
                false,
            ),
            (
                "other protocol",
                PodBuilder::new("p").host_port(8080, "UDP", "").build(),
                vec![(8080, "TCP", "")],
                true,
            ),
            (
                "other ip",
                PodBuilder::new("p")
                    .host_port(8080, "TCP", "127.0.0.1")
                    .build(),
                vec![(8080, "TCP", "127.0.0.2")],
                true,
            ),
            (
                "all ips vs one",
                PodBuilder::new("p").host_port(8080, "TCP", "").build(),
                vec![(8080, "TCP", "127.0.0.2")],
                false,
            ),
            (
                "one vs all ips",
                PodBuilder::new("p")
                    .host_port(8080, "TCP", "10.0.0.1")
                    .build(),
                vec![(8080, "TCP", "")],
                false,
            ),
        ];
        for (name, pod, used, fits) in cases {
            let mut node = NodeInfo::new(NodeBuilder::new("n").build());
            for (i, (port, proto, ip)) in used.into_iter().enumerate() {
                node.add_pod(PodInfo::new(
                    PodBuilder::new(&format!("u{i}"))
                        .host_port(port, proto, ip)
                        .build(),
                ));
            }
            let status = run_filter(&ext, &pod, &node);
            assert_eq!(status.is_success(), fits, "{name}");
            if !fits {
                assert_eq!(status.code(), StatusCode::Unschedulable);
                assert_eq!(status.message(), ERR_REASON);
            }
        }
    }
}
