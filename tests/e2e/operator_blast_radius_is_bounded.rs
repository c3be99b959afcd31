//! What a compromised operator replica could do with its own credentials is
//! bounded by the API server: RBAC cannot restrict writes by label, so the
//! chart's ValidatingAdmissionPolicy (`templates/admission-policy.yaml`)
//! refuses the operator's ServiceAccount every write to an object scimitar
//! does not manage, and bindings outside the role allowlist.
//!
//! Every test acts with exactly the operator's credentials (a TokenRequest
//! token of the chart's ServiceAccount under the chart's RBAC and policy,
//! [`operator_client`]), asserts the refusal, and re-reads the object as
//! admin to show nothing changed.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use crate::support::operator::{
    BINDINGS_POLICY, OPERATOR_NAMESPACE, OPERATOR_USER, Operator, WRITES_POLICY, operator_client,
};
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, Client, Resource, ResourceExt};
use scimitar::crd::ScimUser;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// A name no other test uses.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// An object of type `K` from JSON (apiVersion and kind are filled in by
/// k8s-openapi when it is serialized).
fn object<K: DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).expect("a valid object")
}

/// `metadata` with the label scimitar puts on everything it writes.
fn ours(name: &str, namespace: Option<&str>) -> Value {
    json!({"name": name, "namespace": namespace, "labels": {MANAGED_BY: "scimitar"}})
}

/// Server-side apply as the operator writes (field manager `scimitar`, forced).
fn apply_params() -> PatchParams {
    PatchParams::apply("scimitar").force()
}

/// Asserts that `result` is a 403 from the chart's admission policy
/// `policy`; returns its message.
fn refused_by<T: Debug>(policy: &str, what: &str, result: Result<T, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status))
            if status.code == 403
                && status
                    .message
                    .contains(&format!("ValidatingAdmissionPolicy '{policy}'")) =>
        {
            status.message.clone()
        }
        other => panic!("{what}: expected 403 from the admission policy {policy}, got {other:?}"),
    }
}

/// Asserts a 403 from the policy on labels ([`WRITES_POLICY`]).
fn refused_by_policy<T: Debug>(what: &str, result: Result<T, kube::Error>) -> String {
    refused_by(WRITES_POLICY, what, result)
}

/// The object as the admin sees it, `None` when it does not exist.
async fn admin_read<K>(api: &Api<K>, name: &str) -> Option<K>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    api.get_opt(name).await.expect("admin read")
}

/// Asserts that `after` is exactly `before` (same uid, resourceVersion,
/// labels): no write went through.
fn unchanged<K: Resource + Serialize>(what: &str, before: &K, after: Option<K>) {
    let after = after.unwrap_or_else(|| panic!("{what} was deleted"));
    assert_eq!(after.meta().uid, before.meta().uid, "{what}: recreated");
    assert_eq!(
        after.meta().resource_version,
        before.meta().resource_version,
        "{what} changed: {}",
        serde_json::to_string(&after).unwrap_or_default()
    );
    assert_eq!(after.meta().labels, before.meta().labels, "{what}: labels");
}

fn delete_exactly<K: Resource>(object: &K) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid: object.meta().uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn labelling_a_kube_system_config_map_as_ours_is_refused() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let operator = operator_client(cp).await;
    let name = unique("not-ours");
    let as_admin = Api::<ConfigMap>::namespaced(admin.clone(), "kube-system");
    let as_operator = Api::<ConfigMap>::namespaced(operator, "kube-system");
    let original = as_admin
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": name}, "data": {"setting": "original"}})),
        )
        .await
        .expect("admin creates a kube-system ConfigMap");

    // As the operator writes: a forced server-side apply carrying the label.
    let claim: ConfigMap = object(json!({
        "metadata": ours(&name, Some("kube-system")),
        "data": {"setting": "changed"}
    }));
    let message = refused_by_policy(
        "labelling kube-system ConfigMap by server-side apply",
        as_operator
            .patch(&name, &apply_params(), &Patch::Apply(&claim))
            .await,
    );
    assert!(message.contains("is not labelled"), "{message}");
    // Only the label, by a merge patch.
    let label = json!({"metadata": {"labels": {MANAGED_BY: "scimitar"}}});
    refused_by_policy(
        "labelling kube-system ConfigMap by merge patch",
        as_operator
            .patch(&name, &PatchParams::default(), &Patch::Merge(&label))
            .await,
    );
    // Nor is the object, which carries no label, the operator's to delete.
    refused_by_policy(
        "deleting the kube-system ConfigMap",
        as_operator.delete(&name, &DeleteParams::default()).await,
    );

    let after = admin_read(&as_admin, &name).await;
    assert_eq!(
        after.as_ref().and_then(|c| c.data.clone()),
        original.data,
        "data unchanged"
    );
    unchanged("kube-system ConfigMap", &original, after);
    as_admin
        .delete(&name, &DeleteParams::default())
        .await
        .expect("cleanup");
}

#[tokio::test]
async fn unlabelled_config_maps_are_refused_and_labelled_ones_allowed() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let operator = operator_client(cp).await;
    let ns = namespace(&admin, "blast").await;

    for target in [ns.as_str(), "kube-system"] {
        let name = unique("unlabelled");
        let as_operator = Api::<ConfigMap>::namespaced(operator.clone(), target);
        let plain: ConfigMap =
            object(json!({"metadata": {"name": name, "namespace": target}, "data": {"a": "b"}}));
        let message = refused_by_policy(
            &format!("creating an unlabelled ConfigMap in {target}"),
            as_operator.create(&PostParams::default(), &plain).await,
        );
        assert!(message.contains("does not carry the label"), "{message}");
        refused_by_policy(
            &format!("server-side applying an unlabelled ConfigMap in {target}"),
            as_operator
                .patch(&name, &apply_params(), &Patch::Apply(&plain))
                .await,
        );
        let as_admin = Api::<ConfigMap>::namespaced(admin.clone(), target);
        assert!(
            admin_read(&as_admin, &name).await.is_none(),
            "an unlabelled ConfigMap was created in {target}"
        );
    }

    // Labelled as ours: created, changed and deleted like the directory
    // ConfigMaps, but the label cannot be taken off again.
    let name = unique("ours");
    let as_operator = Api::<ConfigMap>::namespaced(operator, &ns);
    let as_admin = Api::<ConfigMap>::namespaced(admin, &ns);
    let labelled: ConfigMap =
        object(json!({"metadata": ours(&name, Some(&ns)), "data": {"a": "b"}}));
    as_operator
        .patch(&name, &apply_params(), &Patch::Apply(&labelled))
        .await
        .expect("a labelled ConfigMap is the operator's to create");
    let changed = json!({"data": {"a": "c"}});
    let written = as_operator
        .patch(&name, &PatchParams::default(), &Patch::Merge(&changed))
        .await
        .expect("and to change");
    let unlabel = json!({"metadata": {"labels": {MANAGED_BY: null}}});
    refused_by_policy(
        "removing the label from a managed ConfigMap",
        as_operator
            .patch(&name, &PatchParams::default(), &Patch::Merge(&unlabel))
            .await,
    );
    unchanged(
        "managed ConfigMap",
        &written,
        admin_read(&as_admin, &name).await,
    );
    as_operator
        .delete(&name, &delete_exactly(&written))
        .await
        .expect("and to delete");
    assert!(admin_read(&as_admin, &name).await.is_none());
}

#[tokio::test]
async fn deleting_role_bindings_and_config_maps_we_do_not_manage_is_refused() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let operator = operator_client(cp).await;
    let ns = namespace(&admin, "blast-del").await;
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), &ns);
    let config_maps = Api::<ConfigMap>::namespaced(admin.clone(), &ns);
    let cluster_bindings = Api::<ClusterRoleBinding>::all(admin.clone());
    let binding = |name: &str, labels: Value| -> RoleBinding {
        object(json!({
            "metadata": {"name": name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]
        }))
    };
    let pp = PostParams::default();
    // Unlabelled, and labelled as another tool's (the chart's own RBAC is
    // labelled `managed-by: Helm`).
    let plain = bindings
        .create(&pp, &binding("someone-elses", json!({})))
        .await
        .expect("binding");
    let helms = bindings
        .create(&pp, &binding("helms", json!({MANAGED_BY: "Helm"})))
        .await
        .expect("binding");
    let config_map = config_maps
        .create(&pp, &object(json!({"metadata": {"name": "someone-elses"}})))
        .await
        .expect("ConfigMap");
    let cluster_name = unique("someone-elses");
    let cluster_binding = cluster_bindings
        .create(
            &pp,
            &object(json!({
                "metadata": {"name": cluster_name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]
            })),
        )
        .await
        .expect("ClusterRoleBinding");

    let op_bindings = Api::<RoleBinding>::namespaced(operator.clone(), &ns);
    for existing in [&plain, &helms] {
        let name = existing.name_any();
        for params in [DeleteParams::default(), delete_exactly(existing)] {
            let message = refused_by_policy(
                &format!("deleting RoleBinding {name}"),
                op_bindings.delete(&name, &params).await,
            );
            assert!(message.contains("is not labelled"), "{message}");
        }
        unchanged(
            &format!("RoleBinding {name}"),
            existing,
            admin_read(&bindings, &name).await,
        );
    }
    refused_by_policy(
        "deleting an unmanaged ConfigMap",
        Api::<ConfigMap>::namespaced(operator.clone(), &ns)
            .delete("someone-elses", &delete_exactly(&config_map))
            .await,
    );
    unchanged(
        "ConfigMap",
        &config_map,
        admin_read(&config_maps, "someone-elses").await,
    );
    refused_by_policy(
        "deleting an unmanaged ClusterRoleBinding",
        Api::<ClusterRoleBinding>::all(operator)
            .delete(&cluster_name, &DeleteParams::default())
            .await,
    );
    unchanged(
        "ClusterRoleBinding",
        &cluster_binding,
        admin_read(&cluster_bindings, &cluster_name).await,
    );
    cluster_bindings
        .delete(&cluster_name, &DeleteParams::default())
        .await
        .expect("cleanup");
}

/// Which layer refused a binding to `cluster-admin`.
fn refusal_layer(message: &str) -> &'static str {
    if message.contains("ValidatingAdmissionPolicy 'scimitar-operator-") {
        "the admission policy"
    } else if message.contains("attempting to grant RBAC permissions not currently held") {
        "RBAC's escalation check"
    } else {
        "an unexpected layer"
    }
}

#[tokio::test]
async fn a_binding_to_cluster_admin_is_refused() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let operator = operator_client(cp).await;
    let ns = namespace(&admin, "blast-ca").await;
    let name = unique("scimitar-escalation");
    let role_ref = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"});
    let subjects =
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oidc:mallory"}]);

    let cluster: ClusterRoleBinding =
        object(json!({"metadata": ours(&name, None), "roleRef": role_ref, "subjects": subjects}));
    let namespaced: RoleBinding = object(
        json!({"metadata": ours(&name, Some(&ns)), "roleRef": role_ref, "subjects": subjects}),
    );
    let attempts = [
        (
            "ClusterRoleBinding",
            Api::<ClusterRoleBinding>::all(operator.clone())
                .patch(&name, &apply_params(), &Patch::Apply(&cluster))
                .await
                .map(|_| ()),
        ),
        (
            "RoleBinding",
            Api::<RoleBinding>::namespaced(operator, &ns)
                .patch(&name, &apply_params(), &Patch::Apply(&namespaced))
                .await
                .map(|_| ()),
        ),
    ];
    for (kind, result) in attempts {
        match result {
            Err(kube::Error::Api(status)) if status.code == 403 => {
                let layer = refusal_layer(&status.message);
                eprintln!("a {kind} to cluster-admin was refused by {layer}");
                assert_ne!(
                    layer, "an unexpected layer",
                    "a {kind} to cluster-admin: 403, but from where? {}",
                    status.message
                );
            }
            other => {
                panic!("a {kind} to cluster-admin labelled as ours: expected 403, got {other:?}")
            }
        }
    }
    assert!(
        admin_read(&Api::<ClusterRoleBinding>::all(admin.clone()), &name)
            .await
            .is_none()
    );
    assert!(
        admin_read(&Api::<RoleBinding>::namespaced(admin, &ns), &name)
            .await
            .is_none()
    );
}

/// Whether `user` may `bind` the ClusterRole `role`, as RBAC decides.
async fn may_bind(admin: &Client, user: &str, role: &str) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some("bind".into()),
                group: Some("rbac.authorization.k8s.io".into()),
                resource: Some("clusterroles".into()),
                name: Some(role.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SubjectAccessReview>::all(admin.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

#[tokio::test]
async fn a_role_rbac_would_let_us_bind_but_outside_the_allowlist_is_refused_by_the_policy() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let operator = operator_client(cp).await;
    let ns = namespace(&admin, "blast-bind").await;
    let pp = PostParams::default();

    // A ClusterRole outside rbac.bindableClusterRoles with rights the operator
    // does not hold (pods), and a separate admin-made grant of `bind` on it to
    // the operator's ServiceAccount: RBAC's escalation check now lets the
    // operator bind it, so only the policy stands in the way.
    let extra = unique("blast-extra");
    let grant = unique("blast-grant-bind");
    let cluster_roles = Api::<ClusterRole>::all(admin.clone());
    let cluster_bindings = Api::<ClusterRoleBinding>::all(admin.clone());
    cluster_roles
        .create(
            &pp,
            &object(json!({
                "metadata": {"name": extra},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
            })),
        )
        .await
        .expect("extra ClusterRole");
    cluster_roles
        .create(
            &pp,
            &object(json!({
                "metadata": {"name": grant},
                "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                           "verbs": ["bind"], "resourceNames": [extra]}]
            })),
        )
        .await
        .expect("bind grant");
    cluster_bindings
        .create(
            &pp,
            &object(json!({
                "metadata": {"name": grant},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": grant},
                "subjects": [{"kind": "ServiceAccount", "name": "scimitar", "namespace": OPERATOR_NAMESPACE}]
            })),
        )
        .await
        .expect("bind grant binding");
    let started = Instant::now();
    while !may_bind(&admin, OPERATOR_USER, &extra).await {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "RBAC does not let the operator bind {extra} 20 s after the grant"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let subjects =
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oidc:alice"}]);
    let binding = |name: &str, kind: &str, role: &str| -> RoleBinding {
        object(json!({
            "metadata": ours(name, Some(&ns)),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
            "subjects": subjects
        }))
    };
    let op_bindings = Api::<RoleBinding>::namespaced(operator.clone(), &ns);
    let admin_bindings = Api::<RoleBinding>::namespaced(admin.clone(), &ns);
    let message = refused_by(
        BINDINGS_POLICY,
        "a RoleBinding to a ClusterRole outside the allowlist",
        op_bindings
            .patch(
                "outside",
                &apply_params(),
                &Patch::Apply(&binding("outside", "ClusterRole", &extra)),
            )
            .await,
    );
    assert!(
        message.contains("rbac.bindableClusterRoles") && message.contains(&extra),
        "{message}"
    );
    assert!(admin_read(&admin_bindings, "outside").await.is_none());
    let cluster_name = unique("outside");
    let cluster: ClusterRoleBinding = object(json!({
        "metadata": ours(&cluster_name, None),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": extra},
        "subjects": subjects
    }));
    refused_by(
        BINDINGS_POLICY,
        "a ClusterRoleBinding to a ClusterRole outside the allowlist",
        Api::<ClusterRoleBinding>::all(operator.clone())
            .patch(&cluster_name, &apply_params(), &Patch::Apply(&cluster))
            .await,
    );
    assert!(admin_read(&cluster_bindings, &cluster_name).await.is_none());

    // Controls: an allowlisted ClusterRole and a namespaced Role (tenants may
    // map Roles) are bound.
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(
            &pp,
            &object(json!({
                "metadata": {"name": "reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
            })),
        )
        .await
        .expect("Role");
    for (name, kind, role) in [
        ("inside", "ClusterRole", "view"),
        ("role", "Role", "reader"),
    ] {
        op_bindings
            .patch(
                name,
                &apply_params(),
                &Patch::Apply(&binding(name, kind, role)),
            )
            .await
            .unwrap_or_else(|e| panic!("a RoleBinding to {kind} {role}: {e}"));
        op_bindings
            .delete(name, &DeleteParams::default())
            .await
            .expect("the operator deletes its own binding");
    }

    cluster_bindings
        .delete(&grant, &DeleteParams::default())
        .await
        .expect("cleanup");
    for role in [&grant, &extra] {
        cluster_roles
            .delete(role, &DeleteParams::default())
            .await
            .expect("cleanup");
    }
}

#[tokio::test]
async fn bindings_to_service_accounts_and_system_names_are_refused() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let operator = operator_client(cp).await;
    let ns = namespace(&admin, "blast-sub").await;
    let op_bindings = Api::<RoleBinding>::namespaced(operator, &ns);
    let admin_bindings = Api::<RoleBinding>::namespaced(admin, &ns);
    let binding = |name: &str, subject: Value| -> RoleBinding {
        object(json!({
            "metadata": ours(name, Some(&ns)),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [subject]
        }))
    };
    let refused = [
        (
            "service-account",
            json!({"kind": "ServiceAccount", "name": "default", "namespace": ns}),
        ),
        (
            "system-user",
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "System:admin"}),
        ),
        (
            "system-group",
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}),
        ),
    ];
    for (name, subject) in refused {
        let message = refused_by(
            BINDINGS_POLICY,
            &format!("a binding to {subject}"),
            op_bindings
                .patch(
                    name,
                    &apply_params(),
                    &Patch::Apply(&binding(name, subject)),
                )
                .await,
        );
        assert!(message.contains("ServiceAccounts or system:"), "{message}");
        assert!(admin_read(&admin_bindings, name).await.is_none());
    }
    let alice =
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oidc:alice"});
    op_bindings
        .patch(
            "alice",
            &apply_params(),
            &Patch::Apply(&binding("alice", alice)),
        )
        .await
        .expect("an ordinary user is bound");
}

#[tokio::test]
async fn writes_to_secrets_and_leases_we_do_not_manage_are_refused() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    // Installs the operator's namespace, RBAC and policy first.
    let operator = operator_client(cp).await;
    let ns = namespace(&admin, "blast-sec").await;
    let pp = PostParams::default();

    // Secrets in the operator's own namespace, where RBAC lets it create,
    // patch and delete them (API tokens, the console's cookie key).
    let admin_secrets = Api::<Secret>::namespaced(admin.clone(), OPERATOR_NAMESPACE);
    let op_secrets = Api::<Secret>::namespaced(operator.clone(), OPERATOR_NAMESPACE);
    let name = unique("someone-elses");
    let secret = admin_secrets
        .create(
            &pp,
            &object(json!({"metadata": {"name": name}, "stringData": {"key": "value"}})),
        )
        .await
        .expect("admin creates a Secret");
    let label = json!({"metadata": {"labels": {MANAGED_BY: "scimitar"}}});
    refused_by_policy(
        "labelling an unmanaged Secret",
        op_secrets
            .patch(&name, &PatchParams::default(), &Patch::Merge(&label))
            .await,
    );
    refused_by_policy(
        "deleting an unmanaged Secret",
        op_secrets.delete(&name, &DeleteParams::default()).await,
    );
    unchanged("Secret", &secret, admin_read(&admin_secrets, &name).await);
    let fresh = unique("unlabelled");
    refused_by_policy(
        "creating an unlabelled Secret",
        op_secrets
            .create(&pp, &object(json!({"metadata": {"name": fresh}})))
            .await,
    );
    assert!(admin_read(&admin_secrets, &fresh).await.is_none());
    admin_secrets
        .delete(&name, &DeleteParams::default())
        .await
        .expect("cleanup");

    // Leases in any namespace (the operator writes userName anchors in
    // tenant namespaces).
    let admin_leases = Api::<Lease>::namespaced(admin.clone(), &ns);
    let op_leases = Api::<Lease>::namespaced(operator.clone(), &ns);
    let lease = admin_leases
        .create(
            &pp,
            &object(
                json!({"metadata": {"name": "someone-elses"}, "spec": {"holderIdentity": "them"}}),
            ),
        )
        .await
        .expect("admin creates a Lease");
    let mut taken = lease.clone();
    taken
        .labels_mut()
        .insert(MANAGED_BY.into(), "scimitar".into());
    taken
        .spec
        .get_or_insert_with(Default::default)
        .holder_identity = Some("scimitar".into());
    refused_by_policy(
        "taking over an unmanaged Lease",
        op_leases.replace("someone-elses", &pp, &taken).await,
    );
    refused_by_policy(
        "deleting an unmanaged Lease",
        op_leases
            .delete("someone-elses", &delete_exactly(&lease))
            .await,
    );
    unchanged(
        "Lease",
        &lease,
        admin_read(&admin_leases, "someone-elses").await,
    );
    refused_by_policy(
        "creating an unlabelled Lease",
        op_leases
            .create(&pp, &object(json!({"metadata": {"name": "unlabelled"}})))
            .await,
    );
    assert!(admin_read(&admin_leases, "unlabelled").await.is_none());
    // The operator's own kind of Lease (a userName anchor) is allowed.
    let anchor = op_leases
        .create(
            &pp,
            &object(json!({"metadata": {"name": "anchor", "labels": {MANAGED_BY: "scimitar"}}})),
        )
        .await
        .expect("a labelled Lease");
    op_leases
        .delete("anchor", &delete_exactly(&anchor))
        .await
        .expect("deleting it");
}

#[tokio::test]
async fn scim_users_and_groups_we_did_not_create_are_left_alone() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = operator_client(cp).await;
    let ns = namespace(&admin, "blast-scim").await;
    let admin_users = Api::<ScimUser>::namespaced(admin, &ns);
    let op_users = Api::<ScimUser>::namespaced(operator, &ns);
    let pp = PostParams::default();
    let user = admin_users
        .create(
            &pp,
            &object(
                json!({"metadata": {"name": "hand-made"}, "spec": {"userName": "eve@example.com"}}),
            ),
        )
        .await
        .expect("admin creates a ScimUser");
    let rename = json!({"spec": {"userName": "mallory@example.com"}});
    refused_by_policy(
        "changing an unlabelled ScimUser",
        op_users
            .patch("hand-made", &PatchParams::default(), &Patch::Merge(&rename))
            .await,
    );
    refused_by_policy(
        "deleting an unlabelled ScimUser",
        op_users.delete("hand-made", &DeleteParams::default()).await,
    );
    unchanged(
        "ScimUser",
        &user,
        admin_read(&admin_users, "hand-made").await,
    );
    refused_by_policy(
        "creating an unlabelled ScimUser",
        op_users
            .create(
                &pp,
                &object(json!({"metadata": {"name": "unlabelled"}, "spec": {"userName": "x"}})),
            )
            .await,
    );
    assert!(admin_read(&admin_users, "unlabelled").await.is_none());
}

#[tokio::test]
async fn the_leader_lease_of_an_older_operator_is_adopted_and_labelled() {
    // Its own control plane: no other operator may take the Lease.
    let cp = &ControlPlane::dedicated("lease-adoption");
    let admin = cp.admin().await;
    install_crds(&admin).await;
    // Installs the operator's namespace, RBAC and policy first.
    let operator = operator_client(cp).await;
    let leases = Api::<Lease>::namespaced(admin.clone(), OPERATOR_NAMESPACE);
    let name = scimitar::leader::LEASE_NAME;
    // As an operator without the label left it: held by a replica long gone.
    let _ = leases.delete(name, &DeleteParams::default()).await;
    let an_hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    leases
        .create(
            &PostParams::default(),
            &object(json!({
                "metadata": {"name": name},
                "spec": {"holderIdentity": "scimitar-old", "leaseDurationSeconds": 15,
                         "renewTime": MicroTime(an_hour_ago)}
            })),
        )
        .await
        .expect("an old, unlabelled leader Lease");

    let replica = Operator::start_with(
        cp,
        &["--leader-lease-seconds", "4", "--leader-retry-seconds", "1"],
    );
    let started = Instant::now();
    let lease = loop {
        let lease = leases.get(name).await.expect("the Lease");
        let holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone());
        if holder.as_deref() == Some(&*replica.identity) {
            break lease;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the operator did not take over the old Lease in 30 s (holder {holder:?}); see {}",
            replica.log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        lease.labels().get(MANAGED_BY).map(String::as_str),
        Some("scimitar"),
        "the adopted Lease is labelled"
    );

    // The exception is that one Lease: another unlabelled Lease in the
    // operator's namespace is not the operator's to label.
    let other = unique("not-the-leader");
    let mine = leases
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": other}})),
        )
        .await
        .expect("another Lease");
    let mut labelled = mine.clone();
    labelled
        .labels_mut()
        .insert(MANAGED_BY.into(), "scimitar".into());
    refused_by_policy(
        "labelling another Lease in the operator's namespace",
        Api::<Lease>::namespaced(operator, OPERATOR_NAMESPACE)
            .replace(&other, &PostParams::default(), &labelled)
            .await,
    );
    unchanged("Lease", &mine, admin_read(&leases, &other).await);
    leases
        .delete(&other, &DeleteParams::default())
        .await
        .expect("cleanup");
    drop(replica);
}

/// Depends on the chart's Secret rules being narrowed to the release
/// namespace and an allowlist: admission never sees reads, so only RBAC can
/// refuse this.
#[tokio::test]
async fn reading_a_kube_system_secret_is_refused() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let operator = operator_client(cp).await;
    let name = unique("not-ours");
    let as_admin = Api::<Secret>::namespaced(admin, "kube-system");
    let secret: Secret =
        object(json!({"metadata": {"name": name}, "stringData": {"key": "value"}}));
    as_admin
        .create(&PostParams::default(), &secret)
        .await
        .expect("admin creates a kube-system Secret");
    let read = Api::<Secret>::namespaced(operator, "kube-system")
        .get(&name)
        .await;
    as_admin
        .delete(&name, &DeleteParams::default())
        .await
        .expect("cleanup");
    match read {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        Ok(_) => panic!(
            "the operator read Secret kube-system/{name}: its ClusterRole still grants `get secrets` cluster-wide"
        ),
        Err(other) => panic!("expected 403, got {other:?}"),
    }
}
