//! The SCIM API's bearer-token check: the token says which tenant is calling,
//! and must carry the `scim` scope.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::response::Failure;
use crate::auth::{Scope, TokenAuthenticator};
use crate::http::auth::{Identity, bearer};
use crate::scim::error::ScimError;

/// What a request that may carry a not-yet-loaded token is told to wait.
const LOADING_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// The tenant of an authenticated SCIM request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

/// State that can authenticate requests.
pub trait HasAuthenticator {
    /// The authenticator to check bearer tokens with.
    fn authenticator(&self) -> &dyn TokenAuthenticator;
}

impl<S> FromRequestParts<S> for Tenant
where
    S: HasAuthenticator + Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // One answer for every failure: no telling a missing header from an
        // unknown token, a revoked one or one without the scope.
        let unauthorized =
            || Failure::from(ScimError::unauthorized("A valid bearer token is required"));
        // Authenticated once at the edge (`http::auth::identify`) when that layer is
        // installed; otherwise here.
        let principal = match parts.extensions.get::<Identity>() {
            Some(Identity(principal)) => principal.clone(),
            None => bearer(parts).and_then(|token| state.authenticator().authenticate(token)),
        };
        if principal.is_none() && bearer(parts).is_some() && !state.authenticator().is_loaded() {
            // The token may be valid and not loaded yet (a replica starting).
            return Err(Failure::from(crate::store::StoreError::Unavailable {
                retry_after: LOADING_RETRY,
                detail: "API tokens are still loading; retry shortly".into(),
            }));
        }
        principal
            .filter(|p| p.may(Scope::Scim))
            .map(|p| Tenant(p.tenant))
            .ok_or_else(unauthorized)
    }
}
