//! The third-party SCIM checkers (scim2-tester, scim-sanity) against the
//! Kubernetes-backed server: `scimitar run` on the real API server, at the
//! shipped limits (as `make dev` and the chart run it), through
//! `hack/scim-checkers.sh URL TOKEN`.

use std::process::Command;
use std::time::Instant;

use crate::support::operator::{Operator, Scim, create_tenant};
use crate::support::{ControlPlane, install_crds, namespace, repo};
use scimitar::crd::ScimTenantSpec;
use serde_json::json;

/// The sum of the samples of metric `name` whose labels include
/// `tenant="<tenant>"`.
async fn tenant_total(operator: &Operator, name: &str, tenant: &str) -> f64 {
    let text = operator.metrics_text().await;
    let label = format!("tenant=\"{tenant}\"");
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(&label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |sum, value| sum + value)
}

#[tokio::test]
async fn scim2_tester_and_scim_sanity_pass_against_the_kubernetes_store_at_the_default_limits() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "conformance").await;
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home, "provider": "generic"})).expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    // The shipped limits; logging as the chart sets it.
    let operator = Operator::start_with_default_limits(cp, "info");
    Scim::new(&operator, &token).wait_until_authorized().await;
    let url = format!("{}/scim/v2", operator.url);
    let requests = "scimitar_scim_requests_total";
    let limited = "scimitar_scim_requests_limited_total";
    let sent_before = tenant_total(&operator, requests, &home).await;
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(repo().join("hack/scim-checkers.sh"))
            .args([&url, &token])
            .env(
                "SCIM_CHECKERS_OUT",
                repo().join("target/scim-checkers-kube"),
            )
            .output()
            .expect("running hack/scim-checkers.sh")
    })
    .await
    .expect("checker task");
    let took = started.elapsed();
    let sent = tenant_total(&operator, requests, &home).await - sent_before;
    let refused = tenant_total(&operator, limited, &home).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    eprintln!(
        "the checkers sent {sent} SCIM requests in {:.1} s ({:.0}/s on average); refused by a limit: {refused}",
        took.as_secs_f64(),
        sent / took.as_secs_f64(),
    );
    assert!(
        output.status.success(),
        "checkers failed:\n{stdout}\n{stderr}"
    );
    let tester = stdout
        .lines()
        .find_map(|line| line.strip_prefix("scim2-tester: "))
        .unwrap_or_else(|| panic!("no scim2-tester summary in:\n{stdout}"));
    let passed: u32 = tester
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable summary {tester:?}"));
    assert!(
        tester.ends_with("passed, 0 failed, 0 skipped") && passed >= 130,
        "{tester}"
    );
    // No request of the checkers met a limit: the defaults leave a
    // conformance run (and an IdP's first sync) alone.
    assert_eq!(refused, 0.0, "requests refused by a limit at the defaults");
}
