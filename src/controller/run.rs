//! The tenant controller: kube-runtime's `Controller` over `ScimTenant`s.
//!
//! A reconcile is triggered by the tenant itself, by any change to the
//! tenant's users and groups (as the SCIM store's cache sees them, so the
//! reconcile never reads an older view than the one that triggered it), by
//! changes to the bindings and ConfigMaps it owns (drift is repaired), and by
//! namespaces and roles appearing or going.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{StreamExt, future};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::apply::{self, Change, bounded};
use super::desired::{self, MANAGED_BY, MANAGER};
use super::facts::Roles;
use super::owned::Owned;
use super::reconcile;
use super::shards::Shards;
use super::status;
use super::work::Pending;
use crate::crd::{ScimGroup, ScimTenant, ScimUser};
use crate::store::Kind;
use crate::store::kube::{KubeStore, convert};

/// Status writes in flight at once.
const STATUS_WRITES: usize = 16;
/// Periodic re-check, in case a trigger was missed.
const RESYNC: Duration = Duration::from_secs(300);

/// Why a reconcile failed; it is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the directory cache is not loaded yet")]
    NotReady,
    #[error("checking roles: {0}")]
    Roles(#[source] kube::Error),
    #[error("{0}")]
    Apply(String),
    #[error("writing status: {0}")]
    Status(#[source] kube::Error),
}

impl Error {
    /// The `error` label of `scimitar_reconcile_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::NotReady => "not_ready",
            Error::Roles(_) => "roles",
            Error::Apply(_) => "apply",
            Error::Status(_) => "status",
        }
    }
}

/// What reconciles share.
pub struct Context {
    pub(super) client: Client,
    pub(super) store: Arc<KubeStore>,
    pub(super) roles: Roles,
    pub(super) namespaces: Store<PartialObjectMeta<Namespace>>,
    pub(super) role_bindings: Store<RoleBinding>,
    pub(super) cluster_role_bindings: Store<ClusterRoleBinding>,
    /// The directory ConfigMaps we own, metadata only: their data is
    /// summarized in `shards`, never held.
    pub(super) config_maps: Store<PartialObjectMeta<ConfigMap>>,
    pub(super) shards: Arc<Shards>,
    recorder: Recorder,
    /// Last status written (or, for objects not written since this
    /// controller started, read) per user and group, so unchanged ones are
    /// not rewritten.
    written: Mutex<HashMap<(Kind, String, String), Value>>,
    /// Namespaces whose objects' statuses were read into `written`.
    seeded: Mutex<HashSet<String>>,
    /// The SCIM base URL to publish in tenant status.
    public_url: Option<String>,
    /// Problems already published as Warning Events.
    warned: Mutex<HashSet<String>>,
    /// Consecutive failures per tenant, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Bindings whose update keeps failing, and since when.
    pub(super) failing: apply::Failing,
    /// The objects we made, by tenant and group; absorbs our writes' echoes.
    pub(super) owned: Arc<Owned>,
    /// Changes the watches saw, per tenant.
    pub(super) pending: Arc<Pending>,
    /// What is remembered of each tenant between reconciles.
    pub(super) passes: Mutex<HashMap<String, reconcile::Pass>>,
}

/// Runs the controller until the process stops.
pub async fn run(client: Client, store: Arc<KubeStore>, public_url: Option<String>) {
    let managed = crate::kubeclient::watch_config().labels(&format!("{MANAGED_BY}={MANAGER}"));
    let all = crate::kubeclient::watch_config;
    let owned = Arc::new(Owned::default());
    let pending = Arc::new(Pending::default());
    let shards = Arc::new(Shards::default());
    let (rb_reader, role_bindings) = watched_owned(
        Api::<RoleBinding>::all(client.clone()),
        managed.clone(),
        owned.clone(),
        pending.clone(),
        |_, _| {},
    );
    let (crb_reader, cluster_role_bindings) = watched_owned(
        Api::<ClusterRoleBinding>::all(client.clone()),
        managed.clone(),
        owned.clone(),
        pending.clone(),
        |_, _| {},
    );
    let (cm_reader, config_maps) = {
        let shards = shards.clone();
        watched_owned(
            Api::<PartialObjectMeta<ConfigMap>>::all(client.clone()),
            managed,
            owned.clone(),
            pending.clone(),
            move |event, foreign| shards.observe(event, foreign),
        )
    };
    let (ns_reader, namespaces) = reflected(
        Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
        all(),
    );
    let (cr_reader, cluster_roles) = reflected(
        Api::<PartialObjectMeta<ClusterRole>>::all(client.clone()),
        all(),
    );
    let (r_reader, roles) = reflected(Api::<PartialObjectMeta<Role>>::all(client.clone()), all());

    let reporter = Reporter {
        controller: "scimitar".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        store: store.clone(),
        roles: Roles::new(client.clone(), cr_reader.clone(), r_reader.clone()),
        namespaces: ns_reader.clone(),
        role_bindings: rb_reader.clone(),
        cluster_role_bindings: crb_reader.clone(),
        config_maps: cm_reader.clone(),
        shards,
        recorder: Recorder::new(client.clone(), reporter),
        written: Mutex::default(),
        seeded: Mutex::default(),
        warned: Mutex::default(),
        public_url,
        failures: Mutex::default(),
        failing: apply::Failing::default(),
        owned,
        pending: pending.clone(),
        passes: Mutex::default(),
    });

    // Directory changes, as the SCIM store's cache applies them. A receiver
    // that fell behind has missed some: every tenant is reconciled then.
    let tenants = store.tenants().clone();
    let directory = futures::stream::unfold(store.cache().subscribe(), move |mut changes| {
        let tenants = tenants.clone();
        async move {
            let refs: Vec<String> = match changes.recv().await {
                Ok(namespace) => tenants
                    .tenant_of_namespace(&namespace)
                    .into_iter()
                    .collect(),
                Err(RecvError::Lagged(_)) => tenants.names(),
                Err(RecvError::Closed) => return None,
            };
            Some((refs, changes))
        }
    })
    .flat_map(|names| {
        futures::stream::iter(names.into_iter().map(|n| ObjectRef::<ScimTenant>::new(&n)))
    });

    // Tenants whose referenced Secrets became (un)usable: their status says so.
    let secrets_changed =
        futures::stream::unfold(store.tenants().subscribe(), |mut changes| async move {
            loop {
                match changes.recv().await {
                    Ok(tenant) => return Some((ObjectRef::<ScimTenant>::new(&tenant), changes)),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        });

    // A namespace or role that appeared or went: each tenant looks at the
    // mappings naming it.
    let fact = {
        let (tenants, pending) = (store.tenants().clone(), pending);
        move |name: String| -> Vec<ObjectRef<ScimTenant>> {
            tenants
                .names()
                .iter()
                .map(|tenant| {
                    pending.fact(tenant, &name);
                    ObjectRef::new(tenant)
                })
                .collect()
        }
    };
    let (f1, f2, f3) = (fact.clone(), fact.clone(), fact);

    let tenants_api: Api<ScimTenant> = Api::all(client.clone());
    let controller = Controller::new(tenants_api, crate::kubeclient::watch_config())
        // No debounce: kube-runtime's restarts on every trigger, so a tenant
        // in an IdP sync would wait for the sync's end. Triggers that arrive
        // during a reconcile already gather into the next one.
        .reconcile_on(role_bindings)
        .reconcile_on(cluster_role_bindings)
        .reconcile_on(config_maps)
        .watches_stream(namespaces, move |n| f1(n.name_any()))
        .watches_stream(cluster_roles, move |r| f2(r.name_any()))
        .watches_stream(roles, move |r| f3(r.name_any()))
        .reconcile_on(directory)
        .reconcile_on(secrets_changed);
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            if let Err(error) = result {
                tracing::debug!(%error, "reconcile failed");
            }
            future::ready(())
        })
        .await;
}

/// A reflector store of objects we own, and the tenants to reconcile when
/// someone else changes them ([`Owned`] absorbs the echo of our writes).
/// The tenant is named without a namespace: the same `ObjectRef` its own
/// events make, so one tenant is never reconciled twice at once. `seen` is
/// told each event and whether it was someone else's change.
fn watched_owned<K>(
    api: Api<K>,
    config: watcher::Config,
    owned: Arc<Owned>,
    pending: Arc<Pending>,
    seen: impl Fn(&watcher::Event<K>, bool) + Send + 'static,
) -> (
    Store<K>,
    impl futures::Stream<Item = ObjectRef<ScimTenant>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, stream) = stripped(api, config);
    let stream = stream.flat_map(move |event| {
        let touches = match &event {
            Ok(event) => {
                let touches = owned.observe(event);
                seen(event, !touches.is_empty());
                touches
            }
            Err(_) => Vec::new(),
        };
        let refs: Vec<ObjectRef<ScimTenant>> = touches
            .into_iter()
            .map(|touch| {
                pending.touched(&touch.tenant, &touch.scope);
                ObjectRef::new(&touch.tenant)
            })
            .collect();
        futures::stream::iter(refs)
    });
    (reader, stream)
}

/// A reflector store of `api` and the stream that feeds it (the controller
/// polls the stream, which keeps the store current).
fn reflected<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, stream) = stripped(api, config);
    (reader, stream.touched_objects())
}

/// A reflector store of `api` and its event stream, managedFields stripped:
/// they repeat every field (every subject of a binding) with the manager's
/// name, often the larger half of an object, and are never read.
fn stripped<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(api, config).modify(|object| object.managed_fields_mut().clear()),
    )
    .default_backoff();
    (reader, stream)
}

fn error_policy(tenant: Arc<ScimTenant>, error: &Error, ctx: Arc<Context>) -> Action {
    let name = tenant.name_any();
    let attempts = {
        let mut failures = ctx.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(name.clone()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    };
    let delay = Duration::from_millis(250u64.saturating_mul(1 << attempts.min(8)))
        .min(Duration::from_secs(60));
    tracing::warn!(tenant = %name, %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// Users and groups of a namespace that belong to `tenant`, as
/// custom-resource values, from the cache, and how many were left there by
/// an earlier tenant (they grant nothing).
pub(super) fn directory(
    store: &KubeStore,
    tenant: &ScimTenant,
) -> (Vec<ScimUser>, Vec<ScimGroup>, usize) {
    let namespace = tenant.spec.namespace.as_str();
    let uid = tenant.metadata.uid.as_deref();
    let created = tenant.metadata.creation_timestamp.as_ref().map(|t| t.0);
    store.cache().read(namespace, |index| {
        let mut leftovers = 0;
        let mut users = Vec::new();
        for stored in index.list(Kind::User, None) {
            let Some(entry) = index.entry(Kind::User, &stored.id) else {
                continue;
            };
            if !entry.belongs_to(uid, created) {
                leftovers += 1;
                continue;
            }
            let Ok(spec) = convert::user_spec_from_scim(&stored.resource) else {
                continue;
            };
            let mut user = ScimUser::new(&stored.id, spec);
            user.metadata.namespace = Some(namespace.to_owned());
            user.metadata.generation = entry.generation;
            users.push(user);
        }
        let mut groups = Vec::new();
        for stored in index.list(Kind::Group, None) {
            let Some(entry) = index.entry(Kind::Group, &stored.id) else {
                continue;
            };
            if !entry.belongs_to(uid, created) {
                leftovers += 1;
                continue;
            }
            let Ok(spec) = convert::group_spec_from_scim(&stored.resource) else {
                continue;
            };
            let mut group = ScimGroup::new(&stored.id, spec);
            group.metadata.namespace = Some(namespace.to_owned());
            group.metadata.generation = entry.generation;
            groups.push(group);
        }
        (users, groups, leftovers)
    })
}

async fn reconcile(tenant: Arc<ScimTenant>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile_tenant(&tenant, &ctx).await;
    tracing::debug!(tenant = %tenant.name_any(), elapsed = ?started.elapsed(), ok = result.is_ok(), "reconciled");
    crate::metrics::global().reconciled(
        result.as_ref().err().map(Error::metric_label),
        started.elapsed(),
    );
    result
}

async fn reconcile_tenant(tenant: &ScimTenant, ctx: &Context) -> Result<Action, Error> {
    if tenant.meta().deletion_timestamp.is_some() {
        // Owned objects go with the tenant (owner references); what the
        // controller remembers of it goes now.
        let name = tenant.name_any();
        ctx.passes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name);
        ctx.pending.take(&name);
        ctx.shards
            .forget_prefixed(&tenant.spec.namespace, &super::directory::main_name(tenant));
        return Ok(Action::await_change());
    }
    if !ctx.store.is_ready() {
        return Err(Error::NotReady);
    }
    // Deletion trusts the stores of owned objects: go on only once they are complete.
    let stores_ready = async {
        let _ = ctx.role_bindings.wait_until_ready().await;
        let _ = ctx.cluster_role_bindings.wait_until_ready().await;
        let _ = ctx.config_maps.wait_until_ready().await;
        let _ = ctx.namespaces.wait_until_ready().await;
    };
    if tokio::time::timeout(Duration::from_secs(30), stores_ready)
        .await
        .is_err()
    {
        return Err(Error::NotReady);
    }
    let name = tenant.name_any();
    let namespace = tenant.spec.namespace.clone();
    if ctx.store.tenants().namespace_of(&name).is_none()
        && ctx
            .store
            .tenants()
            .tenant_of_namespace(&namespace)
            .is_some()
    {
        // Another, older tenant owns the namespace: touch nothing, say why.
        let problem = desired::Problem {
            reason: "NamespaceClaimed",
            message: format!(
                "namespace {namespace} belongs to tenant {}",
                ctx.store
                    .tenants()
                    .tenant_of_namespace(&namespace)
                    .unwrap_or_default()
            ),
        };
        write_tenant_status(ctx, tenant, &[problem], &[], 0, 0).await?;
        return Ok(Action::requeue(RESYNC));
    }
    let outcome = reconcile::changes(tenant, ctx).await?;
    let failures = outcome.applied.failures.clone();
    for change in &outcome.applied.changes {
        let (reason, note) = match change {
            Change::Created(what) => ("Created", format!("created {what}")),
            Change::Updated(what) => {
                // Routine (every membership change updates a binding and a
                // shard): logged, not an Event, which would double the writes.
                tracing::info!(tenant = %name, "updated {what}");
                continue;
            }
            Change::Deleted(what) => ("Deleted", format!("deleted {what}")),
        };
        tracing::info!(tenant = %name, "{note}");
        publish(ctx, tenant, EventType::Normal, reason, note).await;
    }
    for problem in outcome
        .problems
        .iter()
        .chain(outcome.groups.values().flat_map(|g| &g.problems))
    {
        if first_warning(ctx, &name, problem) {
            publish(
                ctx,
                tenant,
                EventType::Warning,
                problem.reason,
                problem.message.clone(),
            )
            .await;
        }
    }

    seed_written(ctx, &namespace).await?;
    // Status of the groups and users looked at, written only when it
    // changed, several at a time.
    let (failed, namespace_ref) = (&failures, namespace.as_str());
    let generations: HashMap<(Kind, String), Option<i64>> =
        ctx.store.cache().read(&namespace, |index| {
            let groups = outcome
                .groups
                .keys()
                .map(|id| ((Kind::Group, id.clone()), index.entry(Kind::Group, id)));
            let users = outcome
                .users
                .keys()
                .map(|id| ((Kind::User, id.clone()), index.entry(Kind::User, id)));
            groups
                .chain(users)
                .map(|(key, entry)| (key, entry.and_then(|e| e.generation)))
                .collect()
        });
    let generation =
        |kind: Kind, id: &str| generations.get(&(kind, id.to_owned())).copied().flatten();
    let mut writes: Vec<BoxFuture<'_, Result<(), Error>>> = Vec::new();
    for (id, group) in &outcome.groups {
        let observed = generation(Kind::Group, id);
        writes.push(Box::pin(async move {
            let message = format!(
                "{} binding(s), {} member(s)",
                group.bindings.len(),
                group.member_count
            );
            let status = json!({
                "memberCount": group.member_count,
                "bindings": group.bindings,
                "observedGeneration": observed,
            });
            write_object_status::<ScimGroup>(
                ctx,
                Kind::Group,
                namespace_ref,
                id,
                status,
                &group.problems,
                failed,
                &message,
            )
            .await
        }));
    }
    for (id, user) in &outcome.users {
        let observed = generation(Kind::User, id);
        writes.push(Box::pin(async move {
            let message = match (&user.subject, user_active(ctx, namespace_ref, id)) {
                (_, false) => "inactive: in no binding".to_owned(),
                (Some(subject), true) => format!("bound as {subject}"),
                (None, true) => "active; bound through the group subject only".to_owned(),
            };
            let status = json!({
                "subject": user.subject,
                "groups": user.groups,
                "observedGeneration": observed,
            });
            write_object_status::<ScimUser>(
                ctx,
                Kind::User,
                namespace_ref,
                id,
                status,
                &user.problems,
                &[],
                &message,
            )
            .await
        }));
    }
    let written = futures::stream::iter(writes)
        .buffer_unordered(STATUS_WRITES)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<(), Error>>();
    if written.is_err() {
        // Which statuses were written is not known: all are checked again.
        ctx.pending.everything(&name);
    }
    written?;
    let mut problems: Vec<desired::Problem> = outcome.problems.clone();
    let leftovers = outcome.leftovers;
    if leftovers > 0 {
        problems.push(desired::Problem {
            reason: "LeftoverDirectory",
            message: format!(
                "{leftovers} ScimUser(s)/ScimGroup(s) in namespace {namespace} were left by an earlier tenant (created for another tenant uid, or before this tenant); they grant nothing. Find them with kubectl get scimusers,scimgroups -n {namespace} -L {} (another uid, or none and created before this tenant) and delete them",
                crate::labels::TENANT_UID_LABEL
            ),
        });
    }
    // Secrets the tenant references that scimitar does not use, and why.
    for (reason, message) in ctx.store.tenants().secret_problems(&name) {
        let problem = desired::Problem { reason, message };
        if first_warning(ctx, &name, &problem) {
            publish(
                ctx,
                tenant,
                EventType::Warning,
                reason,
                problem.message.clone(),
            )
            .await;
        }
        problems.push(problem);
    }
    if outcome.full {
        // Bookkeeping keeps only what exists (checked on full passes).
        let objects: HashSet<(Kind, String)> = outcome
            .users
            .keys()
            .map(|u| (Kind::User, u.clone()))
            .chain(outcome.groups.keys().map(|g| (Kind::Group, g.clone())))
            .collect();
        let all_problems: Vec<&desired::Problem> = problems
            .iter()
            .chain(outcome.groups.values().flat_map(|g| &g.problems))
            .collect();
        forget_gone(ctx, &name, &namespace, &all_problems, &objects);
    }
    write_tenant_status(
        ctx,
        tenant,
        &problems,
        &failures,
        outcome.user_count,
        outcome.group_count,
    )
    .await?;
    if !failures.is_empty() {
        return Err(Error::Apply(failures.join("; ")));
    }
    ctx.failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&name);
    Ok(Action::requeue(RESYNC))
}

/// Whether the user is active, as the cache has it.
fn user_active(ctx: &Context, namespace: &str, id: &str) -> bool {
    ctx.store
        .cache()
        .read(namespace, |index| index.user(id).is_some_and(|u| u.active))
}

/// Warnings are published once per distinct problem, not on every reconcile.
fn first_warning(ctx: &Context, tenant: &str, problem: &desired::Problem) -> bool {
    let key = format!("{tenant}\0{}\0{}", problem.reason, problem.message);
    ctx.warned
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key)
}

/// Forgets the warnings of `tenant` that are no longer problems (so the map
/// holds only current problems, and one that comes back is published again)
/// and the statuses of its objects that no longer exist.
fn forget_gone(
    ctx: &Context,
    tenant: &str,
    namespace: &str,
    problems: &[&desired::Problem],
    objects: &HashSet<(Kind, String)>,
) {
    let current: HashSet<String> = problems
        .iter()
        .map(|p| format!("{tenant}\0{}\0{}", p.reason, p.message))
        .collect();
    prune_warned(
        &mut ctx.warned.lock().unwrap_or_else(|e| e.into_inner()),
        tenant,
        &current,
    );
    prune_written(
        &mut ctx.written.lock().unwrap_or_else(|e| e.into_inner()),
        namespace,
        objects,
    );
}

/// Keeps other tenants' warnings and `tenant`'s `current` ones.
fn prune_warned(warned: &mut HashSet<String>, tenant: &str, current: &HashSet<String>) {
    let prefix = format!("{tenant}\0");
    warned.retain(|key| !key.starts_with(&prefix) || current.contains(key));
}

/// Keeps other namespaces' statuses and those of `objects` in `namespace`.
fn prune_written(
    written: &mut HashMap<(Kind, String, String), Value>,
    namespace: &str,
    objects: &HashSet<(Kind, String)>,
) {
    written.retain(|(kind, ns, id), _| ns != namespace || objects.contains(&(*kind, id.clone())));
}

async fn publish(ctx: &Context, tenant: &ScimTenant, type_: EventType, reason: &str, note: String) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(error) = bounded(ctx.recorder.publish(&event, &tenant.object_ref(&()))).await {
        tracing::debug!(%error, "could not publish an Event");
    }
}

/// Objects listed per page when reading statuses.
const SEED_PAGE: u32 = 500;

/// Reads the statuses the users and groups of `namespace` already have into
/// `written`, once per controller run: a restarted or newly elected
/// controller then writes only the statuses that differ, not one per object
/// (100,000 writes for a tenant of 100,000 users).
async fn seed_written(ctx: &Context, namespace: &str) -> Result<(), Error> {
    let seeded = |ctx: &Context| {
        ctx.seeded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(namespace)
    };
    if seeded(ctx) {
        return Ok(());
    }
    seed_kind::<ScimUser>(ctx, Kind::User, namespace).await?;
    seed_kind::<ScimGroup>(ctx, Kind::Group, namespace).await?;
    ctx.seeded
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(namespace.to_owned());
    Ok(())
}

async fn seed_kind<K>(ctx: &Context, kind: Kind, namespace: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    let mut params = kube::api::ListParams::default().limit(SEED_PAGE);
    loop {
        let page = bounded(api.list(&params)).await.map_err(Error::Status)?;
        {
            let mut written = ctx.written.lock().unwrap_or_else(|e| e.into_inner());
            for object in &page.items {
                let name = object.name_any();
                let status = serde_json::to_value(object)
                    .ok()
                    .and_then(|mut v| v.get_mut("status").map(Value::take));
                if let Some(status) = status {
                    // A status written meanwhile is newer than the listing.
                    written
                        .entry((kind, namespace.to_owned(), name))
                        .or_insert(status);
                }
            }
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(()),
        }
    }
}

/// A status without its conditions and null fields (a merge patch removes
/// fields set to null, so a read-back status lacks them).
fn comparable(status: &Value) -> Value {
    let mut status = status.clone();
    if let Some(fields) = status.as_object_mut() {
        fields.remove("conditions");
        fields.retain(|_, v| !v.is_null());
    }
    status
}

#[allow(clippy::too_many_arguments)]
async fn write_object_status<K>(
    ctx: &Context,
    kind: Kind,
    namespace: &str,
    id: &str,
    mut status: Value,
    problems: &[desired::Problem],
    failures: &[String],
    ready_message: &str,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let key = (kind, namespace.to_owned(), id.to_owned());
    let previous: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> = ctx
        .written
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .and_then(|v| v.get("conditions").cloned())
        .and_then(|c| serde_json::from_value(c).ok())
        .unwrap_or_default();
    // The generation this status describes, on the conditions too.
    let generation = status.get("observedGeneration").and_then(Value::as_i64);
    let conditions = status::conditions(&previous, problems, failures, ready_message, generation);
    if let Some(fields) = status.as_object_mut() {
        fields.insert(
            "conditions".into(),
            serde_json::to_value(&conditions).unwrap_or_default(),
        );
    }
    let unchanged = ctx
        .written
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .is_some_and(|old| {
            comparable(old) == comparable(&status) && status::same(&previous, &conditions)
        });
    if unchanged {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    match bounded(api.patch_status(
        id,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    ))
    .await
    {
        Ok(_) => {}
        // Deleted meanwhile: nothing to report on.
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(error) => return Err(Error::Status(error)),
    }
    ctx.written
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, status);
    Ok(())
}

async fn write_tenant_status(
    ctx: &Context,
    tenant: &ScimTenant,
    problems: &[desired::Problem],
    failures: &[String],
    users: usize,
    groups: usize,
) -> Result<(), Error> {
    let previous = tenant
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let generation = tenant.metadata.generation;
    let message = format!("{users} user(s), {groups} group(s) reconciled");
    let conditions = status::conditions(&previous, problems, failures, &message, generation);
    let counts_same = tenant.status.as_ref().is_some_and(|s| {
        s.scim_base_url == ctx.public_url
            && s.users == users as i64
            && s.groups == groups as i64
            && s.observed_generation == generation
    });
    if counts_same && status::same(&previous, &conditions) {
        return Ok(());
    }
    // Provisioning milestones for `kubectl describe scimtenant`: the directory
    // growing or shrinking, and the tenant becoming Ready.
    let (was_users, was_groups) = tenant
        .status
        .as_ref()
        .map(|s| (s.users, s.groups))
        .unwrap_or_default();
    if (was_users, was_groups) != (users as i64, groups as i64) {
        let note = format!(
            "directory now holds {users} user(s) and {groups} group(s) (was {was_users} and {was_groups})"
        );
        publish(ctx, tenant, EventType::Normal, "Provisioned", note).await;
    }
    let ready = |c: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]| {
        c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
    };
    if ready(&conditions) && !ready(&previous) {
        publish(ctx, tenant, EventType::Normal, "Ready", message.clone()).await;
    }
    let api: Api<ScimTenant> = Api::all(ctx.client.clone());
    let status = json!({"status": {
        "conditions": conditions,
        "users": users,
        "groups": groups,
        "observedGeneration": generation,
        "scimBaseUrl": ctx.public_url,
    }});
    bounded(api.patch_status(
        &tenant.name_any(),
        &PatchParams::default(),
        &Patch::Merge(status),
    ))
    .await
    .map_err(Error::Status)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    #[test]
    fn bookkeeping_keeps_only_what_still_exists() {
        let mut warned: HashSet<String> = ["acme\0R\0old", "acme\0R\0now", "beta\0R\0x"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let current = HashSet::from(["acme\0R\0now".to_owned()]);
        prune_warned(&mut warned, "acme", &current);
        assert_eq!(warned.len(), 2);
        assert!(warned.contains("beta\0R\0x") && warned.contains("acme\0R\0now"));

        let key = |ns: &str, id: &str| (Kind::User, ns.to_owned(), id.to_owned());
        let mut written = HashMap::from([
            (key("acme", "gone"), Value::Null),
            (key("acme", "here"), Value::Null),
            (key("beta", "gone"), Value::Null),
        ]);
        let objects = HashSet::from([(Kind::User, "here".to_owned())]);
        prune_written(&mut written, "acme", &objects);
        assert_eq!(written.len(), 2);
        assert!(written.contains_key(&key("acme", "here")));
        assert!(written.contains_key(&key("beta", "gone")));
    }

    #[test]
    fn a_managed_object_maps_to_its_cluster_scoped_tenant_once() {
        let mut binding = RoleBinding::default();
        binding.metadata.namespace = Some("acme".into());
        binding.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "scimitar.dev/v1alpha1".into(),
            kind: "ScimTenant".into(),
            name: "acme".into(),
            uid: "u".into(),
            ..Default::default()
        }]);
        let tenant =
            ObjectRef::<ScimTenant>::new(&super::super::owned::tenant_of(&binding).expect("owner"));
        // No namespace: the same reference the tenant's own events make.
        assert_eq!(tenant, ObjectRef::<ScimTenant>::new("acme"));
        assert_eq!(tenant.namespace, None);
        binding.metadata.owner_references = None;
        assert!(super::super::owned::tenant_of(&binding).is_none());
    }
}
