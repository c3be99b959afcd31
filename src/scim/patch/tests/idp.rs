//! The PATCH bodies JumpCloud, Okta and Entra ID send, as recorded in
//! `idp-scim-detail.md`, and the deviations from RFC 7644 they need.

use serde_json::json;

use super::*;

fn group_named(name: &str, members: &[&str]) -> Value {
    json!({
        "schemas": [CORE_GROUP],
        "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
        "displayName": name,
        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------
// JumpCloud

#[test]
fn jumpcloud_renames_a_group_without_a_path() {
    let g = group_named("Engineering", &["u1"]);
    let patched = apply_body(
        &GROUP_RESOURCE,
        &g,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"displayName": "New name"}}]
        }),
    )
    .expect("rename");
    assert_eq!(patched["displayName"], "New name");
    assert_eq!(member_ids(&patched), ["u1"]);
}

#[test]
fn jumpcloud_adds_members_idempotently() {
    let g = group_named("Engineering", &["u1"]);
    let add = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": "u2"}]}]
    });
    let once = apply_body(&GROUP_RESOURCE, &g, &add).expect("add");
    assert_eq!(member_ids(&once), ["u1", "u2"]);
    // JumpCloud re-sends adds for existing members [O S8]: no duplicate, no
    // error. (RFC 7644 §3.5.2.1 says such an add SHOULD change nothing; taken
    // as MUST, since a 400 here would fail JumpCloud's whole sync.)
    let twice = apply_body(&GROUP_RESOURCE, &once, &add).expect("re-add");
    assert_eq!(twice, once);
}

#[test]
fn jumpcloud_removes_only_the_listed_members() {
    // Deviation (JumpCloud, Entra ID; RFC 7644 §3.5.2.2): `value` lists the
    // members to remove; the RFC would clear the whole attribute.
    let g = group_named("Engineering", &["u1", "u2", "u3"]);
    let patched = apply_body(
        &GROUP_RESOURCE,
        &g,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": "members", "value": [{"value": "u2"}]}]
        }),
    )
    .expect("remove");
    assert_eq!(member_ids(&patched), ["u1", "u3"]);

    let patched = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "remove", "path": "members",
        "value": [{"value": "u1"}, {"value": "u3"}, {"value": "not-a-member"}]}]),
    );
    assert_eq!(member_ids(&patched), ["u2"]);

    // An empty list removes nothing rather than everything.
    let patched = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "remove", "path": "members", "value": []}]),
    );
    assert_eq!(patched, g);
}

#[test]
fn jumpcloud_replaces_user_fields_one_path_at_a_time() {
    // Low-confidence sample [O S7]; the same shapes as Entra's without the capitals.
    let patched = patch_user(json!([
        {"op": "replace", "path": "name.givenName", "value": "Barb"},
        {"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"},
        {"op": "replace", "path": "displayName", "value": "Barb Jensen-Smith"},
        {"op": "replace", "path": "active", "value": false}
    ]));
    assert_eq!(patched["name"]["givenName"], "Barb");
    assert_eq!(patched["name"]["familyName"], "Jensen-Smith");
    assert_eq!(patched["active"], false);
}

// ---------------------------------------------------------------------------
// Okta

#[test]
fn okta_deactivates_and_syncs_passwords_without_a_path() {
    let deactivated = apply_body(
        &USER_RESOURCE,
        &user(),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]
        }),
    )
    .expect("deactivate");
    assert_eq!(deactivated["active"], false);
    let reactivated = patch(
        &USER_RESOURCE,
        &deactivated,
        json!([{"op": "replace", "value": {"active": true}}]),
    );
    assert_eq!(reactivated, user());
    let patched = patch_user(json!([{"op": "replace", "value": {"password": "1mz050nq"}}]));
    assert_eq!(patched["password"], "1mz050nq");
}

#[test]
fn okta_rename_carries_the_unchanged_id() {
    // Deviation (Okta; RFC 7644 §3.5.2 "MUST NOT modify" readOnly): the
    // current id is accepted, a different one is not.
    let g = group_named("Test SCIMv2", &["u1"]);
    let rename = |id: &str, name: &str| {
        apply_body(
            &GROUP_RESOURCE,
            &g,
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"id": id, "displayName": name}}]
            }),
        )
    };
    // Sent with every membership change, usually with the same name.
    assert_eq!(
        rename("abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "Test SCIMv2").expect("same"),
        g
    );
    let renamed = rename("abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "Renamed").expect("rename");
    assert_eq!(renamed["displayName"], "Renamed");
    assert_eq!(renamed["id"], g["id"]);
    assert_eq!(failure(rename("another-id", "Renamed")), MUTABILITY);
}

#[test]
fn okta_membership_delta() {
    let g = group_named(
        "Test SCIMv2",
        &["89bb1940-b905-4575-9e7f-6f887cfb368e", "u1"],
    );
    let patched = apply_body(&GROUP_RESOURCE, &g, &json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
            {"op": "add", "path": "members", "value": [
                {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}
            ]}
        ]
    }))
    .expect("delta");
    assert_eq!(
        patched["members"],
        json!([
            {"value": "u1"},
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}
        ])
    );
}

#[test]
fn okta_full_push_and_empty_push() {
    let g = group_named("Test SCIMv2", &["u1", "u2"]);
    let pushed = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "replace", "path": "members", "value": [
            {"value": "u2", "display": "two@okta.local"},
            {"value": "u3", "display": "three@okta.local"}
        ]}]),
    );
    assert_eq!(member_ids(&pushed), ["u2", "u3"]);
    // Pushing an emptied group sends `replace members []` [O S18].
    let emptied = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "replace", "path": "members", "value": []}]),
    );
    assert_eq!(member_ids(&emptied), Vec::<String>::new());
    assert_eq!(emptied["displayName"], "Test SCIMv2");
}

// ---------------------------------------------------------------------------
// Entra ID

#[test]
fn entra_disables_with_a_capitalised_op_and_a_string_boolean() {
    // Deviation (Entra ID; RFC 7644 §3.5.2 spells ops in lower case, RFC 7643
    // §2.3.2 booleans as JSON): both accepted; "False" is kept as sent for
    // validation to coerce, which it must be able to see here.
    let patched = apply_body(
        &USER_RESOURCE,
        &user(),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        }),
    )
    .expect("disable");
    assert_eq!(patched["active"], "False");
    let patched = patch_user(json!([{"op": "Replace", "path": "active", "value": false}]));
    assert_eq!(patched["active"], false);
}

#[test]
fn entra_adds_an_attribute() {
    let mut u = user();
    u.as_object_mut().expect("object").remove("nickName");
    let patched = apply_body(
        &USER_RESOURCE,
        &u,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "nickName", "value": "Babs"}]
        }),
    )
    .expect("add");
    assert_eq!(patched["nickName"], "Babs");
}

fn entra_expected_update(u: &Value) -> Value {
    let mut want = u.clone();
    want["displayName"] = json!("Pvlo");
    want["emails"][0]["value"] = json!("TestBcwqnm@test.microsoft.com");
    want["name"]["givenName"] = json!("Gtfd");
    want["name"]["familyName"] = json!("Pkqf");
    want["externalId"] = json!("Eqpj");
    want["schemas"] = json!([CORE_USER, ENTERPRISE]);
    want[ENTERPRISE] = json!({"employeeNumber": "Eqpj"});
    want
}

#[test]
fn entra_multi_attribute_update_one_replace_per_path() {
    let patched = apply_body(&USER_RESOURCE, &user(), &json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
        ]
    }))
    .expect("update");
    assert_eq!(patched, entra_expected_update(&user()));
}

#[test]
fn entra_multi_attribute_update_with_path_keys() {
    // Deviation (Entra ID with aadOptscim062020; RFC 7644 §3.5.2.3 wants
    // attribute names as keys): dotted and URN-qualified keys are paths.
    let patched = apply_body(&USER_RESOURCE, &user(), &json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Pvlo",
                "name.givenName": "Gtfd",
                "name.familyName": "Pkqf",
                "externalId": "Eqpj",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Eqpj"
            }}
        ]
    }))
    .expect("update");
    assert_eq!(patched, entra_expected_update(&user()));
}

#[test]
fn entra_extension_keys_in_every_form() {
    let u = user();
    for value in [
        json!({format!("{ENTERPRISE}:employeeNumber"): "123", format!("{ENTERPRISE}:manager"): {"value": "m1"}}),
        json!({ENTERPRISE: {"employeeNumber": "123", "manager": {"value": "m1"}}}),
        json!({ENTERPRISE: {"employeeNumber": "123", "manager.value": "m1"}}),
        json!({ENTERPRISE.to_lowercase(): {"EmployeeNumber": "123", "manager": "m1"}}),
    ] {
        let patched = patch(
            &USER_RESOURCE,
            &u,
            json!([{"op": "Add", "value": value.clone()}]),
        );
        assert_eq!(
            patched[ENTERPRISE],
            json!({"employeeNumber": "123", "manager": {"value": "m1"}}),
            "{value}"
        );
        assert_eq!(
            patched["schemas"],
            json!([CORE_USER, ENTERPRISE]),
            "{value}"
        );
    }
    // The same with the extension URN as the path.
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "replace", "path": ENTERPRISE,
        "value": {"department": "Tours"}}]),
    );
    assert_eq!(patched[ENTERPRISE], json!({"department": "Tours"}));
}

#[test]
fn entra_sends_the_manager_as_a_bare_id() {
    // Deviation (Entra ID; RFC 7643 §4.3 has manager as a complex value):
    // stored as {"value": "<id>"}, which is what Entra reads back.
    let patched = apply_body(
        &USER_RESOURCE,
        &user(),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": "26118915-6090-4610-87e4-49d8ca9f808d"}]
        }),
    )
    .expect("manager");
    assert_eq!(
        patched[ENTERPRISE],
        json!({"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}})
    );
    let replaced = patch(
        &USER_RESOURCE,
        &enterprise_user(),
        json!([{"op": "Replace",
        "path": format!("{ENTERPRISE}:manager"), "value": "m2"}]),
    );
    assert_eq!(replaced[ENTERPRISE]["manager"]["value"], "m2");
    let removed = patch(
        &USER_RESOURCE,
        &patched,
        json!([{"op": "Remove",
        "path": format!("{ENTERPRISE}:manager")}]),
    );
    assert_eq!(removed, user());
}

#[test]
fn entra_writes_a_filtered_value_the_user_does_not_have() {
    // Deviation (Entra ID; RFC 7644 §3.5.2.3 answers noTarget, §3.5.2.1 is
    // unclear, RFC errata 8097): an `eq` filter matching nothing creates the
    // value it describes.
    let mut u = user();
    u.as_object_mut().expect("object").remove("emails");
    for op in ["Add", "Replace"] {
        let patched = patch(
            &USER_RESOURCE,
            &u,
            json!([{"op": op,
            "path": "emails[type eq \"work\"].value", "value": "babs@example.com"}]),
        );
        assert_eq!(
            patched["emails"],
            json!([{"type": "work", "value": "babs@example.com"}]),
            "{op}"
        );
    }
    // With other emails, a work one is added beside them.
    let mut u = user();
    u["emails"] = json!([{"value": "babs@jensen.org", "type": "home", "primary": true}]);
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"},
            {"op": "Add", "path": "emails[type eq \"work\"].primary", "value": true}
        ]),
    );
    assert_eq!(
        patched["emails"],
        json!([
            {"value": "babs@jensen.org", "type": "home", "primary": false},
            {"type": "work", "value": "babs@example.com", "primary": true}
        ])
    );
    // And a conjunction of eqs describes one value too.
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "replace",
        "path": "addresses[type eq \"work\" and country eq \"US\"].locality", "value": "Burbank"}]),
    );
    assert_eq!(
        patched["addresses"][2],
        json!({"type": "work", "country": "US", "locality": "Burbank"})
    );
}

#[test]
fn entra_removes_members_in_both_dialects() {
    let g = group_named(
        "displayName",
        &["u1091", "7f4bc1a3-285e-48ae-8202-5accb43efb0e", "u3"],
    );
    let patched = apply_body(
        &GROUP_RESOURCE,
        &g,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}]
        }),
    )
    .expect("no flag");
    assert_eq!(
        member_ids(&patched),
        ["7f4bc1a3-285e-48ae-8202-5accb43efb0e", "u3"]
    );
    let patched = apply_body(&GROUP_RESOURCE, &patched, &json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}]
    }))
    .expect("flag");
    assert_eq!(member_ids(&patched), ["u3"]);
}

#[test]
fn entra_group_lifecycle() {
    // Created without members, renamed, filled and emptied by PATCH.
    let g = json!({
        "schemas": [CORE_GROUP],
        "id": "g1",
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
    });
    let req = |op: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]});
    let renamed = apply_body(&GROUP_RESOURCE, &g, &req(json!(
        {"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}
    )))
    .expect("rename");
    assert_eq!(
        renamed["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    let filled = apply_body(&GROUP_RESOURCE, &renamed, &req(json!(
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}
    )))
    .expect("add");
    assert_eq!(
        filled["members"],
        json!([{"value": "f648f8d5ea4e4cd38e9c"}]),
        "null $ref is unassigned"
    );
    // Entra re-adds existing members whenever one is removed [O S9].
    let again = apply_body(&GROUP_RESOURCE, &filled, &req(json!(
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}
    )))
    .expect("re-add");
    assert_eq!(again, filled);
    let emptied = apply_body(&GROUP_RESOURCE, &filled, &req(json!(
        {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}
    )))
    .expect("remove");
    assert_eq!(emptied, renamed);
}

#[test]
fn entra_adds_several_members_in_one_op() {
    let g = group_named("Sales", &["a"]);
    let patched = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "Add", "path": "members",
        "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}, {"value": "d"}, {"value": "e"}, {"value": "f"}, {"value": "b"}]}]),
    );
    assert_eq!(member_ids(&patched), ["a", "b", "c", "d", "e", "f"]);
}
