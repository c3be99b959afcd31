//! The SCIM 2.0 protocol (RFC 7643, RFC 7644), free of I/O so it can be tested
//! and fuzzed on its own. Storage and HTTP live elsewhere and call into this.
//!
//! Imports nothing of the crate above its own layer: must not import `auth`,
//! `scimlog`, `metrics`, `kubeclient`, `ready`, `shutdown`, `telemetry`,
//! `store`, `controller`, `http`, `console`, `leader`, `operator`, `serve`,
//! `cli`, `token_admin`, `connect_admin`, `probe`, `replay`
//! (tests/e2e/imports_follow_the_layers.rs).

/// Discovery documents: `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`.
pub mod discovery;
/// SCIM error responses (RFC 7644 §3.12): status, `scimType`, detail.
pub mod error;
#[cfg(test)]
pub(crate) mod examples;
/// The filter grammar of RFC 7644 §3.4.2.2: AST, parser, printer, evaluator.
pub mod filter;
/// Listing: query parameters, `/.search` bodies, sorting, paging, ListResponse.
pub mod list;
/// PATCH (RFC 7644 §3.5.2): the PatchOp message and applying it to a resource.
pub mod patch;
/// Attribute paths (`emails[type eq "work"].value`, schema-URN-qualified names).
pub mod path;
/// `attributes` / `excludedAttributes` projection of resources (RFC 7644 §3.4.2.5).
pub mod projection;
/// Validation and normalisation of resources written by POST, PUT and PATCH.
pub mod resource;
/// Schema definitions for User, EnterpriseUser and Group, and their attribute characteristics.
pub mod schema;
