//! PATCH tests: one file per concern, IdP request bodies in `idp.rs`.

use serde_json::{Value, json};

use super::{PatchRequest, apply_operations, parse_patch_request};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::schema::{GROUP_RESOURCE, PATCH_OP_URN, ResourceTypeDef, USER_RESOURCE};

mod add;
mod idp;
mod mutability;
mod parse;
mod props;
mod remove;
mod replace;
mod validated;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A PatchOp body around `operations`.
fn body(operations: Value) -> Value {
    json!({ "schemas": [PATCH_OP_URN], "Operations": operations })
}

fn parse(operations: Value) -> PatchRequest {
    parse_patch_request(&body(operations)).unwrap_or_else(|e| panic!("parse: {e}"))
}

/// Parses and applies a whole request body.
fn apply_body(
    rt: &'static ResourceTypeDef,
    resource: &Value,
    body: &Value,
) -> Result<Value, ScimError> {
    let request = parse_patch_request(body)?;
    apply_operations(rt, resource, &request.operations)
}

fn try_patch(
    rt: &'static ResourceTypeDef,
    resource: &Value,
    operations: Value,
) -> Result<Value, ScimError> {
    apply_body(rt, resource, &body(operations))
}

fn patch(rt: &'static ResourceTypeDef, resource: &Value, operations: Value) -> Value {
    try_patch(rt, resource, operations).unwrap_or_else(|e| panic!("patch: {e}"))
}

fn patch_user(operations: Value) -> Value {
    patch(&USER_RESOURCE, &user(), operations)
}

fn patch_group(operations: Value) -> Value {
    patch(&GROUP_RESOURCE, &group(), operations)
}

/// The status and keyword of a failed PATCH.
fn failure(result: Result<Value, ScimError>) -> (u16, Option<ScimType>) {
    match result {
        Ok(v) => panic!("expected an error, got {v:#}"),
        Err(e) => (e.status, e.scim_type),
    }
}

fn user_failure(operations: Value) -> (u16, Option<ScimType>) {
    failure(try_patch(&USER_RESOURCE, &user(), operations))
}

fn group_failure(operations: Value) -> (u16, Option<ScimType>) {
    failure(try_patch(&GROUP_RESOURCE, &group(), operations))
}

const NO_TARGET: (u16, Option<ScimType>) = (400, Some(ScimType::NoTarget));
const INVALID_PATH: (u16, Option<ScimType>) = (400, Some(ScimType::InvalidPath));
const INVALID_VALUE: (u16, Option<ScimType>) = (400, Some(ScimType::InvalidValue));
const INVALID_SYNTAX: (u16, Option<ScimType>) = (400, Some(ScimType::InvalidSyntax));
const MUTABILITY: (u16, Option<ScimType>) = (400, Some(ScimType::Mutability));

/// The full User of RFC 7643 §8.2 (less the password, which is never stored).
fn user() -> Value {
    let mut user = crate::scim::examples::rfc7643_full_user();
    if let Some(fields) = user.as_object_mut() {
        fields.shift_remove("password");
    }
    user
}

/// The enterprise User of RFC 7643 §8.3.
fn enterprise_user() -> Value {
    let mut u = user();
    u["schemas"] = json!([CORE_USER, ENTERPRISE]);
    u[ENTERPRISE] = json!({
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
            "displayName": "John Smith"
        }
    });
    u
}

/// The Group of RFC 7643 §8.4, with a second member.
fn group() -> Value {
    json!({
        "schemas": [CORE_GROUP],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [
            {
                "value": "2819c223-7f76-453a-919d-413861904646",
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "display": "Babs Jensen"
            },
            {
                "value": "902c246b-6245-4190-8e05-00816be7344a",
                "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
                "display": "Mandy Pepperidge"
            }
        ],
        "meta": {
            "resourceType": "Group",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff592\"",
            "location": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"
        }
    })
}

/// The `value`s of a group's members, in order.
fn member_ids(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";
