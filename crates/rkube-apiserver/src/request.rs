//! What a request asks for: upstream's `RequestInfo` (verb, group, version, namespace,
//! resource, name, subresource) parsed from the method, path and query.

use std::collections::HashMap;

/// A request against an API resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// The Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Resource (plural).
    pub resource: String,
    /// Object name, if the path names one.
    pub name: Option<String>,
    /// Subresource, e.g. `status`.
    pub subresource: Option<String>,
}

/// What the path of a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/healthz`, `/livez`, `/readyz` (with optional check name).
    Health(String),
    /// `/version`.
    Version,
    /// `/api`.
    CoreGroups,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    GroupVersion(String, String),
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3Root,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
    OpenApiV3(String, String),
    /// A resource request.
    Resource(ResourceRequest),
    /// Anything else.
    Unknown,
}

/// Parses the query string into a map (last value wins), percent-decoded.
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k), percent_decode(v));
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space) in a query component.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Classifies a request path; `method` and `query` decide the verb of resource requests.
pub fn parse(method: &str, path: &str, query: &HashMap<String, String>) -> Target {
    let trimmed = path.trim_end_matches('/');
    let parts: Vec<String> = trimmed
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["healthz" | "livez" | "readyz", rest @ ..] => Target::Health(rest.join("/")),
        ["version"] => Target::Version,
        ["api"] => Target::CoreGroups,
        ["apis"] => Target::Groups,
        ["apis", group] => Target::Group(group.to_string()),
        ["api", version] => Target::GroupVersion(String::new(), version.to_string()),
        ["apis", group, version] => Target::GroupVersion(group.to_string(), version.to_string()),
        ["openapi", "v2"] => Target::OpenApiV2,
        ["openapi", "v3"] => Target::OpenApiV3Root,
        ["openapi", "v3", "api", version] => Target::OpenApiV3(String::new(), version.to_string()),
        ["openapi", "v3", "apis", group, version] => {
            Target::OpenApiV3(group.to_string(), version.to_string())
        }
        ["api", version, rest @ ..] => resource(method, "", version, rest, query),
        ["apis", group, version, rest @ ..] => resource(method, group, version, rest, query),
        _ => Target::Unknown,
    }
}

fn resource(
    method: &str,
    group: &str,
    version: &str,
    rest: &[&str],
    query: &HashMap<String, String>,
) -> Target {
    let mut parts = rest;
    let mut legacy_watch = false;
    if parts.first() == Some(&"watch") {
        legacy_watch = true;
        parts = &parts[1..];
    }
    let mut namespace = None;
    if parts.first() == Some(&"namespaces") && parts.len() > 1 {
        namespace = Some(parts[1].to_string());
        if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
            parts = &parts[2..];
        }
    }
    let Some(resource) = parts.first() else {
        return Target::Unknown;
    };
    let mut name = parts.get(1).map(|s| s.to_string());
    let subresource = match parts.len() {
        0..=2 => None,
        3 => Some(parts[2].to_string()),
        // Proxy-style subresources carry a path after them; keep only the subresource name.
        _ => Some(parts[2].to_string()),
    };
    if *resource == "namespaces" && namespace.is_some() && name.is_none() {
        name = namespace.clone();
    }
    if *resource == "namespaces" {
        // A namespace is cluster-scoped: its name is not a namespace of the request.
        namespace = None;
    }
    let watch_param = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match method {
        "GET" | "HEAD" if legacy_watch || watch_param => "watch",
        "GET" | "HEAD" if name.is_some() => "get",
        "GET" | "HEAD" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if name.is_some() => "delete",
        "DELETE" => "deletecollection",
        _ => "unknown",
    };
    Target::Resource(ResourceRequest {
        verb,
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource: resource.to_string(),
        name,
        subresource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: &str, path: &str, query: &str) -> ResourceRequest {
        match parse(method, path, &parse_query(Some(query))) {
            Target::Resource(r) => r,
            other => panic!("not a resource request: {other:?}"),
        }
    }

    #[test]
    fn namespaced_item_and_subresource() {
        let r = res(
            "PUT",
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
            "",
        );
        assert_eq!(r.verb, "update");
        assert_eq!(r.group, "apps");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.resource, "deployments");
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.subresource.as_deref(), Some("scale"));
    }

    #[test]
    fn namespaces_are_cluster_scoped() {
        let r = res("GET", "/api/v1/namespaces/foo", "");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("foo"), None)
        );
        let r = res("PUT", "/api/v1/namespaces/foo/finalize", "");
        assert_eq!(
            (r.name.as_deref(), r.subresource.as_deref()),
            (Some("foo"), Some("finalize"))
        );
        let r = res("GET", "/api/v1/namespaces", "");
        assert_eq!(r.verb, "list");
    }

    #[test]
    fn watch_by_query_and_legacy_prefix() {
        assert_eq!(res("GET", "/api/v1/pods", "watch=true").verb, "watch");
        let r = res("GET", "/api/v1/watch/namespaces/a/pods", "");
        assert_eq!((r.verb, r.namespace.as_deref()), ("watch", Some("a")));
    }

    #[test]
    fn query_decoding() {
        let q = parse_query(Some("labelSelector=app%3Dweb%2Ctier+in+%28a%29&limit=5"));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["limit"], "5");
    }
}
