//! The ownership graph: every observed object by uid, its owner references, and for every uid
//! the set of objects that name it as an owner. Pure data: it never does I/O. Each change
//! returns the work it makes necessary, so a change costs time in proportion to the objects it
//! touches, never to the size of the graph.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::Resource;

/// An object's uid.
pub type Uid = String;

/// The finalizer that keeps an owner until its blocking dependents are gone (Foreground).
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer that keeps an owner until its dependents no longer name it (Orphan).
pub const ORPHAN_FINALIZER: &str = "orphan";

/// One entry of `metadata.ownerReferences`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    /// The owner's uid.
    pub uid: Uid,
    /// The owner's apiVersion.
    pub api_version: String,
    /// The owner's kind.
    pub kind: String,
    /// The owner's name.
    pub name: String,
    /// Whether this dependent blocks the owner's foreground deletion.
    pub block_owner_deletion: bool,
}

/// What the graph keeps of an observed object.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The object's resource.
    pub resource: Arc<Resource>,
    /// Namespace (`None` for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: Uid,
    /// Owner references.
    pub owners: Vec<OwnerRef>,
    /// Whether `deletionTimestamp` is set.
    pub being_deleted: bool,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
}

impl Observed {
    /// Being deleted in the foreground: waits for its blocking dependents.
    pub fn deleting_dependents(&self) -> bool {
        self.being_deleted && self.finalizers.iter().any(|f| f == FOREGROUND_FINALIZER)
    }

    /// Being deleted with orphaning: waits for its dependents to be released.
    pub fn orphaning_dependents(&self) -> bool {
        self.being_deleted && self.finalizers.iter().any(|f| f == ORPHAN_FINALIZER)
    }
}

/// Work the graph asks the collector to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Work {
    /// Decide whether the object must go (its owners are gone or deleting), or, for an owner
    /// deleting in the foreground, whether its finalizer can be removed.
    AttemptToDelete(Uid),
    /// Release the dependents of an owner deleting with orphaning, then its finalizer.
    Orphan(Uid),
}

/// A graph node: an observed object, or a uid only known from owner references (virtual).
#[derive(Debug, Default)]
struct Node {
    observed: Option<Observed>,
    /// Verified not to exist (a deleted object, or a failed lookup).
    absent: bool,
    dependents: HashSet<Uid>,
}

/// How the collector sees one owner of a dependent, from the graph alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerState {
    /// Observed and not deleting in the foreground.
    Solid,
    /// Observed and deleting in the foreground.
    WaitingForDependents,
    /// Known to be gone.
    Absent,
    /// Not observed: the collector must look it up.
    Unknown,
}

/// A dependent as its foreground-deleting owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingDependent {
    /// Its uid.
    pub uid: Uid,
    /// Whether it is itself deleting in the foreground.
    pub deleting_dependents: bool,
}

/// The ownership graph.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<Uid, Node>,
    by_resource: HashMap<String, HashSet<Uid>>,
}

impl Graph {
    /// Records an added or changed object; returns the work it causes.
    pub fn observe(&mut self, object: Observed) -> Vec<Work> {
        let uid = object.uid.clone();
        let mut work = Vec::new();
        let previous = self.nodes.get(&uid).and_then(|n| n.observed.clone());
        let old_owners: Vec<OwnerRef> = previous
            .as_ref()
            .map(|p| p.owners.clone())
            .unwrap_or_default();
        for gone in old_owners
            .iter()
            .filter(|o| !object.owners.iter().any(|n| n.uid == o.uid))
        {
            self.unlink(&gone.uid, &uid, &mut work);
        }
        for owner in &object.owners {
            self.nodes
                .entry(owner.uid.clone())
                .or_default()
                .dependents
                .insert(uid.clone());
        }
        // A dependent whose owner is unknown, gone or deleting in the foreground needs a
        // decision; a foreground owner re-counts its blocking dependents.
        let mut attempt_self = false;
        for owner in &object.owners {
            match self.owner_state(&owner.uid) {
                OwnerState::Solid => {}
                OwnerState::WaitingForDependents => {
                    attempt_self = true;
                    work.push(Work::AttemptToDelete(owner.uid.clone()));
                }
                OwnerState::Absent | OwnerState::Unknown => attempt_self = true,
            }
        }
        let was_foreground = previous.as_ref().is_some_and(Observed::deleting_dependents);
        let was_orphaning = previous
            .as_ref()
            .is_some_and(Observed::orphaning_dependents);
        let node = self.nodes.entry(uid.clone()).or_default();
        if object.deleting_dependents() && !was_foreground {
            work.extend(
                node.dependents
                    .iter()
                    .map(|d| Work::AttemptToDelete(d.clone())),
            );
            attempt_self = true;
        }
        if object.orphaning_dependents() && !was_orphaning {
            work.push(Work::Orphan(uid.clone()));
        }
        if attempt_self {
            work.push(Work::AttemptToDelete(uid.clone()));
        }
        self.by_resource
            .entry(object.resource.key())
            .or_default()
            .insert(uid.clone());
        node.absent = false;
        node.observed = Some(object);
        work
    }

    /// Records a deleted object; returns the work it causes.
    pub fn remove(&mut self, uid: &str) -> Vec<Work> {
        let mut work = Vec::new();
        let Some(node) = self.nodes.get_mut(uid) else {
            return work;
        };
        let Some(observed) = node.observed.take() else {
            return work;
        };
        node.absent = true;
        work.extend(
            node.dependents
                .iter()
                .map(|d| Work::AttemptToDelete(d.clone())),
        );
        let keep = !node.dependents.is_empty();
        if !keep {
            self.nodes.remove(uid);
        }
        if let Some(set) = self.by_resource.get_mut(&observed.resource.key()) {
            set.remove(uid);
        }
        for owner in &observed.owners {
            self.unlink(&owner.uid, uid, &mut work);
        }
        work
    }

    /// After a relist of `resource`: removes its objects that the list no longer has.
    pub fn retain_listed(&mut self, resource: &str, listed: &HashSet<Uid>) -> Vec<Work> {
        let stale: Vec<Uid> = self
            .by_resource
            .get(resource)
            .map(|set| set.difference(listed).cloned().collect())
            .unwrap_or_default();
        stale.iter().flat_map(|uid| self.remove(uid)).collect()
    }

    /// Removes every object of a resource that is no longer served.
    pub fn forget_resource(&mut self, resource: &str) -> Vec<Work> {
        self.retain_listed(resource, &HashSet::new())
    }

    fn unlink(&mut self, owner: &str, dependent: &str, work: &mut Vec<Work>) {
        let Some(node) = self.nodes.get_mut(owner) else {
            return;
        };
        node.dependents.remove(dependent);
        match &node.observed {
            Some(o) if o.deleting_dependents() => {
                work.push(Work::AttemptToDelete(owner.to_string()));
            }
            Some(_) => {}
            None if node.dependents.is_empty() => {
                self.nodes.remove(owner);
            }
            None => {}
        }
    }

    /// An observed object.
    pub fn get(&self, uid: &str) -> Option<&Observed> {
        self.nodes.get(uid).and_then(|n| n.observed.as_ref())
    }

    /// What the graph knows about an owner uid.
    pub fn owner_state(&self, uid: &str) -> OwnerState {
        match self.nodes.get(uid) {
            Some(Node {
                observed: Some(o), ..
            }) if o.deleting_dependents() => OwnerState::WaitingForDependents,
            Some(Node {
                observed: Some(_), ..
            }) => OwnerState::Solid,
            Some(Node { absent: true, .. }) => OwnerState::Absent,
            _ => OwnerState::Unknown,
        }
    }

    /// Remembers that a looked-up owner does not exist.
    pub fn mark_absent(&mut self, uid: &str) {
        if let Some(node) = self.nodes.get_mut(uid)
            && node.observed.is_none()
        {
            node.absent = true;
        }
    }

    /// The observed dependents of `owner`.
    pub fn dependents(&self, owner: &str) -> Vec<Observed> {
        self.nodes
            .get(owner)
            .map(|n| {
                n.dependents
                    .iter()
                    .filter_map(|d| self.get(d).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `uid` has any dependents.
    pub fn has_dependents(&self, uid: &str) -> bool {
        self.nodes
            .get(uid)
            .is_some_and(|n| !n.dependents.is_empty())
    }

    /// Dependents whose reference to `owner` has `blockOwnerDeletion: true`.
    pub fn blocking_dependents(&self, owner: &str) -> Vec<BlockingDependent> {
        let Some(node) = self.nodes.get(owner) else {
            return Vec::new();
        };
        node.dependents
            .iter()
            .filter_map(|d| self.get(d))
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|o| o.uid == owner && o.block_owner_deletion)
            })
            .map(|d| BlockingDependent {
                uid: d.uid.clone(),
                deleting_dependents: d.deleting_dependents(),
            })
            .collect()
    }

    /// How many objects (observed or virtual) the graph holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use kube::discovery::ApiResource;

    use super::*;

    fn resource() -> Arc<Resource> {
        Arc::new(Resource {
            api: ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                plural: "configmaps".into(),
            },
            namespaced: true,
        })
    }

    fn object(uid: &str, owners: &[(&str, bool)]) -> Observed {
        Observed {
            resource: resource(),
            namespace: Some("default".into()),
            name: format!("n-{uid}"),
            uid: uid.into(),
            owners: owners
                .iter()
                .map(|(u, block)| OwnerRef {
                    uid: (*u).into(),
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: format!("n-{u}"),
                    block_owner_deletion: *block,
                })
                .collect(),
            being_deleted: false,
            finalizers: Vec::new(),
        }
    }

    fn attempt(uid: &str) -> Work {
        Work::AttemptToDelete(uid.into())
    }

    #[test]
    fn owned_objects_need_no_work_while_the_owner_exists() {
        let mut g = Graph::default();
        assert!(g.observe(object("owner", &[])).is_empty());
        assert!(g.observe(object("dep", &[("owner", false)])).is_empty());
        assert_eq!(g.dependents("owner").len(), 1);
        assert_eq!(g.owner_state("owner"), OwnerState::Solid);
    }

    #[test]
    fn deleting_an_owner_queues_its_dependents_and_keeps_it_as_absent() {
        let mut g = Graph::default();
        g.observe(object("owner", &[]));
        g.observe(object("a", &[("owner", false)]));
        g.observe(object("b", &[("owner", false)]));
        let mut work = g.remove("owner");
        work.sort();
        assert_eq!(work, vec![attempt("a"), attempt("b")]);
        assert_eq!(g.owner_state("owner"), OwnerState::Absent);
        g.remove("a");
        g.remove("b");
        assert!(
            g.is_empty(),
            "virtual owner dropped with its last dependent"
        );
    }

    #[test]
    fn a_dependent_of_an_unknown_owner_is_queued() {
        let mut g = Graph::default();
        assert_eq!(
            g.observe(object("dep", &[("ghost", false)])),
            vec![attempt("dep")]
        );
        assert_eq!(g.owner_state("ghost"), OwnerState::Unknown);
        g.mark_absent("ghost");
        assert_eq!(g.owner_state("ghost"), OwnerState::Absent);
        // The owner shows up after all (watch order): it is solid again.
        g.observe(object("ghost", &[]));
        assert_eq!(g.owner_state("ghost"), OwnerState::Solid);
    }

    #[test]
    fn foreground_deletion_queues_dependents_and_counts_blocking_ones() {
        let mut g = Graph::default();
        g.observe(object("owner", &[]));
        g.observe(object("blocker", &[("owner", true)]));
        g.observe(object("other", &[("owner", false)]));
        let mut deleting = object("owner", &[]);
        deleting.being_deleted = true;
        deleting.finalizers = vec![FOREGROUND_FINALIZER.into()];
        let mut work = g.observe(deleting.clone());
        work.sort();
        assert_eq!(
            work,
            vec![attempt("blocker"), attempt("other"), attempt("owner")]
        );
        assert!(g.observe(deleting).is_empty(), "only on the transition");
        assert_eq!(g.blocking_dependents("owner").len(), 1);
        assert_eq!(g.remove("blocker"), vec![attempt("owner")]);
        assert!(g.blocking_dependents("owner").is_empty());
    }

    #[test]
    fn orphan_deletion_asks_for_orphaning_once() {
        let mut g = Graph::default();
        g.observe(object("owner", &[]));
        let mut deleting = object("owner", &[]);
        deleting.being_deleted = true;
        deleting.finalizers = vec![ORPHAN_FINALIZER.into()];
        assert_eq!(
            g.observe(deleting.clone()),
            vec![Work::Orphan("owner".into())]
        );
        assert!(g.observe(deleting).is_empty());
    }

    #[test]
    fn changing_owner_references_moves_the_dependent() {
        let mut g = Graph::default();
        g.observe(object("a", &[]));
        g.observe(object("b", &[]));
        g.observe(object("dep", &[("a", false)]));
        g.observe(object("dep", &[("b", false)]));
        assert!(g.dependents("a").is_empty());
        assert_eq!(g.dependents("b").len(), 1);
        assert!(g.remove("a").is_empty());
    }

    #[test]
    fn a_relist_removes_objects_deleted_while_not_watching() {
        let mut g = Graph::default();
        g.observe(object("owner", &[]));
        g.observe(object("dep", &[("owner", false)]));
        let listed: HashSet<Uid> = ["dep".to_string()].into();
        assert_eq!(
            g.retain_listed(&resource().key(), &listed),
            vec![attempt("dep")]
        );
        assert_eq!(g.owner_state("owner"), OwnerState::Absent);
    }

    #[test]
    fn many_dependents_cost_only_their_own_work() {
        let mut g = Graph::default();
        g.observe(object("owner", &[]));
        for i in 0..5000 {
            g.observe(object(&format!("d{i}"), &[("owner", false)]));
        }
        g.observe(object("lonely", &[]));
        assert!(g.remove("lonely").is_empty());
        assert_eq!(g.remove("owner").len(), 5000);
    }
}
