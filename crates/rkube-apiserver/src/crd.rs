//! CustomResourceDefinitions: each established CRD's served versions become resources of the
//! registry; deleting a CRD deletes its objects.

use std::sync::Arc;

use tracing::Instrument;

use rkube_store::ListOptions;
use serde_json::{Value, json};

use crate::ApiServer;
use crate::object;
use crate::registry::{CustomVersion, Served};
use crate::rest::{parse_stored, store_error};
use crate::status::Result;

const CRD_PREFIX: &str = "/apiextensions.k8s.io/customresourcedefinitions/";
/// The served resources of one CRD, one per served version.
pub fn served_versions(crd: &Value) -> Vec<Served> {
    let whole = Arc::new(crd.clone());
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
        .filter_map(|v| {
            let version = v.get("name").and_then(Value::as_str)?;
            let info = rkube_api::openapi::crd_resource_info(crd, version)?;
            Some(Served {
                custom: Some(CustomVersion {
                    crd: whole.clone(),
                    schema: rkube_api::openapi::crd_version_schema(crd, version).cloned(),
                    printer_columns: v
                        .get("additionalPrinterColumns")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    status: info.has_subresource("status"),
                    scale: v.pointer("/subresources/scale").cloned(),
                }),
                info,
            })
        })
        .collect()
}

/// Status of a new CRD: names accepted and established at once.
pub fn initial_status(crd: &mut Value) {
    let now = object::now_rfc3339();
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    crd["status"] = json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "storedVersions": storage,
    });
}

/// Rebuilds the registry from the CRDs in the store.
pub async fn reload(api: &ApiServer) -> Result<()> {
    let _guard = api.inner.crd_lock.lock().await;
    let page = api
        .inner
        .store
        .list(CRD_PREFIX, ListOptions::default())
        .await
        .map_err(store_error)?;
    let mut custom = Vec::new();
    let mut deleting = Vec::new();
    for kv in &page.items {
        let crd = parse_stored(kv)?;
        if object::is_deleting(&crd) {
            deleting.push(crd);
        } else {
            custom.extend(served_versions(&crd));
        }
    }
    let registry = api.registry().with_custom(custom);
    api.set_registry(registry);
    if !api.inner.ready.load(std::sync::atomic::Ordering::SeqCst) {
        // Starting: finish the cleanups a stop interrupted.
        for crd in deleting {
            clean_up_later(api.clone(), crd);
        }
    }
    Ok(())
}

/// The finalizer that keeps a deleted CRD until its objects are gone (upstream's name).
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Adds the cleanup finalizer to a new CRD.
pub fn add_cleanup_finalizer(crd: &mut Value) {
    let meta = object::meta_mut(crd);
    let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(list) = finalizers
        .as_array_mut()
        .filter(|l| !l.iter().any(|f| f == CLEANUP_FINALIZER))
    {
        list.push(json!(CLEANUP_FINALIZER));
    }
}

/// Deletes a deleted CRD's objects, then removes its cleanup finalizer so the CRD goes away.
/// Crash-safe: the CRD stays (not served) until its objects are gone, and [`reload`] at start
/// resumes the cleanup of every CRD found deleting.
pub fn clean_up_later(api: ApiServer, crd: Value) {
    let name = object::name(&crd).to_string();
    let span = tracing::info_span!("crd-cleanup", crd = %name);
    tokio::spawn(
        async move {
            if let Err(e) = delete_instances(&api, &crd).await {
                tracing::warn!(error = %e, "deleting custom resources failed");
                return;
            }
            let remaining: Vec<String> = object::finalizers(&crd)
                .into_iter()
                .filter(|f| f != CLEANUP_FINALIZER)
                .collect();
            let patch = json!({"metadata": {"finalizers": remaining}});
            let path = format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}");
            let (code, body) = api.loopback_patch(&path, &patch).await;
            if !(200..300).contains(&code) && code != 404 {
                tracing::warn!(code, %body, "removing the cleanup finalizer failed");
            }
        }
        .instrument(span),
    );
}

/// Deletes every stored object of a CRD.
async fn delete_instances(api: &ApiServer, crd: &Value) -> Result<()> {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    if group.is_empty() || plural.is_empty() {
        return Ok(());
    }
    let prefix = format!("/{group}/{plural}/");
    let page = api
        .inner
        .store
        .list(&prefix, ListOptions::default())
        .await
        .map_err(store_error)?;
    for kv in page.items {
        match api.inner.store.delete(&kv.key, None).await {
            Ok(_) | Err(rkube_store::Error::NotFound(_)) => {}
            Err(e) => return Err(store_error(e)),
        }
    }
    Ok(())
}
