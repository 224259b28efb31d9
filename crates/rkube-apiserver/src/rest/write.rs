//! create, update and patch: decode → admit (defaults, validation, kind rules) → store CAS →
//! respond. A failure at any step writes nothing.

use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::{Ctx, store_error};
use crate::Body;
use crate::codec;
use crate::kinds;
use crate::object;
use crate::status::{ApiError, Result};

/// How many times an unconditional write retries after losing a compare-and-swap race.
const MAX_RETRIES: usize = 16;

/// What a write produced.
pub(super) struct Written {
    pub obj: Value,
    pub raw: Option<bytes::Bytes>,
    pub created: bool,
}

impl Ctx<'_> {
    /// The field manager of this request: the query's `fieldManager`, else upstream's default
    /// from the User-Agent.
    pub(super) fn field_manager(&self) -> Result<String> {
        if let Some(m) = self.param("fieldManager") {
            if m.len() > 128 {
                return Err(ApiError::bad_request(
                    "fieldManager: Too long: may not be more than 128 bytes",
                ));
            }
            return Ok(m.to_string());
        }
        let ua = self
            .call
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        Ok(ua.split('/').next().unwrap_or("unknown").to_string())
    }

    /// Checks apiVersion/kind of a body against the resource, filling them in when absent.
    fn check_type_meta(&self, obj: &mut Value) -> Result<()> {
        let info = &self.served.info;
        let want_api = info.api_version();
        let map = obj
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("the body must be an object"))?;
        match map.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => {
                map.insert("apiVersion".into(), json!(want_api));
            }
            Some(v) if v == want_api => {}
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({want_api})"
                )));
            }
        }
        match map.get("kind").and_then(Value::as_str) {
            None | Some("") => {
                map.insert("kind".into(), json!(info.kind));
            }
            Some(k) if k == info.kind => {}
            Some(k) => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    info.kind
                )));
            }
        }
        Ok(())
    }

    /// Checks (and fills) metadata.namespace against the URL.
    fn check_namespace(&self, obj: &mut Value) -> Result<()> {
        let meta = object::meta_mut(obj);
        if !self.served.info.namespaced {
            meta.remove("namespace");
            return Ok(());
        }
        let url_ns = self.namespace().unwrap_or("");
        match meta.get("namespace").and_then(Value::as_str) {
            None | Some("") => {
                if url_ns.is_empty() {
                    return Err(ApiError::bad_request(
                        "the namespace of the object is required",
                    ));
                }
                meta.insert("namespace".into(), json!(url_ns));
            }
            Some(ns) if ns == url_ns || url_ns.is_empty() => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        Ok(())
    }

    /// Decodes the body as an object of this resource and checks fieldValidation.
    fn decode_body(&self) -> Result<(Value, Vec<String>)> {
        let ct = self
            .call
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let mut obj = codec::decode_object(ct, &self.call.body)?;
        self.check_type_meta(&mut obj)?;
        let warnings = kinds::field_validation(
            &self.call.api.inner.openapi,
            &self.call.api.registry(),
            &self.served,
            self.param("fieldValidation"),
            codec::content_type_essence(ct) == "application/json",
            &self.call.body,
            &obj,
        )?;
        Ok((obj, warnings))
    }

    pub(super) async fn create(&self) -> Result<Response<Body>> {
        let (mut obj, warnings) = self.decode_body()?;
        self.check_namespace(&mut obj)?;
        let manager = self.field_manager()?;
        let written = self.create_object(obj, Some(&manager)).await?;
        let mut resp = self.respond_object(StatusCode::CREATED, written.raw, &written.obj)?;
        add_warnings(&mut resp, &warnings);
        Ok(resp)
    }

    /// Creates `obj` (type meta and namespace already checked).
    pub(super) async fn create_object(
        &self,
        mut obj: Value,
        manager: Option<&str>,
    ) -> Result<Written> {
        let api = self.call.api;
        {
            let meta = object::meta_mut(&mut obj);
            let name = meta
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if name.is_empty() {
                match meta
                    .get("generateName")
                    .and_then(Value::as_str)
                    .filter(|g| !g.is_empty())
                {
                    Some(g) => {
                        let base: String = g.chars().take(58).collect();
                        meta.insert(
                            "name".into(),
                            json!(format!("{base}{}", object::random_suffix())),
                        );
                    }
                    None => {
                        return Err(ApiError::invalid(
                            &self.served.info.group,
                            &self.served.info.kind,
                            "",
                            vec![crate::status::StatusCause {
                                reason: "FieldValueRequired".into(),
                                message: "Required value: name or generateName is required".into(),
                                field: "metadata.name".into(),
                            }],
                        ));
                    }
                }
            }
            if meta
                .get("resourceVersion")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
            {
                return Err(ApiError::bad_request(
                    "resourceVersion should not be set on objects to be created",
                ));
            }
            meta.insert("uid".into(), json!(object::new_uid()));
            meta.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
            meta.remove("selfLink");
        }
        kinds::prepare_create(&self.served, &mut obj);
        kinds::admit_common(api, &self.served, &mut obj, None).await?;
        kinds::validate(&self.served, &obj, None, None)?;
        let _allocation = crate::services::allocate(api, &self.served, &mut obj, None).await?;
        if let Some(manager) = manager {
            kinds::record_managed_fields(&self.served, None, &mut obj, manager, "Update", None);
        }
        let name = object::name(&obj).to_string();
        if self.dry_run() {
            return Ok(Written {
                obj,
                raw: None,
                created: true,
            });
        }
        let key = self.key(&name);
        let kv = api
            .inner
            .store
            .create(&key, self.store_value(&obj)?)
            .await
            .map_err(|e| match e {
                rkube_store::Error::AlreadyExists(_) => {
                    ApiError::already_exists(self.subject(&name))
                }
                other => store_error(other),
            })?;
        object::set_resource_version(&mut obj, kv.mod_revision);
        kinds::after_write(api, &self.served, Some(&obj)).await?;
        Ok(Written {
            obj,
            raw: self.raw(kv.value),
            created: true,
        })
    }

    pub(super) async fn update(&self) -> Result<Response<Body>> {
        let (mut body, warnings) = self.decode_body()?;
        self.check_namespace(&mut body)?;
        let body_name = object::name(&body).to_string();
        if body_name != self.name() {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({})",
                self.name()
            )));
        }
        let precondition =
            Some(object::resource_version(&body).to_string()).filter(|s| !s.is_empty());
        let manager = self.field_manager()?;
        let written = self
            .guaranteed_update(
                precondition,
                &manager,
                "Update",
                kinds::allows_create_on_update(&self.served),
                |_current| Ok(body.clone()),
            )
            .await?;
        let code = if written.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let mut resp = self.respond_object(code, written.raw, &written.obj)?;
        add_warnings(&mut resp, &warnings);
        Ok(resp)
    }

    pub(super) async fn patch(&self) -> Result<Response<Body>> {
        let ct = self
            .call
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let patch_type = codec::content_type_essence(ct).to_string();
        let manager = self.field_manager()?;
        if patch_type == "application/apply-patch+yaml"
            || patch_type == "application/apply-patch+cbor"
        {
            return self.server_side_apply(&manager).await;
        }
        let patch_body = self.call.body.clone();
        let patch_value: Option<Value> = match patch_type.as_str() {
            "application/json-patch+json" => None,
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => Some(
                serde_json::from_slice(&patch_body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
            ),
            other => return Err(ApiError::unsupported_media_type(other)),
        };
        if patch_type == "application/strategic-merge-patch+json"
            && !kinds::supports_strategic_merge(&self.served)
        {
            return Err(ApiError::unsupported_media_type(&format!(
                "{patch_type} is not supported for custom resources; use application/merge-patch+json"
            )));
        }
        let precondition = patch_value
            .as_ref()
            .and_then(|p| p.pointer("/metadata/resourceVersion"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let served = self.served.clone();
        let written = self
            .guaranteed_update(precondition, &manager, "Update", false, |current| {
                let current =
                    current.ok_or_else(|| ApiError::not_found(self.subject(self.name())))?;
                let patched = match patch_type.as_str() {
                    "application/json-patch+json" => {
                        rkube_api::patch::json_patch(current, &patch_body)
                            .map_err(|e| ApiError::unprocessable_patch(&e.to_string()))?
                    }
                    "application/merge-patch+json" => rkube_api::patch::merge_patch(
                        current,
                        patch_value.as_ref().unwrap_or(&Value::Null),
                    ),
                    _ => kinds::strategic_merge(
                        &served,
                        current,
                        patch_value.as_ref().unwrap_or(&Value::Null),
                    )?,
                };
                Ok(patched)
            })
            .await?;
        self.respond_object(StatusCode::OK, written.raw, &written.obj)
    }

    async fn server_side_apply(&self, manager: &str) -> Result<Response<Body>> {
        if self.param("fieldManager").is_none() {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
            ));
        }
        let mut applied = codec::decode_yaml(&self.call.body)?;
        self.check_type_meta(&mut applied)?;
        self.check_namespace(&mut applied)?;
        let force = matches!(self.param("force"), Some("true"));
        let served = self.served.clone();
        let subject_name = self.name().to_string();
        let written = self
            .guaranteed_update(None, manager, "Apply", true, |current| {
                kinds::apply(&served, current, &applied, manager, force, &subject_name)
            })
            .await?;
        let code = if written.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        self.respond_object(code, written.raw, &written.obj)
    }

    /// Reads the object, computes the new one with `mutate`, admits it and writes it with
    /// compare-and-swap; retries lost races unless the caller pinned a resourceVersion.
    pub(super) async fn guaranteed_update(
        &self,
        precondition: Option<String>,
        manager: &str,
        operation: &str,
        create_if_missing: bool,
        mut mutate: impl FnMut(Option<&Value>) -> Result<Value>,
    ) -> Result<Written> {
        let api = self.call.api;
        let name = self.name().to_string();
        let key = self.key(&name);
        for _ in 0..MAX_RETRIES {
            let current = api.inner.store.get(&key).await.map_err(store_error)?;
            let Some(current) = current else {
                if !create_if_missing || self.call.req.subresource.is_some() {
                    return Err(ApiError::not_found(self.subject(&name)));
                }
                let mut obj = mutate(None)?;
                self.check_type_meta(&mut obj)?;
                self.check_namespace(&mut obj)?;
                object::meta_mut(&mut obj).insert("name".into(), json!(name));
                // Apply has recorded its own managed fields; other writes record theirs now.
                let manager = if operation == "Apply" {
                    None
                } else {
                    Some(manager)
                };
                return self.create_object(obj, manager).await;
            };
            let old = self.read(&current)?;
            if let Some(rv) = &precondition
                && rv != object::resource_version(&old)
            {
                return Err(ApiError::conflict(self.subject(&name)));
            }
            let mut new = mutate(Some(&old))?;
            self.check_type_meta(&mut new)?;
            self.check_namespace(&mut new)?;
            let sub = self.call.req.subresource.as_deref();
            kinds::prepare_update(&self.served, sub, &old, &mut new);
            kinds::admit_common(api, &self.served, &mut new, Some(&old)).await?;
            let _allocation =
                crate::services::allocate(api, &self.served, &mut new, Some(&old)).await?;
            if operation != "Apply" {
                kinds::record_managed_fields(
                    &self.served,
                    Some(&old),
                    &mut new,
                    manager,
                    operation,
                    sub,
                );
            }
            if kinds::same_object(&old, &new) {
                return Ok(Written {
                    obj: old,
                    raw: self.raw(current.value),
                    created: false,
                });
            }
            kinds::validate(&self.served, &new, Some(&old), sub)?;
            if self.dry_run() {
                return Ok(Written {
                    obj: new,
                    raw: None,
                    created: false,
                });
            }
            if object::is_deleting(&new) && crate::deletion::finalizers_done(&self.served, &new) {
                // The last finalizer is gone: the object goes away now.
                match api
                    .inner
                    .store
                    .delete(&key, Some(current.mod_revision))
                    .await
                {
                    Ok(_) => {
                        kinds::after_write(api, &self.served, None).await?;
                        return Ok(Written {
                            obj: new,
                            raw: None,
                            created: false,
                        });
                    }
                    Err(rkube_store::Error::Conflict { .. }) if precondition.is_none() => continue,
                    Err(rkube_store::Error::Conflict { .. }) => {
                        return Err(ApiError::conflict(self.subject(&name)));
                    }
                    Err(e) => return Err(store_error(e)),
                }
            }
            match api
                .inner
                .store
                .update(&key, current.mod_revision, self.store_value(&new)?)
                .await
            {
                Ok(kv) => {
                    object::set_resource_version(&mut new, kv.mod_revision);
                    kinds::after_write(api, &self.served, Some(&new)).await?;
                    return Ok(Written {
                        obj: new,
                        raw: self.raw(kv.value),
                        created: false,
                    });
                }
                Err(rkube_store::Error::Conflict { .. } | rkube_store::Error::NotFound(_))
                    if precondition.is_none() =>
                {
                    continue;
                }
                Err(rkube_store::Error::Conflict { .. }) => {
                    return Err(ApiError::conflict(self.subject(&name)));
                }
                Err(rkube_store::Error::NotFound(_)) => {
                    return Err(ApiError::not_found(self.subject(&name)));
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ApiError::conflict(self.subject(&name)))
    }
}

/// The store value function: the object with its resourceVersion set to the write's revision.
pub(super) fn value_fn(mut obj: Value) -> rkube_store::ValueFn {
    Box::new(move |rev| {
        object::set_resource_version(&mut obj, rev);
        serde_json::to_vec(&obj).map_err(|e| e.to_string())
    })
}

/// Adds `Warning` headers (upstream's `299 - "text"` form).
pub(super) fn add_warnings(resp: &mut Response<Body>, warnings: &[String]) {
    for w in warnings {
        let text = format!("299 - {}", serde_json::Value::String(w.clone()));
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
}

impl ApiError {
    /// 422 for a patch that cannot be applied (upstream: "the server rejected our request due
    /// to an error in our request").
    pub fn unprocessable_patch(message: &str) -> ApiError {
        let mut e = ApiError::bad_request(message.to_string());
        e.code = 422;
        e.reason = "Invalid";
        e
    }
}
