//! Access past a mapping's `notAfter`, removed without the spec or the
//! cache. The reconcile removes it on time while the controller runs; this
//! is for the time it did not: bindings of time-bound mappings carry their
//! end in [`NOT_AFTER_LABEL`], so a starting leader lists just those and
//! deletes the expired ones before it loads anything else, and a running
//! leader does so again at each end it saw, in case a reconcile is stuck.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::api::{DeleteParams, ListParams, Preconditions};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::apply::with_timeout;
use crate::meta::{MANAGED_BY, MANAGER, NOT_AFTER_LABEL};

/// Bindings listed per request: a page, not the cluster, is held at once.
const PAGE: u32 = 500;
/// How long a running sweeper waits at most before looking again (bindings
/// made meanwhile may end sooner than any it saw).
const LOOK_AGAIN: Duration = Duration::from_secs(60);

/// What a sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub deleted: usize,
    /// The earliest end still ahead.
    pub next: Option<Timestamp>,
}

/// Deletes every scimitar binding whose [`NOT_AFTER_LABEL`] is at or before
/// `now`.
pub async fn remove_expired(client: &Client, now: Timestamp) -> Result<Swept, kube::Error> {
    let mut swept = Swept::default();
    let namespaced = |ns: Option<&str>| Api::namespaced(client.clone(), ns.unwrap_or_default());
    sweep::<RoleBinding>(Api::all(client.clone()), namespaced, now, &mut swept).await?;
    let cluster = |_: Option<&str>| Api::all(client.clone());
    sweep::<ClusterRoleBinding>(Api::all(client.clone()), cluster, now, &mut swept).await?;
    Ok(swept)
}

/// Sweeps one kind; `at` gives the API to delete an object of a namespace with.
async fn sweep<K>(
    api: Api<K>,
    at: impl Fn(Option<&str>) -> Api<K>,
    now: Timestamp,
    swept: &mut Swept,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let selector = format!("{MANAGED_BY}={MANAGER},{NOT_AFTER_LABEL}");
    let mut params = ListParams::default().labels(&selector).limit(PAGE);
    loop {
        let page = with_timeout(api.list_metadata(&params)).await?;
        for binding in &page.items {
            let end = binding
                .labels()
                .get(NOT_AFTER_LABEL)
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|s| Timestamp::from_second(s).ok());
            let Some(end) = end else {
                // Not a time we wrote: leave it to the reconcile.
                continue;
            };
            if end > now {
                swept.next = Some(swept.next.map_or(end, |n| n.min(end)));
                continue;
            }
            let api = at(binding.namespace().as_deref());
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: binding.uid(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match with_timeout(api.delete(&binding.name_any(), &params)).await {
                Ok(_) => {
                    swept.deleted += 1;
                    tracing::info!(binding = %binding.name_any(), namespace = ?binding.namespace(), %end, "deleted a binding past its mapping's notAfter");
                }
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(error) => return Err(error),
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// Sweeps at each end it saw (at least every [`LOOK_AGAIN`]) until dropped.
pub async fn sweep_while_leading(client: Client) {
    loop {
        let wait = match remove_expired(&client, Timestamp::now()).await {
            Ok(swept) => swept
                .next
                .and_then(|next| Timestamp::now().duration_until(next).try_into().ok())
                .map_or(LOOK_AGAIN, |d: Duration| {
                    (d + Duration::from_millis(100)).min(LOOK_AGAIN)
                }),
            Err(error) => {
                tracing::warn!(%error, "could not look for expired bindings; trying again");
                Duration::from_secs(5)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// The first sweep of a starting leader: tried until it succeeds or
/// `within` passes (then the controller starts anyway, and the sweeper keeps
/// trying), so an API server that is down for a moment does not keep
/// expired access.
pub async fn before_start(client: &Client, within: Duration) {
    let started = std::time::Instant::now();
    loop {
        match remove_expired(client, Timestamp::now()).await {
            Ok(swept) => {
                tracing::info!(
                    deleted = swept.deleted,
                    "removed access past notAfter before starting the controller"
                );
                return;
            }
            Err(error) if started.elapsed() < within => {
                tracing::warn!(%error, "could not look for expired bindings before starting; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => {
                tracing::warn!(%error, "starting the controller without the first sweep of expired bindings");
                return;
            }
        }
    }
}
