//! SCIM API tokens: their format, and how they are kept in Kubernetes.
//!
//! A token is `sct_` followed by 43 base64url characters (32 random bytes, 256
//! bits): the prefix makes a leaked token easy to recognise (secret scanners
//! match on it), the rest makes it unguessable. It is shown once, when
//! created. The cluster keeps only its SHA-256 digest, in a Secret in the
//! operator's namespace, labelled with the tenant; the Secret also holds the
//! token's name, scopes, creation time, optional expiry and last use.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;

use super::Scope;
pub use crate::labels::TENANT_UID_ANNOTATION;

/// Every token starts with this.
pub const PREFIX: &str = "sct_";
/// Label on every token Secret.
pub const TOKEN_LABEL: &str = "scimitar.dev/token";
/// Label naming the token's tenant (a label-safe form of the name).
pub const TENANT_LABEL: &str = "scimitar.dev/tenant";
/// Annotation with the tenant's exact name.
pub const TENANT_ANNOTATION: &str = "scimitar.dev/tenant";
/// Annotation with the token's human name.
pub const NAME_ANNOTATION: &str = "scimitar.dev/token-name";
/// Annotation with the comma-separated scopes.
pub const SCOPES_ANNOTATION: &str = "scimitar.dev/scopes";
/// Annotation with the expiry (RFC 3339), if any.
pub const EXPIRES_ANNOTATION: &str = "scimitar.dev/expires";
/// Annotation with the last time the token was used (RFC 3339), updated at
/// most once a minute.
pub const LAST_USED_ANNOTATION: &str = "scimitar.dev/last-used";
/// Secret data key holding the hex SHA-256 digest.
pub const DIGEST_KEY: &str = "sha256";

/// A new random token. Fails only if the operating system has no randomness.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes 64 hex characters.
pub fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A token as kept in its Secret (everything but the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The Secret's name; also the token's id in `token list` and `revoke`.
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub digest: [u8; 32],
    pub created: Option<jiff::Timestamp>,
    pub expires: Option<jiff::Timestamp>,
    pub last_used: Option<jiff::Timestamp>,
    /// The uid of the tenant it was issued for (absent on tokens issued
    /// before scimitar recorded it).
    pub tenant_uid: Option<String>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`.
    pub fn is_valid_at(&self, now: jiff::Timestamp) -> bool {
        self.expires.is_none_or(|expires| now < expires)
    }

    /// Whether the token was issued for the tenant that has `uid` and was
    /// created at `created`: the same uid, or, for a token without one, not
    /// older than the tenant (a token of an earlier tenant of the same name
    /// is older than the current one).
    pub fn belongs_to(&self, uid: Option<&str>, created: Option<jiff::Timestamp>) -> bool {
        // Undecided means refused: a token must prove its tenant.
        crate::labels::made_for(self.tenant_uid.as_deref(), self.created, uid, created)
            .unwrap_or(false)
    }

    /// The Secret that keeps this record in `namespace`.
    pub fn to_secret(&self, namespace: &str) -> Secret {
        let scopes: Vec<&str> = self.scopes.iter().map(|s| s.as_str()).collect();
        let mut annotations = BTreeMap::from([
            (TENANT_ANNOTATION.to_owned(), self.tenant.clone()),
            (NAME_ANNOTATION.to_owned(), self.name.clone()),
            (SCOPES_ANNOTATION.to_owned(), scopes.join(",")),
        ]);
        if let Some(expires) = self.expires {
            annotations.insert(EXPIRES_ANNOTATION.to_owned(), expires.to_string());
        }
        if let Some(uid) = &self.tenant_uid {
            annotations.insert(TENANT_UID_ANNOTATION.to_owned(), uid.clone());
        }
        Secret {
            metadata: ObjectMeta {
                name: Some(self.id.clone()),
                namespace: Some(namespace.to_owned()),
                owner_references: self.tenant_uid.as_ref().map(|uid| {
                    // Deleting the tenant deletes its tokens.
                    vec![OwnerReference {
                        api_version: format!("{}/{}", crate::crd::GROUP, crate::crd::VERSION),
                        kind: "ScimTenant".to_owned(),
                        name: self.tenant.clone(),
                        uid: uid.clone(),
                        controller: None,
                        block_owner_deletion: None,
                    }]
                }),
                labels: Some(BTreeMap::from([
                    (TOKEN_LABEL.to_owned(), "true".to_owned()),
                    (
                        TENANT_LABEL.to_owned(),
                        crate::labels::label_value(&self.tenant),
                    ),
                    (
                        "app.kubernetes.io/managed-by".to_owned(),
                        "scimitar".to_owned(),
                    ),
                ])),
                annotations: Some(annotations),
                ..Default::default()
            },
            type_: Some("scimitar.dev/token".to_owned()),
            data: Some(BTreeMap::from([(
                DIGEST_KEY.to_owned(),
                ByteString(hex(&self.digest).into_bytes()),
            )])),
            ..Default::default()
        }
    }

    /// Reads a token Secret; `None` when it is not a well-formed one.
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        let annotations = secret.metadata.annotations.as_ref()?;
        let get = |key: &str| annotations.get(key).map(String::as_str);
        let time = |key: &str| get(key).and_then(|t| t.parse::<jiff::Timestamp>().ok());
        // An expiry that does not parse is in the past: a token whose
        // annotation was mangled stops working rather than living forever.
        let expires = get(EXPIRES_ANNOTATION)
            .map(|t| t.parse::<jiff::Timestamp>().unwrap_or(jiff::Timestamp::MIN));
        let digest = secret.data.as_ref()?.get(DIGEST_KEY)?;
        let digest = parse_hex(std::str::from_utf8(&digest.0).ok()?.trim())?;
        Some(Self {
            id: secret.metadata.name.clone()?,
            tenant: get(TENANT_ANNOTATION)?.to_owned(),
            name: get(NAME_ANNOTATION).unwrap_or_default().to_owned(),
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
}

/// Parses a lifetime such as `90d`, `12h`, `30m` or `3600s`.
pub fn parse_lifetime(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    number
        .checked_mul(seconds)
        .filter(|s| *s > 0)
        .map(std::time::Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_256_bit_and_distinct() {
        let a = generate().expect("randomness");
        let b = generate().expect("randomness");
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 43);
        let raw = URL_SAFE_NO_PAD
            .decode(&a[PREFIX.len()..])
            .expect("base64url");
        assert_eq!(raw.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn records_survive_their_secret() {
        let record = TokenRecord {
            id: "scimitar-token-acme-1a2b3c".into(),
            tenant: "acme".into(),
            name: "JumpCloud SCIM".into(),
            scopes: BTreeSet::from([Scope::Scim, Scope::Logs]),
            digest: super::super::token_digest("sct_x"),
            created: None,
            expires: Some("2027-01-01T00:00:00Z".parse().expect("time")),
            last_used: None,
            tenant_uid: Some("0b6f5d9e-uid".into()),
        };
        let secret = record.to_secret("scimitar-system");
        assert_eq!(TokenRecord::from_secret(&secret), Some(record.clone()));
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
            digest: super::super::token_digest("sct_x"),
            created: None,
            expires: None,
            last_used: None,
            tenant_uid: None,
        };
        let mut secret = record.to_secret("scimitar-system");
        secret
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(EXPIRES_ANNOTATION.into(), "next tuesday".into());
        let read = TokenRecord::from_secret(&secret).expect("still a token");
        assert!(!read.is_valid_at(jiff::Timestamp::now()));
    }

    #[test]
    fn tokens_belong_to_the_tenant_they_were_issued_for() {
        let at = |s: i64| jiff::Timestamp::from_second(s).expect("time");
        let mut record = TokenRecord {
            id: "t".into(),
            tenant: "acme".into(),
            name: "t".into(),
            scopes: BTreeSet::from([Scope::Scim]),
            digest: [0; 32],
            created: Some(at(200)),
            expires: None,
            last_used: None,
            tenant_uid: Some("uid-1".into()),
        };
        assert!(record.belongs_to(Some("uid-1"), Some(at(100))));
        // acme deleted and created again: a new uid.
        assert!(!record.belongs_to(Some("uid-2"), Some(at(300))));
        assert!(!record.belongs_to(None, Some(at(100))));
        // A token from before uids were recorded: only if not older than the tenant.
        record.tenant_uid = None;
        assert!(record.belongs_to(Some("uid-1"), Some(at(100))));
        assert!(!record.belongs_to(Some("uid-2"), Some(at(300))));
        assert!(!record.belongs_to(Some("uid-2"), None));
    }

    #[test]
    fn lifetimes_parse_with_units() {
        assert_eq!(
            parse_lifetime("90d"),
            Some(std::time::Duration::from_secs(90 * 86_400))
        );
        assert_eq!(
            parse_lifetime("30m"),
            Some(std::time::Duration::from_secs(1800))
        );
        assert_eq!(parse_lifetime("0d"), None);
        assert_eq!(parse_lifetime("5y"), None);
        assert_eq!(parse_lifetime("d"), None);
    }
}
