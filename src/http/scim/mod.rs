//! The SCIM 2.0 HTTP API under [`BASE_PATH`], generic over the [`Store`]: its
//! routes, and the one place that says which [`ResourceType`] each route
//! serves ([`resource_type`]).
//!
//! Imports: the SCIM protocol (`crate::scim`), the store trait, the request
//! log's types, and the edge's own layers (`http::auth`, `http::limits`,
//! `http::metrics`, `http::scimlog`); never the console or the controller.

mod auth;
mod body;
mod discovery;
mod resources;
mod response;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, get, post};

pub use crate::auth::{StaticTokens, TokenAuthenticator, token_digest};
pub use auth::Tenant;
pub use response::{Failure, SCIM_JSON, Scim, ScimResult, error_response};

use crate::http::ScimLayers;
use crate::scim::discovery::ServiceProviderConfig;
use crate::scim::error::ScimError;
use crate::scimlog::ResourceType;
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

/// The SCIM router, without metrics or limits.
pub fn router<S: Store>(state: ScimState<S>) -> Router {
    router_with(state, &ScimLayers::default())
}

/// The SCIM router, nested at [`BASE_PATH`]. Each request goes, outermost
/// first, through: a `Retry-After` on every refusal; the route's
/// [`ResourceType`] and the caller's identity, each resolved once; the
/// request log; the metrics and limits of `layers`; the handler.
pub fn router_with<S: Store>(state: ScimState<S>, layers: &ScimLayers) -> Router {
    let limit = usize::try_from(state.config.max_payload_bytes).unwrap_or(usize::MAX);
    let auth = state.auth.clone();
    let scim_log = state.scim_log.clone();
    // `resource_type` below must follow this table.
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
    // Metrics outside the limits, so that refusals are counted too.
    let api = layers.apply(api);
    // The request log outside the limits, so that throttled requests are
    // recorded too.
    let api = crate::http::scimlog::record_layer(api, scim_log, limit)
        .layer(axum::middleware::from_fn_with_state(
            auth,
            crate::http::auth::identify,
        ))
        .layer(axum::middleware::from_fn(classify));
    // Every 429 and 503 tells the IdP when to come back.
    let api = crate::http::limits::retry_after_on_refusals(api);
    Router::new().nest(BASE_PATH, api)
}

/// What the route at `path` (relative to where the API is mounted, as the
/// nested router sees it) serves. It mirrors the table of [`router_with`],
/// and is exact and case-sensitive as routing is: `/users` is served by no
/// route (404), so it is `Other`.
pub fn resource_type(path: &str) -> ResourceType {
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
    let first = segments.next().unwrap_or_default();
    let second = segments.next();
    if segments.next().is_some() {
        // No route but `/Me/{*rest}` has three segments or more.
        return ResourceType::Other;
    }
    match (first, second) {
        ("Users", _) => ResourceType::User,
        ("Groups", _) => ResourceType::Group,
        ("ServiceProviderConfig", None) => ResourceType::Config,
        ("Schemas" | "ResourceTypes", _) => ResourceType::Schema,
        (".search", None) => ResourceType::Search,
        _ => ResourceType::Other,
    }
}

/// Middleware (inside the nest, so it runs once routing has matched): puts the
/// request's [`ResourceType`] in its extensions, for the request log and the
/// metrics. A request no route matched (the fallback) is `Other`, whatever
/// its path looks like.
async fn classify(mut request: Request, next: Next) -> Response {
    let resource_type = match request.extensions().get::<MatchedPath>() {
        Some(_) => resource_type(request.uri().path()),
        None => ResourceType::Other,
    };
    request.extensions_mut().insert(resource_type);
    next.run(request).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_follow_the_routes() {
        let cases = [
            ("/Users", ResourceType::User),
            ("/Users/2819c223", ResourceType::User),
            ("/Users/.search", ResourceType::User),
            ("/Groups", ResourceType::Group),
            ("/Groups/abc", ResourceType::Group),
            ("/Groups/.search", ResourceType::Group),
            ("/ServiceProviderConfig", ResourceType::Config),
            ("/Schemas", ResourceType::Schema),
            (
                "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                ResourceType::Schema,
            ),
            ("/ResourceTypes", ResourceType::Schema),
            ("/ResourceTypes/User", ResourceType::Schema),
            ("/.search", ResourceType::Search),
            ("/.search/x", ResourceType::Other),
            ("/Bulk", ResourceType::Other),
            ("/Me", ResourceType::Other),
            ("/Me/x", ResourceType::Other),
            ("/users", ResourceType::Other),
            ("/Users/a/b", ResourceType::Other),
            ("/ServiceProviderConfig/x", ResourceType::Other),
            ("/Nope", ResourceType::Other),
            ("/", ResourceType::Other),
            ("", ResourceType::Other),
            ("/whatever/../Users", ResourceType::Other),
        ];
        for (path, want) in cases {
            assert_eq!(resource_type(path), want, "{path}");
        }
    }
}
