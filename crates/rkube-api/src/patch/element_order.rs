//! Where list items end up after a strategic merge: upstream orders patch items by the patch
//! (or `$setElementOrder`) and slots server-only items in by their order on the server.

use serde_json::Value;

use super::Result;
use super::strategic::{
    DELETE_DIRECTIVE, DIRECTIVE_MARKER, REPLACE_DIRECTIVE, bad_arg_type, find_by_merge_key,
    no_merge_key,
};

/// Kind of the elements of one or more lists (upstream's sliceElementType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ElementKind {
    Map,
    Scalar,
}

/// Identity of a list item for ordering: the merge key value of maps, the value of scalars.
fn item_identity<'a>(item: &'a Value, merge_key: &str, kind: ElementKind) -> Option<&'a Value> {
    match kind {
        ElementKind::Map => item.as_object().and_then(|m| m.get(merge_key)),
        ElementKind::Scalar => Some(item),
    }
}

fn index_of(list: &[Value], item: &Value, merge_key: &str, kind: ElementKind) -> Option<usize> {
    let wanted = item_identity(item, merge_key, kind);
    list.iter()
        .position(|candidate| item_identity(candidate, merge_key, kind) == wanted)
}

/// Splits `merged` into items present in `partition_by` and the others (server-only items).
pub(super) fn partition_by_presence(
    merged: Vec<Value>,
    partition_by: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut present = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        let found = match kind {
            ElementKind::Scalar => partition_by.contains(&item),
            ElementKind::Map => {
                let Value::Object(map) = &item else {
                    return Err(bad_arg_type("map[string]interface {}", &item));
                };
                let Some(key_value) = map.get(merge_key) else {
                    return Err(no_merge_key(map, merge_key));
                };
                find_by_merge_key(partition_by, merge_key, key_value)?.is_some()
            }
        };
        if found {
            present.push(item);
        } else {
            server_only.push(item);
        }
    }
    Ok((present, server_only))
}

/// Sorts patch items by `patch_order` and server-only items by `server_order`, then
/// interleaves them keeping both relative orders (upstream's normalizeElementOrder).
pub(super) fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Result<Vec<Value>> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted_lists(
        server_only,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

fn normalize_slice_order(
    mut to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Result<Vec<Value>> {
    let mut to_delete = Vec::new();
    if kind == ElementKind::Map {
        for item in to_sort.iter().chain(order.iter()) {
            let Value::Object(map) = item else {
                return Err(bad_arg_type("map[string]interface {}", item));
            };
            if !map.contains_key(merge_key) {
                return Err(no_merge_key(map, merge_key));
            }
        }
        let (keep, delete): (Vec<Value>, Vec<Value>) = to_sort.into_iter().partition(|item| {
            item.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE)
        });
        to_sort = keep;
        to_delete = delete;
    }
    to_sort.sort_by_key(|item| index_of(order, item, merge_key, kind).unwrap_or(usize::MAX));
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// Inserts each `left` (server-only) item into `right` (patch items) before the first right
/// item that comes after it in `server_order`; both relative orders are kept.
fn merge_sorted_lists(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (Some(l), Some(r)) => {
                let li = index_of(server_order, l, merge_key, kind);
                let ri = index_of(server_order, r, merge_key, kind);
                match (li, ri) {
                    (Some(li), Some(ri)) if li < ri => out.extend(left.next()),
                    _ => out.extend(right.next()),
                }
            }
        }
    }
    out
}

/// The stored list as upstream sees it after merging a patch list into it. Upstream's
/// mergeSlice deletes and appends items in place on the stored list's backing array (whose
/// capacity equals its length), and the `$setElementOrder` step then orders server-only items
/// by that mutated list. Reproduced here because it decides where server-only items land.
pub(super) fn server_order_after_in_place_merge(
    original: &[Value],
    patch: &[Value],
    merge_key: &str,
) -> Vec<Value> {
    let capacity = original.len();
    let mut buffer = original.to_vec();
    let mut len = capacity;
    let mut plain = Vec::new();
    for item in patch {
        let Value::Object(map) = item else {
            return buffer;
        };
        match map.get(DIRECTIVE_MARKER).map(|d| d.as_str()) {
            None => plain.push(item),
            Some(Some(DELETE_DIRECTIVE)) => {
                let Some(key_value) = map.get(merge_key) else {
                    return buffer;
                };
                while let Some(k) = buffer[..len]
                    .iter()
                    .position(|v| v.get(merge_key) == Some(key_value))
                {
                    for i in k..len - 1 {
                        buffer[i] = buffer[i + 1].clone();
                    }
                    len -= 1;
                }
            }
            Some(Some(REPLACE_DIRECTIVE)) => {}
            Some(_) => return buffer,
        }
    }
    if patch
        .iter()
        .any(|item| item.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(REPLACE_DIRECTIVE))
    {
        return buffer;
    }
    for item in plain {
        let key_value = item.get(merge_key);
        if buffer[..len].iter().any(|v| v.get(merge_key) == key_value) {
            continue;
        }
        if len == capacity {
            // The append reallocated: later writes no longer reach the stored list.
            break;
        }
        buffer[len] = item.clone();
        len += 1;
    }
    buffer
}
