//! The tenants' API tokens, as the operator sees them, and the authenticator
//! that checks a presented token against them.
//!
//! Token Secrets (see [`crate::auth::token`]) live in the operator's
//! namespace and are watched there, so a token created with `scimitar token
//! create` works, and a revoked one stops working, on every replica within
//! about a second. Watching one namespace needs only a Role there, not
//! cluster-wide access to Secrets.
//!
//! Last use is recorded in memory on every request and written to the token's
//! Secret at most once per [`LAST_USED_EVERY`], so a busy IdP does not turn
//! into a stream of Secret writes.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use super::tenants::Tenants;
use super::token_secrets::record_of;
use crate::auth::token::TokenRecord;
use crate::auth::{Principal, Scope, TokenAuthenticator, find_constant_time};
use crate::meta::{LAST_USED_ANNOTATION, TOKEN_LABEL};

/// How often last-use times are written back.
pub const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// Token records by id (Secret name).
#[derive(Default)]
pub struct Tokens {
    records: RwLock<HashMap<String, TokenRecord>>,
    synced: AtomicBool,
    /// Tokens used and not yet seen written back, with when.
    used: Mutex<HashMap<String, jiff::Timestamp>>,
}

impl Tokens {
    /// Whether the token watch has delivered its first listing.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Watches token Secrets in `namespace` and writes back last-use times,
    /// until the watch ends.
    pub async fn run(self: Arc<Self>, client: Client, namespace: String) {
        let api: Api<Secret> = Api::namespaced(client, &namespace);
        let writer = tokio::spawn(self.clone().write_last_used(api.clone()));
        let config = crate::kubeclient::watch_config().labels(&format!("{TOKEN_LABEL}=true"));
        let mut listed = HashMap::new();
        let mut events = watcher(api, config).default_backoff().boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Init) => listed.clear(),
                Ok(Event::InitApply(secret)) => {
                    if let Some(record) = record_of(&secret) {
                        listed.insert(record.id.clone(), record);
                    }
                }
                Ok(Event::InitDone) => {
                    *self.records.write().unwrap_or_else(|e| e.into_inner()) =
                        std::mem::take(&mut listed);
                    self.synced.store(true, Ordering::Release);
                }
                Ok(Event::Apply(secret)) => {
                    let mut records = self.records.write().unwrap_or_else(|e| e.into_inner());
                    match record_of(&secret) {
                        Some(record) => records.insert(record.id.clone(), record),
                        // Edited into something that is not a token: it no longer works.
                        None => records.remove(secret.metadata.name.as_deref().unwrap_or_default()),
                    };
                }
                Ok(Event::Delete(secret)) => {
                    let mut records = self.records.write().unwrap_or_else(|e| e.into_inner());
                    records.remove(secret.metadata.name.as_deref().unwrap_or_default());
                }
                Err(error) => tracing::warn!(%error, %namespace, "watching token Secrets"),
            }
        }
        writer.abort();
    }

    /// The tokens of `tenant` this replica knows, with last use as this
    /// replica saw it (uses not yet written back included), sorted by
    /// creation.
    pub fn of_tenant(&self, tenant: &str) -> Vec<TokenRecord> {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let records = self.records.read().unwrap_or_else(|e| e.into_inner());
        let mut mine: Vec<TokenRecord> = records
            .values()
            .filter(|r| r.tenant == tenant)
            .map(|r| {
                let mut r = r.clone();
                if let Some(at) = used.get(&r.id) {
                    r.last_used = r.last_used.max(Some(*at));
                }
                r
            })
            .collect();
        mine.sort_by(|a, b| (&a.created, &a.id).cmp(&(&b.created, &b.id)));
        mine
    }

    /// Every known token that has an expiry: its tenant, id and expiry
    /// (the `scimitar_api_token_expiry_timestamp_seconds` metric).
    pub fn expiring(&self) -> Vec<(String, String, jiff::Timestamp)> {
        let records = self.records.read().unwrap_or_else(|e| e.into_inner());
        records
            .values()
            .filter_map(|r| Some((r.tenant.clone(), r.id.clone(), r.expires?)))
            .collect()
    }

    /// Whether the watch has seen the token `id` (a new token works on this
    /// replica once it has).
    pub fn knows(&self, id: &str) -> bool {
        let records = self.records.read().unwrap_or_else(|e| e.into_inner());
        records.contains_key(id)
    }

    fn record_use(&self, id: &str) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.insert(id.to_owned(), jiff::Timestamp::now());
    }

    async fn write_last_used(self: Arc<Self>, api: Api<Secret>) {
        loop {
            tokio::time::sleep(LAST_USED_EVERY).await;
            // A use stays in `used` until the watch shows it written: the
            // console reads last use from both, and draining here showed
            // "never used" between the write and its watch event. Uses of
            // tokens that are gone are dropped, so this holds at most one
            // entry per token.
            let used = {
                let records = self.records.read().unwrap_or_else(|e| e.into_inner());
                let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
                unwritten_uses(&records, &mut used)
            };
            for (id, at) in used {
                let patch = serde_json::json!({"metadata": {"annotations": {LAST_USED_ANNOTATION: at.to_string()}}});
                if let Err(error) = api
                    .patch(&id, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    tracing::debug!(token = %id, %error, "could not record the token's last use");
                }
            }
        }
    }
}

/// The uses in `used` that the watched `records` do not show written yet,
/// forgetting the others (written, or of a token that is gone).
fn unwritten_uses(
    records: &HashMap<String, TokenRecord>,
    used: &mut HashMap<String, jiff::Timestamp>,
) -> Vec<(String, jiff::Timestamp)> {
    used.retain(|id, at| records.get(id).is_some_and(|r| r.last_used < Some(*at)));
    used.iter().map(|(id, at)| (id.clone(), *at)).collect()
}

/// Checks bearer tokens against the tenants' API tokens and the digests the
/// tenants reference from their spec.
pub struct KubeAuthenticator {
    pub tenants: Arc<Tenants>,
    pub tokens: Arc<Tokens>,
}

/// Where a matching digest came from.
enum Source {
    Token(TokenRecord),
    Referenced(String),
}

impl TokenAuthenticator for KubeAuthenticator {
    fn is_loaded(&self) -> bool {
        self.tokens.is_synced() && self.tenants.secrets_loaded()
    }

    fn authenticate(&self, token: &str) -> Option<Principal> {
        let now = jiff::Timestamp::now();
        let records: Vec<TokenRecord> = {
            let records = self
                .tokens
                .records
                .read()
                .unwrap_or_else(|e| e.into_inner());
            records.values().cloned().collect()
        };
        let referenced = self.tenants.referenced_digests();
        let candidates: Vec<([u8; 32], Source)> = records
            .into_iter()
            .map(|r| (r.digest, Source::Token(r)))
            .chain(
                referenced
                    .into_iter()
                    .map(|(d, t)| (d, Source::Referenced(t))),
            )
            .collect();
        let found = find_constant_time(token, candidates.iter().map(|(d, s)| (d, s)));
        let belongs = |record: &TokenRecord| {
            self.tenants
                .identity_of(&record.tenant)
                .is_some_and(|(uid, created)| record.belongs_to(uid.as_deref(), created))
        };
        let principal = match found {
            Some(Source::Token(record)) if record.is_valid_at(now) && belongs(record) => {
                self.tokens.record_use(&record.id);
                Principal {
                    tenant: record.tenant.clone(),
                    token: record.id.clone(),
                    scopes: record.scopes.clone(),
                }
            }
            Some(Source::Referenced(tenant)) => Principal {
                tenant: tenant.clone(),
                token: format!("{tenant}/tokenSecretRef"),
                scopes: BTreeSet::from([Scope::Scim]),
            },
            // Expired, or for a tenant that no longer exists (or exists
            // again under the same name, which is another tenant).
            Some(Source::Token(_)) => return None,
            None => {
                self.tenants.nudge();
                return None;
            }
        };
        Some(principal)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::unwritten_uses;
    use crate::auth::Scope;
    use crate::auth::token::TokenRecord;

    fn record(id: &str, last_used: Option<i64>) -> (String, TokenRecord) {
        let at = |s: i64| jiff::Timestamp::from_second(s).expect("time");
        let record = TokenRecord {
            id: id.into(),
            tenant: "acme".into(),
            name: id.into(),
            scopes: BTreeSet::from([Scope::Scim]),
            digest: [0; 32],
            created: None,
            expires: None,
            last_used: last_used.map(at),
            tenant_uid: None,
        };
        (id.to_owned(), record)
    }

    #[test]
    fn a_use_is_kept_until_the_watch_shows_it_written() {
        let at = |s: i64| jiff::Timestamp::from_second(s).expect("time");
        let mut used = HashMap::from([
            ("new".to_owned(), at(100)),
            ("written".to_owned(), at(100)),
            ("later-elsewhere".to_owned(), at(100)),
            ("gone".to_owned(), at(100)),
        ]);
        let records = HashMap::from([
            record("new", None),
            record("written", Some(100)),
            record("later-elsewhere", Some(160)),
        ]);
        let due = unwritten_uses(&records, &mut used);
        assert_eq!(due, vec![("new".to_owned(), at(100))]);
        // Still shown (and written again next round) until its echo arrives.
        assert_eq!(used, HashMap::from([("new".to_owned(), at(100))]));
        let records = HashMap::from([record("new", Some(100))]);
        assert!(unwritten_uses(&records, &mut used).is_empty());
        assert!(used.is_empty());
    }
}
