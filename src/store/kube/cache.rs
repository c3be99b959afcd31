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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
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

/// Users and groups of every namespace, each namespace under a lock of its
/// own: one tenant's long list or filter never holds up another tenant's
/// reads or writes.
pub struct Cache {
    shards: RwLock<HashMap<String, Arc<RwLock<Shard>>>>,
    /// Objects listed since the last watch restart, per kind (only the
    /// watch of that kind touches its entry).
    relisting: Mutex<HashMap<Kind, Vec<Incoming>>>,
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
            shards: RwLock::default(),
            relisting: Mutex::default(),
            users_synced: AtomicBool::new(false),
            groups_synced: AtomicBool::new(false),
            changes: broadcast::channel(4096).0,
        }
    }
}

/// One namespace: its index and the tombstones of its deleted objects.
#[derive(Default)]
struct Shard {
    index: Index,
    tombstones: HashMap<(Kind, String), (Option<u64>, Instant)>,
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

    fn shard(&self, namespace: &str) -> Option<Arc<RwLock<Shard>>> {
        let shards = self.shards.read().unwrap_or_else(|e| e.into_inner());
        shards.get(namespace).cloned()
    }

    fn shard_or_new(&self, namespace: &str) -> Arc<RwLock<Shard>> {
        if let Some(shard) = self.shard(namespace) {
            return shard;
        }
        let mut shards = self.shards.write().unwrap_or_else(|e| e.into_inner());
        shards.entry(namespace.to_owned()).or_default().clone()
    }

    /// Runs `read` on one namespace's index (an empty one if none is cached).
    pub fn read<T>(&self, namespace: &str, read: impl FnOnce(&Index) -> T) -> T {
        match self.shard(namespace) {
            Some(shard) => read(&shard.read().unwrap_or_else(|e| e.into_inner()).index),
            None => read(&Index::default()),
        }
    }

    /// Records a resource this process wrote or the watch reported, unless the
    /// cache already holds something newer or the resource was deleted.
    pub fn upsert(&self, kind: Kind, incoming: Incoming) {
        let namespace = incoming.namespace.clone();
        let shard = self.shard_or_new(&namespace);
        let changed = shard.write().unwrap_or_else(|e| e.into_inner()).upsert(
            kind,
            incoming.id,
            incoming.entry,
        );
        if changed {
            self.changed(&namespace);
        }
    }

    /// Records a delete at `version` (the deleted object's last resourceVersion).
    pub fn remove(&self, kind: Kind, namespace: &str, id: &str, version: Option<&str>) {
        let shard = self.shard_or_new(namespace);
        {
            let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
            shard.tombstones.insert(
                (kind, id.to_owned()),
                (version.and_then(revision), Instant::now()),
            );
            shard.index.remove(kind, id);
        }
        self.changed(namespace);
    }

    /// A delete the watch reported: the object is gone for good.
    pub fn watched_delete(&self, kind: Kind, namespace: &str, id: &str) {
        let Some(shard) = self.shard(namespace) else {
            return;
        };
        let removed = {
            let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
            shard.tombstones.remove(&(kind, id.to_owned()));
            shard.index.remove(kind, id).is_some()
        };
        if removed {
            self.changed(namespace);
        }
    }

    /// The watch (re)started listing every object of `kind`.
    pub fn relist_started(&self, kind: Kind) {
        let mut relisting = self.relisting.lock().unwrap_or_else(|e| e.into_inner());
        relisting.insert(kind, Vec::new());
    }

    /// One object of the listing.
    pub fn relisted(&self, kind: Kind, incoming: Incoming) {
        let mut relisting = self.relisting.lock().unwrap_or_else(|e| e.into_inner());
        relisting.entry(kind).or_default().push(incoming);
    }

    /// The listing is complete: it replaces what the cache held of `kind`,
    /// except entries newer than anything listed (writes made while the list
    /// was in flight; the watch that follows will confirm or delete them).
    /// Each namespace is replaced under its own lock.
    pub fn relist_done(&self, kind: Kind) {
        let listed = self
            .relisting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&kind)
            .unwrap_or_default();
        let newest = listed
            .iter()
            .filter_map(|i| revision(&i.entry.version))
            .max()
            .unwrap_or(0);
        let mut by_namespace: HashMap<String, Vec<(String, Entry)>> = HashMap::new();
        for incoming in listed {
            by_namespace
                .entry(incoming.namespace)
                .or_default()
                .push((incoming.id, incoming.entry));
        }
        let mut namespaces: Vec<String> = {
            let shards = self.shards.read().unwrap_or_else(|e| e.into_inner());
            shards.keys().cloned().collect()
        };
        namespaces.extend(by_namespace.keys().cloned());
        namespaces.sort();
        namespaces.dedup();
        let now = Instant::now();
        for namespace in &namespaces {
            let shard = self.shard_or_new(namespace);
            let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
            let keep: Vec<(String, Entry)> = shard
                .index
                .ids(kind)
                .into_iter()
                .filter_map(|id| {
                    let entry = shard.index.entry(kind, &id)?;
                    revision(&entry.version)
                        .is_some_and(|v| v > newest)
                        .then(|| (id, entry.clone()))
                })
                .collect();
            shard.index.clear(kind);
            shard
                .tombstones
                .retain(|_, (_, at)| now.duration_since(*at) < TOMBSTONE_TTL);
            let listed = by_namespace.remove(namespace).unwrap_or_default();
            for (id, entry) in listed.into_iter().chain(keep) {
                shard.upsert(kind, id, entry);
            }
        }
        // Namespaces left with nothing go (their lock with them), unless a
        // writer holds the shard right now: its write must not be lost.
        self.shards
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, shard| {
                Arc::strong_count(shard) > 1 || {
                    let shard = shard.read().unwrap_or_else(|e| e.into_inner());
                    !shard.index.is_empty() || !shard.tombstones.is_empty()
                }
            });
        self.synced_flag(kind).store(true, Ordering::Release);
        for namespace in namespaces {
            self.changed(&namespace);
        }
    }
}

impl Shard {
    /// Whether the cache changed.
    fn upsert(&mut self, kind: Kind, id: String, entry: Entry) -> bool {
        let key = (kind, id);
        if let Some((deleted_at, _)) = self.tombstones.get(&key) {
            let newer = match (revision(&entry.version), deleted_at) {
                (Some(version), Some(deleted)) => version > *deleted,
                _ => false,
            };
            if !newer {
                return false;
            }
            self.tombstones.remove(&key);
        }
        let (_, id) = key;
        if let Some(current) = self.index.entry(kind, &id)
            && (!not_older(&entry.version, &current.version) || current.version == entry.version)
        {
            return false;
        }
        self.index.insert(kind, &id, entry);
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
                tenant_uid: None,
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
    fn a_long_read_of_one_namespace_does_not_hold_up_another() {
        let cache = std::sync::Arc::new(Cache::default());
        cache.upsert(Kind::User, user("u1", "ann", "1"));
        let (reading, release) = (
            std::sync::mpsc::channel::<()>(),
            std::sync::mpsc::channel::<()>(),
        );
        let (reading_tx, reading_rx) = reading;
        let (release_tx, release_rx) = release;
        let reader = {
            let cache = cache.clone();
            std::thread::spawn(move || {
                cache.read("acme", |_| {
                    reading_tx.send(()).expect("signal");
                    // Holds acme's lock until told to let go.
                    release_rx
                        .recv_timeout(Duration::from_secs(10))
                        .expect("released");
                })
            })
        };
        reading_rx.recv().expect("reader started");
        // Another tenant's write and read go through while acme is held.
        let other = Incoming {
            namespace: "globex".into(),
            ..user("g1", "gus", "2")
        };
        cache.upsert(Kind::User, other);
        assert!(cache.read("globex", |i| i.user_named("gus").is_some()));
        release_tx.send(()).expect("release");
        reader.join().expect("reader");
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
