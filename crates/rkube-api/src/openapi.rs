//! The OpenAPI documents rkube serves: `/openapi/v3` (a root listing one document per
//! group-version) and the per-group-version v3 documents kubectl reads for `explain`,
//! for deciding whether the server validates fields (`fieldValidation` on PATCH) and for
//! strategic-merge metadata; `/openapi/v2` (Swagger 2.0, JSON or gnostic protobuf) for older
//! clients. Schemas of built-in kinds come from k8s-openapi's `JsonSchema` impls; CRD schemas
//! from their `openAPIV3Schema`.
//!
//! Building a document walks many schemas; the server builds each once and caches it together
//! with its [`document_hash`].

pub mod components;
mod crd;
pub mod patch_metadata;
pub mod paths;
mod protobuf;
mod v2;

use serde_json::{Map, Value, json};

use crate::resources::ResourceInfo;
use components::{
    DELETE_OPTIONS, STATUS, WATCH_EVENT, add_builtin_kind, add_gvk, custom_schema_name,
    list_schema, list_schema_name,
};
use paths::{PathContext, add_resource_paths};

pub use crd::{
    crd_resource_info, crd_storage_version, crd_version_schema, v3_document_for_crd,
    v3_document_for_crds,
};
pub use protobuf::v2_protobuf;
pub use v2::{v2_document, v2_document_with_crds, v2_from_v3};

/// The Kubernetes version the documents claim in `info.version`.
pub const KUBERNETES_VERSION: &str = "v1.33.0";

/// `api/v1` for the core group, `apis/<group>/<version>` otherwise: the keys of the v3 root.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The `/openapi/v3` root: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}}}`.
pub fn v3_root(group_versions: &[(String, String)]) -> Value {
    let mut sorted: Vec<&(String, String)> = group_versions.iter().collect();
    sorted.sort();
    let mut paths = Map::new();
    for (path, hash) in sorted {
        let path = path.trim_start_matches('/');
        paths.insert(
            path.to_string(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}") }),
        );
    }
    json!({ "paths": paths })
}

/// A stable content hash of a serialized document (for `?hash=` and `ETag`): 128 bits as
/// 32 upper-case hex digits.
pub fn content_hash(bytes: &[u8]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut low: u64 = 0xcbf2_9ce4_8422_2325;
    let mut high: u64 = 0x6c62_272e_07bb_0142;
    for &byte in bytes {
        low ^= u64::from(byte);
        low = low.wrapping_mul(PRIME);
        high ^= u64::from(byte.rotate_left(3));
        high = high.wrapping_mul(PRIME);
    }
    high ^= bytes.len() as u64;
    format!("{high:016X}{low:016X}")
}

/// [`content_hash`] of a document's compact JSON.
pub fn document_hash(document: &Value) -> String {
    content_hash(document.to_string().as_bytes())
}

/// The OpenAPI v3 document of one built-in group-version: every kind in `resources` with that
/// group and version, their lists, the meta types, and their paths. `extra_schemas` are added
/// to `components.schemas` as they are (they win over generated ones).
pub fn v3_document(
    group: &str,
    version: &str,
    resources: &[ResourceInfo],
    extra_schemas: &Map<String, Value>,
) -> Value {
    let served: Vec<&ResourceInfo> = resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let mut generator = components::generator();
    components::add_meta_types(&mut generator);
    let mut kind_names: Vec<Option<String>> = Vec::new();
    let mut subresource_names: Vec<((String, String, String), Option<String>)> = Vec::new();
    for resource in &served {
        kind_names.push(add_builtin_kind(
            &mut generator,
            &resource.group,
            &resource.version,
            &resource.kind,
        ));
        for sub in &resource.subresources {
            let key = (sub.group.clone(), sub.version.clone(), sub.kind.clone());
            if !subresource_names.iter().any(|(k, _)| *k == key) {
                let name = add_builtin_kind(&mut generator, &sub.group, &sub.version, &sub.kind);
                subresource_names.push((key, name));
            }
        }
    }
    let mut schemas = components::take_definitions(&mut generator);

    let mut paths = Map::new();
    for (resource, kind_name) in served.iter().zip(&kind_names) {
        let kind_name = match kind_name {
            Some(name) => name.clone(),
            None => {
                let name = custom_schema_name(&resource.group, &resource.version, &resource.kind);
                schemas
                    .entry(name.clone())
                    .or_insert_with(|| crd::generic_kind_schema(&resource.kind));
                name
            }
        };
        if let Some(schema) = schemas.get_mut(&kind_name) {
            add_gvk(schema, &resource.group, &resource.version, &resource.kind);
        }
        let list_name = if resource.list_kind.is_empty() {
            kind_name.clone()
        } else {
            let list_name = list_schema_name(&kind_name, &resource.list_kind);
            let schema = schemas
                .entry(list_name.clone())
                .or_insert_with(|| list_schema(&kind_name, &resource.kind));
            add_gvk(
                schema,
                &resource.group,
                &resource.version,
                &resource.list_kind,
            );
            list_name
        };
        let context = PathContext {
            kind_schema: &kind_name,
            list_schema: &list_name,
            strategic_merge: true,
        };
        let lookup = |g: &str, v: &str, k: &str| {
            subresource_names
                .iter()
                .find(|((sg, sv, sk), _)| sg == g && sv == v && sk == k)
                .and_then(|(_, name)| name.clone())
        };
        add_resource_paths(&mut paths, resource, context, &lookup);
    }
    for ((group, version, kind), name) in &subresource_names {
        if let Some(schema) = name.as_ref().and_then(|name| schemas.get_mut(name)) {
            add_gvk(schema, group, version, kind);
        }
    }
    add_meta_gvks(&mut schemas, group, version);
    for (name, schema) in extra_schemas {
        schemas.insert(name.clone(), schema.clone());
    }
    assemble_v3(paths, schemas)
}

/// Upstream lists every served group-version on the meta types a group's paths use.
fn add_meta_gvks(schemas: &mut Map<String, Value>, group: &str, version: &str) {
    if let Some(schema) = schemas.get_mut(DELETE_OPTIONS) {
        add_gvk(schema, group, version, "DeleteOptions");
    }
    if let Some(schema) = schemas.get_mut(WATCH_EVENT) {
        add_gvk(schema, group, version, "WatchEvent");
    }
    if let Some(schema) = schemas.get_mut(STATUS) {
        add_gvk(schema, "", "v1", "Status");
    }
}

/// Puts paths and schemas into a v3 document, keys sorted so equal content hashes equally.
fn assemble_v3(paths: Map<String, Value>, schemas: Map<String, Value>) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "paths": sorted(paths),
        "components": {
            "schemas": sorted(schemas),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header"
                }
            }
        }
    })
}

fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::resources::Subresource;

    pub(crate) fn resource(
        group: &str,
        kind: &str,
        plural: &str,
        namespaced: bool,
        subresources: Vec<Subresource>,
    ) -> ResourceInfo {
        let verbs = [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        ResourceInfo {
            group: group.to_string(),
            version: "v1".to_string(),
            kind: kind.to_string(),
            list_kind: format!("{kind}List"),
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            verbs: verbs.iter().map(|v| (*v).to_string()).collect(),
            subresources,
            storage_group: group.to_string(),
            storage_version: "v1".to_string(),
        }
    }

    pub(crate) fn subresource(name: &str, kind: &str, group: &str) -> Subresource {
        Subresource {
            name: name.to_string(),
            kind: kind.to_string(),
            group: group.to_string(),
            version: "v1".to_string(),
            verbs: vec!["get".to_string(), "patch".to_string(), "update".to_string()],
        }
    }

    pub(crate) fn sample_resources() -> Vec<ResourceInfo> {
        vec![
            resource(
                "",
                "Pod",
                "pods",
                true,
                vec![subresource("status", "Pod", "")],
            ),
            resource(
                "",
                "Namespace",
                "namespaces",
                false,
                vec![subresource("status", "Namespace", "")],
            ),
            resource("", "ConfigMap", "configmaps", true, Vec::new()),
            resource(
                "apps",
                "Deployment",
                "deployments",
                true,
                vec![
                    subresource("status", "Deployment", "apps"),
                    subresource("scale", "Scale", "autoscaling"),
                ],
            ),
        ]
    }

    pub(crate) fn core_document() -> Value {
        v3_document("", "v1", &sample_resources(), &Map::new())
    }

    pub(crate) fn crontab_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": "crontabs.stable.example.com" },
            "spec": {
                "group": "stable.example.com",
                "scope": "Namespaced",
                "names": { "plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"] },
                "versions": [{
                    "name": "v1",
                    "served": true,
                    "storage": true,
                    "subresources": { "status": {}, "scale": { "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas" } },
                    "schema": { "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["cronSpec"],
                                "properties": {
                                    "cronSpec": { "type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$" },
                                    "image": { "type": "string", "default": "busybox" },
                                    "replicas": { "type": "integer", "minimum": 1, "maximum": 10, "default": 1 },
                                    "color": { "type": "string", "enum": ["red", "blue"] },
                                    "tags": { "type": "array", "items": { "type": "string" }, "maxItems": 2 },
                                    "extra": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                                    "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                                    "port": { "x-kubernetes-int-or-string": true }
                                }
                            },
                            "status": { "type": "object", "properties": { "replicas": { "type": "integer" } } }
                        }
                    }}
                }]
            }
        })
    }

    fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
        let name = reference.strip_prefix(components::V3_REF_PREFIX)?;
        document.pointer("/components/schemas")?.get(name)
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if key == "$ref"
                        && let Some(reference) = child.as_str()
                    {
                        out.push(reference.to_string());
                    }
                    collect_refs(child, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
            _ => {}
        }
    }

    #[test]
    fn pod_schema_has_the_shape_explain_walks() {
        let document = core_document();
        let pod = &document["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
        assert!(
            pod["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Pod is a collection"))
        );
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{ "group": "", "kind": "Pod", "version": "v1" }])
        );
        assert!(
            pod.get("required").is_none(),
            "metadata must not be required"
        );
        let spec = &pod["properties"]["spec"];
        assert!(spec["description"].as_str().is_some());
        let reference = spec["allOf"][0]["$ref"].as_str().unwrap_or_default();
        let pod_spec = resolve(&document, reference).unwrap_or(&Value::Null);
        assert!(pod_spec["properties"]["containers"]["description"].is_string());
        assert_eq!(pod_spec["required"], json!(["containers"]));
        let containers = &pod_spec["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        let container = resolve(
            &document,
            containers["items"]["$ref"].as_str().unwrap_or_default(),
        )
        .unwrap_or(&Value::Null);
        assert!(container["properties"]["imagePullPolicy"].is_object());
        assert_eq!(
            container["properties"]["ports"]["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        let list = &document["components"]["schemas"]["io.k8s.api.core.v1.PodList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            "PodList"
        );
        // Other groups' kinds stay out of the core document.
        assert!(
            document["components"]["schemas"]
                .get("io.k8s.api.apps.v1.Deployment")
                .is_none()
        );
    }

    #[test]
    fn every_ref_resolves() {
        let resources = sample_resources();
        for (group, version) in [("", "v1"), ("apps", "v1")] {
            let document = v3_document(group, version, &resources, &Map::new());
            let mut refs = Vec::new();
            collect_refs(&document, &mut refs);
            assert!(!refs.is_empty());
            for reference in refs {
                assert!(
                    resolve(&document, &reference).is_some(),
                    "{reference} does not resolve"
                );
            }
        }
        let document = v3_document_for_crd(&crontab_crd(), "v1");
        let mut refs = Vec::new();
        collect_refs(&document, &mut refs);
        for reference in refs {
            assert!(
                resolve(&document, &reference).is_some(),
                "{reference} does not resolve"
            );
        }
    }

    #[test]
    fn patch_operations_declare_field_validation() {
        let document = core_document();
        let item = &document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
        let patch = &item["patch"];
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(names.contains(&"fieldValidation"));
        assert!(names.contains(&"fieldManager"));
        assert!(names.contains(&"dryRun"));
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({ "group": "", "kind": "Pod", "version": "v1" })
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_some()
        );
        let put: Vec<&str> = item["put"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(put.contains(&"fieldValidation"));
        let create = &document["paths"]["/api/v1/namespaces/{namespace}/pods"]["post"];
        assert!(
            create["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(document["paths"]["/api/v1/namespaces/{name}"]["patch"].is_object());
        assert!(
            document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"]
                .is_object()
        );
        assert_eq!(
            document["paths"]["/api/v1/pods"]["get"]["operationId"],
            "listCoreV1PodForAllNamespaces"
        );

        let apps = v3_document("apps", "v1", &sample_resources(), &Map::new());
        let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
            ["patch"];
        assert_eq!(scale["x-kubernetes-group-version-kind"]["kind"], "Scale");
        assert_eq!(scale["operationId"], "patchAppsV1NamespacedDeploymentScale");
        assert!(apps["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"].is_object());
    }

    #[test]
    fn every_builtin_group_version_builds_from_k8s_openapi() {
        let resources = crate::resources::builtin_resources();
        let mut group_versions: Vec<(String, String)> = resources
            .iter()
            .map(|r| (r.group.clone(), r.version.clone()))
            .collect();
        group_versions.sort();
        group_versions.dedup();
        for (group, version) in group_versions {
            let document = v3_document(&group, &version, &resources, &Map::new());
            let schemas = document["components"]["schemas"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for resource in resources
                .iter()
                .filter(|r| r.group == group && r.version == version)
            {
                let gvk = components::gvk_value(&group, &version, &resource.kind);
                let description = schemas
                    .values()
                    .find(|s| {
                        s["x-kubernetes-group-version-kind"]
                            .as_array()
                            .is_some_and(|l| l.contains(&gvk))
                    })
                    .and_then(|s| s["description"].as_str())
                    .unwrap_or("without a published schema");
                assert!(
                    !description.contains("without a published schema"),
                    "{group}/{version} {} has no schema",
                    resource.kind
                );
            }
            let mut refs = Vec::new();
            collect_refs(&document, &mut refs);
            for reference in refs {
                let name = reference
                    .strip_prefix(components::V3_REF_PREFIX)
                    .unwrap_or_default();
                assert!(
                    schemas.contains_key(name),
                    "{group}/{version}: {reference} does not resolve"
                );
            }
        }
    }

    #[test]
    fn root_lists_group_versions_with_hashes() {
        let root = v3_root(&[
            ("apis/apps/v1".to_string(), "AB".to_string()),
            ("api/v1".to_string(), "CD".to_string()),
        ]);
        assert_eq!(
            root["paths"]["api/v1"]["serverRelativeURL"],
            "/openapi/v3/api/v1?hash=CD"
        );
        assert_eq!(
            root["paths"]["apis/apps/v1"]["serverRelativeURL"],
            "/openapi/v3/apis/apps/v1?hash=AB"
        );
        assert_eq!(group_version_path("", "v1"), "api/v1");
        assert_eq!(group_version_path("apps", "v1"), "apis/apps/v1");
    }

    #[test]
    fn hashes_are_stable_and_content_sensitive() {
        let first = document_hash(&core_document());
        assert_eq!(first, document_hash(&core_document()));
        assert_eq!(first.len(), 32);
        let apps = document_hash(&v3_document("apps", "v1", &sample_resources(), &Map::new()));
        assert_ne!(first, apps);
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
    }

    #[test]
    fn crd_document_wraps_the_crd_schema() {
        let document = v3_document_for_crd(&crontab_crd(), "v1");
        let schema = &document["components"]["schemas"]["com.example.stable.v1.CronTab"];
        assert_eq!(
            schema["x-kubernetes-group-version-kind"],
            json!([{ "group": "stable.example.com", "kind": "CronTab", "version": "v1" }])
        );
        assert_eq!(
            schema["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(
            schema["properties"]["spec"]["properties"]["replicas"]["maximum"],
            10
        );
        assert!(document["components"]["schemas"]["com.example.stable.v1.CronTabList"].is_object());
        let patch = &document["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]
            ["patch"];
        assert!(
            patch["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        assert_eq!(
            patch["operationId"],
            "patchStableExampleComV1NamespacedCronTab"
        );
        let scale = &document["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale"]
            ["get"];
        assert_eq!(scale["x-kubernetes-group-version-kind"]["kind"], "Scale");
        assert!(
            document["paths"]
                .get("/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status")
                .is_some()
        );
        assert!(
            v3_document_for_crd(&crontab_crd(), "v2")["paths"]
                .as_object()
                .is_some_and(Map::is_empty)
        );
    }

    #[test]
    fn v2_document_uses_definitions() {
        let document = v2_document_with_crds(&sample_resources(), &[crontab_crd()]);
        assert_eq!(document["swagger"], "2.0");
        let pod = &document["definitions"]["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["properties"]["spec"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.PodSpec"
        );
        assert!(pod["properties"]["spec"]["description"].is_string());
        assert!(pod["properties"]["spec"].get("allOf").is_none());
        let int_or_string =
            &document["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(int_or_string["type"], "string");
        assert_eq!(int_or_string["format"], "int-or-string");
        let patch = &document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert!(
            patch["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "fieldValidation" && p["type"] == "string")
        );
        assert!(
            patch["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["in"] == "body")
        );
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Pod");
        let delete_options = document["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]["x-kubernetes-group-version-kind"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default();
        assert!(
            delete_options >= 3,
            "DeleteOptions lists every group-version"
        );
        assert!(document["definitions"]["com.example.stable.v1.CronTab"].is_object());
        let mut refs = Vec::new();
        collect_refs(&document, &mut refs);
        for reference in refs {
            let name = reference.strip_prefix("#/definitions/").unwrap_or_default();
            assert!(
                document["definitions"].get(name).is_some(),
                "{reference} does not resolve"
            );
        }
    }
}
