//! What a change to a tenant's spec would do, before it is applied. Pure: no
//! I/O (the callers, `scimitar plan` and the console's Access page, gather
//! the inputs; [`super::live`] reads them from the API server).
//!
//! - **Bindings.** The bindings that exist now (labelled for the tenant) are
//!   compared with the ones [`super::desired::desired`] produces for the new
//!   spec, by (namespace, name): created, changed (role or subjects differ;
//!   the subjects added and removed are listed) and deleted. This is what the
//!   controller's apply phase would do, since it also converges the
//!   labelled bindings on the desired ones.
//! - **Access per user.** Each binding's role is expanded into grants
//!   (namespace or cluster-wide, API group, resource, resource name, verb);
//!   a `User` subject gives them to the SCIM users named so
//!   ([`crate::meta::subject_name`] under the tenant's subject settings), a
//!   `Group` subject to every member of the group named so. Each user's
//!   grants before and after are compared: what they gain and what they
//!   lose. A binding to a role that does not exist grants nothing, as in
//!   RBAC. Only this tenant's bindings count: access from bindings scimitar
//!   did not make is outside the plan.
//! - **Size.** Grants are grouped by (scope, API group, resource, name) with
//!   their verbs, and [`summary`] merges resources with the same verbs, so a
//!   role like `admin` reads as a few lines per namespace.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, PolicyRule, RoleBinding};
use serde::Serialize;

use super::desired::Desired;
use crate::crd::{ScimGroup, ScimUser, SubjectSettings};
use crate::meta::{GROUP_NAME_ANNOTATION, object_name, subject_name};

/// A subject of a binding: `User` or `Group` and its name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Who {
    pub kind: String,
    pub name: String,
}

/// A role a binding references.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RoleName {
    /// `ClusterRole` or `Role`.
    pub kind: String,
    pub name: String,
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// One binding, as the plan and the access report read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bound {
    /// `None`: a ClusterRoleBinding.
    pub namespace: Option<String>,
    pub name: String,
    pub role: RoleName,
    /// The displayName of the group it was made for (its annotation).
    pub group: Option<String>,
    /// Sorted, deduplicated.
    pub subjects: Vec<Who>,
}

impl Bound {
    fn new(
        namespace: Option<String>,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        role: &k8s_openapi::api::rbac::v1::RoleRef,
        subjects: Option<&Vec<k8s_openapi::api::rbac::v1::Subject>>,
    ) -> Self {
        let mut subjects: Vec<Who> = subjects
            .into_iter()
            .flatten()
            .map(|s| Who {
                kind: s.kind.clone(),
                name: s.name.clone(),
            })
            .collect();
        subjects.sort();
        subjects.dedup();
        Self {
            namespace,
            name: meta.name.clone().unwrap_or_default(),
            role: RoleName {
                kind: role.kind.clone(),
                name: role.name.clone(),
            },
            group: meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(GROUP_NAME_ANNOTATION))
                .cloned(),
            subjects,
        }
    }

    pub fn of_role_binding(binding: &RoleBinding) -> Self {
        Self::new(
            binding.metadata.namespace.clone(),
            &binding.metadata,
            &binding.role_ref,
            binding.subjects.as_ref(),
        )
    }

    pub fn of_cluster_role_binding(binding: &ClusterRoleBinding) -> Self {
        Self::new(
            None,
            &binding.metadata,
            &binding.role_ref,
            binding.subjects.as_ref(),
        )
    }

    /// `namespace/name`, or `name` for a ClusterRoleBinding.
    pub fn key(&self) -> (Option<&str>, &str) {
        (self.namespace.as_deref(), &self.name)
    }

    /// `RoleBinding` or `ClusterRoleBinding`.
    pub fn kind(&self) -> &'static str {
        if self.namespace.is_some() {
            "RoleBinding"
        } else {
            "ClusterRoleBinding"
        }
    }
}

/// The bindings of a desired state, sorted by (namespace, name).
pub fn bindings_of(desired: &Desired) -> Vec<Bound> {
    let mut out: Vec<Bound> = desired
        .role_bindings
        .iter()
        .map(Bound::of_role_binding)
        .chain(
            desired
                .cluster_role_bindings
                .iter()
                .map(Bound::of_cluster_role_binding),
        )
        .collect();
    out.sort_by(|a, b| a.key().cmp(&b.key()));
    out
}

/// A binding that exists before and after, with a different role or subjects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    pub namespace: Option<String>,
    pub name: String,
    pub role_before: RoleName,
    pub role: RoleName,
    pub subjects_added: Vec<Who>,
    pub subjects_removed: Vec<Who>,
}

/// Bindings created, changed and deleted, each sorted by (namespace, name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BindingDiff {
    pub created: Vec<Bound>,
    pub changed: Vec<Changed>,
    pub deleted: Vec<Bound>,
}

/// How `before` becomes `after`, binding by binding.
pub fn binding_diff(before: &[Bound], after: &[Bound]) -> BindingDiff {
    let old: BTreeMap<_, &Bound> = before.iter().map(|b| (b.key(), b)).collect();
    let new: BTreeMap<_, &Bound> = after.iter().map(|b| (b.key(), b)).collect();
    let mut diff = BindingDiff::default();
    for (key, b) in &new {
        match old.get(key) {
            None => diff.created.push((*b).clone()),
            Some(a) if a.role != b.role || a.subjects != b.subjects => {
                let was: BTreeSet<&Who> = a.subjects.iter().collect();
                let is: BTreeSet<&Who> = b.subjects.iter().collect();
                diff.changed.push(Changed {
                    namespace: b.namespace.clone(),
                    name: b.name.clone(),
                    role_before: a.role.clone(),
                    role: b.role.clone(),
                    subjects_added: is.difference(&was).map(|w| (*w).clone()).collect(),
                    subjects_removed: was.difference(&is).map(|w| (*w).clone()).collect(),
                });
            }
            Some(_) => {}
        }
    }
    diff.deleted = old
        .iter()
        .filter(|(key, _)| !new.contains_key(*key))
        .map(|(_, b)| (*b).clone())
        .collect();
    diff
}

/// One permission: a verb on a resource (or a non-resource URL, whose
/// `resource` starts with `/`), in a namespace or cluster-wide.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    /// `None`: cluster-wide.
    pub namespace: Option<String>,
    pub api_group: String,
    pub resource: String,
    /// A `resourceNames` entry; `None`: every object.
    pub name: Option<String>,
    pub verb: String,
}

/// The rules of a role, as the caller read them: `(role, namespace of a
/// Role)` → rules; `None` when the role does not exist.
pub type Rules<'r> = &'r dyn Fn(&RoleName, Option<&str>) -> Option<&'r [PolicyRule]>;

/// Adds what `rule` allows in `namespace` (`None`: cluster-wide) to `out`.
/// Non-resource URLs count only cluster-wide, as in RBAC.
pub fn expand(rule: &PolicyRule, namespace: Option<&str>, out: &mut BTreeSet<Grant>) {
    let names: Vec<Option<&String>> = match &rule.resource_names {
        Some(names) if !names.is_empty() => names.iter().map(Some).collect(),
        _ => vec![None],
    };
    for verb in &rule.verbs {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for name in &names {
                    out.insert(Grant {
                        namespace: namespace.map(str::to_owned),
                        api_group: group.clone(),
                        resource: resource.clone(),
                        name: name.cloned(),
                        verb: verb.clone(),
                    });
                }
            }
        }
        if namespace.is_none() {
            for url in rule.non_resource_urls.iter().flatten() {
                out.insert(Grant {
                    namespace: None,
                    api_group: String::new(),
                    resource: url.clone(),
                    name: None,
                    verb: verb.clone(),
                });
            }
        }
    }
}

/// A SCIM user as the plan names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub user_name: String,
    pub id: String,
}

/// Who a tenant's subjects are: `User` and `Group` subject names → users.
pub struct People {
    users: BTreeMap<String, Vec<Person>>,
    groups: BTreeMap<String, Vec<Person>>,
}

impl People {
    /// The tenant's users and groups under `settings`. Users are matched by
    /// name whether or not they are active: an inactive user still bound is
    /// access that exists. Members that name no user are left out.
    pub fn new(settings: &SubjectSettings, users: &[ScimUser], groups: &[ScimGroup]) -> Self {
        let mut by_id: BTreeMap<&str, Person> = BTreeMap::new();
        let mut by_user: BTreeMap<String, Vec<Person>> = BTreeMap::new();
        for user in users {
            let person = Person {
                user_name: user.spec.user_name.clone(),
                id: object_name(&user.metadata).to_owned(),
            };
            by_user
                .entry(subject_name(
                    settings,
                    &user.spec.user_name,
                    user.spec.primary_email(),
                ))
                .or_default()
                .push(person.clone());
            by_id.insert(object_name(&user.metadata), person);
        }
        let mut by_group: BTreeMap<String, Vec<Person>> = BTreeMap::new();
        for group in groups {
            let members = by_group
                .entry(format!(
                    "{}{}",
                    settings.group_prefix, group.spec.display_name
                ))
                .or_default();
            members.extend(
                group
                    .user_member_ids()
                    .filter_map(|id| by_id.get(id).cloned()),
            );
            members.sort();
            members.dedup();
        }
        Self {
            users: by_user,
            groups: by_group,
        }
    }

    /// The users a subject names (none for other kinds or unknown names).
    pub fn named(&self, who: &Who) -> &[Person] {
        let map = match who.kind.as_str() {
            "User" => &self.users,
            "Group" => &self.groups,
            _ => return &[],
        };
        map.get(&who.name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Every user's grants from `bindings`.
pub fn access(
    bindings: &[Bound],
    people: &People,
    rules: Rules,
) -> BTreeMap<Person, BTreeSet<Grant>> {
    let mut out: BTreeMap<Person, BTreeSet<Grant>> = BTreeMap::new();
    for binding in bindings {
        let Some(rules) = rules(&binding.role, binding.namespace.as_deref()) else {
            continue;
        };
        let mut grants = BTreeSet::new();
        for rule in rules {
            expand(rule, binding.namespace.as_deref(), &mut grants);
        }
        for who in &binding.subjects {
            for person in people.named(who) {
                out.entry(person.clone())
                    .or_default()
                    .extend(grants.iter().cloned());
            }
        }
    }
    out
}

/// Verbs on one resource in one place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grants {
    /// `None`: cluster-wide.
    pub namespace: Option<String>,
    pub api_group: String,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub verbs: Vec<String>,
}

/// (namespace, API group, resource, name): what [`grouped`] groups by.
type Target = (Option<String>, String, String, Option<String>);

/// `grants` grouped by (namespace, API group, resource, name).
pub fn grouped(grants: impl IntoIterator<Item = Grant>) -> Vec<Grants> {
    let mut map: BTreeMap<Target, Vec<String>> = BTreeMap::new();
    for g in grants {
        map.entry((g.namespace, g.api_group, g.resource, g.name))
            .or_default()
            .push(g.verb);
    }
    map.into_iter()
        .map(|((namespace, api_group, resource, name), mut verbs)| {
            verbs.sort();
            verbs.dedup();
            Grants {
                namespace,
                api_group,
                resource,
                name,
                verbs,
            }
        })
        .collect()
}

/// What one user gains and loses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserChange {
    pub user_name: String,
    pub id: String,
    pub gained: Vec<Grants>,
    pub lost: Vec<Grants>,
}

/// Per user, the grants in `after` and not `before` and the reverse; users
/// whose access does not change are left out. Sorted by userName.
pub fn access_diff(
    before: &BTreeMap<Person, BTreeSet<Grant>>,
    after: &BTreeMap<Person, BTreeSet<Grant>>,
) -> Vec<UserChange> {
    let empty = BTreeSet::new();
    let people: BTreeSet<&Person> = before.keys().chain(after.keys()).collect();
    people
        .into_iter()
        .filter_map(|person| {
            let was = before.get(person).unwrap_or(&empty);
            let is = after.get(person).unwrap_or(&empty);
            let gained = grouped(is.difference(was).cloned());
            let lost = grouped(was.difference(is).cloned());
            (!gained.is_empty() || !lost.is_empty()).then(|| UserChange {
                user_name: person.user_name.clone(),
                id: person.id.clone(),
                gained,
                lost,
            })
        })
        .collect()
}

/// Everything `scimitar plan` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    pub tenant: String,
    pub bindings: BindingDiff,
    pub users: Vec<UserChange>,
    /// What keeps the new spec from being applied in full (the problems the
    /// controller would report), as `Reason: message`.
    pub problems: Vec<String>,
}

/// The plan: `before` (the bindings that exist) against `desired` (the new
/// spec's), with users named under the old (`people_before`) and new
/// (`people_after`) subject settings.
pub fn diff(
    tenant: &str,
    before: &[Bound],
    desired: &Desired,
    people_before: &People,
    people_after: &People,
    rules: Rules,
) -> Diff {
    let after = bindings_of(desired);
    let mut problems: Vec<String> = desired
        .problems
        .iter()
        .chain(desired.groups.values().flat_map(|g| &g.problems))
        .chain(desired.users.values().flat_map(|u| &u.problems))
        .map(|p| format!("{}: {}", p.reason, p.message))
        .collect();
    problems.sort();
    problems.dedup();
    Diff {
        tenant: tenant.to_owned(),
        bindings: binding_diff(before, &after),
        users: access_diff(
            &access(before, people_before, rules),
            &access(&after, people_after, rules),
        ),
        problems,
    }
}

/// Every role `bindings` reference, with the namespace of a Role: what the
/// caller must read rules for.
pub fn roles_named(bindings: &[Bound]) -> BTreeSet<(RoleName, Option<String>)> {
    bindings
        .iter()
        .map(|b| {
            let namespace = (b.role.kind == "Role")
                .then(|| b.namespace.clone())
                .flatten();
            (b.role.clone(), namespace)
        })
        .collect()
}

/// `ns` for a namespace, `cluster-wide` otherwise.
pub fn scope(namespace: Option<&str>) -> String {
    namespace.map_or_else(|| "cluster-wide".to_owned(), |n| format!("in {n}"))
}

/// A resource as `kubectl` names it: `pods`, `deployments.apps`,
/// `secrets.v1/name` when limited to one name, or a URL.
pub fn resource_label(g: &Grants) -> String {
    let mut text = g.resource.clone();
    if !g.api_group.is_empty() {
        text.push('.');
        text.push_str(&g.api_group);
    }
    if let Some(name) = &g.name {
        text.push_str(&format!(" ({name})"));
    }
    text
}

/// `grants` as lines `<scope>: <verbs> on <resources>`, resources with the
/// same verbs in the same place merged.
pub fn summary(grants: &[Grants]) -> Vec<String> {
    let mut lines: BTreeMap<(Option<&str>, String), Vec<String>> = BTreeMap::new();
    for g in grants {
        lines
            .entry((g.namespace.as_deref(), g.verbs.join(", ")))
            .or_default()
            .push(resource_label(g));
    }
    lines
        .into_iter()
        .map(|((namespace, verbs), resources)| {
            format!("{}: {verbs} on {}", scope(namespace), resources.join(", "))
        })
        .collect()
}

/// The plan for humans.
pub fn text(diff: &Diff) -> String {
    let mut out = format!("Plan for tenant {}\n", diff.tenant);
    let b = &diff.bindings;
    if b.created.is_empty() && b.changed.is_empty() && b.deleted.is_empty() {
        out.push_str("\nBindings: no change.\n");
    } else {
        out.push_str(&format!(
            "\nBindings: {} to create, {} to change, {} to delete.\n",
            b.created.len(),
            b.changed.len(),
            b.deleted.len()
        ));
    }
    let place = |namespace: &Option<String>, name: &str| match namespace {
        Some(ns) => format!("RoleBinding {ns}/{name}"),
        None => format!("ClusterRoleBinding {name}"),
    };
    let names = |who: &[Who]| {
        who.iter()
            .map(|w| format!("{} {}", w.kind, w.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for c in &b.created {
        out.push_str(&format!(
            "  + {} → {} ({} subjects)\n",
            place(&c.namespace, &c.name),
            c.role,
            c.subjects.len()
        ));
    }
    for c in &b.changed {
        out.push_str(&format!(
            "  ~ {} → {}",
            place(&c.namespace, &c.name),
            c.role
        ));
        if c.role != c.role_before {
            out.push_str(&format!(" (was {})", c.role_before));
        }
        out.push('\n');
        if !c.subjects_added.is_empty() {
            out.push_str(&format!("      + {}\n", names(&c.subjects_added)));
        }
        if !c.subjects_removed.is_empty() {
            out.push_str(&format!("      - {}\n", names(&c.subjects_removed)));
        }
    }
    for c in &b.deleted {
        out.push_str(&format!(
            "  - {} → {} ({} subjects)\n",
            place(&c.namespace, &c.name),
            c.role,
            c.subjects.len()
        ));
    }
    if diff.users.is_empty() {
        out.push_str("\nAccess: no user gains or loses anything.\n");
    } else {
        out.push_str(&format!("\nAccess: {} users change.\n", diff.users.len()));
        for user in &diff.users {
            out.push_str(&format!("  {} ({})\n", user.user_name, user.id));
            for line in summary(&user.gained) {
                out.push_str(&format!("    gains {line}\n"));
            }
            for line in summary(&user.lost) {
                out.push_str(&format!("    loses {line}\n"));
            }
        }
    }
    if !diff.problems.is_empty() {
        out.push_str("\nProblems the controller would report:\n");
        for p in &diff.problems {
            out.push_str(&format!("  ! {p}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
