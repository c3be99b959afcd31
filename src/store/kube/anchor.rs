//! userName uniqueness that the API server enforces.
//!
//! Each user's userName is claimed by a `Lease` in the tenant namespace whose
//! name is derived from the case-folded userName, and whose holder is the
//! user's id. Creating an object under a taken name fails atomically in the
//! API server, so two concurrent POSTs of `Babs` and `babs`, through any
//! number of operator replicas, cannot both succeed. A check-then-create
//! against a cache could.
//!
//! A create is two writes: the claim, then the `ScimUser`. The claim comes
//! first so that no user is ever visible under a name it has not won. The
//! anchor carries no owner reference (setting one would be a third write,
//! since the user's uid exists only once the user does), so an anchor is
//! freed in these ways:
//!
//! - a SCIM DELETE or rename releases it (conditionally, see [`release`]);
//! - every replica's watch of `ScimUser`s sees a user deleted by any means
//!   (`kubectl delete`, a crash after the API server stored a SCIM DELETE)
//!   and releases the anchor that user held ([`Releases`], in the
//!   background);
//! - anything left over (a crash between the two writes, a delete missed
//!   while no watch ran or beyond the release queue) is stale and reclaimed
//!   by the next claim of the name:
//!   its holder no longer exists or no longer has that userName, and the
//!   anchor is older than [`IN_FLIGHT`], which covers a concurrent create
//!   still between its two writes.
//!
//! Every delete of an anchor is conditional on the exact version that was
//! read (uid and resourceVersion), so a claim that a new user made meanwhile
//! is never removed. Anchors written by older versions carry an owner
//! reference to their user; Kubernetes garbage-collects those as before, and
//! everything above applies to them unchanged.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{DeleteParams, ObjectMeta, PostParams, Preconditions};
use kube::{Api, Client};
use tokio::sync::{Semaphore, mpsc};

use super::errors::{is_already_exists, is_not_found, status_of, to_store_error};
use crate::crd::ScimUser;
use crate::meta::{ANCHOR_LABEL, MANAGED_BY, MANAGER, hex, sha256};
use crate::store::StoreError;
use crate::store::index::fold;

/// How young an anchor without a user may be before it counts as stale.
pub const IN_FLIGHT: Duration = Duration::from_secs(30);

/// How many anchors of deleted users one replica releases at a time.
const RELEASES_AT_ONCE: usize = 8;

/// How many deleted users' anchors may wait to be released.
const RELEASES_QUEUED: usize = 4096;

/// How long releasing one deleted user's anchor may take.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

/// The anchor's object name for a userName.
pub fn anchor_name(user_name: &str) -> String {
    let digest = sha256(&[&fold(user_name)]);
    format!("scimitar-user-{}", hex(&digest[..20]))
}

/// Claims `user_name` for user `id`. Fails with `Uniqueness` when another
/// user holds it. On a free name this is one write (the Lease's create).
pub async fn claim(
    leases: &Api<Lease>,
    users: &Api<ScimUser>,
    user_name: &str,
    id: &str,
) -> Result<(), StoreError> {
    let name = anchor_name(user_name);
    for _ in 0..3 {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([
                    (ANCHOR_LABEL.to_owned(), "username".to_owned()),
                    (MANAGED_BY.to_owned(), MANAGER.to_owned()),
                ])),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(id.to_owned()),
                ..Default::default()
            }),
        };
        match leases.create(&PostParams::default(), &lease).await {
            Ok(_) => return Ok(()),
            Err(e) if is_already_exists(&e) => {}
            Err(e) => return Err(to_store_error(e, "the userName anchor")),
        }
        let existing = match leases.get(&name).await {
            Ok(existing) => existing,
            Err(e) if is_not_found(&e) => continue, // released meanwhile: try again
            Err(e) => return Err(to_store_error(e, "the userName anchor")),
        };
        let holder = holder_of(&existing);
        if holder == id {
            return Ok(());
        }
        if holds(users, &holder, user_name).await? || is_young(&existing) {
            return Err(taken(user_name));
        }
        // Stale: delete exactly the version we looked at, then claim again.
        match delete_exactly(leases, &existing).await {
            Ok(()) => {
                tracing::info!(anchor = %name, stale_holder = %holder, "reclaimed a stale userName anchor")
            }
            Err(e) if is_not_found(&e) || status_of(&e) == Some(409) => {}
            Err(e) => return Err(to_store_error(e, "the userName anchor")),
        }
    }
    Err(taken(user_name))
}

/// Releases `user_name` if `id` holds it. Best effort: a leftover anchor is
/// stale and will be reclaimed.
pub async fn release(leases: &Api<Lease>, user_name: &str, id: &str) {
    let name = anchor_name(user_name);
    let Ok(existing) = leases.get(&name).await else {
        return;
    };
    if holder_of(&existing) != id {
        return;
    }
    if let Err(error) = delete_exactly(leases, &existing).await
        && !is_not_found(&error)
        && status_of(&error) != Some(409)
    {
        tracing::warn!(anchor = %name, %error, "could not release a userName anchor");
    }
}

/// Releases the anchors of users that the watch reports deleted, whoever
/// deleted them: queued by the watch without waiting, released in the
/// background a few at a time by [`Releases::run`].
///
/// Every replica does this for every delete. That is harmless: the release
/// is conditional on the holder being the deleted user, on that user not
/// existing, and on the exact version of the anchor that was read, so the
/// first replica deletes the anchor and the others find it gone (404) or
/// changed (409), and a new user's claim of the name is never touched.
/// Leaving it to the leader would lose the deletes seen during a failover.
///
/// The queue is bounded: deletes beyond it (thousands of users deleted at
/// once) are not queued; their anchors are stale, and reclaimed by the next
/// claim of the name or deleted with their namespace.
pub struct Releases {
    client: Client,
    queue: mpsc::Sender<Deleted>,
    queued: Mutex<Option<mpsc::Receiver<Deleted>>>,
}

/// A deleted user, for the release of its anchor.
struct Deleted {
    namespace: String,
    id: String,
    user_name: String,
}

impl Releases {
    pub fn new(client: Client) -> Self {
        let (queue, queued) = mpsc::channel(RELEASES_QUEUED);
        Self {
            client,
            queue,
            queued: Mutex::new(Some(queued)),
        }
    }

    /// `user` was deleted: free its userName if its anchor is still held by
    /// it. Never waits.
    pub fn user_deleted(&self, user: &ScimUser) {
        let (Some(namespace), Some(id)) = (&user.metadata.namespace, &user.metadata.name) else {
            return;
        };
        let deleted = Deleted {
            namespace: namespace.clone(),
            id: id.clone(),
            user_name: user.spec.user_name.clone(),
        };
        if let Err(mpsc::error::TrySendError::Full(deleted)) = self.queue.try_send(deleted) {
            tracing::debug!(user = %deleted.id, "too many deleted users at once; the anchor is left to be reclaimed");
        }
    }

    /// Releases the anchors of deleted users as they are queued, at most
    /// [`RELEASES_AT_ONCE`] at a time. Runs once; a second call returns at once.
    pub async fn run(&self) {
        let Some(mut queued) = self.queued.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let permits = Arc::new(Semaphore::new(RELEASES_AT_ONCE));
        while let Some(deleted) = queued.recv().await {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let leases: Api<Lease> = Api::namespaced(self.client.clone(), &deleted.namespace);
            let users: Api<ScimUser> = Api::namespaced(self.client.clone(), &deleted.namespace);
            tokio::spawn(async move {
                let _permit = permit;
                let Deleted { id, user_name, .. } = deleted;
                let released = release_if_gone(&leases, &users, &user_name, &id);
                if tokio::time::timeout(RELEASE_TIMEOUT, released)
                    .await
                    .is_err()
                {
                    tracing::debug!(user = %id, "releasing a deleted user's userName anchor timed out; it is left to be reclaimed");
                }
            });
        }
    }
}

/// Deletes the anchor of `user_name` if user `id` holds it and no longer
/// exists with that userName.
async fn release_if_gone(leases: &Api<Lease>, users: &Api<ScimUser>, user_name: &str, id: &str) {
    let name = anchor_name(user_name);
    let existing = match leases.get_opt(&name).await {
        Ok(Some(existing)) => existing,
        Ok(None) => return,
        Err(error) => {
            tracing::debug!(anchor = %name, %error, "could not read the anchor of a deleted user");
            return;
        }
    };
    if holder_of(&existing) != id {
        return; // released already, or claimed by someone else since
    }
    // A user re-created under the same name (id) with the same userName,
    // e.g. by `kubectl apply`, keeps its anchor.
    if !matches!(holds(users, id, user_name).await, Ok(false)) {
        return;
    }
    match delete_exactly(leases, &existing).await {
        Ok(()) => {
            tracing::info!(anchor = %name, user = %id, "released the userName anchor of a deleted user")
        }
        // Another replica released it, or a new claim replaced it.
        Err(error) if is_not_found(&error) || status_of(&error) == Some(409) => {}
        Err(error) => {
            tracing::warn!(anchor = %name, %error, "could not release the userName anchor of a deleted user")
        }
    }
}

/// Deletes exactly this version of `lease`: the API server refuses (409) if
/// it changed or was replaced since it was read.
async fn delete_exactly(leases: &Api<Lease>, lease: &Lease) -> Result<(), kube::Error> {
    let name = lease.metadata.name.as_deref().unwrap_or_default();
    let precondition = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: lease.metadata.resource_version.clone(),
            uid: lease.metadata.uid.clone(),
        }),
        ..Default::default()
    };
    leases.delete(name, &precondition).await.map(drop)
}

fn holder_of(lease: &Lease) -> String {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default()
}

/// Whether user `id` exists and still has `user_name`.
async fn holds(users: &Api<ScimUser>, id: &str, user_name: &str) -> Result<bool, StoreError> {
    if id.is_empty() {
        return Ok(false);
    }
    match users.get_opt(id).await {
        Ok(Some(user)) => Ok(fold(&user.spec.user_name) == fold(user_name)),
        Ok(None) => Ok(false),
        Err(e) => Err(to_store_error(e, "the holder of a userName")),
    }
}

fn is_young(lease: &Lease) -> bool {
    let Some(created) = &lease.metadata.creation_timestamp else {
        return true;
    };
    let age = jiff::Timestamp::now().duration_since(created.0);
    age < jiff::SignedDuration::try_from(IN_FLIGHT).unwrap_or_default()
}

fn taken(user_name: &str) -> StoreError {
    StoreError::Uniqueness(format!("A user with userName {user_name:?} already exists"))
}
