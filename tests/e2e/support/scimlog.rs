//! Shared by the SCIM request log tests: an in-process SCIM router over the
//! in-memory store, with the log and its API, and the traffic they replay.

use scimitar::scim::schema::PATCH_OP_URN;
use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use scimitar::auth::{Principal, Scope, StaticTokens, TokenAuthenticator};
use scimitar::http::scim::{self, ScimState, normalize_path};
use scimitar::http::scimlog;
use scimitar::scim::discovery::ServiceProviderConfig;
use scimitar::scimlog::ScimLog;
use scimitar::store::MemoryStore;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

pub const ACME: &str = "acme-token";
pub const OTHER: &str = "other-token";
/// A token of acme with only the `scim` scope.
pub const ACME_SCIM_ONLY: &str = "acme-scim-only";
pub const PASSWORD: &str = "Sup3r-Secret!";
pub const NEW_PASSWORD: &str = "N3w-Secret!";
pub const BODY_LIMIT: u64 = 8 * 1024;

/// StaticTokens, plus one token without the `logs` scope.
pub struct Tokens(StaticTokens);

impl TokenAuthenticator for Tokens {
    fn authenticate(&self, token: &str) -> Option<Principal> {
        if token == ACME_SCIM_ONLY {
            return Some(Principal {
                tenant: "acme".into(),
                token: "scim-only".into(),
                scopes: BTreeSet::from([Scope::Scim]),
            });
        }
        self.0.authenticate(token)
    }
}

pub struct Server {
    pub app: axum::Router,
    pub log: Arc<ScimLog>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

impl Server {
    pub fn new() -> Self {
        let auth: Arc<dyn TokenAuthenticator> = Arc::new(Tokens(StaticTokens::new([
            ("acme".to_owned(), ACME.to_owned()),
            ("other".to_owned(), OTHER.to_owned()),
        ])));
        let log = Arc::new(ScimLog::new(1000));
        let state = ScimState {
            store: Arc::new(MemoryStore::new()),
            auth: auth.clone(),
            config: Arc::new(ServiceProviderConfig {
                max_payload_bytes: BODY_LIMIT,
                ..Default::default()
            }),
            public_url: None,
            scim_log: Some(log.clone()),
        };
        let cluster = Arc::new(scimitar::http::scimlog_peers::ClusterLog::local(
            log.clone(),
            "test-replica",
        ));
        let app = scim::router(state).merge(scimlog::api_router(cluster, auth));
        Self { app, log }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "scim.test");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/scim+json")
                .body(Body::from(body)),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let service = tower::util::MapRequestLayer::new(normalize_path).layer(self.app.clone());
        let response = service.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn scim(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        self.send(method, path, Some(token), body.map(|b| b.to_string()))
            .await
    }

    /// The log API, as JSON, asserting 200.
    pub async fn logs(&self, tenant: &str, token: &str, query: &str) -> Value {
        let reply = self.logs_reply(tenant, Some(token), query).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
        reply.json()
    }

    pub async fn logs_reply(&self, tenant: &str, token: Option<&str>, query: &str) -> Reply {
        let path = format!("/api/v1/tenants/{tenant}/scim-logs{query}");
        self.send(Method::GET, &path, token, None).await
    }

    /// Every entry for the query, walking `next`, with pages of `limit`.
    pub async fn walk(&self, query: &str, limit: usize) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if query.is_empty() { "?" } else { "&" };
            let mut q = format!("{query}{sep}limit={limit}");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let page = self.logs("acme", ACME, &q).await;
            let entries = page["entries"].as_array().unwrap().clone();
            assert!(entries.len() <= limit);
            all.extend(entries);
            match page["next"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break all,
            }
        }
    }
}

pub fn user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "password": PASSWORD,
        "active": true
    })
}

/// The traffic of an IdP: (method, path, status) as sent, oldest first.
pub async fn traffic(server: &Server, who: &str) -> Vec<(String, String, u16)> {
    let email = format!("{who}@example.com");
    let mut sent = Vec::new();
    let mut note = |method: &Method, path: &str, reply: &Reply| {
        sent.push((method.to_string(), path.to_owned(), reply.status.as_u16()));
    };

    let path = "/scim/v2/ServiceProviderConfig";
    let reply = server.scim(Method::GET, path, ACME, None).await;
    assert_eq!(reply.status, 200);
    note(&Method::GET, path, &reply);

    let path = "/scim/v2/Users";
    let reply = server
        .scim(Method::POST, path, ACME, Some(user(&email)))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    note(&Method::POST, path, &reply);

    let reply = server
        .scim(Method::POST, path, ACME, Some(user(&email)))
        .await;
    assert_eq!(reply.status, 409);
    note(&Method::POST, path, &reply);

    let path = format!("/scim/v2/Users?filter=userName%20eq%20%22{who}%40example.com%22");
    let reply = server.scim(Method::GET, &path, ACME, None).await;
    assert_eq!(reply.status, 200);
    note(&Method::GET, &path, &reply);

    let path = format!("/scim/v2/Users/{id}");
    let patch = json!({
        "schemas": [PATCH_OP_URN],
        "Operations": [
            {"op": "replace", "path": "password", "value": NEW_PASSWORD},
            {"op": "replace", "path": "active", "value": false}
        ]
    });
    let reply = server.scim(Method::PATCH, &path, ACME, Some(patch)).await;
    assert!(reply.status.is_success(), "{}", reply.text);
    note(&Method::PATCH, &path, &reply);

    let path = "/scim/v2/Schemas";
    let reply = server.scim(Method::GET, path, ACME, None).await;
    assert_eq!(reply.status, 200);
    note(&Method::GET, path, &reply);

    let path = "/scim/v2/.search";
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName sw \"ada\""
    });
    let reply = server.scim(Method::POST, path, ACME, Some(search)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    note(&Method::POST, path, &reply);

    let path = "/scim/v2/Groups/does-not-exist";
    let reply = server.scim(Method::GET, path, ACME, None).await;
    assert_eq!(reply.status, 404);
    note(&Method::GET, path, &reply);

    // Not JSON: stored as text, the password still masked.
    let path = "/scim/v2/Users";
    let broken = format!(r#"{{"userName": "bob", "password": "{PASSWORD}", oops"#);
    let reply = server
        .send(Method::POST, path, Some(ACME), Some(broken))
        .await;
    assert_eq!(reply.status, 400);
    note(&Method::POST, path, &reply);

    // Over the body limit: still 413 in SCIM form.
    let mut big = user("big@example.com");
    big["displayName"] = json!("x".repeat(2 * BODY_LIMIT as usize));
    let reply = server.scim(Method::POST, path, ACME, Some(big)).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["status"], "413");
    note(&Method::POST, path, &reply);

    // A token without the logs scope still makes SCIM requests, which are logged.
    let reply = server
        .scim(Method::GET, "/scim/v2/Groups", ACME_SCIM_ONLY, None)
        .await;
    assert_eq!(reply.status, 200);
    note(&Method::GET, "/scim/v2/Groups", &reply);

    // Another tenant, and a caller without a valid token: not in acme's log.
    let reply = server
        .scim(
            Method::POST,
            "/scim/v2/Users",
            OTHER,
            Some(user(&format!("eve-{who}@example.com"))),
        )
        .await;
    assert_eq!(reply.status, 201);
    let reply = server
        .send(Method::GET, "/scim/v2/Users", Some("wrong"), None)
        .await;
    assert_eq!(reply.status, 401);
    let reply = server.send(Method::GET, "/scim/v2/Users", None, None).await;
    assert_eq!(reply.status, 401);
    sent
}

pub fn seqs(entries: &[Value]) -> Vec<u64> {
    entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}
