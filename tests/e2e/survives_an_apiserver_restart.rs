//! The API server goes away and comes back mid-run: SCIM writes made while it
//! is down get 503 with Retry-After and change nothing; retried, they land
//! exactly once, and access converges to what the directory says.

use scimitar::scim::schema::PATCH_OP_URN;
use std::time::{Duration, Instant};

use crate::support::operator::{Operator, Reply, Scim, can, until};
use crate::support::tenant::Tenant;
use crate::support::{ControlPlane, install_crds, namespace};
use kube::Api;
use scimitar::crd::ScimUser;
use serde_json::json;

/// Sends until the answer is not 503, as an IdP retries; every 503 must
/// carry Retry-After. Returns the final reply and how many 503s came first.
async fn retried(scim: &Scim, method: &str, path: &str, body: serde_json::Value) -> (Reply, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut unavailable = 0;
    loop {
        let reply = scim.send(method, path, Some(body.clone())).await;
        if reply.status != 503 {
            return (reply, unavailable);
        }
        assert!(reply.retry_after.is_some(), "503 without Retry-After");
        assert_eq!(reply.body["status"], "503");
        unavailable += 1;
        assert!(Instant::now() < deadline, "still 503 after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn writes_during_an_apiserver_restart_are_refused_or_land_once() {
    // Its own control plane: the test restarts its API server.
    let cp = std::sync::Arc::new(ControlPlane::dedicated("apiserver-restart"));
    let admin = cp.admin().await;
    let dev = namespace(&admin, "restart-dev").await;
    // The operator waits for the CRDs of its control plane.
    install_crds(&admin).await;
    let operator = Operator::start(&cp);
    let restart = Tenant::setup(&cp, "restart")
        .mapping("eng", "edit", &[&dev])
        .user("hal@example.com")
        .group("eng", &["hal@example.com"])
        .on(&operator)
        .create()
        .await;
    let (home, scim) = (&restart.name, restart.scim());
    let user_id = restart.user("hal@example.com").to_owned();
    let group_id = restart.group("eng").to_owned();
    let may = |user: &'static str| {
        let admin = admin.clone();
        let dev = dev.clone();
        move || {
            let admin = admin.clone();
            let dev = dev.clone();
            async move { can(&admin, user, "list", "pods", &dev).await }
        }
    };
    until(
        "access before the restart",
        true,
        may("oidc:hal@example.com"),
    )
    .await;

    // Restart the API server while the IdP keeps writing.
    let restarting = cp.clone();
    let restart = tokio::task::spawn_blocking(move || restarting.restart_apiserver());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (off, off_503) = retried(
        scim,
        "PATCH",
        &format!("/Users/{user_id}"),
        json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let (ivy, ivy_503) = retried(
        scim,
        "POST",
        "/Users",
        json!({"userName": "ivy@example.com"}),
    )
    .await;
    assert_eq!(
        ivy.status, 201,
        "a retried create lands, never a 409: {}",
        ivy.body
    );
    eprintln!("503 answers while the API server was down: {off_503} (PATCH), {ivy_503} (POST)");
    restart.await.expect("restart finished");
    assert!(
        off_503 + ivy_503 > 0,
        "the restart was not observed by any write"
    );

    // Converged: the deactivation took effect, the retried create exists once,
    // and the watches recovered (a new membership becomes access).
    until(
        "revocation after the restart",
        false,
        may("oidc:hal@example.com"),
    )
    .await;
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), home);
    let all = users.list(&Default::default()).await.expect("list users");
    let ivys = all
        .items
        .iter()
        .filter(|u| u.spec.user_name == "ivy@example.com")
        .count();
    assert_eq!(ivys, 1);
    let (added, _) = retried(
        scim,
        "PATCH",
        &format!("/Groups/{group_id}"),
        json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": ivy.body["id"]}]}]}),
    )
    .await;
    assert_eq!(added.status, 200);
    until(
        "access for a member added after the restart",
        true,
        may("oidc:ivy@example.com"),
    )
    .await;
}
