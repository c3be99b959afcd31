//! The Groups page: each SCIM group with its members (as the cache holds
//! them) and the RBAC bindings the controller made for it (from the
//! `ScimGroup`'s status), plus any problem the controller reported. With
//! nested groups on, a member group is shown as such and the users it
//! brings are listed apart, each with the group it comes through.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::html::escape;
use super::{Console, ROWS_PER_PAGE, Search, Shown};
use crate::controller::compute::{Owner, expand};
use crate::crd::{ProducedBinding, ScimGroup};
use crate::store::Kind;
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
    /// Members' userNames (a member naming no user shows its id), sorted;
    /// the first [`MEMBERS_SHOWN`].
    pub members: Vec<String>,
    pub member_count: usize,
    /// Users the group has through member groups and not directly, as
    /// `userName (via group)`, sorted; the first [`MEMBERS_SHOWN`].
    pub inherited: Vec<String>,
    pub inherited_count: usize,
    pub reported: Reported,
}

/// Members a row names; beyond that it says how many more.
const MEMBERS_SHOWN: usize = 50;

/// `GET /console/{tenant}/groups?q=&page=`.
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
    // One page of the matches, sorted by displayName: a search of a large
    // tenant is CPU work, off the async workers, and holds a page.
    let (cache, namespace) = (console.deps.store.cache().clone(), signed.namespace.clone());
    let (q, first) = (search.q.clone(), search.first());
    let owner = Owner::of(&signed.tenant);
    let listed = tokio::task::spawn_blocking(move || {
        cache.read(&namespace, |index| {
            let (matching, groups) = matching(index, &owner, &q, first, ROWS_PER_PAGE);
            (matching, index.count(Kind::Group), groups)
        })
    })
    .await;
    let Ok((matching, all, groups)) = listed else {
        return signed
            .page("Groups", "<p>The groups could not be listed.</p>".into())
            .respond(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let reported = console.reported(&signed.namespace, &ids, reported).await;
    let rows = rows(groups, &reported);
    let shown = Shown {
        matching,
        all,
        first,
    };
    signed
        .page("Groups", body(&tenant, &search.q, &rows, &shown))
        .respond(StatusCode::OK)
}

/// One group of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub id: String,
    pub display_name: String,
    /// Its first members' userNames (member groups as `group <name>`),
    /// sorted, and how many there are.
    pub members: Vec<String>,
    pub member_count: usize,
    /// See [`Row::inherited`].
    pub inherited: Vec<String>,
    pub inherited_count: usize,
}

/// How many groups have a displayName or a member's userName containing
/// `q` (ignoring case), and the `count` of them from the 1-based `start`,
/// sorted by displayName. Holds a key per match, and the page's members.
fn matching(
    index: &Index,
    owner: &Owner,
    q: &str,
    start: usize,
    count: usize,
) -> (usize, Vec<Listed>) {
    let q = fold(q.trim());
    let member_names = |group: &crate::store::index::GroupView<'_>| {
        let ids: BTreeSet<&str> = group.members().map(|(id, _)| id).collect();
        ids.into_iter()
            .map(|id| match (index.user(id), owner.group(index, id)) {
                (Some(user), _) => user.user_name.to_owned(),
                (None, Some(group)) if owner.depth > 0 => format!("group {}", group.display_name),
                _ => id.to_owned(),
            })
            .collect::<Vec<String>>()
    };
    // Users reached only through member groups, each with the group
    // listing it.
    let inherited = |group: &crate::store::index::GroupView<'_>| {
        let mut names: Vec<String> = expand(owner, index, group.id, owner.depth)
            .users
            .into_iter()
            .filter(|(_, via)| *via != group.id)
            .filter_map(|(id, via)| {
                let user = index.user(id)?;
                let via = owner.group(index, via)?.display_name;
                Some(format!("{} (via {via})", user.user_name))
            })
            .collect();
        names.sort_by_key(|m| fold(m));
        names
    };
    let mut keys: Vec<(String, String)> = index
        .groups()
        .filter(|group| {
            q.is_empty()
                || fold(group.display_name).contains(&q)
                || member_names(group).iter().any(|m| fold(m).contains(&q))
        })
        .map(|group| (fold(group.display_name), group.id.to_owned()))
        .collect();
    keys.sort();
    let total = keys.len();
    let page = keys
        .into_iter()
        .skip(start.saturating_sub(1))
        .take(count)
        .filter_map(|(_, id)| {
            let group = index.group(&id)?;
            let mut members = member_names(&group);
            members.sort_by_key(|m| fold(m));
            let member_count = members.len();
            members.truncate(MEMBERS_SHOWN);
            let mut inherited = inherited(&group);
            let inherited_count = inherited.len();
            inherited.truncate(MEMBERS_SHOWN);
            Some(Listed {
                id,
                display_name: group.display_name.to_owned(),
                members,
                member_count,
                inherited,
                inherited_count,
            })
        })
        .collect();
    (total, page)
}

/// What the controller reported on a group, from its `ScimGroup` status.
fn reported(group: ScimGroup) -> Option<Reported> {
    let status = group.status?;
    let problem = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status != "True")
        .map(|c| format!("{}: {}", c.reason, c.message));
    Some(Reported {
        bindings: status.bindings,
        problem,
    })
}

/// The rows of a page's groups, with what the controller reported.
pub fn rows(groups: Vec<Listed>, reported: &HashMap<String, Reported>) -> Vec<Row> {
    groups
        .into_iter()
        .map(|listed| Row {
            reported: reported.get(&listed.id).cloned().unwrap_or_default(),
            display_name: listed.display_name,
            members: listed.members,
            member_count: listed.member_count,
            inherited: listed.inherited,
            inherited_count: listed.inherited_count,
        })
        .collect()
}

/// Where a binding grants its role: `namespace` or "cluster-wide".
fn scope(binding: &ProducedBinding) -> String {
    match &binding.namespace {
        Some(namespace) => format!("namespace <code>{}</code>", escape(namespace)),
        None => "<strong>cluster-wide</strong>".into(),
    }
}

/// The page body: a search form and the table.
pub fn body(tenant: &str, q: &str, rows: &[Row], shown: &Shown) -> String {
    let path = format!("/console/{tenant}/groups");
    let mut html = format!(
        "<h1>Groups</h1><form method=\"get\" action=\"{}\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"group or member\"> <button type=\"submit\">Search</button></form>{}",
        escape(&path),
        escape(q),
        shown.html("groups", &path, q, rows.len()),
    );
    html.push_str("<table><thead><tr><th>Group</th><th>Members</th><th>Bindings (role → where)</th><th>Status</th></tr></thead><tbody>");
    for row in rows {
        let mut members: Vec<String> = row.members.iter().map(|m| escape(m)).collect();
        if row.member_count > row.members.len() {
            members.push(format!("and {} more", row.member_count - row.members.len()));
        }
        let mut inherited: Vec<String> = row.inherited.iter().map(|m| escape(m)).collect();
        if row.inherited_count > row.inherited.len() {
            inherited.push(format!(
                "and {} more",
                row.inherited_count - row.inherited.len()
            ));
        }
        let inherited = if inherited.is_empty() {
            String::new()
        } else {
            format!(
                "<br><span class=\"muted\">inherited ({}):</span> {}",
                row.inherited_count,
                inherited.join(", ")
            )
        };
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
            "<tr><td>{}</td><td>{} <span class=\"muted\">({})</span>{inherited}</td><td>{bindings}</td><td>{status}</td></tr>",
            escape(&row.display_name),
            members.join(", "),
            row.member_count,
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

    fn index() -> Index {
        let mut index = Index::default();
        let entry = |resource: serde_json::Value| crate::store::index::Entry {
            version: "1".into(),
            resource,
            generation: None,
            tenant_uid: None,
            status: None,
        };
        for (id, name) in [("u1", "ada"), ("u2", "bob"), ("u3", "carol")] {
            index.insert(
                Kind::User,
                id,
                entry(serde_json::json!({"id": id, "userName": name})),
            );
        }
        for (id, name, members) in [
            ("g2", "ops", vec!["u3"]),
            ("g1", "Engineering", vec!["u1", "u2"]),
            ("g3", "all", vec!["u1", "u2", "u3"]),
        ] {
            let members: Vec<serde_json::Value> = members
                .iter()
                .map(|m| serde_json::json!({"value": m}))
                .collect();
            index.insert(
                Kind::Group,
                id,
                entry(serde_json::json!({"id": id, "displayName": name, "members": members})),
            );
        }
        index
    }

    #[test]
    fn a_page_of_groups_matching_a_search_with_reported_bindings() {
        let index = index();
        let (total, all) = matching(&index, &Owner::default(), "", 1, 10);
        assert_eq!(total, 3);
        let names: Vec<&str> = all.iter().map(|g| g.display_name.as_str()).collect();
        assert_eq!(
            names,
            ["all", "Engineering", "ops"],
            "by displayName, ignoring case"
        );
        assert_eq!(all[1].members, ["ada", "bob"]);
        let (total, page) = matching(&index, &Owner::default(), "", 2, 1);
        assert_eq!((total, page[0].display_name.as_str()), (3, "Engineering"));
        assert_eq!(
            matching(&index, &Owner::default(), "BOB", 1, 10).0,
            2,
            "by member"
        );
        assert_eq!(matching(&index, &Owner::default(), "nobody", 1, 10).0, 0);
        let reported = HashMap::from([(
            "g1".to_owned(),
            Reported {
                bindings: vec![binding(Some("apps")), binding(None)],
                problem: None,
            },
        )]);
        let rows = rows(all, &reported);
        assert_eq!(rows[1].reported.bindings.len(), 2);
        let shown = Shown {
            matching: 3,
            all: 3,
            first: 1,
        };
        let html = body("t", "", &rows, &shown);
        assert!(html.contains("3 of 3 groups"));
        assert!(html.contains("namespace <code>apps</code>"));
        assert!(html.contains("cluster-wide"));
        assert!(html.contains("none (no mapping names this group)"));
    }

    #[test]
    fn member_groups_and_the_users_they_bring_are_shown_with_nesting_on() {
        let mut index = index();
        let entry = |resource: serde_json::Value| crate::store::index::Entry {
            version: "1".into(),
            resource,
            generation: None,
            tenant_uid: None,
            status: None,
        };
        // ops lists carol and the group Engineering (ada, bob).
        index.insert(
            Kind::Group,
            "g2",
            entry(serde_json::json!({"displayName": "ops", "members": [
                {"value": "u3"}, {"value": "g1", "type": "Group"}
            ]})),
        );
        let mut owner = Owner::default();
        owner.depth = 8;
        let (_, page) = matching(&index, &owner, "ops", 1, 10);
        let ops = page.iter().find(|g| g.id == "g2").expect("ops");
        assert_eq!(ops.members, ["carol", "group Engineering"]);
        assert_eq!(
            ops.inherited,
            ["ada (via Engineering)", "bob (via Engineering)"]
        );
        let rows = rows(page, &HashMap::new());
        let shown = Shown {
            matching: rows.len(),
            all: 3,
            first: 1,
        };
        let html = body("t", "ops", &rows, &shown);
        assert!(
            html.contains("inherited (2):</span> ada (via Engineering), bob (via Engineering)"),
            "{html}"
        );
        // Off, the member group is an id and brings no one.
        let (_, page) = matching(&index, &Owner::default(), "ops", 1, 10);
        let ops = page.iter().find(|g| g.id == "g2").expect("ops");
        assert_eq!(ops.members, ["carol", "g1"]);
        assert!(ops.inherited.is_empty());
    }

    #[test]
    fn body_escapes_scim_data() {
        let row = Row {
            display_name: "<img src=x>".into(),
            members: vec!["<b>".into()],
            member_count: 60,
            inherited: vec!["<u> (via <s>)".into()],
            inherited_count: 51,
            reported: Reported {
                bindings: vec![],
                problem: Some("<i>".into()),
            },
        };
        let shown = Shown {
            matching: 1,
            all: 1,
            first: 1,
        };
        let html = body("t", "", &[row], &shown);
        assert!(html.contains("and 59 more"));
        assert!(html.contains("inherited (51):") && html.contains("and 50 more"));
        assert!(!html.contains("<img") && !html.contains("<b>") && !html.contains("<i>"));
        assert!(!html.contains("<u>") && !html.contains("<s>"));
    }
}
