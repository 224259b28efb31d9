//! The scale subresource: an `autoscaling/v1` Scale view of a workload's replicas.

use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::Ctx;
use crate::codec;
use crate::object;
use crate::registry::Served;
use crate::status::{ApiError, Result};
use crate::{Body, json_response};

/// Where a resource keeps replicas and selector (JSON pointers).
struct ScalePaths {
    spec_replicas: String,
    status_replicas: String,
    selector: Option<String>,
}

fn jsonpath_to_pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |acc, p| format!("{acc}/{p}"))
}

fn paths(served: &Served) -> ScalePaths {
    if let Some(scale) = served.custom.as_ref().and_then(|c| c.scale.as_ref()) {
        let get = |k: &str| {
            scale
                .get(k)
                .and_then(Value::as_str)
                .map(jsonpath_to_pointer)
        };
        return ScalePaths {
            spec_replicas: get("specReplicasPath").unwrap_or_else(|| "/spec/replicas".into()),
            status_replicas: get("statusReplicasPath").unwrap_or_else(|| "/status/replicas".into()),
            selector: get("labelSelectorPath"),
        };
    }
    ScalePaths {
        spec_replicas: "/spec/replicas".into(),
        status_replicas: "/status/replicas".into(),
        selector: None,
    }
}

/// The Scale of an object.
fn to_scale(served: &Served, obj: &Value) -> Value {
    let p = paths(served);
    let selector = match &p.selector {
        Some(ptr) => obj
            .pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        None => match obj.pointer("/spec/selector") {
            Some(sel) if served.info.kind == "ReplicationController" => sel
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
            Some(sel) => rkube_api::selector::LabelSelector::from_json(sel)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            None => String::new(),
        },
    };
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let mut scale_meta = json!({});
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(k) {
            scale_meta[k] = v.clone();
        }
    }
    let mut status =
        json!({"replicas": obj.pointer(&p.status_replicas).and_then(Value::as_i64).unwrap_or(0)});
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": obj.pointer(&p.spec_replicas).and_then(Value::as_i64).unwrap_or(0)},
        "status": status,
    })
}

fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return;
        }
        cur = map.entry((*part).to_string()).or_insert_with(|| json!({}));
    }
}

impl Ctx<'_> {
    pub(super) async fn get_scale(&self) -> Result<Response<Body>> {
        let obj = self.read(&self.load(self.name()).await?)?;
        Ok(json_response(StatusCode::OK, &to_scale(&self.served, &obj)))
    }

    pub(super) async fn update_scale(&self) -> Result<Response<Body>> {
        let ct = self
            .call
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let scale = codec::decode_object(ct, &self.call.body)?;
        self.write_scale(
            |_| Ok(scale.clone()),
            Some(object::resource_version(&scale).to_string()).filter(|s| !s.is_empty()),
        )
        .await
    }

    pub(super) async fn patch_scale(&self) -> Result<Response<Body>> {
        let ct = self
            .call
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let patch_type = codec::content_type_essence(ct).to_string();
        let body = self.call.body.clone();
        self.write_scale(
            |current_scale| match patch_type.as_str() {
                "application/json-patch+json" => rkube_api::patch::json_patch(current_scale, &body)
                    .map_err(|e| ApiError::unprocessable_patch(&e.to_string())),
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    let p: Value = serde_json::from_slice(&body)
                        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                    Ok(rkube_api::patch::merge_patch(current_scale, &p))
                }
                other => Err(ApiError::unsupported_media_type(other)),
            },
            None,
        )
        .await
    }

    async fn write_scale(
        &self,
        new_scale: impl Fn(&Value) -> Result<Value>,
        precondition: Option<String>,
    ) -> Result<Response<Body>> {
        let served = self.served.clone();
        let manager = self.field_manager()?;
        let p = paths(&served);
        let written = self
            .guaranteed_update(precondition, &manager, "Update", false, |current| {
                let current =
                    current.ok_or_else(|| ApiError::not_found(self.subject(self.name())))?;
                let scale = new_scale(&to_scale(&served, current))?;
                let replicas = scale
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if replicas < 0 {
                    return Err(ApiError::invalid(
                        "autoscaling",
                        "Scale",
                        self.name(),
                        vec![crate::status::StatusCause {
                            reason: "FieldValueInvalid".into(),
                            message: format!(
                                "Invalid value: {replicas}: must be greater than or equal to 0"
                            ),
                            field: "spec.replicas".into(),
                        }],
                    ));
                }
                let mut obj = current.clone();
                set_pointer(&mut obj, &p.spec_replicas, json!(replicas));
                Ok(obj)
            })
            .await?;
        Ok(json_response(
            StatusCode::OK,
            &to_scale(&served, &written.obj),
        ))
    }
}
