//! The process's Prometheus metrics (`prometheus-client`): one registry, and a
//! typed record function per thing counted. The registry is created by the
//! binary's wiring and passed to whoever records (the HTTP edge, the
//! controller, leader election, the Kubernetes client); there is no global.
//!
//! Label values come only from bounded sets, which this module enforces: the
//! method from the standard ones ([`method_label`]), the resource type from
//! [`ResourceType`], limits and authentication failures from their enums, the
//! tenant only from a validated token (the caller passes `""` for every other
//! request, which no tenant can be called).
//!
//! Imports: no HTTP framework, nothing of `crate::http`, `crate::store` or
//! `crate::controller`; the edge classifies and this module counts. Serving
//! `/metrics` is the HTTP layer's (`http::metrics`).
//!
//! Imports: `crd`, `scim`, `meta` and its own layer; must not import `store`,
//! `controller`, `http`, `console`, `leader`, `operator`, `serve`, `cli`,
//! `token_admin`, `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::scimlog::{ResourceType, ScimLog};

/// The OpenMetrics text format's media type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets of SCIM requests, in seconds.
const REQUEST_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Duration buckets of reconciles, in seconds.
const RECONCILE_BUCKETS: [f64; 11] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Buckets of objects visited per reconcile.
const VISITED_BUCKETS: [f64; 8] = [
    1.0,
    10.0,
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
];

/// The `method` label: the standard methods by name, anything else `OTHER`
/// (hyper accepts arbitrary extension methods, which must not become labels).
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Why a SCIM request was refused for authentication (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFailure {
    /// Answered 401: no bearer token.
    MissingToken,
    /// Answered 401: an unknown, revoked or under-scoped token.
    InvalidToken,
    /// Answered 429 after repeated failures from one client.
    Throttled,
}

impl AuthFailure {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::MissingToken => "missing_token",
            AuthFailure::InvalidToken => "invalid_token",
            AuthFailure::Throttled => "throttled",
        }
    }
}

/// Which limit refused a SCIM request (the `limit` label). The limits put it
/// in the refusal's response extensions; the metrics layer reads it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The tenant's request rate (429).
    Rate,
    /// Repeated failed authentications from the client's address (429).
    AuthFailures,
    /// Too many requests in flight (503).
    Concurrency,
    /// The request took too long (503).
    Timeout,
}

impl Limit {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Rate => "rate",
            Limit::AuthFailures => "auth_failures",
            Limit::Concurrency => "concurrency",
            Limit::Timeout => "timeout",
        }
    }
}

/// The Kubernetes verb of a mutating API request; `None` for reads, and for
/// reviews (`tokenreviews`, `subjectaccessreviews`, …), which are POSTed
/// but store nothing.
fn api_verb(method: &str, path: &str) -> Option<&'static str> {
    if api_segments(path)
        .first()
        .is_some_and(|r| r.ends_with("reviews"))
    {
        return None;
    }
    Some(match method {
        "GET" | "HEAD" | "OPTIONS" => return None,
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if api_segments(path).len() == 1 => "deletecollection",
        "DELETE" => "delete",
        _ => "other",
    })
}

/// The segments of an API path after the group, version and namespace:
/// `[resource]`, `[resource, name]` or `[resource, name, subresource]`.
fn api_segments(path: &str) -> Vec<&str> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    }
    .unwrap_or_default();
    match rest {
        // A namespace's own subresources.
        ["namespaces", _, "status" | "finalize"] => rest.to_vec(),
        ["namespaces", _, more @ ..] if !more.is_empty() => more.to_vec(),
        _ => rest.to_vec(),
    }
}

/// The `resource` label of an API request: the resource's plural, with
/// `/<subresource>` (`scimusers/status`); `other` for paths of another shape.
/// Values come from the paths this process builds, a bounded set.
fn api_resource(path: &str) -> String {
    match api_segments(path).as_slice() {
        [resource] | [resource, _] => (*resource).to_owned(),
        [resource, _, subresource] => format!("{resource}/{subresource}"),
        _ => "other".to_owned(),
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    tenant: String,
    method: &'static str,
    resource_type: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    tenant: String,
    method: &'static str,
    resource_type: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitedLabels {
    tenant: String,
    limit: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiWriteLabels {
    verb: &'static str,
    resource: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    error: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    tenant: String,
    kind: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<LatencyLabels>,
    in_flight: Gauge,
    auth_failures: Family<ReasonLabels, Counter>,
    limited: Family<LimitedLabels, Counter>,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Histogram,
    reconcile_visited: Histogram,
    reconcile_full: Counter,
    directory_reads: Counter,
    api_writes: Family<ApiWriteLabels, Counter>,
    api_write_bytes: Family<ApiWriteLabels, Counter>,
    api_watches: Family<ResourceLabels, Counter>,
    leader: Gauge,
    directory: Arc<DirectoryCollector>,
    scim_log: Arc<ScimLogCollector>,
    tokens: Arc<TokenCollector>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered (and none observed yet).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("scimitar");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "scim_requests",
            "SCIM requests answered, by tenant, method, resource type and status code",
            requests.clone(),
        );
        let latency: Histograms<LatencyLabels> =
            Family::new_with_constructor(|| Histogram::new(REQUEST_BUCKETS));
        registry.register(
            "scim_request_duration_seconds",
            "Time to answer SCIM requests, by tenant, method and resource type",
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "scim_requests_in_flight",
            "SCIM requests being answered",
            in_flight.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "scim_auth_failures",
            "SCIM requests refused for authentication: missing_token (no bearer token) and invalid_token (answered 401), throttled (answered 429 after repeated failures from one client)",
            auth_failures.clone(),
        );
        let limited = Family::<LimitedLabels, Counter>::default();
        registry.register(
            "scim_requests_limited",
            "SCIM requests refused by a limit: rate (429), auth_failures (429), concurrency (503), timeout (503)",
            limited.clone(),
        );
        let reconciles = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Tenant reconciles, by result (success, error)",
            reconciles.clone(),
        );
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Failed tenant reconciles, by error (not_ready, roles, apply, status)",
            reconcile_errors.clone(),
        );
        let reconcile_duration = Histogram::new(RECONCILE_BUCKETS);
        registry.register(
            "reconcile_duration_seconds",
            "Time a tenant reconcile takes",
            reconcile_duration.clone(),
        );
        let reconcile_visited = Histogram::new(VISITED_BUCKETS);
        registry.register(
            "reconcile_objects_visited",
            "Users, groups and owned objects one tenant reconcile read: in proportion to what changed, except on full passes",
            reconcile_visited.clone(),
        );
        let reconcile_full = Counter::default();
        registry.register(
            "reconcile_full_passes",
            "Reconciles that went over a whole tenant (start, spec change, relist, periodic resync)",
            reconcile_full.clone(),
        );
        let directory_reads = Counter::default();
        registry.register(
            "directory_reads",
            "Directory ConfigMaps read whole (GET) because the controller had no current summary of their data: after a start, or after someone else changed them",
            directory_reads.clone(),
        );
        let api_writes = Family::<ApiWriteLabels, Counter>::default();
        registry.register(
            "api_writes",
            "Mutating Kubernetes API requests this process sent, by verb (create, update, patch, delete, deletecollection) and resource (plural, with /subresource)",
            api_writes.clone(),
        );
        let api_write_bytes = Family::<ApiWriteLabels, Counter>::default();
        registry.register(
            "api_write_bytes",
            "Request body bytes of the mutating Kubernetes API requests this process sent, by verb and resource",
            api_write_bytes.clone(),
        );
        let api_watches = Family::<ResourceLabels, Counter>::default();
        registry.register(
            "api_watches",
            "Kubernetes API watch requests this process started, by resource (plural): one per kind, and one more each time a watch is resumed",
            api_watches.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease and runs the controller (or runs it without leader election), else 0",
            leader.clone(),
        );
        let directory = Arc::new(DirectoryCollector::default());
        registry.register_collector(Box::new(directory.clone()));
        let scim_log = Arc::new(ScimLogCollector::default());
        registry.register_collector(Box::new(scim_log.clone()));
        let tokens = Arc::new(TokenCollector::default());
        registry.register_collector(Box::new(tokens.clone()));
        Self {
            registry,
            requests,
            latency,
            in_flight,
            auth_failures,
            limited,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            reconcile_visited,
            reconcile_full,
            directory_reads,
            api_writes,
            api_write_bytes,
            api_watches,
            leader,
            directory,
            scim_log,
            tokens,
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; a collector's error would leave a
        // truncated text, which Prometheus rejects visibly.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(%error, "encoding metrics");
        }
        out
    }

    /// Records one answered SCIM request.
    pub fn scim_request(&self, request: &ScimRequest<'_>) {
        let method = method_label(request.method);
        let resource_type = request.resource_type.as_str();
        self.requests
            .get_or_create(&RequestLabels {
                tenant: request.tenant.to_owned(),
                method,
                resource_type,
                status: request.status,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                tenant: request.tenant.to_owned(),
                method,
                resource_type,
            })
            .observe(request.elapsed.as_secs_f64());
    }

    /// Counts a SCIM request as being answered until the returned guard is
    /// dropped (also when the client goes away and the handler with it).
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Records a refused authentication.
    pub fn auth_failure(&self, reason: AuthFailure) {
        self.auth_failures
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Records a request refused by a limit; `tenant` as in [`ScimRequest`].
    pub fn limited(&self, tenant: &str, limit: Limit) {
        self.limited
            .get_or_create(&LimitedLabels {
                tenant: tenant.to_owned(),
                limit: limit.as_str(),
            })
            .inc();
    }

    /// Records a finished reconcile; `error` names the failure (a fixed word).
    pub fn reconciled(&self, error: Option<&'static str>, elapsed: Duration) {
        let result = if error.is_some() { "error" } else { "success" };
        self.reconciles
            .get_or_create(&ResultLabels { result })
            .inc();
        if let Some(error) = error {
            self.reconcile_errors
                .get_or_create(&ErrorLabels { error })
                .inc();
        }
        self.reconcile_duration.observe(elapsed.as_secs_f64());
    }

    /// Records how many objects one reconcile read, and whether it went over
    /// the whole tenant.
    pub fn visited(&self, objects: usize, full: bool) {
        self.reconcile_visited.observe(objects as f64);
        if full {
            self.reconcile_full.inc();
        }
    }

    /// Records one directory ConfigMap read whole.
    pub fn directory_read(&self) {
        self.directory_reads.inc();
    }

    /// Records one Kubernetes API request this process sends: mutating ones
    /// (anything but GET, HEAD and OPTIONS; watches are GETs) are counted
    /// with their body size. `method` is the HTTP method's name.
    pub fn api_request(&self, method: &str, path: &str, body_bytes: u64) {
        let Some(verb) = api_verb(method, path) else {
            return;
        };
        let labels = ApiWriteLabels {
            verb,
            resource: api_resource(path),
        };
        self.api_writes.get_or_create(&labels).inc();
        self.api_write_bytes
            .get_or_create(&labels)
            .inc_by(body_bytes);
    }

    /// Records one watch request this process starts (a GET with
    /// `watch=true` in `query`) on the resource `path` names.
    pub fn api_watch(&self, method: &str, path: &str, query: Option<&str>) {
        let watching = method == "GET"
            && query.is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
        if watching {
            let labels = ResourceLabels {
                resource: api_resource(path),
            };
            self.api_watches.get_or_create(&labels).inc();
        }
    }

    /// Publishes the sizes of `directory` (tenants, cached users and groups)
    /// at every scrape. The first directory given is kept.
    pub fn observe_directory(&self, directory: Arc<dyn Directory>) {
        let _ = self.directory.source.set(directory);
    }

    /// Publishes the size of the SCIM request log at every scrape. The first
    /// log given is kept.
    pub fn observe_scim_log(&self, log: Arc<ScimLog>) {
        let _ = self.scim_log.source.set(log);
    }

    /// Publishes the expiry of every API token that has one at every scrape.
    /// The first source given is kept.
    pub fn observe_tokens(&self, tokens: Arc<dyn TokenExpiries>) {
        let _ = self.tokens.source.set(tokens);
    }

    /// Records whether this replica runs the controller now.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }
}

/// One answered SCIM request, as [`Metrics::scim_request`] records it.
#[derive(Debug, Clone, Copy)]
pub struct ScimRequest<'a> {
    /// The tenant of a token that authenticated, `""` for every other request.
    pub tenant: &'a str,
    /// The method as received; labelled by [`method_label`].
    pub method: &'a str,
    /// What the request was about, as the edge classified it.
    pub resource_type: ResourceType,
    /// The response's status code.
    pub status: u16,
    /// From arrival to the response.
    pub elapsed: Duration,
}

/// Keeps one SCIM request counted in `scimitar_scim_requests_in_flight`
/// until dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One tenant's read cache, as the directory gauges report it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TenantSize {
    pub tenant: String,
    pub users: usize,
    pub groups: usize,
    /// Heap bytes of the tenant's read-cache index.
    pub bytes: usize,
}

/// What the directory gauges read at scrape time.
pub trait Directory: Send + Sync + 'static {
    /// Every known tenant with its cached users and groups.
    fn sizes(&self) -> Vec<TenantSize>;
}

#[derive(Default)]
struct DirectoryCollector {
    source: OnceLock<Arc<dyn Directory>>,
}

impl std::fmt::Debug for DirectoryCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryCollector").finish_non_exhaustive()
    }
}

impl Collector for DirectoryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(source) = self.source.get() else {
            return Ok(());
        };
        let sizes = source.sizes();
        let tenants = ConstGauge::new(i64::try_from(sizes.len()).unwrap_or(i64::MAX));
        tenants.encode(encoder.encode_descriptor(
            "tenants",
            "ScimTenants known",
            None,
            tenants.metric_type(),
        )?)?;
        let objects = Family::<ObjectLabels, Gauge>::default();
        let bytes = Family::<TenantLabels, Gauge>::default();
        for size in sizes {
            for (kind, n) in [("User", size.users), ("Group", size.groups)] {
                objects
                    .get_or_create(&ObjectLabels {
                        tenant: size.tenant.clone(),
                        kind,
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            bytes
                .get_or_create(&TenantLabels {
                    tenant: size.tenant,
                })
                .set(i64::try_from(size.bytes).unwrap_or(i64::MAX));
        }
        objects.encode(encoder.encode_descriptor(
            "cache_objects",
            "Users and groups in the read cache, by tenant and kind",
            None,
            objects.metric_type(),
        )?)?;
        bytes.encode(encoder.encode_descriptor(
            "cache_bytes",
            "Heap bytes of one tenant's read cache (an estimate from its capacities, within a few percent)",
            None,
            bytes.metric_type(),
        )?)?;
        Ok(())
    }
}

/// An API token with an expiry, as the token-expiry gauge reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExpiry {
    pub tenant: String,
    /// The token's id (its Secret's name): admins make tokens one by one,
    /// so the set is small.
    pub token: String,
    pub expires: jiff::Timestamp,
}

/// What the token-expiry gauge reads at scrape time.
pub trait TokenExpiries: Send + Sync + 'static {
    /// Every known token that expires (expired ones included).
    fn expiries(&self) -> Vec<TokenExpiry>;
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    tenant: String,
    token: String,
}

#[derive(Default)]
struct TokenCollector {
    source: OnceLock<Arc<dyn TokenExpiries>>,
}

impl std::fmt::Debug for TokenCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCollector").finish_non_exhaustive()
    }
}

impl Collector for TokenCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(source) = self.source.get() else {
            return Ok(());
        };
        let expiry = Family::<TokenLabels, Gauge>::default();
        for token in source.expiries() {
            expiry
                .get_or_create(&TokenLabels {
                    tenant: token.tenant,
                    token: token.token,
                })
                .set(token.expires.as_second());
        }
        expiry.encode(encoder.encode_descriptor(
            "api_token_expiry_timestamp_seconds",
            "When an API token expires (Unix seconds), by tenant and token id; tokens without an expiry are not listed",
            None,
            expiry.metric_type(),
        )?)?;
        Ok(())
    }
}

#[derive(Debug, Default)]
struct ScimLogCollector {
    source: OnceLock<Arc<ScimLog>>,
}

impl Collector for ScimLogCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(log) = self.source.get() else {
            return Ok(());
        };
        let gauge = |n: usize| ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
        let bytes = gauge(log.retained_bytes());
        bytes.encode(encoder.encode_descriptor(
            "scim_log_bytes",
            "Memory the SCIM request log retains, all tenants together (the budget of --scim-log-bytes)",
            None,
            bytes.metric_type(),
        )?)?;
        let entries = gauge(log.len());
        entries.encode(encoder.encode_descriptor(
            "scim_log_entries",
            "Entries in the SCIM request log",
            None,
            entries.metric_type(),
        )?)?;
        let tenant_bytes = Family::<TenantLabels, Gauge>::default();
        let tenant_entries = Family::<TenantLabels, Gauge>::default();
        for (tenant, entries, bytes) in log.tenants() {
            let labels = TenantLabels { tenant };
            tenant_bytes
                .get_or_create(&labels)
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            tenant_entries
                .get_or_create(&labels)
                .set(i64::try_from(entries).unwrap_or(i64::MAX));
        }
        tenant_bytes.encode(encoder.encode_descriptor(
            "scim_log_tenant_bytes",
            "Memory one tenant's entries in the SCIM request log retain (the budget of --scim-log-tenant-bytes)",
            None,
            tenant_bytes.metric_type(),
        )?)?;
        tenant_entries.encode(encoder.encode_descriptor(
            "scim_log_tenant_entries",
            "Entries of one tenant in the SCIM request log",
            None,
            tenant_entries.metric_type(),
        )?)?;
        let dropped = Family::<ReasonLabels, Counter>::default();
        let counts = log.dropped();
        for (reason, n) in [("too_large", counts.too_large), ("evicted", counts.evicted)] {
            dropped.get_or_create(&ReasonLabels { reason }).inc_by(n);
        }
        dropped.encode(encoder.encode_descriptor(
            "scim_log_dropped",
            "Entries the SCIM request log lost: too_large (never kept: larger than a budget on its own), evicted (oldest entries removed to stay within the limits)",
            None,
            dropped.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_are_one_label() {
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("X-ATTACKER-CHOSEN"), "OTHER");
        assert_eq!(method_label("TRACE"), "OTHER");
    }

    #[test]
    fn watches_are_counted_by_resource() {
        let metrics = Metrics::new();
        let tenants = "/apis/scimitar.dev/v1alpha1/scimtenants";
        metrics.api_watch("GET", tenants, Some("watch=true&resourceVersion=1"));
        metrics.api_watch("GET", tenants, Some("limit=500"));
        metrics.api_watch("GET", tenants, None);
        metrics.api_watch("GET", "/api/v1/namespaces", Some("watch=true"));
        let text = metrics.encode();
        assert!(
            text.contains(r#"scimitar_api_watches_total{resource="scimtenants"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"scimitar_api_watches_total{resource="namespaces"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn api_writes_are_counted_by_verb_and_resource_with_their_bytes() {
        let metrics = Metrics::new();
        let status = "/apis/scimitar.dev/v1alpha1/namespaces/acme/scimusers/u1/status";
        metrics.api_request("PATCH", status, 120);
        metrics.api_request("PATCH", status, 30);
        metrics.api_request(
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/apps/rolebindings",
            500,
        );
        metrics.api_request("DELETE", "/api/v1/namespaces/acme/configmaps/d-1", 0);
        metrics.api_request(
            "PATCH",
            "/apis/scimitar.dev/v1alpha1/scimtenants/acme/status",
            7,
        );
        metrics.api_request("GET", "/api/v1/namespaces/acme/configmaps", 0);
        metrics.api_request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            300,
        );
        let text = metrics.encode();
        for line in [
            r#"scimitar_api_writes_total{verb="patch",resource="scimusers/status"} 2"#,
            r#"scimitar_api_write_bytes_total{verb="patch",resource="scimusers/status"} 150"#,
            r#"scimitar_api_writes_total{verb="create",resource="rolebindings"} 1"#,
            r#"scimitar_api_write_bytes_total{verb="create",resource="rolebindings"} 500"#,
            r#"scimitar_api_writes_total{verb="delete",resource="configmaps"} 1"#,
            r#"scimitar_api_writes_total{verb="patch",resource="scimtenants/status"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(!text.contains(r#"verb="get""#), "{text}");
        assert!(!text.contains("reviews"), "{text}");
        assert_eq!(
            api_resource("/apis/coordination.k8s.io/v1/namespaces/ns/leases"),
            "leases"
        );
        assert_eq!(api_resource("/version"), "other");
        assert_eq!(
            api_verb("DELETE", "/api/v1/namespaces/ns/configmaps"),
            Some("deletecollection")
        );
    }

    struct Fixed;
    impl Directory for Fixed {
        fn sizes(&self) -> Vec<TenantSize> {
            let size = |tenant: &str, users, groups, bytes| TenantSize {
                tenant: tenant.into(),
                users,
                groups,
                bytes,
            };
            vec![size("acme", 3, 1, 4096), size("globex", 0, 0, 0)]
        }
    }

    struct Expiring;
    impl TokenExpiries for Expiring {
        fn expiries(&self) -> Vec<TokenExpiry> {
            vec![TokenExpiry {
                tenant: "acme".into(),
                token: "scimitar-token-abc".into(),
                expires: "2027-01-01T00:00:00Z".parse().expect("time"),
            }]
        }
    }

    #[test]
    fn the_text_has_every_family_with_its_labels() {
        let metrics = Metrics::new();
        assert!(metrics.encode().lines().any(|l| l == "scimitar_leader 0"));
        metrics.set_leader(true);
        metrics.observe_tokens(Arc::new(Expiring));
        for elapsed in [Duration::from_millis(3), Duration::from_millis(30)] {
            metrics.scim_request(&ScimRequest {
                tenant: "acme",
                method: "POST",
                resource_type: ResourceType::User,
                status: 201,
                elapsed,
            });
        }
        metrics.auth_failure(AuthFailure::InvalidToken);
        metrics.limited("acme", Limit::Rate);
        metrics.reconciled(None, Duration::from_millis(20));
        metrics.reconciled(Some("apply"), Duration::from_millis(20));
        metrics.observe_directory(Arc::new(Fixed));
        let log = Arc::new(ScimLog::default());
        metrics.observe_scim_log(log.clone());
        assert!(
            metrics
                .encode()
                .lines()
                .any(|l| l == "scimitar_scim_log_bytes 0")
        );
        log.record(crate::scimlog::Record {
            time: jiff::Timestamp::UNIX_EPOCH,
            tenant: "acme".into(),
            method: "GET".into(),
            path: "/scim/v2/Users".into(),
            resource_type: ResourceType::User,
            status: 200,
            duration_ms: 1.0,
            request_body: None,
            response_body: None,
        });
        let text = metrics.encode();
        let log_bytes = format!("scimitar_scim_log_bytes {}", log.retained_bytes());
        let tenant_bytes = format!(
            r#"scimitar_scim_log_tenant_bytes{{tenant="acme"}} {}"#,
            log.tenant_bytes("acme")
        );
        for line in [
            r#"scimitar_scim_requests_total{tenant="acme",method="POST",resource_type="User",status="201"} 2"#,
            r#"scimitar_scim_request_duration_seconds_count{tenant="acme",method="POST",resource_type="User"} 2"#,
            r#"scimitar_scim_request_duration_seconds_bucket{le="0.005",tenant="acme",method="POST",resource_type="User"} 1"#,
            r#"scimitar_scim_auth_failures_total{reason="invalid_token"} 1"#,
            r#"scimitar_scim_requests_limited_total{tenant="acme",limit="rate"} 1"#,
            r#"scimitar_reconciles_total{result="success"} 1"#,
            r#"scimitar_reconciles_total{result="error"} 1"#,
            r#"scimitar_reconcile_errors_total{error="apply"} 1"#,
            r#"scimitar_reconcile_duration_seconds_count 2"#,
            r#"scimitar_tenants 2"#,
            r#"scimitar_cache_objects{tenant="acme",kind="User"} 3"#,
            r#"scimitar_cache_objects{tenant="globex",kind="Group"} 0"#,
            r#"scimitar_cache_bytes{tenant="acme"} 4096"#,
            r#"scimitar_cache_bytes{tenant="globex"} 0"#,
            r#"scimitar_scim_requests_in_flight 0"#,
            log_bytes.as_str(),
            r#"scimitar_scim_log_entries 1"#,
            tenant_bytes.as_str(),
            r#"scimitar_scim_log_tenant_entries{tenant="acme"} 1"#,
            r#"scimitar_scim_log_dropped_total{reason="too_large"} 0"#,
            r#"scimitar_scim_log_dropped_total{reason="evicted"} 0"#,
            r#"scimitar_leader 1"#,
            r#"scimitar_api_token_expiry_timestamp_seconds{tenant="acme",token="scimitar-token-abc"} 1798761600"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
