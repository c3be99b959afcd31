//! Tenants' API tokens through the `scimitar token` CLI, against the real API
//! server: created once and shown once, listed without secrets, honoured by
//! every replica, revoked within seconds everywhere, refused when expired or
//! presented for another tenant's data.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::operator::{Operator, Scim, create_tenant};
use crate::support::{ControlPlane, install_crds, namespace};
use scimitar::crd::ScimTenantSpec;
use serde_json::json;

fn cli(cp: &ControlPlane, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .arg("token")
        .args(args)
        .args(["--kubeconfig", &cp.kubeconfig.display().to_string()])
        .output()
        .expect("running scimitar token");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn status_of(scim: &Scim) -> u16 {
    scim.send("GET", "/Users?count=1", None).await.status
}

/// Waits until `scim` answers `want`; returns how long it took.
async fn until_status(scim: &Scim, want: u16, what: &str) -> Duration {
    let started = Instant::now();
    while status_of(scim).await != want {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: not {want} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn tokens_are_created_listed_honoured_everywhere_and_revoked() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "tok").await;
    let other = namespace(&admin, "tok-other").await;
    let spec = |ns: &str| -> ScimTenantSpec {
        serde_json::from_value(json!({"namespace": ns})).expect("spec")
    };
    create_tenant(&admin, &home, spec(&home)).await;
    let other_token = create_tenant(&admin, &other, spec(&other)).await;
    let first = Operator::shared(cp);
    let second = Operator::start(cp);

    let (ok, token, stderr) = cli(
        cp,
        &["create", "--tenant", &home, "--name", "JumpCloud SCIM"],
    );
    assert!(ok, "{stderr}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("sct_") && token.len() == 47, "{token}");
    assert!(stderr.contains("shown once"), "{stderr}");
    let (ok, _, stderr) = cli(cp, &["create", "--tenant", "no-such-tenant", "--name", "x"]);
    assert!(!ok && stderr.contains("no ScimTenant"), "{stderr}");

    // Honoured by both replicas.
    let on_first = Scim::new(first, &token);
    let on_second = Scim::new(&second, &token);
    until_status(&on_first, 200, "new token on replica 1").await;
    until_status(&on_second, 200, "new token on replica 2").await;

    // Listed with its name and tenant, never its value or digest.
    let (ok, listed, _) = cli(cp, &["list", "--tenant", &home]);
    assert!(ok);
    assert!(
        listed.contains("JumpCloud SCIM") && listed.contains(&home),
        "{listed}"
    );
    assert!(
        !listed.contains(&token) && !listed.contains(&token[4..]),
        "{listed}"
    );
    let digest = scimitar::meta::hex(&scimitar::auth::token_digest(&token));
    assert!(!listed.contains(&digest));

    // The same through kubectl's plugin mechanism, as `make install` links
    // it: `kubectl scimitar …` runs the same binary.
    let plugins = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_scimitar"),
        plugins.path().join("kubectl-scimitar"),
    )
    .expect("plugin link");
    let path = format!(
        "{}:{}",
        plugins.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let kubectl = Command::new("kubectl")
        .env("PATH", path)
        .args(["scimitar", "token", "list", "--tenant", &home])
        .args(["--kubeconfig", &cp.kubeconfig.display().to_string()])
        .output()
        .expect("running kubectl scimitar");
    assert!(kubectl.status.success(), "{kubectl:?}");
    let through_kubectl = String::from_utf8_lossy(&kubectl.stdout);
    assert_eq!(through_kubectl.lines().next(), listed.lines().next());
    assert!(
        through_kubectl.contains("JumpCloud SCIM") && through_kubectl.contains(&home),
        "{through_kubectl}"
    );
    let id = listed
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("a token row")
        .to_owned();

    // A token reaches only its own tenant's data.
    let elsewhere = Scim::new(first, &other_token);
    elsewhere.wait_until_authorized().await;
    let user = elsewhere
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "only-other@example.com"})),
        )
        .await;
    assert_eq!(user.status, 201);
    let path = format!("/Users/{}", user.body["id"].as_str().expect("id"));
    assert_eq!(on_first.send("GET", &path, None).await.status, 404);

    // Revoked: refused on both replicas within seconds.
    let (ok, out, stderr) = cli(cp, &["revoke", &id]);
    assert!(ok && out.contains("Revoked"), "{stderr}");
    let first_gone = until_status(&on_first, 401, "revoked token on replica 1").await;
    let second_gone = until_status(&on_second, 401, "revoked token on replica 2").await;
    eprintln!("timing: revocation honoured in {first_gone:?} and {second_gone:?}");
    assert!(first_gone < Duration::from_secs(5) && second_gone < Duration::from_secs(5));
    let refused = on_second.send("GET", "/Users", None).await;
    assert_eq!(refused.body["status"], "401");

    // Expiry: a token that outlives its lifetime is refused.
    let (ok, short, stderr) = cli(
        cp,
        &[
            "create",
            "--tenant",
            &home,
            "--name",
            "short",
            "--expires",
            "2s",
        ],
    );
    assert!(ok, "{stderr}");
    let short = Scim::new(first, short.trim());
    until_status(&short, 200, "short-lived token").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status_of(&short).await, 401, "expired token refused");
    let (_, listed, _) = cli(cp, &["list"]);
    assert!(listed.contains("(expired)"), "{listed}");

    // A token with only the logs scope cannot provision.
    let (ok, logs_only, _) = cli(
        cp,
        &[
            "create",
            "--tenant",
            &home,
            "--name",
            "log reader",
            "--scope",
            "logs",
        ],
    );
    assert!(ok);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status_of(&Scim::new(first, logs_only.trim())).await, 401);
}

#[tokio::test]
async fn a_logs_token_reads_its_own_tenants_scim_log_only() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "logs").await;
    let other = namespace(&admin, "logs-other").await;
    for ns in [&home, &other] {
        let spec: ScimTenantSpec = serde_json::from_value(json!({"namespace": ns})).expect("spec");
        create_tenant(&admin, ns, spec).await;
    }
    let operator = Operator::shared(cp);
    let (ok, both, stderr) = cli(
        cp,
        &[
            "create",
            "--tenant",
            &home,
            "--name",
            "IdP and logs",
            "--scope",
            "scim",
            "--scope",
            "logs",
        ],
    );
    assert!(ok, "{stderr}");
    let (ok, other_logs, _) = cli(
        cp,
        &[
            "create", "--tenant", &other, "--name", "logs", "--scope", "logs",
        ],
    );
    assert!(ok);
    let scim = Scim::new(operator, both.trim());
    until_status(&scim, 200, "scim+logs token").await;
    let created = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "logged@example.com", "password": "hunter2"})),
        )
        .await;
    assert_eq!(created.status, 201);

    let http = reqwest::Client::new();
    let url = format!(
        "{}/api/v1/tenants/{home}/scim-logs?method=POST",
        operator.url
    );
    let page: serde_json::Value = http
        .get(&url)
        .bearer_auth(both.trim())
        .send()
        .await
        .expect("logs API")
        .json()
        .await
        .expect("JSON");
    let entries = page["entries"].as_array().expect("entries");
    let post = entries
        .iter()
        .find(|e| e["path"] == "/scim/v2/Users")
        .expect("the POST is in the log");
    assert_eq!(post["status"], 201);
    assert_eq!(post["tenant"], home.as_str());
    assert!(
        !page.to_string().contains("hunter2"),
        "passwords are redacted"
    );

    // Another tenant's logs token sees nothing of this tenant.
    let refused = http
        .get(&url)
        .bearer_auth(other_logs.trim())
        .send()
        .await
        .expect("logs API");
    assert_eq!(refused.status().as_u16(), 404);
}
