//! Validation of objects as upstream Kubernetes v1.33 does it, with upstream's field paths and
//! messages (`spec.containers[0].image: Required value`).
//!
//! Objects arrive already decoded and defaulted; these functions only read them. Status is out of
//! scope: status writes are validated by the caller, at most lightly.

pub mod apps;
pub mod batch;
pub mod cluster;
pub mod config;
pub mod container;
pub mod meta;
pub mod misc;
pub mod names;
pub mod networking;
pub mod pod;
pub mod quantity;
pub mod rbac;
pub mod scheduling_constraints;
pub mod service;
pub mod storage;

use serde_json::{Map, Value};

/// The kind of a field error; each maps to one upstream `CauseType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// A required value is missing (`FieldValueRequired`).
    Required,
    /// A value is malformed (`FieldValueInvalid`).
    Invalid,
    /// A value is not one of an enumeration (`FieldValueNotSupported`).
    NotSupported,
    /// A value that must be unique repeats (`FieldValueDuplicate`).
    Duplicate,
    /// A value is not allowed here (`FieldValueForbidden`).
    Forbidden,
    /// A value is too long (`FieldValueTooLong`).
    TooLong,
    /// A list has too many items (`FieldValueTooMany`).
    TooMany,
    /// A referenced value was not found (`FieldValueNotFound`).
    NotFound,
    /// Not the user's fault (`InternalError`).
    InternalError,
    /// The value has the wrong type (`FieldValueTypeInvalid`).
    TypeInvalid,
}

impl FieldErrorKind {
    /// Upstream's `CauseType` string.
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::NotFound => "FieldValueNotFound",
            FieldErrorKind::InternalError => "InternalError",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The words that start the message body, e.g. `Required value`.
    pub fn label(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::NotFound => "Not found",
            FieldErrorKind::InternalError => "Internal error",
        }
    }
}

/// The key of a one-entry object that carries a value already rendered the way Go's `%#v`
/// prints it (a struct such as `v1.LabelSelector{...}` or an `IntOrString`); it is printed raw.
pub const GO_RENDERED_KEY: &str = "$goValue";

/// One validation failure at one field path.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: FieldErrorKind,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
    /// The offending value; `None` leaves it out of the message.
    pub value: Option<Value>,
    /// Human-readable detail appended after the value.
    pub detail: String,
}

impl FieldError {
    /// `Required value`, with an optional detail.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Required, field, None, detail)
    }

    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(FieldErrorKind::Invalid, field, Some(value.into()), detail)
    }

    /// `Invalid value: <rendered>: <detail>` where `rendered` is printed as is (Go `%#v` text).
    pub fn invalid_rendered(
        field: impl Into<String>,
        rendered: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(
            FieldErrorKind::Invalid,
            field,
            Some(go_rendered(rendered)),
            detail,
        )
    }

    /// `Unsupported value: <value>: supported values: "a", "b"`.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<Value>,
        supported: &[&str],
    ) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(
            FieldErrorKind::NotSupported,
            field,
            Some(value.into()),
            detail,
        )
    }

    /// `Duplicate value: <value>`.
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorKind::Duplicate, field, Some(value.into()), "")
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Forbidden, field, None, detail)
    }

    /// `Too long: may not be more than <max> bytes`.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Self::new(
            FieldErrorKind::TooLong,
            field,
            None,
            format!("may not be more than {max_bytes} {unit}"),
        )
    }

    /// `Too many: <actual>: must have at most <max> items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max_items: usize) -> Self {
        Self::new(
            FieldErrorKind::TooMany,
            field,
            Some(Value::from(actual)),
            format!("must have at most {max_items} items"),
        )
    }

    /// `Not found: <value>`.
    pub fn not_found(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorKind::NotFound, field, Some(value.into()), "")
    }

    /// `Internal error: <detail>`.
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::InternalError, field, None, detail)
    }

    /// `Invalid value: <value>: <detail>` for a value of the wrong type.
    pub fn type_invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(
            FieldErrorKind::TypeInvalid,
            field,
            Some(value.into()),
            detail,
        )
    }

    fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }

    /// Upstream's cause type, e.g. `FieldValueRequired`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// The message without the field path, e.g. `Invalid value: 70000: must be ...`.
    pub fn body(&self) -> String {
        let mut body = self.kind.label().to_string();
        let shows_value = !matches!(
            self.kind,
            FieldErrorKind::Required
                | FieldErrorKind::Forbidden
                | FieldErrorKind::TooLong
                | FieldErrorKind::InternalError
        );
        if shows_value && let Some(value) = &self.value {
            body.push_str(": ");
            body.push_str(&render_go_value(value));
        }
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }

    /// Upstream's full message, e.g. `spec.containers[0].image: Required value`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// Upstream's `Status.message` for a 422: `Deployment.apps "web" is invalid: [e1, e2]`
/// (`kind` without group for core kinds; repeated messages are dropped like upstream does).
pub fn invalid_status_message(
    group: &str,
    kind: &str,
    name: &str,
    errors: &[FieldError],
) -> String {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut messages: Vec<String> = Vec::new();
    for error in errors {
        let message = error.message();
        if !messages.contains(&message) {
            messages.push(message);
        }
    }
    let joined = match messages.len() {
        0 => String::new(),
        1 => messages.remove(0),
        _ => format!("[{}]", messages.join(", ")),
    };
    format!("{qualified} {} is invalid: {joined}", go_quote(name))
}

/// A value printed raw in messages (see [`GO_RENDERED_KEY`]).
pub fn go_rendered(rendered: impl Into<String>) -> Value {
    let mut map = Map::new();
    map.insert(GO_RENDERED_KEY.to_string(), Value::String(rendered.into()));
    Value::Object(map)
}

/// Quotes a string the way Go's `%q` does.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders a value as upstream's messages print it: strings quoted, numbers and booleans bare,
/// string maps as `map[string]string{"k":"v"}`, string lists as `[]string{"a", "b"}`.
pub fn render_go_value(value: &Value) -> String {
    match value {
        Value::Null => go_quote("null"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(Value::as_str)
                .map(go_quote)
                .collect();
            format!("[]string{{{}}}", parts.join(", "))
        }
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(raw)) = map.get(GO_RENDERED_KEY)
            {
                return raw.clone();
            }
            if map.values().all(Value::is_string) {
                return go_string_map(Some(map));
            }
            value.to_string()
        }
        Value::Array(_) => value.to_string(),
    }
}

/// `map[string]string{"a":"b", "c":"d"}` with keys sorted like Go prints maps;
/// `map[string]string(nil)` for a missing map.
pub fn go_string_map(map: Option<&Map<String, Value>>) -> String {
    let Some(map) = map else {
        return "map[string]string(nil)".to_string();
    };
    let mut entries: Vec<(&String, &str)> = map
        .iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or("")))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
        .collect();
    format!("map[string]string{{{}}}", parts.join(", "))
}

/// Options that are server settings rather than object content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOptions {
    /// The inclusive NodePort range (`--service-node-port-range`), checked on Service create.
    pub node_port_range: (i64, i64),
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            node_port_range: (30000, 32767),
        }
    }
}

/// Validates an object about to be created. `version` is accepted for symmetry; every kind is
/// validated by its group and kind.
pub fn validate_create(group: &str, version: &str, kind: &str, obj: &Value) -> Vec<FieldError> {
    let _ = version;
    match (group, kind) {
        ("", "Pod") => pod::validate_pod(obj),
        ("", "Service") => service::validate_service(obj),
        ("", "Endpoints") => service::validate_endpoints(obj),
        ("", "ConfigMap") => config::validate_config_map(obj),
        ("", "Secret") => config::validate_secret(obj),
        ("", "ServiceAccount") => config::validate_service_account(obj),
        ("", "Namespace") => cluster::validate_namespace(obj),
        ("", "Node") => cluster::validate_node(obj),
        ("", "Event") => cluster::validate_event(obj, false),
        ("events.k8s.io", "Event") => cluster::validate_event(obj, true),
        ("", "LimitRange") => cluster::validate_limit_range(obj),
        ("", "ResourceQuota") => cluster::validate_resource_quota(obj),
        ("", "ReplicationController") => apps::validate_replication_controller(obj),
        ("", "PersistentVolume") => storage::validate_persistent_volume(obj),
        ("", "PersistentVolumeClaim") => storage::validate_persistent_volume_claim(obj),
        ("", "PodTemplate") => pod::validate_pod_template(obj),
        ("apps", "Deployment") => apps::validate_deployment(obj),
        ("apps", "ReplicaSet") => apps::validate_replica_set(obj),
        ("apps", "StatefulSet") => apps::validate_stateful_set(obj),
        ("apps", "DaemonSet") => apps::validate_daemon_set(obj),
        ("apps", "ControllerRevision") => apps::validate_controller_revision(obj),
        ("batch", "Job") => batch::validate_job(obj),
        ("batch", "CronJob") => batch::validate_cron_job(obj),
        ("networking.k8s.io", "Ingress") => networking::validate_ingress(obj),
        ("networking.k8s.io", "IngressClass") => networking::validate_ingress_class(obj),
        ("networking.k8s.io", "NetworkPolicy") => networking::validate_network_policy(obj),
        ("discovery.k8s.io", "EndpointSlice") => networking::validate_endpoint_slice(obj),
        ("coordination.k8s.io", "Lease") => misc::validate_lease(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => misc::validate_hpa(obj),
        ("policy", "PodDisruptionBudget") => misc::validate_pdb(obj),
        ("scheduling.k8s.io", "PriorityClass") => misc::validate_priority_class(obj),
        ("storage.k8s.io", "StorageClass") => storage::validate_storage_class(obj),
        ("rbac.authorization.k8s.io", "Role") => rbac::validate_role(obj, true),
        ("rbac.authorization.k8s.io", "ClusterRole") => rbac::validate_role(obj, false),
        ("rbac.authorization.k8s.io", "RoleBinding") => rbac::validate_role_binding(obj, true),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            rbac::validate_role_binding(obj, false)
        }
        _ => meta::validate_object_meta_scoped(obj, None, names::NameRule::Subdomain),
    }
}

/// Validates an update of `old` to `new`: everything [`validate_create`] checks plus the
/// immutability rules of each kind.
pub fn validate_update(
    group: &str,
    version: &str,
    kind: &str,
    new: &Value,
    old: &Value,
) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta_update(new, old);
    let kind_errors = match (group, kind) {
        ("", "Pod") => pod::validate_pod_update(new, old),
        ("", "Service") => service::validate_service_update(new, old),
        ("", "ConfigMap") => config::validate_config_map_update(new, old),
        ("", "Secret") => config::validate_secret_update(new, old),
        ("", "Namespace") => cluster::validate_namespace_update(new, old),
        ("", "PersistentVolumeClaim") => storage::validate_persistent_volume_claim_update(new, old),
        ("", "PersistentVolume") => storage::validate_persistent_volume_update(new, old),
        ("apps", "Deployment") | ("apps", "ReplicaSet") | ("apps", "DaemonSet") => {
            apps::validate_selector_update(new, old)
        }
        ("apps", "StatefulSet") => apps::validate_stateful_set_update(new, old),
        ("apps", "ControllerRevision") => apps::validate_controller_revision_update(new, old),
        ("batch", "Job") => batch::validate_job_update(new, old),
        ("storage.k8s.io", "StorageClass") => storage::validate_storage_class_update(new, old),
        ("scheduling.k8s.io", "PriorityClass") => misc::validate_priority_class_update(new, old),
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            rbac::validate_role_binding_update(new, old)
        }
        _ => Vec::new(),
    };
    errors.extend(kind_errors);
    if !(group.is_empty() && kind == "Pod") {
        errors.extend(validate_create(group, version, kind, new));
    }
    errors
}

/// Validates a write to a status-like subresource (`status`, `binding`, `scale`, ...): only
/// the metadata update rules apply, since these writes do not go through the spec rules of
/// [`validate_update`] upstream (a binding sets `spec.nodeName`, which a Pod update may not).
pub fn validate_status_update(new: &Value, old: &Value) -> Vec<FieldError> {
    meta::validate_object_meta_update(new, old)
}

/// Checks each `spec.ports[*].nodePort` of a Service against the server's NodePort range, the
/// way the NodePort allocator reports it (upstream does this at allocation, not validation).
pub fn validate_service_node_ports(obj: &Value, options: &ValidationOptions) -> Vec<FieldError> {
    let (low, high) = options.node_port_range;
    let mut errors = Vec::new();
    for (i, port) in items(obj.pointer("/spec/ports")).iter().enumerate() {
        if let Some(node_port) = port.get("nodePort").and_then(Value::as_i64)
            && node_port != 0
            && (node_port < low || node_port > high)
        {
            errors.push(FieldError::invalid(
                format!("spec.ports[{i}].nodePort"),
                node_port,
                format!("provided port is not in the valid range. The range of valid ports is {low}-{high}"),
            ));
        }
    }
    errors
}

/// `base.name`, or `name` when `base` is empty.
pub(crate) fn child(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

/// `base[i]`.
pub(crate) fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// `base[key]`.
pub(crate) fn key(base: &str, key: &str) -> String {
    format!("{base}[{key}]")
}

/// The items of an optional JSON array (empty when missing or not an array).
pub(crate) fn items(value: Option<&Value>) -> &[Value] {
    value
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A string field, empty when missing.
pub(crate) fn str_of<'a>(value: &'a Value, name: &str) -> &'a str {
    value.get(name).and_then(Value::as_str).unwrap_or("")
}

/// An optional string field.
pub(crate) fn opt_str<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

/// An optional integer field.
pub(crate) fn opt_i64(value: &Value, name: &str) -> Option<i64> {
    value.get(name).and_then(Value::as_i64)
}

/// A field's object, if it is one.
pub(crate) fn obj_of<'a>(value: &'a Value, name: &str) -> Option<&'a Map<String, Value>> {
    value.get(name).and_then(Value::as_object)
}

/// Whether a field is present and not null.
pub(crate) fn present(value: &Value, name: &str) -> bool {
    value.get(name).is_some_and(|v| !v.is_null())
}

/// Upstream's `ValidateNonnegativeField`.
pub(crate) fn nonnegative(value: &Value, name: &str, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(n) = opt_i64(value, name)
        && n < 0
    {
        errors.push(FieldError::invalid(
            child(path, name),
            n,
            "must be greater than or equal to 0",
        ));
    }
}

/// Upstream's `ValidateImmutableField`, comparing a field of `new` and `old` (missing and null
/// are the same); `rendered` is how the new value prints.
pub(crate) fn immutable(
    new: Option<&Value>,
    old: Option<&Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let normalize = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    let (new_value, old_value) = (normalize(new), normalize(old));
    if new_value != old_value {
        errors.push(FieldError::invalid(
            path,
            new_value.unwrap_or(Value::Null),
            "field is immutable",
        ));
    }
}

/// Upstream's `FieldImmutableErrorMsg`.
pub(crate) const FIELD_IMMUTABLE: &str = "field is immutable";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_render_like_go() {
        assert_eq!(
            FieldError::required("spec.containers[0].image", "").message(),
            "spec.containers[0].image: Required value"
        );
        assert_eq!(
            FieldError::invalid(
                "spec.ports[0].port",
                70000,
                "must be between 1 and 65535, inclusive"
            )
            .message(),
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            FieldError::not_supported(
                "spec.type",
                "Foo",
                &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
            )
            .message(),
            "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
        );
        assert_eq!(
            FieldError::duplicate("spec.x[1].name", "a").message(),
            "spec.x[1].name: Duplicate value: \"a\""
        );
        assert_eq!(
            FieldError::forbidden("spec", "nope").message(),
            "spec: Forbidden: nope"
        );
        assert_eq!(
            FieldError::too_long("metadata.annotations", 262144).message(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::too_many("x", 5, 4).message(),
            "x: Too many: 5: must have at most 4 items"
        );
        assert_eq!(
            FieldError::invalid("a", Value::Null, "d").message(),
            "a: Invalid value: \"null\": d"
        );
        assert_eq!(
            FieldError::invalid("a", true, "d").reason(),
            "FieldValueInvalid"
        );
    }

    #[test]
    fn maps_and_lists_render_like_percent_hash_v() {
        let labels = json!({"b": "2", "a": "1"});
        assert_eq!(
            render_go_value(&labels),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(
            render_go_value(&json!(["x", "y"])),
            "[]string{\"x\", \"y\"}"
        );
        assert_eq!(render_go_value(&go_rendered("25%")), "25%");
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn status_message_aggregates() {
        let errors = vec![
            FieldError::required("spec.a", ""),
            FieldError::required("spec.a", ""),
            FieldError::required("spec.b", ""),
        ];
        assert_eq!(
            invalid_status_message("apps", "Deployment", "web", &errors),
            "Deployment.apps \"web\" is invalid: [spec.a: Required value, spec.b: Required value]"
        );
        assert_eq!(
            invalid_status_message("", "Pod", "p", &errors[..1]),
            "Pod \"p\" is invalid: spec.a: Required value"
        );
    }

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn dispatch_by_group_and_kind() {
        let pod = json!({"metadata": {"name": "Foo", "namespace": "d"}, "spec": {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "containers": [{"name": "c", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}});
        assert_eq!(
            messages(&validate_create("", "v1", "Pod", &pod)),
            vec![
                "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.containers[0].image: Required value"
            ]
        );
        let svc = json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"type": "Foo", "sessionAffinity": "None",
            "ports": [{"port": 80, "protocol": "TCP"}]}});
        assert_eq!(
            messages(&validate_create("", "v1", "Service", &svc)),
            vec![
                "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
            ]
        );
        let role = json!({"metadata": {"name": "a/b", "namespace": "d"}, "rules": []});
        assert_eq!(
            messages(&validate_create(
                "rbac.authorization.k8s.io",
                "v1",
                "Role",
                &role
            )),
            vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"]
        );
        let unknown = json!({"metadata": {"name": "x"}});
        assert!(validate_create("example.com", "v1", "Widget", &unknown).is_empty());
    }

    #[test]
    fn update_checks_immutability_and_content() {
        let old = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {"a": "eA=="}});
        let mut new = old.clone();
        new["type"] = json!("kubernetes.io/basic-auth");
        new["metadata"]["name"] = json!("t");
        assert_eq!(
            messages(&validate_update("", "v1", "Secret", &new, &old)),
            vec![
                "metadata.name: Invalid value: \"t\": field is immutable",
                "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable",
                "data[username]: Required value",
                "data[password]: Required value"
            ]
        );
        let mut bound =
            json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": ""}});
        bound["spec"]["nodeName"] = json!("node-1");
        assert!(validate_status_update(&bound, &old).len() == 1);
    }

    #[test]
    fn node_port_range_is_checked() {
        let svc = json!({"spec": {"ports": [{"port": 80, "nodePort": 80}, {"port": 81, "nodePort": 30001}]}});
        let errors = validate_service_node_ports(&svc, &ValidationOptions::default());
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].message(),
            "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
    }
}
