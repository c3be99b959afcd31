//! One tenant's resources in memory, indexed for the lookups IdPs make on
//! every sync and for the users' computed `groups`. Both stores keep their
//! resources in an [`Index`]: the in-memory store as its only copy, the
//! Kubernetes store as its watch-fed read cache.
//!
//! Compact because a tenant can have 100,000 users: each resource is a
//! packed blob ([`codec`]) with offsets of what views read; ids are kept
//! once and referred to by `u32` slots ([`slots`]); indexes map hashes of
//! keys to slots without keeping the keys. `get` and `list` unpack the exact
//! JSON that was inserted, computed `groups` added.

mod codec;
mod entry;
mod narrow;
mod read;
mod record;
mod size;
mod slots;
mod views;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value;

use self::record::{IRREGULAR, Record};
use self::slots::{HashSlots, Ids, NONE, Slot};
use super::Kind;

pub use entry::{Entry, EntryRef, Touched, fold, member_ids, remove_member};
pub use views::{GroupView, UserView};

/// Users and groups of one tenant.
#[derive(Default)]
pub struct Index {
    ids: Ids,
    shapes: codec::Shapes,
    /// Records by kind, in no order; each id's [`slots::Id::at`] says where.
    tables: [Vec<Record>; 2],
    /// userName of users, displayName of groups, folded.
    names: [HashSlots; 2],
    externals: [HashSlots; 2],
    /// emails.value of users, folded.
    emails: HashSlots,
    /// See [`record::IRREGULAR`].
    irregular: [BTreeSet<Slot>; 2],
    /// Tenant uids records were created for (a namespace sees few).
    tenants: Vec<Box<str>>,
    /// Slots of each kind by id: built by the first read that needs it,
    /// then kept in step.
    order: [OnceLock<Vec<Slot>>; 2],
}

fn k(kind: Kind) -> usize {
    match kind {
        Kind::User => 0,
        Kind::Group => 1,
    }
}

const USERS: usize = 0;
const GROUPS: usize = 1;

impl Index {
    fn record(&self, kind: Kind, slot: Slot) -> Option<&Record> {
        let at = self.ids.slots.get(slot as usize)?.at[k(kind)];
        self.tables[k(kind)].get(at as usize)
    }

    fn find(&self, kind: Kind, id: &str) -> Option<&Record> {
        self.record(kind, self.ids.get(id)?)
    }

    fn unpack(&self, record: &Record) -> Value {
        codec::unpack(
            &record.blob,
            &self.shapes,
            &mut codec::Fill {
                id: self.ids.text(record.slot),
                version: record.version(),
                members: record.members.iter().map(|s| self.ids.text(*s)),
            },
        )
    }

    fn tenant_of(&self, record: &Record) -> Option<&str> {
        let at = usize::try_from(record.tenant).ok()?.checked_sub(1)?;
        self.tenants.get(at).map(|t| &**t)
    }

    fn fold_hash(&self, text: &str) -> u64 {
        let mut buf = [0u8; 128];
        if text.is_ascii() && text.len() <= buf.len() {
            let folded = &mut buf[..text.len()];
            folded.copy_from_slice(text.as_bytes());
            folded.make_ascii_lowercase();
            self.ids.hash(folded)
        } else {
            self.ids.hash(fold(text).as_bytes())
        }
    }

    /// Slots of `kind`, by id.
    fn sorted(&self, kind: Kind) -> &[Slot] {
        self.order[k(kind)].get_or_init(|| {
            let mut slots: Vec<Slot> = self.tables[k(kind)].iter().map(|r| r.slot).collect();
            self.sort(&mut slots);
            slots
        })
    }

    fn sort(&self, slots: &mut [Slot]) {
        slots.sort_unstable_by(|a, b| self.ids.text(*a).cmp(self.ids.text(*b)));
    }

    /// Ids of every resource of `kind`.
    pub fn ids(&self, kind: Kind) -> Vec<String> {
        self.sorted(kind)
            .iter()
            .map(|s| self.ids.text(*s).to_owned())
            .collect()
    }

    /// How many resources of `kind` there are.
    pub fn count(&self, kind: Kind) -> usize {
        self.tables[k(kind)].len()
    }

    /// Removes every resource of `kind`.
    pub fn clear(&mut self, kind: Kind) {
        let table = std::mem::take(&mut self.tables[k(kind)]);
        for record in &table {
            self.ids.slots[record.slot as usize].at[k(kind)] = NONE;
            for member in record.members.iter() {
                self.ids.unlink(*member, record.slot);
            }
        }
        for record in &table {
            for member in record.members.iter() {
                self.ids.release(*member);
            }
            self.ids.release(record.slot);
        }
        self.names[k(kind)].clear();
        self.externals[k(kind)].clear();
        if kind == Kind::User {
            self.emails.clear();
        }
        self.irregular[k(kind)].clear();
        self.order[k(kind)] = OnceLock::new();
    }

    /// Whether the tenant holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(Vec::is_empty)
    }

    /// Adds or replaces `id`, keeping the indexes in step.
    pub fn insert(&mut self, kind: Kind, id: &str, entry: Entry) -> Touched {
        let slot = self.ids.intern(id);
        let old = self.detach(kind, slot, false);
        let (mut record, members) = record::build(kind, id, &entry, &mut self.shapes);
        record.slot = slot;
        record.tenant = self.tenant(entry.tenant_uid.as_deref());
        record.mark = old.as_ref().map_or(0, |(r, _)| r.mark);
        record.members = members.iter().map(|m| self.ids.intern(m)).collect();
        self.index_keys(kind, slot, &entry.resource, true);
        if record.has(IRREGULAR) {
            self.irregular[k(kind)].insert(slot);
        }
        let before = distinct(old.as_ref().map(|(r, _)| &*r.members).unwrap_or_default());
        let after = distinct(&record.members);
        for added in after.difference(&before) {
            self.ids.link(*added, slot);
        }
        for gone in before.difference(&after) {
            self.ids.unlink(*gone, slot);
        }
        let mut touched = Touched::default();
        if kind == Kind::Group {
            let name = |v: &Value| {
                v.get("displayName")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let (old_name, new_name) = (
                old.as_ref().and_then(|(_, v)| name(v)),
                name(&entry.resource),
            );
            if old_name != new_name {
                touched.names.extend(old_name);
                touched.names.extend(new_name);
            }
            touched.members = self.texts(before.symmetric_difference(&after));
        }
        self.put(kind, record);
        for gone in before.difference(&after) {
            self.ids.release(*gone);
        }
        if old.is_none()
            && let Some(order) = self.order[k(kind)].get_mut()
        {
            let at = order.partition_point(|s| self.ids.text(*s) < id);
            order.insert(at, slot);
        }
        touched
    }

    /// Removes `id`, keeping the indexes in step.
    pub fn remove(&mut self, kind: Kind, id: &str) -> Option<(Entry, Touched)> {
        let slot = self.ids.get(id)?;
        let (record, resource) = self.detach(kind, slot, true)?;
        let members = distinct(&record.members);
        for member in &members {
            self.ids.unlink(*member, slot);
        }
        let mut touched = Touched::default();
        if kind == Kind::Group {
            let name = resource.get("displayName").and_then(Value::as_str);
            touched.names.extend(name.map(str::to_owned));
            touched.members = self.texts(members.iter());
        }
        let entry = Entry {
            version: record.version().to_owned(),
            resource,
            generation: record.generation(),
            tenant_uid: self.tenant_of(&record).map(str::to_owned),
            status: record.status(),
        };
        if let Some(order) = self.order[k(kind)].get_mut()
            && let Ok(at) = order.binary_search_by(|s| self.ids.text(*s).cmp(id))
        {
            order.remove(at);
        }
        for member in members {
            self.ids.release(member);
        }
        self.ids.release(slot);
        Some((entry, touched))
    }

    /// Sets the relist mark of `id` (see [`Index::sweep`]).
    pub fn mark(&mut self, kind: Kind, id: &str, mark: u32) {
        if let Some(slot) = self.ids.get(id) {
            let at = self.ids.slots[slot as usize].at[k(kind)];
            if let Some(record) = self.tables[k(kind)].get_mut(at as usize) {
                record.mark = mark;
            }
        }
    }

    /// Removes every resource of `kind` whose mark is not `mark`, unless
    /// `keep` says otherwise of its version. A replaced resource keeps its
    /// mark.
    pub fn sweep(&mut self, kind: Kind, mark: u32, keep: impl Fn(&str) -> bool) {
        let gone: Vec<String> = self.tables[k(kind)]
            .iter()
            .filter(|r| r.mark != mark && !keep(r.version()))
            .map(|r| self.ids.text(r.slot).to_owned())
            .collect();
        for id in gone {
            self.remove(kind, &id);
        }
    }

    fn texts<'a>(&self, slots: impl Iterator<Item = &'a Slot>) -> Vec<String> {
        let mut out: Vec<String> = slots.map(|s| self.ids.text(*s).to_owned()).collect();
        out.sort();
        out
    }

    fn tenant(&mut self, uid: Option<&str>) -> u32 {
        let Some(uid) = uid else { return 0 };
        let at = match self.tenants.iter().position(|t| **t == *uid) {
            Some(at) => at,
            None => {
                self.tenants.push(uid.into());
                self.tenants.len() - 1
            }
        };
        u32::try_from(at + 1).unwrap_or(0)
    }

    /// Takes the record of `slot` out of its table and its keys out of the
    /// indexes; memberships and the slot stay. Gives the resource back, or
    /// without `whole` only the attributes its keys come from.
    fn detach(&mut self, kind: Kind, slot: Slot, whole: bool) -> Option<(Record, Value)> {
        let table = &mut self.tables[k(kind)];
        let at = self.ids.slots[slot as usize].at[k(kind)];
        if at == NONE {
            return None;
        }
        let record = table.swap_remove(at as usize);
        if let Some(moved) = table.get(at as usize) {
            self.ids.slots[moved.slot as usize].at[k(kind)] = at;
        }
        self.ids.slots[slot as usize].at[k(kind)] = NONE;
        let resource = if whole {
            self.unpack(&record)
        } else {
            let keyed = record::keyed(kind);
            let id = self.ids.text(slot);
            codec::unpack_fields(&record.blob, &self.shapes, id, |key| {
                keyed.iter().any(|k| k.eq_ignore_ascii_case(key))
            })
        };
        self.index_keys(kind, slot, &resource, false);
        self.irregular[k(kind)].remove(&slot);
        Some((record, resource))
    }

    fn put(&mut self, kind: Kind, record: Record) {
        let table = &mut self.tables[k(kind)];
        self.ids.slots[record.slot as usize].at[k(kind)] =
            u32::try_from(table.len()).unwrap_or(NONE);
        table.push(record);
    }

    fn index_keys(&mut self, kind: Kind, slot: Slot, resource: &Value, add: bool) {
        let keys = record::keys(kind, resource);
        let hashes = |texts: &[&str], folded: bool| {
            let mut out: Vec<u64> = texts
                .iter()
                .map(|t| {
                    if folded {
                        self.fold_hash(t)
                    } else {
                        self.ids.hash(t.as_bytes())
                    }
                })
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        };
        let names = hashes(&keys.name, true);
        let externals = hashes(&keys.external, false);
        let emails = hashes(&keys.emails, true);
        let apply = |slots: &mut HashSlots, hashes: Vec<u64>| {
            for hash in hashes {
                if add {
                    slots.insert(hash, slot);
                } else {
                    slots.remove(hash, slot);
                }
            }
        };
        apply(&mut self.names[k(kind)], names);
        apply(&mut self.externals[k(kind)], externals);
        apply(&mut self.emails, emails);
    }

    /// How many distinct ids the index holds (users, groups and the other
    /// ids groups list as members).
    #[cfg(test)]
    fn slots(&self) -> usize {
        self.ids.len()
    }
}

fn distinct(slots: &[Slot]) -> BTreeSet<Slot> {
    slots.iter().copied().collect()
}

#[cfg(test)]
mod tests;
