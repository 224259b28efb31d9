//! What the server does differently per kind when writing: conversion to the storage version,
//! defaulting, validation, status handling, generation, managed fields, patches and the write
//! hooks that keep CRDs working. The kind knowledge itself lives in `rkube-api`; deletion rules
//! are in `deletion`, selectors in `selection`, tables in `render`.

use serde_json::{Value, json};

use crate::ApiServer;
use crate::object;
use crate::registry::{Registry, Served};
use crate::rest::{parse_stored, store_error};
use crate::status::{ApiError, Result, StatusCause, Subject};

/// Whether objects of this resource are stored at another group/version than it is served at.
pub fn converts(served: &Served) -> bool {
    served.info.version != served.info.storage_version
        || served.info.group != served.info.storage_group
}

/// Converts an object between the served version and the storage version (`to_storage`).
pub fn convert(served: &Served, obj: &Value, to_storage: bool) -> Result<Value> {
    let info = &served.info;
    let target = match (to_storage, info.storage_group.as_str()) {
        (false, _) => info.api_version(),
        (true, "") => info.storage_version.clone(),
        (true, g) => format!("{g}/{}", info.storage_version),
    };
    let converted = if served.custom.is_some() {
        rkube_api::conversion::convert_none(obj, &target)
    } else {
        rkube_api::conversion::convert(obj, &target)
    };
    converted.map_err(|e| ApiError::internal(format!("converting to {target}: {e}")))
}

pub(crate) fn is_kind(served: &Served, group: &str, kind: &str) -> bool {
    served.custom.is_none() && served.info.group == group && served.info.kind == kind
}

fn has_status(served: &Served) -> bool {
    match &served.custom {
        Some(c) => c.status,
        None => served.info.has_subresource("status"),
    }
}

/// Whether spec changes bump `metadata.generation` for this kind.
fn tracks_generation(served: &Served) -> bool {
    if served.custom.is_some() {
        return true;
    }
    matches!(
        (served.info.group.as_str(), served.info.kind.as_str()),
        ("apps", _)
            | ("batch", _)
            | ("", "ReplicationController" | "Pod")
            | ("autoscaling", _)
            | ("policy", _)
            | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
            | ("apiextensions.k8s.io", _)
    )
}

/// Create-time preparation: status reset, generation, defaults, CRD status.
pub fn prepare_create(served: &Served, obj: &mut Value) {
    if tracks_generation(served) {
        object::meta_mut(obj).insert("generation".into(), json!(1));
    }
    if has_status(served)
        && !is_kind(served, "", "Node")
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    if is_kind(served, "batch", "Job") {
        let uid = object::uid(obj).to_string();
        rkube_api::defaults::generate_job_selector(obj, &uid);
    }
    let pod_priority_fields =
        is_kind(served, "", "Pod").then(|| crate::priority::ClientPriorityFields::of(obj));
    default(served, obj);
    if let Some(fields) = pod_priority_fields {
        fields.drop_defaulted(obj);
    }
    if is_kind(served, "", "Pod") {
        let qos = pod_qos_class(obj);
        obj["status"] = json!({"phase": "Pending", "qosClass": qos});
    } else if is_kind(served, "", "Namespace") {
        obj["status"] = json!({"phase": "Active"});
    } else if is_kind(served, "", "PersistentVolumeClaim")
        || is_kind(served, "", "PersistentVolume")
    {
        obj["status"] = json!({"phase": "Pending"});
    } else if is_kind(served, "", "Service") {
        obj["status"] = json!({"loadBalancer": {}});
    } else if is_kind(served, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crate::crd::initial_status(obj);
        crate::crd::add_cleanup_finalizer(obj);
    } else if has_status(served) && served.custom.is_none() && !is_kind(served, "", "Node") {
        obj["status"] = json!({});
    }
}

fn default(served: &Served, obj: &mut Value) {
    match &served.custom {
        Some(c) => {
            if let Some(schema) = &c.schema {
                let schema = rkube_api::schema::SchemaRef::structural(schema);
                rkube_api::schema::prune(schema, obj);
                rkube_api::schema::apply_defaults(schema, obj);
            }
        }
        None => rkube_api::defaults::default_object(
            &served.info.group,
            &served.info.version,
            &served.info.kind,
            obj,
        ),
    }
}

/// Upstream's QoS class of a pod: Guaranteed, Burstable or BestEffort.
fn pod_qos_class(pod: &Value) -> &'static str {
    use rkube_api::validation::quantity::parse_value;
    let mut any = false;
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        for r in ["cpu", "memory"] {
            let req = requests
                .and_then(|m| m.get(r))
                .and_then(|v| parse_value(v).ok());
            let lim = limits
                .and_then(|m| m.get(r))
                .and_then(|v| parse_value(v).ok());
            if req.as_ref().is_some_and(|q| q.milli_value() != 0)
                || lim.as_ref().is_some_and(|q| q.milli_value() != 0)
            {
                any = true;
            }
            match (req, lim) {
                (_, None) => guaranteed = false,
                (Some(q), Some(l)) if q != l => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// Update-time preparation: immutable metadata, status vs spec, generation.
pub fn prepare_update(served: &Served, subresource: Option<&str>, old: &Value, new: &mut Value) {
    let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
    match subresource {
        Some("status") => {
            let status = new.get("status").cloned();
            let managed = new.pointer("/metadata/managedFields").cloned();
            *new = old.clone();
            match status {
                Some(s) => new["status"] = s,
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            if let Some(m) = managed {
                object::meta_mut(new).insert("managedFields".into(), m);
            }
            return;
        }
        Some("finalize") => {
            let finalizers = new
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            *new = old.clone();
            new["spec"]["finalizers"] = finalizers;
            return;
        }
        _ => {}
    }
    if has_status(served) {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    default(served, new);
    let meta = object::meta_mut(new);
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "name",
        "namespace",
    ] {
        match old_meta.get(k) {
            Some(v) => {
                meta.insert(k.into(), v.clone());
            }
            None => {
                meta.remove(k);
            }
        }
    }
    if !meta.contains_key("managedFields")
        && let Some(m) = old_meta.get("managedFields")
    {
        meta.insert("managedFields".into(), m.clone());
    }
    meta.remove("generation");
    if let Some(g) = old_meta.get("generation") {
        let spec_changed = object::spec_part(old) != object::spec_part(new);
        let g = g.as_i64().unwrap_or(1) + i64::from(spec_changed);
        object::meta_mut(new).insert("generation".into(), json!(g));
    }
}

/// Checks every write must pass: the namespace exists and is not terminating (creates); the
/// Priority plugin for Pods and PriorityClasses.
pub async fn admit_common(
    api: &ApiServer,
    served: &Served,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<()> {
    if is_kind(served, "", "Pod") {
        crate::priority::admit_pod(api, obj, old).await?;
    } else if is_kind(served, "scheduling.k8s.io", "PriorityClass") {
        crate::priority::admit_priority_class(api, obj, old).await?;
    }
    if !served.info.namespaced || old.is_some() {
        return Ok(());
    }
    let ns = object::namespace(obj).unwrap_or("").to_string();
    let key = format!("/core/namespaces/{ns}");
    let Some(kv) = api.inner.store.get(&key).await.map_err(store_error)? else {
        return Err(ApiError::not_found(Subject {
            group: "",
            resource: "namespaces",
            kind: "Namespace",
            name: &ns,
        }));
    };
    let namespace = parse_stored(&kv)?;
    if object::is_deleting(&namespace) {
        let subject = Subject {
            group: &served.info.group,
            resource: &served.info.plural,
            kind: &served.info.kind,
            name: object::name(obj),
        };
        return Err(ApiError::forbidden_message(
            subject,
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        ));
    }
    Ok(())
}

/// Validation: 422 Invalid with upstream's causes. Status writes get only the metadata rules.
pub fn validate(
    served: &Served,
    obj: &Value,
    old: Option<&Value>,
    subresource: Option<&str>,
) -> Result<()> {
    let info = &served.info;
    let errors: Vec<rkube_api::validation::FieldError> = match (&served.custom, old) {
        (None, Some(old)) if subresource == Some("status") => {
            rkube_api::validation::validate_status_update(obj, old)
        }
        (Some(c), _) => {
            let mut errs = rkube_api::validation::meta::validate_object_meta(
                obj,
                info.namespaced,
                rkube_api::validation::names::NameRule::Subdomain,
            );
            if let Some(old) = old {
                errs.extend(rkube_api::validation::meta::validate_object_meta_update(
                    obj, old,
                ));
            }
            if let Some(schema) = &c.schema {
                errs.extend(rkube_api::schema::validate(
                    rkube_api::schema::SchemaRef::structural(schema),
                    obj,
                ));
            }
            errs
        }
        (None, None) => {
            rkube_api::validation::validate_create(&info.group, &info.version, &info.kind, obj)
        }
        (None, Some(old)) => {
            rkube_api::validation::validate_update(&info.group, &info.version, &info.kind, obj, old)
        }
    };
    if errors.is_empty() {
        return Ok(());
    }
    let causes = errors
        .iter()
        .map(|e| StatusCause {
            reason: e.reason().to_string(),
            message: e.body(),
            field: e.field.clone(),
        })
        .collect();
    Err(ApiError::invalid(
        &info.group,
        &info.kind,
        object::name(obj),
        causes,
    ))
}

/// The patch schema (merge keys, list types) of a kind; custom resources have none (their
/// lists are atomic unless the CRD schema says otherwise, which is not read yet).
fn patch_schema(served: &Served) -> Box<dyn rkube_api::patch::PatchSchema> {
    match served.custom {
        Some(_) => Box::new(rkube_api::patch::NoPatchSchema),
        None => Box::new(rkube_api::patch::BuiltinPatchSchema::new(&served.info.kind)),
    }
}

/// Records field ownership of a non-apply write in `metadata.managedFields`.
pub fn record_managed_fields(
    served: &Served,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    operation: &str,
    subresource: Option<&str>,
) {
    let schema = patch_schema(served);
    rkube_api::apply::update_managed_fields(
        old,
        new,
        manager,
        operation,
        &served.info.api_version(),
        subresource,
        &object::now_rfc3339(),
        schema.as_ref(),
    );
}

/// Whether an update changes nothing worth a write: equal but for `metadata.resourceVersion`
/// and the times of managedFields entries. Compared in place (it runs on every update).
pub fn same_object(old: &Value, new: &Value) -> bool {
    match (old.as_object(), new.as_object()) {
        (Some(o), Some(n)) => same_entries(o, n, &[], |key, a, b| {
            if key == "metadata" {
                same_metadata(a, b)
            } else {
                a == b
            }
        }),
        _ => old == new,
    }
}

/// Whether two maps have the same entries, leaving out `ignored` keys and comparing values
/// with `eq`.
fn same_entries(
    old: &serde_json::Map<String, Value>,
    new: &serde_json::Map<String, Value>,
    ignored: &[&str],
    eq: impl Fn(&str, &Value, &Value) -> bool,
) -> bool {
    let kept = |key: &String| !ignored.contains(&key.as_str());
    old.keys().filter(|k| kept(k)).count() == new.keys().filter(|k| kept(k)).count()
        && old
            .iter()
            .filter(|(k, _)| kept(k))
            .all(|(k, v)| new.get(k).is_some_and(|w| eq(k, v, w)))
}

fn same_metadata(old: &Value, new: &Value) -> bool {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return old == new;
    };
    same_entries(o, n, &["resourceVersion"], |key, a, b| {
        if key != "managedFields" {
            return a == b;
        }
        match (a.as_array(), b.as_array()) {
            (Some(a), Some(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| match (x.as_object(), y.as_object()) {
                            (Some(x), Some(y)) => same_entries(x, y, &["time"], |_, p, q| p == q),
                            _ => x == y,
                        })
            }
            _ => a == b,
        }
    })
}

/// Whether PUT may create a missing object (upstream's AllowCreateOnUpdate).
pub fn allows_create_on_update(served: &Served) -> bool {
    served.custom.is_none()
        && matches!(
            (served.info.group.as_str(), served.info.kind.as_str()),
            ("", "Endpoints") | ("coordination.k8s.io", "Lease") | ("", "Event")
        )
}

/// Whether strategic merge patch applies (built-in kinds only, as upstream).
pub fn supports_strategic_merge(served: &Served) -> bool {
    served.custom.is_none()
        && rkube_api::patch::supports_strategic_merge(&served.info.group, &served.info.kind)
}

/// Applies a strategic merge patch.
pub fn strategic_merge(served: &Served, current: &Value, patch: &Value) -> Result<Value> {
    rkube_api::patch::strategic_merge_patch(current, patch, patch_schema(served).as_ref())
        .map_err(|e| ApiError::unprocessable_patch(&e.to_string()))
}

/// Server-side apply of `applied` onto `current` by `manager`.
pub fn apply(
    served: &Served,
    current: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    name: &str,
) -> Result<Value> {
    rkube_api::apply::apply(
        current,
        applied,
        manager,
        force,
        patch_schema(served).as_ref(),
        &object::now_rfc3339(),
    )
    .map_err(|e| match e {
        rkube_api::apply::ApplyError::Conflicts(_) => {
            let subject = Subject {
                group: &served.info.group,
                resource: &served.info.plural,
                kind: &served.info.kind,
                name,
            };
            let mut err = ApiError::conflict_message(subject, "");
            err.message = e.to_string();
            err
        }
        other => ApiError::bad_request(other.to_string()),
    })
}

/// Sets a status condition (type, status, reason, message) with transition time.
pub fn set_condition(
    obj: &mut Value,
    kind: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
) {
    if !obj.get("status").is_some_and(Value::is_object) {
        obj["status"] = json!({});
    }
    let conditions = obj["status"]
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    let Some(Value::Array(conditions)) = conditions else {
        return;
    };
    let mut c = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": object::now_rfc3339()});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    match conditions
        .iter_mut()
        .find(|x| x.get("type").and_then(Value::as_str) == Some(kind))
    {
        Some(existing) => *existing = c,
        None => conditions.push(c),
    }
}

/// Hooks after a successful write: CRDs change what is served. (Deleted namespaces are
/// emptied by the namespace controller, through the API.)
pub async fn after_write(api: &ApiServer, served: &Served, new: Option<&Value>) -> Result<()> {
    if is_kind(served, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crate::crd::reload(api).await?;
        if let Some(crd) = new.filter(|c| object::is_deleting(c)) {
            crate::crd::clean_up_later(api.clone(), crd.clone());
        }
    }
    Ok(())
}

/// Checks unknown and duplicate fields per `fieldValidation` (Strict: 400; Warn: warnings;
/// Ignore: nothing). Returns the warnings.
pub fn field_validation(
    cache: &crate::openapi::OpenApiCache,
    registry: &Registry,
    served: &Served,
    directive: Option<&str>,
    is_json: bool,
    raw: &[u8],
    obj: &Value,
) -> Result<Vec<String>> {
    let directive = directive.unwrap_or("Warn");
    if directive == "Ignore" {
        return Ok(Vec::new());
    }
    if !matches!(directive, "Strict" | "Warn") {
        return Err(ApiError::bad_request(format!(
            "fieldValidation parameter unsupported: {directive}, must be one of Ignore, Warn, Strict"
        )));
    }
    let mut problems = Vec::new();
    if is_json && let Ok(dups) = rkube_api::schema::duplicate_fields(raw) {
        problems.extend(dups.into_iter().map(|d| format!("duplicate field \"{d}\"")));
    }
    let unknown =
        |schema: rkube_api::schema::SchemaRef<'_>| rkube_api::schema::unknown_fields(schema, obj);
    match &served.custom {
        Some(c) => {
            if let Some(schema) = &c.schema {
                problems.extend(
                    unknown(rkube_api::schema::SchemaRef::structural(schema))
                        .into_iter()
                        .map(|f| format!("unknown field \"{f}\"")),
                );
            }
        }
        None => {
            if let Some(doc) =
                cache.validation_document(registry, &served.info.group, &served.info.version)
            {
                let info = &served.info;
                if let Some(schema) = rkube_api::schema::SchemaRef::for_kind(
                    &doc,
                    &info.group,
                    &info.version,
                    &info.kind,
                ) {
                    problems.extend(
                        unknown(schema)
                            .into_iter()
                            .map(|f| format!("unknown field \"{f}\"")),
                    );
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    if directive == "Warn" {
        return Ok(problems);
    }
    let kind = &served.info.kind;
    Err(ApiError::bad_request(format!(
        "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
        served.info.version,
        problems.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_object_ignores_resource_version_and_managed_field_times() {
        let object = |rv: &str, time: &str, replicas: i64| {
            json!({
                "apiVersion": "v1",
                "kind": "ReplicationController",
                "metadata": {
                    "name": "a",
                    "resourceVersion": rv,
                    "managedFields": [{"manager": "kubectl", "time": time, "fieldsV1": {"f:spec": {}}}],
                },
                "spec": {"replicas": replicas},
            })
        };
        assert!(same_object(&object("1", "t1", 1), &object("2", "t2", 1)));
        assert!(!same_object(&object("1", "t1", 1), &object("1", "t1", 2)));
        let mut more = object("1", "t1", 1);
        more["metadata"]["labels"] = json!({"a": "b"});
        assert!(!same_object(&object("1", "t1", 1), &more));
        assert!(!same_object(&more, &object("1", "t1", 1)));
        let mut other_manager = object("1", "t1", 1);
        other_manager["metadata"]["managedFields"][0]["manager"] = json!("other");
        assert!(!same_object(&object("1", "t1", 1), &other_manager));
    }
}
