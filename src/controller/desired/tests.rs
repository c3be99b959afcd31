use std::cell::RefCell;

use k8s_openapi::api::rbac::v1::Subject;
use pretty_assertions::assert_eq;

use super::*;
use crate::controller::testutil::*;
use crate::crd::{BindSubjects, MultiValue, RoleKind};
use crate::meta::{APP_NAME_LABEL, MANAGED_BY, TENANT_LABEL, user_subject_name};

fn run_with(
    tenant: &ScimTenant,
    users: &[ScimUser],
    groups: &[ScimGroup],
    existing: &[&str],
    roles: &dyn Fn(&RoleTarget) -> RoleState,
) -> Desired {
    let namespaces = namespaces(existing);
    desired(&Inputs {
        tenant,
        users,
        groups,
        namespaces: &namespaces,
        namespace_labels: &BTreeMap::new(),
        roles,
        now: jiff::Timestamp::UNIX_EPOCH,
        directory_shards: None,
    })
}

fn run(
    tenant: &ScimTenant,
    users: &[ScimUser],
    groups: &[ScimGroup],
    existing: &[&str],
) -> Desired {
    run_with(tenant, users, groups, existing, &|_| RoleState::Bindable)
}

fn names(subjects: &Option<Vec<Subject>>) -> Vec<(String, String)> {
    subjects
        .iter()
        .flatten()
        .map(|s| (s.kind.clone(), s.name.clone()))
        .collect()
}

fn user_subjects(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| ("User".to_string(), n.to_string()))
        .collect()
}

fn reasons(problems: &[Problem]) -> Vec<&'static str> {
    problems.iter().map(|p| p.reason).collect()
}

/// A tenant mapping `devs` to ClusterRole `edit` in `team-a`, with users
/// jane (active), joe (inactive) and group devs listing both.
fn basic() -> (ScimTenant, Vec<ScimUser>, Vec<ScimGroup>) {
    let tenant = tenant(
        "acme",
        vec![in_namespaces(
            "devs",
            RoleKind::ClusterRole,
            "edit",
            &["team-a"],
        )],
    );
    let users = vec![
        with_emails(
            user("u1", "jane"),
            vec![email("jane@example.com", Some("work"), Some(true))],
        ),
        inactive(with_emails(
            user("u2", "joe"),
            vec![email("joe@example.com", None, None)],
        )),
    ];
    let groups = vec![group("g1", "devs", vec![member("u1"), member("u2")])];
    (tenant, users, groups)
}

#[test]
fn deactivated_user_is_neither_subject_nor_in_directory() {
    let (tenant, users, groups) = basic();
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(d.role_bindings.len(), 1);
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        user_subjects(&["oidc:jane@example.com"])
    );
    assert_eq!(d.users["u2"].subject, None);
    assert_eq!(d.users["u2"].groups, vec!["devs"]);
    let directory = d.config_maps[0].data.as_ref().unwrap();
    assert!(directory["user.u1"].contains("jane"));
    assert!(!directory.contains_key("user.u2"), "joe is inactive");
    assert!(!directory.values().any(|v| v.contains("joe")));
}

#[test]
fn member_ids_of_deleted_users_are_ignored() {
    let (tenant, users, mut groups) = basic();
    groups[0].spec.members.push(member("deleted-user"));
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        user_subjects(&["oidc:jane@example.com"])
    );
    assert!(d.groups["g1"].problems.is_empty());
    // member_count counts the spec as listed.
    assert_eq!(d.groups["g1"].member_count, 3);
    assert!(!d.users.contains_key("deleted-user"));
}

#[test]
fn untyped_members_are_users_and_nested_groups_are_not_expanded() {
    let tenant = tenant(
        "acme",
        vec![in_namespaces(
            "devs",
            RoleKind::ClusterRole,
            "edit",
            &["team-a"],
        )],
    );
    let users = vec![user("u1", "jane"), user("u3", "ann")];
    let groups = vec![
        group("g1", "devs", vec![untyped_member("u1"), group_member("g2")]),
        group("g2", "nested", vec![member("u3")]),
    ];
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        user_subjects(&["oidc:jane"])
    );
    assert_eq!(d.users["u3"].groups, vec!["nested"]);
}

#[test]
fn email_claim_prefers_primary_then_work_then_first_then_user_name() {
    let settings = SubjectSettings::default();
    let primary = with_emails(
        user("u", "jane"),
        vec![
            email("a@x", Some("work"), None),
            email("b@x", Some("home"), Some(true)),
        ],
    );
    assert_eq!(user_subject_name(&settings, &primary), "oidc:b@x");
    let work = with_emails(
        user("u", "jane"),
        vec![
            email("a@x", Some("home"), None),
            email("b@x", Some("work"), None),
        ],
    );
    assert_eq!(user_subject_name(&settings, &work), "oidc:b@x");
    let first = with_emails(
        user("u", "jane"),
        vec![email("a@x", Some("home"), None), email("b@x", None, None)],
    );
    assert_eq!(user_subject_name(&settings, &first), "oidc:a@x");
    let valueless = with_emails(
        user("u", "jane"),
        vec![MultiValue {
            primary: Some(true),
            ..MultiValue::default()
        }],
    );
    assert_eq!(user_subject_name(&settings, &valueless), "oidc:jane");
    assert_eq!(
        user_subject_name(&settings, &user("u", "Jane")),
        "oidc:Jane"
    );
}

#[test]
fn other_username_claims_use_user_name() {
    let (mut tenant, users, groups) = basic();
    tenant.spec.subjects.username_claim = "preferred_username".to_string();
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        user_subjects(&["oidc:jane"])
    );
    assert_eq!(d.users["u1"].subject.as_deref(), Some("oidc:jane"));
}

#[test]
fn prefixes_are_prepended_as_configured() {
    let (mut tenant, users, groups) = basic();
    tenant.spec.subjects.user_prefix = "acme-user:".to_string();
    tenant.spec.subjects.group_prefix = "acme-group:".to_string();
    tenant.spec.subjects.bind = BindSubjects::Both;
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        vec![
            ("Group".to_string(), "acme-group:devs".to_string()),
            ("User".to_string(), "acme-user:jane@example.com".to_string()),
        ]
    );
}

#[test]
fn group_bind_mode_names_only_the_group() {
    let (mut tenant, users, groups) = basic();
    tenant.spec.subjects.bind = BindSubjects::Group;
    // The user prefix is not used in group mode, so an empty one is fine.
    tenant.spec.subjects.user_prefix = String::new();
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert!(d.problems.is_empty());
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        vec![("Group".to_string(), "oidc:devs".to_string())]
    );
    assert_eq!(
        d.role_bindings[0].subjects.as_ref().unwrap()[0]
            .api_group
            .as_deref(),
        Some("rbac.authorization.k8s.io")
    );
    assert_eq!(d.users["u1"].subject, None);
    assert_eq!(d.users["u1"].groups, vec!["devs"]);
}

#[test]
fn system_prefix_refuses_every_binding() {
    for bind in [BindSubjects::Users, BindSubjects::Group, BindSubjects::Both] {
        let (mut tenant, users, groups) = basic();
        tenant.spec.subjects.bind = bind;
        tenant.spec.subjects.user_prefix = "system:".to_string();
        tenant.spec.subjects.group_prefix = "SYSTEM:x-".to_string();
        let d = run(&tenant, &users, &groups, &["team-a"]);
        assert!(d.role_bindings.is_empty(), "{bind:?}");
        assert!(d.cluster_role_bindings.is_empty());
        assert!(d.groups["g1"].bindings.is_empty());
        assert_eq!(d.users["u1"].subject, None);
        let expected = if bind == BindSubjects::Both { 2 } else { 1 };
        assert_eq!(reasons(&d.problems), vec!["ReservedPrefix"; expected]);
        // The directory grants nothing and is still produced.
        assert_eq!(d.config_maps.len(), 1);
    }
}

#[test]
fn system_subject_is_left_out_with_a_problem_on_its_owner() {
    let mut tenant = tenant(
        "acme",
        vec![in_namespaces(
            "system:masters",
            RoleKind::ClusterRole,
            "edit",
            &["team-a"],
        )],
    );
    tenant.spec.subjects.user_prefix = String::new();
    tenant.spec.subjects.group_prefix = String::new();
    tenant.spec.subjects.allow_empty_prefix = true;
    tenant.spec.subjects.bind = BindSubjects::Both;
    tenant.spec.subjects.username_claim = "userName".to_string();
    let users = vec![user("u1", "System:Admin"), user("u2", "jane")];
    let groups = vec![group(
        "g1",
        "system:masters",
        vec![member("u1"), member("u2")],
    )];
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert!(d.problems.is_empty());
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        user_subjects(&["jane"])
    );
    assert_eq!(reasons(&d.users["u1"].problems), vec!["ReservedSubject"]);
    assert!(d.users["u1"].problems[0].message.contains("System:Admin"));
    assert_eq!(d.users["u1"].subject, None);
    assert_eq!(reasons(&d.groups["g1"].problems), vec!["ReservedSubject"]);
    assert!(d.users["u2"].problems.is_empty());
}

#[test]
fn empty_prefix_is_refused_unless_allowed() {
    let (mut tenant, users, groups) = basic();
    tenant.spec.subjects.user_prefix = String::new();
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(reasons(&d.problems), vec!["EmptyPrefixRefused"]);
    assert!(d.problems[0].message.contains("userPrefix"));
    assert!(d.role_bindings.is_empty());
    assert_eq!(d.users["u1"].subject, None);

    tenant.spec.subjects.allow_empty_prefix = true;
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert!(d.problems.is_empty());
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        user_subjects(&["jane@example.com"])
    );
}

#[test]
fn empty_group_prefix_is_refused_in_both_mode() {
    let (mut tenant, users, groups) = basic();
    tenant.spec.subjects.bind = BindSubjects::Both;
    tenant.spec.subjects.group_prefix = String::new();
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(reasons(&d.problems), vec!["EmptyPrefixRefused"]);
    assert!(d.problems[0].message.contains("groupPrefix"));
    assert!(d.role_bindings.is_empty());
}

#[test]
fn missing_namespace_only_affects_that_namespace() {
    let tenant = tenant(
        "acme",
        vec![in_namespaces(
            "devs",
            RoleKind::ClusterRole,
            "edit",
            &["team-a", "team-b", "team-c"],
        )],
    );
    let (_, users, groups) = basic();
    let d = run(&tenant, &users, &groups, &["team-a", "team-c"]);
    let placed: Vec<_> = d
        .role_bindings
        .iter()
        .map(|b| b.metadata.namespace.clone().unwrap())
        .collect();
    assert_eq!(placed, vec!["team-a", "team-c"]);
    assert_eq!(reasons(&d.groups["g1"].problems), vec!["NamespaceMissing"]);
    assert!(d.groups["g1"].problems[0].message.contains("team-b"));
    assert_eq!(d.groups["g1"].bindings.len(), 2);
    assert!(d.problems.is_empty());
}

#[test]
fn missing_and_unbindable_cluster_roles_are_not_bound() {
    let tenant = tenant(
        "acme",
        vec![
            in_namespaces("devs", RoleKind::ClusterRole, "ghost", &["team-a"]),
            cluster_wide("devs", "cluster-admin"),
            in_namespaces("devs", RoleKind::ClusterRole, "edit", &["team-a"]),
        ],
    );
    let (_, users, groups) = basic();
    let roles = |t: &RoleTarget| match t.name.as_str() {
        "ghost" => RoleState::Missing,
        "cluster-admin" => RoleState::NotBindable,
        _ => RoleState::Bindable,
    };
    let d = run_with(&tenant, &users, &groups, &["team-a"], &roles);
    assert!(d.cluster_role_bindings.is_empty());
    assert_eq!(d.role_bindings.len(), 1);
    assert_eq!(d.role_bindings[0].role_ref.name, "edit");
    let outcome = &d.groups["g1"];
    assert_eq!(
        reasons(&outcome.problems),
        vec!["RoleNotFound", "RoleNotBindable"]
    );
    assert!(outcome.problems[0].message.contains("ghost"));
    assert!(outcome.problems[1].message.contains("cluster-admin"));
    assert_eq!(outcome.bindings.len(), 1);
}

#[test]
fn roles_are_looked_up_in_the_binding_namespace() {
    let tenant = tenant(
        "acme",
        vec![in_namespaces(
            "devs",
            RoleKind::Role,
            "deployer",
            &["team-a", "team-b"],
        )],
    );
    let (_, users, groups) = basic();
    let asked = RefCell::new(Vec::new());
    let roles = |t: &RoleTarget| {
        asked.borrow_mut().push(t.clone());
        if t.namespace.as_deref() == Some("team-a") {
            RoleState::Bindable
        } else {
            RoleState::Missing
        }
    };
    let d = run_with(&tenant, &users, &groups, &["team-a", "team-b"], &roles);
    assert_eq!(
        asked.into_inner(),
        vec![
            RoleTarget {
                kind: RoleKind::Role,
                name: "deployer".to_string(),
                namespace: Some("team-a".to_string()),
            },
            RoleTarget {
                kind: RoleKind::Role,
                name: "deployer".to_string(),
                namespace: Some("team-b".to_string()),
            },
        ]
    );
    assert_eq!(d.role_bindings.len(), 1);
    assert_eq!(d.role_bindings[0].role_ref.kind, "Role");
    assert_eq!(
        d.role_bindings[0].metadata.namespace.as_deref(),
        Some("team-a")
    );
    assert_eq!(reasons(&d.groups["g1"].problems), vec!["RoleNotFound"]);
    assert!(d.groups["g1"].problems[0].message.contains("team-b"));
}

#[test]
fn invalid_mappings_produce_nothing_and_are_reported() {
    let mut role_cluster_wide = cluster_wide("devs", "deployer");
    role_cluster_wide.role.kind = RoleKind::Role;
    let mut both = cluster_wide("devs", "view");
    both.namespaces = vec!["team-a".to_string()];
    let tenant = tenant(
        "acme",
        vec![
            role_cluster_wide,
            in_namespaces("devs", RoleKind::ClusterRole, "edit", &[]),
            both,
            in_namespaces("devs", RoleKind::ClusterRole, "", &["team-a"]),
            in_namespaces("absent", RoleKind::ClusterRole, "edit", &[]),
        ],
    );
    let (_, users, groups) = basic();
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert!(d.role_bindings.is_empty());
    assert!(d.cluster_role_bindings.is_empty());
    assert_eq!(reasons(&d.groups["g1"].problems), vec!["InvalidMapping"; 4]);
    // Structural errors are also the tenant's, even for a group not (yet) pushed.
    assert_eq!(reasons(&d.problems), vec!["InvalidMapping"; 5]);
    assert!(d.problems[4].message.contains("absent"));
}

#[test]
fn mappings_for_absent_groups_produce_nothing_silently() {
    let tenant = tenant("acme", vec![cluster_wide("not-yet", "view")]);
    let (_, users, groups) = basic();
    let d = run(&tenant, &users, &groups, &[]);
    assert!(d.cluster_role_bindings.is_empty());
    assert!(d.problems.is_empty());
    assert!(d.groups["g1"].problems.is_empty());
}

#[test]
fn cluster_wide_mapping_gives_a_cluster_role_binding() {
    let tenant = tenant("acme", vec![cluster_wide("devs", "view")]);
    let (_, users, groups) = basic();
    let d = run(&tenant, &users, &groups, &[]);
    assert!(d.role_bindings.is_empty());
    let crb = &d.cluster_role_bindings[0];
    assert_eq!(crb.metadata.namespace, None);
    assert_eq!(crb.role_ref.kind, "ClusterRole");
    assert_eq!(crb.role_ref.name, "view");
    assert_eq!(crb.role_ref.api_group, "rbac.authorization.k8s.io");
    assert_eq!(
        d.groups["g1"].bindings,
        vec![ProducedBinding {
            kind: "ClusterRoleBinding".to_string(),
            namespace: None,
            name: crb.metadata.name.clone().unwrap(),
            role: "ClusterRole/view".to_string(),
        }]
    );
}

#[test]
fn groups_sharing_a_mapped_name_are_granted_nothing() {
    // Whoever can create groups at the identity provider must not gain a
    // mapping's roles by creating a second group of the mapped name.
    let (tenant, users, mut groups) = basic();
    groups.push(group("g0", "devs", vec![]));
    groups.push(group("g3", "Devs", vec![member("u1")]));
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert!(d.role_bindings.is_empty(), "{:?}", d.role_bindings);
    for id in ["g0", "g1", "g3"] {
        assert!(d.groups[id].bindings.is_empty());
        assert_eq!(reasons(&d.groups[id].problems), [reason::AMBIGUOUS_GROUP]);
    }
    assert_eq!(reasons(&d.problems), [reason::AMBIGUOUS_GROUP]);
    assert!(d.problems[0].message.contains("matches 3 groups"));
}

#[test]
fn names_match_ignoring_ascii_case_only() {
    // displayName is not case-exact (RFC 7643 §4.2): "Devs" matches "devs".
    let (tenant, users, _) = basic();
    let groups = vec![group("g3", "DEVS", vec![member("u1")])];
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(d.groups["g3"].bindings.len(), 1);
    // The Kelvin sign lowercases to "k" in Unicode; it is not a "k" here.
    let tenant = tenant_with("kube-admins");
    let kelvin = vec![group("g4", "\u{212A}ube-admins", vec![member("u1")])];
    let d = run(&tenant, &users, &kelvin, &["team-a"]);
    assert!(d.role_bindings.is_empty(), "{:?}", d.role_bindings);
    assert!(names_match("kube-admins", "KUBE-ADMINS"));
    assert!(!names_match("kube-admins", "\u{212A}ube-admins"));
    assert!(!names_match("straße", "STRASSE"));
}

#[test]
fn a_group_without_members_still_gets_its_binding() {
    let (tenant, users, _) = basic();
    let groups = vec![group("g0", "devs", vec![])];
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(d.role_bindings.len(), 1);
    // A binding without subjects is still produced.
    assert_eq!(d.role_bindings[0].subjects, Some(Vec::new()));
}

fn tenant_with(group_name: &str) -> ScimTenant {
    tenant(
        "acme",
        vec![in_namespaces(
            group_name,
            RoleKind::ClusterRole,
            "edit",
            &["team-a"],
        )],
    )
}

#[test]
fn subjects_are_sorted_and_deduplicated() {
    let (tenant, _, _) = basic();
    let users = vec![
        user("u1", "zed"),
        user("u2", "amy"),
        // Same claim value as u2: one subject.
        with_emails(user("u3", "amy2"), vec![email("amy", None, None)]),
    ];
    let groups = vec![group(
        "g1",
        "devs",
        vec![member("u1"), member("u2"), member("u3"), member("u1")],
    )];
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(
        names(&d.role_bindings[0].subjects),
        user_subjects(&["oidc:amy", "oidc:zed"])
    );
    for subject in d.role_bindings[0].subjects.iter().flatten() {
        assert_ne!(subject.kind, "ServiceAccount");
        assert_eq!(subject.namespace, None);
    }
}

#[test]
fn duplicate_mappings_produce_one_binding() {
    let mapping = in_namespaces("devs", RoleKind::ClusterRole, "edit", &["team-a", "team-a"]);
    let tenant = tenant("acme", vec![mapping.clone(), mapping]);
    let (_, users, groups) = basic();
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(d.role_bindings.len(), 1);
    assert_eq!(d.groups["g1"].bindings.len(), 1);
}

#[test]
fn bindings_are_sorted_by_namespace_and_name() {
    let tenant = tenant(
        "acme",
        vec![
            in_namespaces("devs", RoleKind::ClusterRole, "view", &["zz", "aa"]),
            in_namespaces("devs", RoleKind::ClusterRole, "edit", &["zz", "aa"]),
        ],
    );
    let (_, users, groups) = basic();
    let d = run(&tenant, &users, &groups, &["aa", "zz"]);
    let keys: Vec<_> = d
        .role_bindings
        .iter()
        .map(|b| (b.metadata.namespace.clone(), b.metadata.name.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 4);
    let produced = &d.groups["g1"].bindings;
    let mut sorted = produced.clone();
    sorted.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    assert_eq!(produced, &sorted);
}

#[test]
fn binding_names_are_deterministic_valid_and_distinct() {
    let long = "Engineering — Platform & Reliability (EMEA) / On-Call Rotation ".repeat(5);
    let name = |tenant: &str, group: &str, kind, role: &str, ns: Option<&str>| {
        binding_name(tenant, group, &long, kind, role, ns)
    };
    let base = name("acme", "g1", RoleKind::ClusterRole, "edit", Some("a"));
    assert_eq!(
        base,
        name("acme", "g1", RoleKind::ClusterRole, "edit", Some("a"))
    );
    let variants = [
        base.clone(),
        name("acme2", "g1", RoleKind::ClusterRole, "edit", Some("a")),
        name("acme", "g2", RoleKind::ClusterRole, "edit", Some("a")),
        name("acme", "g1", RoleKind::Role, "edit", Some("a")),
        name("acme", "g1", RoleKind::ClusterRole, "view", Some("a")),
        name("acme", "g1", RoleKind::ClusterRole, "edit", Some("b")),
        name("acme", "g1", RoleKind::ClusterRole, "edit", None),
    ];
    let distinct: BTreeSet<_> = variants.iter().collect();
    assert_eq!(distinct.len(), variants.len());
    for n in &variants {
        assert!(n.len() <= 253, "{n}");
        assert!(is_dns_subdomain(n), "{n}");
        assert!(n.starts_with("scimitar-engineering-platform-reliab"), "{n}");
    }
    assert_eq!(
        binding_name("t", "g", "Ops!!", RoleKind::ClusterRole, "edit", None).len(),
        "scimitar-ops-edit-".len() + 10
    );
    // Nothing sluggable in the display name: the name is still valid.
    let unicode = binding_name("t", "g", "日本語", RoleKind::Role, "--", Some("x"));
    assert!(is_dns_subdomain(&unicode), "{unicode}");
    assert_eq!(unicode.len(), "scimitar-".len() + 10);
}

#[test]
fn produced_objects_carry_labels_annotations_and_names() {
    let (tenant, users, groups) = basic();
    let d = run(&tenant, &users, &groups, &["team-a"]);
    let rb = &d.role_bindings[0];
    let labels = rb.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[MANAGED_BY], "scimitar");
    assert_eq!(labels[APP_NAME_LABEL], "scimitar");
    assert_eq!(labels[TENANT_LABEL], "acme");
    assert_eq!(labels[GROUP_LABEL], "g1");
    let annotations = rb.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations[GROUP_NAME_ANNOTATION], "devs");
    assert_eq!(annotations[ROLE_ANNOTATION], "ClusterRole/edit");
    assert_eq!(
        rb.metadata.name.as_deref(),
        Some(
            binding_name(
                "acme",
                "g1",
                "devs",
                RoleKind::ClusterRole,
                "edit",
                Some("team-a")
            )
            .as_str()
        )
    );
    assert_eq!(
        d.groups["g1"].bindings,
        vec![ProducedBinding {
            kind: "RoleBinding".to_string(),
            namespace: Some("team-a".to_string()),
            name: rb.metadata.name.clone().unwrap(),
            role: "ClusterRole/edit".to_string(),
        }]
    );
    let cm_labels = d.config_maps[0].metadata.labels.as_ref().unwrap();
    assert_eq!(cm_labels[TENANT_LABEL], "acme");
    assert_eq!(cm_labels[MANAGED_BY], "scimitar");
    assert_eq!(
        selector(&tenant),
        "app.kubernetes.io/managed-by=scimitar,scimitar.dev/tenant=acme"
    );
}

#[test]
fn long_tenant_and_group_names_get_hashed_label_values() {
    let long_tenant = format!("{}.example.com", "a".repeat(80));
    let long_group = "g".repeat(64);
    let tenant = tenant(
        &long_tenant,
        vec![in_namespaces(
            "devs",
            RoleKind::ClusterRole,
            "edit",
            &["team-a"],
        )],
    );
    let users = vec![user("u1", "jane")];
    let groups = vec![group(&long_group, "devs", vec![member("u1")])];
    let d = run(&tenant, &users, &groups, &["team-a"]);
    let labels = d.role_bindings[0].metadata.labels.as_ref().unwrap();
    let tenant_value = &labels[TENANT_LABEL];
    assert!(tenant_value.starts_with("h-") && tenant_value.len() == 22);
    assert!(is_valid_label_value(tenant_value));
    assert!(is_valid_label_value(&labels[GROUP_LABEL]));
    assert_ne!(labels[GROUP_LABEL], long_group);
    assert_eq!(
        selector(&tenant),
        format!("{MANAGED_BY}=scimitar,{TENANT_LABEL}={tenant_value}")
    );
    for cm in &d.config_maps {
        assert!(is_dns_subdomain(cm.metadata.name.as_deref().unwrap()));
        assert_eq!(
            &cm.metadata.labels.as_ref().unwrap()[TENANT_LABEL],
            tenant_value
        );
    }
    // Distinct long values hash differently; valid short values are kept.
    assert_ne!(label_value(&"b".repeat(64)), label_value(&"c".repeat(64)));
    assert_eq!(label_value("a.b_c-d"), "a.b_c-d");
    assert!(label_value("-x").starts_with("h-"));
    assert!(label_value("x y").starts_with("h-"));
}

#[test]
fn owner_reference_is_set_iff_the_tenant_has_a_uid() {
    let (tenant, users, groups) = basic();
    let without = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(without.role_bindings[0].metadata.owner_references, None);
    assert_eq!(without.config_maps[0].metadata.owner_references, None);

    let tenant = with_uid(tenant, "1234-uid");
    let mut tenant_cw = tenant.clone();
    tenant_cw.spec.mappings.push(cluster_wide("devs", "view"));
    let with = run(&tenant_cw, &users, &groups, &["team-a"]);
    let expected = vec![OwnerReference {
        api_version: "scimitar.dev/v1alpha1".to_string(),
        kind: "ScimTenant".to_string(),
        name: "acme".to_string(),
        uid: "1234-uid".to_string(),
        controller: Some(true),
        block_owner_deletion: None,
    }];
    assert_eq!(
        with.role_bindings[0].metadata.owner_references,
        Some(expected.clone())
    );
    assert_eq!(
        with.cluster_role_bindings[0].metadata.owner_references,
        Some(expected.clone())
    );
    for cm in &with.config_maps {
        assert_eq!(cm.metadata.owner_references, Some(expected.clone()));
    }
}

#[test]
fn user_outcome_reports_subject_and_sorted_group_names() {
    let (tenant, mut users, mut groups) = basic();
    users.push(user("u9", "loner"));
    groups.push(group("g2", "admins", vec![member("u1")]));
    groups.push(group("g3", "devs", vec![member("u1")]));
    groups.push(group("g4", "zeta", vec![group_member("g2")]));
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(
        d.users["u1"],
        UserOutcome {
            subject: Some("oidc:jane@example.com".to_string()),
            active: true,
            email: Some("jane@example.com".to_string()),
            groups: vec!["admins".to_string(), "devs".to_string()],
            problems: Vec::new(),
        }
    );
    assert_eq!(d.users["u9"].subject.as_deref(), Some("oidc:loner"));
    assert!(d.users["u9"].groups.is_empty());
    assert_eq!(d.users.len(), 3);
    assert_eq!(d.groups.len(), 4);
    assert_eq!(d.groups["g4"].member_count, 1);
}

#[test]
fn output_does_not_depend_on_input_order() {
    let tenant = tenant(
        "acme",
        vec![
            in_namespaces("devs", RoleKind::ClusterRole, "edit", &["b", "a"]),
            cluster_wide("ops", "view"),
        ],
    );
    let users = vec![user("u1", "jane"), user("u2", "amy"), user("u3", "bob")];
    let groups = vec![
        group("g1", "devs", vec![member("u3"), member("u1")]),
        group("g2", "ops", vec![member("u2"), member("u1")]),
    ];
    let forward = run(&tenant, &users, &groups, &["a", "b"]);
    let mut users_rev = users.clone();
    users_rev.reverse();
    let mut groups_rev = groups.clone();
    groups_rev.reverse();
    for g in &mut groups_rev {
        g.spec.members.reverse();
    }
    let backward = run(&tenant, &users_rev, &groups_rev, &["b", "a"]);
    assert_eq!(forward, backward);
}

#[test]
fn large_groups_are_split_across_bindings() {
    let (tenant, _, _) = basic();
    let count = SUBJECTS_PER_BINDING * 2 + 5;
    let users: Vec<ScimUser> = (0..count)
        .map(|i| user(&format!("u{i}"), &format!("user{i}")))
        .collect();
    let members = (0..count).map(|i| member(&format!("u{i}"))).collect();
    let groups = vec![group("g1", "devs", members)];
    let d = run(&tenant, &users, &groups, &["team-a"]);
    assert_eq!(d.role_bindings.len(), 3);
    let sizes: Vec<usize> = d
        .role_bindings
        .iter()
        .map(|b| b.subjects.as_ref().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), count);
    assert!(
        sizes.iter().all(|n| *n <= SUBJECTS_PER_BINDING),
        "{sizes:?}"
    );
    let first = d.groups["g1"].bindings[0].name.clone();
    let mut names: Vec<String> = d.groups["g1"]
        .bindings
        .iter()
        .map(|b| b.name.clone())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [first.clone(), part_name(&first, 1), part_name(&first, 2)]
    );
    // Every subject appears exactly once across the parts.
    let mut all: Vec<String> = d
        .role_bindings
        .iter()
        .flat_map(|b| b.subjects.iter().flatten().map(|s| s.name.clone()))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count);
}

mod scopes;
