//! The tenants this operator serves: which namespace each one's resources
//! live in, and the digest of the bearer token that identifies it.
//!
//! Fed by the operator's one watch on `ScimTenant`s, which [`Tenants::run`]
//! drives: the same watch fills the reflector store the console and the
//! controller read ([`Tenants::reader`]) and triggers the controller
//! ([`Tenants::applied`]), so each tenant change is received once. Token digests are read from the Secrets
//! the tenants reference, on every tenant change, every [`REFRESH`], and soon
//! after an unknown token is presented (at most once per [`NUDGE_GAP`]), so a
//! newly created or rotated token works within about a second.
//!
//! A namespace claimed by two tenants belongs to the older one; the other gets
//! no namespace at all (its requests fail), so tenants can never share data.
//!
//! Referenced Secrets are read only where [`SecretPolicy`] trusts them; what
//! is wrong with a tenant's Secrets is kept as [`SecretProblem`]s, which the
//! controller publishes in the tenant's status, and announced on
//! [`Tenants::subscribe`] when it changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::{Notify, broadcast};

use super::secrets::{self, SecretPolicy, SecretProblem};
use crate::crd::{ScimTenant, SecretKeyRef};
use crate::meta::parse_hex;

/// Periodic re-read of token Secrets.
pub const REFRESH: Duration = Duration::from_secs(10);
/// Minimum gap between re-reads triggered by unknown tokens.
pub const NUDGE_GAP: Duration = Duration::from_secs(1);
/// Tenant changes a slow subscriber of [`Tenants::applied`] may fall behind
/// by before it is given every tenant again.
const APPLIED_BUFFER: usize = 1024;

#[derive(Clone, Default)]
struct Entry {
    namespace: String,
    uid: Option<String>,
    created: Option<jiff::Timestamp>,
    token_ref: Option<SecretKeyRef>,
    oidc_ref: Option<SecretKeyRef>,
    digest: Option<[u8; 32]>,
    /// What is wrong with the referenced Secrets, as last read.
    problems: Vec<SecretProblem>,
}

/// Tenant name → namespace, uid, token digest and Secret problems.
pub struct Tenants {
    entries: RwLock<HashMap<String, Entry>>,
    synced: AtomicBool,
    /// Whether referenced Secrets have been read once since the first listing.
    secrets_read: AtomicBool,
    refresh: Notify,
    policy: SecretPolicy,
    /// Tenants whose Secret problems changed.
    changed: broadcast::Sender<String>,
    /// Every tenant as last seen, for the console and the controller.
    reader: Store<ScimTenant>,
    /// What fills `reader`; [`Tenants::run`] takes it.
    writer: Mutex<Option<Writer<ScimTenant>>>,
    /// Each tenant created or changed, as the watch saw it.
    applied: broadcast::Sender<ScimTenant>,
}

impl Default for Tenants {
    fn default() -> Self {
        Self::new(SecretPolicy::default())
    }
}

impl Tenants {
    /// Tenants whose Secrets are read under `policy`.
    pub fn new(policy: SecretPolicy) -> Self {
        let (reader, writer) = reflector::store();
        Self {
            entries: RwLock::default(),
            synced: AtomicBool::new(false),
            secrets_read: AtomicBool::new(false),
            refresh: Notify::new(),
            policy,
            changed: broadcast::channel(256).0,
            reader,
            writer: Mutex::new(Some(writer)),
            applied: broadcast::channel(APPLIED_BUFFER).0,
        }
    }

    /// Every tenant as the one watch last saw it (ready after its first
    /// listing).
    pub fn reader(&self) -> Store<ScimTenant> {
        self.reader.clone()
    }

    /// Every tenant now, then each tenant created or changed from now on:
    /// the controller's trigger, so that it needs no watch of its own. A
    /// subscriber that falls behind gets every tenant again.
    pub fn applied(
        &self,
    ) -> impl futures::Stream<Item = Result<ScimTenant, watcher::Error>> + Send + 'static {
        let changes = self.applied.subscribe();
        let reader = self.reader.clone();
        let now: Vec<ScimTenant> = reader.state().iter().map(|t| (**t).clone()).collect();
        let later = futures::stream::unfold(changes, move |mut changes| {
            let reader = reader.clone();
            async move {
                let tenants = match changes.recv().await {
                    Ok(tenant) => vec![tenant],
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        reader.state().iter().map(|t| (**t).clone()).collect()
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                Some((futures::stream::iter(tenants), changes))
            }
        })
        .flatten();
        futures::stream::iter(now).chain(later).map(Ok)
    }

    /// Where referenced Secrets may come from.
    pub fn policy(&self) -> &SecretPolicy {
        &self.policy
    }

    /// Whether the tenant watch has delivered its first listing.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Whether every tenant's referenced token has been read once: before
    /// that, an unknown token may be a valid one not loaded yet.
    pub fn secrets_loaded(&self) -> bool {
        self.is_synced() && self.secrets_read.load(Ordering::Acquire)
    }

    /// Names of tenants whose Secret problems changed.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changed.subscribe()
    }

    /// What is wrong with `tenant`'s referenced Secrets (refusals only).
    pub fn secret_problems(&self, tenant: &str) -> Vec<(&'static str, String)> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(tenant)
            .map(|e| {
                e.problems
                    .iter()
                    .filter_map(|p| match p {
                        SecretProblem::Refused { reason, message } => {
                            Some((*reason, message.clone()))
                        }
                        SecretProblem::Transient(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The uid and creation time of `tenant`, as last seen.
    pub fn identity_of(&self, tenant: &str) -> Option<(Option<String>, Option<jiff::Timestamp>)> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(tenant).map(|e| (e.uid.clone(), e.created))
    }

    /// Whether `namespace` holds some tenant's directory.
    pub fn is_tenant_namespace(&self, namespace: &str) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.values().any(|e| e.namespace == namespace)
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
    /// The one watch of `ScimTenant`s: run it once.
    pub async fn run(self: Arc<Self>, client: Client) {
        let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            tracing::error!("the ScimTenant watch runs once");
            return;
        };
        let refresher = tokio::spawn(self.clone().refresh_tokens(client.clone()));
        let api: Api<ScimTenant> = Api::all(client);
        let mut listed: HashMap<String, Entry> = HashMap::new();
        let mut events = watcher(api, crate::kubeclient::watch_config())
            .default_backoff()
            .reflect(writer)
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
                    // The reader holds the whole listing only from here.
                    for tenant in self.reader.state() {
                        let _ = self.applied.send((*tenant).clone());
                    }
                }
                Ok(Event::Apply(tenant)) => {
                    let entry = self.entry_for(&tenant);
                    let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                    entries.insert(tenant.name_any(), entry);
                    drop(entries);
                    self.refresh.notify_one();
                    let _ = self.applied.send(tenant);
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
    /// reference, namespace and uid are unchanged (the refresher re-reads it
    /// anyway).
    fn entry_for(&self, tenant: &ScimTenant) -> Entry {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let token_ref = tenant.spec.token_secret_ref.clone();
        let namespace = tenant.spec.namespace.clone();
        let uid = tenant.metadata.uid.clone();
        let old = entries.get(&tenant.name_any()).filter(|old| {
            old.token_ref == token_ref && old.namespace == namespace && old.uid == uid
        });
        Entry {
            namespace,
            uid,
            created: tenant.metadata.creation_timestamp.as_ref().map(|t| t.0),
            oidc_ref: tenant
                .spec
                .oidc
                .as_ref()
                .map(|o| o.client_secret_ref.clone()),
            token_ref,
            digest: old.and_then(|old| old.digest),
            problems: old.map(|old| old.problems.clone()).unwrap_or_default(),
        }
    }

    async fn refresh_tokens(self: Arc<Self>, client: Client) {
        loop {
            let wanted: Vec<(String, Entry)> = {
                let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
                entries
                    .iter()
                    .map(|(name, e)| (name.clone(), e.clone()))
                    .collect()
            };
            let synced = self.is_synced();
            for (tenant, seen) in wanted {
                let (digest, problems) = self.read_secrets(&client, &tenant, &seen).await;
                let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                let Some(entry) = entries.get_mut(&tenant) else {
                    continue;
                };
                // The tenant changed meanwhile: its next round reads it again.
                if entry.token_ref != seen.token_ref
                    || entry.oidc_ref != seen.oidc_ref
                    || entry.namespace != seen.namespace
                    || entry.uid != seen.uid
                {
                    continue;
                }
                if let Some(digest) = digest {
                    entry.digest = digest;
                }
                if entry.problems != problems {
                    entry.problems = problems;
                    drop(entries);
                    let _ = self.changed.send(tenant.clone());
                }
            }
            if synced {
                self.secrets_read.store(true, Ordering::Release);
            }
            let _ = tokio::time::timeout(REFRESH, self.refresh.notified()).await;
            tokio::time::sleep(NUDGE_GAP).await;
        }
    }

    /// Reads `tenant`'s referenced Secrets: the new digest (`None`: keep the
    /// one loaded, the API server did not answer; `Some(None)`: revoke) and
    /// every problem found.
    async fn read_secrets(
        &self,
        client: &Client,
        tenant: &str,
        seen: &Entry,
    ) -> (Option<Option<[u8; 32]>>, Vec<SecretProblem>) {
        let is_tenant_namespace = |ns: &str| self.is_tenant_namespace(ns);
        let mut problems = Vec::new();
        let digest = match &seen.token_ref {
            None => Some(None),
            Some(reference) => {
                let read = secrets::read_key(
                    client,
                    &self.policy,
                    tenant,
                    "tokenSecretRef",
                    reference,
                    is_tenant_namespace,
                )
                .await
                .and_then(|value| {
                    std::str::from_utf8(&value)
                        .ok()
                        .and_then(|text| parse_hex(text.trim()))
                        .ok_or_else(|| SecretProblem::Refused {
                            reason: secrets::reason::INVALID,
                            message: format!(
                                "tokenSecretRef key {} is not a SHA-256 digest (64 hex characters)",
                                reference.key
                            ),
                        })
                });
                match read {
                    Ok(digest) => Some(Some(digest)),
                    // The API server did not answer: keep the token we know, so
                    // an API server restart does not lock every IdP out.
                    Err(SecretProblem::Transient(problem)) => {
                        tracing::warn!(%tenant, %problem, "could not re-read the tenant token; keeping the last one");
                        problems.push(SecretProblem::Transient(problem));
                        None
                    }
                    // A refused read of a token already verified keeps it: an
                    // API server that has just started refuses until its
                    // RBAC caches fill, and revoking then would lock the IdP
                    // out. Revoking a token is deleting or changing its
                    // Secret, which is still honoured.
                    Err(
                        refused @ SecretProblem::Refused {
                            reason: secrets::reason::UNREADABLE,
                            ..
                        },
                    ) if seen.digest.is_some() => {
                        tracing::warn!(%tenant, problem = ?refused, "could not re-read the tenant token; keeping the last one");
                        problems.push(refused);
                        None
                    }
                    Err(refused) => {
                        tracing::warn!(%tenant, problem = ?refused, "tenant token not used");
                        problems.push(refused);
                        Some(None)
                    }
                }
            }
        };
        if let Some(reference) = &seen.oidc_ref {
            // Only checked here; the console reads the value at each sign-in.
            if let Err(problem) = secrets::read_key(
                client,
                &self.policy,
                tenant,
                "oidc.clientSecretRef",
                reference,
                is_tenant_namespace,
            )
            .await
            {
                problems.push(problem);
            }
        }
        (digest, problems)
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
            ..Entry::default()
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
