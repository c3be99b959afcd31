//! The Groups page: each SCIM group with its members (as the cache holds
//! them) and the RBAC bindings the controller made for it (from the
//! `ScimGroup`'s status), plus any problem the controller reported.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kube::Api;

use super::html::escape;
use super::{Console, Search};
use crate::crd::{ProducedBinding, ScimGroup};
use crate::store::index::{Index, fold};

/// What the controller reported on one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reported {
    pub bindings: Vec<ProducedBinding>,
    /// The Ready condition's message when it is not True.
    pub problem: Option<String>,
}

/// One row of the Groups table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub display_name: String,
    /// Members' userNames (a member naming no user shows its id), sorted.
    pub members: Vec<String>,
    pub reported: Reported,
}

/// `GET /console/{tenant}/groups?q=`.
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
    let rows = console.deps.store.cache().read(&signed.namespace, |index| {
        let groups = names(index);
        (groups.len(), groups)
    });
    let reported = reported(&console, &signed.namespace).await;
    let (total, groups) = rows;
    let rows = filter(groups, &reported, &search.q);
    signed
        .page("Groups", body(&tenant, &search.q, &rows, total))
        .respond(StatusCode::OK)
}

/// Each group's id, displayName and members' userNames.
fn names(index: &Index) -> Vec<(String, String, Vec<String>)> {
    index
        .groups()
        .map(|group| {
            let ids: BTreeSet<&str> = group.members().map(|(id, _)| id).collect();
            let mut members: Vec<String> = ids
                .into_iter()
                .map(|id| index.user(id).map_or(id, |u| u.user_name).to_owned())
                .collect();
            members.sort_by_key(|m| fold(m));
            (group.id.to_owned(), group.display_name.to_owned(), members)
        })
        .collect()
}

async fn reported(console: &Console, namespace: &str) -> HashMap<String, Reported> {
    let list = Api::<ScimGroup>::namespaced(console.deps.client.clone(), namespace)
        .list(&Default::default())
        .await;
    match list {
        Ok(list) => list
            .items
            .into_iter()
            .filter_map(|g| {
                let status = g.status?;
                let problem = status
                    .conditions
                    .iter()
                    .find(|c| c.type_ == "Ready" && c.status != "True")
                    .map(|c| format!("{}: {}", c.reason, c.message));
                Some((
                    g.metadata.name?,
                    Reported {
                        bindings: status.bindings,
                        problem,
                    },
                ))
            })
            .collect(),
        Err(error) => {
            tracing::warn!(namespace, %error, "console: listing ScimGroups for their bindings");
            HashMap::new()
        }
    }
}

/// Rows whose displayName or a member contains `q` (ignoring case), sorted
/// by displayName.
pub fn filter(
    groups: Vec<(String, String, Vec<String>)>,
    reported: &HashMap<String, Reported>,
    q: &str,
) -> Vec<Row> {
    let q = fold(q.trim());
    let mut rows: Vec<Row> = groups
        .into_iter()
        .filter(|(_, name, members)| {
            q.is_empty() || fold(name).contains(&q) || members.iter().any(|m| fold(m).contains(&q))
        })
        .map(|(id, display_name, members)| Row {
            display_name,
            members,
            reported: reported.get(&id).cloned().unwrap_or_default(),
        })
        .collect();
    rows.sort_by_key(|r| fold(&r.display_name));
    rows
}

/// Where a binding grants its role: `namespace` or "cluster-wide".
fn scope(binding: &ProducedBinding) -> String {
    match &binding.namespace {
        Some(namespace) => format!("namespace <code>{}</code>", escape(namespace)),
        None => "<strong>cluster-wide</strong>".into(),
    }
}

/// The page body: a search form and the table.
pub fn body(tenant: &str, q: &str, rows: &[Row], total: usize) -> String {
    let mut html = format!(
        "<h1>Groups</h1><form method=\"get\" action=\"/console/{}/groups\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"group or member\"> <button type=\"submit\">Search</button></form><p>{} of {} groups</p>",
        escape(tenant),
        escape(q),
        rows.len(),
        total
    );
    html.push_str("<table><thead><tr><th>Group</th><th>Members</th><th>Bindings (role → where)</th><th>Status</th></tr></thead><tbody>");
    for row in rows {
        let members: Vec<String> = row.members.iter().map(|m| escape(m)).collect();
        let bindings: Vec<String> = row
            .reported
            .bindings
            .iter()
            .map(|b| {
                format!(
                    "<code>{}</code> → {} <span class=\"muted\">({} {})</span>",
                    escape(&b.role),
                    scope(b),
                    escape(&b.kind),
                    escape(&b.name)
                )
            })
            .collect();
        let bindings = if bindings.is_empty() {
            "<span class=\"muted\">none (no mapping names this group)</span>".to_owned()
        } else {
            bindings.join("<br>")
        };
        let status = match &row.reported.problem {
            Some(problem) => format!("<span class=\"no\">{}</span>", escape(problem)),
            None => "<span class=\"yes\">ok</span>".into(),
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{} <span class=\"muted\">({})</span></td><td>{bindings}</td><td>{status}</td></tr>",
            escape(&row.display_name),
            members.join(", "),
            row.members.len(),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(namespace: Option<&str>) -> ProducedBinding {
        ProducedBinding {
            kind: if namespace.is_some() {
                "RoleBinding".into()
            } else {
                "ClusterRoleBinding".into()
            },
            namespace: namespace.map(Into::into),
            name: "scimitar-eng-view-0123456789".into(),
            role: "ClusterRole/view".into(),
        }
    }

    #[test]
    fn rows_join_members_with_reported_bindings_and_search() {
        let groups = vec![
            ("g2".into(), "ops".into(), vec!["carol".into()]),
            (
                "g1".into(),
                "Engineering".into(),
                vec!["ada".into(), "bob".into()],
            ),
        ];
        let reported = HashMap::from([(
            "g1".to_owned(),
            Reported {
                bindings: vec![binding(Some("apps")), binding(None)],
                problem: None,
            },
        )]);
        let all = filter(groups.clone(), &reported, "");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].display_name, "Engineering");
        assert_eq!(all[0].reported.bindings.len(), 2);
        assert_eq!(filter(groups.clone(), &reported, "BOB").len(), 1);
        assert_eq!(filter(groups, &reported, "nobody").len(), 0);
        let html = body("t", "", &all, 2);
        assert!(html.contains("namespace <code>apps</code>"));
        assert!(html.contains("cluster-wide"));
        assert!(html.contains("none (no mapping names this group)"));
    }

    #[test]
    fn body_escapes_scim_data() {
        let row = Row {
            display_name: "<img src=x>".into(),
            members: vec!["<b>".into()],
            reported: Reported {
                bindings: vec![],
                problem: Some("<i>".into()),
            },
        };
        let html = body("t", "", &[row], 1);
        assert!(!html.contains("<img") && !html.contains("<b>") && !html.contains("<i>"));
    }
}
