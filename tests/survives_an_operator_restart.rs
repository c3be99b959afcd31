//! The operator stops; the cluster changes behind its back (a binding deleted
//! by hand, a user deactivated by another writer); a new operator process
//! converges to the directory's state.

mod support;

use std::time::Duration;

use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use scimitar::crd::{ScimTenantSpec, ScimUser};
use serde_json::json;
use support::operator::{Operator, Scim, can, create_tenant, until};
use support::{ControlPlane, install_crds, namespace};

#[tokio::test]
async fn a_new_operator_process_repairs_what_changed_while_none_ran() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "opr").await;
    let dev = namespace(&admin, "opr-dev").await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "mappings": [{"group": "eng", "role": {"name": "view"}, "namespaces": [dev]}]
    }))
    .expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let mut first = Operator::start(cp);
    let scim = Scim::new(&first, &token);
    scim.wait_until_authorized().await;
    let jo = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "jo@example.com"})),
        )
        .await;
    let kim = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "kim@example.com"})),
        )
        .await;
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "eng", "members": [{"value": jo.body["id"]}, {"value": kim.body["id"]}]})),
        )
        .await;
    assert_eq!(group.status, 201);
    let may = |user: &'static str, want: bool| {
        let admin = admin.clone();
        let dev = dev.clone();
        async move {
            until(user, want, || {
                let admin = admin.clone();
                let dev = dev.clone();
                async move { can(&admin, user, "list", "pods", &dev).await }
            })
            .await
        }
    };
    may("oidc:jo@example.com", true).await;
    may("oidc:kim@example.com", true).await;
    // jo's status as the first operator wrote it.
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let jo_id = jo.body["id"].as_str().expect("id").to_owned();
    until("jo's status written", true, || async {
        users
            .get(&jo_id)
            .await
            .ok()
            .and_then(|u| u.status)
            .is_some_and(|s| s.subject.is_some() && !s.conditions.is_empty())
    })
    .await;
    let jo_version = users
        .get(&jo_id)
        .await
        .expect("jo")
        .metadata
        .resource_version;

    first.stop();
    // Behind the operator's back: the binding is deleted, and kim is
    // deactivated by a write that reached the API server directly.
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &dev);
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=scimitar");
    for binding in bindings.list(&managed).await.expect("list").items {
        let name = binding.metadata.name.expect("name");
        bindings
            .delete(&name, &DeleteParams::default())
            .await
            .expect("delete");
    }
    users
        .patch(
            kim.body["id"].as_str().expect("id"),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"active": false}})),
        )
        .await
        .expect("deactivate kim directly");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!can(&admin, "oidc:jo@example.com", "list", "pods", &dev).await);

    let second = Operator::start(cp);
    may("oidc:jo@example.com", true).await;
    may("oidc:kim@example.com", false).await;
    let scim = Scim::new(&second, &token);
    scim.wait_until_authorized().await;
    let kim_now = scim
        .send(
            "GET",
            &format!("/Users/{}", kim.body["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(kim_now.body["active"], false, "{}", kim_now.body);
    // The new process read the statuses it found instead of rewriting them:
    // once it has written kim's (inactive now), jo's, unchanged, is as it was.
    let kim_id = kim.body["id"].as_str().expect("id").to_owned();
    until("kim's status written", true, || async {
        users
            .get(&kim_id)
            .await
            .ok()
            .and_then(|u| u.status)
            .is_some_and(|s| s.subject.is_none())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jo_now = users
        .get(&jo_id)
        .await
        .expect("jo")
        .metadata
        .resource_version;
    assert_eq!(jo_now, jo_version, "an unchanged status was rewritten");
}
