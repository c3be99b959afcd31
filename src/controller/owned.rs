//! The objects the controller made (bindings, directory ConfigMaps), indexed
//! by the tenant and group they were made for, and told apart from the echo
//! of our own writes.
//!
//! A watch event for a write of ours (a resourceVersion one of our writes
//! got back) is absorbed here: our own writes never trigger a reconcile.
//! Anyone else's change (an edit, a delete, one missed while the watch was
//! down) becomes a [`Touch`] naming the tenant and the group whose objects
//! to check again, so drift is repaired without a pass over the tenant.
//! This is the one place that tells ours from theirs; the directory's
//! summaries ([`super::shards`]) follow its verdict.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use kube::Resource;
use kube::runtime::watcher::Event;

use crate::meta::{DIRECTORY_LABEL, GROUP_LABEL, TENANT_LABEL};

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

/// Our writes of one object whose echo has not arrived are kept up to this
/// many (a write is echoed in milliseconds; more means the watch is far
/// behind, and the oldest are let go).
const PER_OBJECT: usize = 8;

/// One watch event, as [`Owned::observe`] files it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// What someone else changed, to check again now.
    pub touches: Vec<Touch>,
    /// Someone else's change, whether or not it names a tenant: what was
    /// known of the object's data is no longer current. Neither the echo of
    /// our write nor an event for an object whose write is still awaiting
    /// its answer (that answer decides, [`Owned::wrote`]).
    pub foreign: bool,
}

impl Observed {
    fn ours() -> Self {
        Self::default()
    }

    fn theirs(touch: Option<Touch>) -> Self {
        Observed {
            touches: touch.into_iter().collect(),
            foreign: true,
        }
    }
}

/// An object we are writing: what the watch showed of it meanwhile. Our
/// write makes one version, so the watch showed only ours if every event
/// had that one version.
#[derive(Default)]
struct Flight {
    /// The version every event showed, if there was an event.
    seen: Option<Option<String>>,
    /// Events showed different versions: some were someone else's.
    mixed: bool,
    /// What the object touches, from the last event.
    touch: Option<Touch>,
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
    /// The resourceVersions of our writes of an object (`None`: we deleted
    /// it), oldest first, until their watch events arrive: the next
    /// reconcile can write the object again before the last echo came.
    ours: HashMap<Key, VecDeque<Option<String>>>,
    /// Objects seen in the listing under way, per kind.
    relisting: HashMap<&'static str, HashSet<Key>>,
    /// What the listing under way found changed, per kind: given out when
    /// it is done, because the reflector's store shows a listing only then,
    /// and a reconcile started earlier would compare against the old one.
    held: HashMap<&'static str, Vec<Touch>>,
    /// Our writes sent and not yet answered, with the watch events seen for
    /// each meanwhile: under load the watch can deliver our own write before
    /// its answer says which version it made.
    in_flight: HashMap<Key, Flight>,
    /// Others' changes found once a write was answered, per tenant.
    late: Vec<Touch>,
}

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

    /// Whether an event for `key` at `version` is the echo of one of our
    /// writes; the watch delivers in order, so older ones will not come.
    fn echo(&mut self, key: &Key, version: Option<&str>) -> bool {
        let Some(wrote) = self.ours.get_mut(key) else {
            return false;
        };
        let Some(at) = wrote.iter().position(|v| v.as_deref() == version) else {
            return false;
        };
        wrote.drain(..=at);
        if wrote.is_empty() {
            self.ours.remove(key);
        }
        true
    }

    fn remember(&mut self, key: Key, version: Option<String>) {
        let wrote = self.ours.entry(key).or_default();
        if wrote.len() == PER_OBJECT {
            wrote.pop_front();
        }
        wrote.push_back(version);
    }

    /// Ends the flight of `key`, whose write made `ours` (`None`: it
    /// failed). Whether the watch showed nothing else meanwhile; if it did,
    /// what the object touches goes to `late`.
    fn land(&mut self, key: &Key, ours: Option<&Option<String>>) -> bool {
        let Some(flight) = self.in_flight.remove(key) else {
            return true;
        };
        let clean = !flight.mixed && flight.seen.as_ref().is_none_or(|seen| Some(seen) == ours);
        if let Some(touch) = flight.touch.filter(|_| !clean)
            && !self.late.contains(&touch)
        {
            self.late.push(touch);
        }
        clean
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

    /// Records our write of `key`, which the API server stored at
    /// `version`. Whether the watch showed nothing but ours while it was in
    /// flight (else what the answer holds may already be older than what
    /// someone else made of it, which [`Owned::take_late`] gives out).
    pub fn wrote(&self, key: Key, version: Option<String>) -> bool {
        let mut inner = self.lock();
        let echoed = inner
            .in_flight
            .get(&key)
            .is_some_and(|f| !f.mixed && f.seen.as_ref() == Some(&version));
        let clean = inner.land(&key, Some(&version));
        if !echoed {
            inner.remember(key, version);
        }
        clean
    }

    /// Records that we are about to write `key` (see [`Owned::wrote`]).
    pub fn writing(&self, key: Key) {
        self.lock().in_flight.insert(key, Flight::default());
    }

    /// Records that our write of `key` failed: a change seen meanwhile was
    /// someone else's.
    pub fn failed(&self, key: &Key) {
        self.lock().land(key, None);
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
        self.lock().remember(key, None);
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

    /// Files one watch event: what someone else changed.
    pub fn observe<K: Resource<DynamicType = ()>>(&self, event: &Event<K>) -> Observed {
        let mut inner = self.lock();
        match event {
            Event::Init => {
                inner.relisting.insert(kind_name::<K>(), HashSet::new());
                inner.held.insert(kind_name::<K>(), Vec::new());
                Observed::ours()
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
                if known || echo {
                    return Observed::ours();
                }
                let touched = touch(object);
                inner
                    .held
                    .entry(kind_name::<K>())
                    .or_default()
                    .extend(touched);
                // Foreign, but its touch waits for the listing's end.
                Observed {
                    touches: Vec::new(),
                    foreign: true,
                }
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
                Observed {
                    touches,
                    foreign: false,
                }
            }
            Event::Apply(object) => {
                let (key, _) = inner.file(object);
                let version = object.meta().resource_version.clone();
                if inner.echo(&key, version.as_deref()) {
                    Observed::ours()
                } else if let Some(flight) = inner.in_flight.get_mut(&key) {
                    // Ours or not: the answer to the write will tell.
                    flight.mixed |= flight.seen.as_ref().is_some_and(|seen| *seen != version);
                    flight.seen = Some(version);
                    flight.touch = touch(object);
                    Observed::ours()
                } else {
                    Observed::theirs(touch(object))
                }
            }
            Event::Delete(object) => {
                let key = key_of(object);
                inner.unfile(&key);
                let ours = inner.ours.remove(&key).is_some_and(|w| w.contains(&None));
                if ours {
                    Observed::ours()
                } else {
                    Observed::theirs(touch(object))
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
        assert!(owned.observe(&Event::Apply(rb.clone())).touches.is_empty());
        assert_eq!(owned.of_group("acme", "g1"), vec![key_of(&rb)]);
        // Someone edits it: the group is checked again.
        let edited = binding("b1", "g1", "6");
        assert_eq!(
            owned.observe(&Event::Apply(edited.clone())).touches,
            vec![group("g1")]
        );
        // Someone deletes it.
        assert_eq!(
            owned.observe(&Event::Delete(edited)).touches,
            vec![group("g1")]
        );
        assert!(owned.of_group("acme", "g1").is_empty());
        // We delete one: absorbed.
        let rb2 = binding("b2", "g2", "7");
        owned.observe(&Event::Apply(rb2.clone()));
        owned.deleted(key_of(&rb2));
        assert!(owned.observe(&Event::Delete(rb2)).touches.is_empty());
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
        let touches = owned.observe::<RoleBinding>(&Event::InitDone).touches;
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
            owned.observe(&Event::InitApply(edited)).touches.is_empty(),
            "held: the store does not show the listing yet"
        );
        assert_eq!(
            owned.observe::<RoleBinding>(&Event::InitDone).touches,
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
                .touches
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
                .touches
                .is_empty()
        );
        owned.failed(&key);
        assert_eq!(owned.take_late("acme"), vec![Scope::Group("g1".into())]);
        // Not in flight: a foreign edit touches at once, as before.
        assert_eq!(
            owned
                .observe(&Event::Apply(binding("b1", "g1", "7")))
                .touches,
            vec![group("g1")]
        );
    }

    #[test]
    fn every_echo_of_ours_is_ours_even_after_a_later_write() {
        let owned = Owned::default();
        let key = key_of(&binding("b1", "g1", "1"));
        // Two writes answered before either echo arrives.
        for version in ["5", "6"] {
            owned.writing(key.clone());
            assert!(owned.wrote(key.clone(), Some(version.into())));
        }
        for version in ["5", "6"] {
            let seen = owned.observe(&Event::Apply(binding("b1", "g1", version)));
            assert_eq!(seen, Observed::default(), "version {version} is ours");
        }
        // Once a later echo came, an earlier version is not ours any more.
        owned.writing(key.clone());
        assert!(owned.wrote(key.clone(), Some("8".into())));
        owned.observe(&Event::Apply(binding("b1", "g1", "8")));
        let replayed = owned.observe(&Event::Apply(binding("b1", "g1", "6")));
        assert!(replayed.foreign);
        assert_eq!(replayed.touches, vec![group("g1")]);
    }

    #[test]
    fn a_change_without_a_tenant_is_still_foreign() {
        let owned = Owned::default();
        let mut stray = binding("b1", "g1", "3");
        stray.metadata.labels = None;
        let seen = owned.observe(&Event::Apply(stray));
        assert!(seen.foreign && seen.touches.is_empty());
    }
}
