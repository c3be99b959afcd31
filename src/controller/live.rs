//! The plan and the access report, read from the API server: the I/O around
//! the pure [`super::plan`] and [`super::access_report`]. `scimitar plan`
//! and `scimitar access-report` call it with the admin's kubeconfig, the
//! console with the operator's own client.
//!
//! - Users and groups come from the caller: the CLI lists the ScimUsers and
//!   ScimGroups in the tenant's namespace ([`directory`]), without those
//!   another tenant (another uid) left there; the console takes them from
//!   the operator's cache, so a console page never lists the directory
//!   from the API server.
//! - The bindings that exist are the RoleBindings (every namespace) and
//!   ClusterRoleBindings with the tenant's labels
//!   ([`super::desired::selector`]).
//! - Whether a role may be bound is asked of the API server for the
//!   operator, as the controller asks it ([`super::facts`]): with
//!   [`BindCheck::Operator`] the caller is the operator
//!   (SelfSubjectAccessReview); with [`BindCheck::ServiceAccount`] a
//!   SubjectAccessReview names the operator's ServiceAccount, since the
//!   human running the CLI may bind more (or less) than the operator.
//!   A review that fails stops the plan: guessing would print a plan the
//!   controller does not follow.
//! - Role rules are read with GET (aggregated ClusterRoles carry the rules
//!   the controller-manager filled in). A role that does not exist grants
//!   nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SubjectAccessReview,
    SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, Resource};

use super::access_report::{self, Row};
use super::desired::{Inputs, RoleState, RoleTarget, desired, mapping, selector};
use super::plan::{self, Bound, Diff, People, RoleName};
use super::reconcile::role_targets;
use crate::crd::{RoleKind, ScimGroup, ScimTenant, ScimUser};
use crate::meta::TENANT_UID_LABEL;

/// How to tell whether the operator may bind a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindCheck {
    /// The client is the operator: SelfSubjectAccessReview.
    Operator,
    /// SubjectAccessReview for this ServiceAccount (namespace, name).
    ServiceAccount { namespace: String, name: String },
}

/// A tenant's directory and bindings, as the API server has them.
pub struct Live {
    pub users: Vec<ScimUser>,
    pub groups: Vec<ScimGroup>,
    /// The tenant's bindings that exist, sorted by (namespace, name).
    pub bound: Vec<Bound>,
}

fn ours<K: Resource>(object: &K, uid: Option<&str>) -> bool {
    let recorded = object
        .meta()
        .labels
        .as_ref()
        .and_then(|l| l.get(TENANT_UID_LABEL));
    match (recorded, uid) {
        (Some(recorded), Some(uid)) => recorded == uid,
        _ => true,
    }
}

/// Reads the directory of `tenant` (in `tenant.spec.namespace`) and its bindings.
pub async fn read(client: &Client, tenant: &ScimTenant) -> Result<Live, kube::Error> {
    let (users, groups) = directory(client, tenant).await?;
    Ok(Live {
        users,
        groups,
        bound: bindings(client, tenant).await?,
    })
}

/// The ScimUsers and ScimGroups of `tenant`, listed from the API server.
pub async fn directory(
    client: &Client,
    tenant: &ScimTenant,
) -> Result<(Vec<ScimUser>, Vec<ScimGroup>), kube::Error> {
    let namespace = &tenant.spec.namespace;
    let uid = tenant.metadata.uid.as_deref();
    let users: Vec<ScimUser> = Api::<ScimUser>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|u| ours(u, uid))
        .collect();
    let groups: Vec<ScimGroup> = Api::<ScimGroup>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|g| ours(g, uid))
        .collect();
    Ok((users, groups))
}

/// The bindings labelled for `tenant`, sorted by (namespace, name).
pub async fn bindings(client: &Client, tenant: &ScimTenant) -> Result<Vec<Bound>, kube::Error> {
    let labels = ListParams::default().labels(&selector(tenant));
    let mut bound: Vec<Bound> = Api::<RoleBinding>::all(client.clone())
        .list(&labels)
        .await?
        .items
        .iter()
        .map(Bound::of_role_binding)
        .chain(
            Api::<ClusterRoleBinding>::all(client.clone())
                .list(&labels)
                .await?
                .items
                .iter()
                .map(Bound::of_cluster_role_binding),
        )
        .collect();
    bound.sort_by(|a, b| a.key().cmp(&b.key()));
    Ok(bound)
}

/// Role key: (kind, name, namespace of a Role).
type RoleKey = (RoleName, Option<String>);

fn kind_name(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::ClusterRole => "ClusterRole",
        RoleKind::Role => "Role",
    }
}

/// The rules of each role; roles that do not exist are left out.
pub async fn rules(
    client: &Client,
    roles: impl IntoIterator<Item = RoleKey>,
) -> Result<BTreeMap<RoleKey, Vec<PolicyRule>>, kube::Error> {
    let mut out = BTreeMap::new();
    for (role, namespace) in roles {
        let rules = match (role.kind.as_str(), &namespace) {
            ("ClusterRole", _) => Api::<ClusterRole>::all(client.clone())
                .get_opt(&role.name)
                .await?
                .map(|r| r.rules.unwrap_or_default()),
            ("Role", Some(ns)) => Api::<Role>::namespaced(client.clone(), ns)
                .get_opt(&role.name)
                .await?
                .map(|r| r.rules.unwrap_or_default()),
            _ => None,
        };
        if let Some(rules) = rules {
            out.insert((role, namespace), rules);
        }
    }
    Ok(out)
}

/// Whether the operator may `bind` `target`, asked as `check` says.
async fn may_bind(
    client: &Client,
    check: &BindCheck,
    target: &RoleTarget,
) -> Result<bool, kube::Error> {
    let attributes = ResourceAttributes {
        verb: Some("bind".into()),
        group: Some("rbac.authorization.k8s.io".into()),
        resource: Some(match target.kind {
            RoleKind::ClusterRole => "clusterroles".into(),
            RoleKind::Role => "roles".into(),
        }),
        name: Some(target.name.clone()),
        namespace: target.namespace.clone(),
        ..Default::default()
    };
    let status = match check {
        BindCheck::Operator => {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(attributes),
                    ..Default::default()
                },
                ..Default::default()
            };
            Api::<SelfSubjectAccessReview>::all(client.clone())
                .create(&PostParams::default(), &review)
                .await?
                .status
        }
        BindCheck::ServiceAccount { namespace, name } => {
            // The groups the API server gives every ServiceAccount token.
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(format!("system:serviceaccount:{namespace}:{name}")),
                    groups: Some(vec![
                        "system:serviceaccounts".into(),
                        format!("system:serviceaccounts:{namespace}"),
                        "system:authenticated".into(),
                    ]),
                    resource_attributes: Some(attributes),
                    ..Default::default()
                },
                ..Default::default()
            };
            Api::<SubjectAccessReview>::all(client.clone())
                .create(&PostParams::default(), &review)
                .await?
                .status
        }
    };
    Ok(status.is_some_and(|s| s.allowed && !s.denied.unwrap_or(false)))
}

/// What the plan needs besides the directory: namespaces, role states and rules.
async fn role_states(
    client: &Client,
    check: &BindCheck,
    tenant: &ScimTenant,
) -> Result<HashMap<(RoleKind, String, Option<String>), RoleState>, kube::Error> {
    let mut out = HashMap::new();
    for target in role_targets(tenant) {
        let key = (target.kind, target.name.clone(), target.namespace.clone());
        if out.contains_key(&key) {
            continue;
        }
        let role = RoleName {
            kind: kind_name(target.kind).to_owned(),
            name: target.name.clone(),
        };
        let exists = !rules(client, [(role, target.namespace.clone())])
            .await?
            .is_empty();
        let state = if !exists {
            RoleState::Missing
        } else if may_bind(client, check, &target).await? {
            RoleState::Bindable
        } else {
            RoleState::NotBindable
        };
        out.insert(key, state);
    }
    Ok(out)
}

/// The plan for applying `new` over `current` (the live tenant; `None` when
/// `new` is a tenant that does not exist yet), over the tenant's `users`
/// and `groups` as the caller read them.
pub async fn plan(
    client: &Client,
    current: Option<&ScimTenant>,
    new: &ScimTenant,
    check: &BindCheck,
    users: &[ScimUser],
    groups: &[ScimGroup],
) -> anyhow::Result<Diff> {
    // The new spec is planned as the tenant it replaces (same uid), so the
    // bindings it would own are compared with those that exist.
    let mut new = new.clone();
    if let Some(current) = current {
        new.metadata.uid = current.metadata.uid.clone();
    }
    let bound = bindings(client, &new).await?;
    let listed = Api::<Namespace>::all(client.clone())
        .list_metadata(&ListParams::default())
        .await?
        .items;
    let namespaces: BTreeSet<String> = listed
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    // Labels decide namespace selectors and the derived-namespace guard.
    let namespace_labels: BTreeMap<String, mapping::Labels> = listed
        .into_iter()
        .filter_map(|n| Some((n.metadata.name?, n.metadata.labels?)))
        .collect();
    let states = role_states(client, check, &new).await.map_err(|e| {
        anyhow::anyhow!(
            "asking the API server whether the operator may bind the mapped roles ({check:?}): {e}"
        )
    })?;
    let lookup = |t: &RoleTarget| {
        states
            .get(&(t.kind, t.name.clone(), t.namespace.clone()))
            .copied()
            .unwrap_or(RoleState::NotBindable)
    };
    let want = desired(&Inputs {
        tenant: &new,
        users,
        groups,
        namespaces: &namespaces,
        namespace_labels: &namespace_labels,
        roles: &lookup,
        // Time windows are planned as they stand now.
        now: jiff::Timestamp::now(),
        directory_shards: None,
    });
    let after = plan::bindings_of(&want);
    let roles = rules(
        client,
        plan::roles_named(&bound)
            .into_iter()
            .chain(plan::roles_named(&after)),
    )
    .await?;
    let rules_of = |role: &RoleName, namespace: Option<&str>| {
        let namespace = (role.kind == "Role")
            .then(|| namespace.map(str::to_owned))
            .flatten();
        roles.get(&(role.clone(), namespace)).map(Vec::as_slice)
    };
    let before_settings = &current.unwrap_or(&new).spec.subjects;
    let people_before = People::new(before_settings, users, groups);
    let people_after = People::new(&new.spec.subjects, users, groups);
    Ok(plan::diff(
        new.metadata.name.as_deref().unwrap_or_default(),
        &bound,
        &want,
        &people_before,
        &people_after,
        &rules_of,
    ))
}

/// The access report of `tenant`, from the bindings that exist, over the
/// tenant's `users` and `groups` as the caller read them.
pub async fn access_report(
    client: &Client,
    tenant: &ScimTenant,
    users: &[ScimUser],
    groups: &[ScimGroup],
) -> Result<Vec<Row>, kube::Error> {
    let bound = bindings(client, tenant).await?;
    Ok(access_report::rows(
        &bound,
        &tenant.spec.subjects,
        users,
        groups,
    ))
}
