//! The SCIM request log over HTTP: the middleware that records every SCIM
//! request, and the API that serves a tenant's log
//! (`GET /api/v1/tenants/{tenant}/scim-logs`): every replica's, merged
//! ([`ClusterLog`]; `replicas` names those whose entries it holds,
//! `unavailable` those that did not answer, with why).
//!
//! Recording: the middleware sits inside the edge's classification, so it
//! reads the caller's tenant and the request's resource type from the
//! request's extensions, as the metrics do. It copies the request body as the
//! handler reads it (the handler still enforces the body limit and answers
//! 413 as before), buffers the response body, and then
//! - stores the entry in the replica's [`ScimLog`] under the caller's tenant
//!   (requests without a valid token are not stored, only emitted), and
//! - emits one `info` line with target `scimitar::scim_log` and the fields
//!   `time`, `tenant` (absent without a valid token), `method`, `path`,
//!   `resource_type`, `status`, `duration_ms`. When `debug` is enabled for
//!   that target (`RUST_LOG=info,scimitar::scim_log=debug`), the same line
//!   also carries `request_body` and `response_body` (redacted).
//!
//! Imports: `crate::scimlog` (the pure log), `crate::auth` (scopes), the
//! edge's [`Identity`]; never the metrics or the limits.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use jiff::Timestamp;
use serde_json::json;

use super::scimlog_peers::ClusterLog;
use crate::auth::{Scope, TokenAuthenticator};
use crate::http::auth::Identity;
use crate::scimlog::{self, Merged, Query, ResourceType, ScimLog};

/// Target of the per-request log lines.
pub const LOG_TARGET: &str = "scimitar::scim_log";

/// Where the log API is mounted; `{tenant}` is the tenant's name.
pub const API_PATH: &str = "/api/v1/tenants/{tenant}/scim-logs";

/// What the recording middleware needs.
#[derive(Clone)]
struct Recorder {
    log: Option<Arc<ScimLog>>,
    /// Request bytes kept for the log at most (the SCIM body limit: a larger
    /// body is refused with 413 anyway).
    capture_limit: usize,
}

/// Adds the recording middleware to the SCIM router (`api`, before it is
/// nested). Without a log, requests are still emitted as log lines, but
/// nothing is stored.
pub(super) fn record_layer(api: Router, log: Option<Arc<ScimLog>>, capture_limit: usize) -> Router {
    api.layer(axum::middleware::from_fn_with_state(
        Recorder { log, capture_limit },
        record,
    ))
}

async fn record(State(recorder): State<Recorder>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let time = Timestamp::now();
    let tenant = request
        .extensions()
        .get::<Identity>()
        .and_then(Identity::tenant)
        .map(str::to_owned);
    let resource_type = request
        .extensions()
        .get::<ResourceType>()
        .copied()
        .unwrap_or(ResourceType::Other);
    let method = request.method().to_string();
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map(|OriginalUri(uri)| uri.clone())
        .unwrap_or_else(|| request.uri().clone());
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());

    // Copy the request body as the handler reads it.
    let captured = Arc::new(Mutex::new(Vec::new()));
    let (parts, body) = request.into_parts();
    let sink = captured.clone();
    let limit = recorder.capture_limit;
    let tee = body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            let mut buffer = sink.lock().unwrap_or_else(|e| e.into_inner());
            let room = limit.saturating_sub(buffer.len());
            buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        chunk
    });
    let response = next
        .run(Request::from_parts(parts, Body::from_stream(tee)))
        .await;

    // Buffer the response body (SCIM responses are built in memory anyway).
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(target: LOG_TARGET, %error, "reading the SCIM response body");
            Bytes::new()
        }
    };
    let duration_ms = scimlog::duration_ms(started.elapsed());
    let status = parts.status.as_u16();

    let store = recorder
        .log
        .as_ref()
        .filter(|log| log.keeps_entries())
        .zip(tenant.as_ref());
    let with_bodies = tracing::enabled!(target: LOG_TARGET, tracing::Level::DEBUG);
    let (request_body, response_body) = if store.is_some() || with_bodies {
        let request_bytes =
            std::mem::take(&mut *captured.lock().unwrap_or_else(|e| e.into_inner()));
        (
            scimlog::Body::capture(&request_bytes),
            scimlog::Body::capture(&bytes),
        )
    } else {
        (None, None)
    };

    if with_bodies {
        fn text(body: &Option<scimlog::Body>) -> &str {
            body.as_ref().map_or("", scimlog::Body::as_text)
        }
        tracing::info!(
            target: LOG_TARGET,
            time = %time,
            tenant = tenant.as_deref(),
            method = %method,
            path = %path,
            resource_type = %resource_type,
            status,
            duration_ms,
            request_body = %text(&request_body),
            response_body = %text(&response_body),
            "SCIM request"
        );
    } else {
        tracing::info!(
            target: LOG_TARGET,
            time = %time,
            tenant = tenant.as_deref(),
            method = %method,
            path = %path,
            resource_type = %resource_type,
            status,
            duration_ms,
            "SCIM request"
        );
    }

    if let Some((log, tenant)) = store {
        log.record(scimlog::Record {
            time,
            tenant: tenant.clone(),
            method,
            path,
            resource_type,
            status,
            duration_ms,
            request_body,
            response_body,
        });
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The log API: `GET /api/v1/tenants/{tenant}/scim-logs`.
///
/// A bearer token of the tenant with the `logs` scope is required: no token or
/// an unknown one is 401, another tenant's token is 404 (whether the tenant
/// exists is not revealed), the tenant's own token without the `logs` scope
/// is 403. Errors are JSON: `{"status": 401, "error": "unauthorized", "detail": "…"}`.
pub fn api_router(log: Arc<ClusterLog>, auth: Arc<dyn TokenAuthenticator>) -> Router {
    Router::new()
        .route(API_PATH, get(list))
        .with_state(log)
        .layer(axum::middleware::from_fn_with_state(
            auth,
            crate::http::auth::identify,
        ))
}

/// An error of the log API.
/// A log query from `uri`, with one extra key `flag` whose value must be
/// one of `values` (absent: false); the rest are the log's filters. The
/// error is the detail of a 400 `invalidQuery`. The log
/// API (`format`) and the replicas' internal endpoint (`all`) both read one.
pub(super) fn query_with_flag(
    uri: &axum::http::Uri,
    flag: &str,
    values: &[(&str, bool)],
) -> Result<(bool, Query), String> {
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|rejection| rejection.body_text())?;
    let mut set = false;
    let mut filters = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        if key != flag {
            filters.push((key, value));
            continue;
        }
        set = match values.iter().find(|(v, _)| *v == value.trim()) {
            Some((_, set)) => *set,
            None => {
                let expected: Vec<&str> = values.iter().map(|(v, _)| *v).collect();
                return Err(format!(
                    "{flag}={value:?}: expected {}",
                    expected.join(" or ")
                ));
            }
        };
    }
    let query = Query::parse_merged(filters).map_err(|e| e.0)?;
    Ok((set, query))
}

fn error(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    let body = json!({"status": status.as_u16(), "error": code, "detail": detail.into()});
    let mut response = (status, axum::Json(body)).into_response();
    match status {
        StatusCode::UNAUTHORIZED => {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimitar\""),
            );
        }
        StatusCode::FORBIDDEN => {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"scimitar\", error=\"insufficient_scope\", scope=\"logs\"",
                ),
            );
        }
        _ => {}
    }
    response
}

async fn list(
    State(log): State<Arc<ClusterLog>>,
    tenant: Result<Path<String>, axum::extract::rejection::PathRejection>,
    identity: Option<axum::Extension<Identity>>,
    uri: axum::http::Uri,
) -> Response {
    let not_found = || error(StatusCode::NOT_FOUND, "notFound", "No such tenant log");
    let Ok(Path(tenant)) = tenant else {
        return not_found();
    };
    let Some(principal) = identity.and_then(|axum::Extension(identity)| match identity {
        Identity::Authenticated(principal) => Some(principal),
        Identity::Anonymous | Identity::Rejected { .. } => None,
    }) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid bearer token is required",
        );
    };
    if principal.tenant != tenant {
        return not_found();
    }
    if !principal.may(Scope::Logs) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The token does not have the logs scope",
        );
    }

    let (csv, query) = match query_with_flag(&uri, "format", &[("csv", true), ("json", false)]) {
        Ok(parsed) => parsed,
        Err(detail) => return error(StatusCode::BAD_REQUEST, "invalidQuery", detail),
    };

    let listing = log.listing(&tenant, &query, csv).await;
    if csv {
        csv_download(&tenant, listing)
    } else {
        axum::Json(listing).into_response()
    }
}

/// A merged listing as a CSV download named after `tenant` (`no-store`: it
/// holds request bodies). Shared by this API and the console's SCIM logs
/// page. Each replica that did not answer is a trailing row
/// ([`scimlog::unavailable_row`]) and is named in the header
/// `X-Scimitar-Unavailable-Replicas` (comma-separated pod names).
///
/// The file is streamed row by row: only one row is rendered at a time, and
/// each entry is released once written (entries the log evicted meanwhile
/// are freed then).
pub fn csv_download(tenant: &str, listing: Merged) -> Response {
    let file: String = tenant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"scim-logs-{file}.csv\"");
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(csv_stream(listing.entries, listing.unavailable.clone())),
    )
        .into_response();
    if !listing.unavailable.is_empty() {
        let names: Vec<&str> = listing
            .unavailable
            .iter()
            .map(|u| u.replica.as_str())
            .collect();
        if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
            response.headers_mut().insert(UNAVAILABLE_HEADER, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The header naming the replicas missing from a CSV download.
pub const UNAVAILABLE_HEADER: &str = "x-scimitar-unavailable-replicas";

/// The header, one row per entry, then one per replica that did not answer.
fn csv_stream(
    entries: Vec<scimlog::Served>,
    unavailable: Vec<scimlog::Unavailable>,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    let rows = entries
        .into_iter()
        .map(|served| scimlog::csv_row(&served.entry));
    let missing = unavailable
        .into_iter()
        .map(|u| scimlog::unavailable_row(&u));
    futures::stream::iter(
        std::iter::once(scimlog::csv_header())
            .chain(rows)
            .chain(missing)
            .map(|row| Ok(Bytes::from(row))),
    )
}
