//! Small ids for SCIM ids, and indexes from key hashes to them.
//!
//! Every id a tenant's index mentions (its users, its groups, and the ids
//! its groups list as members, known or not) gets a slot, a `u32`, for as
//! long as anything refers to it. Records, members and indexes hold slots;
//! the id text is kept once, here.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// A slot: an index into [`Ids::slots`].
pub type Slot = u32;

/// No slot, or no record.
pub const NONE: u32 = u32::MAX;

/// Passes a key that is already a hash through.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByHash<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// Slots by the hash of a key. The hash stands for the key, which is not
/// kept: readers check each slot's actual key, so a collision only costs a
/// look. A hash holds one slot inline; more (the same email on two users, a
/// displayName shared by groups) go to a second map.
#[derive(Default)]
pub struct HashSlots {
    pub(super) first: ByHash<Slot>,
    pub(super) more: ByHash<Vec<Slot>>,
}

impl HashSlots {
    pub fn insert(&mut self, hash: u64, slot: Slot) {
        match self.first.get(&hash) {
            None => {
                self.first.insert(hash, slot);
            }
            Some(s) if *s == slot => {}
            Some(_) => {
                let more = self.more.entry(hash).or_default();
                if !more.contains(&slot) {
                    more.push(slot);
                }
            }
        }
    }

    pub fn remove(&mut self, hash: u64, slot: Slot) {
        if self.first.get(&hash) == Some(&slot) {
            match self.more.get_mut(&hash) {
                Some(more) => {
                    self.first.insert(hash, more.remove(0));
                    if more.is_empty() {
                        self.more.remove(&hash);
                    }
                }
                None => {
                    self.first.remove(&hash);
                }
            }
        } else if let Some(more) = self.more.get_mut(&hash) {
            more.retain(|s| *s != slot);
            if more.is_empty() {
                self.more.remove(&hash);
            }
        }
    }

    /// Slots filed under `hash`, oldest first.
    pub fn get(&self, hash: u64) -> impl Iterator<Item = Slot> + '_ {
        let more = self.more.get(&hash).map(Vec::as_slice).unwrap_or_default();
        self.first
            .get(&hash)
            .copied()
            .into_iter()
            .chain(more.iter().copied())
    }

    pub fn clear(&mut self) {
        self.first = ByHash::default();
        self.more = ByHash::default();
    }

    /// Every hash and slot filed.
    #[cfg(test)]
    pub fn pairs(&self) -> std::collections::BTreeSet<(u64, Slot)> {
        let more = self
            .more
            .iter()
            .flat_map(|(h, s)| s.iter().map(|s| (*h, *s)));
        self.first
            .iter()
            .map(|(h, s)| (*h, *s))
            .chain(more)
            .collect()
    }
}

/// One id, and what refers to it.
#[derive(Default)]
pub struct Id {
    pub id: Box<str>,
    /// Where the user and the group with this id are in their tables.
    pub at: [u32; 2],
    /// Groups listing this id as a member, by id.
    pub groups: Box<[Slot]>,
}

/// The ids of one tenant.
#[derive(Default)]
pub struct Ids {
    pub slots: Vec<Id>,
    pub(super) free: Vec<Slot>,
    pub(super) by_hash: HashSlots,
    hasher: RandomState,
}

impl Ids {
    /// A hash of `bytes`, seeded per index so that clients cannot aim
    /// collisions.
    pub fn hash(&self, bytes: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(bytes);
        h.finish()
    }

    /// Hashes as `other` does.
    #[cfg(test)]
    pub fn hasher_from(&mut self, other: &Ids) {
        self.hasher = other.hasher.clone();
    }

    pub fn text(&self, slot: Slot) -> &str {
        self.slots.get(slot as usize).map_or("", |e| &e.id)
    }

    pub fn get(&self, id: &str) -> Option<Slot> {
        self.by_hash
            .get(self.hash(id.as_bytes()))
            .find(|s| self.text(*s) == id)
    }

    /// The slot of `id`, new if it has none. A new slot must be referred to
    /// before the next [`Ids::release`] of it.
    pub fn intern(&mut self, id: &str) -> Slot {
        if let Some(slot) = self.get(id) {
            return slot;
        }
        let entry = Id {
            id: id.into(),
            at: [NONE; 2],
            groups: Box::default(),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = entry;
                slot
            }
            None => {
                self.slots.push(entry);
                u32::try_from(self.slots.len() - 1).unwrap_or(NONE)
            }
        };
        self.by_hash.insert(self.hash(id.as_bytes()), slot);
        slot
    }

    /// Frees `slot` if nothing refers to it any more.
    pub fn release(&mut self, slot: Slot) {
        let Some(entry) = self.slots.get(slot as usize) else {
            return;
        };
        // A free slot is no id's slot (its text, "", may be another's).
        let live = self.get(&entry.id) == Some(slot);
        if !live || entry.at != [NONE; 2] || !entry.groups.is_empty() {
            return;
        }
        let hash = self.hash(entry.id.as_bytes());
        self.by_hash.remove(hash, slot);
        self.slots[slot as usize] = Id::default();
        self.free.push(slot);
    }

    /// Adds `group` to the groups of `member`, in id order.
    pub fn link(&mut self, member: Slot, group: Slot) {
        let key = self.text(group);
        let groups = &self.slots[member as usize].groups;
        if let Err(at) = groups.binary_search_by(|g| self.text(*g).cmp(key)) {
            let mut list = Vec::with_capacity(groups.len() + 1);
            list.extend_from_slice(&groups[..at]);
            list.push(group);
            list.extend_from_slice(&groups[at..]);
            self.slots[member as usize].groups = list.into_boxed_slice();
        }
    }

    /// Removes `group` from the groups of `member`.
    pub fn unlink(&mut self, member: Slot, group: Slot) {
        let entry = &mut self.slots[member as usize];
        if entry.groups.contains(&group) {
            entry.groups = entry
                .groups
                .iter()
                .copied()
                .filter(|g| *g != group)
                .collect();
        }
    }

    /// How many slots are in use.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}
