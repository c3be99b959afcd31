//! The end-to-end truth about names: people provisioned over SCIM sign in at
//! a real OIDC provider (PyPI `oidc-provider-mock` over HTTPS, with a CA of
//! its own), and kube-apiserver, given the AuthenticationConfiguration the
//! console's Connect page generates for the tenant, turns their ID tokens
//! into exactly the user and group names scimitar bound. Every other test
//! asks RBAC about the names scimitar computes (SubjectAccessReview,
//! impersonation); these send the token.
//!
//! One control plane serves the tests of this file. It starts with no JWT
//! authenticators; each test adds its tenant's to the watched file, and
//! kube-apiserver loads it while running (the delay is printed).

use scimitar::scim::schema::PATCH_OP_URN;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support;
use crate::support::oidc::{AuthenticationConfig, Provider, claims};
use crate::support::operator::{Operator, Scim, can, create_tenant, tenant_secret, until};
use crate::support::{ControlPlane, client_from, install_crds, namespace};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use scimitar::console::connect::authentication_config;
use scimitar::crd::{BindSubjects, ScimTenant, ScimTenantSpec, ScimUser};
use serde_json::{Value, json};
/// Where the provider sends the authorization code; nothing listens there,
/// the redirect is read, not followed.
const REDIRECT_URI: &str = "http://localhost:8000/callback";
const CLIENT_SECRET_KEY: &str = "client-secret";

struct Cluster {
    cp: ControlPlane,
    authn: AuthenticationConfig,
}

/// The control plane of this file, its kube-apiserver reading an
/// authentication configuration that starts empty.
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let name = "apiserver-sign-in";
        let dir = ControlPlane::dedicated_dir(name);
        std::fs::create_dir_all(&dir).expect("control plane dir");
        let authn = AuthenticationConfig::create(&dir.join("authentication-config.yaml"));
        let path = authn.path.display().to_string();
        let cp = ControlPlane::dedicated_with(name, &["--authentication-config", &path]);
        Cluster { cp, authn }
    })
}

/// The operator of this file's control plane, shared by its tests.
fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| Operator::start(&cluster().cp))
}

/// One tenant whose identity provider kube-apiserver trusts.
struct Tenant {
    provider: Provider,
    client_id: String,
    client_secret: String,
    /// The tenant as the API server stores it.
    tenant: ScimTenant,
    scim: Scim,
    home: String,
}

impl Tenant {
    /// Starts a provider with `provider_options`, registers the client, creates
    /// the tenant (`subjects`, `mappings`), and adds to kube-apiserver's
    /// configuration what the Connect page generates for it. Returns once
    /// kube-apiserver accepts the provider's ID tokens.
    async fn start(
        admin: &Client,
        operator: &Operator,
        provider_options: &[&str],
        subjects: Value,
        mappings: Value,
    ) -> Tenant {
        let provider = Provider::start_https(provider_options).await;
        let (client_id, client_secret) = provider.register(REDIRECT_URI).await;
        let home = namespace(admin, "sign-in").await;
        let secret = format!("{home}-oidc");
        tenant_secret(admin, &home, &secret, CLIENT_SECRET_KEY, &client_secret).await;
        let spec: ScimTenantSpec = serde_json::from_value(json!({
            "namespace": home,
            "oidc": {
                "issuerUrl": provider.url,
                "clientId": client_id,
                "clientSecretRef": {"name": secret, "key": CLIENT_SECRET_KEY}
            },
            "subjects": subjects,
            "mappings": mappings,
        }))
        .expect("tenant spec");
        let token = create_tenant(admin, &home, spec).await;
        let scim = Scim::new(operator, &token);
        scim.wait_until_authorized().await;

        let tenant = Api::<ScimTenant>::all(admin.clone())
            .get(&home)
            .await
            .expect("the tenant");
        let oidc = tenant.spec.oidc.clone().expect("spec.oidc");
        let added = Instant::now();
        cluster().authn.add(
            &authentication_config(&tenant, &oidc),
            provider.ca.as_deref().expect("the provider's CA"),
        );
        let t = Tenant {
            provider,
            client_id,
            client_secret,
            tenant,
            scim,
            home,
        };
        let took = t.wait_for_authenticator(added).await;
        eprintln!("measured: kube-apiserver loaded the added authenticator in {took:?}");
        t
    }

    /// Signs a probe user in until kube-apiserver accepts the ID token.
    async fn wait_for_authenticator(&self, since: Instant) -> Duration {
        let sub = "probe";
        self.provider
            .put_user(
                sub,
                json!({"email": "probe@example.com", "email_verified": true, "preferred_username": sub}),
            )
            .await;
        loop {
            let token = self.sign_in(sub).await;
            let client = self.client(&format!("probe-{}", self.home), &token).await;
            let review = Api::<SelfSubjectReview>::all(client)
                .create(&PostParams::default(), &SelfSubjectReview::default())
                .await;
            match review {
                Ok(_) => return since.elapsed(),
                Err(kube::Error::Api(status)) if status.code == 401 => {}
                Err(error) => panic!("SelfSubjectReview with an ID token: {error}"),
            }
            assert!(
                since.elapsed() < Duration::from_secs(150),
                "kube-apiserver did not load the authenticator for {} within 150 s; see {}",
                self.provider.url,
                cluster().cp.kubeconfig.with_file_name("logs").display()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn sign_in(&self, sub: &str) -> String {
        self.provider
            .sign_in(&self.client_id, &self.client_secret, REDIRECT_URI, sub)
            .await
    }

    /// A client whose only credential is `token`, and its kubeconfig.
    async fn client(&self, name: &str, token: &str) -> Client {
        client_from(&cluster().cp.token_kubeconfig(name, token)).await
    }

    async fn create(&self, path: &str, body: Value) -> String {
        let reply = self.scim.send("POST", path, Some(body)).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    async fn deactivate(&self, id: &str) {
        let reply = self
            .scim
            .send(
                "PATCH",
                &format!("/Users/{id}"),
                Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// The ScimUser `id` once the controller has recorded its groups (and
    /// `status.subject` where the bindings name users).
    async fn read_back(&self, admin: &Client, id: &str) -> ScimUser {
        let users: Api<ScimUser> = Api::namespaced(admin.clone(), &self.home);
        let names_users = self.tenant.spec.subjects.bind != BindSubjects::Group;
        until("the controller records the user's status", true, || async {
            users
                .get(id)
                .await
                .ok()
                .and_then(|u| u.status)
                .is_some_and(|s| !s.groups.is_empty() && s.subject.is_some() == names_users)
        })
        .await;
        users.get(id).await.expect("the user")
    }

    /// Gives the provider the claims of `user` as the API server stores it:
    /// an identity provider knows its people by the same attributes it
    /// provisions. The subject is the provider's own id (SCIM externalId).
    async fn claims_from(&self, user: &ScimUser) -> String {
        let status = user.status.clone().expect("status");
        let email = user
            .spec
            .emails
            .iter()
            .find(|e| e.primary == Some(true))
            .and_then(|e| e.value.clone())
            .expect("a primary email");
        let sub = user.spec.external_id.clone().expect("externalId");
        self.provider
            .put_user(
                &sub,
                json!({
                    "email": email,
                    "email_verified": true,
                    "preferred_username": user.spec.user_name,
                    "name": user.spec.display_name,
                    "groups": status.groups,
                }),
            )
            .await;
        sub
    }
}

fn user(user_name: &str, external_id: &str, emails: Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": external_id,
        "displayName": user_name,
        "emails": emails,
        "active": true
    })
}

fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members})
}

/// The HTTP status of a request the API server answered.
fn status_of<T>(result: Result<T, kube::Error>) -> u16 {
    match result {
        Ok(_) => 200,
        Err(kube::Error::Api(status)) => status.code,
        Err(error) => panic!("no answer from the API server: {error}"),
    }
}

async fn list_pods(client: &Client, namespace: &str) -> u16 {
    status_of(
        Api::<Pod>::namespaced(client.clone(), namespace)
            .list(&ListParams::default())
            .await,
    )
}

/// The user name and groups kube-apiserver derives from the token in
/// `kubeconfig`, as `kubectl auth whoami` shows them.
fn whoami(kubeconfig: &std::path::Path) -> (String, Vec<String>) {
    let out = support::kubectl::kubectl(kubeconfig, &["auth", "whoami", "-o", "json"]);
    let review: Value = serde_json::from_str(&out).expect("whoami JSON");
    let info = &review["status"]["userInfo"];
    let groups = info["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (
        info["username"].as_str().unwrap_or_default().to_owned(),
        groups,
    )
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// `bind: users` with the default `email` claim: the ID token names the user
/// scimitar recorded, who gets exactly what their groups map to, and is
/// refused as soon as the controller drops them from the binding, with the
/// token still valid.
#[tokio::test]
async fn a_signed_in_user_has_exactly_the_mapped_access_until_deactivated() {
    let cp = &cluster().cp;
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = operator();
    let apps = namespace(&admin, "apps").await;
    let audit = namespace(&admin, "audit").await;
    let t = Tenant::start(
        &admin,
        operator,
        &[],
        json!({}),
        json!([
            {"group": "engineering", "role": {"name": "edit"}, "namespaces": [apps]},
            {"group": "auditors", "role": {"name": "view"}, "namespaces": [audit]},
        ]),
    )
    .await;

    // The primary email is not the first one: the name must be the primary.
    let ada = t
        .create(
            "/Users",
            user(
                "ada",
                "00u-ada",
                json!([
                    {"value": "ada@home.example", "type": "home"},
                    {"value": "ada.lovelace@example.com", "type": "work", "primary": true},
                ]),
            ),
        )
        .await;
    let bob = t
        .create(
            "/Users",
            user(
                "bob",
                "00u-bob",
                json!([{"value": "bob@example.com", "primary": true}]),
            ),
        )
        .await;
    t.create("/Groups", group("engineering", &[&ada])).await;
    t.create("/Groups", group("auditors", &[&bob])).await;
    t.create("/Groups", group("book-club", &[&ada, &bob])).await;

    let recorded = t.read_back(&admin, &ada).await;
    let subject = recorded
        .status
        .as_ref()
        .and_then(|s| s.subject.clone())
        .expect("status.subject");
    assert_eq!(subject, "oidc:ada.lovelace@example.com");
    let sub = t.claims_from(&recorded).await;
    let token = t.sign_in(&sub).await;
    assert_eq!(claims(&token)["email"], "ada.lovelace@example.com");
    let kubeconfig = cp.token_kubeconfig("ada", &token);
    let ada_client = client_from(&kubeconfig).await;

    // The API server names her as scimitar did; with `bind: users` the
    // configuration maps no groups claim, so only system:authenticated.
    let (name, groups) = whoami(&kubeconfig);
    assert_eq!(name, subject, "kubectl auth whoami");
    assert_eq!(groups, ["system:authenticated"]);

    // engineering → edit in apps: she may read and write there.
    assert_eq!(list_pods(&ada_client, &apps).await, 200);
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("written-by-ada".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        status_of(
            Api::<ConfigMap>::namespaced(ada_client.clone(), &apps)
                .create(&PostParams::default(), &config_map)
                .await
        ),
        200
    );
    // Not what edit leaves out, not the auditors' namespace, not the
    // tenant's own namespace, not cluster-wide.
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "ada-grants-herself"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": subject}]
    }))
    .expect("RoleBinding");
    assert_eq!(
        status_of(
            Api::<RoleBinding>::namespaced(ada_client.clone(), &apps)
                .create(&PostParams::default(), &binding)
                .await
        ),
        403
    );
    assert_eq!(list_pods(&ada_client, &audit).await, 403);
    assert_eq!(list_pods(&ada_client, &t.home).await, 403);
    assert_eq!(
        status_of(
            Api::<Pod>::all(ada_client.clone())
                .list(&ListParams::default())
                .await
        ),
        403
    );

    // Deactivated over SCIM: the same, still valid token is refused on the
    // next request once the controller has dropped her from the binding.
    let started = Instant::now();
    t.deactivate(&ada).await;
    let deadline = started + Duration::from_secs(20);
    loop {
        let status = list_pods(&ada_client, &apps).await;
        if status == 403 {
            break;
        }
        assert_eq!(status, 200, "before the binding changes");
        assert!(
            Instant::now() < deadline,
            "still allowed 20 s after deactivation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "measured: a deactivated user's valid ID token refused {:?} after the SCIM PATCH was sent",
        started.elapsed()
    );
    // Authenticated still (the token is valid), authorised no longer.
    assert_eq!(whoami(&kubeconfig).0, subject);
    assert!(unix_now() < claims(&token)["exp"].as_f64().expect("exp"));
}

/// `bind: group`, as docs/security.md states: membership comes from the ID
/// token, so a user deactivated over SCIM keeps the group's access until the
/// token expires, and the token then gets 401.
#[tokio::test]
async fn with_bind_group_access_lasts_until_the_id_token_expires() {
    const TOKEN_MAX_AGE: u32 = 20;
    let cp = &cluster().cp;
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = operator();
    let apps = namespace(&admin, "apps").await;
    let t = Tenant::start(
        &admin,
        operator,
        &["--token-max-age", &TOKEN_MAX_AGE.to_string()],
        json!({"bind": "group"}),
        json!([{"group": "engineering", "role": {"name": "view"}, "namespaces": [apps]}]),
    )
    .await;

    let carol = t
        .create(
            "/Users",
            user(
                "carol",
                "00u-carol",
                json!([{"value": "carol@example.com", "primary": true}]),
            ),
        )
        .await;
    t.create("/Groups", group("engineering", &[&carol])).await;
    let recorded = t.read_back(&admin, &carol).await;
    let status = recorded.status.clone().expect("status");
    // With a group subject no binding names the user.
    assert_eq!(status.subject, None);
    let subjects = &t.tenant.spec.subjects;
    let user_name = format!(
        "{}{}",
        subjects.user_prefix,
        status.email.clone().expect("status.email")
    );
    let group_name = format!("{}{}", subjects.group_prefix, status.groups[0]);

    let sub = t.claims_from(&recorded).await;
    let token = t.sign_in(&sub).await;
    let expires = claims(&token)["exp"].as_f64().expect("exp");
    let issued = claims(&token)["iat"].as_f64().expect("iat");
    assert_eq!(expires - issued, f64::from(TOKEN_MAX_AGE));
    let kubeconfig = cp.token_kubeconfig("carol", &token);
    let carol_client = client_from(&kubeconfig).await;

    let (name, groups) = whoami(&kubeconfig);
    assert_eq!(name, user_name, "kubectl auth whoami");
    assert!(groups.contains(&group_name), "{groups:?} has {group_name}");
    assert_eq!(list_pods(&carol_client, &apps).await, 200);

    // Deactivated: the controller has seen it, the binding still names the
    // group, and RBAC grants her nothing by name.
    t.deactivate(&carol).await;
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &t.home);
    until("the controller records the deactivation", true, || async {
        users.get(&carol).await.ok().and_then(|u| u.status?.active) == Some(false)
    })
    .await;
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), &apps)
        .list(&ListParams::default())
        .await
        .expect("RoleBindings");
    assert!(
        bindings.items.iter().any(|b| b
            .subjects
            .iter()
            .flatten()
            .any(|s| s.kind == "Group" && s.name == group_name)),
        "a binding in {apps} names {group_name}"
    );
    assert!(!can(&admin, &user_name, "list", "pods", &apps).await);

    // The token's groups still grant it, until the token expires.
    let deadline = expires + 30.0;
    let mut allowed_until = None;
    let refused_at = loop {
        let now = unix_now();
        match list_pods(&carol_client, &apps).await {
            200 => allowed_until = Some(now),
            401 => break now,
            other => panic!("{other} while the token's group should still grant access"),
        }
        assert!(now < deadline, "the expired token is still accepted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let allowed_until = allowed_until.expect("allowed after deactivation");
    eprintln!(
        "measured: bind: group, deactivated user allowed until {:+.1} s from the token's exp, 401 from {:+.1} s",
        allowed_until - expires,
        refused_at - expires
    );
    // Allowed up to about expiry (clocks agree to the second); refused
    // within kube-apiserver's 10 s cache of accepted tokens after it.
    assert!(
        allowed_until > expires - 2.0,
        "access lasted only to {allowed_until}, exp {expires}"
    );
    assert!(
        refused_at >= expires - 1.0 && refused_at < expires + 12.0,
        "401 at {refused_at}, exp {expires}"
    );
}

/// A username claim other than email: with `usernameClaim:
/// preferred_username` scimitar names users by userName, and so does the API
/// server, from the same token that also carries an email.
#[tokio::test]
async fn a_username_claim_other_than_email_names_the_same_user() {
    let cp = &cluster().cp;
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = operator();
    let apps = namespace(&admin, "apps").await;
    let t = Tenant::start(
        &admin,
        operator,
        &[],
        json!({"usernameClaim": "preferred_username", "userPrefix": "acme:"}),
        json!([{"group": "engineering", "role": {"name": "view"}, "namespaces": [apps]}]),
    )
    .await;

    let grace = t
        .create(
            "/Users",
            user(
                "grace.hopper",
                "00u-grace",
                json!([{"value": "grace@example.com", "primary": true}]),
            ),
        )
        .await;
    t.create("/Groups", group("engineering", &[&grace])).await;
    let recorded = t.read_back(&admin, &grace).await;
    let subject = recorded
        .status
        .as_ref()
        .and_then(|s| s.subject.clone())
        .expect("status.subject");
    assert_eq!(subject, "acme:grace.hopper");

    let sub = t.claims_from(&recorded).await;
    let token = t.sign_in(&sub).await;
    let token_claims = claims(&token);
    assert_eq!(token_claims["preferred_username"], "grace.hopper");
    assert_eq!(token_claims["email"], "grace@example.com");
    let kubeconfig = cp.token_kubeconfig("grace", &token);
    let (name, _) = whoami(&kubeconfig);
    assert_eq!(name, subject, "kubectl auth whoami");
    let grace_client = client_from(&kubeconfig).await;
    assert_eq!(list_pods(&grace_client, &apps).await, 200);
    assert_eq!(list_pods(&grace_client, &t.home).await, 403);
}
