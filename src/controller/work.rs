//! What a reconcile has to do: the changes since the last one (from the SCIM
//! cache's journal and from the watches) expanded into the groups whose
//! bindings to compute again and the users whose status to write. A change
//! costs work in proportion to what it touches, not to the tenant.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use super::desired::{Affected, Plan};
use super::nesting;
use super::owned::Scope;
use crate::meta::label_value;
use crate::store::index::Index;
use crate::store::kube::cache::Changes;

/// Groups one tenant may have pending before it is simpler to check them all.
const PENDING_GROUPS: usize = 10_000;

/// Changes the watches saw, per tenant, until its next reconcile.
#[derive(Default)]
pub struct Pending(Mutex<HashMap<String, Work>>);

/// Changes seen outside the SCIM cache for one tenant.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Work {
    /// Groups (their label values) whose bindings someone else changed.
    pub groups: BTreeSet<String>,
    /// Namespaces, Roles and ClusterRoles that appeared or went.
    pub facts: BTreeSet<String>,
    /// Someone else changed the directory ConfigMaps.
    pub directory: bool,
    /// Check everything.
    pub full: bool,
}

impl Pending {
    fn with(&self, tenant: &str, change: impl FnOnce(&mut Work)) {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let work = pending.entry(tenant.to_owned()).or_default();
        change(work);
        if work.groups.len() + work.facts.len() > PENDING_GROUPS {
            *work = Work {
                full: true,
                ..Work::default()
            };
        }
    }

    /// Someone else changed objects of `tenant` in `scope`.
    pub fn touched(&self, tenant: &str, scope: &Scope) {
        self.with(tenant, |work| match scope {
            Scope::Group(group) => {
                work.groups.insert(group.clone());
            }
            Scope::Directory => work.directory = true,
            Scope::Tenant => work.full = true,
        });
    }

    /// A namespace or role named `name` appeared or went.
    pub fn fact(&self, tenant: &str, name: &str) {
        self.with(tenant, |work| {
            work.facts.insert(name.to_owned());
        });
    }

    /// Check all of `tenant` next time (a reconcile that failed half way).
    pub fn everything(&self, tenant: &str) {
        self.with(tenant, |work| work.full = true);
    }

    /// The work of `tenant`, leaving none.
    pub fn take(&self, tenant: &str) -> Work {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant)
            .unwrap_or_default()
    }
}

/// What one reconcile goes over.
#[derive(Debug, Default, PartialEq)]
pub struct Dirty {
    /// Every group and user: a full pass.
    pub full: bool,
    /// Groups (by id, or label value for one the cache no longer has)
    /// whose bindings and status to compute.
    pub groups: BTreeSet<String>,
    /// Users whose status to compute.
    pub users: BTreeSet<String>,
    /// The directory ConfigMaps to compute: the entries of `users` and
    /// `groups`.
    pub directory: bool,
    /// Someone else changed the directory: rebuild all of it.
    pub rebuild_directory: bool,
}

/// Expands the changes into the groups and users they affect:
/// - a changed, created or deleted group: itself;
/// - a displayName a group had or took: every group of that name (a mapping
///   matching two groups grants nothing, so its neighbours change too) and
///   their members (whose status lists the name);
/// - a changed user: itself and every group listing it (its subject);
/// - a user added to or removed from a group: itself (its status);
/// - a namespace or role: the groups matched by the mappings naming it,
///   selecting it or deriving it from a group's name;
/// - someone else's change to a group's bindings: that group.
///
/// With nested groups on ([`nesting`]), a changed group or user also
/// touches every group containing it within the depth (their effective
/// members), and a group added to or removed from a group, or renamed,
/// every id below it within the depth (their inherited groups).
pub fn expand(plan: &Plan, index: &Index, changes: &Changes, work: &Work) -> Dirty {
    if changes.full || work.full {
        return Dirty {
            full: true,
            directory: true,
            rebuild_directory: true,
            ..Dirty::default()
        };
    }
    let mut dirty = Dirty {
        directory: !changes.is_empty() || work.directory,
        rebuild_directory: work.directory,
        ..Dirty::default()
    };
    let depth = plan.nesting_depth();
    let parents = |id| index.group_ids_of(id);
    let below = |id, dirty: &mut Dirty| {
        let members = |g| index.group(g).map(|g| g.members().map(|(m, _)| m));
        let ids = nesting::below(id, depth, members);
        // Ids of groups have no user status or entry.
        let users = ids.into_iter().filter(|m| index.group(m).is_none());
        dirty.users.extend(users.map(str::to_owned));
    };
    dirty.groups.extend(changes.groups.iter().cloned());
    dirty.users.extend(changes.users.iter().cloned());
    dirty.users.extend(changes.members.iter().cloned());
    for name in &changes.names {
        for id in index.group_ids_named(name) {
            dirty.groups.insert(id.to_owned());
            if let Some(group) = index.group(id) {
                dirty.users.extend(group.user_members().map(str::to_owned));
            }
            if depth > 0 {
                below(id, &mut dirty);
            }
        }
    }
    for user in &changes.users {
        let containing = nesting::containing(user, depth, parents);
        dirty
            .groups
            .extend(containing.into_iter().map(str::to_owned));
    }
    if depth > 0 {
        for group in &changes.groups {
            let containing = nesting::containing(group, depth, parents);
            dirty
                .groups
                .extend(containing.into_iter().map(str::to_owned));
        }
        for member in &changes.members {
            below(member, &mut dirty);
        }
        // Ids are never both a user's and a group's: an id the membership
        // change named that is a group has no user status.
        dirty.users.retain(|id| index.group(id).is_none());
    }
    for fact in &work.facts {
        for affected in plan.mappings_naming(fact) {
            match affected {
                Affected::Named(name) => dirty
                    .groups
                    .extend(index.group_ids_named(&name).map(str::to_owned)),
                // A namespace a pattern mapping's selector may select: the
                // groups the pattern matches (its share of the tenant).
                Affected::Pattern(mapping) => dirty.groups.extend(
                    index
                        .groups()
                        .filter(|g| plan.pattern_matches(mapping, g.display_name))
                        .map(|g| g.id.to_owned()),
                ),
            }
        }
    }
    for label in &work.groups {
        // A group's label is its id unless the id is not a valid label
        // value; such a group is found by a full pass.
        if label_value(label) == *label {
            dirty.groups.insert(label.clone());
        } else {
            dirty.full = true;
        }
    }
    dirty
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::testutil::{in_namespaces, tenant};
    use crate::crd::RoleKind;
    use crate::store::Kind;
    use crate::store::index::Entry;

    fn entry(resource: serde_json::Value) -> Entry {
        Entry {
            version: "1".into(),
            resource,
            generation: None,
            tenant_uid: None,
            status: None,
        }
    }

    fn index() -> Index {
        let mut index = Index::default();
        for (id, name) in [("u1", "ann"), ("u2", "bob"), ("u3", "cy")] {
            index.insert(Kind::User, id, entry(json!({"userName": name})));
        }
        let group = |name: &str, members: &[&str]| {
            let members: Vec<_> = members.iter().map(|m| json!({"value": m})).collect();
            entry(json!({"displayName": name, "members": members}))
        };
        index.insert(Kind::Group, "g1", group("Dev", &["u1", "u2"]));
        index.insert(Kind::Group, "g2", group("dev", &["u3"]));
        index.insert(Kind::Group, "g3", group("Ops", &["u1"]));
        index
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// Changes to `groups` and `users`, with `members` and `names` touched.
    fn changes(groups: &[&str], users: &[&str], members: &[&str], names: &[&str]) -> Changes {
        let mut changes = Changes::default();
        changes.groups = set(groups);
        changes.users = set(users);
        changes.members = set(members);
        changes.names = set(names);
        changes
    }

    #[test]
    fn a_membership_change_touches_the_group_and_the_member_only() {
        let tenant = tenant(
            "acme",
            vec![in_namespaces(
                "dev",
                RoleKind::ClusterRole,
                "edit",
                &["team"],
            )],
        );
        let plan = Plan::new(&tenant);
        let changes = changes(&["g3"], &[], &["u2"], &[]);
        let dirty = expand(&plan, &index(), &changes, &Work::default());
        assert_eq!(dirty.groups, set(&["g3"]));
        assert_eq!(dirty.users, set(&["u2"]));
        assert!(dirty.directory && !dirty.full);
    }

    #[test]
    fn a_user_change_touches_its_groups_and_a_rename_its_namesakes() {
        let tenant = tenant(
            "acme",
            vec![in_namespaces(
                "dev",
                RoleKind::ClusterRole,
                "edit",
                &["team"],
            )],
        );
        let plan = Plan::new(&tenant);
        let user = changes(&[], &["u1"], &[], &[]);
        let dirty = expand(&plan, &index(), &user, &Work::default());
        assert_eq!(dirty.groups, set(&["g1", "g3"]));
        assert_eq!(dirty.users, set(&["u1"]));

        // g2 was renamed to "dev": g1 shares the name (ASCII case), so both
        // and their members are looked at again.
        let rename = changes(&["g2"], &[], &[], &["dev", "Old"]);
        let dirty = expand(&plan, &index(), &rename, &Work::default());
        assert_eq!(dirty.groups, set(&["g1", "g2"]));
        assert_eq!(dirty.users, set(&["u1", "u2", "u3"]));
    }

    #[test]
    fn a_namespace_touches_only_the_groups_of_mappings_naming_it() {
        let tenant = tenant(
            "acme",
            vec![
                in_namespaces("dev", RoleKind::ClusterRole, "edit", &["team"]),
                in_namespaces("ops", RoleKind::ClusterRole, "view", &["other"]),
            ],
        );
        let plan = Plan::new(&tenant);
        let work = Work {
            facts: set(&["team"]),
            ..Work::default()
        };
        let dirty = expand(&plan, &index(), &Changes::default(), &work);
        assert_eq!(dirty.groups, set(&["g1", "g2"]));
        assert!(dirty.users.is_empty() && !dirty.directory);
    }

    #[test]
    fn with_nesting_a_change_touches_the_groups_containing_it_and_the_users_below() {
        let mut tenant = tenant(
            "acme",
            vec![in_namespaces(
                "dev",
                RoleKind::ClusterRole,
                "edit",
                &["team"],
            )],
        );
        let mut index = index();
        // g4 lists g3 (Ops: u1), g5 lists g4; g6 lists g5, one level too
        // many to read g3's members but not g4.
        let nest = |name: &str, member: &str| {
            entry(json!({"displayName": name, "members": [{"value": member, "type": "Group"}]}))
        };
        index.insert(Kind::Group, "g4", nest("outer", "g3"));
        index.insert(Kind::Group, "g5", nest("outer2", "g4"));
        index.insert(Kind::Group, "g6", nest("outer3", "g5"));
        let user = changes(&[], &["u1"], &[], &[]);
        let plan = Plan::new(&tenant);
        let dirty = expand(&plan, &index, &user, &Work::default());
        assert_eq!(dirty.groups, set(&["g1", "g3"]), "nesting off");

        tenant.spec.nested_groups = crate::crd::NestedGroups {
            enabled: true,
            max_depth: 1,
        };
        let plan = Plan::new(&tenant);
        // u1's groups, and the groups containing them within 1 level (and
        // one more, which sees whether they exist).
        let dirty = expand(&plan, &index, &user, &Work::default());
        assert_eq!(dirty.groups, set(&["g1", "g3", "g4", "g5"]));
        // g4 nested in g5 (a membership change of g5): g5 and the groups
        // containing it; the users below g4 (their inherited groups).
        let nested = changes(&["g5"], &[], &["g4"], &[]);
        let dirty = expand(&plan, &index, &nested, &Work::default());
        assert_eq!(dirty.groups, set(&["g5", "g6"]));
        assert_eq!(dirty.users, set(&["u1"]), "no group id is a user");
    }

    #[test]
    fn pending_work_is_bounded() {
        let pending = Pending::default();
        for n in 0..=PENDING_GROUPS {
            pending.touched("acme", &Scope::Group(format!("g{n}")));
        }
        let work = pending.take("acme");
        assert!(work.full && work.groups.is_empty());
        assert_eq!(pending.take("acme"), Work::default());
    }
}
