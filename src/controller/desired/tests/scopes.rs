//! Group patterns, derived namespaces and their guard, namespace selectors
//! and time windows.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};

use pretty_assertions::assert_eq;

use super::*;

type Labelled<'a> = &'a [(&'a str, &'a [(&'a str, &'a str)])];

/// `desired` with namespaces that carry labels, at `now`.
fn at(
    tenant: &ScimTenant,
    users: &[ScimUser],
    groups: &[ScimGroup],
    existing: Labelled,
    now: &str,
) -> Desired {
    let namespaces = existing.iter().map(|(n, _)| n.to_string()).collect();
    let labels: BTreeMap<String, mapping::Labels> = existing
        .iter()
        .map(|(n, l)| {
            let l = l.iter().map(|(k, v)| (k.to_string(), v.to_string()));
            (n.to_string(), l.collect())
        })
        .collect();
    desired(&Inputs {
        tenant,
        users,
        groups,
        namespaces: &namespaces,
        namespace_labels: &labels,
        roles: &|_| RoleState::Bindable,
        now: now.parse().expect("time"),
        directory_shards: None,
    })
}

const NOON: &str = "2026-12-01T12:00:00Z";

fn pattern(pattern: &str, template: &str) -> RoleMapping {
    RoleMapping {
        group_pattern: Some(pattern.into()),
        namespace_from_group: Some(template.into()),
        ..in_namespaces("", RoleKind::ClusterRole, "edit", &[])
    }
}

fn people() -> Vec<ScimUser> {
    vec![user("u1", "ann"), user("u2", "bob"), user("u3", "cy")]
}

/// A RoleBinding as (namespace, role, subjects).
type Bound = (String, String, Vec<(String, String)>);

fn bound(d: &Desired) -> Vec<Bound> {
    d.role_bindings
        .iter()
        .map(|b| {
            (
                b.metadata.namespace.clone().unwrap_or_default(),
                b.role_ref.name.clone(),
                names(&b.subjects),
            )
        })
        .collect()
}

fn teams(allowed: &[&str]) -> ScimTenant {
    let mut tenant = tenant("acme", vec![pattern("team-*", "{match}")]);
    tenant.spec.derived_namespaces.allowed = allowed.iter().map(|n| n.to_string()).collect();
    tenant
}

#[test]
fn each_group_a_pattern_matches_gets_the_namespace_its_name_derives() {
    let tenant = teams(&["payments", "search"]);
    let groups = vec![
        group("g1", "team-payments", vec![member("u1")]),
        group("g2", "Team-Search", vec![member("u2")]),
        group("g3", "ops", vec![member("u3")]),
    ];
    let d = at(
        &tenant,
        &people(),
        &groups,
        &[("payments", &[]), ("search", &[])],
        NOON,
    );
    assert_eq!(
        bound(&d),
        vec![
            (
                "payments".into(),
                "edit".into(),
                user_subjects(&["oidc:ann"])
            ),
            ("search".into(), "edit".into(), user_subjects(&["oidc:bob"])),
        ]
    );
    assert!(d.groups["g3"].bindings.is_empty());
    assert!(d.problems.is_empty(), "{:?}", d.problems);
}

#[test]
fn a_derived_namespace_outside_the_allowed_set_is_refused_with_a_problem() {
    let tenant = teams(&["payments"]);
    let groups = vec![
        group("g1", "team-kube-system", vec![member("u1")]),
        group("g2", "team-search", vec![member("u2")]),
        group("g3", "team-Not_A_Name", vec![member("u3")]),
    ];
    let existing: Labelled = &[("kube-system", &[]), ("search", &[]), ("payments", &[])];
    let d = at(&tenant, &people(), &groups, existing, NOON);
    assert!(d.role_bindings.is_empty());
    assert_eq!(
        reasons(&d.groups["g1"].problems),
        vec![reason::NAMESPACE_NOT_ALLOWED]
    );
    assert!(d.groups["g1"].problems[0].message.contains("kube-"));
    assert_eq!(
        reasons(&d.groups["g2"].problems),
        vec![reason::NAMESPACE_NOT_ALLOWED]
    );
    assert_eq!(
        reasons(&d.groups["g3"].problems),
        vec![reason::INVALID_NAMESPACE]
    );
    // kube-system stays refused even when the tenant lists it.
    let d = at(&teams(&["kube-system"]), &people(), &groups, existing, NOON);
    assert!(d.role_bindings.is_empty());
}

#[test]
fn an_empty_allowed_set_allows_no_derived_namespace() {
    let groups = vec![group("g1", "team-payments", vec![member("u1")])];
    let d = at(&teams(&[]), &people(), &groups, &[("payments", &[])], NOON);
    assert!(d.role_bindings.is_empty());
    assert_eq!(
        reasons(&d.groups["g1"].problems),
        vec![reason::NAMESPACE_NOT_ALLOWED]
    );
}

#[test]
fn the_allowed_selector_reads_labels_the_cluster_admin_set_not_those_scimitar_set() {
    let mut tenant = teams(&[]);
    tenant.spec.derived_namespaces.allowed_selector = Some(LabelSelector {
        match_labels: Some(BTreeMap::from([("teams".into(), "yes".into())])),
        ..LabelSelector::default()
    });
    let groups = vec![
        group("g1", "team-payments", vec![member("u1")]),
        group("g2", "team-search", vec![member("u2")]),
    ];
    let existing: Labelled = &[
        ("payments", &[("teams", "yes")]),
        // Created by scimitar: its own labels do not count, even if the
        // selector names them.
        (
            "search",
            &[
                (meta::CREATED_FOR_LABEL, "acme"),
                (meta::TENANT_LABEL, "yes"),
            ],
        ),
    ];
    tenant.spec.derived_namespaces.allowed_selector = Some(LabelSelector {
        match_expressions: Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "teams".into(),
                operator: "Exists".into(),
                values: None,
            },
        ]),
        ..LabelSelector::default()
    });
    let search = [("teams", "x"), (meta::CREATED_FOR_LABEL, "acme")];
    let d = at(&tenant, &people(), &groups, existing, NOON);
    assert_eq!(bound(&d).len(), 1);
    assert_eq!(bound(&d)[0].0, "payments");
    assert_eq!(
        reasons(&d.groups["g2"].problems),
        vec![reason::NAMESPACE_NOT_ALLOWED]
    );
    // A cluster admin (only they may label namespaces) labelled it: allowed.
    let existing: Labelled = &[("payments", &[("teams", "yes")]), ("search", &search)];
    let d = at(&tenant, &people(), &groups, existing, NOON);
    assert_eq!(bound(&d).len(), 2);
}

#[test]
fn groups_alike_but_for_case_derive_one_namespace_and_neither_is_granted() {
    let tenant = teams(&["payments"]);
    let groups = vec![
        group("g1", "team-payments", vec![member("u1")]),
        group("g2", "TEAM-PAYMENTS", vec![member("u2")]),
    ];
    let d = at(&tenant, &people(), &groups, &[("payments", &[])], NOON);
    assert!(d.role_bindings.is_empty());
    assert_eq!(
        reasons(&d.groups["g1"].problems),
        vec![reason::AMBIGUOUS_GROUP]
    );
    assert_eq!(
        reasons(&d.groups["g2"].problems),
        vec![reason::AMBIGUOUS_GROUP]
    );
}

#[test]
fn a_missing_derived_namespace_is_created_only_from_the_creation_allowlist() {
    let mut tenant = teams(&["payments", "search"]);
    let groups = vec![
        group("g1", "team-payments", vec![member("u1")]),
        group("g2", "team-search", vec![member("u2")]),
        group("g3", "team-ads", vec![member("u3")]),
    ];
    let d = at(&tenant, &people(), &groups, &[], NOON);
    assert!(
        d.namespaces_to_create.is_empty(),
        "creation is off by default"
    );
    assert_eq!(
        reasons(&d.groups["g1"].problems),
        vec![reason::NAMESPACE_MISSING]
    );
    tenant.spec.derived_namespaces.create.enabled = true;
    tenant.spec.derived_namespaces.create.names = vec!["payments".into(), "ads".into()];
    let d = at(&tenant, &people(), &groups, &[], NOON);
    // `ads` may be created but is not allowed: created, never bound.
    assert_eq!(
        d.namespaces_to_create.iter().collect::<Vec<_>>(),
        vec!["ads", "payments"]
    );
    assert!(d.role_bindings.is_empty(), "bound once it exists");
    assert_eq!(
        reasons(&d.groups["g3"].problems),
        vec![reason::NAMESPACE_NOT_ALLOWED]
    );
    let d = at(
        &tenant,
        &people(),
        &groups,
        &[("payments", &[]), ("ads", &[])],
        NOON,
    );
    assert_eq!(bound(&d).len(), 1);
    assert!(d.namespaces_to_create.is_empty());
}

#[test]
fn a_namespace_selector_binds_in_every_namespace_it_selects() {
    let mapping = RoleMapping {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([("env".into(), "dev".into())])),
            ..LabelSelector::default()
        }),
        ..in_namespaces("devs", RoleKind::ClusterRole, "edit", &["listed"])
    };
    let tenant = tenant("acme", vec![mapping]);
    let groups = vec![group("g1", "devs", vec![member("u1")])];
    let existing: Labelled = &[
        ("a", &[("env", "dev")]),
        ("b", &[("env", "prod")]),
        ("c", &[]),
        ("listed", &[]),
    ];
    let d = at(&tenant, &people(), &groups, existing, NOON);
    let namespaces: Vec<String> = bound(&d).into_iter().map(|b| b.0).collect();
    assert_eq!(namespaces, vec!["a", "listed"]);
}

fn time(s: &str) -> Option<Time> {
    Some(Time(s.parse().expect("time")))
}

#[test]
fn a_mapping_grants_only_inside_its_window_and_its_bindings_carry_the_end() {
    let mut mapping = in_namespaces("devs", RoleKind::ClusterRole, "edit", &["a"]);
    mapping.not_before = time("2026-12-01T10:00:00Z");
    mapping.not_after = time("2026-12-01T14:00:00.250Z");
    let tenant = tenant("acme", vec![mapping]);
    let groups = vec![group("g1", "devs", vec![member("u1")])];
    let existing: Labelled = &[("a", &[])];
    let before = at(
        &tenant,
        &people(),
        &groups,
        existing,
        "2026-12-01T09:59:59Z",
    );
    assert!(before.role_bindings.is_empty());
    assert!(
        before.groups["g1"].problems.is_empty(),
        "a closed window is no problem"
    );
    let inside = at(&tenant, &people(), &groups, existing, NOON);
    assert_eq!(inside.role_bindings.len(), 1);
    let labels = inside.role_bindings[0].metadata.labels.as_ref().unwrap();
    let end: jiff::Timestamp = "2026-12-01T14:00:01Z".parse().unwrap();
    assert_eq!(
        labels[meta::NOT_AFTER_LABEL],
        end.as_second().to_string(),
        "rounded up"
    );
    let after = at(
        &tenant,
        &people(),
        &groups,
        existing,
        "2026-12-01T14:00:00.250Z",
    );
    assert!(after.role_bindings.is_empty());
    let schedule = Plan::new(&tenant).schedule(NOON.parse().unwrap());
    assert_eq!(schedule.len(), 1);
    assert_eq!(schedule[0].state, "Active");
}

#[test]
fn a_binding_two_mappings_make_grants_as_long_as_either_does() {
    let mut short = in_namespaces("devs", RoleKind::ClusterRole, "edit", &["a"]);
    short.not_after = time("2026-12-01T13:00:00Z");
    let forever = in_namespaces("devs", RoleKind::ClusterRole, "edit", &["a"]);
    let groups = vec![group("g1", "devs", vec![member("u1")])];
    let existing: Labelled = &[("a", &[])];
    let d = at(
        &tenant("acme", vec![short.clone(), forever]),
        &people(),
        &groups,
        existing,
        NOON,
    );
    assert_eq!(d.role_bindings.len(), 1);
    let labels = d.role_bindings[0].metadata.labels.as_ref().unwrap();
    assert!(!labels.contains_key(meta::NOT_AFTER_LABEL));
    let mut later = short.clone();
    later.not_after = time("2026-12-01T15:00:00Z");
    let d = at(
        &tenant("acme", vec![short, later]),
        &people(),
        &groups,
        existing,
        NOON,
    );
    let labels = d.role_bindings[0].metadata.labels.as_ref().unwrap();
    let end: jiff::Timestamp = "2026-12-01T15:00:00Z".parse().unwrap();
    assert_eq!(labels[meta::NOT_AFTER_LABEL], end.as_second().to_string());
}

#[test]
fn malformed_scopes_are_invalid_mappings_and_grant_nothing() {
    let selector = |labels: Option<BTreeMap<String, String>>| LabelSelector {
        match_labels: labels,
        ..LabelSelector::default()
    };
    let env = Some(BTreeMap::from([("env".into(), "dev".into())]));
    let bad = [
        RoleMapping {
            group_pattern: Some("devs*".into()),
            ..in_namespaces("devs", RoleKind::ClusterRole, "edit", &["a"])
        },
        RoleMapping {
            namespace_from_group: Some("{match}".into()),
            ..in_namespaces("devs", RoleKind::ClusterRole, "edit", &[])
        },
        pattern("dev*s*", "{match}"),
        pattern("devs*", "no-placeholder"),
        RoleMapping {
            namespace_selector: Some(selector(env.clone())),
            ..in_namespaces("devs", RoleKind::Role, "deployer", &[])
        },
        RoleMapping {
            namespace_selector: Some(selector(None)),
            ..in_namespaces("devs", RoleKind::ClusterRole, "edit", &[])
        },
        RoleMapping {
            namespace_selector: Some(selector(env)),
            ..cluster_wide("devs", "view")
        },
        RoleMapping {
            not_before: time("2026-12-01T10:00:00Z"),
            not_after: time("2026-12-01T10:00:00Z"),
            ..in_namespaces("devs", RoleKind::ClusterRole, "edit", &["a"])
        },
    ];
    let groups = vec![group("g1", "devs", vec![member("u1")])];
    let existing: Labelled = &[("a", &[("env", "dev")]), ("s", &[])];
    for mapping in bad {
        let d = at(
            &tenant("acme", vec![mapping.clone()]),
            &people(),
            &groups,
            existing,
            NOON,
        );
        assert!(d.role_bindings.is_empty(), "{mapping:?}");
        assert!(d.cluster_role_bindings.is_empty(), "{mapping:?}");
        assert_eq!(
            reasons(&d.problems),
            vec![reason::INVALID_MAPPING],
            "{mapping:?}"
        );
    }
}

#[test]
fn a_change_to_a_namespace_names_the_groups_whose_mappings_reach_it() {
    let mut selected = in_namespaces("ops", RoleKind::ClusterRole, "view", &[]);
    selected.namespace_selector = Some(LabelSelector {
        match_labels: Some(BTreeMap::from([("env".into(), "dev".into())])),
        ..LabelSelector::default()
    });
    let tenant = tenant(
        "acme",
        vec![
            pattern("team-*", "ns-{match}"),
            selected,
            in_namespaces("devs", RoleKind::ClusterRole, "edit", &["a"]),
        ],
    );
    let plan = Plan::new(&tenant);
    let affected = |name: &str| plan.mappings_naming(name).collect::<Vec<_>>();
    assert_eq!(
        affected("ns-payments"),
        vec![
            Affected::Named("team-payments".into()),
            Affected::Named("ops".into())
        ]
    );
    assert_eq!(
        affected("a"),
        vec![
            Affected::Named("ops".into()),
            Affected::Named("devs".into())
        ]
    );
    assert!(plan.pattern_matches(0, "TEAM-x"));
    assert!(!plan.pattern_matches(1, "ops"));
}
