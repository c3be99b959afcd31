//! The SCIM API's answer to the caller's [`Identity`]: the token says which
//! tenant is calling, and must carry the `scim` scope.
//!
//! Imports: the edge's [`Identity`] and SCIM errors; it authenticates nothing
//! itself (`http::auth::identify` has, before any handler runs).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::response::Failure;
use crate::auth::Scope;
use crate::http::auth::Identity;
use crate::scim::error::ScimError;

/// What a request that may carry a not-yet-loaded token is told to wait.
const LOADING_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// The tenant of an authenticated SCIM request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // One answer for every failure: no telling a missing header from an
        // unknown token, a revoked one or one without the scope.
        let unauthorized =
            || Failure::from(ScimError::unauthorized("A valid bearer token is required"));
        match parts.extensions.get::<Identity>() {
            Some(Identity::Authenticated(principal)) if principal.may(Scope::Scim) => {
                Ok(Tenant(principal.tenant.clone()))
            }
            // The token may be valid and not loaded yet (a replica starting).
            Some(Identity::Rejected { loading: true }) => {
                Err(Failure::from(crate::store::StoreError::Unavailable {
                    retry_after: LOADING_RETRY,
                    detail: "API tokens are still loading; retry shortly".into(),
                }))
            }
            Some(_) => Err(unauthorized()),
            // The SCIM router always resolves identities first; a handler
            // reached without one is a wiring mistake, not a caller's.
            None => {
                tracing::error!("SCIM handler reached without a resolved identity");
                Err(Failure::from(ScimError::internal(
                    "The request's identity was not resolved",
                )))
            }
        }
    }
}
