//! The Kubernetes-backed [`Store`]: SCIM Users and Groups as `ScimUser` and
//! `ScimGroup` objects in the tenant's namespace, named by their SCIM id.
//!
//! - Reads come from a watch-fed [`cache`] with indexes; this process's writes
//!   enter it at once, so a GET after a write sees the write.
//! - userName uniqueness is enforced by the API server through [`anchor`]s:
//!   a user create is two writes, the anchor's claim and the `ScimUser`. The
//!   user watch releases the anchors of users deleted by any means.
//! - Updates are read-modify-write against the object's resourceVersion:
//!   writers in this process queue on a per-object lock, and a conflict with
//!   another replica re-reads and re-runs the update (bounded).
//! - API server trouble is `Unavailable` (503 + Retry-After): nothing is
//!   acknowledged that the API server did not store.

pub mod anchor;
pub mod cache;
pub mod convert;
pub mod errors;
pub mod secrets;
pub mod tenants;
pub mod token_secrets;
pub mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions};
use kube::core::DeserializeGuard;
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::Value;

use self::cache::{Cache, Incoming};
use self::errors::{is_conflict, is_not_found, timed_out, to_store_error, unavailable};
use self::tenants::Tenants;
use super::index::{Entry, fold, remove_member};
use super::{Kind, Listed, Store, StoreError, Stored, UpdateFn, check_if_match, stamp};
use crate::crd::{ScimGroup, ScimGroupStatus, ScimUser, ScimUserStatus};
use crate::meta::{LAST_MODIFIED, MANAGED_BY, MANAGER, TENANT_UID_LABEL};
use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::list::Window;

/// Field manager for the store's writes.
pub const FIELD_MANAGER: &str = "scimitar-scim";

/// How often a read-modify-write is re-run after losing a race to another replica.
const MAX_ATTEMPTS: u32 = 30;
/// Lists over at least this many resources run on the blocking pool.
const BLOCKING_LIST_FROM: usize = 1000;

/// How long one API call may take before SCIM answers 503.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One object: namespace, kind, name.
type LockKey = (String, Kind, String);

/// SCIM storage on the Kubernetes API server.
pub struct KubeStore {
    client: Client,
    tenants: Arc<Tenants>,
    cache: Arc<Cache>,
    locks: Mutex<HashMap<LockKey, Weak<tokio::sync::Mutex<()>>>>,
    releases: Arc<anchor::Releases>,
}

impl KubeStore {
    /// A store over `client`; call [`KubeStore::run`] to feed its cache.
    pub fn new(client: Client, tenants: Arc<Tenants>) -> Self {
        Self {
            releases: Arc::new(anchor::Releases::new(client.clone())),
            client,
            tenants,
            cache: Arc::default(),
            locks: Mutex::default(),
        }
    }

    /// The read cache (the controller reads users and groups from it too).
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// The tenants served.
    pub fn tenants(&self) -> &Arc<Tenants> {
        &self.tenants
    }

    /// Whether the cache holds a complete view and tenants are known.
    pub fn is_ready(&self) -> bool {
        self.cache.is_synced() && self.tenants.is_synced()
    }

    /// Feeds the cache from watches on every `ScimUser` and `ScimGroup`, and
    /// the tenant directory from `ScimTenant`s; a user the watch sees deleted
    /// gives up its userName anchor. Runs for the life of the process.
    pub async fn run(self: Arc<Self>) {
        let releases = self.releases.clone();
        let users = watch::<ScimUser>(
            self.client.clone(),
            self.cache.clone(),
            Kind::User,
            user_entry,
            move |u| releases.user_deleted(u),
        );
        let groups = watch::<ScimGroup>(
            self.client.clone(),
            self.cache.clone(),
            Kind::Group,
            group_entry,
            |_| {},
        );
        let tenants = self.tenants.clone().run(self.client.clone());
        tokio::join!(users, groups, tenants, self.releases.run());
    }

    fn namespace(&self, tenant: &str) -> Result<String, StoreError> {
        if !self.is_ready() {
            return Err(unavailable("the directory cache is still loading".into()));
        }
        self.tenants.namespace_of(tenant).ok_or_else(|| {
            StoreError::Internal(format!(
                "tenant {tenant} has no namespace of its own (another tenant claims it)"
            ))
        })
    }

    fn users(&self, namespace: &str) -> Api<ScimUser> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn groups(&self, namespace: &str) -> Api<ScimGroup> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn leases(&self, namespace: &str) -> Api<Lease> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Serialises this process's writers of one object, so that they do not
    /// spend their retries on each other.
    async fn lock(
        &self,
        namespace: &str,
        kind: Kind,
        id: &str,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.retain(|_, weak| weak.strong_count() > 0);
            let key = (namespace.to_owned(), kind, id.to_owned());
            match locks.get(&key).and_then(Weak::upgrade) {
                Some(mutex) => mutex,
                None => {
                    let mutex = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key, Arc::downgrade(&mutex));
                    mutex
                }
            }
        };
        mutex.lock_owned().await
    }

    /// The current resource: from the cache, else from the API server.
    async fn current(&self, namespace: &str, kind: Kind, id: &str) -> Result<Stored, StoreError> {
        if let Some(stored) = self.cache.read(namespace, |i| i.get(kind, id)) {
            return Ok(stored);
        }
        self.fetch(namespace, kind, id).await
    }

    /// Reads one object from the API server and records it in the cache.
    async fn fetch(&self, namespace: &str, kind: Kind, id: &str) -> Result<Stored, StoreError> {
        let what = format!("{} {id}", kind.name());
        let incoming = match kind {
            Kind::User => call(&what, self.users(namespace).get_opt(id))
                .await?
                .and_then(|u| user_entry(&u)),
            Kind::Group => call(&what, self.groups(namespace).get_opt(id))
                .await?
                .and_then(|g| group_entry(&g)),
        };
        let incoming = incoming.ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        self.cache.upsert(kind, incoming);
        self.cache
            .read(namespace, |i| i.get(kind, id))
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))
    }

    /// Records an object the API server returned and renders it.
    fn remember(&self, kind: Kind, incoming: Incoming) -> Result<Stored, StoreError> {
        let namespace = incoming.namespace.clone();
        let id = incoming.id.clone();
        let rendered = incoming.entry.clone();
        self.cache.upsert(kind, incoming);
        Ok(self
            .cache
            .read(&namespace, |i| i.get(kind, &id))
            .unwrap_or(Stored {
                id,
                version: crate::store::scim_version(&rendered.version, rendered.generation),
                revision: rendered.version,
                resource: rendered.resource,
            }))
    }

    async fn create_user(
        &self,
        namespace: &str,
        tenant_uid: Option<String>,
        resource: Value,
    ) -> Result<Stored, StoreError> {
        let spec = convert::user_spec_from_scim(&resource).map_err(rejected)?;
        if let Some(owner) = self.cache.read(namespace, |i| {
            i.user_named(&spec.user_name).map(str::to_owned)
        }) {
            tracing::debug!(%owner, "userName taken (cache)");
            return Err(taken(&spec.user_name));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let leases = self.leases(namespace);
        let users = self.users(namespace);
        let claimed = calls_within_timeout(
            "the userName anchor",
            anchor::claim(&leases, &users, &spec.user_name, &id),
        )
        .await;
        if let Err(error) = claimed {
            if matches!(error, StoreError::Unavailable { .. }) {
                // The claim may have been stored before the connection broke.
                settle_later(leases, users, spec.user_name, id);
            }
            return Err(error);
        }
        let user = ScimUser {
            metadata: new_meta(&id, namespace, tenant_uid.as_deref()),
            spec,
            status: None,
        };
        let created =
            match tokio::time::timeout(CALL_TIMEOUT, users.create(&PostParams::default(), &user))
                .await
            {
                Ok(Ok(created)) => created,
                Ok(Err(error)) => {
                    if matches!(error, kube::Error::Api(_)) {
                        // A definite refusal: nothing was stored, so the name is free again.
                        anchor::release(&leases, &user.spec.user_name, &id).await;
                    } else {
                        settle_later(leases, users, user.spec.user_name.clone(), id);
                    }
                    return Err(to_store_error(error, "the user"));
                }
                Err(_) => {
                    settle_later(leases, users, user.spec.user_name.clone(), id);
                    return Err(timed_out("creating the user"));
                }
            };
        let incoming = user_entry(&created)
            .ok_or_else(|| StoreError::Internal("created user has no name".into()))?;
        self.remember(Kind::User, incoming)
    }

    async fn create_group(
        &self,
        namespace: &str,
        tenant_uid: Option<String>,
        resource: Value,
    ) -> Result<Stored, StoreError> {
        let spec = convert::group_spec_from_scim(&resource).map_err(rejected)?;
        let id = uuid::Uuid::new_v4().to_string();
        let group = ScimGroup {
            metadata: new_meta(&id, namespace, tenant_uid.as_deref()),
            spec,
            status: None,
        };
        let created = call(
            "the group",
            self.groups(namespace)
                .create(&PostParams::default(), &group),
        )
        .await?;
        let incoming = group_entry(&created)
            .ok_or_else(|| StoreError::Internal("created group has no name".into()))?;
        self.remember(Kind::Group, incoming)
    }

    /// Writes a new spec against `version`; `Ok(None)` on a version conflict.
    async fn write(
        &self,
        namespace: &str,
        kind: Kind,
        id: &str,
        version: &str,
        new: &Value,
    ) -> Result<Option<Incoming>, StoreError> {
        let spec = match kind {
            Kind::User => {
                serde_json::to_value(convert::user_spec_from_scim(new).map_err(rejected)?)
            }
            Kind::Group => {
                serde_json::to_value(convert::group_spec_from_scim(new).map_err(rejected)?)
            }
        }
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        // The resourceVersion in the patch makes the API server refuse it
        // (409) if the object changed since we read it. Annotations exist on
        // every object the store created; see `write_patch` for the others.
        let patch = write_patch(version, spec);
        let params = PatchParams::default();
        let what = format!("{} {id}", kind.name());
        let result = match kind {
            Kind::User => tokio::time::timeout(
                CALL_TIMEOUT,
                self.users(namespace).patch(id, &params, &patch),
            )
            .await
            .map(|r| r.map(|u| user_entry(&u))),
            Kind::Group => tokio::time::timeout(
                CALL_TIMEOUT,
                self.groups(namespace).patch(id, &params, &patch),
            )
            .await
            .map(|r| r.map(|g| group_entry(&g))),
        };
        match result {
            Err(_) => Err(timed_out(&what)),
            Ok(Err(error)) if is_conflict(&error) => Ok(None),
            Ok(Err(error)) => Err(to_store_error(error, &what)),
            Ok(Ok(incoming)) => incoming
                .map(Some)
                .ok_or_else(|| StoreError::Internal(format!("{what} came back without a name"))),
        }
    }
}

/// A random pause before retry `attempt` of a lost write race: up to 5 ms
/// doubling per attempt, at most 200 ms.
fn backoff(attempt: u32) -> Duration {
    let cap = 5u64.saturating_mul(1 << attempt.min(6)).min(200);
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    Duration::from_millis(random % (cap + 1))
}

/// After a create whose outcome is unknown (the connection broke, the call
/// timed out), the userName claim must not be dropped blindly: the user may
/// exist. Once the API server answers, the claim is released if the user was
/// not created, and kept if it was, so the IdP's retry gets a clean answer
/// instead of a 409 for a user nobody can find.
fn settle_later(leases: Api<Lease>, users: Api<ScimUser>, user_name: String, id: String) {
    tokio::spawn(async move {
        for _ in 0..120 {
            match tokio::time::timeout(CALL_TIMEOUT, users.get_opt(&id)).await {
                Ok(Ok(None)) => return anchor::release(&leases, &user_name, &id).await,
                Ok(Ok(Some(_))) => return,
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    });
}

/// The JSON Patch for a write: replace the spec against `version` and stamp
/// the last-modified time. `add` on `/metadata/annotations/<key>` replaces only
/// that key; it needs the annotations map, which the store creates with
/// every object (the `test`-free form keeps the patch a single round trip).
fn write_patch(version: &str, spec: Value) -> Patch<()> {
    let key = LAST_MODIFIED.replace('~', "~0").replace('/', "~1");
    let ops = vec![
        op_replace(
            "/metadata/resourceVersion",
            Value::String(version.to_owned()),
        ),
        op_replace("/spec", spec),
        json_patch::PatchOperation::Add(json_patch::AddOperation {
            path: pointer(&format!("/metadata/annotations/{key}")),
            value: Value::String(now()),
        }),
    ];
    Patch::Json(json_patch::Patch(ops))
}

fn pointer(path: &str) -> json_patch::jsonptr::PointerBuf {
    json_patch::jsonptr::PointerBuf::parse(path).unwrap_or_default()
}

fn op_replace(path: &str, value: Value) -> json_patch::PatchOperation {
    json_patch::PatchOperation::Replace(json_patch::ReplaceOperation {
        path: pointer(path),
        value,
    })
}

/// Metadata of a new ScimUser or ScimGroup: ours, and the tenant's it is
/// (its uid), so a tenant created later for the same namespace does not
/// take it for its own.
fn new_meta(id: &str, namespace: &str, tenant_uid: Option<&str>) -> ObjectMeta {
    let mut labels = BTreeMap::from([(MANAGED_BY.to_owned(), MANAGER.to_owned())]);
    if let Some(uid) = tenant_uid {
        labels.insert(TENANT_UID_LABEL.to_owned(), uid.to_owned());
    }
    ObjectMeta {
        name: Some(id.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(labels),
        annotations: Some(BTreeMap::from([(LAST_MODIFIED.to_owned(), now())])),
        ..Default::default()
    }
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn rejected(error: convert::ConvertError) -> StoreError {
    StoreError::Rejected(ScimError::invalid_value(error.to_string()))
}

fn taken(user_name: &str) -> StoreError {
    StoreError::Uniqueness(format!("A user with userName {user_name:?} already exists"))
}

/// One API call under [`CALL_TIMEOUT`].
async fn call<T>(
    what: &str,
    future: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(CALL_TIMEOUT, future).await {
        Ok(result) => result.map_err(|e| to_store_error(e, what)),
        Err(_) => Err(timed_out(what)),
    }
}

/// Several API calls that together get twice [`CALL_TIMEOUT`].
async fn calls_within_timeout<T>(
    what: &str,
    future: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(CALL_TIMEOUT * 2, future)
        .await
        .unwrap_or_else(|_| Err(timed_out(what)))
}

/// Metadata common to both kinds, as SCIM `meta` wants it.
fn times(meta: &ObjectMeta) -> (String, String) {
    let created = meta
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_else(now);
    let modified = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(LAST_MODIFIED))
        .cloned()
        .unwrap_or_else(|| created.clone());
    (created, modified)
}

fn entry_of<K: Resource>(
    object: &K,
    kind: Kind,
    resource: Value,
    status: Option<crate::crd::StatusSeen>,
) -> Option<Incoming> {
    let meta = object.meta();
    let id = meta.name.clone()?;
    let version = meta.resource_version.clone().unwrap_or_default();
    let (created, modified) = times(meta);
    Some(Incoming {
        namespace: meta.namespace.clone()?,
        entry: Entry {
            resource: stamp(
                kind,
                &id,
                resource,
                &created,
                &modified,
                &crate::store::scim_version(&version, meta.generation),
            ),
            version,
            generation: meta.generation,
            tenant_uid: meta
                .labels
                .as_ref()
                .and_then(|l| l.get(TENANT_UID_LABEL))
                .cloned(),
            status,
        },
        id,
    })
}

/// A `ScimUser` as the cache keeps it.
pub fn user_entry(user: &ScimUser) -> Option<Incoming> {
    let status = user.status.as_ref().map(ScimUserStatus::seen);
    entry_of(user, Kind::User, convert::user_to_scim(&user.spec), status)
}

/// A `ScimGroup` as the cache keeps it.
pub fn group_entry(group: &ScimGroup) -> Option<Incoming> {
    let status = group.status.as_ref().map(ScimGroupStatus::seen);
    entry_of(
        group,
        Kind::Group,
        convert::group_to_scim(&group.spec),
        status,
    )
}

/// Feeds `cache` with every object of one kind, and tells `deleted` of every
/// delete (it must not block). Objects that do not deserialise (hand-edited
/// past the schema) are logged and skipped, so one bad object cannot stop
/// the watch.
async fn watch<K>(
    client: Client,
    cache: Arc<Cache>,
    kind: Kind,
    to_entry: fn(&K) -> Option<Incoming>,
    deleted: impl Fn(&K),
) where
    K: Resource<DynamicType = ()>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<DeserializeGuard<K>> = Api::all(client);
    let mut events = watcher(api, crate::kubeclient::watch_config())
        .default_backoff()
        .boxed();
    let valid = |guard: DeserializeGuard<K>| match guard.0 {
        Ok(object) => Some(object),
        Err(invalid) => {
            tracing::warn!(
                kind = kind.name(),
                name = invalid.metadata.name.as_deref().unwrap_or_default(),
                namespace = invalid.metadata.namespace.as_deref().unwrap_or_default(),
                error = %invalid.error,
                "skipping an object that does not match its schema"
            );
            None
        }
    };
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => cache.relist_started(kind),
            Ok(Event::InitApply(object)) => {
                if let Some(incoming) = valid(object).as_ref().and_then(to_entry) {
                    cache.relisted(kind, incoming);
                }
            }
            Ok(Event::InitDone) => cache.relist_done(kind),
            Ok(Event::Apply(object)) => {
                if let Some(incoming) = valid(object).as_ref().and_then(to_entry) {
                    cache.upsert(kind, incoming);
                }
            }
            Ok(Event::Delete(object)) => {
                let meta = match &object.0 {
                    Ok(o) => o.meta().clone(),
                    Err(invalid) => invalid.metadata.clone(),
                };
                if let (Some(namespace), Some(name)) = (meta.namespace, meta.name) {
                    cache.watched_delete(kind, &namespace, &name);
                }
                if let Ok(object) = &object.0 {
                    deleted(object);
                }
            }
            Err(error) => tracing::warn!(kind = kind.name(), %error, "watch error; retrying"),
        }
    }
}

impl Store for KubeStore {
    async fn create(
        &self,
        tenant: &str,
        kind: Kind,
        resource: Value,
    ) -> Result<Stored, StoreError> {
        let namespace = self.namespace(tenant)?;
        let uid = self.tenants.identity_of(tenant).and_then(|(uid, _)| uid);
        match kind {
            Kind::User => self.create_user(&namespace, uid, resource).await,
            Kind::Group => self.create_group(&namespace, uid, resource).await,
        }
    }

    async fn get(&self, tenant: &str, kind: Kind, id: &str) -> Result<Stored, StoreError> {
        let namespace = self.namespace(tenant)?;
        self.current(&namespace, kind, id).await
    }

    async fn update(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        update: &UpdateFn<'_>,
    ) -> Result<Stored, StoreError> {
        let namespace = self.namespace(tenant)?;
        let _serialised = self.lock(&namespace, kind, id).await;
        let mut current = self.current(&namespace, kind, id).await?;
        for attempt in 0..MAX_ATTEMPTS {
            check_if_match(if_match, id, &current.version)?;
            let new = update(&current)?;
            let old_name = current
                .resource
                .get("userName")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let new_name = new
                .get("userName")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let renamed = match (&old_name, &new_name) {
                (Some(old), Some(new)) => fold(old) != fold(new),
                _ => false,
            };
            if kind == Kind::User
                && renamed
                && let Some(name) = &new_name
            {
                if self.cache.read(&namespace, |i| {
                    i.user_named(name).is_some_and(|owner| owner != id)
                }) {
                    return Err(taken(name));
                }
                let leases = self.leases(&namespace);
                calls_within_timeout(
                    "the userName anchor",
                    anchor::claim(&leases, &self.users(&namespace), name, id),
                )
                .await?;
            }
            match self
                .write(&namespace, kind, id, &current.revision, &new)
                .await
            {
                Ok(Some(incoming)) => {
                    if renamed && let Some(old) = &old_name {
                        anchor::release(&self.leases(&namespace), old, id).await;
                    }
                    return self.remember(kind, incoming);
                }
                Ok(None) => {
                    if kind == Kind::User
                        && renamed
                        && let Some(name) = &new_name
                    {
                        anchor::release(&self.leases(&namespace), name, id).await;
                    }
                    // Another replica won; back off a random while, growing,
                    // so two replicas' queues of writers do not starve one.
                    tokio::time::sleep(backoff(attempt)).await;
                    current = self.fetch(&namespace, kind, id).await?;
                }
                Err(error) => {
                    if kind == Kind::User
                        && renamed
                        && let Some(name) = &new_name
                        && !matches!(error, StoreError::Unavailable { .. })
                    {
                        anchor::release(&self.leases(&namespace), name, id).await;
                    }
                    return Err(error);
                }
            }
        }
        Err(unavailable(format!(
            "{} {id} kept changing; gave up after {MAX_ATTEMPTS} attempts",
            kind.name()
        )))
    }

    async fn delete(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        let namespace = self.namespace(tenant)?;
        let groups = {
            let _serialised = self.lock(&namespace, kind, id).await;
            let current = self.current(&namespace, kind, id).await?;
            check_if_match(if_match, id, &current.version)?;
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: if_match
                        .filter(|m| *m != "*")
                        .map(|_| current.revision.clone()),
                    uid: None,
                }),
                ..Default::default()
            };
            let what = format!("{} {id}", kind.name());
            // The deleted object as the API server returns it: its
            // resourceVersion is at least that of any write before the
            // delete (a status write may have landed since our read), so
            // the tombstone refuses every event from before it.
            let deleted_at = |meta: Option<&ObjectMeta>| {
                meta.and_then(|m| m.resource_version.clone())
                    .filter(|v| cache::revision(v) > cache::revision(&current.revision))
                    .unwrap_or_else(|| current.revision.clone())
            };
            let result = match kind {
                Kind::User => {
                    tokio::time::timeout(CALL_TIMEOUT, self.users(&namespace).delete(id, &params))
                        .await
                        .map(|r| r.map(|e| deleted_at(e.left().as_ref().map(|u| &u.metadata))))
                }
                Kind::Group => {
                    tokio::time::timeout(CALL_TIMEOUT, self.groups(&namespace).delete(id, &params))
                        .await
                        .map(|r| r.map(|e| deleted_at(e.left().as_ref().map(|g| &g.metadata))))
                }
            };
            let deleted_at = match result {
                Err(_) => return Err(timed_out(&what)),
                Ok(Err(error)) if is_not_found(&error) => {
                    self.cache
                        .remove(kind, &namespace, id, Some(&current.revision));
                    return Err(StoreError::NotFound(id.to_owned()));
                }
                Ok(Err(error)) if is_conflict(&error) => {
                    return Err(StoreError::PreconditionFailed(id.to_owned()));
                }
                Ok(Err(error)) => return Err(to_store_error(error, &what)),
                Ok(Ok(deleted_at)) => deleted_at,
            };
            let groups = self.cache.read(&namespace, |i| i.groups_of(id));
            self.cache.remove(kind, &namespace, id, Some(&deleted_at));
            if kind == Kind::User
                && let Some(name) = current.resource.get("userName").and_then(Value::as_str)
            {
                anchor::release(&self.leases(&namespace), name, id).await;
            }
            groups
        };
        // A deleted user or group (nested groups) leaves every group it
        // was in. It is already gone (the controller ignores dangling
        // members), so a failure here only leaves a member SCIM will
        // list until the IdP removes it.
        for group in groups.into_iter().filter(|g| g != id) {
            let leave = |current: &Stored| {
                let mut resource = current.resource.clone();
                remove_member(&mut resource, id);
                Ok(resource)
            };
            if let Err(error) = self.update(tenant, Kind::Group, &group, None, &leave).await {
                tracing::warn!(%group, member = %id, %error, "could not remove a deleted member from a group");
            }
        }
        Ok(())
    }

    async fn list(
        &self,
        tenant: &str,
        kind: Kind,
        filter: Option<&Filter>,
        window: &Window,
    ) -> Result<Listed, StoreError> {
        let namespace = self.namespace(tenant)?;
        // A list over many resources is CPU work of many milliseconds: off
        // the async workers, so other tenants' requests and the probes go
        // on. One the indexes narrow to a few (`userName eq`, what IdPs
        // send), or a page of an unfiltered, unsorted list, is answered
        // here: a thread hand-off would cost more.
        let cheap = self.cache.read(&namespace, |i| {
            (i.list_cost(kind, filter, window) < BLOCKING_LIST_FROM)
                .then(|| i.select(kind, filter, window))
        });
        if let Some(listed) = cheap {
            return Ok(listed);
        }
        let (cache, filter, window) = (self.cache.clone(), filter.cloned(), window.clone());
        tokio::task::spawn_blocking(move || {
            cache.read(&namespace, |i| i.select(kind, filter.as_ref(), &window))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("listing: {e}")))
    }
}
