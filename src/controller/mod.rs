//! The controller: each `ScimTenant`, with its users and groups, becomes RBAC
//! bindings and a directory ConfigMap.
//!
//! A reconcile runs in phases: gather → desired (pure) → apply → status →
//! events.
//!
//! - [`work`], [`owned`]: gather what changed (the watches' and the cache's
//!   changes) and expand it into the groups, users and shards it affects.
//! - [`desired`]: (tenant, users, groups, cluster facts) → the objects that
//!   should exist and the status to report. Pure; the oracle.
//! - [`compute`]: the same, one group or user at a time. Pure.
//! - [`nesting`]: nested groups' effective members and users' inherited
//!   groups, over either. Pure.
//! - [`directory`]: the directory ConfigMap(s), sharded under the size limit. Pure.
//! - [`facts`]: which roles exist and which the operator may bind.
//! - [`reconcile`]: gather, desired and apply for one tenant.
//! - [`apply`]: create, update and delete owned objects to match, against
//!   [`bound`], what is held of each binding (a digest of its subjects).
//! - [`directory_writes`]: write the directory ConfigMaps that differ, against
//!   [`shards`], summaries of their data (the watch of them is metadata-only).
//! - [`report`]: the status phase; [`status`]: `Ready`/`Degraded` conditions.
//! - [`events`]: the events phase.
//! - [`manifest`]: ScimTenant manifests read strictly.
//! - [`plan`]: what a spec change would do (bindings, and verbs gained and
//!   lost per user), pure; [`access_report`]: who has what, from the
//!   bindings that exist, pure; [`live`]: both, read from the API server.
//! - [`run`]: the kube-runtime `Controller`, its triggers, and the reconcile
//!   that runs the phases.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store` and its own layer;
//! must not import `http`, `console`, `leader`, `operator`, `serve`, `cli`,
//! `token_admin`, `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

pub mod access_report;
pub mod apply;
pub mod bound;
pub mod compute;
pub mod context;
pub mod desired;
pub mod directory;
pub mod directory_writes;
pub mod events;
pub mod expiry;
pub mod facts;
pub mod live;
pub mod manifest;
pub mod namespaces;
pub mod nesting;
pub mod owned;
pub mod plan;
pub mod reconcile;
pub mod report;
pub mod run;
pub mod shards;
pub mod status;
#[cfg(test)]
pub(crate) mod testutil;
pub mod work;

pub use run::{Settings, run};
