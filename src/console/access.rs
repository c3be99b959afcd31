//! The Access page: the tenant's subject naming and group → role mappings,
//! and an "effective access" checker that asks the API server itself.
//!
//! The checker sends a `SubjectAccessReview` for the user as the API server
//! would see them after an OIDC sign-in: the `User` subject scimitar computes
//! for them (whether or not they are active: a deactivated user's ID token
//! still names them, and the answer shows that their access is gone) and,
//! when the tenant binds groups, the group subjects their ID token would
//! carry. Only users of this tenant can be checked, so a tenant admin cannot
//! probe other identities of the cluster.
//!
//! Below it, the plan form ([`super::access_plan`]): a pasted spec's effect,
//! shown and never applied.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};
use serde::Deserialize;

use super::html::escape;
use super::{Console, Signed};
use crate::controller::desired::mapping as mapping_rules;
use crate::crd::{BindSubjects, ScimTenant, ScimUser};
use crate::meta::{is_reserved, user_subject_name};
use crate::store::index::fold;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Verbs offered by the checker.
pub const VERBS: [&str; 9] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "bind",
    "impersonate",
];

/// The checker's form; all empty on first visit.
#[derive(Debug, Default, Deserialize)]
pub struct Check {
    #[serde(default)]
    user: String,
    #[serde(default)]
    verb: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    namespace: String,
}

/// A resource as typed: `pods`, `deployments.apps`, `pods/log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub resource: String,
    pub group: String,
    pub subresource: String,
}

/// Parses `resource[.group][/subresource]`, the way `kubectl auth can-i` reads it.
pub fn parse_resource(text: &str) -> Option<Resource> {
    let text = text.trim();
    let (main, subresource) = text.split_once('/').unwrap_or((text, ""));
    let (resource, group) = main.split_once('.').unwrap_or((main, ""));
    let valid = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'*')
    };
    (!resource.is_empty() && valid(resource) && valid(group) && valid(subresource)).then(|| {
        Resource {
            resource: resource.to_owned(),
            group: group.to_owned(),
            subresource: subresource.to_owned(),
        }
    })
}

/// The subjects the API server would see for `user` of `tenant`: the user
/// name and, when the tenant binds groups, the groups' subject names.
pub fn identity(tenant: &ScimTenant, user: &ScimUser, groups: &[String]) -> (String, Vec<String>) {
    let settings = &tenant.spec.subjects;
    let name = user_subject_name(settings, user);
    let groups = match settings.bind {
        BindSubjects::Users => Vec::new(),
        BindSubjects::Group | BindSubjects::Both => groups
            .iter()
            .map(|g| format!("{}{g}", settings.group_prefix))
            .collect(),
    };
    (name, groups)
}

/// Why the checker does not ask about these subjects, if it does not: names
/// starting with `system:` (the API server's own users and groups, such as
/// `system:masters`, which bypasses RBAC) and empty names are never bound by
/// scimitar, so asking about them would only let a console admin probe the
/// cluster's built-in identities.
pub fn unreviewable(user: &str, groups: &[String]) -> Option<String> {
    if user.trim().is_empty() {
        return Some("This user has no subject name; scimitar binds nothing to it.".into());
    }
    std::iter::once(user)
        .chain(groups.iter().map(String::as_str))
        .find(|name| is_reserved(name) || name.trim().is_empty())
        .map(|name| {
            format!(
                "{name:?} is reserved (names starting with \"system:\" belong to the cluster) or empty; scimitar never binds it and does not check it."
            )
        })
}

/// The API server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub user: String,
    pub groups: Vec<String>,
    pub allowed: bool,
    pub reason: String,
}

/// Asks the API server whether `user` (with `groups`) may `verb` `resource`
/// in `namespace` (empty: cluster-wide).
pub async fn review(
    client: &Client,
    user: String,
    groups: Vec<String>,
    verb: &str,
    resource: &Resource,
    namespace: &str,
) -> Result<Answer, kube::Error> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.clone()),
            groups: (!groups.is_empty()).then(|| groups.clone()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                resource: Some(resource.resource.clone()),
                group: Some(resource.group.clone()),
                subresource: (!resource.subresource.is_empty())
                    .then(|| resource.subresource.clone()),
                namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    let status = answer.status.unwrap_or_default();
    let reason = status
        .reason
        .or(status.evaluation_error)
        .unwrap_or_default();
    Ok(Answer {
        user,
        groups,
        allowed: status.allowed && !status.denied.unwrap_or(false),
        reason,
    })
}

/// `GET /console/{tenant}/access?user=&verb=&resource=&namespace=`.
pub async fn page(
    State(console): State<Arc<Console>>,
    Path(tenant): Path<String>,
    Query(check): Query<Check>,
    headers: HeaderMap,
) -> Response {
    let signed = match console.guard(&tenant, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    // (SCIM id, userName) of every user, for the checker's user list.
    let mut users: Vec<(String, String)> =
        console.deps.store.cache().read(&signed.namespace, |index| {
            index
                .users()
                .map(|u| (u.id.to_owned(), u.user_name.to_owned()))
                .collect()
        });
    users.sort_by_key(|(_, name)| fold(name));
    let result = if check.user.is_empty() {
        String::new()
    } else {
        run_check(&console, &signed, &check).await
    };
    let mut html = String::from("<h1>Access</h1>");
    html.push_str(&settings(&signed.tenant));
    html.push_str(&mappings(&signed.tenant));
    html.push_str(&form(&tenant, &users, &check));
    html.push_str(&result);
    html.push_str(&super::access_plan::form(&signed.tenant, None));
    signed.page("Access", html).respond(StatusCode::OK)
}

/// Runs the checker; returns the result as HTML.
async fn run_check(console: &Console, signed: &Signed, check: &Check) -> String {
    let error = |text: &str| format!("<p class=\"denied\">{}</p>", escape(text));
    if !VERBS.contains(&check.verb.as_str()) {
        return error("Choose a verb.");
    }
    let Some(resource) = parse_resource(&check.resource) else {
        return error("Type a resource such as pods, deployments.apps or pods/log.");
    };
    let namespace = check.namespace.trim();
    let users: Api<ScimUser> = Api::namespaced(console.deps.client.clone(), &signed.namespace);
    let user = match users.get_opt(&check.user).await {
        Ok(Some(user)) => user,
        Ok(None) => return error("There is no such user in this tenant."),
        Err(e) => return error(&format!("Reading the user failed: {e}")),
    };
    let groups: Vec<String> = console.deps.store.cache().read(&signed.namespace, |index| {
        index
            .group_ids_of(&check.user)
            .filter_map(|id| Some(index.group(id)?.display_name.to_owned()))
            .collect()
    });
    let (name, groups) = identity(&signed.tenant, &user, &groups);
    if let Some(refused) = unreviewable(&name, &groups) {
        return error(&refused);
    }
    match review(
        &console.deps.client,
        name,
        groups,
        &check.verb,
        &resource,
        namespace,
    )
    .await
    {
        Ok(answer) => answer_html(&answer, &check.verb, &check.resource, namespace),
        Err(e) => {
            tracing::warn!(tenant = signed.name(), error = %e, "console: SubjectAccessReview failed");
            error(&format!("The API server did not answer the review: {e}"))
        }
    }
}

fn answer_html(answer: &Answer, verb: &str, resource: &str, namespace: &str) -> String {
    let verdict = if answer.allowed {
        "<span class=\"allowed\" id=\"verdict\">allowed</span>"
    } else {
        "<span class=\"denied\" id=\"verdict\">denied</span>"
    };
    let place = if namespace.is_empty() {
        "cluster-wide".to_owned()
    } else {
        format!("in namespace <code>{}</code>", escape(namespace))
    };
    let groups = if answer.groups.is_empty() {
        "no groups".to_owned()
    } else {
        answer
            .groups
            .iter()
            .map(|g| format!("<code>{}</code>", escape(g)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reason = if answer.reason.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"muted\">API server: {}</p>",
            escape(&answer.reason)
        )
    };
    format!(
        "<div class=\"box\"><h2>Result: {verdict}</h2><p><code>{}</code> ({groups}) may {}<code>{}</code> <code>{}</code> {place}.</p>{reason}</div>",
        escape(&answer.user),
        if answer.allowed {
            ""
        } else {
            "<strong>not</strong> "
        },
        escape(verb),
        escape(resource),
    )
}

fn settings(tenant: &ScimTenant) -> String {
    let s = &tenant.spec.subjects;
    let bind = match s.bind {
        BindSubjects::Users => "each active member as a User",
        BindSubjects::Group => "the group as a Group",
        BindSubjects::Both => "each active member as a User, and the group as a Group",
    };
    format!(
        "<p>Users are named <code>{}</code> + their <code>{}</code>{}; groups <code>{}</code> + displayName. Bindings list {bind}.</p>",
        escape(&s.user_prefix),
        escape(&s.username_claim),
        if s.username_claim == "email" {
            " (primary email)"
        } else {
            " (userName)"
        },
        escape(&s.group_prefix),
    )
}

/// A label selector as kubectl writes one (`env=dev,tier in (a,b)`).
fn selector_text(selector: &LabelSelector) -> String {
    match kube::core::Selector::try_from(selector.clone()) {
        Ok(parsed) => parsed.to_string(),
        Err(error) => format!("invalid: {error}"),
    }
}

fn mappings(tenant: &ScimTenant) -> String {
    let mappings = &tenant.spec.mappings;
    if mappings.is_empty() {
        return "<h2>Mappings</h2><p class=\"muted\">This tenant maps no groups to roles: provisioned users get no access.</p>".into();
    }
    let now = jiff::Timestamp::now();
    let mut html = String::from(
        "<h2>Mappings</h2><table><thead><tr><th>SCIM group</th><th>Role</th><th>Where</th><th>When</th></tr></thead><tbody>",
    );
    for mapping in mappings {
        let kind = match mapping.role.kind {
            crate::crd::RoleKind::ClusterRole => "ClusterRole",
            crate::crd::RoleKind::Role => "Role",
        };
        let who = match &mapping.group_pattern {
            Some(pattern) => format!("every group matching <code>{}</code>", escape(pattern)),
            None => escape(&mapping.group),
        };
        let mut places: Vec<String> = mapping
            .namespaces
            .iter()
            .map(|n| format!("<code>{}</code>", escape(n)))
            .collect();
        if let Some(selector) = &mapping.namespace_selector {
            places.push(format!(
                "namespaces labelled <code>{}</code>",
                escape(&selector_text(selector))
            ));
        }
        if let Some(template) = &mapping.namespace_from_group {
            places.push(format!(
                "the namespace <code>{}</code> names, if allowed",
                escape(template)
            ));
        }
        let place = if mapping.cluster_wide {
            "<strong>cluster-wide</strong>".to_owned()
        } else {
            places.join(", ")
        };
        let when = if mapping_rules::timed(mapping) {
            let at = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
                t.as_ref().map_or("…".to_owned(), |t| t.0.to_string())
            };
            format!(
                "{} ({} → {})",
                mapping_rules::window(mapping, now).as_str(),
                at(&mapping.not_before),
                at(&mapping.not_after)
            )
        } else {
            "always".to_owned()
        };
        html.push_str(&format!(
            "<tr><td>{who}</td><td>{kind}/{}</td><td>{place}</td><td>{}</td></tr>",
            escape(&mapping.role.name),
            escape(&when),
        ));
    }
    html.push_str("</tbody></table>");
    let derived = &tenant.spec.derived_namespaces;
    if mappings.iter().any(|m| m.namespace_from_group.is_some()) {
        let mut allowed: Vec<String> = derived
            .allowed
            .iter()
            .map(|n| format!("<code>{}</code>", escape(n)))
            .collect();
        if let Some(selector) = &derived.allowed_selector {
            allowed.push(format!(
                "namespaces labelled <code>{}</code>",
                escape(&selector_text(selector))
            ));
        }
        let allowed = if allowed.is_empty() {
            "none (nothing is bound in a derived namespace)".to_owned()
        } else {
            allowed.join(", ")
        };
        let create = &derived.create;
        let creation = if create.enabled {
            let mut names: Vec<String> = create.names.iter().map(|n| escape(n)).collect();
            names.extend(create.prefixes.iter().map(|p| format!("{}*", escape(p))));
            format!(
                "created when missing: {} (at most {})",
                names.join(", "),
                create.max_count
            )
        } else {
            "never created".to_owned()
        };
        html.push_str(&format!(
            "<p>Namespaces derived from group names may be: {allowed}; never <code>kube-*</code>. They are {creation}.</p>"
        ));
    }
    html
}

fn form(tenant: &str, users: &[(String, String)], check: &Check) -> String {
    let selected = |yes: bool| if yes { " selected" } else { "" };
    let mut html = format!(
        "<h2>Effective access</h2><p>Asks the Kubernetes API server (SubjectAccessReview) what a user of this tenant may do after signing in with OIDC.</p>\
         <form class=\"filters\" method=\"get\" action=\"/console/{}/access\"><label>User<select name=\"user\">",
        escape(tenant)
    );
    for (id, name) in users {
        html.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            escape(id),
            selected(*id == check.user),
            escape(name)
        ));
    }
    html.push_str("</select></label><label>Verb<select name=\"verb\">");
    for verb in VERBS {
        html.push_str(&format!(
            "<option{}>{verb}</option>",
            selected(verb == check.verb)
        ));
    }
    html.push_str(&format!(
        "</select></label><label>Resource<input name=\"resource\" value=\"{}\" placeholder=\"pods, deployments.apps\" required></label>\
         <label>Namespace<input name=\"namespace\" value=\"{}\" placeholder=\"empty: cluster-wide\"></label><button type=\"submit\">Check</button></form>",
        escape(&check.resource),
        escape(&check.namespace)
    ));
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::testutil;

    #[test]
    fn mappings_show_patterns_selectors_windows_and_the_guard() {
        let tenant: ScimTenant = serde_json::from_value(serde_json::json!({
            "apiVersion": "scimitar.dev/v1alpha1", "kind": "ScimTenant",
            "metadata": {"name": "acme"},
            "spec": {"namespace": "idp", "mappings": [
                {"groupPattern": "team-*", "namespaceFromGroup": "{match}", "role": {"name": "edit"}},
                {"group": "ops", "namespaceSelector": {"matchLabels": {"env": "dev"}},
                 "role": {"name": "view"}, "notBefore": "2999-01-01T00:00:00Z"},
                {"group": "<b>", "clusterWide": true, "role": {"name": "view"},
                 "notAfter": "2000-01-01T00:00:00Z"}
            ], "derivedNamespaces": {"allowed": ["payments"]}}
        }))
        .expect("tenant");
        let html = mappings(&tenant);
        assert!(
            html.contains("every group matching <code>team-*</code>"),
            "{html}"
        );
        assert!(html.contains("the namespace <code>{match}</code> names, if allowed"));
        assert!(
            html.contains("namespaces labelled <code>env=dev</code>"),
            "{html}"
        );
        assert!(
            html.contains("Pending (2999-01-01T00:00:00Z → …)"),
            "{html}"
        );
        assert!(
            html.contains("Expired (… → 2000-01-01T00:00:00Z)"),
            "{html}"
        );
        assert!(
            html.contains("&lt;b&gt;") && !html.contains("<b>"),
            "escaped"
        );
        assert!(
            html.contains(
                "may be: <code>payments</code>; never <code>kube-*</code>. They are never created."
            ),
            "{html}"
        );
    }

    #[test]
    fn resources_parse_like_kubectl_auth_can_i() {
        assert_eq!(
            parse_resource("deployments.apps/scale"),
            Some(Resource {
                resource: "deployments".into(),
                group: "apps".into(),
                subresource: "scale".into()
            })
        );
        assert_eq!(
            parse_resource(" pods ").map(|r| r.group),
            Some(String::new())
        );
        assert_eq!(parse_resource(""), None);
        assert_eq!(parse_resource("pods?x"), None);
    }

    #[test]
    fn system_and_empty_names_are_never_reviewed() {
        assert!(unreviewable("oidc:ada@example.com", &["oidc:devs".into()]).is_none());
        assert!(unreviewable("system:admin", &[]).is_some());
        assert!(unreviewable("SYSTEM:kube-proxy", &[]).is_some());
        assert!(unreviewable("ada", &["system:masters".into()]).is_some());
        assert!(unreviewable("", &[]).is_some());
        assert!(unreviewable("ada", &[String::new()]).is_some());
    }

    #[test]
    fn the_identity_follows_the_tenants_subject_settings() {
        let mut tenant = testutil::tenant("acme", vec![]);
        let user = testutil::with_emails(
            testutil::user("u1", "ada"),
            vec![testutil::email("ada@example.com", None, Some(true))],
        );
        let groups = vec!["eng".to_owned()];
        assert_eq!(
            identity(&tenant, &user, &groups),
            ("oidc:ada@example.com".into(), vec![])
        );
        tenant.spec.subjects.bind = BindSubjects::Both;
        tenant.spec.subjects.username_claim = "sub".into();
        assert_eq!(
            identity(&tenant, &user, &groups),
            ("oidc:ada".into(), vec!["oidc:eng".into()])
        );
    }

    #[test]
    fn answers_render_escaped() {
        let answer = Answer {
            user: "oidc:<x>".into(),
            groups: vec![],
            allowed: false,
            reason: "<r>".into(),
        };
        let html = answer_html(&answer, "get", "pods", "apps");
        assert!(html.contains("denied") && !html.contains("<x>") && !html.contains("<r>"));
    }
}
