//! delete, deletecollection, and the pod subresources that end in a state change
//! (binding, eviction).

use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::write::value_fn;
use super::{Ctx, parse_stored, store_error};
use crate::deletion;
use crate::kinds;
use crate::object;
use crate::selection::Filter;
use crate::status::{ApiError, Result, success_status};
use crate::{Body, json_response};

/// `DeleteOptions` from the body and the query.
#[derive(Debug, Default)]
pub(super) struct DeleteOptions {
    grace_period: Option<i64>,
    propagation: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
}

/// The outcome of deleting one object.
pub(super) enum Deleted {
    /// Gone; the last state.
    Now(Value),
    /// Still there with deletionTimestamp set (finalizers or grace period).
    Pending(Value),
}

impl Ctx<'_> {
    fn delete_options(&self) -> Result<DeleteOptions> {
        let mut o = DeleteOptions::default();
        if !self.call.body.is_empty() {
            let body: Value = serde_json::from_slice(&self.call.body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
            o.grace_period = body.get("gracePeriodSeconds").and_then(Value::as_i64);
            o.propagation = body
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_string);
            o.uid = body
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            o.resource_version = body
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
                o.propagation = Some("Orphan".into());
            }
        }
        if let Some(g) = self.param("gracePeriodSeconds") {
            o.grace_period =
                Some(g.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds {g:?}"))
                })?);
        }
        if let Some(p) = self.param("propagationPolicy") {
            o.propagation = Some(p.to_string());
        }
        if let Some(p) = &o.propagation
            && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
        {
            return Err(ApiError::unprocessable_patch(&format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        Ok(o)
    }

    pub(super) async fn delete(&self) -> Result<Response<Body>> {
        let options = self.delete_options()?;
        if self.served.info.group == "scheduling.k8s.io"
            && self.served.info.plural == "priorityclasses"
            && crate::priority::is_system_class(self.name())
        {
            return Err(ApiError::forbidden_message(
                self.subject(self.name()),
                "this is a system priority class and cannot be deleted",
            ));
        }
        match self.delete_one(self.name(), &options).await? {
            Deleted::Now(obj) => {
                if deletion::returns_deleted_object(&self.served) {
                    self.respond_object(StatusCode::OK, None, &obj)
                } else {
                    Ok(json_response(
                        StatusCode::OK,
                        &success_status(self.subject(object::name(&obj)), object::uid(&obj)),
                    ))
                }
            }
            Deleted::Pending(obj) => self.respond_object(StatusCode::ACCEPTED, None, &obj),
        }
    }

    /// Deletes one object by name, honouring preconditions, finalizers and grace periods.
    pub(super) async fn delete_one(&self, name: &str, options: &DeleteOptions) -> Result<Deleted> {
        let api = self.call.api;
        let key = self.key(name);
        for _ in 0..16 {
            let current = self.load(name).await?;
            let obj = self.read(&current)?;
            if let Some(uid) = &options.uid
                && uid != object::uid(&obj)
            {
                return Err(ApiError::conflict_message(
                    self.subject(name),
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        object::uid(&obj)
                    ),
                ));
            }
            if let Some(rv) = &options.resource_version
                && rv != object::resource_version(&obj)
            {
                return Err(ApiError::conflict_message(
                    self.subject(name),
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        object::resource_version(&obj)
                    ),
                ));
            }
            let grace = deletion::grace_period(&self.served, &obj, options.grace_period);
            let mut pending = obj.clone();
            let needs_wait = deletion::mark_deleting(
                &self.served,
                &mut pending,
                grace,
                options.propagation.as_deref(),
            );
            if needs_wait {
                if pending == obj {
                    return Ok(Deleted::Pending(obj));
                }
                if self.dry_run() {
                    return Ok(Deleted::Pending(pending));
                }
                match api
                    .inner
                    .store
                    .update(&key, current.mod_revision, self.store_value(&pending)?)
                    .await
                {
                    Ok(kv) => {
                        object::set_resource_version(&mut pending, kv.mod_revision);
                        kinds::after_write(api, &self.served, Some(&pending)).await?;
                        return Ok(Deleted::Pending(pending));
                    }
                    Err(rkube_store::Error::Conflict { .. } | rkube_store::Error::NotFound(_)) => {
                        continue;
                    }
                    Err(e) => return Err(store_error(e)),
                }
            }
            if self.dry_run() {
                return Ok(Deleted::Now(obj));
            }
            match api
                .inner
                .store
                .delete(&key, Some(current.mod_revision))
                .await
            {
                Ok(_) => {
                    kinds::after_write(api, &self.served, None).await?;
                    return Ok(Deleted::Now(obj));
                }
                Err(rkube_store::Error::Conflict { .. }) => continue,
                Err(rkube_store::Error::NotFound(_)) => {
                    return Err(ApiError::not_found(self.subject(name)));
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ApiError::conflict(self.subject(name)))
    }

    pub(super) async fn delete_collection(&self) -> Result<Response<Body>> {
        let options = self.delete_options()?;
        let filter = Filter::from_query(&self.served, self.call.query)?;
        let (items, revision, _) = self.read_list(&filter, true).await?;
        let mut deleted = Vec::new();
        for kv in items {
            let obj = self.read(&kv)?;
            match self.delete_one(object::name(&obj), &options).await {
                Ok(Deleted::Now(o) | Deleted::Pending(o)) => deleted.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let info = &self.served.info;
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "kind": info.list_kind,
                "apiVersion": info.api_version(),
                "metadata": {"resourceVersion": revision.to_string()},
                "items": deleted,
            }),
        ))
    }

    /// `POST pods/{name}/binding`: assigns the pod to a node, once.
    pub(super) async fn bind(&self) -> Result<Response<Body>> {
        let binding: Value = crate::codec::decode_object(
            self.call
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            &self.call.body,
        )?;
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if node.is_empty() {
            return Err(ApiError::unprocessable_patch(
                "Binding.target.name: Required value",
            ));
        }
        let name = self.name().to_string();
        let key = self.key(&name);
        let api = self.call.api;
        for _ in 0..16 {
            let current = self.load(&name).await?;
            let mut pod = parse_stored(&current)?;
            if object::is_deleting(&pod) {
                return Err(ApiError::conflict_message(
                    self.subject(&name),
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            if let Some(existing) = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                return Err(ApiError::conflict_message(
                    self.subject(&name),
                    &format!("pod {name} is already assigned to node \"{existing}\""),
                ));
            }
            if let Some(uid) = binding.pointer("/metadata/uid").and_then(Value::as_str)
                && uid != object::uid(&pod)
            {
                return Err(ApiError::conflict_message(
                    self.subject(&name),
                    "the UID of the binding does not match the pod",
                ));
            }
            pod["spec"]["nodeName"] = json!(node);
            kinds::set_condition(&mut pod, "PodScheduled", "True", None, None);
            if self.dry_run() {
                break;
            }
            match api
                .inner
                .store
                .update(&key, current.mod_revision, value_fn(pod.clone()))
                .await
            {
                Ok(_) => break,
                Err(rkube_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ))
    }

    /// `POST pods/{name}/eviction`: deletes the pod with the eviction's delete options.
    pub(super) async fn evict(&self) -> Result<Response<Body>> {
        let eviction: Value = crate::codec::decode_object(
            self.call
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            &self.call.body,
        )?;
        let mut options = DeleteOptions::default();
        if let Some(d) = eviction.get("deleteOptions") {
            options.grace_period = d.get("gracePeriodSeconds").and_then(Value::as_i64);
            options.uid = d
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        self.delete_one(self.name(), &options).await?;
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ))
    }
}
