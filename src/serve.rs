//! `scimitar serve`: the SCIM API over the in-memory store, for protocol
//! conformance checks and benchmarks.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::ServiceExt;
use axum::extract::Request;
use tokio::net::TcpListener;
use tower::Layer as _;
use tower::util::MapRequestLayer;

use crate::cli::ServeArgs;
use crate::http::scim::{self, ScimState, StaticTokens, normalize_path};
use crate::http::scimlog;
use crate::scim::discovery::ServiceProviderConfig;
use crate::scimlog::ScimLog;
use crate::store::MemoryStore;

/// Serves until SIGTERM/SIGINT.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // --- SCIM request log ---
    let scim_log = Arc::new(ScimLog::with_limits(args.scim_log.limits()));
    // --- end SCIM request log ---
    let state = ScimState {
        store: Arc::new(MemoryStore::new()),
        auth: Arc::new(StaticTokens::new(args.tokens)),
        config: Arc::new(ServiceProviderConfig::default()),
        public_url: args.public_url.map(Into::into),
        scim_log: Some(scim_log.clone()),
    };
    let auth = state.auth.clone();
    // Metrics on request (issue 6); no limits here.
    let metrics = args
        .metrics_listen
        .map(|_| crate::metrics::global().clone());
    if let Some(metrics) = &metrics {
        metrics.observe_scim_log(scim_log.clone());
    }
    let edge = crate::http::limits::Edge {
        metrics: metrics.clone(),
        limits: None,
    };
    let app = scim::router_with(state, &edge).merge(scimlog::api_router(scim_log, auth));
    let app = MapRequestLayer::new(normalize_path).layer(app);
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving SCIM from memory at {}", scim::BASE_PATH);
    let metrics_server = match (metrics, args.metrics_listen) {
        (Some(metrics), Some(listen)) => Some(metrics.serve(listen).await?),
        _ => None,
    };
    let server = axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .with_graceful_shutdown(crate::shutdown::signal());
    let metrics_served = async {
        match metrics_server {
            Some(serving) => serving.await,
            None => Ok(()),
        }
    };
    let (served, metrics_served) = tokio::join!(server, metrics_served);
    metrics_served?;
    served.context("serving HTTP")
}
