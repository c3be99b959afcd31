//! The Users page: the tenant's SCIM users as the cache holds them, with the
//! RBAC subject the controller recorded in each `ScimUser`'s status.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::gate::{is_active, primary_email};
use super::html::escape;
use super::{Console, Search};
use crate::store::index::fold;
use crate::store::{Kind, Stored};

/// `GET /console/{tenant}/users?q=`.
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
    let all = console
        .deps
        .store
        .cache()
        .read(&signed.namespace, |index| index.list(Kind::User, None));
    let subjects = console.subjects(&signed.namespace).await;
    let rows = rows(&all, &subjects, &search.q);
    signed
        .page("Users", body(&tenant, &search.q, &rows, all.len()))
        .respond(StatusCode::OK)
}

/// One row of the Users table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub user_name: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub groups: Vec<String>,
    pub subject: Option<String>,
    pub last_change: String,
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Rows for `users` (rendered SCIM JSON with computed `groups`) matching the
/// search `q` (a case-insensitive substring of userName, display name or any
/// email), sorted by userName. `subjects` maps SCIM ids to RBAC subjects.
pub fn rows(users: &[Stored], subjects: &HashMap<String, String>, q: &str) -> Vec<Row> {
    let q = fold(q.trim());
    let mut rows: Vec<Row> = users
        .iter()
        .filter(|user| {
            if q.is_empty() {
                return true;
            }
            let r = &user.resource;
            let mut haystack = vec![
                text(r, "/userName"),
                text(r, "/displayName"),
                text(r, "/name/formatted"),
            ];
            if let Some(emails) = r.get("emails").and_then(Value::as_array) {
                haystack.extend(emails.iter().map(|e| text(e, "/value")));
            }
            haystack.iter().any(|h| fold(h).contains(&q))
        })
        .map(|user| {
            let r = &user.resource;
            let mut display_name = text(r, "/displayName");
            if display_name.is_empty() {
                display_name = text(r, "/name/formatted");
            }
            if display_name.is_empty() {
                display_name = [text(r, "/name/givenName"), text(r, "/name/familyName")]
                    .join(" ")
                    .trim()
                    .to_owned();
            }
            let mut groups: Vec<String> = r
                .get("groups")
                .and_then(Value::as_array)
                .map(|g| g.iter().map(|g| text(g, "/display")).collect())
                .unwrap_or_default();
            groups.sort_by_key(|g| fold(g));
            Row {
                user_name: text(r, "/userName"),
                display_name,
                email: primary_email(r).unwrap_or_default().to_owned(),
                active: is_active(r),
                groups,
                subject: subjects.get(&user.id).cloned(),
                last_change: text(r, "/meta/lastModified"),
            }
        })
        .collect();
    rows.sort_by_key(|r| fold(&r.user_name));
    rows
}

/// The page body: a search form and the table.
pub fn body(tenant: &str, q: &str, rows: &[Row], total: usize) -> String {
    let mut html = format!(
        "<h1>Users</h1><form method=\"get\" action=\"/console/{}/users\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"userName, name or email\"> <button type=\"submit\">Search</button></form><p>{} of {} users</p>",
        escape(tenant),
        escape(q),
        rows.len(),
        total
    );
    html.push_str("<table><thead><tr><th>userName</th><th>Display name</th><th>Email</th><th>Active</th><th>Groups</th><th>RBAC subject</th><th>Last change</th></tr></thead><tbody>");
    for row in rows {
        let active = if row.active {
            "<span class=\"yes\">active</span>"
        } else {
            "<span class=\"no\">inactive</span>"
        };
        let groups: Vec<String> = row.groups.iter().map(|g| escape(g)).collect();
        let subject = row
            .subject
            .as_deref()
            .map(|s| format!("<code>{}</code>", escape(s)))
            .unwrap_or_else(|| "<span title=\"not reconciled yet\">–</span>".into());
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{active}</td><td>{}</td><td>{subject}</td><td>{}</td></tr>",
            escape(&row.user_name),
            escape(&row.display_name),
            escape(&row.email),
            groups.join(", "),
            escape(&row.last_change),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored(id: &str, resource: Value) -> Stored {
        Stored {
            id: id.into(),
            version: "1".into(),
            revision: "1".into(),
            resource,
        }
    }

    #[test]
    fn search_matches_name_display_name_and_email() {
        let users = vec![
            stored(
                "u1",
                json!({"userName": "babs", "displayName": "Barbara Jensen", "active": true,
                    "emails": [{"value": "babs@example.com", "primary": true}],
                    "groups": [{"value": "g", "display": "eng"}],
                    "meta": {"lastModified": "2025-01-01T00:00:00Z"}}),
            ),
            stored(
                "u2",
                json!({"userName": "zed", "name": {"givenName": "Zed", "familyName": "Z"}, "active": false}),
            ),
        ];
        let subjects = HashMap::from([("u1".to_owned(), "oidc:babs@example.com".to_owned())]);
        assert_eq!(rows(&users, &subjects, "").len(), 2);
        let found = rows(&users, &subjects, "JENSEN");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject.as_deref(), Some("oidc:babs@example.com"));
        assert_eq!(found[0].groups, vec!["eng"]);
        assert_eq!(rows(&users, &subjects, "babs@EXAMPLE").len(), 1);
        let zed = rows(&users, &subjects, "zed");
        assert_eq!(zed[0].display_name, "Zed Z");
        assert!(!zed[0].active);
    }

    #[test]
    fn body_escapes_scim_data() {
        let row = Row {
            user_name: "<script>".into(),
            display_name: "\"x\"".into(),
            email: String::new(),
            active: true,
            groups: vec!["<g>".into()],
            subject: None,
            last_change: String::new(),
        };
        let html = body("t", "<q>", &[row], 1);
        assert!(!html.contains("<script>") && !html.contains("<g>") && !html.contains("<q>"));
    }
}
