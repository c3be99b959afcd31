//! The heap the read cache keeps for a large tenant, counted exactly: this
//! binary's global allocator (`counting.rs`) counts the bytes the test's
//! thread requested and has not freed (no allocator rounding), so each
//! figure is what the index itself holds.
//!
//! The tenant is realistic for an enterprise IdP: 100,000 users with a name,
//! a work email, an externalId (a GUID, as Entra ID sends), enterprise
//! attributes with a manager, and 10,000 groups of ~40 members, so ~4
//! memberships per user. The budgets are in docs/performance.md ("Memory
//! budget").

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use scimitar::crd::{
    EnterpriseAttributes, GroupMember, Manager, MultiValue, PersonName, ScimGroup, ScimGroupSpec,
    ScimUser, ScimUserSpec,
};
use scimitar::meta::LAST_MODIFIED;
use scimitar::scim::list::Window;
use scimitar::store::kube::cache::Cache;
use scimitar::store::kube::{group_entry, user_entry};
use scimitar::store::{Kind, MemoryStore, Store};
use serde_json::{Value, json};

use crate::counting::{live, peak, reset_peak};

const USERS: usize = 100_000;
const GROUPS: usize = 10_000;
const GROUPS_PER_USER: usize = 4;
const NAMESPACE: &str = "acme";
const TENANT_UID: &str = "5d1f6f5e-3f4c-4c11-9a53-0c6f1bd3c0aa";

const FIRST: [&str; 8] = [
    "Barbara", "Ahmed", "Mei", "Olga", "Juan", "Priya", "Kwame", "Sven",
];
const LAST: [&str; 8] = [
    "Jensen", "Haddad", "Chen", "Ivanova", "García", "Sharma", "Mensah", "Larsson",
];
const DEPARTMENTS: [&str; 6] = [
    "Engineering",
    "Sales",
    "Finance",
    "Support",
    "Marketing",
    "Operations",
];

/// A GUID-shaped id, distinct per `(space, n)`.
fn guid(space: u32, n: usize) -> String {
    format!(
        "{space:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n >> 24,
        (n >> 12) & 0xfff,
        n & 0xfff,
        n.wrapping_mul(2_654_435_761) & 0xffff_ffff_ffff
    )
}

fn user_id(i: usize) -> String {
    guid(0x2819_c223, i)
}

fn group_id(g: usize) -> String {
    guid(0xe9e3_0dba, g)
}

/// The groups user `i` is a member of: [`GROUPS_PER_USER`] distinct ones.
fn groups_of(i: usize) -> impl Iterator<Item = usize> {
    (0..GROUPS_PER_USER).map(move |k| (i + k * (GROUPS / GROUPS_PER_USER)) % GROUPS)
}

fn user_spec(i: usize) -> ScimUserSpec {
    let (first, last) = (FIRST[i % 8], LAST[(i / 8) % 8]);
    let user_name = format!(
        "{}.{}{i}@example.com",
        first.to_lowercase(),
        last.to_lowercase()
    );
    let manager = i / 10;
    ScimUserSpec {
        external_id: Some(guid(0x0f4a_b3c2, i)),
        name: Some(PersonName {
            formatted: Some(format!("{first} {last}")),
            family_name: Some(last.to_owned()),
            given_name: Some(first.to_owned()),
            ..Default::default()
        }),
        display_name: Some(format!("{first} {last}")),
        active: Some(true),
        emails: vec![MultiValue {
            value: Some(user_name.clone()),
            type_: Some("work".into()),
            primary: Some(true),
            display: None,
        }],
        enterprise: Some(EnterpriseAttributes {
            employee_number: Some(format!("{:06}", i + 1000)),
            department: Some(DEPARTMENTS[i % DEPARTMENTS.len()].to_owned()),
            cost_center: Some(format!("CC-{}", i % 50)),
            organization: Some("Acme".into()),
            division: None,
            manager: Some(Manager {
                value: Some(user_id(manager)),
                reference: None,
                display_name: Some(format!(
                    "{} {}",
                    FIRST[manager % 8],
                    LAST[(manager / 8) % 8]
                )),
            }),
        }),
        user_name,
        ..Default::default()
    }
}

fn group_members(g: usize) -> Vec<String> {
    // Inverse of `groups_of`: user i is in g when g ≡ i + k·2500 (mod 10,000).
    let mut out = Vec::new();
    for k in 0..GROUPS_PER_USER {
        let base = (g + GROUPS - k * (GROUPS / GROUPS_PER_USER)) % GROUPS;
        out.extend((base..USERS).step_by(GROUPS).map(user_id));
    }
    out
}

fn metadata(id: String, version: usize) -> kube::api::ObjectMeta {
    kube::api::ObjectMeta {
        name: Some(id),
        namespace: Some(NAMESPACE.into()),
        resource_version: Some((1_000_000 + version).to_string()),
        generation: Some(1),
        creation_timestamp: Some(Time(
            jiff::Timestamp::from_second(1_767_225_600 + version as i64).expect("time"),
        )),
        labels: Some(BTreeMap::from([
            (
                "app.kubernetes.io/managed-by".to_owned(),
                "scimitar".to_owned(),
            ),
            (
                scimitar::meta::TENANT_UID_LABEL.to_owned(),
                TENANT_UID.to_owned(),
            ),
        ])),
        annotations: Some(BTreeMap::from([(
            LAST_MODIFIED.to_owned(),
            jiff::Timestamp::from_second(1_767_225_600 + version as i64)
                .expect("time")
                .checked_add(jiff::SignedDuration::from_millis(123))
                .expect("time")
                .to_string(),
        )])),
        ..Default::default()
    }
}

fn user_object(i: usize) -> ScimUser {
    let mut user = ScimUser::new(&user_id(i), user_spec(i));
    user.metadata = metadata(user_id(i), i);
    user
}

fn group_object(g: usize) -> ScimGroup {
    let spec = ScimGroupSpec {
        display_name: format!("Team {g}"),
        external_id: Some(guid(0x7e57_0000, g)),
        members: group_members(g)
            .into_iter()
            .map(|value| GroupMember {
                value,
                display: None,
                type_: Some("User".into()),
            })
            .collect(),
        extra: BTreeMap::new(),
    };
    let mut group = ScimGroup::new(&group_id(g), spec);
    group.metadata = metadata(group_id(g), USERS + g);
    group
}

/// Budgets (docs/performance.md, "Memory budget"): the measurement plus
/// about 10%.
const BYTES_PER_USER: usize = 500;
const BYTES_PER_GROUP: usize = 300;
const BYTES_PER_MEMBERSHIP: usize = 14;
const SERVED_BYTES_PER_USER: usize = 490;
/// What a relist may hold above the cache while it runs.
const RELIST_BYTES: usize = 4 << 20;
/// Most a SCIM list of the 100,000 users may hold above the cache: a page
/// (of 100 here), and with `sortBy` a sort key per user.
const LIST_BYTES: usize = 1 << 20;
const SORTED_LIST_BYTES: usize = 12 << 20;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// How far [`scimitar::store::Index::heap_bytes`] (the
/// `scimitar_cache_bytes` gauge) may be from the exact heap.
const ESTIMATE_ERROR: f64 = 0.15;

/// The cache's estimate of its heap next to the exact figure, at one stage.
struct Estimate {
    stage: &'static str,
    exact: usize,
    estimate: usize,
}

/// The heap the operator's cache keeps: users, then groups without members,
/// then the same groups with their members, each loaded the way the watch
/// loads them. Then a relist of the users, whose peak is reported too.
/// What [`kubernetes_cache`] measured, in bytes.
struct Measured {
    users: usize,
    groups: usize,
    memberships: usize,
    relist_peak: usize,
    estimates: Vec<Estimate>,
    /// What each kind of SCIM list held above the cache at its peak.
    lists: Vec<(&'static str, usize)>,
}

fn kubernetes_cache() -> Measured {
    let start = live();
    let mut estimates = Vec::new();
    let mut estimate = |cache: &Cache, stage| {
        let exact = live() - start;
        let estimate = cache.read(NAMESPACE, |i| i.heap_bytes());
        estimates.push(Estimate {
            stage,
            exact,
            estimate,
        });
    };
    let cache = Cache::default();
    for i in 0..USERS {
        let incoming = user_entry(&user_object(i)).expect("user entry");
        cache.upsert(Kind::User, incoming);
    }
    drop(cache.take_changes(NAMESPACE));
    let users = live() - start;
    estimate(&cache, "users");

    let bare = |g: usize| {
        let mut group = group_object(g);
        group.spec.members.clear();
        group.metadata.resource_version = Some("1".into());
        group
    };
    for g in 0..GROUPS {
        cache.upsert(Kind::Group, group_entry(&bare(g)).expect("group entry"));
    }
    drop(cache.take_changes(NAMESPACE));
    let groups = live() - start - users;
    estimate(&cache, "users and bare groups");

    for g in 0..GROUPS {
        cache.upsert(Kind::Group, group_entry(&group_object(g)).expect("group"));
    }
    drop(cache.take_changes(NAMESPACE));
    let memberships = live() - start - users - groups;
    estimate(&cache, "users and groups with members");

    // A relist of the users, each changed since: the peak above what is
    // kept is the relist's own.
    let before = live();
    reset_peak();
    cache.relist_started(Kind::User);
    for i in 0..USERS {
        let mut user = user_object(i);
        user.metadata.resource_version = Some((2_000_000 + i).to_string());
        cache.relisted(Kind::User, user_entry(&user).expect("user"));
    }
    cache.relist_done(Kind::User);
    drop(cache.take_changes(NAMESPACE));
    let relist_peak = peak() - before;
    estimate(&cache, "after a relist of the users");
    assert_eq!(cache.read(NAMESPACE, |i| i.count(Kind::User)), USERS);
    let mut want: Vec<String> = groups_of(7).map(group_id).collect();
    want.sort();
    assert_eq!(cache.read(NAMESPACE, |i| i.groups_of(&user_id(7))), want);

    // SCIM lists as IdPs send them (Okta's `count=1` probe, a paged
    // import), a filter the indexes cannot narrow, and a sorted page: each
    // holds its page, not the tenant.
    let mut lists = Vec::new();
    for (what, filter, sort_by, start_index, count) in [
        ("count=0", None, None, 1, 0),
        ("a page of 100", None, None, 50_001, 100),
        (
            "a page of 100 of a scan",
            Some(r#"userName co "example""#),
            None,
            1,
            100,
        ),
        ("a sorted page of 100", None, Some("userName"), 99_901, 100),
    ] {
        let filter = filter.map(|f| scimitar::scim::filter::parse_filter(f).expect("filter"));
        let window = Window {
            sort_by: sort_by.map(|p| scimitar::scim::path::parse_attr_path(p).expect("path")),
            sort_order: Default::default(),
            start_index,
            count,
        };
        let before = live();
        reset_peak();
        let listed = cache.read(NAMESPACE, |i| {
            i.select(Kind::User, filter.as_ref(), &window)
        });
        assert_eq!(listed.resources.len(), count, "{what}");
        if filter.is_none() {
            assert_eq!(listed.total, USERS, "{what}");
        }
        drop(listed);
        lists.push((what, peak() - before));
    }
    drop(cache);
    Measured {
        users,
        groups,
        memberships,
        relist_peak,
        estimates,
        lists,
    }
}

/// The users `scimitar serve` keeps: resources as the protocol layer
/// normalises them, stored by the in-memory store.
fn memory_store() -> usize {
    let rt = Kind::User.resource_type();
    let store = MemoryStore::new();
    let start = live();
    for i in 0..USERS {
        let spec = user_spec(i);
        let mut body = scimitar::store::kube::convert::user_to_scim(&spec);
        body["password"] = json!("secret");
        let body = scimitar::scim::resource::prepare_create(rt, body).expect("valid user");
        futures::executor::block_on(store.create("acme", Kind::User, body)).expect("created");
    }
    let kept = live() - start;
    let window = Window {
        start_index: 1,
        count: 10,
        ..Window::default()
    };
    let page =
        futures::executor::block_on(store.list("acme", Kind::User, None, &window)).expect("list");
    assert_eq!(page.total, USERS);
    assert!(matches!(
        page.resources[0].resource.get("userName"),
        Some(Value::String(_))
    ));
    kept
}

#[test]
fn a_large_tenant_fits_the_memory_budget() {
    let Measured {
        users,
        groups,
        memberships,
        relist_peak,
        estimates,
        lists,
    } = kubernetes_cache();
    let served = memory_store();
    let per = |bytes: usize, n: usize| bytes as f64 / n as f64;
    let total = users + groups + memberships;
    eprintln!(
        "operator cache: {:.1} MiB for {USERS} users, {GROUPS} groups, {} memberships: \
         {:.0} B/user, {:.0} B/group, {:.0} B/membership; a relist of the users peaks {:.2} MiB above it",
        mib(total),
        USERS * GROUPS_PER_USER,
        per(users, USERS),
        per(groups, GROUPS),
        per(memberships, USERS * GROUPS_PER_USER),
        mib(relist_peak),
    );
    eprintln!(
        "in-memory store: {:.1} MiB for {USERS} users ({:.0} B/user)",
        mib(served),
        per(served, USERS)
    );
    for e in &estimates {
        let error = e.estimate as f64 / e.exact as f64 - 1.0;
        eprintln!(
            "heap_bytes(), {}: {:.2} MiB, exact {:.2} MiB ({:+.1}%)",
            e.stage,
            mib(e.estimate),
            mib(e.exact),
            error * 100.0
        );
        assert!(
            error.abs() <= ESTIMATE_ERROR,
            "heap_bytes(), {}: {} B, exact {} B",
            e.stage,
            e.estimate,
            e.exact
        );
    }
    assert!(users <= USERS * BYTES_PER_USER, "users: {users} B");
    assert!(groups <= GROUPS * BYTES_PER_GROUP, "groups: {groups} B");
    assert!(
        memberships <= USERS * GROUPS_PER_USER * BYTES_PER_MEMBERSHIP,
        "memberships: {memberships} B"
    );
    assert!(
        total
            <= USERS * BYTES_PER_USER
                + GROUPS * BYTES_PER_GROUP
                + USERS * GROUPS_PER_USER * BYTES_PER_MEMBERSHIP
    );
    assert!(relist_peak <= RELIST_BYTES, "relist: {relist_peak} B");
    for (what, peak) in lists {
        eprintln!(
            "a SCIM list, {what}: peaks {:.2} MiB above the cache",
            mib(peak)
        );
        let budget = if what.contains("sorted") {
            SORTED_LIST_BYTES
        } else {
            LIST_BYTES
        };
        assert!(peak <= budget, "a SCIM list, {what}: {peak} B");
    }
    assert!(
        served <= USERS * SERVED_BYTES_PER_USER,
        "served: {served} B"
    );
}
