//! `scimitar serve`: the SCIM API over the in-memory store, for protocol
//! conformance checks and benchmarks. The same SCIM application as
//! `scimitar run` (`http::scim_app`), without limits, and with metrics only
//! when `--metrics-listen` is set.
//!
//! Imports: anything; nothing imports it but the binary.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller`,
//! `http`, `console`, `leader` and its own layer (the top layer;
//! tests/e2e/imports_follow_the_layers.rs).

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::http::scim::{self, ScimState, StaticTokens};
use crate::http::{self, ScimLayers};
use crate::metrics::Metrics;
use crate::scim::discovery::ServiceProviderConfig;
use crate::scimlog::ScimLog;
use crate::store::MemoryStore;

/// Serves until SIGTERM/SIGINT.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let scim_log = Arc::new(ScimLog::with_limits(args.scim_log.limits()));
    let state = ScimState {
        store: Arc::new(MemoryStore::new()),
        auth: Arc::new(StaticTokens::new(args.tokens)),
        config: Arc::new(ServiceProviderConfig::default()),
        public_url: args.public_url.map(Into::into),
        scim_log: Some(scim_log.clone()),
    };
    let metrics = args.metrics_listen.map(|_| Arc::new(Metrics::new()));
    if let Some(metrics) = &metrics {
        metrics.observe_scim_log(scim_log);
    }
    let layers = ScimLayers {
        metrics: metrics.clone(),
        limits: None,
    };
    let app = http::scim_app(state, &layers);
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving SCIM from memory at {}", scim::BASE_PATH);
    let metrics_server = match (metrics, args.metrics_listen) {
        (Some(metrics), Some(listen)) => Some(http::metrics::serve(metrics, listen).await?),
        _ => None,
    };
    let server = http::serve(listener, app, crate::shutdown::signal());
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
