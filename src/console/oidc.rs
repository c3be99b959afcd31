//! The OIDC Authorization Code flow with `openidconnect`: discovery, the
//! authorization request (`state`, `nonce`, PKCE S256, scopes
//! `openid email profile`), and the code exchange with `client_secret_basic`,
//! whose ID token the crate validates (signature against the provider's JWKS,
//! issuer, audience, expiry, nonce).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
    reqwest,
};

use super::session::{LOGIN_TTL, Pending, now};
use crate::crd::TenantOidc;

/// Time allowed for each request to the identity provider.
const IDP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a sign-in failed. None of these carry the client secret.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("OIDC discovery at {issuer} failed: {detail}")]
    Discovery { issuer: String, detail: String },
    #[error("the identity provider refused the client credentials ({0})")]
    ClientRefused(String),
    #[error("the code exchange failed: {0}")]
    Exchange(String),
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    #[error("the ID token has no email")]
    NoIdentity,
    #[error("the ID token's email is not verified (email_verified is not true)")]
    UnverifiedEmail,
}

/// The HTTP client for the identity provider: no redirects (SSRF), bounded time.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(IDP_TIMEOUT)
        .build()
        .expect("the TLS backend initialises")
}

/// How long a provider's discovery document (and the signing keys read with
/// it) is reused before it is fetched again.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(300);

/// Discovery documents by issuer URL, each with when it was fetched. Saves
/// two round trips to the identity provider on every sign-in step; a failed
/// ID-token check drops the issuer's entry, so rotated signing keys are
/// fetched on the next sign-in instead of after the TTL.
#[derive(Default)]
pub struct DiscoveryCache {
    entries: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

impl DiscoveryCache {
    fn get(&self, issuer: &str) -> Option<CoreProviderMetadata> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(issuer)
            .filter(|(at, _)| at.elapsed() < DISCOVERY_TTL)
            .map(|(_, metadata)| metadata.clone())
    }

    fn put(&self, issuer: &str, metadata: CoreProviderMetadata) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (at, _)| at.elapsed() < DISCOVERY_TTL);
        entries.insert(issuer.to_owned(), (Instant::now(), metadata));
    }

    fn forget(&self, issuer: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(issuer);
    }
}

async fn discover(
    http: &reqwest::Client,
    cache: &DiscoveryCache,
    oidc: &TenantOidc,
) -> Result<CoreProviderMetadata, LoginError> {
    if let Some(metadata) = cache.get(&oidc.issuer_url) {
        return Ok(metadata);
    }
    let failed = |detail: String| LoginError::Discovery {
        issuer: oidc.issuer_url.clone(),
        detail,
    };
    let issuer = IssuerUrl::new(oidc.issuer_url.clone()).map_err(|e| failed(e.to_string()))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| failed(error_chain(&e)))?;
    cache.put(&oidc.issuer_url, metadata.clone());
    Ok(metadata)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The state parameter: the tenant, then a random part.
pub fn state_for(tenant: &str) -> String {
    format!("{tenant}:{}", CsrfToken::new_random().secret())
}

/// The tenant named by a state parameter.
pub fn tenant_of_state(state: &str) -> Option<&str> {
    state.split_once(':').map(|(tenant, _)| tenant)
}

/// Starts a sign-in: the URL to send the browser to and what the callback
/// will need to finish it.
pub async fn start(
    http: &reqwest::Client,
    cache: &DiscoveryCache,
    tenant: &str,
    oidc: &TenantOidc,
    redirect_uri: &str,
) -> Result<(String, Pending), LoginError> {
    let metadata = discover(http, cache, oidc).await?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| LoginError::Exchange(e.to_string()))?;
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(oidc.client_id.clone()), None)
            .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = state_for(tenant);
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = Pending {
        tenant: tenant.to_owned(),
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        expires: now() + LOGIN_TTL.as_secs() as i64,
    };
    Ok((url.to_string(), pending))
}

/// Finishes a sign-in: exchanges `code` (authenticating with
/// `client_secret_basic`), validates the ID token, and returns its verified
/// email.
pub async fn finish(
    http: &reqwest::Client,
    cache: &DiscoveryCache,
    oidc: &TenantOidc,
    redirect_uri: &str,
    client_secret: String,
    code: String,
    pending: &Pending,
) -> Result<String, LoginError> {
    let metadata = discover(http, cache, oidc).await?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| LoginError::Exchange(e.to_string()))?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(oidc.client_id.clone()),
        Some(ClientSecret::new(client_secret)),
    )
    .set_auth_type(AuthType::BasicAuth)
    .set_redirect_uri(redirect);
    let response = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| LoginError::Exchange(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(http)
        .await
        .map_err(|error| match &error {
            RequestTokenError::ServerResponse(response)
                if *response.error() == CoreErrorResponseType::InvalidClient =>
            {
                LoginError::ClientRefused(response.error().to_string())
            }
            RequestTokenError::ServerResponse(response) => LoginError::Exchange(format!(
                "the identity provider answered {}",
                response.error()
            )),
            other => LoginError::Exchange(error_chain(other)),
        })?;
    let id_token = response
        .id_token()
        .ok_or_else(|| LoginError::IdToken("the token response has no ID token".into()))?;
    let claims = id_token
        .claims(
            &client.id_token_verifier(),
            &Nonce::new(pending.nonce.clone()),
        )
        .map_err(|e| {
            cache.forget(&oidc.issuer_url);
            LoginError::IdToken(error_chain(&e))
        })?;
    login_from(claims.email().map(|e| e.as_str()), claims.email_verified())
}

/// Who signed in: the ID token's email, and only when the identity provider
/// says it verified it. An unverified email, or a `preferred_username`, may
/// be one the user chose at the identity provider; matching it against SCIM
/// users would let them sign in as someone else (a console admin).
pub fn login_from(email: Option<&str>, verified: Option<bool>) -> Result<String, LoginError> {
    let email = email
        .filter(|e| !e.trim().is_empty())
        .ok_or(LoginError::NoIdentity)?;
    if verified != Some(true) {
        return Err(LoginError::UnverifiedEmail);
    }
    Ok(email.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_verified_email_identifies_the_user() {
        assert_eq!(
            login_from(Some("ada@example.com"), Some(true)).ok(),
            Some("ada@example.com".to_owned())
        );
        assert!(matches!(
            login_from(Some("ada@example.com"), None),
            Err(LoginError::UnverifiedEmail)
        ));
        assert!(matches!(
            login_from(Some("ada@example.com"), Some(false)),
            Err(LoginError::UnverifiedEmail)
        ));
        assert!(matches!(
            login_from(None, Some(true)),
            Err(LoginError::NoIdentity)
        ));
        assert!(matches!(
            login_from(Some(" "), Some(true)),
            Err(LoginError::NoIdentity)
        ));
    }

    #[test]
    fn the_state_carries_the_tenant() {
        let state = state_for("acme.prod");
        assert_eq!(tenant_of_state(&state), Some("acme.prod"));
        assert!(state.len() > "acme.prod:".len() + 20);
        assert_ne!(state, state_for("acme.prod"));
    }
}
