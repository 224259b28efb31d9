//! Printers of core (`v1`) kinds other than pods, and of `events.k8s.io` events.

use serde_json::{Map, Value, json};

use super::pod::{POD_COLUMNS, pod_cells};
use super::{
    AGE, Column, NAME, Printer, age, array_at, bool_or, int_at, len_at, name, opt_str, sorted_set,
    str_at, text,
};
use crate::selector::format_labels;

/// The printer of a core kind, if upstream has one.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    let printer: Printer = match (group, kind) {
        ("", "Pod") => (POD_COLUMNS, pod_cells),
        ("", "Service") => (SERVICE_COLUMNS, service_cells),
        ("", "Endpoints") => (ENDPOINTS_COLUMNS, endpoints_cells),
        ("", "Node") => (NODE_COLUMNS, node_cells),
        ("", "Namespace") => (NAMESPACE_COLUMNS, namespace_cells),
        ("", "ConfigMap") => (CONFIGMAP_COLUMNS, configmap_cells),
        ("", "Secret") => (SECRET_COLUMNS, secret_cells),
        ("", "ServiceAccount") => (SERVICEACCOUNT_COLUMNS, serviceaccount_cells),
        ("", "PersistentVolume") => (PV_COLUMNS, pv_cells),
        ("", "PersistentVolumeClaim") => (PVC_COLUMNS, pvc_cells),
        ("", "ResourceQuota") => (QUOTA_COLUMNS, quota_cells),
        _ => return None,
    };
    Some(printer)
}

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    text("Type", "type determines how the Service is exposed."),
    text(
        "Cluster-IP",
        "clusterIP is the IP address of the service and is usually assigned randomly.",
    ),
    text(
        "External-IP",
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
    ),
    text(
        "Port(s)",
        "The list of ports that are exposed by this service.",
    ),
    AGE,
    text(
        "Selector",
        "Route service traffic to pods with label keys and values matching this selector.",
    )
    .wide(),
];

/// Upstream `loadBalancerStatusStringer` (wide: never clipped).
pub(super) fn load_balancer_ingress(obj: &Value, pointer: &str) -> String {
    let items: Vec<String> = array_at(obj, pointer)
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, "/ip");
            let host = str_at(i, "/hostname");
            if !ip.is_empty() {
                Some(ip.to_string())
            } else if !host.is_empty() {
                Some(host.to_string())
            } else {
                None
            }
        })
        .collect();
    sorted_set(items).join(",")
}

fn service_external_ip(svc: &Value) -> String {
    let external: Vec<String> = array_at(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    match str_at(svc, "/spec/type") {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".to_string()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(svc, "/status/loadBalancer/ingress");
            if !external.is_empty() {
                let mut all: Vec<String> = if lb.is_empty() {
                    Vec::new()
                } else {
                    lb.split(',').map(str::to_string).collect()
                };
                all.extend(external);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(svc, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    }
}

fn service_ports(svc: &Value) -> String {
    let pieces: Vec<String> = array_at(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let port = int_at(p, "/port");
            let protocol = opt_str(p, "/protocol").unwrap_or("TCP");
            let node_port = int_at(p, "/nodePort");
            if node_port > 0 {
                format!("{port}:{node_port}/{protocol}")
            } else {
                format!("{port}/{protocol}")
            }
        })
        .collect();
    if pieces.is_empty() {
        "<none>".to_string()
    } else {
        pieces.join(",")
    }
}

fn service_cells(svc: &Value, now: i64) -> Vec<Value> {
    let cluster_ip = opt_str(svc, "/spec/clusterIPs/0")
        .or_else(|| opt_str(svc, "/spec/clusterIP").filter(|s| !s.is_empty()))
        .unwrap_or("<none>");
    vec![
        json!(name(svc)),
        json!(str_at(svc, "/spec/type")),
        json!(cluster_ip),
        json!(service_external_ip(svc)),
        json!(service_ports(svc)),
        age(svc, now),
        json!(format_labels(svc.pointer("/spec/selector"))),
    ]
}

const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Endpoints",
        "The set of all endpoints is the union of all subsets.",
    ),
    AGE,
];

/// `net.JoinHostPort`.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Upstream `formatEndpoints` with all ports.
fn format_endpoints(obj: &Value) -> String {
    let subsets = array_at(obj, "/subsets");
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for subset in subsets {
        let addresses = array_at(subset, "/addresses");
        let ports = array_at(subset, "/ports");
        if ports.is_empty() {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(address, "/ip").to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(
                    str_at(address, "/ip"),
                    int_at(port, "/port"),
                ));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

fn endpoints_cells(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(format_endpoints(obj)),
        age(obj, now),
    ]
}

const NODE_COLUMNS: &[Column] = &[
    NAME,
    text("Status", "The status of the node"),
    text("Roles", "The roles of the node"),
    AGE,
    text("Version", "Kubelet Version reported by the node."),
    text("Internal-IP", "List of addresses reachable to the node.").wide(),
    text("External-IP", "List of addresses reachable to the node.").wide(),
    text("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).").wide(),
    text("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).").wide(),
    text("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).").wide(),
];

fn node_address(node: &Value, kind: &str) -> String {
    array_at(node, "/status/addresses")
        .iter()
        .find(|a| str_at(a, "/type") == kind)
        .map(|a| str_at(a, "/address").to_string())
        .unwrap_or_else(|| "<none>".to_string())
}

fn node_roles(node: &Value) -> Vec<String> {
    let mut roles = Vec::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (key, value) in labels {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if key == "kubernetes.io/role"
                && let Some(v) = value.as_str().filter(|v| !v.is_empty())
            {
                roles.push(v.to_string());
            }
        }
    }
    sorted_set(roles)
}

fn node_cells(node: &Value, now: i64) -> Vec<Value> {
    let mut status: Vec<String> = Vec::new();
    if let Some(ready) = array_at(node, "/status/conditions")
        .iter()
        .rev()
        .find(|c| str_at(c, "/type") == "Ready")
    {
        status.push(
            if str_at(ready, "/status") == "True" {
                "Ready"
            } else {
                "NotReady"
            }
            .to_string(),
        );
    }
    if status.is_empty() {
        status.push("Unknown".to_string());
    }
    if bool_or(node, "/spec/unschedulable", false) {
        status.push("SchedulingDisabled".to_string());
    }
    let roles = node_roles(node).join(",");
    let unknown = |p: &str| {
        let s = str_at(node, p);
        if s.is_empty() {
            "<unknown>".to_string()
        } else {
            s.to_string()
        }
    };
    vec![
        json!(name(node)),
        json!(status.join(",")),
        json!(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles
        }),
        age(node, now),
        json!(str_at(node, "/status/nodeInfo/kubeletVersion")),
        json!(node_address(node, "InternalIP")),
        json!(node_address(node, "ExternalIP")),
        json!(unknown("/status/nodeInfo/osImage")),
        json!(unknown("/status/nodeInfo/kernelVersion")),
        json!(unknown("/status/nodeInfo/containerRuntimeVersion")),
    ]
}

const NAMESPACE_COLUMNS: &[Column] = &[NAME, text("Status", "The status of the namespace"), AGE];

fn namespace_cells(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(str_at(obj, "/status/phase")),
        age(obj, now),
    ]
}

const CONFIGMAP_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Data",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
    ),
    AGE,
];

fn configmap_cells(obj: &Value, now: i64) -> Vec<Value> {
    let count = len_at(obj, "/data") + len_at(obj, "/binaryData");
    vec![json!(name(obj)), json!(count), age(obj, now)]
}

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Type",
        "Used to facilitate programmatic handling of secret data.",
    ),
    text(
        "Data",
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
    ),
    AGE,
];

fn secret_cells(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(str_at(obj, "/type")),
        json!(len_at(obj, "/data")),
        age(obj, now),
    ]
}

const SERVICEACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Secrets",
        "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
    ),
    AGE,
];

fn serviceaccount_cells(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(len_at(obj, "/secrets")),
        age(obj, now),
    ]
}

const PV_COLUMNS: &[Column] = &[
    NAME,
    text("Capacity", "capacity is the description of the persistent volume's resources and capacity."),
    text("Access Modes", "accessModes contains all ways the volume can be mounted."),
    text("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
    text("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
    text("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
    text("StorageClass", "StorageClass of the pv"),
    text("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    text("Reason", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    AGE,
    text("VolumeMode", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.").wide(),
];

/// Upstream `GetAccessModesAsString`.
fn access_modes(obj: &Value, pointer: &str) -> String {
    let modes: Vec<&str> = array_at(obj, pointer)
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.contains(&mode) {
            out.push(short);
        }
    }
    out.join(",")
}

/// The storage class of a PV or PVC: the beta annotation wins over `spec.storageClassName`.
fn storage_class(obj: &Value) -> String {
    obj.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_at(obj, "/spec/storageClassName"))
        .to_string()
}

fn phase_or_terminating(obj: &Value) -> String {
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating".to_string()
    } else {
        str_at(obj, "/status/phase").to_string()
    }
}

/// A quantity as text; a missing quantity prints as `0` like Go's zero `Quantity`.
fn quantity(obj: &Value, pointer: &str) -> String {
    match obj.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

fn pv_cells(pv: &Value, now: i64) -> Vec<Value> {
    let claim = if pv.pointer("/spec/claimRef").is_some() {
        format!(
            "{}/{}",
            str_at(pv, "/spec/claimRef/namespace"),
            str_at(pv, "/spec/claimRef/name")
        )
    } else {
        String::new()
    };
    vec![
        json!(name(pv)),
        json!(quantity(pv, "/spec/capacity/storage")),
        json!(access_modes(pv, "/spec/accessModes")),
        json!(str_at(pv, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase_or_terminating(pv)),
        json!(claim),
        json!(storage_class(pv)),
        json!(opt_str(pv, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
        json!(str_at(pv, "/status/reason")),
        age(pv, now),
        json!(opt_str(pv, "/spec/volumeMode").unwrap_or("<unset>")),
    ]
}

const PVC_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Status",
        "phase represents the current phase of PersistentVolumeClaim.",
    ),
    text(
        "Volume",
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    text(
        "Capacity",
        "capacity represents the actual resources of the underlying volume.",
    ),
    text(
        "Access Modes",
        "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    text("StorageClass", "StorageClass of the pvc"),
    text("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    text(
        "VolumeMode",
        "volumeMode defines what type of volume is required by the claim.",
    )
    .wide(),
];

fn pvc_cells(pvc: &Value, now: i64) -> Vec<Value> {
    let volume = str_at(pvc, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(pvc, "/status/capacity/storage"),
            access_modes(pvc, "/status/accessModes"),
        )
    };
    vec![
        json!(name(pvc)),
        json!(phase_or_terminating(pvc)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class(pvc)),
        json!(opt_str(pvc, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
        age(pvc, now),
        json!(opt_str(pvc, "/spec/volumeMode").unwrap_or("<unset>")),
    ]
}

const QUOTA_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Request",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
    ),
    text(
        "Limit",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
    AGE,
];

fn quota_cells(obj: &Value, now: i64) -> Vec<Value> {
    let empty = Map::new();
    let hard = obj
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut resources: Vec<&String> = hard.keys().collect();
    resources.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for resource in resources {
        let used = quantity(
            obj,
            &format!(
                "/status/used/{}",
                resource.replace('~', "~0").replace('/', "~1")
            ),
        );
        let limit = quantity(
            obj,
            &format!(
                "/status/hard/{}",
                resource.replace('~', "~0").replace('/', "~1")
            ),
        );
        let entry = format!("{resource}: {used}/{limit}");
        let pieces: Vec<&str> = resource.split('.').collect();
        if pieces.len() > 1 && pieces[0] == "limits" {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![
        json!(name(obj)),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        age(obj, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z
    const CREATED: &str = "2024-05-01T09:00:00Z";

    #[test]
    fn services() {
        let svc = json!({"metadata": {"name": "web", "creationTimestamp": CREATED},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                     "selector": {"app": "web"}}});
        assert_eq!(
            service_cells(&svc, NOW),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP"),
                json!("60m"),
                json!("app=web")
            ]
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.1"]}});
        assert_eq!(service_cells(&lb, NOW)[3], "<pending>");
        let lb_ready = json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
        assert_eq!(service_cells(&lb_ready, NOW)[3], "1.2.3.4");
        let external = json!({"spec": {"type": "ExternalName", "externalName": "example.com"}});
        assert_eq!(service_cells(&external, NOW)[3], "example.com");
        assert_eq!(service_cells(&external, NOW)[4], "<none>");
        assert_eq!(service_cells(&external, NOW)[6], "<none>");
    }

    #[test]
    fn nodes() {
        let node = json!({"metadata": {"name": "n1", "creationTimestamp": CREATED, "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian"}}});
        assert_eq!(
            node_cells(&node, NOW),
            vec![
                json!("n1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane"),
                json!("60m"),
                json!("v1.33.0"),
                json!("192.168.1.2"),
                json!("<none>"),
                json!("Debian"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let bare = json!({"metadata": {"name": "n2"}});
        assert_eq!(node_cells(&bare, NOW)[1], "Unknown");
        assert_eq!(node_cells(&bare, NOW)[2], "<none>");
    }

    #[test]
    fn simple_kinds() {
        let cm = json!({"metadata": {"name": "c", "creationTimestamp": CREATED}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
        assert_eq!(
            configmap_cells(&cm, NOW),
            vec![json!("c"), json!(3), json!("60m")]
        );
        let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}});
        assert_eq!(
            secret_cells(&secret, NOW),
            vec![json!("s"), json!("Opaque"), json!(1), json!("<unknown>")]
        );
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": CREATED}, "status": {"phase": "Active"}});
        assert_eq!(
            namespace_cells(&ns, NOW),
            vec![json!("default"), json!("Active"), json!("60m")]
        );
        let sa = json!({"metadata": {"name": "default"}});
        assert_eq!(serviceaccount_cells(&sa, NOW)[1], json!(0));
    }

    #[test]
    fn endpoints() {
        let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(
            endpoints_cells(&ep, NOW)[1],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
        );
        assert_eq!(
            endpoints_cells(&json!({"metadata": {"name": "e"}}), NOW)[1],
            "<none>"
        );
    }

    #[test]
    fn volumes() {
        let pv = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": "ns", "name": "c"}, "storageClassName": "standard"},
            "status": {"phase": "Bound"}});
        let cells = pv_cells(&pv, NOW);
        assert_eq!(
            cells[1..8].to_vec(),
            vec![
                json!("1Gi"),
                json!("RWO"),
                json!("Retain"),
                json!("Bound"),
                json!("ns/c"),
                json!("standard"),
                json!("<unset>")
            ]
        );
        let pvc = json!({"metadata": {"name": "c"}, "spec": {"storageClassName": "standard"}, "status": {"phase": "Pending"}});
        assert_eq!(
            pvc_cells(&pvc, NOW)[1..6].to_vec(),
            vec![
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("standard")
            ]
        );
    }

    #[test]
    fn quotas() {
        let q = json!({"metadata": {"name": "q"}, "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"},
            "used": {"pods": "3", "limits.cpu": "500m"}}});
        assert_eq!(
            quota_cells(&q, NOW)[1..3].to_vec(),
            vec![
                json!("pods: 3/10, requests.memory: 0/1Gi"),
                json!("limits.cpu: 500m/2")
            ]
        );
    }
}
