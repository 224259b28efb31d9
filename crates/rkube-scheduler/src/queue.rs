//! The scheduling queue (upstream's `PriorityQueue`) as a pure data structure: pods wait in
//! activeQ (ordered by the QueueSort plugin) to be scheduled, in backoffQ after a failure until
//! their backoff expires (1 s doubling to 10 s by default), or in unschedulablePods until a
//! cluster event that one of the plugins that rejected them cares about happens, or 5 minutes
//! pass. Time comes from a `Clock`; nothing here sleeps: the caller calls
//! `flush_backoff_completed` and `flush_unschedulable_left_over` periodically (upstream: every
//! 1 s and 30 s) and waits on its own for `pop` to have something.
//!
//! Simplifications against upstream's QueueingHints: a plugin registers the events that matter
//! to it, without per-event hint functions; an update of a pod in unschedulablePods moves it
//! like an event would (to backoffQ or activeQ).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{ClusterEvent, PreEnqueuePlugin, QueueSortPlugin, QueuedPodInfo};
use crate::node_info::{PodInfo, pod_key};

/// Default initial backoff.
pub const DEFAULT_POD_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Default maximum backoff.
pub const DEFAULT_POD_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long a pod stays in unschedulablePods without an event before it is retried anyway.
pub const DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION: Duration = Duration::from_secs(300);

/// Where time comes from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct FakeClock(Mutex<Instant>);

impl Default for FakeClock {
    fn default() -> Self {
        FakeClock(Mutex::new(Instant::now()))
    }
}

impl FakeClock {
    /// Moves time forward.
    pub fn step(&self, by: Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.0.lock().map_or_else(|e| *e.into_inner(), |now| *now)
    }
}

/// Which sub-queue a pod is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    /// Ready to be scheduled.
    Active,
    /// Waiting for its backoff to expire.
    Backoff,
    /// Waiting for a cluster event.
    Unschedulable,
}

/// Why a queue operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The pod is already queued.
    #[error("pod {0} is already present in the {1:?} queue")]
    AlreadyQueued(String, QueueName),
}

/// A binary heap ordered by the QueueSort plugin, with removal by key.
struct ActiveHeap {
    items: Vec<QueuedPodInfo>,
    positions: HashMap<String, usize>,
    sort: Arc<dyn QueueSortPlugin>,
}

impl ActiveHeap {
    fn key(info: &QueuedPodInfo) -> String {
        info.pod_info.key()
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.items.swap(a, b);
        self.positions.insert(Self::key(&self.items[a]), a);
        self.positions.insert(Self::key(&self.items[b]), b);
    }

    fn up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.sort.less(&self.items[i], &self.items[parent]) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn down(&mut self, mut i: usize) {
        loop {
            let (left, right) = (2 * i + 1, 2 * i + 2);
            let mut first = i;
            if left < self.items.len() && self.sort.less(&self.items[left], &self.items[first]) {
                first = left;
            }
            if right < self.items.len() && self.sort.less(&self.items[right], &self.items[first]) {
                first = right;
            }
            if first == i {
                break;
            }
            self.swap(i, first);
            i = first;
        }
    }

    fn push(&mut self, info: QueuedPodInfo) {
        let key = Self::key(&info);
        if let Some(&i) = self.positions.get(&key) {
            self.items[i] = info;
            self.up(i);
            self.down(i);
            return;
        }
        self.items.push(info);
        let i = self.items.len() - 1;
        self.positions.insert(key, i);
        self.up(i);
    }

    fn remove_at(&mut self, i: usize) -> Option<QueuedPodInfo> {
        let last = self.items.len().checked_sub(1)?;
        self.swap(i, last);
        let removed = self.items.pop()?;
        self.positions.remove(&Self::key(&removed));
        if i < self.items.len() {
            self.up(i);
            self.down(i);
        }
        Some(removed)
    }

    fn pop(&mut self) -> Option<QueuedPodInfo> {
        self.remove_at(0)
    }

    fn remove(&mut self, key: &str) -> Option<QueuedPodInfo> {
        let i = *self.positions.get(key)?;
        self.remove_at(i)
    }

    fn contains(&self, key: &str) -> bool {
        self.positions.contains_key(key)
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// The three sub-queues and the bookkeeping that moves pods between them.
pub struct SchedulingQueue {
    clock: Arc<dyn Clock>,
    active: ActiveHeap,
    backoff: HashMap<String, QueuedPodInfo>,
    backoff_order: BinaryHeap<Reverse<(Instant, u64, String)>>,
    backoff_sequence: u64,
    unschedulable: HashMap<String, QueuedPodInfo>,
    /// Popped pods being scheduled → index into `in_flight_events` at pop time.
    in_flight: HashMap<String, usize>,
    in_flight_events: Vec<ClusterEvent>,
    plugin_events: HashMap<String, Vec<ClusterEvent>>,
    pre_enqueue: HashMap<String, Vec<Arc<dyn PreEnqueuePlugin>>>,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_in_unschedulable: Duration,
    scheduling_cycle: u64,
}

impl std::fmt::Debug for SchedulingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulingQueue")
            .field("active", &self.active.len())
            .field("backoff", &self.backoff.len())
            .field("unschedulable", &self.unschedulable.len())
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

impl SchedulingQueue {
    /// A queue ordered by `sort`, moving pods on the events each plugin registered
    /// (`Profiles::plugin_events`), with upstream's default durations.
    pub fn new(
        clock: Arc<dyn Clock>,
        sort: Arc<dyn QueueSortPlugin>,
        plugin_events: HashMap<String, Vec<ClusterEvent>>,
    ) -> SchedulingQueue {
        SchedulingQueue {
            clock,
            active: ActiveHeap {
                items: Vec::new(),
                positions: HashMap::new(),
                sort,
            },
            backoff: HashMap::new(),
            backoff_order: BinaryHeap::new(),
            backoff_sequence: 0,
            unschedulable: HashMap::new(),
            in_flight: HashMap::new(),
            in_flight_events: Vec::new(),
            plugin_events,
            pre_enqueue: HashMap::new(),
            initial_backoff: DEFAULT_POD_INITIAL_BACKOFF,
            max_backoff: DEFAULT_POD_MAX_BACKOFF,
            max_in_unschedulable: DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION,
            scheduling_cycle: 0,
        }
    }

    /// Sets the backoff range (from the configuration).
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> SchedulingQueue {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Sets the PreEnqueue plugins per scheduler name (`Profiles::pre_enqueue_plugins`).
    pub fn with_pre_enqueue(
        mut self,
        pre_enqueue: HashMap<String, Vec<Arc<dyn PreEnqueuePlugin>>>,
    ) -> SchedulingQueue {
        self.pre_enqueue = pre_enqueue;
        self
    }

    /// The PreEnqueue plugin that keeps the pod out of activeQ, if any.
    fn gate(&self, pod: &Pod) -> Option<&'static str> {
        let scheduler = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or(crate::config::DEFAULT_SCHEDULER_NAME);
        self.pre_enqueue
            .get(scheduler)?
            .iter()
            .find(|plugin| !plugin.pre_enqueue(pod).is_success())
            .map(|plugin| plugin.name())
    }

    /// Sets how long a pod may stay unschedulable without an event.
    pub fn with_max_in_unschedulable(mut self, max: Duration) -> SchedulingQueue {
        self.max_in_unschedulable = max;
        self
    }

    fn new_queued(&self, pod: Arc<Pod>) -> QueuedPodInfo {
        let now = self.clock.now();
        QueuedPodInfo {
            pod_info: PodInfo::new(pod),
            timestamp: now,
            attempts: 0,
            initial_attempt_timestamp: now,
            unschedulable_plugins: Vec::new(),
            failed_with_error: false,
        }
    }

    /// Where a pod is queued, if anywhere.
    pub fn queue_of(&self, key: &str) -> Option<QueueName> {
        if self.active.contains(key) {
            Some(QueueName::Active)
        } else if self.backoff.contains_key(key) {
            Some(QueueName::Backoff)
        } else if self.unschedulable.contains_key(key) {
            Some(QueueName::Unschedulable)
        } else {
            None
        }
    }

    /// A new pending pod: to activeQ, or to unschedulablePods if a PreEnqueue plugin (e.g.
    /// scheduling gates) holds it back.
    pub fn add(&mut self, pod: Arc<Pod>) -> QueueName {
        let key = pod_key(&pod);
        self.backoff.remove(&key);
        self.unschedulable.remove(&key);
        let mut info = self.new_queued(pod);
        if let Some(plugin) = self.gate(&info.pod_info.pod) {
            info.unschedulable_plugins = vec![plugin];
            self.unschedulable.insert(key, info);
            return QueueName::Unschedulable;
        }
        self.active.push(info);
        QueueName::Active
    }

    /// A queued pod changed. In activeQ/backoffQ it is updated in place; in unschedulablePods
    /// it is moved to backoffQ or activeQ (its change may make it schedulable); not queued, it
    /// is added.
    pub fn update(&mut self, pod: Arc<Pod>) {
        let key = pod_key(&pod);
        if let Some(mut info) = self.active.remove(&key) {
            info.pod_info = PodInfo::new(pod);
            self.active.push(info);
            return;
        }
        if let Some(info) = self.backoff.get_mut(&key) {
            info.pod_info = PodInfo::new(pod);
            return;
        }
        if let Some(mut info) = self.unschedulable.remove(&key) {
            info.pod_info = PodInfo::new(pod);
            self.requeue(info);
            return;
        }
        if !self.in_flight.contains_key(&key) {
            self.add(pod);
        }
    }

    /// A pod was deleted or bound by someone else: forget it.
    pub fn delete(&mut self, key: &str) {
        self.active.remove(key);
        self.backoff.remove(key);
        self.unschedulable.remove(key);
    }

    /// The next pod to schedule, if activeQ has one. Counts an attempt and tracks the pod as
    /// in flight until `done` or `add_unschedulable_if_not_present`.
    pub fn pop(&mut self) -> Option<QueuedPodInfo> {
        let mut info = self.active.pop()?;
        info.attempts += 1;
        self.scheduling_cycle += 1;
        self.in_flight
            .insert(info.pod_info.key(), self.in_flight_events.len());
        Some(info)
    }

    /// Number of pods popped so far (upstream's scheduling cycle).
    pub fn scheduling_cycle(&self) -> u64 {
        self.scheduling_cycle
    }

    /// The pod was scheduled (or given up on): stop tracking it.
    pub fn done(&mut self, key: &str) {
        self.in_flight.remove(key);
        if self.in_flight.is_empty() {
            self.in_flight_events.clear();
        }
    }

    /// How long a pod with this many attempts backs off: initial × 2^(attempts−1), capped.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut duration = self.initial_backoff;
        for _ in 1..attempts {
            if duration > self.max_backoff.saturating_sub(duration) {
                return self.max_backoff;
            }
            duration += duration;
        }
        duration.min(self.max_backoff)
    }

    fn backoff_expiry(&self, info: &QueuedPodInfo) -> Instant {
        info.timestamp + self.backoff_duration(info.attempts)
    }

    fn is_backing_off(&self, info: &QueuedPodInfo) -> bool {
        self.backoff_expiry(info) > self.clock.now()
    }

    fn push_backoff(&mut self, info: QueuedPodInfo) {
        let key = info.pod_info.key();
        self.backoff_sequence += 1;
        self.backoff_order.push(Reverse((
            self.backoff_expiry(&info),
            self.backoff_sequence,
            key.clone(),
        )));
        self.backoff.insert(key, info);
    }

    /// Back to unschedulablePods while gated; to backoffQ while backing off; else activeQ.
    /// A pod held back only by PreEnqueue never tried, so it does not back off.
    fn requeue(&mut self, mut info: QueuedPodInfo) -> QueueName {
        if let Some(plugin) = self.gate(&info.pod_info.pod) {
            info.unschedulable_plugins = vec![plugin];
            self.unschedulable.insert(info.pod_info.key(), info);
            return QueueName::Unschedulable;
        }
        if info.attempts == 0 {
            self.active.push(info);
            return QueueName::Active;
        }
        if self.is_backing_off(&info) {
            self.push_backoff(info);
            QueueName::Backoff
        } else {
            self.active.push(info);
            QueueName::Active
        }
    }

    /// Whether `event` may make a pod rejected by these plugins schedulable. A pod that failed
    /// with an error (no rejecting plugin) is retried on any event.
    fn worth_requeuing(&self, info: &QueuedPodInfo, event: &ClusterEvent) -> bool {
        if info.unschedulable_plugins.is_empty() {
            return true;
        }
        info.unschedulable_plugins.iter().any(|plugin| {
            self.plugin_events
                .get(*plugin)
                .is_some_and(|events| events.iter().any(|e| e.covers(event)))
        })
    }

    /// A popped pod could not be scheduled; `info.unschedulable_plugins` says which plugins
    /// rejected it (empty after an error). It goes to unschedulablePods, unless an event it
    /// cares about arrived while it was being scheduled or it failed with an error: then to
    /// backoffQ (or activeQ if its backoff is already over).
    pub fn add_unschedulable_if_not_present(
        &mut self,
        mut info: QueuedPodInfo,
    ) -> Result<QueueName, QueueError> {
        let key = info.pod_info.key();
        if let Some(queue) = self.queue_of(&key) {
            return Err(QueueError::AlreadyQueued(key, queue));
        }
        info.timestamp = self.clock.now();
        let since = self
            .in_flight
            .get(&key)
            .copied()
            .unwrap_or(self.in_flight_events.len());
        let missed_event = self.in_flight_events[since.min(self.in_flight_events.len())..]
            .iter()
            .any(|e| self.worth_requeuing(&info, e));
        self.done(&key);
        if info.failed_with_error || info.unschedulable_plugins.is_empty() || missed_event {
            return Ok(self.requeue(info));
        }
        self.unschedulable.insert(key, info);
        Ok(QueueName::Unschedulable)
    }

    /// A cluster event happened: pods in unschedulablePods that one of their rejecting plugins
    /// says may now fit go to backoffQ or activeQ. Returns how many moved.
    pub fn move_all_to_active_or_backoff(&mut self, event: ClusterEvent) -> usize {
        if !self.in_flight.is_empty() {
            self.in_flight_events.push(event);
        }
        let keys: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|(_, info)| self.worth_requeuing(info, &event))
            .map(|(k, _)| k.clone())
            .collect();
        self.requeue_keys(&keys)
    }

    fn requeue_keys(&mut self, keys: &[String]) -> usize {
        let mut moved = 0;
        for key in keys {
            if let Some(info) = self.unschedulable.remove(key)
                && self.requeue(info) != QueueName::Unschedulable
            {
                moved += 1;
            }
        }
        moved
    }

    /// Moves pods whose backoff is over from backoffQ to activeQ (upstream: every second).
    pub fn flush_backoff_completed(&mut self) -> usize {
        let now = self.clock.now();
        let mut moved = 0;
        while let Some(Reverse((expiry, _, key))) = self.backoff_order.peek() {
            if *expiry > now {
                break;
            }
            let key = key.clone();
            self.backoff_order.pop();
            let Some(info) = self.backoff.get(&key) else {
                continue;
            };
            if self.backoff_expiry(info) > now {
                continue;
            }
            if let Some(info) = self.backoff.remove(&key) {
                self.active.push(info);
                moved += 1;
            }
        }
        moved
    }

    /// When the next pod in backoffQ becomes ready, so the caller knows how long to wait.
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff
            .values()
            .map(|info| self.backoff_expiry(info))
            .min()
    }

    /// Retries pods that waited in unschedulablePods longer than the maximum (5 minutes)
    /// (upstream: checked every 30 s).
    pub fn flush_unschedulable_left_over(&mut self) -> usize {
        let now = self.clock.now();
        let keys: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|(_, info)| {
                now.saturating_duration_since(info.timestamp) > self.max_in_unschedulable
            })
            .map(|(k, _)| k.clone())
            .collect();
        self.requeue_keys(&keys)
    }

    /// (activeQ, backoffQ, unschedulablePods) sizes.
    pub fn lens(&self) -> (usize, usize, usize) {
        (
            self.active.len(),
            self.backoff.len(),
            self.unschedulable.len(),
        )
    }

    /// The pods waiting in any sub-queue.
    pub fn pending_pods(&self) -> Vec<Arc<Pod>> {
        self.active
            .items
            .iter()
            .chain(self.backoff.values())
            .chain(self.unschedulable.values())
            .map(|info| info.pod_info.pod.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
