//! The HTTP layer: routes, health endpoints, and (with the SCIM engine) the SCIM API.

/// Reading bearer tokens from requests.
pub mod auth;
mod health;
/// Limits on the SCIM API (rate, failed authentications, concurrency, time).
pub mod limits;
// The SCIM 2.0 API under `/scim/v2`.
pub mod scim;
/// The SCIM request log: recording middleware and `/api/v1/tenants/{tenant}/scim-logs`.
pub mod scimlog;

use axum::Router;

pub use health::{Readiness, health_routes, keep_ready};

/// The operator's HTTP application.
pub fn app(readiness: Readiness) -> Router {
    Router::new().merge(health_routes(readiness))
}
