//! Pod and pod-template defaults (`SetDefaults_PodSpec`, `SetDefaults_Container`, probes,
//! volumes), plus what the ServiceAccount, Priority and DefaultTolerationSeconds admission
//! plugins add to Pods.

use serde_json::{Map, Value, json};

use super::{array_mut, object_mut, set_default};

/// `/dev/termination-log`.
pub const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";
/// Default file mode of secret, configMap, downwardAPI and projected volumes (0644).
pub const DEFAULT_VOLUME_MODE: i64 = 420;

/// Defaults a Pod object: the pod spec, requests from limits, `enableServiceLinks`, host-network
/// ports and the admission-time fields (see [`default_pod_admission`]).
pub fn default_pod(pod: &mut Value) {
    let Some(spec) = object_mut(pod, "spec") else {
        return;
    };
    default_pod_spec(spec);
    for list in ["containers", "initContainers"] {
        for container in array_mut(spec, list) {
            default_requests_from_limits(container);
        }
    }
    set_default(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            for container in array_mut(spec, list) {
                let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) else {
                    continue;
                };
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    if port.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0
                        && let Some(container_port) = port.get("containerPort").cloned()
                    {
                        port.insert("hostPort".to_string(), container_port);
                    }
                }
            }
        }
    }
    default_pod_admission(spec);
}

/// What admission adds to a new Pod upstream (not API defaulting proper):
/// `serviceAccountName`/`serviceAccount` `default` (ServiceAccount plugin), `priority` 0 and
/// `preemptionPolicy` PreemptLowerPriority when no `priorityClassName` is set (Priority plugin,
/// assuming no global default class), and the
/// 300 s not-ready/unreachable tolerations (DefaultTolerationSeconds plugin).
pub fn default_pod_admission(spec: &mut Map<String, Value>) {
    let account = spec
        .get("serviceAccountName")
        .or_else(|| spec.get("serviceAccount"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    spec.insert(
        "serviceAccountName".to_string(),
        Value::String(account.clone()),
    );
    spec.insert("serviceAccount".to_string(), Value::String(account));
    // With a priorityClassName the Priority plugin copies the class's value and policy, which
    // needs the stored PriorityClass; the caller resolves those.
    let has_class = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty());
    if !has_class {
        set_default(spec, "priority", json!(0));
        set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
    let tolerations = spec
        .entry("tolerations")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = tolerations.as_array_mut() {
        for taint in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            let tolerated = list.iter().any(|t| {
                let key = t.get("key").and_then(Value::as_str);
                let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                (key == Some(taint) || key.is_none_or(str::is_empty))
                    && (effect.is_empty() || effect == "NoExecute")
                    && (key.is_some_and(|k| !k.is_empty())
                        || t.get("operator").and_then(Value::as_str) == Some("Exists"))
            });
            if !tolerated {
                list.push(json!({"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
    }
}

/// Defaults a PodTemplateSpec (as found in workloads): only its spec is defaulted.
pub fn default_pod_template(template: &mut Value) {
    if let Some(spec) = object_mut(template, "spec") {
        default_pod_spec(spec);
    }
}

/// Upstream's `SetDefaults_PodSpec` and the defaults of everything inside it.
pub fn default_pod_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for container in array_mut(spec, list) {
            default_container(container);
        }
    }
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for volume in volumes.iter_mut().filter_map(Value::as_object_mut) {
            default_volume(volume);
        }
    }
}

/// The pull policy upstream picks for an image: `Always` for `:latest` or no tag (unless pinned
/// by digest), `IfNotPresent` otherwise.
pub fn default_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    let tag = last_segment.split_once(':').map(|(_, tag)| tag);
    match (tag, digest) {
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

fn default_container(container: &mut Map<String, Value>) {
    if container
        .get("imagePullPolicy")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        let image = container.get("image").and_then(Value::as_str).unwrap_or("");
        container.insert(
            "imagePullPolicy".to_string(),
            json!(default_pull_policy(image)),
        );
    }
    set_default(
        container,
        "terminationMessagePath",
        json!(TERMINATION_MESSAGE_PATH),
    );
    set_default(container, "terminationMessagePolicy", json!("File"));
    if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get_mut(probe).and_then(Value::as_object_mut) {
            set_default(probe, "timeoutSeconds", json!(1));
            set_default(probe, "periodSeconds", json!(10));
            set_default(probe, "successThreshold", json!(1));
            set_default(probe, "failureThreshold", json!(3));
            default_handler(probe);
        }
    }
    if let Some(lifecycle) = container
        .get_mut("lifecycle")
        .and_then(Value::as_object_mut)
    {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = lifecycle.get_mut(hook).and_then(Value::as_object_mut) {
                default_handler(handler);
            }
        }
    }
    if let Some(env) = container.get_mut("env").and_then(Value::as_array_mut) {
        for var in env.iter_mut() {
            if let Some(field_ref) = var
                .pointer_mut("/valueFrom/fieldRef")
                .and_then(Value::as_object_mut)
            {
                set_default(field_ref, "apiVersion", json!("v1"));
            }
        }
    }
}

fn default_handler(handler: &mut Map<String, Value>) {
    if let Some(http) = handler.get_mut("httpGet").and_then(Value::as_object_mut) {
        set_default(http, "path", json!("/"));
        set_default(http, "scheme", json!("HTTP"));
    }
    if let Some(grpc) = handler.get_mut("grpc").and_then(Value::as_object_mut) {
        set_default(grpc, "service", json!(""));
    }
}

const VOLUME_SOURCES_WITH_MODE: &[&str] = &["secret", "configMap", "downwardAPI", "projected"];

fn default_volume(volume: &mut Map<String, Value>) {
    let has_source = volume.iter().any(|(k, v)| k != "name" && !v.is_null());
    if !has_source {
        volume.insert("emptyDir".to_string(), json!({}));
    }
    for source in VOLUME_SOURCES_WITH_MODE {
        if let Some(body) = volume.get_mut(*source).and_then(Value::as_object_mut) {
            set_default(body, "defaultMode", json!(DEFAULT_VOLUME_MODE));
            if *source == "downwardAPI" {
                for item in body
                    .get_mut("items")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(field_ref) = item.get_mut("fieldRef").and_then(Value::as_object_mut)
                    {
                        set_default(field_ref, "apiVersion", json!("v1"));
                    }
                }
            }
        }
    }
    if let Some(host_path) = volume.get_mut("hostPath").and_then(Value::as_object_mut) {
        set_default(host_path, "type", json!(""));
    }
}

fn default_requests_from_limits(container: &mut Map<String, Value>) {
    let Some(resources) = container
        .get_mut("resources")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let requests = resources
        .entry("requests")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(requests) = requests.as_object_mut() {
        for (name, value) in limits {
            requests.entry(name).or_insert(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies() {
        assert_eq!(default_pull_policy("nginx"), "Always");
        assert_eq!(default_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_pull_policy("nginx:1.25"), "IfNotPresent");
        assert_eq!(default_pull_policy("localhost:5000/app"), "Always");
        assert_eq!(default_pull_policy("localhost:5000/app:v1"), "IfNotPresent");
        assert_eq!(default_pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn pod_defaults() {
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "1"}}, "readinessProbe": {"httpGet": {"port": 80}}}],
            "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}]}});
        default_pod(&mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(spec["tolerations"].as_array().map(Vec::len), Some(2));
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], TERMINATION_MESSAGE_PATH);
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["resources"]["requests"]["cpu"], "1");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/");
        assert_eq!(c["readinessProbe"]["periodSeconds"], 10);
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
    }

    #[test]
    fn templates_skip_pod_only_defaults() {
        let mut template = json!({"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}});
        default_pod_template(&mut template);
        assert!(template["spec"].get("enableServiceLinks").is_none());
        assert!(template["spec"].get("serviceAccountName").is_none());
        assert_eq!(
            template["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
    }
}
