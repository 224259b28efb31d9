//! Errors returned by every store backend.

use crate::Revision;

/// A store operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key exists already (create).
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// The key does not exist (update, delete).
    #[error("key {0} not found")]
    NotFound(String),
    /// The key's current revision is not the expected one (update, delete).
    #[error("key {key}: expected revision {expected}, found {actual}")]
    Conflict {
        /// The key written.
        key: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The key's current revision.
        actual: Revision,
    },
    /// The requested revision has been compacted away.
    #[error("revision {requested} is compacted (oldest retained is above {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The store's compacted revision.
        compacted: Revision,
    },
    /// The requested revision is newer than the store's current revision.
    #[error("revision {requested} is in the future (current is {current})")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The value function refused to produce a value; nothing was written.
    #[error("value rejected: {0}")]
    Value(String),
    /// Reading or writing the data files failed.
    #[error("storage I/O failed: {context}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The data files are damaged in a way recovery cannot repair.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The store is shut down or failed earlier; no more writes are accepted.
    #[error("store is closed")]
    Closed,
}

/// Result with the store's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
