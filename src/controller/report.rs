//! The status phase: what each user and group looked at, and the tenant,
//! report. A status is written only when it differs from the one the cache
//! saw on the object (a digest, [`crate::crd::StatusSeen`]), so a restarted
//! or newly elected controller rewrites nothing that is already right, and
//! no status is held in memory.

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::apply::with_timeout;
use super::compute::{Owner, user_outcome};
use super::context::{Context, Error};
use super::desired::{Plan, Problem};
use super::events;
use super::reconcile::Outcome;
use super::status;
use crate::crd::{
    ProducedBinding, ScimGroup, ScimGroupStatus, ScimTenant, ScimTenantStatus, ScimUser,
    ScimUserStatus, StatusSeen,
};
use crate::store::Kind;
use crate::store::index::Index;
use crate::store::kube::cache::Incoming;
use crate::store::kube::{group_entry, user_entry};

/// Longest `status.groupNames` of a user and `status.roleNames` of a group,
/// in characters: `kubectl get` prints them in one column.
pub const SUMMARY_CHARS: usize = 64;

/// Status writes in flight at once.
const STATUS_WRITES: usize = 16;
/// Users whose status is computed per step on the blocking pool: a full
/// pass at 100,000 users holds one step's statuses, and never keeps an
/// async worker (which serves SCIM) for the whole tenant.
const USERS_PER_STEP: usize = 512;

/// What the cache knows of one object: its generation, whether it is active
/// (users), and what its status says.
struct Known {
    generation: Option<i64>,
    active: bool,
    seen: Option<StatusSeen>,
}

impl Known {
    fn of(index: &Index, kind: Kind, id: &str) -> Option<Known> {
        index.entry(kind, id).map(|entry| Known {
            generation: entry.generation,
            active: kind == Kind::Group || index.user(id).is_some_and(|u| u.active),
            seen: entry.status,
        })
    }

    /// Whether `digest` is not what the object's status says.
    fn differs(&self, digest: u64) -> bool {
        self.seen.map(|s| s.digest) != Some(digest)
    }
}

/// Writes the status of every group and user in `outcome` whose status
/// changed, several at a time. `failed` are the bindings that could not be
/// written, reported on the groups.
pub(super) async fn objects(
    ctx: &Context,
    tenant: &ScimTenant,
    outcome: &Outcome,
    failed: &[String],
) -> Result<(), Error> {
    // Every write is tried; the first failure is the answer.
    status_writes(ctx, tenant, outcome, failed)
        .buffer_unordered(STATUS_WRITES)
        .fold(Ok(()), |first, result| {
            futures::future::ready(first.and(result))
        })
        .await
}

/// The status writes of `outcome`'s groups and users whose status changed,
/// built as they are taken: a full pass at 100,000 users must not hold a
/// status (and a future) per object at once.
fn status_writes<'a>(
    ctx: &'a Context,
    tenant: &'a ScimTenant,
    outcome: &'a Outcome,
    failed: &'a [String],
) -> impl futures::Stream<Item = BoxFuture<'a, Result<(), Error>>> + Send + 'a {
    let namespace = tenant.spec.namespace.as_str();
    let groups = outcome.groups.iter().filter_map(move |(id, group)| {
        let known = ctx
            .store
            .cache()
            .read(namespace, |index| Known::of(index, Kind::Group, id))?;
        let message = format!(
            "{} binding(s), {} member(s)",
            group.bindings.len(),
            group.member_count
        );
        let status = ScimGroupStatus {
            conditions: conditions(&known, &group.problems, failed, &message),
            member_count: group.member_count,
            effective_member_count: group.effective_member_count,
            bindings: group.bindings.clone(),
            binding_count: group.bindings.len() as i64,
            role_names: role_names(&group.bindings),
            observed_generation: known.generation,
        };
        known
            .differs(status.seen().digest)
            .then(|| -> BoxFuture<'a, Result<(), Error>> {
                Box::pin(write(
                    ctx,
                    namespace,
                    (Kind::Group, id.clone()),
                    status,
                    group_entry as fn(&ScimGroup) -> _,
                ))
            })
    });
    let users = futures::stream::iter(outcome.users.chunks(USERS_PER_STEP))
        .then(move |ids| changed_user_statuses(ctx, tenant, ids.to_vec()))
        .flat_map(move |changed| {
            let writes: Vec<BoxFuture<'a, Result<(), Error>>> = match changed {
                Ok(changed) => changed
                    .into_iter()
                    .map(|(id, status)| -> BoxFuture<'a, Result<(), Error>> {
                        Box::pin(write(
                            ctx,
                            namespace,
                            (Kind::User, id),
                            status,
                            user_entry as fn(&ScimUser) -> _,
                        ))
                    })
                    .collect(),
                Err(error) => vec![Box::pin(futures::future::ready(Err(error)))],
            };
            futures::stream::iter(writes)
        });
    futures::stream::iter(groups).chain(users)
}

/// The statuses of `ids` that differ from what their objects say, computed
/// on the blocking pool.
async fn changed_user_statuses(
    ctx: &Context,
    tenant: &ScimTenant,
    ids: Vec<String>,
) -> Result<Vec<(String, ScimUserStatus)>, Error> {
    let (cache, tenant) = (ctx.store.cache().clone(), tenant.clone());
    let computed = tokio::task::spawn_blocking(move || {
        let (plan, owner) = (Plan::new(&tenant), Owner::of(&tenant));
        cache.read(&tenant.spec.namespace, |index| {
            ids.into_iter()
                .filter_map(|id| {
                    let known = Known::of(index, Kind::User, &id)?;
                    let user = user_outcome(&plan, &owner, index, &id)?;
                    let message = match (&user.subject, known.active) {
                        (_, false) => "inactive: in no binding".to_owned(),
                        (Some(subject), true) => format!("bound as {subject}"),
                        (None, true) => "active; bound through the group subject only".to_owned(),
                    };
                    let status = ScimUserStatus {
                        conditions: conditions(&known, &user.problems, &[], &message),
                        active: Some(user.active),
                        email: user.email,
                        subject: user.subject,
                        group_names: summary(&user.groups, SUMMARY_CHARS),
                        groups: user.groups,
                        observed_generation: known.generation,
                    };
                    known.differs(status.seen().digest).then_some((id, status))
                })
                .collect()
        })
    })
    .await;
    computed.map_err(|e| Error::Apply(format!("computing user statuses: {e}")))
}

/// `names` joined with `, `, at most `limit` characters: the names that do
/// not fit are counted instead (`a, b (+3 more)`), and a first name too long
/// on its own is cut with `…`. Empty when there are none.
pub fn summary(names: &[String], limit: usize) -> String {
    let chars = |s: &str| s.chars().count();
    let more = |left: usize| {
        if left == 0 {
            String::new()
        } else {
            format!(" (+{left} more)")
        }
    };
    let mut shown = String::new();
    for (i, name) in names.iter().enumerate() {
        let separator = if shown.is_empty() { "" } else { ", " };
        let fits =
            chars(&shown) + chars(separator) + chars(name) + chars(&more(names.len() - i - 1))
                <= limit;
        if fits {
            shown.push_str(separator);
            shown.push_str(name);
            continue;
        }
        if shown.is_empty() {
            // Not even the first name fits: as much of it as leaves room
            // for the count of the others.
            let room = limit.saturating_sub(chars(&more(names.len() - 1)) + 1);
            shown = name.chars().take(room).collect();
            shown.push('…');
            return shown + &more(names.len() - 1);
        }
        return shown + &more(names.len() - i);
    }
    shown
}

/// The distinct roles `bindings` grant (`ClusterRole/edit`, `Role/deployer`),
/// sorted, as a [`summary`].
pub fn role_names(bindings: &[ProducedBinding]) -> String {
    let roles: std::collections::BTreeSet<&str> =
        bindings.iter().map(|b| b.role.as_str()).collect();
    let roles: Vec<String> = roles.into_iter().map(str::to_owned).collect();
    summary(&roles, SUMMARY_CHARS)
}

/// Conditions for an object, keeping the transition times it has.
fn conditions(
    known: &Known,
    problems: &[Problem],
    failed: &[String],
    message: &str,
) -> Vec<Condition> {
    let previous = known.seen.map(|s| s.conditions()).unwrap_or_default();
    status::conditions(&previous, problems, failed, message, known.generation)
}

/// Replaces the status of one object (the controller owns all of it: a
/// merge patch would keep fields the new status leaves out) and refreshes
/// the cache with the object the API server returns, so the next reconcile
/// compares against it rather than writing it again before the watch
/// delivers it.
async fn write<K, S>(
    ctx: &Context,
    namespace: &str,
    (kind, id): (Kind, String),
    status: S,
    to_entry: fn(&K) -> Option<Incoming>,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    S: Serialize,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    match with_timeout(api.patch_status(&id, &PatchParams::default(), &replace_status(&status)))
        .await
    {
        Ok(written) => {
            tracing::debug!(?kind, id, version = ?written.meta().resource_version, "status written");
            if let Some(incoming) = to_entry(&written) {
                ctx.store.cache().refresh(kind, incoming);
            }
            Ok(())
        }
        // Deleted meanwhile: nothing to report on.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(error) => Err(Error::Status(error)),
    }
}

/// A JSON patch setting `/status` (`add` replaces a member that is there).
fn replace_status<S: Serialize>(status: &S) -> Patch<()> {
    Patch::Json(json_patch::Patch(vec![json_patch::PatchOperation::Add(
        json_patch::AddOperation {
            path: json_patch::jsonptr::PointerBuf::from_tokens(["status"]),
            value: serde_json::to_value(status).unwrap_or_default(),
        },
    )]))
}

/// Writes the tenant's status when it changed, and publishes its milestones:
/// the directory growing or shrinking, and the tenant becoming Ready.
pub(super) async fn tenant(
    ctx: &Context,
    tenant: &ScimTenant,
    problems: &[Problem],
    failures: &[String],
    users: usize,
    groups: usize,
) -> Result<(), Error> {
    let previous = tenant.status.clone().unwrap_or_default();
    let generation = tenant.metadata.generation;
    let message = format!("{users} user(s), {groups} group(s) reconciled");
    let status = ScimTenantStatus {
        conditions: status::conditions(
            &previous.conditions,
            problems,
            failures,
            &message,
            generation,
        ),
        users: users as i64,
        groups: groups as i64,
        mappings: tenant.spec.mappings.len() as i64,
        scim_base_url: ctx.public_url.clone(),
        schedule: Plan::new(tenant).schedule(jiff::Timestamp::now()),
        observed_generation: generation,
    };
    let unchanged = ScimTenantStatus {
        conditions: Vec::new(),
        ..status.clone()
    } == ScimTenantStatus {
        conditions: Vec::new(),
        ..previous.clone()
    } && status::same(&previous.conditions, &status.conditions);
    if unchanged {
        return Ok(());
    }
    if (previous.users, previous.groups) != (status.users, status.groups) {
        let note = format!(
            "directory now holds {users} user(s) and {groups} group(s) (was {} and {})",
            previous.users, previous.groups
        );
        events::publish(ctx, tenant, EventType::Normal, "Provisioned", note).await;
    }
    for window in &status.schedule {
        let before = previous
            .schedule
            .iter()
            .find(|w| w.mapping == window.mapping && w.description == window.description);
        if before.is_none_or(|b| b.state != window.state) {
            let note = format!(
                "mapping #{} ({}) is {}",
                window.mapping,
                window.description,
                window.state.to_lowercase()
            );
            let reason = format!("Mapping{}", window.state);
            events::publish(ctx, tenant, EventType::Normal, &reason, note).await;
        }
    }
    if status::ready(&status.conditions) && !status::ready(&previous.conditions) {
        events::publish(ctx, tenant, EventType::Normal, "Ready", message).await;
    }
    let api: Api<ScimTenant> = Api::all(ctx.client.clone());
    with_timeout(api.patch_status(
        &tenant.name_any(),
        &PatchParams::default(),
        &replace_status(&status),
    ))
    .await
    .map_err(Error::Status)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn summary_joins_what_fits_and_counts_the_rest() {
        assert_eq!(summary(&[], 20), "");
        assert_eq!(summary(&names(&["ops"]), 20), "ops");
        assert_eq!(summary(&names(&["dev", "ops"]), 20), "dev, ops");
        // Exactly at the limit: everything shown, no count.
        assert_eq!(
            summary(&names(&["abcdefgh", "ijklmnop"]), 18),
            "abcdefgh, ijklmnop"
        );
        // The names that do not fit give way to their count.
        assert_eq!(
            summary(&names(&["abcdefgh", "ijklmnop", "q"]), 20),
            "abcdefgh (+2 more)"
        );
        // One character short of the first name and the count: the first
        // name is cut rather than nothing shown.
        assert_eq!(
            summary(&names(&["abcdefgh", "ijklmnop"]), 17),
            "abcdef… (+1 more)"
        );
    }

    #[test]
    fn summary_never_exceeds_its_limit() {
        let many: Vec<String> = (0..40).map(|i| format!("team-{i:02}")).collect();
        for limit in [16, 20, 33, 64] {
            let text = summary(&many, limit);
            assert!(text.chars().count() <= limit, "{limit}: {text:?}");
            let shown = text.split(" (+").next().expect("names").split(", ").count();
            assert!(
                text.ends_with(&format!(" (+{} more)", 40 - shown)),
                "{limit}: {text:?} counts what it left out"
            );
        }
        assert_eq!(
            summary(&many, 64),
            "team-00, team-01, team-02, team-03, team-04, team-05 (+34 more)"
        );
    }

    #[test]
    fn summary_cuts_a_first_name_too_long_on_its_own() {
        let long = "x".repeat(100);
        assert_eq!(
            summary(std::slice::from_ref(&long), 10),
            format!("{}…", "x".repeat(9))
        );
        let text = summary(&[long, "ops".into()], 20);
        assert_eq!(text, format!("{}… (+1 more)", "x".repeat(9)));
        assert_eq!(text.chars().count(), 20);
        // Characters, not bytes: a name in another script is not split
        // inside a character.
        let wide = "ü".repeat(30);
        assert_eq!(summary(&[wide], 10), format!("{}…", "ü".repeat(9)));
    }

    #[test]
    fn role_names_lists_each_role_once_sorted() {
        let binding = |kind: &str, namespace: Option<&str>, role: &str| ProducedBinding {
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: format!("b-{role}"),
            role: role.into(),
        };
        let bindings = [
            binding("RoleBinding", Some("dev"), "ClusterRole/edit"),
            binding("RoleBinding", Some("prod"), "ClusterRole/edit"),
            binding("RoleBinding", Some("dev"), "Role/deployer"),
            binding("ClusterRoleBinding", None, "ClusterRole/view"),
        ];
        assert_eq!(
            role_names(&bindings),
            "ClusterRole/edit, ClusterRole/view, Role/deployer"
        );
        assert_eq!(role_names(&[]), "");
    }
}
