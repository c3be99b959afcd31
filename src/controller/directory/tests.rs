use std::collections::{BTreeMap, BTreeSet};

use pretty_assertions::assert_eq;

use super::*;
use crate::controller::desired::tenant_labels;
use crate::controller::testutil::*;

fn data(cm: &ConfigMap) -> &BTreeMap<String, String> {
    cm.data.as_ref().unwrap()
}

fn manifest_of(cms: &[ConfigMap]) -> Manifest {
    serde_json::from_str(&data(&cms[0])[MANIFEST_KEY]).unwrap()
}

/// Users and groups read back from the ConfigMaps as a consumer would: follow
/// the manifest, then merge split entries (users by userName, groups by id),
/// whatever shard they are in.
fn read_back(cms: &[ConfigMap]) -> (Vec<UserEntry>, Vec<GroupEntry>) {
    let manifest = manifest_of(cms);
    let by_name: BTreeMap<&str, &ConfigMap> = cms
        .iter()
        .map(|cm| (cm.metadata.name.as_deref().unwrap(), cm))
        .collect();
    let sources: Vec<&ConfigMap> = if manifest.shards.is_empty() {
        vec![&cms[0]]
    } else {
        manifest
            .shards
            .iter()
            .map(|n| by_name[n.as_str()])
            .collect()
    };
    let mut users: BTreeMap<String, UserEntry> = BTreeMap::new();
    let mut groups: BTreeMap<String, GroupEntry> = BTreeMap::new();
    for cm in sources {
        for (key, json) in data(cm) {
            if key.starts_with("user.") {
                let entry: UserEntry = serde_json::from_str(json).unwrap();
                match users.get_mut(&entry.user_name) {
                    Some(known) => known.groups.extend(entry.groups),
                    None => {
                        users.insert(entry.user_name.clone(), entry);
                    }
                }
            } else if key.starts_with("group.") {
                let entry: GroupEntry = serde_json::from_str(json).unwrap();
                match groups.get_mut(&entry.id) {
                    Some(known) => known.members.extend(entry.members),
                    None => {
                        groups.insert(entry.id.clone(), entry);
                    }
                }
            } else {
                assert_eq!(key, MANIFEST_KEY);
            }
        }
    }
    let users: Vec<UserEntry> = users.into_values().collect();
    let mut groups: Vec<GroupEntry> = groups.into_values().collect();
    groups.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
    assert_eq!(manifest.users, users.len());
    assert_eq!(manifest.groups, groups.len());
    (users, groups)
}

fn data_size(cm: &ConfigMap) -> usize {
    data(cm).iter().map(|(k, v)| k.len() + v.len()).sum()
}

fn sample() -> (ScimTenant, Vec<ScimUser>, Vec<ScimGroup>) {
    let tenant = tenant("acme", Vec::new());
    let mut jane = with_emails(
        user("u1", "jane"),
        vec![
            email("jane@home.example", Some("home"), None),
            email("jane@example.com", Some("work"), None),
        ],
    );
    jane.spec.display_name = Some("Jane Doe".to_string());
    let users = vec![
        jane,
        user("u2", "amy"),
        inactive(user("u3", "joe")),
        user("u4", "bob"),
    ];
    let groups = vec![
        group(
            "g2",
            "devs",
            vec![
                member("u1"),
                member("u3"),
                member("gone"),
                group_member("g1"),
            ],
        ),
        group("g1", "admins", vec![member("u2"), untyped_member("u1")]),
        group("g0", "devs", vec![]),
    ];
    (tenant, users, groups)
}

#[test]
fn content_lists_active_users_and_their_groups() {
    let (tenant, users, groups) = sample();
    let cms = build(
        &tenant,
        &users,
        &groups,
        &tenant_labels(&tenant),
        None,
        None,
    );
    assert_eq!(cms.len(), 1);
    let d = data(&cms[0]);
    let expected = [
        (
            "group.g0",
            r#"{"id":"g0","displayName":"devs","members":[]}"#,
        ),
        (
            "group.g1",
            r#"{"id":"g1","displayName":"admins","members":["amy","jane"]}"#,
        ),
        (
            "group.g2",
            r#"{"id":"g2","displayName":"devs","members":["jane"]}"#,
        ),
        (
            "manifest.json",
            r#"{"version":3,"users":3,"groups":3,"shards":[]}"#,
        ),
        (
            "user.u1",
            r#"{"userName":"jane","displayName":"Jane Doe","email":"jane@example.com","groups":["admins","devs"]}"#,
        ),
        ("user.u2", r#"{"userName":"amy","groups":["admins"]}"#),
        ("user.u4", r#"{"userName":"bob","groups":[]}"#),
    ];
    let got: Vec<(&str, &str)> = d.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, expected);
}

#[test]
fn main_config_map_lives_in_the_tenant_namespace_with_directory_label() {
    let (tenant, users, groups) = sample();
    let owner = OwnerReference {
        api_version: "scimitar.dev/v1alpha1".to_string(),
        kind: "ScimTenant".to_string(),
        name: "acme".to_string(),
        uid: "uid-1".to_string(),
        controller: Some(true),
        block_owner_deletion: None,
    };
    let labels = tenant_labels(&tenant);
    let cms = build(&tenant, &users, &groups, &labels, Some(owner.clone()), None);
    let meta = &cms[0].metadata;
    assert_eq!(meta.name.as_deref(), Some("acme-directory"));
    assert_eq!(meta.namespace.as_deref(), Some(NS));
    let mut expected = labels.clone();
    expected.insert(DIRECTORY_LABEL.to_string(), "true".to_string());
    assert_eq!(meta.labels.as_ref(), Some(&expected));
    assert_eq!(meta.owner_references, Some(vec![owner]));
}

#[test]
fn ordering_is_stable_regardless_of_input_order() {
    let (tenant, users, groups) = sample();
    let labels = tenant_labels(&tenant);
    let forward = build(&tenant, &users, &groups, &labels, None, None);
    let mut users_rev = users.clone();
    users_rev.reverse();
    let mut groups_rev = groups.clone();
    groups_rev.reverse();
    for g in &mut groups_rev {
        g.spec.members.reverse();
    }
    assert_eq!(
        forward,
        build(&tenant, &users_rev, &groups_rev, &labels, None, None)
    );
    let sharded = build_with_budget(&tenant, &users, &groups, &labels, None, 200);
    let sharded_rev = build_with_budget(&tenant, &users_rev, &groups_rev, &labels, None, 200);
    assert_eq!(sharded, sharded_rev);
}

#[test]
fn empty_directory_is_a_manifest_alone() {
    let tenant = tenant("acme", Vec::new());
    let cms = build_with_budget(&tenant, &[], &[], &BTreeMap::new(), None, 100);
    assert_eq!(cms.len(), 1);
    assert_eq!(data(&cms[0]).keys().collect::<Vec<_>>(), vec![MANIFEST_KEY]);
    assert_eq!(
        manifest_of(&cms),
        Manifest {
            version: 3,
            users: 0,
            groups: 0,
            shards: Vec::new()
        }
    );
}

/// 40 users, one big group with all of them, and a few small groups.
fn many() -> (ScimTenant, Vec<ScimUser>, Vec<ScimGroup>) {
    let tenant = tenant("acme", Vec::new());
    let users: Vec<ScimUser> = (0..40)
        .map(|i| {
            let u = user(&format!("u{i:02}"), &format!("user-{i:02}@example.com"));
            if i % 7 == 0 { inactive(u) } else { u }
        })
        .collect();
    let mut groups = vec![group(
        "big",
        "everyone",
        (0..40).map(|i| member(&format!("u{i:02}"))).collect(),
    )];
    for g in 0..5 {
        groups.push(group(
            &format!("small{g}"),
            &format!("team-{g}"),
            (0..40)
                .filter(|i| i % 5 == g)
                .map(|i| member(&format!("u{i:02}")))
                .collect(),
        ));
    }
    (tenant, users, groups)
}

#[test]
fn sharding_with_a_tiny_budget_keeps_every_user_and_member_exactly_once() {
    let (tenant, users, groups) = many();
    let labels = tenant_labels(&tenant);
    let whole = build(&tenant, &users, &groups, &labels, None, None);
    assert_eq!(whole.len(), 1);
    let expected = read_back(&whole);
    assert_eq!(expected, entries(&users, &groups));

    for budget in [150, 300, 700, 2_000] {
        let cms = build_with_budget(&tenant, &users, &groups, &labels, None, budget);
        let manifest = manifest_of(&cms);
        assert_eq!(manifest.shards.len(), cms.len() - 1, "budget {budget}");
        assert!(cms.len() > 2, "budget {budget} should shard");
        assert_eq!(data(&cms[0]).keys().collect::<Vec<_>>(), vec![MANIFEST_KEY]);
        for (n, cm) in cms[1..].iter().enumerate() {
            let name = cm.metadata.name.as_deref().unwrap();
            assert!(name.starts_with("acme-directory-"), "{name}");
            assert_eq!(manifest.shards[n], name);
            assert!(
                data_size(cm) <= budget,
                "budget {budget}: {}",
                data_size(cm)
            );
            assert!(cm.data.is_some(), "an empty bucket still has its shard");
            assert_eq!(
                cm.metadata.labels.as_ref().unwrap()[DIRECTORY_LABEL],
                "true"
            );
        }
        // Merged, everything is there exactly once and in order.
        let (users_back, groups_back) = read_back(&cms);
        assert_eq!(
            (users_back.clone(), groups_back.clone()),
            expected,
            "budget {budget}"
        );
        for g in &groups_back {
            let unique: BTreeSet<_> = g.members.iter().collect();
            assert_eq!(unique.len(), g.members.len());
        }
    }
}

#[test]
fn an_oversized_group_is_split_into_entries_with_the_same_id() {
    let (tenant, users, groups) = many();
    let cms = build_with_budget(&tenant, &users, &groups, &BTreeMap::new(), None, 300);
    let mut big_entries = Vec::new();
    for cm in &cms[1..] {
        if let Some(json) = data(cm).get("group.big") {
            big_entries.push(serde_json::from_str::<GroupEntry>(json).unwrap());
        }
    }
    assert!(big_entries.len() > 1);
    assert!(big_entries.iter().all(|e| e.display_name == "everyone"));
    let members: Vec<String> = big_entries.into_iter().flat_map(|e| e.members).collect();
    let active = users.iter().filter(|u| u.spec.is_active()).count();
    assert_eq!(members.len(), active);
    let mut sorted = members.clone();
    sorted.sort();
    assert_eq!(members, sorted);
}

#[test]
fn an_unsplittable_entry_gets_a_shard_of_its_own() {
    let tenant = tenant("acme", Vec::new());
    let users = vec![user("u1", &"x".repeat(500)), user("u2", "amy")];
    let cms = build_with_budget(&tenant, &users, &[], &BTreeMap::new(), None, 200);
    let (back, _) = read_back(&cms);
    assert_eq!(back, entries(&users, &[]).0);
    assert_eq!(cms.len(), 3);
}

#[test]
fn long_tenant_names_give_valid_config_map_names() {
    let long = format!("{}.example.com", "a".repeat(238));
    assert_eq!(long.len(), 250);
    let tenant = tenant(&long, Vec::new());
    let (_, users, groups) = many();
    let cms = build_with_budget(&tenant, &users, &groups, &BTreeMap::new(), None, 300);
    let names: BTreeSet<_> = cms
        .iter()
        .map(|cm| cm.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names.len(), cms.len());
    for name in &names {
        assert!(is_dns_subdomain(name), "{name}");
    }
    let other = tenant_with_name(&format!("{}.example.org", "a".repeat(238)));
    assert_ne!(main_name(&tenant), main_name(&other));
    assert_eq!(main_name(&tenant_with_name("acme")), "acme-directory");
}

fn tenant_with_name(name: &str) -> ScimTenant {
    tenant(name, Vec::new())
}

#[test]
fn a_user_in_many_groups_is_split_by_groups() {
    let tenant = tenant("acme", Vec::new());
    let users = vec![user("u1", "jane"), user("u2", "amy")];
    let groups: Vec<ScimGroup> = (0..30)
        .map(|i| {
            group(
                &format!("g{i:02}"),
                &format!("group-{i:02}"),
                vec![member("u1")],
            )
        })
        .collect();
    let cms = build_with_budget(&tenant, &users, &groups, &BTreeMap::new(), None, 200);
    let jane_entries: usize = cms[1..]
        .iter()
        .filter_map(|cm| data(cm).get("user.u1"))
        .map(|json| serde_json::from_str::<UserEntry>(json).unwrap())
        .filter(|e| e.user_name == "jane")
        .count();
    assert!(jane_entries > 1);
    for cm in &cms[1..] {
        assert!(data_size(cm) <= 200);
    }
    assert_eq!(read_back(&cms), entries(&users, &groups));
}

/// Ten users in a group, then one more: which shard ConfigMaps differ.
fn changed(before: &[ConfigMap], after: &[ConfigMap]) -> Vec<String> {
    let old: BTreeMap<&str, &ConfigMap> = before
        .iter()
        .map(|cm| (cm.metadata.name.as_deref().unwrap(), cm))
        .collect();
    after
        .iter()
        .filter(|cm| {
            old.get(cm.metadata.name.as_deref().unwrap())
                .map(|o| &o.data)
                != Some(&cm.data)
        })
        .map(|cm| cm.metadata.name.clone().unwrap())
        .collect()
}

#[test]
fn one_change_rewrites_at_most_the_shards_of_what_changed() {
    let tenant = tenant("acme", Vec::new());
    let mut users: Vec<ScimUser> = (0..300)
        .map(|i| user(&format!("u{i:03}"), &format!("user-{i:03}@example.com")))
        .collect();
    let groups_with = |extra: Option<&str>| -> Vec<ScimGroup> {
        (0..30)
            .map(|g| {
                let mut members: Vec<_> = (0..300)
                    .filter(|i| i % 30 == g)
                    .map(|i| member(&format!("u{i:03}")))
                    .collect();
                if g == 7
                    && let Some(id) = extra
                {
                    members.push(member(id));
                }
                group(&format!("g{g:02}"), &format!("team-{g:02}"), members)
            })
            .collect()
    };
    let budget = 4_000;
    let labels = BTreeMap::new();
    let before = build_with_budget(&tenant, &users, &groups_with(None), &labels, None, budget);
    assert!(before.len() > 4, "sharded: {}", before.len());

    // A membership change: the user's shard and the group's, nothing else.
    let after = build_with_budget(
        &tenant,
        &users,
        &groups_with(Some("u001")),
        &labels,
        None,
        budget,
    );
    let touched = changed(&before, &after);
    assert!(touched.len() <= 2, "{touched:?}");
    assert!(
        !touched.contains(&"acme-directory".to_string()),
        "{touched:?}"
    );
    assert_eq!(
        read_back(&after),
        entries(&users, &groups_with(Some("u001")))
    );

    // A new user in no group: its shard, and the manifest's count.
    users.push(user("u999", "new@example.com"));
    let grown = build_with_budget(&tenant, &users, &groups_with(None), &labels, None, budget);
    let touched = changed(&before, &grown);
    assert!(touched.len() <= 2, "{touched:?}");
    assert_eq!(manifest_of(&grown).version, 3);
}

#[test]
fn the_shard_count_is_kept_while_it_fits() {
    let tenant = tenant("acme", Vec::new());
    let users: Vec<ScimUser> = (0..300)
        .map(|i| user(&format!("u{i:03}"), &format!("user-{i:03}@example.com")))
        .collect();
    let labels = BTreeMap::new();
    let fresh = build_with(&tenant, &users, &[], &labels, None, 4_000, None);
    let needed = bucket_count(&fresh[0]).expect("a version 3 manifest");
    assert!(needed >= 2, "{needed}");
    // A larger count it already has is kept (up to four times what is needed).
    let kept = build_with(&tenant, &users, &[], &labels, None, 4_000, Some(needed * 4));
    assert_eq!(bucket_count(&kept[0]), Some(needed * 4));
    assert_eq!(read_back(&kept), entries(&users, &[]));
    // Far more than needed: back to what is needed.
    let shrunk = build_with(
        &tenant,
        &users,
        &[],
        &labels,
        None,
        4_000,
        Some(needed * 16),
    );
    assert_eq!(bucket_count(&shrunk[0]), Some(needed));
    // Half of what is needed: kept only as long as every shard fits.
    let tight = build_with(&tenant, &users, &[], &labels, None, 4_000, Some(needed / 2));
    for cm in &tight[1..] {
        assert!(data_size(cm) <= 4_000);
    }
    assert_eq!(read_back(&tight), entries(&users, &[]));
    // Far too few: what is needed.
    let grown = build_with(&tenant, &users, &[], &labels, None, 4_000, Some(1));
    assert_eq!(bucket_count(&grown[0]), Some(needed));
}
