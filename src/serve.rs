//! `scimitar serve`: the SCIM API over the in-memory store, for protocol
//! conformance checks and benchmarks.

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
    let scim_log = Arc::new(ScimLog::new(args.scim_log_capacity));
    // --- end SCIM request log ---
    let state = ScimState {
        store: Arc::new(MemoryStore::new()),
        auth: Arc::new(StaticTokens::new(args.tokens)),
        config: Arc::new(ServiceProviderConfig::default()),
        public_url: args.public_url.map(Into::into),
        scim_log: Some(scim_log.clone()),
    };
    let auth = state.auth.clone();
    let app = scim::router(state).merge(scimlog::api_router(scim_log, auth));
    let app = MapRequestLayer::new(normalize_path).layer(app);
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving SCIM from memory at {}", scim::BASE_PATH);
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app))
        .with_graceful_shutdown(crate::shutdown::signal())
        .await
        .context("serving HTTP")
}
