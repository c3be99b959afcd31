//! The SCIM HTTP layer over the in-memory store, request by request, without a
//! network: status codes, headers and error shapes the RFC and the IdPs rely on.

use scimitar::scim::schema::PATCH_OP_URN;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use scimitar::http::scim::{self, ScimState, StaticTokens, normalize_path};
use scimitar::scim::discovery::ServiceProviderConfig;
use scimitar::store::MemoryStore;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

const ACME: &str = "acme-token";
const OTHER: &str = "other-token";

struct Server {
    app: axum::Router,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Server {
    fn new() -> Self {
        Self::with_config(ServiceProviderConfig::default())
    }

    fn with_config(config: ServiceProviderConfig) -> Self {
        let state = ScimState {
            store: Arc::new(MemoryStore::new()),
            auth: Arc::new(StaticTokens::new([
                ("acme".to_owned(), ACME.to_owned()),
                ("other".to_owned(), OTHER.to_owned()),
            ])),
            config: Arc::new(config),
            public_url: None,
            // Every request here also goes through the request-log layer.
            scim_log: Some(Arc::new(scimitar::scimlog::ScimLog::default())),
        };
        Self {
            app: scim::router(state),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.send_with(method, path, token, body, &[]).await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "scim.test");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/scim+json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("valid request");
        let service = tower::util::MapRequestLayer::new(normalize_path).layer(self.app.clone());
        let response = service.oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn create_user(&self, token: &str, user_name: &str) -> Value {
        let reply = self
            .send(
                Method::POST,
                "/scim/v2/Users",
                Some(token),
                Some(user(user_name)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }
}

fn user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

fn assert_scim_error(reply: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/scim+json");
    assert_eq!(
        reply.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(
        reply.body["status"],
        json!(status.to_string()),
        "status is a string"
    );
    assert_eq!(reply.body["scimType"].as_str(), scim_type, "{}", reply.body);
    assert!(reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401_in_scim_form() {
    let server = Server::new();
    let reply = server.send(Method::GET, "/scim/v2/Users", None, None).await;
    assert_scim_error(&reply, 401, None);
    assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
    let reply = server
        .send(Method::GET, "/scim/v2/Users", Some("wrong"), None)
        .await;
    assert_scim_error(&reply, 401, None);
}

#[tokio::test]
async fn create_returns_201_with_location_etag_and_meta() {
    let server = Server::new();
    let reply = server
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(ACME),
            Some(user("bjensen@example.com")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.body["id"].as_str().expect("string id");
    let location = format!("http://scim.test/scim/v2/Users/{id}");
    assert_eq!(reply.headers[header::LOCATION], location.as_str());
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/scim+json");
    let meta = &reply.body["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(meta["location"], location.as_str());
    assert_eq!(
        reply.headers[header::ETAG],
        meta["version"].as_str().unwrap()
    );
    assert!(meta["version"].as_str().unwrap().starts_with("W/\""));
    assert!(meta["created"].as_str().is_some() && meta["lastModified"].as_str().is_some());
    assert_eq!(reply.body["userName"], "bjensen@example.com");
}

#[tokio::test]
async fn duplicate_user_name_is_409_uniqueness_case_insensitively() {
    let server = Server::new();
    server.create_user(ACME, "bjensen@example.com").await;
    let reply = server
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(ACME),
            Some(user("BJensen@Example.com")),
        )
        .await;
    assert_scim_error(&reply, 409, Some("uniqueness"));
    // The same name in another tenant is a different user.
    server.create_user(OTHER, "bjensen@example.com").await;
}

#[tokio::test]
async fn filter_by_user_name_is_exact_and_case_insensitive() {
    let server = Server::new();
    server.create_user(ACME, "bjensen@example.com").await;
    server.create_user(ACME, "jsmith@example.com").await;
    let reply = server
        .send(Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22BJENSEN@example.com%22&startIndex=1&count=100", Some(ACME), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["totalResults"], 1);
    assert_eq!(
        reply.body["Resources"][0]["userName"],
        "bjensen@example.com"
    );
    let miss = server
        .send(
            Method::GET,
            "/scim/v2/Users?filter=userName%20eq%20%22nobody@example.com%22",
            Some(ACME),
            None,
        )
        .await;
    assert_eq!(miss.status, StatusCode::OK);
    assert_eq!(miss.body["totalResults"], 0);
    assert_eq!(
        miss.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
}

#[tokio::test]
async fn malformed_filter_is_400_invalid_filter() {
    let server = Server::new();
    let reply = server
        .send(
            Method::GET,
            "/scim/v2/Users?filter=userName%20eq",
            Some(ACME),
            None,
        )
        .await;
    assert_scim_error(&reply, 400, Some("invalidFilter"));
}

#[tokio::test]
async fn tenants_never_see_each_other() {
    let server = Server::new();
    let created = server.create_user(ACME, "bjensen@example.com").await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/scim/v2/Users/{id}");
    assert_scim_error(
        &server.send(Method::GET, &path, Some(OTHER), None).await,
        404,
        None,
    );
    assert_scim_error(
        &server.send(Method::DELETE, &path, Some(OTHER), None).await,
        404,
        None,
    );
    let list = server
        .send(Method::GET, "/scim/v2/Users", Some(OTHER), None)
        .await;
    assert_eq!(list.body["totalResults"], 0);
    assert_eq!(
        server
            .send(Method::GET, &path, Some(ACME), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn if_match_with_a_stale_version_is_412_and_changes_nothing() {
    let server = Server::new();
    let created = server.create_user(ACME, "bjensen@example.com").await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/scim/v2/Users/{id}");
    let patch = json!({"schemas": [PATCH_OP_URN],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Babs"}]});
    let stale = server
        .send_with(
            Method::PATCH,
            &path,
            Some(ACME),
            Some(patch.clone()),
            &[("if-match", "W/\"nope\"")],
        )
        .await;
    assert_scim_error(&stale, 412, None);
    let version = created["meta"]["version"].as_str().unwrap();
    let fresh = server
        .send_with(
            Method::PATCH,
            &path,
            Some(ACME),
            Some(patch),
            &[("if-match", version)],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(fresh.body["displayName"], "Babs");
    let not_modified = server
        .send_with(
            Method::GET,
            &path,
            Some(ACME),
            None,
            &[(
                "if-none-match",
                fresh.body["meta"]["version"].as_str().unwrap(),
            )],
        )
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn unsupported_endpoints_and_methods_answer_in_scim_form() {
    let server = Server::new();
    assert_scim_error(
        &server
            .send(Method::POST, "/scim/v2/Bulk", Some(ACME), Some(json!({})))
            .await,
        501,
        None,
    );
    assert_scim_error(
        &server
            .send(Method::GET, "/scim/v2/Me", Some(ACME), None)
            .await,
        501,
        None,
    );
    assert_scim_error(
        &server
            .send(Method::GET, "/scim/v2/Nope", Some(ACME), None)
            .await,
        404,
        None,
    );
    assert_scim_error(
        &server
            .send(Method::DELETE, "/scim/v2/Schemas", Some(ACME), None)
            .await,
        405,
        None,
    );
    assert_scim_error(
        &server
            .send(
                Method::GET,
                "/scim/v2/Users/does-not-exist",
                Some(ACME),
                None,
            )
            .await,
        404,
        None,
    );
}

#[tokio::test]
async fn wrong_content_type_is_415_and_bad_json_is_400() {
    let server = Server::new();
    let reply = server
        .send_with(
            Method::POST,
            "/scim/v2/Users",
            Some(ACME),
            None,
            &[("content-type", "text/xml")],
        )
        .await;
    assert_scim_error(&reply, 415, None);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/scim/v2/Users")
        .header(header::AUTHORIZATION, format!("Bearer {ACME}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let response = server.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let config = ServiceProviderConfig {
        max_payload_bytes: 1024,
        ..Default::default()
    };
    let server = Server::with_config(config);
    let mut big = user("big@example.com");
    big["displayName"] = json!("x".repeat(4096));
    let reply = server
        .send(Method::POST, "/scim/v2/Users", Some(ACME), Some(big))
        .await;
    assert_scim_error(&reply, 413, None);
}

/// JumpCloud builds `{base}//Users` from a Base URL entered with a trailing
/// slash (idp-scim-detail.md §1.1). Not an RFC matter (RFC 3986 §6.2.3 leaves
/// empty segments significant), but answering 404 would fail Activate.
#[tokio::test]
async fn repeated_and_trailing_slashes_are_normalised() {
    let server = Server::new();
    server.create_user(ACME, "bjensen@example.com").await;
    let reply = server
        .send(Method::GET, "/scim/v2//Users/", Some(ACME), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["totalResults"], 1);
}

#[tokio::test]
async fn group_members_come_back_with_refs_and_users_list_their_groups() {
    let server = Server::new();
    let user = server.create_user(ACME, "bjensen@example.com").await;
    let uid = user["id"].as_str().unwrap();
    let group = server
        .send(
            Method::POST,
            "/scim/v2/Groups",
            Some(ACME),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "engineering",
                "members": [{"value": uid, "display": "Barbara", "type": "User"}]
            })),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let member = &group.body["members"][0];
    assert_eq!(member["value"], uid);
    assert_eq!(
        member["$ref"],
        format!("http://scim.test/scim/v2/Users/{uid}")
    );
    let gid = group.body["id"].as_str().unwrap();
    let fetched = server
        .send(
            Method::GET,
            &format!("/scim/v2/Users/{uid}"),
            Some(ACME),
            None,
        )
        .await;
    assert_eq!(fetched.body["groups"][0]["value"], gid);
    assert_eq!(fetched.body["groups"][0]["display"], "engineering");

    // Deleting the user removes its membership.
    let deleted = server
        .send(
            Method::DELETE,
            &format!("/scim/v2/Users/{uid}"),
            Some(ACME),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let group = server
        .send(
            Method::GET,
            &format!("/scim/v2/Groups/{gid}"),
            Some(ACME),
            None,
        )
        .await;
    assert!(
        group
            .body
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{}",
        group.body
    );
}

#[tokio::test]
async fn excluded_members_are_not_returned() {
    let server = Server::new();
    let user = server.create_user(ACME, "bjensen@example.com").await;
    let uid = user["id"].as_str().unwrap();
    server
        .send(
            Method::POST,
            "/scim/v2/Groups",
            Some(ACME),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "engineering",
                "members": [{"value": uid}]
            })),
        )
        .await;
    let reply = server
        .send(Method::GET, "/scim/v2/Groups?filter=displayName%20eq%20%22engineering%22&excludedAttributes=members", Some(ACME), None)
        .await;
    assert_eq!(reply.body["totalResults"], 1);
    let group = &reply.body["Resources"][0];
    assert!(group.get("members").is_none(), "{group}");
    assert_eq!(group["displayName"], "engineering");
}

#[tokio::test]
async fn root_search_covers_users_and_groups_with_per_type_projection() {
    let server = Server::new();
    let babs = server
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(ACME),
            Some(user("babs")),
        )
        .await;
    assert_eq!(babs.status, StatusCode::CREATED);
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "babs-team", "members": [{"value": babs.body["id"]}]});
    let created = server
        .send(Method::POST, "/scim/v2/Groups", Some(ACME), Some(group))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    // Another tenant's resources never show up.
    server
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(OTHER),
            Some(user("babs-other")),
        )
        .await;

    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName sw \"babs\" or displayName sw \"babs\"",
        "sortBy": "meta.created",
        "excludedAttributes": ["members", "emails"],
    });
    let reply = server
        .send(Method::POST, "/scim/v2/.search", Some(ACME), Some(search))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["totalResults"], 2);
    let resources = reply.body["Resources"].as_array().expect("Resources");
    let types: Vec<&str> = resources
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().expect("resourceType"))
        .collect();
    assert_eq!(types, ["User", "Group"]);
    assert_eq!(resources[0]["userName"], "babs");
    assert!(resources[0].get("emails").is_none());
    assert_eq!(resources[1]["displayName"], "babs-team");
    assert!(resources[1].get("members").is_none());

    // A filter on an attribute only users have finds no groups.
    let only_users = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"BABS\"",
    });
    let reply = server
        .send(
            Method::POST,
            "/scim/v2/.search",
            Some(ACME),
            Some(only_users),
        )
        .await;
    assert_eq!(reply.body["totalResults"], 1);
    assert_eq!(reply.body["Resources"][0]["id"], babs.body["id"]);
}

#[tokio::test]
async fn a_root_search_pages_across_users_then_groups() {
    let server = Server::new();
    for name in ["u1", "u2", "u3"] {
        let created = server
            .send(Method::POST, "/scim/v2/Users", Some(ACME), Some(user(name)))
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    for name in ["g1", "g2"] {
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name});
        let created = server
            .send(Method::POST, "/scim/v2/Groups", Some(ACME), Some(group))
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let page = |start: u64, count: u64, sort: Option<&str>| {
        let mut search = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "startIndex": start,
            "count": count,
        });
        if let Some(sort) = sort {
            search["sortBy"] = json!(sort);
            search["sortOrder"] = json!("descending");
        }
        let server = &server;
        async move {
            let reply = server
                .send(Method::POST, "/scim/v2/.search", Some(ACME), Some(search))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            assert_eq!(reply.body["totalResults"], 5);
            let names: Vec<String> = reply.body["Resources"]
                .as_array()
                .expect("Resources")
                .iter()
                .map(|r| {
                    r.get("userName")
                        .or_else(|| r.get("displayName"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            names
        }
    };
    // Users come before groups; a page may straddle them or lie in either.
    let mut users = page(1, 3, None).await;
    users.sort();
    assert_eq!(users, ["u1", "u2", "u3"]);
    let straddling = page(3, 2, None).await;
    assert_eq!(straddling.len(), 2);
    assert!(straddling[0].starts_with('u') && straddling[1].starts_with('g'));
    assert_eq!(page(5, 10, None).await.len(), 1);
    assert!(page(6, 10, None).await.is_empty());
    assert!(page(1, 0, None).await.is_empty());
    // Sorted across both kinds (displayName: users have none, so last
    // ascending, first descending).
    let sorted = page(1, 3, Some("displayName")).await;
    assert_eq!(sorted.len(), 3);
    assert!(sorted.iter().all(|n| n.starts_with('u')), "{sorted:?}");
    assert_eq!(page(4, 5, Some("displayName")).await, ["g2", "g1"]);
}
