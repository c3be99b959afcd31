//! What every reconcile shares ([`Context`]: the client, the caches, the
//! event recorder, the metrics, what is remembered between passes) and why a
//! reconcile fails ([`Error`]). Its own file so that the phases
//! (`reconcile`, `report`, `events`, `directory_writes`) and the wiring in
//! `run` import it without importing each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;

use super::apply;
use super::bound::Bound;
use super::events;
use super::facts::Roles;
use super::owned::Owned;
use super::reconcile;
use super::shards::Shards;
use super::work::Pending;
use crate::store::kube::KubeStore;

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
    /// The bindings we own, summarized: subjects are held as a digest.
    pub(super) role_bindings: Store<Bound<RoleBinding>>,
    pub(super) cluster_role_bindings: Store<Bound<ClusterRoleBinding>>,
    /// The directory ConfigMaps we own, metadata only: their data is
    /// summarized in `shards`, never held.
    pub(super) config_maps: Store<PartialObjectMeta<ConfigMap>>,
    pub(super) shards: Arc<Shards>,
    pub(super) recorder: Recorder,
    /// Whether the stores above (and the roles') hold their first listing.
    pub(super) stores_ready: crate::ready::ReadyGate,
    /// The SCIM base URL to publish in tenant status.
    pub(super) public_url: Option<String>,
    /// Whether derived namespaces may be created at all.
    pub(super) namespace_creation: bool,
    /// Problems already published as Warning Events.
    pub(super) warned: events::Warned,
    /// Consecutive failures per tenant, for the backoff.
    pub(super) failures: Mutex<HashMap<String, u32>>,
    /// Bindings whose update keeps failing, and since when.
    pub(super) failing: apply::Failing,
    /// The objects we made, by tenant and group; absorbs our writes' echoes.
    pub(super) owned: Arc<Owned>,
    /// Changes the watches saw, per tenant.
    pub(super) pending: Arc<Pending>,
    /// What is remembered of each tenant between reconciles.
    pub(super) passes: Mutex<HashMap<String, reconcile::Pass>>,
    /// Where reconciles are counted and timed.
    pub(super) metrics: Arc<crate::metrics::Metrics>,
}
