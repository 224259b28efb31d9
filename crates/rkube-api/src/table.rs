//! Server-side printing of objects as `meta.k8s.io/v1` Tables, the way `kubectl get` asks
//! for them: the columns, priorities and cell formats of upstream's printers
//! (`pkg/printers/internalversion`), the default `Name`/`Created At` table of kinds without a
//! printer, and the `additionalPrinterColumns` tables of custom resources.
//!
//! Cells are always generated "wide" (all priorities), as upstream's API server does;
//! clients hide priority > 0 columns unless asked for `-o wide`.

mod core;
mod custom;
mod duration;
mod events;
mod jsonpath;
mod networking;
mod pod;
mod workloads;

use serde_json::{Map, Value, json};

use crate::resources::ResourceInfo;

pub use custom::{custom_column_definitions, custom_columns};
pub use duration::{format_rfc3339, human_duration, parse_rfc3339};

/// Upstream's description of `metadata.name` columns.
const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// Upstream's description of `metadata.creationTimestamp` columns.
const AGE_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One column of a printer.
#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    priority: i64,
    description: &'static str,
}

impl Column {
    const fn new(name: &'static str, kind: &'static str, description: &'static str) -> Self {
        Column {
            name,
            kind,
            format: "",
            priority: 0,
            description,
        }
    }

    const fn wide(self) -> Self {
        Column {
            priority: 1,
            ..self
        }
    }

    fn definition(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The `Name` column.
const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    priority: 0,
    description: NAME_DOC,
};
/// The `Age` column.
const AGE: Column = Column::new("Age", "string", AGE_DOC);
/// A string column.
const fn text(name: &'static str, description: &'static str) -> Column {
    Column::new(name, "string", description)
}
/// An integer column.
const fn integer(name: &'static str, description: &'static str) -> Column {
    Column::new(name, "integer", description)
}
/// The wide `Containers` column.
const CONTAINERS: Column = text("Containers", "Names of each container in the template.").wide();
/// The wide `Images` column.
const IMAGES: Column = text(
    "Images",
    "Images referenced by each container in the template.",
)
.wide();

/// A printer: its columns and the function computing one object's cells.
type Printer = (&'static [Column], fn(&Value, i64) -> Vec<Value>);

/// The printer upstream registers for a kind, if any.
fn printer(info: &ResourceInfo) -> Option<Printer> {
    let group = info.group.as_str();
    let kind = info.kind.as_str();
    core::printer(group, kind)
        .or_else(|| workloads::printer(group, kind))
        .or_else(|| events::printer(group, kind))
        .or_else(|| networking::printer(group, kind))
}

/// The columns of the default table (kinds without a printer): `Name`, `Created At`.
const DEFAULT_COLUMNS: &[Column] = &[NAME, Column::new("Created At", "date", AGE_DOC)];

/// The table columns of a resource, each `{"name","type","format","description","priority"}`.
pub fn column_definitions(info: &ResourceInfo) -> Vec<Value> {
    let columns = printer(info)
        .map(|(columns, _)| columns)
        .unwrap_or(DEFAULT_COLUMNS);
    columns.iter().map(Column::definition).collect()
}

/// The cells of one object's row, in column order, for all priorities.
pub fn row_cells(info: &ResourceInfo, obj: &Value, now_unix_seconds: i64) -> Vec<Value> {
    match printer(info) {
        Some((_, cells)) => cells(obj, now_unix_seconds),
        None => {
            let created = str_at(obj, "/metadata/creationTimestamp");
            let created = duration::parse_rfc3339(created)
                .map(format_rfc3339)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
            vec![json!(name(obj)), json!(created)]
        }
    }
}

/// Row conditions upstream attaches (pods that finished are marked `Completed`).
pub fn row_conditions(info: &ResourceInfo, obj: &Value) -> Option<Value> {
    if info.group.is_empty() && info.kind == "Pod" {
        return match str_at(obj, "/status/phase") {
            "Succeeded" => Some(
                json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]),
            ),
            "Failed" => Some(
                json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
            ),
            _ => None,
        };
    }
    None
}

/// What each row carries besides its cells (the `includeObject` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// A `PartialObjectMetadata` with the object's metadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

/// A whole `meta.k8s.io/v1` Table for a list of objects of one resource.
pub fn table(
    info: &ResourceInfo,
    items: &[Value],
    now_unix_seconds: i64,
    include: IncludeObject,
) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut row = Map::new();
            row.insert(
                "cells".to_string(),
                Value::Array(row_cells(info, item, now_unix_seconds)),
            );
            if let Some(conditions) = row_conditions(info, item) {
                row.insert("conditions".to_string(), conditions);
            }
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row.insert(
                        "object".to_string(),
                        json!({
                            "kind": "PartialObjectMetadata",
                            "apiVersion": "meta.k8s.io/v1",
                            "metadata": item.get("metadata").cloned().unwrap_or_else(|| json!({})),
                        }),
                    );
                }
                IncludeObject::Object => {
                    row.insert("object".to_string(), item.clone());
                }
            }
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": column_definitions(info),
        "rows": rows,
    })
}

// ---------------------------------------------------------------------------------------
// Small readers shared by the printers.

/// The string at a JSON pointer, "" when absent or not a string.
fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The string at a JSON pointer, if present.
fn opt_str<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

/// The integer at a JSON pointer, 0 when absent.
fn int_at(obj: &Value, pointer: &str) -> i64 {
    int_or(obj, pointer, 0)
}

/// The integer at a JSON pointer, `default` when absent (the API's defaulted value).
fn int_or(obj: &Value, pointer: &str, default: i64) -> i64 {
    match obj.pointer(pointer) {
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .unwrap_or(default),
        None => default,
    }
}

/// The boolean at a JSON pointer, `default` when absent.
fn bool_or(obj: &Value, pointer: &str, default: bool) -> bool {
    obj.pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

/// The array at a JSON pointer, empty when absent.
fn array_at<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The number of entries of an object or array at a JSON pointer.
fn len_at(obj: &Value, pointer: &str) -> usize {
    match obj.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// `metadata.name`.
fn name(obj: &Value) -> &str {
    str_at(obj, "/metadata/name")
}

/// The `Age` cell.
fn age(obj: &Value, now: i64) -> Value {
    json!(duration::since(
        opt_str(obj, "/metadata/creationTimestamp"),
        now
    ))
}

/// Upstream `layoutContainerCells`: container names and images joined by commas.
fn containers_and_images(obj: &Value, pointer: &str) -> (Value, Value) {
    let containers = array_at(obj, pointer);
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, "/image")).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

/// An IntOrString as text (`1`, `50%`).
fn int_or_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Sorted, de-duplicated strings joined by commas (upstream `sets.NewString(...).List()`).
fn sorted_set(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find_builtin;

    #[test]
    fn default_table_for_kinds_without_printer() {
        let roles = find_builtin("rbac.authorization.k8s.io", "v1", "roles");
        let Some(roles) = roles else { panic!("roles") };
        let columns = column_definitions(&roles);
        assert_eq!(columns.len(), 2);
        assert_eq!(columns[1]["name"], "Created At");
        assert_eq!(columns[1]["type"], "date");
        let cells = row_cells(
            &roles,
            &json!({"metadata": {"name": "r", "creationTimestamp": "2024-05-01T10:00:00Z"}}),
            0,
        );
        assert_eq!(cells, vec![json!("r"), json!("2024-05-01T10:00:00Z")]);
    }

    #[test]
    fn whole_table() {
        let Some(cms) = find_builtin("", "v1", "configmaps") else {
            panic!("configmaps")
        };
        let item = json!({"metadata": {"name": "c", "creationTimestamp": "2024-05-01T10:00:00Z"}, "data": {"a": "1"}});
        let t = table(&cms, &[item], 1_714_557_600 + 65, IncludeObject::Metadata);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["rows"][0]["cells"], json!(["c", 1, "65s"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
    }
}
