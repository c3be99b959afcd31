//! Reads that render resources as the client sees them, and lookups by
//! name.

use serde_json::{Map, Value};

use super::entry::same_folded;
use super::record::{NAME, NAME_NOT_TEXT, Record};
use super::slots::Slot;
use super::{Index, USERS, narrow};
use crate::scim::filter::{Filter, matches};
use crate::store::{Kind, Stored};

impl Index {
    /// One resource as the client sees it.
    pub fn get(&self, kind: Kind, id: &str) -> Option<Stored> {
        self.find(kind, id).map(|r| self.render(kind, r))
    }

    /// Every resource of `kind` matching `filter`, by id.
    pub fn list(&self, kind: Kind, filter: Option<&Filter>) -> Vec<Stored> {
        let info = kind.resource_type();
        let keep = |stored: &Stored| filter.is_none_or(|f| matches(f, &stored.resource, info));
        let render = |slot: &Slot| self.record(kind, *slot).map(|r| self.render(kind, r));
        match filter.and_then(|f| narrow::candidates(self, kind, f)) {
            Some(mut slots) => {
                slots.retain(|s| self.record(kind, *s).is_some());
                self.sort(&mut slots);
                slots.dedup();
                slots.iter().filter_map(render).filter(keep).collect()
            }
            None => self
                .sorted(kind)
                .iter()
                .filter_map(render)
                .filter(keep)
                .collect(),
        }
    }

    /// How many resources [`Index::list`] evaluates `filter` on: what a
    /// list costs, whatever the size of the tenant.
    pub fn list_cost(&self, kind: Kind, filter: Option<&Filter>) -> usize {
        filter
            .and_then(|f| narrow::candidates(self, kind, f))
            .map_or_else(|| self.count(kind), |slots| slots.len())
    }

    /// Renders a record: users get their read-only `groups` attribute
    /// computed from group membership (RFC 7643 §4.1.2).
    fn render(&self, kind: Kind, record: &Record) -> Stored {
        let mut resource = self.unpack(record);
        let groups = &self.ids.slots[record.slot as usize].groups;
        if kind == Kind::User
            && !groups.is_empty()
            && let Value::Object(fields) = &mut resource
        {
            let groups: Vec<Value> = groups
                .iter()
                .filter_map(|gid| {
                    let group = self.record(Kind::Group, *gid)?;
                    let display = if group.has(NAME_NOT_TEXT) {
                        self.unpack(group).get("displayName").cloned()
                    } else {
                        group.text(NAME).map(|n| Value::String(n.to_owned()))
                    };
                    let mut member = Map::with_capacity(3);
                    member.insert("value".into(), self.ids.text(*gid).into());
                    member.insert("display".into(), display.unwrap_or(Value::Null));
                    member.insert("type".into(), "direct".into());
                    Some(Value::Object(member))
                })
                .collect();
            // `groups` goes before `meta`, which stays last.
            let meta = fields.shift_remove("meta");
            fields.insert("groups".into(), Value::Array(groups));
            if let Some(meta) = meta {
                fields.insert("meta".into(), meta);
            }
        }
        Stored {
            id: self.ids.text(record.slot).to_owned(),
            version: crate::store::scim_version(record.version(), record.generation()),
            revision: record.version().to_owned(),
            resource,
        }
    }

    /// The id of the user holding `user_name` (case-insensitively).
    pub fn user_named(&self, user_name: &str) -> Option<&str> {
        self.names[USERS]
            .get(self.fold_hash(user_name))
            .filter(|s| {
                self.record(Kind::User, *s)
                    .and_then(|r| r.text(NAME))
                    .is_some_and(|name| same_folded(name, user_name))
            })
            .last()
            .map(|s| self.ids.text(s))
    }

    /// Ids of the groups listing `user_id` as a member.
    pub fn groups_of(&self, user_id: &str) -> Vec<String> {
        self.group_ids_of(user_id).map(str::to_owned).collect()
    }

    /// How many groups are named `display_name`, ignoring ASCII case only.
    pub fn groups_named(&self, display_name: &str) -> usize {
        self.group_ids_named(display_name).count()
    }
}
