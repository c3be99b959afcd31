//! Makes the cluster match the desired objects: create or update what differs,
//! delete what this tenant made and no longer wants. Each object is handled on
//! its own, so one failure (a namespace being deleted, a refused binding) does
//! not block the others; failures are collected and reported together.
//!
//! Writes are server-side apply with the field manager `scimitar`. An object
//! that already matches is not written at all, so a reconcile writes only what
//! changed. `roleRef` is immutable in the API, so a binding whose role changed
//! is deleted and created again.
//!
//! Failure removes access, it never keeps stale access. A binding whose
//! update the API server refuses for good (too large, invalid, forbidden) is
//! deleted at once; one whose update keeps failing for "not now" reasons
//! (timeouts, 429, 5xx) is retried with backoff, and deleted once it has
//! failed for [`STALE_AFTER`]: its subjects may name people who lost access
//! meanwhile. A short API server blip revokes nothing.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::bound::{Binding, Bound};
use super::owned::{Owned, kind_name};
use crate::meta::{MANAGED_BY, MANAGER, TENANT_LABEL};

/// How long one API call of the controller may take. A call on a connection
/// the API server dropped (it restarted) can otherwise hang for minutes, and
/// every later reconcile of the tenant would queue behind it.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One API call under [`CALL_TIMEOUT`]; running out of time is an error like
/// any other, so the reconcile fails and is retried.
pub async fn with_timeout<T>(
    call: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, kube::Error> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(kube::Error::Service(
                "the API server did not answer in time".into(),
            ))
        })
}

/// Field manager of the controller's writes.
pub const FIELD_MANAGER: &str = "scimitar";

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Created(String),
    Updated(String),
    Deleted(String),
}

/// Outcome of applying one kind.
#[derive(Debug, Default)]
pub struct Applied {
    pub changes: Vec<Change>,
    pub failures: Vec<String>,
    /// The [`Failing`] keys of the objects desired.
    pub wanted: BTreeSet<String>,
}

impl Applied {
    pub fn add(&mut self, other: Applied) {
        self.changes.extend(other.changes);
        self.failures.extend(other.failures);
        self.wanted.extend(other.wanted);
    }
}

/// How long a binding's update may keep failing transiently before the
/// binding is deleted.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// Since when each object's update has been failing transiently. Bounded by
/// the objects desired: an entry goes when its update succeeds, when the
/// object is deleted, or when it is no longer desired.
#[derive(Default)]
pub struct Failing(Mutex<HashMap<String, Instant>>);

impl Failing {
    fn since(&self, key: &str) -> Duration {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key.to_owned())
            .or_insert_with(Instant::now)
            .elapsed()
    }

    fn clear(&self, key: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Forgets the objects of `tenant_label` not in `wanted` (after a pass
    /// over the whole tenant).
    pub fn retain(&self, tenant_label: &str, wanted: &BTreeSet<String>) {
        let prefix = format!("{tenant_label} ");
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key, _| !key.starts_with(&prefix) || wanted.contains(key));
    }

    /// How many objects are failing now.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no object is failing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether the API server refused a write for good: retrying the same write
/// cannot succeed (it is too large, invalid, or forbidden to us).
pub fn is_refusal(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if matches!(s.code, 400 | 403 | 422))
        || crate::store::kube::errors::is_too_large(error)
}

/// A managed kind: a binding, which the controller holds as a [`Bound`].
pub trait Managed:
    Binding + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

impl<K> Managed for K where
    K: Binding + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

/// Whether `existing` carries everything `desired` says: its metadata, role
/// and subjects.
fn matches<K: Managed>(existing: &Bound<K>, desired: &K) -> bool {
    metadata_matches(existing.meta(), desired.meta()) && existing.grants_as(desired)
}

/// `roleRef` is immutable: a changed role means recreate.
fn must_recreate<K: Managed>(existing: &Bound<K>, desired: &K) -> bool {
    existing.role != *desired.role()
}

/// Whether `e` carries the labels, annotations and owners `d` says.
pub fn metadata_matches(e: &ObjectMeta, d: &ObjectMeta) -> bool {
    let contains = |have: &Option<std::collections::BTreeMap<String, String>>,
                    want: &Option<std::collections::BTreeMap<String, String>>| {
        want.iter()
            .flatten()
            .all(|(k, v)| have.as_ref().and_then(|h| h.get(k)) == Some(v))
    };
    contains(&e.labels, &d.labels)
        && contains(&e.annotations, &d.annotations)
        && d.owner_references
            .iter()
            .flatten()
            .all(|o| e.owner_references.iter().flatten().any(|x| x.uid == o.uid))
}

fn api_for<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = ()>,
    K::Scope: ApiScope,
{
    K::Scope::api(client.clone(), namespace)
}

/// Builds an `Api` for namespaced or cluster-scoped kinds alike.
pub trait ApiScope {
    fn api<K: Resource<DynamicType = (), Scope = Self>>(
        client: Client,
        namespace: Option<&str>,
    ) -> Api<K>;
}

impl ApiScope for NamespaceResourceScope {
    fn api<K: Resource<DynamicType = (), Scope = Self>>(
        client: Client,
        namespace: Option<&str>,
    ) -> Api<K> {
        Api::namespaced(client, namespace.unwrap_or("default"))
    }
}

impl ApiScope for k8s_openapi::ClusterResourceScope {
    fn api<K: Resource<DynamicType = (), Scope = Self>>(
        client: Client,
        _namespace: Option<&str>,
    ) -> Api<K> {
        Api::all(client)
    }
}

pub fn describe<K: Resource<DynamicType = ()>>(object: &K) -> String {
    match object.meta().namespace.as_deref() {
        Some(ns) => format!("{} {ns}/{}", K::kind(&()), object.name_any()),
        None => format!("{} {}", K::kind(&()), object.name_any()),
    }
}

/// A delete of exactly `object`: not of another object created meanwhile
/// under the same name.
pub fn only_this<K: Resource>(object: &K) -> DeleteParams {
    DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: object.meta().uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    }
}

/// Deletes a binding that could not be brought up to date, so it grants
/// nothing stale; records why.
async fn strip<K>(api: &Api<K>, current: &Bound<K>, key: &str, applied: &mut Applied)
where
    K: Managed,
{
    match with_timeout(api.delete(&current.name_any(), &only_this(current))).await {
        Ok(_) => {
            tracing::warn!(object = %key, "could not update it; deleted it so it grants nothing stale");
            applied.changes.push(Change::Deleted(format!(
                "{key} (it could not be updated, so it was deleted rather than left with stale subjects)"
            )));
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(error) => applied.failures.push(format!(
            "deleting {key}, which could not be updated: {error}"
        )),
    }
}

/// The objects of one kind labelled as ours and as `tenant_label`'s.
pub fn tenant_objects<K>(existing: &Store<K>, tenant_label: &str) -> Vec<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    existing
        .state()
        .into_iter()
        .filter(|object| {
            let labels = object.labels();
            labels.get(MANAGED_BY).map(String::as_str) == Some(MANAGER)
                && labels.get(TENANT_LABEL).map(String::as_str) == Some(tenant_label)
        })
        .collect()
}

/// Applies `desired` objects of one kind, and deletes the objects of
/// `scope` (what the desired objects replace: one group's bindings, or
/// everything of the tenant) that are not desired. Deletion trusts `scope`
/// only because it comes from a complete, synced view and `desired` from
/// the complete SCIM directory. Our writes are recorded in `owned`, so their
/// watch events trigger nothing.
pub async fn apply<K>(
    client: &Client,
    existing: &Store<Bound<K>>,
    desired: &[K],
    scope: Vec<Arc<Bound<K>>>,
    tenant_label: &str,
    failing: &Failing,
    owned: &Owned,
) -> Applied
where
    K: Managed,
    K::Scope: ApiScope,
{
    let mut applied = Applied::default();
    let mut wanted = BTreeSet::new();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for object in desired {
        let name = object.name_any();
        let namespace = object.meta().namespace.clone();
        wanted.insert((namespace.clone(), name.clone()));
        let key = describe(object);
        let failing_key = format!("{tenant_label} {key}");
        applied.wanted.insert(failing_key.clone());
        let mut reference = ObjectRef::<Bound<K>>::new(&name);
        if let Some(ns) = &namespace {
            reference = reference.within(ns);
        }
        let current = existing.get(&reference);
        if let Some(current) = &current
            && matches(current, object)
        {
            failing.clear(&failing_key);
            continue;
        }
        let api: Api<K> = api_for(client, namespace.as_deref());
        let owned_key = (kind_name::<K>(), namespace.clone(), name.clone());
        if let Some(current) = &current
            && must_recreate(current, object)
        {
            owned.deleted(owned_key.clone());
            if let Err(error) = with_timeout(api.delete(&name, &DeleteParams::default())).await {
                applied.failures.push(format!(
                    "deleting {} to change its role: {error}",
                    describe(object)
                ));
                continue;
            }
        }
        owned.writing(owned_key.clone());
        match with_timeout(api.patch(&name, &params, &Patch::Apply(object))).await {
            Ok(written) => {
                owned.wrote(owned_key, written.meta().resource_version.clone());
                failing.clear(&failing_key);
                applied.changes.push(match current {
                    Some(_) => Change::Updated(key),
                    None => Change::Created(key),
                });
            }
            Err(error) => {
                owned.failed(&owned_key);
                let refused = is_refusal(&error);
                let stale = !refused && failing.since(&failing_key) >= STALE_AFTER;
                applied.failures.push(format!("applying {key}: {error}"));
                if let Some(current) = current.filter(|_| refused || stale) {
                    owned.deleted(owned_key);
                    strip(&api, &current, &key, &mut applied).await;
                }
            }
        }
    }
    for object in scope {
        let key = (object.meta().namespace.clone(), object.name_any());
        if wanted.contains(&key) || object.meta().deletion_timestamp.is_some() {
            continue;
        }
        let api: Api<K> = api_for(client, key.0.as_deref());
        owned.deleted((kind_name::<K>(), key.0.clone(), key.1.clone()));
        match with_timeout(api.delete(&key.1, &only_this(object.as_ref()))).await {
            Ok(_) => {
                failing.clear(&format!("{tenant_label} {}", describe(object.as_ref())));
                applied
                    .changes
                    .push(Change::Deleted(describe(object.as_ref())));
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => applied
                .failures
                .push(format!("deleting {}: {error}", describe(object.as_ref()))),
        }
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, "")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn refusals_for_good_are_told_from_not_now() {
        for code in [400, 403, 413, 422] {
            assert!(is_refusal(&api(code, "no")), "{code}");
        }
        assert!(is_refusal(&api(500, "etcdserver: request is too large")));
        for code in [409, 429, 500, 503, 504] {
            assert!(!is_refusal(&api(code, "later")), "{code}");
        }
        assert!(!is_refusal(&kube::Error::Service("timeout".into())));
    }

    #[test]
    fn failing_objects_are_timed_from_their_first_failure_and_forgotten() {
        let failing = Failing::default();
        assert!(failing.since("acme RoleBinding a/x") < STALE_AFTER);
        assert_eq!(failing.len(), 1);
        // Another tenant's failure survives this tenant's bookkeeping.
        failing.since("beta RoleBinding a/y");
        failing.retain("acme", &BTreeSet::new());
        assert_eq!(failing.len(), 1);
        failing.clear("beta RoleBinding a/y");
        assert!(failing.is_empty());
    }
}
