//! Nested groups: a group's effective members and a user's inherited
//! groups, walked over whatever holds the groups (the oracle's ScimGroups,
//! the cache's index). Pure: the caller gives the lookups.
//!
//! # Rules
//!
//! - **Edges.** A member of group P is a nested group when its `value` is the
//!   id of a group of the tenant, whatever its `type` says (ids are assigned
//!   by scimitar and never shared by a user and a group). An id naming no
//!   group of the tenant, or a group another tenant made, is never expanded.
//! - **Depth.** The group itself is level 0, its member groups level 1, and
//!   so on, each group at the shortest distance it is reached by. The user
//!   members of groups down to level `maxDepth` are effective members. A
//!   group at level `maxDepth + 1` is not expanded: its members are not
//!   granted through the outer group (fail closed), and the outer group
//!   reports `NestingTooDeep`.
//! - **Cycles.** A group reaching itself (A lists B, B lists A) reports
//!   `GroupCycle`; each group is expanded once, so a cycle cannot loop, and
//!   members reached along it still count: A's effective members are A's
//!   and B's, and so are B's. What A and B say together is that they have
//!   the same members; refusing them would let any member group's admin
//!   revoke the outer group's access by nesting it back.
//! - **Users' groups.** A user's groups are the groups listing its id (its
//!   direct groups, as without nesting) and every group reaching one of
//!   them within `maxDepth` levels (inherited). The same edges walked
//!   upwards, so a user is an effective member of exactly the groups that
//!   list it among their groups (for user-typed members).
//!
//! Costs: a group's expansion visits the groups it reaches within
//! `maxDepth + 1` levels and their members; a user's, the groups above it
//! within `maxDepth` levels. Both are bounded by the depth, not the tenant.

use std::collections::{BTreeMap, BTreeSet};

use super::desired::{GroupOutcome, Problem, Team};
use crate::crd::ScimGroup;
use crate::meta::object_name;

/// Reasons of the problems nesting reports (see [`super::desired::reason`]).
pub mod reason {
    /// A group reaches itself through its member groups.
    pub const GROUP_CYCLE: &str = "GroupCycle";
    /// A group has member groups nested deeper than `maxDepth`.
    pub const NESTING_TOO_DEEP: &str = "NestingTooDeep";
}

/// How many too-deep groups a problem names; the rest are counted.
const NAMED: usize = 5;

/// What expanding one group found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expansion<'a> {
    /// Effective user members (ids, type `User` or no type), each with the
    /// group listing it at the shortest distance: the root for a direct
    /// member. Whether the id names a user is the caller's to check.
    pub users: BTreeMap<&'a str, &'a str>,
    /// The member groups reached (not the root), with their level.
    pub groups: BTreeMap<&'a str, usize>,
    /// The root reaches itself.
    pub cycle: bool,
    /// Groups one level too deep: not expanded.
    pub too_deep: BTreeSet<&'a str>,
}

/// Expands `root` down to `depth` levels. `members(id)` gives the members of
/// the tenant's group `id` as (id, whether the type names a user), or
/// `None` when `id` is not a group of the tenant. With `depth` 0 (nesting
/// off) only `root`'s own members are read and no member is looked up.
pub fn expand<'a, M>(
    root: &'a str,
    depth: usize,
    members: impl Fn(&'a str) -> Option<M>,
) -> Expansion<'a>
where
    M: IntoIterator<Item = (&'a str, bool)>,
{
    let mut out = Expansion::default();
    let mut level: Vec<&'a str> = vec![root];
    let mut seen: BTreeSet<&'a str> = BTreeSet::from([root]);
    for at in 0..=depth {
        let mut next = Vec::new();
        for group in level {
            let Some(listed) = members(group) else {
                continue;
            };
            for (member, is_user) in listed {
                if is_user {
                    out.users.entry(member).or_insert(group);
                }
                if depth == 0 {
                    continue;
                }
                if member == root {
                    out.cycle = true;
                    continue;
                }
                if seen.contains(member) || members(member).is_none() {
                    continue;
                }
                seen.insert(member);
                if at == depth {
                    out.too_deep.insert(member);
                } else {
                    out.groups.insert(member, at + 1);
                    next.push(member);
                }
            }
        }
        level = next;
    }
    out
}

/// The groups a user belongs to: `direct` (the groups listing it), then
/// every group reaching one of them within `depth` levels, as (group id,
/// the direct group it comes through). `parents(id)` gives the groups
/// listing `id`; `is_group(id)` whether `id` is a group of the tenant.
pub fn ancestors<'a, P>(
    direct: impl IntoIterator<Item = &'a str>,
    depth: usize,
    parents: impl Fn(&'a str) -> P,
    is_group: impl Fn(&str) -> bool,
) -> Vec<(&'a str, &'a str)>
where
    P: IntoIterator<Item = &'a str>,
{
    let mut out: Vec<(&'a str, &'a str)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut level: Vec<(&'a str, &'a str)> = Vec::new();
    for group in direct {
        if is_group(group) && seen.insert(group) {
            out.push((group, group));
            level.push((group, group));
        }
    }
    for _ in 0..depth {
        let mut next = Vec::new();
        for (group, via) in level {
            for parent in parents(group) {
                if is_group(parent) && seen.insert(parent) {
                    out.push((parent, via));
                    next.push((parent, via));
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    out
}

/// Every group whose expansion may read `id` (a group or user): the groups
/// listing it and their ancestors, `depth + 1` levels up (the last level
/// for [`Expansion::too_deep`]). What a change to `id` touches.
pub fn containing<'a, P>(
    id: &'a str,
    depth: usize,
    parents: impl Fn(&'a str) -> P,
) -> BTreeSet<&'a str>
where
    P: IntoIterator<Item = &'a str>,
{
    let mut out = BTreeSet::new();
    let mut level = vec![id];
    // A user is read by groups up to `depth` levels above the groups
    // listing it; a group's existence one level more.
    let steps = if depth == 0 { 1 } else { depth + 2 };
    for _ in 0..steps {
        let mut next = Vec::new();
        for node in level {
            for parent in parents(node) {
                if out.insert(parent) {
                    next.push(parent);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    out
}

/// Every id listed below `id` within `depth` levels, groups and users
/// alike: the users whose groups a change to `id`'s nesting may change.
/// `members(id)` gives the member ids of a group, `None` for no group.
pub fn below<'a, M>(
    id: &'a str,
    depth: usize,
    members: impl Fn(&'a str) -> Option<M>,
) -> BTreeSet<&'a str>
where
    M: IntoIterator<Item = &'a str>,
{
    let mut out = BTreeSet::new();
    let mut level = vec![id];
    for _ in 0..=depth {
        let mut next = Vec::new();
        for group in level {
            for member in members(group).into_iter().flatten() {
                if out.insert(member) {
                    next.push(member);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    out
}

/// What to report on group `id` (`display_name`) of `expansion` at
/// `depth`; `name_of` gives the displayName of a group.
pub fn problems<'a>(
    id: &str,
    display_name: &str,
    expansion: &Expansion<'a>,
    depth: usize,
    name_of: impl Fn(&'a str) -> Option<&'a str>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    if expansion.cycle {
        problems.push(Problem {
            reason: reason::GROUP_CYCLE,
            message: format!(
                "group {display_name:?} (id {id}) is a member of itself through its member \
                 groups; each group of the cycle is expanded once"
            ),
        });
    }
    if !expansion.too_deep.is_empty() {
        let mut named: Vec<String> = expansion
            .too_deep
            .iter()
            .take(NAMED)
            .map(|g| format!("{:?} (id {g})", name_of(g).unwrap_or_default()))
            .collect();
        if expansion.too_deep.len() > NAMED {
            named.push(format!("{} more", expansion.too_deep.len() - NAMED));
        }
        problems.push(Problem {
            reason: reason::NESTING_TOO_DEEP,
            message: format!(
                "group {display_name:?} (id {id}): member groups nested deeper than \
                 spec.nestedGroups.maxDepth ({depth}) grant nothing through it: {}",
                named.join(", ")
            ),
        });
    }
    problems
}

/// The tenant's problem when some of its groups are in cycles: `cyclic`
/// are their (id, displayName), by id.
pub fn tenant_problem<'a>(
    tenant: &str,
    cyclic: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Option<Problem> {
    let count = cyclic.len();
    if count == 0 {
        return None;
    }
    let mut named: Vec<String> = cyclic
        .take(NAMED)
        .map(|(id, name)| format!("{name:?} (id {id})"))
        .collect();
    if count > NAMED {
        named.push(format!("{} more", count - NAMED));
    }
    Some(Problem {
        reason: reason::GROUP_CYCLE,
        message: format!(
            "tenant {tenant:?}: {count} group(s) are members of themselves through nested \
             groups: {}",
            named.join(", ")
        ),
    })
}

/// Whether an outcome reports its group in a cycle.
pub fn in_cycle(outcome: &GroupOutcome) -> bool {
    outcome
        .problems
        .iter()
        .any(|p| p.reason == reason::GROUP_CYCLE)
}

/// Adds what nesting found for `team` to its outcome: the problems of
/// [`problems`] and, with nesting on, the `effective` member count.
pub fn report<'a>(
    outcome: &mut GroupOutcome,
    team: Team,
    expansion: &Expansion<'a>,
    depth: usize,
    effective: usize,
    name_of: impl Fn(&'a str) -> Option<&'a str>,
) {
    if depth == 0 {
        return;
    }
    outcome.effective_member_count = Some(i64::try_from(effective).unwrap_or(i64::MAX));
    for problem in problems(team.id, team.display_name, expansion, depth, name_of) {
        if !outcome.problems.contains(&problem) {
            outcome.problems.push(problem);
        }
    }
}

/// The tenant's groups as [`super::desired::desired`] reads them, for the
/// walks above.
pub struct Groups<'a> {
    by_id: BTreeMap<&'a str, &'a ScimGroup>,
    /// Groups listing each id, whatever the member's type.
    parents: BTreeMap<&'a str, BTreeSet<&'a str>>,
    depth: usize,
}

impl<'a> Groups<'a> {
    pub fn new(groups: &'a [ScimGroup], depth: usize) -> Self {
        let mut by_id = BTreeMap::new();
        let mut parents: BTreeMap<&'a str, BTreeSet<&'a str>> = BTreeMap::new();
        for group in groups {
            let id = object_name(&group.metadata);
            by_id.insert(id, group);
            for member in &group.spec.members {
                parents.entry(member.value.as_str()).or_default().insert(id);
            }
        }
        Self {
            by_id,
            parents,
            depth,
        }
    }

    /// The levels expanded (0: nesting is off).
    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn display_name(&self, id: &str) -> Option<&'a str> {
        self.by_id.get(id).map(|g| g.spec.display_name.as_str())
    }

    /// See [`expand`].
    pub fn expand(&self, id: &'a str) -> Expansion<'a> {
        expand(id, self.depth, |g| {
            self.by_id.get(g).map(|group| {
                group
                    .spec
                    .members
                    .iter()
                    .map(|m| (m.value.as_str(), m.is_user()))
            })
        })
    }

    /// The ids of a user's groups, direct and inherited: see [`ancestors`].
    pub fn groups_of(&self, user: &'a str) -> Vec<(&'a str, &'a str)> {
        let parents = |id: &'a str| self.parents.get(id).into_iter().flatten().copied();
        ancestors(parents(user), self.depth, parents, |g| {
            self.by_id.contains_key(g)
        })
    }
}

#[cfg(test)]
mod tests;
