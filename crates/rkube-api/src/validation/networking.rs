//! Ingress, IngressClass, NetworkPolicy and EndpointSlice validation.

use serde_json::Value;

use super::meta::{self, validate_label_selector};
use super::names::{self, NameRule};
use super::{FieldError, child, go_rendered, index, items, opt_i64, present, str_of};

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn is_wildcard_subdomain(host: &str) -> bool {
    host.strip_prefix("*.")
        .is_some_and(|rest| names::is_dns1123_subdomain(rest).is_empty())
}

fn validate_host(host: &str, path: &str, errors: &mut Vec<FieldError>) {
    if host.parse::<std::net::IpAddr>().is_ok() {
        errors.push(FieldError::invalid(
            path,
            host,
            "must be a DNS name, not an IP address",
        ));
    }
    if host.contains('*') {
        if !is_wildcard_subdomain(host) {
            errors.push(FieldError::invalid(
                path,
                host,
                names::regex_error(
                    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
                    "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
                    &["*.example.com"],
                ),
            ));
        }
    } else {
        for msg in names::is_dns1123_subdomain(host) {
            errors.push(FieldError::invalid(path, host, msg));
        }
    }
}

fn validate_backend(backend: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let has_resource = present(backend, "resource");
    let has_service = present(backend, "service");
    if has_resource && has_service {
        errors.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        ));
        return;
    }
    if has_resource {
        let resource = &backend["resource"];
        for field in ["kind", "name"] {
            if str_of(resource, field).is_empty() {
                errors.push(FieldError::required(
                    child(&child(path, "resource"), field),
                    "",
                ));
            }
        }
        return;
    }
    if !has_service {
        errors.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        ));
        return;
    }
    let service = &backend["service"];
    let name = str_of(service, "name");
    if name.is_empty() {
        errors.push(FieldError::required(format!("{path}.service.name"), ""));
    } else {
        for msg in names::is_dns1035_label(name) {
            errors.push(FieldError::invalid(
                format!("{path}.service.name"),
                name,
                msg,
            ));
        }
    }
    let port_name = service
        .pointer("/port/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let port_number = service
        .pointer("/port/number")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !port_name.is_empty() && port_number != 0 {
        errors.push(FieldError::invalid(
            path,
            "",
            "cannot set both port name & port number",
        ));
    } else if !port_name.is_empty() {
        for msg in names::is_valid_port_name(port_name) {
            errors.push(FieldError::invalid(
                format!("{path}.service.port.name"),
                port_name,
                msg,
            ));
        }
    } else if port_number != 0 {
        for msg in names::is_valid_port_num(port_number) {
            errors.push(FieldError::invalid(
                format!("{path}.service.port.number"),
                port_number,
                msg,
            ));
        }
    } else {
        errors.push(FieldError::required(
            path,
            "port name or number is required",
        ));
    }
}

/// Validates an Ingress: rules or a default backend, hosts, path types and backends.
pub fn validate_ingress(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let empty = Value::Object(serde_json::Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    let rules = items(spec.get("rules"));
    if rules.is_empty() && !present(spec, "defaultBackend") {
        errors.push(FieldError::invalid(
            "spec",
            go_rendered("[]networking.IngressRule(nil)"),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = spec.get("defaultBackend").filter(|v| !v.is_null()) {
        validate_backend(backend, "spec.defaultBackend", &mut errors);
    }
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = index("spec.rules", i);
        let host = str_of(rule, "host");
        if !host.is_empty() {
            validate_host(host, &child(&rule_path, "host"), &mut errors);
        }
        let Some(http) = rule.get("http").filter(|v| !v.is_null()) else {
            continue;
        };
        let paths_path = child(&child(&rule_path, "http"), "paths");
        let paths = items(http.get("paths"));
        if paths.is_empty() {
            errors.push(FieldError::required(&paths_path, ""));
        }
        for (j, http_path) in paths.iter().enumerate() {
            let entry_path = index(&paths_path, j);
            let path_value = str_of(http_path, "path");
            let path_field = child(&entry_path, "path");
            match http_path.get("pathType").and_then(Value::as_str) {
                None => {
                    errors.push(FieldError::required(
                        child(&entry_path, "pathType"),
                        "pathType must be specified",
                    ));
                    continue;
                }
                Some("Exact") | Some("Prefix") => {
                    if !path_value.starts_with('/') {
                        errors.push(FieldError::invalid(
                            &path_field,
                            path_value,
                            "must be an absolute path",
                        ));
                    }
                    if !path_value.is_empty() {
                        for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                            if path_value.contains(seq) {
                                errors.push(FieldError::invalid(
                                    &path_field,
                                    path_value,
                                    format!("must not contain '{seq}'"),
                                ));
                            }
                        }
                        for suffix in ["/..", "/."] {
                            if path_value.ends_with(suffix) {
                                errors.push(FieldError::invalid(
                                    &path_field,
                                    path_value,
                                    format!("cannot end with '{suffix}'"),
                                ));
                            }
                        }
                    }
                }
                Some("ImplementationSpecific") => {
                    if !path_value.is_empty() && !path_value.starts_with('/') {
                        errors.push(FieldError::invalid(
                            &path_field,
                            path_value,
                            "must be an absolute path",
                        ));
                    }
                }
                Some(other) => errors.push(FieldError::not_supported(
                    child(&entry_path, "pathType"),
                    other,
                    PATH_TYPES,
                )),
            }
            let backend = http_path.get("backend").cloned().unwrap_or(Value::Null);
            validate_backend(&backend, &child(&entry_path, "backend"), &mut errors);
        }
    }
    for (i, tls) in items(spec.get("tls")).iter().enumerate() {
        for (j, host) in items(tls.get("hosts")).iter().enumerate() {
            let host = host.as_str().unwrap_or("");
            let host_path = index(&child(&index("spec.tls", i), "hosts"), j);
            if host.contains('*') {
                if !is_wildcard_subdomain(host) {
                    validate_host(host, &host_path, &mut errors);
                }
            } else {
                for msg in names::is_dns1123_subdomain(host) {
                    errors.push(FieldError::invalid(&host_path, host, msg));
                }
            }
        }
    }
    if let Some(class) = spec.get("ingressClassName").and_then(Value::as_str) {
        for msg in names::is_dns1123_subdomain(class) {
            errors.push(FieldError::invalid("spec.ingressClassName", class, msg));
        }
    }
    errors
}

/// Validates an IngressClass: the controller is a domain-prefixed path.
pub fn validate_ingress_class(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, false, NameRule::Subdomain);
    let controller = obj
        .pointer("/spec/controller")
        .and_then(Value::as_str)
        .unwrap_or("");
    if controller.is_empty() {
        errors.push(FieldError::required("spec.controller", ""));
    } else if controller.len() > 250 {
        errors.push(FieldError::too_long("spec.controller", 250));
    } else {
        let (domain, rest) = controller.split_once('/').unwrap_or((controller, ""));
        if rest.is_empty() {
            errors.push(FieldError::invalid(
                "spec.controller",
                controller,
                "must be a domain-prefixed path (such as \"acme.io/foo\")",
            ));
        } else {
            for msg in names::is_dns1123_subdomain(domain) {
                errors.push(FieldError::invalid("spec.controller", domain, msg));
            }
        }
    }
    errors
}

fn validate_policy_ports(ports: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    for (i, port) in ports.iter().enumerate() {
        let port_path = index(path, i);
        if let Some(protocol) = port.get("protocol").and_then(Value::as_str)
            && !PROTOCOLS.contains(&protocol)
        {
            errors.push(FieldError::not_supported(
                child(&port_path, "protocol"),
                protocol,
                PROTOCOLS,
            ));
        }
        match port.get("port") {
            Some(Value::Number(n)) => {
                let n = n.as_i64().unwrap_or(0);
                for msg in names::is_valid_port_num(n) {
                    errors.push(FieldError::invalid(child(&port_path, "port"), n, msg));
                }
                if let Some(end) = opt_i64(port, "endPort")
                    && end < n
                {
                    errors.push(FieldError::invalid(
                        child(&port_path, "endPort"),
                        end,
                        "must be greater than or equal to `port`",
                    ));
                }
            }
            Some(Value::String(s)) => {
                for msg in names::is_valid_port_name(s) {
                    errors.push(FieldError::invalid(
                        child(&port_path, "port"),
                        s.as_str(),
                        msg,
                    ));
                }
                if present(port, "endPort") {
                    errors.push(FieldError::invalid(
                        child(&port_path, "endPort"),
                        port["endPort"].clone(),
                        "may not be specified when `port` is non-numeric",
                    ));
                }
            }
            _ => {
                if present(port, "endPort") {
                    errors.push(FieldError::invalid(
                        child(&port_path, "endPort"),
                        port["endPort"].clone(),
                        "may not be specified when `port` is not specified",
                    ));
                }
            }
        }
    }
}

fn validate_peers(peers: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    for (i, peer) in peers.iter().enumerate() {
        let peer_path = index(path, i);
        let mut count = 0;
        for selector in ["podSelector", "namespaceSelector"] {
            if let Some(s) = peer.get(selector).filter(|v| !v.is_null()) {
                count += 1;
                errors.extend(validate_label_selector(s, &child(&peer_path, selector)));
            }
        }
        if let Some(block) = peer.get("ipBlock").filter(|v| !v.is_null()) {
            count += 1;
            if count > 1 {
                errors.push(FieldError::forbidden(
                    &peer_path,
                    "may not specify both ipBlock and another peer",
                ));
            }
            let block_path = child(&peer_path, "ipBlock");
            let cidr = str_of(block, "cidr");
            if cidr.is_empty() {
                errors.push(FieldError::required(child(&block_path, "cidr"), ""));
            } else {
                for msg in names::is_valid_cidr(cidr) {
                    errors.push(FieldError::invalid(child(&block_path, "cidr"), cidr, msg));
                }
            }
            for (j, except) in items(block.get("except")).iter().enumerate() {
                let except = except.as_str().unwrap_or("");
                for msg in names::is_valid_cidr(except) {
                    errors.push(FieldError::invalid(
                        index(&child(&block_path, "except"), j),
                        except,
                        msg,
                    ));
                }
            }
        }
        if count == 0 {
            errors.push(FieldError::required(&peer_path, "must specify a peer"));
        }
    }
}

/// Validates a NetworkPolicy: selectors, policy types, rule ports and peers.
pub fn validate_network_policy(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let empty = Value::Object(serde_json::Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    if let Some(selector) = spec.get("podSelector").filter(|v| !v.is_null()) {
        errors.extend(validate_label_selector(selector, "spec.podSelector"));
    }
    for (direction, peers_field) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in items(spec.get(direction)).iter().enumerate() {
            let rule_path = index(&child("spec", direction), i);
            validate_policy_ports(
                items(rule.get("ports")),
                &child(&rule_path, "ports"),
                &mut errors,
            );
            validate_peers(
                items(rule.get(peers_field)),
                &child(&rule_path, peers_field),
                &mut errors,
            );
        }
    }
    let types = items(spec.get("policyTypes"));
    for (i, policy_type) in types.iter().enumerate() {
        let policy_type = policy_type.as_str().unwrap_or("");
        if !matches!(policy_type, "Ingress" | "Egress") {
            errors.push(FieldError::not_supported(
                index("spec.policyTypes", i),
                policy_type,
                &["Ingress", "Egress"],
            ));
        }
    }
    if types.len() > 2 {
        errors.push(FieldError::invalid(
            "spec.policyTypes",
            Value::Array(types.to_vec()),
            "may not specify more than two policyTypes",
        ));
    }
    errors
}

/// Validates an EndpointSlice: address type, endpoints' addresses and ports.
pub fn validate_endpoint_slice(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let address_type = str_of(obj, "addressType");
    match address_type {
        "" => errors.push(FieldError::required("addressType", "")),
        "IPv4" | "IPv6" | "FQDN" => {}
        other => errors.push(FieldError::not_supported(
            "addressType",
            other,
            &["FQDN", "IPv4", "IPv6"],
        )),
    }
    for (i, endpoint) in items(obj.get("endpoints")).iter().enumerate() {
        let addresses_path = child(&index("endpoints", i), "addresses");
        let addresses = items(endpoint.get("addresses"));
        if addresses.is_empty() {
            errors.push(FieldError::required(
                &addresses_path,
                "must contain at least 1 address",
            ));
        } else if addresses.len() > 100 {
            errors.push(FieldError::too_many(&addresses_path, addresses.len(), 100));
        }
        for (j, address) in addresses.iter().enumerate() {
            let address = address.as_str().unwrap_or("");
            let address_path = index(&addresses_path, j);
            let problem = match address_type {
                "IPv4" if address.parse::<std::net::Ipv4Addr>().is_err() => {
                    Some("must be a valid IPv4 address".to_string())
                }
                "IPv6" if address.parse::<std::net::Ipv6Addr>().is_err() => {
                    Some("must be a valid IPv6 address".to_string())
                }
                "FQDN" => names::is_dns1123_subdomain(address).into_iter().next(),
                _ => None,
            };
            if let Some(msg) = problem {
                errors.push(FieldError::invalid(address_path, address, msg));
            }
        }
    }
    for (i, port) in items(obj.get("ports")).iter().enumerate() {
        let port_path = index("ports", i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            for msg in names::is_dns1123_label(name) {
                errors.push(FieldError::invalid(child(&port_path, "name"), name, msg));
            }
        }
        if let Some(protocol) = port.get("protocol").and_then(Value::as_str)
            && !PROTOCOLS.contains(&protocol)
        {
            errors.push(FieldError::not_supported(
                child(&port_path, "protocol"),
                protocol,
                PROTOCOLS,
            ));
        }
        if let Some(number) = opt_i64(port, "port") {
            for msg in names::is_valid_port_num(number) {
                errors.push(FieldError::invalid(child(&port_path, "port"), number, msg));
            }
        }
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
    fn ingress_paths_and_backends() {
        let ing = json!({"metadata": {"name": "i", "namespace": "d"}, "spec": {"rules": [{"host": "example.com", "http": {"paths": [
            {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "/a", "pathType": "Glob", "backend": {"service": {"name": "web"}}},
            {"path": "rel", "pathType": "Prefix", "backend": {}}
        ]}}]}});
        assert_eq!(
            messages(&validate_ingress(&ing)),
            vec![
                "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
                "spec.rules[0].http.paths[1].pathType: Unsupported value: \"Glob\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
                "spec.rules[0].http.paths[1].backend: Required value: port name or number is required",
                "spec.rules[0].http.paths[2].path: Invalid value: \"rel\": must be an absolute path",
                "spec.rules[0].http.paths[2].backend: Invalid value: \"\": resource or service backend is required"
            ]
        );
        let ing = json!({"metadata": {"name": "i", "namespace": "d"}, "spec": {}});
        assert_eq!(
            messages(&validate_ingress(&ing)),
            vec![
                "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
            ]
        );
    }

    #[test]
    fn wildcard_hosts() {
        let ing = json!({"metadata": {"name": "i", "namespace": "d"}, "spec": {"rules": [{"host": "*.example.com"}, {"host": "10.0.0.1"}]}});
        let errors = messages(&validate_ingress(&ing));
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0],
            "spec.rules[1].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address"
        );
    }

    #[test]
    fn network_policy_and_slices() {
        let np = json!({"metadata": {"name": "n", "namespace": "d"}, "spec": {"podSelector": {}, "policyTypes": ["Sideways"], "ingress": [{"from": [{}]}]}});
        assert_eq!(
            messages(&validate_network_policy(&np)),
            vec![
                "spec.ingress[0].from[0]: Required value: must specify a peer",
                "spec.policyTypes[0]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\""
            ]
        );
        let slice = json!({"metadata": {"name": "s", "namespace": "d"}, "addressType": "IPv4", "endpoints": [{"addresses": ["::1"]}]});
        assert_eq!(
            messages(&validate_endpoint_slice(&slice)),
            vec!["endpoints[0].addresses[0]: Invalid value: \"::1\": must be a valid IPv4 address"]
        );
    }
}
