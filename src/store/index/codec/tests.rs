use proptest::prelude::*;
use serde_json::json;

use super::pack::Packed;
use super::text::Time;
use super::*;

fn packed<'v>(value: &'v Value, group: bool, shapes: &mut Shapes) -> Packed<'v> {
    let spec = Pack {
        id: "abc",
        version: "42",
        group,
        wanted: [None; 4],
    };
    pack(value, &spec, shapes)
}

fn round_trip(value: &Value, group: bool, shapes: &mut Shapes) -> Value {
    let packed = packed(value, group, shapes);
    let mut fill = Fill {
        id: "abc",
        version: "42",
        members: packed.members.iter().copied(),
    };
    assert_eq!(version(&packed.blob), "42");
    unpack(&packed.blob, shapes, &mut fill)
}

#[test]
fn resources_come_back_exactly() {
    let user = json!({
        "schemas": [crate::scim::schema::USER_SCHEMA_URN],
        "id": "abc",
        "externalId": "0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen"},
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "x-long": "é".repeat(100),
        "nums": [0, 1, -1, u64::MAX, i64::MIN, 1.5, -0.25],
        "Upper-Case-0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c": null,
        "notUuid": "0F4AB3C2-1D2E-4F5A-9B8C-7D6E5F4A3B2C",
        "big": (0..40).map(|i| json!({"k": i})).collect::<Vec<_>>(),
        "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z",
                 "lastModified": "2026-01-01T00:00:00.120Z", "version": "W/\"42\""}
    });
    let mut shapes = Shapes::default();
    assert_eq!(round_trip(&user, false, &mut shapes), user);
    // Another id or version is kept as it is, not taken for a hole.
    let other = json!({"id": "xyz", "meta": {"version": "W/\"41\"", "created": "2026-01-01T00:00:00+00:00"}});
    assert_eq!(round_trip(&other, false, &mut shapes), other);
}

#[test]
fn objects_past_the_shape_limit_keep_their_keys() {
    let mut shapes = Shapes::default();
    for i in 0..MAX_SHAPES + 10 {
        let value = json!({ format!("k{i}"): i, "value": [{"x": i}] });
        assert_eq!(round_trip(&value, false, &mut shapes), value);
    }
    assert_eq!(shapes.list.len(), MAX_SHAPES);
}

#[test]
fn members_are_holes_and_read_in_place() {
    let group = json!({"displayName": "Ops", "members": [
        {"value": "u1", "type": "User"}, {"value": "g2", "display": "Nested", "type": "Group"},
        {"type": "User"}, "odd", {"value": 7}, {"type": "0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c", "value": "u3"}
    ]});
    for full in [false, true] {
        let mut shapes = Shapes::default();
        if full {
            // Past the limit members keep their keys.
            for i in 0..MAX_SHAPES {
                shapes.of(
                    &json!({ format!("k{i}"): 1 }).as_object().unwrap().clone(),
                    &mut Vec::new(),
                );
            }
        }
        assert_eq!(round_trip(&group, true, &mut shapes), group);
        let packed = packed(&group, true, &mut shapes);
        assert_eq!(packed.members, ["u1", "g2", "u3"]);
        assert_eq!(count_at(&packed.blob, packed.members_at), 6);
        let members: Vec<_> = members_at(&packed.blob, &shapes, packed.members_at).collect();
        assert_eq!(
            members,
            [
                (true, Some("User")),
                (true, Some("Group")),
                (false, Some("User")),
                (false, None),
                (false, None),
                (true, Some("0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c")),
            ]
        );
    }
}

#[test]
fn wanted_strings_are_readable_in_place() {
    let user = json!({"userName": "0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c",
        "emails": [{"value": "0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c"}],
        "meta": {"created": "2026-01-01T00:00:00Z"}});
    let name = user["userName"].as_str().unwrap();
    let email = user["emails"][0]["value"].as_str().unwrap();
    let created = user["meta"]["created"].as_str().unwrap();
    let spec = Pack {
        id: "",
        version: "1",
        group: false,
        wanted: [
            Some((name, true)),
            Some((email, true)),
            Some((created, false)),
            None,
        ],
    };
    let packed = pack(&user, &spec, &mut Shapes::default());
    assert_eq!(str_at(&packed.blob, packed.found[0]), Some(name));
    assert_eq!(str_at(&packed.blob, packed.found[1]), Some(email));
    assert_eq!(
        time_at(&packed.blob, packed.found[2]),
        Some("2026-01-01T00:00:00Z".parse().unwrap())
    );
    assert_eq!(packed.found[3], NONE);
}

#[test]
fn timestamps_are_packed_only_when_they_print_back_the_same() {
    for text in [
        "2026-01-01T00:00:00Z",
        "1970-01-01T00:00:00.5Z",
        "1969-12-31T23:59:59.999999999Z",
        "2000-02-29T12:34:56.120Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ] {
        let time = Time::parse(text).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(time.text(), text);
        assert_eq!(time.timestamp(), text.parse().ok(), "{text}");
    }
    for text in [
        "2026-02-30T00:00:00Z",
        "2026-01-01T00:00:60Z",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00.1234567890Z",
        "2026-01-01t00:00:00Z",
        "+2026-01-01T00:00:00Z",
    ] {
        assert_eq!(Time::parse(text), None, "{text}");
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            "[a-zA-Z0-9 @.é-]{0,100}",
            Just("work".to_owned()),
            Just("abc".to_owned()),
            "[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,10})?Z",
            Just("0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c".to_owned()),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 20, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "[a-zA-Z$]{0,8}",
                        Just("value".to_owned()),
                        Just("id".to_owned())
                    ],
                    inner
                ),
                0..20
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_json_comes_back_exactly(values in prop::collection::vec(any_json(), 1..4), group in any::<bool>()) {
        let mut shapes = Shapes::default();
        for value in values {
            prop_assert_eq!(round_trip(&value, group, &mut shapes), value);
        }
    }
}
