//! Rebuilding the index from the data directory when the store opens.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use super::SegmentInfo;
use crate::mvcc::{Index, IndexOptions, Record};
use crate::snapshot::{is_temporary_snapshot, parse_snapshot_file_name, read_snapshot};
use crate::wal::{
    SegmentWriter, decode_batch, io_error, is_torn_tail, parse_segment_file_name, scan_frames,
    sync_dir,
};
use crate::{Error, Result, Revision};

/// Apply replayed records to the index in chunks of this many.
const REPLAY_CHUNK_RECORDS: usize = 4_096;

/// The state recovered from disk.
pub(super) struct Recovered {
    /// The index at the last durable revision.
    pub index: Index,
    /// The WAL segments on disk, the new writable one last.
    pub segments: Vec<SegmentInfo>,
    /// The segment new writes go to.
    pub writer: SegmentWriter,
}

/// Loads the latest snapshot, replays the WAL after it (cutting a torn tail off the last
/// segment) and opens a fresh segment for new writes.
pub(super) fn recover(dir: &Path, options: IndexOptions) -> Result<Recovered> {
    let mut snapshots: Vec<(Revision, PathBuf)> = Vec::new();
    let mut segment_files: Vec<(Revision, PathBuf)> = Vec::new();
    let entries = fs::read_dir(dir).map_err(io_error(format!("listing {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_error(format!("listing {}", dir.display())))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(revision) = parse_snapshot_file_name(name) {
            snapshots.push((revision, entry.path()));
        } else if let Some(revision) = parse_segment_file_name(name) {
            segment_files.push((revision, entry.path()));
        } else if is_temporary_snapshot(name) {
            fs::remove_file(entry.path())
                .map_err(io_error(format!("removing {}", entry.path().display())))?;
        }
    }
    snapshots.sort();
    segment_files.sort();

    let mut index = match snapshots.last() {
        Some((named_revision, path)) => {
            let (revision, entries) = read_snapshot(path)?;
            if revision != *named_revision {
                return Err(Error::Corrupt(format!(
                    "{} holds revision {revision}",
                    path.display()
                )));
            }
            Index::from_snapshot(options, revision, entries)
        }
        None => Index::new(options),
    };
    let snapshot_revision = index.current_revision();
    // Older snapshots are left over from a crash during cleanup; the newest one supersedes them.
    for (_, path) in snapshots.iter().rev().skip(1) {
        fs::remove_file(path).map_err(io_error(format!("removing {}", path.display())))?;
    }

    let mut segments = Vec::with_capacity(segment_files.len() + 1);
    let last = segment_files.len().saturating_sub(1);
    for (position, (first_revision, path)) in segment_files.iter().enumerate() {
        // A segment followed by one starting at or below the snapshot's next revision holds only
        // revisions the snapshot covers: a leftover from a crash during cleanup.
        let superseded = segment_files
            .get(position + 1)
            .is_some_and(|(next_first, _)| *next_first <= snapshot_revision + 1);
        if superseded {
            fs::remove_file(path).map_err(io_error(format!("removing {}", path.display())))?;
            continue;
        }
        let bytes = replay_segment(&mut index, path, position == last)?;
        segments.push(SegmentInfo {
            first_revision: *first_revision,
            bytes,
        });
    }
    let current = index.current_revision();
    tracing::debug!(
        snapshot_revision,
        current,
        segments = segments.len(),
        "replayed write-ahead log"
    );

    // New writes go to a new segment. A last segment named after the next revision holds no
    // records (they would have advanced the revision), so it is simply recreated.
    let next = current + 1;
    segments.retain(|segment| segment.first_revision != next);
    let writer = SegmentWriter::create(dir, next)?;
    segments.push(SegmentInfo {
        first_revision: next,
        bytes: 0,
    });
    Ok(Recovered {
        index,
        segments,
        writer,
    })
}

/// Replays the records of one segment above the index's revision into it; returns the segment's
/// size after any truncation of a torn tail (allowed only in the last segment).
fn replay_segment(index: &mut Index, path: &Path, is_last: bool) -> Result<u64> {
    let data = fs::read(path).map_err(io_error(format!("reading {}", path.display())))?;
    let scan = scan_frames(&data);
    let valid_len = scan.valid_len;
    if let Some(damage) = &scan.damage {
        if !is_last || !is_torn_tail(&data, scan.valid_len) {
            return Err(Error::Corrupt(format!("{}: {damage}", path.display())));
        }
        tracing::warn!(
            segment = %path.display(),
            dropped_bytes = data.len() - scan.valid_len,
            %damage,
            "cutting off a torn write at the end of the write-ahead log"
        );
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_error(format!(
                "opening {} to truncate it",
                path.display()
            )))?;
        file.set_len(scan.valid_len as u64)
            .and_then(|()| file.sync_all())
            .map_err(io_error(format!("truncating {}", path.display())))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
    }
    let mut chunk: Vec<Record> = Vec::with_capacity(REPLAY_CHUNK_RECORDS.min(scan.payloads.len()));
    let mut next = index.current_revision() + 1;
    for payload in scan.payloads {
        let records = decode_batch(payload)
            .map_err(|what| Error::Corrupt(format!("{}: {what}", path.display())))?;
        for record in records {
            if record.revision < next {
                continue; // Already covered by the snapshot.
            }
            if record.revision != next {
                return Err(Error::Corrupt(format!(
                    "{}: expected revision {next}, found {} (missing write-ahead log records)",
                    path.display(),
                    record.revision
                )));
            }
            next += 1;
            chunk.push(record);
            if chunk.len() >= REPLAY_CHUNK_RECORDS {
                index
                    .apply(std::mem::take(&mut chunk))
                    .map_err(|error| corrupt_in(path, error))?;
            }
        }
    }
    if !chunk.is_empty() {
        index
            .apply(chunk)
            .map_err(|error| corrupt_in(path, error))?;
    }
    Ok(valid_len as u64)
}

/// Attributes an error found while applying replayed records to the segment.
fn corrupt_in(path: &Path, error: Error) -> Error {
    match error {
        Error::Corrupt(what) => Error::Corrupt(format!("{}: {what}", path.display())),
        other => other,
    }
}
