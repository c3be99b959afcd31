//! An estimate of the heap an [`Index`] holds, from its collections'
//! capacities and lengths: what the `scimitar_cache_bytes` gauge reports.
//! It allocates nothing and is O(objects); `tests/memory/cache_memory.rs` checks it
//! against a counting allocator.
//!
//! The figures are the bytes requested from the allocator, not its rounding.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;

use super::Index;
use super::record::Record;
use super::slots::{HashSlots, Ids, Slot};

/// Buckets of a `std` (hashbrown) table with `capacity`: 7/8 are usable
/// past 8 buckets, all but one below.
fn buckets(capacity: usize) -> usize {
    match capacity {
        0 => 0,
        1..8 => (capacity + 1).next_power_of_two(),
        _ => (capacity * 8 / 7).next_power_of_two(),
    }
}

/// A hashbrown table of `(K, V)` entries with `capacity`: the entries, one
/// control byte per bucket and a trailing group of 16.
pub(super) fn table_bytes<K, V>(capacity: usize) -> usize {
    match buckets(capacity) {
        0 => 0,
        b => (b * size_of::<(K, V)>()).next_multiple_of(16) + b + 16,
    }
}

fn map_bytes<K, V, S: BuildHasher>(map: &HashMap<K, V, S>) -> usize {
    table_bytes::<K, V>(map.capacity())
}

/// An `IndexMap` (`serde_json::Map` with `preserve_order`) of `len` entries:
/// entries with their hashes, and a table of their indices.
pub(super) fn ordered_map_bytes<K, V>(len: usize) -> usize {
    len * (size_of::<(usize, K, V)>()) + table_bytes::<usize, ()>(len)
}

pub(super) fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

/// A `BTreeSet` of `Slot`s: leaves of 11 keys, about two thirds full, plus
/// their parents.
fn set_bytes(set: &BTreeSet<Slot>) -> usize {
    const LEAF: usize = 8 + 11 * size_of::<Slot>() + 4;
    set.len().div_ceil(7) * (LEAF + LEAF / 6)
}

impl HashSlots {
    fn heap_bytes(&self) -> usize {
        let more: usize = self.more.values().map(vec_bytes).sum();
        map_bytes(&self.first) + map_bytes(&self.more) + more
    }
}

impl Ids {
    fn heap_bytes(&self) -> usize {
        let texts: usize = self
            .slots
            .iter()
            .map(|e| e.id.len() + e.groups.len() * size_of::<Slot>())
            .sum();
        vec_bytes(&self.slots) + texts + vec_bytes(&self.free) + self.by_hash.heap_bytes()
    }
}

impl Record {
    fn heap_bytes(&self) -> usize {
        self.blob.len() + self.members.len() * size_of::<Slot>()
    }
}

impl Index {
    /// About how many heap bytes this index holds: within a few percent of
    /// what the allocator was asked for (`tests/memory/cache_memory.rs`).
    pub fn heap_bytes(&self) -> usize {
        let tables: usize = self
            .tables
            .iter()
            .map(|t| vec_bytes(t) + t.iter().map(Record::heap_bytes).sum::<usize>())
            .sum();
        let keys: usize = self
            .names
            .iter()
            .chain(&self.externals)
            .chain([&self.emails])
            .map(HashSlots::heap_bytes)
            .sum();
        let irregular: usize = self.irregular.iter().map(set_bytes).sum();
        let tenants =
            vec_bytes(&self.tenants) + self.tenants.iter().map(|t| t.len()).sum::<usize>();
        let order: usize = self
            .order
            .iter()
            .filter_map(|o| o.get())
            .map(vec_bytes)
            .sum();
        self.ids.heap_bytes()
            + self.shapes.heap_bytes()
            + tables
            + keys
            + irregular
            + tenants
            + order
    }
}
