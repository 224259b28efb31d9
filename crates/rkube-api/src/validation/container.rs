//! Container validation: names, images, ports, env, volume mounts, resources and probes.

use std::collections::HashSet;

use serde_json::Value;

use super::names;
use super::quantity::{self, Quantity};
use super::scheduling_constraints;
use super::{FieldError, child, index, items, key, nonnegative, obj_of, opt_i64, present, str_of};

/// Which list a container belongs to; decides which fields are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerRole {
    /// `spec.containers`.
    Regular,
    /// `spec.initContainers`.
    Init,
    /// `spec.ephemeralContainers`.
    Ephemeral,
}

/// What the pod around the containers provides to their checks.
pub struct PodContext<'a> {
    /// Names of the pod's volumes.
    pub volume_names: HashSet<&'a str>,
    /// Whether `spec.hostNetwork` is true.
    pub host_network: bool,
}

const PORT_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const FIELD_REF_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Validates one list of containers at `path`; `seen_names` is shared across the pod's lists.
pub fn validate_containers(
    containers: &[Value],
    path: &str,
    role: ContainerRole,
    pod: &PodContext<'_>,
    seen_names: &mut HashSet<String>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, container) in containers.iter().enumerate() {
        let container_path = index(path, i);
        let name = str_of(container, "name");
        let name_path = child(&container_path, "name");
        if name.is_empty() {
            errors.push(FieldError::required(&name_path, ""));
        } else {
            for msg in names::is_dns1123_label(name) {
                errors.push(FieldError::invalid(&name_path, name, msg));
            }
            if !seen_names.insert(name.to_string()) {
                errors.push(FieldError::duplicate(&name_path, name));
            }
        }
        if str_of(container, "image").is_empty() {
            errors.push(FieldError::required(child(&container_path, "image"), ""));
        }
        errors.extend(validate_container_fields(
            container,
            &container_path,
            role,
            pod,
        ));
    }
    errors
}

fn validate_container_fields(
    container: &Value,
    path: &str,
    role: ContainerRole,
    pod: &PodContext<'_>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let policy_path = child(path, "terminationMessagePolicy");
    match str_of(container, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errors.push(FieldError::required(
            &policy_path,
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
        p => errors.push(FieldError::invalid(
            &policy_path,
            p,
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
    }
    let restart_policy = container.get("restartPolicy").and_then(Value::as_str);
    let sidecar = restart_policy == Some("Always");
    errors.extend(validate_ports(
        items(container.get("ports")),
        &child(path, "ports"),
        pod.host_network,
    ));
    errors.extend(validate_env(
        items(container.get("env")),
        &child(path, "env"),
    ));
    for (i, source) in items(container.get("envFrom")).iter().enumerate() {
        let source_path = index(&child(path, "envFrom"), i);
        let refs = ["configMapRef", "secretRef"]
            .into_iter()
            .filter(|r| present(source, r))
            .count();
        if refs == 0 {
            errors.push(FieldError::invalid(
                &source_path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if refs > 1 {
            errors.push(FieldError::invalid(
                &source_path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
        for r in ["configMapRef", "secretRef"] {
            if let Some(reference) = source.get(r).filter(|v| !v.is_null())
                && str_of(reference, "name").is_empty()
            {
                errors.push(FieldError::required(
                    child(&child(&source_path, r), "name"),
                    "",
                ));
            }
        }
    }
    errors.extend(validate_volume_mounts(
        items(container.get("volumeMounts")),
        &child(path, "volumeMounts"),
        pod,
    ));
    match str_of(container, "imagePullPolicy") {
        "" => errors.push(FieldError::required(child(path, "imagePullPolicy"), "")),
        p if PULL_POLICIES.contains(&p) => {}
        p => errors.push(FieldError::not_supported(
            child(path, "imagePullPolicy"),
            p,
            PULL_POLICIES,
        )),
    }
    if let Some(resources) = container.get("resources") {
        errors.extend(validate_resource_requirements(
            resources,
            &child(path, "resources"),
        ));
    }
    if let Some(context) = container.get("securityContext").filter(|v| !v.is_null()) {
        errors.extend(scheduling_constraints::validate_container_security_context(
            context,
            &child(path, "securityContext"),
        ));
    }
    for probe_name in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = container.get(probe_name).filter(|p| !p.is_null()) else {
            continue;
        };
        let probe_path = child(path, probe_name);
        if role == ContainerRole::Ephemeral || (role == ContainerRole::Init && !sidecar) {
            let detail = if role == ContainerRole::Init {
                "may not be set for init containers without restartPolicy=Always"
            } else {
                "cannot be set for an Ephemeral Container"
            };
            errors.push(FieldError::forbidden(&probe_path, detail));
            continue;
        }
        errors.extend(validate_probe(probe, &probe_path, probe_name));
    }
    match (role, restart_policy) {
        (ContainerRole::Init, Some(p)) if p != "Always" => {
            errors.push(FieldError::not_supported(
                child(path, "restartPolicy"),
                p,
                &["Always"],
            ));
        }
        (ContainerRole::Regular | ContainerRole::Ephemeral, Some(_)) => {
            errors.push(FieldError::forbidden(
                child(path, "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
        _ => {}
    }
    errors
}

fn validate_ports(ports: &[Value], path: &str, host_network: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names_seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let port_path = index(path, i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = names::is_valid_port_name(name);
            for msg in &msgs {
                errors.push(FieldError::invalid(
                    child(&port_path, "name"),
                    name,
                    msg.clone(),
                ));
            }
            if msgs.is_empty() && !names_seen.insert(name) {
                errors.push(FieldError::duplicate(child(&port_path, "name"), name));
            }
        }
        let container_port = opt_i64(port, "containerPort").unwrap_or(0);
        if container_port == 0 {
            errors.push(FieldError::required(child(&port_path, "containerPort"), ""));
        } else {
            for msg in names::is_valid_port_num(container_port) {
                errors.push(FieldError::invalid(
                    child(&port_path, "containerPort"),
                    container_port,
                    msg,
                ));
            }
        }
        let host_port = opt_i64(port, "hostPort").unwrap_or(0);
        if host_port != 0 {
            for msg in names::is_valid_port_num(host_port) {
                errors.push(FieldError::invalid(
                    child(&port_path, "hostPort"),
                    host_port,
                    msg,
                ));
            }
            if host_network && host_port != container_port {
                errors.push(FieldError::invalid(
                    child(&port_path, "hostPort"),
                    host_port,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
        match str_of(port, "protocol") {
            "" => errors.push(FieldError::required(child(&port_path, "protocol"), "")),
            p if PORT_PROTOCOLS.contains(&p) => {}
            p => errors.push(FieldError::not_supported(
                child(&port_path, "protocol"),
                p,
                PORT_PROTOCOLS,
            )),
        }
    }
    errors
}

fn validate_env(env: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, var) in env.iter().enumerate() {
        let var_path = index(path, i);
        let name = str_of(var, "name");
        if name.is_empty() {
            errors.push(FieldError::required(child(&var_path, "name"), ""));
        } else {
            for msg in names::is_env_var_name(name) {
                errors.push(FieldError::invalid(child(&var_path, "name"), name, msg));
            }
        }
        let Some(value_from) = var.get("valueFrom").filter(|v| !v.is_null()) else {
            continue;
        };
        let from_path = child(&var_path, "valueFrom");
        let sources = [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
        ];
        let count = sources.iter().filter(|s| present(value_from, s)).count();
        if !str_of(var, "value").is_empty() && count != 0 {
            errors.push(FieldError::invalid(
                &from_path,
                "",
                "may not be specified when `value` is not empty",
            ));
        }
        if count == 0 {
            errors.push(FieldError::invalid(
                &from_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if count > 1 {
            errors.push(FieldError::invalid(
                &from_path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
        if let Some(field_ref) = value_from.get("fieldRef").filter(|v| !v.is_null()) {
            let ref_path = child(&from_path, "fieldRef");
            let field_path = str_of(field_ref, "fieldPath");
            if field_path.is_empty() {
                errors.push(FieldError::required(child(&ref_path, "fieldPath"), ""));
            } else {
                let base = field_path.split_once('[').map_or(field_path, |(b, _)| b);
                let subscript_ok = base == field_path
                    || (matches!(base, "metadata.labels" | "metadata.annotations")
                        && field_path.ends_with("']"));
                if !FIELD_REF_PATHS.contains(&base) || !subscript_ok {
                    errors.push(FieldError::not_supported(
                        child(&ref_path, "fieldPath"),
                        field_path,
                        FIELD_REF_PATHS,
                    ));
                }
            }
        }
        for (source, key_field) in [("configMapKeyRef", "key"), ("secretKeyRef", "key")] {
            if let Some(reference) = value_from.get(source).filter(|v| !v.is_null()) {
                let ref_path = child(&from_path, source);
                if str_of(reference, "name").is_empty() {
                    errors.push(FieldError::required(child(&ref_path, "name"), ""));
                }
                let key_value = str_of(reference, key_field);
                if key_value.is_empty() {
                    errors.push(FieldError::required(child(&ref_path, key_field), ""));
                } else {
                    for msg in names::is_config_map_key(key_value) {
                        errors.push(FieldError::invalid(
                            child(&ref_path, key_field),
                            key_value,
                            msg,
                        ));
                    }
                }
            }
        }
        if let Some(resource_ref) = value_from.get("resourceFieldRef").filter(|v| !v.is_null())
            && str_of(resource_ref, "resource").is_empty()
        {
            errors.push(FieldError::required(
                child(&child(&from_path, "resourceFieldRef"), "resource"),
                "",
            ));
        }
    }
    errors
}

fn validate_volume_mounts(mounts: &[Value], path: &str, pod: &PodContext<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut paths_seen = HashSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let mount_path = index(path, i);
        let name = str_of(mount, "name");
        if name.is_empty() {
            errors.push(FieldError::required(child(&mount_path, "name"), ""));
        } else if !pod.volume_names.contains(name) {
            errors.push(FieldError::not_found(child(&mount_path, "name"), name));
        }
        let target = str_of(mount, "mountPath");
        if target.is_empty() {
            errors.push(FieldError::required(child(&mount_path, "mountPath"), ""));
        } else if !paths_seen.insert(target) {
            errors.push(FieldError::invalid(
                child(&mount_path, "mountPath"),
                target,
                "must be unique",
            ));
        }
        if let Some(sub_path) = mount.get("subPath").and_then(Value::as_str)
            && (sub_path.starts_with('/') || sub_path.split('/').any(|part| part == ".."))
        {
            let detail = if sub_path.starts_with('/') {
                "must be a relative path"
            } else {
                "must not contain '..'"
            };
            errors.push(FieldError::invalid(
                child(&mount_path, "subPath"),
                sub_path,
                detail,
            ));
        }
    }
    errors
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Validates a quantity map such as `resources.limits` at `path` (entries at `path[name]`).
pub fn validate_resource_list(
    list: Option<&serde_json::Map<String, Value>>,
    path: &str,
    container: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (name, value) in list.into_iter().flatten() {
        let entry_path = key(path, name);
        for msg in names::is_qualified_name(name) {
            errors.push(FieldError::invalid(&entry_path, name.as_str(), msg));
        }
        if container && !name.contains('/') && !is_standard_container_resource(name) {
            errors.push(FieldError::invalid(
                &entry_path,
                name.as_str(),
                "must be a standard resource for containers",
            ));
        }
        match quantity::parse_value(value) {
            Err(error) => errors.push(FieldError::invalid(
                &entry_path,
                value.clone(),
                error.to_string(),
            )),
            Ok(q) if q.is_negative() => {
                errors.push(FieldError::invalid(
                    &entry_path,
                    q.canonical(),
                    "must be greater than or equal to 0",
                ));
            }
            Ok(q) => {
                let integer_only = !is_native_resource(name);
                if integer_only && q.milli_value() % 1000 != 0 {
                    errors.push(FieldError::invalid(
                        &entry_path,
                        q.canonical(),
                        "must be an integer",
                    ));
                }
            }
        }
    }
    errors
}

/// Upstream's `ValidateContainerResourceRequirements`: valid names and quantities, and each
/// request at most its limit (extended resources: equal).
pub fn validate_resource_requirements(resources: &Value, path: &str) -> Vec<FieldError> {
    let limits = obj_of(resources, "limits");
    let requests = obj_of(resources, "requests");
    let limits_path = child(path, "limits");
    let requests_path = child(path, "requests");
    let mut errors = validate_resource_list(limits, &limits_path, true);
    errors.extend(validate_resource_list(requests, &requests_path, true));
    for (name, request) in requests.into_iter().flatten() {
        let Some(limit) = limits.and_then(|l| l.get(name)) else {
            if !is_native_resource(name) || name.starts_with("hugepages-") {
                errors.push(FieldError::forbidden(
                    &limits_path,
                    format!("{name}: Limit must be set for non overcommitable resources"),
                ));
            }
            continue;
        };
        let (Ok(request), Ok(limit)) =
            (quantity::parse_value(request), quantity::parse_value(limit))
        else {
            continue;
        };
        let overcommit = is_native_resource(name) && !name.starts_with("hugepages-");
        if request != limit && !overcommit {
            errors.push(FieldError::invalid(
                &requests_path,
                request.canonical(),
                format!("must be equal to {name} limit of {}", limit.canonical()),
            ));
        } else if request > limit {
            errors.push(FieldError::invalid(
                &requests_path,
                request.canonical(),
                format!(
                    "must be less than or equal to {name} limit of {}",
                    limit.canonical()
                ),
            ));
        }
    }
    errors
}

fn validate_port_num_or_name(port: Option<&Value>, path: &str) -> Vec<FieldError> {
    match port {
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            names::is_valid_port_num(n)
                .into_iter()
                .map(|m| FieldError::invalid(path, n, m))
                .collect()
        }
        Some(Value::String(s)) if !s.is_empty() => names::is_valid_port_name(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, s.as_str(), m))
            .collect(),
        _ => vec![FieldError::required(path, "")],
    }
}

/// Upstream's `validateProbe`: one handler, non-negative timings, success threshold 1 for
/// liveness and startup probes.
pub fn validate_probe(probe: &Value, path: &str, probe_name: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let handlers = ["exec", "httpGet", "tcpSocket", "grpc"];
    let mut count = 0;
    for handler in handlers {
        let Some(body) = probe.get(handler).filter(|v| !v.is_null()) else {
            continue;
        };
        count += 1;
        let handler_path = child(path, handler);
        if count > 1 {
            errors.push(FieldError::forbidden(
                &handler_path,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        match handler {
            "exec" => {
                if items(body.get("command")).is_empty() {
                    errors.push(FieldError::required(child(&handler_path, "command"), ""));
                }
            }
            "httpGet" => {
                errors.extend(validate_port_num_or_name(
                    body.get("port"),
                    &child(&handler_path, "port"),
                ));
                match str_of(body, "scheme") {
                    "HTTP" | "HTTPS" | "" => {}
                    s => errors.push(FieldError::not_supported(
                        child(&handler_path, "scheme"),
                        s,
                        &["HTTP", "HTTPS"],
                    )),
                }
            }
            "tcpSocket" => errors.extend(validate_port_num_or_name(
                body.get("port"),
                &child(&handler_path, "port"),
            )),
            _ => {
                let port = opt_i64(body, "port").unwrap_or(0);
                for msg in names::is_valid_port_num(port) {
                    errors.push(FieldError::invalid(child(&handler_path, "port"), port, msg));
                }
            }
        }
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a handler type"));
    }
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        nonnegative(probe, field, path, &mut errors);
    }
    if probe_name != "readinessProbe"
        && let Some(threshold) = opt_i64(probe, "successThreshold")
        && threshold != 1
    {
        errors.push(FieldError::invalid(
            child(path, "successThreshold"),
            threshold,
            "must be 1",
        ));
    }
    if let Some(grace) = opt_i64(probe, "terminationGracePeriodSeconds") {
        if probe_name == "readinessProbe" {
            errors.push(FieldError::invalid(
                child(path, "terminationGracePeriodSeconds"),
                grace,
                "must not be set for readinessProbes",
            ));
        } else if grace <= 0 {
            errors.push(FieldError::invalid(
                child(path, "terminationGracePeriodSeconds"),
                grace,
                "must be greater than 0",
            ));
        }
    }
    errors
}

/// Parses a quantity for callers outside this module.
pub fn parse_quantity(value: &Value) -> Option<Quantity> {
    quantity::parse_value(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(container: Value) -> Vec<String> {
        let pod = PodContext {
            volume_names: HashSet::from(["data"]),
            host_network: false,
        };
        let mut seen = HashSet::new();
        validate_containers(
            &[container],
            "spec.containers",
            ContainerRole::Regular,
            &pod,
            &mut seen,
        )
        .iter()
        .map(FieldError::message)
        .collect()
    }

    fn base() -> Value {
        json!({"name": "c", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"})
    }

    #[test]
    fn ports() {
        let mut c = base();
        c["ports"] = json!([{"containerPort": 70000, "protocol": "TCP"}, {"containerPort": 80, "protocol": "HTTP"}]);
        assert_eq!(
            check(c),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
            ]
        );
    }

    #[test]
    fn resources() {
        let mut c = base();
        c["resources"] = json!({"limits": {"cpu": "1"}, "requests": {"cpu": "2", "memory": "-1"}});
        assert_eq!(
            check(c),
            vec![
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
            ]
        );
        let mut c = base();
        c["resources"] = json!({"limits": {"gpu": "1"}});
        assert_eq!(
            check(c),
            vec![
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers"
            ]
        );
    }

    #[test]
    fn env_mounts_probes() {
        let mut c = base();
        c["env"] = json!([{"name": ""}, {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}}]);
        c["volumeMounts"] = json!([{"name": "missing", "mountPath": "/x"}]);
        c["livenessProbe"] = json!({"successThreshold": 2});
        let messages = check(c);
        assert_eq!(
            messages[0],
            "spec.containers[0].env[0].name: Required value"
        );
        assert!(messages[1].starts_with("spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.foo\""));
        assert_eq!(
            messages[2],
            "spec.containers[0].volumeMounts[0].name: Not found: \"missing\""
        );
        assert_eq!(
            messages[3],
            "spec.containers[0].livenessProbe: Required value: must specify a handler type"
        );
        assert_eq!(
            messages[4],
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"
        );
    }

    #[test]
    fn names_and_images() {
        let c = json!({"name": "Bad_Name", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"});
        let messages = check(c);
        assert!(messages[0].starts_with(
            "spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label"
        ));
        assert_eq!(messages[1], "spec.containers[0].image: Required value");
    }
}
