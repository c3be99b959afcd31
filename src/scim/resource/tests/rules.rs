use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

#[test]
fn required_attributes() {
    invalid_value(
        create_user(json!({"schemas": [USER]})),
        "'userName' is required",
    );
    invalid_value(
        create_user(json!({"schemas": [USER], "userName": "  "})),
        "'userName'",
    );
    invalid_value(
        create_user(json!({"schemas": [USER], "userName": null})),
        "'userName'",
    );
    invalid_value(create_user(json!({"not": "a scim resource"})), "'userName'");
    invalid_value(
        create_group(json!({"schemas": [GROUP]})),
        "'displayName' is required",
    );
    invalid_value(
        create_group(json!({"schemas": [GROUP], "displayName": ""})),
        "'displayName'",
    );
    // PUT and PATCH may not drop them either.
    invalid_value(
        prepare_replace(&USER_RESOURCE, json!({"schemas": [USER]}), &stored_user()),
        "'userName'",
    );
    let mut patched = stored_user();
    patched.as_object_mut().unwrap().remove("userName");
    invalid_value(
        validate_patched(&USER_RESOURCE, patched, &stored_user()),
        "'userName'",
    );
}

#[test]
fn primary_at_most_once_on_create_and_replace() {
    let two = json!({"schemas": [USER], "userName": "a", "emails": [
        {"value": "a@x", "primary": true}, {"value": "b@x", "primary": "True"}
    ]});
    invalid_value(create_user(two.clone()), "At most one value of 'emails'");
    invalid_value(
        prepare_replace(&USER_RESOURCE, two, &stored_user()),
        "'emails'",
    );
    let ok = json!({"schemas": [USER], "userName": "a", "addresses": [
        {"locality": "A", "primary": true}, {"locality": "B", "primary": false}, {"locality": "C"}
    ]});
    assert!(create_user(ok).is_ok());
}

#[test]
fn patched_primary_moves_to_the_new_value() {
    let existing = stored_user();
    let mut patched = existing.clone();
    // `replace emails[type eq "home"].primary true`, as the PATCH engine applies it.
    patched["emails"][1]["primary"] = json!("True");
    let out = validate_patched(&USER_RESOURCE, patched, &existing).unwrap();
    assert_eq!(
        out["emails"],
        json!([
            {"value": "b@work.example", "type": "work", "primary": false},
            {"value": "b@home.example", "type": "home", "primary": true}
        ])
    );
    // An added primary value after the old one wins the same way.
    let mut patched = existing.clone();
    patched["emails"]
        .as_array_mut()
        .unwrap()
        .push(json!({"value": "new@x", "primary": true}));
    let out = validate_patched(&USER_RESOURCE, patched, &existing).unwrap();
    let flags: Vec<_> = out["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["primary"].clone())
        .collect();
    assert_eq!(flags, [json!(false), Value::Null, json!(true)]);
    // Two new primaries at once are still ambiguous.
    let mut patched = existing.clone();
    let emails = patched["emails"].as_array_mut().unwrap();
    emails.push(json!({"value": "n1@x", "primary": true}));
    emails.push(json!({"value": "n2@x", "primary": true}));
    invalid_value(
        validate_patched(&USER_RESOURCE, patched, &existing),
        "'emails'",
    );
}

#[test]
fn patched_keeps_carried_over_read_only_attributes() {
    let existing = stored_user();
    let mut patched = existing.clone();
    patched["active"] = json!("False");
    patched["NickName"] = json!("Babs");
    let out = validate_patched(&USER_RESOURCE, patched, &existing).unwrap();
    assert_eq!(out["id"], "u1");
    assert_eq!(out["meta"], existing["meta"]);
    assert_eq!(out["active"], false);
    assert_eq!(out["nickName"], "Babs");
    // `groups` is computed, never stored.
    assert!(out.get("groups").is_none());
    assert_eq!(keys(&out).first(), Some(&"schemas"));
    assert_eq!(keys(&out)[1], "id");
    assert_eq!(keys(&out).last(), Some(&"meta"));
    // An engine that drops id/meta gets them back from the stored resource.
    let mut bare = existing.clone();
    bare.as_object_mut().unwrap().remove("id");
    bare.as_object_mut().unwrap().remove("meta");
    let out = validate_patched(&USER_RESOURCE, bare, &existing).unwrap();
    assert_eq!(
        (out["id"].clone(), out["meta"].clone()),
        (json!("u1"), existing["meta"].clone())
    );
}

#[test]
fn patched_read_only_changes() {
    let existing = stored_user();
    // Okta's no-path rename echoes the unchanged id: fine.
    let mut same = existing.clone();
    same["ID"] = same["id"].take();
    same.as_object_mut().unwrap().remove("id");
    assert!(validate_patched(&USER_RESOURCE, same, &existing).is_ok());
    // A changed id is refused.
    let mut changed = existing.clone();
    changed["id"] = json!("u2");
    let (status, ty, _) = err(validate_patched(&USER_RESOURCE, changed, &existing));
    assert_eq!((status, ty), (400, Some(ScimType::Mutability)));
    // Echoed server-computed values are ignored, as on PUT.
    let mut echoed = existing.clone();
    echoed["meta"]["location"] = json!("https://elsewhere/Users/u1");
    echoed["groups"] = json!([]);
    let out = validate_patched(&USER_RESOURCE, echoed, &existing).unwrap();
    assert_eq!(out["meta"], existing["meta"]);
    // A replaced password is never stored.
    let mut pw = existing.clone();
    pw["password"] = json!("s3cret");
    let out = validate_patched(&USER_RESOURCE, pw, &existing).unwrap();
    assert!(out.get("password").is_none());
}

mod custom {
    //! A resource type with an immutable attribute, an immutable
    //! sub-attribute and a required extension, which the RFC schemas lack.
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::scim::schema::{
        AttrType, AttributeDef, ENTERPRISE_USER_SCHEMA, Mutability, ResourceTypeDef, SchemaDef,
    };

    static SUBS: [AttributeDef; 2] = [
        AttributeDef {
            mutability: Mutability::Immutable,
            ..AttributeDef::new("code", AttrType::String, "c")
        },
        AttributeDef::new("note", AttrType::String, "n"),
    ];
    static ATTRS: [AttributeDef; 3] = [
        AttributeDef {
            required: true,
            ..AttributeDef::new("userName", AttrType::String, "u")
        },
        AttributeDef {
            mutability: Mutability::Immutable,
            ..AttributeDef::new("badge", AttrType::String, "b")
        },
        AttributeDef {
            sub_attributes: &SUBS,
            ..AttributeDef::new("tag", AttrType::Complex, "t")
        },
    ];
    static SCHEMA: SchemaDef = SchemaDef {
        id: "urn:example:Thing",
        name: "Thing",
        description: "Thing",
        attributes: &ATTRS,
    };
    static THING: ResourceTypeDef = ResourceTypeDef {
        name: "Thing",
        endpoint: "/Things",
        description: "Thing",
        schema: &SCHEMA,
        extensions: &[(&ENTERPRISE_USER_SCHEMA, true)],
    };

    fn thing(extra: Value) -> Value {
        let mut v =
            json!({"schemas": ["urn:example:Thing"], "userName": "a", ENT: {"division": "d"}});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    }

    #[test]
    fn immutable_values_are_kept_and_cannot_change() {
        let existing = prepare_create(
            &THING,
            thing(json!({"badge": "B1", "tag": {"code": "C", "note": "x"}})),
        )
        .unwrap();
        // Omitted: carried over rather than cleared.
        let out = prepare_replace(&THING, thing(json!({"tag": {"note": "y"}})), &existing).unwrap();
        assert_eq!(out["badge"], "B1");
        assert_eq!(out["tag"], json!({"note": "y", "code": "C"}));
        // Same value: fine.
        assert!(prepare_replace(&THING, thing(json!({"badge": "B1"})), &existing).is_ok());
        // Different value: 400 mutability, on PUT and after PATCH.
        for changed in [json!({"badge": "B2"}), json!({"tag": {"code": "D"}})] {
            let (status, ty, detail) =
                err(prepare_replace(&THING, thing(changed.clone()), &existing));
            assert_eq!((status, ty), (400, Some(ScimType::Mutability)), "{detail}");
            let mut patched = existing.clone();
            patched
                .as_object_mut()
                .unwrap()
                .extend(changed.as_object().unwrap().clone());
            let (_, ty, _) = err(validate_patched(&THING, patched, &existing));
            assert_eq!(ty, Some(ScimType::Mutability));
        }
        // Not set before: a PUT may set it (RFC 7643 §7).
        let bare = prepare_create(&THING, thing(json!({}))).unwrap();
        let out = prepare_replace(&THING, thing(json!({"badge": "B9"})), &bare).unwrap();
        assert_eq!(out["badge"], "B9");
    }

    #[test]
    fn required_extensions() {
        let mut v = thing(json!({}));
        v.as_object_mut().unwrap().remove(ENT);
        invalid_value(
            prepare_create(&THING, v),
            "Extension 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' is required",
        );
        // Present but empty is absent.
        invalid_value(
            prepare_create(&THING, thing(json!({ENT: {"division": null}}))),
            "is required",
        );
    }
}

#[test]
fn client_extensions_survive_put_and_patch() {
    const ACME: &str = "urn:example:acme:2.0:User";
    let existing = json!({
        "schemas": [USER, ACME], "id": "u1", "userName": "a",
        ACME: {"level": 3, "tags": ["x", null]}, "meta": {"version": "W/\"1\""}
    });
    let mut patched = existing.clone();
    patched["nickName"] = json!("n");
    let out = validate_patched(&USER_RESOURCE, patched, &existing).unwrap();
    assert_eq!(out[ACME], existing[ACME]);
    assert_eq!(out["schemas"], json!([USER, ACME]));
    let out = prepare_replace(
        &USER_RESOURCE,
        json!({"schemas": [USER, ACME], "userName": "a", ACME: {"level": 4}}),
        &existing,
    )
    .unwrap();
    assert_eq!(out[ACME], json!({"level": 4}));
}
