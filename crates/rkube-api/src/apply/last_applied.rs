//! The bridge between kubectl's client-side apply (the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation) and server-side apply by the
//! `kubectl` manager: fields client-side apply set do not conflict, and the annotation keeps
//! following what was applied.

use serde_json::{Map, Value};

use super::field_set::FieldSet;
use super::merge::{OwnedPart, Walker};
use crate::patch::PatchSchema;

/// The annotation kubectl's client-side apply stores the applied configuration in.
pub(super) const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The only manager this bridge applies to (others opt out by using another name).
pub(super) const KUBECTL_MANAGER: &str = "kubectl";

fn last_applied_of(object: &Value) -> Option<&str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED_ANNOTATION)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Fields the last client-side apply set and that still hold the applied values: conflicts
/// on them are allowed. `None` when there is no usable annotation.
pub(super) fn allowed_conflicts(
    live: &Value,
    api_version: &str,
    schema: &dyn PatchSchema,
) -> Option<FieldSet> {
    let last_applied: Value = serde_json::from_str(last_applied_of(live)?).ok()?;
    if last_applied.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let mut walker = Walker::new(schema, OwnedPart::MainResource);
    let set = walker.field_set(&last_applied).ok()?;
    let comparison = walker.compare(&last_applied, live);
    Some(
        set.difference(&comparison.modified)
            .difference(&comparison.added)
            .difference(&comparison.removed),
    )
}

/// When the object carries the annotation, rewrites it to the configuration just applied
/// (without the annotation itself), encoded like upstream: sorted keys and a final newline.
pub(super) fn sync_annotation(object: &mut Value, applied: &Value) {
    if last_applied_of(object).is_none() {
        return;
    }
    let mut applied = applied.clone();
    if let Some(Value::Object(annotations)) = applied
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
    let encoded = format!("{}\n", sorted_keys(applied));
    if let Some(Value::Object(annotations)) = object
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        annotations.insert(LAST_APPLIED_ANNOTATION.into(), Value::String(encoded));
    }
}

/// `value` with every object's keys in sorted order (Go's encoding of maps).
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_keys(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}
