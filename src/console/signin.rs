//! Signing in and out: the redirect to the tenant's identity provider, the
//! callback that finishes the Authorization Code flow, and logout.
//!
//! The client secret is read from its Secret at each sign-in, so a rotated
//! secret is used at once; it is never logged or shown.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::PrivateCookieJar;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::html::{Page, escape, message};
use super::session::{self, Session};
use super::{Console, oidc};
use crate::crd::{ScimTenant, TenantOidc};
use crate::store::kube::secrets::{self, SecretProblem};

impl Console {
    fn redirect_uri(&self, base: &str, tenant: &ScimTenant) -> String {
        let provider = serde_json::to_value(tenant.spec.provider)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "generic".into());
        format!("{base}/api/auth/callback/{provider}")
    }

    /// Starts a sign-in: a redirect to the identity provider.
    pub(super) async fn sign_in(
        &self,
        jar: PrivateCookieJar,
        base: &str,
        tenant: &ScimTenant,
        tenant_name: &str,
        oidc: &TenantOidc,
    ) -> Response {
        let redirect_uri = self.redirect_uri(base, tenant);
        match oidc::start(
            &self.http,
            &self.discovery,
            tenant_name,
            oidc,
            &redirect_uri,
        )
        .await
        {
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
    /// rotated secret is used at once), only where scimitar trusts Secrets.
    async fn client_secret(&self, tenant_name: &str, oidc: &TenantOidc) -> Result<String, String> {
        let tenants = self.deps.store.tenants();
        let value = secrets::read_key(
            &self.deps.client,
            tenants.policy(),
            tenant_name,
            "oidc.clientSecretRef",
            &oidc.client_secret_ref,
            |ns| tenants.is_tenant_namespace(ns),
        )
        .await
        .map_err(|problem| match problem {
            SecretProblem::Refused { message, .. } => message,
            SecretProblem::Transient(message) => message,
        })?;
        let text = String::from_utf8(value)
            .map_err(|_| format!("key `{}` is not UTF-8", oidc.client_secret_ref.key))?;
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn secret_name(console: &Console, oidc: &TenantOidc) -> String {
    let reference = &oidc.client_secret_ref;
    let policy = console.deps.store.tenants().policy();
    format!("{}/{}", policy.namespace_of(reference), reference.name)
}
pub async fn home(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    match console.guard(&tenant, &headers).await {
        Ok(_) => Redirect::to(&format!("/console/{tenant}/users")).into_response(),
        Err(response) => response,
    }
}

pub async fn logout(
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
        script: None,
    };
    (jar, page.respond(StatusCode::OK)).into_response()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub async fn callback(
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
    let secret_name = secret_name(&console, &oidc);
    let secret = match console.client_secret(&tenant_name, &oidc).await {
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
    match oidc::finish(
        &console.http,
        &console.discovery,
        &oidc,
        &redirect_uri,
        secret,
        code,
        &pending,
    )
    .await
    {
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
        Err(error @ (oidc::LoginError::UnverifiedEmail | oidc::LoginError::NoIdentity)) => {
            tracing::warn!(tenant = %tenant_name, %error, "console sign-in refused: no verified email");
            let page = message(
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                Some(&tenant_name),
                &format!(
                    "The identity provider signed you in, but {error}. scimitar identifies console users only by an email the identity provider has verified."
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
