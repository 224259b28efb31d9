//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`)
//! into the JSON objects the rest of rkube works on.
//!
//! kubectl's typed commands (`kubectl create deployment|configmap|secret|...`, `create token`,
//! `autoscale`) send their objects as protobuf. A body is the 4-byte magic `k8s\0` followed
//! by a `runtime.Unknown` envelope `{typeMeta{apiVersion=1, kind=2}=1, raw=2,
//! contentEncoding=3, contentType=4}` whose `raw` is the object's own message.
//!
//! Messages are decoded with a table (`protobuf/schema.txt`) of field numbers, JSON names and
//! types. The result is what Go's `json.Marshal` would give for the decoded object: fields
//! absent on the wire are absent; zero scalars of `omitempty` non-pointer fields (which Go's
//! protobuf encoder always writes) are dropped like `omitempty` drops them, while pointer
//! fields keep a zero they were set to (`replicas: 0`); `metav1.Time` becomes an
//! RFC 3339 string (zero: `null`), `IntOrString` a number or string, `Quantity` a string,
//! bytes base64, `RawExtension` the embedded JSON.

mod formats;
mod schema;
mod wire;

use serde_json::{Map, Number, Value};

use schema::{Cardinality, FieldType, Message, Schema};
use wire::{FieldReader, WireValue};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

/// Deepest nesting of messages accepted (the real objects stay far below it).
const MAX_DEPTH: usize = 64;

/// Why a protobuf body could not be decoded.
///
/// [`ProtobufError::UnknownKind`] means the body is well-formed but names a kind this decoder
/// has no table for (a server answers 415 Unsupported Media Type); every other variant is a
/// bad body (400 Bad Request).
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error("protobuf body does not start with the Kubernetes magic prefix \"k8s\\x00\"")]
    MissingMagic,
    /// A length or value runs past the end of its message.
    #[error("protobuf body is truncated")]
    Truncated,
    /// The bytes are not valid protobuf for the expected message.
    #[error("malformed protobuf: {0}")]
    Malformed(String),
    /// The envelope has no apiVersion or no kind.
    #[error("protobuf envelope does not name an apiVersion and kind")]
    MissingTypeMeta,
    /// No message table for this kind.
    #[error("no protobuf decoder for {api_version} {kind}")]
    UnknownKind {
        /// The envelope's apiVersion (`apps/v1`).
        api_version: String,
        /// The envelope's kind (`Deployment`).
        kind: String,
    },
    /// The envelope says the object is compressed or otherwise encoded.
    #[error("unsupported protobuf content encoding {0:?}")]
    UnsupportedEncoding(String),
    /// Messages nested deeper than [`MAX_DEPTH`].
    #[error("protobuf messages nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The embedded message table is broken (a bug in rkube, not in the request).
    #[error("protobuf message table: {0}")]
    Table(String),
}

pub type Result<T, E = ProtobufError> = std::result::Result<T, E>;

/// Decodes a protobuf request body into its JSON object, with `apiVersion` and `kind` set
/// from the envelope.
pub fn decode_request(body: &[u8]) -> Result<Value> {
    decode_envelope(body, 0)
}

fn decode_envelope(body: &[u8], depth: usize) -> Result<Value> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    let mut content_encoding = String::new();
    let mut content_type = String::new();
    let mut reader = FieldReader::new(envelope);
    while let Some((number, value)) = reader.next_field()? {
        match (number, value) {
            (1, WireValue::LengthDelimited(type_meta)) => {
                let mut type_reader = FieldReader::new(type_meta);
                while let Some((number, value)) = type_reader.next_field()? {
                    match (number, value) {
                        (1, WireValue::LengthDelimited(text)) => api_version = utf8(text),
                        (2, WireValue::LengthDelimited(text)) => kind = utf8(text),
                        _ => {}
                    }
                }
            }
            (2, WireValue::LengthDelimited(bytes)) => raw = bytes,
            (3, WireValue::LengthDelimited(text)) => content_encoding = utf8(text),
            (4, WireValue::LengthDelimited(text)) => content_type = utf8(text),
            (1..=4, other) => {
                return Err(ProtobufError::Malformed(format!(
                    "envelope field {number} has wire type {}",
                    other.wire_type_name()
                )));
            }
            _ => {}
        }
    }
    if !content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(content_encoding));
    }
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version.clone()));
    object.insert("kind".into(), Value::String(kind.clone()));
    if content_type.starts_with("application/json") {
        let decoded: Value = serde_json::from_slice(raw)
            .map_err(|error| ProtobufError::Malformed(format!("embedded JSON: {error}")))?;
        if let Value::Object(fields) = decoded {
            object.extend(fields);
        }
        return Ok(Value::Object(object));
    }
    let schema = Schema::embedded().map_err(|error| ProtobufError::Table(error.to_string()))?;
    let message = message_for_kind(schema, &api_version, &kind).ok_or_else(|| {
        ProtobufError::UnknownKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        }
    })?;
    let decoder = Decoder { schema };
    decoder.decode_fields(message, raw, &mut object, depth + 1)?;
    Ok(Value::Object(object))
}

/// The table entry for a kind: `<group's first label>/<version>.<Kind>` (`v1` is `core/v1`);
/// option kinds like `DeleteOptions` fall back to `meta/v1`.
fn message_for_kind<'s>(schema: &'s Schema, api_version: &str, kind: &str) -> Option<&'s Message> {
    let package = match api_version.split_once('/') {
        None => format!("core/{api_version}"),
        Some((group, version)) => {
            let label = group.split('.').next().unwrap_or(group);
            format!("{label}/{version}")
        }
    };
    [format!("{package}.{kind}"), format!("meta/v1.{kind}")]
        .into_iter()
        .find_map(|name| schema.message(&name))
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn is_zero_scalar(value: &Value) -> bool {
    match value {
        Value::String(text) => text.is_empty(),
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        _ => false,
    }
}

struct Decoder<'s> {
    schema: &'s Schema,
}

impl Decoder<'_> {
    fn message(&self, name: &str) -> Result<&Message> {
        self.schema
            .message(name)
            .ok_or_else(|| ProtobufError::Table(format!("no message {name}")))
    }

    /// Decodes the fields of one message into `object` (inline structs share the parent's).
    fn decode_fields(
        &self,
        message: &Message,
        bytes: &[u8],
        object: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ProtobufError::TooDeep);
        }
        let mut reader = FieldReader::new(bytes);
        while let Some((number, value)) = reader.next_field()? {
            let Some(field) = message.fields.get(&number) else {
                continue;
            };
            let name = field.json_name;
            match field.cardinality {
                Cardinality::Inline => {
                    let FieldType::Message(nested_name) = field.field_type else {
                        return Err(ProtobufError::Table(format!("{name} inline scalar")));
                    };
                    let nested = self.message(nested_name)?;
                    let bytes = length_delimited(name, value)?;
                    self.decode_fields(nested, bytes, object, depth + 1)?;
                }
                Cardinality::Repeated => {
                    let items = self.decode_repeated(name, field.field_type, value, depth)?;
                    match object.get_mut(name) {
                        Some(Value::Array(existing)) => existing.extend(items),
                        _ => {
                            object.insert(name.to_string(), Value::Array(items));
                        }
                    }
                }
                Cardinality::Map => {
                    let entry = length_delimited(name, value)?;
                    let (key, item) =
                        self.decode_map_entry(name, field.field_type, entry, depth)?;
                    match object.get_mut(name) {
                        Some(Value::Object(existing)) => {
                            existing.insert(key, item);
                        }
                        _ => {
                            let mut entries = Map::new();
                            entries.insert(key, item);
                            object.insert(name.to_string(), Value::Object(entries));
                        }
                    }
                }
                Cardinality::Optional | Cardinality::Pointer | Cardinality::Required => {
                    let decoded = self.decode_value(name, field.field_type, value, depth)?;
                    let is_message = matches!(field.field_type, FieldType::Message(_));
                    if field.cardinality == Cardinality::Optional
                        && !is_message
                        && is_zero_scalar(&decoded)
                    {
                        continue;
                    }
                    // A message field that occurs twice is merged, as protobuf specifies.
                    match (object.get_mut(name), decoded) {
                        (Some(Value::Object(existing)), Value::Object(more)) => {
                            existing.extend(more)
                        }
                        (_, decoded) => {
                            object.insert(name.to_string(), decoded);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn decode_repeated(
        &self,
        name: &str,
        field_type: FieldType,
        value: WireValue<'_>,
        depth: usize,
    ) -> Result<Vec<Value>> {
        let packable = matches!(
            field_type,
            FieldType::Int32 | FieldType::Int64 | FieldType::Bool | FieldType::Double
        );
        match value {
            WireValue::LengthDelimited(packed) if packable => {
                let mut reader = FieldReader::new(packed);
                let mut items = Vec::new();
                while !reader.is_at_end() {
                    let element = if field_type == FieldType::Double {
                        let mut bits = [0u8; 8];
                        for byte in &mut bits {
                            *byte = u8::try_from(reader.read_varint()?).map_err(|_| {
                                ProtobufError::Malformed(format!("{name}: packed double"))
                            })?;
                        }
                        WireValue::Fixed64(u64::from_le_bytes(bits))
                    } else {
                        WireValue::Varint(reader.read_varint()?)
                    };
                    items.push(self.decode_value(name, field_type, element, depth)?);
                }
                Ok(items)
            }
            single => Ok(vec![self.decode_value(name, field_type, single, depth)?]),
        }
    }

    fn decode_map_entry(
        &self,
        name: &str,
        value_type: FieldType,
        entry: &[u8],
        depth: usize,
    ) -> Result<(String, Value)> {
        let mut key = String::new();
        let mut item = None;
        let mut reader = FieldReader::new(entry);
        while let Some((number, value)) = reader.next_field()? {
            match number {
                1 => key = utf8(length_delimited(name, value)?),
                2 => item = Some(self.decode_value(name, value_type, value, depth)?),
                _ => {}
            }
        }
        let item = match item {
            Some(item) => item,
            None => match value_type {
                FieldType::Message(_) => {
                    self.decode_value(name, value_type, WireValue::LengthDelimited(&[]), depth)?
                }
                FieldType::String | FieldType::Bytes => Value::String(String::new()),
                FieldType::Bool => Value::Bool(false),
                FieldType::Int32 | FieldType::Int64 | FieldType::Double => Value::from(0),
            },
        };
        Ok((key, item))
    }

    fn decode_value(
        &self,
        name: &str,
        field_type: FieldType,
        value: WireValue<'_>,
        depth: usize,
    ) -> Result<Value> {
        let mismatch = |expected: &str| {
            ProtobufError::Malformed(format!(
                "field {name}: expected {expected}, found wire type {}",
                value.wire_type_name()
            ))
        };
        Ok(match (field_type, value) {
            (FieldType::String, WireValue::LengthDelimited(text)) => Value::String(utf8(text)),
            (FieldType::Bytes, WireValue::LengthDelimited(bytes)) => {
                Value::String(formats::base64(bytes))
            }
            // int32 values are sign-extended to 64 bits on the wire; truncation is intended.
            (FieldType::Int32, WireValue::Varint(raw)) => Value::from(raw as i64 as i32),
            (FieldType::Int64, WireValue::Varint(raw)) => Value::from(raw as i64),
            (FieldType::Bool, WireValue::Varint(raw)) => Value::Bool(raw != 0),
            (FieldType::Double, WireValue::Fixed64(bits)) => Number::from_f64(f64::from_bits(bits))
                .map(Value::Number)
                .ok_or_else(|| {
                    ProtobufError::Malformed(format!("field {name}: not a finite number"))
                })?,
            (FieldType::Message(message_name), WireValue::LengthDelimited(bytes)) => {
                self.decode_message(message_name, bytes, depth + 1)?
            }
            (FieldType::Message(_) | FieldType::String | FieldType::Bytes, _) => {
                return Err(mismatch("length-delimited"));
            }
            (FieldType::Double, _) => return Err(mismatch("64-bit")),
            (FieldType::Int32 | FieldType::Int64 | FieldType::Bool, _) => {
                return Err(mismatch("varint"));
            }
        })
    }

    /// Decodes a nested message, giving the special Kubernetes types their JSON forms.
    fn decode_message(&self, message_name: &str, bytes: &[u8], depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(ProtobufError::TooDeep);
        }
        match message_name {
            "meta/v1.Time" | "meta/v1.MicroTime" => {
                let (seconds, nanos) = (varint_field(bytes, 1)?, varint_field(bytes, 2)?);
                let (seconds, nanos) = (seconds as i64, nanos as i64 as i32);
                if seconds == 0 && nanos == 0 {
                    Ok(Value::Null)
                } else if message_name == "meta/v1.Time" {
                    Ok(Value::String(formats::rfc3339_seconds(seconds)))
                } else {
                    Ok(Value::String(formats::rfc3339_micros(seconds, nanos)))
                }
            }
            "meta/v1.Duration" => Ok(Value::String(formats::go_duration(
                varint_field(bytes, 1)? as i64
            ))),
            "intstr.IntOrString" => {
                if varint_field(bytes, 1)? == 1 {
                    Ok(Value::String(utf8(bytes_field(bytes, 3)?.unwrap_or(&[]))))
                } else {
                    Ok(Value::from(varint_field(bytes, 2)? as i64 as i32))
                }
            }
            "quantity.Quantity" | "quantity.QuantityValue" => match bytes_field(bytes, 1)? {
                Some(text) if !text.is_empty() => Ok(Value::String(utf8(text))),
                _ => Ok(Value::String("0".into())),
            },
            "runtime.RawExtension" | "meta/v1.FieldsV1" => match bytes_field(bytes, 1)? {
                Some(raw) if !raw.is_empty() => embedded_object(raw, depth),
                _ => Ok(Value::Null),
            },
            _ => {
                let message = self.message(message_name)?;
                let mut object = Map::new();
                self.decode_fields(message, bytes, &mut object, depth)?;
                // Named string slices (`ExtraValue`, `Verbs`) are wrapped in a message on the
                // wire but are plain arrays in JSON.
                if message_name.ends_with(".ExtraValue") || message_name == "meta/v1.Verbs" {
                    return Ok(object
                        .remove("items")
                        .unwrap_or_else(|| Value::Array(Vec::new())));
                }
                Ok(Value::Object(object))
            }
        }
    }
}

fn length_delimited<'a>(name: &str, value: WireValue<'a>) -> Result<&'a [u8]> {
    match value {
        WireValue::LengthDelimited(bytes) => Ok(bytes),
        other => Err(ProtobufError::Malformed(format!(
            "field {name}: expected length-delimited, found wire type {}",
            other.wire_type_name()
        ))),
    }
}

/// The last varint value of field `number` in a small message (0 when absent).
fn varint_field(bytes: &[u8], number: u32) -> Result<u64> {
    let mut found = 0;
    let mut reader = FieldReader::new(bytes);
    while let Some((field, value)) = reader.next_field()? {
        if field == number
            && let WireValue::Varint(raw) = value
        {
            found = raw;
        }
    }
    Ok(found)
}

/// The last length-delimited value of field `number` in a small message.
fn bytes_field(bytes: &[u8], number: u32) -> Result<Option<&[u8]>> {
    let mut found = None;
    let mut reader = FieldReader::new(bytes);
    while let Some((field, value)) = reader.next_field()? {
        if field == number
            && let WireValue::LengthDelimited(raw) = value
        {
            found = Some(raw);
        }
    }
    Ok(found)
}

/// A `RawExtension`'s bytes: JSON, or a nested protobuf object with its own envelope.
fn embedded_object(raw: &[u8], depth: usize) -> Result<Value> {
    if raw.starts_with(MAGIC) {
        return decode_envelope(raw, depth);
    }
    serde_json::from_slice(raw)
        .map_err(|error| ProtobufError::Malformed(format!("embedded object is not JSON: {error}")))
}

#[cfg(test)]
mod tests;
