use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

#[test]
fn body_must_be_an_object() {
    for bad in [json!([]), json!("x"), json!(null), json!(1)] {
        let (status, ty, _) = err(create_user(bad));
        assert_eq!((status, ty), (400, Some(ScimType::InvalidSyntax)));
    }
}

#[test]
fn okta_create_is_normalised() {
    let out = create_user(json!({
        "schemas": [USER],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [USER],
            "externalId": "00ujl29u0le5T6Aj10h7",
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "active": true
        })
    );
    assert_eq!(keys(&out)[..3], ["schemas", "externalId", "userName"]);
}

#[test]
fn names_take_the_schema_spelling() {
    let out = create_user(json!({
        "SCHEMAS": [USER.to_uppercase(), ENT.to_lowercase()],
        "USERNAME": "bjensen",
        "Emails": [{"Value": "b@example.com", "TYPE": "work", "Primary": true}],
        "NAME": {"GIVENNAME": "Barbara"},
        ENT.to_uppercase(): {"EMPLOYEENUMBER": "42", "Manager": {"VALUE": "m1"}}
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [USER, ENT],
            "userName": "bjensen",
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "name": {"givenName": "Barbara"},
            ENT: {"employeeNumber": "42", "manager": {"value": "m1"}}
        })
    );
}

#[test]
fn the_same_name_twice_is_ambiguous() {
    for body in [
        json!({"schemas": [USER], "userName": "a", "USERNAME": "b"}),
        json!({"schemas": [USER], "userName": "a", "name": {"givenName": "x", "GivenName": null}}),
        json!({"schemas": [USER], "Schemas": [USER], "userName": "a"}),
        json!({"schemas": [USER], "userName": "a", ENT: {"division": "x", "DIVISION": "y"}}),
        json!({"schemas": [USER], "userName": "a", ENT: {}, ENT.to_lowercase(): {}}),
    ] {
        let (status, ty, detail) = err(create_user(body));
        assert_eq!(
            (status, ty),
            (400, Some(ScimType::InvalidSyntax)),
            "{detail}"
        );
    }
}

#[test]
fn entra_string_booleans_are_coerced() {
    for (given, want) in [
        ("True", true),
        ("False", false),
        ("true", true),
        ("FALSE", false),
    ] {
        let out = create_user(json!({
            "schemas": [USER], "userName": "a", "active": given,
            "emails": [{"value": "a@x", "primary": given}]
        }))
        .unwrap();
        assert_eq!(out["active"], want);
        assert_eq!(out["emails"][0]["primary"], want);
    }
    invalid_value(
        create_user(json!({"schemas": [USER], "userName": "a", "active": "yes"})),
        "'active' must be a boolean, not a string",
    );
    invalid_value(
        create_user(json!({"schemas": [USER], "userName": "a", "active": 1})),
        "'active'",
    );
}

#[test]
fn types_are_checked_and_named() {
    let cases = [
        (
            json!({"userName": 5}),
            "'userName' must be a string, not a number",
        ),
        (json!({"name": "Barbara"}), "'name' must be an object"),
        (
            json!({"name": {"givenName": true}}),
            "'name.givenName' must be a string",
        ),
        (
            json!({"emails": [{"value": 1}]}),
            "'emails.value' must be a string",
        ),
        (
            json!({"emails": [["a"]]}),
            "'emails' must hold values, not arrays",
        ),
        (
            json!({"displayName": ["a"]}),
            "'displayName' is single-valued",
        ),
        (
            json!({"profileUrl": {}}),
            "'profileUrl' must be a string, not an object",
        ),
        (json!({"externalId": 7}), "'externalId' must be a string"),
        (
            json!({"x509Certificates": [{"value": "not base64!"}]}),
            "base64",
        ),
        (
            json!({ENT: {"manager": {"value": 42}}}),
            "'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value'",
        ),
        (json!({ENT: "x"}), "must be a JSON object"),
    ];
    for (extra, needle) in cases {
        let mut body = json!({"schemas": [USER], "userName": "a"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        invalid_value(create_user(body), needle);
    }
    let out = create_user(json!({
        "schemas": [USER], "userName": "a",
        "x509Certificates": [{"value": "TUlJRGVqQ0NBbUtnQXdJQkFnSUpBUG8="}],
        "profileUrl": "https://x.test/u"
    }))
    .unwrap();
    assert_eq!(
        out["x509Certificates"][0]["value"],
        "TUlJRGVqQ0NBbUtnQXdJQkFnSUpBUG8="
    );
}

#[test]
fn integers_decimals_and_date_times() {
    use crate::scim::schema::{AttrType, AttributeDef};
    use values::{Loc, attribute};
    static INT: AttributeDef = AttributeDef::new("n", AttrType::Integer, "n");
    static DEC: AttributeDef = AttributeDef::new("d", AttrType::Decimal, "d");
    static DT: AttributeDef = AttributeDef::new("t", AttrType::DateTime, "t");
    let check = |a: &'static AttributeDef, v: Value| attribute(a, v, Loc::top(None, a.name));
    assert_eq!(check(&INT, json!(3)).unwrap(), Some(json!(3)));
    assert_eq!(check(&INT, json!(-3)).unwrap(), Some(json!(-3)));
    assert!(check(&INT, json!(1.5)).is_err());
    assert!(check(&INT, json!("3")).is_err());
    assert_eq!(check(&DEC, json!(1.5)).unwrap(), Some(json!(1.5)));
    assert_eq!(check(&DEC, json!(2)).unwrap(), Some(json!(2)));
    assert!(check(&DEC, json!("1.5")).is_err());
    for ok in [
        "2008-01-23T04:56:22Z",
        "2008-01-23T04:56:22.5+02:00",
        "2008-01-23T04:56:22",
    ] {
        assert_eq!(check(&DT, json!(ok)).unwrap(), Some(json!(ok)), "{ok}");
    }
    for bad in ["yesterday", "2008-01-23", "2008-13-23T04:56:22Z"] {
        let e = check(&DT, json!(bad)).unwrap_err();
        assert!(e.detail.contains("'t' must be a dateTime"), "{bad}: {e}");
    }
}

#[test]
fn single_values_for_multi_valued_attributes_are_wrapped() {
    let out = create_user(json!({
        "schemas": [USER], "userName": "a",
        "emails": {"value": "a@x", "type": "work"},
        "phoneNumbers": "tel:+1-555"
    }))
    .unwrap();
    assert_eq!(out["emails"], json!([{"value": "a@x", "type": "work"}]));
    assert_eq!(out["phoneNumbers"], json!([{"value": "tel:+1-555"}]));
}

#[test]
fn entra_bare_manager_id_becomes_a_complex_value() {
    let out = create_user(json!({
        "schemas": [USER, ENT], "userName": "a", ENT: {"manager": "m42"}
    }))
    .unwrap();
    assert_eq!(out[ENT], json!({"manager": {"value": "m42"}}));
    // `name` has no `value` sub-attribute to put it in.
    invalid_value(
        create_user(json!({"schemas": [USER], "userName": "a", "name": "x"})),
        "'name' must be an object",
    );
}

#[test]
fn nulls_and_empties_are_unassigned() {
    let out = create_user(json!({
        "schemas": [USER], "userName": "a",
        "emails": null, "addresses": [], "phoneNumbers": [null, {}],
        "name": {"givenName": null, "familyName": "F"}, "nickName": null,
        "title": "", ENT: {}, "roles": [{"value": null}]
    }))
    .unwrap();
    // An empty string is a value, not "unassigned".
    assert_eq!(
        out,
        json!({"schemas": [USER], "userName": "a", "name": {"familyName": "F"}, "title": ""})
    );
}

#[test]
fn jumpcloud_minimal_put_clears_what_it_omits() {
    let existing = stored_user();
    let out = prepare_replace(
        &USER_RESOURCE,
        json!({
            "active": true, "emails": null, "id": "u1",
            "name": {"familyName": "lastname", "givenName": "firstname"},
            "schemas": [USER], "userName": "testuser@example.io"
        }),
        &existing,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [USER],
            "active": true,
            "name": {"familyName": "lastname", "givenName": "firstname"},
            "userName": "testuser@example.io"
        })
    );
}

#[test]
fn read_only_and_write_only_input_is_dropped() {
    let out = create_user(json!({
        "schemas": [USER, ENT], "userName": "a", "id": "chosen-by-client",
        "meta": {"resourceType": "User"}, "groups": [{"value": "g1"}],
        "password": "hunter2",
        ENT: {"manager": {"value": "m1", "displayName": "Boss"}}
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({"schemas": [USER, ENT], "userName": "a", ENT: {"manager": {"value": "m1"}}})
    );
    // Even a wrongly typed readOnly or writeOnly value is simply ignored.
    assert!(
        create_user(json!({"schemas": [USER], "userName": "a", "id": 5, "password": 1})).is_ok()
    );
}

#[test]
fn unknown_attributes_are_dropped_and_declared_extensions_kept() {
    const CUSTOM: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";
    const MS: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
    let custom_data = json!({"badge": {"n": 7, "tags": ["a", null]}, "x": null});
    let out = create_user(json!({
        "schemas": [USER, CUSTOM],
        "userName": "a",
        "favouriteColour": "blue",
        "name": {"givenName": "G", "nickname": "nope"},
        CUSTOM.to_uppercase(): custom_data,
        "urn:example:undeclared": {"y": 1},
        ENT: {"employeeNumber": "1", "shoeSize": 44}
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [USER, CUSTOM, ENT],
            "userName": "a",
            "name": {"givenName": "G"},
            CUSTOM: custom_data,
            ENT: {"employeeNumber": "1"}
        })
    );
    // Entra's extra Group schema URI, declared without data.
    let out = create_group(json!({"schemas": [GROUP, MS], "displayName": "g", "externalId": "e"}))
        .unwrap();
    assert_eq!(out["schemas"], json!([GROUP, MS]));
    invalid_value(
        create_user(json!({"schemas": [USER, CUSTOM], "userName": "a", CUSTOM: [1]})),
        "must be a JSON object",
    );
}

#[test]
fn schemas_rules() {
    // Missing or empty: filled in.
    for body in [
        json!({"userName": "a"}),
        json!({"schemas": [], "userName": "a"}),
    ] {
        assert_eq!(create_user(body).unwrap()["schemas"], json!([USER]));
    }
    // Core first, canonical spelling, no duplicates; data implies its URN.
    let out = create_user(json!({
        "schemas": [ENT, USER, ENT.to_lowercase()], "userName": "a"
    }))
    .unwrap();
    assert_eq!(out["schemas"], json!([USER, ENT]));
    let out =
        create_user(json!({"schemas": USER, "userName": "a", ENT: {"division": "d"}})).unwrap();
    assert_eq!(out["schemas"], json!([USER, ENT]));
    for body in [
        json!({"schemas": [ENT], "userName": "a"}),
        json!({"schemas": [GROUP], "userName": "a"}),
        json!({"schemas": [USER, GROUP], "userName": "a"}),
        json!({"schemas": [USER, "urn:ietf:params:scim:api:messages:2.0:PatchOp"], "userName": "a"}),
        json!({"schemas": [USER, "urn:ietf:params:scim:schemas:core:2.0:Agent"], "userName": "a"}),
        json!({"schemas": [USER, 5], "userName": "a"}),
        json!({"schemas": {"a": 1}, "userName": "a"}),
    ] {
        let (status, ty, detail) = err(create_user(body.clone()));
        assert_eq!(
            (status, ty),
            (400, Some(ScimType::InvalidSyntax)),
            "{body} {detail}"
        );
    }
    // The enterprise extension is not a Group's.
    let (_, ty, detail) = err(create_group(
        json!({"schemas": [GROUP, ENT], "displayName": "g"}),
    ));
    assert_eq!(ty, Some(ScimType::InvalidSyntax));
    assert!(detail.contains("does not apply to Group"), "{detail}");
}
