//! SchedulingGates: a pod with `spec.schedulingGates` does not enter the active queue until
//! every gate is removed (the pod shows `PodScheduled=False` with reason `SchedulingGated`).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{
    ActionType, ClusterEvent, EventResource, Plugin, PluginExtensions, PreEnqueuePlugin, Status,
    StatusCode,
};
use crate::registry::RegistryError;

/// The plugin's name.
pub const NAME: &str = "SchedulingGates";

/// Keeps gated pods out of activeQ.
#[derive(Debug, Default)]
pub struct SchedulingGatesPlugin;

impl Plugin for SchedulingGatesPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreEnqueuePlugin for SchedulingGatesPlugin {
    fn pre_enqueue(&self, pod: &Pod) -> Status {
        let gates = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduling_gates.as_deref())
            .unwrap_or(&[]);
        if gates.is_empty() {
            return Status::success();
        }
        let names: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
        Status::new(
            StatusCode::UnschedulableAndUnresolvable,
            [format!(
                "waiting for scheduling gates: [{}]",
                names.join(" ")
            )],
        )
    }
}

/// Builds the plugin.
pub fn new(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    Ok(PluginExtensions {
        pre_enqueue: Some(Arc::new(SchedulingGatesPlugin)),
        events: vec![ClusterEvent::new(
            EventResource::UnscheduledPod,
            ActionType::UPDATE,
            "PodSchedulingGatesEliminated",
        )],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_info::tests::PodBuilder;
    use k8s_openapi::api::core::v1::PodSchedulingGate;

    #[test]
    fn gated_pods_wait() {
        let plugin = SchedulingGatesPlugin;
        assert!(
            plugin
                .pre_enqueue(&PodBuilder::new("p").build())
                .is_success()
        );
        let gated = PodBuilder::new("p")
            .with_spec(|s| {
                s.scheduling_gates = Some(vec![
                    PodSchedulingGate { name: "a/b".into() },
                    PodSchedulingGate { name: "c".into() },
                ])
            })
            .build();
        let status = plugin.pre_enqueue(&gated);
        assert_eq!(status.code(), StatusCode::UnschedulableAndUnresolvable);
        assert_eq!(status.message(), "waiting for scheduling gates: [a/b c]");
    }
}
