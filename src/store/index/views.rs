//! Users and groups as the controller and the console read them: typed
//! fields borrowed from the index, nothing unpacked.

use std::fmt;

use super::codec;
use super::entry::belongs;
use super::record::{ACTIVE, DISPLAY, EMAIL, MEMBERS, NAME, Record};
use super::slots::Slot;
use super::{GROUPS, Index};
use crate::store::Kind;

/// A user: the fields that name, bind and list it.
#[derive(Clone, Copy)]
pub struct UserView<'a> {
    pub id: &'a str,
    pub user_name: &'a str,
    pub display_name: Option<&'a str>,
    /// See [`crate::crd::primary_email`].
    pub primary_email: Option<&'a str>,
    /// `active` unless it says `false`.
    pub active: bool,
    record: &'a Record,
    index: &'a Index,
}

impl UserView<'_> {
    /// See [`super::EntryRef::belongs_to`].
    pub fn belongs_to(&self, uid: Option<&str>, created: Option<jiff::Timestamp>) -> bool {
        belongs(
            self.index.tenant_of(self.record),
            self.record.created(),
            uid,
            created,
        )
    }

    /// The object's `metadata.generation` (Kubernetes store only).
    pub fn generation(&self) -> Option<i64> {
        self.record.generation()
    }
}

impl fmt::Debug for UserView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserView")
            .field("id", &self.id)
            .field("user_name", &self.user_name)
            .field("display_name", &self.display_name)
            .field("primary_email", &self.primary_email)
            .field("active", &self.active)
            .finish()
    }
}

/// A group.
#[derive(Clone, Copy)]
pub struct GroupView<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
    record: &'a Record,
    index: &'a Index,
}

impl<'a> GroupView<'a> {
    /// Every member with a string `value`: its id and `type` as sent.
    pub fn members(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + use<'a> {
        let ids = &self.index.ids;
        let mut slots = self.record.members.iter();
        codec::members_at(
            &self.record.blob,
            &self.index.shapes,
            self.record.refs[MEMBERS],
        )
        .filter_map(move |(hole, kind)| match hole {
            true => Some((ids.text(*slots.next()?), kind)),
            false => None,
        })
    }

    /// Ids of the members that are users (type `User` or no type).
    pub fn user_members(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.members()
            .filter(|(_, t)| crate::crd::is_user_type(*t))
            .map(|(id, _)| id)
    }

    /// How many members the group lists.
    pub fn member_count(&self) -> usize {
        codec::count_at(&self.record.blob, self.record.refs[MEMBERS])
    }

    /// See [`super::EntryRef::belongs_to`].
    pub fn belongs_to(&self, uid: Option<&str>, created: Option<jiff::Timestamp>) -> bool {
        belongs(
            self.index.tenant_of(self.record),
            self.record.created(),
            uid,
            created,
        )
    }

    /// The object's `metadata.generation` (Kubernetes store only).
    pub fn generation(&self) -> Option<i64> {
        self.record.generation()
    }
}

impl fmt::Debug for GroupView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupView")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("member_count", &self.member_count())
            .finish()
    }
}

impl Index {
    fn user_view<'a>(&'a self, record: &'a Record) -> UserView<'a> {
        UserView {
            id: self.ids.text(record.slot),
            user_name: record.text(NAME).unwrap_or_default(),
            display_name: record.text(DISPLAY),
            primary_email: record.text(EMAIL),
            active: record.has(ACTIVE),
            record,
            index: self,
        }
    }

    fn group_view<'a>(&'a self, record: &'a Record) -> GroupView<'a> {
        GroupView {
            id: self.ids.text(record.slot),
            display_name: record.text(NAME).unwrap_or_default(),
            record,
            index: self,
        }
    }

    /// One user.
    pub fn user(&self, id: &str) -> Option<UserView<'_>> {
        self.find(Kind::User, id).map(|r| self.user_view(r))
    }

    /// One group.
    pub fn group(&self, id: &str) -> Option<GroupView<'_>> {
        self.find(Kind::Group, id).map(|r| self.group_view(r))
    }

    /// Every user, by id.
    pub fn users(&self) -> impl Iterator<Item = UserView<'_>> {
        self.sorted(Kind::User)
            .iter()
            .filter_map(|s| self.record(Kind::User, *s))
            .map(|r| self.user_view(r))
    }

    /// Every group, by id.
    pub fn groups(&self) -> impl Iterator<Item = GroupView<'_>> {
        self.sorted(Kind::Group)
            .iter()
            .filter_map(|s| self.record(Kind::Group, *s))
            .map(|r| self.group_view(r))
    }

    /// Ids of the groups listing `user_id` as a member, by id.
    pub fn group_ids_of(&self, user_id: &str) -> impl Iterator<Item = &str> {
        let groups = match self.ids.get(user_id) {
            Some(slot) => &*self.ids.slots[slot as usize].groups,
            None => &[],
        };
        groups.iter().map(|g| self.ids.text(*g))
    }

    /// Ids of the groups named `display_name`, ignoring ASCII case only
    /// (see [`crate::controller::desired::names_match`]), by id.
    pub fn group_ids_named<'a>(&'a self, display_name: &'a str) -> impl Iterator<Item = &'a str> {
        let mut slots: Vec<Slot> = self.names[GROUPS]
            .get(self.fold_hash(display_name))
            .filter(|s| {
                self.record(Kind::Group, *s).is_some_and(|r| {
                    r.text(NAME)
                        .unwrap_or_default()
                        .eq_ignore_ascii_case(display_name)
                })
            })
            .collect();
        self.sort(&mut slots);
        slots.dedup();
        slots.into_iter().map(|s| self.ids.text(s))
    }
}
