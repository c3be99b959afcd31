//! The HTTP edge: health probes, the SCIM API and its request log API, the
//! `/metrics` endpoint, and the one function that assembles the SCIM
//! application for both `scimitar run` and `scimitar serve` ([`scim_app`]).
//!
//! Each SCIM request is classified once here: its identity
//! ([`auth::Identity`]) and its resource type are put in the request's
//! extensions, and the request log, the metrics and the limits read them
//! there.
//!
//! Imports: may use the layers below it (`auth`, `scim`, `scimlog`,
//! `metrics`, `store`); none of those imports `http`. The console and the
//! controller are not imported either.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller` and
//! its own layer; must not import `operator`, `serve`, `cli`, `token_admin`,
//! `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

/// Reading and authenticating bearer tokens, once per request.
pub mod auth;
mod health;
/// Limits on the SCIM API (rate, failed authentications, concurrency, time).
pub mod limits;
/// `/metrics`, and the middleware that counts SCIM requests.
pub mod metrics;
/// The SCIM 2.0 API under `/scim/v2`.
pub mod scim;
/// The SCIM error body as a response, shared by the API and its limits.
pub mod scim_error;
/// The SCIM request log: recording middleware and `/api/v1/tenants/{tenant}/scim-logs`.
pub mod scimlog;
/// The internal endpoint replicas give each other their part of the log on.
pub mod scimlog_internal;
/// One SCIM log across replicas: finding and asking the peers.
pub mod scimlog_peers;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::{Router, ServiceExt};
use tokio::net::TcpListener;
use tower::Layer as _;
use tower::util::MapRequestLayer;

pub use health::{Readiness, health_routes, keep_ready};

use crate::metrics::Metrics;
use crate::store::Store;
use limits::Limits;
use scim::ScimState;

/// The operator's HTTP application.
pub fn app(readiness: Readiness) -> Router {
    Router::new().merge(health_routes(readiness))
}

/// The operational layers of the SCIM API, between the request log and the
/// handlers. The default has none.
#[derive(Clone, Default)]
pub struct ScimLayers {
    /// Where requests are counted and timed.
    pub metrics: Option<Arc<Metrics>>,
    /// The limits to enforce.
    pub limits: Option<Arc<Limits>>,
}

impl ScimLayers {
    /// Wraps `api`: metrics outside the limits, so refusals are counted too.
    fn apply(&self, mut api: Router) -> Router {
        if let Some(limits) = &self.limits {
            api = api.layer(axum::middleware::from_fn_with_state(
                limits.clone(),
                limits::enforce,
            ));
        }
        if let Some(metrics) = &self.metrics {
            api = api.layer(axum::middleware::from_fn_with_state(
                metrics.clone(),
                metrics::track,
            ));
        }
        api
    }
}

/// The SCIM application: the SCIM API with `layers`, and the API serving
/// `state`'s request log (when it has one) to the tenants' tokens.
pub fn scim_app<S: Store>(state: ScimState<S>, layers: &ScimLayers) -> Router {
    let log = state.scim_log.clone().map(|log| {
        Arc::new(scimlog_peers::ClusterLog::local(
            log,
            scimlog_peers::this_replica(),
        ))
    });
    scim_app_with(state, layers, log)
}

/// [`scim_app`], its log API serving `log` (every replica's, with peers).
pub fn scim_app_with<S: Store>(
    state: ScimState<S>,
    layers: &ScimLayers,
    log: Option<Arc<scimlog_peers::ClusterLog>>,
) -> Router {
    let log_api = log.map(|log| scimlog::api_router(log, state.auth.clone()));
    let app = scim::router_with(state, layers);
    match log_api {
        Some(log_api) => app.merge(log_api),
        None => app,
    }
}

/// Serves `app` on `listener` until `shutdown` resolves (then lets requests
/// in flight finish). Paths are normalized before routing, and handlers see
/// the client's address (the failed-authentication limit is per address).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = MapRequestLayer::new(scim::normalize_path).layer(app);
    axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests;
