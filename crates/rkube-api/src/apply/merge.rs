//! Walks over objects with the list types of a [`PatchSchema`]: the field set an applied
//! configuration claims, the difference between two objects, merging an applied configuration
//! into the live object and removing fields (structured-merge-diff's typed value operations).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::field_set::{FieldPath, FieldSet, PathElement, format_path};
use crate::patch::{FieldMeta, ListType, PatchSchema};

/// Which part of an object a write owns: the main resource (everything but `status`) or the
/// `status` subresource (only `status`). Server-maintained metadata is never owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OwnedPart {
    MainResource,
    Status,
}

/// Fields of `metadata` the server maintains; upstream strips them from every field set.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "generation",
    "managedFields",
    "resourceVersion",
];

/// Map-typed fields (free-form keys) whose own path is recorded when an update adds them,
/// the way upstream's typed comparison does for maps (`".":{}`).
const FREE_FORM_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "matchLabels",
    "limits",
    "requests",
    "capacity",
    "allocatable",
];

impl OwnedPart {
    /// Whether the field `names` (field names from the root) is left out of field sets.
    fn skips(self, names: &[String]) -> bool {
        match names {
            [top] => match self {
                OwnedPart::MainResource => top == "apiVersion" || top == "kind" || top == "status",
                OwnedPart::Status => top != "status",
            },
            [top, field] if top == "metadata" => SERVER_METADATA.contains(&field.as_str()),
            _ => false,
        }
    }
}

/// Walk state shared by the operations: the schema, the owned part and the field names so far.
pub(super) struct Walker<'a> {
    schema: &'a dyn PatchSchema,
    part: OwnedPart,
    names: Vec<String>,
    path: FieldPath,
}

/// Fields added, changed and removed between two objects.
#[derive(Debug, Default)]
pub(super) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl<'a> Walker<'a> {
    pub(super) fn new(schema: &'a dyn PatchSchema, part: OwnedPart) -> Self {
        Walker {
            schema,
            part,
            names: Vec::new(),
            path: Vec::new(),
        }
    }

    fn meta(&self) -> FieldMeta {
        self.schema.field_meta(&self.names)
    }

    /// The set of fields `value` (an applied configuration) specifies: every leaf and every
    /// list item. Duplicate list keys are an error.
    pub(super) fn field_set(&mut self, value: &Value) -> Result<FieldSet, String> {
        let mut set = FieldSet::new();
        self.collect_fields(value, &mut set)?;
        Ok(set)
    }

    fn collect_fields(&mut self, value: &Value, set: &mut FieldSet) -> Result<(), String> {
        let meta = self.meta();
        match value {
            Value::Object(map) if !map.is_empty() && (!meta.atomic || self.path.is_empty()) => {
                for (key, child) in map {
                    self.descend_field(key, |walker| {
                        if walker.part.skips(&walker.names) {
                            return Ok(());
                        }
                        walker.collect_fields(child, set)
                    })?;
                }
            }
            Value::Array(items) if !items.is_empty() && meta.list_type != ListType::Atomic => {
                let mut seen = HashSet::new();
                for (index, item) in items.iter().enumerate() {
                    let element = item_element(item, index, &meta.list_type).map_err(|err| {
                        format!("{}: element {index}: {err}", format_path(&self.path))
                    })?;
                    if !seen.insert(element.clone()) {
                        return Err(format!(
                            "{}: duplicate entries for key {element}",
                            format_path(&self.path)
                        ));
                    }
                    self.path.push(element);
                    set.insert(&self.path);
                    if matches!(meta.list_type, ListType::Map(_)) {
                        self.collect_fields(item, set)?;
                    }
                    self.path.pop();
                }
            }
            _ => set.insert(&self.path),
        }
        Ok(())
    }

    fn descend_field<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.names.push(key.to_string());
        self.path.push(PathElement::Field(key.to_string()));
        let result = f(self);
        self.path.pop();
        self.names.pop();
        result
    }

    /// Compares `old` with `new` (upstream's `TypedValue.Compare`).
    pub(super) fn compare(&mut self, old: &Value, new: &Value) -> Comparison {
        let mut comparison = Comparison::default();
        self.compare_node(Some(old), Some(new), &mut comparison);
        comparison
    }

    fn compare_node(&mut self, old: Option<&Value>, new: Option<&Value>, out: &mut Comparison) {
        let meta = self.meta();
        let is_root = self.path.is_empty();
        match (old, new) {
            (None, None) => {}
            (Some(o), Some(n)) => match (o, n) {
                (Value::Object(om), Value::Object(nm))
                    if (is_root || !meta.atomic) && !(om.is_empty() && nm.is_empty()) =>
                {
                    let keys: Vec<&String> = om
                        .keys()
                        .chain(nm.keys().filter(|k| !om.contains_key(*k)))
                        .collect();
                    for key in keys {
                        self.descend_field(key, |walker| {
                            if !walker.part.skips(&walker.names) {
                                walker.compare_node(om.get(key), nm.get(key), out);
                            }
                        });
                    }
                }
                (Value::Array(ol), Value::Array(nl))
                    if meta.list_type != ListType::Atomic && !(ol.is_empty() && nl.is_empty()) =>
                {
                    let old_items = index_items(ol, &meta.list_type);
                    let new_items = index_items(nl, &meta.list_type);
                    let old_map = first_by_element(&old_items);
                    let new_map = first_by_element(&new_items);
                    let elements = old_items.iter().map(|(e, _)| e).chain(
                        new_items
                            .iter()
                            .map(|(e, _)| e)
                            .filter(|e| !old_map.contains_key(e)),
                    );
                    for element in elements {
                        self.path.push(element.clone());
                        let (o, n) = (old_map.get(element).copied(), new_map.get(element).copied());
                        match meta.list_type {
                            ListType::Map(_) => self.compare_node(o, n, out),
                            _ => match (o, n) {
                                (None, Some(_)) => out.added.insert(&self.path),
                                (Some(_), None) => out.removed.insert(&self.path),
                                _ => {}
                            },
                        }
                        self.path.pop();
                    }
                }
                _ if std::mem::discriminant(o) == std::mem::discriminant(n)
                    || (is_leaf(o, &meta) && is_leaf(n, &meta)) =>
                {
                    if o != n {
                        out.modified.insert(&self.path);
                    }
                }
                _ => {
                    self.compare_node(Some(o), None, out);
                    self.compare_node(None, Some(n), out);
                }
            },
            (None, Some(n)) => self.mark_subtree(n, &meta, &mut out.added, true),
            (Some(o), None) => self.mark_subtree(o, &meta, &mut out.removed, false),
        }
    }

    /// Records a whole added (or removed) subtree. Added intermediate nodes are recorded only
    /// for list items and free-form maps, like upstream's comparison of typed Go objects.
    fn mark_subtree(&mut self, value: &Value, meta: &FieldMeta, set: &mut FieldSet, added: bool) {
        if is_leaf(value, meta) {
            set.insert(&self.path);
            return;
        }
        let record_node = !added
            || matches!(
                self.path.last(),
                Some(PathElement::Key(_) | PathElement::Value(_) | PathElement::Index(_))
            )
            || self
                .names
                .last()
                .is_some_and(|name| FREE_FORM_MAPS.contains(&name.as_str()));
        if record_node {
            set.insert(&self.path);
        }
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    self.descend_field(key, |walker| {
                        if !walker.part.skips(&walker.names) {
                            let child_meta = walker.meta();
                            walker.mark_subtree(child, &child_meta, set, added);
                        }
                    });
                }
            }
            Value::Array(items) => {
                for (element, item) in index_items(items, &meta.list_type) {
                    self.path.push(element);
                    if matches!(meta.list_type, ListType::Map(_)) {
                        self.mark_subtree(item, meta, set, added);
                    } else {
                        set.insert(&self.path);
                    }
                    self.path.pop();
                }
            }
            _ => {}
        }
    }

    /// Merges an applied configuration into the live object: fields it sets win, associative
    /// lists merge by key, sets are unioned, atomic values are replaced.
    pub(super) fn merge(&mut self, live: Option<&Value>, applied: &Value) -> Result<Value, String> {
        let meta = self.meta();
        let is_root = self.path.is_empty();
        match (live, applied) {
            (Some(Value::Object(lm)), Value::Object(am)) if is_root || !meta.atomic => {
                let mut out = lm.clone();
                for (key, applied_child) in am {
                    let merged = self.descend_field(key, |walker| {
                        if is_root
                            && walker.part.skips(&walker.names)
                            && key != "apiVersion"
                            && key != "kind"
                        {
                            return Ok(None);
                        }
                        if applied_child.is_null() {
                            return Ok(Some(Value::Null));
                        }
                        walker.merge(lm.get(key), applied_child).map(Some)
                    })?;
                    match merged {
                        Some(Value::Null) => {
                            out.remove(key);
                        }
                        Some(value) => {
                            out.insert(key.clone(), value);
                        }
                        None => {}
                    }
                }
                Ok(Value::Object(out))
            }
            (Some(Value::Array(ll)), Value::Array(al)) if meta.list_type != ListType::Atomic => {
                self.merge_list(ll, al, &meta.list_type).map(Value::Array)
            }
            (None, Value::Object(am)) if is_root => {
                self.merge(Some(&Value::Object(Map::new())), &Value::Object(am.clone()))
            }
            _ => Ok(strip_nulls(applied.clone())),
        }
    }

    /// Merges list items; the order follows structured-merge-diff: live-only items keep their
    /// place, items both lists share take the applied order.
    fn merge_list(
        &mut self,
        live: &[Value],
        applied: &[Value],
        list_type: &ListType,
    ) -> Result<Vec<Value>, String> {
        let mut applied_items = Vec::with_capacity(applied.len());
        let mut applied_map: HashMap<PathElement, &Value> = HashMap::new();
        for (index, item) in applied.iter().enumerate() {
            let element = item_element(item, index, list_type)
                .map_err(|err| format!("{}: element {index}: {err}", format_path(&self.path)))?;
            if applied_map.insert(element.clone(), item).is_some() {
                return Err(format!(
                    "{}: duplicate entries for key {element}",
                    format_path(&self.path)
                ));
            }
            applied_items.push(element);
        }
        let live_items = index_items(live, list_type);
        let live_map = first_by_element(&live_items);

        let mut shared = applied_items.iter().filter(|e| live_map.contains_key(e));
        let mut next_shared = shared.next();
        let mut merged_applied: HashSet<&PathElement> = HashSet::new();
        let mut out = Vec::with_capacity(live.len().max(applied.len()));
        let (mut li, mut ai) = (0, 0);
        while li < live_items.len() || ai < applied_items.len() {
            if li < live_items.len() && ai < applied_items.len() {
                let (element, live_item) = &live_items[li];
                if *element == applied_items[ai] {
                    merged_applied.insert(element);
                    out.push(self.merge_item(
                        element,
                        Some(live_item),
                        applied_map[element],
                        list_type,
                    )?);
                    li += 1;
                    ai += 1;
                    next_shared = shared.next();
                    continue;
                }
                if applied_map.contains_key(element) && next_shared.is_some_and(|s| s != element) {
                    li += 1;
                    continue;
                }
            }
            if li < live_items.len() {
                let (element, live_item) = &live_items[li];
                if !applied_map.contains_key(element) {
                    out.push((*live_item).clone());
                    li += 1;
                    continue;
                }
                if merged_applied.contains(element) {
                    li += 1;
                    continue;
                }
            }
            if ai < applied_items.len() {
                let element = &applied_items[ai];
                merged_applied.insert(element);
                out.push(self.merge_item(
                    element,
                    live_map.get(element).copied(),
                    applied_map[element],
                    list_type,
                )?);
                ai += 1;
                if next_shared == Some(element) {
                    next_shared = shared.next();
                }
            }
        }
        Ok(out)
    }

    fn merge_item(
        &mut self,
        element: &PathElement,
        live: Option<&Value>,
        applied: &Value,
        list_type: &ListType,
    ) -> Result<Value, String> {
        match list_type {
            ListType::Map(_) => {
                self.path.push(element.clone());
                let merged = self.merge(live, applied);
                self.path.pop();
                merged
            }
            _ => Ok(applied.clone()),
        }
    }

    /// Removes the field or list item at `path` (relative to the walker's position) from `value`.
    pub(super) fn remove(&mut self, value: &mut Value, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        match (first, value) {
            (PathElement::Field(name), Value::Object(map)) => {
                if rest.is_empty() {
                    map.remove(name);
                } else if let Some(child) = map.get_mut(name) {
                    self.descend_field(name, |walker| walker.remove(child, rest));
                }
            }
            (element, Value::Array(items)) => {
                let list_type = self.meta().list_type;
                let position = items.iter().enumerate().position(|(index, item)| {
                    item_element(item, index, &list_type).is_ok_and(|e| e == *element)
                });
                let Some(position) = position else { return };
                if rest.is_empty() {
                    items.remove(position);
                } else {
                    self.path.push(element.clone());
                    self.remove(&mut items[position], rest);
                    self.path.pop();
                }
            }
            _ => {}
        }
    }
}

/// A value the field set records as one leaf: scalars, atomic or empty maps and lists.
fn is_leaf(value: &Value, meta: &FieldMeta) -> bool {
    match value {
        Value::Object(map) => meta.atomic || map.is_empty(),
        Value::Array(items) => meta.list_type == ListType::Atomic || items.is_empty(),
        _ => true,
    }
}

/// The path element naming a list item: its key fields, its value, or its position.
fn item_element(item: &Value, index: usize, list_type: &ListType) -> Result<PathElement, String> {
    match list_type {
        ListType::Atomic => Ok(PathElement::Index(index)),
        ListType::Set => match item {
            Value::Object(_) | Value::Array(_) => Err("expected a primitive value in a set".into()),
            scalar => Ok(PathElement::Value(scalar.to_string())),
        },
        ListType::Map(keys) => {
            let Value::Object(map) = item else {
                return Err("expected an object in an associative list".into());
            };
            let mut key = Map::new();
            for field in keys {
                match map
                    .get(&field.name)
                    .filter(|v| !v.is_null())
                    .or(field.default.as_ref())
                {
                    Some(value) => {
                        key.insert(field.name.clone(), value.clone());
                    }
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field \"{}\" (and doesn't have default value)",
                            field.name
                        ));
                    }
                }
            }
            Ok(PathElement::Key(Value::Object(key).to_string()))
        }
    }
}

/// List items with their path elements; items without valid keys get their position
/// (live objects are not rejected for them). Duplicates are kept.
fn index_items<'v>(items: &'v [Value], list_type: &ListType) -> Vec<(PathElement, &'v Value)> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let element = item_element(item, index, list_type).unwrap_or(PathElement::Index(index));
            (element, item)
        })
        .collect()
}

/// The first item of each path element.
fn first_by_element<'a, 'v>(
    items: &'a [(PathElement, &'v Value)],
) -> HashMap<&'a PathElement, &'v Value> {
    let mut map = HashMap::with_capacity(items.len());
    for (element, item) in items {
        map.entry(element).or_insert(*item);
    }
    map
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}
