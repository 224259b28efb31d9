//! Revision-log storage for rkube.
//!
//! This crate owns the store contract of `shared/ARCHITECTURE.md`: one global, strictly
//! increasing revision that is every object's `resourceVersion`; compare-and-swap updates;
//! watches that replay every change after a retained revision in order; compaction that keeps
//! memory and disk bounded; and durability of every acknowledged write. It knows nothing of
//! Kubernetes objects: keys are strings, values are opaque bytes. It must never interpret a
//! value, and never acknowledge a write before it is durable.
//!
//! Backends: [`EmbeddedStore`] (a write-ahead log with group commit and snapshots in one local
//! directory; the default) and [`MemoryStore`] (the same in-memory index without files, for
//! tests). Both share one multi-version index, so they behave identically; `tests/conformance.rs`
//! checks every backend against the same suite.
//!
//! Details the trait leaves open, decided here the way etcd does it:
//! - `list` at exactly the compacted revision succeeds (that state is retained); below it fails
//!   with [`Error::Compacted`]; above the current revision with [`Error::FutureRevision`].
//! - `watch` from a revision above the current one is allowed and waits for it.
//! - A write whose value function fails, or whose checks fail, consumes no revision.
//! - Writes are checked and given revisions in the order callers reach the store; a future that
//!   is dropped after that still commits.

mod embedded;
mod error;
mod memory;
mod mvcc;
mod snapshot;
mod types;
mod wal;

pub use embedded::{EmbeddedOptions, EmbeddedStats, EmbeddedStore};
pub use error::{Error, Result};
pub use memory::{MemoryOptions, MemoryStore};
pub use types::{
    Event, EventKind, KeyValue, ListOptions, ListResult, Revision, ValueFn, WatchStream,
};

use async_trait::async_trait;

/// The storage interface every backend implements and the conformance suite checks.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The newest revision: the revision of the latest write, or 0 for an empty store.
    fn current_revision(&self) -> Revision;

    /// The oldest revision that can no longer be read or watched from; every revision above it is
    /// retained.
    fn compacted_revision(&self) -> Revision;

    /// The latest value of `key`, if it exists.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys under `prefix` in key order, as of `options.revision` (the current revision when
    /// `None`), starting after `options.start_after`, at most `options.limit` of them (all when 0).
    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult>;

    /// Creates `key`; fails with [`Error::AlreadyExists`] if it exists. `value` is called once with
    /// the revision the write will have, so the caller can embed it in the value.
    async fn create(&self, key: &str, value: ValueFn) -> Result<KeyValue>;

    /// Replaces `key` if its current `mod_revision` is `expected`; fails with
    /// [`Error::NotFound`] or [`Error::Conflict`] otherwise.
    async fn update(&self, key: &str, expected: Revision, value: ValueFn) -> Result<KeyValue>;

    /// Deletes `key` if it exists and, when `expected` is given, its `mod_revision` matches.
    /// Returns the deleted value, with `mod_revision` set to the revision of the deletion.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Every change to keys under `prefix` with a revision greater than `after`, in revision
    /// order, followed by every later change. Fails with [`Error::Compacted`] if `after` is below
    /// the compacted revision. The stream ends if the watcher falls too far behind; the caller
    /// then watches again from the last revision it saw.
    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Discards history at and below `revision`, keeping the latest value of every live key.
    async fn compact(&self, revision: Revision) -> Result<()>;
}
