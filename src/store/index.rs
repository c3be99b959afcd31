//! One tenant's resources in memory, indexed for the lookups IdPs make on
//! every sync (`id`, `userName`, `displayName` equality) and for the users'
//! computed `groups`. Both stores keep their resources in an [`Index`]: the
//! in-memory store as its only copy, the Kubernetes store as its watch-fed
//! read cache.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::{Kind, Stored};
use crate::scim::filter::{CompValue, CompareOp, Filter, matches};

/// A resource as kept: its version and its stamped SCIM JSON (no computed
/// `groups`, no `location`).
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
}

impl Entry {
    /// Whether the object belongs to the tenant with `uid`, created at
    /// `created`: created for that uid, or (without a recorded uid) not
    /// older than the tenant. Anything else was left in the namespace by an
    /// earlier tenant.
    pub fn belongs_to(&self, uid: Option<&str>, created: Option<jiff::Timestamp>) -> bool {
        let made = self
            .resource
            .pointer("/meta/created")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        // Undecided (no tenant uid, as in the in-memory store and tests)
        // means the tenant's own: there is no earlier tenant to tell apart.
        crate::labels::made_for(self.tenant_uid.as_deref(), made, uid, created).unwrap_or(true)
    }
}

/// A user as the controller and the console read it: the fields that name,
/// bind and list it, borrowed from the index.
#[derive(Debug, Clone, Copy)]
pub struct UserView<'a> {
    pub id: &'a str,
    pub user_name: &'a str,
    pub display_name: Option<&'a str>,
    /// See [`crate::crd::primary_email`].
    pub primary_email: Option<&'a str>,
    /// `active` unless it says `false`.
    pub active: bool,
    pub entry: &'a Entry,
}

/// A group as the controller and the console read it.
#[derive(Debug, Clone, Copy)]
pub struct GroupView<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
    pub entry: &'a Entry,
}

impl<'a> GroupView<'a> {
    /// Every member: its id and `type` as sent.
    pub fn members(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        self.entry
            .resource
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let value = m.get("value").and_then(Value::as_str)?;
                Some((value, m.get("type").and_then(Value::as_str)))
            })
    }

    /// Ids of the members that are users (type `User` or no type).
    pub fn user_members(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.members()
            .filter(|(_, t)| t.is_none_or(|t| t.eq_ignore_ascii_case("User")))
            .map(|(id, _)| id)
    }

    /// How many members the group lists.
    pub fn member_count(&self) -> usize {
        self.entry
            .resource
            .get("members")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    }
}

fn user_view<'a>(id: &'a str, entry: &'a Entry) -> UserView<'a> {
    let resource = &entry.resource;
    let text = |key: &str| resource.get(key).and_then(Value::as_str);
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
    UserView {
        id,
        user_name: text("userName").unwrap_or_default(),
        display_name: text("displayName"),
        primary_email: crate::crd::primary_email(emails),
        active: resource.get("active").and_then(Value::as_bool) != Some(false),
        entry,
    }
}

fn group_view<'a>(id: &'a str, entry: &'a Entry) -> GroupView<'a> {
    GroupView {
        id,
        display_name: entry
            .resource
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        entry,
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

/// Users and groups of one tenant.
#[derive(Default)]
pub struct Index {
    users: BTreeMap<String, Entry>,
    groups: BTreeMap<String, Entry>,
    /// Lower-cased userName → user id (userName is unique, case-insensitively).
    user_names: HashMap<String, String>,
    /// Lower-cased displayName → group ids (display names need not be unique).
    group_names: HashMap<String, BTreeSet<String>>,
    /// User id → ids of the groups it is a direct member of.
    memberships: HashMap<String, BTreeSet<String>>,
}

/// The case-insensitive key of a userName or displayName.
pub fn fold(value: &str) -> String {
    value.to_lowercase()
}

fn folded(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(fold)
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

impl Index {
    fn table(&self, kind: Kind) -> &BTreeMap<String, Entry> {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    fn table_mut(&mut self, kind: Kind) -> &mut BTreeMap<String, Entry> {
        match kind {
            Kind::User => &mut self.users,
            Kind::Group => &mut self.groups,
        }
    }

    /// Ids of every resource of `kind`.
    pub fn ids(&self, kind: Kind) -> Vec<String> {
        self.table(kind).keys().cloned().collect()
    }

    /// How many resources of `kind` there are.
    pub fn count(&self, kind: Kind) -> usize {
        self.table(kind).len()
    }

    /// Removes every resource of `kind`.
    pub fn clear(&mut self, kind: Kind) {
        for id in self.ids(kind) {
            self.remove(kind, &id);
        }
    }

    /// Whether the tenant holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// The entry as kept.
    pub fn entry(&self, kind: Kind, id: &str) -> Option<&Entry> {
        self.table(kind).get(id)
    }

    /// Adds or replaces `id`, keeping the indexes in step.
    pub fn insert(&mut self, kind: Kind, id: &str, entry: Entry) -> Touched {
        let old = self.table_mut(kind).remove(id);
        let touched = self.reindex(
            kind,
            id,
            old.as_ref().map(|e| &e.resource),
            Some(&entry.resource),
        );
        self.table_mut(kind).insert(id.to_owned(), entry);
        touched
    }

    /// Removes `id`, keeping the indexes in step.
    pub fn remove(&mut self, kind: Kind, id: &str) -> Option<(Entry, Touched)> {
        let old = self.table_mut(kind).remove(id)?;
        let touched = self.reindex(kind, id, Some(&old.resource), None);
        Some((old, touched))
    }

    /// One user, as the controller reads it.
    pub fn user(&self, id: &str) -> Option<UserView<'_>> {
        let (id, entry) = self.users.get_key_value(id)?;
        Some(user_view(id, entry))
    }

    /// One group, as the controller reads it.
    pub fn group(&self, id: &str) -> Option<GroupView<'_>> {
        let (id, entry) = self.groups.get_key_value(id)?;
        Some(group_view(id, entry))
    }

    /// Every user, by id.
    pub fn users(&self) -> impl Iterator<Item = UserView<'_>> {
        self.users.iter().map(|(id, e)| user_view(id, e))
    }

    /// Every group, by id.
    pub fn groups(&self) -> impl Iterator<Item = GroupView<'_>> {
        self.groups.iter().map(|(id, e)| group_view(id, e))
    }

    /// Ids of the groups listing `user_id` as a member, by id.
    pub fn group_ids_of(&self, user_id: &str) -> impl Iterator<Item = &str> {
        self.memberships
            .get(user_id)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Ids of the groups named `display_name`, ignoring ASCII case only
    /// (see [`crate::controller::desired::names_match`]), by id.
    pub fn group_ids_named<'a>(&'a self, display_name: &'a str) -> impl Iterator<Item = &'a str> {
        self.group_names
            .get(&fold(display_name))
            .into_iter()
            .flatten()
            .filter(move |id| {
                self.group(id)
                    .is_some_and(|g| g.display_name.eq_ignore_ascii_case(display_name))
            })
            .map(String::as_str)
    }

    /// The id of the user holding `user_name` (case-insensitively).
    pub fn user_named(&self, user_name: &str) -> Option<&str> {
        self.user_names.get(&fold(user_name)).map(String::as_str)
    }

    /// How many groups are named `display_name`, ignoring ASCII case only
    /// (from the displayName index, whose folding is wider).
    pub fn groups_named(&self, display_name: &str) -> usize {
        self.group_ids_named(display_name).count()
    }

    /// Ids of the groups listing `user_id` as a member.
    pub fn groups_of(&self, user_id: &str) -> Vec<String> {
        self.memberships
            .get(user_id)
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// One resource as the client sees it.
    pub fn get(&self, kind: Kind, id: &str) -> Option<Stored> {
        self.entry(kind, id).map(|e| self.render(kind, id, e))
    }

    /// Every resource of `kind` matching `filter`, by id.
    pub fn list(&self, kind: Kind, filter: Option<&Filter>) -> Vec<Stored> {
        let table = self.table(kind);
        let info = kind.resource_type();
        let keep = |stored: &Stored| filter.is_none_or(|f| matches(f, &stored.resource, info));
        match filter.and_then(|f| self.candidates(kind, f)) {
            Some(mut ids) => {
                ids.sort();
                ids.dedup();
                ids.iter()
                    .filter_map(|id| table.get(id).map(|e| self.render(kind, id, e)))
                    .filter(keep)
                    .collect()
            }
            None => table
                .iter()
                .map(|(id, e)| self.render(kind, id, e))
                .filter(keep)
                .collect(),
        }
    }

    /// Renders an entry: users get their read-only `groups` attribute computed
    /// from group membership (RFC 7643 §4.1.2).
    fn render(&self, kind: Kind, id: &str, entry: &Entry) -> Stored {
        let mut resource = entry.resource.clone();
        if kind == Kind::User
            && let Some(group_ids) = self.memberships.get(id).filter(|g| !g.is_empty())
        {
            let groups: Vec<Value> = group_ids
                .iter()
                .filter_map(|gid| {
                    let group = self.groups.get(gid)?;
                    let display = group.resource.get("displayName").cloned();
                    Some(json!({"value": gid, "display": display, "type": "direct"}))
                })
                .collect();
            if let Value::Object(fields) = &mut resource {
                // `groups` goes before `meta`, which stays last.
                let meta = fields.shift_remove("meta");
                fields.insert("groups".into(), Value::Array(groups));
                if let Some(meta) = meta {
                    fields.insert("meta".into(), meta);
                }
            }
        }
        Stored {
            id: id.to_owned(),
            version: entry.version.clone(),
            resource,
        }
    }

    fn reindex(
        &mut self,
        kind: Kind,
        id: &str,
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> Touched {
        let mut touched = Touched::default();
        match kind {
            Kind::User => {
                if let Some(name) = folded(old.and_then(|o| o.get("userName")))
                    && self.user_names.get(&name).is_some_and(|owner| owner == id)
                {
                    self.user_names.remove(&name);
                }
                if let Some(name) = folded(new.and_then(|n| n.get("userName"))) {
                    self.user_names.insert(name, id.to_owned());
                }
            }
            Kind::Group => {
                let name_of = |v: Option<&Value>| {
                    v.and_then(|v| v.get("displayName"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let (old_raw, new_raw) = (name_of(old), name_of(new));
                if old_raw != new_raw {
                    touched.names.extend(old_raw);
                    touched.names.extend(new_raw);
                }
                let old_name = folded(old.and_then(|o| o.get("displayName")));
                let new_name = folded(new.and_then(|n| n.get("displayName")));
                if let Some(name) = &old_name
                    && let Some(ids) = self.group_names.get_mut(name)
                {
                    ids.remove(id);
                    if ids.is_empty() {
                        self.group_names.remove(name);
                    }
                }
                if let Some(name) = &new_name {
                    self.group_names
                        .entry(name.clone())
                        .or_default()
                        .insert(id.to_owned());
                }

                let before = old.map(member_ids).unwrap_or_default();
                let after = new.map(member_ids).unwrap_or_default();
                touched
                    .members
                    .extend(before.symmetric_difference(&after).cloned());
                for gone in before.difference(&after) {
                    if let Some(groups) = self.memberships.get_mut(gone) {
                        groups.remove(id);
                        if groups.is_empty() {
                            self.memberships.remove(gone);
                        }
                    }
                }
                for added in after.difference(&before) {
                    self.memberships
                        .entry(added.clone())
                        .or_default()
                        .insert(id.to_owned());
                }
            }
        }
        touched
    }

    /// Ids worth evaluating `filter` on, when an index narrows them down.
    fn candidates(&self, kind: Kind, filter: &Filter) -> Option<Vec<String>> {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(value),
            } if path.sub.is_none() => {
                let name = path.name.as_str();
                if name.eq_ignore_ascii_case("id") {
                    Some(vec![value.clone()])
                } else if kind == Kind::User && name.eq_ignore_ascii_case("userName") {
                    Some(
                        self.user_named(value)
                            .map(str::to_owned)
                            .into_iter()
                            .collect(),
                    )
                } else if kind == Kind::Group && name.eq_ignore_ascii_case("displayName") {
                    let ids = self.group_names.get(&fold(value));
                    Some(
                        ids.map(|ids| ids.iter().cloned().collect())
                            .unwrap_or_default(),
                    )
                } else {
                    None
                }
            }
            Filter::And(left, right) => self
                .candidates(kind, left)
                .or_else(|| self.candidates(kind, right)),
            _ => None,
        }
    }
}
