//! The real `scimitar run` process against the test control plane, tenants
//! with tokens, a SCIM client, and access checks with SubjectAccessReview.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use scimitar::crd::{ScimTenant, ScimTenantSpec, SecretKeyRef};
use serde_json::Value;

use super::ControlPlane;

/// The identity the operator runs as in tests: the chart's ServiceAccount
/// (release `scimitar` in `scimitar-system`), authenticated with a token from
/// the TokenRequest API and holding exactly the permissions the chart's
/// `templates/rbac.yaml` grants (see [`operator_kubeconfig`]).
pub const OPERATOR_USER: &str = "system:serviceaccount:scimitar-system:scimitar";

/// A running operator process. It is stopped on drop, and in any case when
/// the test binary exits.
pub struct Operator {
    _child: Child,
    /// Its process id; `None` once stopped or killed here.
    pub pid: Option<u32>,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// `http://127.0.0.1:<metrics port>/metrics`
    pub metrics_url: String,
    /// Where its log goes.
    pub log: PathBuf,
    /// Its leader-election identity (`POD_NAME`).
    pub identity: String,
}

impl Operator {
    /// The operator shared by every test of this binary.
    pub fn shared(cp: &'static ControlPlane) -> &'static Operator {
        assert!(
            std::ptr::eq(cp, ControlPlane::shared()),
            "the shared operator runs on the shared control plane; start one of the test's own"
        );
        static SHARED: OnceLock<Operator> = OnceLock::new();
        SHARED.get_or_init(|| Operator::start(cp))
    }

    /// An operator of the caller's own (a second replica, or one to stop).
    ///
    /// Its limits are relaxed: every test client is 127.0.0.1, and
    /// [`Scim::wait_until_authorized`] polls with tokens the operator has not
    /// loaded yet, which are failed authentications; replays run faster than
    /// any IdP over a network. `tests/e2e/metrics_and_limits.rs` tests the limits.
    pub fn start(cp: &ControlPlane) -> Operator {
        Self::start_with(cp, &[])
    }

    /// An operator of the caller's own, with extra `scimitar run` flags.
    ///
    /// Limits are relaxed unless `extra` sets them: every test client comes
    /// from 127.0.0.1, and polling with a token the operator has not loaded
    /// yet counts as failed authentication. `tests/e2e/metrics_and_limits.rs`
    /// runs the real limits.
    pub fn start_with(cp: &ControlPlane, extra: &[&str]) -> Operator {
        let mut operator = Self::spawn(cp, extra);
        operator.wait_ready();
        operator
    }

    /// An operator at the shipped limits (`scimitar run`'s defaults, as
    /// `make dev` and the chart run it), logging at `rust_log`: none of the
    /// tests' relaxed limits.
    pub fn start_with_default_limits(cp: &ControlPlane, rust_log: &str) -> Operator {
        let flags = default_limit_flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Self::start_with_log(cp, &flags, rust_log)
    }

    /// [`Operator::start_with`], logging at `rust_log` (`RUST_LOG`) instead
    /// of the tests' `info,scimitar=debug` (which also logs every SCIM body).
    pub fn start_with_log(cp: &ControlPlane, extra: &[&str], rust_log: &str) -> Operator {
        let mut operator = Self::spawn_with_log(cp, extra, rust_log);
        operator.wait_ready();
        operator
    }

    /// Starts an operator and returns at once, before it listens or is
    /// ready (for tests of what a starting replica answers).
    pub fn spawn(cp: &ControlPlane, extra: &[&str]) -> Operator {
        let rust_log =
            std::env::var("SCIMITAR_OPERATOR_LOG").unwrap_or_else(|_| "info,scimitar=debug".into());
        Self::spawn_with_log(cp, extra, &rust_log)
    }

    fn spawn_with_log(cp: &ControlPlane, extra: &[&str], rust_log: &str) -> Operator {
        let kubeconfig = operator_kubeconfig(cp);
        let port = free_port();
        let metrics_port = free_port();
        let identity = format!("scimitar-{}-{port}", std::process::id());
        let mut args: Vec<&str> = extra.to_vec();
        for (flag, value) in RELAXED_LIMITS {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        let extra: String = args
            .iter()
            .map(|a| format!(" '{}'", a.replace('\'', r"'\''")))
            .collect();
        let log = super::repo().join(format!("target/operator-{}-{port}.log", std::process::id()));
        let pid_file = log.with_extension("pid");
        let binary = env!("CARGO_BIN_EXE_scimitar");
        // A watchdog shell stops the operator when this test process exits.
        let script = format!(
            "{binary} run --kubeconfig {kc} --listen 127.0.0.1:{port} --metrics-listen 127.0.0.1:{metrics_port} --public-url http://127.0.0.1:{port}/scim/v2{extra} >{log} 2>&1 & op=$!; echo $op >{pid}; \
             while kill -0 {parent} 2>/dev/null && kill -0 $op 2>/dev/null; do sleep 0.5; done; kill $op 2>/dev/null",
            kc = kubeconfig.display(),
            log = log.display(),
            pid = pid_file.display(),
            parent = std::process::id(),
        );
        let child = Command::new("bash")
            .args(["-c", &script])
            .env("RUST_LOG", rust_log)
            .env("POD_NAME", &identity)
            .stdin(Stdio::null())
            .spawn()
            .expect("operator started");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            let pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse().ok());
            if pid.is_some() || Instant::now() > deadline {
                break pid;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Operator {
            _child: child,
            pid,
            url,
            metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
            log,
            identity,
        }
    }

    /// Waits (at most 60 s) until `/readyz` answers 200.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http_ok(&format!("{}/readyz", self.url)) {
            assert!(
                Instant::now() < deadline,
                "operator not ready within 60 s; see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The operator's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        ::reqwest::get(&self.metrics_url)
            .await
            .expect("metrics answered")
            .text()
            .await
            .expect("metrics text")
    }

    /// The value of an unlabelled metric (a counter or gauge with no labels).
    pub async fn unlabelled_metric(&self, name: &str) -> f64 {
        let text = self.metrics_text().await;
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} is not in the metrics"))
    }

    /// Kills the operator with SIGKILL (a crash: nothing is released), and
    /// waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            wait_gone(pid);
        }
    }

    /// Stops the operator (SIGTERM, then waits for it to exit).
    pub fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill")
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status();
            wait_gone(pid);
        }
    }
}

/// Waits (at most 30 s) until process `pid` has exited.
fn wait_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client with exactly the operator's credentials (the chart's
/// ServiceAccount token).
pub async fn operator_client(cp: &ControlPlane) -> Client {
    super::client_from(&operator_kubeconfig(cp)).await
}

/// The operator's namespace in the tests, as in a default installation.
pub const OPERATOR_NAMESPACE: &str = "scimitar-system";

/// The chart's ValidatingAdmissionPolicy that limits the operator's writes
/// to objects labelled as scimitar's (`templates/admission-policy.yaml`,
/// release `scimitar`).
pub const WRITES_POLICY: &str = "scimitar-operator-writes";
/// The chart's ValidatingAdmissionPolicy that limits the roles and subjects
/// of the operator's bindings.
pub const BINDINGS_POLICY: &str = "scimitar-operator-bindings";

/// A kubeconfig that authenticates as [`OPERATOR_USER`] with a ServiceAccount
/// token from the TokenRequest API, after installing the chart's
/// ServiceAccount, RBAC objects and admission policy (release `scimitar` in
/// [`OPERATOR_NAMESPACE`]): the operator has exactly the chart's permissions,
/// under exactly the chart's policy (with `rbac.bindableClusterRoles`
/// extended only while a test holds an [`AllowedClusterRole`]). Returns once
/// the policy is enforced.
pub fn operator_kubeconfig(cp: &ControlPlane) -> PathBuf {
    let kubectl = |args: &[&str]| super::kubectl::kubectl(&cp.kubeconfig, args);
    install_operator_rbac(&cp.kubeconfig);
    let sa = OPERATOR_USER
        .rsplit(':')
        .next()
        .expect("ServiceAccount name");
    let token = kubectl(&[
        "create",
        "token",
        sa,
        "--namespace",
        OPERATOR_NAMESPACE,
        "--duration",
        "2h",
    ]);
    let token = token.trim();
    assert!(!token.is_empty(), "TokenRequest returned no token");

    let path = cp.token_kubeconfig("operator-kubeconfig", token);
    // The API server authenticates the token as the ServiceAccount.
    let whoami = super::kubectl::kubectl(
        &path,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    );
    assert_eq!(whoami, OPERATOR_USER, "the token's identity");
    wait_until_policy_enforced(&path);
    path
}

/// ClusterRoles that tests of this process added to the chart's
/// `rbac.bindableClusterRoles` ([`allow_cluster_role`]). Every rendering of
/// the chart here includes them, and renderings are applied one at a time
/// under this lock, so an operator started by another test meanwhile does
/// not take the grant back.
static EXTRA_BINDABLE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Applies the operator's namespace, ServiceAccount, RBAC objects and
/// admission policy as the chart renders them, with the default values
/// except for the ClusterRoles in [`EXTRA_BINDABLE`], added to
/// `rbac.bindableClusterRoles` as an administrator would add them.
fn install_operator_rbac(admin_kubeconfig: &std::path::Path) {
    let extra = EXTRA_BINDABLE.lock().unwrap_or_else(|e| e.into_inner());
    let mut args: Vec<String> = Vec::new();
    if !extra.is_empty() {
        let values = std::fs::read_to_string(super::helm::chart().join("values.yaml"))
            .expect("the chart's values.yaml");
        let values: serde_yaml::Value = serde_yaml::from_str(&values).expect("values YAML");
        let mut roles: Vec<String> = values["rbac"]["bindableClusterRoles"]
            .as_sequence()
            .expect("rbac.bindableClusterRoles is a list")
            .iter()
            .map(|r| r.as_str().expect("a role name").to_owned())
            .collect();
        roles.extend(extra.iter().cloned());
        args = vec![
            "--set-json".into(),
            format!("rbac.bindableClusterRoles={}", serde_json::json!(roles)),
        ];
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let namespace =
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {OPERATOR_NAMESPACE}\n---\n");
    let objects = namespace + &super::helm::operator_rbac(OPERATOR_NAMESPACE, &args);
    let manifest = admin_kubeconfig.with_file_name(format!(
        "operator-rbac-{}.yaml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&manifest, objects).expect("writing the operator's RBAC");
    super::kubectl::kubectl(
        admin_kubeconfig,
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "scimitar-tests",
            "-f",
            &manifest.display().to_string(),
        ],
    );
    let _ = std::fs::remove_file(&manifest);
}

/// The ClusterRole `name` is in the operator's `rbac.bindableClusterRoles`
/// (RBAC `bind` and the admission policy's allowlist) while this lives;
/// dropping it takes the grant back and deletes the ClusterRole `name` if a
/// test created it. See [`allow_cluster_role`].
pub struct AllowedClusterRole {
    kubeconfig: PathBuf,
    name: String,
}

/// Adds the ClusterRole `name` (which need not exist) to the chart's
/// `rbac.bindableClusterRoles` in this control plane, as an administrator
/// would to let tenants map a new role, and waits (at most 60 s) until the
/// API server lets the operator's credentials bind it: a server-side dry run
/// of a labelled RoleBinding to it is accepted (both RBAC's escalation check
/// and the admission policy pass).
pub fn allow_cluster_role(cp: &ControlPlane, name: &str) -> AllowedClusterRole {
    EXTRA_BINDABLE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(name.to_owned());
    let allowed = AllowedClusterRole {
        kubeconfig: cp.kubeconfig.clone(),
        name: name.to_owned(),
    };
    let operator = operator_kubeconfig(cp);
    let probe = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  \
         name: scimitar-allow-probe\n  labels: {{app.kubernetes.io/managed-by: scimitar}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {name}}}\n\
         subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: 'oidc:probe'}}]\n"
    );
    let file = cp.kubeconfig.with_file_name(format!(
        "allow-probe-{}.yaml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, probe).expect("writing the probe");
    let file_arg = file.display().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = super::kubectl::run(
            &operator,
            &[
                "create",
                "--namespace",
                OPERATOR_NAMESPACE,
                "--dry-run=server",
                "-o",
                "name",
                "-f",
                &file_arg,
            ],
        );
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the operator may still not bind ClusterRole {name} 60 s after it was allowed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_file(&file);
    allowed
}

impl Drop for AllowedClusterRole {
    fn drop(&mut self) {
        EXTRA_BINDABLE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|n| *n != self.name);
        // Not a second panic while a failed test unwinds (that would abort
        // the binary and hide the failure).
        let kubeconfig = self.kubeconfig.clone();
        if std::panic::catch_unwind(move || install_operator_rbac(&kubeconfig)).is_err() {
            eprintln!(
                "could not take back the grant to bind ClusterRole {}",
                self.name
            );
        }
        let _ = super::kubectl::run(
            &self.kubeconfig,
            &["delete", "clusterrole", &self.name, "--ignore-not-found"],
        );
    }
}

/// Waits (at most 60 s) until the API server enforces both admission
/// policies on the operator: a new policy binding takes effect only once the
/// API server's policy informer has seen it. Probes with server-side dry runs
/// that only the policy refuses (nothing is stored): an unlabelled
/// ConfigMap, and a labelled binding of the allowlisted `view` to a
/// ServiceAccount.
fn wait_until_policy_enforced(kubeconfig: &std::path::Path) {
    let probes = [
        (
            WRITES_POLICY,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scimitar-policy-probe\n",
        ),
        (
            BINDINGS_POLICY,
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  \
             name: scimitar-policy-probe\n  labels: {app.kubernetes.io/managed-by: scimitar}\n\
             roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n\
             subjects: [{kind: ServiceAccount, name: default, namespace: default}]\n",
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    for (policy, manifest) in probes {
        let file = kubeconfig.with_file_name(format!(
            "policy-probe-{}.yaml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&file, manifest).expect("writing the probe");
        let file_arg = file.display().to_string();
        loop {
            let out = super::kubectl::run(
                kubeconfig,
                &[
                    "create",
                    "--namespace",
                    OPERATOR_NAMESPACE,
                    "--dry-run=server",
                    "-o",
                    "name",
                    "-f",
                    &file_arg,
                ],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success()
                && stderr.contains(&format!("ValidatingAdmissionPolicy '{policy}'"))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the admission policy {policy} is not enforced after 60 s: its probe was {}",
                if out.status.success() {
                    "accepted".to_owned()
                } else {
                    format!("refused otherwise: {stderr}")
                }
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = std::fs::remove_file(&file);
    }
}

/// The limits operators in tests run with unless a test sets them (see
/// [`Operator::start_with`]).
const RELAXED_LIMITS: [(&str, &str); 4] = [
    ("--auth-failures-per-minute", "6000"),
    ("--rate-limit-per-second", "1000"),
    ("--rate-limit-burst", "2000"),
    ("--max-concurrent-requests-per-tenant", "128"),
];

/// `scimitar run` flags that set every limit the tests relax
/// ([`RELAXED_LIMITS`]) back to its shipped default.
pub fn default_limit_flags() -> Vec<String> {
    let defaults = scimitar::http::limits::LimitArgs::default();
    RELAXED_LIMITS
        .iter()
        .flat_map(|&(flag, _)| {
            let value = match flag {
                "--auth-failures-per-minute" => defaults.auth_failures_per_minute.to_string(),
                "--rate-limit-per-second" => defaults.rate_limit_per_second.to_string(),
                "--rate-limit-burst" => defaults.rate_limit_burst.to_string(),
                "--max-concurrent-requests-per-tenant" => {
                    defaults.max_concurrent_requests_per_tenant.to_string()
                }
                other => panic!("no default known for the relaxed limit {other}"),
            };
            [flag.to_owned(), value]
        })
        .collect()
}

/// A loopback port free now and not given to another test of this process.
pub fn free_port() -> u16 {
    // The kernel may hand a released port out again at once; tests run side
    // by side in one process, so a port is given to one of them only (two
    // OIDC providers once got the same port and one failed to bind).
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if GIVEN.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

/// A blocking GET answered with 200, without another client dependency.
fn http_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let request = format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
}

/// A tenant with a fresh token; returns the token. The token's digest is
/// kept where an installation keeps it: a Secret in the operator's namespace,
/// labelled for the tenant, referenced from `spec.tokenSecretRef`.
pub async fn create_tenant(client: &Client, name: &str, spec: ScimTenantSpec) -> String {
    let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
    let secret_name = format!("{name}-scim-token");
    tenant_secret(
        client,
        name,
        &secret_name,
        "token-sha256",
        &hex_sha256(&token),
    )
    .await;
    let mut spec = spec;
    spec.token_secret_ref = Some(SecretKeyRef {
        name: secret_name,
        key: "token-sha256".into(),
        namespace: None,
    });
    Api::<ScimTenant>::all(client.clone())
        .create(&PostParams::default(), &ScimTenant::new(name, spec))
        .await
        .expect("tenant created");
    token
}

/// Lower-case hex SHA-256 of `value` (what a token Secret holds).
pub fn hex_sha256(value: &str) -> String {
    scimitar::meta::hex(&scimitar::auth::token_digest(value))
}

/// Creates (or replaces) the Secret `name` in the operator's namespace with
/// `key` = `value`, labelled as usable by `tenant`.
pub async fn tenant_secret(client: &Client, tenant: &str, name: &str, key: &str, value: &str) {
    ensure_operator_namespace(client).await;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(OPERATOR_NAMESPACE.to_owned()),
            labels: Some(
                [(
                    "scimitar.dev/tenant".to_owned(),
                    scimitar::meta::label_value(tenant),
                )]
                .into(),
            ),
            ..Default::default()
        },
        data: Some([(key.to_owned(), ByteString(value.as_bytes().to_vec()))].into()),
        ..Default::default()
    };
    let api = Api::<Secret>::namespaced(client.clone(), OPERATOR_NAMESPACE);
    api.patch(
        name,
        &kube::api::PatchParams::apply("scimitar-tests").force(),
        &kube::api::Patch::Apply(&secret),
    )
    .await
    .expect("tenant secret written");
}

/// Creates the operator's namespace if it does not exist yet.
pub async fn ensure_operator_namespace(client: &Client) {
    let namespace = k8s_openapi::api::core::v1::Namespace {
        metadata: ObjectMeta {
            name: Some(OPERATOR_NAMESPACE.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    match Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => panic!("creating namespace {OPERATOR_NAMESPACE}: {error}"),
    }
}

/// A SCIM client for one tenant.
pub struct Scim {
    http: ::reqwest::Client,
    base: String,
    token: String,
}

/// A SCIM response.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

impl Scim {
    pub fn new(operator: &Operator, token: &str) -> Self {
        Self {
            http: ::reqwest::Client::new(),
            base: format!("{}/scim/v2", operator.url),
            token: token.to_owned(),
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.send_if_match(method, path, body, None).await
    }

    /// [`Scim::send`] with an `If-Match` header when `etag` is given.
    pub async fn send_if_match(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        etag: Option<&str>,
    ) -> Reply {
        let method = ::reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(etag) = etag {
            request = request.header("if-match", etag);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("SCIM request answered");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            retry_after,
        }
    }

    /// Waits until the operator has loaded this tenant's token.
    pub async fn wait_until_authorized(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.send("GET", "/Users?count=1", None).await.status == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "token not accepted within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Whether `user` may `verb` `resource` in `namespace`, as the API server's
/// RBAC authorizer decides. `resource` may name its API group:
/// `apps/deployments`, `rbac.authorization.k8s.io/rolebindings`.
pub async fn can(client: &Client, user: &str, verb: &str, resource: &str, namespace: &str) -> bool {
    let (group, resource) = resource.rsplit_once('/').unwrap_or(("", resource));
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                group: Some(group.to_owned()),
                resource: Some(resource.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

/// A tenant mapping of `group` to the ClusterRole `role` in `namespaces`.
pub fn mapping(group: &str, role: &str, namespaces: &[&str]) -> scimitar::crd::RoleMapping {
    scimitar::crd::RoleMapping {
        group: group.into(),
        role: scimitar::crd::RoleRef {
            kind: scimitar::crd::RoleKind::ClusterRole,
            name: role.into(),
        },
        namespaces: namespaces.iter().map(|n| (*n).to_owned()).collect(),
        cluster_wide: false,
        ..Default::default()
    }
}

/// Waits until `user` may (or may not) `verb` `resource` in `namespace`, as
/// SubjectAccessReview says; returns how long that took.
pub async fn access(
    admin: &Client,
    user: &str,
    verb: &str,
    resource: &str,
    namespace: &str,
    want: bool,
) -> std::time::Duration {
    let what = format!("{user} {verb} {resource} in {namespace}");
    until(&what, want, || can(admin, user, verb, resource, namespace)).await
}

/// [`until`], and asserts it took at most `bound`. The measurement is
/// printed (`--nocapture` shows it), and a missed bound fails with it.
pub async fn within<F, Fut>(what: &str, bound: Duration, want: bool, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let took = until(what, want, check).await;
    eprintln!("measured: {what}: {took:?} (bound {bound:?})");
    assert!(
        took <= bound,
        "{what}: took {took:?}, over the bound of {bound:?}"
    );
    took
}

/// Polls `check` until it returns `want`; returns how long it took.
pub async fn until<F, Fut>(what: &str, want: bool, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: still not {want} after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
