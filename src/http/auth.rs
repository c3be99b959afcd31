//! Reading credentials from requests, for every API that takes bearer tokens.

use axum::http::header;
use axum::http::request::Parts;

/// The token of an `Authorization: Bearer <token>` header (scheme matched
/// case-insensitively), if there is one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The outcome of authenticating a request once, at the edge, so that every
/// layer (request log, metrics) and handler sees the same principal.
#[derive(Debug, Clone)]
pub struct Identity(pub Option<crate::auth::Principal>);

/// Middleware: authenticates the bearer token (if any) and records the
/// [`Identity`] in the request's extensions. It refuses nothing itself;
/// handlers decide what a missing or insufficient identity means.
pub async fn identify(
    axum::extract::State(auth): axum::extract::State<
        std::sync::Arc<dyn crate::auth::TokenAuthenticator>,
    >,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (mut parts, body) = request.into_parts();
    let principal = bearer(&parts).and_then(|token| auth.authenticate(token));
    parts.extensions.insert(Identity(principal));
    request = axum::extract::Request::from_parts(parts, body);
    next.run(request).await
}
