//! Upstream's patch metadata for the built-in kinds: the `patchStrategy` / `patchMergeKey` Go
//! struct tags and the `+listType` / `+listMapKey` / `+structType` markers of `k8s.io/api`.

use serde_json::Value;

use super::{FieldMeta, ListMapKey, ListType, PatchSchema, PatchStrategy};

/// API groups whose kinds are compiled into the server and so support strategic merge patch.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// Whether objects of this group support `application/strategic-merge-patch+json`. Custom
/// resources do not: upstream answers 415 Unsupported Media Type.
pub fn supports_strategic_merge(group: &str, _kind: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
}

/// Patch metadata of one built-in kind (`Pod`, `Deployment`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinPatchSchema {
    /// The kind the object paths are rooted at.
    pub kind: String,
}

impl BuiltinPatchSchema {
    /// Metadata for objects of `kind`.
    pub fn new(kind: &str) -> Self {
        BuiltinPatchSchema {
            kind: kind.to_string(),
        }
    }

    /// Path prefixes (from the object root) at which a `PodSpec` sits in this kind.
    fn pod_spec_roots(&self) -> &'static [&'static [&'static str]] {
        match self.kind.as_str() {
            "Pod" => &[&["spec"]],
            "PodTemplate" => &[&["template", "spec"]],
            "Deployment"
            | "ReplicaSet"
            | "ReplicationController"
            | "DaemonSet"
            | "StatefulSet"
            | "Job" => &[&["spec", "template", "spec"]],
            "CronJob" => &[&["spec", "jobTemplate", "spec", "template", "spec"]],
            _ => &[],
        }
    }

    /// Metadata of paths inside a pod spec and pod status.
    fn kind_specific(&self, path: &[&str]) -> Option<FieldMeta> {
        for root in self.pod_spec_roots() {
            if let Some(rest) = path.strip_prefix(*root) {
                return pod_spec_field(rest);
            }
        }
        match (self.kind.as_str(), path) {
            ("Pod", ["status", rest @ ..]) => pod_status_field(rest),
            ("Node", ["spec", "podCIDRs"]) => Some(FieldMeta::primitive_set()),
            ("Node", ["spec", "taints"]) => Some(FieldMeta::default()),
            ("Node", ["status", "conditions"]) => Some(FieldMeta::merge_list("type")),
            ("Node", ["status", "addresses"]) => Some(FieldMeta::merge_list("type")),
            ("Service", ["spec", "ports"]) => Some(merge_list_with_protocol("port")),
            ("Service", ["spec", "externalIPs" | "clusterIPs" | "ipFamilies"]) => {
                Some(FieldMeta::default())
            }
            ("Deployment", ["spec", "strategy"]) => Some(FieldMeta {
                retain_keys: true,
                ..FieldMeta::default()
            }),
            (
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "ReplicationController",
                ["spec", "selector"],
            ) => Some(FieldMeta::atomic_map()),
            ("Job", ["spec", "selector"]) => Some(FieldMeta::atomic_map()),
            ("ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration", ["webhooks"]) => {
                Some(FieldMeta::merge_list("name"))
            }
            ("Job", ["status", "conditions"]) => Some(FieldMeta {
                list_type: ListType::Atomic,
                ..FieldMeta::merge_list("type")
            }),
            (_, ["status", "conditions"]) => Some(FieldMeta::merge_list("type")),
            _ => None,
        }
    }
}

impl PatchSchema for BuiltinPatchSchema {
    fn field_meta(&self, path: &[String]) -> FieldMeta {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        if let Some(meta) = object_meta_field(&path) {
            return meta;
        }
        self.kind_specific(&path).unwrap_or_default()
    }
}

/// `ObjectMeta` fields, wherever an object's metadata appears (root, pod templates).
fn object_meta_field(path: &[&str]) -> Option<FieldMeta> {
    match path {
        [.., "metadata", "finalizers"] => Some(FieldMeta::primitive_set()),
        [.., "metadata", "ownerReferences"] => Some(FieldMeta::merge_list("uid")),
        [.., "metadata", "managedFields"] => Some(FieldMeta::default()),
        _ => None,
    }
}

/// A list merged by `key`, keyed for server-side apply by `key` and `protocol` (default TCP).
fn merge_list_with_protocol(key: &str) -> FieldMeta {
    FieldMeta {
        list_type: ListType::Map(vec![
            ListMapKey::named(key),
            ListMapKey {
                name: "protocol".into(),
                default: Some(Value::String("TCP".into())),
            },
        ]),
        ..FieldMeta::merge_list(key)
    }
}

/// Fields of `PodSpec`, given the path below it.
fn pod_spec_field(path: &[&str]) -> Option<FieldMeta> {
    match path {
        ["volumes"] => Some(FieldMeta {
            retain_keys: true,
            ..FieldMeta::merge_list("name")
        }),
        ["containers" | "initContainers" | "ephemeralContainers"] => {
            Some(FieldMeta::merge_list("name"))
        }
        [
            "containers" | "initContainers" | "ephemeralContainers",
            rest @ ..,
        ] => container_field(rest),
        ["imagePullSecrets"] => Some(FieldMeta::merge_list("name")),
        ["hostAliases"] => Some(FieldMeta::merge_list("ip")),
        ["topologySpreadConstraints"] => Some(FieldMeta {
            list_type: ListType::Map(vec![
                ListMapKey::named("topologyKey"),
                ListMapKey::named("whenUnsatisfiable"),
            ]),
            ..FieldMeta::merge_list("topologyKey")
        }),
        ["resourceClaims"] => Some(FieldMeta {
            retain_keys: true,
            ..FieldMeta::merge_list("name")
        }),
        ["schedulingGates"] => Some(FieldMeta::merge_list("name")),
        ["tolerations" | "readinessGates"] => Some(FieldMeta::default()),
        _ => None,
    }
}

/// Fields of `Container` / `EphemeralContainer`, given the path below the container.
fn container_field(path: &[&str]) -> Option<FieldMeta> {
    match path {
        ["ports"] => Some(merge_list_with_protocol("containerPort")),
        ["env"] => Some(FieldMeta::merge_list("name")),
        ["volumeMounts"] => Some(FieldMeta::merge_list("mountPath")),
        ["volumeDevices"] => Some(FieldMeta::merge_list("devicePath")),
        ["resources", "claims"] => Some(FieldMeta {
            strategy: PatchStrategy::Default,
            merge_key: None,
            ..FieldMeta::merge_list("name")
        }),
        ["envFrom" | "command" | "args" | "resizePolicy"] => Some(FieldMeta::default()),
        _ => None,
    }
}

/// Fields of `PodStatus`, given the path below `status`.
fn pod_status_field(path: &[&str]) -> Option<FieldMeta> {
    match path {
        ["conditions"] => Some(FieldMeta::merge_list("type")),
        ["podIPs" | "hostIPs"] => Some(FieldMeta::merge_list("ip")),
        ["resourceClaimStatuses"] => Some(FieldMeta::merge_list("name")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(kind: &str, path: &[&str]) -> FieldMeta {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        BuiltinPatchSchema::new(kind).field_meta(&path)
    }

    #[test]
    fn pod_template_lists_merge_by_name_in_every_workload() {
        for (kind, root) in [
            ("Pod", vec!["spec"]),
            ("Deployment", vec!["spec", "template", "spec"]),
            ("StatefulSet", vec!["spec", "template", "spec"]),
            (
                "CronJob",
                vec!["spec", "jobTemplate", "spec", "template", "spec"],
            ),
        ] {
            let mut path = root.clone();
            path.push("containers");
            assert_eq!(
                meta(kind, &path).merge_key.as_deref(),
                Some("name"),
                "{kind}"
            );
            path.push("ports");
            assert_eq!(
                meta(kind, &path).merge_key.as_deref(),
                Some("containerPort"),
                "{kind}"
            );
            let mut volumes = root.clone();
            volumes.push("volumes");
            assert!(meta(kind, &volumes).retain_keys, "{kind}");
        }
    }

    #[test]
    fn other_builtin_metadata() {
        assert_eq!(
            meta("ConfigMap", &["metadata", "finalizers"]).list_type,
            ListType::Set
        );
        assert_eq!(
            meta("Pod", &["metadata", "ownerReferences"])
                .merge_key
                .as_deref(),
            Some("uid")
        );
        assert_eq!(
            meta("Service", &["spec", "ports"]).merge_key.as_deref(),
            Some("port")
        );
        assert_eq!(
            meta("Node", &["status", "conditions"]).merge_key.as_deref(),
            Some("type")
        );
        assert_eq!(meta("Pod", &["spec", "tolerations"]), FieldMeta::default());
        assert!(meta("Deployment", &["spec", "strategy"]).retain_keys);
        assert_eq!(
            meta("MutatingWebhookConfiguration", &["webhooks"])
                .merge_key
                .as_deref(),
            Some("name")
        );
        assert_eq!(
            meta("Pod", &["spec", "containers", "envFrom"]).strategy,
            PatchStrategy::Default
        );
    }

    #[test]
    fn custom_resources_do_not_support_strategic_merge() {
        assert!(supports_strategic_merge("apps", "Deployment"));
        assert!(supports_strategic_merge("", "Pod"));
        assert!(!supports_strategic_merge("example.com", "Widget"));
    }
}
