//! What every layer says about the Kubernetes objects scimitar writes: label
//! and annotation keys, label-safe and hashed names, owner references to a
//! tenant and the naming of users as RBAC subjects.
//!
//! It sits at the bottom with `crd` and `scim`, so `auth`, `store`,
//! `controller` and `console` share these rules without importing one
//! another. Imports: `crd` only; nothing above it.
//!
//! Imports nothing of the crate above its own layer: must not import `auth`,
//! `scimlog`, `metrics`, `kubeclient`, `ready`, `shutdown`, `telemetry`,
//! `store`, `controller`, `http`, `console`, `leader`, `operator`, `serve`,
//! `cli`, `token_admin`, `connect_admin`, `probe`, `replay`
//! (tests/e2e/imports_follow_the_layers.rs).

pub mod labels;
pub mod names;
pub mod owner;
pub mod subject;

pub use labels::*;
pub use names::{
    hex, label_value, object_name, parse_hex, sha256, sha256_hex, sha256_prefix, slug,
};
pub use owner::{made_for, tenant_labels, tenant_owner, tenant_selector};
pub use subject::{is_reserved, subject_name, user_subject_name};

#[cfg(test)]
mod tests;
