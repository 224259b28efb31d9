//! Per-node results that plugins compute for every node of every cycle (say, how many pods on
//! the node match a selector), kept between cycles while the node is unchanged.
//!
//! Every `NodeInfo` carries a generation taken from one process-wide counter whenever it is
//! built or its pods change, so a generation names one content of one node: a memoized value
//! is valid exactly while the node at that position (`NodeInfo::position`) still has the
//! generation it was computed for. Tables are keyed by whatever the value depends on besides the node (a namespace and a
//! selector, say) and the least recently used ones are dropped past a fixed number.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::node_info::NodeInfo;

/// A value per node position, each with the generation it was computed for.
#[derive(Debug)]
pub struct MemoTable<V> {
    entries: Vec<Option<(u64, V)>>,
}

impl<V> MemoTable<V> {
    fn new() -> Self {
        MemoTable {
            entries: Vec::new(),
        }
    }

    /// The value for `node`, computed by `compute` unless the node is unchanged since it last
    /// was.
    pub fn get_or_compute(&mut self, node: &NodeInfo, compute: impl FnOnce(&NodeInfo) -> V) -> &V {
        let position = node.position();
        if self.entries.len() <= position {
            self.entries.resize_with(position + 1, || None);
        }
        let generation = node.generation();
        let slot = &mut self.entries[position];
        if slot.as_ref().is_some_and(|(g, _)| *g != generation) {
            *slot = None;
        }
        &slot.get_or_insert_with(|| (generation, compute(node))).1
    }
}

/// Memo tables by key, least recently used dropped first.
#[derive(Debug)]
pub struct NodeMemo<V> {
    tables: Mutex<VecDeque<(String, MemoTable<V>)>>,
    capacity: usize,
}

impl<V> NodeMemo<V> {
    /// Keeps at most `capacity` tables.
    pub fn new(capacity: usize) -> Self {
        NodeMemo {
            tables: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    /// Takes the table for `key` out of the memo (an empty one if there is none); give it back
    /// with [`NodeMemo::put`].
    pub fn take(&self, key: &str) -> MemoTable<V> {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        match tables.iter().position(|(k, _)| k == key) {
            Some(i) => tables.remove(i).map_or_else(MemoTable::new, |(_, t)| t),
            None => MemoTable::new(),
        }
    }

    /// Puts a table back as the most recently used.
    pub fn put(&self, key: String, table: MemoTable<V>) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables.retain(|(k, _)| *k != key);
        tables.push_front((key, table));
        tables.truncate(self.capacity);
    }
}

impl<V> Default for NodeMemo<V> {
    fn default() -> Self {
        NodeMemo::new(32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_info::PodInfo;
    use crate::node_info::tests::{NodeBuilder, PodBuilder};

    #[test]
    fn values_are_kept_until_the_node_changes() {
        let mut node = NodeInfo::new(NodeBuilder::new("n").build());
        let memo: NodeMemo<usize> = NodeMemo::new(2);
        let mut calls = 0;
        let mut table = memo.take("k");
        let mut count = |table: &mut MemoTable<usize>, node: &NodeInfo| {
            *table.get_or_compute(node, |n| {
                calls += 1;
                n.pods.len()
            })
        };
        assert_eq!(count(&mut table, &node), 0);
        assert_eq!(count(&mut table, &node), 0);
        node.add_pod(PodInfo::new(PodBuilder::new("p").node("n").build()));
        assert_eq!(count(&mut table, &node), 1);
        // a node built anew at the same position is a different node
        let other = NodeInfo::new(NodeBuilder::new("m").build());
        assert_eq!(count(&mut table, &other), 0);
        assert_eq!(calls, 3);
        memo.put("k".into(), table);
        assert_eq!(memo.take("k").entries.len(), 1);
    }

    #[test]
    fn least_recently_used_tables_go_first() {
        let memo: NodeMemo<u8> = NodeMemo::new(2);
        let node = NodeInfo::new(NodeBuilder::new("n").build());
        for key in ["a", "b", "c"] {
            let mut table = memo.take(key);
            table.get_or_compute(&node, |_| 1);
            memo.put(key.into(), table);
        }
        assert!(memo.take("a").entries.is_empty());
        assert_eq!(memo.take("c").entries.len(), 1);
    }
}
