//! Printers of networking, discovery, coordination, RBAC, storage and scheduling kinds.

use serde_json::{Value, json};

use super::core::load_balancer_ingress;
use super::{
    AGE, Column, NAME, Printer, age, array_at, bool_or, int_at, name, opt_str, str_at, text,
};
use crate::selector::format_label_selector;

/// The printer of one of these kinds, if upstream has one.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    let printer: Printer = match (group, kind) {
        ("networking.k8s.io", "Ingress") => (INGRESS_COLUMNS, ingress_cells),
        ("networking.k8s.io", "IngressClass") => (INGRESSCLASS_COLUMNS, ingressclass_cells),
        ("networking.k8s.io", "NetworkPolicy") => (NETPOL_COLUMNS, netpol_cells),
        ("coordination.k8s.io", "Lease") => (LEASE_COLUMNS, lease_cells),
        ("discovery.k8s.io", "EndpointSlice") => (SLICE_COLUMNS, slice_cells),
        ("rbac.authorization.k8s.io", "RoleBinding") => (ROLEBINDING_COLUMNS, binding_cells),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            (CLUSTERROLEBINDING_COLUMNS, binding_cells)
        }
        ("storage.k8s.io", "StorageClass") => (STORAGECLASS_COLUMNS, storageclass_cells),
        ("scheduling.k8s.io", "PriorityClass") => (PRIORITYCLASS_COLUMNS, priorityclass_cells),
        _ => return None,
    };
    Some(printer)
}

const INGRESS_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Class",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    text(
        "Hosts",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    text(
        "Address",
        "Address is a list containing ingress points for the load-balancer",
    ),
    text("Ports", "Ports of TLS configurations that open"),
    AGE,
];

/// Upstream `formatHosts`.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, "/host");
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX)
    } else {
        joined
    }
}

fn ingress_cells(obj: &Value, now: i64) -> Vec<Value> {
    let ports = if array_at(obj, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        json!(name(obj)),
        json!(opt_str(obj, "/spec/ingressClassName").unwrap_or("<none>")),
        json!(format_hosts(array_at(obj, "/spec/rules"))),
        json!(load_balancer_ingress(obj, "/status/loadBalancer/ingress")),
        json!(ports),
        age(obj, now),
    ]
}

const INGRESSCLASS_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Controller",
        "Controller that is responsible for handling this class",
    ),
    text(
        "Parameters",
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

fn ingressclass_cells(obj: &Value, now: i64) -> Vec<Value> {
    let parameters = match obj.pointer("/spec/parameters") {
        Some(p) if p.is_object() => {
            let mut text = str_at(p, "/kind").to_string();
            if let Some(group) = opt_str(p, "/apiGroup") {
                text = format!("{text}.{group}");
            }
            format!("{text}/{}", str_at(p, "/name"))
        }
        _ => "<none>".to_string(),
    };
    vec![
        json!(name(obj)),
        json!(str_at(obj, "/spec/controller")),
        json!(parameters),
        age(obj, now),
    ]
}

const NETPOL_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Pod-Selector",
        "Selects the pods to which this NetworkPolicy object applies.",
    ),
    AGE,
];

fn netpol_cells(obj: &Value, now: i64) -> Vec<Value> {
    let empty = json!({});
    let selector = obj
        .pointer("/spec/podSelector")
        .filter(|v| !v.is_null())
        .unwrap_or(&empty);
    vec![
        json!(name(obj)),
        json!(format_label_selector(selector)),
        age(obj, now),
    ]
}

const LEASE_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Holder",
        "holderIdentity contains the identity of the holder of a current lease.",
    ),
    AGE,
];

fn lease_cells(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(str_at(obj, "/spec/holderIdentity")),
        age(obj, now),
    ]
}

const SLICE_COLUMNS: &[Column] = &[
    NAME,
    text(
        "AddressType",
        "addressType specifies the type of address carried by this EndpointSlice.",
    ),
    text(
        "Ports",
        "ports specifies the list of network ports exposed by each endpoint in this slice.",
    ),
    text(
        "Endpoints",
        "endpoints is a list of unique endpoints in this slice.",
    ),
    AGE,
];

/// Upstream `listWithMoreString`.
fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - max)
    } else if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

fn slice_cells(obj: &Value, now: i64) -> Vec<Value> {
    const MAX: usize = 3;
    let (mut ports, mut more, mut count) = (Vec::new(), false, 0usize);
    for port in array_at(obj, "/ports") {
        if ports.len() < MAX {
            let text = match (
                port.get("port").and_then(Value::as_i64),
                opt_str(port, "/name"),
            ) {
                (Some(p), _) => p.to_string(),
                (None, Some(n)) => n.to_string(),
                (None, None) => "*".to_string(),
            };
            ports.push(text);
        } else if ports.len() == MAX {
            more = true;
        }
        count += 1;
    }
    let ports_text = list_with_more(&ports, more, count, MAX);
    let (mut addresses, mut more, mut count) = (Vec::new(), false, 0usize);
    for endpoint in array_at(obj, "/endpoints") {
        for address in array_at(endpoint, "/addresses") {
            if addresses.len() < MAX {
                addresses.push(address.as_str().unwrap_or("").to_string());
            } else if addresses.len() == MAX {
                more = true;
            }
            count += 1;
        }
    }
    vec![
        json!(name(obj)),
        json!(str_at(obj, "/addressType")),
        json!(ports_text),
        json!(list_with_more(&addresses, more, count, MAX)),
        age(obj, now),
    ]
}

const ROLEBINDING_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Role",
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
    ),
    AGE,
    text("Users", "Users in the roleBinding").wide(),
    text("Groups", "Groups in the roleBinding").wide(),
    text("ServiceAccounts", "ServiceAccounts in the roleBinding").wide(),
];

const CLUSTERROLEBINDING_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Role",
        "RoleRef can only reference a ClusterRole in the global namespace.",
    ),
    AGE,
    text("Users", "Users in the clusterRoleBinding").wide(),
    text("Groups", "Groups in the clusterRoleBinding").wide(),
    text(
        "ServiceAccounts",
        "ServiceAccounts in the clusterRoleBinding",
    )
    .wide(),
];

fn binding_cells(obj: &Value, now: i64) -> Vec<Value> {
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in array_at(obj, "/subjects") {
        let subject_name = str_at(subject, "/name");
        match str_at(subject, "/kind") {
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            "ServiceAccount" => {
                accounts.push(format!("{}/{subject_name}", str_at(subject, "/namespace")))
            }
            _ => {}
        }
    }
    vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            str_at(obj, "/roleRef/kind"),
            str_at(obj, "/roleRef/name")
        )),
        age(obj, now),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(accounts.join(", ")),
    ]
}

const STORAGECLASS_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Provisioner",
        "provisioner indicates the type of the provisioner.",
    ),
    text(
        "ReclaimPolicy",
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.",
    ),
    text(
        "VolumeBindingMode",
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
    ),
    text(
        "AllowVolumeExpansion",
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
];

fn storageclass_cells(obj: &Value, now: i64) -> Vec<Value> {
    let is_default = [
        "storageclass.kubernetes.io~1is-default-class",
        "storageclass.beta.kubernetes.io~1is-default-class",
    ]
    .iter()
    .any(|key| str_at(obj, &format!("/metadata/annotations/{key}")) == "true");
    let mut display = name(obj).to_string();
    if is_default {
        display.push_str(" (default)");
    }
    vec![
        json!(display),
        json!(str_at(obj, "/provisioner")),
        json!(opt_str(obj, "/reclaimPolicy").unwrap_or("Delete")),
        json!(opt_str(obj, "/volumeBindingMode").unwrap_or("Immediate")),
        json!(bool_or(obj, "/allowVolumeExpansion", false)),
        age(obj, now),
    ]
}

const PRIORITYCLASS_COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Value",
        "integer",
        "value represents the integer value of this priority class.",
    ),
    Column::new(
        "Global-Default",
        "boolean",
        "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.",
    ),
    AGE,
    text(
        "PreemptionPolicy",
        "preemptionPolicy is the Policy for preempting pods with lower priority.",
    ),
];

fn priorityclass_cells(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(int_at(obj, "/value")),
        json!(bool_or(obj, "/globalDefault", false)),
        age(obj, now),
        json!(str_at(obj, "/preemptionPolicy")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_557_600;

    #[test]
    fn ingresses() {
        let ing = json!({"metadata": {"name": "i"}, "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.com"}, {"host": "b.com"}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example"}]}}});
        assert_eq!(
            ingress_cells(&ing, NOW)[1..5].to_vec(),
            vec![
                json!("nginx"),
                json!("a.com,b.com"),
                json!("5.6.7.8,lb.example"),
                json!("80, 443")
            ]
        );
        let bare = json!({"metadata": {"name": "i"}, "spec": {"defaultBackend": {}}});
        assert_eq!(
            ingress_cells(&bare, NOW)[1..5].to_vec(),
            vec![json!("<none>"), json!("*"), json!(""), json!("80")]
        );
        let class = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            ingressclass_cells(&class, NOW)[2],
            "IngressParameters.k8s.example.com/p"
        );
    }

    #[test]
    fn policies_leases_slices() {
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!(netpol_cells(&np, NOW)[1], "<none>");
        let lease = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "node-1"}});
        assert_eq!(lease_cells(&lease, NOW)[1], "node-1");
        let slice = json!({"metadata": {"name": "s"}, "addressType": "IPv4", "ports": [{"port": 80}, {"name": "x"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]});
        assert_eq!(
            slice_cells(&slice, NOW)[1..4].to_vec(),
            vec![json!("IPv4"), json!("80,x"), json!("10.0.0.1,10.0.0.2")]
        );
        let empty = json!({"metadata": {"name": "s"}, "addressType": "IPv4"});
        assert_eq!(slice_cells(&empty, NOW)[2], "<unset>");
    }

    #[test]
    fn rbac_storage_scheduling() {
        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default", "namespace": "ns"}, {"kind": "Group", "name": "g"}]});
        assert_eq!(
            binding_cells(&rb, NOW),
            vec![
                json!("rb"),
                json!("ClusterRole/view"),
                json!("<unknown>"),
                json!("alice"),
                json!("g"),
                json!("ns/default")
            ]
        );
        let sc = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path"});
        assert_eq!(
            storageclass_cells(&sc, NOW)[..5].to_vec(),
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
        let pc = json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            priorityclass_cells(&pc, NOW)[..3].to_vec(),
            vec![
                json!("system-node-critical"),
                json!(2000001000),
                json!(false)
            ]
        );
    }
}
