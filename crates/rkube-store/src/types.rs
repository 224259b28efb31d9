//! Values passed across the store interface.

use bytes::Bytes;
use tokio::sync::mpsc;

/// A position in the global revision log. Revision 0 means "before any write".
pub type Revision = u64;

/// Produces a value given the revision the write will be committed at. Returning `Err` aborts
/// the write with [`crate::Error::Value`].
pub type ValueFn = Box<dyn FnOnce(Revision) -> Result<Vec<u8>, String> + Send>;

/// One stored key at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key.
    pub key: String,
    /// The value bytes.
    pub value: Bytes,
    /// The revision that created the key (its latest incarnation).
    pub create_revision: Revision,
    /// The revision of the latest change (for a deletion event: the deletion's revision).
    pub mod_revision: Revision,
}

/// What a watch event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created.
    Create,
    /// The key was updated.
    Update,
    /// The key was deleted; `kv.value` is the last value it had.
    Delete,
}

/// One change seen by a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The key after the change (for a deletion: the last value, at the deletion's revision).
    pub kv: KeyValue,
}

/// Options for [`crate::Store::list`].
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Read as of this revision; `None` reads the current revision.
    pub revision: Option<Revision>,
    /// Return only keys strictly greater than this one.
    pub start_after: Option<String>,
    /// Return at most this many keys; 0 means no limit.
    pub limit: usize,
}

/// The answer of [`crate::Store::list`].
#[derive(Debug, Clone)]
pub struct ListResult {
    /// The matching keys, in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at.
    pub revision: Revision,
    /// Whether more keys under the prefix follow the last returned one.
    pub more: bool,
}

/// A watch's event stream: batches of events in revision order. It ends (`recv` returns `None`)
/// when the store drops a watcher that fell behind or when the store shuts down.
pub type WatchStream = mpsc::Receiver<Vec<Event>>;
