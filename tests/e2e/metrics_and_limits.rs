//! Metrics and limits of `scimitar run` against the real API server: SCIM
//! traffic is counted under the right labels (the scrape parsed as the text
//! format, compared exactly), a bounded flood against one tenant is answered
//! 429 with `Retry-After` in SCIM error form while another tenant is served,
//! and repeated failed authentications from one address are cut off with 429.
//!
//! Every load is bounded in count and time and goes to 127.0.0.1 only.

use scimitar::scim::schema::PATCH_OP_URN;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::operator::{Operator, Reply, Scim, create_tenant};
use crate::support::{ControlPlane, install_crds, namespace};
use futures::StreamExt as _;
use scimitar::crd::ScimTenantSpec;
use serde_json::{Value, json};

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// One sample of the text exposition.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus/OpenMetrics text format: comments, then
/// `name{label="value",...} value [timestamp]`, label values with `\\`,
/// `\"` and `\n` escapes. Panics on anything malformed.
fn parse(text: &str) -> Vec<Sample> {
    assert!(
        text.trim_end().ends_with("# EOF"),
        "no # EOF terminator:\n{text}"
    );
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let name = line[..name_end].to_owned();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(inside) = rest.strip_prefix('{') {
            let (parsed, after) = parse_labels(inside, line);
            labels = parsed;
            rest = after;
        }
        let value = rest
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value {value:?} in {line:?}"));
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// `key="value",...}` (after the opening brace): the labels and what follows.
fn parse_labels<'a>(mut rest: &'a str, line: &str) -> (BTreeMap<String, String>, &'a str) {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        let (key, quoted) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label in {line:?}"));
        assert!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad label name {key:?} in {line:?}"
        );
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next().map(|(_, c)| c) {
                    Some('n') => value.push('\n'),
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    other => panic!("bad escape {other:?} in {line:?}"),
                },
                Some((i, '"')) => break i + 1,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        assert!(
            labels.insert(key.to_owned(), value).is_none(),
            "label {key} twice in {line:?}"
        );
        rest = &quoted[end..];
        match rest.strip_prefix(',') {
            Some(after) => rest = after,
            None => assert!(rest.starts_with('}'), "unexpected text in {line:?}"),
        }
    }
}

/// A scrape, keyed by name and label set.
#[derive(Debug, Clone)]
struct Scrape(Vec<Sample>);

impl Scrape {
    async fn of(operator: &Operator) -> Scrape {
        let response = reqwest::get(&operator.metrics_url)
            .await
            .expect("metrics answered");
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        Scrape(parse(&response.text().await.expect("metrics text")))
    }

    /// The sample with exactly these labels (0 when there is none).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let found: Vec<&Sample> = self
            .0
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .collect();
        assert!(found.len() <= 1, "{name} {want:?} appears twice");
        found.first().map_or(0.0, |s| s.value)
    }

    /// Every sample of `name` whose labels include `subset`.
    fn matching(&self, name: &str, subset: &[(&str, &str)]) -> Vec<&Sample> {
        self.0
            .iter()
            .filter(|s| {
                s.name == name
                    && subset
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }
}

/// Per label set, how much `name` grew between two scrapes (only the
/// series that grew), for samples whose labels include `subset`.
fn growth(
    before: &Scrape,
    after: &Scrape,
    name: &str,
    subset: &[(&str, &str)],
) -> BTreeMap<BTreeMap<String, String>, f64> {
    let mut out = BTreeMap::new();
    for sample in after.matching(name, subset) {
        let old = before
            .0
            .iter()
            .find(|s| s.name == name && s.labels == sample.labels)
            .map_or(0.0, |s| s.value);
        if sample.value != old {
            out.insert(sample.labels.clone(), sample.value - old);
        }
    }
    out
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn spec(namespace: &str) -> ScimTenantSpec {
    serde_json::from_value(json!({"namespace": namespace, "provider": "okta"})).expect("spec")
}

fn assert_scim_429(reply: &Reply) {
    assert_eq!(reply.status, 429);
    let seconds: u64 = reply
        .retry_after
        .as_deref()
        .expect("Retry-After on a 429")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
    assert_eq!(reply.body["schemas"], json!([ERROR_URN]), "{}", reply.body);
    assert_eq!(reply.body["status"], "429", "{}", reply.body);
    assert!(
        reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn scim_traffic_is_counted_and_a_flood_is_limited_per_tenant() {
    // Its own control plane: its operator must lead to count reconciles.
    let cp = &ControlPlane::dedicated("metrics");
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let counted = namespace(&admin, "counted").await;
    let flooded = namespace(&admin, "flooded").await;
    let bystander = namespace(&admin, "bystander").await;
    let mut tokens = Vec::new();
    for tenant in [&counted, &flooded, &bystander] {
        tokens.push(create_tenant(&admin, tenant, spec(tenant)).await);
    }
    let operator = Operator::start_with(
        cp,
        &[
            "--rate-limit-per-second",
            "5",
            "--rate-limit-burst",
            "10",
            // Waiting for tokens to load fails authentication meanwhile.
            "--auth-failures-per-minute",
            "6000",
        ],
    );
    let clients: Vec<Scim> = tokens.iter().map(|t| Scim::new(&operator, t)).collect();
    for client in &clients {
        client.wait_until_authorized().await;
    }
    // Let the buckets fill again (10 at 5 per second).
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Counted traffic, paced below the rate limit.
    let scim = &clients[0];
    let before = Scrape::of(&operator).await;
    let mut expected: BTreeMap<(&str, &str, u16), f64> = BTreeMap::new();
    let mut step = async |method: &'static str,
                          path: &str,
                          body: Option<Value>,
                          resource_type: &'static str,
                          status: u16|
           -> Reply {
        let reply = scim.send(method, path, body).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        *expected.entry((method, resource_type, status)).or_default() += 1.0;
        tokio::time::sleep(Duration::from_millis(300)).await;
        reply
    };
    let user = step(
        "POST",
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "counted@example.com",
            "active": true
        })),
        "User",
        201,
    )
    .await;
    let id = user.body["id"].as_str().expect("id").to_owned();
    step("GET", &format!("/Users/{id}"), None, "User", 200).await;
    step(
        "GET",
        "/Users?filter=userName%20eq%20%22counted%40example.com%22",
        None,
        "User",
        200,
    )
    .await;
    step(
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": [PATCH_OP_URN],
            "Operations": [{"op": "replace", "path": "active", "value": false}]
        })),
        "User",
        200,
    )
    .await;
    step(
        "POST",
        "/Groups",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "counters"
        })),
        "Group",
        201,
    )
    .await;
    step("GET", "/Groups", None, "Group", 200).await;
    step("GET", "/ServiceProviderConfig", None, "Config", 200).await;
    step("GET", "/Schemas", None, "Schema", 200).await;
    step("GET", "/ResourceTypes/User", None, "Schema", 200).await;
    // A search of one resource type is about that type, as `GET /Users?filter=`
    // is; only `/.search` at the root, over every type, is `Search`.
    step(
        "POST",
        "/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName pr"
        })),
        "User",
        200,
    )
    .await;
    step("DELETE", &format!("/Users/{id}"), None, "User", 204).await;
    step("GET", &format!("/Users/{id}"), None, "User", 404).await;
    step("GET", "/Bulk", None, "Other", 501).await;
    let after = Scrape::of(&operator).await;

    // Exactly the requests sent, under exactly these labels, and nothing else
    // for this tenant.
    let want: BTreeMap<BTreeMap<String, String>, f64> = expected
        .iter()
        .map(|(&(method, resource_type, status), &n)| {
            (
                labels(&[
                    ("tenant", &counted),
                    ("method", method),
                    ("resource_type", resource_type),
                    ("status", &status.to_string()),
                ]),
                n,
            )
        })
        .collect();
    assert_eq!(
        growth(
            &before,
            &after,
            "scimitar_scim_requests_total",
            &[("tenant", &counted)]
        ),
        want
    );
    let mut timed: BTreeMap<BTreeMap<String, String>, f64> = BTreeMap::new();
    for (&(method, resource_type, _), &n) in &expected {
        *timed
            .entry(labels(&[
                ("tenant", &counted),
                ("method", method),
                ("resource_type", resource_type),
            ]))
            .or_default() += n;
    }
    assert_eq!(
        growth(
            &before,
            &after,
            "scimitar_scim_request_duration_seconds_count",
            &[("tenant", &counted)]
        ),
        timed
    );
    // Every histogram's +Inf bucket equals its count.
    for sample in after.matching("scimitar_scim_request_duration_seconds_count", &[]) {
        let mut inf: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        inf.push(("le", "+Inf"));
        assert_eq!(
            after.value("scimitar_scim_request_duration_seconds_bucket", &inf),
            sample.value
        );
    }
    assert!(
        after
            .matching(
                "scimitar_scim_requests_limited_total",
                &[("tenant", &counted)]
            )
            .is_empty()
    );
    assert!(after.value("scimitar_tenants", &[]) >= 3.0);
    assert_eq!(after.value("scimitar_scim_requests_in_flight", &[]), 0.0);

    // Cache sizes and reconciles, as the operator catches up.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = Scrape::of(&operator).await;
        let users = now.value(
            "scimitar_cache_objects",
            &[("tenant", &counted), ("kind", "User")],
        );
        let groups = now.value(
            "scimitar_cache_objects",
            &[("tenant", &counted), ("kind", "Group")],
        );
        let reconciles = now.value("scimitar_reconciles_total", &[("result", "success")]);
        let timed = now.value("scimitar_reconcile_duration_seconds_count", &[]);
        let done = now.value("scimitar_reconciles_total", &[("result", "error")]) + reconciles;
        if users == 0.0 && groups == 1.0 && reconciles >= 3.0 && timed == done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cache users {users}, groups {groups}, reconciles {reconciles}, timed {timed} of {done}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A bounded flood against one tenant; another is served meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = Scrape::of(&operator).await;
    let (flood_client, other) = (&clients[1], &clients[2]);
    let flood = futures::stream::iter(0..200)
        .map(|_| async {
            tokio::time::timeout(
                Duration::from_secs(10),
                flood_client.send("GET", "/Users?count=1", None),
            )
            .await
            .expect("every flood request answered within 10 s")
        })
        .buffer_unordered(20)
        .collect::<Vec<Reply>>();
    let meanwhile = async {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(other.send("GET", "/Users?count=1", None).await.status);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        statuses
    };
    let (replies, bystander_statuses) = tokio::time::timeout(
        Duration::from_secs(60),
        futures::future::join(flood, meanwhile),
    )
    .await
    .expect("the flood ends within 60 s");
    let after = Scrape::of(&operator).await;

    assert_eq!(replies.len(), 200);
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(
        ok + limited.len(),
        200,
        "only 200 and 429: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(ok >= 10, "the burst of 10 is served ({ok} were)");
    assert!(limited.len() >= 100, "{} of 200 limited", limited.len());
    for reply in &limited {
        assert_scim_429(reply);
    }
    assert_eq!(
        bystander_statuses,
        vec![200; 6],
        "the other tenant is unaffected"
    );

    let flood_labels = |status: &str| {
        labels(&[
            ("tenant", &flooded),
            ("method", "GET"),
            ("resource_type", "User"),
            ("status", status),
        ])
    };
    assert_eq!(
        growth(
            &before,
            &after,
            "scimitar_scim_requests_total",
            &[("tenant", &flooded)]
        ),
        BTreeMap::from([
            (flood_labels("200"), ok as f64),
            (flood_labels("429"), limited.len() as f64),
        ])
    );
    assert_eq!(
        growth(
            &before,
            &after,
            "scimitar_scim_requests_limited_total",
            &[("tenant", &flooded)]
        ),
        BTreeMap::from([(
            labels(&[("tenant", &flooded), ("limit", "rate")]),
            limited.len() as f64
        )])
    );
    assert_eq!(
        growth(
            &before,
            &after,
            "scimitar_scim_requests_total",
            &[("tenant", &bystander)]
        ),
        BTreeMap::from([(
            labels(&[
                ("tenant", &bystander),
                ("method", "GET"),
                ("resource_type", "User"),
                ("status", "200"),
            ]),
            6.0
        )])
    );
    assert!(
        after
            .matching("scimitar_scim_requests_total", &[])
            .iter()
            .all(|s| !s.labels["status"].starts_with('5') || s.labels["status"] == "501"),
        "no 5xx but the 501 for /Bulk"
    );
}

/// The shipped defaults still stop a flood. They were raised so that IdPs'
/// first syncs and conformance runs pass; that must not switch the
/// protection off. One tenant sends cheap reads from 16 senders as fast as the
/// operator answers (bounded in count and time): it is served its burst, then
/// the default rate and no more, every refusal a SCIM 429 with
/// `Retry-After`, while another tenant is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_rate_limit_still_stops_a_flood() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    const SENDERS: usize = 16;
    /// How long the flood may run at most.
    const AT_MOST: Duration = Duration::from_secs(25);
    /// How long it goes on once the first 429 came.
    const THROTTLED_FOR: Duration = Duration::from_secs(2);
    /// Requests sent at most (429s are cheap: ~3,600/s here in a debug build).
    const CAP: u64 = 20_000;

    let defaults = scimitar::http::limits::LimitArgs::default();
    let rate = f64::from(defaults.rate_limit_per_second);
    let burst = f64::from(defaults.rate_limit_burst);
    assert!(SENDERS < defaults.max_concurrent_requests_per_tenant);
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let flooded = namespace(&admin, "default-flooded").await;
    let bystander = namespace(&admin, "default-bystander").await;
    let flood_token = create_tenant(&admin, &flooded, spec(&flooded)).await;
    let other_token = create_tenant(&admin, &bystander, spec(&bystander)).await;
    let operator = Operator::start_with_default_limits(cp, "info");
    let other = Scim::new(&operator, &other_token);
    Scim::new(&operator, &flood_token)
        .wait_until_authorized()
        .await;
    other.wait_until_authorized().await;
    // The bucket refills within a second of the few requests above.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let sent = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let first_429 = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let url = format!("{}/scim/v2/Users?count=1", operator.url);
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (sent, served, refused, stop, first_429, url, token) = (
                sent.clone(),
                served.clone(),
                refused.clone(),
                stop.clone(),
                first_429.clone(),
                url.clone(),
                flood_token.clone(),
            );
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed)
                    && started.elapsed() < AT_MOST
                    && sent.fetch_add(1, Ordering::Relaxed) < CAP
                {
                    let response = http
                        .get(&url)
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("answered");
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    match status {
                        200 => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        429 => {
                            assert_scim_429(&Reply {
                                status,
                                body,
                                retry_after,
                            });
                            refused.fetch_add(1, Ordering::Relaxed);
                            let mut first = first_429.lock().unwrap_or_else(|e| e.into_inner());
                            let first = *first.get_or_insert_with(Instant::now);
                            if first.elapsed() >= THROTTLED_FOR {
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                        other => panic!("only 200 and 429 expected, got {other}: {body}"),
                    }
                }
            })
        })
        .collect();
    // Meanwhile the other tenant is served.
    let mut bystander_statuses = Vec::new();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        bystander_statuses.push(other.send("GET", "/Users?count=1", None).await.status);
    }
    for sender in senders {
        sender.await.expect("a sender failed");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (served, refused) = (
        served.load(Ordering::Relaxed) as f64,
        refused.load(Ordering::Relaxed) as f64,
    );
    let first_429 = first_429
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .map(|at| at.duration_since(started).as_secs_f64());
    eprintln!(
        "default limits ({rate}/s, burst {burst}): {served} served and {refused} refused in {elapsed:.1} s ({:.0} requests/s offered), first 429 after {first_429:?} s",
        (served + refused) / elapsed
    );

    let throttled_at = first_429.unwrap_or_else(|| {
        panic!(
            "no 429 in {elapsed:.1} s: the flood ({:.0}/s) never went over the default rate",
            (served + refused) / elapsed
        )
    });
    // The whole burst was served before the first refusal ...
    assert!(served >= burst, "{served} served, burst {burst}");
    // ... and then the rate, no more (the slack is for rounding) ...
    assert!(
        served <= burst + rate * elapsed * 1.02 + 1.0,
        "{served} served in {elapsed:.1} s at {rate}/s, burst {burst}"
    );
    // ... but the tenant is slowed, not cut off: once throttled it still got
    // a good part of the rate.
    let throttled_for = elapsed - throttled_at;
    assert!(
        served - burst >= rate * throttled_for * 0.5,
        "{served} served, {throttled_for:.1} s throttled at {rate}/s"
    );
    assert!(refused > 0.0);
    assert_eq!(
        bystander_statuses,
        vec![200; 6],
        "the other tenant is unaffected"
    );
}

#[tokio::test]
async fn repeated_failed_authentications_are_cut_off_per_client() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let operator = Operator::start_with(cp, &["--auth-failures-per-minute", "5"]);
    let before = Scrape::of(&operator).await;

    let guesser = Scim::new(&operator, "sct_not-a-token");
    let mut replies = Vec::new();
    for _ in 0..12 {
        replies.push(guesser.send("GET", "/Users", None).await);
    }
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [429; 7], "{statuses:?}");
    for reply in &replies[5..] {
        assert_scim_429(reply);
    }
    assert_eq!(replies[0].body["status"], "401");
    // Without a token it is no guess: still a plain 401.
    let anonymous = reqwest::get(format!("{}/scim/v2/Users", operator.url))
        .await
        .expect("answered");
    assert_eq!(anonymous.status().as_u16(), 401);

    let after = Scrape::of(&operator).await;
    assert_eq!(
        growth(&before, &after, "scimitar_scim_auth_failures_total", &[]),
        BTreeMap::from([
            (labels(&[("reason", "invalid_token")]), 5.0),
            (labels(&[("reason", "throttled")]), 7.0),
            (labels(&[("reason", "missing_token")]), 1.0),
        ])
    );
    assert_eq!(
        growth(&before, &after, "scimitar_scim_requests_total", &[]),
        BTreeMap::from([
            (
                labels(&[
                    ("tenant", ""),
                    ("method", "GET"),
                    ("resource_type", "User"),
                    ("status", "401"),
                ]),
                6.0
            ),
            (
                labels(&[
                    ("tenant", ""),
                    ("method", "GET"),
                    ("resource_type", "User"),
                    ("status", "429"),
                ]),
                7.0
            ),
        ])
    );
    assert_eq!(
        growth(&before, &after, "scimitar_scim_requests_limited_total", &[]),
        BTreeMap::from([(labels(&[("tenant", ""), ("limit", "auth_failures")]), 7.0)])
    );

    // A valid token from the same address is still served.
    let home = namespace(&admin, "authlimit").await;
    let token = create_tenant(&admin, &home, spec(&home)).await;
    let scim = Scim::new(&operator, &token);
    scim.wait_until_authorized().await;
    assert_eq!(scim.send("GET", "/Users", None).await.status, 200);
    // And the probes answer.
    for probe in ["/healthz", "/readyz"] {
        let response = reqwest::get(format!("{}{probe}", operator.url))
            .await
            .expect("probe answered");
        assert_eq!(response.status().as_u16(), 200, "{probe}");
    }
}

#[test]
fn the_parser_reads_labels_escapes_and_values() {
    let text = "# HELP x A.\n# TYPE x counter\nx_total{a=\"1\",b=\"q\\\"uo\\\\te\\n\"} 3\nx_created 1.5e9\nh_bucket{le=\"+Inf\",} 2 123\n# EOF\n";
    let samples = parse(text);
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[0].labels["b"], "q\"uo\\te\n");
    assert_eq!(samples[0].value, 3.0);
    assert!(samples[1].labels.is_empty());
    assert_eq!(samples[1].value, 1.5e9);
    assert_eq!(samples[2].labels["le"], "+Inf");
}
