//! One resource as the index keeps it, and the keys it is found by.

use serde_json::Value;

use super::Entry;
use super::codec::{self, NONE, Pack, Shapes};
use super::slots::Slot;
use crate::store::Kind;

/// A user or group: its packed JSON, its members as slots, and offsets into
/// the blob of what views read without unpacking.
pub struct Record {
    pub blob: Box<[u8]>,
    /// Member ids in the order of the blob's member holes (groups).
    pub members: Box<[Slot]>,
    pub slot: Slot,
    /// Blob offsets; see [`NAME`] and the others.
    pub refs: [u32; 4],
    pub generation: i64,
    /// The status's digest (see [`crate::crd::StatusSeen`]); its conditions'
    /// transitions are in `since` and the flags.
    pub seen: u64,
    /// Per condition, Unix seconds it holds since (0: not there); u32 lasts
    /// until 2106 and keeps the record small.
    pub since: [u32; 2],
    /// The relist that last listed the object (see the cache).
    pub mark: u32,
    /// 1 + the index of the tenant uid in the index's table; 0 for none.
    pub tenant: u32,
    pub flags: u8,
}

/// userName of a user, displayName of a group.
pub const NAME: usize = 0;
/// displayName of a user; the `members` array of a group.
pub const DISPLAY: usize = 1;
pub const MEMBERS: usize = 1;
/// The primary email of a user (see [`crate::crd::primary_email`]).
pub const EMAIL: usize = 2;
/// `meta.created`.
pub const CREATED: usize = 3;

pub const ACTIVE: u8 = 1;
pub const GENERATION: u8 = 2;
/// A user with a stored `groups` (whatever its case), a group whose members
/// are not all objects with one string `value`, or a resource with another
/// spelling of `id`: filters on `id` and memberships cannot be narrowed by
/// the indexes for it.
pub const IRREGULAR: u8 = 4;
/// A group whose `displayName` is there but not a string.
pub const NAME_NOT_TEXT: u8 = 8;
/// The object has a status (`seen` and `since` are its).
pub const STATUS: u8 = 16;
/// The first and second of [`crate::crd::CONDITIONS`] are `True`.
pub const TRUE: [u8; 2] = [32, 64];

impl Record {
    pub fn version(&self) -> &str {
        codec::version(&self.blob)
    }

    pub fn text(&self, which: usize) -> Option<&str> {
        codec::str_at(&self.blob, self.refs[which])
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub fn generation(&self) -> Option<i64> {
        self.has(GENERATION).then_some(self.generation)
    }

    pub fn status(&self) -> Option<crate::crd::StatusSeen> {
        let mut since = [None; 2];
        for (at, (when, flag)) in since.iter_mut().zip(self.since.iter().zip(TRUE)) {
            *at = (*when != 0).then(|| (self.has(flag), i64::from(*when)));
        }
        self.has(STATUS).then_some(crate::crd::StatusSeen {
            digest: self.seen,
            since,
        })
    }

    pub fn created(&self) -> Option<jiff::Timestamp> {
        codec::time_at(&self.blob, self.refs[CREATED])
    }
}

/// Packs `entry` as the record of `id`; also gives the ids its members name,
/// for the caller to turn into slots.
pub fn build<'v>(
    kind: Kind,
    id: &'v str,
    entry: &'v Entry,
    shapes: &mut Shapes,
) -> (Record, Vec<&'v str>) {
    let resource = &entry.resource;
    let text = |key: &str| resource.get(key).and_then(Value::as_str);
    let created = resource.pointer("/meta/created").and_then(Value::as_str);
    let mut flags = 0;
    if resource.get("active").and_then(Value::as_bool) != Some(false) {
        flags |= ACTIVE;
    }
    if entry.generation.is_some() {
        flags |= GENERATION;
    }
    let (mut seen, mut since) = (0, [0; 2]);
    if let Some(status) = &entry.status {
        flags |= STATUS;
        seen = status.digest;
        for (i, condition) in status.since.iter().enumerate() {
            if let Some((holds, at)) = condition {
                since[i] = u32::try_from(*at).unwrap_or(0);
                if *holds {
                    flags |= TRUE[i];
                }
            }
        }
    }
    let wanted = match kind {
        Kind::User => {
            let emails = resource
                .get("emails")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|e| {
                    (
                        e.get("value").and_then(Value::as_str),
                        e.get("primary").and_then(Value::as_bool),
                        e.get("type").and_then(Value::as_str),
                    )
                });
            if keys_like(resource, "groups").next().is_some() || odd_id(resource) {
                flags |= IRREGULAR;
            }
            [
                text("userName").map(|t| (t, true)),
                text("displayName").map(|t| (t, true)),
                crate::crd::primary_email(emails).map(|t| (t, true)),
                created.map(|t| (t, false)),
            ]
        }
        Kind::Group => {
            if !regular_members(resource) || odd_id(resource) {
                flags |= IRREGULAR;
            }
            if resource.get("displayName").is_some_and(|v| !v.is_string()) {
                flags |= NAME_NOT_TEXT;
            }
            [
                text("displayName").map(|t| (t, true)),
                None,
                None,
                created.map(|t| (t, false)),
            ]
        }
    };
    let packed = codec::pack(
        resource,
        &Pack {
            id,
            version: &entry.version,
            group: kind == Kind::Group,
            wanted,
        },
        shapes,
    );
    let mut refs = packed.found;
    if kind == Kind::Group {
        refs[MEMBERS] = packed.members_at;
    }
    let record = Record {
        blob: packed.blob,
        members: Box::default(),
        slot: NONE,
        refs,
        generation: entry.generation.unwrap_or_default(),
        seen,
        since,
        mark: 0,
        tenant: 0,
        flags,
    };
    (record, packed.members)
}

/// Top-level keys equal to `name` ignoring ASCII case.
fn keys_like<'v>(resource: &'v Value, name: &'v str) -> impl Iterator<Item = &'v str> {
    resource
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .filter(move |k| k.eq_ignore_ascii_case(name))
}

/// Whether every key naming `members` is exactly that, holding an array of
/// objects with a string `value` and no other spelling of it: then the
/// membership index knows every member a filter can find.
fn regular_members(resource: &Value) -> bool {
    keys_like(resource, "members").all(|k| {
        k == "members"
            && resource[k].as_array().is_some_and(|members| {
                members.iter().all(|m| {
                    m.get("value").is_some_and(Value::is_string)
                        && keys_like(m, "value").count() == 1
                })
            })
    })
}

/// Whether a key spells `id` otherwise: a filter on `id` could then find
/// another value than the id the resource is kept under.
fn odd_id(resource: &Value) -> bool {
    keys_like(resource, "id").any(|k| k != "id")
}

/// The strings a record is indexed by.
#[derive(Default)]
pub struct Keys<'v> {
    /// userName or displayName, compared ignoring case.
    pub name: Vec<&'v str>,
    /// externalId, compared exactly.
    pub external: Vec<&'v str>,
    /// emails.value, compared ignoring case.
    pub emails: Vec<&'v str>,
}

/// The top-level attributes [`keys`] reads (compared ignoring ASCII case).
pub fn keyed(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::User => &["userName", "externalId", "emails"],
        Kind::Group => &["displayName", "externalId"],
    }
}

/// Every string an `eq` filter on one of the indexed attributes could
/// compare with (a superset: filters are checked on each candidate).
pub fn keys(kind: Kind, resource: &Value) -> Keys<'_> {
    let mut keys = Keys::default();
    let name = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    };
    reach(resource, name, None, &mut keys.name);
    reach(resource, "externalId", None, &mut keys.external);
    if kind == Kind::User {
        reach(resource, "emails", Some("value"), &mut keys.emails);
    }
    keys
}

/// Strings a filter on `name[.sub]` can reach, whatever the case it spells
/// the names in: every key equal ignoring ASCII case (evaluation picks one
/// by the filter's spelling), arrays flattened, then `sub`, and a complex
/// value through its `value`.
fn reach<'v>(root: &'v Value, name: &str, sub: Option<&str>, out: &mut Vec<&'v str>) {
    let mut level = Vec::new();
    members(root, name, &mut level);
    if let Some(sub) = sub {
        for parent in std::mem::take(&mut level) {
            members(parent, sub, &mut level);
        }
    }
    for value in level {
        match value {
            Value::String(s) => out.push(s),
            Value::Object(_) => {
                let mut inner = Vec::new();
                members(value, "value", &mut inner);
                out.extend(inner.into_iter().filter_map(Value::as_str));
            }
            _ => {}
        }
    }
}

/// Every value under a key equal to `name` ignoring ASCII case, arrays
/// flattened; a primitive stands for its own `value`.
fn members<'v>(base: &'v Value, name: &str, out: &mut Vec<&'v Value>) {
    match base {
        Value::Object(map) => {
            for (_, value) in map.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)) {
                match value {
                    Value::Array(items) => out.extend(items),
                    other => out.push(other),
                }
            }
        }
        Value::Array(_) | Value::Null => {}
        primitive => {
            if name.eq_ignore_ascii_case("value") {
                out.push(primitive);
            }
        }
    }
}
