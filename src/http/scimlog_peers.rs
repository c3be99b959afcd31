//! One SCIM log across replicas: the serving replica's side. Each replica
//! keeps its own log in memory ([`ScimLog`]); a listing (the log API, the
//! console's page and both CSV downloads) asks every other replica of the
//! installation for its part and merges them ([`crate::scimlog::merge`]).
//!
//! - Peers are found through the EndpointSlices of the chart's Service
//!   (`kubernetes.io/service-name=<service>` in the operator's namespace),
//!   listed at each listing: ready or not, every address but this pod's is
//!   asked (a replica that is not ready may still hold entries, and if it
//!   does not answer it is named).
//! - Each is asked over the internal endpoint ([`super::scimlog_internal`])
//!   on `--peer-listen`'s port, with this pod's projected ServiceAccount token
//!   (audience `--peer-audience`, read from its file at each listing since
//!   the kubelet rotates it), all at once, each within `--peer-timeout-ms`,
//!   each answer within a byte budget (read in chunks; the answer is dropped
//!   once it exceeds the budget).
//! - A peer that does not answer, answers an error, exceeds the budget or
//!   answers entries of another tenant is left out and named
//!   ([`Unavailable`]); the listing is never silently short.
//!
//! Imports: `crate::scimlog`; nothing of the console or the SCIM API.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams};

use crate::scimlog::merge::{self, Merged, Part, Unavailable};
use crate::scimlog::{Query, ScimLog};

/// Path of the internal endpoint; `{tenant}` is the tenant's name.
pub const INTERNAL_PATH: &str = "/internal/v1/scim-logs/{tenant}";

/// At most this many peers are asked; more are named as not asked.
pub const MAX_PEERS: usize = 16;

/// This replica's name in listings: its pod's name (`POD_NAME`, from the
/// downward API), else the host's name.
pub fn this_replica() -> String {
    [
        std::env::var("POD_NAME").ok(),
        std::env::var("HOSTNAME").ok(),
    ]
    .into_iter()
    .flatten()
    .chain(
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned()),
    )
    .find(|name| !name.is_empty())
    .unwrap_or_else(|| "scimitar".to_owned())
}

/// How this replica reaches its peers.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// The operator's namespace (its Service and EndpointSlices).
    pub namespace: String,
    /// The Service whose EndpointSlices list the replicas.
    pub service: String,
    /// The internal endpoint's port on every replica.
    pub port: u16,
    /// This replica's pod name and address (left out of the peers).
    pub pod_name: String,
    pub pod_ip: Option<IpAddr>,
    /// The projected ServiceAccount token sent to peers.
    pub token_file: PathBuf,
    /// Time each peer has to answer.
    pub timeout: Duration,
    /// Bytes each peer's answer may take.
    pub answer_bytes: usize,
}

/// The peers and the means to ask them.
pub struct Peers {
    settings: PeerSettings,
    client: Client,
    http: reqwest::Client,
}

impl Peers {
    /// Peers found with `client`, as `settings` say.
    pub fn new(client: Client, settings: PeerSettings) -> anyhow::Result<Self> {
        // No timeout of the client's own: `ask` bounds each peer (connect,
        // answer and body) with one, so the reason names it the same way.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(Self {
            settings,
            client,
            http,
        })
    }
}

/// A peer to ask: its pod's name (or address) and address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Peer {
    name: String,
    address: SocketAddr,
}

/// The replicas' log, as one: this replica's [`ScimLog`] and its peers'.
pub struct ClusterLog {
    local: Arc<ScimLog>,
    /// This replica's name in listings (its pod's name).
    replica: String,
    peers: Option<Peers>,
}

impl ClusterLog {
    /// This replica's log only (one replica, `scimitar serve`, tests).
    pub fn local(local: Arc<ScimLog>, replica: impl Into<String>) -> Self {
        Self {
            local,
            replica: replica.into(),
            peers: None,
        }
    }

    /// This replica's log and its peers'.
    pub fn with_peers(local: Arc<ScimLog>, replica: impl Into<String>, peers: Peers) -> Self {
        Self {
            local,
            replica: replica.into(),
            peers: Some(peers),
        }
    }

    /// This replica's own log.
    pub fn log(&self) -> &Arc<ScimLog> {
        &self.local
    }

    /// A page of `tenant`'s entries of every replica (`limit` = the query's),
    /// or with `all`, every matching entry (the CSV downloads).
    pub async fn listing(&self, tenant: &str, query: &Query, all: bool) -> Merged {
        let limit = (!all).then_some(query.limit);
        let mine = self.local.part(tenant, query, &self.replica, limit);
        let Some(peers) = &self.peers else {
            return merge::merge(vec![mine], Vec::new(), limit);
        };
        let (mut parts, unavailable) = peers.ask(tenant, query, limit).await;
        parts.insert(0, mine);
        merge::merge(parts, unavailable, limit)
    }
}

impl Peers {
    /// Every peer's part, and the peers that did not give one.
    async fn ask(
        &self,
        tenant: &str,
        query: &Query,
        limit: Option<usize>,
    ) -> (Vec<Part>, Vec<Unavailable>) {
        let mut unavailable = Vec::new();
        let mut peers = match self.discover().await {
            Ok(peers) => peers,
            Err(reason) => {
                let missing = Unavailable {
                    replica: "other replicas".into(),
                    address: format!("Service {}", self.settings.service),
                    reason,
                };
                return (Vec::new(), vec![missing]);
            }
        };
        for extra in peers.drain(MAX_PEERS.min(peers.len())..) {
            unavailable.push(Unavailable {
                replica: extra.name,
                address: extra.address.to_string(),
                reason: format!("not asked: more than {MAX_PEERS} replicas"),
            });
        }
        if peers.is_empty() {
            return (Vec::new(), unavailable);
        }
        // A small file on a tmpfs the kubelet writes: read in place.
        let token = match std::fs::read_to_string(&self.settings.token_file) {
            Ok(token) if !token.trim().is_empty() => token.trim().to_owned(),
            Ok(_) | Err(_) => {
                let reason = format!(
                    "not asked: no ServiceAccount token in {}",
                    self.settings.token_file.display()
                );
                unavailable.extend(peers.into_iter().map(|peer| Unavailable {
                    replica: peer.name,
                    address: peer.address.to_string(),
                    reason: reason.clone(),
                }));
                return (Vec::new(), unavailable);
            }
        };
        let asked = peers.into_iter().map(|peer| {
            let token = token.as_str();
            async move {
                let answer = tokio::time::timeout(
                    self.settings.timeout,
                    self.ask_one(&peer, token, tenant, query, limit),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "no answer within {} ms",
                        self.settings.timeout.as_millis()
                    ))
                });
                (peer, answer)
            }
        });
        let mut parts = Vec::new();
        for (peer, answer) in futures::future::join_all(asked).await {
            match answer {
                Ok(part) => parts.push(part),
                Err(reason) => {
                    tracing::warn!(peer = %peer.name, address = %peer.address, %reason, "a replica's SCIM log is missing from a listing");
                    unavailable.push(Unavailable {
                        replica: peer.name,
                        address: peer.address.to_string(),
                        reason,
                    });
                }
            }
        }
        (parts, unavailable)
    }

    /// Every replica's address in the Service's EndpointSlices but this one's.
    async fn discover(&self) -> Result<Vec<Peer>, String> {
        let api: Api<EndpointSlice> =
            Api::namespaced(self.client.clone(), &self.settings.namespace);
        let selector = format!("kubernetes.io/service-name={}", self.settings.service);
        let slices = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| format!("listing the EndpointSlices of the Service: {e}"))?;
        Ok(peers_in(
            &slices.items,
            &self.settings.pod_name,
            self.settings.pod_ip,
            self.settings.port,
        ))
    }

    async fn ask_one(
        &self,
        peer: &Peer,
        token: &str,
        tenant: &str,
        query: &Query,
        limit: Option<usize>,
    ) -> Result<Part, String> {
        let mut pairs = query.to_pairs();
        match limit {
            Some(limit) => pairs.push(("limit", limit.to_string())),
            None => pairs.push(("all", "true".into())),
        }
        let path = INTERNAL_PATH.replace("{tenant}", &percent_segment(tenant));
        let mut url = reqwest::Url::parse(&format!("http://{}{path}", peer.address))
            .map_err(|e| format!("bad address: {e}"))?;
        url.query_pairs_mut().extend_pairs(pairs);
        let mut part = fetch(&self.http, url, token, self.settings.answer_bytes).await?;
        if part.entries.iter().any(|e| e.tenant != tenant) {
            return Err("answered entries of another tenant".into());
        }
        if let Some(limit) = limit
            && part.entries.len() > limit
        {
            part.entries.truncate(limit);
            part.more = true;
        }
        // Named as the EndpointSlice names it, whatever it calls itself.
        part.replica = peer.name.clone();
        Ok(part)
    }
}

/// GETs a peer's part at `url` with `token`, reading at most `budget` bytes
/// of its answer.
async fn fetch(
    http: &reqwest::Client,
    url: reqwest::Url,
    token: &str,
    budget: usize,
) -> Result<Part, String> {
    let mut response = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("not reachable: {}", error_chain(&e)))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("answer cut: {}", error_chain(&e)))?
    {
        if body.len() + chunk.len() > budget {
            return Err(format!("answer over the budget of {budget} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let detail = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(format!("answered {status}: {detail}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("unreadable answer: {e}"))
}

/// The peers in `slices`: every address but this pod's (by name or IP),
/// once, in a stable order.
fn peers_in(
    slices: &[EndpointSlice],
    pod_name: &str,
    pod_ip: Option<IpAddr>,
    port: u16,
) -> Vec<Peer> {
    let mut peers: Vec<Peer> = Vec::new();
    for slice in slices {
        for endpoint in &slice.endpoints {
            let name = endpoint.target_ref.as_ref().and_then(|r| r.name.clone());
            if name.as_deref() == Some(pod_name) {
                continue;
            }
            let Some(ip) = endpoint
                .addresses
                .iter()
                .find_map(|a| a.parse::<IpAddr>().ok())
            else {
                continue;
            };
            if Some(ip) == pod_ip {
                continue;
            }
            let address = SocketAddr::new(ip, port);
            if peers.iter().any(|p| p.address == address) {
                continue;
            }
            peers.push(Peer {
                name: name.unwrap_or_else(|| ip.to_string()),
                address,
            });
        }
    }
    peers.sort_by(|a, b| (&a.name, a.address).cmp(&(&b.name, b.address)));
    peers
}

/// A tenant's name as one path segment (names are DNS labels; anything else
/// is escaped rather than trusted).
fn percent_segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An error and its causes, in one line (reqwest's own message hides them).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::api::discovery::v1::Endpoint;

    use super::*;

    fn endpoint(name: Option<&str>, ip: &str) -> Endpoint {
        Endpoint {
            addresses: vec![ip.into()],
            target_ref: name.map(|n| ObjectReference {
                kind: Some("Pod".into()),
                name: Some(n.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn peers_are_every_other_address_once() {
        let slices = [
            EndpointSlice {
                endpoints: vec![
                    endpoint(Some("scimitar-a"), "10.0.0.1"),
                    endpoint(Some("scimitar-b"), "10.0.0.2"),
                    endpoint(None, "10.0.0.3"),
                ],
                ..Default::default()
            },
            EndpointSlice {
                // The same pod in a second slice (an IPv4 and a mirror), and
                // this pod by address only.
                endpoints: vec![
                    endpoint(Some("scimitar-b"), "10.0.0.2"),
                    endpoint(None, "10.0.0.9"),
                    endpoint(Some("odd"), "not-an-ip"),
                ],
                ..Default::default()
            },
        ];
        let peers = peers_in(&slices, "scimitar-a", "10.0.0.9".parse().ok(), 8081);
        assert_eq!(
            peers,
            [
                Peer {
                    name: "10.0.0.3".into(),
                    address: "10.0.0.3:8081".parse().unwrap()
                },
                Peer {
                    name: "scimitar-b".into(),
                    address: "10.0.0.2:8081".parse().unwrap()
                },
            ]
        );
    }

    #[test]
    fn tenant_names_are_one_path_segment() {
        assert_eq!(percent_segment("acme-dev"), "acme-dev");
        assert_eq!(percent_segment("a/b c"), "a%2Fb%20c");
    }

    /// Serves `router` on a loopback port; its URL.
    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn an_answer_over_the_byte_budget_is_dropped_and_named() {
        let log = Arc::new(ScimLog::default());
        for i in 0..50 {
            let mut record = crate::scimlog::Record {
                time: jiff::Timestamp::now(),
                tenant: "acme".into(),
                method: "POST".into(),
                path: format!("/scim/v2/Users/{i}"),
                resource_type: crate::scimlog::ResourceType::User,
                status: 201,
                duration_ms: 1.0,
                request_body: None,
                response_body: None,
            };
            record.request_body = crate::scimlog::Body::capture("x".repeat(1000).as_bytes());
            log.record(record);
        }
        struct Any;
        impl super::super::scimlog_internal::PeerVerifier for Any {
            async fn verify(&self, _: &str) -> Result<(), super::super::scimlog_internal::Refusal> {
                Ok(())
            }
        }
        let base = serve(super::super::scimlog_internal::router(log, "pod-b", Any)).await;
        let url = |q: &str| {
            reqwest::Url::parse(&format!("{base}/internal/v1/scim-logs/acme?{q}")).unwrap()
        };
        let http = reqwest::Client::new();

        let part = fetch(&http, url("all=true"), "t", 200_000).await.unwrap();
        assert_eq!(part.entries.len(), 50);
        let error = fetch(&http, url("all=true"), "t", 40_000)
            .await
            .unwrap_err();
        assert_eq!(error, "answer over the budget of 40000 bytes");
        // A page fits where everything does not.
        let page = fetch(&http, url("limit=5"), "t", 40_000).await.unwrap();
        assert_eq!(page.entries.len(), 5);
        assert!(page.more);

        // Nobody listening: named with why.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gone = closed.local_addr().unwrap();
        drop(closed);
        let url =
            reqwest::Url::parse(&format!("http://{gone}/internal/v1/scim-logs/acme")).unwrap();
        let error = fetch(&http, url, "t", 40_000).await.unwrap_err();
        assert!(error.starts_with("not reachable"), "{error}");
    }

    #[tokio::test]
    async fn without_peers_the_listing_is_this_replicas() {
        let log = Arc::new(ScimLog::default());
        log.record(crate::scimlog::Record {
            time: jiff::Timestamp::now(),
            tenant: "acme".into(),
            method: "GET".into(),
            path: "/scim/v2/Users".into(),
            resource_type: crate::scimlog::ResourceType::User,
            status: 200,
            duration_ms: 1.0,
            request_body: None,
            response_body: None,
        });
        let cluster = ClusterLog::local(log, "pod-a");
        let page = cluster.listing("acme", &Query::default(), false).await;
        assert_eq!(page.replicas, ["pod-a"]);
        assert_eq!(page.entries.len(), 1);
        assert_eq!(&*page.entries[0].replica, "pod-a");
        assert!(page.unavailable.is_empty());
    }
}
