//! The scheduler's I/O loop (upstream's `Scheduler.Run` with its informers): the only part of
//! this crate that talks to the API. Watchers on Pods and Nodes keep a [`SchedulerCache`]
//! current; one loop pops pods from the queue, runs the pure [`SchedulingAlgorithm`] against the
//! cache's snapshot, assumes the pod onto the chosen node at once, and hands the binding (POST
//! `pods/{name}/binding`) and the `Scheduled` event to a task, so the next pod is scheduled
//! while the previous one is being bound. A pod that does not fit gets a `FailedScheduling`
//! event and the `PodScheduled=False` condition, and waits in the queue for a cluster event,
//! its backoff, or the unschedulable timeout.
//!
//! Everything talks to the cluster through a `kube::Client`, in-process or remote alike.

pub mod api_writes;
pub mod cache;
pub mod cluster_objects;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::algorithm::{ScheduleError, SchedulingAlgorithm};
use crate::config::SchedulerConfiguration;
use crate::framework::{CycleState, QueuedPodInfo, Status, StatusCode};
use crate::node_info::{PodInfo, pod_key};
use crate::plugins::default_preemption::{PREEMPTION_OUTCOME_KEY, PreemptionOutcome};
use crate::profile::{Profile, ProfileError, Profiles};
use crate::queue::{SchedulingQueue, SystemClock};
use crate::registry::Registry;
pub use cache::SchedulerCache;
use cluster_objects::ClusterObjects;

/// How often pods whose backoff expired move to activeQ (upstream: 1 s).
pub const BACKOFF_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How often pods unschedulable for too long are retried (upstream: 30 s).
pub const UNSCHEDULABLE_FLUSH_INTERVAL: Duration = Duration::from_secs(30);
/// Bindings in flight at once.
pub const MAX_CONCURRENT_BINDINGS: usize = 256;

/// Why the scheduler cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration's profiles could not be built.
    #[error("building scheduler profiles: {0}")]
    Profiles(#[source] ProfileError),
    /// The configuration has no profile to take the queue order from.
    #[error("the scheduler configuration has no profile")]
    NoProfile,
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds the scheduler from `config` with the in-tree plugins and runs it until `shutdown`.
pub async fn run(
    client: Client,
    config: SchedulerConfiguration,
    shutdown: CancellationToken,
) -> Result<()> {
    let scheduler = Scheduler::new(&config, &Registry::in_tree())?;
    scheduler.run(client, shutdown).await;
    Ok(())
}

/// What a binding task reports back to the loop.
struct BindOutcome {
    info: QueuedPodInfo,
    node: String,
    scheduler_name: String,
    result: Result<(), kube::Error>,
}

/// A scheduler ready to run: profiles, algorithm state and cache.
pub struct Scheduler {
    profiles: Arc<Profiles>,
    algorithm: SchedulingAlgorithm,
    cache: SchedulerCache,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Builds the profiles of `config` from `registry` and an empty cache and queue.
    pub fn new(config: &SchedulerConfiguration, registry: &Registry) -> Result<Scheduler> {
        let profiles = Arc::new(Profiles::build(config, registry).map_err(Error::Profiles)?);
        let sort = profiles
            .names()
            .next()
            .and_then(|name| profiles.get(name))
            .map(|p| p.queue_sort.clone())
            .ok_or(Error::NoProfile)?;
        let queue = SchedulingQueue::new(Arc::new(SystemClock), sort, profiles.plugin_events())
            .with_backoff(profiles.pod_initial_backoff, profiles.pod_max_backoff)
            .with_pre_enqueue(profiles.pre_enqueue_plugins());
        Ok(Scheduler {
            algorithm: SchedulingAlgorithm::new(
                profiles.percentage_of_nodes_to_score,
                seed_from_time(),
            ),
            cache: SchedulerCache::new(profiles.clone(), queue),
            profiles,
        })
    }

    /// Watches Pods and Nodes and schedules until `shutdown` fires.
    pub async fn run(mut self, client: Client, shutdown: CancellationToken) {
        let names: Vec<&str> = self.profiles.names().collect();
        info!(profiles = ?names, "scheduler starting");
        let mut objects = ClusterObjects::spawn(&client, &shutdown);
        objects.wait_until_ready(&shutdown).await;
        // Like upstream's informers, the cache keeps no managedFields: they are most of an
        // object's size and nothing here reads them.
        let pods = watcher::watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .modify(|pod| pod.metadata.managed_fields = None);
        let nodes = watcher::watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .modify(|node| node.metadata.managed_fields = None);
        let mut pods = std::pin::pin!(pods);
        let mut nodes = std::pin::pin!(nodes);
        let mut pods_relist = Relist::default();
        let mut nodes_relist = Relist::default();
        let (outcome_tx, mut outcome_rx) = mpsc::channel::<BindOutcome>(MAX_CONCURRENT_BINDINGS);
        let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_BINDINGS));
        let mut backoff_flush = tokio::time::interval(BACKOFF_FLUSH_INTERVAL);
        backoff_flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut unschedulable_flush = tokio::time::interval(UNSCHEDULABLE_FLUSH_INTERVAL);
        unschedulable_flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let ready = pods_relist.synced
                && nodes_relist.synced
                && self.cache.queue.lens().0 > 0
                && permits.available_permits() > 0;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                event = pods.next() => match event {
                    None => break,
                    Some(Err(e)) => debug!(error = %e, "pod watch failed; retrying"),
                    Some(Ok(event)) => self.on_pod_event(event, &mut pods_relist),
                },
                event = nodes.next() => match event {
                    None => break,
                    Some(Err(e)) => debug!(error = %e, "node watch failed; retrying"),
                    Some(Ok(event)) => self.on_node_event(event, &mut nodes_relist),
                },
                Some(outcome) = outcome_rx.recv() => self.on_bind_outcome(&client, outcome),
                _ = backoff_flush.tick() => {
                    self.cache.queue.flush_backoff_completed();
                }
                _ = unschedulable_flush.tick() => {
                    self.cache.queue.flush_unschedulable_left_over();
                }
                _ = std::future::ready(()), if ready => {
                    self.schedule_next(&client, &mut objects, &outcome_tx, &permits);
                }
            }
        }
        info!("scheduler stopped");
    }

    fn on_pod_event(&mut self, event: Event<Pod>, relist: &mut Relist) {
        match event {
            Event::Init => relist.start(),
            Event::InitApply(pod) => {
                relist.seen(pod_key(&pod));
                self.cache.apply_pod(pod);
            }
            Event::InitDone => {
                for key in relist.finish(self.cache.pod_keys()) {
                    self.cache.delete_pod(&key);
                }
            }
            Event::Apply(pod) => self.cache.apply_pod(pod),
            Event::Delete(pod) => self.cache.delete_pod(&pod_key(&pod)),
        }
    }

    fn on_node_event(&mut self, event: Event<Node>, relist: &mut Relist) {
        match event {
            Event::Init => relist.start(),
            Event::InitApply(node) => {
                relist.seen(node.metadata.name.clone().unwrap_or_default());
                self.cache.apply_node(node);
            }
            Event::InitDone => {
                for name in relist.finish(self.cache.node_names()) {
                    self.cache.delete_node(&name);
                }
            }
            Event::Apply(node) => self.cache.apply_node(node),
            Event::Delete(node) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    self.cache.delete_node(name);
                }
            }
        }
    }

    /// One scheduling cycle: pop, decide, assume, and start binding (or report the failure).
    fn schedule_next(
        &mut self,
        client: &Client,
        objects: &mut ClusterObjects,
        outcomes: &mpsc::Sender<BindOutcome>,
        permits: &Arc<Semaphore>,
    ) {
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            return;
        };
        let Some(mut info) = self.cache.queue.pop() else {
            return;
        };
        let key = info.pod_info.key();
        let Some(pod) = self.cache.pending_pod(&key).cloned() else {
            self.cache.queue.done(&key);
            return;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            self.cache.queue.done(&key);
            return;
        }
        let Some(profile) = self.profiles.for_pod(&pod).cloned() else {
            self.cache.queue.done(&key);
            return;
        };
        info.pod_info = PodInfo::new(pod.clone());
        let mut state = CycleState::default();
        objects.prepare(&mut state, &pod);
        let result = self
            .algorithm
            .schedule_one(&profile, &mut state, &pod, &self.cache.snapshot);
        let node = match result {
            Ok(result) => result.suggested_host,
            Err(error) => {
                let preemption = state.read::<PreemptionOutcome>(PREEMPTION_OUTCOME_KEY);
                if let Some(outcome) = preemption {
                    let outcome = outcome.clone();
                    for displaced in &outcome.displaced_nominations {
                        self.cache.nominate(displaced, "");
                    }
                    spawn_preemption(client, &pod, outcome, &profile.scheduler_name);
                }
                self.handle_failure(client, info, &profile.scheduler_name, error);
                return;
            }
        };
        self.cache.assume(&pod, &node);
        let status = run_binding_plugins(&profile, &mut state, &pod, &node);
        if !status.is_success() && !status.is_skip() {
            self.cache.forget(&key);
            self.cache.restore_pending(pod.clone());
            profile.run_unreserve_plugins(&mut state, &pod, &node);
            let error = if status.is_rejected() {
                info.unschedulable_plugins = status.plugin().into_iter().collect();
                status.message()
            } else {
                info.failed_with_error = true;
                status.message()
            };
            self.requeue(info);
            spawn_failure_report(client, pod, &profile.scheduler_name, error, None, false);
            return;
        }
        self.cache.queue.done(&key);
        let bound_by_plugin = status.is_success();
        if bound_by_plugin {
            profile.run_post_bind_plugins(&mut state, &pod, &node);
        }
        let client = client.clone();
        let outcomes = outcomes.clone();
        let scheduler_name = profile.scheduler_name.clone();
        tokio::spawn(
            async move {
                let result = if bound_by_plugin {
                    Ok(())
                } else {
                    api_writes::bind(&client, &pod, &node).await
                };
                if result.is_ok() {
                    let message = format!("Successfully assigned {key} to {node}");
                    if let Err(e) = api_writes::record_event(
                        &client,
                        &pod,
                        &scheduler_name,
                        api_writes::EVENT_TYPE_NORMAL,
                        api_writes::REASON_SCHEDULED,
                        message,
                    )
                    .await
                    {
                        debug!(pod = %key, error = %e, "recording the Scheduled event failed");
                    }
                }
                drop(permit);
                let _ = outcomes
                    .send(BindOutcome {
                        info,
                        node,
                        scheduler_name,
                        result,
                    })
                    .await;
            }
            .instrument(info_span!("bind")),
        );
    }

    /// Puts a pod that failed back into the queue per the queue's rules.
    fn requeue(&mut self, info: QueuedPodInfo) {
        let key = info.pod_info.key();
        if let Err(e) = self.cache.queue.add_unschedulable_if_not_present(info) {
            debug!(pod = %key, error = %e, "not requeued");
        }
    }

    fn handle_failure(
        &mut self,
        client: &Client,
        mut info: QueuedPodInfo,
        scheduler_name: &str,
        error: ScheduleError,
    ) {
        let pod = info.pod_info.pod.clone();
        let message = error.to_string();
        let mut nominated = None;
        let mut scheduler_error = false;
        match error {
            ScheduleError::Fit(fit) => {
                info.unschedulable_plugins = fit
                    .diagnosis
                    .unschedulable_plugins
                    .iter()
                    .copied()
                    .collect();
                nominated = fit.nominated_node_name;
            }
            ScheduleError::NoNodesAvailable => {}
            ScheduleError::Plugin(status) => {
                warn!(pod = %info.pod_info.key(), error = %status.message(), "scheduling failed");
                info.failed_with_error = true;
                scheduler_error = true;
            }
        }
        debug!(pod = %info.pod_info.key(), %message, "unschedulable");
        if let Some(node) = &nominated {
            self.cache.nominate(&pod, node);
        }
        self.requeue(info);
        spawn_failure_report(
            client,
            pod,
            scheduler_name,
            message,
            nominated,
            scheduler_error,
        );
    }

    fn on_bind_outcome(&mut self, client: &Client, outcome: BindOutcome) {
        let BindOutcome {
            mut info,
            node,
            scheduler_name,
            result,
        } = outcome;
        let Err(error) = result else {
            return;
        };
        let key = info.pod_info.key();
        let still_assumed = self.cache.forget(&key);
        let gone = matches!(&error, kube::Error::Api(s) if s.code == 404 || s.code == 409);
        warn!(pod = %key, %node, error = %error, "binding failed");
        if !still_assumed || gone {
            return;
        }
        let pod = info.pod_info.pod.clone();
        self.cache.restore_pending(pod.clone());
        info.failed_with_error = true;
        self.requeue(info);
        spawn_failure_report(
            client,
            pod,
            &scheduler_name,
            format!("Binding rejected: {error}"),
            None,
            true,
        );
    }
}

/// Reserve, Permit, PreBind and Bind plugins, run at once (they are synchronous in this
/// framework). Skip means no Bind plugin bound the pod: the runner binds through the API, as
/// upstream's DefaultBinder does.
fn run_binding_plugins(profile: &Profile, state: &mut CycleState, pod: &Pod, node: &str) -> Status {
    let status = profile.run_reserve_plugins(state, pod, node);
    if !status.is_success() {
        return status;
    }
    let (status, _) = profile.run_permit_plugins(state, pod, node);
    match status.code() {
        StatusCode::Success => {}
        // Waiting pods (gang scheduling) are not supported by this runner yet.
        StatusCode::Wait => {
            return Status::error("waiting on a Permit plugin is not supported")
                .with_plugin(status.plugin().unwrap_or("Permit"));
        }
        _ => return status,
    }
    let status = profile.run_pre_bind_plugins(state, pod, node);
    if !status.is_success() {
        return status;
    }
    profile.run_bind_plugins(state, pod, node)
}

/// Evicts the victims of a preemption and clears the nominations it displaced, in parallel, in
/// the background.
fn spawn_preemption(
    client: &Client,
    preemptor: &Arc<Pod>,
    outcome: PreemptionOutcome,
    scheduler_name: &str,
) {
    for displaced in outcome.displaced_nominations {
        let client = client.clone();
        tokio::spawn(
            async move {
                if let Err(e) = api_writes::clear_nomination(&client, &displaced).await {
                    warn!(pod = %pod_key(&displaced), error = %e, "clearing a nomination failed");
                }
            }
            .instrument(info_span!("clear_nomination")),
        );
    }
    for victim in outcome.victims {
        let client = client.clone();
        let preemptor = preemptor.clone();
        let node = outcome.node_name.clone();
        let scheduler_name = scheduler_name.to_string();
        tokio::spawn(
            async move {
                let key = pod_key(&victim);
                match api_writes::preempt(&client, &victim, &preemptor, &node, &scheduler_name)
                    .await
                {
                    Ok(()) => {
                        info!(preemptor = %pod_key(&preemptor), victim = %key, %node, "preempted")
                    }
                    Err(e) => warn!(victim = %key, error = %e, "preempting a pod failed"),
                }
            }
            .instrument(info_span!("preempt")),
        );
    }
}

/// Emits `FailedScheduling` and sets `PodScheduled=False` in the background.
fn spawn_failure_report(
    client: &Client,
    pod: Arc<Pod>,
    scheduler_name: &str,
    message: String,
    nominated: Option<String>,
    scheduler_error: bool,
) {
    let client = client.clone();
    let scheduler_name = scheduler_name.to_string();
    tokio::spawn(
        async move {
            let key = pod_key(&pod);
            if let Err(e) = api_writes::record_event(
                &client,
                &pod,
                &scheduler_name,
                api_writes::EVENT_TYPE_WARNING,
                api_writes::REASON_FAILED_SCHEDULING,
                message.clone(),
            )
            .await
            {
                debug!(pod = %key, error = %e, "recording the FailedScheduling event failed");
            }
            let reason = if scheduler_error {
                api_writes::CONDITION_REASON_SCHEDULER_ERROR
            } else {
                api_writes::CONDITION_REASON_UNSCHEDULABLE
            };
            if let Err(e) = api_writes::mark_unschedulable(
                &client,
                &pod,
                reason,
                &message,
                nominated.as_deref(),
            )
            .await
            {
                debug!(pod = %key, error = %e, "updating the PodScheduled condition failed");
            }
        }
        .instrument(info_span!("failed-scheduling")),
    );
}

/// Tracks the keys seen during a (re)list, so objects deleted while the watch was down are
/// dropped when the list completes.
#[derive(Debug, Default)]
struct Relist {
    seen: Option<HashSet<String>>,
    /// Whether one full list has completed.
    synced: bool,
}

impl Relist {
    fn start(&mut self) {
        self.seen = Some(HashSet::new());
    }

    fn seen(&mut self, key: String) {
        if let Some(seen) = self.seen.as_mut() {
            seen.insert(key);
        }
    }

    /// Ends the list: the known keys that were not listed.
    fn finish(&mut self, known: Vec<String>) -> Vec<String> {
        self.synced = true;
        let Some(seen) = self.seen.take() else {
            return Vec::new();
        };
        known.into_iter().filter(|k| !seen.contains(k)).collect()
    }
}

fn seed_from_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relist_reports_unlisted_keys() {
        let mut relist = Relist::default();
        assert!(!relist.synced);
        relist.start();
        relist.seen("a".into());
        let gone = relist.finish(vec!["a".into(), "b".into()]);
        assert_eq!(gone, vec!["b".to_string()]);
        assert!(relist.synced);
    }

    #[test]
    fn builds_from_the_default_configuration() {
        let scheduler = Scheduler::new(&SchedulerConfiguration::default(), &Registry::in_tree())
            .expect("default configuration");
        assert!(
            scheduler
                .profiles
                .get(crate::config::DEFAULT_SCHEDULER_NAME)
                .is_some()
        );
    }
}
