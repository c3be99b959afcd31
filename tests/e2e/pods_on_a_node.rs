//! The chart's pods run for real: `helm install` of `charts/scimitar` on a
//! node that runs pods (`hack/node.sh`: kubelet, containerd with runc,
//! kube-proxy, CoreDNS), with scimitar's image built here (`hack/image.sh`).
//! What the process tests never exercise: the image and its entrypoint, the
//! Deployment's args and env, uid 65532 on a read-only root filesystem with
//! no capabilities, the probes, the mounted ServiceAccount token and the
//! in-cluster config, the Services through kube-proxy, leader election
//! between pods, and a rolling upgrade under the PDB while SCIM traffic runs.
//!
//! Needs root (see hack/node.sh). Test traffic goes only to the node's pod
//! and Service addresses.
//!
//! [`one_scim_log`]: both pods' SCIM request logs in one listing.

mod one_scim_log;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::helm::{chart, helm};
use crate::support::kubectl::kubectl;
use crate::support::node::{Node, image_archives, image_config};
use crate::support::operator::{OPERATOR_NAMESPACE, access, create_tenant, mapping};
use crate::support::replay::{Vars, replay};
use crate::support::{namespace, repo};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client};
use scimitar::crd::{ScimTenant, ScimTenantSpec, ScimUser};
use serde_json::json;

const RELEASE: &str = "scimitar";
const SELECTOR: &str = "app.kubernetes.io/name=scimitar,app.kubernetes.io/instance=scimitar";

fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

fn next_tag() -> String {
    format!("{}-next", version())
}

/// `helm` against the node, in the release namespace.
fn helm_on(node: &Node, args: &[&str]) -> String {
    let kubeconfig = node.cp.kubeconfig.display().to_string();
    let mut all = args.to_vec();
    all.extend_from_slice(&[
        "--kubeconfig",
        &kubeconfig,
        "--namespace",
        OPERATOR_NAMESPACE,
    ]);
    helm(&all)
}

/// Polls `check` until it holds, for at most `bound`; returns how long it took.
async fn eventually<F, Fut>(what: &str, bound: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn pods(client: &Client) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .expect("pods")
        .items
}

/// The chart's pods once there are two and both are Ready, within `bound`;
/// otherwise fails with what each pod reported.
async fn all_ready(client: &Client, bound: Duration) -> Vec<Pod> {
    let started = Instant::now();
    loop {
        let running = pods(client).await;
        if running.len() == 2 && running.iter().all(ready) {
            return running;
        }
        if started.elapsed() > bound {
            let report: Vec<String> = running.iter().map(pod_report).collect();
            panic!("both pods Ready: not within {bound:?}; pods: {report:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A pod's phase, conditions and container states, for failure messages.
fn pod_report(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let conditions: Vec<String> = status
        .conditions
        .unwrap_or_default()
        .iter()
        .map(|c| {
            format!(
                "{}={} {}",
                c.type_,
                c.status,
                c.message.clone().unwrap_or_default()
            )
        })
        .collect();
    let containers: Vec<String> = status
        .container_statuses
        .unwrap_or_default()
        .iter()
        .map(|c| {
            format!(
                "{} restarts={} state={:?} last={:?}",
                c.name, c.restart_count, c.state, c.last_state
            )
        })
        .collect();
    format!(
        "{} phase={:?} conditions={conditions:?} containers={containers:?}",
        pod.metadata.name.clone().unwrap_or_default(),
        status.phase
    )
}

fn ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn image_of(pod: &Pod) -> String {
    pod.spec.as_ref().expect("spec").containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

/// The holder of the leader Lease; None also when the read fails (the
/// callers poll).
async fn leader(client: &Client) -> Option<String> {
    Api::<Lease>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .get_opt("scimitar-controller")
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

/// `/proc/<pid>/status` fields of the container's process, as the host sees it.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// Counts of a bounded SCIM request stream: no retries, every non-2xx and
/// every connection error counted.
#[derive(Default)]
struct Load {
    sent: AtomicU64,
    ok: AtomicU64,
    non_2xx: AtomicU64,
    connection_errors: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chart_runs_as_pods_on_a_node() {
    let node = Node::shared();
    let archives = image_archives(&[&version(), &next_tag()]);
    let started = Instant::now();
    for archive in &archives {
        node.import(archive);
    }
    let admin = node.cp.admin().await;
    let chart = chart().display().to_string();

    // Install: default values; both replicas Ready through their probes.
    let install = Instant::now();
    helm_on(
        node,
        &[
            "install",
            RELEASE,
            &chart,
            "--create-namespace",
            "--wait",
            "--timeout",
            "4m",
        ],
    );
    eprintln!("measured: helm install --wait took {:?}", install.elapsed());
    // helm's --wait can return before the Deployment controller has made the
    // pods (seen on a cold machine: 3.3 s, no pod Ready yet), so readiness is
    // awaited here, through the pods' own probes.
    let running = all_ready(&admin, Duration::from_secs(240)).await;
    eprintln!(
        "measured: both pods Ready {:?} after install",
        install.elapsed()
    );
    assert_eq!(running.len(), 2, "replicaCount 2");
    let names: Vec<String> = running
        .iter()
        .map(|p| p.metadata.name.clone().expect("name"))
        .collect();
    // One pod holds the Lease.
    eventually(
        "a pod holds the leader Lease",
        Duration::from_secs(60),
        || async { leader(&admin).await.is_some_and(|h| names.contains(&h)) },
    )
    .await;

    // What the chart says, as the runtime runs it.
    for pod in &running {
        let name = pod.metadata.name.as_deref().expect("name");
        let status = pod.status.as_ref().expect("status");
        let container_id = status.container_statuses.as_ref().expect("statuses")[0]
            .container_id
            .clone()
            .expect("container id");
        let pid = node.container_pid(&container_id);
        let uids = status_field(pid, "Uid");
        assert!(
            uids.split_whitespace().all(|u| u == "65532"),
            "{name} runs as uid 65532 (the image's user): {uids}"
        );
        let gids = status_field(pid, "Gid");
        assert!(
            gids.split_whitespace().all(|g| g == "65532"),
            "{name}: {gids}"
        );
        for caps in ["CapEff", "CapPrm", "CapBnd"] {
            assert_eq!(
                status_field(pid, caps),
                "0000000000000000",
                "{name}: no capabilities ({caps})"
            );
        }
        assert_eq!(
            status_field(pid, "NoNewPrivs"),
            "1",
            "{name}: no privilege escalation"
        );
        assert_eq!(
            status_field(pid, "Seccomp"),
            "2",
            "{name}: RuntimeDefault seccomp filter"
        );
        let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
        let root = mounts
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some("/"))
            .expect("root mount");
        let options = root.split_whitespace().nth(5).expect("mount options");
        assert!(
            options.split(',').any(|o| o == "ro"),
            "{name}: read-only root filesystem: {root}"
        );
        let token_mount = mounts
            .lines()
            .find(|l| {
                l.split_whitespace().nth(4) == Some("/var/run/secrets/kubernetes.io/serviceaccount")
            })
            .unwrap_or_else(|| panic!("{name}: the ServiceAccount token is mounted"));
        assert!(
            token_mount.contains(" ro,") || token_mount.contains(" ro "),
            "{token_mount}"
        );
        // /tmp is the emptyDir, writable.
        assert!(
            mounts
                .lines()
                .any(|l| l.split_whitespace().nth(4) == Some("/tmp")),
            "{name}: /tmp mounted"
        );
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).expect("cmdline");
        let args: Vec<&str> = cmdline.split('\0').filter(|a| !a.is_empty()).collect();
        assert_eq!(args[0], "/usr/local/bin/scimitar", "the image's entrypoint");
        assert_eq!(args[1], "run");
        assert!(args.contains(&"--shutdown-delay-seconds=5"), "{args:?}");
        // The in-cluster config: the ServiceAccount's token against the
        // `kubernetes` Service.
        let logs = kubectl(
            &node.cp.kubeconfig,
            &["logs", "-n", OPERATOR_NAMESPACE, name],
        );
        assert!(
            logs.contains("connected to the Kubernetes API server"),
            "{logs}"
        );
    }

    eprintln!("step: pods run as the chart says ({:?})", started.elapsed());
    // SCIM through the Service's cluster IP; access checked with
    // SubjectAccessReview.
    let home = namespace(&admin, "pods-home").await;
    let dev = namespace(&admin, "pods-dev").await;
    let prod = namespace(&admin, "pods-prod").await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "provider": "jumpcloud",
        "mappings": [
            {"group": "acme-readers", "role": {"name": "view"}, "namespaces": [&dev, &prod]},
            {"group": "acme-developers", "role": {"name": "edit"}, "namespaces": [&dev]},
            {"group": "acme-engineering", "role": {"name": "edit"}, "namespaces": [&dev]},
            {"group": "acme-platform", "role": {"name": "admin"}, "namespaces": [&dev, &prod]},
        ]
    }))
    .expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let service = Api::<Service>::namespaced(admin.clone(), OPERATOR_NAMESPACE)
        .get(RELEASE)
        .await
        .expect("the SCIM Service");
    let cluster_ip = service.spec.and_then(|s| s.cluster_ip).expect("cluster IP");
    assert!(
        cluster_ip.starts_with("10.0.0."),
        "a Service address of the node: {cluster_ip}"
    );
    let base = format!("http://{cluster_ip}:8080/scim/v2");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let last_outcome = std::sync::Mutex::new(String::new());
    eventually(
        "the tenant's token is accepted through the Service",
        Duration::from_secs(60),
        || async {
            // Each new outcome is printed, so a timeout says what was seen:
            // the status with the start of the body (an empty 404 is not
            // what scimitar's SCIM router answers; seen once on a fresh
            // machine) or the connection error.
            let outcome = match http
                .get(format!("{base}/Users?count=1"))
                .bearer_auth(&token)
                .send()
                .await
            {
                Ok(r) => {
                    let status = r.status().to_string();
                    let server = r
                        .headers()
                        .get("server")
                        .and_then(|v| v.to_str().ok())
                        .map(|v| format!(" server={v}"))
                        .unwrap_or_default();
                    let body = r.text().await.unwrap_or_default();
                    let body: String = body.chars().take(200).collect();
                    format!("{status}{server} body={body:?}")
                }
                Err(e) => format!("{e:?}"),
            };
            let mut last = last_outcome.lock().expect("lock");
            if *last != outcome {
                eprintln!("through the Service: {outcome}");
                *last = outcome.clone();
            }
            outcome.starts_with("200")
        },
    )
    .await;
    let mut vars = Vars::from([("token".to_owned(), token.clone())]);
    replay(&base, "jumpcloud/day.yaml", &mut vars).await;
    access(
        &admin,
        "oidc:bob@acme.example.io",
        "create",
        "apps/deployments",
        &dev,
        true,
    )
    .await;
    access(
        &admin,
        "oidc:bob@acme.example.io",
        "list",
        "pods",
        &prod,
        true,
    )
    .await;

    eprintln!(
        "step: SCIM through the Service granted access ({:?})",
        started.elapsed()
    );
    // One SCIM log: requests spread over both pods, listed by either.
    one_scim_log::requests_served_by_each_pod_are_in_one_listing(
        node,
        &all_ready(&admin, Duration::from_secs(60)).await,
        &base,
        &home,
    )
    .await;
    eprintln!(
        "step: one SCIM log across both pods ({:?})",
        started.elapsed()
    );
    // The leader pod is deleted: the other takes over, the ReplicaSet
    // replaces it, and a change made meanwhile is reconciled.
    let old_leader = leader(&admin).await.expect("a leader");
    let pod_api = Api::<Pod>::namespaced(admin.clone(), OPERATOR_NAMESPACE);
    pod_api
        .delete(&old_leader, &DeleteParams::default())
        .await
        .expect("deleting the leader pod");
    let extra = namespace(&admin, "pods-extra").await;
    let tenants = Api::<ScimTenant>::all(admin.clone());
    let mut tenant = tenants.get(&home).await.expect("tenant");
    tenant
        .spec
        .mappings
        .push(mapping("acme-readers", "view", &[&extra]));
    tenant.metadata.managed_fields = None;
    tenants
        .replace(&home, &Default::default(), &tenant)
        .await
        .expect("tenant changed while the leader goes");
    // The leader releases the Lease on SIGTERM; the surviving pod (or the
    // ReplicaSet's replacement, if it is Ready first) takes it.
    let takeover = eventually(
        "another pod takes the Lease",
        Duration::from_secs(60),
        || async {
            let holder = leader(&admin).await;
            let live: Vec<String> = pods(&admin)
                .await
                .iter()
                .filter(|p| ready(p))
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            holder.is_some_and(|h| h != old_leader && live.contains(&h))
        },
    )
    .await;
    let new_leader = leader(&admin).await.expect("a leader");
    eprintln!(
        "measured: {new_leader} leads {takeover:?} after the leader pod was deleted (survivor: {})",
        names.contains(&new_leader)
    );
    access(
        &admin,
        "oidc:bob@acme.example.io",
        "list",
        "pods",
        &extra,
        true,
    )
    .await;
    eventually(
        "the ReplicaSet replaces the deleted pod",
        Duration::from_secs(120),
        || async {
            let now = pods(&admin).await;
            now.iter().filter(|p| ready(p)).count() == 2
                && !now
                    .iter()
                    .any(|p| p.metadata.name.as_deref() == Some(old_leader.as_str()))
        },
    )
    .await;

    eprintln!("step: leader failover done ({:?})", started.elapsed());
    // Helm upgrade to a new image tag under SCIM load: no retries, every
    // non-2xx and connection error counted, zero allowed.
    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..4u32 {
        let (load, stop, base, token) = (load.clone(), stop.clone(), base.clone(), token.clone());
        let ada = vars["ada"].clone();
        workers.push(tokio::spawn(async move {
            // A connection per request, as an IdP that does not keep
            // connections open; the client never retries.
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client");
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let request = match n % 5 {
                    0 => http
                        .post(format!("{base}/Users"))
                        .header("content-type", "application/scim+json")
                        .body(
                            json!({
                                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                "userName": format!("load-{worker}-{n}@acme.example"),
                                "active": true,
                            })
                            .to_string(),
                        ),
                    1 | 3 => http.get(format!("{base}/Users/{ada}")),
                    _ => http.get(format!("{base}/Groups?count=5")),
                };
                load.sent.fetch_add(1, Ordering::Relaxed);
                match request.bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        load.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        eprintln!(
                            "load: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        );
                        load.non_2xx.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("load: connection error: {e:?}");
                        load.connection_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let upgrade = Instant::now();
    let next = next_tag();
    helm_on(
        node,
        &[
            "upgrade",
            RELEASE,
            &chart,
            "--reuse-values",
            "--set",
            &format!("image.tag={next}"),
            "--wait",
            "--timeout",
            "5m",
        ],
    );
    let expected = format!("ghcr.io/scimitar-dev/scimitar:{next}");
    eventually(
        "every pod runs the new image",
        Duration::from_secs(180),
        || async {
            let now = pods(&admin).await;
            now.len() == 2 && now.iter().all(|p| ready(p) && image_of(p) == expected)
        },
    )
    .await;
    eprintln!("measured: rolling upgrade took {:?}", upgrade.elapsed());
    // The old pods' shutdown delay and grace run out under load too.
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("load worker");
    }
    let (sent, ok, non_2xx, errors) = (
        load.sent.load(Ordering::Relaxed),
        load.ok.load(Ordering::Relaxed),
        load.non_2xx.load(Ordering::Relaxed),
        load.connection_errors.load(Ordering::Relaxed),
    );
    eprintln!(
        "measured: SCIM during the rolling upgrade: {sent} requests, {ok} 2xx, {non_2xx} non-2xx, {errors} connection errors"
    );
    assert!(sent >= 200, "a real stream of requests ran: {sent}");
    assert_eq!(
        (non_2xx, errors),
        (0, 0),
        "no SCIM request failed during the rolling upgrade"
    );
    let deployment = Api::<Deployment>::namespaced(admin.clone(), OPERATOR_NAMESPACE)
        .get(RELEASE)
        .await
        .expect("deployment");
    assert_eq!(deployment.status.and_then(|s| s.ready_replicas), Some(2));
    eventually(
        "a pod of the new image leads",
        Duration::from_secs(60),
        || async {
            let names: Vec<String> = pods(&admin)
                .await
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            leader(&admin).await.is_some_and(|h| names.contains(&h))
        },
    )
    .await;

    eprintln!("step: rolling upgrade done ({:?})", started.elapsed());
    // `helm test`: the image's own probe through the Service's DNS name.
    helm_on(node, &["test", RELEASE, "--timeout", "2m"]);

    // Uninstall keeps the CRDs and the directory.
    helm_on(node, &["uninstall", RELEASE, "--wait", "--timeout", "2m"]);
    let users = Api::<ScimUser>::namespaced(admin.clone(), &home);
    assert!(
        !users
            .list(&Default::default())
            .await
            .expect("ScimUsers")
            .items
            .is_empty(),
        "the directory outlives the release"
    );
    assert!(tenants.get_opt(&home).await.expect("tenant").is_some());
    eprintln!(
        "measured: pod suite took {:?} (image build excluded)",
        started.elapsed()
    );
}

/// The Dockerfile is the published recipe; hack/image.sh builds the same
/// image here. Same user, entrypoint, command and exposed ports.
#[test]
fn the_image_matches_the_dockerfile() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let last = |instruction: &str| -> String {
        dockerfile
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("{instruction} ")))
            .unwrap_or_else(|| panic!("{instruction} in the Dockerfile"))
            .trim()
            .to_owned()
    };
    let archive = &image_archives(&[&version()])[0];
    let config = image_config(Path::new(archive));
    assert_eq!(config["User"].as_str(), Some(last("USER").as_str()), "USER");
    let entrypoint: serde_json::Value =
        serde_json::from_str(&last("ENTRYPOINT")).expect("ENTRYPOINT JSON");
    assert_eq!(config["Entrypoint"], entrypoint, "ENTRYPOINT");
    let cmd: serde_json::Value = serde_json::from_str(&last("CMD")).expect("CMD JSON");
    assert_eq!(config["Cmd"], cmd, "CMD");
    let mut exposed: Vec<String> = last("EXPOSE")
        .split_whitespace()
        .map(|p| {
            if p.contains('/') {
                p.to_owned()
            } else {
                format!("{p}/tcp")
            }
        })
        .collect();
    exposed.sort();
    let mut in_image: Vec<String> = config["ExposedPorts"]
        .as_object()
        .expect("ExposedPorts")
        .keys()
        .cloned()
        .collect();
    in_image.sort();
    assert_eq!(in_image, exposed, "EXPOSE");
    // The chart's container ports are the exposed ones.
    let rendered = helm(&[
        "template",
        RELEASE,
        &chart().display().to_string(),
        "--show-only",
        "templates/deployment.yaml",
    ]);
    for port in ["containerPort: 8080", "containerPort: 9090"] {
        assert!(rendered.contains(port), "{port}");
    }
}
