//! Where the log's entries live, and what is evicted when.
//!
//! Each tenant has a shelf: its entries in sequence order (a `VecDeque` of
//! `Arc<Entry>`), so a tenant's queries and cursors only ever walk its own
//! entries. Sizes count retained memory, not serialised length: each entry
//! its [`Entry::retained_bytes`], each shelf the slots of its deque (by
//! capacity), and the tenant map its table and keys.
//!
//! [`Limits`] are applied after each new entry, in this order:
//! 1. the tenant's budget (`tenant_bytes`): the tenant's own oldest entries go;
//! 2. the entry cap (`entries`), then the overall budget (`bytes`): the oldest
//!    entry of the tenant holding the most (entries for the cap, bytes for
//!    the budget) goes, again and again until the log fits; among tenants
//!    holding as much, the one whose oldest entry is older.
//!
//! So a tenant's entries are evicted only when it exceeds its own budget, or
//! when the whole log exceeds its limits and no other tenant holds more than
//! it does. A flooding tenant is capped by its own budget and, once it holds
//! the most, only ever evicts its own entries: another tenant loses entries
//! to the overall limits only while it holds as much as the largest one.
//! Per-tenant budget × tenants may exceed the overall budget (the defaults,
//! 8 MiB of 32 MiB, fit four full tenants); then the overall budget is shared
//! max-min fairly: a tenant holding no more than `bytes / tenants with
//! entries` (and `entries / tenants` entries) is never evicted by it.
//!
//! An entry larger than a budget on its own is not kept (its sequence number
//! is still used). Every limit at 0 keeps nothing.

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::{DEFAULT_BYTES, DEFAULT_CAPACITY, DEFAULT_TENANT_BYTES, Entry, heap};

/// What a replica's log keeps at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries, all tenants together.
    pub entries: usize,
    /// Retained bytes, all tenants together.
    pub bytes: usize,
    /// Retained bytes of one tenant's entries.
    pub tenant_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            entries: DEFAULT_CAPACITY,
            bytes: DEFAULT_BYTES,
            tenant_bytes: DEFAULT_TENANT_BYTES,
        }
    }
}

impl Limits {
    /// Whether anything can be kept (no limit is 0).
    pub fn keeps_entries(&self) -> bool {
        self.entries > 0 && self.bytes > 0 && self.tenant_bytes > 0
    }
}

/// A deque slot: one pointer.
const SLOT: usize = size_of::<Arc<Entry>>();

/// Every tenant's entries, with their sizes.
#[derive(Debug, Default)]
pub struct Shelves {
    shelves: HashMap<Box<str>, Shelf>,
    /// Entries, all shelves together.
    len: usize,
    /// Retained bytes: every shelf's, plus the map's.
    bytes: usize,
    /// The map's table and keys, counted in `bytes`.
    map_bytes: usize,
    /// Heap bytes of the map's keys.
    key_bytes: usize,
    next_seq: u64,
}

#[derive(Debug, Default)]
struct Shelf {
    entries: VecDeque<Arc<Entry>>,
    /// The entries' retained bytes plus `slot_bytes`.
    bytes: usize,
    /// The deque's capacity in bytes.
    slot_bytes: usize,
}

impl Shelf {
    fn push(&mut self, entry: Arc<Entry>, size: usize) {
        self.entries.push_back(entry);
        self.bytes += size;
        self.count_slots();
    }

    fn pop(&mut self) -> Option<Arc<Entry>> {
        let entry = self.entries.pop_front()?;
        self.bytes -= entry.retained_bytes();
        // A shelf that shrank to a quarter of its deque gives half back, so
        // the slots stay within four per entry.
        if self.entries.capacity() > 16 && self.entries.len() * 4 <= self.entries.capacity() {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        self.count_slots();
        Some(entry)
    }

    fn count_slots(&mut self) {
        let slots = self.entries.capacity() * SLOT;
        self.bytes = self.bytes - self.slot_bytes + slots;
        self.slot_bytes = slots;
    }

    /// Sequence number of the oldest entry.
    fn oldest(&self) -> u64 {
        self.entries.front().map_or(u64::MAX, |e| e.seq)
    }
}

impl Shelves {
    /// The next sequence number, used up.
    pub fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Retained bytes, all tenants together.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Retained bytes of `tenant`'s entries (and their slots).
    pub fn tenant_bytes(&self, tenant: &str) -> usize {
        self.shelves.get(tenant).map_or(0, |s| s.bytes)
    }

    /// Every tenant with entries: its name, entries and retained bytes.
    pub fn tenants(&self) -> Vec<(String, usize, usize)> {
        self.shelves
            .iter()
            .map(|(tenant, s)| (tenant.to_string(), s.entries.len(), s.bytes))
            .collect()
    }

    /// `tenant`'s entries, oldest first.
    pub fn entries(&self, tenant: &str) -> Option<&VecDeque<Arc<Entry>>> {
        self.shelves.get(tenant).map(|s| &s.entries)
    }

    /// Stores `entry` (numbered already) and evicts what `limits` require.
    /// Returns the evicted entries, for the caller to drop outside its lock;
    /// `None` when the entry is not kept (the limits keep nothing, or it is
    /// larger than a budget on its own).
    pub fn push(&mut self, entry: Entry, limits: &Limits) -> Option<Vec<Arc<Entry>>> {
        let mut evicted = Vec::new();
        let size = entry.retained_bytes();
        if !limits.keeps_entries() || size + SLOT > limits.tenant_bytes.min(limits.bytes) {
            return None;
        }
        let entry = Arc::new(entry);
        let tenant: &str = &entry.tenant;
        if !self.shelves.contains_key(tenant) {
            self.shelves.insert(tenant.into(), Shelf::default());
            self.key_bytes += heap(tenant.len());
            self.count_map();
        }
        let shelf = self.shelves.get_mut(tenant).expect("inserted above");
        let before = shelf.bytes;
        shelf.push(entry.clone(), size);
        self.bytes = self.bytes - before + shelf.bytes;
        self.len += 1;

        // 1. The tenant's own budget: its oldest go.
        while self.tenant_bytes(tenant) > limits.tenant_bytes {
            match self.evict_oldest(tenant) {
                Some(old) => evicted.push(old),
                None => break,
            }
        }
        // 2. The overall limits: the largest tenant's oldest go.
        while self.len > limits.entries {
            match self.evict_from_largest(|s| s.entries.len()) {
                Some(old) => evicted.push(old),
                None => break,
            }
        }
        while self.bytes > limits.bytes {
            match self.evict_from_largest(|s| s.bytes) {
                Some(old) => evicted.push(old),
                None => break,
            }
        }
        Some(evicted)
    }

    /// Evicts the oldest entry of the tenant with the largest `weight` (among
    /// equals, the one whose oldest entry is older).
    fn evict_from_largest(&mut self, weight: impl Fn(&Shelf) -> usize) -> Option<Arc<Entry>> {
        let oldest = self
            .shelves
            .values()
            .max_by_key(|s| (weight(s), Reverse(s.oldest())))
            .and_then(|s| s.entries.front().cloned())?;
        self.evict_oldest(&oldest.tenant)
    }

    /// Evicts `tenant`'s oldest entry; a shelf left empty is removed.
    fn evict_oldest(&mut self, tenant: &str) -> Option<Arc<Entry>> {
        let shelf = self.shelves.get_mut(tenant)?;
        let before = shelf.bytes;
        let entry = shelf.pop();
        self.bytes = self.bytes - before + shelf.bytes;
        if entry.is_some() {
            self.len -= 1;
        }
        if shelf.entries.is_empty() {
            let bytes = shelf.bytes;
            self.shelves.remove(tenant);
            self.bytes -= bytes;
            self.key_bytes -= heap(tenant.len());
            self.count_map();
        }
        entry
    }

    /// Counts the map's table (hashbrown: a power of two of buckets for 7/8
    /// load, each a key and a shelf plus a control byte) and its keys.
    fn count_map(&mut self) {
        let capacity = self.shelves.capacity();
        let buckets = if capacity == 0 {
            0
        } else {
            (capacity * 8 / 7).next_power_of_two()
        };
        let table = heap(buckets * (size_of::<(Box<str>, Shelf)>() + 1) + 16);
        let map_bytes = table + self.key_bytes;
        self.bytes = self.bytes - self.map_bytes + map_bytes;
        self.map_bytes = map_bytes;
    }

    /// Sizes recounted from scratch (the test oracle of the running counts).
    #[cfg(test)]
    pub(crate) fn recount(&self) -> (usize, usize) {
        let shelves: usize = self
            .shelves
            .values()
            .map(|s| {
                s.entries.iter().map(|e| e.retained_bytes()).sum::<usize>()
                    + s.entries.capacity() * SLOT
            })
            .sum();
        let len = self.shelves.values().map(|s| s.entries.len()).sum();
        (len, shelves + self.map_bytes)
    }
}
