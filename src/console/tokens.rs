//! The API tokens page: the tenant's tokens with last use, a form that
//! issues one (shown once, with a copy button), and revocation.
//!
//! Issuing and revoking go through [`crate::store::kube::token_secrets`],
//! as `scimitar token` does; the page waits (briefly) until this replica's
//! token watch has seen the change, so the token it shows already works
//! here, and a revoked one already fails.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde::Deserialize;

use super::html::{COPY_SCRIPT, escape};
use super::{Console, Signed, gate};
use crate::auth::Scope;
use crate::auth::token::{TokenRecord, parse_lifetime};
use crate::store::kube::token_secrets::{self, NewToken};

/// Lifetimes offered by the form: (value, label).
const LIFETIMES: [(&str, &str); 4] = [
    ("90d", "90 days"),
    ("30d", "30 days"),
    ("365d", "1 year"),
    ("", "never"),
];
/// How long the page waits for the token watch to see a change.
const SEEN_WITHIN: Duration = Duration::from_secs(5);

/// `?revoked=<id>` after a revocation.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    revoked: String,
}

/// The issue form.
#[derive(Debug, Deserialize)]
pub struct Create {
    #[serde(default)]
    name: String,
    /// Checkbox: present when ticked.
    scim: Option<String>,
    /// Checkbox: present when ticked.
    logs: Option<String>,
    #[serde(default)]
    expires: String,
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub struct Revoke {
    id: String,
}

impl Console {
    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.deps.client.clone(), &self.deps.namespace)
    }

    /// Waits until this replica's token watch agrees that `id` exists (or not).
    async fn until_seen(&self, id: &str, exists: bool) {
        let deadline = tokio::time::Instant::now() + SEEN_WITHIN;
        while self.deps.tokens.knows(id) != exists && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `GET /console/{tenant}/tokens`.
pub async fn page(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    Query(notice): Query<Notice>,
    headers: HeaderMap,
) -> Response {
    let signed = match console.guard(&tenant, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let notice = if notice.revoked.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"box\" id=\"notice\">Token <code>{}</code> is revoked: it no longer authenticates.</p>",
            escape(&notice.revoked)
        )
    };
    render(&console, &signed, notice, StatusCode::OK)
}

/// Whether the signed-in admin may issue and revoke tokens: a member of one
/// of the tenant's `consoleTokenAdminGroups` (a `scim` token carries every
/// role the tenant maps, more than the console itself grants).
fn may_manage_tokens(console: &Console, signed: &Signed) -> bool {
    let groups = &signed.tenant.spec.console_token_admin_groups;
    !groups.is_empty()
        && console.deps.store.cache().read(&signed.namespace, |index| {
            matches!(
                gate::decide(
                    index,
                    &signed.user_name,
                    groups,
                    gate::Owner::of(&signed.tenant)
                ),
                gate::Decision::Allowed { .. }
            )
        })
}

const NOT_A_TOKEN_ADMIN: &str = "Issuing and revoking API tokens needs membership in one of this tenant's consoleTokenAdminGroups (a SCIM token carries every role the tenant maps). Ask a cluster admin, or use scimitar token create.";

fn render(console: &Console, signed: &Signed, top: String, status: StatusCode) -> Response {
    let records = console.deps.tokens.of_tenant(signed.name());
    let manage = may_manage_tokens(console, signed);
    let html = format!(
        "<h1>API tokens</h1>{top}{}{}",
        table(signed.name(), &records, jiff::Timestamp::now(), manage),
        if manage {
            form(signed.name())
        } else {
            format!(
                "<p class=\"muted\" id=\"no-token-admin\">{}</p>",
                escape(NOT_A_TOKEN_ADMIN)
            )
        }
    );
    let mut page = signed.page("API tokens", html);
    page.script = Some(COPY_SCRIPT);
    page.respond(status)
}

/// `POST /console/{tenant}/tokens`: issues a token and shows it once.
pub async fn create(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Create>,
) -> Response {
    let signed = match console.guard_post(&tenant, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let refuse = |text: &str| {
        let top = format!("<p class=\"denied\">{}</p>", escape(text));
        render(&console, &signed, top, StatusCode::BAD_REQUEST)
    };
    if !may_manage_tokens(&console, &signed) {
        tracing::info!(tenant, by = %signed.session.login, "console: token issue refused (not a token admin)");
        let top = format!("<p class=\"denied\">{}</p>", escape(NOT_A_TOKEN_ADMIN));
        return render(&console, &signed, top, StatusCode::FORBIDDEN);
    }
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return refuse("Give the token a name of at most 100 characters, e.g. \"JumpCloud SCIM\".");
    }
    let mut scopes = BTreeSet::new();
    if form.scim.is_some() {
        scopes.insert(Scope::Scim);
    }
    if form.logs.is_some() {
        scopes.insert(Scope::Logs);
    }
    if scopes.is_empty() {
        return refuse("Choose at least one scope.");
    }
    let lifetime = match form.expires.trim() {
        "" => None,
        text => match parse_lifetime(text) {
            Some(lifetime) => Some(lifetime),
            None => return refuse("Choose a lifetime from the list."),
        },
    };
    let Some(tenant_uid) = signed.tenant.metadata.uid.clone() else {
        return refuse("The tenant has no uid yet; try again.");
    };
    let new = NewToken {
        tenant: tenant.clone(),
        tenant_uid,
        name: name.to_owned(),
        scopes,
        lifetime,
    };
    match token_secrets::issue(&console.secrets(), &console.deps.namespace, new).await {
        Ok((record, value)) => {
            tracing::info!(tenant, token = %record.id, by = %signed.session.login, "console: token issued");
            console.until_seen(&record.id, true).await;
            let top = format!(
                "<div class=\"box\"><h2>New token “{}”</h2><p>Copy it now: it is shown only once, and scimitar keeps only its SHA-256 digest.</p>\
                 <p><span class=\"secret\" id=\"new-token\">{}</span> <button type=\"button\" id=\"copy\" data-copy=\"new-token\">Copy</button></p></div>",
                escape(&record.name),
                escape(&value)
            );
            render(&console, &signed, top, StatusCode::CREATED)
        }
        Err(error) => {
            tracing::warn!(tenant, %error, "console: issuing a token failed");
            refuse(&format!("The token could not be created: {error}"))
        }
    }
}

/// `POST /console/{tenant}/tokens/revoke`.
pub async fn revoke(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Revoke>,
) -> Response {
    let signed = match console.guard_post(&tenant, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    if !may_manage_tokens(&console, &signed) {
        tracing::info!(tenant, by = %signed.session.login, "console: token revoke refused (not a token admin)");
        let top = format!("<p class=\"denied\">{}</p>", escape(NOT_A_TOKEN_ADMIN));
        return render(&console, &signed, top, StatusCode::FORBIDDEN);
    }
    match token_secrets::revoke(&console.secrets(), &form.id, Some(&tenant)).await {
        Ok(record) => {
            tracing::info!(tenant, token = %record.id, by = %signed.session.login, "console: token revoked");
            console.until_seen(&record.id, false).await;
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("revoked", &record.id)
                .finish();
            Redirect::to(&format!("/console/{tenant}/tokens?{query}")).into_response()
        }
        Err(error) => {
            let top = format!(
                "<p class=\"denied\">The token could not be revoked: {}</p>",
                escape(&error.to_string())
            );
            render(&console, &signed, top, StatusCode::BAD_REQUEST)
        }
    }
}

fn time(t: Option<jiff::Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "–".into())
}

/// The tokens table; `now` decides which have expired.
pub fn table(
    tenant: &str,
    records: &[TokenRecord],
    now: jiff::Timestamp,
    revocable: bool,
) -> String {
    if records.is_empty() {
        return "<p class=\"muted\">This tenant has no API tokens yet (a token referenced by the tenant's spec.tokenSecretRef is not listed here).</p>".into();
    }
    let mut html = String::from(
        "<table id=\"tokens\"><thead><tr><th>Name</th><th>ID</th><th>Scopes</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead><tbody>",
    );
    for r in records {
        let scopes: Vec<&str> = r.scopes.iter().map(|s| s.as_str()).collect();
        let expires = match r.expires {
            Some(_) if !r.is_valid_at(now) => {
                format!("<span class=\"no\">{} (expired)</span>", time(r.expires))
            }
            other => time(other),
        };
        let revoke = if revocable {
            format!(
                "<form method=\"post\" action=\"/console/{}/tokens/revoke\"><input type=\"hidden\" name=\"id\" value=\"{}\"><button type=\"submit\">Revoke</button></form>",
                escape(tenant),
                escape(&r.id),
            )
        } else {
            String::new()
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{expires}</td><td>{}</td><td>{revoke}</td></tr>",
            escape(&r.name),
            escape(&r.id),
            scopes.join(", "),
            time(r.created),
            time(r.last_used),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn form(tenant: &str) -> String {
    let mut lifetimes = String::new();
    for (value, label) in LIFETIMES {
        lifetimes.push_str(&format!("<option value=\"{value}\">{label}</option>"));
    }
    format!(
        "<h2>New token</h2><form class=\"filters\" method=\"post\" action=\"/console/{}/tokens\">\
         <label>Name<input name=\"name\" required maxlength=\"100\" placeholder=\"JumpCloud SCIM\"></label>\
         <label>Expires<select name=\"expires\">{lifetimes}</select></label>\
         <label><span><input type=\"checkbox\" name=\"scim\" checked> SCIM provisioning</span><span><input type=\"checkbox\" name=\"logs\"> reading SCIM logs</span></label>\
         <button type=\"submit\">Generate token</button></form>",
        escape(tenant)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expires: Option<&str>) -> TokenRecord {
        TokenRecord {
            id: "scimitar-token-acme-0123456789".into(),
            tenant: "acme".into(),
            name: "<JumpCloud>".into(),
            scopes: BTreeSet::from([Scope::Scim]),
            digest: [0; 32],
            created: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            expires: expires.map(|e| e.parse().unwrap()),
            last_used: None,
            tenant_uid: None,
        }
    }

    #[test]
    fn the_table_shows_expiry_and_escapes_names() {
        let now: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let html = table("acme", &[record(Some("2026-02-01T00:00:00Z"))], now, true);
        assert!(html.contains("(expired)"));
        assert!(html.contains("&lt;JumpCloud&gt;") && !html.contains("<JumpCloud>"));
        assert!(html.contains("tokens/revoke"));
        let html = table("acme", &[record(None)], now, true);
        assert!(!html.contains("(expired)"));
        assert!(table("acme", &[], now, true).contains("no API tokens"));
        // Without the right to manage tokens, no revoke button.
        let html = table("acme", &[record(None)], now, false);
        assert!(!html.contains("tokens/revoke"));
    }
}
