//! Field selectors (`fieldSelector=metadata.name=x,status.phase!=Running`): parsing like
//! upstream `fields.ParseSelector`, and the per-kind field values upstream lets clients select on.

use std::fmt;

use serde_json::Value;

use crate::resources::ResourceInfo;

/// Why a field selector was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldSelectorError {
    /// A term has no `=`, `==` or `!=` operator.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    Syntax {
        /// The whole selector.
        selector: String,
        /// The term that could not be split.
        term: String,
    },
    /// A value has a bad backslash escape.
    #[error("invalid field selector value: {0}")]
    Escape(String),
    /// The kind does not support selecting on this field (upstream answers 400 BadRequest).
    #[error("field label not supported: {0}")]
    Unsupported(String),
}

/// Result of field selector operations.
pub type Result<T, E = FieldSelectorError> = std::result::Result<T, E>;

/// One `field op value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field path, e.g. `status.phase`.
    pub field: String,
    /// True for `!=`, false for `=` and `==`.
    pub negated: bool,
    /// The (unescaped) value.
    pub value: String,
}

/// A conjunction of field requirements; empty matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    /// The terms, sorted as upstream sorts them (by their text).
    pub requirements: Vec<FieldRequirement>,
}

/// Splits on commas not preceded by a backslash escape.
fn split_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == ',' {
            terms.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    terms.push(current);
    terms
}

/// Finds the first operator position, trying `!=`, `==`, `=` at each position.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, negated) in [("!=", true), ("==", false), ("=", false)] {
            if rest.starts_with(op) {
                return Some((&term[..i], negated, &term[i + op.len()..]));
            }
        }
    }
    None
}

/// Upstream `fields.UnescapeValue`: `\\`, `\,` and `\=` are the only escapes.
fn unescape(value: &str) -> Result<String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('\\' | ',' | '=')) => out.push(e),
            Some(e) => {
                return Err(FieldSelectorError::Escape(format!(
                    "invalid field selector: invalid escape sequence: \\{e}"
                )));
            }
            None => {
                return Err(FieldSelectorError::Escape(
                    "invalid field selector: unterminated escape sequence".to_string(),
                ));
            }
        }
    }
    Ok(out)
}

/// Upstream `fields.EscapeValue`.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

impl FieldSelector {
    /// Parses the string form like upstream `fields.ParseSelector`.
    pub fn parse(text: &str) -> Result<Self> {
        let mut terms = split_terms(text);
        terms.sort();
        let mut requirements = Vec::new();
        for term in terms.iter().filter(|t| !t.is_empty()) {
            let Some((field, negated, raw_value)) = split_term(term) else {
                return Err(FieldSelectorError::Syntax {
                    selector: text.to_string(),
                    term: term.clone(),
                });
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                negated,
                value: unescape(raw_value)?,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// True when the selector has no terms (matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Checks every field is selectable for the resource; the error reads like upstream's.
    pub fn validate_for(&self, info: &ResourceInfo) -> Result<()> {
        match self
            .requirements
            .iter()
            .find(|r| !is_supported_field(info, &r.field))
        {
            Some(r) => Err(FieldSelectorError::Unsupported(r.field.clone())),
            None => Ok(()),
        }
    }

    /// Whether the object satisfies every term (unsupported fields never match).
    pub fn matches(&self, info: &ResourceInfo, object: &Value) -> bool {
        self.requirements
            .iter()
            .all(|r| match field_value(info, object, &r.field) {
                Some(value) => (value == r.value) != r.negated,
                None => false,
            })
    }

    /// The value a `field=value` term requires, if any (e.g. `metadata.name` for a get).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && !r.negated)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if r.negated { "!=" } else { "=" };
            write!(f, "{}{op}{}", r.field, escape(&r.value))?;
        }
        Ok(())
    }
}

/// The fields a kind supports beyond `metadata.name` and `metadata.namespace`.
fn extra_fields(info: &ResourceInfo) -> &'static [&'static str] {
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.host",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "Event") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "deprecatedSource.component",
            "type",
        ],
        ("", "Secret") => &["type"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("", "ReplicationController") | ("apps", "ReplicaSet") => &["status.replicas"],
        ("apps", "StatefulSet") => &["status.successful"],
        ("batch", "Job") => &["status.successful"],
        ("", "Service") => &["spec.clusterIP", "spec.type"],
        _ => &[],
    }
}

/// Whether the resource lets clients select on `field`.
pub fn is_supported_field(info: &ResourceInfo, field: &str) -> bool {
    field == "metadata.name" || field == "metadata.namespace" || extra_fields(info).contains(&field)
}

fn text_at(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn int_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string()
}

fn bool_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

/// The first pod IP: `status.podIPs[0].ip`, falling back to `status.podIP`.
fn pod_ip(object: &Value) -> String {
    match object
        .pointer("/status/podIPs/0/ip")
        .and_then(Value::as_str)
    {
        Some(ip) => ip.to_string(),
        None => text_at(object, "/status/podIP"),
    }
}

/// An event reference field, read from either the core (`involvedObject`) or the
/// `events.k8s.io` (`regarding`) shape of the stored object.
fn event_reference(object: &Value, name: &str) -> String {
    let core = format!("/involvedObject/{name}");
    let new = format!("/regarding/{name}");
    if object.pointer(&core).is_some() {
        text_at(object, &core)
    } else {
        text_at(object, &new)
    }
}

fn first_present(object: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .find(|p| object.pointer(p).is_some())
        .map(|p| text_at(object, p))
        .unwrap_or_default()
}

/// The value of a selectable field of an object, as upstream's `ToSelectableFields` gives it;
/// `None` if the kind does not support the field.
pub fn field_value(info: &ResourceInfo, object: &Value, field: &str) -> Option<String> {
    if !is_supported_field(info, field) {
        return None;
    }
    let value = match field {
        "metadata.name" => text_at(object, "/metadata/name"),
        "metadata.namespace" => {
            if info.namespaced {
                text_at(object, "/metadata/namespace")
            } else {
                String::new()
            }
        }
        // `spec.host` is the legacy name of `spec.nodeName` that old clients still send.
        "spec.nodeName" | "spec.host" => text_at(object, "/spec/nodeName"),
        "spec.restartPolicy" => text_at(object, "/spec/restartPolicy"),
        "spec.schedulerName" => text_at(object, "/spec/schedulerName"),
        "spec.serviceAccountName" => text_at(object, "/spec/serviceAccountName"),
        "spec.hostNetwork" => bool_at(object, "/spec/hostNetwork"),
        "status.phase" => text_at(object, "/status/phase"),
        "status.podIP" => pod_ip(object),
        // Accepted by upstream's conversion but absent from its field set: always "".
        "status.podIPs" => String::new(),
        "status.nominatedNodeName" => text_at(object, "/status/nominatedNodeName"),
        "type" => text_at(object, "/type"),
        "reason" => text_at(object, "/reason"),
        "source" | "deprecatedSource.component" => first_present(
            object,
            &["/source/component", "/deprecatedSource/component"],
        ),
        "reportingComponent" | "reportingController" => {
            first_present(object, &["/reportingComponent", "/reportingController"])
        }
        "spec.unschedulable" => bool_at(object, "/spec/unschedulable"),
        "status.replicas" => int_at(object, "/status/replicas"),
        "status.successful" => {
            if info.kind == "Job" {
                int_at(object, "/status/succeeded")
            } else {
                String::new()
            }
        }
        "spec.clusterIP" => text_at(object, "/spec/clusterIP"),
        "spec.type" => text_at(object, "/spec/type"),
        other => match other.split_once('.') {
            Some(("involvedObject" | "regarding", name)) => event_reference(object, name),
            _ => String::new(),
        },
    };
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find_builtin;
    use serde_json::json;

    fn info(group: &str, plural: &str) -> ResourceInfo {
        match find_builtin(group, "v1", plural) {
            Some(i) => i,
            None => panic!("{plural}"),
        }
    }

    fn parse(text: &str) -> FieldSelector {
        match FieldSelector::parse(text) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn parses_operators_and_escapes() {
        let s = parse("status.phase!=Running,metadata.name==a\\,b");
        assert_eq!(s.requirements.len(), 2);
        assert_eq!(
            s.requirements[0],
            FieldRequirement {
                field: "metadata.name".into(),
                negated: false,
                value: "a,b".into()
            }
        );
        assert_eq!(
            s.requirements[1],
            FieldRequirement {
                field: "status.phase".into(),
                negated: true,
                value: "Running".into()
            }
        );
        assert_eq!(s.to_string(), "metadata.name=a\\,b,status.phase!=Running");
        assert!(parse("").is_empty());
        assert_eq!(
            parse("spec.nodeName=").required_value("spec.nodeName"),
            Some("")
        );
        assert_eq!(
            FieldSelector::parse("foo").map_err(|e| e.to_string()),
            Err("invalid selector: 'foo'; can't understand 'foo'".to_string())
        );
        assert!(FieldSelector::parse("a=b\\x").is_err());
    }

    #[test]
    fn pod_fields() {
        let pods = info("", "pods");
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccountName": "default"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}
        });
        assert_eq!(
            field_value(&pods, &pod, "spec.nodeName").as_deref(),
            Some("n1")
        );
        assert_eq!(
            field_value(&pods, &pod, "spec.hostNetwork").as_deref(),
            Some("false")
        );
        assert_eq!(
            field_value(&pods, &pod, "status.podIP").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(
            field_value(&pods, &pod, "metadata.namespace").as_deref(),
            Some("ns")
        );
        assert_eq!(field_value(&pods, &pod, "foo"), None);
        assert_eq!(field_value(&pods, &pod, "spec.host").as_deref(), Some("n1"));
        assert_eq!(
            field_value(&pods, &pod, "status.podIPs").as_deref(),
            Some("")
        );
        assert!(parse("spec.nodeName=n1,status.phase!=Pending").matches(&pods, &pod));
        assert!(!parse("spec.nodeName=").matches(&pods, &pod));
        assert_eq!(
            parse("foo=bar")
                .validate_for(&pods)
                .map_err(|e| e.to_string()),
            Err("field label not supported: foo".to_string())
        );
        assert!(parse("status.phase=Running").validate_for(&pods).is_ok());
    }

    #[test]
    fn other_kinds() {
        let events = info("", "events");
        let ev = json!({"involvedObject": {"kind": "Pod", "name": "p"}, "source": {"component": "kubelet"}, "type": "Warning"});
        assert_eq!(
            field_value(&events, &ev, "involvedObject.kind").as_deref(),
            Some("Pod")
        );
        assert_eq!(
            field_value(&events, &ev, "involvedObject.uid").as_deref(),
            Some("")
        );
        assert_eq!(
            field_value(&events, &ev, "source").as_deref(),
            Some("kubelet")
        );
        assert_eq!(
            field_value(&events, &ev, "type").as_deref(),
            Some("Warning")
        );
        let new_events = info("events.k8s.io", "events");
        assert_eq!(
            field_value(&new_events, &ev, "regarding.name").as_deref(),
            Some("p")
        );
        let secrets = info("", "secrets");
        assert_eq!(
            field_value(&secrets, &json!({"type": "Opaque"}), "type").as_deref(),
            Some("Opaque")
        );
        let nodes = info("", "nodes");
        assert_eq!(
            field_value(
                &nodes,
                &json!({"spec": {"unschedulable": true}}),
                "spec.unschedulable"
            )
            .as_deref(),
            Some("true")
        );
        assert_eq!(
            field_value(
                &nodes,
                &json!({"metadata": {"name": "n"}}),
                "metadata.namespace"
            )
            .as_deref(),
            Some("")
        );
        let rs = info("apps", "replicasets");
        assert_eq!(
            field_value(&rs, &json!({"status": {"replicas": 3}}), "status.replicas").as_deref(),
            Some("3")
        );
        let jobs = info("batch", "jobs");
        assert_eq!(
            field_value(
                &jobs,
                &json!({"status": {"succeeded": 1}}),
                "status.successful"
            )
            .as_deref(),
            Some("1")
        );
        let svcs = info("", "services");
        assert_eq!(
            field_value(&svcs, &json!({"spec": {"type": "NodePort"}}), "spec.type").as_deref(),
            Some("NodePort")
        );
        let deploys = info("apps", "deployments");
        assert_eq!(field_value(&deploys, &json!({}), "status.replicas"), None);
        let ns = info("", "namespaces");
        assert_eq!(
            field_value(&ns, &json!({"status": {"phase": "Active"}}), "status.phase").as_deref(),
            Some("Active")
        );
    }
}
