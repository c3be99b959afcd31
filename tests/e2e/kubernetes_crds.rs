//! The CRDs against the real API server: accepted as structural schemas, objects
//! round-trip through the kube client, and `kubectl get` shows useful columns.

use crate::support::kubectl::{kubectl, table};
use crate::support::{ControlPlane, install_crds, namespace};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use scimitar::crd::{
    EnterpriseAttributes, GroupMember, Manager, MultiValue, ScimGroup, ScimGroupSpec, ScimTenant,
    ScimTenantSpec, ScimUser, ScimUserSpec, ScimUserStatus,
};
use serde_json::json;

#[tokio::test]
async fn kubectl_get_scimusers_prints_the_printer_columns() {
    let cp = ControlPlane::shared();
    let client = cp.admin().await;
    install_crds(&client).await;
    let ns = namespace(&client, "crds").await;

    let users: Api<ScimUser> = Api::namespaced(client.clone(), &ns);
    let mut user = ScimUser::new(
        "2819c223-7f76-453a-919d-413861904646",
        ScimUserSpec {
            user_name: "bjensen@example.com".into(),
            display_name: Some("Babs Jensen".into()),
            active: Some(false),
            emails: vec![MultiValue {
                value: Some("bjensen@example.com".into()),
                type_: Some("work".into()),
                primary: Some(true),
                ..Default::default()
            }],
            enterprise: Some(EnterpriseAttributes {
                department: Some("Tour Operations".into()),
                manager: Some(Manager {
                    value: Some("26118915".into()),
                    reference: Some("../Users/26118915".into()),
                    display_name: Some("John Smith".into()),
                }),
                ..Default::default()
            }),
            extra: [("nickName2".to_owned(), json!({"any": ["shape", 1]}))].into(),
            ..Default::default()
        },
    );
    let created = users
        .create(&PostParams::default(), &user)
        .await
        .expect("ScimUser created");
    assert_eq!(
        created.spec, user.spec,
        "the API server keeps every field, including `extra`"
    );

    user.status = Some(ScimUserStatus {
        active: Some(false),
        email: Some("bjensen@example.com".into()),
        groups: vec!["engineering".into(), "ops".into()],
        group_names: "engineering, ops".into(),
        subject: Some("oidc:bjensen@example.com".into()),
        ..Default::default()
    });
    let status = json!({ "status": user.status });
    users
        .patch_status(
            &user.metadata.name.clone().unwrap(),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .expect("status subresource accepts a patch");

    let rows = table(&kubectl(&cp.kubeconfig, &["get", "scimusers", "-n", &ns]));
    assert_eq!(
        rows[0],
        [
            "NAME",
            "USER NAME",
            "DISPLAY NAME",
            "ACTIVE",
            "GROUPS",
            "READY",
            "AGE"
        ]
    );
    assert_eq!(rows.len(), 2, "one user listed: {rows:?}");
    let row = &rows[1];
    assert_eq!(row[0], "2819c223-7f76-453a-919d-413861904646");
    assert_eq!(row[1], "bjensen@example.com");
    assert_eq!(row[2], "Babs Jensen");
    assert_eq!(row[3], "false");
    assert_eq!(row[4], "engineering, ops");

    let rows = table(&kubectl(
        &cp.kubeconfig,
        &["get", "scimusers", "-n", &ns, "-o", "wide"],
    ));
    assert_eq!(
        rows[0][5..],
        ["READY", "AGE", "EMAIL", "SUBJECT", "EXTERNAL ID"]
    );
    assert_eq!(
        rows[1][7..],
        ["bjensen@example.com", "oidc:bjensen@example.com", ""]
    );

    // The short name and the field selector on userName work too.
    let by_short = kubectl(
        &cp.kubeconfig,
        &[
            "get",
            "suser",
            "-n",
            &ns,
            "--field-selector",
            "spec.userName=bjensen@example.com",
            "-o",
            "name",
        ],
    );
    assert_eq!(
        by_short.trim(),
        "scimuser.scimitar.dev/2819c223-7f76-453a-919d-413861904646"
    );
}

#[tokio::test]
async fn kubectl_get_scim_lists_every_kind() {
    let cp = ControlPlane::shared();
    let client = cp.admin().await;
    install_crds(&client).await;
    let ns = namespace(&client, "category").await;

    let tenant_name = format!("t-{ns}");
    let tenants: Api<ScimTenant> = Api::all(client.clone());
    let tenant = ScimTenant::new(
        &tenant_name,
        ScimTenantSpec {
            namespace: ns.clone(),
            provider: Default::default(),
            subjects: Default::default(),
            mappings: vec![],
            derived_namespaces: Default::default(),
            token_secret_ref: None,
            oidc: None,
            console_admin_groups: vec![],
            console_token_admin_groups: Vec::new(),
            nested_groups: Default::default(),
        },
    );
    let created = tenants
        .create(&PostParams::default(), &tenant)
        .await
        .expect("tenant created");
    assert_eq!(
        created.spec.subjects.user_prefix, "oidc:",
        "defaults applied by the API server"
    );

    let users: Api<ScimUser> = Api::namespaced(client.clone(), &ns);
    users
        .create(
            &PostParams::default(),
            &ScimUser::new(
                "u1",
                ScimUserSpec {
                    user_name: "u1@example.com".into(),
                    ..Default::default()
                },
            ),
        )
        .await
        .expect("user created");
    let groups: Api<ScimGroup> = Api::namespaced(client.clone(), &ns);
    let group = ScimGroup::new(
        "g1",
        ScimGroupSpec {
            display_name: "engineering".into(),
            members: vec![GroupMember {
                value: "u1".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    groups
        .create(&PostParams::default(), &group)
        .await
        .expect("group created");

    // The category spans the namespaced kinds in `ns`, not the
    // cluster-scoped tenants (a namespace's readers may not list those).
    let listed = kubectl(&cp.kubeconfig, &["get", "scim", "-n", &ns, "-o", "name"]);
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort();
    assert_eq!(
        names,
        ["scimgroup.scimitar.dev/g1", "scimuser.scimitar.dev/u1"]
    );

    let rows = table(&kubectl(&cp.kubeconfig, &["get", "scimgroups", "-n", &ns]));
    assert_eq!(
        rows[0],
        [
            "NAME",
            "DISPLAY NAME",
            "MEMBERS",
            "BINDINGS",
            "ROLES",
            "READY",
            "AGE"
        ]
    );
    assert_eq!(rows[1][1], "engineering");

    let rows = table(&kubectl(
        &cp.kubeconfig,
        &["get", "scimtenant", &tenant_name],
    ));
    assert_eq!(
        rows[0],
        [
            "NAME",
            "NAMESPACE",
            "PROVIDER",
            "USERS",
            "GROUPS",
            "MAPPINGS",
            "READY",
            "AGE"
        ]
    );
    assert_eq!(rows[1][1], ns);
    assert_eq!(rows[1][2], "generic");
    let rows = table(&kubectl(
        &cp.kubeconfig,
        &["get", "scimtenant", &tenant_name, "-o", "wide"],
    ));
    assert_eq!(rows[0].last().map(String::as_str), Some("SCIM URL"));
}

#[tokio::test]
async fn invalid_objects_are_rejected_by_the_schema() {
    let cp = ControlPlane::shared();
    let client = cp.admin().await;
    install_crds(&client).await;
    let ns = namespace(&client, "invalid").await;
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client, &ns, &kube::api::ApiResource::erase::<ScimUser>(&()));
    let bad: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "scimitar.dev/v1alpha1",
        "kind": "ScimUser",
        "metadata": {"name": "bad"},
        "spec": {"displayName": "no userName"}
    }))
    .unwrap();
    let err = api
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("userName is required");
    assert!(err.to_string().contains("userName"), "{err}");
}
