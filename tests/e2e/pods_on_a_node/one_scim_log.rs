//! One SCIM log across the chart's two pods: requests sent through the
//! Service land on both; either pod's log API lists both pods' requests in
//! one listing (they find each other in the Service's EndpointSlices and
//! authenticate with their projected ServiceAccount tokens, under the
//! chart's RBAC); and a pod that stops answering (frozen with SIGSTOP) is
//! named in the listing and the CSV instead of leaving them silently short.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::support::node::Node;

/// Sends SIGCONT to a frozen process when dropped, so a failing assertion
/// never leaves a pod frozen.
struct Frozen(u32);

impl Frozen {
    fn freeze(pid: u32) -> Self {
        signal("-STOP", pid);
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(which: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {which} {pid}");
}

/// Every entry of `tenant`'s log as pod `ip` lists it, walking `next`:
/// (replica, seq) in order, and the last page's `replicas` and
/// `unavailable`.
async fn listing(
    http: &reqwest::Client,
    ip: &str,
    tenant: &str,
    token: &str,
) -> (Vec<(String, u64)>, Value, Value) {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("http://{ip}:8080/api/v1/tenants/{tenant}/scim-logs?limit=7");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("the log API")
            .error_for_status()
            .expect("200")
            .json()
            .await
            .expect("JSON");
        for entry in page["entries"].as_array().expect("entries") {
            entries.push((
                entry["replica"].as_str().expect("replica").to_owned(),
                entry["seq"].as_u64().expect("seq"),
            ));
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                return (
                    entries,
                    page["replicas"].clone(),
                    page["unavailable"].clone(),
                );
            }
        }
    }
}

/// An API token of `tenant` with the `scim` and `logs` scopes
/// (`scimitar token create`; the tenant's own SCIM token has no `logs`).
fn logs_token(node: &Node, tenant: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(["token", "create", "--tenant", tenant, "--name", "one log"])
        .args(["--scope", "scim", "--scope", "logs"])
        .args(["--kubeconfig", &node.cp.kubeconfig.display().to_string()])
        .output()
        .expect("running scimitar token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

pub async fn requests_served_by_each_pod_are_in_one_listing(
    node: &Node,
    pods: &[Pod],
    base: &str,
    tenant: &str,
) {
    let token = logs_token(node, tenant);
    let token = token.as_str();
    let named: BTreeMap<String, (String, String)> = pods
        .iter()
        .map(|p| {
            let status = p.status.as_ref().expect("status");
            (
                p.metadata.name.clone().expect("name"),
                (
                    status.pod_ip.clone().expect("pod IP"),
                    status.container_statuses.as_ref().expect("containers")[0]
                        .container_id
                        .clone()
                        .expect("container id"),
                ),
            )
        })
        .collect();
    assert_eq!(named.len(), 2);
    // A connection per request, so kube-proxy spreads them over both pods.
    let spread = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for _ in 0..30 {
        spread
            .get(format!("{base}/Groups?count=1"))
            .bearer_auth(token)
            .send()
            .await
            .expect("SCIM through the Service")
            .error_for_status()
            .expect("200");
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    // Both pods know the new token once their token watch has seen it.
    let started = Instant::now();
    for (ip, _) in named.values() {
        loop {
            let url = format!("http://{ip}:8080/api/v1/tenants/{tenant}/scim-logs?limit=1");
            let status = http
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status());
            if status.as_ref().is_ok_and(|s| s.is_success()) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the logs token on {ip}: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Each pod lists both pods' requests, the same listing from either.
    let mut listings = Vec::new();
    for (name, (ip, _)) in &named {
        let asked = Instant::now();
        let (entries, replicas, unavailable) = listing(&http, ip, tenant, token).await;
        eprintln!(
            "measured: {name} listed {} entries of both pods in {:?}",
            entries.len(),
            asked.elapsed()
        );
        assert_eq!(unavailable, serde_json::json!([]), "asked {name}");
        assert_eq!(replicas[0].as_str(), Some(name.as_str()), "itself first");
        let served_by: BTreeSet<&str> = entries.iter().map(|(r, _)| r.as_str()).collect();
        let pods: BTreeSet<&str> = named.keys().map(String::as_str).collect();
        assert_eq!(served_by, pods, "asked {name}: requests served by each pod");
        let unique: BTreeSet<&(String, u64)> = entries.iter().collect();
        assert_eq!(unique.len(), entries.len(), "paging repeats nothing");
        listings.push(entries);
    }
    assert_eq!(
        listings[0], listings[1],
        "one listing, whichever pod is asked"
    );

    // One pod stops answering: the other names it, in JSON and CSV.
    let mut names = named.keys();
    let (asked, frozen) = (names.next().expect("a"), names.next().expect("b"));
    let (asked_ip, _) = &named[asked];
    let (frozen_ip, frozen_container) = &named[frozen];
    let pid = node.container_pid(frozen_container);
    let page: Value;
    let csv: String;
    {
        let _frozen = Frozen::freeze(pid);
        let url = format!("http://{asked_ip}:8080/api/v1/tenants/{tenant}/scim-logs");
        let started = Instant::now();
        page = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("the log API")
            .json()
            .await
            .expect("JSON");
        eprintln!(
            "measured: a listing with a frozen pod took {:?}",
            started.elapsed()
        );
        csv = http
            .get(format!("{url}?format=csv"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the CSV")
            .text()
            .await
            .expect("text");
    }
    eprintln!("example: unavailable = {}", page["unavailable"]);
    let unavailable = page["unavailable"].as_array().expect("unavailable");
    assert_eq!(unavailable.len(), 1, "{page}");
    assert_eq!(unavailable[0]["replica"].as_str(), Some(frozen.as_str()));
    assert_eq!(
        unavailable[0]["address"].as_str(),
        Some(format!("{frozen_ip}:8081").as_str())
    );
    assert!(
        unavailable[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no answer within")),
        "{page}"
    );
    assert!(
        page["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|e| e["replica"].as_str() == Some(asked.as_str())),
        "only the answering pod's entries"
    );
    let last = csv.lines().last().expect("a CSV row");
    assert!(
        last.starts_with(&format!(
            "# replica not answering: {frozen} ({frozen_ip}:8081)"
        )),
        "{last}"
    );
    // Thawed, it answers again.
    let (entries, _, unavailable) = listing(&http, asked_ip, tenant, token).await;
    assert_eq!(unavailable, serde_json::json!([]));
    assert_eq!(entries, listings[0]);
}
