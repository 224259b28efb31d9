//! Role, ClusterRole, RoleBinding and ClusterRoleBinding validation.

use serde_json::Value;

use super::meta::{self, validate_label_selector};
use super::names::{self, NameRule};
use super::{FieldError, child, go_quote, index, items, str_of};

/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Validates a Role (`namespaced`) or ClusterRole: every rule has verbs, and either
/// non-resource URLs or api groups and resources.
pub fn validate_role(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, namespaced, NameRule::PathSegment);
    for (i, rule) in items(obj.get("rules")).iter().enumerate() {
        let rule_path = index("rules", i);
        if items(rule.get("verbs")).is_empty() {
            errors.push(FieldError::required(
                child(&rule_path, "verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = items(rule.get("nonResourceURLs"));
        if !urls.is_empty() {
            let value = Value::Array(urls.to_vec());
            if namespaced {
                errors.push(FieldError::invalid(
                    child(&rule_path, "nonResourceURLs"),
                    value.clone(),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            let has_resources = ["apiGroups", "resources", "resourceNames"]
                .iter()
                .any(|f| !items(rule.get(*f)).is_empty());
            if has_resources {
                errors.push(FieldError::invalid(
                    child(&rule_path, "nonResourceURLs"),
                    value,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if items(rule.get("apiGroups")).is_empty() {
            errors.push(FieldError::required(
                child(&rule_path, "apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if items(rule.get("resources")).is_empty() {
            errors.push(FieldError::required(
                child(&rule_path, "resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    if !namespaced && let Some(aggregation) = obj.get("aggregationRule").filter(|v| !v.is_null()) {
        let selectors = items(aggregation.get("clusterRoleSelectors"));
        if selectors.is_empty() {
            errors.push(FieldError::required(
                "aggregationRule.clusterRoleSelectors",
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, selector) in selectors.iter().enumerate() {
            errors.extend(validate_label_selector(
                selector,
                &index("aggregationRule.clusterRoleSelectors", i),
            ));
        }
    }
    errors
}

/// Validates a RoleBinding (`namespaced`) or ClusterRoleBinding: the role reference and the
/// subjects.
pub fn validate_role_binding(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, namespaced, NameRule::PathSegment);
    let role_ref = obj.get("roleRef").cloned().unwrap_or(Value::Null);
    let api_group = str_of(&role_ref, "apiGroup");
    if api_group != RBAC_GROUP {
        errors.push(FieldError::not_supported(
            "roleRef.apiGroup",
            api_group,
            &[RBAC_GROUP],
        ));
    }
    let kind = str_of(&role_ref, "kind");
    let allowed_kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !allowed_kinds.contains(&kind) {
        errors.push(FieldError::not_supported(
            "roleRef.kind",
            kind,
            allowed_kinds,
        ));
    }
    let name = str_of(&role_ref, "name");
    if name.is_empty() {
        errors.push(FieldError::required("roleRef.name", ""));
    } else {
        for msg in names::is_path_segment_name(name, false) {
            errors.push(FieldError::invalid("roleRef.name", name, msg));
        }
    }
    for (i, subject) in items(obj.get("subjects")).iter().enumerate() {
        let subject_path = index("subjects", i);
        let subject_name = str_of(subject, "name");
        if subject_name.is_empty() {
            errors.push(FieldError::required(child(&subject_path, "name"), ""));
        }
        let subject_group = str_of(subject, "apiGroup");
        match str_of(subject, "kind") {
            "ServiceAccount" => {
                if !subject_name.is_empty() {
                    for msg in names::is_dns1123_subdomain(subject_name) {
                        errors.push(FieldError::invalid(
                            child(&subject_path, "name"),
                            subject_name,
                            msg,
                        ));
                    }
                }
                if !subject_group.is_empty() {
                    errors.push(FieldError::not_supported(
                        child(&subject_path, "apiGroup"),
                        subject_group,
                        &[""],
                    ));
                }
                if !namespaced && str_of(subject, "namespace").is_empty() {
                    errors.push(FieldError::required(child(&subject_path, "namespace"), ""));
                }
            }
            "User" | "Group" => {
                if subject_group != RBAC_GROUP {
                    errors.push(FieldError::not_supported(
                        child(&subject_path, "apiGroup"),
                        subject_group,
                        &[RBAC_GROUP],
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                child(&subject_path, "kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
    errors
}

/// Validates a RoleBinding or ClusterRoleBinding update: `roleRef` cannot change.
pub fn validate_role_binding_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let new_ref = new.get("roleRef").cloned().unwrap_or(Value::Null);
    let old_ref = old.get("roleRef").cloned().unwrap_or(Value::Null);
    let fields = |r: &Value| ["apiGroup", "kind", "name"].map(|f| str_of(r, f).to_string());
    if fields(&new_ref) == fields(&old_ref) {
        return Vec::new();
    }
    let rendered = format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        go_quote(str_of(&new_ref, "apiGroup")),
        go_quote(str_of(&new_ref, "kind")),
        go_quote(str_of(&new_ref, "name"))
    );
    vec![FieldError::invalid_rendered(
        "roleRef",
        rendered,
        "cannot change roleRef",
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn role_rules() {
        let role = json!({"metadata": {"name": "system:reader", "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"]}]});
        assert_eq!(
            messages(&validate_role(&role, true)),
            vec![
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[1].resources: Required value: resource rules must supply at least one resource"
            ]
        );
        let cluster_role = json!({"metadata": {"name": "x"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]});
        assert!(validate_role(&cluster_role, false).is_empty());
    }

    #[test]
    fn bindings() {
        let binding = json!({"metadata": {"name": "b"}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}, {"kind": "Robot", "name": "x"}]});
        assert_eq!(
            messages(&validate_role_binding(&binding, false)),
            vec![
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "subjects[0].namespace: Required value",
                "subjects[1].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\""
            ]
        );
        let mut new = binding.clone();
        new["roleRef"]["name"] = json!("other");
        assert_eq!(
            messages(&validate_role_binding_update(&new, &binding)),
            vec![
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"other\"}: cannot change roleRef"
            ]
        );
    }
}
