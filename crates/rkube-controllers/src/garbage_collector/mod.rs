//! The garbage collector: deletes objects whose owners are gone, and carries out the
//! Foreground and Orphan deletion policies, as upstream's garbage collector does.
//!
//! Monitors (one metadata watch per listable, deletable resource type, found by discovery and
//! refreshed when CRDs change) feed the ownership [`graph`]; each change yields work keys for
//! the [`WorkQueue`]; workers ([`worker`]) re-read current state through the API and act:
//! delete a dependent whose owners are all gone (Background; the dependent's own finalizers
//! choose its policy), remove references to gone owners when others remain, delete the
//! dependents of a Foreground-deleting owner and drop its `foregroundDeletion` finalizer when
//! no blocking dependent remains, or strip an Orphan-deleting owner from its dependents and
//! drop its `orphan` finalizer.

pub mod graph;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

pub use crate::resources::Resource;
use crate::resources::{KindIndex, Served};
use crate::work_queue::WorkQueue;
use graph::{Graph, Observed, OwnerRef, Work};

/// How often discovery runs to notice new or removed resource types.
const REDISCOVERY_INTERVAL: Duration = Duration::from_secs(30);
/// How long workers wait for every monitor's first list before they start anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(20);
/// Parallel workers.
const WORKERS: usize = 4;

/// Errors of one unit of garbage-collection work (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API request failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done.
        action: String,
        /// The failure.
        #[source]
        source: kube::Error,
    },
    /// An owner reference names a kind the server does not serve (yet).
    #[error("unknown owner kind {kind} in {api_version}")]
    UnknownKind {
        /// The reference's apiVersion.
        api_version: String,
        /// The reference's kind.
        kind: String,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// State shared by monitors and workers.
pub(crate) struct Shared {
    pub(crate) client: Client,
    graph: Mutex<Graph>,
    pub(crate) queue: Arc<WorkQueue<Work>>,
    kinds: RwLock<KindIndex>,
    rediscover: Notify,
}

impl Shared {
    pub(crate) fn graph(&self) -> MutexGuard<'_, Graph> {
        match self.graph.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub(crate) fn kinds(&self) -> KindIndex {
        match self.kinds.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn enqueue(&self, work: Vec<Work>) {
        for w in work {
            self.queue.add(w);
        }
    }
}

/// Runs the garbage collector until `shutdown` fires.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let shared = Arc::new(Shared {
        client,
        graph: Mutex::new(Graph::default()),
        queue: WorkQueue::new(),
        kinds: RwLock::new(KindIndex::default()),
        rediscover: Notify::new(),
    });
    let (synced_tx, synced_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for n in 0..WORKERS {
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        let mut synced = synced_rx.clone();
        workers.push(tokio::spawn(
            async move {
                // Decide nothing before every monitor has listed once: an owner listed later
                // would otherwise look absent.
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = synced.wait_for(|s| *s) => if r.is_err() { return },
                }
                worker::run(shared, shutdown).await;
            }
            .instrument(info_span!("gc-worker", n)),
        ));
    }
    monitor_resources(shared, shutdown, synced_tx).await;
    for w in workers {
        let _ = w.await;
    }
}

/// Keeps one watch per collectable resource type, following discovery.
async fn monitor_resources(
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    synced: tokio::sync::watch::Sender<bool>,
) {
    let mut monitors: HashMap<String, (CancellationToken, tokio::task::JoinHandle<()>)> =
        HashMap::new();
    let mut first = true;
    loop {
        match crate::resources::discover(&shared.client).await {
            Ok(served) => {
                *match shared.kinds.write() {
                    Ok(k) => k,
                    Err(poisoned) => poisoned.into_inner(),
                } = KindIndex::new(&served);
                let wanted: Vec<Served> = served.into_iter().filter(collectable).collect();
                let keys: HashSet<String> = wanted.iter().map(|s| s.resource.key()).collect();
                let gone: Vec<String> = monitors
                    .keys()
                    .filter(|k| !keys.contains(*k))
                    .cloned()
                    .collect();
                for key in gone {
                    if let Some((cancel, task)) = monitors.remove(&key) {
                        cancel.cancel();
                        let _ = task.await;
                    }
                    let work = shared.graph().forget_resource(&key);
                    shared.enqueue(work);
                    info!(resource = %key, "stopped monitoring");
                }
                let mut pending = Vec::new();
                for s in wanted {
                    let key = s.resource.key();
                    if monitors.contains_key(&key) {
                        continue;
                    }
                    let cancel = shutdown.child_token();
                    let (listed_tx, listed_rx) = tokio::sync::oneshot::channel();
                    let task = tokio::spawn(
                        monitor(
                            shared.clone(),
                            s.resource.clone(),
                            cancel.clone(),
                            listed_tx,
                        )
                        .instrument(info_span!("gc-monitor", resource = %key)),
                    );
                    pending.push(listed_rx);
                    monitors.insert(key, (cancel, task));
                }
                if first {
                    first = false;
                    let shutdown = shutdown.clone();
                    let synced = synced.clone();
                    let count = pending.len();
                    tokio::spawn(
                        async move {
                            let all = futures_util::future::join_all(pending);
                            tokio::select! {
                                _ = shutdown.cancelled() => return,
                                _ = all => {}
                                _ = tokio::time::sleep(SYNC_TIMEOUT) => {
                                    warn!("some resource types did not list in time; collecting anyway");
                                }
                            }
                            info!(resources = count, "garbage collector synced");
                            let _ = synced.send(true);
                        }
                        .instrument(info_span!("gc-sync")),
                    );
                }
            }
            Err(e) => warn!(error = %e, "discovery failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(REDISCOVERY_INTERVAL) => {}
            _ = shared.rediscover.notified() => {
                // Let a new CRD become established before looking.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    for (_, (cancel, task)) in monitors {
        cancel.cancel();
        let _ = task.await;
    }
}

/// Resource types the collector watches: listable, watchable, deletable; events excluded as
/// upstream does.
fn collectable(s: &Served) -> bool {
    let r = &s.resource.api;
    s.supports(&["list", "watch", "delete"])
        && !(r.plural == "events" && (r.group.is_empty() || r.group == "events.k8s.io"))
}

/// Watches the metadata of one resource type into the graph.
async fn monitor(
    shared: Arc<Shared>,
    resource: Arc<Resource>,
    cancel: CancellationToken,
    listed: tokio::sync::oneshot::Sender<()>,
) {
    let api: Api<PartialObjectMeta<DynamicObject>> =
        Api::all_with(shared.client.clone(), &resource.api);
    let key = resource.key();
    let is_crd = resource.api.group == "apiextensions.k8s.io"
        && resource.api.plural == "customresourcedefinitions";
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut listed = Some(listed);
    let mut relisted: Option<HashSet<String>> = None;
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return,
            e = stream.next() => e,
        };
        let Some(event) = event else { return };
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                debug!(error = %e, "watch failed; retrying");
                continue;
            }
        };
        let work = match event {
            Event::Init => {
                relisted = Some(HashSet::new());
                Vec::new()
            }
            Event::InitApply(obj) => {
                let observed = observed(&resource, &obj.metadata);
                if let (Some(set), Some(o)) = (relisted.as_mut(), &observed) {
                    set.insert(o.uid.clone());
                }
                observed
                    .map(|o| shared.graph().observe(o))
                    .unwrap_or_default()
            }
            Event::InitDone => {
                let set = relisted.take().unwrap_or_default();
                let work = shared.graph().retain_listed(&key, &set);
                if let Some(tx) = listed.take() {
                    let _ = tx.send(());
                }
                work
            }
            Event::Apply(obj) => {
                if is_crd {
                    shared.rediscover.notify_one();
                }
                observed(&resource, &obj.metadata)
                    .map(|o| shared.graph().observe(o))
                    .unwrap_or_default()
            }
            Event::Delete(obj) => {
                if is_crd {
                    shared.rediscover.notify_one();
                }
                match obj.metadata.uid.as_deref() {
                    Some(uid) => shared.graph().remove(uid),
                    None => Vec::new(),
                }
            }
        };
        shared.enqueue(work);
    }
}

/// The graph's view of an object's metadata; `None` without a uid.
fn observed(resource: &Arc<Resource>, meta: &ObjectMeta) -> Option<Observed> {
    let uid = meta.uid.clone()?;
    Some(Observed {
        resource: resource.clone(),
        namespace: meta.namespace.clone().filter(|n| !n.is_empty()),
        name: meta.name.clone().unwrap_or_default(),
        uid,
        owners: meta
            .owner_references
            .iter()
            .flatten()
            .map(|o| OwnerRef {
                uid: o.uid.clone(),
                api_version: o.api_version.clone(),
                kind: o.kind.clone(),
                name: o.name.clone(),
                block_owner_deletion: o.block_owner_deletion == Some(true),
            })
            .collect(),
        being_deleted: meta.deletion_timestamp.is_some(),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
    })
}
