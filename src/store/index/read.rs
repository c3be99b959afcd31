//! Reads that render resources as the client sees them, and lookups by
//! name.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::entry::same_folded;
use super::record::{NAME, NAME_NOT_TEXT, Record};
use super::slots::Slot;
use super::{Index, USERS, narrow};
use crate::scim::filter::{Filter, matches};
use crate::scim::list::{Window, select};
use crate::store::{Kind, Listed, Stored};

impl Index {
    /// One resource as the client sees it.
    pub fn get(&self, kind: Kind, id: &str) -> Option<Stored> {
        self.find(kind, id).map(|r| self.render(kind, r))
    }

    /// Every resource of `kind` matching `filter`, by id.
    pub fn list(&self, kind: Kind, filter: Option<&Filter>) -> Vec<Stored> {
        self.scan(kind, filter).collect()
    }

    /// The page `window` asks for of the resources of `kind` matching
    /// `filter`, and how many match, rendering one resource at a time: the
    /// page is all that is held (with a sort key per match when sorting).
    pub fn select(&self, kind: Kind, filter: Option<&Filter>, window: &Window) -> Listed {
        if filter.is_none() && window.sort_by.is_none() {
            // Every resource, by id: the page is a slice, the total a count.
            let all = self.sorted(kind);
            let skip = window.start_index.saturating_sub(1).min(all.len());
            let resources = all[skip..]
                .iter()
                .take(window.count)
                .filter_map(|slot| self.record(kind, *slot).map(|r| self.render(kind, r)))
                .collect();
            return Listed {
                total: all.len(),
                resources,
            };
        }
        let (total, resources) = select(
            || self.scan(kind, filter),
            |stored: &Stored| &stored.resource,
            window,
            kind.resource_type(),
        );
        Listed { total, resources }
    }

    /// The resources of `kind` matching `filter`, by id, rendered as they
    /// are taken.
    fn scan<'a>(
        &'a self,
        kind: Kind,
        filter: Option<&'a Filter>,
    ) -> impl Iterator<Item = Stored> + 'a {
        let info = kind.resource_type();
        let slots: Cow<'a, [Slot]> = match filter.and_then(|f| narrow::candidates(self, kind, f)) {
            Some(mut slots) => {
                slots.retain(|s| self.record(kind, *s).is_some());
                self.sort(&mut slots);
                slots.dedup();
                Cow::Owned(slots)
            }
            None => Cow::Borrowed(self.sorted(kind)),
        };
        (0..slots.len())
            .filter_map(move |at| self.record(kind, slots[at]).map(|r| self.render(kind, r)))
            .filter(move |stored| filter.is_none_or(|f| matches(f, &stored.resource, info)))
    }

    /// How many resources [`Index::select`] renders for `window` of the
    /// resources of `kind` matching `filter`: what a list costs, whatever
    /// the size of the tenant.
    pub fn list_cost(&self, kind: Kind, filter: Option<&Filter>, window: &Window) -> usize {
        if filter.is_none() && window.sort_by.is_none() {
            return window.count.min(self.count(kind));
        }
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
