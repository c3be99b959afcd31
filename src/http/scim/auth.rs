//! Bearer-token authentication: the token says which tenant is calling.
//!
//! Only SHA-256 digests of tokens are held, and a presented token is compared
//! with every known digest in constant time, so neither timing nor an early
//! exit tells an attacker how close a guess was or which tenants exist.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::response::Failure;
use crate::scim::error::ScimError;

/// Resolves a presented bearer token to the tenant it belongs to.
pub trait TokenAuthenticator: Send + Sync + 'static {
    /// The tenant name, or `None` for an unknown, revoked or expired token.
    fn tenant_for(&self, token: &str) -> Option<String>;
}

/// The SHA-256 digest under which tokens are stored.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fixed set of tokens, for `scimitar serve` and tests.
pub struct StaticTokens {
    entries: Vec<([u8; 32], String)>,
}

impl StaticTokens {
    /// Tokens given as `(tenant, token)` pairs; only their digests are kept.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let entries = pairs
            .into_iter()
            .map(|(tenant, token)| (token_digest(&token), tenant))
            .collect();
        Self { entries }
    }
}

impl TokenAuthenticator for StaticTokens {
    fn tenant_for(&self, token: &str) -> Option<String> {
        let digest = token_digest(token);
        let mut found = None;
        // Visit every entry whatever matches, so timing does not depend on position.
        for (known, tenant) in &self.entries {
            if bool::from(known.ct_eq(&digest)) {
                found = Some(tenant);
            }
        }
        found.cloned()
    }
}

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
        let unauthorized =
            || Failure::from(ScimError::unauthorized("A valid bearer token is required"));
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(unauthorized)?;
        let value = value.to_str().map_err(|_| unauthorized())?.trim();
        let (scheme, token) = value.split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized());
        }
        state
            .authenticator()
            .tenant_for(token.trim())
            .map(Tenant)
            .ok_or_else(unauthorized)
    }
}
