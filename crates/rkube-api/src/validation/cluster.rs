//! Namespace, Node, Event, LimitRange and ResourceQuota validation.

use std::collections::HashSet;

use serde_json::Value;

use super::container::validate_resource_list;
use super::meta;
use super::names::{self, NameRule};
use super::quantity::{self, Quantity};
use super::{FieldError, child, index, items, key, obj_of, str_of};

const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];
const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Validates a Namespace: the name is an RFC 1123 label; spec finalizers are standard or
/// fully qualified.
pub fn validate_namespace(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, false, NameRule::Label);
    for finalizer in items(obj.pointer("/spec/finalizers")) {
        let finalizer = finalizer.as_str().unwrap_or("");
        for msg in names::is_qualified_name(finalizer) {
            errors.push(FieldError::invalid("spec.finalizers", finalizer, msg));
        }
        if !finalizer.contains('/') && !STANDARD_FINALIZERS.contains(&finalizer) {
            errors.push(FieldError::invalid(
                "spec.finalizers",
                finalizer,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errors
}

/// Validates a Namespace update (only metadata rules apply; spec is kept by the strategy).
pub fn validate_namespace_update(_new: &Value, _old: &Value) -> Vec<FieldError> {
    Vec::new()
}

/// Validates a Node: taints and pod CIDRs.
pub fn validate_node(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, false, NameRule::Subdomain);
    let mut seen = HashSet::new();
    for (i, taint) in items(obj.pointer("/spec/taints")).iter().enumerate() {
        let taint_path = index("spec.taints", i);
        let taint_key = str_of(taint, "key");
        for msg in names::is_qualified_name(taint_key) {
            errors.push(FieldError::invalid(
                child(&taint_path, "key"),
                taint_key,
                msg,
            ));
        }
        let value = str_of(taint, "value");
        for msg in names::is_valid_label_value(value) {
            errors.push(FieldError::invalid(child(&taint_path, "value"), value, msg));
        }
        let effect = str_of(taint, "effect");
        if effect.is_empty() {
            errors.push(FieldError::required(child(&taint_path, "effect"), ""));
        } else if !TAINT_EFFECTS.contains(&effect) {
            errors.push(FieldError::not_supported(
                child(&taint_path, "effect"),
                effect,
                TAINT_EFFECTS,
            ));
        }
        if !seen.insert((taint_key, effect)) {
            errors.push(FieldError::duplicate(
                &taint_path,
                super::go_rendered(format!(
                    "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:<nil>}}",
                    super::go_quote(taint_key),
                    super::go_quote(value),
                    super::go_quote(effect)
                )),
            ));
        }
    }
    let pod_cidr = obj
        .pointer("/spec/podCIDR")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !pod_cidr.is_empty() {
        for msg in names::is_valid_cidr(pod_cidr) {
            errors.push(FieldError::invalid("spec.podCIDR", pod_cidr, msg));
        }
    }
    errors
}

/// Validates an Event. Core v1 Events get upstream's lenient legacy checks (no name rules:
/// only the namespace syntax, the involved object's namespace, and for new-style events with
/// `eventTime` the reporting fields); events.k8s.io (`strict`) adds metadata, `eventTime` and
/// `type` rules.
pub fn validate_event(obj: &Value, strict: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let namespace = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (involved_field, controller_field) = if strict {
        ("regarding", "reportingController")
    } else {
        ("involvedObject", "reportingComponent")
    };
    let involved_namespace = obj
        .get(involved_field)
        .and_then(|o| o.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let event_time_set = obj
        .get("eventTime")
        .is_some_and(|t| !t.is_null() && t.as_str() != Some(""));
    let namespace_path = format!("{involved_field}.namespace");
    if !event_time_set {
        let mismatch = if involved_namespace.is_empty() {
            !namespace.is_empty() && namespace != "default"
        } else {
            namespace != involved_namespace
        };
        if mismatch {
            errors.push(FieldError::invalid(
                &namespace_path,
                involved_namespace,
                "does not match event.namespace",
            ));
        }
    } else {
        if involved_namespace.is_empty() && namespace != "default" && namespace != "kube-system" {
            errors.push(FieldError::invalid(
                &namespace_path,
                involved_namespace,
                "does not match event.namespace",
            ));
        }
        let controller = str_of(obj, "reportingController");
        let controller = if controller.is_empty() {
            str_of(obj, "reportingComponent")
        } else {
            controller
        };
        if controller.is_empty() {
            errors.push(FieldError::required(controller_field, ""));
        }
        for msg in names::is_qualified_name(controller) {
            errors.push(FieldError::invalid(controller_field, controller, msg));
        }
        for field in ["reportingInstance", "action", "reason"] {
            if str_of(obj, field).is_empty() {
                errors.push(FieldError::required(field, ""));
            }
        }
    }
    for msg in names::is_dns1123_subdomain(namespace) {
        errors.push(FieldError::invalid("namespace", namespace, msg));
    }
    if strict {
        errors.extend(meta::validate_object_meta(obj, true, NameRule::Subdomain));
        if !event_time_set {
            errors.push(FieldError::required("eventTime", ""));
        }
        let event_type = str_of(obj, "type");
        if !matches!(event_type, "Normal" | "Warning") {
            errors.push(FieldError::invalid(
                "type",
                "",
                format!("has invalid value: {event_type}"),
            ));
        }
    }
    errors
}

fn parse_entries(map: Option<&serde_json::Map<String, Value>>) -> Vec<(&str, Quantity)> {
    map.into_iter()
        .flatten()
        .filter_map(|(k, v)| quantity::parse_value(v).ok().map(|q| (k.as_str(), q)))
        .collect()
}

/// Validates a LimitRange: types, quantities, and min <= default <= max.
pub fn validate_limit_range(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    for (i, limit) in items(obj.pointer("/spec/limits")).iter().enumerate() {
        let limit_path = index("spec.limits", i);
        let limit_type = str_of(limit, "type");
        if !matches!(limit_type, "Pod" | "Container" | "PersistentVolumeClaim") {
            for msg in names::is_qualified_name(limit_type) {
                errors.push(FieldError::invalid(
                    child(&limit_path, "type"),
                    limit_type,
                    msg,
                ));
            }
        }
        for field in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            errors.extend(validate_resource_list(
                obj_of(limit, field),
                &child(&limit_path, field),
                false,
            ));
        }
        let max = parse_entries(obj_of(limit, "max"));
        let min = parse_entries(obj_of(limit, "min"));
        let default = parse_entries(obj_of(limit, "default"));
        let default_request = parse_entries(obj_of(limit, "defaultRequest"));
        let find = |list: &[(&str, Quantity)], name: &str| {
            list.iter().find(|(n, _)| *n == name).map(|(_, q)| *q)
        };
        let rendered = |q: Quantity| super::go_rendered(q.canonical());
        for (name, min_q) in &min {
            if let Some(max_q) = find(&max, name)
                && *min_q > max_q
            {
                errors.push(FieldError::invalid(
                    key(&child(&limit_path, "min"), name),
                    rendered(*min_q),
                    format!(
                        "min value {} is greater than max value {}",
                        min_q.canonical(),
                        max_q.canonical()
                    ),
                ));
            }
        }
        for (field, list) in [("defaultRequest", &default_request), ("default", &default)] {
            for (name, q) in list.iter() {
                let path = key(&child(&limit_path, field), name);
                let what = if field == "default" {
                    "default value"
                } else {
                    "default request value"
                };
                if let Some(min_q) = find(&min, name)
                    && min_q > *q
                {
                    errors.push(FieldError::invalid(
                        &path,
                        rendered(*q),
                        format!(
                            "min value {} is greater than {what} {}",
                            min_q.canonical(),
                            q.canonical()
                        ),
                    ));
                }
                if let Some(max_q) = find(&max, name)
                    && *q > max_q
                {
                    errors.push(FieldError::invalid(
                        &path,
                        rendered(*q),
                        format!(
                            "{what} {} is greater than max value {}",
                            q.canonical(),
                            max_q.canonical()
                        ),
                    ));
                }
            }
        }
        for (name, q) in &default_request {
            if let Some(d) = find(&default, name)
                && *q > d
            {
                errors.push(FieldError::invalid(
                    key(&child(&limit_path, "defaultRequest"), name),
                    rendered(*q),
                    format!(
                        "default request value {} is greater than default limit value {}",
                        q.canonical(),
                        d.canonical()
                    ),
                ));
            }
        }
    }
    errors
}

/// Validates a ResourceQuota: `spec.hard` names and quantities, and scopes.
pub fn validate_resource_quota(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    errors.extend(validate_resource_list(
        obj.pointer("/spec/hard").and_then(Value::as_object),
        "spec.hard",
        false,
    ));
    const SCOPES: &[&str] = &[
        "BestEffort",
        "CrossNamespacePodAffinity",
        "NotBestEffort",
        "NotTerminating",
        "PriorityClass",
        "Terminating",
        "VolumeAttributesClass",
    ];
    for (i, scope) in items(obj.pointer("/spec/scopes")).iter().enumerate() {
        let scope = scope.as_str().unwrap_or("");
        if !SCOPES.contains(&scope) {
            errors.push(FieldError::not_supported(
                index("spec.scopes", i),
                scope,
                SCOPES,
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn namespace_names_are_labels() {
        let ns = json!({"metadata": {"name": "a.b"}, "spec": {"finalizers": ["kubernetes"]}});
        let errors = messages(&validate_namespace(&ns));
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .starts_with("metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label")
        );
        let ns = json!({"metadata": {"name": "ok"}, "spec": {"finalizers": ["custom"]}});
        assert_eq!(
            messages(&validate_namespace(&ns)),
            vec![
                "spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
    }

    #[test]
    fn limit_range_order() {
        let lr = json!({"metadata": {"name": "l", "namespace": "d"},
            "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}});
        assert_eq!(
            messages(&validate_limit_range(&lr)),
            vec![
                "spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1"
            ]
        );
    }

    #[test]
    fn node_taints_and_quota() {
        let node =
            json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Bad"}]}});
        assert_eq!(
            messages(&validate_node(&node)),
            vec![
                "spec.taints[0].effect: Unsupported value: \"Bad\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""
            ]
        );
        let quota =
            json!({"metadata": {"name": "q", "namespace": "d"}, "spec": {"hard": {"pods": "-1"}}});
        assert_eq!(
            messages(&validate_resource_quota(&quota)),
            vec!["spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0"]
        );
    }

    #[test]
    fn strict_events() {
        let ev = json!({"metadata": {"name": "e", "namespace": "a"}, "regarding": {"namespace": "a"}, "type": "Odd"});
        assert_eq!(
            messages(&validate_event(&ev, true)),
            vec![
                "eventTime: Required value",
                "type: Invalid value: \"\": has invalid value: Odd"
            ]
        );
        let legacy = json!({"metadata": {"name": "Not_A_Subdomain", "namespace": "default"}, "involvedObject": {"kind": "Node", "name": "n1"}});
        assert!(validate_event(&legacy, false).is_empty());
    }

    #[test]
    fn event_namespace() {
        let ev = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
        assert_eq!(
            messages(&validate_event(&ev, false)),
            vec!["involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"]
        );
    }
}
