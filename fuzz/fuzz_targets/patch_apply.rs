//! Arbitrary bytes as a PATCH body, applied to a fixed User and Group: parsing
//! and applying may fail but never panic, and whatever applies must be a JSON
//! object that validation accepts or rejects with a SCIM error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimitar::scim::patch::{apply_operations, apply_patch, parse_patch_request};
use scimitar::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(request) = parse_patch_request(&body) else {
        return;
    };
    for (rt, resource) in [(&USER_RESOURCE, user()), (&GROUP_RESOURCE, group())] {
        if let Ok(patched) = apply_operations(rt, &resource, &request.operations) {
            assert!(patched.is_object(), "{patched}");
        }
        if let Err(e) = apply_patch(rt, &resource, &request) {
            assert!((400..500).contains(&e.status), "{e}");
        }
    }
});

fn user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [{"type": "work", "locality": "Hollywood", "primary": true}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"1\""}
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a"}
        ],
        "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"2\""}
    })
}
