//! OpenAPI v3 documents for CustomResourceDefinitions: the CRD's `openAPIV3Schema` as the kind's
//! schema (with `metadata` pointing at `ObjectMeta`), a list schema, the meta types and paths.

use serde_json::{Map, Value, json};

use super::components::{self, OBJECT_META, add_gvk, custom_schema_name, list_schema, v3_ref};
use super::paths::{PathContext, add_resource_paths};
use super::{add_meta_gvks, assemble_v3};
use crate::resources::{ResourceInfo, Subresource};

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// A kind schema for a resource whose structure is unknown: any fields, standard metadata.
pub(crate) fn generic_kind_schema(kind: &str) -> Value {
    json!({
        "description": format!("{kind} is served without a published schema."),
        "type": "object",
        "properties": standard_properties(),
        "x-kubernetes-preserve-unknown-fields": true
    })
}

fn standard_properties() -> Map<String, Value> {
    let mut properties = Map::new();
    properties.insert(
        "apiVersion".to_string(),
        json!({ "description": API_VERSION_DESCRIPTION, "type": "string" }),
    );
    properties.insert(
        "kind".to_string(),
        json!({ "description": KIND_DESCRIPTION, "type": "string" }),
    );
    properties.insert(
        "metadata".to_string(),
        json!({ "description": METADATA_DESCRIPTION, "allOf": [v3_ref(OBJECT_META)], "default": {} }),
    );
    properties
}

fn version_entry<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The `openAPIV3Schema` a CRD declares for `version` (per-version, or the deprecated top-level
/// `spec.validation` form).
pub fn crd_version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    version_entry(crd, version)
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
        .or_else(|| crd.pointer("/spec/validation/openAPIV3Schema"))
}

/// The version a CRD's objects are stored at (the one with `storage: true`).
pub fn crd_storage_version(crd: &Value) -> Option<&str> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").and_then(Value::as_str))
}

/// The resource a CRD serves at `version`, as the registry describes built-in resources.
pub fn crd_resource_info(crd: &Value, version: &str) -> Option<ResourceInfo> {
    let entry = version_entry(crd, version)?;
    let group = str_at(crd, "/spec/group").to_string();
    let kind = str_at(crd, "/spec/names/kind").to_string();
    let plural = str_at(crd, "/spec/names/plural").to_string();
    if kind.is_empty() || plural.is_empty() {
        return None;
    }
    let list_kind = match str_at(crd, "/spec/names/listKind") {
        "" => format!("{kind}List"),
        list_kind => list_kind.to_string(),
    };
    let singular = match str_at(crd, "/spec/names/singular") {
        "" => kind.to_lowercase(),
        singular => singular.to_string(),
    };
    let strings = |pointer: &str| -> Vec<String> {
        crd.pointer(pointer)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut subresources = Vec::new();
    let sub_verbs = || vec!["get".to_string(), "patch".to_string(), "update".to_string()];
    if entry.pointer("/subresources/status").is_some() {
        subresources.push(Subresource {
            name: "status".to_string(),
            kind: kind.clone(),
            group: group.clone(),
            version: version.to_string(),
            verbs: sub_verbs(),
        });
    }
    if entry.pointer("/subresources/scale").is_some() {
        subresources.push(Subresource {
            name: "scale".to_string(),
            kind: "Scale".to_string(),
            group: "autoscaling".to_string(),
            version: "v1".to_string(),
            verbs: sub_verbs(),
        });
    }
    let verbs = [
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "create",
        "update",
        "watch",
    ];
    Some(ResourceInfo {
        group: group.clone(),
        version: version.to_string(),
        kind,
        list_kind,
        plural,
        singular,
        namespaced: str_at(crd, "/spec/scope") != "Cluster",
        short_names: strings("/spec/names/shortNames"),
        categories: strings("/spec/names/categories"),
        verbs: verbs.iter().map(|v| (*v).to_string()).collect(),
        subresources,
        storage_group: group,
        storage_version: crd_storage_version(crd).unwrap_or(version).to_string(),
    })
}

/// The kind schema a CRD publishes: its `openAPIV3Schema` with the standard `apiVersion`,
/// `kind` and `metadata` properties and the GVK extension.
fn crd_kind_schema(crd: &Value, resource: &ResourceInfo) -> Value {
    let mut schema = match crd_version_schema(crd, &resource.version) {
        Some(Value::Object(object)) => Value::Object(object.clone()),
        _ => json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true }),
    };
    if let Some(object) = schema.as_object_mut() {
        object.entry("type").or_insert(json!("object"));
        let properties = object
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(properties) = properties {
            for (name, standard) in standard_properties() {
                if name == "metadata" {
                    properties.insert(name, standard);
                } else {
                    properties.entry(name).or_insert(standard);
                }
            }
        }
    }
    add_gvk(
        &mut schema,
        &resource.group,
        &resource.version,
        &resource.kind,
    );
    schema
}

/// The OpenAPI v3 document of a CRD at one version.
pub fn v3_document_for_crd(crd: &Value, version: &str) -> Value {
    v3_document_for_crds(std::slice::from_ref(crd), version)
}

/// The OpenAPI v3 document of all CRDs of one group at one version (upstream serves the CRDs of
/// a group-version together). CRDs that do not define `version` are skipped.
pub fn v3_document_for_crds(crds: &[Value], version: &str) -> Value {
    let mut generator = components::generator();
    components::add_meta_types(&mut generator);
    let needs_scale = crds
        .iter()
        .filter_map(|crd| crd_resource_info(crd, version))
        .any(|r| r.has_subresource("scale"));
    let scale_name = needs_scale
        .then(|| components::add_builtin_kind(&mut generator, "autoscaling", "v1", "Scale"))
        .flatten();
    let mut schemas = components::take_definitions(&mut generator);
    if let Some(schema) = scale_name.as_ref().and_then(|name| schemas.get_mut(name)) {
        add_gvk(schema, "autoscaling", "v1", "Scale");
    }
    let mut paths = Map::new();
    let mut group = String::new();
    for crd in crds {
        let Some(resource) = crd_resource_info(crd, version) else {
            continue;
        };
        group = resource.group.clone();
        let kind_name = custom_schema_name(&resource.group, &resource.version, &resource.kind);
        let list_name = custom_schema_name(&resource.group, &resource.version, &resource.list_kind);
        schemas.insert(kind_name.clone(), crd_kind_schema(crd, &resource));
        let mut list = list_schema(&kind_name, &resource.kind);
        add_gvk(
            &mut list,
            &resource.group,
            &resource.version,
            &resource.list_kind,
        );
        schemas.insert(list_name.clone(), list);
        let context = PathContext {
            kind_schema: &kind_name,
            list_schema: &list_name,
            strategic_merge: false,
        };
        let lookup = |g: &str, v: &str, k: &str| {
            if (g, v, k) == ("autoscaling", "v1", "Scale") {
                scale_name.clone()
            } else {
                Some(kind_name.clone())
            }
        };
        add_resource_paths(&mut paths, &resource, context, &lookup);
    }
    add_meta_gvks(&mut schemas, &group, version);
    assemble_v3(paths, schemas)
}
