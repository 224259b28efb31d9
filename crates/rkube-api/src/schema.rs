//! Checking JSON objects against OpenAPI v3 schemas: the unknown and duplicate fields strict
//! field validation reports, and for custom resources the structural-schema behaviour upstream
//! applies (value validation, `default`s, pruning).
//!
//! Built-in kinds are checked against the component schemas of the generated OpenAPI documents
//! (`$ref`s resolve through `components.schemas`); custom resources against their CRD's
//! `openAPIV3Schema` (no refs; `metadata` is always `ObjectMeta`).

mod duplicates;
mod pattern;
mod validate;

use serde_json::{Map, Value};

use crate::openapi::components::V3_REF_PREFIX;

pub use duplicates::duplicate_fields;
pub use pattern::{Pattern, PatternError};
pub use validate::validate;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The top-level fields of `ObjectMeta`; what `metadata` keeps when pruned.
pub const OBJECT_META_FIELDS: &[&str] = &[
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// A schema to check against, with what its `$ref`s point into.
#[derive(Debug, Clone, Copy)]
pub struct SchemaRef<'a> {
    /// The schema of the object.
    pub schema: &'a Value,
    /// The `components.schemas` its `$ref`s resolve in (built-in kinds).
    pub components: Option<&'a Map<String, Value>>,
    /// Structural (CRD) semantics: an object schema without properties allows no fields unless
    /// `x-kubernetes-preserve-unknown-fields` is set. Built-in schemas treat such objects
    /// (`RawExtension`, `FieldsV1`, `JSON`) as free-form.
    pub structural: bool,
}

impl<'a> SchemaRef<'a> {
    /// A built-in kind's schema, by component name, in a v3 document.
    pub fn builtin(document: &'a Value, schema_name: &str) -> Option<Self> {
        let components = document.pointer("/components/schemas")?.as_object()?;
        let schema = components.get(schema_name)?;
        Some(SchemaRef {
            schema,
            components: Some(components),
            structural: false,
        })
    }

    /// The schema carrying `x-kubernetes-group-version-kind` = group/version/kind in a v3 document.
    pub fn for_kind(document: &'a Value, group: &str, version: &str, kind: &str) -> Option<Self> {
        let components = document.pointer("/components/schemas")?.as_object()?;
        let schema = components.values().find(|schema| {
            schema
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .is_some_and(|gvks| {
                    gvks.iter().any(|gvk| {
                        gvk.get("group").and_then(Value::as_str) == Some(group)
                            && gvk.get("version").and_then(Value::as_str) == Some(version)
                            && gvk.get("kind").and_then(Value::as_str) == Some(kind)
                    })
                })
        })?;
        Some(SchemaRef {
            schema,
            components: Some(components),
            structural: false,
        })
    }

    /// A CRD's `openAPIV3Schema`.
    pub fn structural(schema: &'a Value) -> Self {
        SchemaRef {
            schema,
            components: None,
            structural: true,
        }
    }

    fn with(self, schema: &'a Value) -> Self {
        SchemaRef { schema, ..self }
    }

    /// Follows `$ref` and `allOf` and gathers what the walkers need.
    fn flatten(self) -> Flat<'a> {
        let mut flat = Flat::default();
        self.flatten_into(self.schema, &mut flat, 0);
        flat
    }

    fn flatten_into(self, node: &'a Value, flat: &mut Flat<'a>, depth: usize) {
        let Some(object) = node.as_object() else {
            return;
        };
        if depth > 32 {
            return;
        }
        if let Some(reference) = object.get("$ref").and_then(Value::as_str)
            && let Some(target) = reference
                .strip_prefix(V3_REF_PREFIX)
                .and_then(|name| self.components.and_then(|c| c.get(name)))
        {
            self.flatten_into(target, flat, depth + 1);
        }
        for sub in object
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.flatten_into(sub, flat, depth + 1);
        }
        if let Some(Value::Object(properties)) = object.get("properties") {
            flat.has_properties = true;
            for (name, schema) in properties {
                if !flat.properties.iter().any(|(n, _)| n == name) {
                    flat.properties.push((name.as_str(), schema));
                }
            }
        }
        match object.get("additionalProperties") {
            Some(Value::Bool(true)) => flat.additional_any = true,
            Some(schema @ Value::Object(_)) if flat.additional.is_none() => {
                flat.additional = Some(schema)
            }
            _ => {}
        }
        if flat.items.is_none()
            && let Some(items @ Value::Object(_)) = object.get("items")
        {
            flat.items = Some(items);
        }
        let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
        flat.preserve_unknown |= flag("x-kubernetes-preserve-unknown-fields");
        flat.embedded |= flag("x-kubernetes-embedded-resource");
    }
}

/// A schema node with `$ref`s and `allOf`s merged in.
#[derive(Debug, Default)]
struct Flat<'a> {
    has_properties: bool,
    properties: Vec<(&'a str, &'a Value)>,
    additional: Option<&'a Value>,
    additional_any: bool,
    items: Option<&'a Value>,
    preserve_unknown: bool,
    embedded: bool,
}

impl<'a> Flat<'a> {
    fn property(&self, name: &str) -> Option<&'a Value> {
        self.properties
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Walks `value`, collecting (and with `remove`, dropping) fields the schema does not allow.
fn walk_unknown(
    schema: SchemaRef<'_>,
    value: &mut Value,
    path: &str,
    is_object_root: bool,
    remove: bool,
    out: &mut Vec<String>,
) {
    let flat = schema.flatten();
    match value {
        Value::Object(map) => {
            let resource_root = is_object_root || flat.embedded;
            let free_form = !schema.structural && !flat.has_properties && flat.additional.is_none();
            let mut unknown: Vec<String> = Vec::new();
            for (key, child) in map.iter_mut() {
                let child_path = child_path(path, key);
                if resource_root && (key == "apiVersion" || key == "kind") {
                    continue;
                }
                if resource_root
                    && key == "metadata"
                    && (schema.structural || flat.property(key).is_none())
                {
                    prune_metadata(child, &child_path, remove, out);
                    continue;
                }
                if let Some(property) = flat.property(key) {
                    walk_unknown(
                        schema.with(property),
                        child,
                        &child_path,
                        false,
                        remove,
                        out,
                    );
                } else if let Some(additional) = flat.additional {
                    walk_unknown(
                        schema.with(additional),
                        child,
                        &child_path,
                        false,
                        remove,
                        out,
                    );
                } else if flat.preserve_unknown || flat.additional_any || free_form {
                    continue;
                } else {
                    out.push(child_path);
                    unknown.push(key.clone());
                }
            }
            if remove {
                for key in unknown {
                    map.remove(&key);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = flat.items {
                for (index, item) in items.iter_mut().enumerate() {
                    walk_unknown(
                        schema.with(item_schema),
                        item,
                        &format!("{path}[{index}]"),
                        false,
                        remove,
                        out,
                    );
                }
            }
        }
        _ => {}
    }
}

/// `metadata` of a custom resource (or embedded resource) keeps only `ObjectMeta` fields.
fn prune_metadata(metadata: &mut Value, path: &str, remove: bool, out: &mut Vec<String>) {
    let Value::Object(map) = metadata else {
        return;
    };
    let unknown: Vec<String> = map
        .keys()
        .filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    for key in unknown {
        out.push(child_path(path, &key));
        if remove {
            map.remove(&key);
        }
    }
}

/// Paths of the fields in `obj` the schema does not know, e.g. `spec.containers[0].imagePullPolicyy`
/// (upstream reports each as `unknown field "<path>"`). `apiVersion`, `kind` and `metadata`
/// (as `ObjectMeta`) are always known at the top level and in embedded resources;
/// `x-kubernetes-preserve-unknown-fields` and `additionalProperties` are respected.
pub fn unknown_fields(schema: SchemaRef<'_>, obj: &Value) -> Vec<String> {
    let mut copy = obj.clone();
    let mut out = Vec::new();
    walk_unknown(schema, &mut copy, "", true, false, &mut out);
    out
}

/// Drops the fields a structural schema does not specify, as upstream prunes custom resources,
/// and returns their paths. Top-level `apiVersion`, `kind` and `metadata` are never pruned;
/// `metadata` keeps only `ObjectMeta` fields.
pub fn prune(schema: SchemaRef<'_>, obj: &mut Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_unknown(schema, obj, "", true, true, &mut out);
    out
}

/// Applies the schema's `default`s to `obj` as upstream does for custom resources (on create,
/// update and when reading from storage): a missing field with a default gets it, and so does a
/// `null` one unless the field is `nullable`; `null`s of non-nullable fields without a default
/// are dropped.
pub fn apply_defaults(schema: SchemaRef<'_>, obj: &mut Value) {
    default_node(schema, obj, true);
}

fn default_node(schema: SchemaRef<'_>, value: &mut Value, is_object_root: bool) {
    let flat = schema.flatten();
    match value {
        Value::Object(map) => {
            for (name, property) in &flat.properties {
                if is_object_root && *name == "metadata" {
                    continue;
                }
                let nullable = property
                    .get("nullable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let default = property.get("default");
                match (map.get(*name), default) {
                    (None, Some(default)) => {
                        map.insert((*name).to_string(), default.clone());
                    }
                    (Some(Value::Null), Some(default)) if !nullable => {
                        map.insert((*name).to_string(), default.clone());
                    }
                    (Some(Value::Null), None) if !nullable => {
                        map.remove(*name);
                    }
                    _ => {}
                }
            }
            for (key, child) in map.iter_mut() {
                if is_object_root && key == "metadata" {
                    continue;
                }
                if let Some(property) = flat.property(key) {
                    default_node(schema.with(property), child, false);
                } else if let Some(additional) = flat.additional {
                    default_node(schema.with(additional), child, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = flat.items {
                for item in items.iter_mut() {
                    if item.is_null()
                        && let Some(default) = item_schema.get("default")
                        && !item_schema
                            .get("nullable")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    {
                        *item = default.clone();
                    }
                    default_node(schema.with(item_schema), item, false);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::tests::{core_document, crontab_crd};
    use crate::openapi::{crd_version_schema, v3_document, v3_document_for_crd};
    use crate::validation::FieldError;
    use serde_json::json;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn unknown_fields_of_a_pod_have_exact_paths() {
        let document = core_document();
        let Some(schema) = SchemaRef::for_kind(&document, "", "v1", "Pod") else {
            panic!("Pod schema missing");
        };
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": "p", "labels": { "any-key": "x" }, "nmae": "typo", "annotations": { "a": "b" } },
            "spec": {
                "containers": [
                    { "name": "c", "image": "nginx", "imagePullPolicyy": "Always",
                      "resources": { "limits": { "cpu": "1" } },
                      "ports": [{ "containerPort": 80, "prot": "TCP" }],
                      "env": [{ "name": "A", "valueFrom": { "fieldRef": { "fieldPath": "x", "bogus": 1 } } }] }
                ],
                "nodeSelector": { "disk": "ssd" },
                "affinity": {},
                "restartPolicyy": "Never"
            },
            "extra": true
        });
        assert_eq!(
            unknown_fields(schema, &pod),
            vec![
                "metadata.nmae",
                "spec.containers[0].imagePullPolicyy",
                "spec.containers[0].ports[0].prot",
                "spec.containers[0].env[0].valueFrom.fieldRef.bogus",
                "spec.restartPolicyy",
                "extra",
            ]
        );
        let clean = json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "p" }, "spec": { "containers": [{ "name": "c", "image": "i" }] } });
        assert!(unknown_fields(schema, &clean).is_empty());
    }

    #[test]
    fn free_form_builtin_fields_accept_anything() {
        let resources = crate::openapi::tests::sample_resources();
        let document = v3_document("", "v1", &resources, &Map::new());
        let Some(schema) = SchemaRef::for_kind(&document, "", "v1", "ConfigMap") else {
            panic!("ConfigMap schema missing");
        };
        let config_map = json!({
            "metadata": { "name": "c", "managedFields": [{ "manager": "m", "fieldsV1": { "f:data": { "f:x": {} } } }] },
            "data": { "anything": "goes" },
            "binaryData": { "b": "AA==" }
        });
        assert!(unknown_fields(schema, &config_map).is_empty());
    }

    #[test]
    fn crd_objects_have_no_false_unknown_fields() {
        let resources = vec![crate::openapi::tests::resource(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            Vec::new(),
        )];
        let document = v3_document("apiextensions.k8s.io", "v1", &resources, &Map::new());
        let Some(schema) = SchemaRef::for_kind(
            &document,
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        ) else {
            panic!("CRD schema missing");
        };
        let mut crd = crontab_crd();
        assert_eq!(unknown_fields(schema, &crd), Vec::<String>::new());
        crd["spec"]["versions"][0]["servd"] = json!(true);
        assert_eq!(unknown_fields(schema, &crd), vec!["spec.versions[0].servd"]);
    }

    #[test]
    fn crd_unknown_fields_and_pruning() {
        let crd = crontab_crd();
        let Some(openapi_schema) = crd_version_schema(&crd, "v1") else {
            panic!("no schema");
        };
        let schema = SchemaRef::structural(openapi_schema);
        let mut object = json!({
            "apiVersion": "stable.example.com/v1",
            "kind": "CronTab",
            "metadata": { "name": "x", "bogus": 1, "labels": { "a": "b" } },
            "spec": {
                "cronSpec": "* * * * */5",
                "unknown": { "deep": 1 },
                "extra": { "kept": { "anything": [1, 2] } },
                "labels": { "a": "b" }
            },
            "status": { "replicas": 1, "other": true },
            "top": 1
        });
        let expected = vec!["metadata.bogus", "spec.unknown", "status.other", "top"];
        assert_eq!(unknown_fields(schema, &object), expected);
        assert_eq!(prune(schema, &mut object), expected);
        assert_eq!(
            object,
            json!({
                "apiVersion": "stable.example.com/v1",
                "kind": "CronTab",
                "metadata": { "name": "x", "labels": { "a": "b" } },
                "spec": { "cronSpec": "* * * * */5", "extra": { "kept": { "anything": [1, 2] } }, "labels": { "a": "b" } },
                "status": { "replicas": 1 }
            })
        );
        // The CRD's published document walks the same way through its ObjectMeta ref.
        let document = v3_document_for_crd(&crd, "v1");
        let Some(published) = SchemaRef::for_kind(&document, "stable.example.com", "v1", "CronTab")
        else {
            panic!("CronTab schema missing");
        };
        assert!(unknown_fields(published, &object).is_empty());
    }

    #[test]
    fn embedded_resources_and_empty_objects_in_structural_schemas() {
        let schema_value = json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "template": {
                            "type": "object",
                            "x-kubernetes-embedded-resource": true,
                            "properties": { "spec": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
                        },
                        "empty": { "type": "object" }
                    }
                }
            }
        });
        let schema = SchemaRef::structural(&schema_value);
        let mut object = json!({
            "spec": {
                "template": { "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "n", "junk": 1 }, "spec": { "x": 1 }, "other": 2 },
                "empty": { "a": 1 }
            }
        });
        assert_eq!(
            prune(schema, &mut object),
            vec![
                "spec.template.metadata.junk",
                "spec.template.other",
                "spec.empty.a"
            ]
        );
        assert_eq!(object["spec"]["template"]["kind"], "Pod");
        assert_eq!(object["spec"]["empty"], json!({}));
    }

    #[test]
    fn defaults_fill_missing_and_null_fields() {
        let crd = crontab_crd();
        let Some(openapi_schema) = crd_version_schema(&crd, "v1") else {
            panic!("no schema");
        };
        let schema = SchemaRef::structural(openapi_schema);
        let mut object = json!({ "metadata": { "name": "x" }, "spec": { "cronSpec": "* * * * *", "image": null, "color": null } });
        apply_defaults(schema, &mut object);
        assert_eq!(
            object["spec"],
            json!({ "cronSpec": "* * * * *", "image": "busybox", "replicas": 1 })
        );
        let mut without_spec = json!({ "metadata": { "name": "x" } });
        apply_defaults(schema, &mut without_spec);
        assert_eq!(without_spec, json!({ "metadata": { "name": "x" } }));
        let nested = json!({
            "type": "object",
            "properties": {
                "spec": { "type": "object", "default": {}, "properties": { "size": { "type": "integer", "default": 3 } } },
                "items": { "type": "array", "items": { "type": "object", "properties": { "on": { "type": "boolean", "default": true } } } },
                "maybe": { "type": "string", "nullable": true, "default": "d" }
            }
        });
        let mut object = json!({ "items": [{}, { "on": false }], "maybe": null });
        apply_defaults(SchemaRef::structural(&nested), &mut object);
        assert_eq!(
            object,
            json!({ "items": [{ "on": true }, { "on": false }], "maybe": null, "spec": { "size": 3 } })
        );
    }

    #[test]
    fn validation_messages_match_upstream() {
        let crd = crontab_crd();
        let Some(openapi_schema) = crd_version_schema(&crd, "v1") else {
            panic!("no schema");
        };
        let schema = SchemaRef::structural(openapi_schema);
        let object = json!({
            "apiVersion": "stable.example.com/v1",
            "kind": "CronTab",
            "metadata": { "name": "x" },
            "spec": { "cronSpec": "not a cron", "replicas": 11, "color": "pink", "tags": ["a", "b", "c"], "port": true }
        });
        assert_eq!(
            messages(&validate(schema, &object)),
            vec![
                "spec.cronSpec: Invalid value: \"not a cron\": spec.cronSpec in body should match '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'",
                "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\"",
                "spec.tags: Too many: 3: must have at most 2 items",
                "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
            ]
        );
        let object = json!({ "spec": { "replicas": "string" } });
        assert_eq!(
            messages(&validate(schema, &object)),
            vec![
                "spec.cronSpec: Required value",
                "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
            ]
        );
        let object =
            json!({ "spec": { "cronSpec": "*/5 * * * *", "replicas": 0, "port": "http" } });
        assert_eq!(
            messages(&validate(schema, &object)),
            vec![
                "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
            ]
        );
    }

    #[test]
    fn validation_covers_strings_lists_objects_and_combinators() {
        let schema_value = json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "minLength": 3, "maxLength": 5 },
                "when": { "type": "string", "format": "date-time" },
                "count": { "type": "integer", "format": "int32", "exclusiveMaximum": true, "maximum": 5, "multipleOf": 2 },
                "set": { "type": "array", "x-kubernetes-list-type": "set", "minItems": 1, "items": { "type": "string" } },
                "map": { "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                         "items": { "type": "object", "properties": { "name": { "type": "string" } } } },
                "props": { "type": "object", "maxProperties": 1, "additionalProperties": { "type": "integer" } },
                "either": { "type": "string", "anyOf": [{ "pattern": "^a" }, { "pattern": "^b" }] },
                "one": { "type": "integer", "oneOf": [{ "minimum": 0 }, { "maximum": 10 }] },
                "never": { "type": "string", "not": { "enum": ["x"] } },
                "nothing": { "type": "string" },
                "maybe": { "type": "string", "nullable": true }
            }
        });
        let schema = SchemaRef::structural(&schema_value);
        let object = json!({
            "name": "toolong",
            "when": "2024-01-02T03:04:05Z",
            "count": 5,
            "set": ["a", "a"],
            "map": [{ "name": "x" }, { "name": "x" }],
            "props": { "a": 1, "b": "two" },
            "either": "cat",
            "one": 5,
            "never": "x",
            "nothing": null,
            "maybe": null
        });
        assert_eq!(
            messages(&validate(schema, &object)),
            vec![
                "name: Too long: may not be more than 5 bytes",
                "count: Invalid value: 5: count in body should be less than 5",
                "count: Invalid value: 5: count in body should be a multiple of 2",
                "set[1]: Duplicate value: \"a\"",
                "map[1]: Duplicate value: map[string]string{\"name\":\"x\"}",
                "props: Too many: 2: must have at most 1 items",
                "props.b: Invalid value: \"string\": props.b in body must be of type integer: \"string\"",
                "either: Invalid value: \"cat\": either in body must validate at least one schema (anyOf)",
                "one: Invalid value: 5: one in body must validate one and only one schema (oneOf)",
                "never: Invalid value: \"x\": never in body must not validate the schema (not)",
                "nothing: Invalid value: \"null\": nothing in body must be of type string: \"null\"",
            ]
        );
        let object = json!({ "name": "ab", "when": "yesterday", "set": [] });
        assert_eq!(
            messages(&validate(schema, &object)),
            vec![
                "name: Invalid value: \"ab\": name in body should be at least 3 chars long",
                "when: Invalid value: \"yesterday\": when in body must be of type date-time: \"yesterday\"",
                "set: Invalid value: []string{}: set in body should have at least 1 items",
            ]
        );
    }

    #[test]
    fn duplicate_fields_are_found_with_paths() {
        let raw = br#"{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":1,"replicas":2,
            "template":{"spec":{"containers":[{"name":"a","image":"x","name":"b"}]}}},"kind":"Deployment"}"#;
        assert_eq!(
            duplicate_fields(raw).unwrap_or_default(),
            vec![
                "spec.replicas",
                "spec.template.spec.containers[0].name",
                "kind"
            ]
        );
        assert_eq!(
            duplicate_fields(br#"{"a":{"b":1},"c":[{"b":1},{"b":2}]}"#).unwrap_or_default(),
            Vec::<String>::new()
        );
        assert!(duplicate_fields(b"{not json").is_err());
        assert!(duplicate_fields(b"{} trailing").is_err());
    }
}
