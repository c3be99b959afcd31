//! A real OIDC provider on loopback (PyPI `oidc-provider-mock`, pinned and
//! installed by `hack/oidc-provider.sh`), over plain HTTP for the console or
//! over HTTPS with a CA of its own for kube-apiserver; signing in without a
//! browser; and the AuthenticationConfiguration file kube-apiserver reads.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::operator::free_port;
use super::repo;

/// The cached venv's bin directory, installed on first use.
pub fn venv_bin() -> PathBuf {
    let out = Command::new(repo().join("hack/oidc-provider.sh"))
        .arg("install")
        .output()
        .expect("running hack/oidc-provider.sh install");
    assert!(
        out.status.success(),
        "installing oidc-provider-mock failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("the venv's bin directory")
            .trim(),
    )
}

/// oidc-provider-mock on loopback, stopped when this test process exits.
/// Clients must register, and authorization requests must carry a nonce.
pub struct Provider {
    _child: Child,
    /// The issuer: `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`.
    pub url: String,
    pub log: PathBuf,
    /// PEM of the CA that signed the HTTPS provider's certificate.
    pub ca: Option<String>,
    /// A client that trusts [`Provider::ca`] and does not follow redirects.
    http: reqwest::Client,
}

impl Provider {
    /// Over plain HTTP, as scimitar's console may use it.
    pub async fn start() -> Provider {
        let bin = venv_bin().join("oidc-provider-mock");
        let port = free_port();
        let log = repo().join(format!("target/oidc-provider-{}.log", std::process::id()));
        let command = format!(
            "{bin} --host 127.0.0.1 --port {port} --require-registration true --require-nonce true",
            bin = bin.display(),
        );
        Self::spawn(&command, "", format!("http://127.0.0.1:{port}"), log, None).await
    }

    /// Over HTTPS (`hack/oidc-provider.sh serve`), as kube-apiserver requires
    /// of issuers, with `options` for oidc-provider-mock (such as
    /// `--token-max-age 20`).
    pub async fn start_https(options: &[&str]) -> Provider {
        let port = free_port();
        let name = format!("oidc-provider-{}-{port}", std::process::id());
        let dir = repo().join("target").join(&name);
        let log = repo().join(format!("target/{name}.log"));
        // Installs the venv now: a first pip install must not eat into the
        // start-up deadline below.
        venv_bin();
        let options: String = options.iter().map(|o| format!(" '{o}'")).collect();
        let command = format!(
            "{script} serve --dir {dir} --port {port} --require-registration true --require-nonce true{options}",
            script = repo().join("hack/oidc-provider.sh").display(),
            dir = dir.display(),
        );
        // The script writes the CA before it starts serving; the watchdog
        // removes it and its keys when the provider stops.
        let url = format!("https://127.0.0.1:{port}");
        let cleanup = format!("; rm -rf '{}'", dir.display());
        Self::spawn(&command, &cleanup, url, log, Some(dir.join("ca.crt"))).await
    }

    /// Runs `command` under a watchdog that stops it when this test process
    /// exits, then runs `cleanup`.
    async fn spawn(
        command: &str,
        cleanup: &str,
        url: String,
        log: PathBuf,
        ca_file: Option<PathBuf>,
    ) -> Provider {
        let script = format!(
            "{command} >{log} 2>&1 & p=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 0.5; done; kill $p 2>/dev/null{cleanup}",
            log = log.display(),
            parent = std::process::id(),
        );
        let child = Command::new("bash")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("provider started");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut ca = None;
        let mut http = client(None);
        let discovery = loop {
            if let Some(file) = &ca_file
                && ca.is_none()
                && let Ok(pem) = std::fs::read_to_string(file)
                && pem.contains("END CERTIFICATE")
            {
                http = client(Some(&pem));
                ca = Some(pem);
            }
            if ca_file.is_none() || ca.is_some() {
                let response = http
                    .get(format!("{url}/.well-known/openid-configuration"))
                    .send()
                    .await;
                if let Ok(response) = response
                    && response.status().is_success()
                {
                    break response.json::<Value>().await.expect("discovery document");
                }
            }
            assert!(
                Instant::now() < deadline,
                "OIDC provider not up within 30 s; see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            discovery["issuer"], url,
            "the provider's discovery document names its own URL as the issuer"
        );
        Provider {
            _child: child,
            url,
            log,
            ca,
            http,
        }
    }

    /// Sets the claims the provider issues for `sub` (otherwise it issues
    /// only `email: <sub>`, unverified).
    pub async fn put_user(&self, sub: &str, claims: Value) {
        let status = self
            .http
            .put(format!("{}/users/{sub}", self.url))
            .json(&claims)
            .send()
            .await
            .expect("user claims stored")
            .status();
        assert!(status.is_success(), "PUT /users/{sub}: {status}");
    }

    /// Registers a `client_secret_basic` client; returns its id and secret.
    pub async fn register(&self, redirect_uri: &str) -> (String, String) {
        let response: Value = self
            .http
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

    /// Signs `sub` in with the authorization-code flow, as kubelogin would
    /// but without a browser: the authorization request, the provider's
    /// sign-in form posted with the subject, the code from the redirect to
    /// `redirect_uri` (never followed), and the code exchanged at the token
    /// endpoint. Returns the ID token.
    pub async fn sign_in(
        &self,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        sub: &str,
    ) -> String {
        let state = uuid::Uuid::new_v4().simple().to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let authorize = format!("{}/oauth2/authorize", self.url);
        let query = [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", "openid email profile"),
            ("state", &state),
            ("nonce", &nonce),
        ];
        let form = self
            .http
            .get(&authorize)
            .query(&query)
            .send()
            .await
            .expect("authorization request answered");
        assert_eq!(form.status(), 200, "the authorization request");
        let page = form.text().await.unwrap_or_default();
        assert!(page.contains("name=\"sub\""), "a sign-in form:\n{page}");

        let redirect = self
            .http
            .post(&authorize)
            .query(&query)
            .form(&[("sub", sub)])
            .send()
            .await
            .expect("sign-in form answered");
        assert_eq!(redirect.status(), 302, "the sign-in redirects back");
        let location = redirect
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .expect("a Location header");
        let location = reqwest::Url::parse(location).expect("an absolute redirect");
        assert!(
            location.as_str().starts_with(redirect_uri),
            "redirected to {location}"
        );
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some(state.as_str()));
        let code = param("code").unwrap_or_else(|| panic!("no code in {location}"));

        let tokens: Value = self
            .http
            .post(format!("{}/oauth2/token", self.url))
            .basic_auth(client_id, Some(client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
            ])
            .send()
            .await
            .expect("token endpoint answered")
            .json()
            .await
            .expect("token response JSON");
        let id_token = tokens["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no id_token in {tokens}"))
            .to_owned();
        let claims = claims(&id_token);
        assert_eq!(claims["nonce"], nonce.as_str(), "the ID token's nonce");
        assert_eq!(claims["iss"], self.url.as_str(), "the ID token's issuer");
        id_token
    }
}

fn client(ca: Option<&str>) -> reqwest::Client {
    // A fresh connection per request: the provider closes idle keep-alive
    // connections, and a request sent on one it just closed fails with
    // IncompleteMessage (seen when the machine is busy).
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0);
    if let Some(pem) = ca {
        builder = builder.add_root_certificate(
            reqwest::Certificate::from_pem(pem.as_bytes()).expect("the provider's CA"),
        );
    }
    builder.build().expect("HTTP client")
}

/// The claims of a JWT (its payload, not verified: the API server verifies).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// An AuthenticationConfiguration file (`control-plane.sh start
/// --authentication-config FILE`). kube-apiserver watches it, so JWT
/// authenticators can be added while it runs.
pub struct AuthenticationConfig {
    pub path: PathBuf,
    jwt: Mutex<Vec<Value>>,
}

impl AuthenticationConfig {
    /// Writes a configuration with no authenticators at `path`.
    pub fn create(path: &Path) -> AuthenticationConfig {
        let config = AuthenticationConfig {
            path: path.to_owned(),
            jwt: Mutex::new(Vec::new()),
        };
        config.write(&[]);
        config
    }

    /// Adds the JWT authenticators of `config` (an AuthenticationConfiguration
    /// in YAML, as the console's Connect page shows it), trusting `ca` (PEM)
    /// for their issuers, as an administrator would for a private CA.
    pub fn add(&self, config: &str, ca: &str) {
        let config: Value = serde_yaml::from_str(config).expect("AuthenticationConfiguration YAML");
        assert_eq!(config["kind"], "AuthenticationConfiguration");
        let mut jwt = self.jwt.lock().unwrap_or_else(|e| e.into_inner());
        for authenticator in config["jwt"].as_array().expect("a jwt list") {
            let mut authenticator = authenticator.clone();
            authenticator["issuer"]["certificateAuthority"] = json!(ca);
            jwt.push(authenticator);
        }
        self.write(&jwt);
    }

    /// Replaces the file in one rename: kube-apiserver never reads half of it.
    fn write(&self, jwt: &[Value]) {
        let config = json!({
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "AuthenticationConfiguration",
            "jwt": jwt,
        });
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&tmp, serde_yaml::to_string(&config).expect("YAML"))
            .expect("writing the authentication configuration");
        std::fs::rename(&tmp, &self.path).expect("installing the authentication configuration");
    }
}
