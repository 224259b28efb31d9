//! The apply half of upstream's strategic merge patch (`k8s.io/apimachinery/pkg/util/strategicpatch`),
//! on `serde_json` maps. Patch keys are processed in the order the patch lists them.

use serde_json::{Map, Value};

use super::element_order::{
    ElementKind, normalize_element_order, partition_by_presence, server_order_after_in_place_merge,
};
use super::{FieldMeta, PatchError, PatchSchema, PatchStrategy, Result};

pub(super) const DIRECTIVE_MARKER: &str = "$patch";
pub(super) const DELETE_DIRECTIVE: &str = "delete";
pub(super) const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const ERR_BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

/// Merges `patch` into `original`; `path` holds the field names leading to these maps.
pub(super) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    path: &mut Vec<String>,
    schema: &dyn PatchSchema,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
                Ok(clean_map(patch))
            }
            Some(DELETE_DIRECTIVE) => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }

    apply_retain_keys_directive(&mut original, &mut patch)?;
    merge_set_element_order_lists(&mut original, &mut patch, path, schema)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            Some(rest) => match rest.strip_prefix('/') {
                Some(field) => (field.to_string(), true),
                None => return Err(PatchError::BadRequest(ERR_BAD_PRIMITIVE_LIST.into())),
            },
            None => (key, false),
        };

        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }

        let same_kind = original
            .get(&key)
            .is_some_and(|existing| same_json_type(existing, &patch_value));
        if !same_kind {
            if !is_delete_list {
                match clean_value(patch_value) {
                    Some(value) => original.insert(key, value),
                    None => original.remove(&key),
                };
            }
            continue;
        }

        let Some(existing) = original.remove(&key) else {
            continue;
        };
        path.push(key.clone());
        let merged = match (existing, patch_value) {
            (Value::Object(existing), Value::Object(patch_map)) => {
                let meta = schema.field_meta(path);
                if meta.strategy == PatchStrategy::Replace {
                    Some(Value::Object(clean_map(patch_map)))
                } else {
                    Some(Value::Object(merge_map(existing, patch_map, path, schema)?))
                }
            }
            (Value::Array(existing), Value::Array(patch_list)) => {
                let meta = schema.field_meta(path);
                Some(Value::Array(merge_list_field(
                    existing,
                    patch_list,
                    &meta,
                    is_delete_list,
                    path,
                    schema,
                )?))
            }
            (_, scalar) => clean_value(scalar),
        };
        path.pop();
        if let Some(value) = merged {
            original.insert(key, value);
        }
    }
    Ok(original)
}

/// upstream's mergeSliceHandler: merge lists merge, other lists are replaced by the patch.
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: &FieldMeta,
    is_delete_list: bool,
    path: &mut Vec<String>,
    schema: &dyn PatchSchema,
) -> Result<Vec<Value>> {
    if meta.strategy == PatchStrategy::Merge {
        merge_list(
            original,
            patch,
            meta.merge_key.as_deref().unwrap_or(""),
            is_delete_list,
            path,
            schema,
        )
    } else {
        Ok(clean_list(patch))
    }
}

fn element_kind(lists: &[&[Value]]) -> Result<ElementKind> {
    let mut kind: Option<&Value> = None;
    for list in lists {
        for value in list.iter() {
            match kind {
                None => {
                    if value.is_array() {
                        return Err(PatchError::Unprocessable(ERR_NO_LIST_OF_LISTS.into()));
                    }
                    kind = Some(value);
                }
                Some(first) => {
                    if !same_json_type(first, value) {
                        let all: Vec<String> = lists.iter().map(|l| go_format_list(l)).collect();
                        return Err(PatchError::Internal(format!(
                            "list element types are not identical: [{}]",
                            all.join(" ")
                        )));
                    }
                }
            }
        }
    }
    match kind {
        Some(Value::Object(_)) => Ok(ElementKind::Map),
        Some(_) => Ok(ElementKind::Scalar),
        None => Err(PatchError::Internal(
            "no elements in any of the given slices".into(),
        )),
    }
}

/// upstream's mergeSlice.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    is_delete_list: bool,
    path: &mut Vec<String>,
    schema: &dyn PatchSchema,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(&[&original, &patch])?;
    match kind {
        ElementKind::Scalar => {
            if is_delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|v| !patch.contains(v))
                    .collect());
            }
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for value in original.iter().chain(patch.iter()) {
                if !merged.contains(value) {
                    merged.push(value.clone());
                }
            }
            let (patch_items, server_only) = partition_by_presence(merged, &patch, "", kind)?;
            normalize_element_order(patch_items, server_only, &patch, &original, "", kind)
        }
        ElementKind::Map => {
            if merge_key.is_empty() {
                return Err(PatchError::Internal(
                    "cannot merge lists without merge key for type struct".into(),
                ));
            }
            let (original, patch) = merge_list_special_elements(original, patch, merge_key)?;
            let merged =
                merge_list_plain_elements(original.clone(), &patch, merge_key, path, schema)?;
            let (patch_items, server_only) =
                partition_by_presence(merged, &patch, merge_key, kind)?;
            normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
        }
    }
}

/// Handles list items carrying `$patch` (delete / replace); returns the new original and the
/// patch items without directives.
fn merge_list_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(map) = &item else {
            return Err(bad_arg_type("map[string]interface {}", &item));
        };
        let Some(directive) = map.get(DIRECTIVE_MARKER) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let Some(key_value) = map.get(merge_key) else {
                    return Err(no_merge_key(map, merge_key));
                };
                let mut kept = Vec::with_capacity(original.len());
                for existing in original {
                    let Value::Object(existing_map) = &existing else {
                        return Err(PatchError::Internal(format!(
                            "value for key {merge_key} is not a map."
                        )));
                    };
                    if existing_map.get(merge_key) != Some(key_value) {
                        kept.push(existing);
                    }
                }
                original = kept;
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(PatchError::Internal(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            _ => return Err(bad_patch_type(directive, map)),
        }
    }
    if replace {
        let replaced = clean_list(plain);
        return Ok((replaced, Vec::new()));
    }
    Ok((original, plain))
}

/// Merges patch items into the original items with the same merge key value, appending new ones.
fn merge_list_plain_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    path: &mut Vec<String>,
    schema: &dyn PatchSchema,
) -> Result<Vec<Value>> {
    for item in patch {
        let Value::Object(patch_map) = item else {
            return Err(bad_arg_type("map[string]interface {}", item));
        };
        let Some(key_value) = patch_map.get(merge_key) else {
            return Err(no_merge_key(patch_map, merge_key));
        };
        match find_by_merge_key(&original, merge_key, key_value)? {
            Some(index) => {
                let existing = std::mem::take(&mut original[index]);
                let Value::Object(existing_map) = existing else {
                    return Err(PatchError::Internal(format!(
                        "value for key {index} is not a map."
                    )));
                };
                let merged = merge_map(existing_map, patch_map.clone(), path, schema)?;
                original[index] = Value::Object(merged);
            }
            None => {
                if let Some(value) = clean_value(item.clone()) {
                    original.push(value);
                }
            }
        }
    }
    Ok(original)
}

pub(super) fn find_by_merge_key(
    list: &[Value],
    merge_key: &str,
    key_value: &Value,
) -> Result<Option<usize>> {
    for (index, item) in list.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(PatchError::Internal(format!(
                "value for key {index} is not a map."
            )));
        };
        if map.get(merge_key) == Some(key_value) {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// Applies `$retainKeys`: keys of `original` missing from the list are cleared; every key the
/// patch sets must be listed.
fn apply_retain_keys_directive(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadRequest(ERR_BAD_RETAIN_KEYS.into()));
    };
    let retained = |key: &str| retain.iter().any(|v| v.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !retained(key) {
            return Err(PatchError::BadRequest(ERR_BAD_RETAIN_KEYS.into()));
        }
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// Processes `$setElementOrder/<field>` directives together with the lists they order
/// (upstream's mergePatchIntoOriginal). Handled lists are removed from `patch`.
fn merge_set_element_order_lists(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    path: &mut Vec<String>,
    schema: &dyn PatchSchema,
) -> Result<()> {
    let order_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for order_key in order_keys {
        let Some(order) = patch.remove(&order_key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad_arg_type("[]interface {}", &order));
        };
        let field = match order_key[SET_ELEMENT_ORDER_PREFIX.len()..].strip_prefix('/') {
            Some(field) => field.to_string(),
            None => return Err(PatchError::BadRequest(ERR_BAD_SET_ELEMENT_ORDER.into())),
        };
        let original_list = match original.get(&field) {
            Some(Value::Array(list)) => Some(list.clone()),
            Some(other) => return Err(bad_arg_type("[]interface {}", other)),
            None => None,
        };
        let patch_list = match patch.get(&field) {
            Some(Value::Array(list)) => Some(list.clone()),
            Some(other) => return Err(bad_arg_type("[]interface {}", other)),
            None => None,
        };
        path.push(field.clone());
        let meta = schema.field_meta(path);
        let merge_key = meta.merge_key.clone().unwrap_or_default();
        let result = (|| -> Result<Option<Vec<Value>>> {
            validate_patch_with_set_order_list(
                patch_list.as_deref().unwrap_or(&[]),
                &order,
                &merge_key,
            )?;
            let merged = match (&original_list, &patch_list) {
                (Some(original), None) => original.clone(),
                (None, Some(patch)) => clean_list(patch.clone()),
                (Some(original), Some(patch)) => {
                    merge_list_field(original.clone(), patch.clone(), &meta, false, path, schema)?
                }
                (None, None) => return Ok(None),
            };
            let kind = element_kind(&[
                original_list.as_deref().unwrap_or(&[]),
                patch_list.as_deref().unwrap_or(&[]),
            ])?;
            let server_order = match (&original_list, &patch_list) {
                (Some(original), Some(patch))
                    if kind == ElementKind::Map && meta.strategy == PatchStrategy::Merge =>
                {
                    server_order_after_in_place_merge(original, patch, &merge_key)
                }
                _ => original_list.clone().unwrap_or_default(),
            };
            let (patch_items, server_only) =
                partition_by_presence(merged, &order, &merge_key, kind)?;
            let both = normalize_element_order(
                patch_items,
                server_only,
                &order,
                &server_order,
                &merge_key,
                kind,
            )?;
            Ok(Some(both))
        })();
        path.pop();
        if let Some(both) = result? {
            original.insert(field.clone(), Value::Array(both));
            patch.remove(&field);
        }
    }
    Ok(())
}

/// Checks that the patch list's items appear in the `$setElementOrder` list, in the same order.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut items = Vec::new();
        for item in patch_list {
            let Value::Object(map) = item else {
                return Err(bad_arg_type("map[string]interface {}", item));
            };
            if map.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE) {
                items.push(item);
            }
        }
        items
    };
    let (mut patch_index, mut order_index) = (0, 0);
    while patch_index < non_delete.len() && order_index < order.len() {
        let item = non_delete[patch_index];
        if item
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
        {
            patch_index += 1;
            continue;
        }
        if merge_key_value_equal(item, &order[order_index], merge_key)? {
            patch_index += 1;
        }
        order_index += 1;
    }
    if patch_index < non_delete.len() && order_index >= order.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            go_format_list(patch_list),
            go_format_list(order)
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(left) = left else {
        return Err(bad_arg_type("map[string]interface {}", left));
    };
    let Value::Object(right) = right else {
        return Err(bad_arg_type("map[string]interface {}", right));
    };
    let Some(l) = left.get(merge_key) else {
        return Err(no_merge_key(left, merge_key));
    };
    let Some(r) = right.get(merge_key) else {
        return Err(no_merge_key(right, merge_key));
    };
    Ok(l == r)
}

/// A patch value stored as-is: nulls dropped, directive keys stripped, maps carrying `$patch`
/// dropped (upstream's discardNullValuesFromPatch + removeDirectives). `None` = drop the field.
fn clean_value(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(clean_map(map)))
        }
        Value::Array(list) => Some(Value::Array(clean_list(list))),
        other => Some(other),
    }
}

fn clean_map(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(key, value)| !value.is_null() && !is_directive_key(key))
        .filter_map(|(key, value)| clean_value(value).map(|v| (key, v)))
        .collect()
}

fn clean_list(list: Vec<Value>) -> Vec<Value> {
    list.into_iter().filter_map(clean_value).collect()
}

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
        || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
}

fn same_json_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Name of a JSON value's type as Go's decoder words it.
pub(super) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// `%v` formatting of a decoded JSON value in Go (`map[a:1 b:[x y]]`), for error messages.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Array(list) => go_format_list(list),
        Value::Object(map) => go_format_map(map),
        other => other.to_string(),
    }
}

fn go_format_list(list: &[Value]) -> String {
    let items: Vec<String> = list.iter().map(go_format).collect();
    format!("[{}]", items.join(" "))
}

fn go_format_map(map: &Map<String, Value>) -> String {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let items: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{k}:{}", go_format(v)))
        .collect();
    format!("map[{}]", items.join(" "))
}

fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    PatchError::Internal(format!(
        "unknown patch type: {} in map: {}",
        go_format(directive),
        go_format_map(map)
    ))
}

pub(super) fn no_merge_key(map: &Map<String, Value>, merge_key: &str) -> PatchError {
    PatchError::Internal(format!(
        "map: {} does not contain declared merge key: {merge_key}",
        go_format_map(map)
    ))
}

pub(super) fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::Internal(format!(
        "expected a {expected}, but received a {}",
        go_type_name(actual)
    ))
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
