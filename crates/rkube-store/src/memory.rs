//! The in-memory backend: the multi-version index alone, for tests.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::mvcc::{
    DEFAULT_HISTORY_REVISIONS, DEFAULT_WATCH_CAPACITY, Index, IndexOptions, WriteRequest,
    prepare_write,
};
use crate::{KeyValue, ListOptions, ListResult, Result, Revision, Store, ValueFn, WatchStream};

/// Settings of a [`MemoryStore`].
#[derive(Debug, Clone, Copy)]
pub struct MemoryOptions {
    /// Keep at least this many recent revisions of history for watchers; older history is
    /// compacted automatically. 0 keeps all history until [`Store::compact`] is called.
    pub history_revisions: u64,
    /// Capacity of each watcher's channel, in batches; a watcher whose channel is full is dropped.
    pub watch_capacity: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            history_revisions: DEFAULT_HISTORY_REVISIONS,
            watch_capacity: DEFAULT_WATCH_CAPACITY,
        }
    }
}

/// A store that keeps everything in memory and loses it when dropped. Writes are visible and
/// acknowledged at once; it exists for tests and as the reference for the conformance suite.
pub struct MemoryStore {
    index: Mutex<Index>,
}

impl MemoryStore {
    /// An empty store with default options.
    pub fn new() -> Self {
        Self::with_options(MemoryOptions::default())
    }

    /// An empty store with the given options.
    pub fn with_options(options: MemoryOptions) -> Self {
        let options = IndexOptions {
            history_revisions: options.history_revisions,
            watch_capacity: options.watch_capacity,
        };
        MemoryStore {
            index: Mutex::new(Index::new(options)),
        }
    }

    /// Locks the index; a panic in another holder leaves it consistent, so poisoning is ignored.
    fn index(&self) -> MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Validates and applies one write.
    fn write(&self, request: WriteRequest<'_>) -> Result<KeyValue> {
        let mut index = self.index();
        let key = request.key();
        let revision = index.current_revision() + 1;
        let prepared = prepare_write(request, index.latest(key), revision)?;
        index.apply(vec![prepared.record])?;
        Ok(prepared.reply)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let index = self.index();
        f.debug_struct("MemoryStore")
            .field("current_revision", &index.current_revision())
            .field("compacted_revision", &index.compacted_revision())
            .field("live_keys", &index.live_keys())
            .finish()
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn current_revision(&self) -> Revision {
        self.index().current_revision()
    }

    fn compacted_revision(&self) -> Revision {
        self.index().compacted_revision()
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.index().get(key))
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult> {
        self.index().list(prefix, &options)
    }

    async fn create(&self, key: &str, value: ValueFn) -> Result<KeyValue> {
        self.write(WriteRequest::Create { key, value })
    }

    async fn update(&self, key: &str, expected: Revision, value: ValueFn) -> Result<KeyValue> {
        self.write(WriteRequest::Update {
            key,
            expected,
            value,
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.write(WriteRequest::Delete { key, expected })
    }

    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        self.index().watch(prefix, after)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.index().compact(revision)
    }
}
