use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

fn stored_group() -> Value {
    json!({
        "schemas": [GROUP], "id": "g1", "displayName": "Ops",
        "members": [
            {"value": "u1", "type": "User", "display": "Babs"},
            {"value": "g2", "type": "Group"},
            {"value": "u3"}
        ],
        "meta": {"resourceType": "Group", "version": "W/\"1\""}
    })
}

#[test]
fn members_are_normalised() {
    let out = create_group(json!({
        "schemas": [GROUP], "displayName": "Ops",
        "members": [
            {"value": "u1", "type": "user", "display": "Babs", "$ref": "https://h/v2/Users/u1"},
            {"value": "g2", "$ref": "https://h/v2/Groups/g2"},
            {"value": "u3", "$ref": null},
            {"value": "u1", "display": "Babs again"},
            {"value": "u4", "TYPE": "GROUP"},
            {"value": "u5", "$ref": "https://h/v2/Other/u5"}
        ]
    }))
    .unwrap();
    assert_eq!(
        out["members"],
        json!([
            {"value": "u1", "type": "User", "display": "Babs"},
            {"value": "g2", "type": "Group"},
            {"value": "u3"},
            {"value": "u4", "type": "Group"},
            {"value": "u5"}
        ])
    );
    // Entra's empty list is "no members".
    let out =
        create_group(json!({"schemas": [GROUP], "displayName": "Ops", "members": []})).unwrap();
    assert!(out.get("members").is_none());
    invalid_value(
        create_group(
            json!({"schemas": [GROUP], "displayName": "g", "members": [{"display": "x"}]}),
        ),
        "needs a 'value'",
    );
    invalid_value(
        create_group(json!({"schemas": [GROUP], "displayName": "g", "members": [{"value": ""}]})),
        "needs a 'value'",
    );
    invalid_value(
        create_group(json!({"schemas": [GROUP], "displayName": "g",
                            "members": [{"value": "x", "type": "ServicePrincipal"}]})),
        "'ServicePrincipal' is not supported",
    );
    // A bare id list is read as member values.
    let out =
        create_group(json!({"schemas": [GROUP], "displayName": "g", "members": ["a", "b", "a"]}))
            .unwrap();
    assert_eq!(out["members"], json!([{"value": "a"}, {"value": "b"}]));
}

#[test]
fn members_can_be_replaced_but_not_retyped() {
    let existing = stored_group();
    // A whole new member list (scim2-tester's PUT) is fine.
    let out = prepare_replace(
        &GROUP_RESOURCE,
        json!({"schemas": [GROUP], "displayName": "Ops",
               "members": [{"value": "u9", "type": "User"}]}),
        &existing,
    )
    .unwrap();
    assert_eq!(out["members"], json!([{"value": "u9", "type": "User"}]));
    // Okta's PUT without types keeps the types already set; a new type may
    // be given where none was.
    let out = prepare_replace(
        &GROUP_RESOURCE,
        json!({"schemas": [GROUP], "displayName": "Ops",
               "members": [{"value": "u1", "display": "B."}, {"value": "u3", "type": "User"}]}),
        &existing,
    )
    .unwrap();
    assert_eq!(
        out["members"],
        json!([{"value": "u1", "display": "B.", "type": "User"}, {"value": "u3", "type": "User"}])
    );
    // Changing the type of an existing member is a modification.
    let (status, ty, detail) = err(prepare_replace(
        &GROUP_RESOURCE,
        json!({"schemas": [GROUP], "displayName": "Ops", "members": [{"value": "g2", "type": "User"}]}),
        &existing,
    ));
    assert_eq!((status, ty), (400, Some(ScimType::Mutability)), "{detail}");
    assert!(detail.contains("members.type"), "{detail}");
    // No members at all is allowed too.
    let out = prepare_replace(
        &GROUP_RESOURCE,
        json!({"schemas": [GROUP], "displayName": "Ops"}),
        &existing,
    )
    .unwrap();
    assert!(out.get("members").is_none());
}

#[test]
fn patched_member_adds_are_idempotent() {
    let existing = stored_group();
    let mut patched = existing.clone();
    let members = patched["members"].as_array_mut().unwrap();
    members.push(json!({"value": "u1"}));
    members.push(json!({"$ref": null, "value": "u7"}));
    let out = validate_patched(&GROUP_RESOURCE, patched, &existing).unwrap();
    let ids: Vec<_> = out["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].clone())
        .collect();
    assert_eq!(ids, [json!("u1"), json!("g2"), json!("u3"), json!("u7")]);
    assert_eq!(out["id"], "g1");
}

#[test]
fn output_helpers() {
    let m = meta(
        &USER_RESOURCE,
        "2024-01-01T00:00:00Z",
        "2024-02-01T00:00:00Z",
        "7",
        Some("https://h/v2/Users/u1"),
    );
    assert_eq!(
        m,
        json!({"resourceType": "User", "created": "2024-01-01T00:00:00Z",
               "lastModified": "2024-02-01T00:00:00Z", "location": "https://h/v2/Users/u1",
               "version": "W/\"7\""})
    );
    assert!(
        meta(&GROUP_RESOURCE, "a", "b", "1", None)
            .get("location")
            .is_none()
    );
    assert_eq!(
        location(&GROUP_RESOURCE, "https://h/v2/", "a b/c"),
        "https://h/v2/Groups/a%20b%2Fc"
    );
    assert_eq!(
        location(&USER_RESOURCE, "https://h/v2", "u-1"),
        "https://h/v2/Users/u-1"
    );

    let body = create_user(json!({"userName": "a", "externalId": "e", "id": "x",
                                  ENT: {"division": "d"}, "schemas": [USER]}))
    .unwrap();
    let out = finish(body, "u1", m.clone());
    assert_eq!(
        keys(&out),
        ["schemas", "id", "externalId", "userName", ENT, "meta"]
    );
    assert_eq!(out["meta"], m);
}

#[test]
fn member_refs_follow_the_type() {
    let mut group = stored_group();
    with_member_refs(&mut group, "https://h/scim/v2/");
    let refs: Vec<_> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["$ref"].clone())
        .collect();
    assert_eq!(
        refs,
        [
            json!("https://h/scim/v2/Users/u1"),
            json!("https://h/scim/v2/Groups/g2"),
            json!("https://h/scim/v2/Users/u3")
        ]
    );
    // Nothing to do without members.
    let mut user = stored_user();
    let before = user.clone();
    with_member_refs(&mut user, "https://h");
    assert_eq!(user, before);
}
