//! The server-side renderings clients ask for by `Accept`: `meta.k8s.io` Table (what
//! `kubectl get` prints) and PartialObjectMetadata.

use serde_json::{Value, json};

use crate::object;
use crate::registry::Served;

/// A `meta.k8s.io` Table of `objects`; `include_object` is the `includeObject` parameter.
pub fn table(
    served: &Served,
    version: &str,
    objects: &[Value],
    resource_version: &str,
    include_object: &str,
) -> Value {
    use rkube_api::table::IncludeObject;
    let now = object::unix_now();
    let include = match include_object {
        "None" => IncludeObject::None,
        "Object" => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    };
    let mut table = match &served.custom {
        None => rkube_api::table::table(&served.info, objects, now, include),
        Some(c) => {
            let rows: Vec<Value> = objects
                .iter()
                .map(|obj| {
                    let mut row = json!({"cells": rkube_api::table::custom_columns(&c.printer_columns, obj, now)});
                    match include {
                        IncludeObject::None => {}
                        IncludeObject::Object => row["object"] = obj.clone(),
                        IncludeObject::Metadata => row["object"] = partial_metadata(obj),
                    }
                    row
                })
                .collect();
            json!({
                "kind": "Table",
                "columnDefinitions": rkube_api::table::custom_column_definitions(&c.printer_columns),
                "rows": rows,
            })
        }
    };
    table["apiVersion"] = json!(format!("meta.k8s.io/{version}"));
    table["metadata"] = json!({"resourceVersion": resource_version});
    table
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(Value::Null),
    })
}
