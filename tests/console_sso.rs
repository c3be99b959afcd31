//! The tenant console in a real browser (headless Debian Chromium driven by
//! `playwright-core`, tests/console/browse.cjs) signing in through a real
//! OIDC provider on loopback (PyPI `oidc-provider-mock`, a registered
//! `client_secret_basic` client, nonce required), against the real operator
//! and API server. Screenshots go to `target/console-screenshots/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use scimitar::crd::{ScimTenantSpec, ScimUser};
use serde_json::{Value, json};
use support::operator::{OPERATOR_NAMESPACE, Operator, Scim, create_tenant};
use support::{ControlPlane, install_crds, namespace, repo};

/// Pinned test tools, installed into the cache on first use.
const OIDC_PROVIDER_MOCK: &str = "oidc-provider-mock==0.3.4";
const PLAYWRIGHT_CORE: &str = "playwright-core@1.65.1";
const CHROMIUM: &str = "/usr/bin/chromium";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const CLIENT_SECRET_KEY: &str = "client-secret";

fn cache() -> PathBuf {
    std::env::var_os("SCIMITAR_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/scimitar")
        })
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The mock provider's executable, from a cached venv.
fn oidc_provider_mock() -> PathBuf {
    let venv = cache().join("oidc-venv");
    let bin = venv.join("bin/oidc-provider-mock");
    let pinned = venv.join(format!(".{OIDC_PROVIDER_MOCK}"));
    if !pinned.exists() {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "creating the venv",
        );
        run(
            Command::new(venv.join("bin/pip")).args(["install", "-q", OIDC_PROVIDER_MOCK]),
            "pip install oidc-provider-mock",
        );
        std::fs::write(&pinned, "").expect("marking the venv");
    }
    bin
}

/// The directory whose node_modules holds playwright-core.
fn node_modules() -> PathBuf {
    let dir = cache().join("node");
    let pinned = dir.join(format!(".{PLAYWRIGHT_CORE}"));
    if !pinned.exists() {
        std::fs::create_dir_all(&dir).expect("node cache dir");
        run(
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--save-exact",
                    "--prefix",
                ])
                .arg(&dir)
                .arg(PLAYWRIGHT_CORE),
            "npm install playwright-core",
        );
        std::fs::write(&pinned, "").expect("marking node_modules");
    }
    dir.join("node_modules")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// oidc-provider-mock on loopback, stopped when this test process exits.
struct Provider {
    _child: Child,
    url: String,
    log: PathBuf,
}

impl Provider {
    async fn start() -> Provider {
        let bin = oidc_provider_mock();
        let port = free_port();
        let log = repo().join(format!("target/oidc-provider-{}.log", std::process::id()));
        let script = format!(
            "{bin} --host 127.0.0.1 --port {port} --require-registration true --require-nonce true >{log} 2>&1 & p=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 0.5; done; kill $p 2>/dev/null",
            bin = bin.display(),
            log = log.display(),
            parent = std::process::id(),
        );
        let child = Command::new("bash")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("provider started");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = http
                .get(format!("{url}/.well-known/openid-configuration"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "OIDC provider not up; see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Provider {
            _child: child,
            url,
            log,
        }
    }

    /// Registers a `client_secret_basic` client; returns its id and secret.
    async fn register(&self, redirect_uri: &str) -> (String, String) {
        let response: Value = reqwest::Client::new()
            .post(format!("{}/oauth2/clients", self.url))
            .json(&json!({"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_basic"}))
            .send()
            .await
            .expect("client registration")
            .json()
            .await
            .expect("registration JSON");
        (
            response["client_id"]
                .as_str()
                .expect("client_id")
                .to_owned(),
            response["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        )
    }
}

/// What the browser saw.
#[derive(Debug)]
struct Seen {
    status: u16,
    url: String,
    text: String,
    authorize: Value,
}

/// One browser profile (its own cookies).
struct Browser {
    profile: tempfile::TempDir,
    shots: PathBuf,
}

impl Browser {
    fn new() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: apt-get install chromium"
        );
        let shots = repo().join("target/console-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Browser {
            profile: tempfile::tempdir().expect("profile dir"),
            shots,
        }
    }

    fn drive(&self, args: &[&str], shot: &str) -> Seen {
        let script = repo().join("tests/console/browse.cjs");
        let shot = self.shots.join(format!("{shot}.png"));
        let out = Command::new("timeout")
            .args(["90", "node"])
            .arg(&script)
            .arg(args[0])
            .arg(self.profile.path())
            .args(&args[1..])
            .arg(&shot)
            .env("NODE_PATH", node_modules())
            .stdin(Stdio::null())
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "browser script failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Value = serde_json::from_slice(&out.stdout).expect("browser JSON");
        Seen {
            status: seen["status"].as_u64().unwrap_or(0) as u16,
            url: seen["url"].as_str().unwrap_or_default().to_owned(),
            text: seen["text"].as_str().unwrap_or_default().to_owned(),
            authorize: seen["authorize"].clone(),
        }
    }

    fn login(&self, console: &str, subject: &str, shot: &str) -> Seen {
        self.drive(&["login", console, subject], shot)
    }

    fn open(&self, url: &str, shot: &str) -> Seen {
        self.drive(&["open", url], shot)
    }
}

async fn put_secret(client: &Client, namespace: &str, name: &str, data: &[(&str, Vec<u8>)]) {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.clone())))
                .collect(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), namespace)
        .patch(
            name,
            &PatchParams::apply("scimitar-tests").force(),
            &Patch::Apply(&secret),
        )
        .await
        .expect("secret applied");
}

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

#[tokio::test]
async fn console_sign_in_through_oidc() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;

    // The console's cookie key, in the operator's namespace, before it starts.
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
    let mut key = vec![0u8; 64];
    getrandom::fill(&mut key).expect("random key");
    put_secret(
        &admin,
        OPERATOR_NAMESPACE,
        "scimitar-console-key",
        &[("key", key)],
    )
    .await;

    let provider = Provider::start().await;
    let operator = Operator::start(cp);
    let redirect_uri = format!("{}/api/auth/callback/jumpcloud", operator.url);
    let (client_id, client_secret) = provider.register(&redirect_uri).await;

    let home = namespace(&admin, "console").await;
    let tenant = home.clone();
    put_secret(
        &admin,
        &home,
        "jumpcloud-oidc",
        &[(CLIENT_SECRET_KEY, client_secret.clone().into_bytes())],
    )
    .await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "provider": "jumpcloud",
        "oidc": {
            "issuerUrl": provider.url,
            "clientId": client_id,
            "clientSecretRef": {"name": "jumpcloud-oidc", "key": CLIENT_SECRET_KEY}
        },
        "consoleAdminGroups": ["Scimitar-Admins"]
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
    create(&scim, "/Groups", group("scimitar-admins", &[&ada])).await;
    create(&scim, "/Groups", group("engineering", &[&ada, &bob])).await;
    // The controller records each user's RBAC subject in its status.
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let deadline = Instant::now() + Duration::from_secs(30);
    while users
        .get(&ada)
        .await
        .ok()
        .and_then(|u| u.status?.subject)
        .is_none()
    {
        assert!(Instant::now() < deadline, "subject not recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let console = format!("{}/console/{tenant}/", operator.url);
    let users_url = format!("{}/console/{tenant}/users", operator.url);

    // The admin signs in and sees the real users.
    let ada_browser = Browser::new();
    let seen = ada_browser.login(&console, "ada@example.com", "users");
    assert_eq!(seen.status, 200, "{seen:?}");
    assert_eq!(seen.url, users_url);
    for expected in [
        "ada@example.com",
        "bob@example.com",
        "Ada Lovelace",
        "Bob <b>Builder</b>", // escaped, so shown as text
        "scimitar-admins",
        "engineering",
        "oidc:ada@example.com",
        "2 of 2 users",
    ] {
        assert!(
            seen.text.contains(expected),
            "{expected} on the Users page:\n{}",
            seen.text
        );
    }
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
    let search = ada_browser.open(&format!("{users_url}?q=BUILDER"), "users-search");
    assert_eq!(search.status, 200);
    assert!(search.text.contains("1 of 2 users"), "{}", search.text);
    assert!(search.text.contains("bob@example.com"));

    // A user outside the console admin groups gets 403.
    let bob_browser = Browser::new();
    let seen = bob_browser.login(&console, "bob@example.com", "forbidden");
    assert_eq!(seen.status, 403, "{seen:?}");
    assert!(seen.text.contains("Access denied"), "{}", seen.text);
    assert!(
        seen.text
            .contains("not in any of this tenant's console admin groups")
    );

    // Deactivated over SCIM: the next page load is refused.
    let off = scim
        .send(
            "PATCH",
            &format!("/Users/{ada}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let seen = ada_browser.open(&users_url, "deactivated");
    assert_eq!(seen.status, 403, "{seen:?}");
    assert!(seen.text.contains("deactivated"), "{}", seen.text);

    // A wrong client secret in the Secret: a clear error page and log line.
    let wrong = "wrong-secret-0123456789";
    put_secret(
        &admin,
        &home,
        "jumpcloud-oidc",
        &[(CLIENT_SECRET_KEY, wrong.as_bytes().to_vec())],
    )
    .await;
    let seen = Browser::new().login(&console, "ada@example.com", "wrong-secret");
    assert_eq!(seen.status, 502, "{seen:?}");
    let expected = format!(
        "The identity provider refused scimitar's client credentials; check the client secret in Secret {home}/jumpcloud-oidc"
    );
    assert!(seen.text.contains(&expected), "{}", seen.text);
    assert!(!seen.text.contains(wrong));

    let log = std::fs::read_to_string(&operator.log).expect("operator log");
    assert!(
        log.lines()
            .any(|l| l.contains("refused the client credentials")
                && l.contains(&tenant)
                && l.contains(&format!("{home}/jumpcloud-oidc"))),
        "a log line names the tenant and the Secret; see {}",
        operator.log.display()
    );
    for secret in [client_secret.as_str(), wrong] {
        assert!(!log.contains(secret), "a client secret in the operator log");
    }
    let _ = provider.log;
}
