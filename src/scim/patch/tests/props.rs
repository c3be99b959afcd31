//! Properties over generated member sets and operations, and the cost of
//! membership changes on large groups.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::json;

use super::*;

/// A group with these members; none is no `members` at all (unassigned).
fn group_with(ids: &[String]) -> Value {
    let mut g = json!({"schemas": [CORE_GROUP], "id": "g", "displayName": "G"});
    if !ids.is_empty() {
        g["members"] = as_values(ids);
    }
    g
}

fn as_values(ids: &[String]) -> Value {
    ids.iter().map(|id| json!({"value": id})).collect()
}

fn ids() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-f0-9]{1,3}", 0..12)
}

fn unique(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

/// Arbitrary JSON, small.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9 .:@\"]{0,12}".prop_map(Value::from),
        Just(json!("True")),
        Just(json!("work")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("value".to_owned()),
                    Just("type".to_owned()),
                    Just("primary".to_owned()),
                    Just("display".to_owned()),
                    Just("givenName".to_owned()),
                    Just("name.givenName".to_owned()),
                    Just("members".to_owned()),
                    Just("emails".to_owned()),
                    Just("id".to_owned()),
                    Just(ENTERPRISE.to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const PATHS: &[&str] = &[
    "members",
    "members[value eq \"a\"]",
    "members[value eq \"a\"].display",
    "members.display",
    "displayName",
    "id",
    "emails",
    "emails[type eq \"work\"].value",
    "emails[type eq \"work\" and primary eq true]",
    "emails.primary",
    "name",
    "name.givenName",
    "active",
    "groups",
    "schemas",
    "meta.version",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "addresses[not (type eq \"home\")].locality",
];

proptest! {
    #[test]
    fn adding_then_removing_new_members_restores_the_group(existing in ids(), added in ids()) {
        let existing = unique(existing);
        let added: Vec<String> = added.into_iter().filter(|id| !existing.contains(id)).collect();
        let g = group_with(&existing);
        let grown = patch(&GROUP_RESOURCE, &g, json!([{"op": "add", "path": "members", "value": as_values(&added)}]));
        let mut want = existing.clone();
        want.extend(unique(added.clone()));
        prop_assert_eq!(member_ids(&grown), want);
        let shrunk = patch(&GROUP_RESOURCE, &grown, json!([{"op": "remove", "path": "members", "value": as_values(&added)}]));
        prop_assert_eq!(shrunk, g);
    }

    #[test]
    fn adding_members_is_idempotent(existing in ids(), added in ids()) {
        let g = group_with(&unique(existing));
        let op = json!([{"op": "add", "path": "members", "value": as_values(&added)}]);
        let once = patch(&GROUP_RESOURCE, &g, op.clone());
        let twice = patch(&GROUP_RESOURCE, &once, op);
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn removing_by_value_list_equals_removing_by_filter(existing in ids(), removed in ids()) {
        let g = group_with(&unique(existing));
        let by_list = patch(&GROUP_RESOURCE, &g, json!([{"op": "remove", "path": "members", "value": as_values(&removed)}]));
        let filters: Vec<Value> = removed
            .iter()
            .map(|id| json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")}))
            .collect();
        let by_filter = if filters.is_empty() { g.clone() } else { patch(&GROUP_RESOURCE, &g, Value::Array(filters)) };
        prop_assert_eq!(by_list, by_filter);
    }

    #[test]
    fn arbitrary_operations_fail_cleanly(
        kind in prop_oneof![Just("add"), Just("Replace"), Just("remove")],
        path in prop::option::of(prop::sample::select(PATHS)),
        value in json_value(),
        group in any::<bool>(),
    ) {
        let (rt, resource) = if group { (&GROUP_RESOURCE, super::group()) } else { (&USER_RESOURCE, enterprise_user()) };
        let mut op = json!({"op": kind, "value": value});
        if let Some(path) = path {
            op["path"] = json!(path);
        }
        match try_patch(rt, &resource, json!([op])) {
            Ok(patched) => prop_assert!(patched.is_object()),
            Err(e) => prop_assert_eq!(e.status, 400, "{}", e),
        }
    }
}

#[test]
fn large_groups_change_in_linear_time() {
    // IdPs add members one PATCH at a time to groups of 100,000; a quadratic
    // merge of 10,000 more would take minutes here.
    let existing: Vec<String> = (0..100_000).map(|i| format!("user-{i:06}")).collect();
    let g = group_with(&existing);
    let added: Vec<String> = (0..10_000).map(|i| format!("new-{i:05}")).collect();

    let started = Instant::now();
    let one = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": "new"}]}]),
    );
    assert_eq!(member_ids(&one).len(), 100_001);
    let again = patch(
        &GROUP_RESOURCE,
        &one,
        json!([{"op": "add", "path": "members", "value": [{"value": "user-099999"}]}]),
    );
    assert_eq!(member_ids(&again).len(), 100_001);
    let many = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "add", "path": "members", "value": as_values(&added)}]),
    );
    assert_eq!(member_ids(&many).len(), 110_000);
    let fewer = patch(
        &GROUP_RESOURCE,
        &many,
        json!([{"op": "remove", "path": "members", "value": as_values(&added)}]),
    );
    assert_eq!(member_ids(&fewer).len(), 100_000);
    let filtered = patch(
        &GROUP_RESOURCE,
        &g,
        json!([{"op": "remove", "path": "members[value eq \"user-050000\"]"}]),
    );
    assert_eq!(member_ids(&filtered).len(), 99_999);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}
