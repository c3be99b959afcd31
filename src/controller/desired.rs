//! The desired state of one tenant. Pure: no I/O.
//!
//! [`desired`] turns a [`ScimTenant`], the users and groups in its namespace and
//! facts the caller gathered (which namespaces exist, which roles may be bound)
//! into the RBAC bindings and directory ConfigMaps that should exist, and into
//! the outcome to report on every user, group and the tenant.
//!
//! # Rules
//!
//! - **Matching.** A mapping applies to every group whose `displayName` equals
//!   `mapping.group` ignoring case, as SCIM compares `displayName` (RFC 7643
//!   §4.2, `caseExact: false`) and as JumpCloud names groups: a rename that
//!   only changes case keeps the access. Only ASCII letters are folded, so
//!   look-alike Unicode letters never match. A mapping whose name matches more
//!   than one group grants nothing to any of them (`AmbiguousGroup` on each
//!   group and on the tenant): whoever can create groups at the identity
//!   provider could otherwise create a second group of a mapped name and be
//!   granted its roles. A mapping naming no existing group produces nothing
//!   and is not a problem: the identity provider may push the group later.
//! - **Subjects.** A user is named `userPrefix` + claim value: the primary email
//!   (the email marked primary, else the first of type `work`, else the first)
//!   when `usernameClaim` is `email` and the user has an email, else `userName`.
//!   A group is named `groupPrefix` + displayName. Names are used as sent, never
//!   lowercased. `bind: users` lists each active member user that exists as a
//!   `User` subject, `group` lists the group as a `Group` subject, `both` does
//!   both. The members are the group's effective members: its own user members
//!   and, with `spec.nestedGroups` on, those of its member groups
//!   ([`super::nesting`]: depth, cycles); member ids naming no user (deleted
//!   users) are ignored. Subjects are sorted by (kind,
//!   name) and deduplicated. A binding whose subject list is empty is still
//!   produced, so status and cleanup do not flap with membership.
//! - **Guards.** A prefix the bind mode uses that is empty (without
//!   `allowEmptyPrefix`) or starts with `system:` refuses the whole tenant: tenant
//!   problem `EmptyPrefixRefused` / `ReservedPrefix` and no bindings at all. A
//!   subject name starting with `system:` (any case) is left out, with
//!   `ReservedSubject` on the user or group; an empty subject name is left out
//!   with `EmptySubject`. `ServiceAccount` subjects are never produced.
//! - **Patterns.** A mapping with `groupPattern` (one `*`, ASCII case
//!   ignored: [`mapping::GroupPattern`]) applies to every group it matches,
//!   each on its own. Two groups whose names differ only in case match it
//!   alike and derive the same namespace: neither is granted
//!   (`AmbiguousGroup`), as for a mapping by name.
//! - **Scopes.** `clusterWide` with a ClusterRole gives one ClusterRoleBinding;
//!   otherwise one RoleBinding per namespace (duplicates merged) of: the
//!   listed `namespaces`; the existing namespaces `namespaceSelector` selects;
//!   and with `namespaceFromGroup`, the namespace derived from the group's
//!   name ([`mapping::Template`]). A derived namespace is bound only when it
//!   is a valid name (`InvalidNamespace`) that `spec.derivedNamespaces`
//!   allows ([`mapping::Allowed`]: by name or label; empty allows nothing;
//!   never `kube-*`), else `NamespaceNotAllowed` on the group. A derived
//!   namespace that does not exist is created when the tenant's creation
//!   allowlist allows it ([`mapping::may_create`]; the count budget is the
//!   caller's), and bound once it exists and is allowed. Invalid mappings
//!   (`InvalidMapping`): both or neither of `group` and `groupPattern`, a
//!   pattern or template without exactly one placeholder, a template without
//!   a pattern, a selector or template with a Role, an empty or unparsable
//!   selector, `clusterWide` with a Role, `clusterWide` together with any
//!   namespace scope (ambiguous, so the broader grant is not guessed), no
//!   scope, `notAfter` not after `notBefore`, or an empty role name. They
//!   are reported on the tenant and on each group they match, and produce
//!   nothing.
//! - **Time.** A mapping with `notBefore`/`notAfter` grants only from
//!   `notBefore` (included) to `notAfter` (excluded), at [`Facts::now`]
//!   ([`mapping::window`]); outside it, it produces nothing and is no
//!   problem. Its bindings carry [`NOT_AFTER_LABEL`] (Unix seconds, rounded
//!   up) so that expired access can be found without the spec; a binding two
//!   mappings produce carries the later end, or none if one has none.
//! - **Facts.** A namespace that does not exist gets no binding (`NamespaceMissing`
//!   on the group); the others are unaffected. A role the caller reports
//!   [`RoleState::Missing`] gives `RoleNotFound`, [`RoleState::NotBindable`] gives
//!   `RoleNotBindable`; neither is bound. A Role is looked up in the binding's
//!   namespace, a ClusterRole cluster-wide (once per mapping).
//! - **Size.** A binding lists at most [`SUBJECTS_PER_BINDING`] subjects; a
//!   larger group's binding is split in parts named `<name>`, `<name>-p2`, …
//!   ([`part_name`]), so no binding grows past what the API server stores.
//! - **Names.** `scimitar-{slug(displayName, 30)}-{slug(role, 20)}-{h}`, empty
//!   slugs left out, where `h` is the first 10 hex digits of
//!   sha256(`tenant \0 group id \0 role kind \0 role name \0 namespace or *`):
//!   deterministic, a DNS-1123 subdomain of at most 71 characters, and distinct
//!   for different tenants, groups, roles and namespaces. Identical mappings
//!   produce the same binding once.
//! - **Metadata.** Every object carries [`MANAGED_BY`], [`APP_NAME_LABEL`] and
//!   [`TENANT_LABEL`]; bindings also [`GROUP_LABEL`] and the annotations
//!   [`GROUP_NAME_ANNOTATION`] and [`ROLE_ANNOTATION`]. Label values that are not
//!   valid label values of at most 63 characters are replaced by `h-` + 20 hex
//!   digits of their sha256 ([`label_value`]). When the tenant has a uid, every
//!   object is owned by it (`controller: true`, no `blockOwnerDeletion`, which
//!   would need extra permissions on the tenant's finalizers).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use self::mapping::{Allowed, GroupPattern, Labels, Template, Window};
use super::{directory, nesting};
use crate::crd::{
    BindSubjects, MappingWindow, ProducedBinding, RoleKind, RoleMapping, ScimGroup, ScimTenant,
    ScimUser, SubjectSettings,
};
use crate::meta::{
    self, GROUP_LABEL, GROUP_NAME_ANNOTATION, NOT_AFTER_LABEL, ROLE_ANNOTATION, is_reserved,
    label_value, object_name, sha256_hex, slug,
};

pub mod mapping;

const RBAC_API_GROUP: &str = "rbac.authorization.k8s.io";

/// Reasons of [`Problem`]s. Stable: they become condition and Event reasons.
pub mod reason {
    /// A prefix the bind mode uses is empty and `allowEmptyPrefix` is not set.
    pub const EMPTY_PREFIX_REFUSED: &str = "EmptyPrefixRefused";
    /// A prefix the bind mode uses starts with `system:`.
    pub const RESERVED_PREFIX: &str = "ReservedPrefix";
    /// A subject name starts with `system:`.
    pub const RESERVED_SUBJECT: &str = "ReservedSubject";
    /// A subject name is empty.
    pub const EMPTY_SUBJECT: &str = "EmptySubject";
    /// A mapping is structurally invalid.
    pub const INVALID_MAPPING: &str = "InvalidMapping";
    /// A mapping names a namespace that does not exist.
    pub const NAMESPACE_MISSING: &str = "NamespaceMissing";
    /// A mapping names a role that does not exist.
    pub const ROLE_NOT_FOUND: &str = "RoleNotFound";
    /// A mapping names a role the operator may not bind.
    pub const ROLE_NOT_BINDABLE: &str = "RoleNotBindable";
    /// A mapping's group name matches more than one group.
    pub const AMBIGUOUS_GROUP: &str = "AmbiguousGroup";
    /// A namespace derived from a group's name is outside the allowed set.
    pub const NAMESPACE_NOT_ALLOWED: &str = "NamespaceNotAllowed";
    /// A namespace derived from a group's name is not a valid name.
    pub const INVALID_NAMESPACE: &str = "InvalidNamespace";
    /// `spec.derivedNamespaces` is unusable.
    pub const INVALID_DERIVED_NAMESPACES: &str = "InvalidDerivedNamespaces";
}

/// Everything [`desired`] needs. The caller does all I/O beforehand.
pub struct Inputs<'a> {
    /// The tenant; without a uid (as in tests) objects get no ownerReferences.
    pub tenant: &'a ScimTenant,
    /// The ScimUsers in the tenant namespace; object name = SCIM id.
    pub users: &'a [ScimUser],
    /// The ScimGroups in the tenant namespace; object name = SCIM id.
    pub groups: &'a [ScimGroup],
    /// Namespaces that exist now.
    pub namespaces: &'a BTreeSet<String>,
    /// The labels of the namespaces that have any.
    pub namespace_labels: &'a BTreeMap<String, Labels>,
    /// Whether a role exists and may be bound by the operator.
    pub roles: &'a dyn Fn(&RoleTarget) -> RoleState,
    /// The time mapping windows are read at.
    pub now: jiff::Timestamp,
    /// How many hashed shards the directory has now (from its manifest), so
    /// the count changes only when it must ([`directory::build`]).
    pub directory_shards: Option<usize>,
}

/// A role a binding would reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleTarget {
    pub kind: RoleKind,
    pub name: String,
    /// The namespace of a `Role`; `None` for a `ClusterRole`.
    pub namespace: Option<String>,
}

/// What the caller knows about a [`RoleTarget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleState {
    /// Exists, and the operator may bind it.
    Bindable,
    /// Does not exist.
    Missing,
    /// Exists (or may), but is not on the operator's list of bindable roles.
    NotBindable,
}

/// The objects that should exist for one tenant, and what to report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    /// Sorted by (namespace, name).
    pub role_bindings: Vec<RoleBinding>,
    /// Sorted by name.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// The directory ConfigMaps, from [`directory::build`].
    pub config_maps: Vec<ConfigMap>,
    /// Every group, by object name (SCIM id).
    pub groups: BTreeMap<String, GroupOutcome>,
    /// Every user, by object name (SCIM id).
    pub users: BTreeMap<String, UserOutcome>,
    /// Problems of the tenant as a whole.
    pub problems: Vec<Problem>,
    /// Derived namespaces to create (before the count budget).
    pub namespaces_to_create: BTreeSet<String>,
}

/// What one group produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupOutcome {
    /// Sorted by (kind, namespace, name).
    pub bindings: Vec<ProducedBinding>,
    /// Direct members as listed in the spec.
    pub member_count: i64,
    /// Distinct effective user members, when nested groups are on
    /// ([`super::nesting`]).
    pub effective_member_count: Option<i64>,
    pub problems: Vec<Problem>,
}

/// What to report on one user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserOutcome {
    /// The `User` subject the user is bound as; `None` when the user is inactive,
    /// the bind mode lists no users, the tenant is refused or the name is reserved.
    pub subject: Option<String>,
    /// Whether the user may have access (`active` unless it says `false`).
    pub active: bool,
    /// The primary email ([`crate::crd::primary_email`]).
    pub email: Option<String>,
    /// displayNames of the groups listing the user, sorted and deduplicated.
    pub groups: Vec<String>,
    pub problems: Vec<Problem>,
}

/// Something that keeps part of the desired state from being produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// CamelCase and stable (see [`reason`]): used as condition and Event reason.
    pub reason: &'static str,
    /// Names the object, role and namespace concerned.
    pub message: String,
}

impl Problem {
    fn new(reason: &'static str, message: String) -> Self {
        Self { reason, message }
    }
}

/// Whether a mapping's group name names a group: SCIM `displayName` is not
/// case-exact, but only ASCII letters are folded. Unicode case folding would
/// let a name with look-alike letters (the Kelvin sign `K` lowercases to
/// `k`) match a mapped group.
pub fn names_match(mapping: &str, display_name: &str) -> bool {
    mapping.eq_ignore_ascii_case(display_name)
}

/// The label selector matching every object made for `tenant`.
pub fn selector(tenant: &ScimTenant) -> String {
    meta::tenant_selector(object_name(&tenant.metadata))
}

/// The labels every object of `tenant` carries.
pub fn tenant_labels(tenant: &ScimTenant) -> BTreeMap<String, String> {
    meta::tenant_labels(object_name(&tenant.metadata))
}

/// The controller ownerReference to `tenant`, if it has a uid.
pub fn owner_reference(tenant: &ScimTenant) -> Option<OwnerReference> {
    let uid = tenant.metadata.uid.as_deref()?;
    Some(meta::tenant_owner(object_name(&tenant.metadata), uid, true))
}

/// The name of the binding for one group, role and scope (`namespace` `None`
/// for a ClusterRoleBinding). See the module documentation.
pub fn binding_name(
    tenant: &str,
    group_id: &str,
    display_name: &str,
    kind: RoleKind,
    role: &str,
    namespace: Option<&str>,
) -> String {
    let hash = sha256_hex(&[
        tenant,
        group_id,
        kind_str(kind),
        role,
        namespace.unwrap_or("*"),
    ]);
    let parts = [
        "scimitar".to_string(),
        slug(display_name, 30),
        slug(role, 20),
        hash[..10].to_string(),
    ];
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn kind_str(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::ClusterRole => "ClusterRole",
        RoleKind::Role => "Role",
    }
}

fn push_unique(problems: &mut Vec<Problem>, problem: Problem) {
    if !problems.contains(&problem) {
        problems.push(problem);
    }
}

/// A valid mapping's parsed parts.
#[derive(Clone, Debug, Default)]
struct Rule {
    pattern: Option<GroupPattern>,
    template: Option<Template>,
    selector: Option<kube::core::Selector>,
}

/// A mapping's parsed parts, or why it is structurally invalid.
fn rule(mapping: &RoleMapping) -> Result<Rule, String> {
    let pattern = mapping
        .group_pattern
        .as_deref()
        .map(GroupPattern::parse)
        .transpose()?;
    let template = mapping
        .namespace_from_group
        .as_deref()
        .map(Template::parse)
        .transpose()?;
    let selector = mapping
        .namespace_selector
        .as_ref()
        .map(|s| mapping::selector(s).map_err(|e| format!("namespaceSelector: {e}")))
        .transpose()?;
    let scoped = !mapping.namespaces.is_empty() || selector.is_some() || template.is_some();
    let role = mapping.role.kind == RoleKind::Role;
    let error = if mapping.role.name.is_empty() {
        Some("the role name is empty")
    } else if mapping.group.is_empty() == pattern.is_none() {
        Some("it needs exactly one of group and groupPattern")
    } else if template.is_some() && pattern.is_none() {
        Some("namespaceFromGroup needs a groupPattern")
    } else if role && (template.is_some() || selector.is_some()) {
        Some("namespaceSelector and namespaceFromGroup need a ClusterRole")
    } else if mapping.cluster_wide && role {
        Some("clusterWide needs a ClusterRole; a Role can only be bound in its own namespace")
    } else if mapping.cluster_wide && scoped {
        Some("clusterWide and namespace scopes exclude each other")
    } else if !mapping.cluster_wide && !scoped {
        Some("it names no namespaces and is not clusterWide")
    } else if let (Some(from), Some(to)) = (&mapping.not_before, &mapping.not_after)
        && to.0 <= from.0
    {
        Some("notAfter is not after notBefore")
    } else {
        None
    };
    match error {
        Some(error) => Err(error.to_owned()),
        None => Ok(Rule {
            pattern,
            template,
            selector,
        }),
    }
}

/// How a mapping is named in messages: its group or pattern.
fn mapping_groups(mapping: &RoleMapping) -> String {
    match &mapping.group_pattern {
        Some(pattern) => format!("pattern {pattern:?}"),
        None => format!("group {:?}", mapping.group),
    }
}

/// Tenant-level refusals: problems for unusable prefixes.
fn prefix_problems(tenant_name: &str, settings: &SubjectSettings) -> Vec<Problem> {
    let bind_users = matches!(settings.bind, BindSubjects::Users | BindSubjects::Both);
    let bind_group = matches!(settings.bind, BindSubjects::Group | BindSubjects::Both);
    let mut problems = Vec::new();
    for (used, field, prefix) in [
        (bind_users, "userPrefix", &settings.user_prefix),
        (bind_group, "groupPrefix", &settings.group_prefix),
    ] {
        if !used {
            continue;
        }
        if prefix.is_empty() && !settings.allow_empty_prefix {
            problems.push(Problem::new(
                reason::EMPTY_PREFIX_REFUSED,
                format!(
                    "tenant {tenant_name:?}: subjects.{field} is empty, which would let SCIM data \
                     name any subject the cluster knows; no bindings are made until a prefix is \
                     set or subjects.allowEmptyPrefix is true"
                ),
            ));
        }
        if is_reserved(prefix) {
            problems.push(Problem::new(
                reason::RESERVED_PREFIX,
                format!(
                    "tenant {tenant_name:?}: subjects.{field} {prefix:?} starts with \
                     \"system:\", which is reserved for Kubernetes; no bindings are made"
                ),
            ));
        }
    }
    problems
}

/// One binding to produce, before it becomes an object.
struct Planned<'g> {
    group_id: &'g str,
    display_name: &'g str,
    kind: RoleKind,
    role: &'g str,
    namespace: Option<String>,
    /// When the mapping stops granting, if it does.
    not_after: Option<jiff::Timestamp>,
}

/// A user as the rules read it.
#[derive(Clone, Copy, Debug)]
pub struct Person<'a> {
    pub id: &'a str,
    pub user_name: &'a str,
    pub primary_email: Option<&'a str>,
    pub active: bool,
}

impl<'a> Person<'a> {
    /// `user` as the rules read it.
    pub fn of(user: &'a ScimUser) -> Self {
        Self {
            id: object_name(&user.metadata),
            user_name: &user.spec.user_name,
            primary_email: user.spec.primary_email(),
            active: user.spec.is_active(),
        }
    }
}

/// A group as the rules read it; its members' subjects come separately.
#[derive(Clone, Copy, Debug)]
pub struct Team<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
    /// Direct members as listed.
    pub member_count: usize,
}

/// What exists in the cluster, as the caller found it, and when.
pub struct Facts<'a> {
    /// Namespaces that exist now.
    pub namespaces: &'a BTreeSet<String>,
    /// The labels of the namespaces that have any.
    pub namespace_labels: &'a BTreeMap<String, Labels>,
    /// Whether a role exists and may be bound by the operator.
    pub roles: &'a dyn Fn(&RoleTarget) -> RoleState,
    /// The time mapping windows are read at.
    pub now: jiff::Timestamp,
}

/// The objects one group should have, and what to report on it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupDesired {
    /// Sorted by (namespace, name).
    pub role_bindings: Vec<RoleBinding>,
    /// Sorted by name.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub outcome: GroupOutcome,
    /// Derived namespaces to create for it (before the count budget).
    pub namespaces_to_create: Vec<String>,
}

/// What a tenant's spec decides for all its users and groups, worked out
/// once: the pieces of [`desired`] that the controller also runs one group
/// or user at a time.
pub struct Plan<'t> {
    tenant: &'t ScimTenant,
    name: &'t str,
    settings: &'t SubjectSettings,
    bind_users: bool,
    bind_group: bool,
    labels: BTreeMap<String, String>,
    owner: Option<OwnerReference>,
    /// Prefix refusals, then invalid mappings.
    problems: Vec<Problem>,
    /// A prefix refusal: no bindings at all.
    refused: bool,
    rules: Vec<Result<Rule, String>>,
    /// Where derived namespaces may be bound.
    allowed: Allowed,
}

impl<'t> Plan<'t> {
    pub fn new(tenant: &'t ScimTenant) -> Self {
        let name = object_name(&tenant.metadata);
        let settings = &tenant.spec.subjects;
        let mut problems = prefix_problems(name, settings);
        let refused = !problems.is_empty();
        let rules: Vec<Result<Rule, String>> = tenant.spec.mappings.iter().map(rule).collect();
        for (index, (mapping, rule)) in tenant.spec.mappings.iter().zip(&rules).enumerate() {
            if let Err(error) = rule {
                problems.push(Problem::new(
                    reason::INVALID_MAPPING,
                    format!(
                        "tenant {name:?}: mapping #{index} ({}, {}/{}) is invalid: {error}",
                        mapping_groups(mapping),
                        kind_str(mapping.role.kind),
                        mapping.role.name
                    ),
                ));
            }
        }
        let (allowed, error) = Allowed::of(&tenant.spec.derived_namespaces);
        if let Some(error) = error {
            problems.push(Problem::new(
                reason::INVALID_DERIVED_NAMESPACES,
                format!(
                    "tenant {name:?}: derivedNamespaces.allowedSelector is refused ({error}); \
                     only the namespaces listed in derivedNamespaces.allowed may be derived"
                ),
            ));
        }
        Self {
            tenant,
            name,
            settings,
            bind_users: matches!(settings.bind, BindSubjects::Users | BindSubjects::Both),
            bind_group: matches!(settings.bind, BindSubjects::Group | BindSubjects::Both),
            labels: tenant_labels(tenant),
            owner: owner_reference(tenant),
            problems,
            refused,
            rules,
            allowed,
        }
    }

    /// The `User` subject `user` is bound as, if any, and what keeps it
    /// from being bound.
    pub fn user_subject(&self, user: Person) -> (Option<String>, Option<Problem>) {
        if !self.bind_users || self.refused || !user.active {
            return (None, None);
        }
        let subject = meta::subject_name(self.settings, user.user_name, user.primary_email);
        let id = user.id;
        if subject.is_empty() {
            let problem = Problem::new(
                reason::EMPTY_SUBJECT,
                format!(
                    "user {:?} (id {id}) has an empty subject name and is not bound",
                    user.user_name
                ),
            );
            (None, Some(problem))
        } else if is_reserved(&subject) {
            let problem = Problem::new(
                reason::RESERVED_SUBJECT,
                format!(
                    "user {:?} (id {id}) would be bound as {subject:?}; names starting with \
                     \"system:\" are reserved and never bound",
                    user.user_name
                ),
            );
            (None, Some(problem))
        } else {
            (Some(subject), None)
        }
    }

    /// What to report on `user`, given the displayNames of the groups
    /// listing it.
    pub fn user(&self, user: Person, mut groups: Vec<String>) -> UserOutcome {
        let (subject, problem) = self.user_subject(user);
        groups.sort();
        groups.dedup();
        UserOutcome {
            subject,
            active: user.active,
            email: user.primary_email.map(str::to_owned),
            groups,
            problems: problem.into_iter().collect(),
        }
    }

    /// The tenant's own problems: the spec's, and every mapping whose name
    /// matches more than one group (`matching` counts the groups a name
    /// matches).
    pub fn problems(&self, matching: &dyn Fn(&str) -> usize) -> Vec<Problem> {
        let mut problems = self.problems.clone();
        for (index, mapping) in self.tenant.spec.mappings.iter().enumerate() {
            if mapping.group_pattern.is_some() {
                // Each group a pattern matches stands alone; clashes are
                // reported on the groups.
                continue;
            }
            let count = matching(&mapping.group);
            if count > 1 {
                problems.push(Problem::new(
                    reason::AMBIGUOUS_GROUP,
                    format!(
                        "tenant {:?}: mapping #{index} (group {:?}) matches {count} groups; none of them is granted {}/{}",
                        self.name,
                        mapping.group,
                        kind_str(mapping.role.kind),
                        mapping.role.name
                    ),
                ));
            }
        }
        problems
    }

    /// The groups a change to the namespace, Role or ClusterRole `name` can
    /// affect: those of mappings whose role or namespaces name it, whose
    /// selector may now select it or no longer, and whose template derives
    /// it from a group's name.
    pub fn mappings_naming<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Affected> + 'a {
        self.tenant
            .spec
            .mappings
            .iter()
            .zip(&self.rules)
            .enumerate()
            .filter_map(move |(index, (m, rule))| {
                let rule = rule.as_ref().ok()?;
                let every = || match &m.group_pattern {
                    Some(_) => Affected::Pattern(index),
                    None => Affected::Named(m.group.clone()),
                };
                if m.role.name == name
                    || m.namespaces.iter().any(|n| n == name)
                    || rule.selector.is_some()
                {
                    return Some(every());
                }
                let pattern = rule.pattern.as_ref()?;
                let captured = rule.template.as_ref()?.captured_of(name)?;
                Some(Affected::Named(pattern.name_for(captured)))
            })
    }

    /// Whether mapping `index`'s group pattern matches `display_name`.
    pub fn pattern_matches(&self, index: usize, display_name: &str) -> bool {
        self.rules
            .get(index)
            .and_then(|r| r.as_ref().ok())
            .and_then(|r| r.pattern.as_ref())
            .is_some_and(|p| p.capture(display_name).is_some())
    }

    /// Every time-bound mapping and where it stands at `now`.
    pub fn schedule(&self, now: jiff::Timestamp) -> Vec<MappingWindow> {
        self.tenant
            .spec
            .mappings
            .iter()
            .enumerate()
            .filter(|(_, m)| mapping::timed(m))
            .map(|(index, m)| MappingWindow {
                mapping: u32::try_from(index).unwrap_or(u32::MAX),
                description: format!(
                    "{} → {}/{}",
                    mapping_groups(m),
                    kind_str(m.role.kind),
                    m.role.name
                ),
                state: mapping::window(m, now).as_str().to_owned(),
                not_before: m.not_before.clone(),
                not_after: m.not_after.clone(),
            })
            .collect()
    }

    /// The bindings of one group and what to report on it. `member_subjects`
    /// are the `User` subjects of its members ([`Plan::user_subject`]);
    /// `matching` counts the groups a mapping's name matches.
    pub fn group(
        &self,
        group: Team,
        member_subjects: impl IntoIterator<Item = String>,
        matching: &dyn Fn(&str) -> usize,
        facts: &Facts,
    ) -> GroupDesired {
        let id = group.id;
        let display_name = group.display_name;
        let mut outcome = GroupOutcome {
            member_count: i64::try_from(group.member_count).unwrap_or(i64::MAX),
            ..GroupOutcome::default()
        };

        let mut subjects = Vec::new();
        if !self.refused {
            if self.bind_users {
                subjects.extend(member_subjects.into_iter().map(|n| subject("User", &n)));
            }
            if self.bind_group {
                let name = format!("{}{display_name}", self.settings.group_prefix);
                if name.is_empty() {
                    outcome.problems.push(Problem::new(
                        reason::EMPTY_SUBJECT,
                        format!(
                            "group {display_name:?} (id {id}) has an empty subject name and is not bound"
                        ),
                    ));
                } else if is_reserved(&name) {
                    outcome.problems.push(Problem::new(
                        reason::RESERVED_SUBJECT,
                        format!(
                            "group {display_name:?} (id {id}) would be bound as {name:?}; names \
                             starting with \"system:\" are reserved and never bound"
                        ),
                    ));
                } else {
                    subjects.push(subject("Group", &name));
                }
            }
        }
        subjects.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        subjects.dedup();

        let mut planned = Vec::new();
        let mut create = Vec::new();
        for (index, (mapping, rule)) in self
            .tenant
            .spec
            .mappings
            .iter()
            .zip(&self.rules)
            .enumerate()
        {
            let captured = match &mapping.group_pattern {
                None if names_match(&mapping.group, display_name) => None,
                None => continue,
                Some(pattern) => match rule.as_ref().ok().and_then(|r| r.pattern.as_ref()) {
                    Some(parsed) => match parsed.capture(display_name) {
                        Some(captured) => Some(captured),
                        None => continue,
                    },
                    // An unparsable pattern matches by its text, so that the
                    // group it was meant for hears why it has no access.
                    None if names_match(pattern, display_name) => None,
                    None => continue,
                },
            };
            let role = format!("{}/{}", kind_str(mapping.role.kind), mapping.role.name);
            // Groups whose names differ only in case match alike (and derive
            // the same namespace): none of them is granted.
            let count = matching(match &mapping.group_pattern {
                Some(_) => display_name,
                None => &mapping.group,
            });
            if count > 1 {
                push_unique(
                    &mut outcome.problems,
                    Problem::new(
                        reason::AMBIGUOUS_GROUP,
                        format!(
                            "group {display_name:?} (id {id}): mapping #{index} to {role} matches {count} groups named {:?}; none of them is granted it",
                            if mapping.group_pattern.is_some() {
                                display_name
                            } else {
                                &mapping.group
                            }
                        ),
                    ),
                );
                continue;
            }
            let rule = match rule {
                Ok(rule) => rule,
                Err(error) => {
                    push_unique(
                        &mut outcome.problems,
                        Problem::new(
                            reason::INVALID_MAPPING,
                            format!(
                                "group {display_name:?} (id {id}): mapping #{index} to {role} is invalid: {error}"
                            ),
                        ),
                    );
                    continue;
                }
            };
            if self.refused || mapping::window(mapping, facts.now) != Window::Active {
                continue;
            }
            let scope = Scope {
                rule,
                captured,
                allowed: &self.allowed,
                creation: &self.tenant.spec.derived_namespaces.create,
            };
            plan_mapping(
                facts,
                group,
                mapping,
                &scope,
                &mut planned,
                &mut create,
                &mut outcome.problems,
            );
        }
        let planned = merge_windows(planned);

        let mut role_bindings = BTreeMap::new();
        let mut cluster_role_bindings = BTreeMap::new();
        for plan in planned {
            for produced in emit(
                self.name,
                &self.labels,
                self.owner.as_ref(),
                &plan,
                &subjects,
                &mut role_bindings,
                &mut cluster_role_bindings,
            ) {
                if !outcome.bindings.contains(&produced) {
                    outcome.bindings.push(produced);
                }
            }
        }
        outcome.bindings.sort_by(|a, b| {
            (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name))
        });
        create.sort();
        create.dedup();
        GroupDesired {
            role_bindings: role_bindings.into_values().collect(),
            cluster_role_bindings: cluster_role_bindings.into_values().collect(),
            outcome,
            namespaces_to_create: create,
        }
    }

    /// Levels of member groups expanded ([`super::nesting`]); 0 when off.
    pub fn nesting_depth(&self) -> usize {
        self.tenant.spec.nested_groups.depth()
    }

    /// The labels and owner every object of the tenant carries.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    pub fn owner(&self) -> Option<&OwnerReference> {
        self.owner.as_ref()
    }
}

/// The desired state of `inputs.tenant`. See the module documentation.
pub fn desired(inputs: &Inputs) -> Desired {
    let plan = Plan::new(inputs.tenant);
    let facts = Facts {
        namespaces: inputs.namespaces,
        namespace_labels: inputs.namespace_labels,
        roles: inputs.roles,
        now: inputs.now,
    };
    let matching = |name: &str| {
        inputs
            .groups
            .iter()
            .filter(|g| names_match(name, &g.spec.display_name))
            .count()
    };

    // A user's groups are every group listing its id, whatever the member's
    // type says (as the cache's membership index has them), and with
    // nesting the groups containing those.
    let nested = nesting::Groups::new(inputs.groups, inputs.tenant.spec.nested_groups.depth());
    let mut users = BTreeMap::new();
    let mut user_subjects: BTreeMap<&str, String> = BTreeMap::new();
    for user in inputs.users {
        let person = Person::of(user);
        let group_names = nested
            .groups_of(person.id)
            .into_iter()
            .filter_map(|(g, _)| nested.display_name(g).map(str::to_owned))
            .collect();
        let outcome = plan.user(person, group_names);
        if let Some(subject) = &outcome.subject {
            user_subjects.insert(person.id, subject.clone());
        }
        users.insert(person.id.to_string(), outcome);
    }

    let mut role_bindings = Vec::new();
    let mut cluster_role_bindings = Vec::new();
    let mut groups = BTreeMap::new();
    let mut namespaces_to_create = BTreeSet::new();
    for group in inputs.groups {
        let team = Team {
            id: object_name(&group.metadata),
            display_name: &group.spec.display_name,
            member_count: group.spec.members.len(),
        };
        let expansion = nested.expand(team.id);
        let subjects = expansion
            .users
            .keys()
            .filter_map(|m| user_subjects.get(m).cloned());
        let mut produced = plan.group(team, subjects, &matching, &facts);
        let effective = expansion
            .users
            .keys()
            .filter(|m| users.contains_key(**m as &str))
            .count();
        nesting::report(
            &mut produced.outcome,
            team,
            &expansion,
            nested.depth(),
            effective,
            |g| nested.display_name(g),
        );
        role_bindings.extend(produced.role_bindings);
        namespaces_to_create.extend(produced.namespaces_to_create);
        cluster_role_bindings.extend(produced.cluster_role_bindings);
        groups.insert(team.id.to_string(), produced.outcome);
    }
    role_bindings.sort_by(|a: &RoleBinding, b: &RoleBinding| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    cluster_role_bindings.sort_by(|a: &ClusterRoleBinding, b: &ClusterRoleBinding| {
        a.metadata.name.cmp(&b.metadata.name)
    });

    let mut problems = plan.problems(&matching);
    let cyclic: Vec<(&str, &str)> = groups
        .iter()
        .filter(|(_, outcome)| nesting::in_cycle(outcome))
        .filter_map(|(id, _)| Some((id.as_str(), nested.display_name(id)?)))
        .collect();
    problems.extend(nesting::tenant_problem(
        object_name(&inputs.tenant.metadata),
        cyclic.into_iter(),
    ));

    let config_maps = directory::build(
        inputs.tenant,
        inputs.users,
        inputs.groups,
        plan.labels(),
        plan.owner().cloned(),
        inputs.directory_shards,
    );

    Desired {
        role_bindings,
        cluster_role_bindings,
        config_maps,
        groups,
        users,
        problems,
        namespaces_to_create,
    }
}

/// A group [`Plan::mappings_naming`] says a change can affect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Affected {
    /// The groups of this displayName (ignoring case).
    Named(String),
    /// Every group the pattern of mapping `n` matches.
    Pattern(usize),
}

/// What one valid mapping scopes, for one group.
struct Scope<'a> {
    rule: &'a Rule,
    /// What the mapping's pattern matched in the group's name.
    captured: Option<&'a str>,
    allowed: &'a Allowed,
    creation: &'a crate::crd::NamespaceCreation,
}

/// Planned bindings with one (kind, role, namespace) merged: it grants as
/// long as any of the mappings producing it does.
fn merge_windows(planned: Vec<Planned<'_>>) -> Vec<Planned<'_>> {
    let mut merged: Vec<Planned> = Vec::with_capacity(planned.len());
    for plan in planned {
        match merged
            .iter_mut()
            .find(|p| (p.kind, p.role, &p.namespace) == (plan.kind, plan.role, &plan.namespace))
        {
            Some(same) => {
                same.not_after = match (same.not_after, plan.not_after) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            None => merged.push(plan),
        }
    }
    merged
}

/// Checks one valid mapping for one group against the facts; pushes the
/// bindings to make and the problems found.
fn plan_mapping<'g>(
    facts: &Facts,
    group: Team<'g>,
    mapping: &'g RoleMapping,
    scope: &Scope,
    planned: &mut Vec<Planned<'g>>,
    create: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) {
    let id = group.id;
    let display_name = group.display_name;
    let kind = mapping.role.kind;
    let role = mapping.role.name.as_str();
    let who = format!("group {display_name:?} (id {id})");
    let role_problem = |state: RoleState, namespace: Option<&str>| -> Option<Problem> {
        let place = match (kind, namespace) {
            (RoleKind::Role, Some(ns)) => format!(" in namespace {ns:?}"),
            _ => String::new(),
        };
        match state {
            RoleState::Bindable => None,
            RoleState::Missing => Some(Problem::new(
                reason::ROLE_NOT_FOUND,
                format!(
                    "{} {role:?}{place} does not exist; {who} is not bound to it",
                    kind_str(kind)
                ),
            )),
            RoleState::NotBindable => Some(Problem::new(
                reason::ROLE_NOT_BINDABLE,
                format!(
                    "{} {role:?}{place} is not among the roles the operator may bind; {who} is \
                     not bound to it",
                    kind_str(kind)
                ),
            )),
        }
    };
    let not_after = mapping.not_after.as_ref().map(|t| t.0);
    let plan = |namespace: Option<&str>| Planned {
        group_id: id,
        display_name,
        kind,
        role,
        namespace: namespace.map(str::to_owned),
        not_after,
    };

    if mapping.cluster_wide {
        let state = (facts.roles)(&RoleTarget {
            kind,
            name: role.to_string(),
            namespace: None,
        });
        match role_problem(state, None) {
            Some(problem) => push_unique(problems, problem),
            None => planned.push(plan(None)),
        }
        return;
    }

    // A ClusterRole is looked up once for all namespaces.
    let cluster_role_state = (kind == RoleKind::ClusterRole).then(|| {
        (facts.roles)(&RoleTarget {
            kind,
            name: role.to_string(),
            namespace: None,
        })
    });
    if let Some(problem) = cluster_role_state.and_then(|s| role_problem(s, None)) {
        push_unique(problems, problem);
    }
    let mut namespaces: BTreeSet<&str> = mapping.namespaces.iter().map(String::as_str).collect();
    if let Some(selector) = &scope.rule.selector {
        namespaces.extend(
            facts
                .namespaces
                .iter()
                .filter(|n| mapping::selects(selector, facts.namespace_labels.get(n.as_str())))
                .map(String::as_str),
        );
    }
    let derived = derived_namespace(facts, group, scope, create, problems);
    namespaces.extend(derived.as_deref());
    for namespace in namespaces {
        if !facts.namespaces.contains(namespace) {
            push_unique(
                problems,
                Problem::new(
                    reason::NAMESPACE_MISSING,
                    format!(
                        "namespace {namespace:?} does not exist; the RoleBinding of {who} to \
                         {}/{role} there is made when it does",
                        kind_str(kind)
                    ),
                ),
            );
            continue;
        }
        let state = cluster_role_state.unwrap_or_else(|| {
            (facts.roles)(&RoleTarget {
                kind,
                name: role.to_string(),
                namespace: Some(namespace.to_string()),
            })
        });
        if state == RoleState::Bindable {
            planned.push(plan(Some(namespace)));
        } else if cluster_role_state.is_none()
            && let Some(problem) = role_problem(state, Some(namespace))
        {
            // A ClusterRole's state was reported once, above.
            push_unique(problems, problem);
        }
    }
}

/// The namespace a pattern mapping derives from the group's name, if it is
/// one to bind in; otherwise the problem is pushed, and a missing namespace
/// the tenant may create is pushed to `create`.
fn derived_namespace(
    facts: &Facts,
    group: Team,
    scope: &Scope,
    create: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let (template, captured) = (scope.rule.template.as_ref()?, scope.captured?);
    let namespace = template.render(captured);
    let who = format!("group {:?} (id {})", group.display_name, group.id);
    if !mapping::valid_namespace(&namespace) {
        push_unique(
            problems,
            Problem::new(
                reason::INVALID_NAMESPACE,
                format!(
                    "{who} derives namespace {namespace:?}, which is not a valid namespace name; it is not bound there"
                ),
            ),
        );
        return None;
    }
    let exists = facts.namespaces.contains(&namespace);
    if !exists && mapping::may_create(scope.creation, &namespace) {
        create.push(namespace.clone());
    }
    if !scope
        .allowed
        .allows(&namespace, facts.namespace_labels.get(&namespace))
    {
        let why = if mapping::reserved_namespace(&namespace) {
            "kube-* namespaces belong to Kubernetes and are never derived"
        } else {
            "it is not in spec.derivedNamespaces (allowed names or allowedSelector)"
        };
        push_unique(
            problems,
            Problem::new(
                reason::NAMESPACE_NOT_ALLOWED,
                format!("{who} derives namespace {namespace:?}, which is refused: {why}"),
            ),
        );
        return None;
    }
    Some(namespace)
}

fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        api_group: Some(RBAC_API_GROUP.to_string()),
        kind: kind.to_string(),
        name: name.to_string(),
        namespace: None,
    }
}

/// The [`NOT_AFTER_LABEL`] value of an end: Unix seconds, rounded up, so
/// that whoever reads the label never removes access before the spec does.
pub fn not_after_value(end: jiff::Timestamp) -> String {
    let seconds = end.as_second() + i64::from(end.subsec_nanosecond() > 0);
    seconds.to_string()
}

/// Subjects in one binding. Past this a group's binding is split in parts:
/// an object of the API server is limited (about 1.5 MiB in etcd, with the
/// server-side-apply bookkeeping that names every subject again), and a
/// binding that cannot be written would keep its old subjects.
pub const SUBJECTS_PER_BINDING: usize = 2000;

/// The name of part `part` (0-based) of a binding split by
/// [`SUBJECTS_PER_BINDING`]: the first keeps the binding's name, the others
/// add `-p<n>` (never the end of another binding's name, which ends in hex).
pub fn part_name(name: &str, part: usize) -> String {
    if part == 0 {
        name.to_owned()
    } else {
        format!("{name}-p{}", part + 1)
    }
}

/// Turns one planned binding into objects, one per [`SUBJECTS_PER_BINDING`]
/// subjects (merging with identical ones from a duplicate mapping), and
/// returns what to report on the group.
fn emit(
    tenant_name: &str,
    labels: &BTreeMap<String, String>,
    owner: Option<&OwnerReference>,
    plan: &Planned,
    subjects: &[Subject],
    role_bindings: &mut BTreeMap<(String, String), RoleBinding>,
    cluster_role_bindings: &mut BTreeMap<String, ClusterRoleBinding>,
) -> Vec<ProducedBinding> {
    let base = binding_name(
        tenant_name,
        plan.group_id,
        plan.display_name,
        plan.kind,
        plan.role,
        plan.namespace.as_deref(),
    );
    let role = format!("{}/{}", kind_str(plan.kind), plan.role);
    let mut labels = labels.clone();
    labels.insert(GROUP_LABEL.to_string(), label_value(plan.group_id));
    if let Some(end) = plan.not_after {
        labels.insert(NOT_AFTER_LABEL.to_string(), not_after_value(end));
    }
    let role_ref = RoleRef {
        api_group: RBAC_API_GROUP.to_string(),
        kind: kind_str(plan.kind).to_string(),
        name: plan.role.to_string(),
    };
    let parts: Vec<&[Subject]> = if subjects.is_empty() {
        vec![&[]]
    } else {
        subjects.chunks(SUBJECTS_PER_BINDING).collect()
    };
    let mut produced = Vec::with_capacity(parts.len());
    for (part, subjects) in parts.into_iter().enumerate() {
        let name = part_name(&base, part);
        let metadata = ObjectMeta {
            name: Some(name.clone()),
            namespace: plan.namespace.clone(),
            labels: Some(labels.clone()),
            annotations: Some(BTreeMap::from([
                (
                    GROUP_NAME_ANNOTATION.to_string(),
                    plan.display_name.to_string(),
                ),
                (ROLE_ANNOTATION.to_string(), role.clone()),
            ])),
            owner_references: owner.map(|o| vec![o.clone()]),
            ..ObjectMeta::default()
        };
        let subjects = Some(subjects.to_vec());
        let role_ref = role_ref.clone();
        match plan.namespace.as_deref() {
            Some(namespace) => {
                role_bindings
                    .entry((namespace.to_string(), name.clone()))
                    .or_insert(RoleBinding {
                        metadata,
                        role_ref,
                        subjects,
                    });
                produced.push(ProducedBinding {
                    kind: "RoleBinding".to_string(),
                    namespace: Some(namespace.to_string()),
                    name,
                    role: role.clone(),
                });
            }
            None => {
                cluster_role_bindings
                    .entry(name.clone())
                    .or_insert(ClusterRoleBinding {
                        metadata,
                        role_ref,
                        subjects,
                    });
                produced.push(ProducedBinding {
                    kind: "ClusterRoleBinding".to_string(),
                    namespace: None,
                    name,
                    role: role.clone(),
                });
            }
        }
    }
    produced
}

#[cfg(test)]
mod tests;
