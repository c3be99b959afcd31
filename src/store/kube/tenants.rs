//! The tenants this operator serves: which namespace each one's resources
//! live in, and the digest of the bearer token that identifies it.
//!
//! Fed by a watch on `ScimTenant`s; token digests are read from the Secrets
//! the tenants reference, on every tenant change, every [`REFRESH`], and soon
//! after an unknown token is presented (at most once per [`NUDGE_GAP`]), so a
//! newly created or rotated token works within about a second.
//!
//! A namespace claimed by two tenants belongs to the older one; the other gets
//! no namespace at all (its requests fail), so tenants can never share data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::Notify;

use crate::auth::token::parse_hex;
use crate::crd::{ScimTenant, SecretKeyRef};

/// Periodic re-read of token Secrets.
pub const REFRESH: Duration = Duration::from_secs(10);
/// Minimum gap between re-reads triggered by unknown tokens.
pub const NUDGE_GAP: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct Entry {
    namespace: String,
    created: Option<jiff::Timestamp>,
    token_ref: Option<SecretKeyRef>,
    digest: Option<[u8; 32]>,
}

/// Tenant name → namespace and token digest.
#[derive(Default)]
pub struct Tenants {
    entries: RwLock<HashMap<String, Entry>>,
    synced: AtomicBool,
    refresh: Notify,
}

impl Tenants {
    /// Whether the tenant watch has delivered its first listing.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// The namespace holding `tenant`'s resources; `None` for an unknown
    /// tenant, or one whose namespace an older tenant already claims.
    pub fn namespace_of(&self, tenant: &str) -> Option<String> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(tenant)?;
        (owner(&entries, &entry.namespace)? == tenant).then(|| entry.namespace.clone())
    }

    /// The tenant owning `namespace`, if any.
    pub fn tenant_of_namespace(&self, namespace: &str) -> Option<String> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        owner(&entries, namespace).map(str::to_owned)
    }

    /// Every tenant's name.
    pub fn names(&self) -> Vec<String> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.keys().cloned().collect()
    }

    /// Whether `tenant` has a usable token digest loaded.
    pub fn has_token(&self, tenant: &str) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(tenant).is_some_and(|e| e.digest.is_some())
    }

    /// Watches tenants and keeps token digests fresh, until the stream ends.
    pub async fn run(self: Arc<Self>, client: Client) {
        let refresher = tokio::spawn(self.clone().refresh_tokens(client.clone()));
        let api: Api<ScimTenant> = Api::all(client);
        let mut listed: HashMap<String, Entry> = HashMap::new();
        let mut events = watcher(api, crate::kubeclient::watch_config())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Init) => listed.clear(),
                Ok(Event::InitApply(tenant)) => {
                    listed.insert(tenant.name_any(), self.entry_for(&tenant));
                }
                Ok(Event::InitDone) => {
                    let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                    *entries = std::mem::take(&mut listed);
                    drop(entries);
                    self.synced.store(true, Ordering::Release);
                    self.refresh.notify_one();
                }
                Ok(Event::Apply(tenant)) => {
                    let entry = self.entry_for(&tenant);
                    let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                    entries.insert(tenant.name_any(), entry);
                    drop(entries);
                    self.refresh.notify_one();
                }
                Ok(Event::Delete(tenant)) => {
                    let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                    entries.remove(&tenant.name_any());
                }
                Err(error) => tracing::warn!(%error, "watching ScimTenants"),
            }
        }
        refresher.abort();
    }

    /// A fresh entry that keeps the digest already loaded while the token
    /// reference is unchanged (the refresher re-reads it anyway).
    fn entry_for(&self, tenant: &ScimTenant) -> Entry {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let token_ref = tenant.spec.token_secret_ref.clone();
        let digest = entries
            .get(&tenant.name_any())
            .filter(|old| old.token_ref == token_ref)
            .and_then(|old| old.digest);
        Entry {
            namespace: tenant.spec.namespace.clone(),
            created: tenant.metadata.creation_timestamp.as_ref().map(|t| t.0),
            token_ref,
            digest,
        }
    }

    async fn refresh_tokens(self: Arc<Self>, client: Client) {
        loop {
            let wanted: Vec<(String, String, SecretKeyRef)> = {
                let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
                entries
                    .iter()
                    .filter_map(|(name, e)| {
                        e.token_ref
                            .clone()
                            .map(|r| (name.clone(), e.namespace.clone(), r))
                    })
                    .collect()
            };
            for (tenant, namespace, reference) in wanted {
                let digest = match read_digest(&client, &namespace, &reference).await {
                    Ok(digest) => Some(digest),
                    // The API server did not answer: keep the token we know, so
                    // an API server restart does not lock every IdP out.
                    Err(Unreadable::Transient(problem)) => {
                        tracing::warn!(%tenant, %problem, "could not re-read the tenant token; keeping the last one");
                        continue;
                    }
                    Err(Unreadable::Invalid(problem)) => {
                        tracing::warn!(%tenant, %problem, "tenant token unusable");
                        None
                    }
                };
                let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                if let Some(entry) = entries.get_mut(&tenant)
                    && entry.token_ref.as_ref() == Some(&reference)
                {
                    entry.digest = digest;
                }
            }
            let _ = tokio::time::timeout(REFRESH, self.refresh.notified()).await;
            tokio::time::sleep(NUDGE_GAP).await;
        }
    }
}

/// The oldest tenant (then by name) naming `namespace`.
fn owner<'a>(entries: &'a HashMap<String, Entry>, namespace: &str) -> Option<&'a str> {
    entries
        .iter()
        .filter(|(_, e)| e.namespace == namespace)
        .min_by(|(a, ea), (b, eb)| ea.created.cmp(&eb.created).then_with(|| a.cmp(b)))
        .map(|(name, _)| name.as_str())
}

/// Why a token digest could not be read.
enum Unreadable {
    /// The API server did not answer; try again later.
    Transient(String),
    /// The Secret or key is missing, or does not hold a digest: revoke.
    Invalid(String),
}

/// Reads and decodes a token digest Secret key.
async fn read_digest(
    client: &Client,
    tenant_namespace: &str,
    reference: &SecretKeyRef,
) -> Result<[u8; 32], Unreadable> {
    let namespace = reference.namespace.as_deref().unwrap_or(tenant_namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = match secrets.get(&reference.name).await {
        Ok(secret) => secret,
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 403 => {
            return Err(Unreadable::Invalid(format!(
                "Secret {namespace}/{} cannot be read: {}",
                reference.name, status.message
            )));
        }
        Err(error) => {
            return Err(Unreadable::Transient(format!(
                "reading Secret {namespace}/{}: {error}",
                reference.name
            )));
        }
    };
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .ok_or_else(|| {
            Unreadable::Invalid(format!(
                "Secret {namespace}/{} has no key {}",
                reference.name, reference.key
            ))
        })?;
    std::str::from_utf8(&value.0)
        .ok()
        .and_then(|text| parse_hex(text.trim()))
        .ok_or_else(|| {
            Unreadable::Invalid("the value is not a SHA-256 digest (64 hex characters)".into())
        })
}

impl Tenants {
    /// The digests of the tokens tenants reference from their spec
    /// (`tokenSecretRef`, the GitOps path), with their tenant.
    pub fn referenced_digests(&self) -> Vec<([u8; 32], String)> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .filter_map(|(tenant, e)| e.digest.map(|d| (d, tenant.clone())))
            .collect()
    }

    /// Whether `tenant` exists.
    pub fn knows(&self, tenant: &str) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.contains_key(tenant)
    }

    /// Asks for an early re-read of referenced token Secrets (an unknown
    /// token was presented; it may be a new one).
    pub fn nudge(&self) {
        self.refresh.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contested_namespace_belongs_to_the_older_tenant() {
        let tenants = Tenants::default();
        let at = |s: i64| Some(jiff::Timestamp::from_second(s).unwrap_or_default());
        let entry = |created| Entry {
            namespace: "shared".into(),
            created,
            token_ref: None,
            digest: None,
        };
        {
            let mut entries = tenants.entries.write().unwrap_or_else(|e| e.into_inner());
            entries.insert("late".into(), entry(at(200)));
            entries.insert("early".into(), entry(at(100)));
        }
        assert_eq!(tenants.namespace_of("early").as_deref(), Some("shared"));
        assert_eq!(tenants.namespace_of("late"), None);
        assert_eq!(
            tenants.tenant_of_namespace("shared").as_deref(),
            Some("early")
        );
    }
}
