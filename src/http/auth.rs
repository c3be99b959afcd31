//! Who is calling: the bearer token of a request is read and authenticated
//! once, at the edge, and the answer ([`Identity`]) put in the request's
//! extensions, where the limits, the metrics, the request log and the
//! handlers all read it.
//!
//! Imports: `crate::auth` (tokens and principals) only; nothing of the SCIM
//! API, the limits or the metrics.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::{Principal, TokenAuthenticator};

/// The token of an `Authorization: Bearer <token>` header (scheme matched
/// case-insensitively), if there is one.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
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

/// The caller of a request, as authenticated once at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No bearer token.
    Anonymous,
    /// A bearer token that did not authenticate. While the tokens are still
    /// loading (`loading`), it may be a valid one not known yet.
    Rejected {
        /// Whether the authenticator had not loaded every token yet.
        loading: bool,
    },
    /// A token that authenticated.
    Authenticated(Principal),
}

impl Identity {
    /// Reads and authenticates the bearer token of `parts`.
    pub fn resolve(parts: &Parts, auth: &dyn TokenAuthenticator) -> Self {
        match bearer(parts) {
            None => Identity::Anonymous,
            Some(token) => match auth.authenticate(token) {
                Some(principal) => Identity::Authenticated(principal),
                None => Identity::Rejected {
                    loading: !auth.is_loaded(),
                },
            },
        }
    }

    /// The principal of a token that authenticated.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Identity::Authenticated(principal) => Some(principal),
            Identity::Anonymous | Identity::Rejected { .. } => None,
        }
    }

    /// The tenant of a token that authenticated.
    pub fn tenant(&self) -> Option<&str> {
        self.principal().map(|p| p.tenant.as_str())
    }
}

/// Middleware: resolves the request's [`Identity`] and records it in the
/// request's extensions. It refuses nothing itself; the limits and the
/// handlers decide what a missing or insufficient identity means.
pub async fn identify(
    State(auth): State<Arc<dyn TokenAuthenticator>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let identity = Identity::resolve(&parts, auth.as_ref());
    parts.extensions.insert(identity);
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::StaticTokens;

    fn parts(authorization: Option<&str>) -> Parts {
        let mut request = axum::http::Request::get("/");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.body(()).expect("request").into_parts().0
    }

    #[test]
    fn only_bearer_tokens_count_as_presented_tokens() {
        let auth = StaticTokens::new([("acme".to_owned(), "abc".to_owned())]);
        let identity = |value: Option<&str>| Identity::resolve(&parts(value), &auth);
        let rejected = Identity::Rejected { loading: false };
        assert_eq!(identity(Some("Bearer abc")).tenant(), Some("acme"));
        assert_eq!(identity(Some("bearer  abc ")).tenant(), Some("acme"));
        assert_eq!(identity(Some("Bearer wrong")), rejected);
        assert_eq!(identity(Some("Bearer ")), Identity::Anonymous);
        assert_eq!(identity(Some("Basic dXNlcjpwYXNz")), Identity::Anonymous);
        assert_eq!(identity(Some("non-token")), Identity::Anonymous);
        assert_eq!(identity(None), Identity::Anonymous);
    }

    #[test]
    fn an_unknown_token_may_be_valid_while_tokens_load() {
        struct Loading;
        impl TokenAuthenticator for Loading {
            fn authenticate(&self, _: &str) -> Option<Principal> {
                None
            }
            fn is_loaded(&self) -> bool {
                false
            }
        }
        assert_eq!(
            Identity::resolve(&parts(Some("Bearer abc")), &Loading),
            Identity::Rejected { loading: true }
        );
        assert_eq!(
            Identity::resolve(&parts(None), &Loading),
            Identity::Anonymous
        );
    }
}
