//! SCIM error responses (RFC 7644 §3.12), independent of the HTTP framework so
//! that the protocol layer can fail with the exact status and `scimType`.

use std::fmt;

use serde_json::{Value, json};

use super::filter::{FilterError, Subject, UnsupportedComparison};
use super::schema::ERROR_URN;

/// The `scimType` detail error keywords of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    /// The keyword as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }

    /// The HTTP status RFC 7644 §3.12 pairs with the keyword.
    pub const fn status(self) -> u16 {
        match self {
            ScimType::Uniqueness => 409,
            ScimType::Sensitive => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error: HTTP status, optional `scimType`, human-readable detail.
///
/// The detail is sent to the client, so callers must not put secrets or
/// internal state in it (use [`ScimError::internal`] with a generic message
/// and log the cause separately).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}{}: {detail}", scim_type.map(|t| format!(" {t}")).unwrap_or_default())]
pub struct ScimError {
    /// HTTP status code.
    pub status: u16,
    /// RFC 7644 §3.12 detail keyword, for the 400/409/403 cases that have one.
    pub scim_type: Option<ScimType>,
    /// Human-readable explanation.
    pub detail: String,
}

impl ScimError {
    /// An error with an arbitrary status and keyword.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// An error carrying `scim_type` with its RFC status.
    pub fn typed(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(scim_type.status(), Some(scim_type), detail)
    }

    /// 400 without a keyword, for malformed requests no keyword describes.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, None, detail)
    }

    /// 400 `invalidFilter`: the filter syntax was invalid or the operator is unsupported.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidFilter, detail)
    }

    /// 400 `tooMany`: the filter yields more results than the server will process.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::TooMany, detail)
    }

    /// 409 `uniqueness`: a value (e.g. `userName`) is already taken.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Uniqueness, detail)
    }

    /// 400 `mutability`: an attempt to change a readOnly or immutable attribute.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Mutability, detail)
    }

    /// 400 `invalidSyntax`: the request body is not a valid SCIM message.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidSyntax, detail)
    }

    /// 400 `invalidPath`: a PATCH path or attribute name is malformed or unknown.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidPath, detail)
    }

    /// 400 `noTarget`: a PATCH path filter matched nothing.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::NoTarget, detail)
    }

    /// 400 `invalidValue`: a required value is missing or a value is incompatible.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidVers`: the protocol version is not supported.
    pub fn invalid_vers(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidVers, detail)
    }

    /// 403 `sensitive`: the request put sensitive data (e.g. a filter on a
    /// password) in the URL.
    pub fn sensitive(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Sensitive, detail)
    }

    /// 401: missing or invalid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }

    /// 404: the resource or endpoint does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// 405: e.g. a write on a discovery endpoint.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(405, None, detail)
    }

    /// 409 without a keyword: a conflict that is not a uniqueness violation,
    /// such as a concurrent write the client cannot retry blindly.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, None, detail)
    }

    /// 412: `If-Match` did not match the current version (RFC 7644 §3.14).
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }

    /// 413: the body exceeds the advertised `maxPayloadSize`.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }

    /// 415: the body is not `application/scim+json` or `application/json`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, None, detail)
    }

    /// 500: a server fault; keep the detail generic.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, None, detail)
    }

    /// 501: an operation this server does not offer (e.g. bulk).
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, None, detail)
    }

    /// 503: temporarily unable to serve, e.g. the API server is unreachable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, None, detail)
    }

    /// The RFC 7644 §3.12 body. `status` is a JSON string there (unlike
    /// every other number in SCIM), and strict clients reject a number.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = Value::from(t.as_str());
        }
        body["detail"] = Value::from(self.detail.as_str());
        body
    }
}

/// Filter syntax errors become `invalidFilter`, path syntax errors `invalidPath`.
impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        match e.subject() {
            Subject::Filter => Self::invalid_filter(e.to_string()),
            Subject::Path => Self::invalid_path(e.to_string()),
        }
    }
}

/// RFC 7644 §3.4.2.2: an operator the attribute's type cannot take is `invalidFilter`.
impl From<UnsupportedComparison> for ScimError {
    fn from(e: UnsupportedComparison) -> Self {
        Self::invalid_filter(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let e = ScimError::uniqueness("userName 'bjensen' is already taken");
        assert_eq!(
            e.to_json(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "409",
                "scimType": "uniqueness",
                "detail": "userName 'bjensen' is already taken",
            })
        );
        // Key order as in the RFC examples.
        let keys: Vec<_> = e.to_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["schemas", "status", "scimType", "detail"]);
    }

    #[test]
    fn no_scim_type_when_absent() {
        let v = ScimError::not_found("User 42 not found").to_json();
        assert_eq!(v["status"], "404");
        assert!(v.get("scimType").is_none());
        assert_eq!(v["detail"], "User 42 not found");
    }

    #[test]
    fn statuses_and_keywords() {
        let cases: [(ScimError, u16, Option<&str>); 24] = [
            (ScimError::invalid_filter(""), 400, Some("invalidFilter")),
            (ScimError::too_many(""), 400, Some("tooMany")),
            (ScimError::uniqueness(""), 409, Some("uniqueness")),
            (ScimError::mutability(""), 400, Some("mutability")),
            (ScimError::invalid_syntax(""), 400, Some("invalidSyntax")),
            (ScimError::invalid_path(""), 400, Some("invalidPath")),
            (ScimError::no_target(""), 400, Some("noTarget")),
            (ScimError::invalid_value(""), 400, Some("invalidValue")),
            (ScimError::invalid_vers(""), 400, Some("invalidVers")),
            (ScimError::sensitive(""), 403, Some("sensitive")),
            (ScimError::bad_request(""), 400, None),
            (ScimError::unauthorized(""), 401, None),
            (ScimError::forbidden(""), 403, None),
            (ScimError::not_found(""), 404, None),
            (ScimError::method_not_allowed(""), 405, None),
            (ScimError::conflict(""), 409, None),
            (ScimError::precondition_failed(""), 412, None),
            (ScimError::payload_too_large(""), 413, None),
            (ScimError::unsupported_media_type(""), 415, None),
            (ScimError::internal(""), 500, None),
            (ScimError::not_implemented(""), 501, None),
            (ScimError::unavailable(""), 503, None),
            (ScimError::new(418, None, ""), 418, None),
            (
                ScimError::typed(ScimType::NoTarget, ""),
                400,
                Some("noTarget"),
            ),
        ];
        for (e, status, kw) in cases {
            assert_eq!(e.status, status, "{e}");
            assert_eq!(e.scim_type.map(ScimType::as_str), kw, "{e}");
            assert_eq!(e.to_json()["status"], status.to_string());
        }
    }

    #[test]
    fn from_syntax_errors() {
        let e: ScimError = crate::scim::filter::parse_filter("userName eq")
            .unwrap_err()
            .into();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidFilter))
        );
        let e: ScimError = crate::scim::path::parse_attr_path("name.")
            .unwrap_err()
            .into();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidPath)));
    }

    #[test]
    fn display() {
        assert_eq!(
            ScimError::invalid_path("bad path").to_string(),
            "400 invalidPath: bad path"
        );
        assert_eq!(ScimError::not_found("gone").to_string(), "404: gone");
    }
}
