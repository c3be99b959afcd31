//! Managed bindings come back when deleted or edited by hand, and one
//! tenant's token never reaches another tenant's data.

mod support;

use std::time::Duration;

use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use scimitar::crd::{RoleKind, RoleMapping, RoleRef, ScimTenant, ScimTenantSpec};
use serde_json::json;
use support::operator::{Operator, Scim, create_tenant};
use support::{ControlPlane, install_crds, namespace};

fn spec(namespace: &str, target: &str) -> ScimTenantSpec {
    let mut spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": namespace})).expect("spec");
    spec.mappings = vec![RoleMapping {
        group: "ops".into(),
        role: RoleRef {
            kind: RoleKind::ClusterRole,
            name: "view".into(),
        },
        namespaces: vec![target.to_owned()],
        cluster_wide: false,
    }];
    spec
}

async fn subjects(api: &Api<RoleBinding>) -> Option<Vec<String>> {
    let list = api
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=scimitar"))
        .await
        .expect("list bindings");
    let binding = list.items.into_iter().next()?;
    Some(
        binding
            .subjects
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.name)
            .collect(),
    )
}

async fn eventually(api: &Api<RoleBinding>, want: &[&str]) {
    for _ in 0..200 {
        if subjects(api).await.as_deref()
            == Some(&want.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..])
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "binding subjects never became {want:?}: {:?}",
        subjects(api).await
    );
}

#[tokio::test]
async fn deleted_or_edited_bindings_are_repaired() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "drift").await;
    let target = namespace(&admin, "drift-target").await;
    let token = create_tenant(&admin, &home, spec(&home, &target)).await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let user = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "dana@example.com"})),
        )
        .await;
    assert_eq!(user.status, 201);
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "ops", "members": [{"value": user.body["id"]}]})),
        )
        .await;
    assert_eq!(group.status, 201);
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &target);
    eventually(&bindings, &["oidc:dana@example.com"]).await;

    // An edit by hand is reverted.
    let name = bindings
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=scimitar"))
        .await
        .expect("list")
        .items[0]
        .metadata
        .name
        .clone()
        .expect("name");
    let edit = json!({"subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "mallory"}]});
    bindings
        .patch(&name, &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .expect("hand edit");
    eventually(&bindings, &["oidc:dana@example.com"]).await;

    // A delete by hand is undone.
    bindings
        .delete(&name, &DeleteParams::default())
        .await
        .expect("hand delete");
    eventually(&bindings, &["oidc:dana@example.com"]).await;

    // Deleting the group removes exactly its binding.
    let deleted = scim
        .send(
            "DELETE",
            &format!("/Groups/{}", group.body["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    for _ in 0..200 {
        if subjects(&bindings).await.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the deleted group's binding is still there");
}

#[tokio::test]
async fn a_token_reaches_only_its_own_tenant() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let a_ns = namespace(&admin, "tenant-a").await;
    let b_ns = namespace(&admin, "tenant-b").await;
    let a = create_tenant(&admin, &a_ns, spec(&a_ns, &a_ns)).await;
    let b = create_tenant(&admin, &b_ns, spec(&b_ns, &b_ns)).await;
    let operator = Operator::shared(cp);
    let (a, b) = (Scim::new(operator, &a), Scim::new(operator, &b));
    a.wait_until_authorized().await;
    b.wait_until_authorized().await;
    let created = b
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "erin@example.com"})),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().expect("id");
    assert_eq!(
        a.send("GET", &format!("/Users/{id}"), None).await.status,
        404
    );
    assert_eq!(
        a.send("PATCH", &format!("/Users/{id}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]}))).await.status,
        404
    );
    assert_eq!(
        a.send("DELETE", &format!("/Users/{id}"), None).await.status,
        404
    );
    let listed = a
        .send(
            "GET",
            "/Users?filter=userName%20eq%20%22erin%40example.com%22",
            None,
        )
        .await;
    assert_eq!(listed.body["totalResults"], 0);
    // B's user is untouched.
    let still = b.send("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(still.status, 200);
    assert!(still.body.get("active").is_none());
}

#[tokio::test]
async fn removing_a_mapping_or_the_tenant_removes_exactly_what_it_produced() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "cleanup").await;
    let target = namespace(&admin, "cleanup-target").await;
    let mut tenant_spec = spec(&home, &target);
    tenant_spec.mappings.push(RoleMapping {
        group: "ops".into(),
        role: RoleRef {
            kind: RoleKind::ClusterRole,
            name: "edit".into(),
        },
        namespaces: vec![target.clone()],
        cluster_wide: false,
    });
    let token = create_tenant(&admin, &home, tenant_spec).await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let user = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "lou@example.com"})),
        )
        .await;
    scim.send(
        "POST",
        "/Groups",
        Some(json!({"displayName": "ops", "members": [{"value": user.body["id"]}]})),
    )
    .await;
    // A binding scimitar did not make, in the same namespace.
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &target);
    let unrelated: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "hand-made", "namespace": target},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "someone"}]
    }))
    .expect("binding");
    bindings
        .create(&Default::default(), &unrelated)
        .await
        .expect("unrelated binding");
    let roles = |bindings: Api<RoleBinding>| async move {
        let mut roles: Vec<String> = bindings
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=scimitar"))
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|b| b.role_ref.name)
            .collect();
        roles.sort();
        roles
    };
    let wait_for = |want: Vec<&'static str>, seconds: u64| {
        let bindings = bindings.clone();
        async move {
            for _ in 0..seconds * 20 {
                if roles(bindings.clone()).await == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!(
                "managed bindings never became {want:?}: {:?}",
                roles(bindings).await
            );
        }
    };
    wait_for(vec!["edit", "view"], 15).await;

    // Removing the edit mapping removes its binding only.
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    tenants
        .patch(
            &home,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"mappings": [
                {"group": "ops", "role": {"kind": "ClusterRole", "name": "view"}, "namespaces": [target]}
            ]}})),
        )
        .await
        .expect("mapping removed");
    wait_for(vec!["view"], 15).await;

    // Deleting the tenant removes the rest (garbage collection through the
    // owner reference); the hand-made binding stays. The garbage collector
    // learns of new resource types (the CRDs this test binary installed) by
    // rediscovery every 30 s, hence the long wait.
    tenants
        .delete(&home, &DeleteParams::default())
        .await
        .expect("tenant deleted");
    wait_for(vec![], 90).await;
    assert!(bindings.get_opt("hand-made").await.expect("read").is_some());
}
