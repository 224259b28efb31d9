//! Service address allocation: cluster IPs from `--service-cidr` and node ports from the
//! NodePort range, assigned at creation, kept on update, with conflicts rejected (422).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use rkube_store::ListOptions;
use serde_json::{Value, json};
use tokio::sync::MutexGuard;

use crate::ApiServer;
use crate::object;
use crate::registry::Served;
use crate::rest::{parse_stored, store_error};
use crate::status::{ApiError, Result, StatusCause};

fn invalid(obj: &Value, field: &str, message: String) -> ApiError {
    ApiError::invalid(
        "",
        "Service",
        object::name(obj),
        vec![StatusCause {
            reason: "FieldValueInvalid".into(),
            message,
            field: field.into(),
        }],
    )
}

/// Addresses and ports in use by other Services.
struct InUse {
    ips: HashSet<Ipv4Addr>,
    node_ports: HashSet<(i64, String)>,
}

async fn in_use(api: &ApiServer, except_key: &str) -> Result<InUse> {
    let page = api
        .inner
        .store
        .list("/core/services/", ListOptions::default())
        .await
        .map_err(store_error)?;
    let mut used = InUse {
        ips: HashSet::new(),
        node_ports: HashSet::new(),
    };
    for kv in page.items.iter().filter(|kv| kv.key != except_key) {
        let svc = parse_stored(kv)?;
        if let Some(ip) = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
        {
            used.ips.insert(ip);
        }
        for p in svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                used.node_ports.insert((
                    n,
                    p.get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("TCP")
                        .to_string(),
                ));
            }
        }
    }
    Ok(used)
}

/// Allocates (or checks) the Service's cluster IP and node ports. Returns a guard that must be
/// held until the write is done, so two Services never get the same address.
pub async fn allocate<'a>(
    api: &'a ApiServer,
    served: &Served,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<Option<MutexGuard<'a, ()>>> {
    if served.custom.is_some() || !served.info.group.is_empty() || served.info.kind != "Service" {
        return Ok(None);
    }
    let guard = api.inner.service_alloc.lock().await;
    let svc_type = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let key = format!(
        "/core/services/{}/{}",
        object::namespace(obj).unwrap_or(""),
        object::name(obj)
    );
    let used = in_use(api, &key).await?;
    let (base, bits) = api.inner.config.service_cidr;
    let size = 1u32 << (32 - bits);
    let in_range = |ip: Ipv4Addr| {
        let off = u32::from(ip).wrapping_sub(u32::from(base));
        off > 0 && off < size - 1
    };

    // Keep what the old object had when the new one leaves it out (upstream's patchAllocatedValues).
    if let Some(old) = old {
        let new_ip = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("");
        if new_ip.is_empty() && svc_type != "ExternalName" {
            for k in ["clusterIP", "clusterIPs"] {
                if let Some(v) = old.pointer(&format!("/spec/{k}")) {
                    obj["spec"][k] = v.clone();
                }
            }
        }
        if matches!(svc_type.as_str(), "NodePort" | "LoadBalancer") {
            let old_ports = old
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
                for p in ports
                    .iter_mut()
                    .filter(|p| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0)
                {
                    if let Some(op) = old_ports.iter().find(|op| {
                        op.get("port") == p.get("port") && op.get("protocol") == p.get("protocol")
                    }) && let Some(n) = op.get("nodePort")
                    {
                        p["nodePort"] = n.clone();
                    }
                }
            }
        }
    }

    match svc_type.as_str() {
        "ExternalName" => {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        }
        _ => {
            let requested = obj
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let old_ip = old
                .and_then(|o| o.pointer("/spec/clusterIP"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if requested == "None" {
                obj["spec"]["clusterIPs"] = json!(["None"]);
            } else if requested.is_empty() {
                let start = uuid::Uuid::new_v4().as_u128() as u32 % (size - 2);
                let ip = (0..size - 2)
                    .map(|i| Ipv4Addr::from(u32::from(base) + 1 + (start + i) % (size - 2)))
                    .find(|ip| !used.ips.contains(ip) && u32::from(*ip) != u32::from(base) + 1)
                    .ok_or_else(|| {
                        invalid(
                            obj,
                            "spec.clusterIPs",
                            "failed to allocate IP: range is full".into(),
                        )
                    })?;
                obj["spec"]["clusterIP"] = json!(ip.to_string());
                obj["spec"]["clusterIPs"] = json!([ip.to_string()]);
            } else if requested != old_ip {
                let ip: Ipv4Addr = requested.parse().map_err(|_| {
                    invalid(
                        obj,
                        "spec.clusterIPs[0]",
                        format!("Invalid value: \"{requested}\": must be a valid IP address"),
                    )
                })?;
                let cidr = format!("{base}/{bits}");
                if !in_range(ip) {
                    return Err(invalid(
                        obj,
                        "spec.clusterIPs",
                        format!(
                            "Invalid value: []string{{\"{requested}\"}}: failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {cidr}"
                        ),
                    ));
                }
                if used.ips.contains(&ip) {
                    return Err(invalid(
                        obj,
                        "spec.clusterIPs",
                        format!(
                            "Invalid value: []string{{\"{requested}\"}}: failed to allocate IP {requested}: provided IP is already allocated"
                        ),
                    ));
                }
                obj["spec"]["clusterIPs"] = json!([requested]);
            }
        }
    }

    let (lo, hi) = api.inner.config.node_port_range;
    let wants_node_ports = matches!(svc_type.as_str(), "NodePort" | "LoadBalancer");
    let mut taken = used.node_ports;
    let old_ports: HashSet<i64> = old
        .and_then(|o| o.pointer("/spec/ports"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
        .collect();
    let name = object::name(obj).to_string();
    if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for (i, p) in ports.iter_mut().enumerate() {
            let protocol = p
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .to_string();
            if !wants_node_ports {
                if let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
                continue;
            }
            let requested = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
            if requested == 0 {
                let span = u32::from(hi - lo) + 1;
                let start = uuid::Uuid::new_v4().as_u128() as u32 % span;
                let port = (0..span)
                    .map(|k| i64::from(lo) + i64::from((start + k) % span))
                    .find(|n| !taken.contains(&(*n, protocol.clone())))
                    .ok_or_else(|| ApiError::internal("no node ports left"))?;
                p["nodePort"] = json!(port);
                taken.insert((port, protocol));
                continue;
            }
            let field = format!("spec.ports[{i}].nodePort");
            if requested < i64::from(lo) || requested > i64::from(hi) {
                return Err(ApiError::invalid(
                    "",
                    "Service",
                    &name,
                    vec![StatusCause {
                        reason: "FieldValueInvalid".into(),
                        message: format!(
                            "Invalid value: {requested}: provided port is not in the valid range. The range of valid ports is {lo}-{hi}"
                        ),
                        field,
                    }],
                ));
            }
            if taken.contains(&(requested, protocol.clone())) && !old_ports.contains(&requested) {
                return Err(ApiError::invalid(
                    "",
                    "Service",
                    &name,
                    vec![StatusCause {
                        reason: "FieldValueInvalid".into(),
                        message: format!(
                            "Invalid value: {requested}: provided port is already allocated"
                        ),
                        field,
                    }],
                ));
            }
            taken.insert((requested, protocol));
        }
    }
    Ok(Some(guard))
}
