//! Who is calling: bearer tokens resolved to a [`Principal`] (a tenant and
//! what the token may do). Shared by the SCIM API and the SCIM log API.
//!
//! Only SHA-256 digests of tokens are held, and a presented token is compared
//! with every known digest in constant time, so neither timing nor an early
//! exit tells an attacker how close a guess was or which tenants exist.
//!
//! Imports: `crd`, `scim`, `meta` and its own layer; must not import `store`,
//! `controller`, `http`, `console`, `leader`, `operator`, `serve`, `cli`,
//! `token_admin`, `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

pub mod token;

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The SCIM API (`/scim/v2`): what an identity provider needs.
    Scim,
    /// Reading the tenant's SCIM request log (`/api/v1/tenants/{tenant}/scim-logs`).
    Logs,
}

impl Scope {
    /// The name used in CLI flags and Secret annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Scim => "scim",
            Scope::Logs => "logs",
        }
    }

    /// Parses `scim` or `logs`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "scim" => Some(Scope::Scim),
            "logs" => Some(Scope::Logs),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant the token belongs to.
    pub tenant: String,
    /// Which token it was (its id), for logs and last-used bookkeeping.
    pub token: String,
    /// What it may do.
    pub scopes: BTreeSet<Scope>,
}

impl Principal {
    /// Whether the token grants `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Resolves a presented bearer token.
pub trait TokenAuthenticator: Send + Sync + 'static {
    /// The principal, or `None` for an unknown, revoked or expired token.
    fn authenticate(&self, token: &str) -> Option<Principal>;

    /// Whether every token that exists is known. Until then an unknown
    /// token may be a valid one, and is answered 503, not 401: identity
    /// providers read 401 as wrong credentials (Entra quarantines the job).
    fn is_loaded(&self) -> bool {
        true
    }
}

/// The SHA-256 digest under which tokens are stored.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Finds the entry whose digest matches `token`, visiting every entry
/// whatever matches, so timing does not depend on position or existence.
/// A token that matches more than one entry (the same digest referenced by
/// two tenants) matches none: which tenant it speaks for is not clear.
pub fn find_constant_time<'a, T>(
    token: &str,
    entries: impl IntoIterator<Item = (&'a [u8; 32], T)>,
) -> Option<T> {
    let digest = token_digest(token);
    let mut found = None;
    let mut matches = 0u32;
    for (known, value) in entries {
        if bool::from(known.ct_eq(&digest)) {
            found = Some(value);
            matches = matches.saturating_add(1);
        }
    }
    (matches == 1).then_some(found).flatten()
}

/// A fixed set of tokens with every scope, for `scimitar serve` and tests.
pub struct StaticTokens {
    entries: Vec<([u8; 32], String)>,
}

impl StaticTokens {
    /// Tokens given as `(tenant, token)` pairs; only their digests are kept.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let entries = pairs
            .into_iter()
            .map(|(tenant, token)| (token_digest(&token), tenant))
            .collect();
        Self { entries }
    }
}

impl TokenAuthenticator for StaticTokens {
    fn authenticate(&self, token: &str) -> Option<Principal> {
        let tenant = find_constant_time(token, self.entries.iter().map(|(d, t)| (d, t)))?;
        Some(Principal {
            tenant: tenant.clone(),
            token: "static".into(),
            scopes: BTreeSet::from([Scope::Scim, Scope::Logs]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_tokens_resolve_only_their_own_tenant() {
        let tokens = StaticTokens::new([
            ("a".to_owned(), "token-a".to_owned()),
            ("b".to_owned(), "token-b".to_owned()),
        ]);
        assert_eq!(
            tokens.authenticate("token-b").map(|p| p.tenant).as_deref(),
            Some("b")
        );
        assert!(tokens.authenticate("token-c").is_none());
        assert!(tokens.authenticate("").is_none());
    }

    #[test]
    fn a_token_matching_two_entries_matches_none() {
        let tokens = StaticTokens::new([
            ("a".to_owned(), "shared".to_owned()),
            ("b".to_owned(), "shared".to_owned()),
        ]);
        assert!(tokens.authenticate("shared").is_none());
    }
}
