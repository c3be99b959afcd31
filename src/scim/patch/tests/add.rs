//! add (RFC 7644 §3.5.2.1).

use serde_json::json;

use super::*;

#[test]
fn adds_a_simple_attribute_and_replaces_an_existing_one() {
    let mut u = user();
    u.as_object_mut().expect("object").remove("nickName");
    let added = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "add", "path": "nickName", "value": "Babs"}]),
    );
    assert_eq!(added["nickName"], "Babs");
    let replaced = patch_user(json!([{"op": "add", "path": "title", "value": "Chief Guide"}]));
    assert_eq!(replaced["title"], "Chief Guide");
}

#[test]
fn adds_to_a_multi_valued_attribute() {
    let patched = patch_user(json!([{"op": "add", "path": "emails",
        "value": [{"value": "babs@example.org", "type": "other"}]}]));
    assert_eq!(patched["emails"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        patched["emails"][2],
        json!({"value": "babs@example.org", "type": "other"})
    );
    assert_eq!(patched["emails"][0], user()["emails"][0]);
}

#[test]
fn adding_an_existing_value_changes_nothing() {
    // §3.5.2.1: "If the target location already contains the value specified,
    // no changes SHOULD be made to the resource".
    for value in [
        json!([{"value": "babs@jensen.org", "type": "home"}]),
        json!([{"value": "BABS@jensen.org", "type": "home"}]),
        json!({"value": "babs@jensen.org"}),
        json!([{"type": "home", "value": "babs@jensen.org"}, {"value": "babs@jensen.org", "type": "home"}]),
    ] {
        let patched = patch_user(json!([{"op": "add", "path": "emails", "value": value}]));
        assert_eq!(patched, user(), "{value}");
    }
}

#[test]
fn the_same_value_with_another_type_is_another_value() {
    let patched = patch_user(json!([{"op": "add", "path": "emails",
        "value": [{"value": "babs@jensen.org", "type": "work"}]}]));
    assert_eq!(patched["emails"].as_array().map(Vec::len), Some(3));
}

#[test]
fn adding_members_appends_new_ones_once() {
    let patched = patch_group(json!([{"op": "add", "path": "members", "value": [
        {"value": "u3", "display": "Three"},
        {"value": BABS},
        {"value": "u3"},
        {"value": "u4"}
    ]}]));
    assert_eq!(member_ids(&patched), [BABS, MANDY, "u3", "u4"]);
    assert_eq!(patched["members"][0], group()["members"][0]);
    assert_eq!(
        patched["members"][2],
        json!({"value": "u3", "display": "Three"})
    );
}

#[test]
fn member_values_are_case_exact() {
    let patched = patch_group(json!([{"op": "add", "path": "members",
        "value": [{"value": BABS.to_uppercase()}]}]));
    assert_eq!(member_ids(&patched).len(), 3);
}

#[test]
fn re_adding_a_member_updates_its_display_but_never_its_immutable_parts() {
    let patched = patch_group(json!([{"op": "add", "path": "members", "value": [{
        "value": BABS,
        "display": "Barbara Jensen",
        "$ref": "https://other.example.com/Users/x",
        "type": "User"
    }]}]));
    assert_eq!(
        patched["members"][0],
        json!({
            "value": BABS,
            "$ref": format!("https://example.com/v2/Users/{BABS}"),
            "display": "Barbara Jensen",
            "type": "User"
        })
    );
    assert_eq!(member_ids(&patched), [BABS, MANDY]);
}

#[test]
fn adds_members_to_a_group_without_any() {
    let mut g = group();
    g.as_object_mut().expect("object").remove("members");
    let patched = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}]),
    );
    assert_eq!(patched["members"], json!([{"value": "u1"}]));
}

#[test]
fn a_single_value_where_an_array_belongs_is_wrapped() {
    let patched = patch_group(json!([{"op": "add", "path": "members", "value": {"value": "u3"}}]));
    assert_eq!(member_ids(&patched), [BABS, MANDY, "u3"]);
    let patched = patch_group(json!([{"op": "add", "path": "members", "value": "u4"}]));
    assert_eq!(member_ids(&patched), [BABS, MANDY, "u4"]);
}

#[test]
fn adds_merge_into_a_complex_attribute() {
    let patched = patch_user(json!([{"op": "add", "path": "name",
        "value": {"givenName": "Barbie", "middleName": null}}]));
    let mut want = user()["name"].clone();
    want["givenName"] = json!("Barbie");
    assert_eq!(patched["name"], want, "null sub-attributes add nothing");
}

#[test]
fn adds_a_sub_attribute() {
    let patched = patch_user(json!([{"op": "add", "path": "name.givenName", "value": "Barbie"}]));
    assert_eq!(patched["name"]["givenName"], "Barbie");
    assert_eq!(patched["name"]["familyName"], "Jensen");

    let mut u = user();
    u.as_object_mut().expect("object").remove("name");
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "add", "path": "name.familyName", "value": "Jensen"}]),
    );
    assert_eq!(patched["name"], json!({"familyName": "Jensen"}));
}

#[test]
fn no_path_adds_every_attribute_of_the_value() {
    let mut u = user();
    u.as_object_mut().expect("object").remove("nickName");
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "add", "value": {
            "nickName": "Babs",
            "emails": [{"value": "babs@example.org", "type": "other"}],
            "name": {"givenName": "Barbie"}
        }}]),
    );
    assert_eq!(patched["nickName"], "Babs");
    assert_eq!(patched["emails"].as_array().map(Vec::len), Some(3));
    assert_eq!(patched["name"]["givenName"], "Barbie");
    assert_eq!(patched["name"]["familyName"], "Jensen");
}

#[test]
fn filtered_add_sets_the_sub_attribute_of_matching_values() {
    let patched = patch_user(
        json!([{"op": "add", "path": "emails[type eq \"home\"].display", "value": "Home"}]),
    );
    assert_eq!(patched["emails"][1]["display"], "Home");
    assert!(patched["emails"][0].get("display").is_none());
}

#[test]
fn filtered_add_without_an_eq_filter_matching_nothing_is_no_target() {
    assert_eq!(
        user_failure(
            json!([{"op": "add", "path": "emails[value co \"nowhere\"].display", "value": "x"}])
        ),
        NO_TARGET
    );
    assert_eq!(
        user_failure(
            json!([{"op": "add", "path": "emails[type eq \"a\" or type eq \"b\"].value", "value": "x"}])
        ),
        NO_TARGET
    );
}

#[test]
fn attribute_names_are_case_insensitive_and_written_in_schema_case() {
    let patched = patch_user(json!([
        {"op": "add", "path": "NICKNAME", "value": "B"},
        {"op": "add", "path": "Name.GivenName", "value": "Barbie"},
        {"op": "add", "path": "EMAILS", "value": [{"VALUE": "b@example.org", "Type": "other"}]}
    ]));
    assert_eq!(patched["nickName"], "B");
    assert!(patched.get("NICKNAME").is_none());
    assert_eq!(patched["name"]["givenName"], "Barbie");
    assert_eq!(
        patched["emails"][2],
        json!({"value": "b@example.org", "type": "other"})
    );

    let mut u = user();
    let nick = u
        .as_object_mut()
        .expect("object")
        .remove("nickName")
        .expect("nickName");
    u["NickName"] = nick;
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "add", "path": "nickname", "value": "C"}]),
    );
    assert_eq!(patched["nickName"], "C");
    assert!(patched.get("NickName").is_none());
}

#[test]
fn extension_attributes_go_under_their_urn_and_into_schemas() {
    let patched = patch_user(json!([{"op": "add",
        "path": format!("{ENTERPRISE}:employeeNumber"), "value": "701984"}]));
    assert_eq!(patched[ENTERPRISE], json!({"employeeNumber": "701984"}));
    assert_eq!(patched["schemas"], json!([CORE_USER, ENTERPRISE]));
    assert!(patched.get("employeeNumber").is_none());

    // Unqualified extension names resolve too (schema::find's fallback).
    let patched = patch_user(json!([{"op": "add", "path": "department", "value": "Tours"}]));
    assert_eq!(patched[ENTERPRISE], json!({"department": "Tours"}));
    assert_eq!(patched["schemas"], json!([CORE_USER, ENTERPRISE]));
}

#[test]
fn core_urn_qualified_paths_stay_at_the_top_level() {
    let patched = patch_user(json!([{"op": "add",
        "path": format!("{CORE_USER}:name.givenName"), "value": "Barbie"}]));
    assert_eq!(patched["name"]["givenName"], "Barbie");
    assert!(patched.get(CORE_USER).is_none());
}

#[test]
fn unknown_attributes_are_invalid_path() {
    for path in [
        "favouriteColour",
        "name.nickName",
        "emails[type eq \"work\"].colour",
        "emails[colour eq \"red\"].value",
        "urn:example:schemas:extension:Acme:2.0:User:badge",
        "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
        "userName.first",
        "name[givenName eq \"Barbara\"].familyName",
    ] {
        assert_eq!(
            user_failure(json!([{"op": "add", "path": path, "value": "x"}])),
            INVALID_PATH,
            "{path}"
        );
    }
    assert_eq!(
        user_failure(json!([{"op": "add", "value": {"favouriteColour": "red"}}])),
        INVALID_PATH
    );
    assert_eq!(
        group_failure(json!([{"op": "add", "path": "emails", "value": [{"value": "x"}]}])),
        INVALID_PATH
    );
}

#[test]
fn values_of_the_wrong_shape_are_invalid_value() {
    for (path, value) in [
        ("nickName", json!(["Babs"])),
        ("nickName", json!({"value": "Babs"})),
        ("name", json!(["Barbara"])),
        ("name", json!("Barbara")),
        ("name.givenName", json!({"x": 1})),
        ("emails", json!([["nested"]])),
        ("emails", json!([{"value": {"deep": true}}])),
        ("emails[type eq \"work\"].value", json!([1])),
    ] {
        assert_eq!(
            user_failure(json!([{"op": "add", "path": path, "value": value}])),
            INVALID_VALUE,
            "{path} {value}"
        );
    }
    assert_eq!(
        user_failure(json!([{"op": "add", "value": "Babs"}])),
        INVALID_VALUE
    );
}

#[test]
fn setting_primary_clears_it_elsewhere() {
    // RFC 7644 §3.5.2: a value set primary makes the others non-primary.
    let patched = patch_user(json!([{"op": "add", "path": "emails",
        "value": [{"value": "new@example.com", "type": "other", "primary": true}]}]));
    assert_eq!(patched["emails"][0]["primary"], false);
    assert_eq!(patched["emails"][2]["primary"], true);
    assert!(patched["emails"][1].get("primary").is_none());

    let patched = patch_user(
        json!([{"op": "add", "path": "emails[type eq \"home\"].primary", "value": true}]),
    );
    assert_eq!(patched["emails"][0]["primary"], false);
    assert_eq!(patched["emails"][1]["primary"], true);

    // Of two new primaries the last wins.
    let patched = patch_user(json!([{"op": "add", "path": "phoneNumbers", "value": [
        {"value": "1", "primary": true},
        {"value": "2", "primary": true}
    ]}]));
    let primaries: Vec<_> = patched["phoneNumbers"]
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["primary"].clone())
        .collect();
    assert_eq!(
        primaries,
        [json!(null), json!(null), json!(false), json!(true)]
    );
}

#[test]
fn simple_multi_valued_attributes_deduplicate() {
    let patched = patch_user(json!([{"op": "add", "path": "schemas",
        "value": ["URN:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]}]));
    assert_eq!(patched["schemas"], json!([CORE_USER, ENTERPRISE]));
}

#[test]
fn schemas_inside_an_attribute_object_are_skipped() {
    // scim2-models serialises an extension value with its own `schemas`; the
    // engine maintains `schemas` itself, so the key is not an attribute path.
    let patched = patch_user(json!([
        {"op": "add", "path": ENTERPRISE,
         "value": {"schemas": [ENTERPRISE], "employeeNumber": "42"}},
        {"op": "replace",
         "value": {"schemas": [CORE_USER], "nickName": "Bee"}}
    ]));
    assert_eq!(patched[ENTERPRISE]["employeeNumber"], "42");
    assert_eq!(patched["nickName"], "Bee");
    assert!(patched[ENTERPRISE].get("schemas").is_none());
    let schemas = patched["schemas"].as_array().expect("schemas");
    assert!(schemas.contains(&json!(CORE_USER)));
    assert!(schemas.contains(&json!(ENTERPRISE)));
}
