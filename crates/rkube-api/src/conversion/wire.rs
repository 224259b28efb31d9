//! How Go's `encoding/json` writes and reads the fields of the typed objects upstream converts:
//! which zero values `omitempty` drops, how a zero quantity or time is written, how field names
//! are matched when decoding, and how strings are escaped.

use serde_json::{Map, Value};

/// The field `key` of `obj` unless it is missing or `null` (a Go pointer field).
pub(super) fn present<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// Whether Go's `omitempty` drops this value: `null`, `""`, `0`, `false`, `[]` or `{}`.
///
/// Only for fields whose Go type is a scalar, slice or map; pointers are only dropped when nil
/// (see [`copy_set`]) and structs are never dropped.
pub(super) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Copies `from[key]` to `out[out_key]` unless it is `null` (a Go pointer field).
pub(super) fn copy_set(out: &mut Map<String, Value>, out_key: &str, from: &Value, key: &str) {
    if let Some(value) = present(from, key) {
        out.insert(out_key.to_string(), value.clone());
    }
}

/// Copies `from[key]` to `out[out_key]` unless Go's `omitempty` drops it.
pub(super) fn copy_omitempty(out: &mut Map<String, Value>, out_key: &str, from: &Value, key: &str) {
    if let Some(value) = from.get(key).filter(|v| !is_empty(v)) {
        out.insert(out_key.to_string(), value.clone());
    }
}

/// A field Go always writes: its value, or `zero` when it is missing or `null`.
pub(super) fn or_zero(from: &Value, key: &str, zero: Value) -> Value {
    present(from, key).cloned().unwrap_or(zero)
}

/// A string field Go always writes: its value, or `""`.
pub(super) fn string_or_empty(from: &Value, key: &str) -> Value {
    or_zero(from, key, Value::String(String::new()))
}

/// A `metav1.Time`/`MicroTime` struct field: its value, or `null` as Go writes a zero time.
pub(super) fn time_or_null(from: &Value, key: &str) -> Value {
    or_zero(from, key, Value::Null)
}

/// A `resource.Quantity` as Go writes it: always a string (a JSON number is read as one).
pub(super) fn quantity(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

/// A `*resource.Quantity` field: copied as a quantity unless `null`.
pub(super) fn copy_quantity(out: &mut Map<String, Value>, out_key: &str, from: &Value, key: &str) {
    if let Some(value) = present(from, key) {
        out.insert(out_key.to_string(), quantity(value));
    }
}

/// A non-pointer `resource.Quantity` field: its value, or `"0"` for the zero quantity.
pub(super) fn quantity_or_zero(from: &Value, key: &str) -> Value {
    present(from, key).map_or_else(|| Value::String("0".to_string()), quantity)
}

/// A field looked up the way `encoding/json` matches keys to Go field names: exactly, else
/// ignoring ASCII case.
pub(super) fn field_ignoring_case<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// `json.Marshal`'s text for `value`: compact, with `<`, `>`, `&`, U+2028 and U+2029 escaped as
/// Go's HTML-safe encoder does.
pub(super) fn go_marshal(value: &Value) -> String {
    let text = value.to_string();
    if !text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return text;
    }
    // These characters only occur inside JSON strings, where the escapes mean the same.
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Builds a JSON object from `(key, value)` pairs in order.
pub(super) fn object<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn omitempty_drops_zero_values() {
        for empty in [
            json!(null),
            json!(""),
            json!(0),
            json!(0.0),
            json!(false),
            json!([]),
            json!({}),
        ] {
            assert!(is_empty(&empty), "{empty}");
        }
        for kept in [
            json!("a"),
            json!(1),
            json!(true),
            json!([0]),
            json!({"a": 1}),
        ] {
            assert!(!is_empty(&kept), "{kept}");
        }
    }

    #[test]
    fn pointer_fields_keep_zero() {
        let mut out = Map::new();
        copy_set(
            &mut out,
            "minReplicas",
            &json!({"minReplicas": 0}),
            "minReplicas",
        );
        copy_set(&mut out, "gone", &json!({"gone": null}), "gone");
        assert_eq!(Value::Object(out), json!({"minReplicas": 0}));
    }

    #[test]
    fn quantities_are_strings() {
        assert_eq!(quantity(&json!(2)), json!("2"));
        assert_eq!(quantity(&json!("500m")), json!("500m"));
        assert_eq!(quantity_or_zero(&json!({}), "value"), json!("0"));
        assert_eq!(
            quantity_or_zero(&json!({"value": 1.5}), "value"),
            json!("1.5")
        );
    }

    #[test]
    fn keys_match_ignoring_case() {
        let obj = json!({"scaleUp": 1, "ScaleDown": 2});
        let map = obj.as_object().expect("object");
        assert_eq!(field_ignoring_case(map, "ScaleUp"), Some(&json!(1)));
        assert_eq!(field_ignoring_case(map, "ScaleDown"), Some(&json!(2)));
        assert_eq!(field_ignoring_case(map, "Other"), None);
    }

    #[test]
    fn marshal_escapes_like_go() {
        assert_eq!(
            go_marshal(&json!({"a": "x<y>&z"})),
            r#"{"a":"x\u003cy\u003e\u0026z"}"#
        );
        assert_eq!(go_marshal(&json!([1, "b"])), r#"[1,"b"]"#);
        let back: Value = serde_json::from_str(&go_marshal(&json!({"a": "<&>"}))).expect("json");
        assert_eq!(back, json!({"a": "<&>"}));
    }
}
