//! API server failures as [`StoreError`]s. What the API server refuses is the
//! client's problem only when it is about the data; everything that says "not
//! now" (timeouts, 429, 5xx, connection errors) is `Unavailable`, which SCIM
//! answers with 503 and `Retry-After`, so the IdP retries instead of dropping
//! the change. So are refusals of the operator's own identity (401, 403).

use std::time::Duration;

use crate::scim::error::ScimError;
use crate::store::StoreError;

/// What an IdP is told to wait before retrying.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// HTTP status of an API server error response, if it was one.
pub fn status_of(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// The API server refused a create because the name is taken.
pub fn is_already_exists(error: &kube::Error) -> bool {
    status_of(error) == Some(409)
        && matches!(error, kube::Error::Api(s) if s.reason == "AlreadyExists")
}

/// The object changed since the resourceVersion we wrote against.
pub fn is_conflict(error: &kube::Error) -> bool {
    status_of(error) == Some(409) && !is_already_exists(error)
}

/// The object does not exist.
pub fn is_not_found(error: &kube::Error) -> bool {
    status_of(error) == Some(404)
}

/// Maps an API server error for an operation on `what` (for messages).
pub fn to_store_error(error: kube::Error, what: &str) -> StoreError {
    if is_too_large(&error) {
        // Deterministic: the same write will never fit, so retrying (which
        // a 503 would ask for) is pointless. Nothing was stored.
        return StoreError::Rejected(ScimError::payload_too_large(format!(
            "{what} is too large to store: Kubernetes limits one object to about 1.5 MiB; \
             split the group or remove members"
        )));
    }
    match &error {
        kube::Error::Api(status) => match status.code {
            404 => StoreError::NotFound(what.to_owned()),
            // The CRD schema rejected the object: the data is at fault.
            422 | 400 => StoreError::Rejected(ScimError::invalid_value(format!(
                "the directory refused {what}: {}",
                status.message
            ))),
            429 | 500..=599 => unavailable(format!("{what}: {}", status.message)),
            // The operator's own credentials or permissions: a restarting API
            // server refuses until its RBAC cache is loaded, and a broken
            // install needs the admin, not the IdP. Either way the IdP should
            // retry later rather than record a failure for its data.
            401 | 403 => {
                tracing::error!(%what, message = %status.message, "the API server refused the operator");
                unavailable(format!("{what}: {}", status.message))
            }
            _ => StoreError::Internal(format!("{what}: {error}")),
        },
        _ => unavailable(format!("{what}: {error}")),
    }
}

/// The API server (or etcd behind it) refused an object for its size.
pub fn is_too_large(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => {
            status.code == 413
                || status.message.contains("request is too large")
                || status.message.contains("Request entity too large")
        }
        _ => false,
    }
}

/// The API server did not answer in time.
pub fn timed_out(what: &str) -> StoreError {
    unavailable(format!(
        "{what}: the Kubernetes API server did not answer in time"
    ))
}

/// Service unavailable with the standard retry hint.
pub fn unavailable(detail: String) -> StoreError {
    StoreError::Unavailable {
        retry_after: RETRY_AFTER,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, "")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn objects_too_large_to_store_are_refused_with_413_not_retried() {
        for error in [
            api(413, "Request entity too large: limit is 3145728"),
            api(500, "etcdserver: request is too large"),
        ] {
            match to_store_error(error, "group ops") {
                StoreError::Rejected(e) => assert_eq!(e.status, 413, "{e:?}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            to_store_error(api(500, "etcdserver: leader changed"), "group ops"),
            StoreError::Unavailable { .. }
        ));
    }
}
