use pretty_assertions::assert_eq;

use super::*;
use crate::controller::desired::{Inputs, RoleState, desired};
use crate::controller::testutil::*;
use crate::crd::{BindSubjects, RoleKind, ScimTenant};

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..PolicyRule::default()
    }
}

/// `view`: read pods; `edit`: also write them and read deployments.
fn roles() -> BTreeMap<String, Vec<PolicyRule>> {
    BTreeMap::from([
        (
            "view".to_owned(),
            vec![rule(&[""], &["pods"], &["get", "list"])],
        ),
        (
            "edit".to_owned(),
            vec![
                rule(&[""], &["pods"], &["get", "list", "delete"]),
                rule(&["apps"], &["deployments"], &["get"]),
            ],
        ),
    ])
}

fn run(tenant: &ScimTenant, users: &[ScimUser], groups: &[ScimGroup]) -> Desired {
    desired(&Inputs {
        tenant,
        users,
        groups,
        namespaces: &namespaces(&["dev", "prod"]),
        namespace_labels: &std::collections::BTreeMap::new(),
        roles: &|_| RoleState::Bindable,
        now: jiff::Timestamp::now(),
        directory_shards: None,
    })
}

fn directory() -> (Vec<ScimUser>, Vec<ScimGroup>) {
    let users = vec![user("u1", "ada"), user("u2", "bob")];
    let groups = vec![
        group("g1", "devs", vec![member("u1"), member("u2")]),
        group("g2", "ops", vec![member("u2")]),
    ];
    (users, groups)
}

fn verbs_of(grants: &[Grants], namespace: Option<&str>, resource: &str) -> Vec<String> {
    grants
        .iter()
        .filter(|g| g.namespace.as_deref() == namespace && g.resource == resource)
        .flat_map(|g| g.verbs.clone())
        .collect()
}

#[test]
fn a_new_mapping_creates_a_binding_and_grants_its_verbs() {
    let (users, groups) = directory();
    let before = tenant(
        "acme",
        vec![in_namespaces(
            "devs",
            RoleKind::ClusterRole,
            "view",
            &["dev"],
        )],
    );
    let after = tenant(
        "acme",
        vec![
            in_namespaces("devs", RoleKind::ClusterRole, "view", &["dev"]),
            in_namespaces("ops", RoleKind::ClusterRole, "edit", &["prod"]),
        ],
    );
    let existing = bindings_of(&run(&before, &users, &groups));
    let roles = roles();
    let rules = |r: &RoleName, _: Option<&str>| roles.get(&r.name).map(Vec::as_slice);
    let people = People::new(&after.spec.subjects, &users, &groups);
    let plan = diff(
        "acme",
        &existing,
        &run(&after, &users, &groups),
        &people,
        &people,
        &rules,
    );
    assert_eq!(plan.bindings.created.len(), 1);
    assert_eq!(plan.bindings.created[0].namespace.as_deref(), Some("prod"));
    assert_eq!(
        plan.bindings.created[0].role.to_string(),
        "ClusterRole/edit"
    );
    assert!(plan.bindings.changed.is_empty() && plan.bindings.deleted.is_empty());
    // Only bob is in ops.
    assert_eq!(plan.users.len(), 1);
    let bob = &plan.users[0];
    assert_eq!((bob.user_name.as_str(), bob.id.as_str()), ("bob", "u2"));
    assert_eq!(
        verbs_of(&bob.gained, Some("prod"), "pods"),
        ["delete", "get", "list"]
    );
    assert_eq!(verbs_of(&bob.gained, Some("prod"), "deployments"), ["get"]);
    assert!(bob.lost.is_empty());
    assert!(plan.problems.is_empty());
}

#[test]
fn a_removed_member_loses_only_what_no_other_binding_grants() {
    let (users, mut groups) = directory();
    let spec = tenant(
        "acme",
        vec![
            in_namespaces("devs", RoleKind::ClusterRole, "edit", &["dev"]),
            in_namespaces("ops", RoleKind::ClusterRole, "view", &["dev"]),
        ],
    );
    let existing = bindings_of(&run(&spec, &users, &groups));
    // bob leaves devs; ops still gives him view in dev.
    groups[0].spec.members = vec![member("u1")];
    let roles = roles();
    let rules = |r: &RoleName, _: Option<&str>| roles.get(&r.name).map(Vec::as_slice);
    let people_before = People::new(&spec.spec.subjects, &users, &directory().1);
    let people_after = People::new(&spec.spec.subjects, &users, &groups);
    let plan = diff(
        "acme",
        &existing,
        &run(&spec, &users, &groups),
        &people_before,
        &people_after,
        &rules,
    );
    assert_eq!(plan.bindings.changed.len(), 1);
    let changed = &plan.bindings.changed[0];
    assert_eq!(
        changed.subjects_removed,
        [Who {
            kind: "User".into(),
            name: "oidc:bob".into()
        }]
    );
    assert!(changed.subjects_added.is_empty());
    assert_eq!(plan.users.len(), 1);
    let bob = &plan.users[0];
    assert!(bob.gained.is_empty());
    assert_eq!(verbs_of(&bob.lost, Some("dev"), "pods"), ["delete"]);
    assert_eq!(verbs_of(&bob.lost, Some("dev"), "deployments"), ["get"]);
    let text = text(&plan);
    assert!(
        text.contains("0 to create, 1 to change, 0 to delete"),
        "{text}"
    );
    assert!(text.contains("      - User oidc:bob\n"), "{text}");
    assert!(text.contains("  bob (u2)\n    loses in dev: delete on pods\n    loses in dev: get on deployments.apps\n"), "{text}");
    assert!(!text.contains("gains"), "{text}");
}

#[test]
fn a_removed_mapping_deletes_its_binding_and_everyone_loses() {
    let (users, groups) = directory();
    let before = tenant("acme", vec![cluster_wide("devs", "view")]);
    let after = tenant("acme", vec![]);
    let existing = bindings_of(&run(&before, &users, &groups));
    let roles = roles();
    let rules = |r: &RoleName, _: Option<&str>| roles.get(&r.name).map(Vec::as_slice);
    let people = People::new(&after.spec.subjects, &users, &groups);
    let plan = diff(
        "acme",
        &existing,
        &run(&after, &users, &groups),
        &people,
        &people,
        &rules,
    );
    assert_eq!(plan.bindings.deleted.len(), 1);
    assert_eq!(plan.bindings.deleted[0].kind(), "ClusterRoleBinding");
    let names: Vec<&str> = plan.users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["ada", "bob"]);
    for user in &plan.users {
        assert_eq!(verbs_of(&user.lost, None, "pods"), ["get", "list"]);
    }
    let text = text(&plan);
    assert!(
        text.contains("0 to create, 0 to change, 1 to delete"),
        "{text}"
    );
    assert!(
        text.contains("loses cluster-wide: get, list on pods"),
        "{text}"
    );
}

#[test]
fn group_subjects_give_access_to_every_member() {
    let (users, groups) = directory();
    let mut after = tenant(
        "acme",
        vec![in_namespaces(
            "ops",
            RoleKind::ClusterRole,
            "view",
            &["dev"],
        )],
    );
    after.spec.subjects.bind = BindSubjects::Group;
    let roles = roles();
    let rules = |r: &RoleName, _: Option<&str>| roles.get(&r.name).map(Vec::as_slice);
    let people = People::new(&after.spec.subjects, &users, &groups);
    let desired = run(&after, &users, &groups);
    assert_eq!(
        bindings_of(&desired)[0].subjects,
        [Who {
            kind: "Group".into(),
            name: "oidc:ops".into()
        }]
    );
    let plan = diff("acme", &[], &desired, &people, &people, &rules);
    let names: Vec<&str> = plan.users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["bob"]);
}

#[test]
fn a_missing_role_grants_nothing_and_problems_are_listed() {
    let (users, groups) = directory();
    let after = tenant(
        "acme",
        vec![in_namespaces(
            "devs",
            RoleKind::ClusterRole,
            "view",
            &["dev", "gone"],
        )],
    );
    let desired = run(&after, &users, &groups);
    let people = People::new(&after.spec.subjects, &users, &groups);
    let plan = diff("acme", &[], &desired, &people, &people, &|_, _| None);
    assert_eq!(plan.bindings.created.len(), 1);
    assert!(plan.users.is_empty(), "no rules, no grants");
    assert_eq!(plan.problems.len(), 1);
    assert!(
        plan.problems[0].starts_with("NamespaceMissing: "),
        "{:?}",
        plan.problems
    );
}

#[test]
fn rules_expand_names_and_urls_where_rbac_applies_them() {
    let mut named = rule(&[""], &["configmaps"], &["get"]);
    named.resource_names = Some(vec!["a".into(), "b".into()]);
    let url = PolicyRule {
        non_resource_urls: Some(vec!["/healthz".into()]),
        verbs: vec!["get".into()],
        ..PolicyRule::default()
    };
    let mut out = BTreeSet::new();
    expand(&named, Some("dev"), &mut out);
    expand(&url, Some("dev"), &mut out);
    assert_eq!(out.len(), 2, "URLs only count cluster-wide: {out:?}");
    expand(&url, None, &mut out);
    assert_eq!(out.len(), 3);
    let grouped = grouped(out);
    assert_eq!(
        summary(&grouped),
        [
            "cluster-wide: get on /healthz",
            "in dev: get on configmaps (a), configmaps (b)"
        ]
    );
}

#[test]
fn the_json_form_is_stable() {
    let (users, groups) = directory();
    let after = tenant(
        "acme",
        vec![in_namespaces(
            "ops",
            RoleKind::ClusterRole,
            "view",
            &["dev"],
        )],
    );
    let roles = roles();
    let rules = |r: &RoleName, _: Option<&str>| roles.get(&r.name).map(Vec::as_slice);
    let people = People::new(&after.spec.subjects, &users, &groups);
    let plan = diff(
        "acme",
        &[],
        &run(&after, &users, &groups),
        &people,
        &people,
        &rules,
    );
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["tenant"], "acme");
    assert_eq!(json["bindings"]["created"][0]["namespace"], "dev");
    assert_eq!(json["bindings"]["created"][0]["role"]["name"], "view");
    assert_eq!(json["users"][0]["userName"], "bob");
    assert_eq!(
        json["users"][0]["gained"][0],
        serde_json::json!({"namespace": "dev", "apiGroup": "", "resource": "pods", "verbs": ["get", "list"]})
    );
}
