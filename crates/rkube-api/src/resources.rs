//! The registry of kinds: group, version, kind, resource names, scope, verbs and subresources.

/// A subresource a resource serves, e.g. `status` or `scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subresource {
    /// The path segment, e.g. `status`, `scale`, `binding`, `eviction`.
    pub name: String,
    /// The kind the subresource reads and writes, e.g. `Scale` (`autoscaling/v1`) for scale.
    pub kind: String,
    /// The group of that kind ("" for core).
    pub group: String,
    /// The version of that kind.
    pub version: String,
    /// The verbs the subresource answers, e.g. `get`, `patch`, `update` or `create`.
    pub verbs: Vec<String>,
}

/// Everything the API server needs to know to serve one resource at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// The API group; "" for the core (legacy) group.
    pub group: String,
    /// The version, e.g. `v1`.
    pub version: String,
    /// The kind, e.g. `Deployment`.
    pub kind: String,
    /// The list kind, e.g. `DeploymentList`.
    pub list_kind: String,
    /// The resource (plural) name used in URLs, e.g. `deployments`.
    pub plural: String,
    /// The singular name, e.g. `deployment`.
    pub singular: String,
    /// Namespaced (true) or cluster-scoped (false).
    pub namespaced: bool,
    /// Short names, e.g. `deploy`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    pub categories: Vec<String>,
    /// The verbs served on the collection and its items.
    pub verbs: Vec<String>,
    /// Subresources served under each item.
    pub subresources: Vec<Subresource>,
    /// The group whose storage holds these objects (differs from `group` only for kinds served
    /// by two groups, such as `events.k8s.io` Events stored with core Events).
    pub storage_group: String,
    /// The version objects are stored at.
    pub storage_version: String,
}

impl ResourceInfo {
    /// `apiVersion` as written in objects: `v1` for core, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the resource has the named subresource.
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s.name == name)
    }
}

/// The verbs of an ordinary resource collection and its items.
const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// The verbs of a resource without `deletecollection` (namespaces).
const VERBS_NO_DELETECOLLECTION: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
/// The verbs of create-only virtual resources (reviews, bindings).
const CREATE_ONLY: &[&str] = &["create"];
/// The verbs of `status`-like subresources.
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
/// The verbs of `proxy` subresources.
const PROXY_VERBS: &[&str] = &["create", "delete", "get", "patch", "update"];
/// The verbs of streaming subresources (`exec`, `attach`, `portforward`).
const CONNECT_VERBS: &[&str] = &["create", "get"];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

/// A subresource whose kind lives in the parent's group and version.
fn sub(
    parent_group: &str,
    parent_version: &str,
    name: &str,
    kind: &str,
    verbs: &[&str],
) -> Subresource {
    Subresource {
        name: name.to_string(),
        kind: kind.to_string(),
        group: parent_group.to_string(),
        version: parent_version.to_string(),
        verbs: strings(verbs),
    }
}

/// A subresource whose kind lives in another group and version.
fn sub_in(name: &str, group: &str, version: &str, kind: &str, verbs: &[&str]) -> Subresource {
    Subresource {
        name: name.to_string(),
        kind: kind.to_string(),
        group: group.to_string(),
        version: version.to_string(),
        verbs: strings(verbs),
    }
}

/// The `scale` subresource (`autoscaling/v1` Scale).
fn scale_sub() -> Subresource {
    sub_in("scale", "autoscaling", "v1", "Scale", GET_PATCH_UPDATE)
}

/// Describes one resource; subresources, storage and extras are filled in by the caller.
struct Spec<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
    plural: &'a str,
    namespaced: bool,
    short_names: &'a [&'a str],
    categories: &'a [&'a str],
    verbs: &'a [&'a str],
}

impl Spec<'_> {
    fn build(&self, subresources: Vec<Subresource>) -> ResourceInfo {
        ResourceInfo {
            group: self.group.to_string(),
            version: self.version.to_string(),
            kind: self.kind.to_string(),
            list_kind: format!("{}List", self.kind),
            plural: self.plural.to_string(),
            singular: self.kind.to_lowercase(),
            namespaced: self.namespaced,
            short_names: strings(self.short_names),
            categories: strings(self.categories),
            verbs: strings(self.verbs),
            subresources,
            storage_group: self.group.to_string(),
            storage_version: self.version.to_string(),
        }
    }
}

/// A namespaced resource with the ordinary verbs.
fn namespaced<'a>(
    group: &'a str,
    kind: &'a str,
    plural: &'a str,
    short: &'a [&'a str],
    categories: &'a [&'a str],
) -> Spec<'a> {
    Spec {
        group,
        version: "v1",
        kind,
        plural,
        namespaced: true,
        short_names: short,
        categories,
        verbs: ALL_VERBS,
    }
}

/// A cluster-scoped resource with the ordinary verbs.
fn cluster<'a>(
    group: &'a str,
    kind: &'a str,
    plural: &'a str,
    short: &'a [&'a str],
    categories: &'a [&'a str],
) -> Spec<'a> {
    Spec {
        group,
        version: "v1",
        kind,
        plural,
        namespaced: false,
        short_names: short,
        categories,
        verbs: ALL_VERBS,
    }
}

/// A create-only virtual resource (reviews, bindings).
fn create_only<'a>(group: &'a str, kind: &'a str, plural: &'a str, namespaced: bool) -> Spec<'a> {
    Spec {
        group,
        version: "v1",
        kind,
        plural,
        namespaced,
        short_names: &[],
        categories: &[],
        verbs: CREATE_ONLY,
    }
}

/// Every built-in resource rkube serves, as Kubernetes v1.33 discovery reports it.
pub fn builtin_resources() -> Vec<ResourceInfo> {
    let all: &[&str] = &["all"];
    let none: &[&str] = &[];
    let status = |group: &str, kind: &str| sub(group, "v1", "status", kind, GET_PATCH_UPDATE);
    let mut out = vec![
        // core/v1
        Spec {
            verbs: CREATE_ONLY,
            ..namespaced("", "Binding", "bindings", none, none)
        }
        .build(vec![]),
        namespaced("", "ConfigMap", "configmaps", &["cm"], none).build(vec![]),
        {
            let mut info = namespaced("", "Endpoints", "endpoints", &["ep"], none).build(vec![]);
            info.list_kind = "EndpointsList".to_string();
            info
        },
        namespaced("", "Event", "events", &["ev"], none).build(vec![]),
        namespaced("", "LimitRange", "limitranges", &["limits"], none).build(vec![]),
        Spec {
            verbs: VERBS_NO_DELETECOLLECTION,
            ..cluster("", "Namespace", "namespaces", &["ns"], none)
        }
        .build(vec![
            sub("", "v1", "finalize", "Namespace", &["update"]),
            status("", "Namespace"),
        ]),
        cluster("", "Node", "nodes", &["no"], none).build(vec![
            sub("", "v1", "proxy", "NodeProxyOptions", PROXY_VERBS),
            status("", "Node"),
        ]),
        namespaced(
            "",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            &["pvc"],
            none,
        )
        .build(vec![status("", "PersistentVolumeClaim")]),
        cluster("", "PersistentVolume", "persistentvolumes", &["pv"], none)
            .build(vec![status("", "PersistentVolume")]),
        namespaced("", "Pod", "pods", &["po"], all).build(vec![
            sub("", "v1", "attach", "PodAttachOptions", CONNECT_VERBS),
            sub("", "v1", "binding", "Binding", CREATE_ONLY),
            sub("", "v1", "ephemeralcontainers", "Pod", GET_PATCH_UPDATE),
            sub_in("eviction", "policy", "v1", "Eviction", CREATE_ONLY),
            sub("", "v1", "exec", "PodExecOptions", CONNECT_VERBS),
            sub("", "v1", "log", "Pod", &["get"]),
            sub(
                "",
                "v1",
                "portforward",
                "PodPortForwardOptions",
                CONNECT_VERBS,
            ),
            sub("", "v1", "proxy", "PodProxyOptions", PROXY_VERBS),
            sub("", "v1", "resize", "Pod", GET_PATCH_UPDATE),
            status("", "Pod"),
        ]),
        namespaced(
            "",
            "ReplicationController",
            "replicationcontrollers",
            &["rc"],
            all,
        )
        .build(vec![scale_sub(), status("", "ReplicationController")]),
        namespaced("", "ResourceQuota", "resourcequotas", &["quota"], none)
            .build(vec![status("", "ResourceQuota")]),
        namespaced("", "Secret", "secrets", none, none).build(vec![]),
        namespaced("", "ServiceAccount", "serviceaccounts", &["sa"], none).build(vec![sub_in(
            "token",
            "authentication.k8s.io",
            "v1",
            "TokenRequest",
            CREATE_ONLY,
        )]),
        namespaced("", "Service", "services", &["svc"], all).build(vec![
            sub("", "v1", "proxy", "ServiceProxyOptions", PROXY_VERBS),
            status("", "Service"),
        ]),
        // apps/v1
        namespaced(
            "apps",
            "ControllerRevision",
            "controllerrevisions",
            none,
            none,
        )
        .build(vec![]),
        namespaced("apps", "DaemonSet", "daemonsets", &["ds"], all)
            .build(vec![status("apps", "DaemonSet")]),
        namespaced("apps", "Deployment", "deployments", &["deploy"], all)
            .build(vec![scale_sub(), status("apps", "Deployment")]),
        namespaced("apps", "ReplicaSet", "replicasets", &["rs"], all)
            .build(vec![scale_sub(), status("apps", "ReplicaSet")]),
        namespaced("apps", "StatefulSet", "statefulsets", &["sts"], all)
            .build(vec![scale_sub(), status("apps", "StatefulSet")]),
        // batch/v1
        namespaced("batch", "CronJob", "cronjobs", &["cj"], all)
            .build(vec![status("batch", "CronJob")]),
        namespaced("batch", "Job", "jobs", none, all).build(vec![status("batch", "Job")]),
        // networking.k8s.io/v1
        cluster(
            "networking.k8s.io",
            "IngressClass",
            "ingressclasses",
            none,
            none,
        )
        .build(vec![]),
        namespaced("networking.k8s.io", "Ingress", "ingresses", &["ing"], none)
            .build(vec![status("networking.k8s.io", "Ingress")]),
        namespaced(
            "networking.k8s.io",
            "NetworkPolicy",
            "networkpolicies",
            &["netpol"],
            none,
        )
        .build(vec![]),
        // coordination.k8s.io/v1
        namespaced("coordination.k8s.io", "Lease", "leases", none, none).build(vec![]),
        // discovery.k8s.io/v1
        namespaced(
            "discovery.k8s.io",
            "EndpointSlice",
            "endpointslices",
            none,
            none,
        )
        .build(vec![]),
        // events.k8s.io/v1 (stored with core events)
        {
            let mut info =
                namespaced("events.k8s.io", "Event", "events", &["ev"], none).build(vec![]);
            info.storage_group = String::new();
            info
        },
        // policy/v1
        namespaced(
            "policy",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            &["pdb"],
            none,
        )
        .build(vec![status("policy", "PodDisruptionBudget")]),
        // rbac.authorization.k8s.io/v1
        cluster(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "clusterrolebindings",
            none,
            none,
        )
        .build(vec![]),
        cluster(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            "clusterroles",
            none,
            none,
        )
        .build(vec![]),
        namespaced(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            "rolebindings",
            none,
            none,
        )
        .build(vec![]),
        namespaced("rbac.authorization.k8s.io", "Role", "roles", none, none).build(vec![]),
        // storage.k8s.io/v1
        cluster(
            "storage.k8s.io",
            "StorageClass",
            "storageclasses",
            &["sc"],
            none,
        )
        .build(vec![]),
        // scheduling.k8s.io/v1
        cluster(
            "scheduling.k8s.io",
            "PriorityClass",
            "priorityclasses",
            &["pc"],
            none,
        )
        .build(vec![]),
        // apiextensions.k8s.io/v1
        cluster(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            &["crd", "crds"],
            &["api-extensions"],
        )
        .build(vec![status(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
        )]),
        // authentication.k8s.io/v1
        create_only(
            "authentication.k8s.io",
            "SelfSubjectReview",
            "selfsubjectreviews",
            false,
        )
        .build(vec![]),
        create_only(
            "authentication.k8s.io",
            "TokenReview",
            "tokenreviews",
            false,
        )
        .build(vec![]),
        // authorization.k8s.io/v1
        create_only(
            "authorization.k8s.io",
            "LocalSubjectAccessReview",
            "localsubjectaccessreviews",
            true,
        )
        .build(vec![]),
        create_only(
            "authorization.k8s.io",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            false,
        )
        .build(vec![]),
        create_only(
            "authorization.k8s.io",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            false,
        )
        .build(vec![]),
        create_only(
            "authorization.k8s.io",
            "SubjectAccessReview",
            "subjectaccessreviews",
            false,
        )
        .build(vec![]),
    ];
    // autoscaling/v1 and autoscaling/v2 share storage at v2.
    for version in ["v2", "v1"] {
        let mut info = Spec {
            version,
            ..namespaced(
                "autoscaling",
                "HorizontalPodAutoscaler",
                "horizontalpodautoscalers",
                &["hpa"],
                all,
            )
        }
        .build(vec![sub(
            "autoscaling",
            version,
            "status",
            "HorizontalPodAutoscaler",
            GET_PATCH_UPDATE,
        )]);
        info.storage_version = "v2".to_string();
        out.push(info);
    }
    out
}

/// The version discovery lists first (preferred) for a built-in group, `None` for unknown groups.
pub fn preferred_version(group: &str) -> Option<&'static str> {
    match group {
        "autoscaling" => Some("v2"),
        ""
        | "apps"
        | "batch"
        | "networking.k8s.io"
        | "coordination.k8s.io"
        | "discovery.k8s.io"
        | "events.k8s.io"
        | "policy"
        | "rbac.authorization.k8s.io"
        | "storage.k8s.io"
        | "scheduling.k8s.io"
        | "apiextensions.k8s.io"
        | "authentication.k8s.io"
        | "authorization.k8s.io" => Some("v1"),
        _ => None,
    }
}

/// The versions a built-in group serves, preferred first.
pub fn served_versions(group: &str) -> Vec<&'static str> {
    match group {
        "autoscaling" => vec!["v2", "v1"],
        other => preferred_version(other).into_iter().collect(),
    }
}

/// Finds a built-in resource by group, version and plural name.
pub fn find_builtin(group: &str, version: &str, plural: &str) -> Option<ResourceInfo> {
    builtin_resources()
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The store key segment of a group: its name, or `core` for the empty (legacy) group.
fn storage_group_segment(info: &ResourceInfo) -> &str {
    if info.storage_group.is_empty() {
        "core"
    } else {
        &info.storage_group
    }
}

/// The store key prefix under which all objects of `info` (in `namespace`, when given and
/// the resource is namespaced) live, ending in `/`: `/core/pods/default/`, `/apps/deployments/`.
pub fn key_prefix(info: &ResourceInfo, namespace: Option<&str>) -> String {
    let group = storage_group_segment(info);
    match namespace {
        Some(ns) if info.namespaced && !ns.is_empty() => format!("/{group}/{}/{ns}/", info.plural),
        _ => format!("/{group}/{}/", info.plural),
    }
}

/// The store key of one object: `/<group or core>/<plural>/<namespace>/<name>`, or
/// `/<group or core>/<plural>/<name>` for cluster-scoped resources.
pub fn object_key(info: &ResourceInfo, namespace: &str, name: &str) -> String {
    let group = storage_group_segment(info);
    if info.namespaced {
        format!("/{group}/{}/{namespace}/{name}", info.plural)
    } else {
        format!("/{group}/{}/{name}", info.plural)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(group: &str, version: &str, plural: &str) -> ResourceInfo {
        match find_builtin(group, version, plural) {
            Some(info) => info,
            None => panic!("missing {group}/{version}/{plural}"),
        }
    }

    #[test]
    fn pods_match_discovery() {
        let pods = find("", "v1", "pods");
        assert_eq!(pods.kind, "Pod");
        assert_eq!(pods.list_kind, "PodList");
        assert_eq!(pods.singular, "pod");
        assert!(pods.namespaced);
        assert_eq!(pods.short_names, vec!["po"]);
        assert_eq!(pods.categories, vec!["all"]);
        assert_eq!(pods.verbs.len(), 8);
        for name in [
            "status",
            "binding",
            "eviction",
            "log",
            "exec",
            "attach",
            "portforward",
            "proxy",
            "ephemeralcontainers",
            "resize",
        ] {
            assert!(pods.has_subresource(name), "{name}");
        }
        let eviction = pods.subresources.iter().find(|s| s.name == "eviction");
        assert_eq!(
            eviction.map(|s| (s.group.as_str(), s.kind.as_str())),
            Some(("policy", "Eviction"))
        );
    }

    #[test]
    fn scale_subresources_use_autoscaling_v1() {
        for (group, plural) in [
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("", "replicationcontrollers"),
        ] {
            let info = find(group, "v1", plural);
            let scale = info.subresources.iter().find(|s| s.name == "scale");
            assert_eq!(
                scale.map(|s| (s.group.as_str(), s.version.as_str(), s.kind.as_str())),
                Some(("autoscaling", "v1", "Scale")),
                "{plural}"
            );
        }
    }

    #[test]
    fn shared_storage() {
        let events = find("events.k8s.io", "v1", "events");
        assert_eq!(events.storage_group, "");
        assert_eq!(object_key(&events, "ns", "e1"), "/core/events/ns/e1");
        let hpa1 = find("autoscaling", "v1", "horizontalpodautoscalers");
        let hpa2 = find("autoscaling", "v2", "horizontalpodautoscalers");
        assert_eq!(hpa1.storage_version, "v2");
        assert_eq!(object_key(&hpa1, "a", "b"), object_key(&hpa2, "a", "b"));
        assert_eq!(preferred_version("autoscaling"), Some("v2"));
        assert_eq!(served_versions("autoscaling"), vec!["v2", "v1"]);
    }

    #[test]
    fn keys() {
        let pods = find("", "v1", "pods");
        assert_eq!(key_prefix(&pods, Some("default")), "/core/pods/default/");
        assert_eq!(key_prefix(&pods, None), "/core/pods/");
        assert_eq!(
            object_key(&pods, "default", "web"),
            "/core/pods/default/web"
        );
        let nodes = find("", "v1", "nodes");
        assert_eq!(key_prefix(&nodes, Some("default")), "/core/nodes/");
        assert_eq!(object_key(&nodes, "", "n1"), "/core/nodes/n1");
        let deploy = find("apps", "v1", "deployments");
        assert_eq!(object_key(&deploy, "x", "y"), "/apps/deployments/x/y");
    }

    #[test]
    fn namespaces_and_reviews() {
        let ns = find("", "v1", "namespaces");
        assert!(!ns.verbs.contains(&"deletecollection".to_string()));
        assert!(ns.has_subresource("finalize"));
        let ssar = find("authorization.k8s.io", "v1", "selfsubjectaccessreviews");
        assert_eq!(ssar.verbs, vec!["create"]);
        assert!(!ssar.namespaced);
        let crd = find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
        assert_eq!(crd.short_names, vec!["crd", "crds"]);
        let ep = find("", "v1", "endpoints");
        assert_eq!(ep.singular, "endpoints");
        assert_eq!(ep.list_kind, "EndpointsList");
    }

    #[test]
    fn unique_group_version_plural() {
        let all = builtin_resources();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    !(a.group == b.group && a.version == b.version && a.plural == b.plural),
                    "{}",
                    a.plural
                );
            }
        }
    }
}
