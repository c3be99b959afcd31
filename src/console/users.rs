//! The Users page: the tenant's SCIM users as the cache holds them, with the
//! RBAC subject the controller recorded in each `ScimUser`'s status. With
//! nested groups on, a user's groups include those it inherits, each with
//! the group it comes through.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::gate::{is_active, primary_email};
use super::html::escape;
use super::{Console, ROWS_PER_PAGE, Search, Shown};
use crate::controller::compute::{Owner, groups_of};
use crate::crd::ScimUser;
use crate::store::index::{Index, fold};
use crate::store::{Kind, Stored};

/// `GET /console/{tenant}/users?q=&page=`.
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
    // One page of the matches, sorted by userName: a search of a large
    // tenant is CPU work, off the async workers, and holds a page.
    let (cache, namespace) = (console.deps.store.cache().clone(), signed.namespace.clone());
    let (q, first) = (fold(search.q.trim()), search.first());
    let owner = Owner::of(&signed.tenant);
    let listed = tokio::task::spawn_blocking(move || {
        cache.read(&namespace, |index| {
            let (matching, users) = matching(index, &q, first, ROWS_PER_PAGE);
            let inherited = users
                .iter()
                .map(|u| (u.id.clone(), inherited(index, &owner, &u.id)))
                .collect::<HashMap<_, _>>();
            (matching, index.count(Kind::User), users, inherited)
        })
    })
    .await;
    let Ok((matching, all, users, inherited)) = listed else {
        return signed
            .page("Users", "<p>The users could not be listed.</p>".into())
            .respond(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let subjects = console
        .reported(&signed.namespace, &ids, |user: ScimUser| {
            user.status?.subject
        })
        .await;
    let rows = rows(&users, &subjects, &inherited);
    let shown = Shown {
        matching,
        all,
        first,
    };
    signed
        .page("Users", body(&tenant, &search, &rows, &shown))
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

/// How many users match the search `q` (already folded), and the `count`
/// of them from the 1-based `start`, sorted by userName (ignoring case).
/// Holds a key per match and renders only the page (and, for a search,
/// each user once to look at it).
fn matching(index: &Index, q: &str, start: usize, count: usize) -> (usize, Vec<Stored>) {
    let mut keys: Vec<(String, &str)> = index
        .users()
        .filter(|user| {
            q.is_empty()
                || index
                    .get(Kind::User, user.id)
                    .is_some_and(|u| matches(&u, q))
        })
        .map(|user| (fold(user.user_name), user.id))
        .collect();
    keys.sort_unstable();
    let page = keys
        .iter()
        .skip(start.saturating_sub(1))
        .take(count)
        .filter_map(|(_, id)| index.get(Kind::User, id))
        .collect();
    (keys.len(), page)
}

/// Whether `user` (rendered SCIM JSON) matches the search `q`, already
/// folded: a case-insensitive substring of userName, display name or any
/// email; an empty search matches every user.
pub fn matches(user: &Stored, q: &str) -> bool {
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
    haystack.iter().any(|h| fold(h).contains(q))
}

/// The groups user `id` inherits through nested groups, as `group (via
/// direct group)`, sorted; none with nesting off.
fn inherited(index: &Index, owner: &Owner, id: &str) -> Vec<String> {
    let mut names: Vec<String> = groups_of(owner, index, id, owner.depth)
        .into_iter()
        .filter(|(group, via)| group != via)
        .filter_map(|(group, via)| {
            let group = owner.group(index, group)?.display_name;
            let via = owner.group(index, via)?.display_name;
            Some(format!("{group} (via {via})"))
        })
        .collect();
    names.sort_by_key(|g| fold(g));
    names
}

/// Rows for `users` (rendered SCIM JSON with computed `groups`), in their
/// order. `subjects` maps SCIM ids to RBAC subjects, `inherited` to the
/// groups they inherit (shown after their direct groups).
pub fn rows(
    users: &[Stored],
    subjects: &HashMap<String, String>,
    inherited: &HashMap<String, Vec<String>>,
) -> Vec<Row> {
    users
        .iter()
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
            groups.extend(inherited.get(&user.id).into_iter().flatten().cloned());
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
        .collect()
}

/// The page body: a search form and the table.
pub fn body(tenant: &str, search: &Search, rows: &[Row], shown: &Shown) -> String {
    let path = format!("/console/{tenant}/users");
    let mut html = format!(
        "<h1>Users</h1><form method=\"get\" action=\"{}\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"userName, name or email\"> <button type=\"submit\">Search</button></form>{}",
        escape(&path),
        escape(&search.q),
        shown.html("users", &path, &search.q, rows.len()),
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
        let users = [
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
        let found = |q: &str| {
            let matching: Vec<Stored> = users
                .iter()
                .filter(|u| matches(u, &fold(q)))
                .cloned()
                .collect();
            rows(&matching, &subjects, &HashMap::new())
        };
        assert_eq!(found("").len(), 2);
        let jensen = found("JENSEN");
        assert_eq!(jensen.len(), 1);
        assert_eq!(jensen[0].subject.as_deref(), Some("oidc:babs@example.com"));
        assert_eq!(jensen[0].groups, vec!["eng"]);
        assert_eq!(found("babs@EXAMPLE").len(), 1);
        let zed = found("zed");
        assert_eq!(zed[0].display_name, "Zed Z");
        assert!(!zed[0].active);
    }

    #[test]
    fn inherited_groups_follow_the_direct_ones_with_the_group_they_come_through() {
        let entry = |resource: Value| crate::store::index::Entry {
            version: "1".into(),
            resource,
            generation: None,
            tenant_uid: None,
            status: None,
        };
        let mut index = Index::default();
        index.insert(Kind::User, "u1", entry(json!({"userName": "alice"})));
        index.insert(
            Kind::Group,
            "g-pay",
            entry(json!({"displayName": "payments-team", "members": [{"value": "u1"}]})),
        );
        index.insert(
            Kind::Group,
            "g-eng",
            entry(json!({"displayName": "eng", "members": [{"value": "g-pay", "type": "Group"}]})),
        );
        let mut owner = Owner::default();
        assert!(inherited(&index, &owner, "u1").is_empty(), "nesting off");
        owner.depth = 8;
        let inherited = HashMap::from([("u1".to_owned(), inherited(&index, &owner, "u1"))]);
        let users = [index.get(Kind::User, "u1").expect("alice")];
        let rows = rows(&users, &HashMap::new(), &inherited);
        assert_eq!(rows[0].groups, ["payments-team", "eng (via payments-team)"]);
    }

    #[test]
    fn a_page_says_which_rows_it_shows_and_links_its_neighbours() {
        let one = Shown {
            matching: 2,
            all: 5,
            first: 1,
        };
        assert_eq!(
            one.html("users", "/console/t/users", "", 2),
            "<p>2 of 5 users</p>"
        );
        let middle = Shown {
            matching: 250,
            all: 100_000,
            first: 101,
        };
        let html = middle.html("users", "/console/t/users", "a&b", 100);
        assert!(
            html.starts_with("<p>250 of 100000 users; 101–200 shown"),
            "{html}"
        );
        assert!(html.contains("q=a%26b&amp;page=1\">previous</a>"), "{html}");
        assert!(html.contains("q=a%26b&amp;page=3\">next</a>"), "{html}");
        let last = Shown {
            matching: 250,
            all: 100_000,
            first: 201,
        };
        let html = last.html("users", "/console/t/users", "", 50);
        assert!(
            html.contains("201–250 shown") && !html.contains("next"),
            "{html}"
        );
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
        let search = Search {
            q: "<q>".into(),
            page: None,
        };
        let shown = Shown {
            matching: 1,
            all: 1,
            first: 1,
        };
        let html = body("t", &search, &[row], &shown);
        assert!(!html.contains("<script>") && !html.contains("<g>") && !html.contains("<q>"));
    }
}
