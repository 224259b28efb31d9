//! The write-ahead log: framed, checksummed commit batches in numbered segment files.
//!
//! A frame is `payload length (u32 LE) | CRC32 of payload (u32 LE) | payload`; an empty payload
//! is invalid (so zeroed space never parses). In a WAL segment each frame holds one commit batch
//! (all records made durable by one sync): a sequence of `record length (u32) | record payload`.
//! A record payload is `op (u8: 1 put, 2 delete) | revision (u64) | create revision (u64) | key
//! length (u32) | key | value length (u32) | value`, integers little-endian. Because one sync
//! writes exactly one frame, a crash can damage only the last frame of the last segment, and
//! any damage followed by an intact frame is corruption. A segment is named after the first
//! revision it may hold (`wal-<revision, 20 digits>.log`) and holds consecutive revisions.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::mvcc::{Record, RecordOp};
use crate::{Error, Result, Revision};

/// Bytes of a frame header (length and checksum).
pub(crate) const FRAME_HEADER_BYTES: usize = 8;

/// Largest payload a frame may declare; anything larger is damage, not data.
const MAX_PAYLOAD_BYTES: usize = 1 << 30;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

/// Appends a framed `payload` to `out`.
pub(crate) fn append_frame(out: &mut Vec<u8>, payload: &[u8]) {
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Appends `records` as one batch frame to `out`; `scratch` is a reusable buffer.
pub(crate) fn encode_batch<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    scratch.clear();
    let mut record_payload = Vec::new();
    for record in records {
        record_payload.clear();
        match &record.op {
            RecordOp::Put {
                create_revision,
                value,
            } => record_fields(
                OP_PUT,
                record.revision,
                *create_revision,
                &record.key,
                value,
                &mut record_payload,
            ),
            RecordOp::Delete => record_fields(
                OP_DELETE,
                record.revision,
                0,
                &record.key,
                &[],
                &mut record_payload,
            ),
        }
        scratch.extend_from_slice(&(record_payload.len() as u32).to_le_bytes());
        scratch.extend_from_slice(&record_payload);
    }
    append_frame(out, scratch);
}

/// Decodes the records of a batch frame's payload.
pub(crate) fn decode_batch(payload: &[u8]) -> Result<Vec<Record>, String> {
    let mut reader = PayloadReader { bytes: payload };
    let mut records = Vec::new();
    while !reader.bytes.is_empty() {
        let length = reader.u32()? as usize;
        records.push(decode_record(reader.take(length)?)?);
    }
    Ok(records)
}

/// Appends a put of `key` at `revision` as one frame to `out` (the snapshot entry format).
pub(crate) fn encode_put(
    key: &str,
    revision: Revision,
    create_revision: Revision,
    value: &[u8],
    out: &mut Vec<u8>,
) {
    encode_fields(OP_PUT, revision, create_revision, key, value, out);
}

/// Appends one framed record built from its fields.
fn encode_fields(
    op: u8,
    revision: Revision,
    create_revision: Revision,
    key: &str,
    value: &[u8],
    out: &mut Vec<u8>,
) {
    let mut payload = Vec::with_capacity(1 + 8 + 8 + 4 + key.len() + 4 + value.len());
    record_fields(op, revision, create_revision, key, value, &mut payload);
    append_frame(out, &payload);
}

/// Appends a record payload built from its fields (no frame).
fn record_fields(
    op: u8,
    revision: Revision,
    create_revision: Revision,
    key: &str,
    value: &[u8],
    out: &mut Vec<u8>,
) {
    out.push(op);
    out.extend_from_slice(&revision.to_le_bytes());
    out.extend_from_slice(&create_revision.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

/// A cursor over a payload that fails with a description instead of panicking.
struct PayloadReader<'a> {
    bytes: &'a [u8],
}

impl<'a> PayloadReader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < count {
            return Err(format!(
                "payload ends early (wanted {count} more bytes, {} left)",
                self.bytes.len()
            ));
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut buf = [0u8; 4];
        buf.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(buf))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(buf))
    }
}

/// Decodes a record payload.
pub(crate) fn decode_record(payload: &[u8]) -> Result<Record, String> {
    let mut reader = PayloadReader { bytes: payload };
    let op = reader.u8()?;
    let revision = reader.u64()?;
    let create_revision = reader.u64()?;
    let key_length = reader.u32()? as usize;
    let key = std::str::from_utf8(reader.take(key_length)?)
        .map_err(|error| format!("key is not UTF-8: {error}"))?;
    let value_length = reader.u32()? as usize;
    let value = reader.take(value_length)?;
    if !reader.bytes.is_empty() {
        return Err(format!(
            "{} trailing bytes after the record",
            reader.bytes.len()
        ));
    }
    let op = match op {
        OP_PUT => RecordOp::Put {
            create_revision,
            value: Bytes::copy_from_slice(value),
        },
        OP_DELETE => RecordOp::Delete,
        other => return Err(format!("unknown record type {other}")),
    };
    Ok(Record {
        revision,
        key: key.to_owned(),
        op,
    })
}

/// The frames found at the start of a byte buffer.
#[derive(Debug)]
pub(crate) struct FrameScan<'a> {
    /// Payloads of the intact frames, in order.
    pub payloads: Vec<&'a [u8]>,
    /// Bytes covered by the intact frames.
    pub valid_len: usize,
    /// Why scanning stopped before the end, if it did.
    pub damage: Option<String>,
}

/// Reads the frame at `offset`: `Ok(Some((payload, next offset)))`, `Ok(None)` at the end, or a
/// description of the damage.
fn frame_at(data: &[u8], offset: usize) -> Result<Option<(&[u8], usize)>, String> {
    let rest = &data[offset..];
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.len() < FRAME_HEADER_BYTES {
        return Err(format!("incomplete frame header at byte {offset}"));
    }
    let length = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let checksum = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if length == 0 || length > MAX_PAYLOAD_BYTES {
        return Err(format!("frame at byte {offset} declares {length} bytes"));
    }
    let end = FRAME_HEADER_BYTES + length;
    if rest.len() < end {
        return Err(format!("frame at byte {offset} is cut short"));
    }
    let payload = &rest[FRAME_HEADER_BYTES..end];
    if crc32fast::hash(payload) != checksum {
        return Err(format!("checksum mismatch in frame at byte {offset}"));
    }
    Ok(Some((payload, offset + end)))
}

/// Reads consecutive frames from the start of `data` until the end or the first damaged frame.
pub(crate) fn scan_frames(data: &[u8]) -> FrameScan<'_> {
    let mut payloads = Vec::new();
    let mut offset = 0;
    loop {
        match frame_at(data, offset) {
            Ok(Some((payload, next))) => {
                payloads.push(payload);
                offset = next;
            }
            Ok(None) => {
                return FrameScan {
                    payloads,
                    valid_len: offset,
                    damage: None,
                };
            }
            Err(damage) => {
                return FrameScan {
                    payloads,
                    valid_len: offset,
                    damage: Some(damage),
                };
            }
        }
    }
}

/// Bytes [`is_torn_tail`] may checksum while searching; beyond it the damage is assumed to be
/// corruption (the conservative answer).
const TORN_TAIL_SEARCH_BUDGET_BYTES: usize = 256 << 20;

/// Whether damage at `offset` of a segment looks like a torn final write rather than corruption
/// in the middle. One sync writes one batch frame, so a crash can only leave a damaged last
/// frame: the damage is a torn tail unless an intact batch frame starts anywhere after it (the
/// search does not trust the damaged frame's length field).
pub(crate) fn is_torn_tail(data: &[u8], offset: usize) -> bool {
    let mut budget = TORN_TAIL_SEARCH_BUDGET_BYTES;
    let mut position = offset + 1;
    while position + FRAME_HEADER_BYTES < data.len() {
        let header = &data[position..position + FRAME_HEADER_BYTES];
        let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let available = data.len() - position - FRAME_HEADER_BYTES;
        if length > 0 && length <= available {
            if length > budget {
                return false;
            }
            budget -= length;
            let checksum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            let payload =
                &data[position + FRAME_HEADER_BYTES..position + FRAME_HEADER_BYTES + length];
            if crc32fast::hash(payload) == checksum && decode_batch(payload).is_ok() {
                return false;
            }
        }
        position += 1;
    }
    true
}

/// File name of the segment whose first revision is `first_revision`.
pub(crate) fn segment_file_name(first_revision: Revision) -> String {
    format!("wal-{first_revision:020}.log")
}

/// The first revision encoded in a segment file name, if it is one.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<Revision> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// Builds an I/O error with context.
pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// Flushes a directory's entries (new, renamed and removed files) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(format!("syncing directory {}", dir.display())))
}

/// The segment the committer appends to.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    file: File,
    path: PathBuf,
    first_revision: Revision,
    bytes: u64,
}

impl SegmentWriter {
    /// Creates (or truncates) the segment starting at `first_revision` in `dir` and makes its
    /// directory entry durable.
    pub(crate) fn create(dir: &Path, first_revision: Revision) -> Result<Self> {
        let path = dir.join(segment_file_name(first_revision));
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(io_error(format!("creating {}", path.display())))?;
        file.sync_all()
            .map_err(io_error(format!("syncing {}", path.display())))?;
        sync_dir(dir)?;
        Ok(SegmentWriter {
            file,
            path,
            first_revision,
            bytes: 0,
        })
    }

    /// The first revision this segment may hold.
    pub(crate) fn first_revision(&self) -> Revision {
        self.first_revision
    }

    /// Bytes written so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends framed records and waits until they are on disk.
    pub(crate) fn append_durable(&mut self, frames: &[u8]) -> Result<()> {
        self.file
            .write_all(frames)
            .and_then(|()| self.file.sync_data())
            .map_err(io_error(format!("appending to {}", self.path.display())))?;
        self.bytes += frames.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(revision: Revision, key: &str, value: &'static [u8]) -> Record {
        Record {
            revision,
            key: key.to_owned(),
            op: RecordOp::Put {
                create_revision: 1,
                value: Bytes::from_static(value),
            },
        }
    }

    fn encode_one(record: &Record, out: &mut Vec<u8>) {
        encode_batch([record], &mut Vec::new(), out);
    }

    #[test]
    fn records_round_trip() -> Result<(), String> {
        let mut buf = Vec::new();
        let delete = Record {
            revision: 2,
            key: "/a".into(),
            op: RecordOp::Delete,
        };
        encode_batch([&put(1, "/a", b"one"), &delete], &mut Vec::new(), &mut buf);
        let scan = scan_frames(&buf);
        assert!(scan.damage.is_none());
        assert_eq!(scan.valid_len, buf.len());
        assert_eq!(scan.payloads.len(), 1);
        let records = decode_batch(scan.payloads[0])?;
        assert_eq!(records[0].revision, 1);
        assert!(matches!(&records[0].op, RecordOp::Put { value, .. } if value.as_ref() == b"one"));
        assert!(matches!(records[1].op, RecordOp::Delete));
        Ok(())
    }

    #[test]
    fn torn_tail_is_told_from_damage_in_the_middle() {
        let mut buf = Vec::new();
        encode_one(&put(1, "/a", b"one"), &mut buf);
        let first_len = buf.len();
        encode_one(&put(2, "/b", b"two"), &mut buf);
        encode_one(&put(3, "/c", b"three"), &mut buf);

        let cut = &buf[..buf.len() - 3];
        let scan = scan_frames(cut);
        assert_eq!(scan.payloads.len(), 2);
        assert!(is_torn_tail(cut, scan.valid_len));

        let mut flipped = buf.clone();
        flipped[first_len + FRAME_HEADER_BYTES + 2] ^= 0xff;
        let scan = scan_frames(&flipped);
        assert_eq!(scan.valid_len, first_len);
        assert!(!is_torn_tail(&flipped, scan.valid_len));

        let mut shortened = buf.clone();
        shortened[first_len] = 1; // the second frame's length field claims 1 byte
        let scan = scan_frames(&shortened);
        assert_eq!(scan.valid_len, first_len);
        assert!(
            !is_torn_tail(&shortened, scan.valid_len),
            "intact frames follow the damage"
        );

        let mut zeroed = buf.clone();
        zeroed.extend_from_slice(&[0; 64]);
        let scan = scan_frames(&zeroed);
        assert_eq!(scan.valid_len, buf.len(), "zeroed space is not a frame");
        assert!(is_torn_tail(&zeroed, scan.valid_len));
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(parse_segment_file_name(&segment_file_name(42)), Some(42));
        assert_eq!(parse_segment_file_name("snap-1.snap"), None);
    }
}
