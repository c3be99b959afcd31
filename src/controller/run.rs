//! The tenant controller: kube-runtime's `Controller` over `ScimTenant`s.
//!
//! A reconcile is triggered by the tenant itself, by any change to the
//! tenant's users and groups (as the SCIM store's cache sees them, so the
//! reconcile never reads an older view than the one that triggered it), by
//! changes to the bindings and ConfigMaps it owns (drift is repaired), and by
//! namespaces and roles appearing or going.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, future};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::broadcast::error::RecvError;

use super::apply;
use super::bound::{Binding, Bound};
use super::context::{Context, Error};
use super::desired;
use super::facts::Roles;
use super::owned::Owned;
use super::reconcile;
use super::shards::Shards;
use super::work::Pending;
use super::{events, expiry, report};
use crate::crd::ScimTenant;
use crate::meta::{MANAGED_BY, MANAGER, TENANT_UID_LABEL};
use crate::store::kube::KubeStore;

/// Periodic re-check, in case a trigger was missed.
const RESYNC: Duration = Duration::from_secs(300);

/// What the cluster admin decided for the controller.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The SCIM base URL to publish in tenant status.
    pub public_url: Option<String>,
    /// Whether tenants may have derived namespaces created (the chart grants
    /// `create` on namespaces only then).
    pub namespace_creation: bool,
}

/// Runs the controller until the process stops (or the future is dropped,
/// when leadership is lost). Access past a mapping's notAfter is removed
/// first, before any cache is loaded.
pub async fn run(
    client: Client,
    store: Arc<KubeStore>,
    settings: Settings,
    metrics: Arc<crate::metrics::Metrics>,
) {
    expiry::before_start(&client, Duration::from_secs(30)).await;
    let Settings {
        public_url,
        namespace_creation,
    } = settings;
    let managed = crate::kubeclient::watch_config().labels(&format!("{MANAGED_BY}={MANAGER}"));
    let all = crate::kubeclient::watch_config;
    let owned = Arc::new(Owned::default());
    let pending = Arc::new(Pending::default());
    let shards = Arc::new(Shards::default());
    let (rb_reader, role_bindings) = watched_owned(
        summarized(Api::<RoleBinding>::all(client.clone()), managed.clone()),
        owned.clone(),
        pending.clone(),
        |_, _| {},
    );
    let (crb_reader, cluster_role_bindings) = watched_owned(
        summarized(
            Api::<ClusterRoleBinding>::all(client.clone()),
            managed.clone(),
        ),
        owned.clone(),
        pending.clone(),
        |_, _| {},
    );
    let (cm_reader, config_maps) = {
        let shards = shards.clone();
        watched_owned(
            stripped(
                Api::<PartialObjectMeta<ConfigMap>>::all(client.clone()),
                managed,
            ),
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
        warned: events::Warned::default(),
        stores_ready: crate::ready::ReadyGate::default(),
        public_url,
        namespace_creation,
        failures: Mutex::default(),
        failing: apply::Failing::default(),
        owned,
        pending: pending.clone(),
        passes: Mutex::default(),
        metrics,
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

    // The tenants come from the store's watch: one watch of ScimTenants
    // serves the store, the console and the controller.
    let controller = Controller::for_stream(store.tenants().applied(), store.tenants().reader())
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
    let controller = controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            if let Err(error) = result {
                tracing::debug!(%error, "reconcile failed");
            }
            future::ready(())
        });
    tokio::select! {
        () = controller => {}
        () = expiry::sweep_while_leading(client) => {}
    }
}

/// What a watched kind must be for a reflector of it.
trait Watched:
    Resource<DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// A reflector store of objects we own, and the tenants to reconcile when
/// someone else changes them ([`Owned`] absorbs the echo of our writes).
/// The tenant is named without a namespace: the same `ObjectRef` its own
/// events make, so one tenant is never reconciled twice at once. `seen` is
/// told each event and whether it was someone else's change.
fn watched_owned<K>(
    (reader, stream): (Store<K>, impl WatchStream<K>),
    owned: Arc<Owned>,
    pending: Arc<Pending>,
    seen: impl Fn(&watcher::Event<K>, bool) + Send + 'static,
) -> (
    Store<K>,
    impl futures::Stream<Item = ObjectRef<ScimTenant>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    let stream = stream.flat_map(move |event| {
        let touches = match &event {
            Ok(event) => {
                let observed = owned.observe(event);
                seen(event, observed.foreign);
                observed.touches
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
    K: Watched,
{
    let (reader, stream) = stripped(api, config);
    (reader, after_listing(stream))
}

/// The objects a watch applied or deleted, as `touched_objects` gives them,
/// except that those of a listing come when it is done: the reflector's
/// store shows a listing only then, and a reconcile they started at once
/// would read the store without them (a namespace or role created while the
/// watch was down would stay missing).
fn after_listing<K: Send + 'static>(
    events: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static {
    events
        .scan(Vec::new(), |listing, event| {
            let out = match event {
                Ok(watcher::Event::Init) => {
                    listing.clear();
                    Vec::new()
                }
                Ok(watcher::Event::InitApply(object)) => {
                    listing.push(object);
                    Vec::new()
                }
                Ok(watcher::Event::InitDone) => std::mem::take(listing),
                Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object)) => {
                    vec![object]
                }
                Err(error) => return future::ready(Some(vec![Err(error)])),
            };
            future::ready(Some(out.into_iter().map(Ok).collect()))
        })
        .flat_map(futures::stream::iter)
}

/// A reflector store of `api` and its event stream, managedFields stripped:
/// they repeat every field (every subject of a binding) with the manager's
/// name, often the larger half of an object, and are never read.
fn stripped<K>(api: Api<K>, config: watcher::Config) -> (Store<K>, impl WatchStream<K>)
where
    K: Watched,
{
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(api, config).modify(|object| object.managed_fields_mut().clear()),
    )
    .default_backoff();
    (reader, stream)
}

/// A reflector store of the bindings of `api`, each held as a [`Bound`]:
/// its metadata, role and a digest of its subjects.
fn summarized<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (Store<Bound<K>>, impl WatchStream<Bound<K>>)
where
    K: Watched + Binding,
{
    let (reader, writer) = reflector::store();
    let stream =
        reflector(writer, watcher(api, config).map_ok(super::bound::summarize)).default_backoff();
    (reader, stream)
}

/// A watch's events as a reflector passes them on.
trait WatchStream<K>:
    futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
{
}

impl<K, S> WatchStream<K> for S where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
{
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

async fn reconcile(tenant: Arc<ScimTenant>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile_tenant(&tenant, &ctx).await;
    tracing::debug!(tenant = %tenant.name_any(), elapsed = ?started.elapsed(), ok = result.is_ok(), "reconciled");
    ctx.metrics.reconciled(
        result.as_ref().err().map(Error::metric_label),
        started.elapsed(),
    );
    result
}

async fn reconcile_tenant(tenant: &ScimTenant, ctx: &Context) -> Result<Action, Error> {
    let name = tenant.name_any();
    if tenant.meta().deletion_timestamp.is_some() {
        // Owned objects go with the tenant (owner references); what the
        // controller remembers of it goes now.
        forget(ctx, &name);
        ctx.shards
            .forget_prefixed(&tenant.spec.namespace, &super::directory::main_name(tenant));
        return Ok(Action::await_change());
    }
    if !ctx.store.is_ready() {
        return Err(Error::NotReady);
    }
    // Deletion trusts the stores of owned objects: go on only once they are complete.
    let stores_ready = ctx.stores_ready.wait(|| async {
        let _ = ctx.role_bindings.wait_until_ready().await;
        let _ = ctx.cluster_role_bindings.wait_until_ready().await;
        let _ = ctx.config_maps.wait_until_ready().await;
        let _ = ctx.namespaces.wait_until_ready().await;
        ctx.roles.wait_until_ready().await;
    });
    if tokio::time::timeout(Duration::from_secs(30), stores_ready)
        .await
        .is_err()
    {
        return Err(Error::NotReady);
    }
    let namespace = tenant.spec.namespace.clone();
    if let Some(owner) = claimed_by_another(ctx, &name, &namespace) {
        // Another, older tenant owns the namespace: touch nothing, say why.
        let problem = desired::Problem {
            reason: "NamespaceClaimed",
            message: format!("namespace {namespace} belongs to tenant {owner}"),
        };
        report::tenant(ctx, tenant, &[problem], &[], 0, 0).await?;
        return Ok(Action::requeue(RESYNC));
    }

    // Gather, desired and apply: what changed, and only that.
    let outcome = reconcile::changes(tenant, ctx).await?;
    tracing::debug!(tenant = %name, full = outcome.full, users = outcome.users.len(), groups = outcome.groups.len(), "pass computed");
    let failures = outcome.applied.failures.clone();
    let problems = tenant_problems(ctx, &name, &namespace, &outcome);
    let all_problems: Vec<&desired::Problem> = problems
        .iter()
        .chain(outcome.groups.values().flat_map(|g| &g.problems))
        .collect();

    // Events.
    events::changes(ctx, tenant, &outcome.applied.changes).await;
    events::problems(ctx, tenant, &all_problems).await;
    if outcome.full {
        // A full pass saw every problem: the rest are gone.
        ctx.warned.retain(&name, &all_problems);
    }

    // Status.
    let written = report::objects(ctx, tenant, &outcome, &failures).await;
    if written.is_err() {
        // Which statuses were written is not known: all are checked again.
        ctx.pending.everything(&name);
    }
    written?;
    report::tenant(
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
    // Someone else changed what we were writing: look at it again now.
    let late = ctx.owned.take_late(&name);
    if !late.is_empty() {
        for scope in &late {
            ctx.pending.touched(&name, scope);
        }
        return Ok(Action::requeue(Duration::from_millis(50)));
    }
    Ok(Action::requeue(next_check(tenant)))
}

/// When to look at `tenant` again: at the next start or end of one of its
/// mapping windows (a moment after, so the window has turned), or at the
/// periodic re-check.
fn next_check(tenant: &ScimTenant) -> Duration {
    let now = jiff::Timestamp::now();
    desired::mapping::next_change(&tenant.spec.mappings, now)
        .and_then(|next| Duration::try_from(now.duration_until(next)).ok())
        .map_or(RESYNC, |d| (d + Duration::from_millis(50)).min(RESYNC))
}

/// Forgets everything remembered of a deleted tenant.
fn forget(ctx: &Context, name: &str) {
    ctx.passes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(name);
    ctx.pending.take(name);
    ctx.warned.forget(name);
    ctx.failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(name);
}

/// The tenant that owns `namespace`, when it is not `tenant`.
fn claimed_by_another(ctx: &Context, tenant: &str, namespace: &str) -> Option<String> {
    let tenants = ctx.store.tenants();
    if tenants.namespace_of(tenant).is_some() {
        return None;
    }
    tenants.tenant_of_namespace(namespace)
}

/// The tenant's own problems: the spec's, the objects an earlier tenant
/// left, and the Secrets it references that scimitar does not use.
fn tenant_problems(
    ctx: &Context,
    tenant: &str,
    namespace: &str,
    outcome: &reconcile::Outcome,
) -> Vec<desired::Problem> {
    let mut problems = outcome.problems.clone();
    if outcome.leftovers > 0 {
        problems.push(desired::Problem {
            reason: "LeftoverDirectory",
            message: format!(
                "{} ScimUser(s)/ScimGroup(s) in namespace {namespace} were left by an earlier tenant (created for another tenant uid, or before this tenant); they grant nothing. Find them with kubectl get scimusers,scimgroups -n {namespace} -L {} (another uid, or none and created before this tenant) and delete them",
                outcome.leftovers,
                TENANT_UID_LABEL
            ),
        });
    }
    for (reason, message) in ctx.store.tenants().secret_problems(tenant) {
        problems.push(desired::Problem { reason, message });
    }
    problems
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    #[tokio::test]
    async fn a_listing_is_given_out_when_it_is_done() {
        use kube::runtime::watcher::Event;
        let events = futures::stream::iter([
            Ok(Event::Apply(1)),
            Ok(Event::Init),
            Ok(Event::InitApply(2)),
            Ok(Event::InitApply(3)),
            Ok(Event::InitDone),
            Ok(Event::Delete(4)),
        ]);
        let mut out = Box::pin(after_listing(events));
        let mut seen = Vec::new();
        while let Some(Ok(n)) = out.next().await {
            seen.push(n);
        }
        assert_eq!(seen, vec![1, 2, 3, 4]);
        let events = futures::stream::iter([Ok(Event::Init), Ok(Event::InitApply(2))]);
        let listed: Vec<_> = after_listing(events).collect().await;
        assert!(listed.is_empty(), "nothing before the listing is done");
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
