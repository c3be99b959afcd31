//! userName uniqueness that the API server enforces.
//!
//! Each user's userName is claimed by a `Lease` in the tenant namespace whose
//! name is derived from the case-folded userName, and whose holder is the
//! user's id. Creating an object under a taken name fails atomically in the
//! API server, so two concurrent POSTs of `Babs` and `babs`, through any
//! number of operator replicas, cannot both succeed. A check-then-create
//! against a cache could.
//!
//! An anchor can outlive its user (a crash between the two writes, a user
//! deleted with kubectl). Such a stale anchor is reclaimed: its holder no
//! longer exists or no longer has that userName, and the anchor is older than
//! [`IN_FLIGHT`], which covers a concurrent create still between its two writes.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, Resource};
use sha2::{Digest, Sha256};

use super::errors::{is_already_exists, is_not_found, to_store_error};
use crate::crd::ScimUser;
use crate::store::StoreError;
use crate::store::index::fold;

/// How young an anchor without a user may be before it counts as stale.
pub const IN_FLIGHT: Duration = Duration::from_secs(30);

/// Label on every anchor, so they can be listed and recognised.
pub const ANCHOR_LABEL: &str = "scimitar.dev/anchor";

/// The anchor's object name for a userName.
pub fn anchor_name(user_name: &str) -> String {
    let digest = Sha256::digest(fold(user_name).as_bytes());
    let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
    format!("scimitar-user-{hex}")
}

/// Claims `user_name` for user `id`. Fails with `Uniqueness` when another
/// user holds it.
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
                    (
                        "app.kubernetes.io/managed-by".to_owned(),
                        "scimitar".to_owned(),
                    ),
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
        let holder = existing
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.clone())
            .unwrap_or_default();
        if holder == id {
            return Ok(());
        }
        if holds(users, &holder, user_name).await? || is_young(&existing) {
            return Err(taken(user_name));
        }
        // Stale: delete exactly the version we looked at, then claim again.
        let precondition = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: existing.metadata.resource_version.clone(),
                uid: existing.metadata.uid.clone(),
            }),
            ..Default::default()
        };
        match leases.delete(&name, &precondition).await {
            Ok(_) => {
                tracing::info!(anchor = %name, stale_holder = %holder, "reclaimed a stale userName anchor")
            }
            Err(e) if is_not_found(&e) || super::errors::status_of(&e) == Some(409) => {}
            Err(e) => return Err(to_store_error(e, "the userName anchor")),
        }
    }
    Err(taken(user_name))
}

/// Makes the anchor owned by its user, so that deleting the `ScimUser` by
/// any means garbage-collects the anchor. Best effort: a stale anchor is
/// reclaimed anyway.
pub async fn adopt(leases: &Api<Lease>, user: &ScimUser) {
    let user_name = user.spec.user_name.as_str();
    let Some(owner) = user.controller_owner_ref(&()).map(|o| OwnerReference {
        controller: Some(false),
        ..o
    }) else {
        return;
    };
    let patch = serde_json::json!({"metadata": {"ownerReferences": [owner]}});
    let name = anchor_name(user_name);
    if let Err(error) = leases
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::warn!(anchor = %name, %error, "could not set the owner of a userName anchor");
    }
}

/// Releases `user_name` if `id` holds it. Best effort: a leftover anchor is
/// stale and will be reclaimed.
pub async fn release(leases: &Api<Lease>, user_name: &str, id: &str) {
    let name = anchor_name(user_name);
    let Ok(existing) = leases.get(&name).await else {
        return;
    };
    if existing.spec.and_then(|s| s.holder_identity).as_deref() != Some(id) {
        return;
    }
    let precondition = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: existing.metadata.resource_version,
            uid: existing.metadata.uid,
        }),
        ..Default::default()
    };
    if let Err(error) = leases.delete(&name, &precondition).await
        && !is_not_found(&error)
    {
        tracing::warn!(anchor = %name, %error, "could not release a userName anchor");
    }
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
