//! What the controller keeps of each binding it owns: its metadata, its role
//! and a digest of its subjects, never the subjects themselves. A tenant's
//! bindings list every member of every mapped group (at 100,000 users about
//! 100,000 subjects), which the controller only ever compares with what it
//! wants; the digest answers that as well as the list, in 32 bytes.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::watcher::Event;
use sha2::{Digest, Sha256};

/// A binding kind whose grants can be summarized.
pub trait Binding: Resource<DynamicType = ()> {
    fn role(&self) -> &RoleRef;
    fn subjects(&self) -> &[Subject];
}

impl Binding for RoleBinding {
    fn role(&self) -> &RoleRef {
        &self.role_ref
    }
    fn subjects(&self) -> &[Subject] {
        self.subjects.as_deref().unwrap_or_default()
    }
}

impl Binding for ClusterRoleBinding {
    fn role(&self) -> &RoleRef {
        &self.role_ref
    }
    fn subjects(&self) -> &[Subject] {
        self.subjects.as_deref().unwrap_or_default()
    }
}

/// SHA-256 of the subjects in order: someone who edits a binding cannot
/// make it compare equal to what we want while it grants something else.
pub fn subjects_digest(subjects: &[Subject]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for subject in subjects {
        // Length-prefixed fields: no two different lists hash alike by
        // moving text from one field to the next.
        for field in [
            subject.kind.as_str(),
            subject.name.as_str(),
            subject.api_group.as_deref().unwrap_or("\0none"),
            subject.namespace.as_deref().unwrap_or("\0none"),
        ] {
            hash.update((field.len() as u64).to_le_bytes());
            hash.update(field.as_bytes());
        }
    }
    hash.finalize().into()
}

/// A binding of kind `K` as the controller holds it.
pub struct Bound<K> {
    pub metadata: ObjectMeta,
    pub role: RoleRef,
    pub subjects: [u8; 32],
    kind: PhantomData<fn() -> K>,
}

impl<K: Binding> Bound<K> {
    pub fn of(mut object: K) -> Self {
        // Never read, and they repeat every subject with its manager's name.
        object.meta_mut().managed_fields = None;
        Bound {
            subjects: subjects_digest(object.subjects()),
            role: object.role().clone(),
            metadata: std::mem::take(object.meta_mut()),
            kind: PhantomData,
        }
    }

    /// Whether the binding grants exactly what `desired` grants.
    pub fn grants_as(&self, desired: &K) -> bool {
        self.role == *desired.role() && self.subjects == subjects_digest(desired.subjects())
    }
}

/// The watch's events, each binding summarized as it arrives: a listing
/// page is held in full only while it is read.
pub fn summarize<K: Binding>(event: Event<K>) -> Event<Bound<K>> {
    match event {
        Event::Apply(o) => Event::Apply(Bound::of(o)),
        Event::Delete(o) => Event::Delete(Bound::of(o)),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(Bound::of(o)),
        Event::InitDone => Event::InitDone,
    }
}

// By hand: derives would demand `K: Clone` / `K: Debug`.
impl<K> Clone for Bound<K> {
    fn clone(&self) -> Self {
        Bound {
            metadata: self.metadata.clone(),
            role: self.role.clone(),
            subjects: self.subjects,
            kind: PhantomData,
        }
    }
}

impl<K> fmt::Debug for Bound<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bound")
            .field("metadata", &self.metadata)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The same kind, group and path as `K`: a store of `Bound<K>` is keyed and
/// addressed like one of `K`.
impl<K: Resource<DynamicType = ()>> Resource for Bound<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(name: &str) -> Subject {
        Subject {
            kind: "User".into(),
            name: name.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            namespace: None,
        }
    }

    fn binding(role: &str, names: &[&str]) -> RoleBinding {
        RoleBinding {
            metadata: ObjectMeta {
                name: Some("b".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: role.into(),
            },
            subjects: Some(names.iter().map(|n| subject(n)).collect()),
        }
    }

    #[test]
    fn a_summary_matches_exactly_the_bindings_granting_the_same() {
        let held = Bound::of(binding("edit", &["ann", "bob"]));
        assert!(held.grants_as(&binding("edit", &["ann", "bob"])));
        assert!(!held.grants_as(&binding("view", &["ann", "bob"])));
        assert!(!held.grants_as(&binding("edit", &["ann"])));
        assert!(!held.grants_as(&binding("edit", &["bob", "ann"])));
        assert!(!held.grants_as(&binding("edit", &["ann", "bob", "eve"])));
        assert_eq!(held.metadata.name.as_deref(), Some("b"));
    }

    #[test]
    fn moving_text_between_fields_changes_the_digest() {
        let mut a = subject("ab");
        a.namespace = Some("c".into());
        let mut b = subject("a");
        b.namespace = Some("bc".into());
        assert_ne!(subjects_digest(&[a]), subjects_digest(&[b]));
        let mut none = subject("x");
        none.api_group = None;
        assert_ne!(subjects_digest(&[none]), subjects_digest(&[subject("x")]));
        // An absent list and an empty one grant the same: nothing.
        let mut empty = binding("edit", &[]);
        empty.subjects = None;
        assert!(Bound::of(empty).grants_as(&binding("edit", &[])));
    }
}
