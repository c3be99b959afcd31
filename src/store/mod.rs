//! Where SCIM resources live. The HTTP layer talks to a [`Store`]; the protocol
//! layer decides what to write, the store only keeps it, consistently.
//!
//! The trait is shaped for a store that is remote and can fail: every call is
//! async and fallible, writes use optimistic concurrency (`version`), and
//! read-modify-write goes through [`Store::update`] so that the store, not the
//! caller, retries on a concurrent change by re-running the pure update on the
//! fresh resource. That is what keeps concurrent member PATCHes from losing
//! each other's members.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry` and its own layer; must not
//! import `controller`, `http`, `console`, `leader`, `operator`, `serve`,
//! `cli`, `token_admin`, `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

/// The per-tenant index (read by the console through the Kubernetes store's cache).
pub mod index;
pub mod kube;
mod memory;

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::list::Window;
use crate::scim::schema::{GROUP_RESOURCE, ResourceTypeDef, USER_RESOURCE};

pub use memory::MemoryStore;

/// The two SCIM resource types scimitar serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    /// The resource type definition (schemas and attribute characteristics).
    pub fn resource_type(self) -> &'static ResourceTypeDef {
        match self {
            Kind::User => &USER_RESOURCE,
            Kind::Group => &GROUP_RESOURCE,
        }
    }

    /// `User` or `Group`, as in `meta.resourceType`.
    pub fn name(self) -> &'static str {
        self.resource_type().name
    }
}

/// A resource as stored: the full SCIM JSON including `id` and `meta`
/// (`resourceType`, `created`, `lastModified`, `version`). `meta.location` and
/// member `$ref`s depend on the request's base URL and are added on the way out.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The SCIM `id`.
    pub id: String,
    /// Opaque SCIM version; `meta.version` is the weak ETag `W/"<version>"`.
    /// It changes when the resource does, and only then (see [`scim_version`]).
    pub version: String,
    /// The backend's own revision, for optimistic writes; it also moves when
    /// only bookkeeping (a status) changed, so clients never see it.
    pub revision: String,
    /// The resource.
    pub resource: Value,
}

/// The SCIM version of an object at `revision` and `generation`. Kubernetes
/// bumps `generation` only when the spec changes, while the resourceVersion
/// also moves on status writes by the controller; an ETag built from it would
/// go stale under a client that did nothing (its next If-Match gets 412).
/// Without a generation (the memory store), the revision is the version.
pub fn scim_version(revision: &str, generation: Option<i64>) -> String {
    generation.map_or_else(|| revision.to_owned(), |g| g.to_string())
}

/// The weak ETag for a version (RFC 7644 §3.14).
pub fn etag(version: &str) -> String {
    format!("W/\"{version}\"")
}

/// Checks an `If-Match` value against the current version: `*` matches any.
pub fn check_if_match(if_match: Option<&str>, id: &str, version: &str) -> Result<(), StoreError> {
    match if_match {
        Some(expected) if expected != "*" && expected != etag(version) => {
            Err(StoreError::PreconditionFailed(id.to_owned()))
        }
        _ => Ok(()),
    }
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No such resource in this tenant.
    #[error("resource {0} not found")]
    NotFound(String),
    /// A uniqueness constraint (userName) would be violated.
    #[error("{0}")]
    Uniqueness(String),
    /// `If-Match` named a version that is no longer current.
    #[error("resource {0} has changed (version mismatch)")]
    PreconditionFailed(String),
    /// The backing service cannot be reached or timed out; nothing was changed.
    #[error("storage unavailable: {detail}")]
    Unavailable {
        retry_after: Duration,
        detail: String,
    },
    /// The update function refused the change (a SCIM protocol error).
    #[error(transparent)]
    Rejected(#[from] ScimError),
    /// Anything else; the detail is logged, not sent.
    #[error("storage error: {0}")]
    Internal(String),
}

impl StoreError {
    /// The SCIM error sent to the client.
    pub fn to_scim(&self) -> ScimError {
        match self {
            StoreError::NotFound(id) => ScimError::not_found(format!("Resource {id} not found")),
            StoreError::Uniqueness(detail) => ScimError::uniqueness(detail.clone()),
            StoreError::PreconditionFailed(id) => ScimError::precondition_failed(format!(
                "Resource {id} has changed since the version given in If-Match"
            )),
            StoreError::Unavailable { .. } => {
                ScimError::unavailable("The directory is temporarily unavailable; retry later")
            }
            StoreError::Rejected(error) => error.clone(),
            StoreError::Internal(_) => ScimError::internal("Internal error"),
        }
    }
}

/// An update computes the new resource from the current one. It is pure and may
/// run more than once when a concurrent writer wins a race. It returns the new
/// resource without `id`/`meta`; the store assigns those.
pub type UpdateFn<'a> = dyn Fn(&Stored) -> Result<Value, ScimError> + Send + Sync + 'a;

/// Storage of one tenant's Users and Groups, keyed by tenant name.
pub trait Store: Send + Sync + 'static {
    /// Creates a resource (`resource` holds no `id`/`meta`). Fails with
    /// [`StoreError::Uniqueness`] when a user with the same userName
    /// (case-insensitively) exists.
    fn create(
        &self,
        tenant: &str,
        kind: Kind,
        resource: Value,
    ) -> impl Future<Output = Result<Stored, StoreError>> + Send;

    /// Reads one resource. Reflects every write this store acknowledged.
    fn get(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
    ) -> impl Future<Output = Result<Stored, StoreError>> + Send;

    /// Read-modify-write with optimistic concurrency: `update` runs on the
    /// current resource, and again on the fresh one if it changed meanwhile
    /// (bounded retries). With `if_match`, a current version other than it fails
    /// with [`StoreError::PreconditionFailed`] instead.
    fn update(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        update: &UpdateFn<'_>,
    ) -> impl Future<Output = Result<Stored, StoreError>> + Send;

    /// Deletes a resource (and, for users, their memberships).
    fn delete(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The page `window` asks for of the resources of `kind` matching
    /// `filter` (all without one; unsorted, in a stable order: by id), and
    /// how many match. Only the page is held, whatever the tenant's size.
    fn list(
        &self,
        tenant: &str,
        kind: Kind,
        filter: Option<&Filter>,
        window: &Window,
    ) -> impl Future<Output = Result<Listed, StoreError>> + Send;
}

/// One page of a list, and how many resources matched.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Listed {
    pub total: usize,
    pub resources: Vec<Stored>,
}

/// Puts the store's bookkeeping on a resource: `id` after `schemas`, and `meta`
/// last. `location` is left to the HTTP layer, which knows the base URL.
pub fn stamp(
    kind: Kind,
    id: &str,
    mut resource: Value,
    created: &str,
    last_modified: &str,
    version: &str,
) -> Value {
    if kind == Kind::User
        && let Some(fields) = resource.as_object_mut()
    {
        // A user's `groups` is derived from group membership on every read; a
        // stored copy would go stale. (`shift_remove` keeps attribute order.)
        fields.shift_remove("groups");
    }
    let meta =
        crate::scim::resource::meta(kind.resource_type(), created, last_modified, version, None);
    crate::scim::resource::finish(resource, id, meta)
}

/// `meta.created` of a stored resource, to carry over on update.
pub fn created_of(resource: &Value) -> Option<&str> {
    resource.get("meta")?.get("created")?.as_str()
}
