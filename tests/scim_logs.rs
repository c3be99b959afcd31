//! The SCIM request log, in process over the in-memory store: real SCIM
//! traffic goes through the SCIM router, then the log API is asked about it
//! (filters, newest-first order, pagination, CSV, redaction, tenant isolation).

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

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

const ACME: &str = "acme-token";
const OTHER: &str = "other-token";
/// A token of acme with only the `scim` scope.
const ACME_SCIM_ONLY: &str = "acme-scim-only";
const PASSWORD: &str = "Sup3r-Secret!";
const NEW_PASSWORD: &str = "N3w-Secret!";
const BODY_LIMIT: u64 = 8 * 1024;

/// StaticTokens, plus one token without the `logs` scope.
struct Tokens(StaticTokens);

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

struct Server {
    app: axum::Router,
    log: Arc<ScimLog>,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

impl Server {
    fn new() -> Self {
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
        let app = scim::router(state).merge(scimlog::api_router(log.clone(), auth));
        Self { app, log }
    }

    async fn send(
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

    async fn scim(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.send(method, path, Some(token), body.map(|b| b.to_string()))
            .await
    }

    /// The log API, as JSON, asserting 200.
    async fn logs(&self, tenant: &str, token: &str, query: &str) -> Value {
        let reply = self.logs_reply(tenant, Some(token), query).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
        reply.json()
    }

    async fn logs_reply(&self, tenant: &str, token: Option<&str>, query: &str) -> Reply {
        let path = format!("/api/v1/tenants/{tenant}/scim-logs{query}");
        self.send(Method::GET, &path, token, None).await
    }

    /// Every entry for the query, walking `next`, with pages of `limit`.
    async fn walk(&self, query: &str, limit: usize) -> Vec<Value> {
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

fn user(user_name: &str) -> Value {
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
async fn traffic(server: &Server, who: &str) -> Vec<(String, String, u16)> {
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
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
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

fn seqs(entries: &[Value]) -> Vec<u64> {
    entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn every_request_is_recorded_newest_first_and_redacted() {
    let server = Server::new();
    let sent = traffic(&server, "ada").await;
    // acme's requests and other's one; the unauthenticated ones are not stored.
    assert_eq!(server.log.len(), sent.len() + 1);

    let page = server.logs("acme", ACME, "?limit=500").await;
    assert!(page["next"].is_null());
    let entries = page["entries"].as_array().unwrap();
    let got: Vec<(String, String, u16)> = entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap() as u16,
            )
        })
        .collect();
    let mut newest_first = sent.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    let s = seqs(entries);
    assert!(s.windows(2).all(|w| w[0] > w[1]), "newest first: {s:?}");
    let times: Vec<jiff::Timestamp> = entries
        .iter()
        .map(|e| e["time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    for entry in entries {
        assert_eq!(entry["tenant"], "acme");
        assert!(entry["durationMs"].as_f64().unwrap() >= 0.0);
    }

    let types: Vec<&str> = entries
        .iter()
        .rev()
        .map(|e| e["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Config", "User", "User", "User", "User", "Schema", "Search", "Group", "User", "User",
            "Group"
        ]
    );

    // Bodies: the IdP's request and our response, secrets redacted.
    let all = page.to_string();
    for secret in [PASSWORD, NEW_PASSWORD, ACME, OTHER, ACME_SCIM_ONLY] {
        assert!(!all.contains(secret), "{secret} leaked into the log");
    }
    let created = &entries[entries.len() - 2];
    assert_eq!(created["status"], 201);
    assert_eq!(created["requestBody"]["json"]["password"], "[redacted]");
    assert_eq!(
        created["requestBody"]["json"]["userName"],
        "ada@example.com"
    );
    assert_eq!(
        created["responseBody"]["json"]["userName"],
        "ada@example.com"
    );
    assert_eq!(created["requestBody"]["truncated"], false);
    let conflict = &entries[entries.len() - 3];
    assert_eq!(conflict["responseBody"]["json"]["scimType"], "uniqueness");
    let patch = &entries[entries.len() - 5];
    assert_eq!(patch["method"], "PATCH");
    assert_eq!(
        patch["requestBody"]["json"]["Operations"][0]["value"],
        "[redacted]"
    );
    assert_eq!(
        patch["requestBody"]["json"]["Operations"][1]["value"],
        false
    );
    let broken = &entries[2];
    assert_eq!(broken["status"], 400);
    let text = broken["requestBody"]["text"].as_str().unwrap();
    assert!(text.contains(r#""password": "[redacted]""#), "{text}");
    let too_large = &entries[1];
    assert_eq!(too_large["status"], 413);
    assert_eq!(too_large["responseBody"]["json"]["status"], "413");
    let get = &entries[0];
    assert!(get["requestBody"].is_null());

    // The other tenant sees only its own request.
    let theirs = server.logs("other", OTHER, "").await;
    let theirs = theirs["entries"].as_array().unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["tenant"], "other");
    assert_eq!(theirs[0]["requestBody"]["json"]["password"], "[redacted]");
}

#[tokio::test]
async fn filters_select_by_method_resource_type_status_and_time() {
    let server = Server::new();
    let sent = traffic(&server, "ada").await;
    let find = |query: &'static str| {
        let server = &server;
        async move {
            let page = server.logs("acme", ACME, query).await;
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["method"].as_str().unwrap().to_owned(),
                        e["path"].as_str().unwrap().to_owned(),
                        e["status"].as_u64().unwrap() as u16,
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let expect = |keep: &dyn Fn(&(String, String, u16)) -> bool| {
        sent.iter()
            .rev()
            .filter(|r| keep(r))
            .cloned()
            .collect::<Vec<_>>()
    };

    assert_eq!(find("?method=POST").await, expect(&|r| r.0 == "POST"));
    assert_eq!(find("?method=patch").await, expect(&|r| r.0 == "PATCH"));
    assert_eq!(
        find("?resourceType=User").await,
        expect(&|r| r.1.starts_with("/scim/v2/Users"))
    );
    assert_eq!(
        find("?resourceType=Group").await,
        expect(&|r| r.1.starts_with("/scim/v2/Groups"))
    );
    assert_eq!(find("?resourceType=Config").await.len(), 1);
    assert_eq!(find("?resourceType=Schema").await.len(), 1);
    assert_eq!(find("?resourceType=Search").await.len(), 1);
    assert_eq!(find("?status=2xx").await, expect(&|r| r.2 / 100 == 2));
    assert_eq!(find("?status=4xx").await, expect(&|r| r.2 / 100 == 4));
    assert_eq!(find("?status=4xx").await.len(), 4);
    assert!(find("?status=5xx").await.is_empty());
    assert_eq!(
        find("?method=POST&resourceType=User&status=4xx").await,
        expect(&|r| r.0 == "POST" && r.1 == "/scim/v2/Users" && r.2 / 100 == 4)
    );

    // Time range: since is inclusive, until exclusive.
    let all = server.logs("acme", ACME, "?limit=500").await;
    let entries = all["entries"].as_array().unwrap();
    let pivot = entries[5]["time"].as_str().unwrap().to_owned();
    let since = server
        .logs("acme", ACME, &format!("?limit=500&since={pivot}"))
        .await;
    let until = server
        .logs("acme", ACME, &format!("?limit=500&until={pivot}"))
        .await;
    let since = since["entries"].as_array().unwrap();
    let until = until["entries"].as_array().unwrap();
    assert_eq!(since.len() + until.len(), entries.len());
    let pivot: jiff::Timestamp = pivot.parse().unwrap();
    for e in since {
        assert!(
            e["time"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                >= pivot
        );
    }
    for e in until {
        assert!(
            e["time"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                < pivot
        );
    }
    let none = server
        .logs("acme", ACME, "?since=2999-01-01T00:00:00Z")
        .await;
    assert!(none["entries"].as_array().unwrap().is_empty());
    let none = server
        .logs("acme", ACME, "?until=2000-01-01T00:00:00Z")
        .await;
    assert!(none["entries"].as_array().unwrap().is_empty());

    // Bad parameters are 400 in JSON, naming the parameter.
    for query in [
        "?status=200",
        "?limit=0",
        "?limit=501",
        "?cursor=nope",
        "?resourceType=Users",
        "?since=today",
        "?format=xml",
        "?bogus=1",
    ] {
        let reply = server.logs_reply("acme", Some(ACME), query).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        let body = reply.json();
        assert_eq!(body["status"], 400);
        assert_eq!(body["error"], "invalidQuery");
        let name = query[1..].split('=').next().unwrap();
        assert!(body["detail"].as_str().unwrap().contains(name), "{body}");
    }
}

#[tokio::test]
async fn pages_walk_every_entry_once() {
    let server = Server::new();
    traffic(&server, "ada").await;
    traffic(&server, "bob").await;
    let everything = server.logs("acme", ACME, "?limit=500").await;
    let everything = seqs(everything["entries"].as_array().unwrap());
    assert_eq!(everything.len(), 22);
    let first = server.logs("acme", ACME, "").await;
    assert_eq!(
        first["entries"].as_array().unwrap().len(),
        22,
        "default limit 50"
    );
    for limit in [1, 3, 5, 22, 23] {
        let walked = server.walk("", limit).await;
        assert_eq!(seqs(&walked), everything, "limit {limit}");
    }
    // Filtered pages, while more traffic arrives between pages.
    let posts = server.logs("acme", ACME, "?limit=500&method=POST").await;
    let posts = seqs(posts["entries"].as_array().unwrap());
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = "?method=POST&limit=2".to_owned();
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = server.logs("acme", ACME, &q).await;
        walked.extend(seqs(page["entries"].as_array().unwrap()));
        server
            .scim(
                Method::POST,
                "/scim/v2/Users",
                ACME,
                Some(user("ada@example.com")),
            )
            .await;
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, posts);
}

#[tokio::test]
async fn csv_export_matches_the_json_entries() {
    let server = Server::new();
    traffic(&server, "ada").await;
    for query in [
        "",
        "?status=4xx",
        "?method=POST&resourceType=User",
        "?limit=2",
    ] {
        let sep = if query.is_empty() { "?" } else { "&" };
        let reply = server
            .logs_reply("acme", Some(ACME), &format!("{query}{sep}format=csv"))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "text/csv; charset=utf-8"
        );
        assert!(
            reply.headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .contains("scim-logs-acme.csv")
        );
        assert!(!reply.text.contains(PASSWORD) && !reply.text.contains(NEW_PASSWORD));

        // CSV exports the whole filtered set: compare with JSON without a limit.
        let filters = query.replace("limit=2", "");
        let sep = if filters.len() > 1 { "&" } else { "?" };
        let filters = if filters == "?" {
            String::new()
        } else {
            filters
        };
        let json = server
            .logs("acme", ACME, &format!("{filters}{sep}limit=500"))
            .await;
        let entries = json["entries"].as_array().unwrap();
        assert!(!entries.is_empty());

        let mut reader = csv::Reader::from_reader(reply.text.as_bytes());
        assert_eq!(
            reader.headers().unwrap(),
            vec![
                "time",
                "tenant",
                "method",
                "path",
                "resource_type",
                "status",
                "duration_ms",
                "request_body",
                "response_body"
            ]
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), entries.len(), "{query}");
        for (row, entry) in rows.iter().zip(entries) {
            assert_eq!(&row[0], entry["time"].as_str().unwrap());
            assert_eq!(&row[1], entry["tenant"].as_str().unwrap());
            assert_eq!(&row[2], entry["method"].as_str().unwrap());
            assert_eq!(&row[3], entry["path"].as_str().unwrap());
            assert_eq!(&row[4], entry["resourceType"].as_str().unwrap());
            assert_eq!(
                row[5].parse::<u64>().unwrap(),
                entry["status"].as_u64().unwrap()
            );
            assert_eq!(
                row[6].parse::<f64>().unwrap(),
                entry["durationMs"].as_f64().unwrap()
            );
            for (column, field) in [(7, "requestBody"), (8, "responseBody")] {
                let body = &entry[field];
                if body.is_null() {
                    assert_eq!(&row[column], "");
                } else if let Some(text) = body["text"].as_str() {
                    assert_eq!(&row[column], text);
                } else {
                    let parsed: Value = serde_json::from_str(&row[column]).unwrap();
                    assert_eq!(parsed, body["json"]);
                }
            }
        }
    }
}

#[tokio::test]
async fn logs_are_only_for_the_tenants_own_logs_token() {
    let server = Server::new();
    traffic(&server, "ada").await;

    let reply = server.logs_reply("acme", None, "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(reply.json()["status"], 401);
    let reply = server.logs_reply("acme", Some("unknown"), "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Another tenant's token: as if the log did not exist.
    let reply = server.logs_reply("acme", Some(OTHER), "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error"], "notFound");
    assert!(!reply.text.contains("ada"));
    let reply = server.logs_reply("other", Some(ACME), "?format=csv").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(!reply.text.contains("eve"));
    let reply = server.logs_reply("nobody", Some(ACME), "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // The tenant's own token without the logs scope.
    let reply = server.logs_reply("acme", Some(ACME_SCIM_ONLY), "").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["error"], "forbidden");

    // The log API itself is not recorded as SCIM traffic.
    let before = server.log.len();
    server.logs("acme", ACME, "").await;
    assert_eq!(server.log.len(), before);
}

/// A writer into a shared buffer, for capturing log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn log_lines(filter: &str, run: impl AsyncFnOnce(&Server)) -> Vec<Value> {
    use tracing_subscriber::prelude::*;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(filter))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || writer.clone()),
        );
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = Server::new();
    run(&server).await;
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["target"] == "scimitar::scim_log")
        .collect()
}

#[tokio::test]
async fn each_request_is_one_structured_log_line() {
    let send = async |server: &Server| {
        server
            .scim(
                Method::POST,
                "/scim/v2/Users",
                ACME,
                Some(user("ada@example.com")),
            )
            .await;
        server
            .send(Method::GET, "/scim/v2/Groups", None, None)
            .await;
    };

    let lines = log_lines("info", send).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    let created = &lines[0]["fields"];
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(created["message"], "SCIM request");
    assert_eq!(created["tenant"], "acme");
    assert_eq!(created["method"], "POST");
    assert_eq!(created["path"], "/scim/v2/Users");
    assert_eq!(created["resource_type"], "User");
    assert_eq!(created["status"], 201);
    assert!(created["duration_ms"].is_number());
    assert!(
        created["time"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    assert!(created.get("request_body").is_none(), "no bodies at info");
    let refused = &lines[1]["fields"];
    assert!(
        refused.get("tenant").is_none(),
        "no tenant without a valid token"
    );
    assert_eq!(refused["status"], 401);

    let lines = log_lines("info,scimitar::scim_log=debug", send).await;
    assert_eq!(lines.len(), 2);
    let created = &lines[0]["fields"];
    let body = created["request_body"].as_str().unwrap();
    assert!(body.contains("ada@example.com") && body.contains("[redacted]"));
    assert!(!body.contains(PASSWORD));
    assert!(
        created["response_body"]
            .as_str()
            .unwrap()
            .contains("\"id\"")
    );
}
