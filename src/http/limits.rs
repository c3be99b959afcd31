//! Limits on the SCIM API, answered in SCIM error form (RFC 7644 §3.12):
//!
//! - repeated failed authentications from one client address: 429 with
//!   `Retry-After`, before the request goes further;
//! - a request rate per tenant (GCRA, `governor`): 429 with `Retry-After`;
//! - requests served at once, process-wide: beyond it 503 with
//!   `Retry-After` at once, never a queue;
//! - a time limit per request: 503.
//!
//! The layer reads the [`Identity`] the edge resolved (the tenant is the
//! validated token's; a rejected token counts against the client's address)
//! and sits inside the metrics layer: refusals are counted, marked with the
//! [`Limit`] that refused them in the response's extensions.
//!
//! Imports: the edge's [`Identity`], SCIM error responses, and the metrics'
//! [`Limit`] label; it records no metric itself.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use clap::Args;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::http::auth::Identity;
use crate::metrics::Limit;
use crate::scim::error::ScimError;

/// The default sustained rate per tenant (requests per second). It sits above
/// what identity providers send (Entra's gallery requirement is 25 per second
/// per tenant) and a little under what the Kubernetes store writes on the
/// reference 2-core machine (~245–350 POST/s for the whole process), so an
/// IdP is slowed by the store before it is refused, and one tenant writing
/// flat out still leaves the others room. docs/security.md "Rate limits" has
/// the evidence.
pub const DEFAULT_RATE_PER_SECOND: u32 = 200;
/// The default burst per tenant: a first sync's opening, or a whole
/// conformance run (scim2-tester and scim-sanity: 867 requests), fits in it.
pub const DEFAULT_RATE_BURST: u32 = 1000;
/// The default time limit per request, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
/// The default number of SCIM requests served at once by a process.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 128;
/// The default number of SCIM requests of one tenant served at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS_PER_TENANT: usize = 32;
/// The default number of failed authentications per client address and minute.
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: u32 = 20;

/// Settings of the limits (flags of `scimitar run`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LimitArgs {
    /// SCIM requests per second each tenant may make, sustained; 0 turns the
    /// per-tenant rate limit off.
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_PER_SECOND", default_value_t = DEFAULT_RATE_PER_SECOND)]
    pub rate_limit_per_second: u32,
    /// Requests a tenant may make in a burst above the sustained rate (the
    /// bucket size); 0 means as many as the rate.
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_BURST", default_value_t = DEFAULT_RATE_BURST)]
    pub rate_limit_burst: u32,
    /// Seconds a SCIM request may take before it is answered 503; 0 turns the
    /// timeout off.
    #[arg(
        long,
        env = "SCIMITAR_REQUEST_TIMEOUT_SECONDS",
        default_value_t = DEFAULT_REQUEST_TIMEOUT_SECONDS
    )]
    pub request_timeout_seconds: u64,
    /// SCIM requests served at once by this process; more are answered 503
    /// with Retry-After at once; 0 turns the limit off.
    #[arg(
        long,
        env = "SCIMITAR_MAX_CONCURRENT_REQUESTS",
        default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS
    )]
    pub max_concurrent_requests: usize,
    /// SCIM requests of one tenant served at once; more are answered 503
    /// with Retry-After at once, so one tenant cannot take every slot of
    /// `--max-concurrent-requests`; 0 turns the limit off.
    #[arg(
        long,
        env = "SCIMITAR_MAX_CONCURRENT_REQUESTS_PER_TENANT",
        default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS_PER_TENANT
    )]
    pub max_concurrent_requests_per_tenant: usize,
    /// Failed authentications per minute allowed from one client address (as
    /// a burst, refilled over the minute); more are answered 429; 0 turns the
    /// limit off.
    #[arg(
        long,
        env = "SCIMITAR_AUTH_FAILURES_PER_MINUTE",
        default_value_t = DEFAULT_AUTH_FAILURES_PER_MINUTE
    )]
    pub auth_failures_per_minute: u32,
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            rate_limit_per_second: DEFAULT_RATE_PER_SECOND,
            rate_limit_burst: DEFAULT_RATE_BURST,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_concurrent_requests_per_tenant: DEFAULT_MAX_CONCURRENT_REQUESTS_PER_TENANT,
            auth_failures_per_minute: DEFAULT_AUTH_FAILURES_PER_MINUTE,
        }
    }
}

/// A rate limit per key (GCRA), answering how long to wait when exceeded.
pub struct KeyedLimit<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<C::Instant>>,
    checks: AtomicU64,
}

/// Every this many checks, keys whose bucket is full again are forgotten, so
/// that the map of client addresses stays as small as recent traffic.
const FORGET_EVERY: u64 = 1024;

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// A limit with the real clock.
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock> KeyedLimit<K, C> {
    /// A limit with `clock` (tests use a fake one).
    pub fn with_clock(quota: Quota, clock: C) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from `key`'s allowance, or says how long until one is free.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

/// What failed authentications are counted under: the address, or its /64
/// for IPv6 (one host has a whole /64 to pick addresses from). Proxy headers
/// such as `X-Forwarded-For` are not trusted: anyone can set them.
pub fn client_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// Each tenant's concurrency semaphore.
type TenantSlots = Mutex<HashMap<String, Arc<Semaphore>>>;

/// The limits in force, shared by every request.
pub struct Limits {
    tenants: Option<(KeyedLimit<String>, String)>,
    clients: Option<KeyedLimit<IpAddr>>,
    concurrency: Option<Arc<Semaphore>>,
    /// Slots per tenant, and each tenant's semaphore (one per tenant that
    /// authenticated: as many as there are tenants).
    tenant_concurrency: Option<(usize, TenantSlots)>,
    timeout: Option<Duration>,
}

impl Limits {
    /// Limits as configured; a 0 turns one off.
    pub fn new(args: &LimitArgs) -> Self {
        let tenants = NonZeroU32::new(args.rate_limit_per_second).map(|rate| {
            let burst = NonZeroU32::new(args.rate_limit_burst).unwrap_or(rate);
            let quota = Quota::per_second(rate).allow_burst(burst);
            let detail = format!(
                "Too many requests for this tenant (at most {rate} per second, bursts of {burst})"
            );
            (KeyedLimit::new(quota), detail)
        });
        let clients = NonZeroU32::new(args.auth_failures_per_minute)
            .map(|n| KeyedLimit::new(Quota::per_minute(n)));
        let concurrency = (args.max_concurrent_requests > 0)
            .then(|| Arc::new(Semaphore::new(args.max_concurrent_requests)));
        let timeout = (args.request_timeout_seconds > 0)
            .then(|| Duration::from_secs(args.request_timeout_seconds));
        let tenant_concurrency = (args.max_concurrent_requests_per_tenant > 0)
            .then(|| (args.max_concurrent_requests_per_tenant, Mutex::default()));
        Self {
            tenants,
            clients,
            concurrency,
            tenant_concurrency,
            timeout,
        }
    }
}

/// A SCIM error response from a limit.
fn refuse(status: u16, detail: &str, retry_after: Option<u64>, limit: Limit) -> Response {
    let mut response =
        crate::http::scim_error::error_response(&ScimError::new(status, None, detail));
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response.extensions_mut().insert(limit);
    response
}

/// Middleware enforcing [`Limits`], cheapest and most specific first.
pub async fn enforce(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let identity = request.extensions().get::<Identity>();
    let principal = identity.and_then(Identity::principal);
    match identity {
        // A token that did not authenticate: counted against the client's
        // address, and refused outright once that address has failed too often.
        Some(Identity::Rejected { .. }) => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| client_key(addr.ip()));
            if let (Some(clients), Some(peer)) = (&limits.clients, peer)
                && let Err(wait) = clients.check(&peer)
            {
                tracing::info!(client = %peer, "authentication failures rate-limited");
                return refuse(
                    429,
                    "Too many failed authentication attempts from this client",
                    Some(retry_after_seconds(wait)),
                    Limit::AuthFailures,
                );
            }
        }
        Some(Identity::Authenticated(principal)) => {
            if let Some((tenants, detail)) = &limits.tenants
                && let Err(wait) = tenants.check(&principal.tenant)
            {
                return refuse(429, detail, Some(retry_after_seconds(wait)), Limit::Rate);
            }
        }
        // No token: nothing to count; the handler answers 401.
        Some(Identity::Anonymous) | None => {}
    }
    let _tenant_permit = match (&limits.tenant_concurrency, principal) {
        (Some((slots, semaphores)), Some(principal)) => {
            let semaphore = semaphores
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(principal.tenant.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(*slots)))
                .clone();
            match semaphore.try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    tracing::warn!(tenant = %principal.tenant, "SCIM request shed: too many of this tenant in flight");
                    return refuse(
                        503,
                        "Too many requests of this tenant in flight; retry shortly",
                        Some(1),
                        Limit::Concurrency,
                    );
                }
            }
        }
        _ => None,
    };
    let _permit = match &limits.concurrency {
        Some(semaphore) => match semaphore.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                tracing::warn!("SCIM request shed: too many in flight");
                return refuse(
                    503,
                    "The server is busy; retry shortly",
                    Some(1),
                    Limit::Concurrency,
                );
            }
        },
        None => None,
    };
    match limits.timeout {
        Some(limit) => match tokio::time::timeout(limit, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(after = ?limit, "SCIM request timed out");
                refuse(
                    503,
                    "The request took too long; retry shortly",
                    Some(1),
                    Limit::Timeout,
                )
            }
        },
        None => next.run(request).await,
    }
}

/// Adds `Retry-After` to a SCIM API response that refuses for now (429 or
/// 503) without one. The limits and the store set their own wait; this layer
/// makes it hold for every refusal, also those of paths added later: an IdP
/// that gets 429 without it has nothing to pace itself by (Entra and Okta wait
/// for `Retry-After`; docs/security.md "Rate limits").
pub fn retry_after_on_refusals(api: Router) -> Router {
    api.layer(axum::middleware::from_fn(add_retry_after))
}

/// The seconds [`retry_after_on_refusals`] adds when a refusal names none.
pub const FALLBACK_RETRY_AFTER_SECONDS: u64 = 1;

async fn add_retry_after(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let refusal = matches!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    );
    if refusal && !response.headers().contains_key(header::RETRY_AFTER) {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(FALLBACK_RETRY_AFTER_SECONDS),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::body::Body;
    use axum::response::IntoResponse as _;
    use axum::routing::get;
    use governor::clock::FakeRelativeClock;
    use tower::ServiceExt as _;

    use super::*;
    use crate::auth::{Principal, Scope};

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    #[test]
    fn a_tenant_gets_its_burst_then_waits_and_others_are_unaffected() {
        let clock = FakeRelativeClock::default();
        let limit =
            KeyedLimit::with_clock(Quota::per_second(nz(5)).allow_burst(nz(10)), clock.clone());
        let acme = "acme".to_owned();
        for i in 0..10 {
            assert!(limit.check(&acme).is_ok(), "request {i} of the burst");
        }
        let wait = limit.check(&acme).expect_err("the 11th is over the burst");
        assert_eq!(wait, Duration::from_millis(200));
        assert_eq!(retry_after_seconds(wait), 1);
        // Another tenant has its own allowance.
        assert!(limit.check(&"globex".to_owned()).is_ok());
        // One request is freed every 200 ms.
        clock.advance(Duration::from_millis(200));
        assert!(limit.check(&acme).is_ok());
        assert!(limit.check(&acme).is_err());
        // After a full second, five more.
        clock.advance(Duration::from_secs(1));
        for _ in 0..5 {
            assert!(limit.check(&acme).is_ok());
        }
        assert!(limit.check(&acme).is_err());
    }

    #[test]
    fn auth_failures_are_allowed_per_minute() {
        let clock = FakeRelativeClock::default();
        let limit = KeyedLimit::with_clock(Quota::per_minute(nz(20)), clock.clone());
        let client: IpAddr = "192.0.2.7".parse().expect("ip");
        for _ in 0..20 {
            assert!(limit.check(&client).is_ok());
        }
        let wait = limit.check(&client).expect_err("21st failure");
        assert_eq!(wait, Duration::from_secs(3));
        assert_eq!(retry_after_seconds(wait), 3);
        clock.advance(Duration::from_secs(3));
        assert!(limit.check(&client).is_ok());
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let limit = KeyedLimit::with_clock(Quota::per_second(nz(100)), clock.clone());
        for i in 0..(FORGET_EVERY - 1) {
            assert!(limit.check(&i).is_ok());
        }
        assert_eq!(
            limit.len(),
            usize::try_from(FORGET_EVERY - 1).expect("fits")
        );
        clock.advance(Duration::from_secs(10));
        assert!(limit.check(&u64::MAX).is_ok());
        assert!(limit.len() <= 1, "{} keys kept", limit.len());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(
            client_key(mapped),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
    }

    fn principal(tenant: &str) -> Identity {
        Identity::Authenticated(Principal {
            tenant: tenant.into(),
            token: "t".into(),
            scopes: BTreeSet::from([Scope::Scim]),
        })
    }

    fn rejected() -> Identity {
        Identity::Rejected { loading: false }
    }

    fn app(args: LimitArgs) -> Router {
        let limits = Arc::new(Limits::new(&args));
        let api = Router::new().route("/fast", get(|| async { "ok" })).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        api.layer(axum::middleware::from_fn_with_state(limits, enforce))
    }

    fn request(path: &str, identity: Identity, token: bool) -> Request {
        let mut builder = Request::get(path);
        if token {
            builder = builder.header("authorization", "Bearer wrong");
        }
        let mut request = builder.body(Body::empty()).expect("request");
        request.extensions_mut().insert(identity);
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        request
    }

    async fn scim_error(response: Response) -> (StatusCode, Option<String>, serde_json::Value) {
        let status = response.status();
        assert_eq!(
            response.extensions().get::<Limit>().is_some(),
            !status.is_success()
        );
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        (status, retry, json)
    }

    #[tokio::test]
    async fn over_the_rate_a_tenant_gets_429_in_scim_form() {
        let app = app(LimitArgs {
            rate_limit_per_second: 1,
            rate_limit_burst: 2,
            ..LimitArgs::default()
        });
        for _ in 0..2 {
            let response = app
                .clone()
                .oneshot(request("/fast", principal("acme"), true))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
        let response = app
            .clone()
            .oneshot(request("/fast", principal("acme"), true))
            .await
            .expect("infallible");
        assert_eq!(response.extensions().get::<Limit>(), Some(&Limit::Rate));
        let (status, retry, body) = scim_error(response).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!(body["status"], "429");
        assert_eq!(
            body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        // Another tenant is unaffected.
        let response = app
            .oneshot(request("/fast", principal("globex"), true))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn every_refusal_for_now_carries_retry_after() {
        let bare = |status: StatusCode| async move { (status, "no header").into_response() };
        let app = retry_after_on_refusals(
            Router::new()
                .route("/429", get(move || bare(StatusCode::TOO_MANY_REQUESTS)))
                .route("/503", get(move || bare(StatusCode::SERVICE_UNAVAILABLE)))
                .route(
                    "/own",
                    get(|| async {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            [(header::RETRY_AFTER, "5")],
                            "store unavailable",
                        )
                            .into_response()
                    }),
                )
                .route("/500", get(move || bare(StatusCode::INTERNAL_SERVER_ERROR)))
                .route("/ok", get(|| async { "ok" })),
        );
        let retry_after = |path: &'static str| {
            let app = app.clone();
            async move {
                let response = app
                    .oneshot(Request::get(path).body(Body::empty()).expect("request"))
                    .await
                    .expect("infallible");
                response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .map(|v| v.to_str().expect("ascii").to_owned())
            }
        };
        // A refusal without a wait gets one; one with its own keeps it.
        assert_eq!(retry_after("/429").await.as_deref(), Some("1"));
        assert_eq!(retry_after("/503").await.as_deref(), Some("1"));
        assert_eq!(retry_after("/own").await.as_deref(), Some("5"));
        // Other answers are left alone.
        assert_eq!(retry_after("/500").await, None);
        assert_eq!(retry_after("/ok").await, None);
    }

    #[test]
    fn the_flags_and_the_chart_default_to_the_same_limits() {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            limits: LimitArgs,
        }
        let parsed = <Flags as clap::Parser>::try_parse_from(["scimitar"]).expect("parses");
        assert_eq!(parsed.limits, LimitArgs::default());
        // The chart states the same defaults.
        let values = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/scimitar/values.yaml"),
        )
        .expect("values.yaml");
        let values: serde_yaml::Value = serde_yaml::from_str(&values).expect("YAML");
        let chart = &values["operator"]["limits"];
        let number = |key: &str| {
            chart[key]
                .as_u64()
                .unwrap_or_else(|| panic!("operator.limits.{key} in values.yaml"))
        };
        let defaults = LimitArgs::default();
        assert_eq!(
            LimitArgs {
                rate_limit_per_second: u32::try_from(number("ratePerSecond")).expect("u32"),
                rate_limit_burst: u32::try_from(number("rateBurst")).expect("u32"),
                request_timeout_seconds: number("requestTimeoutSeconds"),
                max_concurrent_requests: usize::try_from(number("maxConcurrentRequests"))
                    .expect("usize"),
                max_concurrent_requests_per_tenant: usize::try_from(number(
                    "maxConcurrentRequestsPerTenant"
                ))
                .expect("usize"),
                auth_failures_per_minute: u32::try_from(number("authFailuresPerMinute"))
                    .expect("u32"),
            },
            defaults
        );
    }

    #[tokio::test]
    async fn failed_authentications_are_limited_per_client_only() {
        let app = app(LimitArgs {
            auth_failures_per_minute: 3,
            ..LimitArgs::default()
        });
        for _ in 0..3 {
            let response = app
                .clone()
                .oneshot(request("/fast", rejected(), true))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
        let response = app
            .clone()
            .oneshot(request("/fast", rejected(), true))
            .await
            .expect("infallible");
        let (status, retry, body) = scim_error(response).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("20"));
        assert_eq!(body["status"], "429");
        // Requests without a token are not failures of this kind, and a
        // valid token from the same address still gets through.
        for identity in [Identity::Anonymous, principal("acme")] {
            let token = identity.principal().is_some();
            let response = app
                .clone()
                .oneshot(request("/fast", identity, token))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_time_out_with_503() {
        let app = app(LimitArgs {
            request_timeout_seconds: 1,
            ..LimitArgs::default()
        });
        let response = app
            .oneshot(request("/slow", principal("acme"), true))
            .await
            .expect("infallible");
        assert_eq!(response.extensions().get::<Limit>(), Some(&Limit::Timeout));
        let (status, retry, body) = scim_error(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!(body["status"], "503");
    }

    #[tokio::test(start_paused = true)]
    async fn beyond_the_concurrency_limit_requests_are_shed_not_queued() {
        let app = app(LimitArgs {
            max_concurrent_requests: 2,
            request_timeout_seconds: 0,
            ..LimitArgs::default()
        });
        let slow: Vec<_> = (0..2)
            .map(|_| {
                tokio::spawn(
                    app.clone()
                        .oneshot(request("/slow", principal("acme"), true)),
                )
            })
            .collect();
        // Let both take their permits.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let response = app
            .clone()
            .oneshot(request("/fast", principal("acme"), true))
            .await
            .expect("infallible");
        assert_eq!(
            response.extensions().get::<Limit>(),
            Some(&Limit::Concurrency)
        );
        let (status, retry, _) = scim_error(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
        for handle in slow {
            let response = handle.await.expect("joined").expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
        // The permits are back.
        let response = app
            .oneshot(request("/fast", principal("acme"), true))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn one_tenant_cannot_take_every_slot() {
        let app = app(LimitArgs {
            max_concurrent_requests_per_tenant: 2,
            request_timeout_seconds: 0,
            ..LimitArgs::default()
        });
        let slow: Vec<_> = (0..2)
            .map(|_| {
                tokio::spawn(
                    app.clone()
                        .oneshot(request("/slow", principal("acme"), true)),
                )
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let response = app
            .clone()
            .oneshot(request("/fast", principal("acme"), true))
            .await
            .expect("infallible");
        let (status, retry, _) = scim_error(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
        // Another tenant is served meanwhile.
        let response = app
            .oneshot(request("/fast", principal("globex"), true))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        for handle in slow {
            handle.abort();
        }
    }
}
