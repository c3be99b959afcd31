//! The roundtrip law on fixed and generated resources, fallbacks to `extra`,
//! and errors.

use pretty_assertions::assert_eq;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::scim::examples::rfc7643_full_user;
use crate::scim::resource::prepare_create;
use crate::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};

const ENT: &str = ENTERPRISE_USER_SCHEMA_URN;
const CUSTOM: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// `r` as `*_to_scim` must give it back: without `id`, `meta` and (for
/// Users) `groups`.
fn expected(r: &Value, user: bool) -> Value {
    let mut m = r.as_object().unwrap().clone();
    for k in ["id", "meta"] {
        m.shift_remove(k);
    }
    if user {
        m.shift_remove("groups");
    }
    Value::Object(m)
}

/// The spec survives a trip through the API server's JSON unchanged.
fn assert_serde_roundtrip<T>(spec: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let stored = serde_json::to_value(spec).unwrap();
    let back: T = serde_json::from_value(stored).unwrap();
    assert_eq!(&back, spec);
}

/// Asserts the roundtrip law for a User and returns the spec and output.
fn user_law(r: &Value) -> (ScimUserSpec, Value) {
    let spec = user_spec_from_scim(r).unwrap();
    assert_serde_roundtrip(&spec);
    let out = user_to_scim(&spec);
    assert_eq!(out, expected(r, true));
    assert_eq!(keys(&out)[0], "schemas");
    (spec, out)
}

fn group_law(r: &Value) -> (ScimGroupSpec, Value) {
    let spec = group_spec_from_scim(r).unwrap();
    assert_serde_roundtrip(&spec);
    let out = group_to_scim(&spec);
    assert_eq!(out, expected(r, false));
    assert_eq!(keys(&out)[0], "schemas");
    (spec, out)
}

/// Every core attribute, the enterprise extension and a client extension,
/// in the normalised form the protocol layer stores.
fn full_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA_URN, ENT, CUSTOM],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": false,
        "emails": [
            {"value": "bjensen@example.com", "display": "Work mail", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home", "primary": false}
        ],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "ims": [{"value": "someaimhandle", "type": "aim", "display": "AIM"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo", "primary": true}],
        "addresses": [{
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "type": "work",
            "primary": true
        }],
        "entitlements": [{"value": "vpn", "display": "VPN access", "type": "network", "primary": true}],
        "roles": [{"value": "guide", "display": "Guide", "type": "job", "primary": false}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx", "display": "cert"}],
        ENT: {
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
        },
        CUSTOM: {"badge": 42, "tags": ["a", {"b": null}], "nested": {"deep": true}},
        "meta": {"resourceType": "User", "version": "W/\"1\""},
        "groups": [{"value": "g1", "display": "Tour Guides"}]
    })
}

#[test]
fn full_user_roundtrips_into_typed_fields() {
    let r = full_user();
    let (spec, out) = user_law(&r);

    // Everything the CRD models is typed; only the client extension is extra.
    assert_eq!(spec.extra.keys().collect::<Vec<_>>(), [CUSTOM]);
    assert_eq!(spec.active, Some(false));
    assert_eq!(
        spec.name.as_ref().unwrap().middle_name.as_deref(),
        Some("Jane")
    );
    assert_eq!(spec.emails[0].display.as_deref(), Some("Work mail"));
    assert_eq!(spec.addresses[0].postal_code.as_deref(), Some("91608"));
    assert_eq!(spec.x509_certificates.len(), 1);
    let manager = spec.enterprise.as_ref().unwrap().manager.as_ref().unwrap();
    assert_eq!(
        manager.reference.as_deref(),
        Some("../Users/26118915-6090-4610-87e4-49d8ca9f808d")
    );
    assert_eq!(manager.display_name.as_deref(), Some("John Smith"));

    // RFC 7643 order, extensions last.
    assert_eq!(
        keys(&out),
        [
            "schemas",
            "externalId",
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "entitlements",
            "roles",
            "x509Certificates",
            ENT,
            CUSTOM,
        ]
    );
    assert_eq!(keys(&out[ENT]["manager"]), ["value", "$ref", "displayName"]);
    assert_eq!(
        keys(&out["addresses"][0]),
        [
            "formatted",
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
            "type",
            "primary"
        ]
    );
}

#[test]
fn full_user_is_what_the_protocol_layer_produces() {
    // `manager.displayName` is readOnly, so a client cannot set it; the rest
    // of the full user is a fixed point of the write path.
    let mut r = expected(&full_user(), true);
    r[ENT]["manager"]
        .as_object_mut()
        .unwrap()
        .remove("displayName");
    let produced = prepare_create(&USER_RESOURCE, r.clone()).unwrap();
    assert_eq!(produced, r);
    user_law(&produced);
}

#[test]
fn rfc7643_full_user_example_roundtrips() {
    let r = prepare_create(&USER_RESOURCE, rfc7643_full_user()).unwrap();
    let (spec, _) = user_law(&r);
    assert!(spec.extra.is_empty(), "{:?}", spec.extra);
    assert_eq!(spec.addresses.len(), 2);
    assert_eq!(spec.photos[1].type_.as_deref(), Some("thumbnail"));

    // The same with the enterprise extension (RFC 7643 §8.3).
    let mut input = rfc7643_full_user();
    input["schemas"] = json!([USER_SCHEMA_URN, ENT]);
    input[ENT] = full_user()[ENT].clone();
    let r = prepare_create(&USER_RESOURCE, input).unwrap();
    let (spec, out) = user_law(&r);
    assert!(spec.extra.is_empty(), "{:?}", spec.extra);
    assert_eq!(out["schemas"], json!([USER_SCHEMA_URN, ENT]));
    let manager = spec.enterprise.unwrap().manager.unwrap();
    assert!(manager.reference.is_some());
}

#[test]
fn a_stored_user_with_id_meta_and_groups_ignores_them() {
    let mut r = prepare_create(&USER_RESOURCE, rfc7643_full_user()).unwrap();
    r["id"] = json!("2819c223");
    r["meta"] = json!({"resourceType": "User"});
    r["groups"] = json!([{"value": "g1"}]);
    let (spec, out) = user_law(&r);
    assert!(spec.extra.is_empty());
    for k in ["id", "meta", "groups", "password"] {
        assert!(out.get(k).is_none(), "{k}");
    }
}

#[test]
fn minimal_user() {
    let r = json!({"schemas": [USER_SCHEMA_URN], "userName": "bjensen"});
    let (spec, out) = user_law(&r);
    assert_eq!(
        spec,
        ScimUserSpec {
            user_name: "bjensen".into(),
            ..ScimUserSpec::default()
        }
    );
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA_URN], "userName": "bjensen"})
    );
    // Without `schemas` at all, the same.
    let bare = user_spec_from_scim(&json!({"userName": "bjensen"})).unwrap();
    assert_eq!(bare, spec);
    assert_eq!(user_to_scim(&bare), out);
}

#[test]
fn inactive_user_keeps_active_false() {
    let r = prepare_create(&USER_RESOURCE, json!({"userName": "u", "active": "False"})).unwrap();
    let (spec, out) = user_law(&r);
    assert_eq!(spec.active, Some(false));
    assert_eq!(out["active"], json!(false));
}

#[test]
fn group_with_members() {
    let r = prepare_create(
        &GROUP_RESOURCE,
        json!({
            "schemas": [GROUP_SCHEMA_URN],
            "externalId": "ext-7",
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223", "display": "Babs Jensen", "type": "User"},
                {"value": "902c246b", "$ref": "https://example.com/v2/Groups/902c246b"},
                {"value": "u3"}
            ]
        }),
    )
    .unwrap();
    let (spec, out) = group_law(&r);
    assert_eq!(
        spec.members,
        [
            GroupMember {
                value: "2819c223".into(),
                display: Some("Babs Jensen".into()),
                type_: Some("User".into()),
            },
            GroupMember {
                value: "902c246b".into(),
                display: None,
                type_: Some("Group".into()),
            },
            GroupMember {
                value: "u3".into(),
                display: None,
                type_: None,
            },
        ]
    );
    assert!(spec.extra.is_empty());
    assert_eq!(
        keys(&out),
        ["schemas", "externalId", "displayName", "members"]
    );
    assert_eq!(keys(&out["members"][0]), ["value", "display", "type"]);
}

#[test]
fn group_without_members() {
    let r = json!({"schemas": [GROUP_SCHEMA_URN], "id": "g1", "displayName": "Empty"});
    let (spec, out) = group_law(&r);
    assert!(spec.members.is_empty());
    assert_eq!(
        out,
        json!({"schemas": [GROUP_SCHEMA_URN], "displayName": "Empty"})
    );
}

#[test]
fn group_extension_goes_to_extra() {
    let r = prepare_create(
        &GROUP_RESOURCE,
        json!({
            "schemas": [GROUP_SCHEMA_URN, "urn:example:group:ext"],
            "displayName": "G",
            "urn:example:group:ext": {"owner": "x"}
        }),
    )
    .unwrap();
    let (spec, out) = group_law(&r);
    assert_eq!(spec.extra["urn:example:group:ext"], json!({"owner": "x"}));
    assert_eq!(
        out["schemas"],
        json!([GROUP_SCHEMA_URN, "urn:example:group:ext"])
    );
}

#[test]
fn sub_attributes_the_crd_cannot_hold_keep_the_attribute_in_extra() {
    // Not produced by today's protocol layer, but kept all the same.
    let r = json!({
        "schemas": [USER_SCHEMA_URN, ENT],
        "userName": "u",
        "active": true,
        "emails": [{"value": "a@b"}, {"value": "c@d", "verified": true}],
        "name": {"givenName": "A", "phonetic": "ay"},
        "displayName": "U",
        ENT: {"department": "D", "manager": {"value": "m", "email": "m@x"}},
        "futureAttribute": {"x": 1}
    });
    let (spec, out) = user_law(&r);
    assert!(spec.emails.is_empty());
    assert!(spec.name.is_none());
    assert!(spec.enterprise.is_none());
    assert_eq!(
        spec.extra.keys().collect::<Vec<_>>(),
        ["emails", "futureAttribute", "name", ENT]
    );
    // Kept attributes stay in their RFC place, unknown ones after the core
    // attributes, the enterprise object first among extensions.
    assert_eq!(
        keys(&out),
        [
            "schemas",
            "userName",
            "name",
            "displayName",
            "active",
            "emails",
            "futureAttribute",
            ENT
        ]
    );
}

#[test]
fn schemas_are_derived_from_the_content() {
    // The one part of the law that does not hold for every stored resource:
    // a URN listed without its object is not kept, and extension URIs come
    // out core, enterprise, then sorted.
    let r = prepare_create(
        &USER_RESOURCE,
        json!({
            "schemas": [USER_SCHEMA_URN, "urn:z:ext", "urn:a:ext", ENT, "urn:empty:ext"],
            "userName": "u",
            "urn:z:ext": {"z": 1},
            "urn:a:ext": {"a": 1},
            ENT: {"division": "D"}
        }),
    )
    .unwrap();
    let spec = user_spec_from_scim(&r).unwrap();
    let out = user_to_scim(&spec);
    assert_eq!(
        out["schemas"],
        json!([USER_SCHEMA_URN, ENT, "urn:a:ext", "urn:z:ext"])
    );
    let mut without_schemas = expected(&r, true);
    without_schemas.as_object_mut().unwrap().remove("schemas");
    let mut out_without = out.clone();
    out_without.as_object_mut().unwrap().remove("schemas");
    assert_eq!(out_without, without_schemas);
    assert_eq!(
        keys(&out)[keys(&out).len() - 3..],
        [ENT, "urn:a:ext", "urn:z:ext"]
    );

    // Extension URIs that are not URNs are schema keys too.
    let r = prepare_create(
        &USER_RESOURCE,
        json!({
            "schemas": [USER_SCHEMA_URN, "https://example.com/scim/ext"],
            "userName": "u",
            "https://example.com/scim/ext": {"k": "v"}
        }),
    )
    .unwrap();
    let (_, out) = user_law(&r);
    assert_eq!(
        out["schemas"],
        json!([USER_SCHEMA_URN, "https://example.com/scim/ext"])
    );
}

#[test]
fn typed_fields_win_over_extra_and_common_keys_in_extra_are_ignored() {
    let spec = ScimUserSpec {
        user_name: "u".into(),
        active: Some(true),
        display_name: Some("typed".into()),
        extra: [
            ("displayName".to_owned(), json!("kept")),
            ("id".to_owned(), json!("x")),
            ("schemas".to_owned(), json!(["bogus"])),
        ]
        .into(),
        ..ScimUserSpec::default()
    };
    assert_eq!(
        user_to_scim(&spec),
        json!({"schemas": [USER_SCHEMA_URN], "userName": "u", "displayName": "typed", "active": true})
    );
}

#[test]
fn password_is_never_stored() {
    let spec = user_spec_from_scim(&json!({"userName": "u", "password": "secret"})).unwrap();
    assert!(spec.extra.is_empty());
}

#[test]
fn errors() {
    let e = user_spec_from_scim(&json!(["userName"])).unwrap_err();
    assert_eq!(
        e,
        ConvertError::NotAnObject {
            resource: "User",
            found: "an array"
        }
    );
    assert_eq!(
        e.to_string(),
        "a SCIM User must be a JSON object, not an array"
    );
    assert!(matches!(
        group_spec_from_scim(&json!("g")),
        Err(ConvertError::NotAnObject {
            resource: "Group",
            ..
        })
    ));

    let e = user_spec_from_scim(&json!({"displayName": "x"})).unwrap_err();
    assert_eq!(e.to_string(), "a SCIM User needs 'userName'");
    let e = user_spec_from_scim(&json!({"userName": null})).unwrap_err();
    assert!(matches!(e, ConvertError::Missing { .. }));
    let e = group_spec_from_scim(&json!({"members": []})).unwrap_err();
    assert_eq!(e.to_string(), "a SCIM Group needs 'displayName'");

    let cases = [
        (json!({"userName": 7}), "userName", "a string", "a number"),
        (
            json!({"userName": "u", "active": "True"}),
            "active",
            "a boolean",
            "a string",
        ),
        (
            json!({"userName": "u", "emails": [{"value": "a"}, {"primary": "yes"}]}),
            "emails[1].primary",
            "a boolean",
            "a string",
        ),
        (
            json!({"userName": "u", "emails": {"value": "a"}}),
            "emails",
            "an array",
            "an object",
        ),
        (
            json!({"userName": "u", "name": "Babs"}),
            "name",
            "an object",
            "a string",
        ),
        (
            json!({"userName": "u", "addresses": [{"postalCode": 91608}]}),
            "addresses[0].postalCode",
            "a string",
            "a number",
        ),
        (
            json!({"userName": "u", ENT: {"manager": {"value": 1}}}),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "a string",
            "a number",
        ),
        (
            json!({"userName": "u", ENT: ["x"]}),
            ENT,
            "an object",
            "an array",
        ),
    ];
    for (input, attribute, expected, found) in cases {
        let e = user_spec_from_scim(&input).unwrap_err();
        assert_eq!(
            e,
            ConvertError::WrongType {
                attribute: attribute.into(),
                expected,
                found
            },
            "{input}"
        );
        assert!(e.to_string().contains(&format!("'{attribute}'")), "{e}");
    }

    let e = group_spec_from_scim(&json!({"displayName": "g", "members": [{"value": 1}]}));
    assert_eq!(
        e.unwrap_err().to_string(),
        "attribute 'members[0].value' must be a string, not a number"
    );
    let e = group_spec_from_scim(
        &json!({"displayName": "g", "members": [{"value": "a"}, {"display": "b"}]}),
    );
    assert_eq!(
        e.unwrap_err(),
        ConvertError::Missing {
            resource: "Group",
            attribute: "members[1].value".into()
        }
    );
    let e = group_spec_from_scim(
        &json!({"displayName": "g", "members": [{"value": "a", "$ref": "u"}]}),
    );
    assert_eq!(
        e.unwrap_err(),
        ConvertError::UnsupportedMember {
            attribute: "members[0].$ref".into()
        }
    );
    let e = group_spec_from_scim(&json!({"displayName": "g", "members": ["a"]}));
    assert_eq!(
        e.unwrap_err().to_string(),
        "attribute 'members[0]' must be an object, not a string"
    );
}

#[test]
fn an_unknown_sub_attribute_wins_over_a_wrong_type_and_arrays_are_not_structs() {
    // A sub-attribute the struct cannot hold sends the attribute to `extra`
    // even where another sub-attribute of the same value has the wrong type,
    // before or after it.
    let spec = user_spec_from_scim(
        &json!({"userName": "u", "emails": [{"primary": "yes", "verified": true}]}),
    )
    .unwrap();
    assert!(spec.emails.is_empty());
    assert_eq!(spec.extra.keys().collect::<Vec<_>>(), ["emails"]);
    let spec = user_spec_from_scim(&json!({
        "userName": "u",
        ENT: {"department": 7, "manager": {"value": "m", "email": "x"}}
    }))
    .unwrap();
    assert!(spec.enterprise.is_none());
    assert_eq!(spec.extra.keys().collect::<Vec<_>>(), [ENT]);
    // Values are read one by one: an error in an earlier one is reported.
    let e = user_spec_from_scim(
        &json!({"userName": "u", "emails": [{"value": 1}, {"value": "a", "x": 1}]}),
    );
    assert_eq!(
        e.unwrap_err(),
        ConvertError::WrongType {
            attribute: "emails[0].value".into(),
            expected: "a string",
            found: "a number"
        }
    );

    // serde would read a struct from an array by position; SCIM does not.
    for manager in [json!(["m"]), json!([1, 2, 3, 4]), json!([])] {
        let e = user_spec_from_scim(&json!({"userName": "u", ENT: {"manager": manager}}));
        assert_eq!(
            e.unwrap_err(),
            ConvertError::WrongType {
                attribute: format!("{ENT}:manager"),
                expected: "an object",
                found: "an array"
            }
        );
    }
    let e = user_spec_from_scim(&json!({"userName": "u", "name": {"givenName": ["A"]}}));
    assert_eq!(
        e.unwrap_err().to_string(),
        "attribute 'name.givenName' must be a string, not an array"
    );

    // A member's `value` given as `null` is missing; `$ref` is unsupported
    // whatever else is wrong with the member.
    let e = group_spec_from_scim(&json!({"displayName": "g", "members": [{"value": null}]}));
    assert_eq!(
        e.unwrap_err(),
        ConvertError::Missing {
            resource: "Group",
            attribute: "members[0].value".into()
        }
    );
    let e =
        group_spec_from_scim(&json!({"displayName": "g", "members": [{"value": 1, "$ref": "u"}]}));
    assert_eq!(
        e.unwrap_err(),
        ConvertError::UnsupportedMember {
            attribute: "members[0].$ref".into()
        }
    );
}

// ---------------------------------------------------------------------------
// Generated users through the write path

/// A scalar that is omitted, `null` (removed as unassigned) or a string.
fn scalar(pattern: &'static str) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        4 => pattern.prop_map(|s| Some(Value::String(s))),
    ]
}

fn flag() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        any::<bool>().prop_map(|b| Some(Value::Bool(b))),
    ]
}

/// An object of the given optional fields (`{}` when all are absent, which
/// the write path removes).
fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect(),
    )
}

fn multi_value(value: &'static str) -> impl Strategy<Value = Value> {
    (
        scalar(value),
        scalar("[A-Za-z ]{0,6}"),
        scalar("[a-z]{0,5}"),
        flag(),
    )
        .prop_map(|(value, display, ty, primary)| {
            object(vec![
                ("value", value),
                ("display", display),
                ("type", ty),
                ("primary", primary),
            ])
        })
}

/// At most one `primary: true` per attribute (RFC 7643 §2.4), as the write
/// path demands.
fn single_primary(mut items: Vec<Value>) -> Vec<Value> {
    let mut seen = false;
    for item in &mut items {
        if let Some(p) = item.get_mut("primary")
            && *p == Value::Bool(true)
        {
            if seen {
                *p = Value::Bool(false);
            }
            seen = true;
        }
    }
    items
}

fn multi(item: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        3 => prop::collection::vec(item, 0..3).prop_map(|v| Some(Value::Array(single_primary(v)))),
    ]
}

fn address() -> impl Strategy<Value = Value> {
    (
        scalar("[A-Za-z0-9 ]{0,8}"),
        scalar("[A-Za-z0-9 ]{0,8}"),
        scalar("[A-Za-z]{0,6}"),
        scalar("[A-Z]{0,2}"),
        scalar("[0-9]{0,5}"),
        scalar("[A-Z]{0,3}"),
        scalar("(work|home|other)"),
        flag(),
    )
        .prop_map(|(f, s, l, r, p, c, t, primary)| {
            object(vec![
                ("formatted", f),
                ("streetAddress", s),
                ("locality", l),
                ("region", r),
                ("postalCode", p),
                ("country", c),
                ("type", t),
                ("primary", primary),
            ])
        })
}

fn person_name() -> impl Strategy<Value = Option<Value>> {
    let s = || scalar("[A-Za-z .]{0,8}");
    prop::option::of(
        (s(), s(), s(), s(), s(), s()).prop_map(|(f, fam, g, m, pre, suf)| {
            object(vec![
                ("formatted", f),
                ("familyName", fam),
                ("givenName", g),
                ("middleName", m),
                ("honorificPrefix", pre),
                ("honorificSuffix", suf),
            ])
        }),
    )
}

/// The enterprise object; `employeeNumber` is always set so the object is
/// never removed as empty while its URN stays in `schemas`.
fn enterprise() -> impl Strategy<Value = Option<Value>> {
    let s = || scalar("[A-Za-z0-9 ]{0,6}");
    let manager = prop::option::of((s(), scalar("\\.\\./Users/[a-z0-9]{1,6}"), s()).prop_map(
        |(v, r, d)| {
            // `displayName` is readOnly: the write path drops it.
            object(vec![("value", v), ("$ref", r), ("displayName", d)])
        },
    ));
    prop::option::of(("[0-9]{1,6}", s(), s(), s(), s(), manager).prop_map(
        |(number, cost, org, div, dept, manager)| {
            object(vec![
                ("employeeNumber", Some(Value::String(number))),
                ("costCenter", cost),
                ("organization", org),
                ("division", div),
                ("department", dept),
                ("manager", manager),
            ])
        },
    ))
}

/// Any JSON a client extension may hold, nulls and empties included (client
/// extensions are kept as sent).
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[a-z ]{0,5}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn custom_extension() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(
        prop::collection::btree_map("[a-z]{1,5}", any_json(), 1..4)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    )
}

prop_compose! {
    fn user_scalars()(
        external_id in scalar("[a-z0-9-]{0,8}"),
        display_name in scalar("[A-Za-z ]{0,10}"),
        nick_name in scalar("[A-Za-z]{0,6}"),
        profile_url in scalar("https://[a-z]{1,6}\\.example/[a-z]{0,4}"),
        title in scalar("[A-Za-z ]{0,8}"),
        user_type in scalar("(Employee|Contractor|Intern)"),
        preferred_language in scalar("[a-z]{2}-[A-Z]{2}"),
        locale in scalar("[a-z]{2}-[A-Z]{2}"),
        timezone in scalar("[A-Z][a-z]{2,6}/[A-Z][a-z]{2,6}"),
        active in prop_oneof![
            Just(None),
            any::<bool>().prop_map(|b| Some(Value::Bool(b))),
            // Entra ID's strings, which the write path coerces.
            Just(Some(json!("True"))),
            Just(Some(json!("false"))),
        ],
    ) -> Vec<(&'static str, Option<Value>)> {
        vec![
            ("externalId", external_id),
            ("displayName", display_name),
            ("nickName", nick_name),
            ("profileUrl", profile_url),
            ("title", title),
            ("userType", user_type),
            ("preferredLanguage", preferred_language),
            ("locale", locale),
            ("timezone", timezone),
            ("active", active),
        ]
    }
}

prop_compose! {
    fn user_lists()(
        emails in multi(multi_value("[a-z]{1,5}@[a-z]{1,5}\\.example")),
        phone_numbers in multi(multi_value("\\+[0-9]{3,8}")),
        ims in multi(multi_value("[a-z]{1,6}")),
        photos in multi(multi_value("https://p\\.example/[a-z]{1,4}")),
        addresses in multi(address()),
        entitlements in multi(multi_value("[a-z]{1,6}")),
        roles in multi(multi_value("[a-z]{1,6}")),
        x509 in multi(multi_value("[A-Za-z0-9+/]{4,16}")),
    ) -> Vec<(&'static str, Option<Value>)> {
        vec![
            ("emails", emails),
            ("phoneNumbers", phone_numbers),
            ("ims", ims),
            ("photos", photos),
            ("addresses", addresses),
            ("entitlements", entitlements),
            ("roles", roles),
            ("x509Certificates", x509),
        ]
    }
}

prop_compose! {
    /// A POST body: random attributes, some spelled in another case, with
    /// things the write path drops (`password`, an unknown attribute, `id`,
    /// `groups`).
    fn user_input()(
        user_name in "[a-z][a-z0-9.]{0,8}",
        user_name_key in prop_oneof![Just("userName"), Just("USERNAME"), Just("username")],
        name in person_name(),
        scalars in user_scalars(),
        lists in user_lists(),
        ent in enterprise(),
        custom in custom_extension(),
        junk in any::<bool>(),
        shuffle in any::<prop::sample::Index>(),
    ) -> Value {
        let mut schemas = vec![json!(USER_SCHEMA_URN)];
        if ent.is_some() {
            schemas.push(json!(ENT));
        }
        if custom.is_some() {
            schemas.push(json!(CUSTOM));
        }
        let mut fields: Vec<(String, Value)> = vec![
            (user_name_key.to_owned(), Value::String(user_name)),
        ];
        let named = scalars
            .into_iter()
            .chain(lists)
            .chain([("name", name), (ENT, ent), (CUSTOM, custom)]);
        fields.extend(named.filter_map(|(k, v)| Some((k.to_owned(), v?))));
        if junk {
            fields.push(("password".into(), json!("hunter2")));
            fields.push(("favouriteColour".into(), json!("blue")));
            fields.push(("id".into(), json!("client-chosen")));
            fields.push(("groups".into(), json!([{"value": "g"}])));
        }
        // Attribute order in the body does not matter.
        let n = fields.len();
        fields.rotate_left(shuffle.index(n));
        let mut body = Map::new();
        body.insert("schemas".into(), Value::Array(schemas));
        body.extend(fields);
        Value::Object(body)
    }
}

proptest! {
    #[test]
    fn generated_users_obey_the_roundtrip_law(input in user_input()) {
        let r = prepare_create(&USER_RESOURCE, input.clone());
        prop_assert!(r.is_ok(), "{input} rejected: {:?}", r.err().map(|e| e.detail));
        let Ok(r) = r else { unreachable!() };
        let spec = user_spec_from_scim(&r);
        prop_assert!(spec.is_ok(), "{r}: {:?}", spec.err());
        let Ok(spec) = spec else { unreachable!() };
        // Nothing the protocol layer produces needs the fallback.
        prop_assert!(
            spec.extra.keys().all(|k| k == CUSTOM),
            "unexpected extra: {:?}",
            spec.extra
        );
        let stored: ScimUserSpec =
            serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        prop_assert_eq!(&stored, &spec);
        prop_assert_eq!(user_to_scim(&stored), expected(&r, true));
    }
}
