//! The internal endpoint through which replicas give each other their part
//! of a tenant's SCIM log (`GET /internal/v1/scim-logs/{tenant}`), on its own
//! listener (`--peer-listen`), never on the SCIM port.
//!
//! Who may ask: another replica of the same installation, and nobody else.
//! The caller sends its pod's projected ServiceAccount token, bound to the
//! audience `--peer-audience`; this replica asks the API server to check it
//! (TokenReview, with that audience) and accepts it only when it
//! authenticated, for that audience, as the operator's own ServiceAccount
//! (`system:serviceaccount:<namespace>:<name>`). No token or a token the API
//! server does not accept (a SCIM bearer token, another audience's token) is
//! 401; a valid token of any other identity is 403. Nothing is cached: a
//! revoked token (its pod deleted) stops working at once.
//!
//! Tenant isolation: a replica holds every tenant's log and is trusted with
//! all of them (it serves each tenant's SCIM and console); the caller has
//! authenticated the person or token for `{tenant}` before asking, and the
//! answer holds only that tenant's entries.
//!
//! Parameters: the log API's filters, the merged `cursor`, and `limit` (1 to
//! 500) or `all=true`; the answer is a [`Part`] in JSON.
//!
//! Imports: `crate::scimlog`; nothing of the console or the SCIM API.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::scimlog::query_with_flag;
use super::scimlog_peers::INTERNAL_PATH;
use crate::scimlog::{Part, ScimLog};

/// Why a caller is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token, or one the API server did not authenticate (401).
    Unauthenticated(String),
    /// A valid token of someone else (403).
    Forbidden(String),
    /// The API server could not be asked (503).
    Unavailable(String),
}

/// Checks a caller's bearer token.
pub trait PeerVerifier: Send + Sync {
    /// `Ok` when `token` is another replica's.
    fn verify(&self, token: &str) -> impl Future<Output = Result<(), Refusal>> + Send;
}

/// [`PeerVerifier`] by TokenReview: the token must authenticate for
/// `audience` as `username` (the operator's ServiceAccount).
#[derive(Clone)]
pub struct TokenReviewer {
    pub client: Client,
    pub audience: String,
    pub username: String,
}

impl PeerVerifier for TokenReviewer {
    async fn verify(&self, token: &str) -> Result<(), Refusal> {
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: Some(vec![self.audience.clone()]),
            },
            ..Default::default()
        };
        let reviewed = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| Refusal::Unavailable(format!("TokenReview failed: {e}")))?;
        let status = reviewed.status.unwrap_or_default();
        if status.authenticated != Some(true) {
            return Err(Refusal::Unauthenticated(
                "the token did not authenticate for this audience".into(),
            ));
        }
        // An API server that ignores audiences answers none: refused too.
        let audiences = status.audiences.unwrap_or_default();
        if !audiences.iter().any(|a| a == &self.audience) {
            return Err(Refusal::Unauthenticated(
                "the token is not bound to this audience".into(),
            ));
        }
        let username = status.user.and_then(|u| u.username).unwrap_or_default();
        if username != self.username {
            return Err(Refusal::Forbidden(format!(
                "{username} is not this installation's ServiceAccount"
            )));
        }
        Ok(())
    }
}

struct Internal<V> {
    log: Arc<ScimLog>,
    replica: String,
    verifier: V,
}

/// The internal endpoint, serving `log` (this replica's, named `replica`)
/// to callers `verifier` accepts.
pub fn router<V: PeerVerifier + 'static>(
    log: Arc<ScimLog>,
    replica: impl Into<String>,
    verifier: V,
) -> Router {
    Router::new()
        .route(INTERNAL_PATH, get(part::<V>))
        .with_state(Arc::new(Internal {
            log,
            replica: replica.into(),
            verifier,
        }))
}

fn error(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    let body = json!({"status": status.as_u16(), "error": code, "detail": detail.into()});
    (status, axum::Json(body)).into_response()
}

async fn part<V: PeerVerifier + 'static>(
    State(internal): State<Arc<Internal<V>>>,
    Path(tenant): Path<String>,
    parts: Parts,
) -> Response {
    let Some(token) = super::auth::bearer(&parts) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Another replica's ServiceAccount token is required",
        );
    };
    match internal.verifier.verify(token).await {
        Ok(()) => {}
        Err(Refusal::Unauthenticated(detail)) => {
            return error(StatusCode::UNAUTHORIZED, "unauthorized", detail);
        }
        Err(Refusal::Forbidden(detail)) => {
            return error(StatusCode::FORBIDDEN, "forbidden", detail);
        }
        Err(Refusal::Unavailable(detail)) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        }
    }
    let (all, query) = match query_with_flag(&parts.uri, "all", &[("true", true), ("false", false)])
    {
        Ok(parsed) => parsed,
        Err(detail) => return error(StatusCode::BAD_REQUEST, "invalidQuery", detail),
    };
    let limit = (!all).then_some(query.limit);
    let answer: Part = internal.log.part(&tenant, &query, &internal.replica, limit);
    axum::Json(answer).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt as _;

    use super::*;

    /// Accepts one token; `forbidden` is valid but someone else's.
    struct Fixed;

    impl PeerVerifier for Fixed {
        async fn verify(&self, token: &str) -> Result<(), Refusal> {
            match token {
                "peer" => Ok(()),
                "someone-else" => Err(Refusal::Forbidden("not us".into())),
                _ => Err(Refusal::Unauthenticated("unknown".into())),
            }
        }
    }

    async fn get(app: &Router, uri: &str, token: Option<&str>) -> (StatusCode, serde_json::Value) {
        let mut request = Request::builder().uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn log() -> Arc<ScimLog> {
        let log = Arc::new(ScimLog::default());
        for (tenant, path) in [("acme", "/a1"), ("other", "/o1"), ("acme", "/a2")] {
            log.record(crate::scimlog::Record {
                time: jiff::Timestamp::now(),
                tenant: tenant.into(),
                method: "GET".into(),
                path: path.into(),
                resource_type: crate::scimlog::ResourceType::User,
                status: 200,
                duration_ms: 1.0,
                request_body: None,
                response_body: None,
            });
        }
        log
    }

    #[tokio::test]
    async fn only_a_verified_peer_gets_the_tenants_part() {
        let app = router(log(), "pod-b", Fixed);
        let uri = "/internal/v1/scim-logs/acme?limit=1";
        assert_eq!(get(&app, uri, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            get(&app, uri, Some("scim-token")).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get(&app, uri, Some("someone-else")).await.0,
            StatusCode::FORBIDDEN
        );

        let (status, part) = get(&app, uri, Some("peer")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(part["replica"], "pod-b");
        assert_eq!(part["more"], true);
        assert_eq!(part["entries"].as_array().unwrap().len(), 1);
        assert_eq!(part["entries"][0]["path"], "/a2");

        let (_, all) = get(&app, "/internal/v1/scim-logs/acme?all=true", Some("peer")).await;
        let paths: Vec<&str> = all["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["/a2", "/a1"], "only this tenant's entries");
        assert_eq!(all["more"], false);

        let (status, bad) = get(&app, "/internal/v1/scim-logs/acme?all=yes", Some("peer")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(bad["detail"].as_str().unwrap().contains("all="));
    }
}
