//! Which resources a filter can match, from the indexes, so that `list`
//! evaluates the filter on those instead of on the whole tenant. The
//! candidates are a superset of the matches (`list` still evaluates the
//! filter on each), so only `eq` on a string, where the index folds case as
//! the schema compares it, narrows:
//!
//! - `id`, `externalId` (caseExact): exact lookups (for `id`, plus the
//!   few resources spelling it otherwise too);
//! - `userName`, `emails.value` (also `emails[value eq …]`, `emails eq …`)
//!   and a group's `displayName`: lookups ignoring case;
//! - a group's `members.value` and a user's `groups.value` (caseExact ids):
//!   from the memberships, plus the few resources whose memberships the
//!   index cannot vouch for (see [`super::record::IRREGULAR`]);
//! - `and` by either side (both: their intersection), `or` when both sides
//!   narrow.

use crate::scim::filter::{AttrInfo, CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::store::Kind;

use super::slots::Slot;
use super::{GROUPS, Index, USERS, k};

/// Slots worth evaluating `filter` on (possibly of other kinds, repeated or
/// gone), or `None` when every resource is.
pub fn candidates(index: &Index, kind: Kind, filter: &Filter) -> Option<Vec<Slot>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(value),
        } if top_level(kind, path) => lookup(index, kind, &path.name, path.sub.as_deref(), value),
        Filter::ValuePath { path, filter } if top_level(kind, path) && path.sub.is_none() => {
            within(index, kind, &path.name, filter)
        }
        Filter::And(left, right) => both(
            candidates(index, kind, left),
            candidates(index, kind, right),
        ),
        Filter::Or(left, right) => {
            let mut all = candidates(index, kind, left)?;
            all.extend(candidates(index, kind, right)?);
            Some(all)
        }
        _ => None,
    }
}

/// Inside `name[…]`: comparisons of the values' `value`.
fn within(index: &Index, kind: Kind, name: &str, filter: &Filter) -> Option<Vec<Slot>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(value),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            lookup(index, kind, name, Some("value"), value)
        }
        Filter::And(left, right) => both(
            within(index, kind, name, left),
            within(index, kind, name, right),
        ),
        Filter::Or(left, right) => {
            let mut all = within(index, kind, name, left)?;
            all.extend(within(index, kind, name, right)?);
            Some(all)
        }
        _ => None,
    }
}

/// Whether `path` names a top-level attribute of the resource (no URN, or
/// the resource's own core schema).
fn top_level(kind: Kind, path: &AttrPath) -> bool {
    path.urn
        .as_deref()
        .is_none_or(|urn| kind.resource_type().is_core_schema(urn))
}

fn both(left: Option<Vec<Slot>>, right: Option<Vec<Slot>>) -> Option<Vec<Slot>> {
    match (left, right) {
        (Some(mut left), Some(mut right)) => {
            right.sort_unstable();
            left.retain(|s| right.binary_search(s).is_ok());
            Some(left)
        }
        (one, other) => one.or(other),
    }
}

/// Candidates for `name[.sub] eq value`.
fn lookup(
    index: &Index,
    kind: Kind,
    name: &str,
    sub: Option<&str>,
    value: &str,
) -> Option<Vec<Slot>> {
    let is = |attr: &str| name.eq_ignore_ascii_case(attr);
    let plain = sub.is_none();
    let through_value = sub.is_none_or(|s| s.eq_ignore_ascii_case("value"));
    let slots: Vec<Slot> = match kind {
        _ if is("id") && plain => {
            let mut slots: Vec<Slot> = index.ids.get(value).into_iter().collect();
            slots.extend(&index.irregular[k(kind)]);
            slots
        }
        _ if is("externalId") && plain => index.externals[k(kind)]
            .get(index.ids.hash(value.as_bytes()))
            .collect(),
        Kind::User if is("userName") && plain => {
            index.names[USERS].get(index.fold_hash(value)).collect()
        }
        Kind::User if is("emails") && through_value => {
            index.emails.get(index.fold_hash(value)).collect()
        }
        Kind::Group if is("displayName") && plain => {
            index.names[GROUPS].get(index.fold_hash(value)).collect()
        }
        Kind::Group if is("members") && through_value => {
            let mut slots: Vec<Slot> = index.group_ids_of_slot(value).to_vec();
            slots.extend(&index.irregular[GROUPS]);
            slots
        }
        Kind::User if is("groups") && through_value => {
            let mut slots: Vec<Slot> = index
                .find(Kind::Group, value)
                .map(|g| g.members.to_vec())
                .unwrap_or_default();
            slots.extend(&index.irregular[USERS]);
            slots
        }
        _ => return None,
    };
    Some(slots)
}

impl Index {
    fn group_ids_of_slot(&self, id: &str) -> &[Slot] {
        match self.ids.get(id) {
            Some(slot) => &self.ids.slots[slot as usize].groups,
            None => &[],
        }
    }
}
