//! Mutability (RFC 7644 §3.5.2, RFC 7643 §2.2).

use serde_json::json;

use super::*;

#[test]
fn read_only_attributes_cannot_change() {
    for op in [
        json!({"op": "replace", "path": "id", "value": "other"}),
        json!({"op": "replace", "value": {"id": "other"}}),
        json!({"op": "remove", "path": "id"}),
        json!({"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}),
        json!({"op": "remove", "path": "meta"}),
        json!({"op": "add", "path": "groups", "value": [{"value": "g2"}]}),
        json!({"op": "remove", "path": "groups"}),
        json!({"op": "replace", "path": "groups[display eq \"Tour Guides\"].display", "value": "x"}),
    ] {
        assert_eq!(user_failure(json!([op])), MUTABILITY, "{op}");
    }
    assert_eq!(
        failure(try_patch(
            &USER_RESOURCE,
            &enterprise_user(),
            json!([{"op": "replace",
            "path": format!("{ENTERPRISE}:manager.displayName"), "value": "Someone"}])
        )),
        MUTABILITY
    );
}

#[test]
fn read_only_attributes_may_be_sent_unchanged() {
    // Okta's rename carries the group's own id; writing the current value of a
    // readOnly attribute changes nothing and is accepted.
    let patched = patch_user(json!([
        {"op": "replace", "value": {"id": "2819c223-7f76-453a-919d-413861904646", "displayName": "B"}},
        {"op": "replace", "path": "meta", "value": {"resourceType": "User"}},
        {"op": "add", "path": "groups", "value": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a"}]}
    ]));
    assert_eq!(patched["displayName"], "B");
    assert_eq!(patched["meta"], user()["meta"]);

    let mut u = user();
    u.as_object_mut().expect("object").remove("groups");
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([
            {"op": "replace", "value": {"groups": []}},
            {"op": "remove", "path": "groups"}
        ]),
    );
    assert_eq!(
        patched, u,
        "an unassigned readOnly attribute stays unassigned"
    );
}

#[test]
fn immutable_sub_attributes_can_be_set_once() {
    // Group members' value, $ref and type are immutable (RFC 7643 §4.2).
    let path = format!("members[value eq \"{BABS}\"]");
    assert_eq!(
        group_failure(
            json!([{"op": "replace", "path": format!("{path}.value"), "value": "someone-else"}])
        ),
        MUTABILITY
    );
    assert_eq!(
        group_failure(
            json!([{"op": "replace", "path": path.clone(), "value": {"value": "someone-else"}}])
        ),
        MUTABILITY
    );
    assert_eq!(
        group_failure(json!([{"op": "remove", "path": format!("{path}.$ref")}])),
        MUTABILITY
    );
    // Unset before: may be added. Same value: no change.
    let patched = patch_group(json!([
        {"op": "add", "path": format!("{path}.type"), "value": "User"},
        {"op": "replace", "path": path.clone(), "value": {"value": BABS, "display": "Barbara"}}
    ]));
    assert_eq!(patched["members"][0]["type"], "User");
    assert_eq!(patched["members"][0]["display"], "Barbara");
    // A whole new member set is new values, not changed ones.
    let patched =
        patch_group(json!([{"op": "replace", "path": "members", "value": [{"value": "u9"}]}]));
    assert_eq!(member_ids(&patched), ["u9"]);
}

#[test]
fn write_only_attributes_are_writable() {
    let patched = patch_user(json!([{"op": "replace", "value": {"password": "t1meMa$heen"}}]));
    assert_eq!(patched["password"], "t1meMa$heen");
}
