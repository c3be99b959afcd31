//! The read cache: every `ScimUser` and `ScimGroup`, per namespace, fed by
//! watches and by this process's own writes.
//!
//! Writes go into the cache the moment the API server acknowledges them, so a
//! GET right after a POST sees the new resource even while the watch lags
//! (read-your-writes). Watch events can then arrive late and out of step with
//! those writes; an event older than what the cache holds is ignored. Ordering
//! compares resourceVersions as integers: kube-apiserver's resourceVersion is
//! the etcd revision, which only grows. (The API calls them opaque; if one does
//! not parse, the watch wins, which is the safe default.)
//!
//! Deletes leave a tombstone so that a late watch event for the deleted object
//! cannot bring it back. Tombstones go when the watch reports the delete, or
//! after [`TOMBSTONE_TTL`].

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::store::Kind;
use crate::store::index::{Entry, Index};

/// How long a tombstone outlives a delete the watch has not reported.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(300);

/// A resource as the cache receives it.
pub struct Incoming {
    pub namespace: String,
    pub id: String,
    pub entry: Entry,
}

/// Users and groups of every namespace.
pub struct Cache {
    inner: RwLock<Inner>,
    users_synced: AtomicBool,
    groups_synced: AtomicBool,
    /// Namespaces whose users or groups changed, for the controller. It
    /// listens here rather than on a watch of its own, so it never reconciles
    /// from a view older than the one that triggered it.
    changes: broadcast::Sender<String>,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            inner: RwLock::default(),
            users_synced: AtomicBool::new(false),
            groups_synced: AtomicBool::new(false),
            changes: broadcast::channel(4096).0,
        }
    }
}

#[derive(Default)]
struct Inner {
    namespaces: HashMap<String, Index>,
    tombstones: HashMap<(Kind, String, String), (Option<u64>, Instant)>,
    /// Objects listed since the last watch restart, per kind.
    relisting: HashMap<Kind, Vec<Incoming>>,
}

fn revision(version: &str) -> Option<u64> {
    version.parse().ok()
}

/// Whether `new` is at least as recent as `old`.
fn not_older(new: &str, old: &str) -> bool {
    match (revision(new), revision(old)) {
        (Some(new), Some(old)) => new >= old,
        _ => true,
    }
}

impl Cache {
    /// Namespaces whose users or groups changed, as they change. A lagging
    /// receiver gets `RecvError::Lagged` and should treat everything as changed.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    fn changed(&self, namespace: &str) {
        // No receiver is fine: nobody needs to know.
        let _ = self.changes.send(namespace.to_owned());
    }

    /// Whether both watches have delivered their initial listing.
    pub fn is_synced(&self) -> bool {
        self.users_synced.load(Ordering::Acquire) && self.groups_synced.load(Ordering::Acquire)
    }

    fn synced_flag(&self, kind: Kind) -> &AtomicBool {
        match kind {
            Kind::User => &self.users_synced,
            Kind::Group => &self.groups_synced,
        }
    }

    /// Runs `read` on one namespace's index (an empty one if none is cached).
    pub fn read<T>(&self, namespace: &str, read: impl FnOnce(&Index) -> T) -> T {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        match inner.namespaces.get(namespace) {
            Some(index) => read(index),
            None => read(&Index::default()),
        }
    }

    /// Records a resource this process wrote or the watch reported, unless the
    /// cache already holds something newer or the resource was deleted.
    pub fn upsert(&self, kind: Kind, incoming: Incoming) {
        let namespace = incoming.namespace.clone();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let changed = inner.upsert(kind, incoming);
        drop(inner);
        if changed {
            self.changed(&namespace);
        }
    }

    /// Records a delete at `version` (the deleted object's last resourceVersion).
    pub fn remove(&self, kind: Kind, namespace: &str, id: &str, version: Option<&str>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let key = (kind, namespace.to_owned(), id.to_owned());
        inner
            .tombstones
            .insert(key, (version.and_then(revision), Instant::now()));
        if let Some(index) = inner.namespaces.get_mut(namespace) {
            index.remove(kind, id);
        }
        drop(inner);
        self.changed(namespace);
    }

    /// A delete the watch reported: the object is gone for good.
    pub fn watched_delete(&self, kind: Kind, namespace: &str, id: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner
            .tombstones
            .remove(&(kind, namespace.to_owned(), id.to_owned()));
        let removed = inner
            .namespaces
            .get_mut(namespace)
            .and_then(|index| index.remove(kind, id))
            .is_some();
        drop(inner);
        if removed {
            self.changed(namespace);
        }
    }

    /// The watch (re)started listing every object of `kind`.
    pub fn relist_started(&self, kind: Kind) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.relisting.insert(kind, Vec::new());
    }

    /// One object of the listing.
    pub fn relisted(&self, kind: Kind, incoming: Incoming) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.relisting.entry(kind).or_default().push(incoming);
    }

    /// The listing is complete: it replaces what the cache held of `kind`,
    /// except entries newer than anything listed (writes made while the list
    /// was in flight; the watch that follows will confirm or delete them).
    pub fn relist_done(&self, kind: Kind) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let listed = inner.relisting.remove(&kind).unwrap_or_default();
        let newest = listed
            .iter()
            .filter_map(|i| revision(&i.entry.version))
            .max()
            .unwrap_or(0);
        let mut keep = Vec::new();
        for (namespace, index) in &inner.namespaces {
            for id in index.ids(kind) {
                if let Some(entry) = index.entry(kind, &id)
                    && revision(&entry.version).is_some_and(|v| v > newest)
                {
                    keep.push(Incoming {
                        namespace: namespace.clone(),
                        id,
                        entry: entry.clone(),
                    });
                }
            }
        }
        for index in inner.namespaces.values_mut() {
            index.clear(kind);
        }
        let now = Instant::now();
        inner
            .tombstones
            .retain(|_, (_, at)| now.duration_since(*at) < TOMBSTONE_TTL);
        for incoming in listed.into_iter().chain(keep) {
            inner.upsert(kind, incoming);
        }
        inner.namespaces.retain(|_, index| !index.is_empty());
        let namespaces: Vec<String> = inner.namespaces.keys().cloned().collect();
        drop(inner);
        self.synced_flag(kind).store(true, Ordering::Release);
        for namespace in namespaces {
            self.changed(&namespace);
        }
    }
}

impl Inner {
    /// Whether the cache changed.
    fn upsert(&mut self, kind: Kind, incoming: Incoming) -> bool {
        let key = (kind, incoming.namespace, incoming.id);
        if let Some((deleted_at, _)) = self.tombstones.get(&key) {
            let newer = match (revision(&incoming.entry.version), deleted_at) {
                (Some(version), Some(deleted)) => version > *deleted,
                _ => false,
            };
            if !newer {
                return false;
            }
            self.tombstones.remove(&key);
        }
        let (_, namespace, id) = key;
        let index = self.namespaces.entry(namespace).or_default();
        if let Some(current) = index.entry(kind, &id)
            && (!not_older(&incoming.entry.version, &current.version)
                || current.version == incoming.entry.version)
        {
            return false;
        }
        index.insert(kind, &id, incoming.entry);
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(id: &str, name: &str, version: &str) -> Incoming {
        Incoming {
            namespace: "acme".into(),
            id: id.into(),
            entry: Entry {
                version: version.into(),
                resource: json!({"id": id, "userName": name}),
                generation: None,
            },
        }
    }

    fn user_name(cache: &Cache, id: &str) -> Option<String> {
        cache.read("acme", |i| {
            i.entry(Kind::User, id).map(|e| {
                e.resource["userName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
        })
    }

    #[test]
    fn a_late_watch_event_does_not_undo_a_newer_write() {
        let cache = Cache::default();
        cache.upsert(Kind::User, user("u1", "new", "20"));
        cache.upsert(Kind::User, user("u1", "old", "10"));
        assert_eq!(user_name(&cache, "u1").as_deref(), Some("new"));
        cache.upsert(Kind::User, user("u1", "newer", "30"));
        assert_eq!(user_name(&cache, "u1").as_deref(), Some("newer"));
    }

    #[test]
    fn a_deleted_object_is_not_resurrected_by_a_late_event() {
        let cache = Cache::default();
        cache.upsert(Kind::User, user("u1", "babs", "10"));
        cache.remove(Kind::User, "acme", "u1", Some("11"));
        cache.upsert(Kind::User, user("u1", "babs", "10"));
        assert_eq!(user_name(&cache, "u1"), None);
        assert!(!cache.read("acme", |i| i.user_named("babs").is_some()));
    }

    #[test]
    fn a_relist_drops_what_is_gone_and_keeps_newer_writes() {
        let cache = Cache::default();
        cache.upsert(Kind::User, user("gone", "gone", "5"));
        cache.upsert(Kind::User, user("fresh", "fresh", "50"));
        cache.relist_started(Kind::User);
        cache.relisted(Kind::User, user("kept", "kept", "40"));
        assert!(!cache.is_synced());
        cache.relist_done(Kind::User);
        assert_eq!(user_name(&cache, "gone"), None);
        assert_eq!(user_name(&cache, "kept").as_deref(), Some("kept"));
        assert_eq!(user_name(&cache, "fresh").as_deref(), Some("fresh"));
    }
}
