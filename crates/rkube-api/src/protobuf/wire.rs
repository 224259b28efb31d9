//! The protobuf wire format: a reader of tagged fields over a byte slice.

use super::ProtobufError;

/// The value of one field as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum WireValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, nested messages, packed repeated scalars.
    LengthDelimited(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl WireValue<'_> {
    pub(crate) fn wire_type_name(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "varint",
            WireValue::Fixed64(_) => "64-bit",
            WireValue::LengthDelimited(_) => "length-delimited",
            WireValue::Fixed32(_) => "32-bit",
        }
    }
}

/// Reads `(field number, value)` pairs from an encoded message.
pub(crate) struct FieldReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> FieldReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        FieldReader { bytes, position: 0 }
    }

    pub(crate) fn is_at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    /// Reads a base-128 varint.
    pub(crate) fn read_varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.bytes.get(self.position) else {
                return Err(ProtobufError::Truncated);
            };
            self.position += 1;
            if shift == 63 && byte > 1 {
                return Err(ProtobufError::Malformed("varint overflows 64 bits".into()));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed(
            "varint longer than 10 bytes".into(),
        ))
    }

    fn read_slice(&mut self, length: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self
            .position
            .checked_add(length)
            .ok_or(ProtobufError::Truncated)?;
        let slice = self
            .bytes
            .get(self.position..end)
            .ok_or(ProtobufError::Truncated)?;
        self.position = end;
        Ok(slice)
    }

    /// Reads the next field, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, ProtobufError> {
        if self.is_at_end() {
            return Ok(None);
        }
        let key = self.read_varint()?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|n| *n != 0)
            .ok_or_else(|| ProtobufError::Malformed(format!("invalid field key {key}")))?;
        let value = match key & 7 {
            0 => WireValue::Varint(self.read_varint()?),
            1 => {
                let slice = self.read_slice(8)?;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(slice);
                WireValue::Fixed64(u64::from_le_bytes(raw))
            }
            2 => {
                let length =
                    usize::try_from(self.read_varint()?).map_err(|_| ProtobufError::Truncated)?;
                WireValue::LengthDelimited(self.read_slice(length)?)
            }
            5 => {
                let slice = self.read_slice(4)?;
                let mut raw = [0u8; 4];
                raw.copy_from_slice(slice);
                WireValue::Fixed32(u32::from_le_bytes(raw))
            }
            other => {
                return Err(ProtobufError::Malformed(format!(
                    "unsupported wire type {other} for field {number}"
                )));
            }
        };
        Ok(Some((number, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_wire_type() {
        // field 1 varint 300, field 2 fixed64 1, field 3 "hi", field 4 fixed32 7
        let bytes = [
            0x08, 0xac, 0x02, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1a, 2, b'h', b'i', 0x25, 7, 0, 0, 0,
        ];
        let mut reader = FieldReader::new(&bytes);
        let mut fields = Vec::new();
        while let Ok(Some(field)) = reader.next_field() {
            fields.push(field);
        }
        assert_eq!(
            fields,
            vec![
                (1, WireValue::Varint(300)),
                (2, WireValue::Fixed64(1)),
                (3, WireValue::LengthDelimited(b"hi")),
                (4, WireValue::Fixed32(7)),
            ]
        );
        assert!(reader.is_at_end());
    }

    #[test]
    fn reads_a_ten_byte_negative_varint() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let mut reader = FieldReader::new(&bytes);
        assert_eq!(reader.read_varint().ok(), Some(u64::MAX));
    }

    #[test]
    fn rejects_truncated_and_malformed_input() {
        assert!(matches!(
            FieldReader::new(&[0x0a, 5, b'a']).next_field(),
            Err(ProtobufError::Truncated)
        ));
        assert!(matches!(
            FieldReader::new(&[0x08]).next_field(),
            Err(ProtobufError::Truncated)
        ));
        assert!(matches!(
            FieldReader::new(&[0x0b]).next_field(),
            Err(ProtobufError::Malformed(_))
        ));
        assert!(matches!(
            FieldReader::new(&[0x00, 0x00]).next_field(),
            Err(ProtobufError::Malformed(_))
        ));
        let too_long = [0xff; 11];
        assert!(FieldReader::new(&too_long).read_varint().is_err());
    }
}
