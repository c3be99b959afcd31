//! Reading credentials from requests, for every API that takes bearer tokens.

use axum::http::header;
use axum::http::request::Parts;

/// The token of an `Authorization: Bearer <token>` header (scheme matched
/// case-insensitively), if there is one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
