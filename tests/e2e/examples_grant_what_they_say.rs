//! Every tenant in `examples/`, applied as an admin would (`kubectl apply -f
//! examples/<name>/`, then `scimitar token create`) to the real API server
//! with the operator running: a user and a group provisioned over SCIM get
//! the access the example's comments promise, and nothing elsewhere, as
//! SubjectAccessReview sees it. One control plane and one operator for all.

use scimitar::scim::schema::PATCH_OP_URN;
use std::time::Duration;

use crate::support;
use crate::support::kubectl::kubectl;
use crate::support::operator::{
    Operator, Scim, access, can, ensure_operator_namespace, tenant_secret, until,
};
use crate::support::{ControlPlane, install_crds, repo};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use scimitar::crd::{ScimTenant, ScimUser};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Applies `examples/<example>/`, issues a SCIM token for `tenant` with the
/// CLI, and returns a SCIM client for it once the operator accepts it.
async fn apply_example(example: &str, tenant: &str) -> (Client, Scim) {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    ensure_operator_namespace(&admin).await;
    let dir = repo().join("examples").join(example);
    // The console's OIDC client secret, kept where the example's comment
    // says, before the tenant names it.
    for tenant in example_tenants(&dir) {
        let name = tenant.metadata.name.as_deref().expect("tenant name");
        // The SCIM token's digest Secret the example names (`make dev`
        // writes it): without it the tenant is Degraded/SecretMissing.
        // Its token is never used; the CLI issues the one the test sends.
        if let Some(secret) = &tenant.spec.token_secret_ref {
            let digest = "0".repeat(64);
            tenant_secret(&admin, name, &secret.name, &secret.key, &digest).await;
        }
        if let Some(oidc) = &tenant.spec.oidc {
            let secret = &oidc.client_secret_ref;
            tenant_secret(
                &admin,
                name,
                &secret.name,
                &secret.key,
                "example-client-secret",
            )
            .await;
        }
    }
    kubectl(
        &cp.kubeconfig,
        &["apply", "--server-side", "-f", &dir.display().to_string()],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(["token", "create", "--kubeconfig"])
        .arg(&cp.kubeconfig)
        .args(["--tenant", tenant, "--name", "examples test"])
        .output()
        .expect("scimitar token create ran");
    assert!(
        out.status.success(),
        "scimitar token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned();
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    (admin, scim)
}

/// The ScimTenants among the manifests of an example directory.
fn example_tenants(dir: &std::path::Path) -> Vec<ScimTenant> {
    let mut tenants = Vec::new();
    for entry in std::fs::read_dir(dir).expect("example directory") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("manifest");
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(document).expect("YAML");
            if value["kind"] == "ScimTenant" {
                tenants.push(serde_json::from_value(value).expect("a valid ScimTenant"));
            }
        }
    }
    tenants
}

/// Creates a user and returns its id.
async fn user(scim: &Scim, body: Value) -> String {
    let reply = scim.send("POST", "/Users", Some(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// A user whose userName and only (primary, work) email are `email`.
async fn user_with_email(scim: &Scim, email: &str) -> String {
    user(
        scim,
        json!({
            "schemas": [USER],
            "userName": email,
            "emails": [{"value": email, "type": "work", "primary": true}],
            "active": true
        }),
    )
    .await
}

/// Creates a group with `members` and returns its id.
async fn group(scim: &Scim, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let reply = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": name, "members": members})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// Waits until the tenant reports `Ready` for its current spec, and shows
/// its conditions when it does not: an example the operator refuses part of
/// (RoleNotBindable, RoleNotFound, ...) fails here.
async fn ready(admin: &Client, tenant: &str) {
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    let mut last = Value::Null;
    for _ in 0..300 {
        let t = tenants.get(tenant).await.expect("tenant");
        let status = t.status.clone().unwrap_or_default();
        let current = status.observed_generation == t.metadata.generation;
        let is = |kind: &str, want: &str| {
            status
                .conditions
                .iter()
                .any(|c| c.type_ == kind && c.status == want)
        };
        if current && is("Ready", "True") && !is("Degraded", "True") {
            return;
        }
        last = serde_json::to_value(&status.conditions).expect("JSON");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tenant {tenant} not Ready after 30 s: {last}");
}

/// Whether `user` in `groups` may `verb` `resource` in `namespace` (all
/// namespaces when `None`), as the API server's RBAC authorizer decides.
async fn can_as(
    admin: &Client,
    user: &str,
    groups: &[&str],
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    let (group, resource) = resource.rsplit_once('/').unwrap_or(("", resource));
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            groups: Some(groups.iter().map(|g| (*g).to_owned()).collect()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                group: Some(group.to_owned()),
                resource: Some(resource.to_owned()),
                namespace: namespace.map(str::to_owned),
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
async fn acme_jumpcloud_grants_view_edit_and_admin_where_mapped() {
    let (admin, scim) = apply_example("acme", "acme").await;
    let reader = user_with_email(&scim, "rita@acme.example").await;
    let dev = user_with_email(&scim, "dan@acme.example").await;
    let platform = user_with_email(&scim, "pat@acme.example").await;
    group(&scim, "acme-readers", &[&reader]).await;
    group(&scim, "acme-developers", &[&dev]).await;
    group(&scim, "acme-platform", &[&platform]).await;

    for ns in ["acme-dev", "acme-prod"] {
        access(&admin, "oidc:rita@acme.example", "list", "pods", ns, true).await;
        access(
            &admin,
            "oidc:pat@acme.example",
            "create",
            "rbac.authorization.k8s.io/rolebindings",
            ns,
            true,
        )
        .await;
    }
    assert!(
        !can(
            &admin,
            "oidc:rita@acme.example",
            "create",
            "pods",
            "acme-dev"
        )
        .await
    );
    access(
        &admin,
        "oidc:dan@acme.example",
        "create",
        "apps/deployments",
        "acme-dev",
        true,
    )
    .await;
    assert!(!can(&admin, "oidc:dan@acme.example", "list", "pods", "acme-prod").await);
    assert!(
        !can(
            &admin,
            "oidc:dan@acme.example",
            "create",
            "rbac.authorization.k8s.io/rolebindings",
            "acme-dev"
        )
        .await
    );
    ready(&admin, "acme").await;
}

#[tokio::test]
async fn okta_groups_match_ignoring_case_and_deactivation_revokes() {
    let (admin, scim) = apply_example("okta", "initech").await;
    let peter = user_with_email(&scim, "peter.gibbons@initech.example").await;
    let milton = user_with_email(&scim, "milton@initech.example").await;
    // Okta pushes groups under their Okta names; the mappings spell them
    // "initech engineering" and "Initech Developers".
    group(&scim, "Initech Engineering", &[&peter, &milton]).await;
    group(&scim, "Initech Developers", &[&peter]).await;

    let peter_name = "oidc:peter.gibbons@initech.example";
    access(
        &admin,
        peter_name,
        "update",
        "apps/deployments",
        "initech-dev",
        true,
    )
    .await;
    access(&admin, peter_name, "list", "pods", "initech-prod", true).await;
    access(
        &admin,
        "oidc:milton@initech.example",
        "list",
        "pods",
        "initech-dev",
        true,
    )
    .await;
    assert!(
        !can(
            &admin,
            peter_name,
            "update",
            "apps/deployments",
            "initech-prod"
        )
        .await
    );
    assert!(
        !can(
            &admin,
            "oidc:milton@initech.example",
            "update",
            "apps/deployments",
            "initech-dev"
        )
        .await
    );
    ready(&admin, "initech").await;

    // Okta's deactivation: a PATCH without path.
    let off = scim
        .send(
            "PATCH",
            &format!("/Users/{peter}"),
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "value": {"active": false}}]})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    access(
        &admin,
        peter_name,
        "update",
        "apps/deployments",
        "initech-dev",
        false,
    )
    .await;
    access(&admin, peter_name, "list", "pods", "initech-prod", false).await;
}

#[tokio::test]
async fn entra_binds_users_by_user_principal_name() {
    let (admin, scim) = apply_example("entra", "contoso").await;
    // Entra maps userName from userPrincipalName and emails from mail.
    let adele = user(
        &scim,
        json!({
            "schemas": [USER],
            "userName": "adele.vance@contoso.onmicrosoft.com",
            "emails": [{"value": "adele@contoso.com", "type": "work", "primary": true}],
            "active": true
        }),
    )
    .await;
    let reply = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "displayName": "k8s-dev-editors",
                "externalId": "6c5b1ab2-3a6e-4a9e-9c55-8c8d6e5f2a10"
            })),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let editors = reply.body["id"].as_str().expect("id").to_owned();
    // Entra adds members by PATCH, capitalised.
    let added = scim
        .send(
            "PATCH",
            &format!("/Groups/{editors}"),
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "Add", "path": "members", "value": [{"value": adele}]}]})),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);

    let upn = "oidc:adele.vance@contoso.onmicrosoft.com";
    access(
        &admin,
        upn,
        "create",
        "apps/deployments",
        "contoso-dev",
        true,
    )
    .await;
    assert!(
        !can(
            &admin,
            "oidc:adele@contoso.com",
            "list",
            "pods",
            "contoso-dev"
        )
        .await,
        "with usernameClaim: upn the mail grants nothing"
    );
    assert!(!can(&admin, upn, "list", "pods", "contoso").await);
    ready(&admin, "contoso").await;
}

#[tokio::test]
async fn a_generic_oidc_idp_binds_prefixed_usernames() {
    let (admin, scim) = apply_example("oidc-generic", "globex").await;
    let hank = user(
        &scim,
        json!({
            "schemas": [USER],
            "userName": "hank",
            "emails": [{"value": "hank.scorpio@globex.example", "primary": true}],
            "active": true
        }),
    )
    .await;
    group(&scim, "globex-developers", &[&hank]).await;

    access(
        &admin,
        "sso:hank",
        "create",
        "apps/deployments",
        "globex-apps",
        true,
    )
    .await;
    for other in ["oidc:hank", "sso:hank.scorpio@globex.example", "hank"] {
        assert!(
            !can(&admin, other, "list", "pods", "globex-apps").await,
            "{other} must get nothing"
        );
    }
    assert!(!can(&admin, "sso:hank", "list", "pods", "globex").await);
    ready(&admin, "globex").await;
}

#[tokio::test]
async fn bind_group_grants_through_the_token_groups_claim() {
    let (admin, scim) = apply_example("bind-group", "hooli").await;
    let gavin = user_with_email(&scim, "gavin@hooli.example").await;
    group(&scim, "hooli-oncall", &[&gavin]).await;

    // The binding names the group, not its members.
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), "hooli-prod");
    let subjects = || async {
        bindings
            .list(&ListParams::default().labels("scimitar.dev/tenant=hooli"))
            .await
            .expect("bindings")
            .items
            .iter()
            .flat_map(|b| b.subjects.iter().flatten())
            .map(|s| format!("{}:{}", s.kind, s.name))
            .collect::<Vec<_>>()
    };
    until("the on-call binding names the group", true, || async {
        subjects().await == ["Group:oidc:hooli-oncall"]
    })
    .await;

    // Anyone whose ID token lists the group gets admin in hooli-prod;
    // gavin's user name alone gets nothing.
    let oncall = ["oidc:hooli-oncall"];
    let gavin_name = "oidc:gavin@hooli.example";
    let admin_in_prod = |groups: &'static [&'static str]| {
        let admin = admin.clone();
        move || {
            let admin = admin.clone();
            async move {
                can_as(
                    &admin,
                    gavin_name,
                    groups,
                    "create",
                    "rbac.authorization.k8s.io/rolebindings",
                    Some("hooli-prod"),
                )
                .await
            }
        }
    };
    until(
        "admin in hooli-prod through the group",
        true,
        admin_in_prod(&["oidc:hooli-oncall"]),
    )
    .await;
    assert!(!can_as(&admin, gavin_name, &[], "list", "pods", Some("hooli-prod")).await);
    assert!(!can_as(&admin, gavin_name, &oncall, "list", "pods", Some("hooli")).await);
    assert!(
        !can_as(
            &admin,
            gavin_name,
            &["oidc:hooli-others"],
            "list",
            "pods",
            Some("hooli-prod")
        )
        .await
    );
    ready(&admin, "hooli").await;

    // Deactivating gavin over SCIM leaves the group's binding as it was:
    // what the docs warn about (access lasts until his ID token expires).
    let off = scim
        .send(
            "PATCH",
            &format!("/Users/{gavin}"),
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    // Once the controller has seen the deactivation (the user's status
    // describes the new spec), the binding still names the group.
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), "hooli");
    until("the controller saw the deactivation", true, || async {
        let u = users.get(&gavin).await.expect("gavin");
        u.status.and_then(|s| s.observed_generation) == u.metadata.generation
    })
    .await;
    ready(&admin, "hooli").await;
    assert_eq!(subjects().await, ["Group:oidc:hooli-oncall"]);
    until(
        "admin in hooli-prod after deactivation",
        true,
        admin_in_prod(&["oidc:hooli-oncall"]),
    )
    .await;
    assert!(!can_as(&admin, gavin_name, &[], "list", "pods", Some("hooli-prod")).await);
}

#[tokio::test]
async fn a_namespaced_role_grants_only_its_rules_in_its_namespace() {
    let (admin, scim) = apply_example("namespaced-role", "umbrella").await;
    let alice = user_with_email(&scim, "alice@umbrella.example").await;
    group(&scim, "umbrella-deployers", &[&alice]).await;

    let alice_name = "oidc:alice@umbrella.example";
    access(
        &admin,
        alice_name,
        "patch",
        "apps/deployments",
        "umbrella-apps",
        true,
    )
    .await;
    access(&admin, alice_name, "list", "pods", "umbrella-apps", true).await;
    for (verb, resource) in [
        ("delete", "apps/deployments"),
        ("create", "pods"),
        ("get", "secrets"),
        ("list", "configmaps"),
    ] {
        assert!(
            !can(&admin, alice_name, verb, resource, "umbrella-apps").await,
            "the Role does not allow {verb} {resource}"
        );
    }
    assert!(!can(&admin, alice_name, "patch", "apps/deployments", "umbrella").await);
    ready(&admin, "umbrella").await;
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), "umbrella-apps");
    let ours = bindings
        .list(&ListParams::default().labels("scimitar.dev/tenant=umbrella"))
        .await
        .expect("bindings")
        .items;
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].role_ref.kind, "Role");
    assert_eq!(ours[0].role_ref.name, "deployer");
}

#[tokio::test]
async fn a_cluster_wide_mapping_grants_in_every_namespace() {
    let (admin, scim) = apply_example("cluster-wide", "wayne").await;
    let lucius = user_with_email(&scim, "lucius@wayne.example").await;
    user_with_email(&scim, "alfred@wayne.example").await;
    group(&scim, "wayne-auditors", &[&lucius]).await;

    let lucius_name = "oidc:lucius@wayne.example";
    access(&admin, lucius_name, "list", "pods", "default", true).await;
    // Any namespace, also one made after the binding, and across all of them.
    let later = support::namespace(&admin, "wayne-later").await;
    assert!(can(&admin, lucius_name, "list", "pods", &later).await);
    assert!(can_as(&admin, lucius_name, &[], "list", "apps/deployments", None).await);
    // view: no Secrets, no writes; alfred is in no mapped group.
    assert!(!can(&admin, lucius_name, "get", "secrets", &later).await);
    assert!(!can(&admin, lucius_name, "create", "pods", "default").await);
    assert!(
        !can(
            &admin,
            "oidc:alfred@wayne.example",
            "list",
            "pods",
            "default"
        )
        .await
    );
    ready(&admin, "wayne").await;
    let cluster_bindings: Api<ClusterRoleBinding> = Api::all(admin.clone());
    let ours = cluster_bindings
        .list(&ListParams::default().labels("scimitar.dev/tenant=wayne"))
        .await
        .expect("cluster bindings")
        .items;
    assert_eq!(ours.len(), 1, "one ClusterRoleBinding, no RoleBindings");
    assert_eq!(ours[0].role_ref.name, "view");
}

#[tokio::test]
async fn team_groups_get_edit_in_the_namespaces_their_names_derive() {
    let (admin, scim) = apply_example("team-namespaces", "umbrella").await;
    let pay = user_with_email(&scim, "pay@umbrella.example").await;
    let find = user_with_email(&scim, "find@umbrella.example").await;
    let root = user_with_email(&scim, "root@umbrella.example").await;
    let pager = user_with_email(&scim, "pager@umbrella.example").await;
    group(&scim, "team-payments", &[&pay]).await;
    group(&scim, "team-search", &[&find]).await;
    group(&scim, "team-kube-system", &[&root]).await;
    group(&scim, "oncall", &[&pager]).await;

    let user = |name: &str| format!("oidc:{name}@umbrella.example");
    access(
        &admin,
        &user("pay"),
        "create",
        "apps/deployments",
        "payments",
        true,
    )
    .await;
    access(
        &admin,
        &user("find"),
        "create",
        "apps/deployments",
        "search",
        true,
    )
    .await;
    access(&admin, &user("pager"), "list", "pods", "search", true).await;
    // Each team in its own namespace only; on-call reads where labelled.
    assert!(!can(&admin, &user("pay"), "get", "pods", "search").await);
    assert!(!can(&admin, &user("find"), "get", "pods", "payments").await);
    assert!(!can(&admin, &user("pager"), "list", "pods", "payments").await);
    assert!(!can(&admin, &user("pager"), "create", "pods", "search").await);
    // A group named to reach kube-system reaches nothing.
    for verb in ["get", "list", "create"] {
        assert!(!can(&admin, &user("root"), verb, "pods", "kube-system").await);
        assert!(!can(&admin, &user("root"), verb, "secrets", "kube-system").await);
    }
    let kube_system: Api<RoleBinding> = Api::namespaced(admin.clone(), "kube-system");
    let ours = ListParams::default().labels("scimitar.dev/tenant=umbrella");
    assert!(
        kube_system
            .list(&ours)
            .await
            .expect("list")
            .items
            .is_empty()
    );
}
