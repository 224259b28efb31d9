//! Validating a requested write against the key's latest version.

use bytes::Bytes;

use super::{Record, RecordOp, Version};
use crate::{Error, KeyValue, Result, Revision, ValueFn};

/// A write a caller asked for.
pub(crate) enum WriteRequest<'a> {
    /// Create a key that must not exist.
    Create {
        /// The key.
        key: &'a str,
        /// Produces the value given the revision.
        value: ValueFn,
    },
    /// Replace a key whose mod revision must be `expected`.
    Update {
        /// The key.
        key: &'a str,
        /// The required current mod revision.
        expected: Revision,
        /// Produces the value given the revision.
        value: ValueFn,
    },
    /// Delete a key, optionally only at an expected mod revision.
    Delete {
        /// The key.
        key: &'a str,
        /// The required current mod revision, if any.
        expected: Option<Revision>,
    },
}

impl<'a> WriteRequest<'a> {
    /// The key the request writes.
    pub(crate) fn key(&self) -> &'a str {
        match self {
            WriteRequest::Create { key, .. }
            | WriteRequest::Update { key, .. }
            | WriteRequest::Delete { key, .. } => key,
        }
    }
}

/// A validated write: the record to commit and the answer to give once it is committed.
#[derive(Debug)]
pub(crate) struct PreparedWrite {
    /// The record to commit.
    pub record: Record,
    /// What the caller is told after the commit.
    pub reply: KeyValue,
    /// The key's version after the write (for a pending-writes overlay).
    pub version: Version,
}

/// Validates `request` against the key's latest version `current` (a tombstone counts as
/// absent) and builds the record for `revision`. The value function is called only when the
/// checks pass; nothing is produced if it fails.
pub(crate) fn prepare_write(
    request: WriteRequest<'_>,
    current: Option<&Version>,
    revision: Revision,
) -> Result<PreparedWrite> {
    let live = current.filter(|version| version.value.is_some());
    match request {
        WriteRequest::Create { key, value } => {
            if live.is_some() {
                return Err(Error::AlreadyExists(key.to_owned()));
            }
            let value = Bytes::from(value(revision).map_err(Error::Value)?);
            Ok(put(key, value, revision, revision))
        }
        WriteRequest::Update {
            key,
            expected,
            value,
        } => {
            let Some(current) = live else {
                return Err(Error::NotFound(key.to_owned()));
            };
            if current.mod_revision != expected {
                return Err(Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    actual: current.mod_revision,
                });
            }
            let value = Bytes::from(value(revision).map_err(Error::Value)?);
            Ok(put(key, value, current.create_revision, revision))
        }
        WriteRequest::Delete { key, expected } => {
            let Some(current) = live else {
                return Err(Error::NotFound(key.to_owned()));
            };
            if let Some(expected) = expected
                && current.mod_revision != expected
            {
                return Err(Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    actual: current.mod_revision,
                });
            }
            let last_value = current.value.clone().unwrap_or_default();
            Ok(PreparedWrite {
                record: Record {
                    revision,
                    key: key.to_owned(),
                    op: RecordOp::Delete,
                },
                reply: KeyValue {
                    key: key.to_owned(),
                    value: last_value,
                    create_revision: current.create_revision,
                    mod_revision: revision,
                },
                version: Version {
                    create_revision: current.create_revision,
                    mod_revision: revision,
                    value: None,
                },
            })
        }
    }
}

/// Builds the prepared write of a put.
fn put(key: &str, value: Bytes, create_revision: Revision, revision: Revision) -> PreparedWrite {
    PreparedWrite {
        record: Record {
            revision,
            key: key.to_owned(),
            op: RecordOp::Put {
                create_revision,
                value: value.clone(),
            },
        },
        reply: KeyValue {
            key: key.to_owned(),
            value: value.clone(),
            create_revision,
            mod_revision: revision,
        },
        version: Version {
            create_revision,
            mod_revision: revision,
            value: Some(value),
        },
    }
}
