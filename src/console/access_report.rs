//! The Access report page: who has what in the tenant, read from the
//! bindings the controller made ([`crate::controller::live::access_report`],
//! as `scimitar access-report` reads it; users and groups from the cache,
//! [`cached_directory`]), [`ROWS_PER_PAGE`] rows a page,
//! and its CSV download, refused past [`CSV_BYTES`] (an audit cut short
//! would read as complete; `scimitar access-report -o csv` has no cap).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::html::{escape, message};
use super::{Console, ROWS_PER_PAGE, Search, Shown, Signed, cached_directory};
use crate::controller::access_report::{self, Row};
use crate::controller::live;

/// The most the console's CSV download holds.
pub const CSV_BYTES: usize = 16 * 1024 * 1024;

/// `GET /console/{tenant}/access-report?page=`.
pub async fn page(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    Query(search): Query<Search>,
    headers: HeaderMap,
) -> Response {
    let signed = match console.guard(&tenant, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let rows = match report(&console, &signed).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let first = search.first();
    let page: Vec<&Row> = rows.iter().skip(first - 1).take(ROWS_PER_PAGE).collect();
    let shown = Shown {
        matching: rows.len(),
        all: rows.len(),
        first,
    };
    let path = format!("/console/{tenant}/access-report");
    let mut html = format!(
        "<h1>Access report</h1><p>Who has what, from the RoleBindings and ClusterRoleBindings scimitar made for this tenant (not from what it intends). <a href=\"{}.csv\" download>Download CSV</a></p>",
        escape(&path)
    );
    html.push_str(&shown.html("rows", &path, "", page.len()));
    html.push_str(&table(&page));
    signed.page("Access report", html).respond(StatusCode::OK)
}

/// The rows as an HTML table, escaped.
pub fn table(rows: &[&Row]) -> String {
    let mut html = String::from(
        "<table><thead><tr><th>User</th><th>Active</th><th>Last modified</th><th>Subject</th><th>Group</th><th>Role</th><th>Scope</th><th>Binding</th></tr></thead><tbody>",
    );
    for r in rows {
        let user = if r.user_name.is_empty() {
            "<span class=\"denied\">no user of this tenant</span>".to_owned()
        } else {
            format!(
                "{}<br><span class=\"muted\">{}</span>",
                escape(&r.user_name),
                escape(&r.user_id)
            )
        };
        let active = match r.active {
            Some(true) => "yes",
            Some(false) => "<span class=\"denied\">no</span>",
            None => "",
        };
        html.push_str(&format!(
            "<tr><td>{user}</td><td>{active}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(r.last_modified.as_deref().unwrap_or_default()),
            escape(&r.subject),
            escape(&r.group),
            escape(&r.role),
            escape(&r.scope),
            escape(&r.binding),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// `GET /console/{tenant}/access-report.csv`.
pub async fn csv(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let signed = match console.guard(&tenant, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    match report(&console, &signed).await {
        Ok(rows) => download(&tenant, &rows, CSV_BYTES),
        Err(response) => response,
    }
}

/// The report's rows: the directory from the cache, the bindings from the
/// API server.
async fn report(console: &Console, signed: &Signed) -> Result<Vec<Row>, Response> {
    let copied = console.deps.store.cache().read(&signed.namespace, |index| {
        cached_directory::copy(index, &signed.tenant, cached_directory::MAX_OBJECTS)
    });
    let (users, groups) = copied.map_err(|reason| {
        message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Access report too large",
            Some(signed.name()),
            &reason,
        )
    })?;
    live::access_report(&console.deps.client, &signed.tenant, &users, &groups)
        .await
        .map_err(|e| {
            tracing::warn!(tenant = signed.name(), error = %e, "console: access report failed");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Access report unavailable",
                Some(signed.name()),
                &format!("The bindings could not be read: {e}"),
            )
        })
}

/// The CSV download of `rows`, or 413 when it would pass `budget` bytes.
pub fn download(tenant: &str, rows: &[Row], budget: usize) -> Response {
    let Some(bytes) = access_report::csv(rows, budget) else {
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Access report too large",
            Some(tenant),
            &format!(
                "The report has {} rows, more than the console's download holds ({} MiB); run `scimitar access-report --tenant {tenant} -o csv`.",
                rows.len(),
                budget / (1024 * 1024)
            ),
        );
    };
    let file: String = tenant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"access-{file}.csv\""))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize) -> Row {
        Row {
            user_name: format!("user{i}<b>"),
            user_id: i.to_string(),
            active: Some(i.is_multiple_of(2)),
            last_modified: Some("2026-12-01T00:00:00Z".into()),
            subject: format!("User:oidc:user{i}"),
            group: "devs".into(),
            role: "ClusterRole/edit".into(),
            scope: "dev".into(),
            binding: "scimitar-devs-edit-0123456789".into(),
        }
    }

    #[tokio::test]
    async fn the_download_is_refused_past_its_budget() {
        let rows: Vec<Row> = (0..1000).map(row).collect();
        let whole = access_report::csv(&rows, usize::MAX).unwrap();
        let ok = download("acme", &rows, whole.len());
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(
            ok.headers()[header::CONTENT_DISPOSITION],
            "attachment; filename=\"access-acme.csv\""
        );
        let body = axum::body::to_bytes(ok.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body.len(), whole.len());
        let refused = download("acme", &rows, whole.len() - 1);
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let text = axum::body::to_bytes(refused.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&text).contains("scimitar access-report"));
    }

    #[test]
    fn the_table_escapes_and_marks_unknown_subjects() {
        let mut orphan = row(1);
        orphan.user_name.clear();
        orphan.active = None;
        let html = table(&[&row(0), &orphan]);
        assert!(!html.contains("<b>"));
        assert!(html.contains("no user of this tenant"));
        assert_eq!(html.matches("<tr><td>").count(), 2);
    }
}
