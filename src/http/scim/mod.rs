//! The SCIM 2.0 HTTP API under `/scim/v2`, generic over the [`Store`].

mod auth;
mod body;
mod discovery;
mod resources;
mod response;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, Uri};
use axum::routing::{any, get, post};

pub use crate::auth::{StaticTokens, TokenAuthenticator, token_digest};
pub use auth::{HasAuthenticator, Tenant};
pub use response::{Failure, SCIM_JSON, Scim, ScimResult, error_response};

use crate::scim::discovery::ServiceProviderConfig;
use crate::scim::error::ScimError;
use crate::store::{Kind, Store};

/// Where the SCIM API is mounted.
pub const BASE_PATH: &str = "/scim/v2";

/// What SCIM handlers share.
pub struct ScimState<S> {
    /// Where resources live.
    pub store: Arc<S>,
    /// Bearer token → tenant.
    pub auth: Arc<dyn TokenAuthenticator>,
    /// Limits and features, as published at `/ServiceProviderConfig`.
    pub config: Arc<ServiceProviderConfig>,
    /// Public base URL (`https://scim.example.com/scim/v2`); derived from the
    /// request's Host header when unset.
    pub public_url: Option<Arc<str>>,
    /// This replica's SCIM request log; with `None`, requests are still
    /// emitted as log lines but not stored.
    pub scim_log: Option<Arc<crate::scimlog::ScimLog>>,
}

impl<S> Clone for ScimState<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            auth: self.auth.clone(),
            config: self.config.clone(),
            public_url: self.public_url.clone(),
            scim_log: self.scim_log.clone(),
        }
    }
}

impl<S: Send + Sync> auth::HasAuthenticator for ScimState<S> {
    fn authenticator(&self) -> &dyn TokenAuthenticator {
        self.auth.as_ref()
    }
}

/// The base URL resources' `meta.location` and `$ref`s are built from.
pub fn base_url<S>(state: &ScimState<S>, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or("localhost");
    let scheme = header("x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{host}{BASE_PATH}")
}

/// The `/scim/v2` router.
pub fn router<S: Store>(state: ScimState<S>) -> Router {
    router_with(state, &crate::http::limits::Edge::default())
}

/// The `/scim/v2` router with the operational layers of `edge` (metrics,
/// limits) between authentication and the handlers.
pub fn router_with<S: Store>(state: ScimState<S>, edge: &crate::http::limits::Edge) -> Router {
    let limit = usize::try_from(state.config.max_payload_bytes).unwrap_or(usize::MAX);
    let auth = state.auth.clone();
    let scim_log = state.scim_log.clone();
    let api = Router::new()
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config::<S>),
        )
        .route("/Schemas", get(discovery::schemas::<S>))
        .route("/Schemas/{id}", get(discovery::schema::<S>))
        .route("/ResourceTypes", get(discovery::resource_types::<S>))
        .route("/ResourceTypes/{name}", get(discovery::resource_type::<S>))
        .merge(resources::routes::<S>(Kind::User, "/Users"))
        .merge(resources::routes::<S>(Kind::Group, "/Groups"))
        .route(
            "/Bulk",
            any(|| unsupported("Bulk operations are not supported (see /ServiceProviderConfig)")),
        )
        .route(
            "/Me",
            any(|| {
                unsupported(
                    "/Me is not supported: SCIM clients authenticate as a tenant, not as a user",
                )
            }),
        )
        .route("/Me/{*rest}", any(|| unsupported("/Me is not supported")))
        .route("/.search", post(resources::search_root::<S>))
        .fallback(|| async { Failure::from(ScimError::not_found("No such SCIM endpoint")) })
        .method_not_allowed_fallback(|| async {
            Failure::from(ScimError::method_not_allowed(
                "Method not allowed on this endpoint",
            ))
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state);
    // Metrics and limits: inside `identify`, so they see the tenant.
    let api = edge.wrap(api);
    // The SCIM request log, outside the limits so throttled requests are
    // recorded too; inside `identify`, so it knows the caller's tenant.
    let api = crate::http::scimlog::record_layer(api, scim_log, limit)
        // Outermost: every layer and handler inside sees the caller's identity.
        .layer(axum::middleware::from_fn_with_state(
            auth,
            crate::http::auth::identify,
        ));
    // Every 429 and 503 tells the IdP when to come back.
    let api = crate::http::limits::retry_after_on_refusals(api);
    Router::new().nest(BASE_PATH, api)
}

async fn unsupported(detail: &'static str) -> Failure {
    Failure::from(ScimError::not_implemented(detail))
}

/// Collapses repeated slashes and drops a trailing one, before routing. A Base
/// URL entered with a trailing `/` makes JumpCloud request `/scim/v2//Users`.
pub fn normalize_path(mut request: Request) -> Request {
    let path = request.uri().path();
    let needs = path.contains("//") || (path.len() > 1 && path.ends_with('/'));
    if needs {
        let mut clean = String::with_capacity(path.len());
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            clean.push('/');
            clean.push_str(segment);
        }
        if clean.is_empty() {
            clean.push('/');
        }
        let query = request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        if let Ok(uri) = format!("{clean}{query}").parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    request
}
