//! remove (RFC 7644 §3.5.2.2).

use serde_json::json;

use super::*;

#[test]
fn removes_a_single_valued_attribute() {
    let patched = patch_user(json!([{"op": "remove", "path": "nickName"}]));
    assert!(patched.get("nickName").is_none());
    let patched = patch_user(json!([{"op": "remove", "path": "name"}]));
    assert!(patched.get("name").is_none());
}

#[test]
fn removing_an_absent_attribute_is_a_no_op() {
    let mut u = user();
    u.as_object_mut().expect("object").remove("nickName");
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "remove", "path": "nickName"}]),
    );
    assert_eq!(patched, u);
}

#[test]
fn removes_a_sub_attribute() {
    let patched = patch_user(json!([{"op": "remove", "path": "name.givenName"}]));
    assert!(patched["name"].get("givenName").is_none());
    assert_eq!(patched["name"]["familyName"], "Jensen");

    let mut u = user();
    u["name"] = json!({"givenName": "Barbara"});
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "remove", "path": "name.givenName"}]),
    );
    assert!(
        patched.get("name").is_none(),
        "an empty complex value is unassigned"
    );
}

#[test]
fn removes_all_values_without_a_filter() {
    let patched = patch_group(json!([{"op": "remove", "path": "members"}]));
    assert!(patched.get("members").is_none());
}

#[test]
fn removes_the_values_a_filter_matches() {
    let patched =
        patch_group(json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}]));
    assert_eq!(member_ids(&patched), [MANDY]);

    let patched = patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
    assert_eq!(
        patched["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );

    // The last matching value leaves the attribute unassigned.
    let patched = patch_user(json!([{"op": "remove", "path": "ims[type eq \"aim\"]"}]));
    assert!(patched.get("ims").is_none());
}

#[test]
fn a_filter_matching_nothing_removes_nothing() {
    // Lenient: §3.5.2.2 keeps noTarget for a missing path, and an IdP retrying
    // a removal that already happened must not fail.
    let patched = patch_group(json!([{"op": "remove", "path": "members[value eq \"gone\"]"}]));
    assert_eq!(patched, group());
    let mut g = group();
    g.as_object_mut().expect("object").remove("members");
    let patched = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "remove", "path": "members[value eq \"gone\"]"}]),
    );
    assert_eq!(patched, g);
}

#[test]
fn removes_a_sub_attribute_of_matching_values() {
    let patched = patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
    assert_eq!(
        patched["emails"][0],
        json!({"value": "bjensen@example.com", "type": "work"})
    );
    let patched = patch_group(
        json!([{"op": "remove", "path": format!("members[value eq \"{MANDY}\"].display")}]),
    );
    assert!(patched["members"][1].get("display").is_none());
    assert_eq!(patched["members"][1]["value"], MANDY);
}

#[test]
fn removes_a_sub_attribute_of_every_value() {
    let patched = patch_user(json!([{"op": "remove", "path": "emails.primary"}]));
    assert!(patched["emails"][0].get("primary").is_none());
    let patched = patch_group(json!([{"op": "remove", "path": "members.display"}]));
    assert!(
        patched["members"]
            .as_array()
            .expect("array")
            .iter()
            .all(|m| m.get("display").is_none())
    );
}

#[test]
fn removing_the_last_extension_attribute_removes_the_extension() {
    let u = enterprise_user();
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([
            {"op": "remove", "path": format!("{ENTERPRISE}:employeeNumber")},
            {"op": "remove", "path": format!("{ENTERPRISE}:costCenter")},
            {"op": "remove", "path": format!("{ENTERPRISE}:organization")},
            {"op": "remove", "path": format!("{ENTERPRISE}:division")},
            {"op": "remove", "path": "department"}
        ]),
    );
    assert_eq!(patched[ENTERPRISE].as_object().map(|o| o.len()), Some(1));
    assert_eq!(patched["schemas"], json!([CORE_USER, ENTERPRISE]));
    let patched = patch(
        &USER_RESOURCE,
        &patched,
        json!([{"op": "remove", "path": format!("{ENTERPRISE}:manager")}]),
    );
    assert!(patched.get(ENTERPRISE).is_none());
    assert_eq!(patched["schemas"], json!([CORE_USER]));
}

#[test]
fn removing_a_whole_extension() {
    let patched = patch(
        &USER_RESOURCE,
        &enterprise_user(),
        json!([{"op": "remove", "path": ENTERPRISE}]),
    );
    assert_eq!(patched, user());
    assert_eq!(
        user_failure(json!([{"op": "remove", "path": CORE_USER}])),
        INVALID_PATH
    );
}

#[test]
fn a_stored_extension_urn_without_attributes_is_left_alone() {
    // JumpCloud creates users listing the enterprise URN with no extension object.
    let mut u = user();
    u["schemas"] = json!([CORE_USER, ENTERPRISE]);
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "replace", "path": "active", "value": false}]),
    );
    assert_eq!(patched["schemas"], json!([CORE_USER, ENTERPRISE]));
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "remove", "path": "department"}]),
    );
    assert_eq!(patched["schemas"], json!([CORE_USER, ENTERPRISE]));
}

#[test]
fn remove_with_a_value_on_a_single_valued_attribute_removes_it() {
    let patched = patch_user(json!([{"op": "remove", "path": "title", "value": "Tour Guide"}]));
    assert!(patched.get("title").is_none());
}

#[test]
fn removing_a_required_attribute_is_mutability() {
    // §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined
    // as a required attribute or a read-only attribute, the server SHALL return
    // ... a "scimType" error code of "mutability"."
    assert_eq!(
        user_failure(json!([{"op": "remove", "path": "userName"}])),
        MUTABILITY
    );
    assert_eq!(
        group_failure(json!([{"op": "remove", "path": "displayName"}])),
        MUTABILITY
    );
    assert_eq!(
        user_failure(json!([{"op": "replace", "value": {"userName": null}}])),
        MUTABILITY
    );
    assert_eq!(
        user_failure(json!([{"op": "remove", "path": "schemas"}])),
        MUTABILITY
    );
}
