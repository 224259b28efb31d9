//! Snapshots: every live key at one revision, written atomically.
//!
//! A snapshot file (`snap-<revision, 20 digits>.snap`) is a sequence of WAL frames: a header
//! frame (`RKSNAP01 | revision (u64 LE) | entry count (u64 LE)`) and one put record per live key
//! whose revision field is the key's mod revision. It is written to a temporary file, synced,
//! renamed into place and the directory synced, so a snapshot file is either complete or absent.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::mvcc::{LiveEntry, RecordOp};
use crate::wal::{append_frame, decode_record, encode_put, io_error, scan_frames, sync_dir};
use crate::{Error, Result, Revision};

const MAGIC: &[u8; 8] = b"RKSNAP01";

/// Flush the write buffer after this many bytes.
const WRITE_CHUNK_BYTES: usize = 1 << 20;

/// File name of the snapshot at `revision`.
pub(crate) fn snapshot_file_name(revision: Revision) -> String {
    format!("snap-{revision:020}.snap")
}

/// The revision encoded in a snapshot file name, if it is one.
pub(crate) fn parse_snapshot_file_name(name: &str) -> Option<Revision> {
    name.strip_prefix("snap-")?
        .strip_suffix(".snap")?
        .parse()
        .ok()
}

/// Whether `name` is a leftover temporary snapshot file.
pub(crate) fn is_temporary_snapshot(name: &str) -> bool {
    name.starts_with("snap-") && name.ends_with(".tmp")
}

/// Writes the snapshot of `entries` at `revision` into `dir` durably; returns its path.
pub(crate) fn write_snapshot(
    dir: &Path,
    revision: Revision,
    entries: &[LiveEntry],
) -> Result<PathBuf> {
    let final_path = dir.join(snapshot_file_name(revision));
    let temporary_path = dir.join(format!("snap-{revision:020}.tmp"));
    let context = format!("writing snapshot {}", temporary_path.display());
    let file = File::create(&temporary_path).map_err(io_error(context.clone()))?;
    let mut writer = BufWriter::new(file);
    let mut buffer = Vec::with_capacity(WRITE_CHUNK_BYTES + 4096);
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&revision.to_le_bytes());
    header.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    append_frame(&mut buffer, &header);
    for entry in entries {
        encode_put(
            &entry.key,
            entry.mod_revision,
            entry.create_revision,
            &entry.value,
            &mut buffer,
        );
        if buffer.len() >= WRITE_CHUNK_BYTES {
            writer
                .write_all(&buffer)
                .map_err(io_error(context.clone()))?;
            buffer.clear();
        }
    }
    writer
        .write_all(&buffer)
        .map_err(io_error(context.clone()))?;
    let file = writer.into_inner().map_err(|error| Error::Io {
        context: context.clone(),
        source: error.into_error(),
    })?;
    file.sync_all().map_err(io_error(context))?;
    drop(file);
    fs::rename(&temporary_path, &final_path).map_err(io_error(format!(
        "renaming snapshot to {}",
        final_path.display()
    )))?;
    sync_dir(dir)?;
    Ok(final_path)
}

/// Reads the snapshot file at `path`: its revision and live entries.
pub(crate) fn read_snapshot(path: &Path) -> Result<(Revision, Vec<LiveEntry>)> {
    let data = fs::read(path).map_err(io_error(format!("reading snapshot {}", path.display())))?;
    let corrupt = |what: String| Error::Corrupt(format!("snapshot {}: {what}", path.display()));
    let scan = scan_frames(&data);
    if let Some(damage) = scan.damage {
        return Err(corrupt(damage));
    }
    let mut payloads = scan.payloads.into_iter();
    let header = payloads
        .next()
        .ok_or_else(|| corrupt("empty file".into()))?;
    if header.len() != 24 || &header[..8] != MAGIC {
        return Err(corrupt("bad header".into()));
    }
    let mut revision_bytes = [0u8; 8];
    revision_bytes.copy_from_slice(&header[8..16]);
    let revision = u64::from_le_bytes(revision_bytes);
    let mut count_bytes = [0u8; 8];
    count_bytes.copy_from_slice(&header[16..24]);
    let count = u64::from_le_bytes(count_bytes);
    let mut entries = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(payloads.len()));
    for payload in payloads {
        let record = decode_record(payload).map_err(corrupt)?;
        let RecordOp::Put {
            create_revision,
            value,
        } = record.op
        else {
            return Err(corrupt(format!("deletion of {} in a snapshot", record.key)));
        };
        if record.revision > revision || create_revision > record.revision {
            return Err(corrupt(format!(
                "key {} has revisions beyond the snapshot",
                record.key
            )));
        }
        entries.push(LiveEntry {
            key: record.key,
            create_revision,
            mod_revision: record.revision,
            value,
        });
    }
    if entries.len() as u64 != count {
        return Err(corrupt(format!(
            "header says {count} entries, found {}",
            entries.len()
        )));
    }
    if entries.windows(2).any(|pair| pair[0].key >= pair[1].key) {
        return Err(corrupt("keys out of order".into()));
    }
    Ok((revision, entries))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn snapshot_round_trips_and_detects_damage() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_error("tempdir"))?;
        let entries = vec![
            LiveEntry {
                key: "/a".into(),
                create_revision: 1,
                mod_revision: 3,
                value: Bytes::from_static(b"x"),
            },
            LiveEntry {
                key: "/b".into(),
                create_revision: 2,
                mod_revision: 2,
                value: Bytes::from_static(b"yy"),
            },
        ];
        let path = write_snapshot(dir.path(), 7, &entries)?;
        assert_eq!(parse_snapshot_file_name(&snapshot_file_name(7)), Some(7));
        let (revision, read) = read_snapshot(&path)?;
        assert_eq!(revision, 7);
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].value, Bytes::from_static(b"yy"));

        let mut data = fs::read(&path).map_err(io_error("read"))?;
        let last = data.len() - 1;
        data[last] ^= 1;
        fs::write(&path, &data).map_err(io_error("write"))?;
        assert!(matches!(read_snapshot(&path), Err(Error::Corrupt(_))));
        Ok(())
    }
}
