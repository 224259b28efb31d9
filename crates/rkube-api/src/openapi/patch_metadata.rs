//! Strategic-merge-patch metadata of list fields as upstream publishes it in OpenAPI
//! (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`). k8s-openapi's schemas leave these out, so they are kept here,
//! keyed by schema name and property. This is the subset clients act on; the patch engine keeps
//! its own authoritative merge-key table.

use serde_json::{Value, json};

/// Patch metadata of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchMetadata {
    /// `x-kubernetes-patch-strategy`, e.g. `merge` or `merge,retainKeys`.
    pub strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`, e.g. `name`.
    pub merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys` for `map` lists.
    pub map_keys: &'static [&'static str],
}

impl PatchMetadata {
    /// Writes the extensions onto a property schema.
    pub fn apply(&self, property_schema: &mut Value) {
        let Some(object) = property_schema.as_object_mut() else {
            return;
        };
        if let Some(strategy) = self.strategy {
            object.insert("x-kubernetes-patch-strategy".to_string(), json!(strategy));
        }
        if let Some(key) = self.merge_key {
            object.insert("x-kubernetes-patch-merge-key".to_string(), json!(key));
        }
        if let Some(list_type) = self.list_type {
            object.insert("x-kubernetes-list-type".to_string(), json!(list_type));
        }
        if !self.map_keys.is_empty() {
            object.insert(
                "x-kubernetes-list-map-keys".to_string(),
                json!(self.map_keys),
            );
        }
    }
}

const fn merge(key: &'static str) -> PatchMetadata {
    PatchMetadata {
        strategy: Some("merge"),
        merge_key: Some(key),
        list_type: None,
        map_keys: &[],
    }
}

const fn merge_map(key: &'static str, map_keys: &'static [&'static str]) -> PatchMetadata {
    PatchMetadata {
        strategy: Some("merge"),
        merge_key: Some(key),
        list_type: Some("map"),
        map_keys,
    }
}

const fn merge_retain(key: &'static str) -> PatchMetadata {
    PatchMetadata {
        strategy: Some("merge,retainKeys"),
        merge_key: Some(key),
        list_type: None,
        map_keys: &[],
    }
}

const MERGE_SET: PatchMetadata = PatchMetadata {
    strategy: Some("merge"),
    merge_key: None,
    list_type: Some("set"),
    map_keys: &[],
};
const RETAIN_KEYS: PatchMetadata = PatchMetadata {
    strategy: Some("retainKeys"),
    merge_key: None,
    list_type: None,
    map_keys: &[],
};
const ATOMIC: PatchMetadata = PatchMetadata {
    strategy: None,
    merge_key: None,
    list_type: Some("atomic"),
    map_keys: &[],
};

const CORE: &str = "io.k8s.api.core.v1.";
const APPS: &str = "io.k8s.api.apps.v1.";
const ADMISSION: &str = "io.k8s.api.admissionregistration.v1.";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";

/// (schema name without its package prefix, package prefix, property, metadata)
const TABLE: &[(&str, &str, &str, PatchMetadata)] = &[
    (META, "ObjectMeta", "finalizers", MERGE_SET),
    (
        META,
        "ObjectMeta",
        "ownerReferences",
        merge_map("uid", &["uid"]),
    ),
    (CORE, "PodSpec", "containers", merge("name")),
    (CORE, "PodSpec", "initContainers", merge("name")),
    (CORE, "PodSpec", "ephemeralContainers", merge("name")),
    (CORE, "PodSpec", "volumes", merge_retain("name")),
    (CORE, "PodSpec", "imagePullSecrets", merge("name")),
    (CORE, "PodSpec", "hostAliases", merge_map("ip", &["ip"])),
    (
        CORE,
        "PodSpec",
        "topologySpreadConstraints",
        merge_map("topologyKey", &["topologyKey", "whenUnsatisfiable"]),
    ),
    (
        CORE,
        "PodSpec",
        "schedulingGates",
        merge_map("name", &["name"]),
    ),
    (
        CORE,
        "PodSpec",
        "resourceClaims",
        PatchMetadata {
            list_type: Some("map"),
            map_keys: &["name"],
            ..merge_retain("name")
        },
    ),
    (CORE, "PodSpec", "tolerations", ATOMIC),
    (
        CORE,
        "Container",
        "ports",
        merge_map("containerPort", &["containerPort", "protocol"]),
    ),
    (CORE, "Container", "env", merge("name")),
    (CORE, "Container", "volumeMounts", merge("mountPath")),
    (CORE, "Container", "volumeDevices", merge("devicePath")),
    (CORE, "Container", "resizePolicy", ATOMIC),
    (
        CORE,
        "EphemeralContainer",
        "ports",
        merge_map("containerPort", &["containerPort", "protocol"]),
    ),
    (CORE, "EphemeralContainer", "env", merge("name")),
    (
        CORE,
        "EphemeralContainer",
        "volumeMounts",
        merge("mountPath"),
    ),
    (
        CORE,
        "EphemeralContainer",
        "volumeDevices",
        merge("devicePath"),
    ),
    (CORE, "PodStatus", "conditions", merge("type")),
    (CORE, "PodStatus", "podIPs", merge("ip")),
    (CORE, "PodStatus", "hostIPs", merge("ip")),
    (
        CORE,
        "PodStatus",
        "resourceClaimStatuses",
        merge_retain("name"),
    ),
    (
        CORE,
        "ServiceSpec",
        "ports",
        merge_map("port", &["port", "protocol"]),
    ),
    (
        CORE,
        "ServiceStatus",
        "conditions",
        merge_map("type", &["type"]),
    ),
    (CORE, "NodeSpec", "podCIDRs", MERGE_SET),
    (CORE, "NodeStatus", "conditions", merge("type")),
    (CORE, "NodeStatus", "addresses", merge("type")),
    (CORE, "NamespaceStatus", "conditions", merge("type")),
    (
        CORE,
        "PersistentVolumeClaimStatus",
        "conditions",
        merge("type"),
    ),
    (
        CORE,
        "ReplicationControllerStatus",
        "conditions",
        merge("type"),
    ),
    (CORE, "ServiceAccount", "secrets", merge("name")),
    (APPS, "DeploymentSpec", "strategy", RETAIN_KEYS),
    (APPS, "DeploymentStatus", "conditions", merge("type")),
    (APPS, "ReplicaSetStatus", "conditions", merge("type")),
    (APPS, "StatefulSetStatus", "conditions", merge("type")),
    (APPS, "DaemonSetStatus", "conditions", merge("type")),
    (
        "io.k8s.api.batch.v1.",
        "JobStatus",
        "conditions",
        PatchMetadata {
            list_type: Some("atomic"),
            ..merge("type")
        },
    ),
    (
        ADMISSION,
        "ValidatingWebhookConfiguration",
        "webhooks",
        merge("name"),
    ),
    (
        ADMISSION,
        "MutatingWebhookConfiguration",
        "webhooks",
        merge("name"),
    ),
    (
        "io.k8s.api.policy.v1.",
        "PodDisruptionBudgetStatus",
        "conditions",
        merge_map("type", &["type"]),
    ),
    (
        "io.k8s.api.autoscaling.v2.",
        "HorizontalPodAutoscalerStatus",
        "conditions",
        merge_map("type", &["type"]),
    ),
];

/// The patch metadata upstream publishes for `property` of schema `schema_name`.
pub fn lookup(schema_name: &str, property: &str) -> Option<PatchMetadata> {
    TABLE
        .iter()
        .find(|(package, name, field, _)| {
            *field == property
                && schema_name
                    .strip_prefix(package)
                    .is_some_and(|rest| rest == *name)
        })
        .map(|(_, _, _, meta)| *meta)
}
