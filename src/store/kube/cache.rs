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

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::store::Kind;
use crate::store::index::{Entry, Index, Touched};

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
    /// The relist under way, per kind (only the watch of that kind touches
    /// its entry).
    relisting: Mutex<HashMap<Kind, Relist>>,
    /// The mark of the last relist started.
    epoch: AtomicU32,
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
            epoch: AtomicU32::new(0),
            users_synced: AtomicBool::new(false),
            groups_synced: AtomicBool::new(false),
            changes: broadcast::channel(4096).0,
        }
    }
}

/// A relist: listed objects go straight into the index, marked with its
/// epoch; when it is done, what it did not list goes.
struct Relist {
    epoch: u32,
    /// The newest resourceVersion listed.
    newest: u64,
}

/// One namespace: its index, the tombstones of its deleted objects and
/// what changed since the controller last looked.
#[derive(Default)]
struct Shard {
    index: Index,
    tombstones: HashMap<(Kind, String), (Option<u64>, Instant)>,
    journal: Changes,
}

/// Most bytes one namespace's [`Changes`] hold; past it they say only
/// "everything" ([`Changes::full`]). Nothing drains them on a replica that
/// is not the leader.
pub const JOURNAL_BYTES: usize = 4 << 20;

/// What changed in one namespace since the controller last took it: sets,
/// so a burst of changes to one object is one entry.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    /// Users created, changed or deleted.
    pub users: BTreeSet<String>,
    /// Groups created, changed or deleted.
    pub groups: BTreeSet<String>,
    /// Users added to or removed from some group's members.
    pub members: BTreeSet<String>,
    /// displayNames some group had or took (renames, creates, deletes).
    pub names: BTreeSet<String>,
    /// Everything may have changed (a relist, or more changes than
    /// [`JOURNAL_BYTES`]): the sets are empty and mean nothing.
    pub full: bool,
    bytes: usize,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.full
            && self.users.is_empty()
            && self.groups.is_empty()
            && self.members.is_empty()
            && self.names.is_empty()
    }

    /// Everything may have changed.
    pub fn everything() -> Self {
        Self {
            full: true,
            ..Self::default()
        }
    }

    fn record(&mut self, kind: Kind, id: &str, touched: Touched) {
        if self.full {
            return;
        }
        let set = match kind {
            Kind::User => &mut self.users,
            Kind::Group => &mut self.groups,
        };
        let mut bytes = 0;
        // A set entry costs its text and about 48 bytes of bookkeeping.
        let mut add = |set: &mut BTreeSet<String>, value: String| {
            let len = value.len() + 48;
            if set.insert(value) {
                bytes += len;
            }
        };
        add(set, id.to_owned());
        for member in touched.members {
            add(&mut self.members, member);
        }
        for name in touched.names {
            add(&mut self.names, name);
        }
        self.bytes += bytes;
        if self.bytes > JOURNAL_BYTES {
            *self = Self::everything();
        }
    }
}

pub fn revision(version: &str) -> Option<u64> {
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

    /// What changed in `namespace` since the last call: the controller's
    /// work list.
    pub fn take_changes(&self, namespace: &str) -> Changes {
        match self.shard(namespace) {
            Some(shard) => {
                std::mem::take(&mut shard.write().unwrap_or_else(|e| e.into_inner()).journal)
            }
            None => Changes::default(),
        }
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

    /// As [`Cache::upsert`], for an object the cache holds only: a newer
    /// copy of it (the answer to a status write) must not bring back an
    /// object deleted while the write was under way.
    pub fn refresh(&self, kind: Kind, incoming: Incoming) {
        let namespace = incoming.namespace.clone();
        let Some(shard) = self.shard(&namespace) else {
            return;
        };
        let changed = {
            let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
            if shard.index.entry(kind, &incoming.id).is_none() {
                return;
            }
            shard.upsert(kind, incoming.id, incoming.entry)
        };
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
            shard.forget(kind, id);
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
            shard.forget(kind, id)
        };
        if removed {
            self.changed(namespace);
        }
    }

    /// The watch (re)started listing every object of `kind`.
    pub fn relist_started(&self, kind: Kind) {
        let epoch = self.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        let mut relisting = self.relisting.lock().unwrap_or_else(|e| e.into_inner());
        relisting.insert(kind, Relist { epoch, newest: 0 });
    }

    /// One object of the listing: applied at once (readers see it, or what
    /// the cache holds that is newer), and marked as listed.
    pub fn relisted(&self, kind: Kind, incoming: Incoming) {
        let epoch = {
            let mut relisting = self.relisting.lock().unwrap_or_else(|e| e.into_inner());
            relisting.get_mut(&kind).map(|relist| {
                let version = revision(&incoming.entry.version).unwrap_or(0);
                relist.newest = relist.newest.max(version);
                relist.epoch
            })
        };
        let shard = self.shard_or_new(&incoming.namespace);
        let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
        let id = incoming.id.clone();
        // The journal goes to "everything" when the relist is done.
        shard.apply(kind, incoming.id, incoming.entry, false);
        if let Some(epoch) = epoch {
            shard.index.mark(kind, &id, epoch);
        }
    }

    /// The listing is complete: what the cache holds of `kind` and the
    /// listing did not name goes, except entries newer than anything listed
    /// (writes made while the list was in flight; the watch that follows will
    /// confirm or delete them). Each namespace is swept under its own lock.
    pub fn relist_done(&self, kind: Kind) {
        let relist = self
            .relisting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&kind);
        let (epoch, newest) = relist.map_or((0, 0), |r| (r.epoch, r.newest));
        let namespaces: Vec<(String, Arc<RwLock<Shard>>)> = {
            let shards = self.shards.read().unwrap_or_else(|e| e.into_inner());
            shards.iter().map(|(n, s)| (n.clone(), s.clone())).collect()
        };
        let now = Instant::now();
        for (_, shard) in &namespaces {
            let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
            shard.index.sweep(kind, epoch, |version| {
                revision(version).is_some_and(|v| v > newest)
            });
            // The controller goes over the whole namespace again.
            shard.journal = Changes::everything();
            shard
                .tombstones
                .retain(|_, (_, at)| now.duration_since(*at) < TOMBSTONE_TTL);
        }
        let namespaces: Vec<String> = namespaces.into_iter().map(|(n, _)| n).collect();
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
    /// Whether the cache changed in a way the controller must look at.
    fn upsert(&mut self, kind: Kind, id: String, entry: Entry) -> bool {
        self.apply(kind, id, entry, true)
    }

    /// As [`Shard::upsert`]; `journal` says whether to record the change.
    fn apply(&mut self, kind: Kind, id: String, entry: Entry, journal: bool) -> bool {
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
            && (!not_older(&entry.version, current.version) || current.version == entry.version)
        {
            return false;
        }
        // A write of the status alone (the controller's own) keeps the
        // generation: nothing for the controller to look at again.
        let same_spec = self.index.entry(kind, &id).is_some_and(|current| {
            current.generation.is_some()
                && current.generation == entry.generation
                && current.tenant_uid == entry.tenant_uid.as_deref()
        });
        let touched = self.index.insert(kind, &id, entry);
        if same_spec {
            return false;
        }
        if journal {
            self.journal.record(kind, &id, touched);
        }
        true
    }

    /// Removes an object; whether it was there.
    fn forget(&mut self, kind: Kind, id: &str) -> bool {
        match self.index.remove(kind, id) {
            Some((_, touched)) => {
                self.journal.record(kind, id, touched);
                true
            }
            None => false,
        }
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
                status: None,
            },
        }
    }

    fn user_name(cache: &Cache, id: &str) -> Option<String> {
        cache.read("acme", |i| i.user(id).map(|u| u.user_name.to_owned()))
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
    fn a_status_answer_refreshes_but_never_brings_back_a_deleted_object() {
        let cache = Cache::default();
        cache.upsert(Kind::User, user("u1", "babs", "10"));
        cache.refresh(Kind::User, user("u1", "babs", "12"));
        assert_eq!(
            cache.read("acme", |i| i
                .entry(Kind::User, "u1")
                .map(|e| e.version.to_owned())),
            Some("12".to_owned())
        );
        // Deleted (as known at 12) while a status write was answered at 13.
        cache.remove(Kind::User, "acme", "u1", Some("12"));
        cache.refresh(Kind::User, user("u1", "babs", "13"));
        assert_eq!(user_name(&cache, "u1"), None);
        cache.refresh(Kind::User, user("u2", "cy", "14"));
        assert_eq!(user_name(&cache, "u2"), None, "refresh never inserts");
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

    #[test]
    fn a_relist_applies_what_it_lists_at_once_and_drops_only_when_done() {
        let cache = Cache::default();
        cache.upsert(Kind::User, user("gone", "gone", "5"));
        cache.upsert(Kind::User, user("kept", "old", "6"));
        cache.relist_started(Kind::User);
        cache.relisted(Kind::User, user("kept", "new", "7"));
        cache.relisted(Kind::User, user("added", "added", "8"));
        // Readers see the listing as it comes, and nothing has gone yet.
        assert_eq!(user_name(&cache, "kept").as_deref(), Some("new"));
        assert_eq!(user_name(&cache, "added").as_deref(), Some("added"));
        assert_eq!(user_name(&cache, "gone").as_deref(), Some("gone"));
        cache.relist_done(Kind::User);
        assert_eq!(user_name(&cache, "gone"), None);
        assert!(!cache.read("acme", |i| i.user_named("gone").is_some()));
        // A relist that lists acme's users no more empties the namespace.
        cache.relist_started(Kind::User);
        let elsewhere = Incoming {
            namespace: "globex".into(),
            ..user("g1", "gus", "10")
        };
        cache.relisted(Kind::User, elsewhere);
        cache.relist_done(Kind::User);
        assert_eq!(cache.read("acme", |i| i.count(Kind::User)), 0);
        assert!(cache.shard("acme").is_none(), "the empty namespace goes");
        assert!(cache.read("globex", |i| i.user_named("gus").is_some()));
    }

    fn group(id: &str, name: &str, members: &[&str], version: &str) -> Incoming {
        let members: Vec<_> = members.iter().map(|m| json!({"value": m})).collect();
        Incoming {
            namespace: "acme".into(),
            id: id.into(),
            entry: Entry {
                version: version.into(),
                resource: json!({"id": id, "displayName": name, "members": members}),
                generation: None,
                tenant_uid: None,
                status: None,
            },
        }
    }

    #[test]
    fn the_journal_says_what_changed_and_nothing_more() {
        let cache = Cache::default();
        cache.upsert(Kind::User, user("u1", "ann", "1"));
        cache.upsert(Kind::Group, group("g1", "Dev", &["u1", "u2"], "2"));
        let first = cache.take_changes("acme");
        assert_eq!(first.users, BTreeSet::from(["u1".to_owned()]));
        assert_eq!(first.groups, BTreeSet::from(["g1".to_owned()]));
        assert_eq!(first.members.len(), 2);
        assert_eq!(first.names, BTreeSet::from(["Dev".to_owned()]));
        assert!(cache.take_changes("acme").is_empty(), "taken once");

        // One member out, one in; the name stays: only those two users.
        cache.upsert(Kind::Group, group("g1", "Dev", &["u1", "u3"], "3"));
        let change = cache.take_changes("acme");
        assert_eq!(
            change.members,
            BTreeSet::from(["u2".to_owned(), "u3".to_owned()])
        );
        assert!(change.names.is_empty() && change.users.is_empty());

        // A rename names both the old and the new displayName.
        cache.upsert(Kind::Group, group("g1", "Ops", &["u1", "u3"], "4"));
        let change = cache.take_changes("acme");
        assert_eq!(
            change.names,
            BTreeSet::from(["Dev".to_owned(), "Ops".to_owned()])
        );
        assert!(change.members.is_empty());

        cache.remove(Kind::Group, "acme", "g1", Some("5"));
        let change = cache.take_changes("acme");
        assert_eq!(change.groups, BTreeSet::from(["g1".to_owned()]));
        assert_eq!(change.names, BTreeSet::from(["Ops".to_owned()]));
    }

    #[test]
    fn the_journal_is_bounded_and_a_relist_means_everything() {
        let cache = Cache::default();
        let id = "x".repeat(1000);
        for n in 1..=10_000 {
            cache.upsert(
                Kind::User,
                user(&format!("{id}{n}"), &format!("u{n}"), &n.to_string()),
            );
        }
        // 10,000 ids of ~1 KB are past the budget: it says only "everything".
        let changes = cache.take_changes("acme");
        assert!(changes.full && changes.users.is_empty());

        cache.upsert(Kind::User, user("u1", "ann", "20000"));
        cache.relist_started(Kind::User);
        cache.relisted(Kind::User, user("u1", "ann", "20000"));
        cache.relist_done(Kind::User);
        assert!(cache.take_changes("acme").full);
    }
}
