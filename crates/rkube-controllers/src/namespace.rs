//! The namespace controller: empties a deleted namespace, then finalizes it.
//!
//! A Namespace with `deletionTimestamp` keeps the `kubernetes` finalizer in `spec.finalizers`
//! until this controller has deleted every namespaced object in it (a deletecollection per
//! resource type, or one delete per object where deletecollection is not offered) and seen
//! none remain. It then removes the finalizer through the `finalize` subresource and the API
//! server deletes the namespace. Each pass writes upstream's deletion conditions into the
//! namespace's status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::resources::Served;
use crate::work_queue::WorkQueue;

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";
/// How soon a namespace whose content is still going away is looked at again.
const CONTENT_REMAINING_RECHECK: Duration = Duration::from_secs(1);
/// Parallel workers.
const WORKERS: usize = 2;

/// Errors of one pass over a namespace (retried with backoff).
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

/// Runs the namespace controller until `shutdown` fires.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    let mut workers = Vec::new();
    for n in 0..WORKERS {
        let client = client.clone();
        let queue = queue.clone();
        let shutdown = shutdown.clone();
        workers.push(tokio::spawn(
            async move {
                while let Some(name) = queue.next(&shutdown).await {
                    match sync(&client, &name).await {
                        Ok(Some(after)) => {
                            queue.done(name.clone(), false);
                            queue.add_after(name, after);
                        }
                        Ok(None) => queue.done(name, false),
                        Err(e) => {
                            warn!(namespace = %name, error = %e, "namespace deletion pass failed");
                            queue.done(name, true);
                        }
                    }
                }
            }
            .instrument(info_span!("namespace-worker", n)),
        ));
    }
    let namespaces: Api<Namespace> = Api::all(client);
    let stream = watcher::watcher(namespaces, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            e = stream.next() => e,
        };
        match event {
            None => break,
            Some(Err(e)) => debug!(error = %e, "namespace watch failed; retrying"),
            Some(Ok(Event::Apply(ns) | Event::InitApply(ns))) => {
                if ns.metadata.deletion_timestamp.is_some()
                    && let Some(name) = ns.metadata.name
                {
                    queue.add(name);
                }
            }
            Some(Ok(_)) => {}
        }
    }
    for w in workers {
        let _ = w.await;
    }
}

/// One pass over a namespace; returns when to look again, if content remains.
async fn sync(client: &Client, name: &str) -> Result<Option<Duration>> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = namespaces
        .get_opt(name)
        .await
        .map_err(api_error(format!("getting namespace {name}")))?
    else {
        return Ok(None);
    };
    if ns.metadata.deletion_timestamp.is_none() || !has_finalizer(&ns) {
        return Ok(None);
    }
    let served = crate::resources::discover(client)
        .await
        .map_err(api_error("discovering resources"))?;
    let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
    let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for s in served
        .iter()
        .filter(|s| s.resource.namespaced && s.supports(&["list", "delete"]))
    {
        match empty_resource(client, name, s).await {
            Ok(left) => {
                if !left.is_empty() {
                    remaining.insert(group_resource(s), left.len());
                }
                for f in left.into_iter().flatten() {
                    *finalizers.entry(f).or_default() += 1;
                }
            }
            Err(e) => {
                debug!(namespace = %name, resource = %s.resource.key(), error = %e, "emptying failed");
                failures.push(e.to_string());
            }
        }
    }
    let conditions = conditions(&remaining, &finalizers, &failures);
    update_conditions(&namespaces, ns, conditions).await?;
    if !failures.is_empty() || !remaining.is_empty() {
        return Ok(Some(CONTENT_REMAINING_RECHECK));
    }
    finalize(client, &namespaces, name).await?;
    Ok(None)
}

fn has_finalizer(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// `resource.group`, as upstream names a group-resource in messages.
fn group_resource(s: &Served) -> String {
    format!("{}.{}", s.resource.api.plural, s.resource.api.group)
}

/// Deletes everything of one resource type in the namespace; returns the finalizers of each
/// object that is still there.
async fn empty_resource(client: &Client, namespace: &str, s: &Served) -> Result<Vec<Vec<String>>> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &s.resource.api);
    let what = || format!("{} in {namespace}", group_resource(s));
    if s.supports(&["deletecollection"]) {
        match api
            .delete_collection(&DeleteParams::background(), &ListParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 405 => {}
            Err(e) => return Err(api_error(format!("deleting {}", what()))(e)),
        }
    } else {
        let list = api
            .list_metadata(&ListParams::default())
            .await
            .map_err(api_error(format!("listing {}", what())))?;
        for item in list.items {
            let Some(name) = item.metadata.name else {
                continue;
            };
            if item.metadata.deletion_timestamp.is_some() {
                continue;
            }
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(api_error(format!("deleting {}", what()))(e)),
            }
        }
    }
    let left = api
        .list_metadata(&ListParams::default())
        .await
        .map_err(api_error(format!("listing {}", what())))?;
    Ok(left
        .items
        .into_iter()
        .map(|i| i.metadata.finalizers.unwrap_or_default())
        .collect())
}

/// Upstream's namespace deletion conditions for one pass.
fn conditions(
    remaining: &BTreeMap<String, usize>,
    finalizers: &BTreeMap<String, usize>,
    failures: &[String],
) -> Vec<(&'static str, bool, &'static str, String)> {
    let content_failure = if failures.is_empty() {
        (
            "NamespaceDeletionContentFailure",
            false,
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".to_string(),
        )
    } else {
        (
            "NamespaceDeletionContentFailure",
            true,
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                failures.len(),
                failures.join(", ")
            ),
        )
    };
    let content_remaining = if remaining.is_empty() {
        (
            "NamespaceContentRemaining",
            false,
            "ContentRemoved",
            "All content successfully removed".to_string(),
        )
    } else {
        let parts: Vec<String> = remaining
            .iter()
            .map(|(r, n)| format!("{r} has {n} resource instances"))
            .collect();
        (
            "NamespaceContentRemaining",
            true,
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", parts.join(", ")),
        )
    };
    let finalizers_remaining = if finalizers.is_empty() {
        (
            "NamespaceFinalizersRemaining",
            false,
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".to_string(),
        )
    } else {
        let parts: Vec<String> = finalizers
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        (
            "NamespaceFinalizersRemaining",
            true,
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                parts.join(", ")
            ),
        )
    };
    vec![
        (
            "NamespaceDeletionDiscoveryFailure",
            false,
            "ResourcesDiscovered",
            "All resources successfully discovered".to_string(),
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            false,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".to_string(),
        ),
        content_failure,
        content_remaining,
        finalizers_remaining,
    ]
}

/// Writes the conditions when they changed (transition times kept for unchanged status).
async fn update_conditions(
    namespaces: &Api<Namespace>,
    mut ns: Namespace,
    wanted: Vec<(&'static str, bool, &'static str, String)>,
) -> Result<()> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let status = ns.status.get_or_insert_with(Default::default);
    let existing = status.conditions.clone().unwrap_or_default();
    let mut changed = false;
    let mut conditions = Vec::new();
    for (kind, on, reason, message) in wanted {
        let status_text = if on { "True" } else { "False" };
        let old = existing.iter().find(|c| c.type_ == kind);
        let same = old.is_some_and(|c| {
            c.status == status_text
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message.as_str())
        });
        changed |= !same;
        let transition = match old {
            Some(c) if c.status == status_text => c.last_transition_time.clone(),
            _ => Some(Time(k8s_openapi::jiff::Timestamp::now())),
        };
        conditions.push(NamespaceCondition {
            type_: kind.to_string(),
            status: status_text.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message),
            last_transition_time: transition,
        });
    }
    if !changed {
        return Ok(());
    }
    status.conditions = Some(conditions);
    match namespaces
        .replace_status(&name, &PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(api_error(format!("updating status of namespace {name}"))(e)),
    }
}

/// Removes the `kubernetes` finalizer through `namespaces/{name}/finalize`.
async fn finalize(client: &Client, namespaces: &Api<Namespace>, name: &str) -> Result<()> {
    let Some(mut ns) = namespaces
        .get_opt(name)
        .await
        .map_err(api_error(format!("getting namespace {name}")))?
    else {
        return Ok(());
    };
    if let Some(spec) = ns.spec.as_mut() {
        spec.finalizers = spec
            .finalizers
            .take()
            .map(|f| f.into_iter().filter(|x| x != FINALIZER).collect());
    }
    let action = format!("finalizing namespace {name}");
    let body = serde_json::to_vec(&ns)
        .map_err(|e| api_error(action.clone())(kube::Error::SerdeError(e)))?;
    let request = http::Request::put(format!("/api/v1/namespaces/{name}/finalize"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body)
        .map_err(|e| api_error(action.clone())(kube::Error::HttpError(e)))?;
    match client.request::<serde_json::Value>(request).await {
        Ok(_) => {
            info!(namespace = %name, "namespace emptied and finalized");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(api_error(action)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_say_what_remains() {
        let remaining = BTreeMap::from([("pods.".to_string(), 2)]);
        let finalizers = BTreeMap::from([("example.com/keep".to_string(), 1)]);
        let c = conditions(&remaining, &finalizers, &[]);
        let content = c.iter().find(|c| c.0 == "NamespaceContentRemaining");
        assert_eq!(
            content.map(|c| c.3.as_str()),
            Some("Some resources are remaining: pods. has 2 resource instances")
        );
        let fin = c.iter().find(|c| c.0 == "NamespaceFinalizersRemaining");
        assert_eq!(
            fin.map(|c| (c.1, c.2)),
            Some((true, "SomeFinalizersRemain"))
        );
        let done = conditions(&BTreeMap::new(), &BTreeMap::new(), &[]);
        assert!(done.iter().all(|c| !c.1));
    }
}
