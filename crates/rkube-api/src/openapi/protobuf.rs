//! The gnostic `openapi.v2.Document` protobuf encoding of a Swagger 2.0 document, which
//! client-go's `OpenAPISchema()` requests (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`)
//! and decodes. Only the messages needed for definitions, paths, parameters, responses and
//! vendor extensions are written; vendor extension and default/enum values travel as YAML
//! text (JSON is valid YAML).

use serde_json::{Map, Value};

/// A protobuf message being written.
#[derive(Default)]
struct Message {
    bytes: Vec<u8>,
}

impl Message {
    fn varint(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.bytes.push(byte);
                return;
            }
            self.bytes.push(byte | 0x80);
        }
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    fn string(&mut self, field: u32, value: &str) {
        if !value.is_empty() {
            self.bytes_field(field, value.as_bytes());
        }
    }

    fn bytes_field(&mut self, field: u32, value: &[u8]) {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.bytes.extend_from_slice(value);
    }

    fn message(&mut self, field: u32, message: Message) {
        self.bytes_field(field, &message.bytes);
    }

    fn bool(&mut self, field: u32, value: bool) {
        if value {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, value: i64) {
        if value != 0 {
            self.key(field, 0);
            // Two's complement, as protobuf encodes negative int64.
            self.varint(value as u64);
        }
    }

    fn double(&mut self, field: u32, value: f64) {
        if value != 0.0 {
            self.key(field, 1);
            self.bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
}

fn str_of<'a>(object: &'a Map<String, Value>, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn bool_of(object: &Map<String, Value>, key: &str) -> bool {
    object.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn int_of(object: &Map<String, Value>, key: &str) -> i64 {
    object.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn double_of(object: &Map<String, Value>, key: &str) -> f64 {
    object.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// `Any { yaml = 2 }`.
fn any(value: &Value) -> Message {
    let mut message = Message::default();
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // A plain YAML scalar would lose the string-ness of e.g. "true"; quote strings as JSON does.
    let text = if value.is_string() {
        Value::String(text).to_string()
    } else {
        text
    };
    message.string(2, &format!("{text}\n"));
    message
}

/// `NamedAny { name = 1; value = 2 }` for every `x-` key.
fn vendor_extensions(message: &mut Message, field: u32, object: &Map<String, Value>) {
    for (key, value) in object {
        if key.starts_with("x-") {
            let mut named = Message::default();
            named.string(1, key);
            named.message(2, any(value));
            message.message(field, named);
        }
    }
}

fn schema(value: &Value) -> Message {
    let mut message = Message::default();
    let Some(object) = value.as_object() else {
        return message;
    };
    message.string(1, str_of(object, "$ref"));
    message.string(2, str_of(object, "format"));
    message.string(3, str_of(object, "title"));
    message.string(4, str_of(object, "description"));
    if let Some(default) = object.get("default") {
        message.message(5, any(default));
    }
    message.double(6, double_of(object, "multipleOf"));
    message.double(7, double_of(object, "maximum"));
    message.bool(8, bool_of(object, "exclusiveMaximum"));
    message.double(9, double_of(object, "minimum"));
    message.bool(10, bool_of(object, "exclusiveMinimum"));
    message.int64(11, int_of(object, "maxLength"));
    message.int64(12, int_of(object, "minLength"));
    message.string(13, str_of(object, "pattern"));
    message.int64(14, int_of(object, "maxItems"));
    message.int64(15, int_of(object, "minItems"));
    message.bool(16, bool_of(object, "uniqueItems"));
    message.int64(17, int_of(object, "maxProperties"));
    message.int64(18, int_of(object, "minProperties"));
    for required in object
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = required.as_str() {
            message.bytes_field(19, name.as_bytes());
        }
    }
    for item in object
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message.message(20, any(item));
    }
    match object.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            let mut item = Message::default();
            item.key(2, 0);
            item.varint(u64::from(*allowed));
            message.message(21, item);
        }
        Some(additional @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(additional));
            message.message(21, item);
        }
        _ => {}
    }
    match object.get("type") {
        Some(Value::String(kind)) => {
            let mut item = Message::default();
            item.string(1, kind);
            message.message(22, item);
        }
        Some(Value::Array(kinds)) => {
            let mut item = Message::default();
            for kind in kinds.iter().filter_map(Value::as_str) {
                item.bytes_field(1, kind.as_bytes());
            }
            message.message(22, item);
        }
        _ => {}
    }
    match object.get("items") {
        Some(items @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(items));
            message.message(23, item);
        }
        Some(Value::Array(items)) => {
            let mut item = Message::default();
            for entry in items {
                item.message(1, schema(entry));
            }
            message.message(23, item);
        }
        _ => {}
    }
    for entry in object
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message.message(24, schema(entry));
    }
    if let Some(Value::Object(properties)) = object.get("properties") {
        let mut item = Message::default();
        for (name, property) in properties {
            let mut named = Message::default();
            named.string(1, name);
            named.message(2, schema(property));
            item.message(1, named);
        }
        message.message(25, item);
    }
    message.bool(27, bool_of(object, "readOnly"));
    if let Some(example) = object.get("example") {
        message.message(30, any(example));
    }
    vendor_extensions(&mut message, 31, object);
    message
}

/// A non-body parameter (`query`, `path` or `header` sub-schema).
fn non_body_parameter(object: &Map<String, Value>) -> Message {
    let location = str_of(object, "in");
    let mut sub = Message::default();
    sub.bool(1, bool_of(object, "required"));
    sub.string(2, location);
    sub.string(3, str_of(object, "description"));
    sub.string(4, str_of(object, "name"));
    // Query and form parameters have `allow_empty_value` at 5, shifting later fields by one.
    let shift = u32::from(location == "query" || location == "formData");
    sub.string(5 + shift, str_of(object, "type"));
    sub.string(6 + shift, str_of(object, "format"));
    sub.bool(19 + shift, bool_of(object, "uniqueItems"));
    vendor_extensions(&mut sub, 22 + shift, object);
    let field = match location {
        "header" => 1,
        "formData" => 2,
        "query" => 3,
        _ => 4,
    };
    let mut non_body = Message::default();
    non_body.message(field, sub);
    non_body
}

/// `ParametersItem { parameter = 1 | json_reference = 2 }`.
fn parameters_item(value: &Value) -> Message {
    let mut item = Message::default();
    let Some(object) = value.as_object() else {
        return item;
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let mut json_reference = Message::default();
        json_reference.string(1, reference);
        item.message(2, json_reference);
        return item;
    }
    let mut parameter = Message::default();
    if str_of(object, "in") == "body" {
        let mut body = Message::default();
        body.string(1, str_of(object, "description"));
        body.string(2, str_of(object, "name"));
        body.string(3, "body");
        body.bool(4, bool_of(object, "required"));
        if let Some(body_schema) = object.get("schema") {
            body.message(5, schema(body_schema));
        }
        vendor_extensions(&mut body, 6, object);
        parameter.message(1, body);
    } else {
        parameter.message(2, non_body_parameter(object));
    }
    item.message(1, parameter);
    item
}

fn strings(message: &mut Message, field: u32, value: Option<&Value>) {
    for entry in value.and_then(Value::as_array).into_iter().flatten() {
        if let Some(text) = entry.as_str() {
            message.bytes_field(field, text.as_bytes());
        }
    }
}

fn operation(value: &Value) -> Message {
    let mut message = Message::default();
    let Some(object) = value.as_object() else {
        return message;
    };
    strings(&mut message, 1, object.get("tags"));
    message.string(2, str_of(object, "summary"));
    message.string(3, str_of(object, "description"));
    message.string(5, str_of(object, "operationId"));
    strings(&mut message, 6, object.get("produces"));
    strings(&mut message, 7, object.get("consumes"));
    for parameter in object
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message.message(8, parameters_item(parameter));
    }
    if let Some(Value::Object(responses)) = object.get("responses") {
        let mut codes = Message::default();
        for (code, response) in responses {
            let Some(response) = response.as_object() else {
                continue;
            };
            let mut body = Message::default();
            body.string(1, str_of(response, "description"));
            if let Some(response_schema) = response.get("schema") {
                let mut item = Message::default();
                item.message(1, schema(response_schema));
                body.message(2, item);
            }
            vendor_extensions(&mut body, 5, response);
            let mut response_value = Message::default();
            response_value.message(1, body);
            let mut named = Message::default();
            named.string(1, code);
            named.message(2, response_value);
            codes.message(1, named);
        }
        message.message(9, codes);
    }
    strings(&mut message, 10, object.get("schemes"));
    message.bool(11, bool_of(object, "deprecated"));
    vendor_extensions(&mut message, 13, object);
    message
}

fn path_item(value: &Value) -> Message {
    let mut message = Message::default();
    let Some(object) = value.as_object() else {
        return message;
    };
    for (method, field) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("options", 6),
        ("head", 7),
        ("patch", 8),
    ] {
        if let Some(op) = object.get(method) {
            message.message(field, operation(op));
        }
    }
    for parameter in object
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message.message(9, parameters_item(parameter));
    }
    vendor_extensions(&mut message, 10, object);
    message
}

/// Encodes a Swagger 2.0 JSON document (as [`super::v2_document`] builds it) as a gnostic
/// `openapi.v2.Document`.
pub fn v2_protobuf(document: &Value) -> Vec<u8> {
    let mut message = Message::default();
    let Some(object) = document.as_object() else {
        return message.bytes;
    };
    message.string(1, str_of(object, "swagger"));
    if let Some(Value::Object(info)) = object.get("info") {
        let mut info_message = Message::default();
        info_message.string(1, str_of(info, "title"));
        info_message.string(2, str_of(info, "version"));
        message.message(2, info_message);
    }
    if let Some(Value::Object(paths)) = object.get("paths") {
        let mut paths_message = Message::default();
        for (path, item) in paths {
            let mut named = Message::default();
            named.string(1, path);
            named.message(2, path_item(item));
            paths_message.message(2, named);
        }
        message.message(8, paths_message);
    }
    if let Some(Value::Object(definitions)) = object.get("definitions") {
        let mut definitions_message = Message::default();
        for (name, definition) in definitions {
            let mut named = Message::default();
            named.string(1, name);
            named.message(2, schema(definition));
            definitions_message.message(1, named);
        }
        message.message(9, definitions_message);
    }
    vendor_extensions(&mut message, 16, object);
    message.bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads one length-delimited or varint field: (field number, wire type, payload, rest).
    fn read_field(bytes: &[u8]) -> Option<(u32, u8, &[u8], &[u8])> {
        let (key, rest) = read_varint(bytes)?;
        let field = u32::try_from(key >> 3).ok()?;
        let wire_type = (key & 7) as u8;
        match wire_type {
            0 => {
                let (_, after) = read_varint(rest)?;
                Some((field, wire_type, &rest[..rest.len() - after.len()], after))
            }
            1 => Some((field, wire_type, rest.get(..8)?, rest.get(8..)?)),
            2 => {
                let (len, rest) = read_varint(rest)?;
                let len = usize::try_from(len).ok()?;
                Some((field, wire_type, rest.get(..len)?, rest.get(len..)?))
            }
            _ => None,
        }
    }

    fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
        let mut value = 0u64;
        for (index, byte) in bytes.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Some((value, &bytes[index + 1..]));
            }
        }
        None
    }

    fn fields(mut bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let Some((field, _, payload, rest)) = read_field(bytes) else {
                panic!("malformed protobuf");
            };
            out.push((field, payload.to_vec()));
            bytes = rest;
        }
        out
    }

    #[test]
    fn encodes_a_well_formed_document() {
        let document = json!({
            "swagger": "2.0",
            "info": { "title": "Kubernetes", "version": "v1.33.0" },
            "paths": {
                "/api/v1/namespaces/{namespace}/pods/{name}": {
                    "patch": {
                        "operationId": "patchCoreV1NamespacedPod",
                        "parameters": [
                            { "name": "body", "in": "body", "required": true, "schema": { "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch" } },
                            { "name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": true }
                        ],
                        "responses": { "200": { "description": "OK", "schema": { "$ref": "#/definitions/io.k8s.api.core.v1.Pod" } } },
                        "x-kubernetes-group-version-kind": { "group": "", "kind": "Pod", "version": "v1" }
                    }
                }
            },
            "definitions": {
                "io.k8s.api.core.v1.Pod": { "type": "object", "properties": { "spec": { "$ref": "#/definitions/io.k8s.api.core.v1.PodSpec" } }, "x-kubernetes-group-version-kind": [{ "group": "", "kind": "Pod", "version": "v1" }] }
            }
        });
        let bytes = v2_protobuf(&document);
        let top = fields(&bytes);
        assert_eq!(top[0], (1, b"2.0".to_vec()));
        let numbers: Vec<u32> = top.iter().map(|(f, _)| *f).collect();
        assert_eq!(numbers, vec![1, 2, 8, 9]);
        // paths → NamedPathItem → PathItem.patch → Operation.parameters[1] → Parameter → NonBody → query sub-schema
        let paths = fields(&top[2].1);
        let named = fields(&paths[0].1);
        assert_eq!(
            named[0],
            (1, b"/api/v1/namespaces/{namespace}/pods/{name}".to_vec())
        );
        let item = fields(&named[1].1);
        assert_eq!(item[0].0, 8);
        let operation = fields(&item[0].1);
        let parameters: Vec<&Vec<u8>> = operation
            .iter()
            .filter(|(f, _)| *f == 8)
            .map(|(_, p)| p)
            .collect();
        assert_eq!(parameters.len(), 2);
        let parameter = fields(&fields(parameters[1])[0].1);
        assert_eq!(parameter[0].0, 2);
        let query = fields(&fields(&parameter[0].1)[0].1);
        assert!(query.contains(&(4, b"fieldValidation".to_vec())));
        assert!(query.contains(&(2, b"query".to_vec())));
        let extension = operation
            .iter()
            .find(|(f, _)| *f == 13)
            .map(|(_, p)| fields(p))
            .unwrap_or_default();
        assert_eq!(
            extension[0],
            (1, b"x-kubernetes-group-version-kind".to_vec())
        );
        let definitions = fields(&top[3].1);
        let pod = fields(&definitions[0].1);
        assert_eq!(pod[0], (1, b"io.k8s.api.core.v1.Pod".to_vec()));
    }
}
