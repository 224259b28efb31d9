//! The embedded backend: the multi-version index made durable by a write-ahead log and
//! snapshots in one data directory.
//!
//! A write is validated and given its revision under the store's lock (checked against the
//! writes still in flight, not only the index), then queued. One committer thread takes every
//! queued write, appends them to the current WAL segment, syncs once (group commit), and only
//! then applies them to the index (where readers and watchers see them) and resolves the
//! writers' futures. A failed sync poisons the store: every later write fails with
//! [`Error::Closed`]; reads keep serving what was durable.
//!
//! When the WAL grows beyond `max(snapshot_wal_ratio x live bytes, snapshot_min_wal_bytes)`, the
//! committer starts a new segment and a background thread writes a snapshot of every live key at
//! the revision before it, then deletes the older segments and snapshots, so disk use stays
//! within a small multiple of the live data under any churn.
//!
//! On open, the latest snapshot is loaded and the segments after it are replayed; a torn write at
//! the end of the last segment (a crash mid-append, never acknowledged) is cut off, while damage
//! anywhere else is reported as [`Error::Corrupt`]. The replayed records become the watchable
//! history, so after a restart history starts at the snapshot revision.
//!
//! Shutdown: [`EmbeddedStore::close`] (also run on drop) stops accepting writes, commits the
//! queued ones, waits for a running snapshot, ends every watch stream and releases the
//! directory lock. Dropping without closing (a crash) loses only unacknowledged writes.

mod committer;
mod recovery;

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::mvcc::{
    DEFAULT_HISTORY_REVISIONS, DEFAULT_WATCH_CAPACITY, Index, IndexOptions, Record, Version,
    WriteRequest, prepare_write,
};
use crate::wal::io_error;
use crate::{
    Error, KeyValue, ListOptions, ListResult, Result, Revision, Store, ValueFn, WatchStream,
};

/// Name of the lock file that keeps a second process out of the data directory.
const LOCK_FILE_NAME: &str = "LOCK";

/// Settings of an [`EmbeddedStore`].
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedOptions {
    /// Keep at least this many recent revisions of history in memory for watchers; older history
    /// is compacted automatically. 0 keeps all history until [`Store::compact`] is called.
    pub history_revisions: u64,
    /// Capacity of each watcher's channel, in batches; a watcher whose channel is full is dropped.
    pub watch_capacity: usize,
    /// Share one sync among all writes queued while the previous sync ran. `false` syncs each
    /// write on its own (for comparison only; much slower under concurrency).
    pub group_commit: bool,
    /// Never snapshot while the WAL is smaller than this many bytes.
    pub snapshot_min_wal_bytes: u64,
    /// Snapshot when the WAL exceeds this multiple of the live data size (and the minimum).
    pub snapshot_wal_ratio: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            history_revisions: DEFAULT_HISTORY_REVISIONS,
            watch_capacity: DEFAULT_WATCH_CAPACITY,
            group_commit: true,
            snapshot_min_wal_bytes: 1 << 20,
            snapshot_wal_ratio: 2,
        }
    }
}

/// Counters describing an [`EmbeddedStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// The latest durable revision.
    pub current_revision: Revision,
    /// The compacted revision of the in-memory history.
    pub compacted_revision: Revision,
    /// Number of live keys.
    pub live_keys: usize,
    /// Bytes of live keys and values (plus per-record framing).
    pub live_bytes: u64,
    /// Bytes in WAL segments.
    pub wal_bytes: u64,
    /// Snapshots written since open.
    pub snapshots_written: u64,
    /// WAL syncs since open (fewer than writes when group commit batches them).
    pub wal_syncs: u64,
}

/// A store persisted in one local directory; see the module documentation for the design.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    committer: Mutex<Option<JoinHandle<()>>>,
    /// Held (and locked) for the store's lifetime.
    lock_file: Mutex<Option<File>>,
}

/// Whether the store accepts writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Accepting writes.
    Open,
    /// Closing: queued writes are committed, new ones refused.
    Closing,
    /// Closed or failed: writes refused.
    Stopped,
}

/// A WAL segment's first revision and size.
#[derive(Debug, Clone, Copy)]
struct SegmentInfo {
    first_revision: Revision,
    bytes: u64,
}

/// A write waiting for the committer.
struct PendingWrite {
    record: Record,
    reply: KeyValue,
    ack: oneshot::Sender<Result<KeyValue>>,
}

/// Everything behind the store's lock.
struct State {
    index: Index,
    /// The newest version of every key with a write that is queued or being synced.
    pending_versions: HashMap<String, Version>,
    /// The revision the next write gets.
    next_revision: Revision,
    /// Writes waiting for the committer, in revision order.
    queue: VecDeque<PendingWrite>,
    status: Status,
    /// The WAL segments on disk, oldest first; the last one is being appended to.
    segments: Vec<SegmentInfo>,
    /// A snapshot is being written.
    snapshot_running: bool,
    /// Do not start a snapshot before the WAL reaches this size (raised after a failure).
    snapshot_backoff_bytes: u64,
    snapshots_written: u64,
    wal_syncs: u64,
}

impl State {
    fn wal_bytes(&self) -> u64 {
        self.segments.iter().map(|segment| segment.bytes).sum()
    }
}

/// What the store and its committer share.
struct Shared {
    dir: PathBuf,
    options: EmbeddedOptions,
    state: Mutex<State>,
    /// Signalled when writes are queued or the store is closing.
    work: Condvar,
    /// Test hook: make every WAL append fail as a failed sync would.
    #[cfg(test)]
    fail_syncs: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Locks the state. Code under the lock leaves it consistent at every panic point, so a
    /// poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir`, recovering from the latest snapshot and the
    /// WAL after it. Fails if another process holds the directory, or with [`Error::Corrupt`] if
    /// the files are damaged beyond a torn final write.
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
        let lock_path = dir.join(LOCK_FILE_NAME);
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(format!("opening {}", lock_path.display())))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Io {
                    context: format!("locking {}", lock_path.display()),
                    source: std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        "the data directory is in use by another store",
                    ),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(Error::Io {
                    context: format!("locking {}", lock_path.display()),
                    source,
                });
            }
        }
        let index_options = IndexOptions {
            history_revisions: options.history_revisions,
            watch_capacity: options.watch_capacity,
        };
        let recovered = recovery::recover(dir, index_options)?;
        let next_revision = recovered.index.current_revision() + 1;
        let state = State {
            index: recovered.index,
            pending_versions: HashMap::new(),
            next_revision,
            queue: VecDeque::new(),
            status: Status::Open,
            segments: recovered.segments,
            snapshot_running: false,
            snapshot_backoff_bytes: 0,
            snapshots_written: 0,
            wal_syncs: 0,
        };
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            options,
            state: Mutex::new(state),
            #[cfg(test)]
            fail_syncs: std::sync::atomic::AtomicBool::new(false),
            work: Condvar::new(),
        });
        let committer = committer::spawn(Arc::clone(&shared), recovered.writer)?;
        tracing::info!(dir = %dir.display(), revision = next_revision - 1, "embedded store opened");
        Ok(EmbeddedStore {
            shared,
            committer: Mutex::new(Some(committer)),
            lock_file: Mutex::new(Some(lock_file)),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Current counters.
    pub fn stats(&self) -> EmbeddedStats {
        let state = self.shared.lock();
        EmbeddedStats {
            current_revision: state.index.current_revision(),
            compacted_revision: state.index.compacted_revision(),
            live_keys: state.index.live_keys(),
            live_bytes: state.index.live_bytes(),
            wal_bytes: state.wal_bytes(),
            snapshots_written: state.snapshots_written,
            wal_syncs: state.wal_syncs,
        }
    }

    /// Stops accepting writes, commits every queued write, waits for a running snapshot, ends all
    /// watch streams and releases the directory. Idempotent; also run on drop. Blocks the calling
    /// thread for at most one sync and one snapshot.
    pub fn close(&self) {
        {
            let mut state = self.shared.lock();
            if state.status == Status::Open {
                state.status = Status::Closing;
            }
        }
        self.shared.work.notify_all();
        let handle = self
            .committer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("the store committer panicked");
        }
        {
            let mut state = self.shared.lock();
            state.status = Status::Stopped;
            state.index.drop_watchers();
        }
        let lock_file = self
            .lock_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(file) = lock_file {
            // Closing the file releases the lock as well; unlocking first just makes it explicit.
            let _ = file.unlock();
        }
    }

    /// Validates `request`, queues it for the committer and waits until it is durable.
    async fn write(&self, request: WriteRequest<'_>) -> Result<KeyValue> {
        let receiver = {
            let mut guard = self.shared.lock();
            let state = &mut *guard;
            if state.status != Status::Open {
                return Err(Error::Closed);
            }
            let key = request.key();
            let current = state
                .pending_versions
                .get(key)
                .or_else(|| state.index.latest(key));
            let prepared = prepare_write(request, current, state.next_revision)?;
            state.next_revision += 1;
            state
                .pending_versions
                .insert(key.to_owned(), prepared.version);
            let (ack, receiver) = oneshot::channel();
            state.queue.push_back(PendingWrite {
                record: prepared.record,
                reply: prepared.reply,
                ack,
            });
            receiver
        };
        self.shared.work.notify_one();
        receiver.await.unwrap_or(Err(Error::Closed))
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.shared.dir)
            .field("stats", &self.stats())
            .finish()
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    fn current_revision(&self) -> Revision {
        self.shared.lock().index.current_revision()
    }

    fn compacted_revision(&self) -> Revision {
        self.shared.lock().index.compacted_revision()
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.shared.lock().index.get(key))
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult> {
        self.shared.lock().index.list(prefix, &options)
    }

    async fn create(&self, key: &str, value: ValueFn) -> Result<KeyValue> {
        self.write(WriteRequest::Create { key, value }).await
    }

    async fn update(&self, key: &str, expected: Revision, value: ValueFn) -> Result<KeyValue> {
        self.write(WriteRequest::Update {
            key,
            expected,
            value,
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.write(WriteRequest::Delete { key, expected }).await
    }

    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        let mut state = self.shared.lock();
        if state.status == Status::Stopped {
            // No event will ever come; fail instead of returning a stream that never ends.
            return Err(Error::Closed);
        }
        state.index.watch(prefix, after)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.shared.lock().index.compact(revision)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    fn value(text: &'static str) -> ValueFn {
        Box::new(move |_| Ok(text.as_bytes().to_vec()))
    }

    #[tokio::test]
    async fn failed_sync_poisons_the_store() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_error("tempdir"))?;
        {
            let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
            store.create("/a", value("1")).await?;
            store.shared.fail_syncs.store(true, Ordering::SeqCst);
            assert!(matches!(
                store.create("/b", value("1")).await,
                Err(Error::Io { .. })
            ));
            assert!(matches!(
                store.create("/c", value("1")).await,
                Err(Error::Closed)
            ));
            assert!(matches!(store.delete("/a", None).await, Err(Error::Closed)));
            assert!(matches!(store.watch("/", 0), Err(Error::Closed)));
            assert!(
                store.get("/b").await?.is_none(),
                "the failed write is never visible"
            );
            assert!(
                store.get("/a").await?.is_some(),
                "durable data is still readable"
            );
            assert_eq!(store.current_revision(), 1);
        }
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        assert_eq!(store.current_revision(), 1);
        assert_eq!(store.create("/b", value("2")).await?.mod_revision, 2);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_syncs() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_error("tempdir"))?;
        let store = Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?);
        let mut tasks = Vec::new();
        for task in 0..16 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    store.create(&format!("/{task}/{i}"), value("v")).await?;
                }
                Ok::<_, Error>(())
            }));
        }
        for task in tasks {
            task.await.map_err(|_| Error::Closed)??;
        }
        let stats = store.stats();
        assert_eq!(stats.current_revision, 800);
        assert!(
            stats.wal_syncs < 800,
            "{} syncs for 800 writes",
            stats.wal_syncs
        );
        Ok(())
    }

    #[tokio::test]
    async fn writes_in_flight_are_checked_against_each_other() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_error("tempdir"))?;
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        // Both futures are created (and validated) before either is durable.
        let (first, second) = tokio::join!(
            store.create("/k", value("1")),
            store.create("/k", value("2"))
        );
        let outcomes = [first.is_ok(), second.is_ok()];
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "exactly one create wins"
        );
        let (update, delete) = tokio::join!(
            store.update("/k", 1, value("3")),
            store.delete("/k", Some(1))
        );
        assert!(update.is_ok());
        assert!(matches!(delete, Err(Error::Conflict { actual: 2, .. })));
        Ok(())
    }
}
