//! The API server goes away and comes back mid-run: SCIM writes made while it
//! is down get 503 with Retry-After and change nothing; retried, they land
//! exactly once, and access converges to what the directory says.

use std::time::{Duration, Instant};

use crate::support::operator::{Operator, Reply, Scim, can, create_tenant, until};
use crate::support::{ControlPlane, install_crds, namespace};
use kube::Api;
use scimitar::crd::{ScimTenantSpec, ScimUser};
use serde_json::json;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

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
    install_crds(&admin).await;
    let home = namespace(&admin, "restart").await;
    let dev = namespace(&admin, "restart-dev").await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "mappings": [{"group": "eng", "role": {"name": "edit"}, "namespaces": [dev]}]
    }))
    .expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let operator = Operator::start(&cp);
    let scim = Scim::new(&operator, &token);
    scim.wait_until_authorized().await;
    let user = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "hal@example.com"})),
        )
        .await;
    let user_id = user.body["id"].as_str().expect("id").to_owned();
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "eng", "members": [{"value": user_id}]})),
        )
        .await;
    let group_id = group.body["id"].as_str().expect("id").to_owned();
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
        &scim,
        "PATCH",
        &format!("/Users/{user_id}"),
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let (ivy, ivy_503) = retried(
        &scim,
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
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let all = users.list(&Default::default()).await.expect("list users");
    let ivys = all
        .items
        .iter()
        .filter(|u| u.spec.user_name == "ivy@example.com")
        .count();
    assert_eq!(ivys, 1);
    let (added, _) = retried(
        &scim,
        "PATCH",
        &format!("/Groups/{group_id}"),
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": ivy.body["id"]}]}]}),
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
