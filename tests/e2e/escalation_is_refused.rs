//! The operator, running with its least-privilege rules, grants nothing it
//! should not: roles outside its `bind` allowlist, missing roles, `system:`
//! subjects and unprefixed names are refused and reported, never bound.

use std::time::Duration;

use crate::support::kubectl::kubectl;
use crate::support::operator::{Operator, Scim, create_tenant, operator_client};
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;
use kube::api::ListParams;
use scimitar::crd::{ScimGroup, ScimTenant, ScimTenantSpec, ScimUser};
use serde_json::{Value, json};

fn tenant_spec(value: Value) -> ScimTenantSpec {
    serde_json::from_value(value).expect("tenant spec")
}

fn degraded_reasons(conditions: &[Condition]) -> Option<String> {
    conditions
        .iter()
        .find(|c| c.type_ == "Degraded" && c.status == "True")
        .map(|c| format!("{}: {}", c.reason, c.message))
}

/// Polls `read` until it returns Some.
async fn eventually<T, F, Fut>(what: &str, mut read: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(found) = read().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 15 s");
}

async fn managed_bindings(admin: &kube::Client, namespace: &str) -> Vec<RoleBinding> {
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=scimitar"))
        .await
        .expect("list bindings")
        .items
}

#[tokio::test]
async fn roles_outside_the_allowlist_and_missing_roles_are_refused() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "esc").await;
    let target = namespace(&admin, "esc-target").await;
    let token = create_tenant(
        &admin,
        &home,
        tenant_spec(json!({
            "namespace": home,
            "mappings": [
                {"group": "ops", "role": {"name": "cluster-admin"}, "namespaces": [target]},
                {"group": "ops", "role": {"name": "no-such-role"}, "namespaces": [target]},
                {"group": "ops", "role": {"name": "view"}, "namespaces": [target]},
            ]
        })),
    )
    .await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let user = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "gina@example.com"})),
        )
        .await;
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "ops", "members": [{"value": user.body["id"]}]})),
        )
        .await;
    assert_eq!(group.status, 201);
    let group_id = group.body["id"].as_str().expect("id").to_owned();

    // The allowed mapping is bound; the other two are reported on the group.
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    let status = eventually("group status with bindings", || {
        let groups = groups.clone();
        let id = group_id.clone();
        async move {
            let status = groups.get(&id).await.ok()?.status?;
            (!status.bindings.is_empty()).then_some(status)
        }
    })
    .await;
    assert_eq!(status.bindings.len(), 1, "{:?}", status.bindings);
    assert_eq!(status.bindings[0].role, "ClusterRole/view");
    let degraded = degraded_reasons(&status.conditions).expect("group Degraded");
    assert!(degraded.contains("cluster-admin"), "{degraded}");
    let roles: Vec<String> = managed_bindings(&admin, &target)
        .await
        .iter()
        .map(|b| b.role_ref.name.clone())
        .collect();
    assert_eq!(roles, ["view"], "only the allowlisted role is bound");

    // Both refusals are Warning Events on the tenant.
    let events: Api<Event> = Api::all(admin.clone());
    let reasons = eventually("refusal events", || {
        let events = events.clone();
        let home = home.clone();
        async move {
            let list = events.list(&ListParams::default()).await.ok()?;
            let reasons: Vec<String> = list
                .items
                .into_iter()
                .filter(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(home.as_str())
                })
                .filter(|e| e.type_.as_deref() == Some("Warning"))
                .filter_map(|e| e.reason)
                .collect();
            (reasons.iter().any(|r| r == "RoleNotBindable")
                && reasons.iter().any(|r| r == "RoleNotFound"))
            .then_some(reasons)
        }
    })
    .await;
    assert!(
        reasons
            .iter()
            .all(|r| r == "RoleNotBindable" || r == "RoleNotFound"),
        "{reasons:?}"
    );

    // Second line of defence: the API server refuses the operator's own
    // credentials (the chart's ServiceAccount token) a binding to a role
    // outside `rbac.bindableClusterRoles`, while one inside it is allowed.
    // Both are labelled as the operator labels its bindings, so the chart's
    // admission policy on labels lets them through and the refusal is RBAC's
    // escalation check (tests/e2e/operator_blast_radius_is_bounded.rs tests the
    // policy).
    let as_operator = operator_client(cp).await;
    let escalation: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "escalation", "namespace": target,
                     "labels": {"app.kubernetes.io/managed-by": "scimitar"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oidc:gina@example.com"}]
    }))
    .expect("binding");
    let as_operator = Api::<RoleBinding>::namespaced(as_operator, &target);
    let refused = as_operator.create(&Default::default(), &escalation).await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.code == 403
            && s.message.contains("attempting to grant RBAC permissions not currently held")),
        "{refused:?}"
    );
    let mut allowed = escalation.clone();
    allowed.metadata.name = Some("allowed".into());
    allowed.role_ref.name = "view".into();
    as_operator
        .create(&Default::default(), &allowed)
        .await
        .expect("binding an allowlisted role");
    as_operator
        .delete("allowed", &Default::default())
        .await
        .expect("cleaning up");

    // The tenant itself is Ready (everything it could do is done): `kubectl wait` works.
    kubectl(
        &cp.kubeconfig,
        &[
            "wait",
            "--for=condition=Ready",
            &format!("scimtenant/{home}"),
            "--timeout=30s",
        ],
    );
}

#[tokio::test]
async fn system_subjects_and_unapproved_empty_prefixes_are_refused() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "sys").await;
    let target = namespace(&admin, "sys-target").await;
    let token = create_tenant(
        &admin,
        &home,
        tenant_spec(json!({
            "namespace": home,
            "subjects": {"usernameClaim": "userName", "userPrefix": "", "groupPrefix": "", "allowEmptyPrefix": true},
            "mappings": [{"group": "team", "role": {"name": "view"}, "namespaces": [target]}]
        })),
    )
    .await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let system = scim
        .send("POST", "/Users", Some(json!({"userName": "system:admin"})))
        .await;
    let frank = scim
        .send("POST", "/Users", Some(json!({"userName": "frank"})))
        .await;
    assert_eq!((system.status, frank.status), (201, 201));
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "team", "members": [{"value": system.body["id"]}, {"value": frank.body["id"]}]})),
        )
        .await;
    assert_eq!(group.status, 201);
    let subjects = eventually("binding for team", || {
        let admin = admin.clone();
        let target = target.clone();
        async move {
            let binding = managed_bindings(&admin, &target).await.into_iter().next()?;
            Some(
                binding
                    .subjects
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>(),
            )
        }
    })
    .await;
    assert_eq!(subjects, ["frank"], "a system: subject is never bound");
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let id = system.body["id"].as_str().expect("id").to_owned();
    let degraded = eventually("ReservedSubject on the user", || {
        let users = users.clone();
        let id = id.clone();
        async move { degraded_reasons(&users.get(&id).await.ok()?.status?.conditions) }
    })
    .await;
    assert!(degraded.starts_with("ReservedSubject"), "{degraded}");

    // Without the opt-in, an empty prefix binds nobody and says why.
    let strict = namespace(&admin, "strict").await;
    create_tenant(
        &admin,
        &strict,
        tenant_spec(json!({
            "namespace": strict,
            "subjects": {"userPrefix": ""},
            "mappings": [{"group": "team", "role": {"name": "view"}, "namespaces": [strict]}]
        })),
    )
    .await;
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    let degraded = eventually("EmptyPrefixRefused on the tenant", || {
        let tenants = tenants.clone();
        let strict = strict.clone();
        async move { degraded_reasons(&tenants.get(&strict).await.ok()?.status?.conditions) }
    })
    .await;
    assert!(degraded.starts_with("EmptyPrefixRefused"), "{degraded}");
}
