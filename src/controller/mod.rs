//! The controller: each `ScimTenant`, with its users and groups, becomes RBAC
//! bindings and a directory ConfigMap.
//!
//! - [`desired`]: (tenant, users, groups, cluster facts) → the objects that
//!   should exist and the status to report. Pure.
//! - [`directory`]: the directory ConfigMap(s), sharded under the size limit. Pure.
//! - [`facts`]: which roles exist and which the operator may bind.
//! - [`apply`]: create, update and delete owned objects to match.
//! - [`directory_writes`]: write the directory ConfigMaps that differ, against
//!   [`shards`], summaries of their data (the watch of them is metadata-only).
//! - [`status`]: `Ready`/`Degraded` conditions.
//! - [`run`]: the kube-runtime `Controller`, its triggers and the reconcile.

pub mod apply;
pub mod compute;
pub mod desired;
pub mod directory;
pub mod directory_writes;
pub mod facts;
pub mod owned;
pub mod reconcile;
pub mod run;
pub mod shards;
pub mod status;
#[cfg(test)]
pub(crate) mod testutil;
pub mod work;

pub use run::run;
