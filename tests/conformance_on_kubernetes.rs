//! The third-party SCIM checkers (scim2-tester, scim-sanity) against the
//! Kubernetes-backed server: `scimitar run` on the real API server.

mod support;

use std::process::Command;

use scimitar::crd::ScimTenantSpec;
use serde_json::json;
use support::operator::{Operator, Scim, create_tenant};
use support::{ControlPlane, install_crds, namespace, repo};

#[tokio::test]
async fn scim2_tester_and_scim_sanity_pass_against_the_kubernetes_store() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "conformance").await;
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home, "provider": "generic"})).expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let operator = Operator::shared(cp);
    Scim::new(operator, &token).wait_until_authorized().await;
    let url = format!("{}/scim/v2", operator.url);
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
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "checkers failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 failed, 0 skipped"), "{stdout}");
}
