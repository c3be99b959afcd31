//! The SCIM logs page: the tenant's request log of every replica, merged
//! (see [`crate::scimlog`] and [`crate::http::scimlog_peers`]), filtered by
//! time range, method, resource type and status class, newest first and
//! paged, each entry with the replica that served it and its redacted
//! request and response payloads; and the CSV export of the filtered set.
//! A replica that did not answer is named above the table (`#unavailable`):
//! the page is never silently short.
//!
//! The form's times are `datetime-local` values, read as UTC.

use std::sync::Arc;

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::escape;
use super::{Console, Signed};
use crate::http::scimlog_peers::ClusterLog;
use crate::scimlog::{self, Query, ResourceType, Served, Unavailable};

/// Methods offered by the filter.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Status classes offered by the filter.
const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// The filter form, as submitted (empty fields mean "any").
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub method: String,
    #[serde(default, rename = "resourceType")]
    pub resource_type: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub cursor: String,
}

/// A `datetime-local` value (`2025-01-31T12:00` or with seconds) as RFC 3339
/// UTC; RFC 3339 input passes through.
pub fn utc(text: &str) -> String {
    let text = text.trim();
    if text.ends_with('Z') || text.contains('+') {
        return text.to_owned();
    }
    match text.len() {
        16 => format!("{text}:00Z"),
        _ => format!("{text}Z"),
    }
}

impl Filters {
    /// The log query these filters make; an error names the bad field.
    pub fn query(&self) -> Result<Query, String> {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.since.trim().is_empty() {
            pairs.push(("since", utc(&self.since)));
        }
        if !self.until.trim().is_empty() {
            pairs.push(("until", utc(&self.until)));
        }
        for (key, value) in [
            ("method", &self.method),
            ("resourceType", &self.resource_type),
            ("status", &self.status),
            ("cursor", &self.cursor),
        ] {
            if !value.trim().is_empty() {
                pairs.push((key, value.clone()));
            }
        }
        Query::parse_merged(pairs).map_err(|e| e.0)
    }

    /// The filters as a query string (without the cursor), for links.
    fn query_string(&self) -> String {
        let pairs = [
            ("since", &self.since),
            ("until", &self.until),
            ("method", &self.method),
            ("resourceType", &self.resource_type),
            ("status", &self.status),
        ];
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            if !value.is_empty() {
                serializer.append_pair(key, value);
            }
        }
        serializer.finish()
    }
}

async fn signed(
    console: &Console,
    tenant: &str,
    headers: &HeaderMap,
) -> Result<(Signed, Arc<ClusterLog>), Response> {
    let signed = console.guard(tenant, headers).await?;
    Ok((signed, console.deps.scim_log.clone()))
}

/// `GET /console/{tenant}/logs`.
pub async fn page(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    QueryParams(filters): QueryParams<Filters>,
    headers: HeaderMap,
) -> Response {
    let (signed, log) = match signed(&console, &tenant, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut html = String::from("<h1>SCIM logs</h1>");
    html.push_str(&form(&tenant, &filters));
    match filters.query() {
        Ok(query) => {
            let page = log.listing(&tenant, &query, false).await;
            html.push_str(&replicas(&page.replicas, &page.unavailable));
            html.push_str(&table(
                &tenant,
                &filters,
                &page.entries,
                page.next.as_deref(),
            ));
        }
        Err(error) => html.push_str(&format!("<p class=\"denied\">{}</p>", escape(&error))),
    }
    let limits = log.log().limits();
    html.push_str(&format!(
        "<p class=\"muted\">Each replica keeps the last {} requests of all tenants, in at most {} of memory ({} per tenant), and loses them when it restarts; bodies are redacted (passwords masked, Authorization never stored).</p>",
        limits.entries,
        mebibytes(limits.bytes),
        mebibytes(limits.tenant_bytes),
    ));
    signed.page("SCIM logs", html).respond(StatusCode::OK)
}

/// `GET /console/{tenant}/logs.csv`: every entry matching the filters.
pub async fn csv(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    QueryParams(filters): QueryParams<Filters>,
    headers: HeaderMap,
) -> Response {
    let (_, log) = match signed(&console, &tenant, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let query = match filters.query() {
        Ok(query) => query,
        Err(error) => return (StatusCode::BAD_REQUEST, error).into_response(),
    };
    crate::http::scimlog::csv_download(&tenant, log.listing(&tenant, &query, true).await)
}

/// Which replicas' entries the page holds, and which are missing and why.
fn replicas(answered: &[String], unavailable: &[Unavailable]) -> String {
    let names: Vec<String> = answered.iter().map(|r| escape(r)).collect();
    let mut html = format!(
        "<p class=\"muted\" id=\"replicas\">Requests served by {} {}.</p>",
        if names.len() == 1 {
            "replica"
        } else {
            "replicas"
        },
        names.join(", ")
    );
    if !unavailable.is_empty() {
        html.push_str("<div class=\"denied\" id=\"unavailable\"><p>Not answering, so their requests are missing below:</p><ul>");
        for missing in unavailable {
            html.push_str(&format!(
                "<li><code>{}</code> ({}): {}</li>",
                escape(&missing.replica),
                escape(&missing.address),
                escape(&missing.reason)
            ));
        }
        html.push_str("</ul></div>");
    }
    html
}

/// `bytes` for people: `32 MiB`, `512 KiB`.
fn mebibytes(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

fn select(name: &str, label: &str, options: &[&str], chosen: &str) -> String {
    let mut html = format!("<label>{label}<select name=\"{name}\"><option value=\"\">any</option>");
    for option in options {
        let selected = if option.eq_ignore_ascii_case(chosen) {
            " selected"
        } else {
            ""
        };
        html.push_str(&format!("<option{selected}>{option}</option>"));
    }
    html.push_str("</select></label>");
    html
}

fn form(tenant: &str, filters: &Filters) -> String {
    let types: Vec<&str> = ResourceType::ALL.iter().map(|t| t.as_str()).collect();
    format!(
        "<form class=\"filters\" method=\"get\" action=\"/console/{}/logs\">\
         <label>From (UTC)<input type=\"datetime-local\" step=\"1\" name=\"since\" value=\"{}\"></label>\
         <label>Until (UTC)<input type=\"datetime-local\" step=\"1\" name=\"until\" value=\"{}\"></label>{}{}{}\
         <button type=\"submit\">Filter</button></form>",
        escape(tenant),
        escape(&filters.since),
        escape(&filters.until),
        select("method", "Method", &METHODS, &filters.method),
        select(
            "resourceType",
            "Resource type",
            &types,
            &filters.resource_type
        ),
        select("status", "Status", &CLASSES, &filters.status),
    )
}

fn payload(label: &str, body: Option<&scimlog::Body>) -> String {
    let text = match body {
        Some(body) => match body.json() {
            Some(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
            None => {
                let cut = if body.truncated() { "\n… (cut)" } else { "" };
                format!("{}{cut}", body.as_text())
            }
        },
        None => "(empty)".into(),
    };
    format!("<h4>{label}</h4><pre>{}</pre>", escape(&text))
}

fn table(tenant: &str, filters: &Filters, entries: &[Served], next: Option<&str>) -> String {
    let query = filters.query_string();
    let mut html = format!(
        "<p><a id=\"csv\" href=\"/console/{}/logs.csv?{}\" download>Download CSV</a> (every entry matching these filters)</p>",
        escape(tenant),
        escape(&query)
    );
    if entries.is_empty() {
        html.push_str("<p class=\"muted\">No requests match.</p>");
        return html;
    }
    html.push_str("<table id=\"entries\"><thead><tr><th>Time (UTC)</th><th>Method</th><th>Path</th><th>Type</th><th>Status</th><th>ms</th><th>Replica</th><th>Payloads</th></tr></thead><tbody>");
    for Served { replica, entry } in entries {
        let status_class = if entry.status < 400 { "yes" } else { "no" };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"{status_class}\">{}</td><td>{:.1}</td><td class=\"replica\">{}</td><td><details><summary>show</summary>{}{}</details></td></tr>",
            escape(&entry.time.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()),
            escape(&entry.method),
            escape(&entry.path),
            entry.resource_type,
            entry.status,
            entry.duration_ms,
            escape(replica),
            payload("Request", entry.request_body.as_ref()),
            payload("Response", entry.response_body.as_ref()),
        ));
    }
    html.push_str("</tbody></table>");
    if let Some(next) = next {
        let sep = if query.is_empty() { "" } else { "&" };
        html.push_str(&format!(
            "<p><a href=\"/console/{}/logs?{}{sep}cursor={}\">Older requests →</a></p>",
            escape(tenant),
            escape(&query),
            escape(next)
        ));
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_that_did_not_answer_are_named_above_the_table() {
        let answered = ["scimitar-a".to_owned()];
        assert!(!replicas(&answered, &[]).contains("unavailable"));
        let missing = Unavailable {
            replica: "scimitar-b".into(),
            address: "10.0.0.7:8081".into(),
            reason: "no answer within 2000 ms <script>".into(),
        };
        let html = replicas(&answered, &[missing]);
        assert!(html.contains("id=\"unavailable\""), "{html}");
        assert!(
            html.contains(
                "<code>scimitar-b</code> (10.0.0.7:8081): no answer within 2000 ms &lt;script&gt;"
            ),
            "{html}"
        );
        assert!(html.contains("Requests served by replica scimitar-a."));
    }

    #[test]
    fn datetime_local_values_are_read_as_utc() {
        assert_eq!(utc("2026-01-31T12:00"), "2026-01-31T12:00:00Z");
        assert_eq!(utc("2026-01-31T12:00:05"), "2026-01-31T12:00:05Z");
        assert_eq!(utc("2026-01-31T12:00:05Z"), "2026-01-31T12:00:05Z");
    }

    #[test]
    fn filters_make_a_log_query_and_bad_ones_are_named() {
        let filters = Filters {
            since: "2026-01-31T12:00".into(),
            method: "POST".into(),
            resource_type: "User".into(),
            status: "4xx".into(),
            ..Default::default()
        };
        let query = filters.query().expect("valid");
        assert_eq!(query.method.as_deref(), Some("POST"));
        assert_eq!(query.resource_type, Some(ResourceType::User));
        assert!(query.since.is_some());
        assert_eq!(
            filters.query_string(),
            "since=2026-01-31T12%3A00&method=POST&resourceType=User&status=4xx"
        );
        let bad = Filters {
            until: "yesterday".into(),
            ..Default::default()
        };
        assert!(bad.query().unwrap_err().contains("until"));
    }
}
