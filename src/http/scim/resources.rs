//! `/Users` and `/Groups`: list, search, get, create, replace, patch, delete
//! (RFC 7644 §3.2–§3.6), over any [`Store`].

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use serde_json::Value;

use super::body::ScimBody;
use super::response::{Scim, ScimResult};
use super::{ScimState, Tenant, base_url};
use crate::scim::error::ScimError;
use crate::scim::filter::check_operators;
use crate::scim::list::{self, ListQuery};
use crate::scim::patch::{apply_patch, parse_patch_request};
use crate::scim::projection::{Projection, strip_never_returned};
use crate::scim::resource::{location, prepare_create, prepare_replace, with_member_refs};
use crate::store::{Kind, Store, Stored, UpdateFn};

/// Routes of one resource type at `endpoint` (`/Users` or `/Groups`).
pub fn routes<S: Store>(kind: Kind, endpoint: &str) -> Router<ScimState<S>> {
    Router::new()
        .route(
            endpoint,
            get(move |state, tenant, headers, query| {
                list::<S>(kind, state, tenant, headers, query)
            })
            .post(move |state, tenant, headers, query, body| {
                create::<S>(kind, state, tenant, headers, query, body)
            }),
        )
        .route(
            &format!("{endpoint}/.search"),
            post(move |state, tenant, headers, body| {
                search::<S>(kind, state, tenant, headers, body)
            }),
        )
        .route(
            &format!("{endpoint}/{{id}}"),
            get(move |state, tenant, headers, id, query| {
                get_one::<S>(kind, state, tenant, headers, id, query)
            })
            .put(move |state, tenant, headers, id, query, body| {
                replace::<S>(kind, state, tenant, headers, id, query, body)
            })
            .patch(move |state, tenant, headers, id, query, body| {
                patch::<S>(kind, state, tenant, headers, id, query, body)
            })
            .delete(move |state, tenant, headers, id| {
                delete::<S>(kind, state, tenant, headers, id)
            }),
        )
}

type Params = Query<HashMap<String, String>>;

/// The resource as the client sees it: `meta.location`, `$ref`s, and never a
/// `returned: never` attribute.
fn render(kind: Kind, stored: &Stored, base: &str) -> Value {
    let mut resource = stored.resource.clone();
    let location = location(kind.resource_type(), base, &stored.id);
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("location".into(), Value::String(location));
    }
    match kind {
        Kind::Group => with_member_refs(&mut resource, base),
        Kind::User => {
            if let Some(groups) = resource.get_mut("groups").and_then(Value::as_array_mut) {
                for group in groups.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(id) = group.get("value").and_then(Value::as_str) {
                        let reference = format!("{base}/Groups/{id}");
                        group.insert("$ref".into(), Value::String(reference));
                    }
                }
            }
        }
    }
    strip_never_returned(&mut resource);
    resource
}

/// Projection from `attributes`/`excludedAttributes` query parameters; POST,
/// PUT and PATCH honour them too (RFC 7644 §3.9).
fn projection(
    kind: Kind,
    params: &HashMap<String, String>,
) -> Result<Projection, crate::scim::error::ScimError> {
    Projection::parse(
        params.get("attributes").map(String::as_str),
        params.get("excludedAttributes").map(String::as_str),
        kind.resource_type(),
    )
}

fn respond(kind: Kind, stored: &Stored, base: &str, projection: &Projection) -> Scim {
    let mut body = render(kind, stored, base);
    projection.apply(&mut body);
    Scim::ok(body).etag(&crate::store::etag(&stored.version))
}

fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

async fn list<S: Store>(
    kind: Kind,
    State(state): State<ScimState<S>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    Query(params): Params,
) -> ScimResult {
    let query = ListQuery::from_params(&params, state.config.max_results as usize)?;
    run_list(kind, &state, &tenant, &headers, query).await
}

async fn search<S: Store>(
    kind: Kind,
    State(state): State<ScimState<S>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let query = ListQuery::from_search(&body, state.config.max_results as usize)?;
    run_list(kind, &state, &tenant, &headers, query).await
}

async fn run_list<S: Store>(
    kind: Kind,
    state: &ScimState<S>,
    tenant: &str,
    headers: &HeaderMap,
    query: ListQuery,
) -> ScimResult {
    let rt = kind.resource_type();
    if let Some(filter) = &query.filter {
        check_operators(filter, rt).map_err(ScimError::from)?;
    }
    let projection = Projection::parse(
        query.attributes.as_deref(),
        query.excluded_attributes.as_deref(),
        rt,
    )?;
    // The store gives the page alone (sorted if asked): a list of a large
    // tenant costs its page, not the tenant.
    let listed = state
        .store
        .list(
            tenant,
            kind,
            query.filter.as_ref(),
            &list::Window::of(&query),
        )
        .await?;
    let base = base_url(state, headers);
    let page = listed
        .resources
        .iter()
        .map(|s| {
            let mut resource = render(kind, s, &base);
            projection.apply(&mut resource);
            resource
        })
        .collect();
    Ok(Scim::ok(list::list_response(
        listed.total,
        query.start_index,
        page,
    )))
}

/// `POST /.search` at the service provider root (RFC 7644 §3.4.3): the query
/// runs over Users and Groups together. A filter naming an attribute one type
/// lacks simply matches none of that type; `attributes` and
/// `excludedAttributes` apply per type.
pub async fn search_root<S: Store>(
    State(state): State<ScimState<S>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    const KINDS: [Kind; 2] = [Kind::User, Kind::Group];
    let query = ListQuery::from_search(&body, state.config.max_results as usize)?;
    let base = base_url(&state, &headers);
    let mut projections = Vec::with_capacity(KINDS.len());
    for kind in KINDS {
        let rt = kind.resource_type();
        if let Some(filter) = &query.filter {
            check_operators(filter, rt).map_err(ScimError::from)?;
        }
        projections.push(Projection::parse(
            query.attributes.as_deref(),
            query.excluded_attributes.as_deref(),
            rt,
        )?);
    }
    let window = list::Window::of(&query);
    let skip = query.start_index.saturating_sub(1);
    let mut total = 0;
    let mut resources = Vec::new();
    for kind in KINDS {
        // Unsorted, users come before groups: each kind gives the part of
        // the page that falls in it. Sorted, each gives its first
        // `startIndex - 1 + count` in order, merged below.
        let part = match &query.sort_by {
            None => list::Window {
                start_index: skip.saturating_sub(total) + 1,
                count: query.count.saturating_sub(resources.len()),
                ..window.clone()
            },
            Some(_) => list::Window {
                start_index: 1,
                count: skip.saturating_add(query.count),
                ..window.clone()
            },
        };
        let listed = state
            .store
            .list(&tenant, kind, query.filter.as_ref(), &part)
            .await?;
        total += listed.total;
        resources.extend(listed.resources.iter().map(|s| render(kind, s, &base)));
    }
    let mut page = match &query.sort_by {
        None => resources,
        Some(sort_by) => {
            // Sort by the attribute's definition in the first type that has
            // it (its caseExact decides the collation).
            let rt = KINDS
                .iter()
                .map(|k| k.resource_type())
                .find(|rt| rt.find(sort_by).is_some())
                .unwrap_or(Kind::User.resource_type());
            list::sort(&mut resources, sort_by, query.sort_order, rt);
            list::page(resources, query.start_index, query.count)
        }
    };
    for resource in &mut page {
        let kind = match resource
            .pointer("/meta/resourceType")
            .and_then(Value::as_str)
        {
            Some("Group") => 1,
            _ => 0,
        };
        projections[kind].apply(resource);
    }
    Ok(Scim::ok(list::list_response(
        total,
        query.start_index,
        page,
    )))
}

async fn get_one<S: Store>(
    kind: Kind,
    State(state): State<ScimState<S>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> ScimResult {
    let projection = projection(kind, &params)?;
    let stored = state.store.get(&tenant, kind, &id).await?;
    let etag = crate::store::etag(&stored.version);
    let none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if none_match.is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Ok(Scim::not_modified(&etag));
    }
    Ok(respond(
        kind,
        &stored,
        &base_url(&state, &headers),
        &projection,
    ))
}

async fn create<S: Store>(
    kind: Kind,
    State(state): State<ScimState<S>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    Query(params): Params,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let projection = projection(kind, &params)?;
    let resource = prepare_create(kind.resource_type(), body)?;
    let stored = state.store.create(&tenant, kind, resource).await?;
    let base = base_url(&state, &headers);
    let location = location(kind.resource_type(), &base, &stored.id);
    let mut body = render(kind, &stored, &base);
    projection.apply(&mut body);
    Ok(Scim::created(body, &location).etag(&crate::store::etag(&stored.version)))
}

async fn replace<S: Store>(
    kind: Kind,
    State(state): State<ScimState<S>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let projection = projection(kind, &params)?;
    let rt = kind.resource_type();
    let update = |current: &Stored| prepare_replace(rt, body.clone(), &current.resource);
    update_and_respond(kind, &state, &tenant, &headers, &id, &projection, &update).await
}

async fn patch<S: Store>(
    kind: Kind,
    State(state): State<ScimState<S>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let projection = projection(kind, &params)?;
    let rt = kind.resource_type();
    let request = parse_patch_request(&body)?;
    let update = |current: &Stored| apply_patch(rt, &current.resource, &request);
    update_and_respond(kind, &state, &tenant, &headers, &id, &projection, &update).await
}

/// PUT and PATCH: a read-modify-write in the store (honouring `If-Match`),
/// answered with the new representation.
async fn update_and_respond<S: Store>(
    kind: Kind,
    state: &ScimState<S>,
    tenant: &str,
    headers: &HeaderMap,
    id: &str,
    projection: &Projection,
    update: &UpdateFn<'_>,
) -> ScimResult {
    let stored = state
        .store
        .update(tenant, kind, id, if_match(headers), update)
        .await?;
    Ok(respond(
        kind,
        &stored,
        &base_url(state, headers),
        projection,
    ))
}

async fn delete<S: Store>(
    kind: Kind,
    State(state): State<ScimState<S>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    state
        .store
        .delete(&tenant, kind, &id, if_match(&headers))
        .await?;
    Ok(Scim::no_content())
}
