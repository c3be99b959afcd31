//! Group `members` (RFC 7643 §4.2): one entry per member id, a canonical
//! `type`, and no stored `$ref`.

use std::collections::HashSet;

use serde_json::Value;

use crate::scim::error::ScimError;
use crate::scim::schema::{AttributeDef, GROUP_SCHEMA};

/// Whether `attr` is the Group's `members` attribute.
pub(super) fn is_group_members(attr: &AttributeDef) -> bool {
    GROUP_SCHEMA
        .attribute("members")
        .is_some_and(|m| std::ptr::eq(m, attr))
}

/// Normalises an already type-checked member list:
/// - every member needs a non-empty `value` (the member's id), else nothing
///   identifies it;
/// - `type` is `User` or `Group` whatever its case; anything else cannot be
///   resolved to a resource and is 400 `invalidValue`;
/// - `$ref` is dropped: it is derived from `value` and `type` on the way out
///   (see [`super::with_member_refs`]), and a stored URL would go stale
///   when the base URL changes. When `type` is absent it is taken from a
///   `$ref` naming `/Groups/` or `/Users/`, so nested groups sent that way
///   keep their type;
/// - repeated values are dropped, the first kept: IdPs resend members they
///   already added (JumpCloud, Entra ID), and a member is in a group once.
pub(super) fn normalise(list: Value) -> Result<Option<Value>, ScimError> {
    let Value::Array(items) = list else {
        return Ok(Some(list));
    };
    let mut seen = HashSet::with_capacity(items.len());
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut member) = item else {
            continue;
        };
        let id = match member.get("value") {
            Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
            _ => {
                return Err(ScimError::invalid_value(
                    "Each Group member needs a 'value' holding the member's id",
                ));
            }
        };
        let reference = member.shift_remove("$ref");
        let ty = match member.get("type") {
            Some(Value::String(t)) => Some(canonical_type(t)?),
            _ => reference
                .as_ref()
                .and_then(Value::as_str)
                .and_then(type_of_ref),
        };
        if let Some(ty) = ty {
            member.insert("type".into(), ty.into());
        }
        if seen.insert(id) {
            out.push(Value::Object(member));
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn canonical_type(t: &str) -> Result<&'static str, ScimError> {
    ["User", "Group"]
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(t))
        .ok_or_else(|| {
            ScimError::invalid_value(format!(
                "Member type '{t}' is not supported; use 'User' or 'Group'"
            ))
        })
}

/// `User` or `Group` from a member URL such as `https://h/scim/v2/Groups/42`.
fn type_of_ref(reference: &str) -> Option<&'static str> {
    let mut segments = reference.trim_end_matches('/').rsplit('/');
    segments.next()?;
    match segments.next()? {
        s if s.eq_ignore_ascii_case("Users") => Some("User"),
        s if s.eq_ignore_ascii_case("Groups") => Some("Group"),
        _ => None,
    }
}
