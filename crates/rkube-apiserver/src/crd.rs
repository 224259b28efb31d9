//! CustomResourceDefinitions: each established CRD's served versions become resources of the
//! registry; deleting a CRD deletes its objects.

use rkube_api::{ResourceInfo, Subresource};
use rkube_store::ListOptions;
use serde_json::{Value, json};

use crate::ApiServer;
use crate::object;
use crate::registry::{CustomVersion, Served};
use crate::rest::{parse_stored, store_error};
use crate::status::Result;

const CRD_PREFIX: &str = "/apiextensions.k8s.io/customresourcedefinitions/";
const VERBS: [&str; 8] = [
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The served resources of one CRD.
pub fn served_versions(crd: &Value) -> Vec<Served> {
    let spec = crd.get("spec").cloned().unwrap_or(json!({}));
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let names = spec.get("names").cloned().unwrap_or(json!({}));
    let kind = names
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let plural = names
        .get("plural")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if group.is_empty() || kind.is_empty() || plural.is_empty() {
        return Vec::new();
    }
    let singular = names
        .get("singular")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let list_kind = names
        .get("listKind")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{kind}List"));
    let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage_version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").and_then(Value::as_str))
        .unwrap_or("v1")
        .to_string();
    let whole = std::sync::Arc::new(crd.clone());
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
        .filter_map(|v| {
            let version = v.get("name").and_then(Value::as_str)?.to_string();
            let status = v.pointer("/subresources/status").is_some();
            let scale = v.pointer("/subresources/scale").cloned();
            let mut subresources = Vec::new();
            if status {
                subresources.push(Subresource {
                    name: "status".into(),
                    kind: kind.clone(),
                    group: group.clone(),
                    version: version.clone(),
                    verbs: vec!["get".into(), "patch".into(), "update".into()],
                });
            }
            if scale.is_some() {
                subresources.push(Subresource {
                    name: "scale".into(),
                    kind: "Scale".into(),
                    group: "autoscaling".into(),
                    version: "v1".into(),
                    verbs: vec!["get".into(), "patch".into(), "update".into()],
                });
            }
            Some(Served {
                info: ResourceInfo {
                    group: group.clone(),
                    version: version.clone(),
                    kind: kind.clone(),
                    list_kind: list_kind.clone(),
                    plural: plural.clone(),
                    singular: singular.clone(),
                    namespaced,
                    short_names: strings(names.get("shortNames")),
                    categories: strings(names.get("categories")),
                    verbs: VERBS.iter().map(|s| s.to_string()).collect(),
                    subresources,
                    storage_group: group.clone(),
                    storage_version: storage_version.clone(),
                },
                custom: Some(CustomVersion {
                    crd: whole.clone(),
                    schema: v.pointer("/schema/openAPIV3Schema").cloned(),
                    printer_columns: v
                        .get("additionalPrinterColumns")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    status,
                    scale,
                }),
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
