//! The controller: each `ScimTenant`, with its users and groups, becomes RBAC
//! bindings and a directory ConfigMap.
//!
//! - [`desired`]: (tenant, users, groups, cluster facts) → the objects that
//!   should exist and the status to report. Pure.
//! - [`directory`]: the directory ConfigMap(s), sharded under the size limit. Pure.

pub mod desired;
pub mod directory;
