//! The tenant console: per-tenant OIDC sign-in and server-rendered pages.
//!
//! - `GET /console/{tenant}/`: the Users page when signed in, else a redirect
//!   to the tenant's identity provider (`spec.oidc`), see [`signin`].
//! - `GET /api/auth/callback/{provider}`: the redirect URI (`provider` is the
//!   tenant's `spec.provider`, e.g. `jumpcloud`; the tenant is in `state`).
//! - Pages under `/console/{tenant}/`: [`users`], [`groups`], [`access`]
//!   (with `POST access/plan`, [`access_plan`]), [`access_report`] (and
//!   `access-report.csv`),
//!   [`logs`] (and `logs.csv`), [`tokens`], [`connect`]; `POST logout`.
//!
//! Every console request is authorized anew from the watch-fed cache (see
//! [`gate`]). Forms that change something are POSTs: the session cookie is
//! `SameSite=Lax`, so a cross-site POST arrives without it, and a POST whose
//! `Origin` is not the console's own is refused as well.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller` and
//! its own layer; must not import `operator`, `serve`, `cli`, `token_admin`,
//! `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

pub mod access;
pub mod access_plan;
pub mod access_report;
pub mod cached_directory;
pub mod connect;
pub mod gate;
pub mod groups;
pub mod html;
pub mod logs;
pub mod oidc;
pub mod session;
pub mod signin;
pub mod tokens;
pub mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Key, PrivateCookieJar};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

use crate::crd::ScimTenant;
use crate::http::scimlog_peers::ClusterLog;
use crate::store::kube::KubeStore;
use crate::store::kube::tokens::Tokens;
use html::{Page, escape, message};
use session::Session;

/// The key in the console key Secret.
pub const KEY_FIELD: &str = "key";
/// Minimum key length: 64 bytes (signing and encryption keys are derived from it).
pub const KEY_MIN_BYTES: usize = 64;

/// `scimitar run` flags of the console.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleArgs {
    /// Secret in `--namespace` holding the console's cookie key (data key
    /// `key`, at least 64 random bytes), created with a random key when
    /// missing. Empty: the console is off.
    #[arg(
        long = "console-key-secret",
        env = "SCIMITAR_CONSOLE_KEY_SECRET",
        default_value = "scimitar-console-key"
    )]
    pub key_secret: String,
    /// How long a console sign-in lasts (`8h`, `30m`, `1d`).
    #[arg(
        long = "console-session-lifetime",
        env = "SCIMITAR_CONSOLE_SESSION_LIFETIME",
        default_value = "8h",
        value_parser = parse_lifetime
    )]
    pub session_lifetime: Duration,
    /// Public base URL of the console (`https://scimitar.example.com`), from
    /// which the OIDC redirect URI `<url>/api/auth/callback/<provider>` is
    /// made; defaults to the origin of `--public-url`.
    #[arg(long = "console-url", env = "SCIMITAR_CONSOLE_URL")]
    pub url: Option<String>,
}

fn parse_lifetime(text: &str) -> Result<Duration, String> {
    crate::auth::token::parse_lifetime(text).ok_or_else(|| "expected e.g. 8h, 30m or 1d".into())
}

/// What the console reads and writes, shared with the rest of the operator.
pub struct Shared {
    pub client: Client,
    pub store: Arc<KubeStore>,
    /// The tenants' API tokens, as the token watch sees them.
    pub tokens: Arc<Tokens>,
    /// The SCIM request log of every replica (this one's and its peers').
    pub scim_log: Arc<ClusterLog>,
    /// The operator's namespace: the key Secret and token Secrets live there.
    pub namespace: String,
    /// `--public-url`, shown on the Connect page and used for the base URL.
    pub public_url: Option<String>,
}

/// The console's state.
pub struct Console {
    deps: Shared,
    tenants: Store<ScimTenant>,
    tenants_ready: crate::ready::ReadyGate,
    /// The cookie key and the console's base URL, or why the console is off.
    setup: Result<(Key, String), String>,
    secure: bool,
    lifetime: Duration,
    http: openidconnect::reqwest::Client,
    discovery: oidc::DiscoveryCache,
}

/// The console base URL: `--console-url`, else the origin of `--public-url`.
pub fn base_url(args: &ConsoleArgs, public_url: Option<&str>) -> Option<String> {
    if let Some(url) = &args.url {
        return Some(url.trim_end_matches('/').to_owned());
    }
    let url = openidconnect::url::Url::parse(public_url?).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Reads the cookie key from `namespace/name`, creating the Secret with
/// [`KEY_MIN_BYTES`] random bytes when it does not exist (replicas starting
/// together race to create it; the loser reads the winner's).
async fn load_key(client: &Client, namespace: &str, name: &str) -> Result<Key, String> {
    let api = Api::<Secret>::namespaced(client.clone(), namespace);
    let read = |secret: Secret| -> Result<Key, String> {
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(KEY_FIELD))
            .ok_or_else(|| format!("Secret {namespace}/{name} has no key `{KEY_FIELD}`"))?;
        if bytes.0.len() < KEY_MIN_BYTES {
            return Err(format!(
                "key `{KEY_FIELD}` of Secret {namespace}/{name} has {} bytes; at least {KEY_MIN_BYTES} are needed",
                bytes.0.len()
            ));
        }
        Key::try_from(&bytes.0[..]).map_err(|e| format!("Secret {namespace}/{name}: {e}"))
    };
    let failed = |e: kube::Error| format!("reading Secret {namespace}/{name}: {e}");
    if let Some(secret) = api.get_opt(name).await.map_err(failed)? {
        return read(secret);
    }
    let mut key = vec![0u8; KEY_MIN_BYTES];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness for the cookie key: {e}"))?;
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(std::collections::BTreeMap::from([(
                crate::meta::MANAGED_BY.to_owned(),
                crate::meta::MANAGER.to_owned(),
            )])),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(std::collections::BTreeMap::from([(
            KEY_FIELD.to_owned(),
            k8s_openapi::ByteString(key),
        )])),
        ..Default::default()
    };
    match api.create(&Default::default(), &secret).await {
        Ok(created) => {
            tracing::info!(secret = %format!("{namespace}/{name}"), "console: created the cookie key Secret");
            read(created)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            read(api.get(name).await.map_err(failed)?)
        }
        Err(e) => Err(format!("creating Secret {namespace}/{name}: {e}")),
    }
}

/// `?q=` of the searchable pages.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Search {
    #[serde(default)]
    pub q: String,
    /// 1-based page of the results ([`ROWS_PER_PAGE`] each).
    #[serde(default)]
    pub page: Option<usize>,
}

/// API reads a page view makes at once.
const READS_AT_ONCE: usize = 16;

/// Rows a Users or Groups page shows: a page view costs this many rows,
/// whatever the size of the tenant.
pub const ROWS_PER_PAGE: usize = 100;

impl Search {
    /// 1-based position of this page's first row.
    pub fn first(&self) -> usize {
        self.page.unwrap_or(1).max(1).saturating_sub(1) * ROWS_PER_PAGE + 1
    }
}

/// Where a page of rows sits among the results.
pub struct Shown {
    /// Rows matching the search.
    pub matching: usize,
    /// Rows there are.
    pub all: usize,
    /// 1-based position of the page's first row.
    pub first: usize,
}

impl Shown {
    /// "N of M", and where there is more than a page, which rows these are
    /// and links to the pages before and after (`path` with the search).
    pub fn html(&self, noun: &str, path: &str, q: &str, rows: usize) -> String {
        let mut html = format!("<p>{} of {} {noun}", self.matching, self.all);
        if self.matching > rows || self.first > 1 {
            let page = (self.first - 1) / ROWS_PER_PAGE + 1;
            let link = |page: usize, text: &str| {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("q", q)
                    .append_pair("page", &page.to_string())
                    .finish();
                format!(
                    " <a href=\"{}?{}\">{text}</a>",
                    escape(path),
                    escape(&query)
                )
            };
            let last = self.first + rows.saturating_sub(1);
            html.push_str(&format!("; {}–{last} shown", self.first));
            if page > 1 {
                html.push_str(&link(page - 1, "previous"));
            }
            if last < self.matching {
                html.push_str(&link(page + 1, "next"));
            }
        }
        html.push_str("</p>");
        html
    }
}

/// A signed-in console user allowed into a tenant's console.
pub struct Signed {
    pub tenant: Arc<ScimTenant>,
    /// The tenant's namespace.
    pub namespace: String,
    pub session: Session,
    /// The SCIM userName of the signed-in user.
    pub user_name: String,
}

impl Signed {
    /// A page of this tenant's console with the navigation bar.
    pub fn page(&self, title: &'static str, body: String) -> Page<'_> {
        Page {
            title,
            tenant: self.tenant.metadata.name.as_deref(),
            signed_in: Some(&self.session.login),
            body,
            script: None,
        }
    }

    /// The tenant's name.
    pub fn name(&self) -> &str {
        self.tenant.metadata.name.as_deref().unwrap_or_default()
    }
}

impl Console {
    /// Sets the console up: reads the cookie key (the console stays off, with
    /// a log line saying why, when it is missing or short) and prepares the
    /// tenants it reads (the store's watch fills them).
    pub async fn new(deps: Shared, args: &ConsoleArgs) -> Arc<Self> {
        let base = base_url(args, deps.public_url.as_deref()).ok_or_else(|| {
            "neither --console-url nor --public-url is set: the OIDC redirect URI is unknown"
                .to_owned()
        });
        let setup = match base {
            _ if args.key_secret.is_empty() => Err("--console-key-secret is empty".to_owned()),
            Ok(base) => load_key(&deps.client, &deps.namespace, &args.key_secret)
                .await
                .map(|key| (key, base)),
            Err(reason) => Err(reason),
        };
        let secure = match &setup {
            Ok((_, base)) => {
                tracing::info!(url = %base, "console enabled");
                !base.starts_with("http://")
            }
            Err(reason) => {
                tracing::warn!(%reason, "console disabled: not serving /console");
                true
            }
        };
        let tenants = deps.store.tenants().reader();
        Arc::new(Console {
            deps,
            tenants,
            tenants_ready: crate::ready::ReadyGate::default(),
            setup,
            secure,
            lifetime: args.session_lifetime,
            http: oidc::http_client(),
            discovery: oidc::DiscoveryCache::default(),
        })
    }

    /// The console's routes.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/console/{tenant}", get(signin::home))
            .route("/console/{tenant}/users", get(users::page))
            .route("/console/{tenant}/groups", get(groups::page))
            .route("/console/{tenant}/access", get(access::page))
            .route("/console/{tenant}/access/plan", post(access_plan::plan))
            .route("/console/{tenant}/access-report", get(access_report::page))
            .route(
                "/console/{tenant}/access-report.csv",
                get(access_report::csv),
            )
            .route("/console/{tenant}/logs", get(logs::page))
            .route("/console/{tenant}/logs.csv", get(logs::csv))
            .route(
                "/console/{tenant}/tokens",
                get(tokens::page).post(tokens::create),
            )
            .route("/console/{tenant}/tokens/revoke", post(tokens::revoke))
            .route("/console/{tenant}/connect", get(connect::page))
            .route("/console/{tenant}/logout", post(signin::logout))
            .route("/api/auth/callback/{provider}", get(signin::callback))
            .with_state(self)
    }

    fn disabled() -> Response {
        message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Console not configured",
            None,
            "The scimitar console is not configured on this installation; the operator's log says why.",
        )
    }

    async fn tenant(&self, name: &str) -> Option<Arc<ScimTenant>> {
        let ready = self.tenants_ready.wait(|| async {
            let _ = self.tenants.wait_until_ready().await;
        });
        let _ = tokio::time::timeout(Duration::from_secs(5), ready).await;
        self.tenants.get(&ObjectRef::new(name))
    }

    /// The signed-in, authorized console user of `tenant`, or the response
    /// to give instead (a redirect to sign in, 403, 404, 503).
    pub async fn guard(&self, tenant_name: &str, headers: &HeaderMap) -> Result<Signed, Response> {
        let Ok((key, base)) = &self.setup else {
            return Err(Self::disabled());
        };
        let not_found = || {
            message(
                StatusCode::NOT_FOUND,
                "No such console",
                None,
                "There is no tenant by this name with single sign-on configured.",
            )
        };
        let tenant = self.tenant(tenant_name).await.ok_or_else(not_found)?;
        let Some(oidc) = &tenant.spec.oidc else {
            return Err(not_found());
        };
        let jar = PrivateCookieJar::from_headers(headers, key.clone());
        let Some(session) = session::current(&jar, tenant_name) else {
            return Err(self.sign_in(jar, base, &tenant, tenant_name, oidc).await);
        };
        let Some(namespace) = self.deps.store.tenants().namespace_of(tenant_name) else {
            return Err(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Tenant unavailable",
                Some(tenant_name),
                "This tenant has no namespace of its own (another tenant claims it).",
            ));
        };
        let decision = self.deps.store.cache().read(&namespace, |index| {
            gate::decide(
                index,
                &session.login,
                &tenant.spec.console_admin_groups,
                gate::Owner::of(&tenant),
            )
        });
        match decision {
            gate::Decision::Allowed { user_name } => Ok(Signed {
                tenant,
                namespace,
                session,
                user_name,
            }),
            refused => {
                tracing::info!(tenant = tenant_name, login = %session.login, decision = ?refused, "console access refused");
                Err(forbidden(tenant_name, &session.login, refused.reason()))
            }
        }
    }

    /// [`guard`](Self::guard) for a form POST: also refuses a request whose
    /// `Origin` (or `Sec-Fetch-Site`) says it came from another site.
    pub async fn guard_post(&self, tenant: &str, headers: &HeaderMap) -> Result<Signed, Response> {
        let Ok((_, base)) = &self.setup else {
            return Err(Self::disabled());
        };
        if !same_origin(headers, base) {
            tracing::warn!(tenant, "console: cross-site form POST refused");
            return Err(message(
                StatusCode::FORBIDDEN,
                "Cross-site request refused",
                Some(tenant),
                "This form was not sent from the scimitar console.",
            ));
        }
        self.guard(tenant, headers).await
    }

    /// What `pick` takes from each of the objects `ids` (the rows of one
    /// page), by name: read from the API server a page's objects at a time,
    /// since the cache keeps SCIM data only and not what the controller
    /// reported.
    async fn reported<K, T>(
        &self,
        namespace: &str,
        ids: &[String],
        pick: fn(K) -> Option<T>,
    ) -> HashMap<String, T>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api = Api::<K>::namespaced(self.deps.client.clone(), namespace);
        futures::stream::iter(ids.to_vec())
            .map(|id| {
                let api = api.clone();
                async move {
                    match api.get_opt(&id).await {
                        Ok(object) => Some((id, pick(object?)?)),
                        Err(error) => {
                            tracing::warn!(namespace, id, %error, "console: reading what the controller reported");
                            None
                        }
                    }
                }
            })
            .buffer_unordered(READS_AT_ONCE)
            .filter_map(futures::future::ready)
            .collect()
            .await
    }
}

/// Whether a form POST comes from the console's own origin: by `Origin`
/// when the browser sends it (all current ones do on POST), else by
/// `Sec-Fetch-Site`; a request with neither is not from a browser form.
pub fn same_origin(headers: &HeaderMap, base: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = header("origin") {
        let own = openidconnect::url::Url::parse(base)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        return origin == own;
    }
    match header("sec-fetch-site") {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// The 403 page: who is signed in, why they may not enter, and a way out.
fn forbidden(tenant: &str, login: &str, reason: &str) -> Response {
    Page {
        title: "Access denied",
        tenant: Some(tenant),
        signed_in: None,
        body: format!(
            "<div class=\"box\"><h1>403 · Access denied</h1><p>You are signed in as <strong>{}</strong>. {}</p>\
             <p>Only active users in one of the tenant's console admin groups may use its console. Ask an identity administrator to add you to one.</p>\
             <form method=\"post\" action=\"/console/{}/logout\"><button type=\"submit\">Sign out</button></form></div>",
            escape(login),
            escape(reason),
            escape(tenant)
        ),
        script: None,
    }
    .respond(StatusCode::FORBIDDEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: Option<&str>) -> ConsoleArgs {
        ConsoleArgs {
            key_secret: "k".into(),
            session_lifetime: Duration::from_secs(1),
            url: url.map(Into::into),
        }
    }

    #[test]
    fn the_base_url_is_the_console_url_or_the_public_urls_origin() {
        assert_eq!(
            base_url(&args(Some("https://c.example.com/")), None).as_deref(),
            Some("https://c.example.com")
        );
        assert_eq!(
            base_url(&args(None), Some("http://127.0.0.1:8080/scim/v2")).as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(base_url(&args(None), None), None);
    }

    #[test]
    fn lifetimes_parse() {
        assert_eq!(parse_lifetime("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert!(parse_lifetime("soon").is_err());
    }

    #[test]
    fn form_posts_must_come_from_the_console() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let base = "https://scimitar.example.com";
        assert!(same_origin(
            &headers(&[("origin", "https://scimitar.example.com")]),
            base
        ));
        assert!(!same_origin(
            &headers(&[("origin", "https://evil.example")]),
            base
        ));
        assert!(!same_origin(&headers(&[("origin", "null")]), base));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            base
        ));
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            base
        ));
    }
}
