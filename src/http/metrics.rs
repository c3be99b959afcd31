//! The HTTP side of the metrics: the middleware that counts and times every
//! SCIM request from what the edge resolved (identity, resource type) and
//! what the limits marked, and `/metrics` on a listener of its own.
//!
//! Imports: `crate::metrics` (the registry and its label types) and the
//! edge's [`Identity`]; the registry itself knows nothing of HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::auth::Identity;
use crate::metrics::{AuthFailure, CONTENT_TYPE, Limit, Metrics, ScimRequest};
use crate::scimlog::ResourceType;

/// The `tenant` label: the tenant of a validated token, `""` otherwise.
pub fn tenant_label(identity: Option<&Identity>) -> &str {
    identity.and_then(Identity::tenant).unwrap_or_default()
}

/// Middleware (inside the edge's classification): counts and times every
/// SCIM request by tenant, method, resource type and status, and counts
/// refusals by limit and authentication failures by reason.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let identity = request.extensions().get::<Identity>().cloned();
    let tenant = tenant_label(identity.as_ref()).to_owned();
    let method = request.method().clone();
    let resource_type = request
        .extensions()
        .get::<ResourceType>()
        .copied()
        .unwrap_or(ResourceType::Other);
    let in_flight = metrics.in_flight();
    let response = next.run(request).await;
    drop(in_flight);
    let status = response.status();
    metrics.scim_request(&ScimRequest {
        tenant: &tenant,
        method: method.as_str(),
        resource_type,
        status: status.as_u16(),
        elapsed: started.elapsed(),
    });
    match response.extensions().get::<Limit>() {
        Some(&limit) => {
            metrics.limited(&tenant, limit);
            if limit == Limit::AuthFailures {
                metrics.auth_failure(AuthFailure::Throttled);
            }
        }
        None if status == StatusCode::UNAUTHORIZED => {
            metrics.auth_failure(match identity {
                None | Some(Identity::Anonymous) => AuthFailure::MissingToken,
                Some(Identity::Rejected { .. } | Identity::Authenticated(_)) => {
                    AuthFailure::InvalidToken
                }
            });
        }
        None => {}
    }
    response
}

/// `/metrics`, for a listener of its own.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.encode()).into_response()
}

/// Serves `/metrics` on `listen` until SIGTERM/SIGINT. Binds before
/// returning, so that a port in use fails startup.
pub async fn serve(
    metrics: Arc<Metrics>,
    listen: SocketAddr,
) -> anyhow::Result<impl Future<Output = anyhow::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening for metrics on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "metrics at /metrics");
    let app = router(metrics);
    Ok(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(crate::shutdown::signal())
            .await
            .context("serving metrics")
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::body::Body;
    use tower::ServiceExt as _;

    use super::*;
    use crate::auth::{Principal, Scope};
    use crate::http::ScimLayers;
    use crate::http::scim::{self, ScimState, StaticTokens};

    #[test]
    fn tenant_comes_only_from_a_validated_identity() {
        assert_eq!(tenant_label(None), "");
        assert_eq!(tenant_label(Some(&Identity::Anonymous)), "");
        assert_eq!(
            tenant_label(Some(&Identity::Rejected { loading: false })),
            ""
        );
        let principal = Principal {
            tenant: "acme".into(),
            token: "t".into(),
            scopes: BTreeSet::from([Scope::Scim]),
        };
        assert_eq!(
            tenant_label(Some(&Identity::Authenticated(principal))),
            "acme"
        );
    }

    /// The value of the sample `name{labels}` in `text`, labels given in order.
    fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
        let want = format!("{name}{{{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&want))
            .and_then(|v| v.parse().ok())
    }

    #[tokio::test]
    async fn the_scim_router_counts_requests_by_validated_tenant() {
        let metrics = Arc::new(Metrics::new());
        let state = ScimState {
            store: Arc::new(crate::store::MemoryStore::new()),
            auth: Arc::new(StaticTokens::new([("acme".to_owned(), "good".to_owned())])),
            config: Arc::new(crate::scim::discovery::ServiceProviderConfig::default()),
            public_url: None,
            scim_log: None,
        };
        let layers = ScimLayers {
            metrics: Some(metrics.clone()),
            limits: None,
        };
        let app = scim::router_with(state, &layers);
        let send = |method: &str, path: &str, token: Option<&str>| {
            let mut request = Request::builder().method(method).uri(path);
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let request = request.body(Body::empty()).expect("request");
            let app = app.clone();
            async move { app.oneshot(request).await.expect("infallible").status() }
        };
        assert_eq!(send("GET", "/scim/v2/Users", Some("good")).await, 200);
        assert_eq!(send("GET", "/scim/v2/Users", Some("good")).await, 200);
        assert_eq!(send("GET", "/scim/v2/Groups/nope", Some("good")).await, 404);
        assert_eq!(send("GET", "/scim/v2/Users", Some("bad")).await, 401);
        assert_eq!(send("GET", "/scim/v2/Users", None).await, 401);
        // A path chosen by an unauthenticated caller never becomes a label.
        assert_eq!(
            send("GET", "/scim/v2/evil-label-value", Some("bad")).await,
            404
        );
        assert_eq!(send("BREW", "/scim/v2/Users", Some("good")).await, 405);

        let text = metrics.encode();
        let requests = "scimitar_scim_requests_total";
        assert_eq!(
            sample(
                &text,
                requests,
                r#"tenant="acme",method="GET",resource_type="User",status="200""#
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                requests,
                r#"tenant="acme",method="GET",resource_type="Group",status="404""#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                requests,
                r#"tenant="",method="GET",resource_type="User",status="401""#
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                requests,
                r#"tenant="",method="GET",resource_type="Other",status="404""#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                requests,
                r#"tenant="acme",method="OTHER",resource_type="User",status="405""#
            ),
            Some(1.0)
        );
        let failures = "scimitar_scim_auth_failures_total";
        assert_eq!(
            sample(&text, failures, r#"reason="invalid_token""#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, failures, r#"reason="missing_token""#),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "scimitar_scim_request_duration_seconds_count",
                r#"tenant="acme",method="GET",resource_type="User""#
            ),
            Some(2.0)
        );
        assert!(!text.contains("evil"), "{text}");
        assert!(!text.contains("BREW"), "{text}");
    }
}
