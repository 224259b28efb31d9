//! Pod scheduling constraints and security contexts: affinity, topology spread constraints,
//! and the user/group ids of pod and container security contexts.

use std::collections::HashSet;

use serde_json::Value;

use super::meta::validate_label_selector;
use super::names;
use super::{FieldError, child, go_rendered, index, items, opt_i64, str_of};

/// Upstream's `validateAffinity` for node affinity and pod (anti-)affinity.
pub fn validate_affinity(affinity: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(node) = affinity.get("nodeAffinity").filter(|v| !v.is_null()) {
        let node_path = child(path, "nodeAffinity");
        if let Some(required) = node
            .get("requiredDuringSchedulingIgnoredDuringExecution")
            .filter(|v| !v.is_null())
        {
            errors.extend(validate_node_selector(
                required,
                &child(&node_path, "requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        let preferred_path = child(
            &node_path,
            "preferredDuringSchedulingIgnoredDuringExecution",
        );
        for (i, term) in items(node.get("preferredDuringSchedulingIgnoredDuringExecution"))
            .iter()
            .enumerate()
        {
            let term_path = index(&preferred_path, i);
            validate_weight(term, &term_path, &mut errors);
            let preference = term.get("preference").cloned().unwrap_or(Value::Null);
            errors.extend(validate_node_selector_term(
                &preference,
                &child(&term_path, "preference"),
            ));
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(pod_affinity) = affinity.get(kind).filter(|v| !v.is_null()) else {
            continue;
        };
        let kind_path = child(path, kind);
        let required_path = child(&kind_path, "requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in items(pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
            .iter()
            .enumerate()
        {
            errors.extend(validate_pod_affinity_term(term, &index(&required_path, i)));
        }
        let preferred_path = child(
            &kind_path,
            "preferredDuringSchedulingIgnoredDuringExecution",
        );
        for (i, term) in items(pod_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))
            .iter()
            .enumerate()
        {
            let term_path = index(&preferred_path, i);
            validate_weight(term, &term_path, &mut errors);
            let inner = term.get("podAffinityTerm").cloned().unwrap_or(Value::Null);
            errors.extend(validate_pod_affinity_term(
                &inner,
                &child(&term_path, "podAffinityTerm"),
            ));
        }
    }
    errors
}

fn validate_weight(term: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let weight = opt_i64(term, "weight").unwrap_or(0);
    if !(1..=100).contains(&weight) {
        errors.push(FieldError::invalid(
            child(path, "weight"),
            weight,
            "must be in the range 1-100",
        ));
    }
}

fn validate_node_selector(selector: &Value, path: &str) -> Vec<FieldError> {
    let terms = items(selector.get("nodeSelectorTerms"));
    let terms_path = child(path, "nodeSelectorTerms");
    let mut errors = Vec::new();
    if terms.is_empty() {
        errors.push(FieldError::required(
            &terms_path,
            "must have at least one node selector term",
        ));
    }
    for (i, term) in terms.iter().enumerate() {
        errors.extend(validate_node_selector_term(term, &index(&terms_path, i)));
    }
    errors
}

fn validate_node_selector_term(term: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["matchExpressions", "matchFields"] {
        let list_path = child(path, field);
        for (i, requirement) in items(term.get(field)).iter().enumerate() {
            let req_path = index(&list_path, i);
            let values = items(requirement.get("values"));
            let values_path = child(&req_path, "values");
            match str_of(requirement, "operator") {
                "In" | "NotIn" => {
                    if values.is_empty() {
                        errors.push(FieldError::required(
                            &values_path,
                            "must be specified when `operator` is 'In' or 'NotIn'",
                        ));
                    }
                }
                "Exists" | "DoesNotExist" => {
                    if !values.is_empty() {
                        errors.push(FieldError::forbidden(
                            &values_path,
                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                        ));
                    }
                }
                "Gt" | "Lt" => {
                    if values.len() != 1 {
                        errors.push(FieldError::required(
                            &values_path,
                            "must be specified single value when `operator` is 'Lt' or 'Gt'",
                        ));
                    }
                }
                other => errors.push(FieldError::invalid(
                    child(&req_path, "operator"),
                    other,
                    "not a valid selector operator",
                )),
            }
            let key = str_of(requirement, "key");
            if field == "matchExpressions" {
                for msg in names::is_qualified_name(key) {
                    errors.push(FieldError::invalid(child(&req_path, "key"), key, msg));
                }
            } else if key != "metadata.name" {
                errors.push(FieldError::invalid(
                    child(&req_path, "key"),
                    key,
                    "not a valid field selector key",
                ));
            }
        }
    }
    errors
}

fn validate_pod_affinity_term(term: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(selector) = term.get("labelSelector").filter(|v| !v.is_null()) {
        errors.extend(validate_label_selector(
            selector,
            &child(path, "labelSelector"),
        ));
    }
    if let Some(selector) = term.get("namespaceSelector").filter(|v| !v.is_null()) {
        errors.extend(validate_label_selector(
            selector,
            &child(path, "namespaceSelector"),
        ));
    }
    for (i, namespace) in items(term.get("namespaces")).iter().enumerate() {
        let namespace = namespace.as_str().unwrap_or("");
        for msg in names::is_dns1123_label(namespace) {
            errors.push(FieldError::invalid(
                index(&child(path, "namespaces"), i),
                namespace,
                msg,
            ));
        }
    }
    let topology_key = str_of(term, "topologyKey");
    if topology_key.is_empty() {
        errors.push(FieldError::required(
            child(path, "topologyKey"),
            "can not be empty",
        ));
    } else {
        for msg in names::is_qualified_name(topology_key) {
            errors.push(FieldError::invalid(
                child(path, "topologyKey"),
                topology_key,
                msg,
            ));
        }
    }
    errors
}

/// Upstream's `validateTopologySpreadConstraints`.
pub fn validate_topology_spread_constraints(constraints: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, constraint) in constraints.iter().enumerate() {
        let item_path = index(path, i);
        let max_skew = opt_i64(constraint, "maxSkew").unwrap_or(0);
        if max_skew <= 0 {
            errors.push(FieldError::invalid(
                child(&item_path, "maxSkew"),
                max_skew,
                "must be greater than zero",
            ));
        }
        let topology_key = str_of(constraint, "topologyKey");
        if topology_key.is_empty() {
            errors.push(FieldError::required(
                child(&item_path, "topologyKey"),
                "can not be empty",
            ));
        } else {
            for msg in names::is_qualified_name(topology_key) {
                errors.push(FieldError::invalid(
                    child(&item_path, "topologyKey"),
                    topology_key,
                    msg,
                ));
            }
        }
        let action = str_of(constraint, "whenUnsatisfiable");
        let action_path = child(&item_path, "whenUnsatisfiable");
        match action {
            "" => errors.push(FieldError::required(&action_path, "can not be empty")),
            "DoNotSchedule" | "ScheduleAnyway" => {}
            other => errors.push(FieldError::not_supported(
                &action_path,
                other,
                &["DoNotSchedule", "ScheduleAnyway"],
            )),
        }
        if let Some(min_domains) = opt_i64(constraint, "minDomains") {
            if min_domains <= 0 {
                errors.push(FieldError::invalid(
                    child(&item_path, "minDomains"),
                    min_domains,
                    "must be greater than zero",
                ));
            }
            if action != "DoNotSchedule" {
                errors.push(FieldError::invalid(
                    child(&item_path, "minDomains"),
                    min_domains,
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"
                    ),
                ));
            }
        }
        if !seen.insert((topology_key, action)) {
            errors.push(FieldError::duplicate(
                format!("{item_path}.{{topologyKey, whenUnsatisfiable}}"),
                go_rendered(format!("{{{topology_key}, {action}}}")),
            ));
        }
        if let Some(selector) = constraint.get("labelSelector").filter(|v| !v.is_null()) {
            errors.extend(validate_label_selector(
                selector,
                &child(&item_path, "labelSelector"),
            ));
        }
    }
    errors
}

fn validate_id(value: &Value, field: &str, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(id) = opt_i64(value, field)
        && !(0..=i64::from(i32::MAX)).contains(&id)
    {
        errors.push(FieldError::invalid(
            child(path, field),
            id,
            names::inclusive_range_error(0, i64::from(i32::MAX)),
        ));
    }
}

/// Pod-level `securityContext`: user, group and fs-group ids in range.
pub fn validate_pod_security_context(context: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["runAsUser", "runAsGroup", "fsGroup"] {
        validate_id(context, field, path, &mut errors);
    }
    for (i, group) in items(context.get("supplementalGroups")).iter().enumerate() {
        if let Some(id) = group.as_i64()
            && !(0..=i64::from(i32::MAX)).contains(&id)
        {
            errors.push(FieldError::invalid(
                index(&child(path, "supplementalGroups"), i),
                id,
                names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
        }
    }
    if let Some(policy) = context.get("fsGroupChangePolicy").and_then(Value::as_str)
        && !matches!(policy, "OnRootMismatch" | "Always")
    {
        errors.push(FieldError::not_supported(
            child(path, "fsGroupChangePolicy"),
            policy,
            &["OnRootMismatch", "Always"],
        ));
    }
    errors
}

/// Container-level `securityContext`: ids in range, and privileged containers may not forbid
/// privilege escalation.
pub fn validate_container_security_context(context: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["runAsUser", "runAsGroup"] {
        validate_id(context, field, path, &mut errors);
    }
    let privileged = context.get("privileged").and_then(Value::as_bool) == Some(true);
    let escalation = context
        .get("allowPrivilegeEscalation")
        .and_then(Value::as_bool);
    if privileged && escalation == Some(false) {
        errors.push(FieldError::invalid_rendered(
            path,
            "&core.SecurityContext{...}",
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
    if let Some(mount) = context.get("procMount").and_then(Value::as_str)
        && !matches!(mount, "Default" | "Unmasked")
    {
        errors.push(FieldError::not_supported(
            child(path, "procMount"),
            mount,
            &["Default", "Unmasked"],
        ));
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
    fn node_affinity() {
        let affinity = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In"}, {"key": "size", "operator": "Gt", "values": ["1", "2"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {}}]}});
        assert_eq!(
            messages(&validate_affinity(&affinity, "spec.affinity")),
            vec![
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'",
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100"
            ]
        );
    }

    #[test]
    fn pod_affinity_and_spread() {
        let affinity = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "x"}}}]}});
        assert_eq!(
            messages(&validate_affinity(&affinity, "spec.affinity")),
            vec![
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty"
            ]
        );
        let constraints =
            json!([{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}]);
        assert_eq!(
            messages(&validate_topology_spread_constraints(
                constraints.as_array().map_or(&[], Vec::as_slice),
                "spec.topologySpreadConstraints"
            )),
            vec![
                "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
                "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\""
            ]
        );
    }

    #[test]
    fn security_contexts() {
        let context = json!({"runAsUser": -1});
        assert_eq!(
            messages(&validate_pod_security_context(
                &context,
                "spec.securityContext"
            )),
            vec![
                "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive"
            ]
        );
        let context = json!({"privileged": true, "allowPrivilegeEscalation": false});
        assert_eq!(
            validate_container_security_context(&context, "spec.containers[0].securityContext")
                .len(),
            1
        );
    }
}
