//! The work queue every controller drains: a key is queued at most once, is never handed to
//! two workers at once (a key added while it is being processed is queued again when the
//! worker is done), and failed keys come back after an exponential delay.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The first retry delay of a failed key.
const BASE_DELAY: Duration = Duration::from_millis(50);
/// The longest retry delay.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// A de-duplicating queue of keys.
pub struct WorkQueue<T> {
    state: Mutex<State<T>>,
    ready: Notify,
}

struct State<T> {
    queue: VecDeque<T>,
    queued: HashSet<T>,
    processing: HashSet<T>,
    again: HashSet<T>,
    failures: HashMap<T, u32>,
}

impl<T: Clone + Eq + Hash + Send + 'static> WorkQueue<T> {
    /// An empty queue.
    pub fn new() -> Arc<Self> {
        Arc::new(WorkQueue {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                queued: HashSet::new(),
                processing: HashSet::new(),
                again: HashSet::new(),
                failures: HashMap::new(),
            }),
            ready: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Queues `key` unless it is already waiting.
    pub fn add(&self, key: T) {
        let mut s = self.lock();
        if s.queued.contains(&key) {
            return;
        }
        if s.processing.contains(&key) {
            s.again.insert(key);
            return;
        }
        s.queued.insert(key.clone());
        s.queue.push_back(key);
        drop(s);
        self.ready.notify_one();
    }

    /// Queues `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: T, delay: Duration) {
        let queue = Arc::downgrade(self);
        // Ends by itself after `delay`; holds the queue only weakly.
        tokio::spawn(
            async move {
                tokio::time::sleep(delay).await;
                if let Some(q) = queue.upgrade() {
                    q.add(key);
                }
            }
            .in_current_span(),
        );
    }

    /// The next key, or `None` once `cancel` fires. The caller must call [`WorkQueue::done`].
    pub async fn next(&self, cancel: &CancellationToken) -> Option<T> {
        loop {
            {
                let mut s = self.lock();
                if let Some(key) = s.queue.pop_front() {
                    s.queued.remove(&key);
                    s.processing.insert(key.clone());
                    let more = !s.queue.is_empty();
                    drop(s);
                    if more {
                        self.ready.notify_one();
                    }
                    return Some(key);
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = self.ready.notified() => {}
            }
        }
    }

    /// Marks `key` processed; `failed` queues it again after its backoff delay.
    pub fn done(self: &Arc<Self>, key: T, failed: bool) {
        let mut s = self.lock();
        s.processing.remove(&key);
        let retry = if failed {
            let n = s.failures.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            Some(backoff(*n))
        } else {
            s.failures.remove(&key);
            None
        };
        let again = s.again.remove(&key);
        drop(s);
        match retry {
            Some(delay) if !again => self.add_after(key, delay),
            _ if again => self.add(key),
            _ => {}
        }
    }

    /// How many keys wait.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The delay before the `failures`-th retry.
fn backoff(failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    BASE_DELAY.saturating_mul(factor).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_deduplicated_and_requeued_after_processing() {
        let q = WorkQueue::new();
        let cancel = CancellationToken::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let a = q.next(&cancel).await;
        assert_eq!(a, Some("a"));
        q.add("a");
        assert_eq!(
            q.len(),
            1,
            "a is being processed: queued again only after done"
        );
        q.done("a", false);
        assert_eq!(q.next(&cancel).await, Some("b"));
        assert_eq!(q.next(&cancel).await, Some("a"));
        cancel.cancel();
        assert_eq!(q.next(&cancel).await, None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), BASE_DELAY);
        assert_eq!(backoff(2), BASE_DELAY * 2);
        assert_eq!(backoff(40), MAX_DELAY);
    }
}
