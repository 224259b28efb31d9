//! Deployment, ReplicaSet, ReplicationController, StatefulSet, DaemonSet and ControllerRevision
//! validation.

use serde_json::{Map, Value};

use super::meta::{
    self, render_label_selector, selector_is_empty, selector_matches, validate_label_selector,
};
use super::names::{self, NameRule};
use super::pod::{normalized, validate_pod_template_spec};
use super::{
    FieldError, child, go_rendered, go_string_map, immutable, index, items, nonnegative, obj_of,
    opt_i64, present, str_of,
};

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

fn spec_of(obj: &Value) -> Value {
    obj.get("spec")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

fn template_labels(template: &Value) -> Option<&Map<String, Value>> {
    template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
}

/// The template labels as upstream prints them (`map[string]string{...}`).
fn rendered_template_labels(template: &Value) -> Value {
    go_rendered(go_string_map(template_labels(template)))
}

fn rendered_selector(selector: &Value) -> Value {
    go_rendered(render_label_selector(selector))
}

/// An `IntOrString` printed like its `String()`: `25%` or `1`, unquoted.
fn rendered_int_or_string(value: Option<&Value>) -> Value {
    match value {
        Some(Value::String(s)) => go_rendered(s.clone()),
        Some(Value::Number(n)) => go_rendered(n.to_string()),
        _ => go_rendered("0"),
    }
}

/// Checks a workload template: selector match, pod template, restartPolicy Always and no
/// activeDeadlineSeconds (`owner` names the kind in the message).
fn validate_workload_template(
    template: &Value,
    selector_matches_template: Option<bool>,
    path: &str,
    owner: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if selector_matches_template == Some(false) {
        errors.push(FieldError::invalid(
            child(&child(path, "metadata"), "labels"),
            rendered_template_labels(template),
            SELECTOR_MISMATCH,
        ));
    }
    errors.extend(validate_pod_template_spec(template, path));
    let spec_path = child(path, "spec");
    let restart_policy = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if restart_policy != "Always" {
        errors.push(FieldError::not_supported(
            child(&spec_path, "restartPolicy"),
            restart_policy,
            &["Always"],
        ));
    }
    if let Some(deadline) = template
        .pointer("/spec/activeDeadlineSeconds")
        .filter(|v| !v.is_null())
    {
        let detail = format!("activeDeadlineSeconds in {owner} is not Supported");
        if owner == "StatefulSet" {
            errors.push(FieldError::forbidden(
                child(&spec_path, "activeDeadlineSeconds"),
                detail,
            ));
        } else {
            errors.push(FieldError::invalid(
                child(&spec_path, "activeDeadlineSeconds"),
                deadline.clone(),
                detail,
            ));
        }
    }
    errors
}

/// Validates `spec.selector` (a LabelSelector) and returns whether it matches the template
/// (None when the selector selects everything, so no match check applies).
fn validate_selector(
    spec: &Value,
    owner: &str,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<bool> {
    let template = spec.get("template").cloned().unwrap_or(Value::Null);
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => {
            if required {
                errors.push(FieldError::required("spec.selector", ""));
            }
            Some(false)
        }
        Some(selector) => {
            errors.extend(validate_label_selector(selector, "spec.selector"));
            if selector_is_empty(selector) {
                errors.push(FieldError::invalid(
                    "spec.selector",
                    rendered_selector(selector),
                    format!("empty selector is invalid for {owner}"),
                ));
                None
            } else {
                Some(selector_matches(selector, template_labels(&template)))
            }
        }
    }
}

/// Upstream's `ValidatePositiveIntOrPercent` plus the 100% cap when `cap_percent` is set.
fn validate_int_or_percent(
    value: Option<&Value>,
    path: &str,
    cap_percent: bool,
    errors: &mut Vec<FieldError>,
) {
    match value {
        Some(Value::String(s)) => {
            for msg in names::is_valid_percent(s) {
                errors.push(FieldError::invalid(
                    path,
                    rendered_int_or_string(value),
                    msg,
                ));
            }
            if cap_percent
                && let Some(n) = s.strip_suffix('%').and_then(|d| d.parse::<i64>().ok())
                && n > 100
            {
                errors.push(FieldError::invalid(
                    path,
                    rendered_int_or_string(value),
                    "must not be greater than 100%",
                ));
            }
        }
        Some(Value::Number(n)) => {
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

fn int_or_percent_value(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::String(s)) => s.trim_end_matches('%').parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

/// Validates a Deployment.
pub fn validate_deployment(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let spec = spec_of(obj);
    nonnegative(&spec, "replicas", "spec", &mut errors);
    let matches = validate_selector(&spec, "deployment", true, &mut errors);
    let template = spec.get("template").cloned().unwrap_or(Value::Null);
    errors.extend(validate_workload_template(
        &template,
        matches,
        "spec.template",
        "ReplicaSet",
    ));
    let strategy = spec.get("strategy").cloned().unwrap_or(Value::Null);
    match str_of(&strategy, "type") {
        "Recreate" => {
            if present(&strategy, "rollingUpdate") {
                errors.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
            None => errors.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(rolling) => {
                let unavailable = rolling.get("maxUnavailable");
                let surge = rolling.get("maxSurge");
                validate_int_or_percent(
                    unavailable,
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    false,
                    &mut errors,
                );
                validate_int_or_percent(
                    surge,
                    "spec.strategy.rollingUpdate.maxSurge",
                    false,
                    &mut errors,
                );
                if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                    errors.push(FieldError::invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        rendered_int_or_string(unavailable),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if let Some(Value::String(s)) = unavailable
                    && s.strip_suffix('%')
                        .and_then(|d| d.parse::<i64>().ok())
                        .is_some_and(|n| n > 100)
                {
                    errors.push(FieldError::invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        rendered_int_or_string(unavailable),
                        "must not be greater than 100%",
                    ));
                }
            }
        },
        other => {
            let rolling = if present(&strategy, "rollingUpdate") {
                "(*apps.RollingUpdateDeployment)(0xc000000000)"
            } else {
                "(*apps.RollingUpdateDeployment)(nil)"
            };
            errors.push(FieldError::not_supported(
                "spec.strategy",
                go_rendered(format!(
                    "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{rolling}}}",
                    super::go_quote(other)
                )),
                &["Recreate", "RollingUpdate"],
            ));
        }
    }
    nonnegative(&spec, "minReadySeconds", "spec", &mut errors);
    nonnegative(&spec, "revisionHistoryLimit", "spec", &mut errors);
    if let Some(deadline) = opt_i64(&spec, "progressDeadlineSeconds") {
        nonnegative(&spec, "progressDeadlineSeconds", "spec", &mut errors);
        if deadline <= opt_i64(&spec, "minReadySeconds").unwrap_or(0) {
            errors.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errors
}

/// Validates a ReplicaSet.
pub fn validate_replica_set(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let spec = spec_of(obj);
    nonnegative(&spec, "replicas", "spec", &mut errors);
    nonnegative(&spec, "minReadySeconds", "spec", &mut errors);
    let matches = validate_selector(&spec, "deployment", true, &mut errors);
    let template = spec.get("template").cloned().unwrap_or(Value::Null);
    errors.extend(validate_workload_template(
        &template,
        matches,
        "spec.template",
        "ReplicaSet",
    ));
    errors
}

/// Validates a ReplicationController (map selector).
pub fn validate_replication_controller(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let spec = spec_of(obj);
    nonnegative(&spec, "minReadySeconds", "spec", &mut errors);
    let selector = obj_of(&spec, "selector");
    if selector.is_none_or(Map::is_empty) {
        errors.push(FieldError::required("spec.selector", ""));
    }
    errors.extend(meta::validate_labels(selector, "spec.selector"));
    nonnegative(&spec, "replicas", "spec", &mut errors);
    match spec.get("template").filter(|t| !t.is_null()) {
        None => errors.push(FieldError::required("spec.template", "")),
        Some(template) => {
            let matches = selector
                .filter(|s| !s.is_empty())
                .map(|s| meta::map_selector_matches(s, template_labels(template)));
            errors.extend(validate_workload_template(
                template,
                matches,
                "spec.template",
                "ReplicationController",
            ));
        }
    }
    errors
}

/// Validates a StatefulSet.
pub fn validate_stateful_set(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let spec = spec_of(obj);
    match str_of(&spec, "podManagementPolicy") {
        "" => errors.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        p => errors.push(FieldError::invalid(
            "spec.podManagementPolicy",
            p,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.get("updateStrategy").cloned().unwrap_or(Value::Null);
    match str_of(&strategy, "type") {
        "" => errors.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(rolling) = strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
                errors.push(FieldError::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    rolling.clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(rolling) = strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
                nonnegative(
                    rolling,
                    "partition",
                    "spec.updateStrategy.rollingUpdate",
                    &mut errors,
                );
                if let Some(unavailable) = rolling.get("maxUnavailable").filter(|v| !v.is_null()) {
                    let path = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                    validate_int_or_percent(Some(unavailable), path, true, &mut errors);
                    if int_or_percent_value(Some(unavailable)) == 0 {
                        errors.push(FieldError::invalid(
                            path,
                            rendered_int_or_string(Some(unavailable)),
                            "must be greater than 0",
                        ));
                    }
                }
            }
        }
        t => errors.push(FieldError::invalid(
            "spec.updateStrategy",
            go_rendered(format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}}}",
                super::go_quote(t)
            )),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    for field in ["whenDeleted", "whenScaled"] {
        if let Some(policy) = spec
            .pointer(&format!("/persistentVolumeClaimRetentionPolicy/{field}"))
            .and_then(Value::as_str)
            && !matches!(policy, "Retain" | "Delete")
        {
            errors.push(FieldError::not_supported(
                format!("spec.persistentVolumeClaimRetentionPolicy.{field}"),
                policy,
                &["Retain", "Delete"],
            ));
        }
    }
    nonnegative(&spec, "replicas", "spec", &mut errors);
    nonnegative(&spec, "minReadySeconds", "spec", &mut errors);
    if let Some(ordinals) = spec.get("ordinals").filter(|v| !v.is_null()) {
        nonnegative(ordinals, "start", "spec.ordinals", &mut errors);
    }
    let matches = validate_selector(&spec, "statefulset", true, &mut errors);
    let template = spec.get("template").cloned().unwrap_or(Value::Null);
    errors.extend(validate_workload_template(
        &template,
        matches,
        "spec.template",
        "StatefulSet",
    ));
    for (i, claim) in items(spec.get("volumeClaimTemplates")).iter().enumerate() {
        let claim_path = index("spec.volumeClaimTemplates", i);
        let name = claim
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        for msg in names::is_dns1123_subdomain(name) {
            errors.push(FieldError::invalid(
                child(&claim_path, "metadata.name"),
                name,
                msg,
            ));
        }
        if items(claim.pointer("/spec/accessModes")).is_empty() {
            errors.push(FieldError::required(
                child(&claim_path, "spec.accessModes"),
                "at least 1 access mode is required",
            ));
        }
        if claim.pointer("/spec/resources/requests/storage").is_none() {
            errors.push(FieldError::required(
                child(&claim_path, "spec.resources[storage]"),
                "",
            ));
        }
    }
    errors
}

/// Validates a StatefulSet update: only replicas, ordinals, template, updateStrategy,
/// revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and minReadySeconds may change.
pub fn validate_stateful_set_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let (mut new_spec, mut old_spec) = (spec_of(new), spec_of(old));
    for spec in [&mut new_spec, &mut old_spec] {
        if let Some(s) = spec.as_object_mut() {
            for field in [
                "replicas",
                "template",
                "updateStrategy",
                "minReadySeconds",
                "ordinals",
                "revisionHistoryLimit",
                "persistentVolumeClaimRetentionPolicy",
            ] {
                s.remove(field);
            }
        }
    }
    if normalized(&new_spec) != normalized(&old_spec) {
        errors.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
    errors
}

/// Validates a DaemonSet.
pub fn validate_daemon_set(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let spec = spec_of(obj);
    let template = spec.get("template").cloned().unwrap_or(Value::Null);
    let selector = spec.get("selector").filter(|s| !s.is_null());
    if let Some(selector) = selector {
        errors.extend(validate_label_selector(selector, "spec.selector"));
    }
    let matches = selector.is_some_and(|s| selector_matches(s, template_labels(&template)));
    if !matches {
        errors.push(FieldError::invalid(
            "spec.template.metadata.labels",
            rendered_template_labels(&template),
            SELECTOR_MISMATCH,
        ));
    }
    if let Some(selector) = selector
        && selector_is_empty(selector)
    {
        errors.push(FieldError::invalid(
            "spec.selector",
            rendered_selector(selector),
            "empty selector is invalid for daemonset",
        ));
    }
    errors.extend(validate_workload_template(
        &template,
        None,
        "spec.template",
        "DaemonSet",
    ));
    nonnegative(&spec, "minReadySeconds", "spec", &mut errors);
    nonnegative(&spec, "templateGeneration", "spec", &mut errors);
    nonnegative(&spec, "revisionHistoryLimit", "spec", &mut errors);
    let strategy = spec.get("updateStrategy").cloned().unwrap_or(Value::Null);
    match str_of(&strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            if let Some(rolling) = strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
                let path = "spec.updateStrategy.rollingUpdate";
                let unavailable = rolling.get("maxUnavailable");
                let surge = rolling.get("maxSurge").filter(|v| !v.is_null());
                validate_int_or_percent(unavailable, &child(path, "maxUnavailable"), true, &mut errors);
                validate_int_or_percent(surge, &child(path, "maxSurge"), true, &mut errors);
                let has_unavailable = int_or_percent_value(unavailable) != 0;
                let has_surge = int_or_percent_value(surge) != 0;
                if has_unavailable && has_surge {
                    errors.push(FieldError::invalid(
                        child(path, "maxSurge"),
                        rendered_int_or_string(surge),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_unavailable && !has_surge {
                    errors.push(FieldError::invalid(
                        child(path, "maxUnavailable"),
                        rendered_int_or_string(unavailable),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        }
        t => errors.push(FieldError::not_supported(
            "spec.updateStrategy",
            go_rendered(format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}",
                super::go_quote(t)
            )),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    errors
}

/// Validates a Deployment, ReplicaSet or DaemonSet update: `spec.selector` is immutable in
/// apps/v1.
pub fn validate_selector_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let new_selector = new.pointer("/spec/selector").filter(|v| !v.is_null());
    let old_selector = old.pointer("/spec/selector").filter(|v| !v.is_null());
    if new_selector.map(normalized) == old_selector.map(normalized) {
        return Vec::new();
    }
    let rendered = match new_selector {
        Some(selector) => render_label_selector(selector),
        None => "null".to_string(),
    };
    vec![FieldError::invalid_rendered(
        "spec.selector",
        rendered,
        super::FIELD_IMMUTABLE,
    )]
}

/// Validates a ControllerRevision.
pub fn validate_controller_revision(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    if obj.get("data").is_none_or(Value::is_null) {
        errors.push(FieldError::required("data", "data is mandatory"));
    }
    nonnegative(obj, "revision", "", &mut errors);
    errors
}

/// Validates a ControllerRevision update: `data` is fixed.
pub fn validate_controller_revision_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    immutable(new.get("data"), old.get("data"), "data", &mut errors);
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                             "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}
                }
            }
        })
    }

    #[test]
    fn valid_deployment() {
        assert!(validate_deployment(&deployment()).is_empty());
    }

    #[test]
    fn selector_mismatch_and_replicas() {
        let mut d = deployment();
        d["spec"]["template"]["metadata"]["labels"] = json!({"app": "x"});
        d["spec"]["replicas"] = json!(-1);
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            messages(&validate_deployment(&d)),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`",
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
            ]
        );
    }

    #[test]
    fn missing_selector_and_strategy() {
        let mut d = deployment();
        d["spec"].as_object_mut().map(|s| s.remove("selector"));
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": 0});
        assert_eq!(
            messages(&validate_deployment(&d)),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
            ]
        );
    }

    #[test]
    fn selector_is_immutable() {
        let old = deployment();
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "nginx2"}});
        assert_eq!(
            messages(&validate_selector_update(&new, &old)),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"nginx2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
    }

    #[test]
    fn stateful_set_update() {
        let old = json!({"spec": {"replicas": 1, "serviceName": "a"}});
        let new = json!({"spec": {"replicas": 3, "serviceName": "b"}});
        assert_eq!(
            messages(&validate_stateful_set_update(&new, &old)),
            vec![
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
            ]
        );
    }

    #[test]
    fn daemon_set_and_rc() {
        let mut ds = deployment();
        ds["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}});
        assert_eq!(
            messages(&validate_daemon_set(&ds)),
            vec![
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0 when maxSurge is 0"
            ]
        );
        let mut rc = deployment();
        rc["spec"]["selector"] = json!({});
        let errors = messages(&validate_replication_controller(&rc));
        assert_eq!(errors, vec!["spec.selector: Required value"]);
    }
}
