//! Discovery endpoints (RFC 7644 §4): what this server supports, described from
//! the same schema tables the protocol layer enforces.

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use super::response::{Scim, ScimResult};
use super::{ScimState, base_url};
use crate::scim::discovery;
use crate::store::Store;

pub async fn service_provider_config<S: Store>(
    State(state): State<ScimState<S>>,
    headers: HeaderMap,
) -> ScimResult {
    let base = base_url(&state, &headers);
    Ok(Scim::ok(discovery::service_provider_config(
        &state.config,
        &base,
    )))
}

pub async fn schemas<S: Store>(
    State(state): State<ScimState<S>>,
    headers: HeaderMap,
) -> ScimResult {
    Ok(Scim::ok(discovery::schemas(&base_url(&state, &headers))))
}

pub async fn schema<S: Store>(
    State(state): State<ScimState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    Ok(Scim::ok(discovery::schema_by_id(
        &id,
        &base_url(&state, &headers),
    )?))
}

pub async fn resource_types<S: Store>(
    State(state): State<ScimState<S>>,
    headers: HeaderMap,
) -> ScimResult {
    Ok(Scim::ok(discovery::resource_types(&base_url(
        &state, &headers,
    ))))
}

pub async fn resource_type<S: Store>(
    State(state): State<ScimState<S>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ScimResult {
    Ok(Scim::ok(discovery::resource_type_by_name(
        &name,
        &base_url(&state, &headers),
    )?))
}
