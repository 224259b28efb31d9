//! In-memory multi-version index shared by every backend.
//!
//! The [`Index`] holds, for each key, the chain of versions back to the compacted revision, the
//! log of events above the compacted revision, and the registered watchers. Writes reach it as
//! [`Record`]s in revision order through [`Index::apply`], which also fans the new events out to
//! watchers; because registration ([`Index::watch`]) and application happen under the same lock
//! held by the caller, a watcher sees the replayed history and then every later change, each
//! exactly once.
//!
//! Write validation ([`prepare_write`]) is a pure function of the key's latest version so that a
//! backend with writes in flight (the embedded store's group commit) can check against its
//! pending overlay instead of the index.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use bytes::Bytes;
use tokio::sync::mpsc;

mod write;

pub(crate) use write::{WriteRequest, prepare_write};

use crate::{
    Error, Event, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, WatchStream,
};

/// Default number of recent revisions whose history is kept for watchers.
pub(crate) const DEFAULT_HISTORY_REVISIONS: u64 = 10_000;

/// Default capacity (in batches) of a watcher's channel.
pub(crate) const DEFAULT_WATCH_CAPACITY: usize = 256;

/// Fewest events per batch when replaying history to a new watcher.
const REPLAY_BATCH_EVENTS: usize = 1_000;

/// Bytes a live key is charged for besides its key and value (the framing of a record on disk).
pub(crate) const RECORD_OVERHEAD_BYTES: u64 = 32;

/// Retention and fan-out settings of an [`Index`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexOptions {
    /// Keep at least this many recent revisions of history; older history is compacted after
    /// each write. 0 disables automatic compaction.
    pub history_revisions: u64,
    /// Capacity of each watcher's channel, in batches.
    pub watch_capacity: usize,
}

/// One version of a key.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// The revision that created this incarnation of the key.
    pub create_revision: Revision,
    /// The revision of this version.
    pub mod_revision: Revision,
    /// The value, or `None` for a deletion (tombstone).
    pub value: Option<Bytes>,
}

impl Version {
    /// The key-value this version represents, if it is not a tombstone.
    fn to_key_value(&self, key: &str) -> Option<KeyValue> {
        self.value.as_ref().map(|value| KeyValue {
            key: key.to_owned(),
            value: value.clone(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        })
    }
}

/// The versions of one key, newest separate so that a key with one version needs no allocation
/// besides its value.
#[derive(Debug)]
struct VersionChain {
    /// Older versions, ascending by revision.
    older: Vec<Version>,
    /// The newest version.
    latest: Version,
}

impl VersionChain {
    /// The version visible at `revision`.
    fn at(&self, revision: Revision) -> Option<&Version> {
        if self.latest.mod_revision <= revision {
            return Some(&self.latest);
        }
        self.older
            .iter()
            .rev()
            .find(|version| version.mod_revision <= revision)
    }

    /// Adds a newer version.
    fn push(&mut self, version: Version) {
        let previous = std::mem::replace(&mut self.latest, version);
        self.older.push(previous);
    }

    /// Drops versions not needed to read at `revision` or later. Returns `false` if nothing is
    /// left (the key was deleted at or before `revision`).
    fn prune(&mut self, revision: Revision) -> bool {
        let at_or_below = self
            .older
            .iter()
            .take_while(|version| version.mod_revision <= revision)
            .count();
        if self.latest.mod_revision <= revision {
            self.older.clear();
            self.older.shrink_to_fit();
            return self.latest.value.is_some();
        }
        if at_or_below > 0 {
            // The newest of them is the state at `revision`; keep it unless it is a tombstone.
            let keep_state = self.older[at_or_below - 1].value.is_some();
            let drop_count = if keep_state {
                at_or_below - 1
            } else {
                at_or_below
            };
            self.older.drain(..drop_count);
            if self.older.capacity() > 4 && self.older.len() < self.older.capacity() / 4 {
                self.older.shrink_to_fit();
            }
        }
        true
    }
}

/// The change a [`Record`] makes.
#[derive(Debug, Clone)]
pub(crate) enum RecordOp {
    /// The key gets a value.
    Put {
        /// The create revision of the key's incarnation (the record's own revision for a create).
        create_revision: Revision,
        /// The new value.
        value: Bytes,
    },
    /// The key is deleted.
    Delete,
}

/// One committed write: the unit of the write-ahead log and of [`Index::apply`].
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The write's revision.
    pub revision: Revision,
    /// The key written.
    pub key: String,
    /// What the write does.
    pub op: RecordOp,
}

/// A registered watcher.
struct Watcher {
    /// Only keys with this prefix are sent.
    prefix: String,
    /// Only events above this revision are sent.
    after: Revision,
    /// Where batches go; dropped when full.
    sender: mpsc::Sender<Vec<Event>>,
}

/// One live key as of a revision, for snapshots.
#[derive(Debug, Clone)]
pub(crate) struct LiveEntry {
    /// The key.
    pub key: String,
    /// Its create revision.
    pub create_revision: Revision,
    /// Its mod revision.
    pub mod_revision: Revision,
    /// Its value.
    pub value: Bytes,
}

/// The multi-version index: key versions, event history and watchers.
pub(crate) struct Index {
    options: IndexOptions,
    keys: BTreeMap<String, VersionChain>,
    /// Events above `compacted`, in revision order.
    history: VecDeque<Event>,
    current: Revision,
    compacted: Revision,
    watchers: Vec<Watcher>,
    /// Sum of key and value sizes (plus per-record overhead) of the live keys.
    live_bytes: u64,
    live_keys: usize,
}

impl Index {
    /// An empty index at revision 0.
    pub(crate) fn new(options: IndexOptions) -> Self {
        Index {
            options,
            keys: BTreeMap::new(),
            history: VecDeque::new(),
            current: 0,
            compacted: 0,
            watchers: Vec::new(),
            live_bytes: 0,
            live_keys: 0,
        }
    }

    /// An index holding `entries` as of `revision`, with history starting there (compacted at
    /// `revision`).
    pub(crate) fn from_snapshot(
        options: IndexOptions,
        revision: Revision,
        entries: Vec<LiveEntry>,
    ) -> Self {
        let mut index = Index::new(options);
        for entry in entries {
            index.live_bytes += entry_bytes(&entry.key, &entry.value);
            index.live_keys += 1;
            let latest = Version {
                create_revision: entry.create_revision,
                mod_revision: entry.mod_revision,
                value: Some(entry.value),
            };
            index.keys.insert(
                entry.key,
                VersionChain {
                    older: Vec::new(),
                    latest,
                },
            );
        }
        index.current = revision;
        index.compacted = revision;
        index
    }

    /// The revision of the latest applied write.
    pub(crate) fn current_revision(&self) -> Revision {
        self.current
    }

    /// The compacted revision: history at and below it is gone.
    pub(crate) fn compacted_revision(&self) -> Revision {
        self.compacted
    }

    /// Bytes of live data (keys, values and per-record overhead).
    pub(crate) fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// Number of live keys.
    pub(crate) fn live_keys(&self) -> usize {
        self.live_keys
    }

    /// The latest version of `key`, tombstone included.
    pub(crate) fn latest(&self, key: &str) -> Option<&Version> {
        self.keys.get(key).map(|chain| &chain.latest)
    }

    /// The latest live value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<KeyValue> {
        self.latest(key)
            .and_then(|version| version.to_key_value(key))
    }

    /// Keys under `prefix` as of `options.revision`, see [`crate::Store::list`]. Reading at the
    /// compacted revision itself is allowed (its state is retained); below it fails.
    pub(crate) fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListResult> {
        let revision = options.revision.unwrap_or(self.current);
        if revision > self.current {
            return Err(Error::FutureRevision {
                requested: revision,
                current: self.current,
            });
        }
        if revision < self.compacted {
            return Err(Error::Compacted {
                requested: revision,
                compacted: self.compacted,
            });
        }
        let lower = match options.start_after.as_deref() {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let mut items = Vec::new();
        let mut more = false;
        let range = self.keys.range::<str, _>((lower, Bound::Unbounded));
        for (key, chain) in range.take_while(|(key, _)| key.starts_with(prefix)) {
            let Some(kv) = chain
                .at(revision)
                .and_then(|version| version.to_key_value(key))
            else {
                continue;
            };
            if options.limit > 0 && items.len() == options.limit {
                more = true;
                break;
            }
            items.push(kv);
        }
        Ok(ListResult {
            items,
            revision,
            more,
        })
    }

    /// Every live key as of the current revision, for a snapshot.
    pub(crate) fn live_entries(&self) -> Vec<LiveEntry> {
        let mut entries = Vec::with_capacity(self.live_keys);
        for (key, chain) in &self.keys {
            if let Some(value) = &chain.latest.value {
                entries.push(LiveEntry {
                    key: key.clone(),
                    create_revision: chain.latest.create_revision,
                    mod_revision: chain.latest.mod_revision,
                    value: value.clone(),
                });
            }
        }
        entries
    }

    /// Registers a watcher of keys under `prefix` for changes above `after`, first queuing the
    /// retained history it missed. A revision in the future is allowed: the watcher waits.
    pub(crate) fn watch(&mut self, prefix: &str, after: Revision) -> Result<WatchStream> {
        if after < self.compacted {
            return Err(Error::Compacted {
                requested: after,
                compacted: self.compacted,
            });
        }
        let capacity = self.options.watch_capacity.max(2);
        let (sender, receiver) = mpsc::channel(capacity);
        let skip = usize::try_from(after.saturating_sub(self.compacted)).unwrap_or(usize::MAX);
        let missed: Vec<Event> = self
            .history
            .iter()
            .skip(skip)
            .filter(|event| event.kv.key.starts_with(prefix))
            .cloned()
            .collect();
        if !missed.is_empty() {
            // Use at most half the channel for the replay so live events still fit.
            let batch_len = REPLAY_BATCH_EVENTS.max(missed.len().div_ceil(capacity / 2));
            let mut rest = missed;
            while !rest.is_empty() {
                let tail = rest.split_off(batch_len.min(rest.len()));
                let batch = std::mem::replace(&mut rest, tail);
                if sender.try_send(batch).is_err() {
                    // Cannot happen with the sizing above; end the stream rather than lose events.
                    return Ok(receiver);
                }
            }
        }
        self.watchers.push(Watcher {
            prefix: prefix.to_owned(),
            after,
            sender,
        });
        Ok(receiver)
    }

    /// Applies committed records (consecutive revisions following the current one), records
    /// their events, sends them to watchers and compacts old history.
    pub(crate) fn apply(&mut self, records: Vec<Record>) -> Result<()> {
        let mut events = Vec::with_capacity(records.len());
        for record in records {
            events.push(self.apply_one(record)?);
        }
        self.history.extend(events.iter().cloned());
        self.fan_out(&events);
        if self.options.history_revisions > 0 {
            let floor = self.current.saturating_sub(self.options.history_revisions);
            if floor > self.compacted {
                self.compact(floor)?;
            }
        }
        Ok(())
    }

    /// Applies one record to the key chains and returns its event.
    fn apply_one(&mut self, record: Record) -> Result<Event> {
        if record.revision != self.current + 1 {
            return Err(Error::Corrupt(format!(
                "record for key {} has revision {} but the next revision is {}",
                record.key,
                record.revision,
                self.current + 1
            )));
        }
        let Record { revision, key, op } = record;
        let previous = self
            .keys
            .get(&key)
            .map(|chain| &chain.latest)
            .filter(|version| version.value.is_some());
        let previous_bytes = previous
            .and_then(|version| version.value.as_ref())
            .map(|value| entry_bytes(&key, value));
        let event = match op {
            RecordOp::Put {
                create_revision,
                value,
            } => {
                let kind = if previous.is_some() {
                    EventKind::Update
                } else {
                    EventKind::Create
                };
                self.live_bytes += entry_bytes(&key, &value);
                self.live_keys += usize::from(previous.is_none());
                let version = Version {
                    create_revision,
                    mod_revision: revision,
                    value: Some(value.clone()),
                };
                self.insert_version(&key, version);
                Event {
                    kind,
                    kv: KeyValue {
                        key,
                        value,
                        create_revision,
                        mod_revision: revision,
                    },
                }
            }
            RecordOp::Delete => {
                let Some(previous) = previous else {
                    return Err(Error::Corrupt(format!(
                        "record {revision} deletes absent key {key}"
                    )));
                };
                let create_revision = previous.create_revision;
                let value = previous.value.clone().unwrap_or_default();
                self.live_keys -= 1;
                self.insert_version(
                    &key,
                    Version {
                        create_revision,
                        mod_revision: revision,
                        value: None,
                    },
                );
                Event {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key,
                        value,
                        create_revision,
                        mod_revision: revision,
                    },
                }
            }
        };
        self.live_bytes -= previous_bytes.unwrap_or(0);
        self.current = revision;
        Ok(event)
    }

    /// Adds `version` as the newest version of `key`.
    fn insert_version(&mut self, key: &str, version: Version) {
        match self.keys.get_mut(key) {
            Some(chain) => chain.push(version),
            None => {
                self.keys.insert(
                    key.to_owned(),
                    VersionChain {
                        older: Vec::new(),
                        latest: version,
                    },
                );
            }
        }
    }

    /// Sends `events` to every watcher interested in them; drops watchers whose channel is full
    /// or closed.
    fn fan_out(&mut self, events: &[Event]) {
        self.watchers.retain(|watcher| {
            let batch: Vec<Event> = events
                .iter()
                .filter(|event| {
                    event.kv.mod_revision > watcher.after
                        && event.kv.key.starts_with(&watcher.prefix)
                })
                .cloned()
                .collect();
            if batch.is_empty() {
                return !watcher.sender.is_closed();
            }
            match watcher.sender.try_send(batch) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::debug!(prefix = %watcher.prefix, "dropping watcher that fell behind");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Discards history at and below `revision`, keeping each live key's latest version.
    /// Compacting at or below the compacted revision does nothing.
    pub(crate) fn compact(&mut self, revision: Revision) -> Result<()> {
        if revision > self.current {
            return Err(Error::FutureRevision {
                requested: revision,
                current: self.current,
            });
        }
        while self
            .history
            .front()
            .is_some_and(|event| event.kv.mod_revision <= revision)
        {
            let Some(event) = self.history.pop_front() else {
                break;
            };
            if let Some(chain) = self.keys.get_mut(&event.kv.key)
                && !chain.prune(revision)
            {
                self.keys.remove(&event.kv.key);
            }
        }
        self.compacted = self.compacted.max(revision);
        Ok(())
    }

    /// Ends every watch stream.
    pub(crate) fn drop_watchers(&mut self) {
        self.watchers.clear();
    }
}

/// Bytes a live key is charged for.
pub(crate) fn entry_bytes(key: &str, value: &Bytes) -> u64 {
    (key.len() + value.len()) as u64 + RECORD_OVERHEAD_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> IndexOptions {
        IndexOptions {
            history_revisions: 0,
            watch_capacity: 16,
        }
    }

    fn put_record(index: &Index, key: &str, value: &str) -> Record {
        let revision = index.current_revision() + 1;
        let create_revision = index
            .latest(key)
            .filter(|version| version.value.is_some())
            .map_or(revision, |version| version.create_revision);
        Record {
            revision,
            key: key.to_owned(),
            op: RecordOp::Put {
                create_revision,
                value: Bytes::from(value.to_owned()),
            },
        }
    }

    fn delete_record(index: &Index, key: &str) -> Record {
        Record {
            revision: index.current_revision() + 1,
            key: key.to_owned(),
            op: RecordOp::Delete,
        }
    }

    #[test]
    fn versions_are_readable_until_compacted() -> Result<()> {
        let mut index = Index::new(options());
        index.apply(vec![put_record(&index, "/a", "1")])?; // 1
        index.apply(vec![put_record(&index, "/a", "2")])?; // 2
        index.apply(vec![delete_record(&index, "/a")])?; // 3
        index.apply(vec![put_record(&index, "/b", "x")])?; // 4
        let at = |index: &Index, revision| -> Result<Vec<String>> {
            let options = ListOptions {
                revision: Some(revision),
                ..ListOptions::default()
            };
            Ok(index
                .list("/", &options)?
                .items
                .into_iter()
                .map(|kv| format!("{}={}", kv.key, String::from_utf8_lossy(&kv.value)))
                .collect())
        };
        assert_eq!(at(&index, 1)?, vec!["/a=1"]);
        assert_eq!(at(&index, 2)?, vec!["/a=2"]);
        assert_eq!(at(&index, 3)?, Vec::<String>::new());
        assert_eq!(at(&index, 4)?, vec!["/b=x"]);
        index.compact(2)?;
        assert_eq!(at(&index, 2)?, vec!["/a=2"]);
        assert!(matches!(at(&index, 1), Err(Error::Compacted { .. })));
        index.compact(3)?;
        assert!(
            !index.keys.contains_key("/a"),
            "tombstone below compaction is dropped"
        );
        assert_eq!(index.live_keys(), 1);
        assert_eq!(
            index.live_bytes(),
            entry_bytes("/b", &Bytes::from_static(b"x"))
        );
        Ok(())
    }

    #[test]
    fn prune_keeps_state_at_compaction_revision() {
        let version = |revision, value: Option<&'static str>| Version {
            create_revision: 1,
            mod_revision: revision,
            value: value.map(|text| Bytes::from_static(text.as_bytes())),
        };
        let mut chain = VersionChain {
            older: vec![version(1, Some("a")), version(2, Some("b"))],
            latest: version(5, Some("c")),
        };
        assert!(chain.prune(3));
        assert_eq!(chain.older.len(), 1);
        assert_eq!(chain.at(3).map(|v| v.mod_revision), Some(2));
        let mut deleted = VersionChain {
            older: vec![version(1, Some("a")), version(2, None)],
            latest: version(5, Some("c")),
        };
        assert!(deleted.prune(3));
        assert!(deleted.older.is_empty());
        assert!(deleted.at(3).is_none());
        let mut gone = VersionChain {
            older: vec![version(1, Some("a"))],
            latest: version(2, None),
        };
        assert!(!gone.prune(2));
    }

    #[test]
    fn automatic_compaction_keeps_recent_history() -> Result<()> {
        let mut index = Index::new(IndexOptions {
            history_revisions: 10,
            watch_capacity: 16,
        });
        for i in 0..100 {
            index.apply(vec![put_record(&index, "/k", &i.to_string())])?;
        }
        assert_eq!(index.compacted_revision(), 90);
        assert_eq!(index.history.len(), 10);
        assert_eq!(
            index.keys.get("/k").map(|chain| chain.older.len()),
            Some(10)
        );
        Ok(())
    }

    #[test]
    fn large_replay_fits_in_channel() -> Result<()> {
        let mut index = Index::new(IndexOptions {
            history_revisions: 0,
            watch_capacity: 4,
        });
        for i in 0..5_000 {
            index.apply(vec![put_record(&index, &format!("/k{i}"), "v")])?;
        }
        let mut stream = index.watch("/", 0)?;
        let mut seen = 0;
        while let Ok(batch) = stream.try_recv() {
            seen += batch.len();
        }
        assert_eq!(seen, 5_000);
        Ok(())
    }
}
