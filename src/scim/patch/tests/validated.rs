//! `apply_patch`: the operations followed by the write-path validation.

use serde_json::json;

use super::*;
use crate::scim::patch::apply_patch;

fn full(
    rt: &'static ResourceTypeDef,
    resource: &Value,
    operations: Value,
) -> Result<Value, ScimError> {
    apply_patch(rt, resource, &parse(operations))
}

#[test]
fn entra_string_booleans_become_booleans() {
    let patched = full(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .expect("disable");
    assert_eq!(patched["active"], false);
    let patched = full(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "value": {"active": "True"}}]),
    )
    .expect("enable");
    assert_eq!(patched["active"], true);
}

#[test]
fn okta_rename_and_membership_change_validate() {
    let patched = full(&GROUP_RESOURCE, &group(), json!([
        {"op": "replace", "value": {"id": "e9e30dba-f08f-4109-8486-d5c6a331660a", "displayName": "Tour Guides"}},
        {"op": "remove", "path": format!("members[value eq \"{MANDY}\"]")},
        {"op": "add", "path": "members", "value": [{"value": "23a35c27", "display": "test.user@okta.local"}]}
    ]))
    .expect("delta");
    assert_eq!(member_ids(&patched), [BABS, "23a35c27"]);
    assert_eq!(patched["id"], group()["id"]);
    assert_eq!(patched["meta"], group()["meta"]);
    let changed = full(
        &GROUP_RESOURCE,
        &group(),
        json!([{"op": "replace", "value": {"id": "x", "displayName": "y"}}]),
    );
    assert_eq!(failure(changed), MUTABILITY);
}

#[test]
fn entra_manager_and_extension_keys_validate() {
    let patched = full(&USER_RESOURCE, &user(), json!([
        {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "26118915-6090-4610-87e4-49d8ca9f808d"},
        {"op": "replace", "value": {"name.givenName": "Gtfd", format!("{ENTERPRISE}:employeeNumber"): "Eqpj"}}
    ]))
    .expect("update");
    assert_eq!(
        patched[ENTERPRISE],
        json!({"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}, "employeeNumber": "Eqpj"})
    );
    assert_eq!(patched["name"]["givenName"], "Gtfd");
    assert_eq!(patched["schemas"], json!([CORE_USER, ENTERPRISE]));
}

#[test]
fn wrong_types_are_caught_after_the_operations() {
    let e = full(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "path": "active", "value": "maybe"}]),
    )
    .expect_err("not a boolean");
    assert_eq!((e.status, e.scim_type), INVALID_VALUE);
    let e = full(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "path": "userName", "value": ""}]),
    );
    assert_eq!(failure(e).0, 400);
}

#[test]
fn an_empty_patch_result_keeps_the_resource() {
    let patched = full(
        &GROUP_RESOURCE,
        &group(),
        json!([{"op": "add", "path": "members", "value": [{"value": BABS}]}]),
    )
    .expect("no-op");
    assert_eq!(member_ids(&patched), [BABS, MANDY]);
    assert_eq!(patched["displayName"], "Tour Guides");
}
