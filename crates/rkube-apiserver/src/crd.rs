//! CustomResourceDefinitions: each established CRD's served versions become resources of the
//! registry; deleting a CRD deletes its objects.

use std::sync::Arc;

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
    for kv in &page.items {
        let crd = parse_stored(kv)?;
        if !object::is_deleting(&crd) {
            custom.extend(served_versions(&crd));
        }
    }
    let registry = api.registry().with_custom(custom);
    api.set_registry(registry);
    Ok(())
}

/// Deletes every object of a CRD that was deleted.
pub async fn delete_instances(api: &ApiServer, crd: &Value) -> Result<()> {
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
