//! One structured log line per SCIM request. Not in the e2e binary:
//! tracing caches per callsite whether anyone listens, and tests on other
//! threads sending SCIM requests without a subscriber would make this one
//! miss events (no other test of this binary sends any).

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::support::scimlog::*;
use axum::http::Method;
use serde_json::Value;

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
