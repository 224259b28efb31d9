//! `metadata` validation (names, labels, annotations, finalizers, owner references), its update
//! rules, and label selectors.

use serde_json::{Map, Value};

use super::names::{self, NameRule};
use super::{FieldError, child, go_quote, go_string_map, immutable, index, items, str_of};

/// Upstream's `TotalAnnotationSizeLimitB`: 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Whether an object lives in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `metadata.namespace` is required.
    Namespaced,
    /// `metadata.namespace` is forbidden.
    Cluster,
}

/// Validates `metadata` of a new object: the name under `rule`, namespace per scope, labels,
/// annotations, finalizers and owner references.
pub fn validate_object_meta_scoped(
    obj: &Value,
    scope: Option<Scope>,
    rule: NameRule,
) -> Vec<FieldError> {
    let empty = Value::Object(Map::new());
    let meta = obj.get("metadata").unwrap_or(&empty);
    let mut errors = Vec::new();
    let generate_name = str_of(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errors.push(FieldError::invalid(
                "metadata.generateName",
                generate_name,
                msg,
            ));
        }
    }
    let name = str_of(meta, "name");
    if name.is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errors.push(FieldError::invalid("metadata.name", name, msg));
        }
    }
    let namespace = str_of(meta, "namespace");
    match scope {
        Some(Scope::Namespaced) if namespace.is_empty() => {
            errors.push(FieldError::required("metadata.namespace", ""));
        }
        Some(Scope::Namespaced) => {
            for msg in names::is_dns1123_label(namespace) {
                errors.push(FieldError::invalid("metadata.namespace", namespace, msg));
            }
        }
        Some(Scope::Cluster) if !namespace.is_empty() => {
            errors.push(FieldError::forbidden(
                "metadata.namespace",
                "not allowed on this type",
            ));
        }
        _ => {}
    }
    if let Some(generation) = meta.get("generation").and_then(Value::as_i64)
        && generation < 0
    {
        errors.push(FieldError::invalid(
            "metadata.generation",
            generation,
            "must be greater than or equal to 0",
        ));
    }
    errors.extend(validate_labels(
        meta.get("labels").and_then(Value::as_object),
        "metadata.labels",
    ));
    errors.extend(validate_annotations(
        meta.get("annotations").and_then(Value::as_object),
        "metadata.annotations",
    ));
    for (i, finalizer) in items(meta.get("finalizers")).iter().enumerate() {
        let finalizer = finalizer.as_str().unwrap_or("");
        for msg in names::is_qualified_name(finalizer) {
            errors.push(FieldError::invalid(
                index("metadata.finalizers", i),
                finalizer,
                msg,
            ));
        }
    }
    errors.extend(validate_owner_references(items(
        meta.get("ownerReferences"),
    )));
    errors
}

/// [`validate_object_meta_scoped`] with a known or unknown scope.
pub fn validate_object_meta(obj: &Value, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let scope = if namespaced {
        Some(Scope::Namespaced)
    } else {
        Some(Scope::Cluster)
    };
    validate_object_meta_scoped(obj, scope, rule)
}

fn validate_owner_references(refs: &[Value]) -> Vec<FieldError> {
    let path = "metadata.ownerReferences";
    let mut errors = Vec::new();
    let mut controllers = 0;
    for reference in refs {
        let api_version = str_of(reference, "apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() || api_version.split('/').count() > 2 {
            errors.push(FieldError::invalid(
                child(path, "apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        for (field, what) in [("kind", "kind"), ("name", "name"), ("uid", "uid")] {
            let value = str_of(reference, field);
            if value.is_empty() {
                errors.push(FieldError::invalid(
                    child(path, field),
                    value,
                    format!("{what} must not be empty"),
                ));
            }
        }
        if reference.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers += 1;
        }
    }
    if controllers > 1 {
        errors.push(FieldError::invalid_rendered(
            path,
            "[]v1.OwnerReference{...}",
            format!("Only one reference can have Controller set to true. Found \"true\" in references for {controllers} owners"),
        ));
    }
    errors
}

/// Upstream's `ValidateLabels`: keys are qualified names, values label values; errors at `path`.
pub fn validate_labels(labels: Option<&Map<String, Value>>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in labels.into_iter().flatten() {
        for msg in names::is_qualified_name(key) {
            errors.push(FieldError::invalid(path, key.as_str(), msg));
        }
        let value = value.as_str().unwrap_or("");
        for msg in names::is_valid_label_value(value) {
            errors.push(FieldError::invalid(path, value, msg));
        }
    }
    errors
}

/// Upstream's `ValidateAnnotations`: keys are qualified names (lowercased), 256 KiB in total.
pub fn validate_annotations(
    annotations: Option<&Map<String, Value>>,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut total = 0usize;
    for (key, value) in annotations.into_iter().flatten() {
        for msg in names::is_qualified_name(&key.to_lowercase()) {
            errors.push(FieldError::invalid(path, key.as_str(), msg));
        }
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errors
}

/// Upstream's `ValidateObjectMetaUpdate`: name, namespace, uid and creationTimestamp are fixed.
pub fn validate_object_meta_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let new_meta = new.get("metadata");
    let old_meta = old.get("metadata");
    for field in ["name", "namespace", "uid"] {
        let new_value = new_meta
            .and_then(|m| m.get(field))
            .filter(|v| v.as_str() != Some(""));
        let old_value = old_meta
            .and_then(|m| m.get(field))
            .filter(|v| v.as_str() != Some(""));
        if field == "uid" && new_value.is_none() {
            continue;
        }
        immutable(new_value, old_value, &child("metadata", field), &mut errors);
    }
    let new_created = new_meta
        .and_then(|m| m.get("creationTimestamp"))
        .filter(|v| !v.is_null());
    let old_created = old_meta
        .and_then(|m| m.get("creationTimestamp"))
        .filter(|v| !v.is_null());
    if new_created.is_some() && new_created != old_created {
        let rendered = new_created
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        errors.push(FieldError::invalid_rendered(
            "metadata.creationTimestamp",
            rendered,
            super::FIELD_IMMUTABLE,
        ));
    }
    errors
}

/// Upstream's `ValidateLabelSelector` for a `LabelSelector` object at `path`.
pub fn validate_label_selector(selector: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let expressions_path = child(path, "matchExpressions");
    for (i, requirement) in items(selector.get("matchExpressions")).iter().enumerate() {
        let req_path = index(&expressions_path, i);
        let operator = str_of(requirement, "operator");
        let values = items(requirement.get("values"));
        match operator {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errors.push(FieldError::required(
                        child(&req_path, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errors.push(FieldError::forbidden(
                        child(&req_path, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errors.push(FieldError::invalid(
                child(&req_path, "operator"),
                operator,
                "not a valid selector operator",
            )),
        }
        let key = str_of(requirement, "key");
        for msg in names::is_qualified_name(key) {
            errors.push(FieldError::invalid(child(&req_path, "key"), key, msg));
        }
        for (j, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or("");
            for msg in names::is_valid_label_value(value) {
                errors.push(FieldError::invalid(
                    index(&child(&req_path, "values"), j),
                    value,
                    msg,
                ));
            }
        }
    }
    errors.extend(validate_labels(
        selector.get("matchLabels").and_then(Value::as_object),
        &child(path, "matchLabels"),
    ));
    errors
}

/// Whether a `LabelSelector` selects nothing in particular (no labels, no expressions).
pub fn selector_is_empty(selector: &Value) -> bool {
    selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
        && items(selector.get("matchExpressions")).is_empty()
}

/// Whether a `LabelSelector` matches `labels` (an empty selector matches everything).
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let match_labels_ok = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    match_labels_ok
        && items(selector.get("matchExpressions")).iter().all(|req| {
            let key = str_of(req, "key");
            let values: Vec<&str> = items(req.get("values"))
                .iter()
                .filter_map(Value::as_str)
                .collect();
            match str_of(req, "operator") {
                "In" => label(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => label(key).is_some(),
                "DoesNotExist" => label(key).is_none(),
                _ => false,
            }
        })
}

/// Whether a plain `map[string]string` selector (Service, ReplicationController) matches.
pub fn map_selector_matches(
    selector: &Map<String, Value>,
    labels: Option<&Map<String, Value>>,
) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)).and_then(Value::as_str) == v.as_str())
}

/// A `LabelSelector` printed like Go's `%#v` of `v1.LabelSelector`.
pub fn render_label_selector(selector: &Value) -> String {
    let match_labels = go_string_map(selector.get("matchLabels").and_then(Value::as_object));
    let expressions = items(selector.get("matchExpressions"));
    let rendered_expressions = if selector.get("matchExpressions").is_none_or(Value::is_null) {
        "[]v1.LabelSelectorRequirement(nil)".to_string()
    } else {
        let parts: Vec<String> = expressions
            .iter()
            .map(|req| {
                let values = match req.get("values").and_then(Value::as_array) {
                    None => "[]string(nil)".to_string(),
                    Some(values) => {
                        let quoted: Vec<String> = values
                            .iter()
                            .map(|v| go_quote(v.as_str().unwrap_or("")))
                            .collect();
                        format!("[]string{{{}}}", quoted.join(", "))
                    }
                };
                format!(
                    "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                    go_quote(str_of(req, "key")),
                    go_quote(str_of(req, "operator"))
                )
            })
            .collect();
        format!("[]v1.LabelSelectorRequirement{{{}}}", parts.join(", "))
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{match_labels}, MatchExpressions:{rendered_expressions}}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn name_rules() {
        let obj = json!({"metadata": {"name": "Foo", "namespace": "default"}});
        assert_eq!(
            messages(&validate_object_meta(&obj, true, NameRule::Subdomain)),
            vec![
                "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        let obj = json!({"metadata": {"namespace": "default"}});
        assert_eq!(
            messages(&validate_object_meta(&obj, true, NameRule::Subdomain)),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        let obj = json!({"metadata": {"name": "n", "namespace": "default"}});
        assert_eq!(
            messages(&validate_object_meta(&obj, false, NameRule::Subdomain)),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
        let obj = json!({"metadata": {"name": "n"}});
        assert_eq!(
            messages(&validate_object_meta(&obj, true, NameRule::Subdomain)),
            vec!["metadata.namespace: Required value"]
        );
    }

    #[test]
    fn labels_and_annotations() {
        let obj = json!({"metadata": {"name": "n", "labels": {"a b": "ok", "k": "-bad"}}});
        let errors = validate_object_meta(&obj, false, NameRule::Subdomain);
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0]
                .message()
                .starts_with("metadata.labels: Invalid value: \"a b\": name part must consist of")
        );
        assert!(
            errors[1]
                .message()
                .starts_with("metadata.labels: Invalid value: \"-bad\": a valid label must be")
        );
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let obj = json!({"metadata": {"name": "n", "annotations": {"a": big}}});
        assert_eq!(
            messages(&validate_object_meta(&obj, false, NameRule::Subdomain)),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn meta_update() {
        let old = json!({"metadata": {"name": "a", "namespace": "ns", "uid": "1"}});
        let new = json!({"metadata": {"name": "b", "namespace": "ns"}});
        assert_eq!(
            messages(&validate_object_meta_update(&new, &old)),
            vec!["metadata.name: Invalid value: \"b\": field is immutable"]
        );
    }

    #[test]
    fn selectors() {
        let selector = json!({"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]});
        let labels = json!({"app": "x", "tier": "a"});
        assert!(selector_matches(&selector, labels.as_object()));
        assert!(!selector_matches(
            &selector,
            json!({"app": "x"}).as_object()
        ));
        assert_eq!(
            render_label_selector(&json!({"matchLabels": {"app": "x"}})),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "In"}, {"key": "b", "operator": "Is"}]});
        assert_eq!(
            messages(&validate_label_selector(&bad, "spec.selector")),
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[1].operator: Invalid value: \"Is\": not a valid selector operator"
            ]
        );
    }
}
