use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::scim::error::ScimType;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA_URN as ENT, GROUP_RESOURCE, USER_RESOURCE};

fn params(pairs: &[(&str, &str)]) -> Result<ListQuery, ScimError> {
    ListQuery::from_params(pairs.iter().copied(), 200)
}

fn kind(r: Result<ListQuery, ScimError>) -> Option<ScimType> {
    let e = r.expect_err("expected an error");
    assert_eq!(e.status, 400, "{e}");
    e.scim_type
}

#[test]
fn defaults() {
    let q = params(&[]).unwrap();
    assert_eq!(
        q,
        ListQuery {
            filter: None,
            start_index: 1,
            count: 200,
            sort_by: None,
            sort_order: SortOrder::Ascending,
            attributes: None,
            excluded_attributes: None,
        }
    );
    // Blank parameters are absent; unknown ones ignored.
    let blank = params(&[
        ("filter", " "),
        ("count", ""),
        ("sortBy", ""),
        ("attributes", ""),
        ("x", "y"),
    ]);
    assert_eq!(blank.unwrap(), q);
}

#[test]
fn okta_connector_query() {
    let q = params(&[
        ("filter", r#"userName eq "a@b.c""#),
        ("startIndex", "1"),
        ("count", "100"),
    ])
    .unwrap();
    assert_eq!(q.filter.unwrap().to_string(), r#"userName eq "a@b.c""#);
    assert_eq!((q.start_index, q.count), (1, 100));
}

#[test]
fn start_index_and_count_bounds() {
    let q = |s: &str, c: &str| {
        let q = params(&[("startIndex", s), ("count", c)]).unwrap();
        (q.start_index, q.count)
    };
    assert_eq!(q("0", "0"), (1, 0));
    assert_eq!(q("-5", "-1"), (1, 0));
    assert_eq!(q("+3", "201"), (3, 200));
    assert_eq!(q(" 7 ", "10"), (7, 10));
    assert_eq!(
        q("99999999999999999999999", "99999999999999999999999"),
        (usize::try_from(i64::MAX).unwrap(), 200)
    );
    assert_eq!(
        q("-99999999999999999999999", "-99999999999999999999999"),
        (1, 0)
    );
    for bad in ["1.5", "ten", "1e3", "-", "0x10"] {
        assert_eq!(
            kind(params(&[("count", bad)])),
            Some(ScimType::InvalidValue),
            "{bad}"
        );
        assert_eq!(
            kind(params(&[("startIndex", bad)])),
            Some(ScimType::InvalidValue),
            "{bad}"
        );
    }
    // The cap comes from the caller.
    let q = ListQuery::from_params([("count", "50")], 10).unwrap();
    assert_eq!(q.count, 10);
}

#[test]
fn names_are_case_insensitive() {
    let q = params(&[
        ("STARTINDEX", "2"),
        ("Count", "3"),
        ("sortby", "userName"),
        ("SortOrder", "DESCENDING"),
    ])
    .unwrap();
    assert_eq!(
        (q.start_index, q.count, q.sort_order),
        (2, 3, SortOrder::Descending)
    );
    assert_eq!(q.sort_by.unwrap().name, "userName");
}

#[test]
fn bad_values() {
    assert_eq!(
        kind(params(&[("filter", "userName eq")])),
        Some(ScimType::InvalidFilter)
    );
    assert_eq!(
        kind(params(&[("sortBy", "name.")])),
        Some(ScimType::InvalidValue)
    );
    assert_eq!(
        kind(params(&[("sortOrder", "up")])),
        Some(ScimType::InvalidValue)
    );
    let q = params(&[("sortOrder", "Ascending")]).unwrap();
    assert_eq!(q.sort_order, SortOrder::Ascending);
}

#[test]
fn search_body() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["displayName", "userName"],
        "excludedAttributes": ["emails"],
        "filter": "displayName sw \"smith\"",
        "startIndex": 1,
        "count": 10,
        "sortBy": "userName",
        "sortOrder": "descending"
    });
    let q = ListQuery::from_search(&body, 200).unwrap();
    assert_eq!(q.attributes.as_deref(), Some("displayName,userName"));
    assert_eq!(q.excluded_attributes.as_deref(), Some("emails"));
    assert_eq!(q.filter.unwrap().to_string(), "displayName sw \"smith\"");
    assert_eq!(
        (q.start_index, q.count, q.sort_order),
        (1, 10, SortOrder::Descending)
    );

    // Minimal, nulls as absent, strings for numbers, case-insensitive keys.
    let q = ListQuery::from_search(
        &json!({"SCHEMAS": ["urn:ietf:params:scim:api:messages:2.0:searchrequest"],
                "attributes": null, "COUNT": "5", "startIndex": -2}),
        200,
    )
    .unwrap();
    assert_eq!((q.attributes, q.count, q.start_index), (None, 5, 1));
    // A huge count is capped.
    let q = ListQuery::from_search(
        &json!({"schemas": [SEARCH_REQUEST_URN], "count": u64::MAX}),
        200,
    )
    .unwrap();
    assert_eq!(q.count, 200);
}

#[test]
fn bad_search_bodies() {
    let syntax = [
        json!([]),
        json!({}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
        json!({"schemas": "urn:ietf:params:scim:api:messages:2.0:SearchRequest"}),
    ];
    for body in syntax {
        let e = ListQuery::from_search(&body, 200).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{body}");
    }
    let s = SEARCH_REQUEST_URN;
    let value = [
        json!({"schemas": [s], "count": 1.5}),
        json!({"schemas": [s], "count": true}),
        json!({"schemas": [s], "startIndex": [1]}),
        json!({"schemas": [s], "attributes": [1]}),
        json!({"schemas": [s], "filter": ["a pr"]}),
        json!({"schemas": [s], "sortBy": 3}),
    ];
    for body in value {
        let e = ListQuery::from_search(&body, 200).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{body}");
    }
    let e = ListQuery::from_search(&json!({"schemas": [s], "filter": "("}), 200).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
}

fn users() -> Vec<Value> {
    vec![
        json!({"id": "1", "userName": "bob", "emails": [{"value": "z@x"}, {"value": "b@x", "primary": true}],
               "meta": {"lastModified": "2024-01-01T10:00:00+02:00"}}),
        json!({"id": "2", "userName": "Alice", "name": {"givenName": "Zed"},
               "meta": {"lastModified": "2024-01-01T09:00:00Z"}}),
        json!({"id": "3", "name": {"givenName": "amy"}, "emails": [{"value": "a@x"}], ENT: {"employeeNumber": "10"}}),
        json!({"id": "4", "userName": "carol", "emails": [], ENT: {"employeeNumber": "9"},
               "meta": {"lastModified": "2024-01-01T08:30:00Z"}}),
        json!({"id": "5", "userName": "ALICE"}),
    ]
}

fn sorted(by: &str, order: SortOrder) -> Vec<String> {
    let mut list = users();
    let path = parse_attr_path(by).unwrap();
    sort(&mut list, &path, order, &USER_RESOURCE);
    list.iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sort_case_insensitive_and_stable_with_missing_values() {
    use SortOrder::*;
    // "Alice" and "ALICE" tie and keep their order; no userName sorts last.
    assert_eq!(sorted("userName", Ascending), ["2", "5", "1", "4", "3"]);
    // Descending: missing first, ties still in original order.
    assert_eq!(sorted("username", Descending), ["3", "4", "1", "2", "5"]);
    assert_eq!(
        sorted("name.givenName", Ascending),
        ["3", "2", "1", "4", "5"]
    );
}

#[test]
fn sort_case_exact_and_typed() {
    use SortOrder::*;
    // `id` is caseExact; so is externalId.
    let mut list = vec![json!({"id": "b"}), json!({"id": "B"}), json!({"id": "a"})];
    sort(
        &mut list,
        &parse_attr_path("id").unwrap(),
        Ascending,
        &USER_RESOURCE,
    );
    assert_eq!(
        list,
        [json!({"id": "B"}), json!({"id": "a"}), json!({"id": "b"})]
    );
    // dateTimes compare as instants: 10:00+02:00 is 08:00Z.
    assert_eq!(
        sorted("meta.lastModified", Ascending),
        ["1", "4", "2", "3", "5"]
    );
    // Booleans: false before true.
    let mut list = vec![json!({"active": true}), json!({"active": false}), json!({})];
    sort(
        &mut list,
        &parse_attr_path("active").unwrap(),
        Ascending,
        &USER_RESOURCE,
    );
    assert_eq!(
        list,
        [json!({"active": false}), json!({"active": true}), json!({})]
    );
}

#[test]
fn sort_multi_valued_and_extensions() {
    use SortOrder::*;
    // Primary value, else the first; an empty list is missing.
    assert_eq!(sorted("emails.value", Ascending), ["3", "1", "2", "4", "5"]);
    assert_eq!(sorted("emails", Ascending), ["3", "1", "2", "4", "5"]);
    // Extension attributes, qualified or not; strings sort as strings.
    let by = format!("{ENT}:employeeNumber");
    assert_eq!(sorted(&by, Ascending), ["3", "4", "1", "2", "5"]);
    assert_eq!(
        sorted("employeeNumber", Descending),
        ["1", "2", "5", "4", "3"]
    );
}

#[test]
fn sort_by_unknown_attribute_keeps_the_order() {
    assert_eq!(
        sorted("shoeSize", SortOrder::Descending),
        ["1", "2", "3", "4", "5"]
    );
    assert_eq!(
        sorted("name", SortOrder::Ascending),
        ["1", "2", "3", "4", "5"]
    );
    let mut groups = vec![json!({"displayName": "b"}), json!({"displayName": "A"})];
    sort(
        &mut groups,
        &parse_attr_path("displayName").unwrap(),
        SortOrder::Ascending,
        &GROUP_RESOURCE,
    );
    assert_eq!(groups[0]["displayName"], "A");
}

#[test]
fn paging() {
    let items: Vec<u32> = (1..=5).collect();
    assert_eq!(page(items.clone(), 1, 2), [1, 2]);
    assert_eq!(page(items.clone(), 4, 10), [4, 5]);
    assert_eq!(page(items.clone(), 5, 1), [5]);
    assert_eq!(page(items.clone(), 6, 10), Vec::<u32>::new());
    assert_eq!(page(items.clone(), usize::MAX, 10), Vec::<u32>::new());
    assert_eq!(page(items.clone(), 1, 0), Vec::<u32>::new());
    assert_eq!(page(items.clone(), 0, 3), [1, 2, 3]);
    assert_eq!(page(items, 2, usize::MAX), [2, 3, 4, 5]);
}

#[test]
fn list_response_shape() {
    let r = list_response(5, 3, vec![json!({"id": "3"}), json!({"id": "4"})]);
    assert_eq!(
        r,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 5, "itemsPerPage": 2, "startIndex": 3,
            "Resources": [{"id": "3"}, {"id": "4"}]
        })
    );
    let keys: Vec<_> = r.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "schemas",
            "totalResults",
            "itemsPerPage",
            "startIndex",
            "Resources"
        ]
    );
    // count=0 (scim-sanity) and empty results keep an empty `Resources`.
    let r = list_response(7, 1, Vec::new());
    assert_eq!(r["Resources"], json!([]));
    assert_eq!(
        (r["totalResults"].clone(), r["itemsPerPage"].clone()),
        (json!(7), json!(0))
    );
}

mod window {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::super::*;
    use crate::scim::schema::USER_RESOURCE;

    proptest! {
        /// `select` holds a page, yet gives what sorting everything and
        /// paging gives.
        #[test]
        fn select_gives_what_sorting_everything_and_paging_gives(
            names in proptest::collection::vec(proptest::option::of("[a-cA-C]{0,2}"), 0..30),
            start_index in 0usize..35,
            count in 0usize..35,
            sorted in any::<bool>(),
            descending in any::<bool>(),
        ) {
            let resources: Vec<Value> = names
                .iter()
                .enumerate()
                .map(|(i, name)| match name {
                    Some(name) => json!({"id": format!("{i:02}"), "userName": name}),
                    None => json!({"id": format!("{i:02}")}),
                })
                .collect();
            let window = Window {
                sort_by: sorted.then(|| parse_attr_path("userName").unwrap()),
                sort_order: if descending { SortOrder::Descending } else { SortOrder::Ascending },
                start_index,
                count,
            };
            let mut everything = resources.clone();
            if let Some(path) = &window.sort_by {
                sort(&mut everything, path, window.sort_order, &USER_RESOURCE);
            }
            let want = page(everything, start_index, count);
            let (total, got) = select(|| resources.iter().cloned(), |v| v, &window, &USER_RESOURCE);
            prop_assert_eq!(total, resources.len());
            prop_assert_eq!(got, want);
        }
    }
}
