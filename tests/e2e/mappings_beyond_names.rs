//! Mappings beyond one group name, against the real API server and checked
//! with SubjectAccessReview: group patterns deriving namespaces (and the
//! guard that refuses the others), namespace selectors, time windows that
//! open and close on their own, expired access removed by a starting
//! leader, and derived namespaces created within their budget.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use scimitar::crd::{ScimGroup, ScimTenant};
use serde_json::{Value, json};

use crate::support::operator::{OPERATOR_USER, Operator, access, can, until};
use crate::support::tenant::Tenant;
use crate::support::{ControlPlane, install_crds, namespace};

/// Whether the group's status says Degraded for `reason`.
async fn group_reports(admin: &kube::Client, home: &str, id: &str, reason: &str) -> bool {
    Api::<ScimGroup>::namespaced(admin.clone(), home)
        .get(id)
        .await
        .ok()
        .and_then(|g| g.status)
        .is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == reason)
        })
}

/// The reasons of the Events about `tenant`.
async fn event_reasons(admin: &kube::Client, tenant: &str) -> BTreeSet<String> {
    Api::<Event>::all(admin.clone())
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(tenant))
        .filter_map(|e| e.reason)
        .collect()
}

/// The tenant's conditions and schedule, as JSON.
async fn tenant_status(admin: &kube::Client, tenant: &str) -> Value {
    let tenant = Api::<ScimTenant>::all(admin.clone())
        .get(tenant)
        .await
        .expect("tenant");
    serde_json::to_value(tenant.status).expect("status JSON")
}

async fn label(admin: &kube::Client, ns: &str, key: &str, value: Option<&str>) {
    let patch = json!({"metadata": {"labels": {key: value}}});
    Api::<Namespace>::all(admin.clone())
        .patch(ns, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("labelling a namespace");
}

#[tokio::test]
async fn group_patterns_bind_only_in_allowed_namespaces_their_names_derive() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let payments = namespace(&admin, "payments").await;
    let search = namespace(&admin, "search").await;
    let selected = namespace(&admin, "selected").await;
    // Labels of this test only: another test's namespaces never match.
    let allow_key = format!("scimitar-test/teams-{}", &payments[payments.len() - 5..]);
    let env_key = format!("scimitar-test/env-{}", &payments[payments.len() - 5..]);
    let acme = Tenant::setup(cp, "pattern")
        .spec(json!({
            "mappings": [
                {"groupPattern": "team-*", "namespaceFromGroup": "{match}",
                 "role": {"name": "edit"}},
                {"group": "ops", "namespaceSelector": {"matchLabels": {&env_key: "on"}},
                 "role": {"name": "view"}}
            ],
            "derivedNamespaces": {
                "allowed": [&payments],
                "allowedSelector": {"matchLabels": {&allow_key: "yes"}},
                // Without the operator's --namespace-creation this is
                // reported, and nothing is created.
                "create": {"enabled": true, "prefixes": ["nothing-"]}
            }
        }))
        .user("ann@example.com")
        .user("bob@example.com")
        .user("eve@example.com")
        .user("oz@example.com")
        .group(&format!("team-{payments}"), &["ann@example.com"])
        .group(&format!("team-{search}"), &["bob@example.com"])
        .group("team-kube-system", &["eve@example.com"])
        .group("team-nothing-here", &["eve@example.com"])
        .group("ops", &["oz@example.com"])
        .on(Operator::shared(cp))
        .create()
        .await;

    // The derived namespace on the allowed list: bound.
    access(
        &admin,
        "oidc:ann@example.com",
        "create",
        "apps/deployments",
        &payments,
        true,
    )
    .await;
    assert!(
        !can(
            &admin,
            "oidc:ann@example.com",
            "create",
            "apps/deployments",
            &search
        )
        .await
    );
    // Derived but outside the allowed set: refused, reported on the group.
    let bob_group = acme.group(&format!("team-{search}")).to_owned();
    until("search refused on its group", true, || {
        group_reports(&admin, &acme.name, &bob_group, "NamespaceNotAllowed")
    })
    .await;
    assert!(!can(&admin, "oidc:bob@example.com", "get", "pods", &search).await);
    // A cluster admin labels it into the allowed selector: bound.
    label(&admin, &search, &allow_key, Some("yes")).await;
    access(
        &admin,
        "oidc:bob@example.com",
        "create",
        "apps/deployments",
        &search,
        true,
    )
    .await;
    // And out again: gone.
    label(&admin, &search, &allow_key, None).await;
    access(
        &admin,
        "oidc:bob@example.com",
        "create",
        "apps/deployments",
        &search,
        false,
    )
    .await;

    // A group named to reach kube-system: refused, with a condition and an Event.
    let eve_group = acme.group("team-kube-system").to_owned();
    until("kube-system refused on its group", true, || {
        group_reports(&admin, &acme.name, &eve_group, "NamespaceNotAllowed")
    })
    .await;
    let refused = Api::<ScimGroup>::namespaced(admin.clone(), &acme.name)
        .get(&eve_group)
        .await
        .expect("group");
    let degraded = refused
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Degraded")
        .map(|c| format!("{}: {}", c.reason, c.message));
    eprintln!("reported: team-kube-system Degraded = {degraded:?}");
    assert!(!can(&admin, "oidc:eve@example.com", "get", "pods", "kube-system").await);
    assert!(
        !can(
            &admin,
            "oidc:eve@example.com",
            "get",
            "secrets",
            "kube-system"
        )
        .await
    );
    until("an Event for the refusal", true, || async {
        event_reasons(&admin, &acme.name)
            .await
            .contains("NamespaceNotAllowed")
    })
    .await;
    let kube_system: Api<RoleBinding> = Api::namespaced(admin.clone(), "kube-system");
    let ours = ListParams::default().labels(&format!("scimitar.dev/tenant={}", acme.name));
    assert!(
        kube_system
            .list(&ours)
            .await
            .expect("list")
            .items
            .is_empty()
    );

    // Creation is off in the operator: reported on the tenant, nothing made.
    until("NamespaceCreationDisabled on the tenant", true, || async {
        event_reasons(&admin, &acme.name)
            .await
            .contains("NamespaceCreationDisabled")
    })
    .await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    assert!(
        namespaces
            .get_opt("nothing-here")
            .await
            .expect("get")
            .is_none()
    );

    // A namespace selector on an ordinary mapping follows the labels.
    assert!(!can(&admin, "oidc:oz@example.com", "list", "pods", &selected).await);
    label(&admin, &selected, &env_key, Some("on")).await;
    access(
        &admin,
        "oidc:oz@example.com",
        "list",
        "pods",
        &selected,
        true,
    )
    .await;
    assert!(!can(&admin, "oidc:oz@example.com", "list", "pods", &payments).await);
    label(&admin, &selected, &env_key, Some("off")).await;
    access(
        &admin,
        "oidc:oz@example.com",
        "list",
        "pods",
        &selected,
        false,
    )
    .await;
}

/// RFC 3339, `seconds` from now, whole seconds (as Kubernetes stores times).
fn in_seconds(seconds: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    jiff::Timestamp::from_second(at.as_second())
        .expect("time")
        .to_string()
}

#[tokio::test]
async fn a_mapping_window_opens_and_closes_on_its_own() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let target = namespace(&admin, "window").await;
    let (from, to) = (in_seconds(10), in_seconds(18));
    let acme = Tenant::setup(cp, "window")
        .spec(json!({"mappings": [{
            "group": "oncall", "namespaces": [&target], "role": {"name": "edit"},
            "notBefore": &from, "notAfter": &to
        }]}))
        .user("ann@example.com")
        .group("oncall", &["ann@example.com"])
        .on(Operator::shared(cp))
        .create()
        .await;
    let user = "oidc:ann@example.com";
    let state = || async {
        tenant_status(&admin, &acme.name).await["schedule"][0]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    until("the window reported pending", true, || async {
        state().await == "Pending"
    })
    .await;
    assert!(!can(&admin, user, "create", "apps/deployments", &target).await);

    // Nothing changes but the time: access appears, then goes.
    access(&admin, user, "create", "apps/deployments", &target, true).await;
    let opened = jiff::Timestamp::now();
    let from: jiff::Timestamp = from.parse().expect("time");
    assert!(
        opened >= from,
        "granted before notBefore: {opened} < {from}"
    );
    eprintln!(
        "measured: access appeared {:?} after notBefore",
        opened.duration_since(from)
    );
    let binding = Api::<RoleBinding>::namespaced(admin.clone(), &target)
        .list(&ListParams::default().labels("scimitar.dev/not-after"))
        .await
        .expect("list")
        .items;
    assert_eq!(binding.len(), 1, "the binding carries its end");
    until("the window reported active", true, || async {
        state().await == "Active"
    })
    .await;

    access(&admin, user, "create", "apps/deployments", &target, false).await;
    let closed = jiff::Timestamp::now();
    let to: jiff::Timestamp = to.parse().expect("time");
    eprintln!(
        "measured: access gone {:?} after notAfter",
        closed.duration_since(to)
    );
    assert!(
        closed.duration_since(to) < jiff::SignedDuration::from_secs(3),
        "access outlived notAfter by {:?}",
        closed.duration_since(to)
    );
    until("the window reported expired", true, || async {
        state().await == "Expired"
    })
    .await;
    eprintln!(
        "reported: status.schedule = {}",
        tenant_status(&admin, &acme.name).await["schedule"]
    );
    until("Events for the window", true, || async {
        let reasons = event_reasons(&admin, &acme.name).await;
        ["MappingPending", "MappingActive", "MappingExpired"]
            .iter()
            .all(|r| reasons.contains(*r))
    })
    .await;
}

#[tokio::test]
async fn a_starting_leader_removes_expired_access_before_anything_else() {
    let cp = ControlPlane::dedicated("expired-while-down");
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let target = namespace(&admin, "expiring").await;
    let mut operator = Operator::start(&cp);
    let to = in_seconds(10);
    let acme = Tenant::setup(&cp, "expiring")
        .spec(json!({"mappings": [
            {"group": "oncall", "namespaces": [&target], "role": {"name": "edit"},
             "notAfter": &to},
            {"group": "oncall", "clusterWide": true, "role": {"name": "view"},
             "notAfter": &to}
        ]}))
        .user("ann@example.com")
        .group("oncall", &["ann@example.com"])
        .on(&operator)
        .create()
        .await;
    let user = "oidc:ann@example.com";
    access(&admin, user, "create", "apps/deployments", &target, true).await;
    access(&admin, user, "list", "namespaces", "", true).await;

    // Down across notAfter: the bindings outlive it, as nothing runs.
    operator.stop();
    let to: jiff::Timestamp = to.parse().expect("time");
    let wait = jiff::Timestamp::now().duration_until(to) + jiff::SignedDuration::from_secs(1);
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    assert!(can(&admin, user, "create", "apps/deployments", &target).await);

    let operator = Operator::start(&cp);
    access(&admin, user, "create", "apps/deployments", &target, false).await;
    access(&admin, user, "list", "namespaces", "", false).await;
    // Without the terminal's colours, which split `deleted=2`.
    let log = std::fs::read_to_string(&operator.log).expect("operator log");
    let log = strip_colours(&log);
    let lines: Vec<&str> = log.lines().collect();
    let swept = lines
        .iter()
        .position(|l| l.contains("removed access past notAfter before starting the controller"))
        .unwrap_or_else(|| panic!("the first sweep is logged:\n{log}"));
    assert!(
        lines[swept].contains("deleted=2") || lines[swept].contains("\"deleted\":2"),
        "both bindings deleted by the first sweep: {}",
        lines[swept]
    );
    // Before anything else: no reconcile ran before it.
    let first_pass = lines.iter().position(|l| l.contains("pass computed"));
    assert!(
        first_pass.is_none_or(|p| p > swept),
        "a reconcile ran before the sweep:\n{log}"
    );
    let left = Api::<ClusterRoleBinding>::all(admin.clone())
        .list(&ListParams::default().labels(&format!("scimitar.dev/tenant={}", acme.name)))
        .await
        .expect("list")
        .items;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn derived_namespaces_are_created_within_the_budget_and_bound_only_when_allowed() {
    let cp = ControlPlane::dedicated("namespace-creation");
    let admin = cp.admin().await;
    install_crds(&admin).await;
    // What the chart's namespaceCreation.enabled grants.
    let grant = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: scimitar-test-namespace-creation\nrules:\n- apiGroups: ['']\n  resources: [namespaces]\n  verbs: [create]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: scimitar-test-namespace-creation\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: scimitar-test-namespace-creation\nsubjects:\n- kind: ServiceAccount\n  name: {}\n  namespace: scimitar-system\n",
        OPERATOR_USER.rsplit(':').next().expect("name")
    );
    let manifest = cp.kubeconfig.with_file_name("namespace-creation.yaml");
    std::fs::write(&manifest, grant).expect("manifest");
    crate::support::kubectl::kubectl(
        &cp.kubeconfig,
        &["apply", "-f", &manifest.display().to_string()],
    );
    let operator = Operator::start_with(&cp, &["--namespace-creation=true"]);
    let acme = Tenant::setup(&cp, "creating")
        .spec(json!({
            "mappings": [{"groupPattern": "squad-*", "namespaceFromGroup": "sq-{match}",
                          "role": {"name": "edit"}}],
            "derivedNamespaces": {
                // sq-b may be created but is not allowed: made, never bound.
                "allowed": ["sq-a", "sq-c"],
                "create": {"enabled": true, "prefixes": ["sq-"], "maxCount": 2}
            }
        }))
        .user("ann@example.com")
        .user("bob@example.com")
        .user("cy@example.com")
        .group("squad-a", &["ann@example.com"])
        .group("squad-b", &["bob@example.com"])
        .on(&operator)
        .create()
        .await;
    access(
        &admin,
        "oidc:ann@example.com",
        "create",
        "apps/deployments",
        "sq-a",
        true,
    )
    .await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let created = until("sq-b created", true, || async {
        namespaces.get_opt("sq-b").await.ok().flatten().is_some()
    })
    .await;
    eprintln!("measured: sq-b created in {created:?}");
    let sq_b = namespaces.get("sq-b").await.expect("sq-b");
    let labels = sq_b.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("scimitar.dev/created-for"), Some(&acme.name));
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("scimitar")
    );
    assert!(
        sq_b.metadata.owner_references.is_none(),
        "never deleted with the tenant"
    );
    // Created, but not in the allowed set: no access.
    until("sq-b refused on its group", true, || {
        group_reports(
            &admin,
            &acme.name,
            acme.group("squad-b"),
            "NamespaceNotAllowed",
        )
    })
    .await;
    assert!(!can(&admin, "oidc:bob@example.com", "get", "pods", "sq-b").await);

    // The budget (2) is spent: squad-c's namespace is not created.
    let reply = acme
        .scim()
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "squad-c", "members": [{"value": acme.user("cy@example.com")}]})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    until("the budget reported", true, || async {
        tenant_status(&admin, &acme.name).await["conditions"]
            .as_array()
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["message"].as_str().unwrap_or("").contains("maxCount"))
            })
    })
    .await;
    assert!(namespaces.get_opt("sq-c").await.expect("get").is_none());
    assert!(!can(&admin, "oidc:cy@example.com", "get", "pods", "sq-c").await);
}

/// `text` without ANSI escape sequences.
fn strip_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … final byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
