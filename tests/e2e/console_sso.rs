//! The tenant console in a real browser (headless Debian Chromium driven by
//! `playwright-core`, tests/console/browse.cjs) signing in through a real
//! OIDC provider on loopback (PyPI `oidc-provider-mock`, a registered
//! `client_secret_basic` client, nonce required), against the real operator
//! and API server. Every page is visited with real data; screenshots go to
//! `target/console-screenshots/`.

use crate::support;
use crate::support::console::{Browser, Seen};
use crate::support::oidc::Provider;
use crate::support::operator::{
    OPERATOR_NAMESPACE, Operator, Scim, can, create_tenant, tenant_secret, until,
};
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use scimitar::crd::{ScimGroup, ScimTenant, ScimTenantSpec, ScimUser};
use scimitar::scim::schema::PATCH_OP_URN;
use serde_json::{Value, json};
const CLIENT_SECRET_KEY: &str = "client-secret";

async fn create(scim: &Scim, path: &str, body: Value) -> String {
    let reply = scim.send("POST", path, Some(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

fn user(name: &str, display: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "displayName": display,
        "emails": [{"value": name, "primary": true}],
        "active": true
    })
}

fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members})
}

fn contains_all(seen: &Seen, page: &str, expected: &[&str]) {
    for text in expected {
        assert!(
            seen.text.contains(text),
            "{text:?} on the {page} page:\n{}",
            seen.text
        );
    }
}

/// Everything the test saw or can read that must never hold a secret.
#[derive(Default)]
struct Evidence {
    pages: Vec<(String, String)>,
}

impl Evidence {
    fn keep(&mut self, what: &str, seen: &Seen) {
        self.pages.push((what.to_owned(), seen.html.clone()));
    }
}

#[tokio::test]
async fn console_sign_in_and_every_page() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;

    // The operator's namespace; the console creates its cookie key Secret there.
    let operator_ns = Namespace {
        metadata: ObjectMeta {
            name: Some(OPERATOR_NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let _ = Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &operator_ns)
        .await;

    let provider = Provider::start().await;
    let operator = Operator::start(cp);
    let redirect_uri = format!("{}/api/auth/callback/jumpcloud", operator.url);
    let (client_id, client_secret) = provider.register(&redirect_uri).await;

    let home = namespace(&admin, "console").await;
    let apps = namespace(&admin, "console-apps").await;
    let tenant = home.clone();
    // The client secret lives where scimitar trusts it: the operator's
    // namespace, labelled for the tenant.
    let oidc_secret = format!("{tenant}-oidc");
    tenant_secret(
        &admin,
        &tenant,
        &oidc_secret,
        CLIENT_SECRET_KEY,
        &client_secret,
    )
    .await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "provider": "jumpcloud",
        "oidc": {
            "issuerUrl": provider.url,
            "clientId": client_id,
            "clientSecretRef": {"name": oidc_secret, "key": CLIENT_SECRET_KEY}
        },
        "consoleAdminGroups": ["Scimitar-Admins"],
        "consoleTokenAdminGroups": ["Token-Admins"],
        "mappings": [{"group": "engineering", "role": {"name": "view"}, "namespaces": [apps]}]
    }))
    .expect("tenant spec");
    let token = create_tenant(&admin, &tenant, spec).await;
    let scim = Scim::new(&operator, &token);
    scim.wait_until_authorized().await;

    let ada = create(&scim, "/Users", user("ada@example.com", "Ada Lovelace")).await;
    let bob = create(
        &scim,
        "/Users",
        user("bob@example.com", "Bob <b>Builder</b>"),
    )
    .await;
    // A refused request, for the log filters: the userName is taken.
    let taken = scim
        .send("POST", "/Users", Some(user("bob@example.com", "Bob again")))
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    let admins = create(&scim, "/Groups", group("scimitar-admins", &[&ada])).await;
    create(&scim, "/Groups", group("token-admins", &[&ada])).await;
    let engineering = create(&scim, "/Groups", group("engineering", &[&ada, &bob])).await;

    // The controller records subjects and bindings in the objects' status.
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    until("ada's subject recorded", true, || async {
        users
            .get(&ada)
            .await
            .ok()
            .and_then(|u| u.status?.subject)
            .is_some()
    })
    .await;
    until("engineering's binding recorded", true, || async {
        groups
            .get(&engineering)
            .await
            .ok()
            .and_then(|g| g.status)
            .is_some_and(|s| !s.bindings.is_empty())
    })
    .await;

    let base = format!("{}/console/{tenant}", operator.url);
    let console = format!("{base}/");
    let mut evidence = Evidence::default();

    // The identity provider vouches for these emails (email_verified).
    for person in ["ada@example.com", "bob@example.com", "cleo@example.com"] {
        provider
            .put_user(person, json!({"email": person, "email_verified": true}))
            .await;
    }
    // Someone who set ada's email on their own account, unverified, is not ada.
    provider
        .put_user("mallory", json!({"email": "ada@example.com"}))
        .await;
    let seen = Browser::new().login(&console, "mallory", "unverified-email");
    assert_eq!(seen.status, 403, "{seen:?}");
    assert!(seen.text.contains("not verified"), "{}", seen.text);

    // The admin signs in and sees the real users.
    let ada_browser = Browser::new();
    let seen = ada_browser.login(&console, "ada@example.com", "users");
    assert_eq!(
        seen.status,
        200,
        "{seen:?}; the provider's log is {}",
        provider.log.display()
    );
    assert_eq!(seen.url, format!("{base}/users"));
    contains_all(
        &seen,
        "Users",
        &[
            "ada@example.com",
            "bob@example.com",
            "Ada Lovelace",
            "Bob <b>Builder</b>", // escaped, so shown as text
            "scimitar-admins",
            "engineering",
            "oidc:ada@example.com",
            "2 of 2 users",
        ],
    );
    evidence.keep("users", &seen);
    // The authorization request: code flow, PKCE S256, nonce, state naming the tenant.
    let authorize = &seen.authorize;
    assert_eq!(authorize["response_type"], "code");
    assert_eq!(authorize["code_challenge_method"], "S256");
    assert_eq!(authorize["redirect_uri"], redirect_uri.as_str());
    assert!(authorize["nonce"].as_str().is_some_and(|n| n.len() >= 16));
    assert!(
        authorize["state"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("{tenant}:"))),
        "{authorize}"
    );
    let scopes: Vec<&str> = authorize["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .collect();
    for scope in ["openid", "email", "profile"] {
        assert!(scopes.contains(&scope), "{scope} in {scopes:?}");
    }
    let search = ada_browser.open(&format!("{base}/users?q=BUILDER"), "users-search");
    assert_eq!(search.status, 200);
    contains_all(&search, "Users", &["1 of 2 users", "bob@example.com"]);

    groups_page(&ada_browser, &base, &apps, &mut evidence);
    access_page(&ada_browser, &admin, &base, &apps, &bob, &mut evidence).await;
    logs_page(&ada_browser, &base, &mut evidence);
    let issued = tokens_page(&ada_browser, &operator, &base, &mut evidence).await;
    connect_page(
        &ada_browser,
        &base,
        &provider.url,
        &client_id,
        &mut evidence,
    );

    // A console admin outside the token admin groups sees the tokens but
    // may not issue or revoke one, even by posting the form by hand.
    let cleo = create(&scim, "/Users", user("cleo@example.com", "Cleo Admin")).await;
    let joined = scim
        .send(
            "PATCH",
            &format!("/Groups/{admins}"),
            Some(json!({"schemas": [PATCH_OP_URN],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": cleo}]}]})),
        )
        .await;
    assert!(matches!(joined.status, 200 | 204), "{}", joined.body);
    let cleo_browser = Browser::new();
    let seen = cleo_browser.login(&console, "cleo@example.com", "cleo");
    assert_eq!(seen.status, 200, "{seen:?}");
    let steps = [
        json!({"op": "goto", "url": format!("{base}/tokens"), "shot": "tokens-not-admin"}),
        json!({"op": "count", "selector": "button:has-text(\"Generate token\")"}),
        json!({"op": "post", "url": format!("{base}/tokens"), "form": {"name": "mine", "scim": "on", "expires": ""}}),
        json!({"op": "post", "url": format!("{base}/tokens/revoke"), "form": {"id": "scimitar-token-any"}}),
    ];
    let seen = cleo_browser.run(&steps);
    assert!(
        seen[0].text.contains("consoleTokenAdminGroups"),
        "{}",
        seen[0].text
    );
    assert_eq!(seen[1].value, 0, "no token form for a non-token-admin");
    assert_eq!(seen[2].value["status"], 403, "{:?}", seen[2].value);
    assert_eq!(seen[3].value["status"], 403, "{:?}", seen[3].value);
    assert!(
        operator_tokens(&admin, &tenant).await.is_empty(),
        "no token was issued by cleo"
    );

    // A user outside the console admin groups gets 403.
    let bob_browser = Browser::new();
    let seen = bob_browser.login(&console, "bob@example.com", "forbidden");
    assert_eq!(seen.status, 403, "{seen:?}");
    contains_all(
        &seen,
        "403",
        &[
            "Access denied",
            "not in any of this tenant's console admin groups",
        ],
    );
    evidence.keep("forbidden", &seen);

    // Deactivated over SCIM: the next page load is refused.
    let off = scim
        .send(
            "PATCH",
            &format!("/Users/{ada}"),
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let seen = ada_browser.open(&format!("{base}/users"), "deactivated");
    assert_eq!(seen.status, 403, "{seen:?}");
    assert!(seen.text.contains("deactivated"), "{}", seen.text);

    // A wrong client secret in the Secret: a clear error page and log line.
    let wrong = "wrong-secret-0123456789";
    tenant_secret(&admin, &tenant, &oidc_secret, CLIENT_SECRET_KEY, wrong).await;
    let seen = Browser::new().login(&console, "ada@example.com", "wrong-secret");
    assert_eq!(seen.status, 502, "{seen:?}");
    let expected = format!(
        "The identity provider refused scimitar's client credentials; check the client secret in Secret {OPERATOR_NAMESPACE}/{oidc_secret}"
    );
    assert!(seen.text.contains(&expected), "{}", seen.text);
    evidence.keep("wrong-secret", &seen);

    let log = std::fs::read_to_string(&operator.log).expect("operator log");
    assert!(
        log.lines()
            .any(|l| l.contains("refused the client credentials")
                && l.contains(&tenant)
                && l.contains(&format!("{OPERATOR_NAMESPACE}/{oidc_secret}"))),
        "a log line names the tenant and the Secret; see {}",
        operator.log.display()
    );

    // No secret in any log line, page, custom resource or ConfigMap.
    let secrets = [
        ("the OIDC client secret", client_secret.as_str()),
        ("the wrong client secret", wrong),
        ("the tenant's SCIM token", token.as_str()),
        ("the token issued in the console", issued.as_str()),
    ];
    let mut haystacks = vec![("the operator log".to_owned(), log)];
    haystacks.extend(evidence.pages);
    haystacks.extend(objects(&admin).await);
    for (name, secret) in secrets {
        assert!(secret.len() >= 16, "{name} is a real secret");
        for (place, text) in &haystacks {
            assert!(!text.contains(secret), "{name} appears in {place}");
        }
    }
}

/// Every ScimTenant, ScimUser, ScimGroup and ConfigMap in the cluster, as JSON.
async fn objects(admin: &Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in Api::<ScimTenant>::all(admin.clone())
        .list(&Default::default())
        .await
        .expect("tenants")
    {
        out.push((format!("ScimTenant {:?}", t.metadata.name), json(&t)));
    }
    for u in Api::<ScimUser>::all(admin.clone())
        .list(&Default::default())
        .await
        .expect("users")
    {
        out.push((format!("ScimUser {:?}", u.metadata.name), json(&u)));
    }
    for g in Api::<ScimGroup>::all(admin.clone())
        .list(&Default::default())
        .await
        .expect("groups")
    {
        out.push((format!("ScimGroup {:?}", g.metadata.name), json(&g)));
    }
    let config_maps = Api::<ConfigMap>::all(admin.clone())
        .list(&Default::default())
        .await
        .expect("config maps");
    assert!(!config_maps.items.is_empty());
    for c in config_maps {
        out.push((
            format!("ConfigMap {:?}/{:?}", c.metadata.namespace, c.metadata.name),
            json(&c),
        ));
    }
    out
}

fn json<T: serde::Serialize>(object: &T) -> String {
    serde_json::to_string(object).expect("serialisable")
}

/// Groups: members and the bindings each produced.
fn groups_page(browser: &Browser, base: &str, apps: &str, evidence: &mut Evidence) {
    let seen = browser.open(&format!("{base}/groups"), "groups");
    assert_eq!(seen.status, 200, "{seen:?}");
    contains_all(
        &seen,
        "Groups",
        &[
            "3 of 3 groups",
            "engineering",
            "ada@example.com, bob@example.com",
            "scimitar-admins",
            "ClusterRole/view",
            &format!("namespace {apps}"),
            "none (no mapping names this group)",
        ],
    );
    evidence.keep("groups", &seen);
}

/// Access: the mappings, and the checker agreeing with the API server.
async fn access_page(
    browser: &Browser,
    admin: &Client,
    base: &str,
    apps: &str,
    bob: &str,
    evidence: &mut Evidence,
) {
    let steps = [
        json!({"op": "goto", "url": format!("{base}/access"), "shot": "access"}),
        json!({"op": "select", "selector": "select[name=user]", "value": bob}),
        json!({"op": "select", "selector": "select[name=verb]", "value": "list"}),
        json!({"op": "fill", "selector": "input[name=resource]", "value": "pods"}),
        json!({"op": "fill", "selector": "input[name=namespace]", "value": apps}),
        json!({"op": "click", "selector": "button:has-text(\"Check\")", "shot": "access-allowed"}),
        json!({"op": "text", "selector": "#verdict"}),
        json!({"op": "goto", "url": format!("{base}/access?user={bob}&verb=delete&resource=pods&namespace={apps}"), "shot": "access-denied"}),
        json!({"op": "text", "selector": "#verdict"}),
        json!({"op": "goto", "url": format!("{base}/access?user={bob}&verb=get&resource=deployments.apps&namespace=default")}),
        json!({"op": "text", "selector": "#verdict"}),
    ];
    let seen = browser.run(&steps);
    let page = &seen[0];
    assert_eq!(page.status, 200, "{page:?}");
    contains_all(
        page,
        "Access",
        &["Mappings", "engineering", "ClusterRole/view", apps, "oidc:"],
    );
    evidence.keep("access", page);
    let allowed = &seen[5];
    contains_all(
        allowed,
        "Access",
        &["Result: allowed", "oidc:bob@example.com"],
    );
    evidence.keep("access-allowed", allowed);
    // The page says what the API server says, for the same subject.
    let checks = [
        (6, "list", "pods", apps, "allowed"),
        (8, "delete", "pods", apps, "denied"),
        (10, "get", "apps/deployments", "default", "denied"),
    ];
    for (step, verb, resource, namespace, verdict) in checks {
        assert_eq!(
            seen[step].value, verdict,
            "{verb} {resource} in {namespace}"
        );
        let api = can(admin, "oidc:bob@example.com", verb, resource, namespace).await;
        assert_eq!(
            api,
            verdict == "allowed",
            "the API server on {verb} {resource}"
        );
    }
}

/// SCIM logs: filters select the right rows; the CSV holds the filtered set.
fn logs_page(browser: &Browser, base: &str, evidence: &mut Evidence) {
    let rows = "#entries tbody tr";
    let steps = [
        json!({"op": "goto", "url": format!("{base}/logs"), "shot": "logs"}),
        json!({"op": "select", "selector": "select[name=method]", "value": "POST"}),
        json!({"op": "select", "selector": "select[name=resourceType]", "value": "User"}),
        json!({"op": "select", "selector": "select[name=status]", "value": "4xx"}),
        json!({"op": "click", "selector": "button:has-text(\"Filter\")", "shot": "logs-filtered"}),
        json!({"op": "count", "selector": rows}),
        json!({"op": "goto", "url": format!("{base}/logs?method=POST&resourceType=User&status=2xx")}),
        json!({"op": "count", "selector": rows}),
        json!({"op": "goto", "url": format!("{base}/logs?method=POST&resourceType=User")}),
        json!({"op": "download", "selector": "#csv"}),
        json!({"op": "goto", "url": format!("{base}/logs?since=2000-01-01T00:00&until=2000-01-02T00:00")}),
    ];
    let seen = browser.run(&steps);
    assert_eq!(seen[0].status, 200, "{:?}", seen[0]);
    contains_all(&seen[0], "SCIM logs", &["POST", "/scim/v2/Users", "201"]);
    evidence.keep("logs", &seen[0]);
    let filtered = &seen[4];
    assert_eq!(seen[5].value, 1, "one refused user POST");
    // The payloads of the refused request: what was sent and the SCIM error.
    contains_all(filtered, "SCIM logs", &["409"]);
    assert!(filtered.html.contains("Bob again"), "request payload shown");
    assert!(
        filtered.html.contains("uniqueness"),
        "response payload shown"
    );
    evidence.keep("logs-filtered", filtered);
    assert_eq!(seen[7].value, 2, "two created users");
    let csv = seen[9].value.as_str().expect("CSV text");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().expect("header row").clone();
    let status = headers
        .iter()
        .position(|h| h == "status")
        .expect("status column");
    let mut statuses: Vec<String> = reader
        .records()
        .map(|r| r.expect("CSV row")[status].to_owned())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["201", "201", "409"], "{csv}");
    assert!(
        seen[10].text.contains("No requests match"),
        "{}",
        seen[10].text
    );
}

/// API tokens: generate (shown once, copied), use, see last use, revoke.
/// Returns the issued token.
async fn tokens_page(
    browser: &Browser,
    operator: &Operator,
    base: &str,
    evidence: &mut Evidence,
) -> String {
    let steps = [
        json!({"op": "goto", "url": format!("{base}/tokens"), "shot": "tokens-empty"}),
        json!({"op": "fill", "selector": "input[name=name]", "value": "Okta SCIM"}),
        json!({"op": "select", "selector": "select[name=expires]", "value": "30d"}),
        json!({"op": "click", "selector": "button:has-text(\"Generate token\")", "shot": "tokens-new"}),
        json!({"op": "text", "selector": "#new-token"}),
        json!({"op": "copy", "selector": "#copy"}),
    ];
    let seen = browser.run(&steps);
    assert!(
        seen[0].text.contains("no API tokens yet"),
        "{}",
        seen[0].text
    );
    assert_eq!(seen[3].status, 201, "{:?}", seen[3]);
    let token = seen[4].value.as_str().expect("token text").to_owned();
    assert!(token.starts_with("sct_") && token.len() == 47, "{token}");
    assert_eq!(seen[5].value, token.as_str(), "the copy button copies it");
    contains_all(
        &seen[3],
        "API tokens",
        &["Okta SCIM", "scim", "shown only once"],
    );

    // It works at once; its use shows on the page.
    let issued = Scim::new(operator, &token);
    let reply = issued.send("GET", "/Users?count=1", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let row = "#tokens tbody tr:has-text(\"Okta SCIM\")";
    let seen = browser.run(&[
        json!({"op": "goto", "url": format!("{base}/tokens"), "shot": "tokens"}),
        json!({"op": "text", "selector": format!("{row} td:nth-child(6)")}),
        json!({"op": "click", "selector": format!("{row} button:has-text(\"Revoke\")"), "shot": "tokens-revoked"}),
    ]);
    assert!(!seen[0].text.contains(&token), "shown only once");
    evidence.keep("tokens", &seen[0]);
    let last_used = seen[1].value.as_str().unwrap_or_default();
    assert!(last_used.ends_with("UTC"), "last used: {last_used:?}");
    let revoked = &seen[2];
    assert_eq!(revoked.status, 200, "{revoked:?}");
    contains_all(revoked, "API tokens", &["is revoked", "no API tokens yet"]);
    evidence.keep("tokens-revoked", revoked);
    let reply = issued.send("GET", "/Users?count=1", None).await;
    assert_eq!(reply.status, 401, "a revoked token fails: {}", reply.body);
    token
}

/// The API token Secrets of `tenant` in the operator's namespace.
async fn operator_tokens(admin: &Client, tenant: &str) -> Vec<String> {
    let labels = format!(
        "scimitar.dev/token=true,scimitar.dev/tenant={}",
        scimitar::meta::label_value(tenant)
    );
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), OPERATOR_NAMESPACE)
        .list(&kube::api::ListParams::default().labels(&labels))
        .await
        .expect("token Secrets")
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect()
}

/// Connect kubectl: flags and kubeconfig generated from the tenant.
fn connect_page(
    browser: &Browser,
    base: &str,
    issuer: &str,
    client_id: &str,
    evidence: &mut Evidence,
) {
    let seen = browser.open(&format!("{base}/connect"), "connect");
    assert_eq!(seen.status, 200, "{seen:?}");
    contains_all(
        &seen,
        "Connect kubectl",
        &[
            &format!("--oidc-issuer-url={issuer}"),
            &format!("--oidc-client-id={client_id}"),
            "--oidc-username-claim=email",
            "--oidc-username-prefix=oidc:",
            "kind: AuthenticationConfiguration",
            "oidc-login",
            "you would be oidc:ada@example.com",
        ],
    );
    evidence.keep("connect", &seen);
}

/// `make dev` as a new user meets it: hack/dev.sh with its own local control
/// plane, then a sign-in as the person it names, who sees the directory it
/// seeded over SCIM, its groups' bindings, the access checker and the SCIM
/// requests of the seed; and the seeded people's kubeconfigs, whose ID
/// tokens the API server accepts, with the access their groups map to.
#[tokio::test(flavor = "multi_thread")]
async fn make_dev_shows_the_whole_product() {
    let started = std::time::Instant::now();
    let dir = support::repo().join(format!("target/make-dev-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("make dev's directory");
    let _control_plane = StopControlPlane(dir.join("control-plane"));
    let log_path = dir.join("dev.log");
    let log = std::fs::File::create(&log_path).expect("make dev's log");
    let listen = format!("127.0.0.1:{}", support::operator::free_port());
    // Its own process group, so that stopping it stops the operator and the provider.
    let mut dev = std::process::Command::new("setsid")
        .arg(support::repo().join("hack/dev.sh"))
        .env("SCIMITAR_DEV_LOCAL", "1")
        .env_remove("KUBECONFIG")
        .env("SCIMITAR_BIN", env!("CARGO_BIN_EXE_scimitar"))
        .env("SCIMITAR_DEV_DIR", &dir)
        .env("SCIMITAR_LISTEN", &listen)
        .env(
            "SCIMITAR_METRICS_LISTEN",
            format!("127.0.0.1:{}", support::operator::free_port()),
        )
        .env(
            "SCIMITAR_DEV_OIDC_PORT",
            support::operator::free_port().to_string(),
        )
        .env("RUST_BACKTRACE", "0")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("hack/dev.sh started");
    let stop = StopGroup(dev.id());
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("scimitar is running") {
            break text;
        }
        if let Ok(Some(status)) = dev.try_wait() {
            panic!("make dev exited ({status}):\n{text}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(180),
            "make dev not running after 180 s:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let after = |label: &str| {
        let line = text
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no {label:?} in make dev's message:\n{text}"));
        line[line.find(label).expect("label") + label.len()..]
            .split_whitespace()
            .next()
            .expect("a word after the label")
            .to_owned()
    };
    let console = after("Console:");
    let person = after("sign in as");
    assert_eq!(console, format!("http://{listen}/console/acme/"));
    assert_eq!(person, "cy@acme.example", "the seeded console admin");

    // The provider's certificate is signed by make dev's own CA, which a
    // new user trusts (or clicks through) once.
    let browser = Browser::trusting(&dir.join("oidc/tls.crt"));
    let seen = browser.login(&console, &person, "make-dev-users");
    let signed_in = started.elapsed();
    assert_eq!(seen.status, 200, "{seen:?}\nmake dev said:\n{text}");
    let base = console.trim_end_matches('/');
    assert_eq!(seen.url, format!("{base}/users"));
    contains_all(
        &seen,
        "Users",
        &[
            "3 of 3 users",
            "ada@acme.example",
            "bob@acme.example",
            "cy@acme.example",
            "Ada King", // after the day's full PUT
            "oidc:cy@acme.example",
        ],
    );
    let seen = browser.open(&format!("{base}/groups"), "make-dev-groups");
    contains_all(
        &seen,
        "Groups",
        &[
            "3 of 3 groups",
            "acme-readers",
            "acme-engineering", // renamed from acme-developers
            "acme-platform",
            "ClusterRole/admin",
            "namespace acme-prod",
        ],
    );
    let seen = browser.open(&format!("{base}/access"), "make-dev-access");
    contains_all(
        &seen,
        "Access",
        &["Mappings", "acme-developers", "ClusterRole/edit"],
    );
    let seen = browser.open(&format!("{base}/logs"), "make-dev-logs");
    contains_all(&seen, "SCIM logs", &["POST", "PATCH", "PUT", "/Users"]);
    eprintln!("make dev to a signed-in console: {signed_in:?}");

    // kubectl as the seeded people, with the ID tokens make dev got them.
    let kubectl = |person: &str, args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .env(
                "KUBECONFIG",
                dir.join(format!("people/{person}.kubeconfig")),
            )
            .args(args)
            .output()
            .expect("kubectl runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
            + &String::from_utf8_lossy(&out.stderr)
    };
    let whoami = [
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ];
    // The API server reloads its authentication config about 10 s after make dev wrote it.
    until("the API server accepts cy's ID token", true, || async {
        kubectl("cy", &whoami) == "oidc:cy@acme.example"
    })
    .await;
    let can = |person: &str, verb: &str, namespace: &str| {
        kubectl(person, &["auth", "can-i", verb, "pods", "-n", namespace])
    };
    assert_eq!(
        can("cy", "delete", "acme-prod"),
        "yes",
        "cy administers prod"
    );
    assert_eq!(can("bob", "list", "acme-dev"), "yes", "bob views dev");
    assert!(
        can("bob", "delete", "acme-dev").starts_with("no"),
        "bob's engineering group maps nothing"
    );
    assert!(
        can("bob", "list", "acme").starts_with("no"),
        "the tenant's own namespace"
    );
    assert!(
        can("ada", "list", "acme-dev").starts_with("no"),
        "ada is deactivated"
    );
    drop(stop);
}

/// Stops the control plane make dev started in this directory, when dropped.
struct StopControlPlane(std::path::PathBuf);

impl Drop for StopControlPlane {
    fn drop(&mut self) {
        let _ = std::process::Command::new(support::repo().join("hack/control-plane.sh"))
            .args(["stop", "--clean", "--dir"])
            .arg(&self.0)
            .status();
    }
}

/// Stops a process group (`setsid` made its leader `0`) when dropped.
struct StopGroup(u32);

impl Drop for StopGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0)])
            .status();
    }
}
