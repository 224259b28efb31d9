//! State shared by the plugins during one scheduling cycle of one pod (upstream's `CycleState`):
//! PreFilter computes once what Filter then reads for every node. The state can be cloned, so
//! that a node can be tried with pods added or removed (nominated pods, preemption victims)
//! without disturbing the state the other nodes are filtered with (values are `Clone`, like
//! upstream's `StateData`).

use std::any::Any;
use std::collections::HashSet;

type Value = Box<dyn Any + Send + Sync>;
type CloneFn = fn(&Value) -> Value;

/// Copies a value known to be a `T` (stored next to it, so reads stay one plain downcast).
fn clone_value<T: Any + Clone + Send + Sync>(value: &Value) -> Value {
    match value.downcast_ref::<T>() {
        Some(v) => Box::new(v.clone()),
        None => unreachable!("a cycle state value is stored with its own clone function"),
    }
}

/// Per-cycle data, keyed by a name each plugin picks (usually its own name plus a suffix).
/// A handful of entries, read once per node per plugin: a short list beats hashing.
#[derive(Default)]
pub struct CycleState {
    data: Vec<(&'static str, Value, CloneFn)>,
    /// Filter plugins whose PreFilter returned Skip.
    pub skip_filter_plugins: HashSet<&'static str>,
    /// Score plugins whose PreScore returned Skip.
    pub skip_score_plugins: HashSet<&'static str>,
    /// Number of nodes in the snapshot this cycle runs against (ImageLocality's spread).
    pub num_all_nodes: usize,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            data: self
                .data
                .iter()
                .map(|(k, v, clone)| (*k, clone(v), *clone))
                .collect(),
            skip_filter_plugins: self.skip_filter_plugins.clone(),
            skip_score_plugins: self.skip_score_plugins.clone(),
            num_all_nodes: self.num_all_nodes,
        }
    }
}

impl std::fmt::Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState")
            .field(
                "keys",
                &self.data.iter().map(|(k, _, _)| *k).collect::<Vec<_>>(),
            )
            .field("skip_filter_plugins", &self.skip_filter_plugins)
            .field("skip_score_plugins", &self.skip_score_plugins)
            .finish()
    }
}

/// Keys are `&'static str` constants: the same constant has the same address, so the cheap
/// pointer check almost always decides and the byte comparison is the fallback.
fn same_key(a: &str, b: &str) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

impl CycleState {
    /// Stores a value.
    pub fn write<T: Any + Clone + Send + Sync>(&mut self, key: &'static str, value: T) {
        match self.data.iter_mut().find(|(k, _, _)| same_key(k, key)) {
            Some((_, slot, clone)) => {
                *slot = Box::new(value);
                *clone = clone_value::<T>;
            }
            None => self.data.push((key, Box::new(value), clone_value::<T>)),
        }
    }

    /// Reads a value of the expected type.
    pub fn read<T: Any>(&self, key: &'static str) -> Option<&T> {
        self.data
            .iter()
            .find(|(k, _, _)| same_key(k, key))
            .and_then(|(_, v, _)| v.downcast_ref::<T>())
    }

    /// Reads a value mutably.
    pub fn read_mut<T: Any>(&mut self, key: &'static str) -> Option<&mut T> {
        self.data
            .iter_mut()
            .find(|(k, _, _)| same_key(k, key))
            .and_then(|(_, v, _)| v.downcast_mut::<T>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_read_write() {
        let mut state = CycleState::default();
        state.write("a", 5u32);
        state.write("a", 5u32);
        assert_eq!(state.data.len(), 1);
        assert_eq!(state.read::<u32>("a"), Some(&5));
        assert_eq!(state.read::<i64>("a"), None);
        if let Some(v) = state.read_mut::<u32>("a") {
            *v = 6;
        }
        assert_eq!(state.read::<u32>("a"), Some(&6));
        assert!(state.read::<u32>("b").is_none());
    }

    #[test]
    fn clones_are_independent() {
        let mut state = CycleState::default();
        state.write("a", vec![1u8]);
        let mut copy = state.clone();
        if let Some(v) = copy.read_mut::<Vec<u8>>("a") {
            v.push(2);
        }
        assert_eq!(state.read::<Vec<u8>>("a"), Some(&vec![1]));
        assert_eq!(copy.read::<Vec<u8>>("a"), Some(&vec![1, 2]));
    }
}
