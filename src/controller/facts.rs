//! Facts about the cluster that the desired state depends on: which roles
//! exist, and which the operator may bind.
//!
//! Whether a role exists comes from watch-fed stores. Whether the operator
//! may bind it is asked of the API server itself (a SelfSubjectAccessReview
//! for the `bind` verb), because that is the rule the API server will apply
//! when the binding is written; answers are remembered for [`BIND_TTL`]. When
//! the question cannot be asked, the last answer stands (or the write is
//! tried, and the API server's refusal removes the binding): a failed check
//! must never hold back an update that removes subjects.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use kube::api::PostParams;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

use super::desired::{RoleState, RoleTarget};
use crate::crd::RoleKind;

/// A role as looked up: kind, namespace (Roles only), name.
type RoleKey = (RoleKind, Option<String>, String);

/// How long an answer about the `bind` verb is trusted.
pub const BIND_TTL: Duration = Duration::from_secs(60);

/// Role existence and bind permission.
pub struct Roles {
    client: Client,
    cluster_roles: Store<PartialObjectMeta<ClusterRole>>,
    roles: Store<PartialObjectMeta<Role>>,
    bindable: Mutex<HashMap<RoleKey, (bool, Instant)>>,
}

fn key(t: &RoleTarget) -> RoleKey {
    (t.kind, t.namespace.clone(), t.name.clone())
}

impl Roles {
    pub fn new(
        client: Client,
        cluster_roles: Store<PartialObjectMeta<ClusterRole>>,
        roles: Store<PartialObjectMeta<Role>>,
    ) -> Self {
        Self {
            client,
            cluster_roles,
            roles,
            bindable: Mutex::default(),
        }
    }

    /// Waits until both role stores hold their first listing: before that,
    /// every role would look missing.
    pub async fn wait_until_ready(&self) {
        let _ = self.cluster_roles.wait_until_ready().await;
        let _ = self.roles.wait_until_ready().await;
    }

    /// The state of every target, asking the API server where needed.
    pub async fn states(
        &self,
        targets: impl IntoIterator<Item = RoleTarget>,
    ) -> Result<HashMap<RoleKey, RoleState>, kube::Error> {
        let mut out = HashMap::new();
        for target in targets {
            let k = key(&target);
            if out.contains_key(&k) {
                continue;
            }
            let exists = match (&target.kind, &target.namespace) {
                (RoleKind::ClusterRole, _) => self
                    .cluster_roles
                    .get(&ObjectRef::new(&target.name))
                    .is_some(),
                (RoleKind::Role, Some(ns)) => self
                    .roles
                    .get(&ObjectRef::new(&target.name).within(ns))
                    .is_some(),
                (RoleKind::Role, None) => false,
            };
            let state = if !exists {
                RoleState::Missing
            } else if self.may_bind(&target).await? {
                RoleState::Bindable
            } else {
                RoleState::NotBindable
            };
            out.insert(k, state);
        }
        Ok(out)
    }

    async fn may_bind(&self, target: &RoleTarget) -> Result<bool, kube::Error> {
        let k = key(target);
        if let Some((allowed, at)) = self
            .bindable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&k)
            && at.elapsed() < BIND_TTL
        {
            return Ok(*allowed);
        }
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some("bind".into()),
                    group: Some("rbac.authorization.k8s.io".into()),
                    resource: Some(match target.kind {
                        RoleKind::ClusterRole => "clusterroles".into(),
                        RoleKind::Role => "roles".into(),
                    }),
                    name: Some(target.name.clone()),
                    namespace: target.namespace.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answer = match super::apply::with_timeout(api.create(&PostParams::default(), &review))
            .await
        {
            Ok(answer) => answer,
            Err(error) => {
                // The question is only for a clear status: the API server
                // checks `bind` itself on every write. Failing the reconcile
                // here would keep every binding as it is, stale subjects
                // included, so use the last answer, or let the write decide.
                let last = self
                    .bindable
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&k)
                    .map(|(allowed, _)| *allowed);
                tracing::warn!(role = %target.name, %error, ?last, "could not ask whether the role may be bound; the API server will decide");
                return Ok(last.unwrap_or(true));
            }
        };
        let allowed = answer.status.is_some_and(|s| s.allowed);
        self.bindable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, (allowed, Instant::now()));
        Ok(allowed)
    }
}

/// Looks up a precomputed state; anything not asked about is not bindable.
pub fn lookup(states: &HashMap<RoleKey, RoleState>, target: &RoleTarget) -> RoleState {
    states
        .get(&key(target))
        .copied()
        .unwrap_or(RoleState::NotBindable)
}
