//! replace (RFC 7644 §3.5.2.3).

use serde_json::json;

use super::*;

#[test]
fn replaces_a_simple_attribute() {
    let patched =
        patch_user(json!([{"op": "replace", "path": "displayName", "value": "Barbara Jensen"}]));
    assert_eq!(patched["displayName"], "Barbara Jensen");
}

#[test]
fn replacing_an_absent_attribute_adds_it() {
    let mut u = user();
    u.as_object_mut().expect("object").remove("nickName");
    let patched = patch(
        &USER_RESOURCE,
        &u,
        json!([{"op": "replace", "path": "nickName", "value": "Babs"}]),
    );
    assert_eq!(patched["nickName"], "Babs");
}

#[test]
fn replaces_a_whole_multi_valued_attribute() {
    let patched = patch_user(json!([{"op": "replace", "path": "emails",
        "value": [{"value": "only@example.com", "type": "work"}]}]));
    assert_eq!(
        patched["emails"],
        json!([{"value": "only@example.com", "type": "work"}])
    );

    let patched = patch_group(json!([{"op": "replace", "path": "members",
        "value": [{"value": "u1", "display": "One"}, {"value": "u2"}, {"value": "u1"}]}]));
    assert_eq!(
        patched["members"],
        json!([{"value": "u1", "display": "One"}, {"value": "u2"}])
    );
}

#[test]
fn replacing_with_an_empty_array_unassigns() {
    let patched = patch_user(json!([{"op": "replace", "path": "phoneNumbers", "value": []}]));
    assert!(patched.get("phoneNumbers").is_none());
}

#[test]
fn replacing_a_complex_attribute_keeps_unmentioned_sub_attributes() {
    // §3.5.2.3: "Sub-attributes that are not specified in the "value"
    // parameter are left unchanged."
    let patched = patch_user(json!([{"op": "replace", "path": "name",
        "value": {"givenName": "Barbie", "honorificSuffix": null}}]));
    let mut want = user()["name"].clone();
    want["givenName"] = json!("Barbie");
    want.as_object_mut()
        .expect("object")
        .remove("honorificSuffix");
    assert_eq!(patched["name"], want, "null unassigns");
}

#[test]
fn no_path_replace_replaces_each_attribute() {
    let patched = patch_user(json!([{"op": "replace", "value": {
        "displayName": "Barbara",
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
        "name": {"familyName": "Jensen-Smith"},
        "nickName": null
    }}]));
    assert_eq!(patched["displayName"], "Barbara");
    assert_eq!(
        patched["emails"],
        json!([{"value": "b@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(patched["name"]["familyName"], "Jensen-Smith");
    assert_eq!(patched["name"]["givenName"], "Barbara");
    assert!(patched.get("nickName").is_none());
}

#[test]
fn filtered_replace_replaces_matching_values() {
    // The RFC's own example: replace the work address.
    let patched = patch_user(
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
            "type": "work",
            "streetAddress": "911 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
            "primary": true
        }}]),
    );
    assert_eq!(
        patched["addresses"][0]["streetAddress"],
        "911 Universal City Plaza"
    );
    assert_eq!(patched["addresses"][0]["country"], "US");
    assert_eq!(patched["addresses"][1], user()["addresses"][1]);
}

#[test]
fn filtered_replace_of_a_sub_attribute() {
    let patched = patch_user(json!([{"op": "replace",
        "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]));
    assert_eq!(
        patched["addresses"][0]["streetAddress"],
        "1010 Broadway Ave"
    );
    assert_eq!(
        patched["addresses"][1]["streetAddress"],
        "456 Hollywood Blvd"
    );

    // Every match is replaced.
    let patched = patch_user(json!([{"op": "replace",
        "path": "addresses[locality eq \"Hollywood\"].locality", "value": "Los Angeles"}]));
    assert_eq!(patched["addresses"][0]["locality"], "Los Angeles");
    assert_eq!(patched["addresses"][1]["locality"], "Los Angeles");
}

#[test]
fn filtered_replace_matching_nothing_is_no_target() {
    // §3.5.2.3: "...no record match was made, the service provider SHALL indicate
    // failure by returning HTTP status code 400 and a "scimType" error code of
    // "noTarget"." (`eq`-only filters are the Entra exception, see idp.rs.)
    for path in [
        "addresses[type ne \"work\" and type ne \"home\"].region",
        "emails[value sw \"nobody\"]",
        "emails[not (type pr)].value",
        "emails[type eq null].value",
    ] {
        assert_eq!(
            user_failure(json!([{"op": "replace", "path": path, "value": "x"}])),
            NO_TARGET,
            "{path}"
        );
    }
    assert_eq!(
        user_failure(
            json!([{"op": "replace", "path": "schemas[value eq \"urn:x\"]", "value": "urn:y"}])
        ),
        NO_TARGET
    );
}

#[test]
fn filter_comparisons_follow_the_schema() {
    // emails.value is case-insensitive; members.value is caseExact.
    let patched = patch_user(json!([{"op": "replace",
        "path": "emails[value eq \"BJENSEN@EXAMPLE.COM\"].display", "value": "Work"}]));
    assert_eq!(patched["emails"][0]["display"], "Work");
    let patched = patch_group(json!([{"op": "replace",
        "path": format!("members[value eq \"{}\"].display", BABS.to_uppercase()), "value": "B"}]));
    assert_eq!(
        member_ids(&patched),
        [BABS, MANDY, &BABS.to_uppercase()],
        "no match: a new member"
    );
    // Unsupported comparisons are invalidFilter, as in queries.
    assert_eq!(
        user_failure(
            json!([{"op": "replace", "path": "emails[primary gt true].display", "value": "x"}])
        ),
        (400, Some(ScimType::InvalidFilter))
    );
}

#[test]
fn replace_on_a_sub_attribute_of_every_value() {
    let patched =
        patch_user(json!([{"op": "replace", "path": "phoneNumbers.display", "value": "phone"}]));
    assert_eq!(patched["phoneNumbers"][0]["display"], "phone");
    assert_eq!(patched["phoneNumbers"][1]["display"], "phone");
}

#[test]
fn replace_sets_primary_exclusively() {
    let patched = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
    );
    assert_eq!(patched["emails"][0]["primary"], false);
    assert_eq!(patched["emails"][1]["primary"], true);
    let patched = patch_user(
        json!([{"op": "replace", "path": "addresses[type eq \"home\"]",
        "value": {"primary": true}}]),
    );
    assert_eq!(patched["addresses"][0]["primary"], false);
    assert_eq!(patched["addresses"][1]["primary"], true);
}

#[test]
fn simple_multi_valued_filtered_replace() {
    let patched = patch_user(json!([{"op": "replace",
        "path": format!("schemas[value eq \"{CORE_USER}\"]"), "value": CORE_USER}]));
    assert_eq!(patched["schemas"], json!([CORE_USER]));
}

#[test]
fn operations_see_earlier_operations() {
    let patched = patch_user(json!([
        {"op": "add", "path": "emails", "value": [{"value": "x@example.com", "type": "other"}]},
        {"op": "replace", "path": "emails[type eq \"other\"].value", "value": "y@example.com"},
        {"op": "remove", "path": "emails[type eq \"home\"]"}
    ]));
    assert_eq!(
        patched["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "y@example.com", "type": "other"}
        ])
    );
}

#[test]
fn a_failing_operation_fails_the_whole_request() {
    // RFC 7644 §3.5.2: atomic. The first op would succeed on its own.
    let original = user();
    let result = try_patch(
        &USER_RESOURCE,
        &original,
        json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "emails[type eq \"pager\" or type eq \"fax\"].value", "value": "x"}
        ]),
    );
    let e = result.expect_err("second op fails");
    assert_eq!((e.status, e.scim_type), NO_TARGET);
    assert!(e.detail.starts_with("Operations[1]: "), "{}", e.detail);
    assert_eq!(original, user(), "the input is never modified");
}

#[test]
fn non_object_resources_are_an_internal_error() {
    let request = parse(json!([{"op": "replace", "path": "displayName", "value": "x"}]));
    let e = apply_operations(&USER_RESOURCE, &json!([1]), &request.operations)
        .expect_err("not an object");
    assert_eq!(e.status, 500);
}
