//! SCIM API tokens: their format and the record kept of each one.
//!
//! A token is `sct_` followed by 43 base64url characters (32 random bytes, 256
//! bits): the prefix makes a leaked token easy to recognise (secret scanners
//! match on it), the rest makes it unguessable. It is shown once, when
//! created. The cluster keeps only its SHA-256 digest, in a Secret in the
//! operator's namespace, labelled with the tenant; the Secret also holds the
//! token's name, scopes, creation time, optional expiry and last use
//! (`store::kube::token_secrets` writes and reads those Secrets).
//!
//! Imports: `meta` only; no Kubernetes code.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Scope;

/// Every token starts with this.
pub const PREFIX: &str = "sct_";

/// A new random token. Fails only if the operating system has no randomness.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
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
        crate::meta::made_for(self.tenant_uid.as_deref(), self.created, uid, created)
            .unwrap_or(false)
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
