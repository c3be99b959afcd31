//! The Access page's plan form: a pasted ScimTenant spec, planned as
//! `scimitar plan` plans it ([`crate::controller::live::plan`]), shown and
//! never applied. The console has no way to write a tenant: it plans with
//! the operator's client, whose RBAC allows no write to ScimTenants.
//!
//! Users and groups come from the operator's cache ([`cached_directory`],
//! at most [`cached_directory::MAX_OBJECTS`]). Bounds: the paste is at most
//! [`manifest::MAX_BYTES`]; it must keep the
//! tenant's name and namespace (planning another namespace would read that
//! namespace's directory); one plan per tenant runs at a time (each reads
//! the tenant's directory and bindings from the API server); the page shows
//! at most [`SHOWN`] bindings per list and [`SHOWN`] users, with counts, and
//! points to `scimitar plan` for the rest.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::html::escape;
use super::{Console, Signed, cached_directory};
use crate::controller::live::{self, BindCheck};
use crate::controller::manifest;
use crate::controller::plan::{Bound, Changed, Diff, Who, summary};
use crate::crd::ScimTenant;

/// Bindings per list, and users, a plan page shows.
pub const SHOWN: usize = 100;

/// The plan form.
#[derive(Debug, Default, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    spec: String,
}

/// Tenants whose plan is being computed.
static RUNNING: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// One running plan of a tenant; ends when dropped.
struct Running(String);

impl Running {
    fn start(tenant: &str) -> Option<Self> {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        running
            .get_or_insert_with(HashSet::new)
            .insert(tenant.to_owned())
            .then(|| Self(tenant.to_owned()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(running) = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            running.remove(&self.0);
        }
    }
}

/// The spec a console admin may plan for `current`: the pasted text, for
/// the same tenant and namespace.
pub fn planned(current: &ScimTenant, text: &str) -> Result<ScimTenant, String> {
    let name = current.metadata.name.as_deref().unwrap_or_default();
    let mut new = manifest::parse_for(name, text).map_err(|e| format!("{e:#}"))?;
    if new.spec.namespace != current.spec.namespace {
        return Err(format!(
            "spec.namespace must stay {:?}: the console plans this tenant's mappings and subjects over its own directory",
            current.spec.namespace
        ));
    }
    new.metadata.uid = current.metadata.uid.clone();
    Ok(new)
}

/// The form on the Access page, prefilled with the live mappings and subjects.
pub fn form(tenant: &ScimTenant, text: Option<&str>) -> String {
    let current = || {
        serde_yaml::to_string(&serde_json::json!({
            "namespace": tenant.spec.namespace,
            "subjects": tenant.spec.subjects,
            "mappings": tenant.spec.mappings,
        }))
        .unwrap_or_default()
    };
    let text = text.map_or_else(current, str::to_owned);
    format!(
        "<h2>Plan a change</h2><p>Paste a ScimTenant (or its spec) to see what the controller would change: bindings created, changed and deleted, and who gains and loses which verbs. Nothing is applied; apply the spec with kubectl or GitOps.</p>\
         <form method=\"post\" action=\"/console/{}/access/plan\"><textarea name=\"spec\" rows=\"14\" cols=\"90\" maxlength=\"{}\" spellcheck=\"false\">{}</textarea><br><button type=\"submit\">Show the plan</button></form>",
        escape(tenant.metadata.name.as_deref().unwrap_or_default()),
        manifest::MAX_BYTES,
        escape(&text)
    )
}

/// `POST /console/{tenant}/access/plan`.
pub async fn plan(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<PlanForm>,
) -> Response {
    let signed = match console.guard_post(&tenant, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let (status, result) = run(&console, &signed, &form.spec).await;
    let mut html = String::from("<h1>Access plan</h1>");
    html.push_str(&result);
    html.push_str(&form_html(&signed, &form.spec));
    signed.page("Access", html).respond(status)
}

fn form_html(signed: &Signed, text: &str) -> String {
    form(&signed.tenant, Some(text))
}

async fn run(console: &Console, signed: &Signed, text: &str) -> (StatusCode, String) {
    let error = |status, text: &str| (status, format!("<p class=\"denied\">{}</p>", escape(text)));
    let new = match planned(&signed.tenant, text) {
        Ok(new) => new,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let Some(_running) = Running::start(signed.name()) else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "A plan of this tenant is being computed; try again when it is done.",
        );
    };
    let copied = console.deps.store.cache().read(&signed.namespace, |index| {
        cached_directory::copy(index, &signed.tenant, cached_directory::MAX_OBJECTS)
    });
    let (users, groups) = match copied {
        Ok(directory) => directory,
        Err(reason) => return error(StatusCode::PAYLOAD_TOO_LARGE, &reason),
    };
    match live::plan(
        &console.deps.client,
        Some(&signed.tenant),
        &new,
        &BindCheck::Operator,
        &users,
        &groups,
    )
    .await
    {
        Ok(diff) => (StatusCode::OK, html(&diff)),
        Err(e) => {
            tracing::warn!(tenant = signed.name(), error = %e, "console: plan failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("The plan could not be computed: {e:#}"),
            )
        }
    }
}

fn more(count: usize) -> String {
    if count > SHOWN {
        format!(
            "<p class=\"muted\">{} more not shown; <code>scimitar plan</code> lists them all.</p>",
            count - SHOWN
        )
    } else {
        String::new()
    }
}

fn place(namespace: &Option<String>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("RoleBinding <code>{}/{}</code>", escape(ns), escape(name)),
        None => format!("ClusterRoleBinding <code>{}</code>", escape(name)),
    }
}

fn who(list: &[Who]) -> String {
    list.iter()
        .map(|w| format!("{} <code>{}</code>", escape(&w.kind), escape(&w.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bound_items(list: &[Bound], sign: &str) -> String {
    let mut html = String::new();
    for b in list.iter().take(SHOWN) {
        html.push_str(&format!(
            "<li>{sign} {} → {} ({} subjects)</li>",
            place(&b.namespace, &b.name),
            escape(&b.role.to_string()),
            b.subjects.len()
        ));
    }
    html
}

fn changed_items(list: &[Changed]) -> String {
    let mut html = String::new();
    for c in list.iter().take(SHOWN) {
        html.push_str(&format!(
            "<li>~ {} → {}",
            place(&c.namespace, &c.name),
            escape(&c.role.to_string())
        ));
        if !c.subjects_added.is_empty() {
            html.push_str(&format!("<br>+ {}", who(&c.subjects_added)));
        }
        if !c.subjects_removed.is_empty() {
            html.push_str(&format!("<br>− {}", who(&c.subjects_removed)));
        }
        html.push_str("</li>");
    }
    html
}

/// The plan as HTML, within [`SHOWN`] items per list.
pub fn html(diff: &Diff) -> String {
    let b = &diff.bindings;
    let mut html = format!(
        "<div class=\"box\" id=\"plan\"><h2>Bindings: {} to create, {} to change, {} to delete</h2><ul>",
        b.created.len(),
        b.changed.len(),
        b.deleted.len()
    );
    html.push_str(&bound_items(&b.created, "+"));
    html.push_str(&changed_items(&b.changed));
    html.push_str(&bound_items(&b.deleted, "−"));
    html.push_str("</ul>");
    html.push_str(&more(
        b.created.len().max(b.changed.len()).max(b.deleted.len()),
    ));
    html.push_str(&format!(
        "<h2>Access: {} users change</h2>",
        diff.users.len()
    ));
    if !diff.users.is_empty() {
        html.push_str(
            "<table><thead><tr><th>User</th><th>Gains</th><th>Loses</th></tr></thead><tbody>",
        );
        for user in diff.users.iter().take(SHOWN) {
            let lines = |list| {
                summary(list)
                    .iter()
                    .map(|l| escape(l))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            html.push_str(&format!(
                "<tr><td>{}<br><span class=\"muted\">{}</span></td><td class=\"allowed\">{}</td><td class=\"denied\">{}</td></tr>",
                escape(&user.user_name),
                escape(&user.id),
                lines(&user.gained),
                lines(&user.lost)
            ));
        }
        html.push_str("</tbody></table>");
        html.push_str(&more(diff.users.len()));
    }
    if !diff.problems.is_empty() {
        html.push_str("<h2>Problems the controller would report</h2><ul>");
        for p in diff.problems.iter().take(SHOWN) {
            html.push_str(&format!("<li>{}</li>", escape(p)));
        }
        html.push_str("</ul>");
        html.push_str(&more(diff.problems.len()));
    }
    html.push_str("</div>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::plan::{BindingDiff, Grants, RoleName, UserChange};
    use crate::controller::testutil;

    #[test]
    fn a_paste_must_keep_the_tenant_and_its_namespace() {
        let current = testutil::with_uid(testutil::tenant("acme", vec![]), "uid-1");
        let ok = planned(&current, "namespace: idp-acme\nmappings: []\n").expect("same namespace");
        assert_eq!(ok.metadata.uid.as_deref(), Some("uid-1"));
        let other = planned(&current, "namespace: kube-system\n").unwrap_err();
        assert!(other.contains("must stay \"idp-acme\""), "{other}");
        let foreign = "apiVersion: scimitar.dev/v1alpha1\nkind: ScimTenant\nmetadata: {name: globex}\nspec: {namespace: idp-acme}\n";
        assert!(
            planned(&current, foreign)
                .unwrap_err()
                .contains("not \"acme\"")
        );
        let huge = format!(
            "namespace: idp-acme\n# {}\n",
            "x".repeat(manifest::MAX_BYTES)
        );
        assert!(planned(&current, &huge).unwrap_err().contains("at most"));
    }

    #[test]
    fn one_plan_per_tenant_runs_at_a_time() {
        let first = Running::start("plan-test-tenant").expect("free");
        assert!(Running::start("plan-test-tenant").is_none());
        assert!(Running::start("plan-test-other").is_some());
        drop(first);
        assert!(Running::start("plan-test-tenant").is_some());
    }

    #[test]
    fn the_page_is_bounded_and_escaped() {
        let bound = |i: usize| Bound {
            namespace: Some("dev".into()),
            name: format!("b{i}<x>"),
            role: RoleName {
                kind: "ClusterRole".into(),
                name: "view".into(),
            },
            group: None,
            subjects: vec![],
        };
        let user = |i: usize| UserChange {
            user_name: format!("u{i}<script>"),
            id: i.to_string(),
            gained: vec![Grants {
                namespace: Some("dev".into()),
                api_group: String::new(),
                resource: "pods".into(),
                name: None,
                verbs: vec!["get".into()],
            }],
            lost: vec![],
        };
        let diff = Diff {
            tenant: "acme".into(),
            bindings: BindingDiff {
                created: (0..SHOWN + 5).map(bound).collect(),
                changed: vec![],
                deleted: vec![],
            },
            users: (0..SHOWN + 7).map(user).collect(),
            problems: vec![],
        };
        let html = html(&diff);
        assert!(!html.contains("<x>") && !html.contains("<script>"));
        assert_eq!(html.matches("<li>+ ").count(), SHOWN);
        assert_eq!(html.matches("<tr><td>u").count(), SHOWN);
        assert!(html.contains("5 more not shown") && html.contains("7 more not shown"));
        assert!(html.contains("in dev: get on pods"));
        assert!(html.contains(&format!("{} to create", SHOWN + 5)));
    }
}
