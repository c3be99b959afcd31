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

/// The HTTP client for the identity provider: no redirects (SSRF), bounded
/// time. It trusts the bundled Mozilla roots and, when the environment
/// variable `SSL_CERT_FILE` names a PEM file, its certificates too (the
/// private CA of an on-premises provider, mounted by the chart's
/// `extraVolumes`); a file that cannot be used is logged and ignored.
pub fn http_client() -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(IDP_TIMEOUT);
    if let Some(path) = std::env::var_os(CA_FILE_VARIABLE) {
        let path = std::path::PathBuf::from(path);
        match extra_roots(&path) {
            Ok(roots) => {
                tracing::info!(file = %path.display(), certificates = roots.len(), "console: trusting the identity provider CA file");
                for root in roots {
                    builder = builder.add_root_certificate(root);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "console: {CA_FILE_VARIABLE} ignored");
            }
        }
    }
    builder.build().expect("the TLS backend initialises")
}

/// Names a PEM file of further CA certificates for calls to identity providers.
pub const CA_FILE_VARIABLE: &str = "SSL_CERT_FILE";

/// The certificates of the PEM file at `path`; an error when it cannot be
/// read or holds none.
pub fn extra_roots(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if roots.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(roots)
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

    /// A self-signed CA certificate (P-256), as `openssl req -x509` makes it.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUUL831kqWzUkv2ZwqR5eMLnI2fekwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQc2NpbWl0YXIgdGVzdCBDQTAgFw0yNjEyMDUxNzE1NDZaGA8y
MTI2MTExMTE3MTU0NlowGzEZMBcGA1UEAwwQc2NpbWl0YXIgdGVzdCBDQTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABJhaVGy7OHbM23RGbTM3njjkAG5bAmfvaus6
Laos/aAEGmfGVvd0xPQjeuH2I9XWPo9LMGLMSxbq7afUJti73QWjUzBRMB0GA1Ud
DgQWBBS0HA7rvtKa8vqpKbrBZYm2hO7umDAfBgNVHSMEGDAWgBS0HA7rvtKa8vqp
KbrBZYm2hO7umDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCe
rC3/7Y7/BGZ/1lrqx54cjSW5hVEAiEuj0Jq3K5QIiQIgZGP9P/qw4APO2ieUDXm/
w8AXk4pm6mMqKTrSla+Bv+I=
-----END CERTIFICATE-----
";

    #[test]
    fn a_ca_file_adds_its_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundle = dir.path().join("ca.crt");
        std::fs::write(&bundle, format!("{CA_PEM}{CA_PEM}")).expect("write");
        assert_eq!(extra_roots(&bundle).expect("two certificates").len(), 2);

        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let error = extra_roots(&empty).expect_err("no certificate");
        assert!(error.contains("no PEM certificate"), "{error}");

        let missing = dir.path().join("missing.crt");
        let error = extra_roots(&missing).expect_err("no file");
        assert!(error.starts_with(&missing.display().to_string()), "{error}");
    }

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
