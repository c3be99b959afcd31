//! PATCH (RFC 7644 §3.5.2): parsing the `PatchOp` message and applying its
//! operations to a resource held as JSON. Pure: storage and HTTP call in.
//!
//! The engine follows the RFC and bends only where JumpCloud, Okta or Entra ID
//! are known to send something else; every such place names the IdP and the
//! RFC section it departs from, and has a test in `tests/idp.rs`:
//!
//! - `op` matched case-insensitively (Entra sends `Add`/`Replace`/`Remove`; §3.5.2).
//! - No-`path` values whose keys are paths, dotted (`name.givenName`) or
//!   schema-URN-qualified, and the URN-object form (Entra; §3.5.2.1, §3.5.2.3).
//! - `remove` with `path: "members"` and a `value` list removes only the
//!   listed values (JumpCloud, Entra; §3.5.2.2 would remove them all).
//! - `add`/`replace` with an `eq` value filter that matches nothing creates the
//!   value (Entra; §3.5.2.3 says `noTarget`).
//! - Re-adding an existing value is a no-op (JumpCloud, Entra; §3.5.2.1 "SHOULD").
//! - A readOnly attribute sent with its current value is accepted (Okta's rename
//!   carries `id`; §3.5.2 would answer `mutability`).
//! - A scalar where a complex value is expected becomes `{"value": scalar}`
//!   (Entra's `manager`), and a single value where an array is expected is wrapped.
//!
//! ```
//! use scimitar::scim::patch::{apply_operations, parse_patch_request};
//! use scimitar::scim::schema::GROUP_RESOURCE;
//! use serde_json::json;
//!
//! let group = json!({
//!     "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
//!     "id": "g1", "displayName": "Ops",
//!     "members": [{"value": "u1"}, {"value": "u2"}],
//! });
//! // JumpCloud and Entra remove members by listing them in `value`.
//! let request = parse_patch_request(&json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}],
//! }))?;
//! let patched = apply_operations(&GROUP_RESOURCE, &group, &request.operations)?;
//! assert_eq!(patched["members"], json!([{"value": "u2"}]));
//! # Ok::<(), scimitar::scim::error::ScimError>(())
//! ```

mod apply;
mod multi;
mod parse;
mod resolve;
mod values;

use serde_json::Value;

use super::error::ScimError;
use super::path::PatchPath;
use super::schema::ResourceTypeDef;

pub use parse::parse_patch_request;

/// A parsed `urn:ietf:params:scim:api:messages:2.0:PatchOp` message.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, applied in order and atomically.
    pub operations: Vec<PatchOperation>,
}

/// The three PATCH operations of RFC 7644 §3.5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

impl PatchOpKind {
    /// The RFC spelling (lower case).
    pub const fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }

    /// Looks an `op` up case-insensitively: Entra ID sends `Add`, `Replace`, `Remove`.
    pub fn from_keyword(word: &str) -> Option<Self> {
        [Self::Add, Self::Remove, Self::Replace]
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl std::fmt::Display for PatchOpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One element of `Operations`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    /// The target; `None` means the resource itself (add and replace only).
    pub path: Option<PatchPath>,
    /// The value; `None` when absent or JSON `null` (remove only).
    pub value: Option<Value>,
}

/// Applies `operations` to a copy of `resource` and returns the result, without
/// the final schema validation that [`apply_patch`] adds. All or nothing: the
/// first failing operation fails the whole request (RFC 7644 §3.5.2).
pub fn apply_operations(
    rt: &'static ResourceTypeDef,
    resource: &Value,
    operations: &[PatchOperation],
) -> Result<Value, ScimError> {
    apply::apply_operations(rt, resource, operations)
}

/// Applies a PATCH request to `resource` and validates the outcome as any
/// write is validated ([`validate_patched`](crate::scim::resource::validate_patched):
/// types coerced, `id`/`meta` restored, required attributes present). Returns
/// the resource to store; `resource` itself is never modified, so a failure
/// leaves nothing half-applied.
pub fn apply_patch(
    rt: &'static ResourceTypeDef,
    resource: &Value,
    request: &PatchRequest,
) -> Result<Value, ScimError> {
    let patched = apply_operations(rt, resource, &request.operations)?;
    super::resource::validate_patched(rt, patched, resource)
}

/// Prefixes an error's detail with the operation it came from, so an IdP's
/// error log points at the right element of a multi-operation request.
fn in_operation(e: ScimError, index: usize) -> ScimError {
    ScimError {
        detail: format!("Operations[{index}]: {}", e.detail),
        ..e
    }
}

#[cfg(test)]
mod tests;
