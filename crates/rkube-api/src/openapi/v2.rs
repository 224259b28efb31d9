//! `/openapi/v2`: one Swagger 2.0 document for all group-versions, derived from the v3 documents
//! (refs under `#/definitions/`, request bodies as `body` parameters, no `oneOf`/`allOf` wrappers).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::components::V3_REF_PREFIX;
use super::{KUBERNETES_VERSION, sorted, v3_document, v3_document_for_crds};
use crate::resources::ResourceInfo;

const V2_REF_PREFIX: &str = "#/definitions/";

/// The Swagger 2.0 document of all built-in `resources`.
pub fn v2_document(resources: &[ResourceInfo]) -> Value {
    v2_document_with_crds(resources, &[])
}

/// The Swagger 2.0 document of all built-in `resources` and the versions the `crds` define.
pub fn v2_document_with_crds(resources: &[ResourceInfo], crds: &[Value]) -> Value {
    let group_versions: BTreeSet<(String, String)> = resources
        .iter()
        .map(|r| (r.group.clone(), r.version.clone()))
        .collect();
    let mut documents: Vec<Value> = group_versions
        .iter()
        .map(|(group, version)| v3_document(group, version, resources, &Map::new()))
        .collect();
    let mut crd_group_versions: BTreeSet<(String, String)> = BTreeSet::new();
    for crd in crds {
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for version in crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = version.get("name").and_then(Value::as_str) {
                crd_group_versions.insert((group.to_string(), name.to_string()));
            }
        }
    }
    for (group, version) in &crd_group_versions {
        let same_group: Vec<Value> = crds
            .iter()
            .filter(|crd| {
                crd.pointer("/spec/group").and_then(Value::as_str) == Some(group.as_str())
            })
            .cloned()
            .collect();
        documents.push(v3_document_for_crds(&same_group, version));
    }
    v2_from_v3(&documents)
}

/// Merges v3 documents into one Swagger 2.0 document. Schemas that appear in several documents
/// (the meta types) keep the union of their GVK lists.
pub fn v2_from_v3(documents: &[Value]) -> Value {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for document in documents {
        if let Some(schemas) = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                let converted = schema_to_v2(schema);
                match definitions.get_mut(name) {
                    Some(existing) => merge_gvks(existing, &converted),
                    None => {
                        definitions.insert(name.clone(), converted);
                    }
                }
            }
        }
        if let Some(document_paths) = document.get("paths").and_then(Value::as_object) {
            for (path, item) in document_paths {
                paths.insert(path.clone(), path_item_to_v2(item));
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "paths": sorted(paths),
        "definitions": sorted(definitions),
        "securityDefinitions": {
            "BearerToken": { "description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header" }
        },
        "security": [{ "BearerToken": [] }]
    })
}

fn merge_gvks(existing: &mut Value, other: &Value) {
    let Some(Value::Array(extra)) = other.get("x-kubernetes-group-version-kind") else {
        return;
    };
    if let Some(Value::Array(list)) = existing.get_mut("x-kubernetes-group-version-kind") {
        for gvk in extra {
            if !list.contains(gvk) {
                list.push(gvk.clone());
            }
        }
    }
}

/// Converts one v3 schema to Swagger 2.0.
pub fn schema_to_v2(schema: &Value) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    if object.get("format").and_then(Value::as_str) == Some("int-or-string") {
        out.insert("type".to_string(), json!("string"));
        out.insert("format".to_string(), json!("int-or-string"));
        if let Some(description) = object.get("description") {
            out.insert("description".to_string(), description.clone());
        }
        return Value::Object(out);
    }
    for (key, value) in object {
        match key.as_str() {
            "$ref" => {
                let reference = value.as_str().unwrap_or_default();
                let name = reference.strip_prefix(V3_REF_PREFIX).unwrap_or(reference);
                out.insert(key.clone(), json!(format!("{V2_REF_PREFIX}{name}")));
            }
            "allOf" => match value.as_array().map(Vec::as_slice) {
                Some([single]) if single.get("$ref").is_some() => {
                    if let Value::Object(converted) = schema_to_v2(single) {
                        out.extend(converted);
                    }
                }
                Some(items) => {
                    out.insert(
                        key.clone(),
                        Value::Array(items.iter().map(schema_to_v2).collect()),
                    );
                }
                None => {}
            },
            "oneOf" | "anyOf" => {
                let types: Vec<&str> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|alternative| alternative.get("type").and_then(Value::as_str))
                    .collect();
                if types.contains(&"string") && !object.contains_key("type") {
                    out.insert("type".to_string(), json!("string"));
                }
            }
            "not" | "nullable" => {}
            "properties" | "patternProperties" => {
                let converted: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, property)| (name.clone(), schema_to_v2(property)))
                    .collect();
                out.insert(key.clone(), Value::Object(converted));
            }
            "items" | "additionalProperties" => {
                out.insert(key.clone(), schema_to_v2(value));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if out.get("$ref").is_some() {
        out.remove("default");
    }
    Value::Object(out)
}

fn parameter_to_v2(parameter: &Value) -> Value {
    let mut out = Map::new();
    for key in ["name", "in", "description", "required"] {
        if let Some(value) = parameter.get(key) {
            out.insert(key.to_string(), value.clone());
        }
    }
    if let Some(Value::Object(schema)) = parameter.get("schema") {
        for (key, value) in schema {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

fn path_item_to_v2(item: &Value) -> Value {
    let mut out = Map::new();
    let Some(object) = item.as_object() else {
        return Value::Object(out);
    };
    for (key, value) in object {
        match key.as_str() {
            "parameters" => {
                let parameters: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(parameter_to_v2)
                    .collect();
                out.insert(key.clone(), Value::Array(parameters));
            }
            "get" | "put" | "post" | "delete" | "patch" | "head" | "options" => {
                out.insert(key.clone(), operation_to_v2(value));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

fn operation_to_v2(operation: &Value) -> Value {
    let mut out = Map::new();
    let Some(object) = operation.as_object() else {
        return Value::Object(out);
    };
    for key in ["description", "operationId"] {
        if let Some(value) = object.get(key) {
            out.insert(key.to_string(), value.clone());
        }
    }
    if let Some(body) = object.get("requestBody") {
        let media: Vec<&String> = body
            .get("content")
            .and_then(Value::as_object)
            .map(|c| c.keys().collect())
            .unwrap_or_default();
        out.insert("consumes".to_string(), json!(media));
    }
    let produces: Vec<&String> = object
        .get("responses")
        .and_then(|r| r.get("200"))
        .and_then(|r| r.get("content"))
        .and_then(Value::as_object)
        .map(|c| c.keys().collect())
        .unwrap_or_default();
    out.insert("produces".to_string(), json!(produces));
    out.insert("schemes".to_string(), json!(["https"]));
    if let Some(tags) = object.get("tags") {
        out.insert("tags".to_string(), tags.clone());
    }
    let mut parameters: Vec<Value> = Vec::new();
    if let Some(body) = object.get("requestBody") {
        let schema = body
            .get("content")
            .and_then(Value::as_object)
            .and_then(|c| c.values().next())
            .and_then(|m| m.get("schema"))
            .map(schema_to_v2)
            .unwrap_or_else(|| json!({}));
        let is_delete = object
            .get("x-kubernetes-action")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("delete"));
        parameters.push(
            json!({ "name": "body", "in": "body", "required": !is_delete, "schema": schema }),
        );
    }
    parameters.extend(
        object
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(parameter_to_v2),
    );
    if !parameters.is_empty() {
        out.insert("parameters".to_string(), Value::Array(parameters));
    }
    let mut responses = Map::new();
    for (code, response) in object
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let mut converted = Map::new();
        converted.insert(
            "description".to_string(),
            response.get("description").cloned().unwrap_or(json!("")),
        );
        if let Some(schema) = response
            .get("content")
            .and_then(Value::as_object)
            .and_then(|c| c.values().next())
            .and_then(|m| m.get("schema"))
        {
            converted.insert("schema".to_string(), schema_to_v2(schema));
        }
        responses.insert(code.clone(), Value::Object(converted));
    }
    out.insert("responses".to_string(), Value::Object(responses));
    for (key, value) in object {
        if key.starts_with("x-") {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}
