//! The scheduler's writes to the API: binding a pod through `pods/{name}/binding`, recording
//! `Scheduled` / `FailedScheduling` events (core/v1, as upstream's recorder reports them), and
//! the `PodScheduled=False` condition of a pod that could not be placed.

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Binding, Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// `Normal` events.
pub const EVENT_TYPE_NORMAL: &str = "Normal";
/// `Warning` events.
pub const EVENT_TYPE_WARNING: &str = "Warning";
/// Reason of a placement event.
pub const REASON_SCHEDULED: &str = "Scheduled";
/// Reason of a failure event.
pub const REASON_FAILED_SCHEDULING: &str = "FailedScheduling";
/// PodScheduled=False reason when no node fits.
pub const CONDITION_REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// PodScheduled=False reason when scheduling failed with an error.
pub const CONDITION_REASON_SCHEDULER_ERROR: &str = "SchedulerError";
/// Reason of the event on a pod evicted by preemption.
pub const REASON_PREEMPTED: &str = "Preempted";

fn namespace_of(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

fn name_of(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("")
}

/// `POST pods/{name}/binding` with the target node (and the pod's UID as precondition).
pub async fn bind(client: &Client, pod: &Pod, node: &str) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace_of(pod));
    let binding = Binding {
        metadata: ObjectMeta {
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_string()),
            ..ObjectReference::default()
        },
    };
    let _: serde_json::Value = pods
        .create_subresource("binding", name_of(pod), &PostParams::default(), &binding)
        .await?;
    Ok(())
}

/// Records an event about a pod, from `component` (the profile's scheduler name).
pub async fn record_event(
    client: &Client,
    pod: &Pod,
    component: &str,
    type_: &str,
    reason: &str,
    message: String,
) -> Result<(), kube::Error> {
    let namespace = namespace_of(pod).to_string();
    let now_system = SystemTime::now();
    let nanos = now_system
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let now = Timestamp::now();
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{nanos:x}", name_of(pod))),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: pod.metadata.name.clone(),
            namespace: Some(namespace.clone()),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            ..ObjectReference::default()
        },
        reason: Some(reason.to_string()),
        message: Some(message),
        type_: Some(type_.to_string()),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(component.to_string()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        action: Some(
            match reason {
                REASON_SCHEDULED => "Binding",
                REASON_PREEMPTED => "Preempting",
                _ => "Scheduling",
            }
            .to_string(),
        ),
        count: Some(1),
        ..Event::default()
    };
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    events.create(&PostParams::default(), &event).await?;
    Ok(())
}

/// Whether the pod already carries `PodScheduled=False` with this reason and message.
fn has_condition(pod: &Pod, reason: &str, message: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message)
        })
}

/// Sets `PodScheduled=False` (strategic merge on the status subresource) and, when preemption
/// nominated a node, `status.nominatedNodeName`. Skipped when nothing would change.
pub async fn mark_unschedulable(
    client: &Client,
    pod: &Pod,
    reason: &str,
    message: &str,
    nominated_node_name: Option<&str>,
) -> Result<(), kube::Error> {
    let current_nomination = pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .unwrap_or("");
    let nomination_changes = nominated_node_name.is_some_and(|n| n != current_nomination);
    if has_condition(pod, reason, message) && !nomination_changes {
        return Ok(());
    }
    let mut status = json!({
        "conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": Time(Timestamp::now()),
        }]
    });
    if nomination_changes && let Some(nominated) = nominated_node_name {
        status["nominatedNodeName"] = if nominated.is_empty() {
            serde_json::Value::Null
        } else {
            json!(nominated)
        };
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace_of(pod));
    pods.patch_status(
        name_of(pod),
        &PatchParams::default(),
        &Patch::Strategic(json!({ "status": status })),
    )
    .await?;
    Ok(())
}

/// Clears `status.nominatedNodeName` of a pod that a more important pod's preemption displaced
/// from its nominated node (upstream's `ClearNominatedNodeName`). A pod already gone is not an
/// error.
pub async fn clear_nomination(client: &Client, pod: &Pod) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace_of(pod));
    match pods
        .patch_status(
            name_of(pod),
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"nominatedNodeName": null}})),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Evicts a preemption victim as upstream does: the `DisruptionTarget` condition, then a
/// delete with the victim's own grace period, then a `Preempted` event on the victim. A victim
/// already gone is not an error.
pub async fn preempt(
    client: &Client,
    victim: &Pod,
    preemptor: &Pod,
    node: &str,
    scheduler_name: &str,
) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace_of(victim));
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "PreemptionByScheduler",
        "message": format!("{scheduler_name}: preempting to accommodate a higher priority pod"),
        "lastTransitionTime": Time(Timestamp::now()),
    }]}});
    let patched = pods
        .patch_status(
            name_of(victim),
            &PatchParams::default(),
            &Patch::Strategic(condition),
        )
        .await;
    let deleted = match patched {
        Ok(_) => pods
            .delete(name_of(victim), &DeleteParams::default())
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match deleted {
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    let uid = preemptor.metadata.uid.as_deref().unwrap_or("");
    record_event(
        client,
        victim,
        scheduler_name,
        EVENT_TYPE_NORMAL,
        REASON_PREEMPTED,
        format!("Preempted by pod {uid} on node {node}"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    #[test]
    fn condition_already_set_is_detected() {
        let mut pod = Pod::default();
        assert!(!has_condition(&pod, "Unschedulable", "m"));
        pod.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("Unschedulable".into()),
                message: Some("m".into()),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        });
        assert!(has_condition(&pod, "Unschedulable", "m"));
        assert!(!has_condition(&pod, "Unschedulable", "other"));
    }
}
