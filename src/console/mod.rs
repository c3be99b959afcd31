//! The tenant console (issue 8, first slice): per-tenant OIDC sign-in and the
//! Users page, server-rendered.
//!
//! - `GET /console/{tenant}/`: the Users page when signed in, else a redirect
//!   to the tenant's identity provider (`spec.oidc`).
//! - `GET /api/auth/callback/{provider}`: the redirect URI (`provider` is the
//!   tenant's `spec.provider`, e.g. `jumpcloud`; the tenant is in `state`).
//! - `GET /console/{tenant}/users?q=`: users, searchable.
//! - `POST /console/{tenant}/logout`.
//!
//! Every console request is authorized anew from the watch-fed cache (see
//! [`access`]); the client secret is read from its Secret at each sign-in.

pub mod access;
pub mod html;
pub mod oidc;
pub mod session;
pub mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Key, PrivateCookieJar};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::crd::{ScimTenant, ScimUser, TenantOidc};
use crate::store::Kind;
use crate::store::kube::KubeStore;
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
    /// `key`, at least 64 random bytes). Without it the console is off.
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

/// The console's state.
pub struct Console {
    client: Client,
    store: Arc<KubeStore>,
    tenants: Store<ScimTenant>,
    /// The cookie key and the console's base URL, or why the console is off.
    setup: Result<(Key, String), String>,
    secure: bool,
    lifetime: Duration,
    http: openidconnect::reqwest::Client,
}

/// Keeps the console's view of `ScimTenant`s current; run it once the CRDs exist.
pub struct TenantWatch {
    client: Client,
    writer: reflector::store::Writer<ScimTenant>,
}

impl TenantWatch {
    pub async fn run(self) {
        let api: Api<ScimTenant> = Api::all(self.client);
        let stream = watcher(api, crate::kubeclient::watch_config())
            .default_backoff()
            .reflect(self.writer)
            .applied_objects();
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Err(error) = event {
                tracing::warn!(%error, "console: watching ScimTenants");
            }
        }
    }
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

/// Reads the cookie key from `namespace/name`.
async fn read_key(client: &Client, namespace: &str, name: &str) -> Result<Key, String> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| format!("reading Secret {namespace}/{name}: {e}"))?
        .ok_or_else(|| format!("Secret {namespace}/{name} does not exist"))?;
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
}

impl Console {
    /// Sets the console up: reads the cookie key (the console stays off, with
    /// a log line saying why, when it is missing or short) and prepares the
    /// tenant watch.
    pub async fn new(
        client: Client,
        store: Arc<KubeStore>,
        namespace: &str,
        args: &ConsoleArgs,
        public_url: Option<&str>,
    ) -> (Arc<Self>, TenantWatch) {
        let base = base_url(args, public_url).ok_or_else(|| {
            "neither --console-url nor --public-url is set: the OIDC redirect URI is unknown"
                .to_owned()
        });
        let setup = match base {
            Ok(base) => read_key(&client, namespace, &args.key_secret)
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
        let (tenants, writer) = reflector::store();
        let console = Arc::new(Console {
            client: client.clone(),
            store,
            tenants,
            setup,
            secure,
            lifetime: args.session_lifetime,
            http: oidc::http_client(),
        });
        (console, TenantWatch { client, writer })
    }

    /// The console's routes.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/console/{tenant}", get(home))
            .route("/console/{tenant}/users", get(users_page))
            .route("/console/{tenant}/logout", post(logout))
            .route("/api/auth/callback/{provider}", get(callback))
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
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tenants.wait_until_ready()).await;
        self.tenants.get(&ObjectRef::new(name))
    }

    fn redirect_uri(&self, base: &str, tenant: &ScimTenant) -> String {
        let provider = serde_json::to_value(tenant.spec.provider)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "generic".into());
        format!("{base}/api/auth/callback/{provider}")
    }

    /// The signed-in, authorized console user of `tenant`, or the response
    /// to give instead (a redirect to sign in, 403, 404, 503).
    async fn guard(
        &self,
        tenant_name: &str,
        headers: &HeaderMap,
    ) -> Result<(Arc<ScimTenant>, String, Session, String), Response> {
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
        let Some(namespace) = self.store.tenants().namespace_of(tenant_name) else {
            return Err(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Tenant unavailable",
                Some(tenant_name),
                "This tenant has no namespace of its own (another tenant claims it).",
            ));
        };
        let decision = self.store.cache().read(&namespace, |index| {
            access::decide(index, &session.login, &tenant.spec.console_admin_groups)
        });
        match decision {
            access::Decision::Allowed { user_name } => Ok((tenant, namespace, session, user_name)),
            refused => {
                tracing::info!(tenant = tenant_name, login = %session.login, decision = ?refused, "console access refused");
                Err(forbidden(tenant_name, &session.login, refused.reason()))
            }
        }
    }

    /// Starts a sign-in: a redirect to the identity provider.
    async fn sign_in(
        &self,
        jar: PrivateCookieJar,
        base: &str,
        tenant: &ScimTenant,
        tenant_name: &str,
        oidc: &TenantOidc,
    ) -> Response {
        let redirect_uri = self.redirect_uri(base, tenant);
        match oidc::start(&self.http, tenant_name, oidc, &redirect_uri).await {
            Ok((url, pending)) => {
                let jar = session::begin(jar, &pending, self.secure);
                (jar, Redirect::to(&url)).into_response()
            }
            Err(error) => {
                tracing::warn!(tenant = tenant_name, %error, "console sign-in could not start");
                message(
                    StatusCode::BAD_GATEWAY,
                    "Identity provider unreachable",
                    Some(tenant_name),
                    &format!(
                        "scimitar could not read the OpenID configuration of {}. Check spec.oidc.issuerUrl of the tenant.",
                        oidc.issuer_url
                    ),
                )
            }
        }
    }

    /// Reads the client secret from its Secret (at every sign-in, so a
    /// rotated secret is used at once).
    async fn client_secret(
        &self,
        tenant: &ScimTenant,
        oidc: &TenantOidc,
    ) -> Result<String, String> {
        let reference = &oidc.client_secret_ref;
        let namespace = reference
            .namespace
            .as_deref()
            .unwrap_or(&tenant.spec.namespace);
        let secret = Api::<Secret>::namespaced(self.client.clone(), namespace)
            .get_opt(&reference.name)
            .await
            .map_err(|e| format!("reading the Secret failed: {e}"))?
            .ok_or_else(|| "the Secret does not exist".to_owned())?;
        let value = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&reference.key))
            .ok_or_else(|| format!("the Secret has no key `{}`", reference.key))?;
        let text = String::from_utf8(value.0.clone())
            .map_err(|_| format!("key `{}` is not UTF-8", reference.key))?;
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn secret_name(tenant: &ScimTenant, oidc: &TenantOidc) -> String {
    let reference = &oidc.client_secret_ref;
    let namespace = reference
        .namespace
        .as_deref()
        .unwrap_or(&tenant.spec.namespace);
    format!("{namespace}/{}", reference.name)
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
    }
    .respond(StatusCode::FORBIDDEN)
}

async fn home(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    match console.guard(&tenant, &headers).await {
        Ok(_) => Redirect::to(&format!("/console/{tenant}/users")).into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

async fn users_page(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    Query(search): Query<Search>,
    headers: HeaderMap,
) -> Response {
    let (_, namespace, session, _) = match console.guard(&tenant, &headers).await {
        Ok(allowed) => allowed,
        Err(response) => return response,
    };
    let all = console
        .store
        .cache()
        .read(&namespace, |index| index.list(Kind::User, None));
    // RBAC subjects are recorded by the controller in each ScimUser's status.
    let subjects: HashMap<String, String> =
        match Api::<ScimUser>::namespaced(console.client.clone(), &namespace)
            .list(&Default::default())
            .await
        {
            Ok(list) => list
                .items
                .into_iter()
                .filter_map(|u| Some((u.metadata.name?, u.status?.subject?)))
                .collect(),
            Err(error) => {
                tracing::warn!(tenant, %error, "console: listing ScimUsers for their subjects");
                HashMap::new()
            }
        };
    let rows = users::rows(&all, &subjects, &search.q);
    Page {
        title: "Users",
        tenant: Some(&tenant),
        signed_in: Some(&session.login),
        body: users::body(&tenant, &search.q, &rows, all.len()),
    }
    .respond(StatusCode::OK)
}

async fn logout(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok((key, _)) = &console.setup else {
        return Console::disabled();
    };
    let jar = session::end(
        PrivateCookieJar::from_headers(&headers, key.clone()),
        &tenant,
    );
    let page = Page {
        title: "Signed out",
        tenant: Some(&tenant),
        signed_in: None,
        body: format!(
            "<div class=\"box\"><h1>Signed out</h1><p><a href=\"/console/{}/\">Sign in again</a></p></div>",
            escape(&tenant)
        ),
    };
    (jar, page.respond(StatusCode::OK)).into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(console): State<Arc<Console>>,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let Ok((key, base)) = &console.setup else {
        return Console::disabled();
    };
    let bad = |text: &str| message(StatusCode::BAD_REQUEST, "Sign-in failed", None, text);
    let Some(state) = query.state.as_deref() else {
        return bad("The identity provider's answer has no state parameter.");
    };
    let Some(tenant_name) = oidc::tenant_of_state(state).map(str::to_owned) else {
        return bad("The identity provider's answer has an unknown state parameter.");
    };
    let tenant = console.tenant(&tenant_name).await;
    let Some((tenant, oidc)) = tenant.and_then(|t| t.spec.oidc.clone().map(|o| (t, o))) else {
        return bad("There is no tenant by this name with single sign-on configured.");
    };
    let redirect_uri = console.redirect_uri(base, &tenant);
    if !redirect_uri.ends_with(&format!("/api/auth/callback/{provider}")) {
        return bad("This callback does not belong to the tenant's identity provider.");
    }
    let jar = PrivateCookieJar::from_headers(&headers, key.clone());
    let again = format!(
        "This sign-in expired or was started in another browser. Open /console/{tenant_name}/ to start again."
    );
    let Some(pending) = session::pending(&jar, &tenant_name) else {
        return bad(&again);
    };
    if !bool::from(pending.state.as_bytes().ct_eq(state.as_bytes())) {
        return bad(&again);
    }
    let jar = session::finish(jar, &tenant_name);
    if let Some(error) = query.error {
        tracing::info!(tenant = %tenant_name, %error, "console sign-in refused by the identity provider");
        let page = message(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            Some(&tenant_name),
            &format!("The identity provider did not sign you in ({error})."),
        );
        return (jar, page).into_response();
    }
    let Some(code) = query.code else {
        return (jar, bad("The identity provider's answer has no code.")).into_response();
    };
    let secret_name = secret_name(&tenant, &oidc);
    let secret = match console.client_secret(&tenant, &oidc).await {
        Ok(secret) => secret,
        Err(reason) => {
            tracing::error!(tenant = %tenant_name, secret = %secret_name, key = %oidc.client_secret_ref.key, %reason, "console: the OIDC client secret is unavailable");
            let page = message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Client secret unavailable",
                Some(&tenant_name),
                &format!(
                    "scimitar could not read the OIDC client secret from Secret {secret_name} (key {}): {reason}.",
                    oidc.client_secret_ref.key
                ),
            );
            return (jar, page).into_response();
        }
    };
    match oidc::finish(&console.http, &oidc, &redirect_uri, secret, code, &pending).await {
        Ok(login) => {
            tracing::info!(tenant = %tenant_name, %login, "console sign-in");
            let session = Session {
                tenant: tenant_name.clone(),
                login,
                expires: session::now() + console.lifetime.as_secs() as i64,
            };
            let jar = session::start(jar, &session, console.lifetime, console.secure);
            (jar, Redirect::to(&format!("/console/{tenant_name}/users"))).into_response()
        }
        Err(oidc::LoginError::ClientRefused(detail)) => {
            tracing::warn!(tenant = %tenant_name, secret = %secret_name, key = %oidc.client_secret_ref.key, %detail,
                "console sign-in failed: the identity provider refused the client credentials; check the client secret");
            let page = message(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                Some(&tenant_name),
                &format!(
                    "The identity provider refused scimitar's client credentials; check the client secret in Secret {secret_name} (key {}) and the client ID in the tenant's spec.oidc.",
                    oidc.client_secret_ref.key
                ),
            );
            (jar, page).into_response()
        }
        Err(error) => {
            tracing::warn!(tenant = %tenant_name, %error, "console sign-in failed");
            let page = message(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                Some(&tenant_name),
                &format!("Signing in through the identity provider failed: {error}."),
            );
            (jar, page).into_response()
        }
    }
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
}
