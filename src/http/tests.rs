//! The SCIM application as `scimitar run` assembles it, driven through its
//! router: the request log and the metrics agree on every request.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;
use crate::metrics::method_label;
use crate::scimlog::{Query, ResourceType, ScimLog};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

struct App {
    router: Router,
    log: Arc<ScimLog>,
    metrics: Arc<Metrics>,
}

impl App {
    fn new() -> Self {
        let log = Arc::new(ScimLog::default());
        let metrics = Arc::new(Metrics::new());
        let state = ScimState {
            store: Arc::new(crate::store::MemoryStore::new()),
            auth: Arc::new(scim::StaticTokens::new([(
                "acme".to_owned(),
                "good".to_owned(),
            )])),
            config: Arc::new(crate::scim::discovery::ServiceProviderConfig::default()),
            public_url: None,
            scim_log: Some(log.clone()),
        };
        let layers = ScimLayers {
            metrics: Some(metrics.clone()),
            limits: Some(Arc::new(Limits::new(&limits::LimitArgs::default()))),
        };
        Self {
            router: scim_app(state, &layers),
            log,
            metrics,
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", scim::BASE_PATH))
            .header("authorization", "Bearer good")
            .header("content-type", scim::SCIM_JSON)
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// `scimitar_scim_requests_total` of tenant `acme`, by (method, resource
/// type, status).
fn counted(text: &str) -> BTreeMap<(String, String, String), f64> {
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("scimitar_scim_requests_total{") else {
            continue;
        };
        let (labels, value) = rest.split_once("} ").expect("sample");
        let labels: BTreeMap<&str, &str> = labels
            .split(',')
            .map(|pair| {
                let (name, value) = pair.split_once('=').expect("label");
                (name, value.trim_matches('"'))
            })
            .collect();
        if labels["tenant"] != "acme" {
            continue;
        }
        let key = (
            labels["method"].to_owned(),
            labels["resource_type"].to_owned(),
            labels["status"].to_owned(),
        );
        counts.insert(key, value.parse::<f64>().expect("number"));
    }
    counts
}

#[tokio::test]
async fn the_log_and_the_metrics_label_every_route_alike() {
    let app = App::new();
    let mut sent: Vec<(&str, String, u16, ResourceType)> = Vec::new();
    let mut expect = async |method: &'static str,
                            path: &str,
                            body: Option<Value>,
                            status: u16,
                            resource_type: ResourceType|
           -> Value {
        let (got, reply) = app.send(method, path, body).await;
        assert_eq!(got, status, "{method} {path}: {reply}");
        sent.push((method, path.to_owned(), status, resource_type));
        reply
    };
    use ResourceType::{Config, Group, Other, Schema, Search, User};

    expect("GET", "/ServiceProviderConfig", None, 200, Config).await;
    expect("GET", "/Schemas", None, 200, Schema).await;
    expect("GET", &format!("/Schemas/{USER}"), None, 200, Schema).await;
    expect("GET", "/ResourceTypes", None, 200, Schema).await;
    expect("GET", "/ResourceTypes/User", None, 200, Schema).await;

    let user = json!({"schemas": [USER], "userName": "ada@example.com"});
    let created = expect("POST", "/Users", Some(user.clone()), 201, User).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let one = format!("/Users/{id}");
    expect("GET", "/Users", None, 200, User).await;
    expect("GET", &one, None, 200, User).await;
    expect("PUT", &one, Some(user), 200, User).await;
    let deactivate = json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    });
    expect("PATCH", &one, Some(deactivate), 200, User).await;
    let search = json!({"schemas": [SEARCH], "filter": "userName pr"});
    expect("POST", "/Users/.search", Some(search), 200, User).await;

    let group = json!({"schemas": [GROUP], "displayName": "admins"});
    let created = expect("POST", "/Groups", Some(group.clone()), 201, Group).await;
    let group_id = created["id"].as_str().expect("id").to_owned();
    let one_group = format!("/Groups/{group_id}");
    expect("GET", "/Groups", None, 200, Group).await;
    expect("GET", &one_group, None, 200, Group).await;
    expect("PUT", &one_group, Some(group), 200, Group).await;
    let rename = json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "ops"}]
    });
    expect("PATCH", &one_group, Some(rename), 200, Group).await;
    let search = json!({"schemas": [SEARCH], "filter": "displayName pr"});
    expect("POST", "/Groups/.search", Some(search), 200, Group).await;
    expect("DELETE", &one_group, None, 204, Group).await;

    let search = json!({"schemas": [SEARCH], "filter": "id pr"});
    expect("POST", "/.search", Some(search), 200, Search).await;
    expect("DELETE", &one, None, 204, User).await;
    expect("GET", &one, None, 404, User).await;

    expect("POST", "/Bulk", Some(json!({})), 501, Other).await;
    expect("GET", "/Me", None, 501, Other).await;
    expect("GET", "/Me/x", None, 501, Other).await;
    // Paths no route serves, whatever they look like, and methods a route
    // does not take.
    expect("GET", "/users", None, 404, Other).await;
    expect("GET", "/Users/a/b", None, 404, Other).await;
    expect("GET", "/Nope", None, 404, Other).await;
    expect("BREW", "/Users", None, 405, User).await;
    expect("GET", "/Users/.search", None, 405, User).await;

    // The log: one entry per request, in order, with the expected type.
    let mut entries = app.log.all("acme", &Query::default());
    entries.reverse();
    let logged: Vec<(&str, String, u16, ResourceType)> = entries
        .iter()
        .map(|e| {
            let path = e.path.strip_prefix(scim::BASE_PATH).expect("prefix");
            (
                e.method.as_str(),
                path.to_owned(),
                e.status,
                e.resource_type,
            )
        })
        .collect();
    assert_eq!(logged, sent);

    // The metrics: exactly the log's entries, under the same labels.
    let mut from_log: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for entry in &entries {
        let key = (
            method_label(&entry.method).to_owned(),
            entry.resource_type.as_str().to_owned(),
            entry.status.to_string(),
        );
        *from_log.entry(key).or_default() += 1.0;
    }
    assert_eq!(counted(&app.metrics.encode()), from_log);
}
