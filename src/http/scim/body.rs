//! The JSON request body of SCIM writes: `application/scim+json` or
//! `application/json` (or no Content-Type at all, which some IdP test
//! consoles send), size-limited, parsed into a JSON value.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::Value;

use super::response::Failure;
use crate::scim::error::ScimError;

/// A parsed JSON request body.
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = Failure;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
            let essence = content_type
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let json_like = essence == "application/scim+json"
                || essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"));
            if !json_like {
                return Err(ScimError::unsupported_media_type(format!(
                    "Content-Type {essence} is not supported; send application/scim+json or application/json"
                ))
                .into());
            }
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ScimError::payload_too_large(
                        "The request body is larger than the server accepts",
                    )
                } else {
                    ScimError::invalid_syntax(format!(
                        "Could not read the request body: {rejection}"
                    ))
                }
            })?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            ScimError::invalid_syntax(format!("The request body is not valid JSON: {e}"))
        })?;
        Ok(ScimBody(value))
    }
}
