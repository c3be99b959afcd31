//! Tests of the write path, by theme; helpers and fixtures here.

use serde_json::{Value, json};

use super::*;
use crate::scim::error::ScimType;
use crate::scim::schema::{
    ENTERPRISE_USER_SCHEMA_URN as ENT, GROUP_RESOURCE, GROUP_SCHEMA_URN as GROUP, USER_RESOURCE,
    USER_SCHEMA_URN as USER,
};

fn create_user(v: Value) -> Result<Value, ScimError> {
    prepare_create(&USER_RESOURCE, v)
}

fn create_group(v: Value) -> Result<Value, ScimError> {
    prepare_create(&GROUP_RESOURCE, v)
}

fn err(r: Result<Value, ScimError>) -> (u16, Option<ScimType>, String) {
    let e = r.expect_err("expected an error");
    (e.status, e.scim_type, e.detail)
}

fn invalid_value(r: Result<Value, ScimError>, needle: &str) {
    let (status, ty, detail) = err(r);
    assert_eq!(
        (status, ty),
        (400, Some(ScimType::InvalidValue)),
        "{detail}"
    );
    assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// A stored user, as the store hands it to PUT and PATCH.
fn stored_user() -> Value {
    json!({
        "schemas": [USER],
        "id": "u1",
        "userName": "bjensen",
        "emails": [
            {"value": "b@work.example", "type": "work", "primary": true},
            {"value": "b@home.example", "type": "home"}
        ],
        "groups": [{"value": "g1", "display": "Ops", "type": "direct"}],
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                 "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"3\""}
    })
}

mod create;
mod members;
mod rules;
