//! The internal SCIM log endpoint answers only another replica of the same
//! installation: its ServiceAccount's projected token for the peers'
//! audience, checked by TokenReview against the real API server with the
//! chart's RBAC (`tokenreviews: create`). Everyone else is refused: no token,
//! a tenant's SCIM token, the operator's own token for another audience, and
//! another ServiceAccount's token for the right audience.
//!
//! The two-replica listing itself runs as real pods (`pods_on_a_node`):
//! EndpointSlices hold no loopback addresses.

use std::sync::Arc;

use axum::http::StatusCode;
use scimitar::http::scimlog_internal::{TokenReviewer, router};
use scimitar::scimlog::{Record, ResourceType, ScimLog};

use crate::support::ControlPlane;
use crate::support::kubectl::kubectl;
use crate::support::operator::{OPERATOR_NAMESPACE, OPERATOR_USER, operator_client};

const AUDIENCE: &str = "scimitar-peers";

fn token(cp: &ControlPlane, account: &str, audience: Option<&str>) -> String {
    let mut args = vec![
        "create",
        "token",
        account,
        "--namespace",
        OPERATOR_NAMESPACE,
        "--duration",
        "10m",
    ];
    if let Some(audience) = audience {
        args.extend(["--audience", audience]);
    }
    let token = kubectl(&cp.kubeconfig, &args).trim().to_owned();
    assert!(!token.is_empty());
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_another_replica_of_the_installation_reads_a_replicas_log() {
    let cp = ControlPlane::shared();
    // The operator's credentials, under exactly the chart's RBAC.
    let client = operator_client(cp).await;
    // Another ServiceAccount of the same namespace (created once per
    // control plane; a second run finds it).
    let created = crate::support::kubectl::run(
        &cp.kubeconfig,
        &[
            "create",
            "serviceaccount",
            "scim-log-intruder",
            "--namespace",
            OPERATOR_NAMESPACE,
        ],
    );
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(
        created.status.success() || stderr.contains("AlreadyExists"),
        "{stderr}"
    );

    let log = Arc::new(ScimLog::default());
    for (tenant, path) in [("acme", "/scim/v2/Users"), ("other", "/scim/v2/Groups")] {
        log.record(Record {
            time: jiff::Timestamp::now(),
            tenant: tenant.into(),
            method: "GET".into(),
            path: path.into(),
            resource_type: ResourceType::User,
            status: 200,
            duration_ms: 1.0,
            request_body: None,
            response_body: None,
        });
    }
    let reviewer = TokenReviewer {
        client,
        audience: AUDIENCE.into(),
        username: OPERATOR_USER.into(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(log, "scimitar-b", reviewer)).await });
    let url = format!("http://{address}/internal/v1/scim-logs/acme?limit=10");
    let http = reqwest::Client::new();
    let ask = |token: Option<String>| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let mut request = http.get(&url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        }
    };

    let sa = OPERATOR_USER.rsplit(':').next().unwrap();
    let (status, part) = ask(Some(token(cp, sa, Some(AUDIENCE)))).await;
    assert_eq!(status, StatusCode::OK, "{part}");
    assert_eq!(part["replica"], "scimitar-b");
    let paths: Vec<&str> = part["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/scim/v2/Users"], "only the tenant asked for");

    let (status, body) = ask(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token: {body}");
    let (status, body) = ask(Some("scim_acme_0123456789abcdef".into())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a SCIM token: {body}");
    let (status, body) = ask(Some(token(cp, sa, None))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the operator's token for the API server's audience: {body}"
    );
    let (status, body) = ask(Some(token(cp, "scim-log-intruder", Some(AUDIENCE)))).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another ServiceAccount: {body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("scim-log-intruder"),
        "{body}"
    );
}
