//! The SCIM API's bearer-token check: the token says which tenant is calling,
//! and must carry the `scim` scope.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::response::Failure;
use crate::auth::{Scope, TokenAuthenticator};
use crate::http::auth::{Identity, bearer};
use crate::scim::error::ScimError;

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
        principal
            .filter(|p| p.may(Scope::Scim))
            .map(|p| Tenant(p.tenant))
            .ok_or_else(unauthorized)
    }
}
