//! Criterion micro-benchmarks of the pure SCIM protocol: the filter parser
//! and evaluator, and the PATCH engine (parse + apply + validate), on the
//! request shapes identity providers send. `make bench` runs them.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;

use scimitar::scim::filter::{matches, parse_filter};
use scimitar::scim::list::Window;
use scimitar::scim::patch::{apply_patch, parse_patch_request};
use scimitar::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};

const FILTERS: [(&str, &str); 4] = [
    ("eq", r#"userName eq "bjensen@example.com""#),
    (
        "entra",
        r#"externalId eq "0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c""#,
    ),
    (
        "compound",
        r#"(userName sw "b" or name.familyName co "jens") and active eq true"#,
    ),
    (
        "value-path",
        r#"emails[type eq "work" and value ew "@example.com"] and not (title pr)"#,
    ),
];

fn user(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": format!("2819c223-7f76-453a-919d-{i:012}"),
        "externalId": format!("ext-{i}"),
        "userName": format!("user{i}@example.com"),
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": format!("user{i}@example.com"), "type": "work", "primary": true},
            {"value": format!("user{i}@home.example"), "type": "home"}
        ],
        "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z",
                 "lastModified": "2026-01-01T00:00:00Z", "version": "W/\"1\""}
    })
}

fn filters(c: &mut Criterion) {
    let mut group = c.benchmark_group("filter");
    for (name, text) in FILTERS {
        group.bench_with_input(BenchmarkId::new("parse", name), text, |b, text| {
            b.iter(|| parse_filter(black_box(text)).expect("valid filter"))
        });
    }
    let users: Vec<Value> = (0..1000).map(user).collect();
    group.throughput(Throughput::Elements(users.len() as u64));
    for (name, text) in FILTERS {
        let filter = parse_filter(text).expect("valid filter");
        group.bench_with_input(
            BenchmarkId::new("evaluate-1000-users", name),
            &filter,
            |b, filter| {
                b.iter(|| {
                    users
                        .iter()
                        .filter(|u| matches(filter, u, &USER_RESOURCE))
                        .count()
                })
            },
        );
    }
    group.finish();
}

fn group_with_members(n: usize) -> Value {
    let members: Vec<Value> = (0..n)
        .map(|i| json!({"value": format!("2819c223-7f76-453a-919d-{i:012}"), "type": "User"}))
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "engineering",
        "members": members,
        "meta": {"resourceType": "Group", "created": "2026-01-01T00:00:00Z",
                 "lastModified": "2026-01-01T00:00:00Z", "version": "W/\"1\""}
    })
}

fn patches(c: &mut Criterion) {
    let op = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    let requests = [
        (
            "add-member",
            json!({"schemas": [op], "Operations": [{"op": "add", "path": "members",
                "value": [{"value": "new-member-id"}]}]}),
        ),
        (
            "remove-member-filter",
            json!({"schemas": [op], "Operations": [{"op": "remove",
                "path": "members[value eq \"2819c223-7f76-453a-919d-000000000007\"]"}]}),
        ),
        (
            "okta-replace-members",
            json!({"schemas": [op], "Operations": [{"op": "replace", "path": "members",
                "value": [{"value": "a"}, {"value": "b"}]}]}),
        ),
    ];
    let mut group = c.benchmark_group("patch-group");
    for size in [10usize, 1000] {
        let resource = group_with_members(size);
        for (name, body) in &requests {
            group.bench_with_input(
                BenchmarkId::new(*name, format!("{size}-members")),
                body,
                |b, body| {
                    b.iter(|| {
                        let request = parse_patch_request(black_box(body)).expect("valid PATCH");
                        apply_patch(&GROUP_RESOURCE, &resource, &request).expect("applies")
                    })
                },
            );
        }
    }
    group.finish();

    let mut group = c.benchmark_group("patch-user");
    let resource = user(1);
    let entra = json!({"schemas": [op], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"}
    ]});
    let jumpcloud = json!({"schemas": [op], "Operations": [
        {"op": "replace", "value": {"active": false, "name": {"givenName": "Babs"}}}
    ]});
    for (name, body) in [("entra-3-ops", entra), ("jumpcloud-no-path", jumpcloud)] {
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| {
                let request = parse_patch_request(black_box(body)).expect("valid PATCH");
                apply_patch(&USER_RESOURCE, &resource, &request).expect("applies")
            })
        });
    }
    group.finish();
}

/// A realistic user of a large tenant, as the protocol layer stores it.
fn tenant_user(i: usize) -> Value {
    let name = format!("user{i:07}@example.com");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("0f4ab3c2-1d2e-4f5a-9b8c-{i:012}"),
        "userName": name,
        "name": {"formatted": "Barbara Jensen", "givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Barbara Jensen",
        "active": true,
        "emails": [{"value": name, "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": format!("{i}"), "department": "Engineering",
            "costCenter": "CC-1", "organization": "Acme",
            "manager": {"value": format!("2819c223-7f76-453a-919d-{:012}", i / 10)}
        }
    })
}

/// Reads of the in-memory store (the index both stores read through) at
/// 100,000 users in 10,000 groups of 40: an IdP's lookups, and a whole
/// list, which a page of 100 without a filter costs.
fn store_reads(c: &mut Criterion) {
    use futures::executor::block_on;
    use scimitar::store::{Kind, MemoryStore, Store};
    const USERS: usize = 100_000;
    const GROUPS: usize = 10_000;
    let store = MemoryStore::new();
    let mut ids = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let body = scimitar::scim::resource::prepare_create(&USER_RESOURCE, tenant_user(i))
            .expect("valid user");
        ids.push(
            block_on(store.create("t", Kind::User, body))
                .expect("created")
                .id,
        );
    }
    for g in 0..GROUPS {
        let members: Vec<Value> = (0..USERS / GROUPS * 4)
            .map(|k| json!({"value": ids[(g + k * GROUPS / 4) % USERS]}))
            .collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": format!("Team {g}"), "members": members});
        let body = scimitar::scim::resource::prepare_create(&GROUP_RESOURCE, body).expect("group");
        block_on(store.create("t", Kind::Group, body)).expect("created");
    }
    let mut group = c.benchmark_group("store-100k");
    let lookups = [
        ("userName-eq", r#"userName eq "USER0054321@example.com""#),
        ("email-eq", r#"emails[value eq "user0054321@example.com"]"#),
        (
            "externalId-eq",
            r#"externalId eq "0f4ab3c2-1d2e-4f5a-9b8c-000000054321""#,
        ),
    ];
    let first_page = Window {
        start_index: 1,
        count: 100,
        ..Window::default()
    };
    for (name, text) in lookups {
        let filter = parse_filter(text).expect("valid filter");
        group.bench_function(name, |b| {
            b.iter(|| {
                let found = block_on(store.list("t", Kind::User, Some(&filter), &first_page))
                    .expect("list");
                assert_eq!(found.resources.len(), 1);
            })
        });
    }
    group.bench_function("get", |b| {
        b.iter(|| block_on(store.get("t", Kind::User, black_box(&ids[54321]))).expect("get"))
    });
    group.sample_size(10);
    group.bench_function("page-of-100", |b| {
        b.iter(|| block_on(store.list("t", Kind::User, None, &first_page)).expect("list"))
    });
    group.finish();
}

criterion_group!(benches, filters, patches, store_reads);
criterion_main!(benches);
