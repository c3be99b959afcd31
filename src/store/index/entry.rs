//! What goes in and comes out of an [`Index`] besides views, and the
//! helpers both stores use on group JSON.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Index;
use super::record::Record;
use crate::store::Kind;

/// A resource to insert: its version and its stamped SCIM JSON (no
/// computed `groups`, no `location`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub version: String,
    pub resource: Value,
    /// The object's `metadata.generation` (Kubernetes store only), so status
    /// can say which spec it describes.
    pub generation: Option<i64>,
    /// The uid of the tenant the object was created for (Kubernetes store
    /// only; absent on objects from before it was recorded).
    pub tenant_uid: Option<String>,
    /// What the object's status says, as far as the controller compares it
    /// (Kubernetes store only).
    pub status: Option<crate::crd::StatusSeen>,
}

impl Entry {
    /// See [`EntryRef::belongs_to`].
    pub fn belongs_to(&self, uid: Option<&str>, created: Option<jiff::Timestamp>) -> bool {
        let made = self
            .resource
            .pointer("/meta/created")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        belongs(self.tenant_uid.as_deref(), made, uid, created)
    }
}

pub(super) fn belongs(
    recorded: Option<&str>,
    made: Option<jiff::Timestamp>,
    uid: Option<&str>,
    created: Option<jiff::Timestamp>,
) -> bool {
    // Undecided (no tenant uid, as in the in-memory store and tests) means
    // the tenant's own: there is no earlier tenant to tell apart.
    crate::meta::made_for(recorded, made, uid, created).unwrap_or(true)
}

/// A resource's bookkeeping as kept, without unpacking it.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub version: &'a str,
    pub generation: Option<i64>,
    pub tenant_uid: Option<&'a str>,
    pub status: Option<crate::crd::StatusSeen>,
    record: &'a Record,
    index: &'a Index,
}

impl EntryRef<'_> {
    /// Whether the object belongs to the tenant with `uid`, created at
    /// `created`: created for that uid, or (without a recorded uid) not
    /// older than the tenant. Anything else was left in the namespace by an
    /// earlier tenant.
    pub fn belongs_to(&self, uid: Option<&str>, created: Option<jiff::Timestamp>) -> bool {
        belongs(self.tenant_uid, self.record.created(), uid, created)
    }

    /// The entry as inserted.
    pub fn to_entry(&self) -> Entry {
        Entry {
            version: self.version.to_owned(),
            resource: self.index.unpack(self.record),
            generation: self.generation,
            tenant_uid: self.tenant_uid.map(str::to_owned),
            status: self.status,
        }
    }
}

impl Index {
    /// The entry as kept.
    pub fn entry(&self, kind: Kind, id: &str) -> Option<EntryRef<'_>> {
        let record = self.find(kind, id)?;
        Some(EntryRef {
            version: record.version(),
            generation: record.generation(),
            tenant_uid: self.tenant_of(record),
            status: record.status(),
            record,
            index: self,
        })
    }
}

/// What one insert or remove touched beyond the object itself, for the
/// controller's change journal.
#[derive(Debug, Default, PartialEq)]
pub struct Touched {
    /// displayNames a group had before and has after, when they differ.
    pub names: Vec<String>,
    /// Users added to or removed from a group's members.
    pub members: Vec<String>,
}

/// The case-insensitive key of a userName or displayName.
pub fn fold(value: &str) -> String {
    value.to_lowercase()
}

/// Whether `a` and `b` are equal once folded.
pub(super) fn same_folded(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold(a) == fold(b)
    }
}

/// Ids of a group's members.
pub fn member_ids(group: &Value) -> BTreeSet<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Drops `member_id` from a group's `members` (and `members` itself when it
/// empties, as SCIM represents no value by absence).
pub fn remove_member(group: &mut Value, member_id: &str) {
    let Some(fields) = group.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(members)) = fields.get_mut("members") {
        members.retain(|m| m.get("value").and_then(Value::as_str) != Some(member_id));
        if members.is_empty() {
            fields.shift_remove("members");
        }
    }
}
