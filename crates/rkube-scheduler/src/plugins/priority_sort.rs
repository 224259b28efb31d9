//! PrioritySort: the active queue pops higher `spec.priority` first, then the pod that has
//! waited longest.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{Plugin, PluginExtensions, QueueSortPlugin, QueuedPodInfo};
use crate::registry::RegistryError;

/// The plugin's name.
pub const NAME: &str = "PrioritySort";

/// Orders pods by priority, then by queue timestamp.
#[derive(Debug, Default)]
pub struct PrioritySortPlugin;

/// A pod's priority (`spec.priority`, 0 when unset).
pub fn pod_priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

impl Plugin for PrioritySortPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl QueueSortPlugin for PrioritySortPlugin {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        let (pa, pb) = (pod_priority(&a.pod_info.pod), pod_priority(&b.pod_info.pod));
        pa > pb || (pa == pb && a.timestamp < b.timestamp)
    }
}

/// Builds the plugin.
pub fn new(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    Ok(PluginExtensions {
        queue_sort: Some(Arc::new(PrioritySortPlugin)),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_info::PodInfo;
    use crate::node_info::tests::PodBuilder;
    use std::time::{Duration, Instant};

    fn queued(priority: i32, at: Instant) -> QueuedPodInfo {
        QueuedPodInfo {
            pod_info: PodInfo::new(PodBuilder::new("p").priority(priority).build()),
            timestamp: at,
            attempts: 0,
            initial_attempt_timestamp: at,
            unschedulable_plugins: Vec::new(),
            failed_with_error: false,
        }
    }

    #[test]
    fn higher_priority_then_older_first() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        let plugin = PrioritySortPlugin;
        assert!(plugin.less(&queued(10, later), &queued(1, now)));
        assert!(!plugin.less(&queued(1, now), &queued(10, later)));
        assert!(plugin.less(&queued(5, now), &queued(5, later)));
        assert!(!plugin.less(&queued(5, now), &queued(5, now)));
    }
}
