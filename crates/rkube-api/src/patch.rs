//! Patches as the API server applies them to a stored object.
//!
//! Three patch types exist on the wire: JSON patch (RFC 6902, `application/json-patch+json`),
//! JSON merge patch (RFC 7386, `application/merge-patch+json`) and Kubernetes' strategic merge
//! patch (`application/strategic-merge-patch+json`). The strategic one needs to know, for each
//! list field, whether its items are merged by a key or replaced as a whole; that knowledge comes
//! from a [`PatchSchema`], with [`BuiltinPatchSchema`] carrying upstream's metadata for the
//! built-in kinds. Custom resources do not support strategic merge patch
//! ([`supports_strategic_merge`]); the server answers 415 for them.

mod builtin_schema;
mod element_order;
mod strategic;

use serde_json::Value;

pub use builtin_schema::{BuiltinPatchSchema, supports_strategic_merge};

/// Results of this module.
pub type Result<T, E = PatchError> = std::result::Result<T, E>;

/// Why a patch could not be applied. The variant says which HTTP status upstream answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch body is malformed (upstream: 400 Bad Request).
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well formed but cannot be applied to this object (upstream: 422).
    #[error("{0}")]
    Unprocessable(String),
    /// The strategic merge machinery failed on the object or patch content (upstream answers
    /// these with a generic 500 Internal Server Error).
    #[error("{0}")]
    Internal(String),
}

/// How a field's value is combined with the stored value by a strategic merge patch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PatchStrategy {
    /// No tag: maps are merged key by key, lists are replaced.
    #[default]
    Default,
    /// `patchStrategy:"merge"`: lists are merged (maps by the merge key, primitives as a set).
    Merge,
    /// `patchStrategy:"replace"`: the value is replaced as a whole.
    Replace,
}

/// How server-side apply treats a list field (`x-kubernetes-list-type`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ListType {
    /// The list is one value, owned and replaced as a whole.
    #[default]
    Atomic,
    /// A set of primitives; each value is owned on its own (`v:` path elements).
    Set,
    /// An associative list keyed by these fields (`k:` path elements).
    Map(Vec<ListMapKey>),
}

/// One key field of an associative list, with the default the schema gives it when absent.
#[derive(Debug, Clone, PartialEq)]
pub struct ListMapKey {
    /// The key field's name, e.g. `containerPort`.
    pub name: String,
    /// Value used when an item omits the key, e.g. `"TCP"` for `protocol`.
    pub default: Option<Value>,
}

impl ListMapKey {
    /// A key field without default.
    pub fn named(name: &str) -> Self {
        ListMapKey {
            name: name.to_string(),
            default: None,
        }
    }
}

/// What the schema says about one field, for patching and for field ownership.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldMeta {
    /// Strategic merge patch strategy of the field.
    pub strategy: PatchStrategy,
    /// `patchMergeKey` of a merged list of maps.
    pub merge_key: Option<String>,
    /// `retainKeys` was part of the patch strategy.
    pub retain_keys: bool,
    /// Server-side apply list type.
    pub list_type: ListType,
    /// The field (a map or struct) is atomic for server-side apply (`x-kubernetes-map-type: atomic`).
    pub atomic: bool,
}

impl FieldMeta {
    /// A list merged by `key` (both for strategic merge patch and server-side apply).
    pub fn merge_list(key: &str) -> Self {
        FieldMeta {
            strategy: PatchStrategy::Merge,
            merge_key: Some(key.to_string()),
            list_type: ListType::Map(vec![ListMapKey::named(key)]),
            ..FieldMeta::default()
        }
    }

    /// A list of primitives merged as a set.
    pub fn primitive_set() -> Self {
        FieldMeta {
            strategy: PatchStrategy::Merge,
            list_type: ListType::Set,
            ..FieldMeta::default()
        }
    }

    /// A struct or map replaced and owned as a whole.
    pub fn atomic_map() -> Self {
        FieldMeta {
            atomic: true,
            ..FieldMeta::default()
        }
    }
}

/// Answers, for a field given by its path of field names from the object root (list indices
/// and keys left out, e.g. `["spec", "containers", "ports"]`), how it is patched and owned.
pub trait PatchSchema {
    /// Metadata of the field at `path`; unknown fields get `FieldMeta::default()`.
    fn field_meta(&self, path: &[String]) -> FieldMeta;
}

/// A schema that knows nothing: maps merge, lists are replaced and atomic.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPatchSchema;

impl PatchSchema for NoPatchSchema {
    fn field_meta(&self, _path: &[String]) -> FieldMeta {
        FieldMeta::default()
    }
}

/// Applies an RFC 6902 JSON patch (`patch_body` is the raw request body) to `doc`.
pub fn json_patch(doc: &Value, patch_body: &[u8]) -> Result<Value> {
    let operations: json_patch::Patch = serde_json::from_slice(patch_body)
        .map_err(|err| PatchError::BadRequest(format!("unable to decode JSON patch: {err}")))?;
    let mut patched = doc.clone();
    json_patch::patch(&mut patched, &operations)
        .map_err(|err| PatchError::Unprocessable(describe_json_patch_error(&operations, &err)))?;
    Ok(patched)
}

/// Words the failure like upstream's JSON patch library (evanphx/json-patch) does.
fn describe_json_patch_error(
    operations: &json_patch::Patch,
    err: &json_patch::PatchError,
) -> String {
    use json_patch::{PatchErrorKind, PatchOperation};
    let operation = operations.0.get(err.operation);
    let path = err.path.to_string();
    match (operation, &err.kind) {
        (Some(PatchOperation::Test(_)), PatchErrorKind::TestFailed) => {
            format!("testing value {path} failed: test failed")
        }
        (Some(PatchOperation::Move(op)), PatchErrorKind::InvalidFromPointer) => {
            format!(
                "move operation does not apply: doc is missing from path: {}: missing value",
                op.from
            )
        }
        (Some(PatchOperation::Copy(op)), PatchErrorKind::InvalidFromPointer) => {
            format!(
                "copy operation does not apply: doc is missing from path: {}: missing value",
                op.from
            )
        }
        (Some(PatchOperation::Move(_)), PatchErrorKind::CannotMoveInsideItself) => {
            format!("move operation does not apply: cannot move {path} inside itself")
        }
        (Some(PatchOperation::Replace(_)), _) => {
            format!("replace operation does not apply: doc is missing key: {path}: missing value")
        }
        (Some(op), _) => {
            let name = match op {
                PatchOperation::Add(_) => "add",
                PatchOperation::Remove(_) => "remove",
                PatchOperation::Replace(_) => "replace",
                PatchOperation::Move(_) => "move",
                PatchOperation::Copy(_) => "copy",
                PatchOperation::Test(_) => "test",
            };
            format!(
                "{name} operation does not apply: doc is missing path: \"{path}\": missing value"
            )
        }
        (None, _) => err.to_string(),
    }
}

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` removes a key,
/// anything else (lists included) replaces.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    let mut patched = doc.clone();
    json_patch::merge(&mut patched, patch);
    patched
}

/// Applies a strategic merge patch to `doc` the way upstream's
/// `strategicpatch.StrategicMergeMapPatch` does, with list strategies from `schema`.
pub fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    schema: &dyn PatchSchema,
) -> Result<Value> {
    let Value::Object(patch_map) = patch else {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            strategic::json_type_name(patch)
        )));
    };
    let original = match doc {
        Value::Object(map) => map.clone(),
        Value::Null => serde_json::Map::new(),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                strategic::json_type_name(other)
            )));
        }
    };
    let merged = strategic::merge_map(original, patch_map.clone(), &mut Vec::new(), schema)?;
    Ok(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_applies_operations() {
        let doc = json!({"spec": {"replicas": 1}, "metadata": {"labels": {"a": "b"}}});
        let body = br#"[{"op":"replace","path":"/spec/replicas","value":3},
                        {"op":"add","path":"/metadata/labels/c","value":"d"},
                        {"op":"remove","path":"/metadata/labels/a"}]"#;
        let patched = json_patch(&doc, body).expect("patch applies");
        assert_eq!(
            patched,
            json!({"spec": {"replicas": 3}, "metadata": {"labels": {"c": "d"}}})
        );
    }

    #[test]
    fn json_patch_errors_look_like_upstream() {
        let doc = json!({"spec": {}});
        let err = json_patch(&doc, br#"[{"op":"remove","path":"/spec/nodeSelector"}]"#)
            .expect_err("must fail");
        assert_eq!(
            err,
            PatchError::Unprocessable(
                "remove operation does not apply: doc is missing path: \"/spec/nodeSelector\": missing value".into()
            )
        );
        let err = json_patch(&doc, br#"[{"op":"test","path":"/spec","value":1}]"#)
            .expect_err("must fail");
        assert_eq!(
            err,
            PatchError::Unprocessable("testing value /spec failed: test failed".into())
        );
        assert!(matches!(
            json_patch(&doc, b"{}"),
            Err(PatchError::BadRequest(_))
        ));
    }

    #[test]
    fn merge_patch_follows_rfc7386() {
        let doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        let patch = json!({"a": "z", "c": {"f": null}, "l": [3]});
        assert_eq!(
            merge_patch(&doc, &patch),
            json!({"a": "z", "c": {"d": "e"}, "l": [3]})
        );
        assert_eq!(merge_patch(&doc, &json!(["x"])), json!(["x"]));
    }

    #[test]
    fn strategic_merge_patch_rejects_non_object_patch() {
        let err =
            strategic_merge_patch(&json!({}), &json!([1]), &NoPatchSchema).expect_err("must fail");
        assert!(matches!(err, PatchError::BadRequest(_)));
    }
}
