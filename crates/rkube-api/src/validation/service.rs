//! Service and Endpoints validation.

use std::collections::HashSet;

use serde_json::Value;

use super::meta::{self, validate_labels};
use super::names::{self, NameRule};
use super::{
    FieldError, FieldErrorKind, child, go_quote, go_rendered, index, items, opt_i64, opt_str,
    str_of,
};

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn service_port_key(protocol: &str, port: i64) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        go_quote(protocol)
    )
}

/// Validates a Service, in upstream's order: ports required, type-specific rules, each port,
/// selector, session affinity, cluster IPs, external IPs, type, node ports, duplicate ports,
/// traffic policies.
pub fn validate_service(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Dns1035Label);
    let empty = Value::Object(serde_json::Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    let service_type = str_of(spec, "type");
    let cluster_ip = str_of(spec, "clusterIP");
    let headless = cluster_ip == "None";
    let ports = items(spec.get("ports"));
    if ports.is_empty() && !headless && service_type != "ExternalName" {
        errors.push(FieldError::required("spec.ports", ""));
    }
    match service_type {
        "LoadBalancer" | "NodePort" => {
            if headless {
                errors.push(FieldError::invalid(
                    "spec.clusterIPs[0]",
                    "None",
                    format!("may not be set to 'None' for {service_type} services"),
                ));
            }
            if service_type == "LoadBalancer" {
                for (i, port) in ports.iter().enumerate() {
                    if opt_i64(port, "port") == Some(10250) {
                        errors.push(FieldError::invalid(
                            index("spec.ports", i),
                            10250,
                            "may not expose port 10250 externally since it is used by kubelet",
                        ));
                    }
                }
                if spec
                    .get("allocateLoadBalancerNodePorts")
                    .is_none_or(Value::is_null)
                {
                    errors.push(FieldError::required(
                        "spec.allocateLoadBalancerNodePorts",
                        "",
                    ));
                }
            }
        }
        "ExternalName" => {
            if !items(spec.get("clusterIPs")).is_empty()
                || (!cluster_ip.is_empty() && cluster_ip != "None")
            {
                errors.push(FieldError::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !items(spec.get("ipFamilies")).is_empty() {
                errors.push(FieldError::forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if spec.get("ipFamilyPolicy").is_some_and(|v| !v.is_null()) {
                errors.push(FieldError::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let cname = str_of(spec, "externalName");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errors.push(FieldError::required("spec.externalName", ""));
            } else {
                for msg in names::is_dns1123_subdomain(cname) {
                    errors.push(FieldError::invalid("spec.externalName", cname, msg));
                }
            }
        }
        _ => {}
    }
    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_service_port(
            port,
            ports.len() > 1,
            &index("spec.ports", i),
            &mut port_names,
            &mut errors,
        );
    }
    errors.extend(validate_labels(
        spec.get("selector").and_then(Value::as_object),
        "spec.selector",
    ));
    match str_of(spec, "sessionAffinity") {
        "" => errors.push(FieldError::required("spec.sessionAffinity", "")),
        "ClientIP" => {
            if let Some(timeout) = spec
                .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
                .and_then(Value::as_i64)
                && !(1..=86400).contains(&timeout)
            {
                errors.push(FieldError::invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    timeout,
                    "must be greater than 0 and less than 86400",
                ));
            }
        }
        "None" => {
            if spec
                .get("sessionAffinityConfig")
                .is_some_and(|v| !v.is_null())
            {
                errors.push(FieldError::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        a => errors.push(FieldError::not_supported(
            "spec.sessionAffinity",
            a,
            &["ClientIP", "None"],
        )),
    }
    validate_cluster_ips(spec, cluster_ip, &mut errors);
    for (i, ip) in items(spec.get("externalIPs")).iter().enumerate() {
        let ip = ip.as_str().unwrap_or("");
        for msg in names::is_valid_ip(ip) {
            errors.push(FieldError::invalid(index("spec.externalIPs", i), ip, msg));
        }
    }
    match service_type {
        "" => errors.push(FieldError::required("spec.type", "")),
        t if !SERVICE_TYPES.contains(&t) => {
            errors.push(FieldError::not_supported("spec.type", t, SERVICE_TYPES))
        }
        _ => {}
    }
    if service_type == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if opt_i64(port, "nodePort").unwrap_or(0) != 0 {
                errors.push(FieldError::forbidden(
                    child(&index("spec.ports", i), "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = opt_i64(port, "nodePort").unwrap_or(0);
        if node_port != 0 && !node_ports.insert((node_port, str_of(port, "protocol"))) {
            errors.push(FieldError::duplicate(
                child(&index("spec.ports", i), "nodePort"),
                node_port,
            ));
        }
    }
    let mut port_keys = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let protocol = str_of(port, "protocol");
        let number = opt_i64(port, "port").unwrap_or(0);
        if !port_keys.insert((protocol, number)) {
            errors.push(FieldError {
                kind: FieldErrorKind::Duplicate,
                field: index("spec.ports", i),
                value: Some(go_rendered(service_port_key(protocol, number))),
                detail: String::new(),
            });
        }
    }
    validate_traffic_policies(spec, service_type, &mut errors);
    errors
}

fn validate_service_port(
    port: &Value,
    require_name: bool,
    port_path: &str,
    port_names: &mut HashSet<String>,
    errors: &mut Vec<FieldError>,
) {
    let name = str_of(port, "name");
    if require_name && name.is_empty() {
        errors.push(FieldError::required(child(port_path, "name"), ""));
    } else if !name.is_empty() {
        for msg in names::is_dns1123_label(name) {
            errors.push(FieldError::invalid(child(port_path, "name"), name, msg));
        }
        if !port_names.insert(name.to_string()) {
            errors.push(FieldError::duplicate(child(port_path, "name"), name));
        }
    }
    let number = opt_i64(port, "port").unwrap_or(0);
    for msg in names::is_valid_port_num(number) {
        errors.push(FieldError::invalid(child(port_path, "port"), number, msg));
    }
    match str_of(port, "protocol") {
        "" => errors.push(FieldError::required(child(port_path, "protocol"), "")),
        p if !PROTOCOLS.contains(&p) => errors.push(FieldError::not_supported(
            child(port_path, "protocol"),
            p,
            PROTOCOLS,
        )),
        _ => {}
    }
    match port.get("targetPort") {
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            for msg in names::is_valid_port_num(n) {
                errors.push(FieldError::invalid(child(port_path, "targetPort"), n, msg));
            }
        }
        Some(Value::String(s)) => {
            for msg in names::is_valid_port_name(s) {
                errors.push(FieldError::invalid(
                    child(port_path, "targetPort"),
                    s.as_str(),
                    msg,
                ));
            }
        }
        _ => {}
    }
    let node_port = opt_i64(port, "nodePort").unwrap_or(0);
    if node_port != 0 {
        for msg in names::is_valid_port_num(node_port) {
            errors.push(FieldError::invalid(
                child(port_path, "nodePort"),
                node_port,
                msg,
            ));
        }
    }
}

fn validate_cluster_ips(spec: &Value, cluster_ip: &str, errors: &mut Vec<FieldError>) {
    let cluster_ips: Vec<&str> = match items(spec.get("clusterIPs")) {
        [] if !cluster_ip.is_empty() => vec![cluster_ip],
        list => list.iter().map(|ip| ip.as_str().unwrap_or("")).collect(),
    };
    if !cluster_ip.is_empty()
        && let Some(first) = items(spec.get("clusterIPs"))
            .first()
            .and_then(Value::as_str)
        && first != cluster_ip
    {
        errors.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            spec["clusterIPs"].clone(),
            "first value must match `clusterIP`",
        ));
    }
    for (i, ip) in cluster_ips.into_iter().enumerate() {
        if ip == "None" && i == 0 {
            continue;
        }
        for msg in names::is_valid_ip(ip) {
            errors.push(FieldError::invalid(index("spec.clusterIPs", i), ip, msg));
        }
    }
    if let Some(policy) = opt_str(spec, "ipFamilyPolicy")
        && !matches!(
            policy,
            "SingleStack" | "PreferDualStack" | "RequireDualStack"
        )
    {
        errors.push(FieldError::not_supported(
            "spec.ipFamilyPolicy",
            policy,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut families = HashSet::new();
    for (i, family) in items(spec.get("ipFamilies")).iter().enumerate() {
        let family = family.as_str().unwrap_or("");
        if !matches!(family, "IPv4" | "IPv6") {
            errors.push(FieldError::not_supported(
                index("spec.ipFamilies", i),
                family,
                &["IPv4", "IPv6"],
            ));
        } else if !families.insert(family) {
            errors.push(FieldError::duplicate(index("spec.ipFamilies", i), family));
        }
    }
}

fn validate_traffic_policies(spec: &Value, service_type: &str, errors: &mut Vec<FieldError>) {
    let externally_accessible = matches!(service_type, "LoadBalancer" | "NodePort")
        || (service_type == "ClusterIP" && !items(spec.get("externalIPs")).is_empty());
    let external_policy = str_of(spec, "externalTrafficPolicy");
    if !externally_accessible {
        if !external_policy.is_empty() {
            errors.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                external_policy,
                "may only be set for externally-accessible services",
            ));
        }
    } else if external_policy.is_empty() {
        errors.push(FieldError::required("spec.externalTrafficPolicy", ""));
    } else if !matches!(external_policy, "Cluster" | "Local") {
        errors.push(FieldError::not_supported(
            "spec.externalTrafficPolicy",
            external_policy,
            &["Cluster", "Local"],
        ));
    }
    match opt_str(spec, "internalTrafficPolicy") {
        None if service_type != "ExternalName" && SERVICE_TYPES.contains(&service_type) => {
            errors.push(FieldError::required("spec.internalTrafficPolicy", ""));
        }
        Some(p) if !matches!(p, "Cluster" | "Local") => {
            errors.push(FieldError::not_supported(
                "spec.internalTrafficPolicy",
                p,
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
}

/// Validates a Service update: the primary cluster IP may not change once set (unless the
/// Service moves to or from `ExternalName`).
pub fn validate_service_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let new_type = new
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let old_type = old
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("");
    if new_type == "ExternalName" || old_type == "ExternalName" {
        return errors;
    }
    let ips = |svc: &Value| -> Vec<String> {
        items(svc.pointer("/spec/clusterIPs"))
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let old_ips = ips(old);
    let mut new_ips = ips(new);
    let new_ip = new
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("");
    let old_ip = old
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !new_ip.is_empty() && new_ip != old_ip && new_ips == old_ips {
        new_ips = vec![new_ip.to_string()];
    }
    if let (Some(old_first), Some(new_first)) = (old_ips.first(), new_ips.first())
        && old_first != new_first
    {
        errors.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            Value::from(new_ips.clone()),
            "may not change once set",
        ));
    }
    errors
}

/// Validates an Endpoints object.
pub fn validate_endpoints(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    for (i, subset) in items(obj.get("subsets")).iter().enumerate() {
        let subset_path = index("subsets", i);
        let addresses = items(subset.get("addresses"));
        let not_ready = items(subset.get("notReadyAddresses"));
        if addresses.is_empty() && not_ready.is_empty() {
            errors.push(FieldError::required(
                &subset_path,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (list_name, list) in [("addresses", addresses), ("notReadyAddresses", not_ready)] {
            for (j, address) in list.iter().enumerate() {
                let ip_path = child(&index(&child(&subset_path, list_name), j), "ip");
                let ip = str_of(address, "ip");
                for msg in names::is_valid_ip(ip) {
                    errors.push(FieldError::invalid(&ip_path, ip, msg));
                }
            }
        }
        let ports = items(subset.get("ports"));
        for (j, port) in ports.iter().enumerate() {
            let port_path = index(&child(&subset_path, "ports"), j);
            let name = str_of(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errors.push(FieldError::required(child(&port_path, "name"), ""));
            } else if !name.is_empty() {
                for msg in names::is_dns1123_label(name) {
                    errors.push(FieldError::invalid(child(&port_path, "name"), name, msg));
                }
            }
            let number = opt_i64(port, "port").unwrap_or(0);
            for msg in names::is_valid_port_num(number) {
                errors.push(FieldError::invalid(child(&port_path, "port"), number, msg));
            }
            match str_of(port, "protocol") {
                "" => errors.push(FieldError::required(child(&port_path, "protocol"), "")),
                p if !PROTOCOLS.contains(&p) => {
                    errors.push(FieldError::not_supported(
                        child(&port_path, "protocol"),
                        p,
                        PROTOCOLS,
                    ));
                }
                _ => {}
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid_service() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "web"}}
        })
    }

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn valid_passes() {
        assert!(validate_service(&valid_service()).is_empty());
    }

    #[test]
    fn type_port_and_name() {
        let mut svc = valid_service();
        svc["spec"]["type"] = json!("Foo");
        svc["spec"]["ports"][0]["port"] = json!(70000);
        svc["metadata"]["name"] = json!("1web");
        let messages = messages(&validate_service(&svc));
        assert!(messages[0].starts_with("metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"));
        assert_eq!(
            messages[1],
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            messages[2],
            "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
        );
    }

    #[test]
    fn ports_required_and_names() {
        let mut svc = valid_service();
        svc["spec"]["ports"] = json!([]);
        assert_eq!(
            messages(&validate_service(&svc)),
            vec!["spec.ports: Required value"]
        );
        svc["spec"]["clusterIP"] = json!("None");
        assert!(validate_service(&svc).is_empty());
        let mut svc = valid_service();
        svc["spec"]["ports"] =
            json!([{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "TCP", "name": "b"}]);
        assert_eq!(
            messages(&validate_service(&svc)),
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"
            ]
        );
    }

    #[test]
    fn external_name_and_node_port() {
        let svc = json!({"metadata": {"name": "ext", "namespace": "d"}, "spec": {"type": "ExternalName", "sessionAffinity": "None"}});
        assert_eq!(
            messages(&validate_service(&svc)),
            vec!["spec.externalName: Required value"]
        );
        let mut svc = valid_service();
        svc["spec"]["ports"][0]["nodePort"] = json!(30001);
        assert_eq!(
            messages(&validate_service(&svc)),
            vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
        );
    }

    #[test]
    fn cluster_ip_may_not_change() {
        let mut old = valid_service();
        old["spec"]["clusterIP"] = json!("10.96.0.10");
        old["spec"]["clusterIPs"] = json!(["10.96.0.10"]);
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.96.0.11");
        assert_eq!(
            messages(&validate_service_update(&new, &old)),
            vec![
                "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"
            ]
        );
    }

    #[test]
    fn endpoints() {
        let ep = json!({"metadata": {"name": "e", "namespace": "d"}, "subsets": [{"addresses": [{"ip": "x"}], "ports": [{"port": 0, "protocol": "TCP"}]}]});
        assert_eq!(
            messages(&validate_endpoints(&ep)),
            vec![
                "subsets[0].addresses[0].ip: Invalid value: \"x\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
            ]
        );
    }
}
