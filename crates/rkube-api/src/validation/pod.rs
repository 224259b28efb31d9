//! Pod, PodTemplate and pod-spec validation, and the Pod update rules.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::container::{self, ContainerRole, PodContext};
use super::meta::{self, validate_annotations, validate_labels};
use super::names::{self, NameRule};
use super::scheduling_constraints;
use super::{FieldError, child, index, items, opt_i64, str_of};

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// The fields a Pod update may change, as upstream lists them in its error.
const UPDATABLE_POD_SPEC_FIELDS: &[&str] = &[
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

/// Validates a new Pod.
pub fn validate_pod(obj: &Value) -> Vec<FieldError> {
    let mut errors = validate_pod_without_create_rules(obj);
    if obj
        .pointer("/spec/ephemeralContainers")
        .is_some_and(|v| !items(Some(v)).is_empty())
    {
        errors.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    errors
}

fn validate_pod_without_create_rules(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let empty = Value::Object(Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    errors.extend(validate_pod_spec(spec, "spec"));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, container) in items(spec.get(list)).iter().enumerate() {
            let image = str_of(container, "image");
            if image.trim() != image {
                errors.push(FieldError::invalid(
                    child(&index(&child("spec", list), i), "image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errors
}

/// Validates a PodTemplate object.
pub fn validate_pod_template(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let empty = Value::Object(Map::new());
    errors.extend(validate_pod_template_spec(
        obj.get("template").unwrap_or(&empty),
        "template",
    ));
    errors
}

/// Upstream's `ValidatePodTemplateSpec`: template labels and annotations, and the pod spec.
/// Like upstream, template label and annotation errors are reported at `<path>.labels` and
/// `<path>.annotations` (without `metadata`).
pub fn validate_pod_template_spec(template: &Value, path: &str) -> Vec<FieldError> {
    let template_meta = template.get("metadata");
    let mut errors = validate_labels(
        template_meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object),
        &child(path, "labels"),
    );
    errors.extend(validate_annotations(
        template_meta
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object),
        &child(path, "annotations"),
    ));
    let empty = Value::Object(Map::new());
    let spec_path = child(path, "spec");
    let spec = template.get("spec").unwrap_or(&empty);
    errors.extend(validate_pod_spec(spec, &spec_path));
    if !items(spec.get("ephemeralContainers")).is_empty() {
        errors.push(FieldError::forbidden(
            child(&spec_path, "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errors
}

/// Upstream's `ValidatePodSpec` for the fields users touch.
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let volumes = items(spec.get("volumes"));
    errors.extend(validate_volumes(volumes, &child(path, "volumes")));
    let pod = PodContext {
        volume_names: volumes
            .iter()
            .map(|v| str_of(v, "name"))
            .filter(|n| !n.is_empty())
            .collect(),
        host_network: spec
            .get("hostNetwork")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    // Upstream order: containers, then init containers (duplicates of regular container names
    // are reported there), then ephemeral containers.
    let mut seen_names = HashSet::new();
    let containers = items(spec.get("containers"));
    let containers_path = child(path, "containers");
    if containers.is_empty() {
        errors.push(FieldError::required(&containers_path, ""));
    }
    for (list, role) in [
        ("containers", ContainerRole::Regular),
        ("initContainers", ContainerRole::Init),
        ("ephemeralContainers", ContainerRole::Ephemeral),
    ] {
        errors.extend(container::validate_containers(
            items(spec.get(list)),
            &child(path, list),
            role,
            &pod,
            &mut seen_names,
        ));
    }
    let restart_path = child(path, "restartPolicy");
    match str_of(spec, "restartPolicy") {
        "" => errors.push(FieldError::required(&restart_path, "")),
        p if RESTART_POLICIES.contains(&p) => {}
        p => errors.push(FieldError::not_supported(
            &restart_path,
            p,
            RESTART_POLICIES,
        )),
    }
    let dns_path = child(path, "dnsPolicy");
    let dns_policy = str_of(spec, "dnsPolicy");
    match dns_policy {
        "" => errors.push(FieldError::required(&dns_path, "")),
        p if DNS_POLICIES.contains(&p) => {}
        p => errors.push(FieldError::not_supported(&dns_path, p, DNS_POLICIES)),
    }
    errors.extend(validate_labels(
        spec.get("nodeSelector").and_then(Value::as_object),
        &child(path, "nodeSelector"),
    ));
    if let Some(context) = spec.get("securityContext").filter(|v| !v.is_null()) {
        errors.extend(scheduling_constraints::validate_pod_security_context(
            context,
            &child(path, "securityContext"),
        ));
    }
    for (i, secret) in items(spec.get("imagePullSecrets")).iter().enumerate() {
        if str_of(secret, "name").is_empty() {
            errors.push(FieldError::required(
                child(&index(&child(path, "imagePullSecrets"), i), "name"),
                "",
            ));
        }
    }
    if let Some(affinity) = spec.get("affinity").filter(|v| !v.is_null()) {
        errors.extend(scheduling_constraints::validate_affinity(
            affinity,
            &child(path, "affinity"),
        ));
    }
    if dns_policy == "None" && spec.get("dnsConfig").is_none_or(Value::is_null) {
        errors.push(FieldError::required(
            child(path, "dnsConfig"),
            "must provide `dnsConfig` when `dnsPolicy` is None",
        ));
    }
    errors.extend(
        scheduling_constraints::validate_topology_spread_constraints(
            items(spec.get("topologySpreadConstraints")),
            &child(path, "topologySpreadConstraints"),
        ),
    );
    for (field, rule) in [
        ("serviceAccountName", NameRule::Subdomain),
        ("nodeName", NameRule::Subdomain),
    ] {
        let value = str_of(spec, field);
        if !value.is_empty() {
            for msg in rule.check(value, false) {
                errors.push(FieldError::invalid(child(path, field), value, msg));
            }
        }
    }
    if let Some(deadline) = opt_i64(spec, "activeDeadlineSeconds")
        && !(1..=i64::from(i32::MAX)).contains(&deadline)
    {
        errors.push(FieldError::invalid(
            child(path, "activeDeadlineSeconds"),
            deadline,
            names::inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    for field in ["hostname", "subdomain"] {
        let value = str_of(spec, field);
        if !value.is_empty() {
            for msg in NameRule::Label.check(value, false) {
                errors.push(FieldError::invalid(child(path, field), value, msg));
            }
        }
    }
    errors.extend(validate_tolerations(
        items(spec.get("tolerations")),
        &child(path, "tolerations"),
    ));
    for field in ["priorityClassName", "schedulerName"] {
        let value = str_of(spec, field);
        if !value.is_empty() {
            for msg in NameRule::Subdomain.check(value, false) {
                errors.push(FieldError::invalid(child(path, field), value, msg));
            }
        }
    }
    errors
}

fn validate_volumes(volumes: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let volume_path = index(path, i);
        let name = str_of(volume, "name");
        if name.is_empty() {
            errors.push(FieldError::required(child(&volume_path, "name"), ""));
        } else {
            for msg in names::is_dns1123_label(name) {
                errors.push(FieldError::invalid(child(&volume_path, "name"), name, msg));
            }
            if !seen.insert(name) {
                errors.push(FieldError::duplicate(child(&volume_path, "name"), name));
            }
        }
        let mut sources = 0;
        for source in VOLUME_SOURCES {
            let Some(body) = volume.get(*source).filter(|v| !v.is_null()) else {
                continue;
            };
            sources += 1;
            let source_path = child(&volume_path, source);
            if sources > 1 {
                errors.push(FieldError::forbidden(
                    &source_path,
                    "may not specify more than 1 volume type",
                ));
                continue;
            }
            let required = match *source {
                "hostPath" => Some("path"),
                "secret" => Some("secretName"),
                "configMap" => Some("name"),
                "persistentVolumeClaim" => Some("claimName"),
                "nfs" => Some("server"),
                "csi" => Some("driver"),
                _ => None,
            };
            if let Some(field) = required
                && str_of(body, field).is_empty()
            {
                errors.push(FieldError::required(child(&source_path, field), ""));
            }
            if *source == "emptyDir" {
                match str_of(body, "medium") {
                    "" | "Memory" | "HugePages" => {}
                    m if m.starts_with("HugePages-") => {}
                    m => errors.push(FieldError::not_supported(
                        child(&source_path, "medium"),
                        m,
                        &["", "Memory", "HugePages"],
                    )),
                }
            }
        }
        if sources == 0 {
            errors.push(FieldError::required(
                &volume_path,
                "must specify a volume type",
            ));
        }
    }
    errors
}

/// Upstream's `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, toleration) in tolerations.iter().enumerate() {
        let tol_path = index(path, i);
        let key = str_of(toleration, "key");
        if !key.is_empty() {
            for msg in names::is_qualified_name(key) {
                errors.push(FieldError::invalid(child(&tol_path, "key"), key, msg));
            }
        }
        let operator = str_of(toleration, "operator");
        if key.is_empty() && operator != "Exists" {
            errors.push(FieldError::invalid(
                child(&tol_path, "operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        let effect = str_of(toleration, "effect");
        if opt_i64(toleration, "tolerationSeconds").is_some() && effect != "NoExecute" {
            errors.push(FieldError::invalid(
                child(&tol_path, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = str_of(toleration, "value");
        match operator {
            "" | "Equal" => {
                for msg in names::is_valid_label_value(value) {
                    errors.push(FieldError::invalid(
                        child(&tol_path, "operator"),
                        value,
                        msg,
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errors.push(FieldError::invalid(
                        child(&tol_path, "operator"),
                        toleration.get("value").cloned().unwrap_or(Value::Null),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                child(&tol_path, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errors.push(FieldError::not_supported(
                child(&tol_path, "effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errors
}

/// Validates a Pod update: the new Pod as a whole, plus only images, `activeDeadlineSeconds`,
/// added tolerations and removed scheduling gates may change in `spec`.
pub fn validate_pod_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_pod_without_create_rules(new);
    let empty = Value::Object(Map::new());
    let new_spec = new.get("spec").unwrap_or(&empty);
    let old_spec = old.get("spec").unwrap_or(&empty);
    for list in ["containers", "initContainers"] {
        let new_list = items(new_spec.get(list));
        let old_list = items(old_spec.get(list));
        if new_list.len() != old_list.len() {
            errors.push(FieldError::forbidden(
                child("spec", list),
                "pod updates may not add or remove containers",
            ));
            return errors;
        }
    }
    for (i, old_toleration) in items(old_spec.get("tolerations")).iter().enumerate() {
        let kept = items(new_spec.get("tolerations")).iter().any(|t| {
            let mut t = t.clone();
            let mut o = old_toleration.clone();
            for v in [&mut t, &mut o] {
                if let Some(m) = v.as_object_mut() {
                    m.remove("tolerationSeconds");
                }
            }
            normalized(&t) == normalized(&o)
        });
        if !kept {
            errors.push(FieldError::forbidden(
                index("spec.tolerations", i),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
        }
    }
    let old_gates: Vec<&Value> = items(old_spec.get("schedulingGates")).iter().collect();
    for (i, gate) in items(new_spec.get("schedulingGates")).iter().enumerate() {
        if !old_gates.contains(&gate) {
            errors.push(FieldError::forbidden(
                index("spec.schedulingGates", i),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    str_of(gate, "name")
                ),
            ));
        }
    }
    if normalized(new_spec) == normalized(old_spec) {
        return errors;
    }
    match (
        opt_i64(new_spec, "activeDeadlineSeconds"),
        opt_i64(old_spec, "activeDeadlineSeconds"),
    ) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errors.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                n,
                names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            return errors;
        }
        (Some(n), Some(o)) if o < n => {
            errors.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                n,
                "must be less than or equal to previous value",
            ));
            return errors;
        }
        (None, Some(_)) => {
            errors.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                Value::Null,
                "must not update from a positive integer to nil value",
            ));
        }
        _ => {}
    }
    let mut munged = new_spec.clone();
    if let Some(spec) = munged.as_object_mut() {
        for list in ["containers", "initContainers"] {
            if let Some(Value::Array(containers)) = spec.get_mut(list) {
                for (i, c) in containers.iter_mut().enumerate() {
                    if let Some(c) = c.as_object_mut() {
                        match old_spec
                            .get(list)
                            .and_then(|l| l.get(i))
                            .and_then(|o| o.get("image"))
                        {
                            Some(image) => c.insert("image".to_string(), image.clone()),
                            None => c.remove("image"),
                        };
                    }
                }
            }
        }
        for field in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
            match old_spec.get(field) {
                Some(v) => spec.insert(field.to_string(), v.clone()),
                None => spec.remove(field),
            };
        }
        if opt_i64(old_spec, "terminationGracePeriodSeconds").is_some_and(|g| g < 0)
            && opt_i64(new_spec, "terminationGracePeriodSeconds") == Some(1)
            && let Some(grace) = old_spec.get("terminationGracePeriodSeconds")
        {
            spec.insert("terminationGracePeriodSeconds".to_string(), grace.clone());
        }
    }
    if normalized(&munged) != normalized(old_spec) {
        errors.push(FieldError::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {}\n{}",
                UPDATABLE_POD_SPEC_FIELDS.join(","),
                spec_diff(old_spec, &munged)
            ),
        ));
    }
    errors
}

/// Drops nulls and empty lists so that missing, null and empty compare equal, like upstream's
/// semantic equality does for nil and empty slices and maps.
pub(crate) fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let empty_list = v.as_array().is_some_and(Vec::is_empty);
                if v.is_null() || empty_list {
                    continue;
                }
                out.insert(k.clone(), normalized(v));
            }
            Value::Object(out)
        }
        Value::Array(list) => Value::Array(list.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// A short `cmp.Diff`-like listing of the top-level spec fields that differ.
fn spec_diff(old: &Value, new: &Value) -> String {
    let mut lines = vec!["  core.PodSpec{".to_string()];
    let mut keys: Vec<&String> = Vec::new();
    for source in [old, new] {
        for k in source.as_object().into_iter().flat_map(Map::keys) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for k in keys {
        let (o, n) = (old.get(k).map(normalized), new.get(k).map(normalized));
        if o == n {
            continue;
        }
        let field = capitalize(k);
        if let Some(o) = o {
            lines.push(format!("- \t{field}: {o},"));
        }
        if let Some(n) = n {
            lines.push(format!("+ \t{field}: {n},"));
        }
    }
    lines.push("  }".to_string());
    lines.join("\n") + "\n"
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn valid_pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Always",
                                "terminationMessagePolicy": "File"}]
            }
        })
    }

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn valid_pod_passes() {
        assert!(validate_pod(&valid_pod()).is_empty());
    }

    #[test]
    fn containers_required_and_restart_policy() {
        let mut pod = valid_pod();
        pod["spec"]["containers"] = json!([]);
        pod["spec"]["restartPolicy"] = json!("Sometimes");
        assert_eq!(
            messages(&validate_pod(&pod)),
            vec![
                "spec.containers: Required value",
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
            ]
        );
    }

    #[test]
    fn duplicate_names_and_volumes() {
        let mut pod = valid_pod();
        let c = pod["spec"]["containers"][0].clone();
        pod["spec"]["containers"] = json!([c.clone(), c]);
        pod["spec"]["volumes"] = json!([{"name": "v", "emptyDir": {}}, {"name": "v"}]);
        assert_eq!(
            messages(&validate_pod(&pod)),
            vec![
                "spec.volumes[1].name: Duplicate value: \"v\"",
                "spec.volumes[1]: Required value: must specify a volume type",
                "spec.containers[1].name: Duplicate value: \"c\""
            ]
        );
    }

    #[test]
    fn tolerations() {
        let tolerations = json!([{"operator": "Equal", "value": "x"}, {"key": "k", "operator": "Exists", "value": "v"}]);
        let list = tolerations.as_array().cloned().unwrap_or_default();
        assert_eq!(
            messages(&validate_tolerations(&list, "spec.tolerations")),
            vec![
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "spec.tolerations[1].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'"
            ]
        );
    }

    #[test]
    fn pod_update_rules() {
        let old = valid_pod();
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert!(validate_pod_update(&new, &old).is_empty());
        new["spec"]["restartPolicy"] = json!("Never");
        let errors = validate_pod_update(&new, &old);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message().starts_with(
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n  core.PodSpec{"
        ));
        let mut new = old.clone();
        new["spec"]["containers"] = json!([]);
        assert!(messages(&validate_pod_update(&new, &old)).contains(
            &"spec.containers: Forbidden: pod updates may not add or remove containers".to_string()
        ));
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("");
        assert_eq!(
            messages(&validate_pod_update(&new, &old)),
            vec!["spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn template_label_errors_skip_metadata() {
        let template = json!({"metadata": {"labels": {"job-name": "x".repeat(64)}},
            "spec": valid_pod()["spec"].clone()});
        assert_eq!(
            messages(&validate_pod_template_spec(&template, "spec.template")),
            vec![format!(
                "spec.template.labels: Invalid value: \"{}\": must be no more than 63 characters",
                "x".repeat(64)
            )]
        );
    }

    #[test]
    fn ephemeral_containers_forbidden_on_create() {
        let mut pod = valid_pod();
        pod["spec"]["ephemeralContainers"] = json!([{"name": "e", "image": "busybox", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]);
        assert_eq!(
            messages(&validate_pod(&pod)),
            vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"]
        );
    }
}
