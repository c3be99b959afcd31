//! The threat model's attacks (docs/security.md), each tried for real against
//! the API server and the operator running under the chart's RBAC. Every test
//! asserts that the attack fails and that nothing was granted or lost.

use scimitar::scim::schema::PATCH_OP_URN;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::operator::{
    OPERATOR_NAMESPACE, Operator, Scim, access, can, create_tenant, hex_sha256, tenant_secret,
};
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use scimitar::auth::Scope;
use scimitar::auth::token::TokenRecord;
use scimitar::crd::{ScimTenant, ScimTenantSpec};
use scimitar::store::kube::token_secrets::{self, NewToken};
use serde_json::{Value, json};

fn spec(value: Value) -> ScimTenantSpec {
    serde_json::from_value(value).expect("tenant spec")
}

/// Gives `user` the built-in `edit` role in `namespace`.
async fn edit_in(admin: &Client, namespace: &str, user: &str) {
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": format!("edit-{}", user.replace(['@', '.'], "-")), "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
    }))
    .expect("binding");
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await
        .expect("edit binding created");
    // The authorizer sees the binding a moment later.
    access(admin, user, "create", "secrets", namespace, true).await;
}

/// A Secret with one key, labelled for `tenant`.
fn labelled_secret(namespace: &str, name: &str, tenant: &str, key: &str, value: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some([("scimitar.dev/tenant".to_owned(), tenant.to_owned())].into()),
            ..Default::default()
        },
        data: Some([(key.to_owned(), ByteString(value.as_bytes().to_vec()))].into()),
        ..Default::default()
    }
}

/// Waits until the tenant's `Degraded` condition is true with `reason` (as
/// its reason, or in its message); returns the message.
async fn degraded_with(admin: &Client, tenant: &str, reason: &str) -> String {
    let api: Api<ScimTenant> = Api::all(admin.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let conditions = api
            .get(tenant)
            .await
            .ok()
            .and_then(|t| t.status)
            .map(|s| s.conditions)
            .unwrap_or_default();
        if let Some(c) = conditions.iter().find(|c| {
            c.type_ == "Degraded"
                && c.status == "True"
                && (c.reason == reason || c.message.contains(reason))
        }) {
            return c.message.clone();
        }
        let degraded = conditions.iter().find(|c| c.type_ == "Degraded");
        assert!(
            Instant::now() < deadline,
            "tenant {tenant} not Degraded with {reason} within 20 s: {degraded:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A SCIM user whose primary email is its userName.
fn person(name: &str) -> Value {
    json!({"userName": name, "emails": [{"value": name, "primary": true}]})
}

/// Deactivates the user of the SCIM reply `user` (`active: false`).
async fn deactivate(scim: &Scim, user: &support::operator::Reply) {
    let id = user.body["id"].as_str().expect("id");
    let off = scim
        .send(
            "PATCH",
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP_URN],
                "Operations": [{"op": "replace", "path": "active", "value": false}]})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
}

/// The subjects of the RoleBindings in `namespace` matching `labels`.
async fn bound_subjects(admin: &Client, namespace: &str, labels: &str) -> Vec<String> {
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .list(&kube::api::ListParams::default().labels(labels))
        .await
        .expect("bindings")
        .items
        .iter()
        .flat_map(|b| b.subjects.iter().flatten().map(|s| s.name.clone()))
        .collect()
}

/// Sends GET /Users with `token` until the answer is `want` (at most 20 s).
async fn answers(scim: &Scim, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = scim.send("GET", "/Users?count=1", None).await.status;
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {status}, not {want}, after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Threat: a user with `edit` in a tenant namespace writes Secrets there.
/// Before, a digest they planted became the tenant's SCIM token (and they
/// could read the OIDC client secret). Now nothing in a tenant namespace is
/// trusted, and the operator's namespace is out of their reach.
#[tokio::test]
async fn a_namespace_editor_cannot_plant_a_token_or_read_the_client_secret() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let home = namespace(&admin, "plant").await;
    let target = namespace(&admin, "plant-target").await;
    let mallory = "mallory@example.com";
    edit_in(&admin, &home, mallory).await;
    let as_mallory = cp.client_as(mallory, &[]).await;

    // Mallory's own token, planted under the name the tenant references and
    // labelled as the tenant's, in the tenant namespace she may write.
    let planted = format!("tok-mallory-{}", uuid::Uuid::new_v4().simple());
    let secret = labelled_secret(
        &home,
        &format!("{home}-scim-token"),
        &home,
        "token-sha256",
        &hex_sha256(&planted),
    );
    Api::<Secret>::namespaced(as_mallory.clone(), &home)
        .create(&PostParams::default(), &secret)
        .await
        .expect("edit may write Secrets in its namespace (the premise of the attack)");
    // The operator's namespace, where tenant Secrets live, is out of reach.
    let mut elsewhere = secret.clone();
    elsewhere.metadata.namespace = Some(OPERATOR_NAMESPACE.into());
    elsewhere.metadata.name = Some(format!("{home}-planted"));
    let refused = Api::<Secret>::namespaced(as_mallory.clone(), OPERATOR_NAMESPACE)
        .create(&PostParams::default(), &elsewhere)
        .await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.code == 403),
        "{refused:?}"
    );

    let mappings = json!([{"group": "ops", "role": {"name": "edit"}, "namespaces": [target]}]);
    let token = create_tenant(
        &admin,
        &home,
        spec(json!({
            "namespace": home,
            "mappings": mappings,
            "oidc": {"issuerUrl": "https://idp.example.com", "clientId": "c",
                     "clientSecretRef": {"name": format!("{home}-oidc"), "key": "client-secret"}},
        })),
    )
    .await;
    tenant_secret(
        &admin,
        &home,
        &format!("{home}-oidc"),
        "client-secret",
        "s3cret",
    )
    .await;
    let real = Scim::new(operator, &token);
    real.wait_until_authorized().await;

    // A tenant still configured the old way, pointing into its own
    // namespace (where Mallory may write), is refused and told what to do.
    let legacy_home = namespace(&admin, "plant-legacy").await;
    edit_in(&admin, &legacy_home, mallory).await;
    let legacy_token = format!("tok-mallory-{}", uuid::Uuid::new_v4().simple());
    Api::<Secret>::namespaced(as_mallory.clone(), &legacy_home)
        .create(
            &PostParams::default(),
            &labelled_secret(
                &legacy_home,
                "scim-token",
                &legacy_home,
                "token-sha256",
                &hex_sha256(&legacy_token),
            ),
        )
        .await
        .expect("planted in the legacy tenant's namespace");
    Api::<ScimTenant>::all(admin.clone())
        .create(
            &PostParams::default(),
            &ScimTenant::new(
                &legacy_home,
                spec(json!({
                    "namespace": legacy_home,
                    "mappings": mappings,
                    "tokenSecretRef": {"name": "scim-token", "key": "token-sha256", "namespace": legacy_home},
                })),
            ),
        )
        .await
        .expect("legacy tenant created");
    let message = degraded_with(&admin, &legacy_home, "tenant namespace").await;
    assert!(message.contains(OPERATOR_NAMESPACE), "{message}");

    // Both planted tokens are refused, with the same 401 as any unknown token.
    for (tenant, token) in [(&home, &planted), (&legacy_home, &legacy_token)] {
        let attempt = Scim::new(operator, token)
            .send(
                "POST",
                "/Groups",
                Some(json!({"displayName": "ops", "members": []})),
            )
            .await;
        assert_eq!(attempt.status, 401, "{tenant}: {}", attempt.body);
    }
    // Mallory cannot read the client secret either.
    let read = Api::<Secret>::namespaced(as_mallory, OPERATOR_NAMESPACE)
        .get(&format!("{home}-oidc"))
        .await;
    assert!(
        matches!(&read, Err(kube::Error::Api(s)) if s.code == 403),
        "{read:?}"
    );
    // Nothing was granted, and the real token still works.
    assert!(
        !can(
            &admin,
            &format!("oidc:{mallory}"),
            "create",
            "pods",
            &target
        )
        .await
    );
    assert_eq!(real.send("GET", "/Groups", None).await.status, 200);
}

/// Threat: the author of one ScimTenant points its Secret references at
/// another tenant's Secrets (to hijack that tenant's identity provider, or to
/// have scimitar send another tenant's client secret to an issuer of their
/// choosing). Secrets are used only by the tenant they are labelled for.
#[tokio::test]
async fn a_tenant_author_cannot_borrow_another_tenants_secrets() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let victim = namespace(&admin, "victim").await;
    let token = create_tenant(&admin, &victim, spec(json!({"namespace": victim}))).await;
    let victim_scim = Scim::new(operator, &token);
    victim_scim.wait_until_authorized().await;
    tenant_secret(
        &admin,
        &victim,
        &format!("{victim}-oidc"),
        "client-secret",
        "victim-secret",
    )
    .await;

    let thief = namespace(&admin, "thief").await;
    Api::<ScimTenant>::all(admin.clone())
        .create(
            &PostParams::default(),
            &ScimTenant::new(
                &thief,
                spec(json!({
                    "namespace": thief,
                    "tokenSecretRef": {"name": format!("{victim}-scim-token"), "key": "token-sha256"},
                    "oidc": {"issuerUrl": "http://127.0.0.1:9/", "clientId": "c",
                             "clientSecretRef": {"name": format!("{victim}-oidc"), "key": "client-secret"}},
                })),
            ),
        )
        .await
        .expect("thief tenant created");
    let message = degraded_with(&admin, &thief, "not labelled").await;
    assert!(message.contains(&format!("{victim}-")), "{message}");

    // The victim's identity provider still writes to the victim's namespace.
    let created = victim_scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "vera@example.com"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id");
    let stored = Api::<scimitar::crd::ScimUser>::namespaced(admin.clone(), &victim)
        .get(id)
        .await;
    assert!(stored.is_ok(), "the user is in the victim's namespace");
    let in_thief = Api::<scimitar::crd::ScimUser>::namespaced(admin.clone(), &thief)
        .list(&Default::default())
        .await
        .expect("list");
    assert!(
        in_thief.items.is_empty(),
        "nothing landed in the thief's namespace"
    );
}

/// Threat: a tenant is deleted and another is created under the same name
/// (by someone else, or by mistake). The old identity provider's tokens must
/// not work for it.
#[tokio::test]
async fn a_recreated_tenant_does_not_inherit_tokens() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let home = namespace(&admin, "reborn").await;
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), OPERATOR_NAMESPACE);
    create_tenant(&admin, &home, spec(json!({"namespace": home}))).await;
    let uid = tenants
        .get(&home)
        .await
        .expect("tenant")
        .metadata
        .uid
        .expect("uid");

    // A token issued as the CLI and console do (with the tenant's uid), and
    // one from before uids were recorded.
    let (_, issued) = token_secrets::issue(
        &secrets,
        OPERATOR_NAMESPACE,
        NewToken {
            tenant: home.clone(),
            tenant_uid: uid,
            name: "old IdP".into(),
            scopes: BTreeSet::from([Scope::Scim]),
            lifetime: None,
        },
    )
    .await
    .expect("token issued");
    let legacy = format!("sct_legacy{}", uuid::Uuid::new_v4().simple());
    let record = TokenRecord {
        id: format!(
            "scimitar-token-legacy-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        ),
        tenant: home.clone(),
        name: "legacy".into(),
        scopes: BTreeSet::from([Scope::Scim]),
        digest: scimitar::auth::token_digest(&legacy),
        created: None,
        expires: None,
        last_used: None,
        tenant_uid: None,
    };
    secrets
        .create(
            &PostParams::default(),
            &token_secrets::secret_of(&record, OPERATOR_NAMESPACE),
        )
        .await
        .expect("legacy token Secret");
    let (old, old_legacy) = (Scim::new(operator, &issued), Scim::new(operator, &legacy));
    old.wait_until_authorized().await;
    old_legacy.wait_until_authorized().await;

    // Delete the tenant; a second later, create another of the same name.
    tenants
        .delete(&home, &DeleteParams::default())
        .await
        .expect("tenant deleted");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tenants.get_opt(&home).await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "tenant not gone in 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token = create_tenant(&admin, &home, spec(json!({"namespace": home}))).await;
    Scim::new(operator, &token).wait_until_authorized().await;

    answers(&old, 401).await;
    answers(&old_legacy, 401).await;
}

/// Threat (to availability): a replica that has not loaded the tokens yet
/// answered valid tokens with 401, which identity providers read as bad
/// credentials (Entra quarantines the provisioning job). Until its tokens are
/// loaded, a replica answers 503 with Retry-After.
#[tokio::test]
async fn a_starting_replica_answers_valid_tokens_503_never_401() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    // The shared operator makes sure the chart's RBAC is in place first.
    let _ = Operator::shared(cp);
    let home = namespace(&admin, "starting").await;
    let token = create_tenant(&admin, &home, spec(json!({"namespace": home}))).await;

    let mut starting = Operator::spawn(cp, &[]);
    let http = reqwest::Client::new();
    let url = format!("{}/scim/v2/Users?count=1", starting.url);
    let (mut unavailable, mut statuses) = (0, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "no 200 within 60 s: {statuses:?}"
        );
        let Ok(response) = http.get(&url).bearer_auth(&token).send().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue; // not listening yet
        };
        let status = response.status().as_u16();
        statuses.push(status);
        if status == 503 {
            unavailable += 1;
            assert!(
                response.headers().contains_key("retry-after"),
                "503 without Retry-After"
            );
        }
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !statuses.contains(&401),
        "a valid token got 401: {statuses:?}"
    );
    assert!(
        unavailable > 0,
        "the loading window was not observed: {statuses:?}"
    );
    println!(
        "starting replica: {} answers before 200, {unavailable} of them 503",
        statuses.len() - 1
    );
    starting.wait_ready();
}

/// Threat: whoever can create groups at the identity provider creates a
/// second group with a mapped name. Neither group is granted the mapping
/// (fail closed), and the tenant says why.
#[tokio::test]
async fn a_second_group_with_a_mapped_name_grants_nothing() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let home = namespace(&admin, "twins").await;
    let target = namespace(&admin, "twins-target").await;
    let token = create_tenant(
        &admin,
        &home,
        spec(json!({
            "namespace": home,
            "mappings": [{"group": "ops", "role": {"name": "edit"}, "namespaces": [target]}],
        })),
    )
    .await;
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;
    let ann = scim
        .send("POST", "/Users", Some(person("ann@example.com")))
        .await;
    let eve = scim
        .send("POST", "/Users", Some(person("eve@example.com")))
        .await;
    let ops = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "ops", "members": [{"value": ann.body["id"]}]})),
        )
        .await;
    assert_eq!(ops.status, 201, "{}", ops.body);
    access(
        &admin,
        "oidc:ann@example.com",
        "create",
        "pods",
        &target,
        true,
    )
    .await;

    let twin = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "OPS", "members": [{"value": eve.body["id"]}]})),
        )
        .await;
    assert_eq!(twin.status, 201, "{}", twin.body);
    let message = degraded_with(&admin, &home, "AmbiguousGroup").await;
    assert!(message.contains("matches 2 groups"), "{message}");
    access(
        &admin,
        "oidc:eve@example.com",
        "create",
        "pods",
        &target,
        false,
    )
    .await;
    access(
        &admin,
        "oidc:ann@example.com",
        "create",
        "pods",
        &target,
        false,
    )
    .await;
}

/// Threat: a binding the controller cannot update keeps its old subjects, so
/// a user deactivated meanwhile keeps access. When the API server refuses
/// the update for good, the binding is deleted instead (and made again from
/// scratch when that is allowed); it never stays stale.
#[tokio::test]
async fn a_binding_that_cannot_be_updated_is_removed_not_left_stale() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let home = namespace(&admin, "stale").await;
    let target = namespace(&admin, "stale-target").await;
    let token = create_tenant(
        &admin,
        &home,
        spec(json!({
            "namespace": home,
            "mappings": [{"group": "ops", "role": {"name": "view"}, "namespaces": [target]}],
        })),
    )
    .await;
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;
    let ann = scim
        .send("POST", "/Users", Some(person("ann@example.com")))
        .await;
    let bob = scim
        .send("POST", "/Users", Some(person("bob@example.com")))
        .await;
    let members = json!([{"value": ann.body["id"]}, {"value": bob.body["id"]}]);
    let ops = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "ops", "members": members})),
        )
        .await;
    assert_eq!(ops.status, 201, "{}", ops.body);
    access(
        &admin,
        "oidc:bob@example.com",
        "list",
        "pods",
        &target,
        true,
    )
    .await;

    // From now on the API server refuses every update of a RoleBinding in
    // the target namespace (as a broken webhook or a policy would).
    let policy = deny_rolebinding_updates(cp, &admin, &target).await;

    deactivate(&scim, &bob).await;
    let took = access(
        &admin,
        "oidc:bob@example.com",
        "list",
        "pods",
        &target,
        false,
    )
    .await;
    assert!(
        took < Duration::from_secs(5),
        "bob kept access for {took:?}"
    );
    // Made again from scratch (creating is still allowed), with ann only.
    access(
        &admin,
        "oidc:ann@example.com",
        "list",
        "pods",
        &target,
        true,
    )
    .await;
    let subjects = bound_subjects(&admin, &target, "app.kubernetes.io/managed-by=scimitar").await;
    assert_eq!(subjects, ["oidc:ann@example.com"]);
    println!(
        "deactivated user lost access {took:?} after the SCIM response, though the binding could not be updated"
    );
    policy.remove();
}

/// A ValidatingAdmissionPolicy refusing RoleBinding updates in `namespace`,
/// in force when this returns; removed with [`Policy::remove`].
async fn deny_rolebinding_updates(cp: &ControlPlane, admin: &Client, namespace: &str) -> Policy {
    let name = format!("deny-updates-{namespace}");
    let manifest = format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [rbac.authorization.k8s.io]
        apiVersions: ["*"]
        operations: [UPDATE]
        resources: [rolebindings]
    namespaceSelector:
      matchLabels: {{kubernetes.io/metadata.name: {namespace}}}
  validations:
    - expression: "false"
      message: "RoleBinding updates are refused in this namespace (test policy)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {name}
  validationActions: [Deny]
"#
    );
    let file = cp.kubeconfig.with_file_name(format!("{name}.yaml"));
    std::fs::write(&file, manifest).expect("policy manifest");
    support::kubectl::kubectl(
        &cp.kubeconfig,
        &["apply", "-f", &file.display().to_string()],
    );
    // In force once an update of a probe binding is refused.
    let probe: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "probe", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": []
    }))
    .expect("probe");
    let api = Api::<RoleBinding>::namespaced(admin.clone(), namespace);
    api.create(&PostParams::default(), &probe)
        .await
        .expect("probe created");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    loop {
        n += 1;
        let patch = json!({"metadata": {"annotations": {"probe": n.to_string()}}});
        let result = api
            .patch(
                "probe",
                &Default::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await;
        if result.is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the test policy is not in force after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Policy {
        kubeconfig: cp.kubeconfig.clone(),
        file,
    }
}

struct Policy {
    kubeconfig: std::path::PathBuf,
    file: std::path::PathBuf,
}

impl Policy {
    fn remove(self) {
        support::kubectl::kubectl(
            &self.kubeconfig,
            &["delete", "-f", &self.file.display().to_string()],
        );
    }
}

/// Threat: a group too large for one binding leaves the binding stale (the
/// write is refused, the old subjects stay). Its binding is split in parts,
/// each within the API server's limits, and every member gets access.
#[tokio::test]
async fn a_group_larger_than_one_binding_is_split_and_fully_bound() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let home = namespace(&admin, "huge").await;
    let target = namespace(&admin, "huge-target").await;
    let token = create_tenant(
        &admin,
        &home,
        spec(json!({
            "namespace": home,
            "subjects": {"usernameClaim": "userName"},
            "mappings": [{"group": "everyone", "role": {"name": "view"}, "namespaces": [target]}],
        })),
    )
    .await;
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;
    let count = scimitar::controller::desired::SUBJECTS_PER_BINDING + 3;
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(50) {
        let sent = futures::future::join_all(chunk.iter().map(|i| {
            scim.send(
                "POST",
                "/Users",
                Some(json!({"userName": format!("u{i:05}")})),
            )
        }))
        .await;
        for reply in sent {
            assert_eq!(reply.status, 201, "{}", reply.body);
            ids.push(json!({"value": reply.body["id"]}));
        }
    }
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "everyone", "members": ids})),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    // The first and the last member (in different parts) both get access.
    access(&admin, "oidc:u00000", "list", "pods", &target, true).await;
    access(
        &admin,
        &format!("oidc:u{:05}", count - 1),
        "list",
        "pods",
        &target,
        true,
    )
    .await;
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), &target)
        .list(&kube::api::ListParams::default().labels("app.kubernetes.io/managed-by=scimitar"))
        .await
        .expect("bindings");
    let sizes: Vec<usize> = bindings
        .items
        .iter()
        .map(|b| b.subjects.as_ref().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes.len(), 2, "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), count);
}

/// Threat: an oversized group made the store answer 503, so the identity
/// provider retried for ever. It gets a 413 SCIM error, and nothing changes.
#[tokio::test]
async fn a_group_too_large_to_store_gets_413_and_changes_nothing() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let home = namespace(&admin, "toolarge").await;
    let token = create_tenant(&admin, &home, spec(json!({"namespace": home}))).await;
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;
    let group = scim
        .send("POST", "/Groups", Some(json!({"displayName": "all"})))
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    let id = group.body["id"].as_str().expect("id").to_owned();
    let mut accepted = 0usize;
    let mut unavailable = 0;
    let refused = loop {
        let members: Vec<Value> = (accepted..accepted + 8000)
            .map(|i| json!({"value": format!("{:08x}-0000-4000-8000-{:012x}", i, i)}))
            .collect();
        let reply = scim
            .send(
                "PATCH",
                &format!("/Groups/{id}"),
                Some(json!({"schemas": [PATCH_OP_URN],
                    "Operations": [{"op": "add", "path": "members", "value": members}]})),
            )
            .await;
        // A 503 asks the provider to retry the same request, as IdPs do
        // (a busy API server may time out on a write this large).
        if reply.status == 503 {
            unavailable += 1;
            assert!(unavailable < 20, "503 twenty times: {}", reply.body);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if !matches!(reply.status, 200 | 204) {
            break reply;
        }
        accepted += 8000;
        assert!(accepted < 200_000, "never refused");
    };
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert_eq!(refused.body["status"], "413", "{}", refused.body);
    assert!(refused.retry_after.is_none());
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("too large"), "{detail}");
    // Nothing changed: the group has what was accepted before, in the API too.
    let stored = Api::<scimitar::crd::ScimGroup>::namespaced(admin.clone(), &home)
        .get(&id)
        .await
        .expect("group");
    assert_eq!(stored.spec.members.len(), accepted);
    let read = scim
        .send("GET", &format!("/Groups/{id}?attributes=id"), None)
        .await;
    assert_eq!(read.status, 200);
    println!("refused with 413 after {accepted} members were stored");
}

/// Threat: one tenant's expensive lists and filters stall the others (one
/// cache lock, filters on the async workers, one concurrency pool). While a
/// large tenant is listed and filtered flat out, another tenant's writes are
/// answered, its deactivation is applied within 5 s, and the health probe
/// answers within its 1 s timeout.
#[tokio::test]
async fn one_tenants_heavy_reads_do_not_stall_another_tenant() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let big = namespace(&admin, "heavy").await;
    let big_token = create_tenant(&admin, &big, spec(json!({"namespace": big}))).await;
    let heavy = Scim::new(operator, &big_token);
    heavy.wait_until_authorized().await;
    let users: Vec<usize> = (0..3000).collect();
    for chunk in users.chunks(50) {
        let sent = futures::future::join_all(chunk.iter().map(|i| {
            heavy.send(
                "POST",
                "/Users",
                Some(json!({"userName": format!("p{i:05}@example.com"),
                    "name": {"familyName": format!("F{}", 3000 - i), "givenName": "G"},
                    "emails": [{"value": format!("p{i:05}@example.com"), "primary": true}]})),
            )
        }))
        .await;
        assert!(sent.iter().all(|r| r.status == 201));
    }

    let small = namespace(&admin, "light").await;
    let target = namespace(&admin, "light-target").await;
    let token = create_tenant(
        &admin,
        &small,
        spec(json!({"namespace": small,
            "mappings": [{"group": "ops", "role": {"name": "view"}, "namespaces": [target]}]})),
    )
    .await;
    let light = Scim::new(operator, &token);
    light.wait_until_authorized().await;
    let kim = light
        .send("POST", "/Users", Some(person("kim@example.com")))
        .await;
    let group = light
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "ops", "members": [{"value": kim.body["id"]}]})),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    access(
        &admin,
        "oidc:kim@example.com",
        "list",
        "pods",
        &target,
        true,
    )
    .await;

    // The heavy tenant lists and filters its 3,000 users without pause.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loads: Vec<_> = (0..6)
        .map(|n| {
            let (stop, token, url) = (stop.clone(), big_token.clone(), operator.url.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut done = 0u32;
                let query = if n % 2 == 0 {
                    "/scim/v2/Users?filter=emails.value%20co%20%22example%22&sortBy=name.familyName&count=50"
                } else {
                    "/scim/v2/Users?sortBy=userName&sortOrder=descending&count=100"
                };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let reply = http.get(format!("{url}{query}")).bearer_auth(&token).send().await;
                    if reply.is_ok_and(|r| r.status().is_success()) {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Meanwhile the light tenant writes, is deprovisioned, and probes answer.
    let http = reqwest::Client::new();
    let (mut writes, mut probes) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let started = Instant::now();
        let reply = light
            .send(
                "POST",
                "/Users",
                Some(json!({"userName": format!("w{i}@example.com")})),
            )
            .await;
        writes.push(started.elapsed());
        assert_eq!(reply.status, 201, "{}", reply.body);
        let started = Instant::now();
        let probe = tokio::time::timeout(
            Duration::from_secs(1),
            http.get(format!("{}/healthz", operator.url)).send(),
        )
        .await;
        probes.push(started.elapsed());
        assert!(
            probe.is_ok_and(|r| r.is_ok_and(|r| r.status().is_success())),
            "the liveness probe did not answer within 1 s"
        );
    }
    deactivate(&light, &kim).await;
    let revoked = access(
        &admin,
        "oidc:kim@example.com",
        "list",
        "pods",
        &target,
        false,
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut lists = 0;
    for load in loads {
        lists += load.await.expect("load task");
    }
    assert!(lists > 0, "the heavy tenant's lists were answered");
    let slowest = |d: &[Duration]| d.iter().max().copied().unwrap_or_default();
    assert!(
        slowest(&writes) < Duration::from_secs(5),
        "writes: {writes:?}"
    );
    assert!(
        revoked < Duration::from_secs(5),
        "deprovisioning took {revoked:?}"
    );
    println!(
        "under {lists} heavy lists: light tenant's slowest write {:?}, slowest probe {:?}, access revoked in {revoked:?}",
        slowest(&writes),
        slowest(&probes)
    );
}

/// Threat: a tenant created for a namespace an earlier tenant used takes
/// over the directory left there: the old groups would be granted the new
/// tenant's mappings. They grant nothing; the new tenant says why, and its
/// own groups work.
#[tokio::test]
async fn a_recreated_tenant_does_not_take_over_the_directory_left_behind() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::shared(cp);
    let home = namespace(&admin, "inherit").await;
    let target = namespace(&admin, "inherit-target").await;
    let mappings = json!([{"group": "ops", "role": {"name": "view"}, "namespaces": [target]}]);
    let first = format!("{home}-first");
    let token = create_tenant(
        &admin,
        &first,
        spec(json!({"namespace": home, "mappings": mappings})),
    )
    .await;
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;
    let ann = scim
        .send("POST", "/Users", Some(person("ann@example.com")))
        .await;
    let ops = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "ops", "members": [{"value": ann.body["id"]}]})),
        )
        .await;
    assert_eq!(ops.status, 201, "{}", ops.body);
    access(
        &admin,
        "oidc:ann@example.com",
        "list",
        "pods",
        &target,
        true,
    )
    .await;

    // The first tenant goes; its directory stays in the namespace.
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    tenants
        .delete(&first, &DeleteParams::default())
        .await
        .expect("tenant deleted");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = format!("{home}-second");
    let token = create_tenant(
        &admin,
        &second,
        spec(json!({"namespace": home, "mappings": mappings})),
    )
    .await;
    let message = degraded_with(&admin, &second, "LeftoverDirectory").await;
    assert!(message.starts_with("2 "), "{message}");
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;
    let bob = scim
        .send("POST", "/Users", Some(person("bob@example.com")))
        .await;
    let ops = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "ops", "members": [{"value": bob.body["id"]}]})),
        )
        .await;
    assert_eq!(ops.status, 201, "{}", ops.body);
    access(
        &admin,
        "oidc:bob@example.com",
        "list",
        "pods",
        &target,
        true,
    )
    .await;
    // The second tenant's bindings name bob only: the old group grants nothing.
    let label = format!(
        "app.kubernetes.io/managed-by=scimitar,scimitar.dev/tenant={}",
        scimitar::meta::label_value(&second)
    );
    let subjects = bound_subjects(&admin, &target, &label).await;
    assert_eq!(subjects, ["oidc:bob@example.com"]);
}
