//! The threat model's attacks (docs/security.md), each tried for real against
//! the API server and the operator running under the chart's RBAC. Every test
//! asserts that the attack fails and that nothing was granted or lost.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

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
use support::operator::{
    OPERATOR_NAMESPACE, Operator, Scim, access, can, create_tenant, hex_sha256, tenant_secret,
};
use support::{ControlPlane, install_crds, namespace};

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
            &record.to_secret(OPERATOR_NAMESPACE),
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
    let user = |name: &str| json!({"userName": name, "emails": [{"value": name, "primary": true}]});
    let ann = scim
        .send("POST", "/Users", Some(user("ann@example.com")))
        .await;
    let eve = scim
        .send("POST", "/Users", Some(user("eve@example.com")))
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
