//! The Secrets scimitar trusts: a tenant's token digest (`tokenSecretRef`)
//! and its OIDC client secret (`oidc.clientSecretRef`).
//!
//! Whoever can write such a Secret controls the tenant: a token digest lets
//! them call SCIM and put themselves in any mapped group, and a client secret
//! is a credential of the tenant's identity provider. So a Secret is used
//! only when
//! - it lives in the operator's namespace, or in a namespace the cluster
//!   admin allowed explicitly (`--secret-namespaces`, chart value
//!   `secrets.allowedNamespaces`), and never in any tenant's namespace, where
//!   `edit` and `admin` may write Secrets; and
//! - it is labelled `scimitar.dev/tenant: <tenant>`, so the author of one
//!   ScimTenant cannot point it at another tenant's Secret (and send that
//!   client secret to an issuer of their choosing).
//!
//! The operator may read Secrets only in those namespaces (the chart's RBAC);
//! the checks here make the refusal clear and hold even where RBAC is wider.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::crd::SecretKeyRef;
use crate::meta::{TENANT_LABEL, label_value};

/// Reasons of secret problems. Stable: they become condition reasons.
pub mod reason {
    /// The Secret is in a namespace scimitar does not read Secrets from.
    pub const UNTRUSTED: &str = "SecretNotTrusted";
    /// The Secret, or its key, does not exist.
    pub const MISSING: &str = "SecretMissing";
    /// The API server refuses the operator's read (RBAC).
    pub const UNREADABLE: &str = "SecretUnreadable";
    /// The Secret is not labelled for this tenant.
    pub const NOT_LABELLED: &str = "SecretNotLabelled";
    /// The value is not usable (e.g. not a SHA-256 digest).
    pub const INVALID: &str = "SecretInvalid";
}

/// Where Secrets may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretPolicy {
    operator_namespace: String,
    allowed: BTreeSet<String>,
}

impl Default for SecretPolicy {
    fn default() -> Self {
        Self::new("scimitar-system", Vec::<String>::new())
    }
}

/// Why a Secret is not used. `Transient` means "not now" (the API server did
/// not answer); everything else is a refusal to report in the tenant status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretProblem {
    /// A refusal, with a reason from [`reason`] and a message for the admin.
    Refused {
        reason: &'static str,
        message: String,
    },
    /// The API server did not answer.
    Transient(String),
}

impl SecretProblem {
    fn refused(reason: &'static str, message: String) -> Self {
        SecretProblem::Refused { reason, message }
    }
}

impl SecretPolicy {
    /// Secrets from `operator_namespace` and from the `allowed` namespaces.
    pub fn new(
        operator_namespace: &str,
        allowed: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            operator_namespace: operator_namespace.to_owned(),
            allowed: allowed
                .into_iter()
                .map(Into::into)
                .filter(|n: &String| !n.is_empty())
                .collect(),
        }
    }

    /// The namespace `reference` points to, if scimitar may read it there.
    /// `is_tenant_namespace` tells whether a namespace holds some tenant's
    /// directory (its editors may write Secrets there: never trusted, even
    /// when allowed by mistake). Pure.
    pub fn locate(
        &self,
        what: &str,
        reference: &SecretKeyRef,
        is_tenant_namespace: impl Fn(&str) -> bool,
    ) -> Result<String, SecretProblem> {
        let namespace = self.namespace_of(reference).to_owned();
        let trusted = namespace == self.operator_namespace || self.allowed.contains(&namespace);
        if trusted && !is_tenant_namespace(&namespace) {
            return Ok(namespace);
        }
        let move_it = format!(
            "move it to namespace {} (omit the reference's namespace) with the label {TENANT_LABEL}=<tenant>",
            self.operator_namespace
        );
        let why = if is_tenant_namespace(&namespace) {
            format!(
                "is in a tenant namespace, where namespace editors can write Secrets; it is not used: {move_it}"
            )
        } else {
            format!(
                "is in a namespace scimitar does not read Secrets from; {move_it}, or allow the namespace in the chart (secrets.allowedNamespaces)"
            )
        };
        Err(SecretProblem::refused(
            reason::UNTRUSTED,
            format!("{what} Secret {namespace}/{} {why}", reference.name),
        ))
    }

    /// The namespace `reference` names: its own, or the operator's.
    pub fn namespace_of<'a>(&'a self, reference: &'a SecretKeyRef) -> &'a str {
        reference
            .namespace
            .as_deref()
            .unwrap_or(&self.operator_namespace)
    }
}

/// Whether `secret` is labelled for `tenant`.
pub fn labelled_for(secret: &Secret, tenant: &str) -> bool {
    secret
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(TENANT_LABEL))
        .is_some_and(|v| *v == label_value(tenant))
}

/// Reads the value of the key `reference` names, for `tenant`, if the
/// policy trusts it. `what` names the Secret's use in messages.
pub async fn read_key(
    client: &Client,
    policy: &SecretPolicy,
    tenant: &str,
    what: &str,
    reference: &SecretKeyRef,
    is_tenant_namespace: impl Fn(&str) -> bool,
) -> Result<Vec<u8>, SecretProblem> {
    let namespace = policy.locate(what, reference, is_tenant_namespace)?;
    let full = format!("{namespace}/{}", reference.name);
    let moved_hint = if reference.namespace.is_none() {
        " (a Secret of this name in the tenant namespace is no longer read: move it here)"
    } else {
        ""
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = match secrets.get_opt(&reference.name).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return Err(SecretProblem::refused(
                reason::MISSING,
                format!("{what} Secret {full} does not exist{moved_hint}"),
            ));
        }
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return Err(SecretProblem::refused(
                reason::UNREADABLE,
                format!(
                    "{what} Secret {full} cannot be read by the operator ({})",
                    status.message
                ),
            ));
        }
        Err(error) => {
            return Err(SecretProblem::Transient(format!(
                "reading {what} Secret {full}: {error}"
            )));
        }
    };
    if !labelled_for(&secret, tenant) {
        return Err(SecretProblem::refused(
            reason::NOT_LABELLED,
            format!(
                "{what} Secret {full} is not labelled {TENANT_LABEL}={}; it is not used until it is",
                label_value(tenant)
            ),
        ));
    }
    secret
        .data
        .and_then(|mut d| d.remove(&reference.key))
        .map(|v| v.0)
        .ok_or_else(|| {
            SecretProblem::refused(
                reason::MISSING,
                format!("{what} Secret {full} has no key {}", reference.key),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(namespace: Option<&str>) -> SecretKeyRef {
        SecretKeyRef {
            name: "acme-scim-token".into(),
            key: "token-sha256".into(),
            namespace: namespace.map(str::to_owned),
        }
    }

    fn refused(result: Result<String, SecretProblem>) -> &'static str {
        match result {
            Err(SecretProblem::Refused { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_reference_without_namespace_points_to_the_operator_namespace() {
        let policy = SecretPolicy::new("scimitar-system", ["vault-sync"]);
        let none = |_: &str| false;
        assert_eq!(
            policy.locate("token", &reference(None), none),
            Ok("scimitar-system".to_owned())
        );
        assert_eq!(
            policy.locate("token", &reference(Some("vault-sync")), none),
            Ok("vault-sync".to_owned())
        );
    }

    #[test]
    fn tenant_namespaces_and_unlisted_namespaces_are_never_trusted() {
        let policy = SecretPolicy::new("scimitar-system", ["acme"]);
        let tenant_ns = |ns: &str| ns == "acme";
        // Allowed by mistake, but editors of the tenant namespace can write it.
        assert_eq!(
            refused(policy.locate("token", &reference(Some("acme")), tenant_ns)),
            reason::UNTRUSTED
        );
        assert_eq!(
            refused(policy.locate("token", &reference(Some("kube-system")), tenant_ns)),
            reason::UNTRUSTED
        );
        // Even the operator namespace, if a tenant claims it as its own.
        let claimed = |ns: &str| ns == "scimitar-system";
        assert_eq!(
            refused(policy.locate("token", &reference(None), claimed)),
            reason::UNTRUSTED
        );
    }

    #[test]
    fn secrets_must_be_labelled_for_their_tenant() {
        let mut secret = Secret::default();
        assert!(!labelled_for(&secret, "acme"));
        secret.metadata.labels = Some([(TENANT_LABEL.to_owned(), "other".to_owned())].into());
        assert!(!labelled_for(&secret, "acme"));
        secret.metadata.labels = Some([(TENANT_LABEL.to_owned(), "acme".to_owned())].into());
        assert!(labelled_for(&secret, "acme"));
    }
}
