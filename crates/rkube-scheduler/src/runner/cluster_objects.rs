//! The objects besides Pods and Nodes that plugins read (upstream's extra informers):
//! Namespaces for `namespaceSelector` (InterPodAffinity), PodDisruptionBudgets for preemption,
//! and the Services, ReplicationControllers, ReplicaSets and StatefulSets whose selectors make
//! up PodTopologySpread's default constraints. Each is a kube-rs reflector fed by its own watch
//! task; [`ClusterObjects::prepare`] puts what a cycle needs into its `CycleState`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, ReplicationController, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::runtime::{WatchStreamExt, watcher::Config};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::affinity::{NAMESPACE_LABELS_KEY, NamespaceLabels, label_selector_matches};
use crate::framework::CycleState;
use crate::plugins::default_preemption::{PDBS_KEY, PodDisruptionBudgets};
use crate::plugins::pod_topology_spread::{DEFAULT_SELECTOR_KEY, DefaultSpreadSelector};

/// A reflector's store and a counter of the changes it has seen.
struct Reflected<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    changes: Arc<AtomicU64>,
}

impl<K> Reflected<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Starts watching every `K` until `shutdown`.
    fn spawn(client: &Client, shutdown: &CancellationToken) -> Reflected<K> {
        let (store, writer) = reflector::store();
        let changes = Arc::new(AtomicU64::new(0));
        let stream = watcher(Api::<K>::all(client.clone()), Config::default())
            .default_backoff()
            .modify(|object| object.meta_mut().managed_fields = None)
            .reflect(writer);
        let counter = changes.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    event = stream.next() => match event {
                        None => break,
                        Some(Ok(_)) => {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(Err(e)) => tracing::debug!(error = %e, "watch failed; retrying"),
                    },
                }
            }
        });
        Reflected { store, changes }
    }
}

impl<K: Resource<DynamicType = ()> + 'static> Reflected<K> {
    /// How many watch events the reflector has applied.
    fn changes_seen(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }
}

/// A value derived from a reflector, rebuilt only when the reflector changed.
struct Derived<T> {
    version: Option<u64>,
    value: T,
}

impl<T: Clone + Default> Derived<T> {
    fn new() -> Derived<T> {
        Derived {
            version: None,
            value: T::default(),
        }
    }

    fn get<K>(&mut self, source: &Reflected<K>, build: impl FnOnce(&Store<K>) -> T) -> T
    where
        K: Resource<DynamicType = ()> + Clone + 'static,
    {
        let version = source.changes_seen();
        if self.version != Some(version) {
            self.value = build(&source.store);
            self.version = Some(version);
        }
        self.value.clone()
    }
}

/// The watched objects and what is derived from them.
pub struct ClusterObjects {
    namespaces: Reflected<Namespace>,
    pdbs: Reflected<PodDisruptionBudget>,
    services: Reflected<Service>,
    replication_controllers: Reflected<ReplicationController>,
    replica_sets: Reflected<ReplicaSet>,
    stateful_sets: Reflected<StatefulSet>,
    namespace_labels: Derived<NamespaceLabels>,
    pdb_list: Derived<PodDisruptionBudgets>,
}

impl Debug for ClusterObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterObjects")
            .field("namespaces", &self.namespaces.store.len())
            .field("pdbs", &self.pdbs.store.len())
            .finish_non_exhaustive()
    }
}

impl ClusterObjects {
    /// Starts the watches.
    pub fn spawn(client: &Client, shutdown: &CancellationToken) -> ClusterObjects {
        ClusterObjects {
            namespaces: Reflected::spawn(client, shutdown),
            pdbs: Reflected::spawn(client, shutdown),
            services: Reflected::spawn(client, shutdown),
            replication_controllers: Reflected::spawn(client, shutdown),
            replica_sets: Reflected::spawn(client, shutdown),
            stateful_sets: Reflected::spawn(client, shutdown),
            namespace_labels: Derived::new(),
            pdb_list: Derived::new(),
        }
    }

    /// Waits until every watch has listed once (or `shutdown` fires).
    pub async fn wait_until_ready(&self, shutdown: &CancellationToken) {
        let all = async {
            let _ = self.namespaces.store.wait_until_ready().await;
            let _ = self.pdbs.store.wait_until_ready().await;
            let _ = self.services.store.wait_until_ready().await;
            let _ = self.replication_controllers.store.wait_until_ready().await;
            let _ = self.replica_sets.store.wait_until_ready().await;
            let _ = self.stateful_sets.store.wait_until_ready().await;
        };
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = all => {}
        }
    }

    /// Writes the namespace labels, the PodDisruptionBudgets and (for a pod without its own
    /// spread constraints) the default spread selector into a cycle's state.
    pub fn prepare(&mut self, state: &mut CycleState, pod: &Pod) {
        let labels = self.namespace_labels.get(&self.namespaces, |store| {
            NamespaceLabels(Arc::new(
                store
                    .state()
                    .iter()
                    .filter_map(|ns| {
                        let name = ns.metadata.name.clone()?;
                        Some((name, ns.metadata.labels.clone().unwrap_or_default()))
                    })
                    .collect::<HashMap<_, _>>(),
            ))
        });
        state.write(NAMESPACE_LABELS_KEY, labels);
        let pdbs = self.pdb_list.get(&self.pdbs, |store| {
            PodDisruptionBudgets(Arc::new(
                store
                    .state()
                    .iter()
                    .map(|p| PodDisruptionBudget::clone(p))
                    .collect(),
            ))
        });
        state.write(PDBS_KEY, pdbs);
        let has_constraints = pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .is_some_and(|c| !c.is_empty());
        if !has_constraints {
            state.write(
                DEFAULT_SELECTOR_KEY,
                DefaultSpreadSelector(self.default_selector(pod)),
            );
        }
    }

    /// Upstream's `helper.DefaultSelector`: the labels of the Services and
    /// ReplicationControllers selecting the pod, plus the requirements of the ReplicaSets and
    /// StatefulSets selecting it, in the pod's namespace.
    fn default_selector(&self, pod: &Pod) -> LabelSelector {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let labels = pod.metadata.labels.as_ref();
        let mut selector = DefaultSelectorBuilder::default();
        for service in self.services.store.state() {
            if service.metadata.namespace.as_deref() == Some(namespace) {
                selector.add_map(
                    service.spec.as_ref().and_then(|s| s.selector.as_ref()),
                    labels,
                );
            }
        }
        for rc in self.replication_controllers.store.state() {
            if rc.metadata.namespace.as_deref() == Some(namespace) {
                selector.add_map(rc.spec.as_ref().and_then(|s| s.selector.as_ref()), labels);
            }
        }
        for rs in self.replica_sets.store.state() {
            if rs.metadata.namespace.as_deref() == Some(namespace) {
                selector.add_selector(rs.spec.as_ref().map(|s| &s.selector), labels);
            }
        }
        for set in self.stateful_sets.store.state() {
            if set.metadata.namespace.as_deref() == Some(namespace) {
                selector.add_selector(set.spec.as_ref().map(|s| &s.selector), labels);
            }
        }
        selector.0
    }
}

/// Merges the selectors of the objects that select a pod.
#[derive(Default)]
struct DefaultSelectorBuilder(LabelSelector);

impl DefaultSelectorBuilder {
    /// A map selector (Service, ReplicationController): empty or absent selects nothing.
    fn add_map(
        &mut self,
        selector: Option<&BTreeMap<String, String>>,
        labels: Option<&BTreeMap<String, String>>,
    ) {
        let Some(selector) = selector.filter(|s| !s.is_empty()) else {
            return;
        };
        if selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            let merged = self.0.match_labels.get_or_insert_with(BTreeMap::new);
            merged.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    /// A label selector (ReplicaSet, StatefulSet): an empty one selects nothing.
    fn add_selector(
        &mut self,
        selector: Option<&LabelSelector>,
        labels: Option<&BTreeMap<String, String>>,
    ) {
        let Some(selector) = selector else {
            return;
        };
        let empty = selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && selector
                .match_expressions
                .as_ref()
                .is_none_or(|m| m.is_empty());
        if empty || !label_selector_matches(selector, labels) {
            return;
        }
        if let Some(m) = &selector.match_labels {
            let merged = self.0.match_labels.get_or_insert_with(BTreeMap::new);
            merged.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(e) = &selector.match_expressions {
            self.0
                .match_expressions
                .get_or_insert_with(Vec::new)
                .extend(e.iter().cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn merges_the_selectors_that_select_the_pod() {
        let labels = map(&[("app", "web"), ("tier", "front")]);
        let mut builder = DefaultSelectorBuilder::default();
        builder.add_map(Some(&map(&[("app", "web")])), Some(&labels));
        builder.add_map(Some(&map(&[("app", "db")])), Some(&labels));
        builder.add_map(Some(&BTreeMap::new()), Some(&labels));
        builder.add_selector(Some(&LabelSelector::default()), Some(&labels));
        let rs = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["front".into()]),
            }]),
            ..LabelSelector::default()
        };
        builder.add_selector(Some(&rs), Some(&labels));
        assert_eq!(builder.0.match_labels, Some(map(&[("app", "web")])));
        assert_eq!(builder.0.match_expressions.map(|e| e.len()), Some(1));
    }

    #[test]
    fn selects_nothing_when_nothing_selects_the_pod() {
        let mut builder = DefaultSelectorBuilder::default();
        builder.add_map(Some(&map(&[("app", "web")])), None);
        assert_eq!(builder.0, LabelSelector::default());
    }
}
