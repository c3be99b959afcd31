//! The walks of [`super`] on small graphs: groups `g*` listing users `u*`
//! (user-typed) and groups (by id).

use std::collections::{BTreeMap, BTreeSet};

use super::*;

type Graph = BTreeMap<&'static str, Vec<&'static str>>;

fn graph(edges: &[(&'static str, &[&'static str])]) -> Graph {
    edges.iter().map(|(g, m)| (*g, m.to_vec())).collect()
}

fn run(graph: &Graph, root: &'static str, depth: usize) -> Expansion<'static> {
    expand(root, depth, |g| {
        graph
            .get(g)
            .map(|m| m.iter().map(|id| (*id, id.starts_with('u'))))
    })
}

fn users(e: &Expansion<'static>) -> Vec<&'static str> {
    e.users.keys().copied().collect()
}

fn parents_of(graph: &Graph) -> impl Fn(&'static str) -> Vec<&'static str> + '_ {
    |id| {
        graph
            .iter()
            .filter(|(_, m)| m.contains(&id))
            .map(|(g, _)| *g)
            .collect()
    }
}

#[test]
fn effective_members_are_transitive_and_remember_the_group_they_come_through() {
    let g = graph(&[
        ("g-eng", &["u-cy", "g-pay"]),
        ("g-pay", &["u-alice", "g-core"]),
        ("g-core", &["u-bob", "u-cy"]),
    ]);
    let e = run(&g, "g-eng", 8);
    assert_eq!(users(&e), ["u-alice", "u-bob", "u-cy"]);
    assert_eq!(e.users["u-alice"], "g-pay");
    assert_eq!(e.users["u-bob"], "g-core");
    // A direct member counts as direct even when a member group lists it too.
    assert_eq!(e.users["u-cy"], "g-eng");
    assert_eq!(e.groups, BTreeMap::from([("g-core", 2), ("g-pay", 1)]));
    assert!(!e.cycle && e.too_deep.is_empty());
}

#[test]
fn off_reads_only_the_group_itself() {
    let g = graph(&[("g-eng", &["u-cy", "g-pay"]), ("g-pay", &["u-alice"])]);
    let e = run(&g, "g-eng", 0);
    assert_eq!(users(&e), ["u-cy"]);
    assert!(e.groups.is_empty() && !e.cycle && e.too_deep.is_empty());
}

#[test]
fn members_below_max_depth_are_not_granted_and_reported() {
    // g0 → g1 → g2 → g3, each with one user.
    let g = graph(&[
        ("g0", &["u0", "g1"]),
        ("g1", &["u1", "g2"]),
        ("g2", &["u2", "g3"]),
        ("g3", &["u3"]),
    ]);
    let e = run(&g, "g0", 2);
    assert_eq!(users(&e), ["u0", "u1", "u2"]);
    assert_eq!(e.too_deep, BTreeSet::from(["g3"]));
    let problems = problems("g0", "zero", &e, 2, |_| Some("three"));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].reason, reason::NESTING_TOO_DEEP);
    assert!(
        problems[0].message.contains("\"three\" (id g3)") && problems[0].message.contains("(2)"),
        "{}",
        problems[0].message
    );
    // A group also reached at a shallower level is not too deep.
    let g = graph(&[
        ("g0", &["g1", "g3"]),
        ("g1", &["g2"]),
        ("g2", &["g3"]),
        ("g3", &["u3"]),
    ]);
    let e = run(&g, "g0", 2);
    assert_eq!(users(&e), ["u3"]);
    assert!(e.too_deep.is_empty());
}

#[test]
fn a_cycle_is_expanded_once_and_reported_on_its_groups_only() {
    let g = graph(&[
        ("g-a", &["u-a", "g-b"]),
        ("g-b", &["u-b", "g-a"]),
        ("g-out", &["g-a"]),
    ]);
    for root in ["g-a", "g-b"] {
        let e = run(&g, root, 8);
        assert_eq!(users(&e), ["u-a", "u-b"], "{root}");
        assert!(e.cycle, "{root}");
        let problems = problems(root, "x", &e, 8, |_| None);
        assert_eq!(problems[0].reason, reason::GROUP_CYCLE);
    }
    // A group containing the cycle is not in it.
    let e = run(&g, "g-out", 8);
    assert_eq!(users(&e), ["u-a", "u-b"]);
    assert!(!e.cycle);
    // A group listing itself.
    let g = graph(&[("g-self", &["u-a", "g-self"])]);
    let e = run(&g, "g-self", 1);
    assert!(e.cycle && e.too_deep.is_empty());
    assert_eq!(users(&e), ["u-a"]);
}

#[test]
fn an_id_naming_no_group_of_the_tenant_is_never_expanded() {
    // "g-other" is not in the graph: another tenant's group, or none.
    let g = graph(&[("g-eng", &["u-cy", "g-other"])]);
    let e = run(&g, "g-eng", 8);
    assert_eq!(users(&e), ["u-cy"]);
    assert!(e.groups.is_empty() && e.too_deep.is_empty());
}

#[test]
fn a_wide_and_deep_tenant_costs_the_depth_not_the_paths() {
    // 30 levels of 2 groups each listing both groups of the next level:
    // 2^30 paths, 60 groups.
    let names: Vec<&'static str> = (0..62)
        .map(|n| &*Box::leak(format!("g{n}").into_boxed_str()))
        .collect();
    let mut edges: Graph = BTreeMap::new();
    for level in 0..30 {
        let next = vec![names[2 * level + 2], names[2 * level + 3], "u-x"];
        edges.insert(names[2 * level], next.clone());
        edges.insert(names[2 * level + 1], next);
    }
    let calls = std::cell::Cell::new(0usize);
    let e = expand(names[0], 32, |g| {
        calls.set(calls.get() + 1);
        edges
            .get(g)
            .map(|m| m.iter().map(|id| (*id, id.starts_with('u'))))
    });
    // g2 to g59 (g60 and g61 are listed but no groups).
    assert_eq!(e.groups.len(), 58);
    assert!(calls.get() < 1000, "{}", calls.get());
}

#[test]
fn a_users_groups_are_its_direct_groups_and_their_ancestors_within_the_depth() {
    let g = graph(&[
        ("g-eng", &["g-pay"]),
        ("g-pay", &["u-alice", "g-core"]),
        ("g-core", &["u-alice"]),
        ("g-all", &["g-eng"]),
    ]);
    let is_group = |id: &str| g.contains_key(id);
    let parents = parents_of(&g);
    let groups = ancestors(parents("u-alice"), 1, &parents, is_group);
    assert_eq!(
        groups,
        [("g-core", "g-core"), ("g-pay", "g-pay"), ("g-eng", "g-pay")]
    );
    let groups: BTreeSet<_> = ancestors(parents("u-alice"), 8, &parents, is_group)
        .into_iter()
        .map(|(g, _)| g)
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from(["g-all", "g-core", "g-eng", "g-pay"])
    );
    // Off: direct groups only.
    let groups = ancestors(parents("u-alice"), 0, &parents, is_group);
    assert_eq!(groups, [("g-core", "g-core"), ("g-pay", "g-pay")]);
}

#[test]
fn upward_and_downward_walks_agree() {
    // Every (group, user) pair: the user is an effective member of the
    // group exactly when the group is among the user's groups.
    let g = graph(&[
        ("g1", &["u1", "g2", "g3"]),
        ("g2", &["u2", "g1"]),
        ("g3", &["g4"]),
        ("g4", &["u3", "g5"]),
        ("g5", &["u4"]),
    ]);
    let is_group = |id: &str| g.contains_key(id);
    let parents = parents_of(&g);
    for depth in 0..5 {
        for user in ["u1", "u2", "u3", "u4"] {
            let up: BTreeSet<&str> = ancestors(parents(user), depth, &parents, is_group)
                .into_iter()
                .map(|(g, _)| g)
                .collect();
            let down: BTreeSet<&str> = g
                .keys()
                .copied()
                .filter(|root| run(&g, root, depth).users.contains_key(user))
                .collect();
            assert_eq!(up, down, "{user} at depth {depth}");
        }
    }
}

#[test]
fn a_change_is_read_by_the_groups_containing_it_within_the_depth() {
    let g = graph(&[
        ("g0", &["g1"]),
        ("g1", &["g2"]),
        ("g2", &["g3"]),
        ("g3", &["u3"]),
        ("g-x", &["u-x"]),
    ]);
    let parents = parents_of(&g);
    assert_eq!(containing("u3", 0, &parents), BTreeSet::from(["g3"]));
    assert_eq!(
        containing("u3", 1, &parents),
        BTreeSet::from(["g1", "g2", "g3"])
    );
    // Every group whose expansion reads g3 (members at depth 2 from g1,
    // existence at depth 3 from g0).
    assert_eq!(
        containing("g3", 2, &parents),
        BTreeSet::from(["g0", "g1", "g2"])
    );
    let members = |id: &'static str| g.get(id).map(|m| m.iter().copied());
    assert_eq!(below("g1", 1, members), BTreeSet::from(["g2", "g3"]));
    assert_eq!(below("g1", 8, members), BTreeSet::from(["g2", "g3", "u3"]));
}

#[test]
fn a_too_deep_problem_names_a_bounded_number_of_groups() {
    let wide: Vec<&'static str> = (0..40)
        .map(|n| &*Box::leak(format!("g-{n:02}").into_boxed_str()))
        .collect();
    let mut g: Graph = wide.iter().map(|w| (*w, vec!["u-x"])).collect();
    g.insert("g-mid", wide.clone());
    g.insert("g-top", vec!["g-mid"]);
    let e = run(&g, "g-top", 1);
    assert_eq!(e.too_deep.len(), 40);
    let problems = problems("g-top", "top", &e, 1, |_| Some("a long name"));
    assert!(
        problems[0].message.ends_with("35 more"),
        "{}",
        problems[0].message
    );
    assert!(problems[0].message.len() < 400);
}

// Through the oracle, with the tenant's setting.

mod through_desired {
    use std::collections::BTreeSet;

    use crate::controller::desired::{Desired, Inputs, RoleState, desired};
    use crate::controller::testutil::*;
    use crate::crd::{NestedGroups, RoleKind, ScimGroup, ScimTenant, ScimUser};

    fn tenant_with(nesting: Option<u32>) -> ScimTenant {
        let mut tenant = tenant(
            "acme",
            vec![in_namespaces(
                "eng",
                RoleKind::ClusterRole,
                "edit",
                &["team-a"],
            )],
        );
        if let Some(max_depth) = nesting {
            tenant.spec.nested_groups = NestedGroups {
                enabled: true,
                max_depth,
            };
        }
        tenant
    }

    fn run(tenant: &ScimTenant, users: &[ScimUser], groups: &[ScimGroup]) -> Desired {
        desired(&Inputs {
            tenant,
            users,
            groups,
            namespaces: &namespaces(&["team-a"]),
            namespace_labels: &std::collections::BTreeMap::new(),
            roles: &|_| RoleState::Bindable,
            now: jiff::Timestamp::UNIX_EPOCH,
            directory_shards: None,
        })
    }

    fn subjects(d: &Desired) -> Vec<String> {
        d.role_bindings
            .iter()
            .flat_map(|b| b.subjects.iter().flatten())
            .map(|s| s.name.clone())
            .collect()
    }

    fn reasons(d: &Desired, group: &str) -> Vec<&'static str> {
        d.groups[group].problems.iter().map(|p| p.reason).collect()
    }

    /// eng lists cy and the group payments-team, which lists alice and bob.
    fn world() -> (Vec<ScimUser>, Vec<ScimGroup>) {
        let users = vec![
            user("u-alice", "alice"),
            user("u-bob", "bob"),
            user("u-cy", "cy"),
        ];
        let groups = vec![
            group("g-eng", "eng", vec![member("u-cy"), group_member("g-pay")]),
            group(
                "g-pay",
                "payments-team",
                vec![member("u-alice"), member("u-bob")],
            ),
        ];
        (users, groups)
    }

    #[test]
    fn a_member_groups_users_get_the_outer_groups_roles_when_nesting_is_on() {
        let (users, groups) = world();
        let off = run(&tenant_with(None), &users, &groups);
        assert_eq!(subjects(&off), ["oidc:cy"]);
        assert_eq!(off.groups["g-eng"].effective_member_count, None);
        assert_eq!(off.users["u-alice"].groups, ["payments-team"]);

        let on = run(&tenant_with(Some(8)), &users, &groups);
        assert_eq!(subjects(&on), ["oidc:alice", "oidc:bob", "oidc:cy"]);
        assert_eq!(on.groups["g-eng"].member_count, 2);
        assert_eq!(on.groups["g-eng"].effective_member_count, Some(3));
        assert!(on.groups["g-eng"].problems.is_empty());
        assert_eq!(on.users["u-alice"].groups, ["eng", "payments-team"]);
        assert_eq!(on.users["u-cy"].groups, ["eng"]);
        let directory = on.config_maps[0].data.as_ref().expect("data");
        assert_eq!(
            directory["group.g-eng"],
            r#"{"id":"g-eng","displayName":"eng","members":["alice","bob","cy"]}"#
        );
        assert!(
            directory["user.u-alice"].contains(r#""groups":["eng","payments-team"]"#),
            "{}",
            directory["user.u-alice"]
        );
    }

    #[test]
    fn a_member_groups_deactivated_user_loses_access_like_a_direct_member() {
        let (mut users, groups) = world();
        users[0] = inactive(users[0].clone());
        let d = run(&tenant_with(Some(8)), &users, &groups);
        assert_eq!(subjects(&d), ["oidc:bob", "oidc:cy"]);
        let directory = d.config_maps[0].data.as_ref().expect("data");
        assert!(!directory["group.g-eng"].contains("alice"));
        assert!(!directory.contains_key("user.u-alice"));
    }

    #[test]
    fn a_cycle_is_reported_on_its_groups_and_grants_only_their_members() {
        let (users, mut groups) = world();
        groups[1].spec.members.push(group_member("g-eng"));
        groups.push(group("g-other", "other", vec![member("u-other")]));
        let d = run(&tenant_with(Some(8)), &users, &groups);
        assert_eq!(subjects(&d), ["oidc:alice", "oidc:bob", "oidc:cy"]);
        assert_eq!(reasons(&d, "g-eng"), ["GroupCycle"]);
        assert_eq!(reasons(&d, "g-pay"), ["GroupCycle"]);
        assert!(reasons(&d, "g-other").is_empty());
        assert!(
            d.problems.iter().any(|p| p.reason == "GroupCycle"
                && p.message.contains("\"eng\"")
                && p.message.contains("\"payments-team\"")),
            "{:?}",
            d.problems
        );
    }

    #[test]
    fn members_deeper_than_max_depth_are_not_granted() {
        let (mut users, mut groups) = world();
        users.push(user("u-dee", "dee"));
        groups[1].spec.members.push(group_member("g-core"));
        groups.push(group("g-core", "core", vec![member("u-dee")]));
        let d = run(&tenant_with(Some(1)), &users, &groups);
        assert_eq!(subjects(&d), ["oidc:alice", "oidc:bob", "oidc:cy"]);
        assert_eq!(reasons(&d, "g-eng"), ["NestingTooDeep"]);
        assert!(reasons(&d, "g-pay").is_empty());
        assert_eq!(d.users["u-dee"].groups, ["core", "payments-team"]);
        let d = run(&tenant_with(Some(2)), &users, &groups);
        assert_eq!(
            subjects(&d),
            ["oidc:alice", "oidc:bob", "oidc:cy", "oidc:dee"]
        );
    }

    #[test]
    fn a_member_naming_another_tenants_group_never_matches() {
        let (users, mut groups) = world();
        // g-pay is not among this tenant's groups (the oracle's input is
        // the tenant's groups only; the cache checks ownership).
        groups.remove(1);
        let d = run(&tenant_with(Some(8)), &users, &groups);
        assert_eq!(subjects(&d), ["oidc:cy"]);
        let all: BTreeSet<&str> = d.users.keys().map(String::as_str).collect();
        assert!(all.contains("u-alice"));
        assert!(d.users["u-alice"].groups.is_empty());
    }
}
