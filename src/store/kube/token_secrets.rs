//! Issuing, listing and revoking API tokens as Secrets in the operator's
//! namespace: one implementation for `scimitar token` (an admin's
//! kubeconfig) and the console's API tokens page (the operator's own
//! ServiceAccount, which may create and delete Secrets only there).

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions};

use crate::auth::token::{self, TOKEN_LABEL, TokenRecord};
use crate::auth::{Scope, token_digest};

/// Why a token could not be issued or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the expiry is too far in the future")]
    ExpiryOutOfRange,
    #[error("the operating system has no randomness: {0}")]
    NoRandomness(String),
    #[error("there is no token {0:?}")]
    NotFound(String),
    #[error("{0:?} is not a scimitar token")]
    NotAToken(String),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// What a new token is for.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub tenant: String,
    /// The tenant's uid: the token works only for this tenant object, and
    /// is deleted with it (ownerReference).
    pub tenant_uid: String,
    /// Who uses it, e.g. "JumpCloud SCIM".
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    /// Lifetime from now; `None` never expires.
    pub lifetime: Option<Duration>,
}

/// The Secret name for a token of `tenant` whose value has `digest`:
/// `scimitar-token-<tenant>-<10 hex digits of the digest>`.
fn secret_name(tenant: &str, digest: &[u8; 32]) -> String {
    let suffix: String = token::hex(digest).chars().take(10).collect();
    let tenant: String = crate::labels::label_value(tenant)
        .chars()
        .take(30)
        .collect::<String>()
        .trim_end_matches(['-', '.', '_'])
        .to_lowercase();
    format!("scimitar-token-{tenant}-{suffix}")
}

/// Creates a token Secret in `secrets`' namespace; returns its record and
/// the token, which exists nowhere else afterwards.
pub async fn issue(
    secrets: &Api<Secret>,
    namespace: &str,
    new: NewToken,
) -> Result<(TokenRecord, String), TokenError> {
    let expires = match new.lifetime {
        Some(lifetime) => {
            let lifetime = jiff::SignedDuration::try_from(lifetime)
                .map_err(|_| TokenError::ExpiryOutOfRange)?;
            Some(
                jiff::Timestamp::now()
                    .checked_add(lifetime)
                    .map_err(|_| TokenError::ExpiryOutOfRange)?,
            )
        }
        None => None,
    };
    let value = token::generate().map_err(|e| TokenError::NoRandomness(e.to_string()))?;
    let digest = token_digest(&value);
    let record = TokenRecord {
        id: secret_name(&new.tenant, &digest),
        tenant: new.tenant,
        name: new.name,
        scopes: new.scopes,
        digest,
        created: None,
        expires,
        last_used: None,
        tenant_uid: Some(new.tenant_uid),
    };
    let created = secrets
        .create(&PostParams::default(), &record.to_secret(namespace))
        .await?;
    let record = TokenRecord {
        created: created.metadata.creation_timestamp.map(|t| t.0),
        ..record
    };
    Ok((record, value))
}

/// Every token, or those of `tenant`, sorted by tenant, creation and id.
pub async fn list(
    secrets: &Api<Secret>,
    tenant: Option<&str>,
) -> Result<Vec<TokenRecord>, TokenError> {
    let list = secrets
        .list(&ListParams::default().labels(&format!("{TOKEN_LABEL}=true")))
        .await?;
    let mut records: Vec<TokenRecord> = list
        .items
        .iter()
        .filter_map(TokenRecord::from_secret)
        .filter(|r| tenant.is_none_or(|t| r.tenant == t))
        .collect();
    records.sort_by(|a, b| (&a.tenant, &a.created, &a.id).cmp(&(&b.tenant, &b.created, &b.id)));
    Ok(records)
}

/// Deletes the token Secret `id`, which must be a token (of `tenant`, when
/// given: a console may revoke only its own tenant's tokens). The delete is
/// conditional on the Secret's uid, so a token re-created under the same
/// name meanwhile is not removed by mistake.
pub async fn revoke(
    secrets: &Api<Secret>,
    id: &str,
    tenant: Option<&str>,
) -> Result<TokenRecord, TokenError> {
    let secret = secrets
        .get_opt(id)
        .await?
        .ok_or_else(|| TokenError::NotFound(id.to_owned()))?;
    let labelled = secret
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.get(TOKEN_LABEL).map(String::as_str) == Some("true"));
    let record = TokenRecord::from_secret(&secret)
        .filter(|_| labelled)
        .ok_or_else(|| TokenError::NotAToken(id.to_owned()))?;
    if tenant.is_some_and(|t| t != record.tenant) {
        // Another tenant's token is, for this caller, no token at all.
        return Err(TokenError::NotFound(id.to_owned()));
    }
    let precondition = DeleteParams {
        preconditions: Some(Preconditions {
            uid: secret.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    secrets.delete(id, &precondition).await?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_dns_labels_naming_the_tenant() {
        let name = secret_name("Acme.Prod", &[0xab; 32]);
        assert_eq!(name, "scimitar-token-acme.prod-ababababab");
        let long = secret_name(&"x".repeat(80), &[0; 32]);
        assert!(long.len() <= 63, "{long}");
    }
}
