//! The objects the controller made (bindings, directory ConfigMaps), indexed
//! by the tenant and group they were made for, and told apart from the echo
//! of our own writes.
//!
//! A watch event for a write of ours (the resourceVersion our write got
//! back) is absorbed here: our own writes never trigger a reconcile. Anyone
//! else's change (an edit, a delete, one missed while the watch was down)
//! becomes a [`Touch`] naming the tenant and the group whose objects to
//! check again, so drift is repaired without a pass over the tenant.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use kube::Resource;
use kube::runtime::watcher::Event;

use super::desired::{GROUP_LABEL, TENANT_LABEL};
use super::directory::DIRECTORY_LABEL;

/// One object: kind, namespace (none for cluster-scoped), name.
pub type Key = (&'static str, Option<String>, String);

/// What someone else changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    /// The tenant's name (from its ownerReference, else its label).
    pub tenant: String,
    pub scope: Scope,
}

/// Which of a tenant's objects a [`Touch`] concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The bindings made for one group (its label value).
    Group(String),
    /// The directory ConfigMaps.
    Directory,
    /// Something else of the tenant's: check everything.
    Tenant,
}

struct Seen {
    place: Option<(String, String)>,
    version: Option<String>,
    touch: Option<Touch>,
}

#[derive(Default)]
struct Inner {
    /// (tenant, group label) → the bindings made for that group.
    by_group: HashMap<(String, String), BTreeSet<Key>>,
    /// Every object seen: where it is filed, its last version, and what a
    /// change to it touches.
    seen: HashMap<Key, Seen>,
    /// The resourceVersion of our last write of an object (`None`: we
    /// deleted it), until its watch event arrives.
    ours: HashMap<Key, Option<String>>,
    /// Objects seen in the listing under way, per kind.
    relisting: HashMap<&'static str, HashSet<Key>>,
    /// What the listing under way found changed, per kind: given out when
    /// it is done, because the reflector's store shows a listing only then,
    /// and a reconcile started earlier would compare against the old one.
    held: HashMap<&'static str, Vec<Touch>>,
    /// Our writes sent and not yet answered, with the last watch event seen
    /// for each meanwhile (version, touch): under load the watch can deliver
    /// our own write before its answer says which version it made.
    in_flight: HashMap<Key, Option<Sighting>>,
    /// Others' changes found once a write was answered, per tenant.
    late: Vec<Touch>,
}

/// A watch event for an object we are writing: its version, and what it
/// touches if it is not ours.
type Sighting = (Option<String>, Option<Touch>);

/// The index; shared by the watches that feed it and the reconciles that
/// read it.
#[derive(Default)]
pub struct Owned(Mutex<Inner>);

/// The tenant an object was made for: its controller ownerReference, else
/// its tenant label.
pub fn tenant_of<K: Resource>(object: &K) -> Option<String> {
    let meta = object.meta();
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "ScimTenant" && o.api_version.starts_with(crate::crd::GROUP))
        .map(|o| o.name.clone())
        .or_else(|| meta.labels.as_ref()?.get(TENANT_LABEL).cloned())
}

fn key_of<K: Resource<DynamicType = ()>>(object: &K) -> Key {
    let meta = object.meta();
    (
        kind_name::<K>(),
        meta.namespace.clone(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// The kind's name, as a key part (leaked once per kind, so a `&'static str`).
pub fn kind_name<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()).as_ref() {
        "RoleBinding" => "RoleBinding",
        "ClusterRoleBinding" => "ClusterRoleBinding",
        "ConfigMap" => "ConfigMap",
        _ => "Other",
    }
}

fn scope_of<K: Resource>(object: &K) -> Scope {
    let labels = object.meta().labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k));
    if label(DIRECTORY_LABEL).is_some() {
        Scope::Directory
    } else if let Some(group) = label(GROUP_LABEL) {
        Scope::Group(group.clone())
    } else {
        Scope::Tenant
    }
}

impl Inner {
    /// Files `object`; returns its key and the version it had before.
    fn file<K: Resource<DynamicType = ()>>(&mut self, object: &K) -> (Key, Option<String>) {
        let key = key_of(object);
        let before = self.unfile(&key).and_then(|s| s.version);
        let touch = touch(object);
        let place = match &touch {
            Some(Touch {
                tenant,
                scope: Scope::Group(group),
            }) => Some((tenant.clone(), group.clone())),
            _ => None,
        };
        if let Some(place) = &place {
            self.by_group
                .entry(place.clone())
                .or_default()
                .insert(key.clone());
        }
        let version = object.meta().resource_version.clone();
        self.seen.insert(
            key.clone(),
            Seen {
                place,
                version,
                touch,
            },
        );
        (key, before)
    }

    fn unfile(&mut self, key: &Key) -> Option<Seen> {
        let seen = self.seen.remove(key)?;
        if let Some(place) = &seen.place
            && let Some(keys) = self.by_group.get_mut(place)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.by_group.remove(place);
            }
        }
        Some(seen)
    }

    /// Whether an event for `key` at `version` is the echo of our write.
    fn echo(&mut self, key: &Key, version: Option<&str>) -> bool {
        match self.ours.get(key) {
            Some(wrote) if wrote.as_deref() == version => {
                self.ours.remove(key);
                true
            }
            _ => false,
        }
    }
}

fn touch<K: Resource>(object: &K) -> Option<Touch> {
    Some(Touch {
        tenant: tenant_of(object)?,
        scope: scope_of(object),
    })
}

impl Owned {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records our write of `key`, which the API server stored at `version`.
    pub fn wrote(&self, key: Key, version: Option<String>) {
        let mut inner = self.lock();
        if let Some(Some((seen, touch))) = inner.in_flight.remove(&key) {
            if seen == version {
                // Its echo came before the answer: absorbed.
                return;
            }
            inner.late.extend(touch);
        }
        inner.ours.insert(key, version);
    }

    /// Records that we are about to write `key` (see [`Owned::wrote`]).
    pub fn writing(&self, key: Key) {
        self.lock().in_flight.insert(key, None);
    }

    /// Records that our write of `key` failed: a change seen meanwhile was
    /// someone else's.
    pub fn failed(&self, key: &Key) {
        let mut inner = self.lock();
        if let Some(Some((_, touch))) = inner.in_flight.remove(key) {
            inner.late.extend(touch);
        }
    }

    /// What others changed of `tenant` while our writes were in flight.
    pub fn take_late(&self, tenant: &str) -> Vec<Scope> {
        let mut inner = self.lock();
        let (mine, others): (Vec<Touch>, Vec<Touch>) =
            inner.late.drain(..).partition(|t| t.tenant == tenant);
        inner.late = others;
        mine.into_iter().map(|t| t.scope).collect()
    }

    /// Records that we deleted `key`.
    pub fn deleted(&self, key: Key) {
        self.lock().ours.insert(key, None);
    }

    /// The bindings made for one group of `tenant` (`group`: its label value).
    pub fn of_group(&self, tenant: &str, group: &str) -> Vec<Key> {
        self.lock()
            .by_group
            .get(&(tenant.to_owned(), group.to_owned()))
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The group labels `tenant` has bindings for.
    pub fn groups_of(&self, tenant: &str) -> Vec<String> {
        self.lock()
            .by_group
            .keys()
            .filter(|(t, _)| t == tenant)
            .map(|(_, g)| g.clone())
            .collect()
    }

    /// Files one watch event; returns what someone else changed.
    pub fn observe<K: Resource<DynamicType = ()>>(&self, event: &Event<K>) -> Vec<Touch> {
        let mut inner = self.lock();
        match event {
            Event::Init => {
                inner.relisting.insert(kind_name::<K>(), HashSet::new());
                inner.held.insert(kind_name::<K>(), Vec::new());
                Vec::new()
            }
            Event::InitApply(object) => {
                let (key, before) = inner.file(object);
                let version = object.meta().resource_version.as_deref();
                // Unchanged since we last saw it, or our own write.
                let known = before.as_deref() == version && version.is_some();
                let echo = inner.echo(&key, version);
                inner
                    .relisting
                    .entry(kind_name::<K>())
                    .or_default()
                    .insert(key);
                if !known && !echo {
                    let touched = touch(object);
                    inner
                        .held
                        .entry(kind_name::<K>())
                        .or_default()
                        .extend(touched);
                }
                Vec::new()
            }
            Event::InitDone => {
                // What the listing no longer has was deleted while the
                // watch was down.
                let kind = kind_name::<K>();
                let seen = inner.relisting.remove(kind).unwrap_or_default();
                let mut touches = inner.held.remove(kind).unwrap_or_default();
                let gone: Vec<Key> = inner
                    .seen
                    .keys()
                    .filter(|key| key.0 == kind && !seen.contains(*key))
                    .cloned()
                    .collect();
                for key in gone {
                    inner.ours.remove(&key);
                    touches.extend(inner.unfile(&key).and_then(|s| s.touch));
                }
                touches
            }
            Event::Apply(object) => {
                let (key, _) = inner.file(object);
                let version = object.meta().resource_version.clone();
                if inner.echo(&key, version.as_deref()) {
                    Vec::new()
                } else if let Some(held) = inner.in_flight.get_mut(&key) {
                    // Ours or not: the answer to the write will tell.
                    *held = Some((version, touch(object)));
                    Vec::new()
                } else {
                    touch(object).into_iter().collect()
                }
            }
            Event::Delete(object) => {
                let key = key_of(object);
                inner.unfile(&key);
                let ours = matches!(inner.ours.get(&key), Some(None));
                if ours {
                    inner.ours.remove(&key);
                    Vec::new()
                } else {
                    inner.ours.remove(&key);
                    touch(object).into_iter().collect()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::rbac::v1::RoleBinding;

    use super::*;

    fn binding(name: &str, group: &str, version: &str) -> RoleBinding {
        let mut binding = RoleBinding::default();
        binding.metadata.name = Some(name.into());
        binding.metadata.namespace = Some("team".into());
        binding.metadata.resource_version = Some(version.into());
        binding.metadata.labels = Some(BTreeMap::from([
            (TENANT_LABEL.to_owned(), "acme".to_owned()),
            (GROUP_LABEL.to_owned(), group.to_owned()),
        ]));
        binding
    }

    fn group(g: &str) -> Touch {
        Touch {
            tenant: "acme".into(),
            scope: Scope::Group(g.into()),
        }
    }

    #[test]
    fn our_writes_are_absorbed_and_others_touch_the_group() {
        let owned = Owned::default();
        let rb = binding("b1", "g1", "5");
        owned.wrote(key_of(&rb), Some("5".into()));
        assert!(owned.observe(&Event::Apply(rb.clone())).is_empty());
        assert_eq!(owned.of_group("acme", "g1"), vec![key_of(&rb)]);
        // Someone edits it: the group is checked again.
        let edited = binding("b1", "g1", "6");
        assert_eq!(
            owned.observe(&Event::Apply(edited.clone())),
            vec![group("g1")]
        );
        // Someone deletes it.
        assert_eq!(owned.observe(&Event::Delete(edited)), vec![group("g1")]);
        assert!(owned.of_group("acme", "g1").is_empty());
        // We delete one: absorbed.
        let rb2 = binding("b2", "g2", "7");
        owned.observe(&Event::Apply(rb2.clone()));
        owned.deleted(key_of(&rb2));
        assert!(owned.observe(&Event::Delete(rb2)).is_empty());
    }

    #[test]
    fn a_relist_reports_what_was_deleted_while_the_watch_was_down() {
        let owned = Owned::default();
        let (kept, gone) = (binding("b1", "g1", "5"), binding("b2", "g2", "6"));
        owned.wrote(key_of(&kept), Some("5".into()));
        owned.wrote(key_of(&gone), Some("6".into()));
        owned.observe(&Event::Apply(kept.clone()));
        owned.observe(&Event::Apply(gone));
        owned.observe::<RoleBinding>(&Event::Init);
        owned.observe(&Event::InitApply(kept));
        let touches = owned.observe::<RoleBinding>(&Event::InitDone);
        assert_eq!(touches, vec![group("g2")]);
        assert_eq!(owned.groups_of("acme"), vec!["g1".to_owned()]);
    }

    #[test]
    fn what_a_relist_finds_changed_is_given_out_when_the_listing_is_done() {
        let owned = Owned::default();
        let ours = binding("b1", "g1", "5");
        owned.wrote(key_of(&ours), Some("5".into()));
        owned.observe(&Event::Apply(ours));
        owned.observe::<RoleBinding>(&Event::Init);
        // Edited by someone while the watch was down.
        let edited = binding("b1", "g1", "9");
        assert!(
            owned.observe(&Event::InitApply(edited)).is_empty(),
            "held: the store does not show the listing yet"
        );
        assert_eq!(
            owned.observe::<RoleBinding>(&Event::InitDone),
            vec![group("g1")]
        );
    }

    #[test]
    fn an_echo_before_the_answer_is_ours_and_a_foreign_edit_meanwhile_is_not() {
        let owned = Owned::default();
        let key = key_of(&binding("b1", "g1", "1"));
        // Our write's echo arrives before its answer.
        owned.writing(key.clone());
        assert!(
            owned
                .observe(&Event::Apply(binding("b1", "g1", "5")))
                .is_empty()
        );
        owned.wrote(key.clone(), Some("5".into()));
        assert!(owned.take_late("acme").is_empty(), "our own write");
        // Someone else's edit lands while our next write is in flight, and
        // ours fails: theirs is looked at.
        owned.writing(key.clone());
        assert!(
            owned
                .observe(&Event::Apply(binding("b1", "g1", "6")))
                .is_empty()
        );
        owned.failed(&key);
        assert_eq!(owned.take_late("acme"), vec![Scope::Group("g1".into())]);
        // Not in flight: a foreign edit touches at once, as before.
        assert_eq!(
            owned.observe(&Event::Apply(binding("b1", "g1", "7"))),
            vec![group("g1")]
        );
    }
}
