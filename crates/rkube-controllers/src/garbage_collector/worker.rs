//! The collector's decisions: each work key re-reads current state through the API before it
//! acts, so a stale graph can delay work but never cause a wrong deletion.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, DynamicObject, Preconditions, PropagationPolicy};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::graph::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Observed, OwnerState, Work};
use super::{Error, Resource, Result, Shared};

/// Drains the queue until `shutdown` fires.
pub(super) async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    while let Some(work) = shared.queue.next(&shutdown).await {
        let result = match &work {
            Work::AttemptToDelete(uid) => attempt_to_delete(&shared, uid).await,
            Work::Orphan(uid) => orphan_dependents(&shared, uid).await,
        };
        if let Err(e) = &result {
            debug!(?work, error = %e, "will retry");
        }
        shared.queue.done(work, result.is_err());
    }
}

fn api(shared: &Shared, resource: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace.filter(|_| resource.namespaced) {
        Some(ns) => Api::namespaced_with(shared.client.clone(), ns, &resource.api),
        None => Api::all_with(shared.client.clone(), &resource.api),
    }
}

fn api_error(action: String) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Api { action, source }
}

/// The current metadata of an observed object; `None` when it is gone (or replaced).
async fn latest(shared: &Shared, item: &Observed) -> Result<Option<ObjectMeta>> {
    let api = api(shared, &item.resource, item.namespace.as_deref());
    let meta = api
        .get_metadata_opt(&item.name)
        .await
        .map_err(api_error(format!("getting {}", describe(item))))?;
    Ok(meta
        .map(|m| m.metadata)
        .filter(|m| m.uid.as_deref() == Some(item.uid.as_str())))
}

fn describe(item: &Observed) -> String {
    match &item.namespace {
        Some(ns) => format!("{} {ns}/{}", item.resource.api.kind, item.name),
        None => format!("{} {}", item.resource.api.kind, item.name),
    }
}

/// How one owner reference of `item` stands.
#[derive(Debug, PartialEq, Eq)]
enum Classified {
    Solid,
    Dangling,
    Waiting,
}

async fn classify(shared: &Shared, item: &Observed, owner: &OwnerReference) -> Result<Classified> {
    let state = shared.graph().owner_state(&owner.uid);
    match state {
        OwnerState::Solid | OwnerState::WaitingForDependents => {
            // A namespaced owner must be in the dependent's namespace.
            let mismatch = shared
                .graph()
                .get(&owner.uid)
                .is_some_and(|o| o.namespace.is_some() && o.namespace != item.namespace);
            return Ok(match (mismatch, state) {
                (true, _) => Classified::Dangling,
                (false, OwnerState::Solid) => Classified::Solid,
                _ => Classified::Waiting,
            });
        }
        OwnerState::Absent => return Ok(Classified::Dangling),
        OwnerState::Unknown => {}
    }
    let Some(resource) = shared.kinds().resolve(&owner.api_version, &owner.kind) else {
        return Err(Error::UnknownKind {
            api_version: owner.api_version.clone(),
            kind: owner.kind.clone(),
        });
    };
    if resource.namespaced && item.namespace.is_none() {
        // A cluster-scoped dependent cannot name a namespaced owner: unresolvable, and as
        // upstream, never collected for it.
        return Ok(Classified::Solid);
    }
    let found = api(shared, &resource, item.namespace.as_deref())
        .get_metadata_opt(&owner.name)
        .await
        .map_err(api_error(format!(
            "looking up owner {} {}",
            owner.kind, owner.name
        )))?
        .map(|m| m.metadata)
        .filter(|m| m.uid.as_deref() == Some(owner.uid.as_str()));
    Ok(match found {
        None => {
            shared.graph().mark_absent(&owner.uid);
            Classified::Dangling
        }
        Some(m)
            if m.deletion_timestamp.is_some()
                && m.finalizers
                    .iter()
                    .flatten()
                    .any(|f| f == FOREGROUND_FINALIZER) =>
        {
            Classified::Waiting
        }
        Some(_) => Classified::Solid,
    })
}

async fn attempt_to_delete(shared: &Shared, uid: &str) -> Result<()> {
    let Some(item) = shared.graph().get(uid).cloned() else {
        return Ok(());
    };
    if item.deleting_dependents() {
        return process_deleting_dependents(shared, &item).await;
    }
    if item.being_deleted {
        return Ok(());
    }
    let Some(meta) = latest(shared, &item).await? else {
        return Ok(());
    };
    let owners = meta.owner_references.clone().unwrap_or_default();
    if owners.is_empty() {
        return Ok(());
    }
    let mut solid = 0;
    let mut release = Vec::new();
    let mut waiting = 0;
    for owner in &owners {
        match classify(shared, &item, owner).await? {
            Classified::Solid => solid += 1,
            Classified::Dangling => release.push(owner.uid.clone()),
            Classified::Waiting => {
                waiting += 1;
                release.push(owner.uid.clone());
            }
        }
    }
    if solid > 0 {
        if release.is_empty() {
            return Ok(());
        }
        // Other owners remain: only drop the references to gone or foreground-deleting owners
        // (the latter would otherwise wait for this object forever).
        let kept: Vec<OwnerReference> = owners
            .iter()
            .filter(|o| !release.contains(&o.uid))
            .cloned()
            .collect();
        debug!(object = %describe(&item), released = ?release, "removing owner references");
        return patch_owner_references(shared, &item, &owners, &kept).await;
    }
    let dependents = shared.graph().dependents(uid);
    let policy = if waiting > 0 && !dependents.is_empty() {
        if dependents.iter().any(Observed::deleting_dependents) {
            // Break a possible cycle of foreground deletions: stop blocking our owners.
            let unblocked: Vec<OwnerReference> = owners
                .iter()
                .map(|o| OwnerReference {
                    block_owner_deletion: o.block_owner_deletion.map(|_| false),
                    ..o.clone()
                })
                .collect();
            if unblocked != owners {
                patch_owner_references(shared, &item, &owners, &unblocked).await?;
            }
        }
        PropagationPolicy::Foreground
    } else {
        let has = |f: &str| meta.finalizers.iter().flatten().any(|x| x == f);
        if has(ORPHAN_FINALIZER) {
            PropagationPolicy::Orphan
        } else if has(FOREGROUND_FINALIZER) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        }
    };
    debug!(object = %describe(&item), ?policy, "deleting: all owners are gone or deleting");
    let params = DeleteParams {
        propagation_policy: Some(policy),
        preconditions: Some(Preconditions {
            uid: Some(item.uid.clone()),
            resource_version: meta.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    match api(shared, &item.resource, item.namespace.as_deref())
        .delete(&item.name, &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(api_error(format!("deleting {}", describe(&item)))(e)),
    }
}

/// An owner deleting in the foreground: its finalizer goes once no blocking dependent is left.
async fn process_deleting_dependents(shared: &Shared, item: &Observed) -> Result<()> {
    let blocking = shared.graph().blocking_dependents(&item.uid);
    if blocking.is_empty() {
        return remove_finalizer(shared, item, FOREGROUND_FINALIZER).await;
    }
    for dependent in blocking.into_iter().filter(|d| !d.deleting_dependents) {
        shared.queue.add(Work::AttemptToDelete(dependent.uid));
    }
    Ok(())
}

/// An owner deleting with orphaning: its dependents stop naming it, then its finalizer goes.
async fn orphan_dependents(shared: &Shared, uid: &str) -> Result<()> {
    let Some(item) = shared.graph().get(uid).cloned() else {
        return Ok(());
    };
    if !item.orphaning_dependents() {
        return Ok(());
    }
    let mut failure = None;
    let dependents = shared.graph().dependents(uid);
    for dependent in dependents {
        let result = async {
            let Some(meta) = latest(shared, &dependent).await? else {
                return Ok(());
            };
            let owners = meta.owner_references.unwrap_or_default();
            let kept: Vec<OwnerReference> =
                owners.iter().filter(|o| o.uid != uid).cloned().collect();
            if kept.len() == owners.len() {
                return Ok(());
            }
            patch_owner_references(shared, &dependent, &owners, &kept).await
        }
        .await;
        if let Err(e) = result {
            failure = Some(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    debug!(object = %describe(&item), "dependents orphaned");
    remove_finalizer(shared, &item, ORPHAN_FINALIZER).await
}

async fn remove_finalizer(shared: &Shared, item: &Observed, finalizer: &str) -> Result<()> {
    let Some(meta) = latest(shared, item).await? else {
        return Ok(());
    };
    let finalizers = meta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
    let mut ops = vec![
        json!({"op": "test", "path": "/metadata/uid", "value": item.uid}),
        json!({"op": "test", "path": "/metadata/finalizers", "value": finalizers}),
    ];
    ops.push(if kept.is_empty() {
        json!({"op": "remove", "path": "/metadata/finalizers"})
    } else {
        json!({"op": "replace", "path": "/metadata/finalizers", "value": kept})
    });
    debug!(object = %describe(item), finalizer, "removing finalizer");
    json_patch(shared, item, Value::Array(ops)).await
}

async fn patch_owner_references(
    shared: &Shared,
    item: &Observed,
    current: &[OwnerReference],
    wanted: &[OwnerReference],
) -> Result<()> {
    let mut ops = vec![
        json!({"op": "test", "path": "/metadata/uid", "value": item.uid}),
        json!({"op": "test", "path": "/metadata/ownerReferences", "value": current}),
    ];
    ops.push(if wanted.is_empty() {
        json!({"op": "remove", "path": "/metadata/ownerReferences"})
    } else {
        json!({"op": "replace", "path": "/metadata/ownerReferences", "value": wanted})
    });
    json_patch(shared, item, Value::Array(ops)).await
}

/// Sends a JSON patch (RFC 6902); its `test` operations make it conditional on what was read.
async fn json_patch(shared: &Shared, item: &Observed, ops: Value) -> Result<()> {
    let api = api(shared, &item.resource, item.namespace.as_deref());
    let action = || format!("patching {}", describe(item));
    let request = http::Request::patch(format!("{}/{}", api.resource_url(), item.name))
        .header(http::header::CONTENT_TYPE, "application/json-patch+json")
        .header(http::header::ACCEPT, "application/json")
        .body(ops.to_string().into_bytes())
        .map_err(|e| api_error(action())(kube::Error::HttpError(e)))?;
    match shared.client.request::<Value>(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(api_error(action())(e)),
    }
}
