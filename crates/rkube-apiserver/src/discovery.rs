//! Discovery documents: `/api`, `/apis`, `/apis/{group}`, `/api/v1`, `/apis/{group}/{version}`,
//! and the aggregated `apidiscovery.k8s.io/v2` lists kubectl asks for first.

use serde_json::{Value, json};

use crate::registry::{Registry, Served};

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// `/api`: APIVersions.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn api_group(registry: &Registry, group: &str) -> Option<Value> {
    let g = registry.group(group)?;
    let versions: Vec<Value> = g
        .versions
        .iter()
        .map(|v| json!({"groupVersion": group_version(group, v), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    Some(json!({"name": group, "versions": versions, "preferredVersion": preferred}))
}

/// `/apis`: APIGroupList of every named group.
pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|g| !g.group.is_empty())
        .filter_map(|g| api_group(registry, &g.group))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`: APIGroup.
pub fn group(registry: &Registry, group: &str) -> Option<Value> {
    let mut g = api_group(registry, group)?;
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

fn scope(served: &Served) -> &'static str {
    if served.info.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

/// `/api/v1` or `/apis/{group}/{version}`: APIResourceList.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    registry
        .group(group)
        .filter(|g| g.versions.iter().any(|v| v == version))?;
    let mut resources = Vec::new();
    for s in registry.resources(group, version) {
        let i = &s.info;
        let mut r = json!({
            "name": i.plural,
            "singularName": i.singular,
            "namespaced": i.namespaced,
            "kind": i.kind,
            "verbs": i.verbs,
        });
        if !i.short_names.is_empty() {
            r["shortNames"] = json!(i.short_names);
        }
        if !i.categories.is_empty() {
            r["categories"] = json!(i.categories);
        }
        resources.push(r);
        for sub in &i.subresources {
            let mut r = json!({
                "name": format!("{}/{}", i.plural, sub.name),
                "singularName": "",
                "namespaced": i.namespaced,
                "kind": sub.kind,
                "verbs": sub.verbs,
            });
            if sub.group != group || sub.version != version {
                r["group"] = json!(sub.group);
                r["version"] = json!(sub.version);
            }
            resources.push(r);
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version(group, version),
        "resources": resources,
    }))
}

fn aggregated_group(registry: &Registry, group: &str) -> Option<Value> {
    let g = registry.group(group)?;
    let versions: Vec<Value> = g
        .versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = registry
                .resources(group, version)
                .map(|s| {
                    let i = &s.info;
                    let mut r = json!({
                        "resource": i.plural,
                        "responseKind": {"group": i.group, "version": i.version, "kind": i.kind},
                        "scope": scope(s),
                        "singularResource": i.singular,
                        "verbs": i.verbs,
                    });
                    if !i.short_names.is_empty() {
                        r["shortNames"] = json!(i.short_names);
                    }
                    if !i.categories.is_empty() {
                        r["categories"] = json!(i.categories);
                    }
                    if !i.subresources.is_empty() {
                        r["subresources"] = i
                            .subresources
                            .iter()
                            .map(|sub| {
                                json!({
                                    "subresource": sub.name,
                                    "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind},
                                    "verbs": sub.verbs,
                                })
                            })
                            .collect();
                    }
                    r
                })
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    Some(json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions}))
}

/// Aggregated discovery for `/api` (`core` true: only the core group) or `/apis` (every named group).
pub fn aggregated(registry: &Registry, core: bool) -> Value {
    let items: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|g| g.group.is_empty() == core)
        .filter_map(|g| aggregated_group(registry, &g.group))
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}
