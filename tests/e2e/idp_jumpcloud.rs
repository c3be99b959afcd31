//! JumpCloud's SCIM traffic, replayed against `scimitar run` on the real API
//! server (fixtures in `tests/fixtures/idp/jumpcloud/`), and what it becomes
//! in Kubernetes.

use crate::support::operator::{Operator, Scim, access, can, create_tenant, until};
use crate::support::replay::{Vars, replay};
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Api;
use kube::api::ListParams;
use scimitar::crd::{ScimGroup, ScimTenantSpec, ScimUser};
use serde_json::json;

#[tokio::test]
async fn activate_handshake_passes_and_leaves_nothing_behind() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "jc-activate").await;
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home, "provider": "jumpcloud"})).expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let operator = Operator::shared(cp);
    Scim::new(operator, &token).wait_until_authorized().await;
    let mut vars = Vars::from([
        ("token".to_owned(), token),
        ("run".to_owned(), home.clone()),
        (
            "test_email".to_owned(),
            "jc-test@customer.example".to_owned(),
        ),
    ]);
    let base = format!("{}/scim/v2", operator.url);
    replay(&base, "jumpcloud/activate.yaml", &mut vars).await;

    // The clean-up really cleaned up.
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    assert!(
        users
            .list(&Default::default())
            .await
            .expect("users")
            .items
            .is_empty()
    );
    assert!(
        groups
            .list(&Default::default())
            .await
            .expect("groups")
            .items
            .is_empty()
    );

    // Activation re-runs with a new Test User Email on every settings save.
    vars.insert("test_email".into(), "jc-test-2@customer.example".into());
    vars.insert("run".into(), format!("{home}-again"));
    replay(&base, "jumpcloud/activate.yaml", &mut vars).await;
}

/// The example tenant's mappings (examples/acme), plus the renamed group.
fn acme(home: &str, dev: &str, prod: &str) -> ScimTenantSpec {
    serde_json::from_value(json!({
        "namespace": home,
        "provider": "jumpcloud",
        "mappings": [
            {"group": "acme-readers", "role": {"name": "view"}, "namespaces": [dev, prod]},
            {"group": "acme-developers", "role": {"name": "edit"}, "namespaces": [dev]},
            {"group": "acme-engineering", "role": {"name": "edit"}, "namespaces": [dev]},
            {"group": "acme-platform", "role": {"name": "admin"}, "namespaces": [dev, prod]},
        ]
    }))
    .expect("spec")
}

#[tokio::test]
async fn a_day_of_provisioning_becomes_the_right_access() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "jc-day").await;
    let dev = namespace(&admin, "jc-dev").await;
    let prod = namespace(&admin, "jc-prod").await;
    let token = create_tenant(&admin, &home, acme(&home, &dev, &prod)).await;
    let operator = Operator::shared(cp);
    Scim::new(operator, &token).wait_until_authorized().await;
    let base = format!("{}/scim/v2", operator.url);
    let mut vars = Vars::from([("token".to_owned(), token)]);

    replay(&base, "jumpcloud/day.yaml", &mut vars).await;
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let ada = users.get(&vars["ada"]).await.expect("ada");
    assert_eq!(ada.spec.active, Some(false));
    assert_eq!(ada.spec.title.as_deref(), Some("Countess"));
    // ada is inactive: no access anywhere, though readers still lists her.
    access(&admin, "oidc:ada@acme.example", "list", "pods", &dev, false).await;
    // bob is named by his primary email, not his userName; readers gives view
    // in both namespaces, the renamed engineering group edit in dev.
    access(
        &admin,
        "oidc:bob@acme.example.io",
        "create",
        "apps/deployments",
        &dev,
        true,
    )
    .await;
    access(
        &admin,
        "oidc:bob@acme.example.io",
        "list",
        "pods",
        &prod,
        true,
    )
    .await;
    assert!(
        !can(
            &admin,
            "oidc:bob@acme.example.io",
            "create",
            "apps/deployments",
            &prod
        )
        .await
    );
    assert!(!can(&admin, "oidc:bob@acme.example", "list", "pods", &dev).await);
    // cy left developers but administers both through platform.
    access(
        &admin,
        "oidc:cy@acme.example",
        "create",
        "rbac.authorization.k8s.io/rolebindings",
        &prod,
        true,
    )
    .await;
    // The readers binding lists bob alone once the day's changes are
    // reconciled: a reconcile that began before ada's deactivation may still
    // be writing what it computed, and the next one removes her.
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &prod);
    let readers = || async {
        let listed = bindings
            .list(&ListParams::default().labels(&format!("scimitar.dev/group={}", vars["readers"])))
            .await
            .expect("bindings")
            .items;
        listed[0]
            .subjects
            .iter()
            .flatten()
            .map(|s| s.name.clone())
            .collect::<Vec<String>>()
    };
    until("inactive ada is not a readers subject", true, || async {
        readers().await == ["oidc:bob@acme.example.io"]
    })
    .await;

    replay(&base, "jumpcloud/suspend-and-delete.yaml", &mut vars).await;
    access(
        &admin,
        "oidc:bob@acme.example.io",
        "create",
        "apps/deployments",
        &dev,
        true,
    )
    .await;
    access(
        &admin,
        "oidc:cy@acme.example",
        "create",
        "rbac.authorization.k8s.io/rolebindings",
        &prod,
        false,
    )
    .await;
    assert!(users.get_opt(&vars["cy"]).await.expect("read").is_none());

    vars.insert("existing".into(), vars["platform"].clone());
    replay(&base, "jumpcloud/takeover.yaml", &mut vars).await;
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    let platforms: Vec<ScimGroup> = groups
        .list(&Default::default())
        .await
        .expect("groups")
        .items
        .into_iter()
        .filter(|g| g.spec.display_name.eq_ignore_ascii_case("acme-platform"))
        .collect();
    assert_eq!(platforms.len(), 1, "taken over, not duplicated");
    // The mapping names acme-platform; JumpCloud's casing still matches.
    access(
        &admin,
        "oidc:dee@acme.example",
        "create",
        "rbac.authorization.k8s.io/rolebindings",
        &prod,
        true,
    )
    .await;
}
