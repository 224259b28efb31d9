//! Value validation of custom resources against their structural schema, with upstream's
//! messages (`spec.replicas: Invalid value: "string": spec.replicas in body must be of type
//! integer: "string"`).

use serde_json::{Map, Value};

use super::{Pattern, SchemaRef, child_path};
use crate::validation::{FieldError, render_go_value};

/// Validates `obj` against a CRD's `openAPIV3Schema`: type, nullable, required, enum, numeric
/// bounds, multipleOf, string length and pattern, formats (int32, int64, date-time, date, uuid,
/// ipv4, byte), item and property counts, uniqueItems, list-type set/map uniqueness,
/// int-or-string, and allOf/anyOf/oneOf/not. Top-level `apiVersion`, `kind` and `metadata` are
/// left to the generic checks.
pub fn validate(schema: SchemaRef<'_>, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(schema_object) = schema.schema.as_object() else {
        return errors;
    };
    let Value::Object(map) = obj else {
        validate_node(schema_object, obj, "", &mut errors);
        return errors;
    };
    let mut root = schema_object.clone();
    if let Some(Value::Object(properties)) = root.get_mut("properties") {
        for key in ["apiVersion", "kind", "metadata"] {
            properties.remove(key);
        }
    }
    if let Some(Value::Array(required)) = root.get_mut("required") {
        required.retain(|r| !matches!(r.as_str(), Some("apiVersion" | "kind" | "metadata")));
    }
    let mut body = map.clone();
    for key in ["apiVersion", "kind", "metadata"] {
        body.remove(key);
    }
    validate_node(&root, &Value::Object(body), "", &mut errors);
    errors
}

/// The type name upstream's messages use for a JSON value.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        _ => true,
    }
}

/// Formats a number as Go's `%v` prints a float64 (`10`, `1.5`).
fn number_text(value: &Value) -> String {
    match value.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => value.to_string(),
    }
}

fn flag(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

fn validate_node(
    schema: &Map<String, Value>,
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let shown = display_path(path);
    if value.is_null() {
        if flag(schema, "nullable")
            || flag(schema, "x-kubernetes-preserve-unknown-fields") && !schema.contains_key("type")
        {
            return;
        }
        if let Some(expected) = schema.get("type").and_then(Value::as_str) {
            errors.push(FieldError::type_invalid(
                shown,
                "null",
                format!("{shown} in body must be of type {expected}: \"null\""),
            ));
            return;
        }
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(is_integer(value) || value.is_string()) {
            errors.push(FieldError::type_invalid(
                shown,
                type_name(value),
                format!(
                    "{shown} in body must be of type integer,string: \"{}\"",
                    type_name(value)
                ),
            ));
            return;
        }
    } else if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !type_matches(expected, value)
    {
        errors.push(FieldError::type_invalid(
            shown,
            type_name(value),
            format!(
                "{shown} in body must be of type {expected}: \"{}\"",
                type_name(value)
            ),
        ));
        return;
    }

    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.iter().any(|candidate| json_equal(candidate, value))
    {
        let rendered: Vec<String> = allowed
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let supported: Vec<&str> = rendered.iter().map(String::as_str).collect();
        errors.push(FieldError::not_supported(shown, value.clone(), &supported));
    }

    match value {
        Value::Number(_) => validate_number(schema, value, shown, errors),
        Value::String(text) => validate_string(schema, text, value, shown, errors),
        Value::Array(items) => validate_array(schema, items, value, path, errors),
        Value::Object(map) => validate_object(schema, map, value, path, errors),
        _ => {}
    }
    validate_combinators(schema, value, path, errors);
}

fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn validate_number(
    schema: &Map<String, Value>,
    value: &Value,
    shown: &str,
    errors: &mut Vec<FieldError>,
) {
    let Some(number) = value.as_f64() else {
        return;
    };
    if let Some(maximum) = schema.get("maximum").filter(|m| m.is_number()) {
        let limit = maximum.as_f64().unwrap_or(f64::MAX);
        let exclusive = flag(schema, "exclusiveMaximum");
        if number > limit || (exclusive && number == limit) {
            let relation = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            errors.push(FieldError::invalid(
                shown,
                value.clone(),
                format!(
                    "{shown} in body should be {relation} {}",
                    number_text(maximum)
                ),
            ));
        }
    }
    if let Some(minimum) = schema.get("minimum").filter(|m| m.is_number()) {
        let limit = minimum.as_f64().unwrap_or(f64::MIN);
        let exclusive = flag(schema, "exclusiveMinimum");
        if number < limit || (exclusive && number == limit) {
            let relation = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errors.push(FieldError::invalid(
                shown,
                value.clone(),
                format!(
                    "{shown} in body should be {relation} {}",
                    number_text(minimum)
                ),
            ));
        }
    }
    if let Some(multiple) = schema.get("multipleOf").and_then(Value::as_f64)
        && multiple > 0.0
    {
        let quotient = number / multiple;
        if (quotient - quotient.round()).abs() > 1e-9 {
            errors.push(FieldError::invalid(
                shown,
                value.clone(),
                format!(
                    "{shown} in body should be a multiple of {}",
                    number_text(&Value::from(multiple))
                ),
            ));
        }
    }
    let format = schema
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let out_of_range = match format {
        "int32" => value.as_i64().is_none_or(|n| i32::try_from(n).is_err()) && is_integer(value),
        "int64" => value.as_i64().is_none() && is_integer(value) && value.as_u64().is_some(),
        _ => false,
    };
    if out_of_range {
        errors.push(FieldError::invalid(
            shown,
            value.clone(),
            format!(
                "{shown} in body must be of type {format}: \"{}\"",
                number_text(value)
            ),
        ));
    }
}

fn validate_string(
    schema: &Map<String, Value>,
    text: &str,
    value: &Value,
    shown: &str,
    errors: &mut Vec<FieldError>,
) {
    let length = text.chars().count();
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && length as u64 > max
    {
        errors.push(FieldError::too_long(
            shown,
            usize::try_from(max).unwrap_or(usize::MAX),
        ));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && (length as u64) < min
    {
        errors.push(FieldError::invalid(
            shown,
            value.clone(),
            format!("{shown} in body should be at least {min} chars long"),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        let matches = Pattern::new(pattern)
            .map(|p| p.is_match(text))
            .unwrap_or(true);
        if !matches {
            errors.push(FieldError::invalid(
                shown,
                value.clone(),
                format!("{shown} in body should match '{pattern}'"),
            ));
        }
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str)
        && !string_format_ok(format, text)
    {
        errors.push(FieldError::invalid(
            shown,
            value.clone(),
            format!(
                "{shown} in body must be of type {format}: {}",
                render_go_value(value)
            ),
        ));
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2
        && all_digits(y) && all_digits(m) && all_digits(d)
        && (1..=12).contains(&m.parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&d.parse::<u32>().unwrap_or(0)))
}

fn is_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once(['T', 't', ' ']) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    let (clock, zone) = if let Some(stripped) = time.strip_suffix(['Z', 'z']) {
        (stripped, None)
    } else if let Some(index) = time.rfind(['+', '-']) {
        (&time[..index], Some(&time[index + 1..]))
    } else {
        return false;
    };
    let clock = clock.split('.').next().unwrap_or_default();
    let hms: Vec<&str> = clock.split(':').collect();
    let clock_ok = matches!(hms.as_slice(), [h, m, sec] if [h, m, sec].iter().all(|p| p.len() == 2 && all_digits(p))
        && h.parse::<u32>().unwrap_or(99) < 24 && m.parse::<u32>().unwrap_or(99) < 60 && sec.parse::<u32>().unwrap_or(99) < 61);
    let zone_ok = zone.is_none_or(|z| {
        let parts: Vec<&str> = z.split(':').collect();
        matches!(parts.as_slice(), [h, m] if h.len() == 2 && m.len() == 2 && all_digits(h) && all_digits(m))
    });
    clock_ok && zone_ok
}

fn string_format_ok(format: &str, text: &str) -> bool {
    match format {
        "date-time" => is_date_time(text),
        "date" => is_date(text),
        "uuid" => {
            let groups: Vec<&str> = text.split('-').collect();
            groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
                && groups
                    .iter()
                    .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
        }
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
        "byte" => {
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                && text.len().is_multiple_of(4)
        }
        _ => true,
    }
}

fn validate_array(
    schema: &Map<String, Value>,
    items: &[Value],
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let shown = display_path(path);
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        errors.push(FieldError::too_many(
            shown,
            items.len(),
            usize::try_from(max).unwrap_or(usize::MAX),
        ));
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        errors.push(FieldError::invalid(
            shown,
            value.clone(),
            format!("{shown} in body should have at least {min} items"),
        ));
    }
    let list_type = schema
        .get("x-kubernetes-list-type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if flag(schema, "uniqueItems") || list_type == "set" {
        for (index, item) in items.iter().enumerate() {
            if items[..index]
                .iter()
                .any(|earlier| json_equal(earlier, item))
            {
                errors.push(FieldError::duplicate(
                    format!("{path}[{index}]"),
                    item.clone(),
                ));
            }
        }
    }
    if list_type == "map" {
        let keys: Vec<&str> = schema
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|k| k.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let key_of = |item: &Value| -> Map<String, Value> {
            keys.iter()
                .filter_map(|k| item.get(*k).map(|v| ((*k).to_string(), v.clone())))
                .collect()
        };
        for (index, item) in items.iter().enumerate() {
            let key = key_of(item);
            if items[..index].iter().any(|earlier| key_of(earlier) == key) {
                errors.push(FieldError::duplicate(
                    format!("{path}[{index}]"),
                    Value::Object(key),
                ));
            }
        }
    }
    if let Some(Value::Object(item_schema)) = schema.get("items") {
        for (index, item) in items.iter().enumerate() {
            validate_node(item_schema, item, &format!("{path}[{index}]"), errors);
        }
    }
}

fn validate_object(
    schema: &Map<String, Value>,
    map: &Map<String, Value>,
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let shown = display_path(path);
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = required.as_str()
            && !map.contains_key(name)
        {
            errors.push(FieldError::required(child_path(path, name), ""));
        }
    }
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && map.len() as u64 > max
    {
        errors.push(FieldError::too_many(
            shown,
            map.len(),
            usize::try_from(max).unwrap_or(usize::MAX),
        ));
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
        && (map.len() as u64) < min
    {
        errors.push(FieldError::invalid(
            shown,
            value.clone(),
            format!("{shown} in body should have at least {min} properties"),
        ));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, child) in map {
        let child_path = child_path(path, key);
        let child_schema = properties
            .and_then(|p| p.get(key))
            .or_else(|| schema.get("additionalProperties"));
        if let Some(Value::Object(child_schema)) = child_schema {
            let embedded = flag(child_schema, "x-kubernetes-embedded-resource");
            if embedded && let Value::Object(child_map) = child {
                let mut trimmed = child_map.clone();
                trimmed.remove("metadata");
                validate_node(child_schema, &Value::Object(trimmed), &child_path, errors);
            } else {
                validate_node(child_schema, child, &child_path, errors);
            }
        }
    }
}

/// Whether `value` passes `schema` (used by the combinators).
fn passes(schema: &Value, value: &Value, path: &str) -> bool {
    let Some(schema) = schema.as_object() else {
        return true;
    };
    let mut scratch = Vec::new();
    validate_node(schema, value, path, &mut scratch);
    scratch.is_empty()
}

fn validate_combinators(
    schema: &Map<String, Value>,
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let shown = display_path(path);
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for sub in all {
            if let Value::Object(sub) = sub {
                validate_node(sub, value, path, errors);
            }
        }
    }
    if let Some(Value::Array(any)) = schema.get("anyOf")
        && !any.is_empty()
        && !any.iter().any(|sub| passes(sub, value, path))
    {
        errors.push(FieldError::invalid(
            shown,
            value.clone(),
            format!("{shown} in body must validate at least one schema (anyOf)"),
        ));
    }
    if let Some(Value::Array(one)) = schema.get("oneOf")
        && !one.is_empty()
        && one.iter().filter(|sub| passes(sub, value, path)).count() != 1
    {
        errors.push(FieldError::invalid(
            shown,
            value.clone(),
            format!("{shown} in body must validate one and only one schema (oneOf)"),
        ));
    }
    if let Some(not) = schema.get("not")
        && not.is_object()
        && passes(not, value, path)
    {
        errors.push(FieldError::invalid(
            shown,
            value.clone(),
            format!("{shown} in body must not validate the schema (not)"),
        ));
    }
}
