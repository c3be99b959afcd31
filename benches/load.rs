//! `make bench`: scimitar side by side with SCIM peers and with the
//! Kubernetes storage floor, in one run on one machine, written to
//! BENCHMARKS.md as tables of ratios. Every run is bounded in count and time;
//! all servers listen on 127.0.0.1.
//!
//! Phases: (1) protocol peers with in-memory storage (benches/load/peers.rs);
//! (2) scimitar on the real API server against the floor, deprovision
//! latency, onboarding and scaling (benches/load/kubernetes.rs). Criterion
//! micro-benchmarks (benches/protocol.rs) run before this and their results
//! are read from target/criterion.

// The integration tests' harness: control plane, operator, tenants. (Its
// unit tests' imports look unused in a harness-less target.)
#[allow(unused_imports)]
#[path = "../tests/support/mod.rs"]
mod support;

#[path = "load/drive.rs"]
mod drive;
#[path = "load/kubernetes.rs"]
mod kubernetes;
#[path = "load/peers.rs"]
mod peers;
#[path = "load/report.rs"]
mod report;
#[path = "load/target.rs"]
mod target;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    support::repo()
}

/// Logs of the servers started by the benchmark.
pub fn out_dir() -> PathBuf {
    let dir = repo().join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    dir
}

/// `SCIMITAR_BENCH_QUICK=1`: every size divided by 20, for trying the
/// benchmark out; the report then goes to target/bench/ instead of
/// BENCHMARKS.md.
pub fn quick() -> bool {
    std::env::var_os("SCIMITAR_BENCH_QUICK").is_some()
}

/// A size, divided by 20 in a quick run.
pub fn n(full: usize) -> usize {
    if quick() { (full / 20).max(10) } else { full }
}

/// Onboarding size, and the concurrency JumpCloud provisions with.
const ONBOARD_USERS: usize = 10_000;
const ONBOARD_GROUPS: usize = 1_000;
const ONBOARD_CONCURRENCY: usize = 4;
/// Users deactivated one by one for the deprovision latency.
const DEPROVISION_USERS: usize = 200;
/// Tenant sizes of the scaling measurement.
const SCALE_SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Membership changes measured at each size.
const SCALE_CHANGES: usize = 20;
/// Writes measured against the floor.
const WRITES: usize = 2_000;
const PATCHES: usize = 1_000;

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects phases.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let wants = |phase: &str| args.is_empty() || args.iter().any(|a| a == phase);
    let started = Instant::now();
    let mut report = report::Report::default();

    if wants("peers") {
        eprintln!("==> protocol peers (in-memory)");
        for (name, command, token) in peers::PEERS {
            report
                .peers
                .push(peers::measure(name, command, token).await);
        }
    }
    // `writes` alone: scimitar's writes against the floor, and nothing after.
    if wants("kubernetes") || wants("writes") {
        eprintln!("==> scimitar on Kubernetes");
        // The operator logs at info, as the chart runs it.
        // SAFETY: set before any thread of ours reads the environment.
        unsafe { std::env::set_var("SCIMITAR_OPERATOR_LOG", "info") };
        let (admin, operator) = kubernetes::start().await;
        report.apiserver = admin
            .apiserver_version()
            .await
            .map(|v| v.git_version)
            .unwrap_or_default();
        report.writes = Some(writes(&admin, &operator).await);
        if wants("kubernetes") {
            eprintln!("  deprovision latency");
            report.deprovision =
                Some(kubernetes::deprovision(&admin, &operator, n(DEPROVISION_USERS)).await);
            eprintln!("  onboarding");
            report.onboarding = Some(
                kubernetes::onboarding(
                    &admin,
                    &operator,
                    n(ONBOARD_USERS),
                    n(ONBOARD_GROUPS),
                    ONBOARD_CONCURRENCY,
                )
                .await,
            );
            eprintln!("  scaling");
            report.scaling = scaling(&admin, &operator).await;
        }
    }
    report.criterion = report::criterion(&repo().join("target/criterion"));
    if wants("kubernetes") {
        report.profile = report::profile(&out_dir().join("operator-profile.txt"), 15);
    }
    report.duration = started.elapsed();
    let text = report.render();
    println!("{text}");
    let file = if args.is_empty() && !quick() {
        repo().join("BENCHMARKS.md")
    } else {
        out_dir().join("BENCHMARKS-partial.md")
    };
    std::fs::write(&file, text).expect("writing the report");
    eprintln!(
        "{} written ({:.0} s)",
        file.display(),
        started.elapsed().as_secs_f64()
    );
}

/// scimitar's SCIM writes against the same writes sent straight to the API server.
async fn writes(admin: &kube::Client, operator: &support::operator::Operator) -> report::Writes {
    let limit = Duration::from_secs(120);
    let c = peers::CONCURRENCY;
    let apps = support::namespace(admin, "writes-apps").await;
    let (home, target) = kubernetes::tenant(admin, operator, "writes", &[], &apps).await;
    // The floor goes first each time: after scimitar's writes its controller
    // is still busy reconciling them, which would slow the floor down.
    eprintln!("  POST /Users: the floor, then scimitar");
    let floor_ns = support::namespace(admin, "writes-floor").await;
    let (floor_post, floor_created) =
        kubernetes::floor_create_users(admin, &floor_ns, 0..n(WRITES), c, limit).await;
    let claimed_ns = support::namespace(admin, "writes-claimed").await;
    let claimed_post =
        kubernetes::floor_create_claimed_users(admin, &claimed_ns, 0..n(WRITES), c, limit).await;
    let (scim_post, created) = kubernetes::scim_create_users(&target, 0..n(WRITES), c, limit).await;
    let group_api: kube::Api<scimitar::crd::ScimGroup> =
        kube::Api::namespaced(admin.clone(), &floor_ns);
    let mut groups = Vec::new();
    let mut floor_groups = Vec::new();
    for g in 0..20 {
        let name = format!("bench-group-{g}");
        groups.push(target.create_group(&name, &[]).await.expect("group"));
        let object = kubernetes::group_object(&floor_ns, &name, &[]);
        let created = group_api
            .create(&Default::default(), &object)
            .await
            .expect("floor group");
        floor_groups.push(created.metadata.name.expect("name"));
    }
    kubernetes::settle(admin, &home, created.len()).await;
    eprintln!("  PATCH /Groups: the floor, then scimitar");
    let floor_ids: Vec<String> = floor_created
        .into_iter()
        .take(n(PATCHES))
        .map(|(_, id)| id)
        .collect();
    let floor_patch =
        kubernetes::floor_add_members(admin, &floor_ns, &floor_groups, &floor_ids, c, limit).await;
    let ids: Vec<String> = created
        .into_iter()
        .take(n(PATCHES))
        .map(|(_, id)| id)
        .collect();
    let scim_patch = kubernetes::scim_add_members(&target, &groups, &ids, c, limit).await;
    report::Writes {
        scim_post,
        floor_post,
        claimed_post,
        scim_patch,
        floor_patch,
    }
}

/// One membership change and the read path at growing tenant sizes; users
/// are loaded straight into the API server (at floor speed) between sizes.
async fn scaling(
    admin: &kube::Client,
    operator: &support::operator::Operator,
) -> Vec<kubernetes::Scale> {
    let apps = support::namespace(admin, "scale-apps").await;
    let (home, target) =
        kubernetes::tenant(admin, operator, "scale", &["scale".to_owned()], &apps).await;
    let group = target
        .create_group("scale", &[])
        .await
        .expect("scale group");
    let mut users: Vec<(usize, String)> = Vec::new();
    let mut points = Vec::new();
    for size in SCALE_SIZES.map(n) {
        eprintln!("  scaling: loading {size} users");
        let (_, created) = kubernetes::floor_create_users(
            admin,
            &home,
            users.len()..size,
            32,
            Duration::from_secs(900),
        )
        .await;
        users.extend(created);
        let deadline = Instant::now() + Duration::from_secs(300);
        while target.user_count().await != Some(users.len() as u64) {
            assert!(
                Instant::now() < deadline,
                "the operator's cache never held {size} users"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Measure the steady state: wait for the reconcile that took in the
        // new users (one status write each) to finish.
        let settled = Instant::now();
        kubernetes::settle(admin, &home, users.len()).await;
        eprintln!(
            "  scaling: settled at {size} users after {:.0} s",
            settled.elapsed().as_secs_f64()
        );
        users.sort();
        let pairs: Vec<(String, String)> = users
            .iter()
            .map(|(i, id)| (id.clone(), target::user_name(*i)))
            .collect();
        eprintln!("  scaling: measuring at {size} users");
        points.push(
            kubernetes::scale_point(
                &kubernetes::ScaleTenant {
                    admin,
                    operator,
                    target: &target,
                    apps: &apps,
                    group: &group,
                },
                &pairs,
                SCALE_CHANGES,
                (size == n(SCALE_SIZES[SCALE_SIZES.len() - 1])).then_some("operator-profile"),
            )
            .await,
        );
    }
    points
}
