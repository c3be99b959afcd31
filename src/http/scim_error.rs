//! The SCIM error body (RFC 7644 §3.12) as an HTTP response. The SCIM
//! handlers and the limits in front of them both answer with it, so it sits
//! below both: `http::limits` need not import `http::scim`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::scim::error::ScimError;

/// The SCIM media type (RFC 7644 §8.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// The RFC 7644 §3.12 body for `error`, with its HTTP status.
pub fn error_response(error: &ScimError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, SCIM_JSON)],
        error.to_json().to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scimitar\""),
        );
    }
    response
}
