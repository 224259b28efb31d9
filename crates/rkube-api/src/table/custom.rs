//! Tables of custom resources: `Name` plus the CRD version's `additionalPrinterColumns`
//! (or the default `Age` column when it has none), as upstream's CRD table convertor prints them.

use serde_json::{Value, json};

use super::duration::{human_duration, parse_rfc3339};
use super::jsonpath::{Step, evaluate, parse};
use super::{NAME, name};

/// The `additionalPrinterColumns` used when a CRD version declares none.
fn default_columns() -> Vec<Value> {
    vec![
        json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp", "description": super::AGE_DOC}),
    ]
}

fn effective(printer_columns: &[Value]) -> Vec<Value> {
    if printer_columns.is_empty() {
        default_columns()
    } else {
        printer_columns.to_vec()
    }
}

fn field<'a>(column: &'a Value, key: &str) -> &'a str {
    column.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The column definitions of a custom resource's table: `Name`, then each printer column
/// (`{"name","type","format","description","priority"}`).
pub fn custom_column_definitions(printer_columns: &[Value]) -> Vec<Value> {
    let mut out = vec![NAME.definition()];
    for column in effective(printer_columns) {
        let path = field(&column, "jsonPath");
        let description = match field(&column, "description") {
            "" => format!("Custom resource definition column (in JSONPath format): {path}"),
            d => d.to_string(),
        };
        out.push(json!({
            "name": field(&column, "name"),
            "type": field(&column, "type"),
            "format": field(&column, "format"),
            "description": description,
            "priority": column.get("priority").and_then(Value::as_i64).unwrap_or(0),
        }));
    }
    out
}

/// Go's `%v` of a JSON value, as the JSONPath printer renders non-string results.
fn go_text(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_text).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            format!(
                "map[{}]",
                entries
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", go_text(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

/// Upstream `cellForJSONValue` for non-string columns.
fn typed_cell(kind: &str, value: &Value, now: i64) -> Value {
    match kind {
        "integer" => value
            .as_i64()
            .or_else(|| value.as_f64().map(|f| f as i64))
            .map(Value::from)
            .unwrap_or(Value::Null),
        "number" => value.as_f64().map(Value::from).unwrap_or(Value::Null),
        "boolean" => value.as_bool().map(Value::Bool).unwrap_or(Value::Null),
        "date" => value
            .as_str()
            .and_then(parse_rfc3339)
            .map(|t| Value::String(human_duration(now - t)))
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The cells of one custom resource: its name, then each printer column's value (`null` when
/// the path selects nothing). Columns whose path does not parse yield `null`.
pub fn custom_columns(printer_columns: &[Value], obj: &Value, now_unix_seconds: i64) -> Vec<Value> {
    let mut cells = vec![json!(name(obj))];
    for column in effective(printer_columns) {
        let steps: Option<Vec<Step>> = parse(field(&column, "jsonPath")).ok();
        let first = steps
            .as_deref()
            .and_then(|s| evaluate(s, obj).into_iter().next());
        let cell = match first {
            None => Value::Null,
            Some(value) => match field(&column, "type") {
                "string" => Value::String(go_text(value)),
                kind => typed_cell(kind, value, now_unix_seconds),
            },
        };
        cells.push(cell);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_557_600;

    #[test]
    fn default_age_column() {
        let defs = custom_column_definitions(&[]);
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[0]["name"], "Name");
        assert_eq!(defs[1]["name"], "Age");
        assert_eq!(defs[1]["type"], "date");
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2024-05-01T09:00:00Z"}});
        assert_eq!(
            custom_columns(&[], &obj, NOW),
            vec![json!("x"), json!("60m")]
        );
    }

    #[test]
    fn printer_columns() {
        let columns = vec![
            json!({"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}),
            json!({"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "priority": 1}),
            json!({"name": "Tags", "type": "string", "jsonPath": ".spec.tags"}),
            json!({"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"}),
            json!({"name": "On", "type": "boolean", "jsonPath": ".spec.on"}),
            json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
        ];
        let defs = custom_column_definitions(&columns);
        assert_eq!(defs[2]["priority"], 1);
        assert_eq!(
            defs[1]["description"],
            "Custom resource definition column (in JSONPath format): .spec.replicas"
        );
        let obj = json!({"metadata": {"name": "w", "creationTimestamp": "2024-05-01T09:59:55Z"},
            "spec": {"replicas": 2, "tags": ["a", "b"], "on": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(
            custom_columns(&columns, &obj, NOW),
            vec![
                json!("w"),
                json!(2),
                json!("True"),
                json!("[a b]"),
                Value::Null,
                json!(true),
                json!("5s")
            ]
        );
    }
}
