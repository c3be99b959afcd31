//! Issuing, listing and revoking API tokens as Secrets in the operator's
//! namespace: one implementation for `scimitar token` (an admin's
//! kubeconfig) and the console's API tokens page (the operator's own
//! ServiceAccount, which may create and delete Secrets only there).

use std::collections::BTreeSet;
use std::time::Duration;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams, Preconditions};

use crate::auth::token::{self, TokenRecord};
use crate::auth::{Scope, token_digest};
use crate::meta::{
    self, EXPIRES_ANNOTATION, LAST_USED_ANNOTATION, MANAGED_BY, MANAGER, SCOPES_ANNOTATION,
    TENANT_ANNOTATION, TENANT_LABEL, TENANT_UID_ANNOTATION, TOKEN_LABEL, TOKEN_NAME_ANNOTATION,
    TOKEN_SECRET_TYPE, hex, label_value, parse_hex,
};

/// Secret data key holding the hex SHA-256 digest.
pub const DIGEST_KEY: &str = "sha256";

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
    let suffix: String = hex(digest).chars().take(10).collect();
    let tenant: String = label_value(tenant)
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
        .create(&PostParams::default(), &secret_of(&record, namespace))
        .await?;
    let record = TokenRecord {
        created: created.metadata.creation_timestamp.map(|t| t.0),
        ..record
    };
    Ok((record, value))
}

/// The Secret that keeps `record` in `namespace`.
pub fn secret_of(record: &TokenRecord, namespace: &str) -> Secret {
    let scopes: Vec<&str> = record.scopes.iter().map(|s| s.as_str()).collect();
    let mut annotations = BTreeMap::from([
        (TENANT_ANNOTATION.to_owned(), record.tenant.clone()),
        (TOKEN_NAME_ANNOTATION.to_owned(), record.name.clone()),
        (SCOPES_ANNOTATION.to_owned(), scopes.join(",")),
    ]);
    if let Some(expires) = record.expires {
        annotations.insert(EXPIRES_ANNOTATION.to_owned(), expires.to_string());
    }
    if let Some(uid) = &record.tenant_uid {
        annotations.insert(TENANT_UID_ANNOTATION.to_owned(), uid.clone());
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(record.id.clone()),
            namespace: Some(namespace.to_owned()),
            // Deleting the tenant deletes its tokens.
            owner_references: record
                .tenant_uid
                .as_ref()
                .map(|uid| vec![meta::tenant_owner(&record.tenant, uid, false)]),
            labels: Some(BTreeMap::from([
                (TOKEN_LABEL.to_owned(), "true".to_owned()),
                (TENANT_LABEL.to_owned(), label_value(&record.tenant)),
                (MANAGED_BY.to_owned(), MANAGER.to_owned()),
            ])),
            annotations: Some(annotations),
            ..Default::default()
        },
        type_: Some(TOKEN_SECRET_TYPE.to_owned()),
        data: Some(BTreeMap::from([(
            DIGEST_KEY.to_owned(),
            ByteString(hex(&record.digest).into_bytes()),
        )])),
        ..Default::default()
    }
}

/// Reads a token Secret; `None` when it is not a well-formed one.
pub fn record_of(secret: &Secret) -> Option<TokenRecord> {
    let annotations = secret.metadata.annotations.as_ref()?;
    let get = |key: &str| annotations.get(key).map(String::as_str);
    let time = |key: &str| get(key).and_then(|t| t.parse::<jiff::Timestamp>().ok());
    // An expiry that does not parse is in the past: a token whose
    // annotation was mangled stops working rather than living forever.
    let expires = get(EXPIRES_ANNOTATION)
        .map(|t| t.parse::<jiff::Timestamp>().unwrap_or(jiff::Timestamp::MIN));
    let digest = secret.data.as_ref()?.get(DIGEST_KEY)?;
    let digest = parse_hex(std::str::from_utf8(&digest.0).ok()?.trim())?;
    Some(TokenRecord {
        id: secret.metadata.name.clone()?,
        tenant: get(TENANT_ANNOTATION)?.to_owned(),
        name: get(TOKEN_NAME_ANNOTATION).unwrap_or_default().to_owned(),
        scopes: get(SCOPES_ANNOTATION)
            .unwrap_or("scim")
            .split(',')
            .filter_map(Scope::parse)
            .collect(),
        digest,
        created: secret.metadata.creation_timestamp.as_ref().map(|t| t.0),
        expires,
        last_used: time(LAST_USED_ANNOTATION),
        tenant_uid: get(TENANT_UID_ANNOTATION).map(str::to_owned),
    })
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
        .filter_map(record_of)
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
    let record = record_of(&secret)
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
    fn records_survive_their_secret() {
        let record = TokenRecord {
            id: "scimitar-token-acme-1a2b3c".into(),
            tenant: "acme".into(),
            name: "JumpCloud SCIM".into(),
            scopes: BTreeSet::from([Scope::Scim, Scope::Logs]),
            digest: token_digest("sct_x"),
            created: None,
            expires: Some("2027-01-01T00:00:00Z".parse().expect("time")),
            last_used: None,
            tenant_uid: Some("0b6f5d9e-uid".into()),
        };
        let secret = secret_of(&record, "scimitar-system");
        assert_eq!(record_of(&secret), Some(record.clone()));
        assert!(record.is_valid_at("2026-12-31T23:59:59Z".parse().expect("time")));
        assert!(!record.is_valid_at("2027-01-01T00:00:00Z".parse().expect("time")));
    }

    #[test]
    fn a_mangled_expiry_means_expired() {
        let record = TokenRecord {
            id: "scimitar-token-acme-1a2b3c".into(),
            tenant: "acme".into(),
            name: "t".into(),
            scopes: BTreeSet::from([Scope::Scim]),
            digest: token_digest("sct_x"),
            created: None,
            expires: None,
            last_used: None,
            tenant_uid: None,
        };
        let mut secret = secret_of(&record, "scimitar-system");
        secret
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(EXPIRES_ANNOTATION.into(), "next tuesday".into());
        let read = record_of(&secret).expect("still a token");
        assert!(!read.is_valid_at(jiff::Timestamp::now()));
    }

    #[test]
    fn secret_names_are_dns_labels_naming_the_tenant() {
        let name = secret_name("Acme.Prod", &[0xab; 32]);
        assert_eq!(name, "scimitar-token-acme.prod-ababababab");
        let long = secret_name(&"x".repeat(80), &[0; 32]);
        assert!(long.len() <= 63, "{long}");
    }
}
