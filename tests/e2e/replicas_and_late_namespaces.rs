//! Two operator replicas serve one tenant without losing or duplicating
//! anything, and a binding for a namespace or ClusterRole that does not exist
//! yet appears within seconds of the namespace or role being created.

/// How soon a namespace or role that appears is acted on: the watches of
/// namespaces and roles, not the periodic resync (5 min).
const LATE: Duration = Duration::from_secs(5);

use scimitar::scim::schema::PATCH_OP_URN;
use std::time::Duration;

use crate::support::kubectl::kubectl;
use crate::support::operator::{
    BINDINGS_POLICY, Operator, Scim, access, allow_cluster_role, can, create_tenant, until, within,
};
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use kube::Api;
use kube::api::{ListParams, PostParams};
use scimitar::crd::{ScimGroup, ScimTenantSpec, ScimUser};
use serde_json::json;

#[tokio::test]
async fn two_replicas_keep_user_names_unique_and_lose_no_member() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "ha").await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({"namespace": home})).expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let second = Operator::start(cp);
    let replicas = [
        Scim::new(Operator::shared(cp), &token),
        Scim::new(&second, &token),
    ];
    for scim in &replicas {
        scim.wait_until_authorized().await;
    }

    let creates = (0..8).map(|i| {
        let scim = &replicas[i % 2];
        async move {
            scim.send("POST", "/Users", Some(json!({"userName": if i % 3 == 0 { "Lee@Example.com" } else { "lee@example.com" }})))
                .await
                .status
        }
    });
    let statuses = futures::future::join_all(creates).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    assert_eq!(
        users
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );

    let group = replicas[0]
        .send("POST", "/Groups", Some(json!({"displayName": "everyone"})))
        .await;
    let path = format!("/Groups/{}", group.body["id"].as_str().expect("id"));
    let patches = (0..40).map(|i| {
        let scim = &replicas[i % 2];
        let path = path.clone();
        async move {
            scim.send(
                "PATCH",
                &path,
                Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": format!("m{i:02}")}]}]})),
            )
            .await
            .status
        }
    });
    let statuses = futures::future::join_all(patches).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    let stored = groups
        .get(group.body["id"].as_str().expect("id"))
        .await
        .expect("group");
    assert_eq!(
        stored.spec.members.len(),
        40,
        "no member lost across replicas"
    );
}

#[tokio::test]
async fn a_binding_appears_when_its_namespace_does() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "late").await;
    let present = namespace(&admin, "late-present").await;
    let later = format!(
        "late-later-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "mappings": [{"group": "eng", "role": {"name": "view"}, "namespaces": [later, present]}]
    }))
    .expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let user = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "max@example.com"})),
        )
        .await;
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "eng", "members": [{"value": user.body["id"]}]})),
        )
        .await;
    let group_id = group.body["id"].as_str().expect("id").to_owned();
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=scimitar");
    let count = |ns: String| {
        let admin = admin.clone();
        let managed = managed.clone();
        async move {
            Api::<RoleBinding>::namespaced(admin, &ns)
                .list(&managed)
                .await
                .map(|l| l.items.len())
                .unwrap_or(0)
        }
    };

    // The missing namespace blocks nothing else, and is reported.
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    let mut reported = false;
    for _ in 0..300 {
        let status = groups.get(&group_id).await.ok().and_then(|g| g.status);
        reported = status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == "Degraded" && c.status == "True" && c.reason == "NamespaceMissing"
            })
        });
        if reported && count(present.clone()).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reported, "NamespaceMissing reported on the group");
    assert_eq!(
        count(present.clone()).await,
        1,
        "the existing namespace has its binding"
    );

    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(later.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
    // Picked up from the namespace watch, not by the periodic resync.
    within(
        &format!("a binding in {later} after it was created"),
        LATE,
        true,
        || async { count(later.clone()).await == 1 },
    )
    .await;
    access(&admin, "oidc:max@example.com", "list", "pods", &later, true).await;
}

#[tokio::test]
async fn a_binding_appears_when_its_cluster_role_does() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "late-role").await;
    let target = namespace(&admin, "late-role-target").await;
    // A role the administrator allows tenants to map before creating it.
    let role = format!(
        "scimitar-late-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let allowed = allow_cluster_role(cp, &role);
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "mappings": [{"group": "eng", "role": {"name": role}, "namespaces": [target]}]
    }))
    .expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let user = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "ria@example.com"})),
        )
        .await;
    assert_eq!(user.status, 201);
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "eng", "members": [{"value": user.body["id"]}]})),
        )
        .await;
    assert_eq!(group.status, 201);
    let group_id = group.body["id"].as_str().expect("id").to_owned();
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    let role_not_found = |groups: Api<ScimGroup>, id: String| async move {
        groups
            .get(&id)
            .await
            .ok()
            .and_then(|g| g.status)
            .is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "Degraded" && c.status == "True" && c.reason == "RoleNotFound"
                })
            })
    };
    until("RoleNotFound reported on the group", true, || {
        role_not_found(groups.clone(), group_id.clone())
    })
    .await;
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &target);
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=scimitar");
    assert!(
        bindings
            .list(&managed)
            .await
            .expect("list")
            .items
            .is_empty(),
        "no binding to a role that does not exist"
    );
    assert!(
        !can(
            &admin,
            "oidc:ria@example.com",
            "list",
            "configmaps",
            &target
        )
        .await
    );

    let cluster_role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": role},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    }))
    .expect("ClusterRole");
    Api::<ClusterRole>::all(admin.clone())
        .create(&PostParams::default(), &cluster_role)
        .await
        .expect("ClusterRole created");
    // Picked up from the ClusterRole watch, not by the periodic resync.
    within(
        &format!("a binding to ClusterRole {role} after it was created"),
        LATE,
        true,
        || async {
            bindings
                .list(&managed)
                .await
                .expect("list")
                .items
                .iter()
                .any(|b| {
                    b.role_ref.name == role
                        && b.subjects
                            .iter()
                            .flatten()
                            .any(|s| s.name == "oidc:ria@example.com")
                })
        },
    )
    .await;
    access(
        &admin,
        "oidc:ria@example.com",
        "list",
        "configmaps",
        &target,
        true,
    )
    .await;
    until("RoleNotFound cleared on the group", false, || {
        role_not_found(groups.clone(), group_id.clone())
    })
    .await;
    // The grant is taken back and the ClusterRole deleted.
    drop(allowed);
    let policy = kubectl(
        &cp.kubeconfig,
        &[
            "get",
            "validatingadmissionpolicy",
            BINDINGS_POLICY,
            "-o",
            "jsonpath={.spec.variables[?(@.name==\"bindableClusterRoles\")].expression}",
        ],
    );
    assert!(
        policy.contains("view") && !policy.contains(&role),
        "{policy}"
    );
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    assert!(roles.get_opt(&role).await.expect("read").is_none());
}
