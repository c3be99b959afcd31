//! An in-memory [`Store`]: for protocol tests, the SCIM checkers and benchmarks.
//! Nothing persists. Indexes on `id`, `userName` and `displayName` keep the
//! lookups IdPs make on every sync from scanning every resource.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::{Kind, Store, StoreError, Stored, UpdateFn, check_if_match, created_of, etag, stamp};
use crate::scim::filter::{CompValue, CompareOp, Filter, matches};

/// Users and groups of every tenant, in memory.
#[derive(Default)]
pub struct MemoryStore {
    tenants: RwLock<HashMap<String, Tenant>>,
    /// Store-wide version counter, like a resourceVersion.
    clock: AtomicU64,
}

#[derive(Default)]
struct Tenant {
    users: BTreeMap<String, Entry>,
    groups: BTreeMap<String, Entry>,
    /// Lower-cased userName → user id (userName is unique, case-insensitively).
    user_names: HashMap<String, String>,
    /// Lower-cased displayName → group ids (display names need not be unique).
    group_names: HashMap<String, BTreeSet<String>>,
    /// User id → ids of the groups it is a direct member of.
    memberships: HashMap<String, BTreeSet<String>>,
}

struct Entry {
    version: String,
    resource: Value,
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

fn lower(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_lowercase)
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl Tenant {
    fn table(&self, kind: Kind) -> &BTreeMap<String, Entry> {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    fn table_mut(&mut self, kind: Kind) -> &mut BTreeMap<String, Entry> {
        match kind {
            Kind::User => &mut self.users,
            Kind::Group => &mut self.groups,
        }
    }

    /// Renders an entry as the client sees it: users get their read-only
    /// `groups` attribute computed from group membership (RFC 7643 §4.1.2).
    fn render(&self, kind: Kind, id: &str, entry: &Entry) -> Stored {
        let mut resource = entry.resource.clone();
        if kind == Kind::User
            && let Some(group_ids) = self.memberships.get(id).filter(|g| !g.is_empty())
        {
            let groups: Vec<Value> = group_ids
                .iter()
                .filter_map(|gid| {
                    let group = self.groups.get(gid)?;
                    let display = group.resource.get("displayName").cloned();
                    Some(json!({"value": gid, "display": display, "type": "direct"}))
                })
                .collect();
            if let Value::Object(fields) = &mut resource {
                fields.insert("groups".into(), Value::Array(groups));
            }
        }
        Stored {
            id: id.to_owned(),
            version: entry.version.clone(),
            resource,
        }
    }

    /// Checks userName uniqueness for a user being written under `id`.
    fn check_unique(&self, kind: Kind, id: &str, resource: &Value) -> Result<(), StoreError> {
        if kind != Kind::User {
            return Ok(());
        }
        let Some(name) = lower(resource.get("userName")) else {
            return Ok(());
        };
        match self.user_names.get(&name) {
            Some(owner) if owner != id => Err(StoreError::Uniqueness(format!(
                "A user with userName {:?} already exists",
                resource
                    .get("userName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ))),
            _ => Ok(()),
        }
    }

    /// Keeps the indexes in step with a write of `id` from `old` to `new`.
    fn reindex(&mut self, kind: Kind, id: &str, old: Option<&Value>, new: Option<&Value>) {
        match kind {
            Kind::User => {
                if let Some(name) = lower(old.and_then(|o| o.get("userName"))) {
                    self.user_names.remove(&name);
                }
                if let Some(name) = lower(new.and_then(|n| n.get("userName"))) {
                    self.user_names.insert(name, id.to_owned());
                }
            }
            Kind::Group => {
                if let Some(name) = lower(old.and_then(|o| o.get("displayName")))
                    && let Some(ids) = self.group_names.get_mut(&name)
                {
                    ids.remove(id);
                }
                if let Some(name) = lower(new.and_then(|n| n.get("displayName"))) {
                    self.group_names
                        .entry(name)
                        .or_default()
                        .insert(id.to_owned());
                }
                let before = old.map(member_ids).unwrap_or_default();
                let after = new.map(member_ids).unwrap_or_default();
                for gone in before.difference(&after) {
                    if let Some(groups) = self.memberships.get_mut(gone) {
                        groups.remove(id);
                    }
                }
                for added in after.difference(&before) {
                    self.memberships
                        .entry(added.clone())
                        .or_default()
                        .insert(id.to_owned());
                }
            }
        }
    }

    /// Ids worth evaluating `filter` on, when an index narrows them down.
    fn candidates(&self, kind: Kind, filter: &Filter) -> Option<Vec<String>> {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(value),
            } if path.sub.is_none() => {
                let name = path.name.as_str();
                if name.eq_ignore_ascii_case("id") {
                    Some(vec![value.clone()])
                } else if kind == Kind::User && name.eq_ignore_ascii_case("userName") {
                    Some(
                        self.user_names
                            .get(&value.to_lowercase())
                            .cloned()
                            .into_iter()
                            .collect(),
                    )
                } else if kind == Kind::Group && name.eq_ignore_ascii_case("displayName") {
                    let ids = self.group_names.get(&value.to_lowercase());
                    Some(
                        ids.map(|ids| ids.iter().cloned().collect())
                            .unwrap_or_default(),
                    )
                } else {
                    None
                }
            }
            Filter::And(left, right) => self
                .candidates(kind, left)
                .or_else(|| self.candidates(kind, right)),
            _ => None,
        }
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
        t.check_unique(kind, &id, &resource)?;
        t.reindex(kind, &id, None, Some(&resource));
        let entry = Entry { version, resource };
        let stored = t.render(kind, &id, &entry);
        t.table_mut(kind).insert(id, entry);
        Ok(stored)
    }

    async fn get(&self, tenant: &str, kind: Kind, id: &str) -> Result<Stored, StoreError> {
        let tenants = self.tenants.read().map_err(|_| poisoned())?;
        let t = tenants
            .get(tenant)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let entry = t
            .table(kind)
            .get(id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        Ok(t.render(kind, id, entry))
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
        let entry = t
            .table(kind)
            .get(id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        check_if_match(if_match, id, &entry.version)?;
        let current = t.render(kind, id, entry);
        let created = created_of(&entry.resource).unwrap_or_default().to_owned();
        let new = update(&current)?;
        let version = self.next_version();
        let new = stamp(kind, id, new, &created, &now(), &version);
        t.check_unique(kind, id, &new)?;
        let old = t.table_mut(kind).remove(id).map(|e| e.resource);
        t.reindex(kind, id, old.as_ref(), Some(&new));
        let entry = Entry {
            version,
            resource: new,
        };
        let stored = t.render(kind, id, &entry);
        t.table_mut(kind).insert(id.to_owned(), entry);
        Ok(stored)
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
            .table(kind)
            .get(id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        check_if_match(if_match, id, &entry.version)?;
        let old = t.table_mut(kind).remove(id).map(|e| e.resource);
        t.reindex(kind, id, old.as_ref(), None);
        if kind == Kind::User {
            // A deleted user leaves every group it was in (RFC 7644 §3.6 leaves
            // this to the provider; dangling members would grant nothing but confuse).
            for gid in t.memberships.remove(id).unwrap_or_default() {
                let version = self.next_version();
                if let Some(group) = t.groups.get_mut(&gid) {
                    if let Some(members) = group
                        .resource
                        .get_mut("members")
                        .and_then(Value::as_array_mut)
                    {
                        members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                    }
                    if let Some(meta) = group
                        .resource
                        .get_mut("meta")
                        .and_then(Value::as_object_mut)
                    {
                        meta.insert("lastModified".into(), Value::String(now()));
                        meta.insert("version".into(), Value::String(etag(&version)));
                    }
                    group.version = version;
                }
            }
        }
        Ok(())
    }

    async fn list(
        &self,
        tenant: &str,
        kind: Kind,
        filter: Option<&Filter>,
    ) -> Result<Vec<Stored>, StoreError> {
        let tenants = self.tenants.read().map_err(|_| poisoned())?;
        let Some(t) = tenants.get(tenant) else {
            return Ok(Vec::new());
        };
        let table = t.table(kind);
        let info = kind.resource_type();
        let keep = |stored: &Stored| filter.is_none_or(|f| matches(f, &stored.resource, info));
        let rendered: Vec<Stored> = match filter.and_then(|f| t.candidates(kind, f)) {
            Some(mut ids) => {
                ids.sort();
                ids.iter()
                    .filter_map(|id| table.get(id).map(|e| t.render(kind, id, e)))
                    .filter(keep)
                    .collect()
            }
            None => table
                .iter()
                .map(|(id, e)| t.render(kind, id, e))
                .filter(keep)
                .collect(),
        };
        Ok(rendered)
    }
}

fn poisoned() -> StoreError {
    StoreError::Internal("in-memory store lock poisoned".into())
}
