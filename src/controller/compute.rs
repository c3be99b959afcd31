//! What one group or user of a tenant should have, computed from the
//! cache's index with the rules of [`super::desired`]. Pure: the reconcile
//! calls it for what changed, the tests against [`super::desired::desired`]
//! for everything.

use std::collections::BTreeSet;

use super::desired::{Facts, GroupDesired, Person, Plan, Team, UserOutcome};
use super::directory::{Entry, GroupEntry, UserEntry};
use super::nesting::{self, Expansion};
use crate::crd::{ScimTenant, is_user_type};
use crate::store::index::{GroupView, Index, UserView};

/// The tenant's owner facts: who its users and groups must have been made for.
#[derive(Clone, Default)]
pub struct Owner {
    uid: Option<String>,
    created: Option<jiff::Timestamp>,
    /// Levels of member groups expanded ([`nesting`]); 0 when off.
    pub depth: usize,
}

impl Owner {
    pub fn of(tenant: &ScimTenant) -> Self {
        Self {
            uid: tenant.metadata.uid.clone(),
            created: tenant.metadata.creation_timestamp.as_ref().map(|t| t.0),
            depth: tenant.spec.nested_groups.depth(),
        }
    }

    pub fn user<'a>(&self, index: &'a Index, id: &str) -> Option<UserView<'a>> {
        index
            .user(id)
            .filter(|u| u.belongs_to(self.uid.as_deref(), self.created))
    }

    pub fn group<'a>(&self, index: &'a Index, id: &str) -> Option<GroupView<'a>> {
        index
            .group(id)
            .filter(|g| g.belongs_to(self.uid.as_deref(), self.created))
    }

    /// How many of the tenant's groups a mapping's name matches.
    pub fn matching(&self, index: &Index, name: &str) -> usize {
        index
            .group_ids_named(name)
            .filter(|id| self.group(index, id).is_some())
            .count()
    }
}

fn person<'a>(user: &UserView<'a>) -> Person<'a> {
    Person {
        id: user.id,
        user_name: user.user_name,
        primary_email: user.primary_email,
        active: user.active,
    }
}

/// One group's desired bindings, from the cache; `None` when the group is
/// gone (or not the tenant's): its bindings are to be deleted.
pub fn group_desired(
    plan: &Plan,
    owner: &Owner,
    index: &Index,
    id: &str,
    facts: &Facts,
    visited: &mut usize,
) -> Option<GroupDesired> {
    let group = owner.group(index, id)?;
    let depth = owner.depth;
    let expansion = expand(owner, index, group.id, depth);
    *visited += 1 + expansion.groups.len();
    let mut effective = 0;
    let subjects: Vec<String> = expansion
        .users
        .keys()
        .filter_map(|member| {
            *visited += 1;
            let user = owner.user(index, member)?;
            effective += 1;
            plan.user_subject(person(&user)).0
        })
        .collect();
    let team = Team {
        id: group.id,
        display_name: group.display_name,
        member_count: group.member_count(),
    };
    let matching = |name: &str| owner.matching(index, name);
    let mut produced = plan.group(team, subjects, &matching, facts);
    nesting::report(
        &mut produced.outcome,
        team,
        &expansion,
        depth,
        effective,
        |g| owner.group(index, g).map(|g| g.display_name),
    );
    Some(produced)
}

/// [`nesting::expand`] over the cache: the tenant's groups only.
pub fn expand<'a>(owner: &Owner, index: &'a Index, id: &'a str, depth: usize) -> Expansion<'a> {
    nesting::expand(id, depth, |g| {
        owner
            .group(index, g)
            .map(|g| g.members().map(|(m, t)| (m, is_user_type(t))))
    })
}

/// The ids of a user's groups, direct and inherited, each with the direct
/// group it comes through ([`nesting::ancestors`] over the cache).
pub fn groups_of<'a>(
    owner: &Owner,
    index: &'a Index,
    id: &'a str,
    depth: usize,
) -> Vec<(&'a str, &'a str)> {
    nesting::ancestors(
        index.group_ids_of(id),
        depth,
        |g| index.group_ids_of(g),
        |g| owner.group(index, g).is_some(),
    )
}

/// displayNames of a user's groups, direct and inherited.
fn group_names(owner: &Owner, index: &Index, id: &str, depth: usize) -> Vec<String> {
    groups_of(owner, index, id, depth)
        .into_iter()
        .filter_map(|(g, _)| owner.group(index, g))
        .map(|g| g.display_name.to_owned())
        .collect()
}

/// What to report on one user, from the cache.
pub fn user_outcome(plan: &Plan, owner: &Owner, index: &Index, id: &str) -> Option<UserOutcome> {
    let user = owner.user(index, id)?;
    let groups = group_names(owner, index, id, owner.depth);
    Some(plan.user(person(&user), groups))
}

/// A user's directory entry; `None` when it has none (gone, inactive, or
/// not the tenant's).
pub fn user_entry(owner: &Owner, index: &Index, id: &str) -> Option<UserEntry> {
    let user = owner.user(index, id).filter(|u| u.active)?;
    let mut groups = group_names(owner, index, id, owner.depth);
    groups.sort();
    groups.dedup();
    Some(UserEntry {
        user_name: user.user_name.to_owned(),
        display_name: user.display_name.map(str::to_owned),
        email: user.primary_email.map(str::to_owned),
        groups,
    })
}

/// A group's directory entry; `None` when it is gone or not the tenant's.
pub fn group_entry(owner: &Owner, index: &Index, id: &str) -> Option<GroupEntry> {
    let group = owner.group(index, id)?;
    let members: BTreeSet<String> = expand(owner, index, group.id, owner.depth)
        .users
        .keys()
        .filter_map(|m| owner.user(index, m).filter(|u| u.active))
        .map(|u| u.user_name.to_owned())
        .collect();
    Some(GroupEntry {
        id: group.id.to_owned(),
        display_name: group.display_name.to_owned(),
        members: members.into_iter().collect(),
    })
}

/// Every directory entry of the tenant, made as it is taken (a rebuild
/// serializes each before the next is made).
pub fn directory_entries<'a>(
    owner: &'a Owner,
    index: &'a Index,
) -> impl Iterator<Item = Entry> + 'a {
    let users = index.users().filter_map(|user| {
        let entry = user_entry(owner, index, user.id)?;
        Some(Entry::User(user.id.to_owned(), entry))
    });
    let groups = index
        .groups()
        .filter_map(|group| group_entry(owner, index, group.id).map(Entry::Group));
    users.chain(groups)
}

#[cfg(test)]
mod tests;
