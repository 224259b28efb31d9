//! Lease (coordination.k8s.io), HorizontalPodAutoscaler (autoscaling/v2),
//! PodDisruptionBudget (policy/v1) and PriorityClass (scheduling.k8s.io) validation.

use serde_json::Value;

use super::meta::{self, validate_label_selector};
use super::names::{self, NameRule};
use super::{FieldError, child, go_rendered, index, items, nonnegative, opt_i64, opt_str, str_of};

/// The highest priority a user-defined PriorityClass may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;
/// System priority classes and their fixed values.
const SYSTEM_PRIORITY_CLASSES: &[(&str, i64)] = &[
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

/// Validates a Lease.
pub fn validate_lease(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let empty = Value::Object(serde_json::Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    if let Some(duration) = opt_i64(spec, "leaseDurationSeconds")
        && duration <= 0
    {
        errors.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            duration,
            "must be greater than 0",
        ));
    }
    nonnegative(spec, "leaseTransitions", "spec", &mut errors);
    if let Some(strategy) = opt_str(spec, "strategy")
        && strategy != "OldestEmulationVersion"
    {
        errors.push(FieldError::not_supported(
            "spec.strategy",
            strategy,
            &["OldestEmulationVersion"],
        ));
    }
    errors
}

/// Validates an autoscaling/v2 HorizontalPodAutoscaler.
pub fn validate_hpa(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let empty = Value::Object(serde_json::Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    let min = opt_i64(spec, "minReplicas");
    let max = opt_i64(spec, "maxReplicas").unwrap_or(0);
    if let Some(min) = min
        && min < 1
    {
        errors.push(FieldError::invalid(
            "spec.minReplicas",
            min,
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        errors.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if let Some(min) = min
        && max < min
    {
        errors.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let target = spec.get("scaleTargetRef").cloned().unwrap_or(Value::Null);
    let kind = str_of(&target, "kind");
    if kind.is_empty() {
        errors.push(FieldError::required("spec.scaleTargetRef.kind", ""));
    } else {
        for msg in names::is_path_segment_name(kind, false) {
            errors.push(FieldError::invalid("spec.scaleTargetRef.kind", kind, msg));
        }
    }
    let name = str_of(&target, "name");
    if name.is_empty() {
        errors.push(FieldError::required("spec.scaleTargetRef.name", ""));
    } else {
        for msg in names::is_path_segment_name(name, false) {
            errors.push(FieldError::invalid("spec.scaleTargetRef.name", name, msg));
        }
    }
    const METRIC_TYPES: &[&str] = &[
        "ContainerResource",
        "External",
        "Object",
        "Pods",
        "Resource",
    ];
    for (i, metric) in items(spec.get("metrics")).iter().enumerate() {
        let metric_path = index("spec.metrics", i);
        let metric_type = str_of(metric, "type");
        if metric_type.is_empty() {
            errors.push(FieldError::required(
                child(&metric_path, "type"),
                "must specify a metric source type",
            ));
            continue;
        }
        if !METRIC_TYPES.contains(&metric_type) {
            errors.push(FieldError::not_supported(
                child(&metric_path, "type"),
                metric_type,
                METRIC_TYPES,
            ));
            continue;
        }
        if metric_type == "Resource" {
            let resource_path = child(&metric_path, "resource");
            let Some(resource) = metric.get("resource").filter(|v| !v.is_null()) else {
                errors.push(FieldError::required(
                    &resource_path,
                    "must populate information for the given metric source",
                ));
                continue;
            };
            if str_of(resource, "name").is_empty() {
                errors.push(FieldError::required(
                    child(&resource_path, "name"),
                    "must specify a resource name",
                ));
            }
            let target_path = child(&resource_path, "target");
            let target = resource.get("target").cloned().unwrap_or(Value::Null);
            match str_of(&target, "type") {
                "" => errors.push(FieldError::required(
                    child(&target_path, "type"),
                    "must specify a metric target type",
                )),
                "Utilization" | "Value" | "AverageValue" => {}
                other => errors.push(FieldError::not_supported(
                    child(&target_path, "type"),
                    other,
                    &["AverageValue", "Utilization", "Value"],
                )),
            }
            if let Some(utilization) = opt_i64(&target, "averageUtilization")
                && utilization < 1
            {
                errors.push(FieldError::invalid(
                    child(&target_path, "averageUtilization"),
                    utilization,
                    "must be greater than 0",
                ));
            }
        }
    }
    errors
}

/// An `IntOrString` printed unquoted, like upstream's `String()`.
fn int_or_string(value: &Value) -> Value {
    match value {
        Value::String(s) => go_rendered(s.clone()),
        other => go_rendered(other.to_string()),
    }
}

fn validate_int_or_percent(value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(s) => {
            for msg in names::is_valid_percent(s) {
                errors.push(FieldError::invalid(path, int_or_string(value), msg));
            }
            if s.strip_suffix('%')
                .and_then(|d| d.parse::<i64>().ok())
                .is_some_and(|n| n > 100)
            {
                errors.push(FieldError::invalid(
                    path,
                    int_or_string(value),
                    "must not be greater than 100%",
                ));
            }
        }
        Value::Number(n) => {
            let n = n.as_i64().unwrap_or(-1);
            if n < 0 {
                errors.push(FieldError::invalid(
                    path,
                    n,
                    "must be greater than or equal to 0",
                ));
            }
        }
        _ => {}
    }
}

/// Validates a PodDisruptionBudget.
pub fn validate_pdb(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let empty = Value::Object(serde_json::Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    let min_available = spec.get("minAvailable").filter(|v| !v.is_null());
    let max_unavailable = spec.get("maxUnavailable").filter(|v| !v.is_null());
    if min_available.is_some() && max_unavailable.is_some() {
        errors.push(FieldError::invalid_rendered(
            "spec",
            "policy.PodDisruptionBudgetSpec{...}",
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    if let Some(v) = min_available {
        validate_int_or_percent(v, "spec.minAvailable", &mut errors);
    }
    if let Some(v) = max_unavailable {
        validate_int_or_percent(v, "spec.maxUnavailable", &mut errors);
    }
    if let Some(selector) = spec.get("selector").filter(|v| !v.is_null()) {
        errors.extend(validate_label_selector(selector, "spec.selector"));
    }
    if let Some(policy) = opt_str(spec, "unhealthyPodEvictionPolicy")
        && !matches!(policy, "IfHealthyBudget" | "AlwaysAllow")
    {
        errors.push(FieldError::not_supported(
            "spec.unhealthyPodEvictionPolicy",
            policy,
            &["AlwaysAllow", "IfHealthyBudget"],
        ));
    }
    errors
}

/// Validates a PriorityClass: reserved `system-` names, the user maximum and the preemption
/// policy.
pub fn validate_priority_class(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, false, NameRule::Subdomain);
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let value = opt_i64(obj, "value").unwrap_or(0);
    let global_default = obj
        .get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if name.starts_with("system-") {
        let problem = match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((_, expected)) if *expected != value => {
                Some(format!("value of {name} PriorityClass must be {expected}"))
            }
            Some(_) if global_default => Some(format!(
                "globalDefault of {name} PriorityClass must be false"
            )),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            errors.push(FieldError::forbidden(
                "metadata.name",
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {problem}"),
            ));
        }
    } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errors.push(FieldError::forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    if let Some(policy) = opt_str(obj, "preemptionPolicy")
        && !matches!(policy, "PreemptLowerPriority" | "Never")
    {
        errors.push(FieldError::not_supported(
            "preemptionPolicy",
            policy,
            &["PreemptLowerPriority", "Never"],
        ));
    }
    errors
}

/// Validates a PriorityClass update: `value` and `preemptionPolicy` are fixed.
pub fn validate_priority_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if opt_i64(new, "value") != opt_i64(old, "value") {
        errors.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    super::immutable(
        new.get("preemptionPolicy"),
        old.get("preemptionPolicy"),
        "preemptionPolicy",
        &mut errors,
    );
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
    fn priority_classes() {
        let pc = json!({"metadata": {"name": "high"}, "value": 2_000_000_000i64});
        assert_eq!(
            messages(&validate_priority_class(&pc)),
            vec![
                "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
            ]
        );
        let pc = json!({"metadata": {"name": "system-foo"}, "value": 1});
        assert_eq!(
            messages(&validate_priority_class(&pc)),
            vec![
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-foo is not a known system priority class"
            ]
        );
        let old = json!({"metadata": {"name": "a"}, "value": 1});
        let new = json!({"metadata": {"name": "a"}, "value": 2});
        assert_eq!(
            messages(&validate_priority_class_update(&new, &old)),
            vec!["value: Forbidden: may not be changed in an update."]
        );
    }

    #[test]
    fn pdb_and_hpa() {
        let pdb =
            json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"minAvailable": "150%"}});
        assert_eq!(
            messages(&validate_pdb(&pdb)),
            vec!["spec.minAvailable: Invalid value: 150%: must not be greater than 100%"]
        );
        let hpa = json!({"metadata": {"name": "h", "namespace": "d"}, "spec": {"minReplicas": 3, "maxReplicas": 2,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}}});
        assert_eq!(
            messages(&validate_hpa(&hpa)),
            vec![
                "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"
            ]
        );
    }

    #[test]
    fn lease() {
        let lease = json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}});
        assert_eq!(
            messages(&validate_lease(&lease)),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
    }
}
