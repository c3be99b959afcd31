//! An in-memory [`Store`]: for protocol tests, the SCIM checkers and benchmarks.
//! Nothing persists.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::index::{Entry, Index, remove_member};
use super::{Kind, Listed, Store, StoreError, Stored, UpdateFn, check_if_match, created_of, stamp};
use crate::scim::filter::Filter;
use crate::scim::list::Window;

/// Users and groups of every tenant, in memory.
#[derive(Default)]
pub struct MemoryStore {
    tenants: RwLock<HashMap<String, Index>>,
    /// Store-wide version counter, like a resourceVersion.
    clock: AtomicU64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn next_version(&self) -> String {
        (self.clock.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// Fails when another user than `id` holds the userName of `resource`.
pub(super) fn check_unique(
    index: &Index,
    kind: Kind,
    id: &str,
    resource: &Value,
) -> Result<(), StoreError> {
    if kind != Kind::User {
        return Ok(());
    }
    let Some(name) = resource.get("userName").and_then(Value::as_str) else {
        return Ok(());
    };
    match index.user_named(name) {
        Some(owner) if owner != id => Err(StoreError::Uniqueness(format!(
            "A user with userName {name:?} already exists"
        ))),
        _ => Ok(()),
    }
}

impl Store for MemoryStore {
    async fn create(
        &self,
        tenant: &str,
        kind: Kind,
        resource: Value,
    ) -> Result<Stored, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let version = self.next_version();
        let time = now();
        let resource = stamp(kind, &id, resource, &time, &time, &version);
        let mut tenants = self.tenants.write().map_err(|_| poisoned())?;
        let t = tenants.entry(tenant.to_owned()).or_default();
        check_unique(t, kind, &id, &resource)?;
        t.insert(
            kind,
            &id,
            Entry {
                version,
                resource,
                generation: None,
                tenant_uid: None,
                status: None,
            },
        );
        t.get(kind, &id).ok_or(StoreError::NotFound(id))
    }

    async fn get(&self, tenant: &str, kind: Kind, id: &str) -> Result<Stored, StoreError> {
        let tenants = self.tenants.read().map_err(|_| poisoned())?;
        tenants
            .get(tenant)
            .and_then(|t| t.get(kind, id))
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))
    }

    async fn update(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        update: &UpdateFn<'_>,
    ) -> Result<Stored, StoreError> {
        // One lock for read-modify-write: no other writer can interleave, so
        // the update runs exactly once.
        let mut tenants = self.tenants.write().map_err(|_| poisoned())?;
        let t = tenants
            .get_mut(tenant)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let current = t
            .get(kind, id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        check_if_match(if_match, id, &current.version)?;
        let created = created_of(&current.resource).unwrap_or_default().to_owned();
        let new = update(&current)?;
        let version = self.next_version();
        let new = stamp(kind, id, new, &created, &now(), &version);
        check_unique(t, kind, id, &new)?;
        t.insert(
            kind,
            id,
            Entry {
                version,
                resource: new,
                generation: None,
                tenant_uid: None,
                status: None,
            },
        );
        t.get(kind, id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))
    }

    async fn delete(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tenants = self.tenants.write().map_err(|_| poisoned())?;
        let t = tenants
            .get_mut(tenant)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let entry = t
            .entry(kind, id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        check_if_match(if_match, id, entry.version)?;
        t.remove(kind, id);
        // A deleted user or group leaves every group it was in (RFC 7644
        // §3.6 leaves this to the provider; dangling members would grant
        // nothing but confuse).
        for gid in t.groups_of(id) {
            let Some(Stored { mut resource, .. }) = t.get(Kind::Group, &gid) else {
                continue;
            };
            remove_member(&mut resource, id);
            let created = created_of(&resource).unwrap_or_default().to_owned();
            let version = self.next_version();
            let resource = stamp(Kind::Group, &gid, resource, &created, &now(), &version);
            t.insert(
                Kind::Group,
                &gid,
                Entry {
                    version,
                    resource,
                    generation: None,
                    tenant_uid: None,
                    status: None,
                },
            );
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
        let tenants = self.tenants.read().map_err(|_| poisoned())?;
        Ok(tenants
            .get(tenant)
            .map(|t| t.select(kind, filter, window))
            .unwrap_or_default())
    }
}

fn poisoned() -> StoreError {
    StoreError::Internal("in-memory store lock poisoned".into())
}
