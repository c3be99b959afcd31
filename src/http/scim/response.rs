//! SCIM responses: `application/scim+json` bodies, ETags, and errors in the
//! RFC 7644 §3.12 shape for every failure, including 401/404/405/413/415/503.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::scim::error::ScimError;
use crate::store::StoreError;

pub use crate::http::scim_error::{SCIM_JSON, error_response};

/// A successful SCIM response.
pub struct Scim {
    status: StatusCode,
    headers: HeaderMap,
    body: Option<Value>,
}

impl Scim {
    /// 200 with a body.
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Some(body),
        }
    }

    /// 201 with the created resource and its `Location`.
    pub fn created(body: Value, location: &str) -> Self {
        let mut response = Self {
            status: StatusCode::CREATED,
            headers: HeaderMap::new(),
            body: Some(body),
        };
        if let Ok(value) = HeaderValue::from_str(location) {
            response.headers.insert(header::LOCATION, value);
        }
        response
    }

    /// 204 without a body.
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// 304 for a matching `If-None-Match`.
    pub fn not_modified(etag: &str) -> Self {
        Self {
            status: StatusCode::NOT_MODIFIED,
            headers: HeaderMap::new(),
            body: None,
        }
        .etag(etag)
    }

    /// Adds an `ETag` header (equal to `meta.version`).
    pub fn etag(mut self, etag: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(etag) {
            self.headers.insert(header::ETAG, value);
        }
        self
    }
}

impl IntoResponse for Scim {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (
                self.status,
                [(header::CONTENT_TYPE, SCIM_JSON)],
                body.to_string(),
            )
                .into_response(),
            None => self.status.into_response(),
        };
        response.headers_mut().extend(self.headers);
        response
    }
}

/// Every handler failure: a SCIM error, with `Retry-After` when storage is unavailable.
#[derive(Debug)]
pub struct Failure {
    error: ScimError,
    retry_after: Option<u64>,
}

impl From<ScimError> for Failure {
    fn from(error: ScimError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        let retry_after = match &error {
            StoreError::Unavailable {
                retry_after,
                detail,
            } => {
                tracing::warn!(%detail, "storage unavailable");
                Some(retry_after.as_secs().max(1))
            }
            StoreError::Internal(detail) => {
                tracing::error!(%detail, "storage error");
                None
            }
            _ => None,
        };
        Self {
            error: error.to_scim(),
            retry_after,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.error.status < 500 {
            // What the IdP shows its admin, so the operator's log says it too.
            tracing::info!(
                status = self.error.status,
                scim_type = ?self.error.scim_type,
                detail = %self.error.detail,
                "SCIM request refused"
            );
        }
        let mut response = error_response(&self.error);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Result type of SCIM handlers.
pub type ScimResult = Result<Scim, Failure>;
