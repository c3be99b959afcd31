//! What the controller knows of the data of the directory ConfigMaps it
//! owns, without holding that data: per ConfigMap a [`Summary`] (the
//! resourceVersion it describes, the total data bytes, a 64-bit hash and the
//! length of each value, and the manifest's text).
//!
//! The watch of owned ConfigMaps is metadata-only, so a summary is filled
//! from the full object the API server returns to our own writes, or from a
//! GET when there is none. Someone else's change to a ConfigMap (as
//! [`super::owned::Owned`], which alone tells our echoes from others'
//! changes, finds it) makes its summary go, so it is read again before it
//! is trusted; so does a write during which the watch showed someone else's
//! change ([`super::owned::Owned::wrote`]).
//!
//! A write or read races the watch: its answer may land after the event of
//! a later change by someone else. Every such event advances a counter; an
//! answer is kept only if the counter has not moved since the call began
//! ([`Shards::mark`]), so a summary never describes less than the watch
//! has already shown.
//!
//! Bounded: one summary per directory ConfigMap that exists; a deleted one
//! (watch event, our own delete, gone from a relist) and a deleted tenant's
//! are forgotten.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, LazyLock, Mutex};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::Event;

use super::directory::MANIFEST_KEY;

/// Keys of the hashes: random per process, so no one can choose a value
/// that collides with another.
static HASHER: LazyLock<RandomState> = LazyLock::new(RandomState::new);

fn hash(text: &str) -> u64 {
    HASHER.hash_one(text)
}

/// One ConfigMap: namespace, name.
pub type Key = (String, String);

/// The data of one ConfigMap at one resourceVersion, without the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    version: Option<String>,
    /// Labels, annotations and owner references, to compare with what we want.
    meta: ObjectMeta,
    /// Keys plus values, in bytes (what [`super::directory::SHARD_BUDGET`] bounds).
    bytes: usize,
    /// Hash of each key → hash and length of its value.
    values: HashMap<u64, (u64, usize)>,
    /// The manifest's text, if the ConfigMap has one (only the main one; small).
    manifest: Option<String>,
}

impl Summary {
    pub fn of(config_map: &ConfigMap) -> Summary {
        let meta = &config_map.metadata;
        let data = config_map.data.iter().flatten();
        Summary {
            version: meta.resource_version.clone(),
            meta: ObjectMeta {
                labels: meta.labels.clone(),
                annotations: meta.annotations.clone(),
                owner_references: meta.owner_references.clone(),
                ..ObjectMeta::default()
            },
            bytes: data.clone().map(|(k, v)| k.len() + v.len()).sum(),
            values: data.map(|(k, v)| (hash(k), (hash(v), v.len()))).collect(),
            manifest: config_map
                .data
                .as_ref()
                .and_then(|d| d.get(MANIFEST_KEY).cloned()),
        }
    }

    /// The resourceVersion described.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn manifest(&self) -> Option<&str> {
        self.manifest.as_deref()
    }

    /// The length of the value under `key`, if there is one.
    pub fn len_of(&self, key: &str) -> Option<usize> {
        self.values.get(&hash(key)).map(|(_, len)| *len)
    }

    /// Whether `key` holds `value` (`None`: `key` is absent).
    pub fn holds(&self, key: &str, value: Option<&str>) -> bool {
        let current = self.values.get(&hash(key));
        match value {
            None => current.is_none(),
            Some(value) => current == Some(&(hash(value), value.len())),
        }
    }

    /// Whether the ConfigMap already is `desired`: its metadata carries what
    /// `desired` says, and its data has exactly `desired`'s keys and values.
    pub fn describes(&self, desired: &ConfigMap) -> bool {
        let empty = BTreeMap::new();
        let data = desired.data.as_ref().unwrap_or(&empty);
        super::apply::metadata_matches(&self.meta, &desired.metadata)
            && data.len() == self.values.len()
            && data.iter().all(|(k, v)| self.holds(k, Some(v)))
    }
}

#[derive(Default)]
struct Inner {
    summaries: HashMap<Key, Arc<Summary>>,
    /// Changes by someone else the watch has shown.
    foreign: u64,
    /// ConfigMaps seen in the relist under way.
    relisting: Option<HashSet<Key>>,
}

/// The summaries; shared by the watch that invalidates them and the
/// reconciles that fill and read them.
#[derive(Default)]
pub struct Shards(Mutex<Inner>);

fn key_of(meta: &ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl Shards {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Taken before a write or read whose answer is then [`Shards::record`]ed.
    pub fn mark(&self) -> u64 {
        self.lock().foreign
    }

    /// The summary of `namespace/name`, if one is known to be current.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Summary>> {
        self.lock()
            .summaries
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Summarizes a ConfigMap the API server returned (to a write or read
    /// begun at `mark`). It is kept unless the watch showed someone else's
    /// change meanwhile; it is returned either way (it describes that answer).
    pub fn record(&self, config_map: &ConfigMap, mark: u64) -> Arc<Summary> {
        let summary = Arc::new(Summary::of(config_map));
        let key = key_of(&config_map.metadata);
        let mut inner = self.lock();
        if inner.foreign == mark {
            inner.summaries.insert(key, summary.clone());
        } else {
            inner.summaries.remove(&key);
        }
        summary
    }

    /// Forgets `namespace/name` (we deleted it, or it is not where we thought).
    pub fn forget(&self, namespace: &str, name: &str) {
        self.lock()
            .summaries
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// Forgets the ConfigMaps of `namespace` named `prefix…` (a tenant's).
    pub fn forget_prefixed(&self, namespace: &str, prefix: &str) {
        self.lock()
            .summaries
            .retain(|(ns, name), _| ns != namespace || !name.starts_with(prefix));
    }

    /// How many summaries are kept.
    pub fn len(&self) -> usize {
        self.lock().summaries.len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Files one event of the metadata watch; `foreign`: it is not the echo
    /// of our own write (as [`super::owned::Owned::observe`] found).
    pub fn observe(&self, event: &Event<PartialObjectMeta<ConfigMap>>, foreign: bool) {
        let mut inner = self.lock();
        match event {
            Event::Init => inner.relisting = Some(HashSet::new()),
            Event::InitApply(object) | Event::Apply(object) => {
                let key = key_of(&object.metadata);
                if let (Event::InitApply(_), Some(seen)) = (event, inner.relisting.as_mut()) {
                    seen.insert(key.clone());
                }
                // Our own write's echo (even one older than the summary,
                // or one come before the answer that fills it) leaves the
                // summary be; `Owned` tells them apart.
                if foreign {
                    inner.foreign += 1;
                    inner.summaries.remove(&key);
                }
            }
            Event::InitDone => {
                let seen = inner.relisting.take().unwrap_or_default();
                let before = inner.summaries.len();
                inner.summaries.retain(|key, _| seen.contains(key));
                if inner.summaries.len() != before {
                    inner.foreign += 1;
                }
            }
            Event::Delete(object) => {
                inner.foreign += 1;
                inner.summaries.remove(&key_of(&object.metadata));
            }
        }
    }
}

#[cfg(test)]
mod tests;
