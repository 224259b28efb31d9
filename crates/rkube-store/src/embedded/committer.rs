//! The committer thread (group commit) and the snapshot thread (WAL compaction).

use std::fs;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{PendingWrite, SegmentInfo, Shared, State, Status};
use crate::mvcc::LiveEntry;
use crate::snapshot::{parse_snapshot_file_name, write_snapshot};
use crate::wal::{SegmentWriter, encode_batch, io_error, parse_segment_file_name, sync_dir};
use crate::{Error, Result, Revision};

/// Starts the committer thread appending to `writer`.
pub(super) fn spawn(shared: Arc<Shared>, writer: SegmentWriter) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("rkube-store-committer".into())
        .spawn(move || {
            Committer {
                shared,
                writer,
                snapshot: None,
                frames: Vec::new(),
                scratch: Vec::new(),
            }
            .run()
        })
        .map_err(io_error("starting the store committer thread"))
}

/// A snapshot to write: every live key at `revision`.
struct SnapshotJob {
    revision: Revision,
    entries: Vec<LiveEntry>,
}

/// The single writer of the WAL.
struct Committer {
    shared: Arc<Shared>,
    writer: SegmentWriter,
    snapshot: Option<JoinHandle<()>>,
    /// Reused buffer for the encoded batch frame.
    frames: Vec<u8>,
    /// Reused buffer for the batch payload.
    scratch: Vec<u8>,
}

impl Committer {
    /// Commits batches until the store closes (after draining the queue) or a sync fails.
    fn run(mut self) {
        let span = tracing::info_span!("store_committer", dir = %self.shared.dir.display());
        let _entered = span.enter();
        while let Some(batch) = self.next_batch() {
            if !self.commit(batch) {
                break;
            }
        }
        if let Some(handle) = self.snapshot.take()
            && handle.join().is_err()
        {
            tracing::error!("the snapshot thread panicked");
        }
    }

    /// Waits for queued writes; `None` once the store is closing and the queue is empty.
    fn next_batch(&self) -> Option<Vec<PendingWrite>> {
        let mut state = self.shared.lock();
        loop {
            if !state.queue.is_empty() {
                let take = if self.shared.options.group_commit {
                    state.queue.len()
                } else {
                    1
                };
                return Some(state.queue.drain(..take).collect());
            }
            if state.status != Status::Open {
                return None;
            }
            state = self
                .shared
                .work
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Makes `batch` durable, applies it and resolves its writers. Returns `false` if the store
    /// failed and the committer must stop.
    fn commit(&mut self, batch: Vec<PendingWrite>) -> bool {
        self.frames.clear();
        encode_batch(
            batch.iter().map(|write| &write.record),
            &mut self.scratch,
            &mut self.frames,
        );
        if let Err(error) = self.append_durable() {
            tracing::error!(%error, "write-ahead log sync failed; the store stops accepting writes");
            self.fail(batch, &error);
            return false;
        }
        let mut records = Vec::with_capacity(batch.len());
        let mut acks = Vec::with_capacity(batch.len());
        for write in batch {
            records.push(write.record);
            acks.push((write.ack, write.reply));
        }
        let job = {
            let mut guard = self.shared.lock();
            let state = &mut *guard;
            for record in &records {
                if state
                    .pending_versions
                    .get(&record.key)
                    .is_some_and(|v| v.mod_revision == record.revision)
                {
                    state.pending_versions.remove(&record.key);
                }
            }
            if state.pending_versions.is_empty() && state.pending_versions.capacity() > 4096 {
                // Give back the memory of a burst of concurrent writes.
                state.pending_versions.shrink_to_fit();
                state.queue.shrink_to_fit();
            }
            state.wal_syncs += 1;
            if let Some(segment) = state.segments.last_mut() {
                segment.bytes = self.writer.bytes();
            }
            if let Err(error) = state.index.apply(records) {
                // The committer assigns nothing, so this means a bug; stop rather than diverge.
                tracing::error!(%error, "applying committed records failed; the store stops accepting writes");
                drop(guard);
                for (ack, _) in acks {
                    let _ = ack.send(Err(Error::Closed));
                }
                self.stop_after_failure();
                return false;
            }
            self.snapshot_job(state)
        };
        for (ack, reply) in acks {
            let _ = ack.send(Ok(reply));
        }
        if let Some(job) = job {
            self.start_snapshot(job);
        }
        true
    }

    /// Appends the encoded batch to the segment and syncs it.
    fn append_durable(&mut self) -> Result<()> {
        #[cfg(test)]
        if self
            .shared
            .fail_syncs
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(Error::Io {
                context: "injected failure".into(),
                source: std::io::Error::other("injected sync failure"),
            });
        }
        self.writer.append_durable(&self.frames)
    }

    /// Decides (under the lock, right after applying) whether to snapshot, and captures the data.
    fn snapshot_job(&self, state: &mut State) -> Option<SnapshotJob> {
        if state.snapshot_running {
            return None;
        }
        let options = &self.shared.options;
        let wal_bytes = state.wal_bytes();
        let threshold = options
            .snapshot_wal_ratio
            .saturating_mul(state.index.live_bytes())
            .max(options.snapshot_min_wal_bytes)
            .max(state.snapshot_backoff_bytes);
        let revision = state.index.current_revision();
        if wal_bytes <= threshold || self.writer.first_revision() > revision {
            return None;
        }
        state.snapshot_running = true;
        Some(SnapshotJob {
            revision,
            entries: state.index.live_entries(),
        })
    }

    /// Switches to a new segment after the snapshot revision and writes the snapshot in the
    /// background; writers only wait for the new segment's creation.
    fn start_snapshot(&mut self, job: SnapshotJob) {
        match SegmentWriter::create(&self.shared.dir, job.revision + 1) {
            Ok(writer) => {
                self.writer = writer;
                self.shared.lock().segments.push(SegmentInfo {
                    first_revision: job.revision + 1,
                    bytes: 0,
                });
            }
            Err(error) => {
                tracing::warn!(%error, "cannot start a new write-ahead log segment; snapshot postponed");
                let mut state = self.shared.lock();
                state.snapshot_running = false;
                state.snapshot_backoff_bytes = state.wal_bytes().saturating_mul(2);
                return;
            }
        }
        if let Some(previous) = self.snapshot.take() {
            let _ = previous.join();
        }
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("rkube-store-snapshot".into())
            .spawn(move || write_snapshot_and_trim(&shared, job));
        match spawned {
            Ok(handle) => self.snapshot = Some(handle),
            Err(error) => {
                tracing::warn!(%error, "cannot start the snapshot thread; snapshot postponed");
                let mut state = self.shared.lock();
                state.snapshot_running = false;
                state.snapshot_backoff_bytes = state.wal_bytes().saturating_mul(2);
            }
        }
    }

    /// Fails `batch` with the sync error and everything queued after it with [`Error::Closed`].
    fn fail(&mut self, batch: Vec<PendingWrite>, error: &Error) {
        let message = error.to_string();
        for write in batch {
            let source = std::io::Error::other(message.clone());
            let _ = write.ack.send(Err(Error::Io {
                context: "syncing the write-ahead log".into(),
                source,
            }));
        }
        self.stop_after_failure();
    }

    /// Marks the store failed: refuses new writes, fails queued ones, ends watch streams.
    fn stop_after_failure(&mut self) {
        let queued: Vec<PendingWrite> = {
            let mut state = self.shared.lock();
            state.status = Status::Stopped;
            state.pending_versions.clear();
            state.index.drop_watchers();
            state.queue.drain(..).collect()
        };
        for write in queued {
            let _ = write.ack.send(Err(Error::Closed));
        }
    }
}

/// Writes the snapshot, then deletes the segments and snapshots it supersedes.
fn write_snapshot_and_trim(shared: &Shared, job: SnapshotJob) {
    let span = tracing::info_span!(
        "store_snapshot",
        revision = job.revision,
        keys = job.entries.len()
    );
    let _entered = span.enter();
    let written = write_snapshot(&shared.dir, job.revision, &job.entries);
    drop(job.entries);
    if let Err(error) = written {
        tracing::warn!(%error, "writing a snapshot failed; the write-ahead log is kept");
        let mut state = shared.lock();
        state.snapshot_running = false;
        state.snapshot_backoff_bytes = state.wal_bytes().saturating_mul(2);
        return;
    }
    {
        let mut state = shared.lock();
        state
            .segments
            .retain(|segment| segment.first_revision > job.revision);
        state.snapshot_backoff_bytes = 0;
    }
    if let Err(error) = remove_superseded_files(shared, job.revision) {
        tracing::warn!(%error, "removing superseded write-ahead log files failed");
    }
    tracing::debug!("snapshot written");
    let mut state = shared.lock();
    state.snapshots_written += 1;
    state.snapshot_running = false;
}

/// Deletes WAL segments holding only revisions at or below `revision` and older snapshots.
fn remove_superseded_files(shared: &Shared, revision: Revision) -> Result<()> {
    let dir = &shared.dir;
    let entries = fs::read_dir(dir).map_err(io_error(format!("listing {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_error(format!("listing {}", dir.display())))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let superseded = parse_segment_file_name(name).is_some_and(|first| first <= revision)
            || parse_snapshot_file_name(name).is_some_and(|snapshot| snapshot < revision);
        if superseded {
            fs::remove_file(entry.path())
                .map_err(io_error(format!("removing {}", entry.path().display())))?;
        }
    }
    sync_dir(dir)
}
