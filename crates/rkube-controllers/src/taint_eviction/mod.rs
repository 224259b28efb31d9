//! The taint eviction controller (upstream's `taint-eviction-controller`, formerly the
//! NoExecute taint manager): deletes pods from nodes with NoExecute taints they do not
//! tolerate.
//!
//! A pod bound to a node is deleted at once when some NoExecute taint of the node is not
//! tolerated; when all are, the shortest `tolerationSeconds` among the tolerations used
//! decides how long after the controller noticed the taints the pod goes (no seconds: it
//! stays). Removing the taints calls a pending eviction off. Watches of nodes and pods feed
//! the [`tracker::Tracker`]; due evictions go through a [`WorkQueue`] to workers that check
//! the pod still needs to go, record upstream's `TaintManagerEviction` event, set the
//! `DisruptionTarget` condition and delete the pod.

pub mod tolerations;
pub mod tracker;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Event, EventSource, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WatchEvent};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::work_queue::WorkQueue;
use tolerations::{Verdict, verdict};
use tracker::{Action, PodKey, Tracker};

/// The controller's name: the source of its events.
pub const CONTROLLER_NAME: &str = "taint-eviction-controller";
/// The reason of the events this controller records.
pub const EVENT_REASON: &str = "TaintManagerEviction";
/// The reason of the `DisruptionTarget` condition set before deleting.
pub const CONDITION_REASON: &str = "DeletionByTaintManager";
/// The message of the `DisruptionTarget` condition set before deleting.
pub const CONDITION_MESSAGE: &str = "Taint manager: deleting due to NoExecute taint";
/// Parallel eviction workers.
const WORKERS: usize = 2;

/// Errors of one eviction (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API request failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done.
        action: String,
        /// The failure.
        #[source]
        source: kube::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn api_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let action = action.into();
    move |source| Error::Api { action, source }
}

/// Whether the error is a 404.
fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Runs the taint eviction controller until `shutdown` fires.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let queue: Arc<WorkQueue<PodKey>> = WorkQueue::new();
    let mut workers = Vec::new();
    for n in 0..WORKERS {
        let client = client.clone();
        let queue = queue.clone();
        let shutdown = shutdown.clone();
        workers.push(tokio::spawn(
            async move {
                while let Some(key) = queue.next(&shutdown).await {
                    match evict(&client, &key).await {
                        Ok(()) => queue.done(key, false),
                        Err(e) => {
                            warn!(pod = %key, error = %e, "taint eviction failed");
                            queue.done(key, true);
                        }
                    }
                }
            }
            .instrument(info_span!("taint-eviction-worker", n)),
        ));
    }
    let nodes = watcher::watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(|node| node.metadata.managed_fields = None);
    let pods = watcher::watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(|pod| pod.metadata.managed_fields = None);
    let mut nodes = std::pin::pin!(nodes);
    let mut pods = std::pin::pin!(pods);
    let mut tracker = Tracker::new();
    // Names seen during a (re)list; what the tracker knows beyond them is gone.
    let mut relisted_nodes: Option<HashSet<String>> = None;
    let mut relisted_pods: Option<HashSet<PodKey>> = None;
    loop {
        let deadline = tracker.next_deadline();
        let actions = tokio::select! {
            _ = shutdown.cancelled() => break,
            event = nodes.next() => match event {
                None => break,
                Some(Err(e)) => {
                    debug!(error = %e, "node watch failed; retrying");
                    Vec::new()
                }
                Some(Ok(event)) => on_node_event(&mut tracker, &mut relisted_nodes, event),
            },
            event = pods.next() => match event {
                None => break,
                Some(Err(e)) => {
                    debug!(error = %e, "pod watch failed; retrying");
                    Vec::new()
                }
                Some(Ok(event)) => on_pod_event(&mut tracker, &mut relisted_pods, event),
            },
            _ = sleep_until(deadline) => Vec::new(),
        };
        for action in actions {
            match action {
                Action::Evict(key) => queue.add(key),
                Action::Cancelled(key) => {
                    info!(pod = %key, "taint eviction cancelled");
                    let client = client.clone();
                    // Ends with its one request.
                    tokio::spawn(
                        async move {
                            let message = format!("Cancelling deletion of Pod {key}");
                            if let Err(e) = record_event(&client, &key, message).await {
                                debug!(pod = %key, error = %e, "recording an event failed");
                            }
                        }
                        .in_current_span(),
                    );
                }
            }
        }
        for key in tracker.take_due(Instant::now()) {
            queue.add(key);
        }
    }
    for w in workers {
        let _ = w.await;
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn on_node_event(
    tracker: &mut Tracker,
    relisted: &mut Option<HashSet<String>>,
    event: WatchEvent<Node>,
) -> Vec<Action> {
    match event {
        WatchEvent::Init => {
            *relisted = Some(HashSet::new());
            Vec::new()
        }
        WatchEvent::InitApply(node) => {
            if let (Some(seen), Some(name)) = (relisted.as_mut(), node.metadata.name.as_ref()) {
                seen.insert(name.clone());
            }
            tracker.node_applied(&node, Instant::now())
        }
        WatchEvent::InitDone => {
            if let Some(seen) = relisted.take() {
                let gone: Vec<String> = tracker
                    .tainted_nodes()
                    .filter(|n| !seen.contains(*n))
                    .map(str::to_string)
                    .collect();
                for name in gone {
                    tracker.node_deleted(&name);
                }
            }
            Vec::new()
        }
        WatchEvent::Apply(node) => tracker.node_applied(&node, Instant::now()),
        WatchEvent::Delete(node) => {
            if let Some(name) = node.metadata.name.as_deref() {
                tracker.node_deleted(name);
            }
            Vec::new()
        }
    }
}

fn on_pod_event(
    tracker: &mut Tracker,
    relisted: &mut Option<HashSet<PodKey>>,
    event: WatchEvent<Pod>,
) -> Vec<Action> {
    match event {
        WatchEvent::Init => {
            *relisted = Some(HashSet::new());
            Vec::new()
        }
        WatchEvent::InitApply(pod) => {
            if let (Some(seen), Some(key)) = (relisted.as_mut(), PodKey::of(&pod)) {
                seen.insert(key);
            }
            tracker.pod_applied(&pod, Instant::now())
        }
        WatchEvent::InitDone => {
            let Some(seen) = relisted.take() else {
                return Vec::new();
            };
            let gone: Vec<PodKey> = tracker
                .pods()
                .filter(|k| !seen.contains(*k))
                .cloned()
                .collect();
            gone.iter().flat_map(|k| tracker.pod_deleted(k)).collect()
        }
        WatchEvent::Apply(pod) => tracker.pod_applied(&pod, Instant::now()),
        WatchEvent::Delete(pod) => match PodKey::of(&pod) {
            Some(key) => tracker.pod_deleted(&key),
            None => Vec::new(),
        },
    }
}

/// Evicts one pod, re-reading it and its node first: a pod gone, unbound, or now tolerating
/// its node's taints for ever is left alone. Then, as upstream: the event, the
/// `DisruptionTarget` condition, the delete.
async fn evict(client: &Client, key: &PodKey) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &key.namespace);
    let Some(pod) = pods
        .get_opt(&key.name)
        .await
        .map_err(api_error(format!("getting pod {key}")))?
    else {
        return Ok(());
    };
    let spec = pod.spec.as_ref();
    let Some(node_name) = spec
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
    else {
        return Ok(());
    };
    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes
        .get_opt(node_name)
        .await
        .map_err(api_error(format!("getting node {node_name}")))?;
    if let Some(node) = node {
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or(&[]);
        let tolerations = spec.and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
        if verdict(taints, tolerations) == Verdict::Stay {
            debug!(pod = %key, node = %node_name, "eviction no longer needed");
            return Ok(());
        }
    }
    info!(pod = %key, node = %node_name, "deleting pod for a NoExecute taint");
    if let Err(e) = record_event(client, key, format!("Marking for deletion Pod {key}")).await {
        debug!(pod = %key, error = %e, "recording an event failed");
    }
    if !has_disruption_condition(&pod) {
        let patch = json!({
            "metadata": {"uid": pod.metadata.uid},
            "status": {"conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": CONDITION_REASON,
                "message": CONDITION_MESSAGE,
                "lastTransitionTime": Time(Timestamp::now()),
            }]},
        });
        match pods
            .patch_status(&key.name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(api_error(format!("setting the condition of pod {key}"))(e)),
        }
    }
    match pods.delete(&key.name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(api_error(format!("deleting pod {key}"))(e)),
    }
}

/// Whether the pod already carries the condition this controller sets.
fn has_disruption_condition(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.type_ == "DisruptionTarget"
                && c.status == "True"
                && c.reason.as_deref() == Some(CONDITION_REASON)
                && c.message.as_deref() == Some(CONDITION_MESSAGE)
        })
}

/// The `Normal` `TaintManagerEviction` event on the pod, as upstream's event recorder writes it.
fn eviction_event(key: &PodKey, message: String, now: Timestamp, nanos: u128) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{nanos:x}", key.name)),
            namespace: Some(key.namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(key.name.clone()),
            namespace: Some(key.namespace.clone()),
            ..ObjectReference::default()
        },
        reason: Some(EVENT_REASON.into()),
        message: Some(message),
        type_: Some("Normal".into()),
        source: Some(EventSource {
            component: Some(CONTROLLER_NAME.into()),
            host: None,
        }),
        reporting_component: Some(CONTROLLER_NAME.into()),
        reporting_instance: Some(String::new()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    }
}

async fn record_event(client: &Client, key: &PodKey, message: String) -> Result<()> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let event = eviction_event(key, message, Timestamp::now(), nanos);
    let events: Api<Event> = Api::namespaced(client.clone(), &key.namespace);
    events
        .create(&PostParams::default(), &event)
        .await
        .map_err(api_error(format!("recording an event on pod {key}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    use super::*;

    #[test]
    fn the_event_reads_as_upstream_s() {
        let key = PodKey {
            namespace: "default".into(),
            name: "web".into(),
        };
        let e = eviction_event(
            &key,
            format!("Marking for deletion Pod {key}"),
            Timestamp::now(),
            255,
        );
        assert_eq!(e.metadata.name.as_deref(), Some("web.ff"));
        assert_eq!(
            e.message.as_deref(),
            Some("Marking for deletion Pod default/web")
        );
        assert_eq!(e.reason.as_deref(), Some("TaintManagerEviction"));
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(
            e.source.and_then(|s| s.component).as_deref(),
            Some("taint-eviction-controller")
        );
        assert_eq!(e.involved_object.kind.as_deref(), Some("Pod"));
    }

    #[test]
    fn the_condition_is_set_once() {
        let mut pod = Pod::default();
        assert!(!has_disruption_condition(&pod));
        pod.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some(CONDITION_REASON.into()),
                message: Some(CONDITION_MESSAGE.into()),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        });
        assert!(has_disruption_condition(&pod));
    }
}
