//! Defaulting as upstream Kubernetes v1.33 applies it when objects are decoded
//! (`SetDefaults_*` of each group's external version), for the kinds rkube serves.
//!
//! A few values upstream sets outside defaulting are included and marked as such: the Pod's
//! service account, priority and default tolerations (admission plugins), Service IP families
//! (the Service registry) and Namespace finalizers (the Namespace strategy).

pub mod pod;
pub mod workloads;

use serde_json::{Map, Value, json};

pub use pod::{default_pod, default_pod_spec, default_pod_template, default_pull_policy};
pub use workloads::generate_job_selector;

/// Applies upstream's defaults for `group`/`version`/`kind` to `obj` in place. Unknown kinds
/// and non-object values are left alone.
pub fn default_object(group: &str, version: &str, kind: &str, obj: &mut Value) {
    let _ = version;
    if !obj.is_object() {
        return;
    }
    match (group, kind) {
        ("", "Pod") => pod::default_pod(obj),
        ("", "PodTemplate") => {
            if let Some(template) = obj.get_mut("template") {
                pod::default_pod_template(template);
            }
        }
        ("", "Service") => default_service(obj),
        ("", "Endpoints") => default_endpoints(obj),
        ("", "Secret") => {
            merge_secret_string_data(obj);
            if let Some(map) = obj.as_object_mut() {
                set_default(map, "type", json!("Opaque"));
            }
        }
        ("", "Namespace") => default_namespace(obj),
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = object_mut(obj, "spec") {
                workloads::default_claim_spec(spec);
            }
            if let Some(status) = object_mut(obj, "status") {
                set_default(status, "phase", json!("Pending"));
            }
        }
        ("", "PersistentVolume") => default_persistent_volume(obj),
        ("", "ReplicationController") => workloads::default_replication_controller(obj),
        ("", "LimitRange") => default_limit_range(obj),
        ("apps", "Deployment") => workloads::default_deployment(obj),
        ("apps", "ReplicaSet") => workloads::default_replica_set(obj),
        ("apps", "StatefulSet") => workloads::default_stateful_set(obj),
        ("apps", "DaemonSet") => workloads::default_daemon_set(obj),
        ("batch", "Job") => workloads::default_job(obj),
        ("batch", "CronJob") => workloads::default_cron_job(obj),
        ("networking.k8s.io", "NetworkPolicy") => default_network_policy(obj),
        ("discovery.k8s.io", "EndpointSlice") => {
            for port in obj
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(port) = port.as_object_mut() {
                    set_default(port, "protocol", json!("TCP"));
                    set_default(port, "name", json!(""));
                }
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") if version == "v2" => default_hpa(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            if let Some(spec) = object_mut(obj, "spec") {
                set_default(spec, "minReplicas", json!(1));
            }
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            if let Some(map) = obj.as_object_mut() {
                set_default(map, "preemptionPolicy", json!("PreemptLowerPriority"));
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            if let Some(map) = obj.as_object_mut() {
                set_default(map, "reclaimPolicy", json!("Delete"));
                set_default(map, "volumeBindingMode", json!("Immediate"));
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            default_role_binding(obj);
        }
        _ => {}
    }
}

/// Sets `map[key] = value` when the key is missing or null.
pub(crate) fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get(key) {
        Some(v) if !v.is_null() => {}
        _ => {
            map.insert(key.to_string(), value);
        }
    }
}

/// The object under `key`, created when missing or null; `None` when `value` is not an object
/// or the field holds something else.
pub(crate) fn object_mut<'a>(
    value: &'a mut Value,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let map = value.as_object_mut()?;
    let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

/// The object items of the array under `key` (none when missing).
pub(crate) fn array_mut<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// What decoding a v1 Secret does upstream: each `stringData` entry is base64-encoded into
/// `data` (overwriting the same key) and `stringData` is dropped.
pub fn merge_secret_string_data(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    if string_data.is_empty() {
        return;
    }
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or("");
            data.insert(key, Value::String(base64_encode(text.as_bytes())));
        }
    }
}

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// core/v1 `SetDefaults_Service`, plus the single-stack IPv4 families the Service registry
/// assigns (rkube clusters are single-stack IPv4).
fn default_service(obj: &mut Value) {
    let Some(spec) = object_mut(obj, "spec") else {
        return;
    };
    set_default(spec, "sessionAffinity", json!("None"));
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let config = spec
                .entry("sessionAffinityConfig")
                .or_insert_with(|| json!({}));
            if config.is_null() {
                *config = json!({});
            }
            if let Some(client_ip) = object_mut(config, "clientIP") {
                set_default(client_ip, "timeoutSeconds", json!(10800));
            }
        }
        _ => {}
    }
    set_default(spec, "type", json!("ClusterIP"));
    for port in array_mut(spec, "ports") {
        set_default(port, "protocol", json!("TCP"));
        let target_unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if target_unset && let Some(number) = port.get("port").cloned() {
            port.insert("targetPort".to_string(), number);
        }
    }
    let service_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible = matches!(service_type.as_str(), "NodePort" | "LoadBalancer")
        || (service_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(
        service_type.as_str(),
        "NodePort" | "LoadBalancer" | "ClusterIP"
    ) {
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if service_type != "ExternalName" {
        let headless_without_selector = spec.get("clusterIP").and_then(Value::as_str)
            == Some("None")
            && spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty);
        let policy = if headless_without_selector {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        set_default(spec, "ipFamilyPolicy", json!(policy));
        let families_missing = spec
            .get("ipFamilies")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if families_missing {
            spec.insert("ipFamilies".to_string(), json!(["IPv4"]));
        }
    }
}

fn default_endpoints(obj: &mut Value) {
    let Some(subsets) = obj.get_mut("subsets").and_then(Value::as_array_mut) else {
        return;
    };
    for subset in subsets.iter_mut().filter_map(Value::as_object_mut) {
        for port in array_mut(subset, "ports") {
            set_default(port, "protocol", json!("TCP"));
        }
    }
}

/// core/v1 `SetDefaults_Namespace` (the `kubernetes.io/metadata.name` label) and
/// `SetDefaults_NamespaceStatus` (phase Active), plus the `kubernetes` finalizer the Namespace
/// strategy adds on create.
fn default_namespace(obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(name) = name
        && !name.is_empty()
        && let Some(meta) = object_mut(obj, "metadata")
        && let Some(labels) = object_mut_in(meta, "labels")
    {
        labels.insert(
            "kubernetes.io/metadata.name".to_string(),
            Value::String(name),
        );
    }
    if let Some(spec) = object_mut(obj, "spec") {
        let finalizers_missing = spec
            .get("finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if finalizers_missing {
            spec.insert("finalizers".to_string(), json!(["kubernetes"]));
        }
    }
    if let Some(status) = object_mut(obj, "status") {
        let phase_missing = status
            .get("phase")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if phase_missing {
            status.insert("phase".to_string(), json!("Active"));
        }
    }
}

fn object_mut_in<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

fn default_persistent_volume(obj: &mut Value) {
    if let Some(spec) = object_mut(obj, "spec") {
        set_default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        set_default(spec, "volumeMode", json!("Filesystem"));
        if let Some(host_path) = spec.get_mut("hostPath").and_then(Value::as_object_mut) {
            set_default(host_path, "type", json!(""));
        }
    }
    if let Some(status) = object_mut(obj, "status") {
        set_default(status, "phase", json!("Pending"));
    }
}

/// core/v1 `SetDefaults_LimitRangeItem`: for Container limits, default = max, then
/// defaultRequest = default, then defaultRequest = min.
fn default_limit_range(obj: &mut Value) {
    let Some(limits) = obj
        .pointer_mut("/spec/limits")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for item in limits.iter_mut().filter_map(Value::as_object_mut) {
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        let copy = |item: &Map<String, Value>, from: &str| {
            item.get(from)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        for (target, source) in [
            ("default", "max"),
            ("defaultRequest", "default"),
            ("defaultRequest", "min"),
        ] {
            let values = copy(item, source);
            if let Some(target_map) = object_mut_in(item, target) {
                for (k, v) in values {
                    target_map.entry(k).or_insert(v);
                }
            }
        }
    }
}

fn default_network_policy(obj: &mut Value) {
    let Some(spec) = object_mut(obj, "spec") else {
        return;
    };
    for direction in ["ingress", "egress"] {
        for rule in array_mut(spec, direction) {
            for port in array_mut(rule, "ports") {
                set_default(port, "protocol", json!("TCP"));
            }
        }
    }
    let types_missing = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if types_missing {
        let has_egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty());
        let types = if has_egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        spec.insert("policyTypes".to_string(), types);
    }
}

/// autoscaling/v2 defaults: one minimum replica, CPU at 80% when no metrics are given, and the
/// scaling-rule defaults inside a given `behavior`.
fn default_hpa(obj: &mut Value) {
    let Some(spec) = object_mut(obj, "spec") else {
        return;
    };
    set_default(spec, "minReplicas", json!(1));
    let metrics_missing = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if metrics_missing {
        spec.insert(
            "metrics".to_string(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    let Some(behavior) = spec.get_mut("behavior").filter(|b| b.is_object()) else {
        return;
    };
    if let Some(up) = object_mut(behavior, "scaleUp") {
        set_default(up, "stabilizationWindowSeconds", json!(0));
        set_default(up, "selectPolicy", json!("Max"));
        set_default(
            up,
            "policies",
            json!([{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
    }
    if let Some(down) = object_mut(behavior, "scaleDown") {
        set_default(down, "stabilizationWindowSeconds", json!(300));
        set_default(down, "selectPolicy", json!("Max"));
        set_default(
            down,
            "policies",
            json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
    }
}

/// rbac/v1 defaults: `roleRef.apiGroup` and the API group of User and Group subjects.
fn default_role_binding(obj: &mut Value) {
    if let Some(role_ref) = obj.get_mut("roleRef").and_then(Value::as_object_mut) {
        let group_missing = role_ref
            .get("apiGroup")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if group_missing {
            role_ref.insert("apiGroup".to_string(), json!("rbac.authorization.k8s.io"));
        }
    }
    for subject in obj
        .get_mut("subjects")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let Some(subject) = subject.as_object_mut() else {
            continue;
        };
        let group_missing = subject
            .get("apiGroup")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        let kind = subject.get("kind").and_then(Value::as_str).unwrap_or("");
        if group_missing && matches!(kind, "User" | "Group") {
            subject.insert("apiGroup".to_string(), json!("rbac.authorization.k8s.io"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{validate_create, validate_update};

    #[test]
    fn service_defaults() {
        let mut svc = json!({"spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}});
        default_object("", "v1", "Service", &mut svc);
        assert_eq!(
            svc["spec"],
            json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "web"},
                   "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
                   "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]})
        );
        let mut node_port =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}});
        default_object("", "v1", "Service", &mut node_port);
        assert_eq!(node_port["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(node_port["spec"]["ports"][0]["targetPort"], "http");
    }

    #[test]
    fn small_kinds() {
        let mut secret = json!({"data": {"a": "eA=="}, "stringData": {"a": "hello", "b": "hi!"}});
        default_object("", "v1", "Secret", &mut secret);
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret["data"], json!({"a": "aGVsbG8=", "b": "aGkh"}));
        assert!(secret.get("stringData").is_none());
        assert_eq!(base64_encode(b"ab"), "YWI=");
        let mut ns = json!({"metadata": {"name": "dev"}});
        default_object("", "v1", "Namespace", &mut ns);
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "dev"
        );
        let mut sc = json!({"provisioner": "x"});
        default_object("storage.k8s.io", "v1", "StorageClass", &mut sc);
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        let mut np = json!({"spec": {"egress": [{"ports": [{"port": 53}]}]}});
        default_object("networking.k8s.io", "v1", "NetworkPolicy", &mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        let mut rb = json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"}]});
        default_object("rbac.authorization.k8s.io", "v1", "RoleBinding", &mut rb);
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        let mut pvc = json!({"spec": {}});
        default_object("", "v1", "PersistentVolumeClaim", &mut pvc);
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        let mut lr = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}}]}});
        default_object("", "v1", "LimitRange", &mut lr);
        assert_eq!(lr["spec"]["limits"][0]["default"], json!({"cpu": "2"}));
        assert_eq!(
            lr["spec"]["limits"][0]["defaultRequest"],
            json!({"cpu": "2", "memory": "1Mi"})
        );
        let mut hpa = json!({"spec": {"behavior": {"scaleDown": {}}}});
        default_object("autoscaling", "v2", "HorizontalPodAutoscaler", &mut hpa);
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
            300
        );
    }

    /// Defaulted minimal manifests (what `kubectl create` sends) pass validation.
    #[test]
    fn defaulted_minimal_objects_validate() {
        let cases = [
            (
                "",
                "Pod",
                json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
            ),
            ("", "Namespace", json!({"metadata": {"name": "dev"}})),
            (
                "",
                "Secret",
                json!({"metadata": {"name": "s", "namespace": "d"}, "stringData": {"a": "b"}}),
            ),
            (
                "",
                "ConfigMap",
                json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "b"}}),
            ),
            (
                "apps",
                "Deployment",
                json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
            ),
            (
                "apps",
                "StatefulSet",
                json!({"metadata": {"name": "db", "namespace": "d"}, "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "postgres"}]}}}}),
            ),
            (
                "apps",
                "DaemonSet",
                json!({"metadata": {"name": "ds", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "ds"}},
                "template": {"metadata": {"labels": {"app": "ds"}}, "spec": {"containers": [{"name": "c", "image": "agent"}]}}}}),
            ),
            (
                "",
                "ReplicationController",
                json!({"metadata": {"name": "rc", "namespace": "d"}, "spec": {
                "template": {"metadata": {"labels": {"app": "rc"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
            ),
            (
                "batch",
                "CronJob",
                json!({"metadata": {"name": "cj", "namespace": "d"}, "spec": {"schedule": "@hourly",
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
            ),
            (
                "storage.k8s.io",
                "StorageClass",
                json!({"metadata": {"name": "fast"}, "provisioner": "rancher.io/local-path"}),
            ),
            (
                "scheduling.k8s.io",
                "PriorityClass",
                json!({"metadata": {"name": "high"}, "value": 1000}),
            ),
            (
                "networking.k8s.io",
                "NetworkPolicy",
                json!({"metadata": {"name": "deny", "namespace": "d"}, "spec": {"podSelector": {}}}),
            ),
        ];
        for (group, kind, mut obj) in cases {
            default_object(group, "v1", kind, &mut obj);
            let errors: Vec<String> = validate_create(group, "v1", kind, &obj)
                .iter()
                .map(|e| e.message())
                .collect();
            assert!(errors.is_empty(), "{kind}: {errors:?}");
            let update_errors = validate_update(group, "v1", kind, &obj, &obj);
            assert!(update_errors.is_empty(), "{kind} update: {update_errors:?}");
        }
    }

    #[test]
    fn job_flow() {
        let mut job = json!({"metadata": {"name": "pi", "namespace": "d"}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}});
        default_object("batch", "v1", "Job", &mut job);
        generate_job_selector(&mut job, "1234");
        let errors: Vec<String> = validate_create("batch", "v1", "Job", &job)
            .iter()
            .map(|e| e.message())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}
