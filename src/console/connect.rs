//! The Connect kubectl page: what the API server and users' kubeconfigs
//! need so that the people scimitar binds can sign in with this tenant's
//! identity provider. Generated from the tenant: the issuer and client ID
//! of `spec.oidc`, and the claims and prefixes of `spec.subjects` (which
//! must match, or the bindings name nobody). The client secret is never shown.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::Console;
use super::html::{COPY_SCRIPT, escape};
use kube::Api;

use crate::crd::{BindSubjects, ScimTenant, ScimUser, TenantOidc};

/// The flags of `kube-apiserver` (`--oidc-*`).
pub fn apiserver_flags(tenant: &ScimTenant, oidc: &TenantOidc) -> String {
    let s = &tenant.spec.subjects;
    let mut flags = vec![
        format!("--oidc-issuer-url={}", oidc.issuer_url),
        format!("--oidc-client-id={}", oidc.client_id),
        format!("--oidc-username-claim={}", s.username_claim),
        format!("--oidc-username-prefix={}", s.user_prefix),
    ];
    if s.bind != BindSubjects::Users {
        flags.push(format!("--oidc-groups-claim={}", s.groups_claim));
        flags.push(format!("--oidc-groups-prefix={}", s.group_prefix));
    }
    flags.join("\n")
}

/// The structured authentication configuration (`--authentication-config`,
/// `apiserver.config.k8s.io/v1`, Kubernetes 1.34 and later) with the same
/// meaning as [`apiserver_flags`].
pub fn authentication_config(tenant: &ScimTenant, oidc: &TenantOidc) -> String {
    let s = &tenant.spec.subjects;
    let mut mappings = json!({
        "username": {"claim": s.username_claim, "prefix": s.user_prefix},
    });
    if s.bind != BindSubjects::Users {
        mappings["groups"] = json!({"claim": s.groups_claim, "prefix": s.group_prefix});
    }
    let config = json!({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AuthenticationConfiguration",
        "jwt": [{
            "issuer": {"url": oidc.issuer_url, "audiences": [oidc.client_id]},
            "claimMappings": mappings,
        }],
    });
    serde_yaml::to_string(&config).unwrap_or_default()
}

/// The kubeconfig user for people of this tenant, signing in with the
/// kubelogin plugin (`kubectl oidc-login`), and the commands around it.
pub fn kubeconfig(tenant_name: &str, oidc: &TenantOidc) -> String {
    let user = format!("{tenant_name}-oidc");
    let config = json!({
        "users": [{
            "name": user,
            "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": "kubectl",
                "args": [
                    "oidc-login",
                    "get-token",
                    format!("--oidc-issuer-url={}", oidc.issuer_url),
                    format!("--oidc-client-id={}", oidc.client_id),
                    "--oidc-extra-scope=email",
                    "--oidc-extra-scope=profile",
                    "--oidc-use-pkce",
                ],
                "interactiveMode": "IfAvailable",
            }},
        }],
    });
    serde_yaml::to_string(&config).unwrap_or_default()
}

fn block(id: &str, text: &str) -> String {
    format!(
        "<pre id=\"{id}\">{}</pre><button type=\"button\" data-copy=\"{id}\">Copy</button>",
        escape(text.trim_end())
    )
}

/// `GET /console/{tenant}/connect`.
pub async fn page(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let signed = match console.guard(&tenant, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let Some(oidc) = signed.tenant.spec.oidc.clone() else {
        // `guard` admits only tenants with spec.oidc.
        return signed
            .page("Connect kubectl", String::new())
            .respond(StatusCode::NOT_FOUND);
    };
    // The signed-in user's own subject, from their ScimUser's status.
    let my_id = console.deps.store.cache().read(&signed.namespace, |index| {
        index.user_named(&signed.user_name).map(str::to_owned)
    });
    let me = match my_id {
        Some(id) => Api::<ScimUser>::namespaced(console.deps.client.clone(), &signed.namespace)
            .get_opt(&id)
            .await
            .ok()
            .flatten()
            .and_then(|u| u.status?.subject),
        None => None,
    };
    let t = &signed.tenant;
    let user = format!("{tenant}-oidc");
    let whoami = match &me {
        Some(subject) => format!(
            "<p>Signed in that way, you would be <code id=\"you\">{}</code> (check with <code>kubectl auth whoami</code>).</p>",
            escape(subject)
        ),
        None => String::new(),
    };
    let html = format!(
        "<h1>Connect kubectl</h1>\
         <p>scimitar binds this tenant's people as <code>{up}</code>&lt;{claim}&gt;{groups}. For those bindings to name them, the cluster's API server must accept ID tokens from <code>{issuer}</code> and name users the same way. Use one of the two forms below, not both.</p>\
         <h2>1. kube-apiserver flags</h2>{flags}\
         <h2>2. Or a structured authentication configuration</h2><p>Save as a file and pass it with <code>--authentication-config</code> (Kubernetes 1.34+; v1beta1 since 1.30).</p>{config}\
         <h2>Users' kubeconfig</h2><p>With the <a href=\"https://github.com/int128/kubelogin\">kubelogin</a> plugin (<code>kubectl krew install oidc-login</code>), add this user to the kubeconfig, then <code>kubectl config set-context {t_name} --cluster=&lt;your cluster&gt; --user={user}</code>. \
         kubelogin signs in with PKCE; if the identity provider app requires a client secret, give kubelogin its own public (PKCE) app and add that client ID to the audiences above. The client secret is not shown here.</p>{kubeconfig}{whoami}",
        up = escape(&t.spec.subjects.user_prefix),
        claim = escape(&t.spec.subjects.username_claim),
        groups = if t.spec.subjects.bind == BindSubjects::Users {
            String::new()
        } else {
            format!(
                " and their groups as <code>{}</code>&lt;group&gt; (claim <code>{}</code>)",
                escape(&t.spec.subjects.group_prefix),
                escape(&t.spec.subjects.groups_claim)
            )
        },
        issuer = escape(&oidc.issuer_url),
        flags = block("flags", &apiserver_flags(t, &oidc)),
        config = block("authn-config", &authentication_config(t, &oidc)),
        t_name = escape(&tenant),
        user = escape(&user),
        kubeconfig = block("kubeconfig", &kubeconfig(&tenant, &oidc)),
    );
    let mut page = signed.page("Connect kubectl", html);
    page.script = Some(COPY_SCRIPT);
    page.respond(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::controller::testutil;
    use crate::crd::SecretKeyRef;

    fn oidc() -> TenantOidc {
        TenantOidc {
            issuer_url: "https://oauth.id.jumpcloud.com/".into(),
            client_id: "client-123".into(),
            client_secret_ref: SecretKeyRef {
                name: "jc".into(),
                key: "secret".into(),
                namespace: None,
            },
        }
    }

    #[test]
    fn flags_follow_the_subject_settings() {
        let mut tenant = testutil::tenant("acme", vec![]);
        let flags = apiserver_flags(&tenant, &oidc());
        assert_eq!(
            flags,
            "--oidc-issuer-url=https://oauth.id.jumpcloud.com/\n--oidc-client-id=client-123\n--oidc-username-claim=email\n--oidc-username-prefix=oidc:"
        );
        tenant.spec.subjects.bind = BindSubjects::Both;
        tenant.spec.subjects.group_prefix = "jc:".into();
        tenant.spec.subjects.groups_claim = "memberOf".into();
        let flags = apiserver_flags(&tenant, &oidc());
        assert!(flags.ends_with("--oidc-groups-claim=memberOf\n--oidc-groups-prefix=jc:"));
    }

    #[test]
    fn the_authentication_configuration_is_valid_yaml_with_the_same_meaning() {
        let mut tenant = testutil::tenant("acme", vec![]);
        tenant.spec.subjects.bind = BindSubjects::Group;
        let yaml: Value =
            serde_yaml::from_str(&authentication_config(&tenant, &oidc())).expect("YAML");
        assert_eq!(yaml["kind"], "AuthenticationConfiguration");
        let jwt = &yaml["jwt"][0];
        assert_eq!(jwt["issuer"]["url"], "https://oauth.id.jumpcloud.com/");
        assert_eq!(jwt["issuer"]["audiences"][0], "client-123");
        assert_eq!(jwt["claimMappings"]["username"]["claim"], "email");
        assert_eq!(jwt["claimMappings"]["username"]["prefix"], "oidc:");
        assert_eq!(jwt["claimMappings"]["groups"]["claim"], "groups");
    }

    #[test]
    fn the_kubeconfig_user_runs_kubelogin_without_a_secret() {
        let text = kubeconfig("acme", &oidc());
        let yaml: Value = serde_yaml::from_str(&text).expect("YAML");
        let exec = &yaml["users"][0]["user"]["exec"];
        assert_eq!(yaml["users"][0]["name"], "acme-oidc");
        assert_eq!(exec["args"][0], "oidc-login");
        assert!(!text.contains("secret"));
    }
}
