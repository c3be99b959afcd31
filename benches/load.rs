//! `make bench`: scimitar side by side with SCIM peers and with the
//! Kubernetes storage floor, in one run on one machine, written to
//! BENCHMARKS.md as tables of ratios. Every run is bounded in count and time;
//! all servers listen on 127.0.0.1.
//!
//! Phases: (1) protocol peers with in-memory storage (benches/load/peers.rs);
//! (2) scimitar's SCIM writes on the real API server against the floor
//! (benches/load/kubernetes.rs); (3) flat cost as a tenant grows: at each
//! size one tenant alone with an operator and a control plane of its own —
//! onboarding, memory, membership changes, their API writes, deprovision,
//! reads (benches/load/flat.rs). Criterion micro-benchmarks
//! (benches/protocol.rs) run before this and their results are read from
//! target/criterion.

// The integration tests' harness: control plane, operator, tenants. (Its
// unit tests' imports look unused in a harness-less target.)
// The e2e binary uses all of it (so unused harness code shows there); the
// benchmark uses a part.
#[allow(unused_imports, dead_code)]
#[path = "../tests/e2e/support/mod.rs"]
mod support;

#[path = "load/drive.rs"]
mod drive;
#[path = "load/flat.rs"]
mod flat;
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

use target::Target;

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

/// The concurrency JumpCloud provisions with: tenants loaded over SCIM are
/// onboarded at it.
const ONBOARD_CONCURRENCY: usize = 4;
/// Tenant sizes (users; groups are a tenth) of the flat-cost measurement.
const FLAT_SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// From this size on the tenant is loaded straight into the API server
/// (the objects the store writes), not over SCIM (~300 users/s).
const FLAT_DIRECT_FROM: usize = 100_000;
/// Membership changes and deprovisions measured one at a time at each size.
const FLAT_CHANGES: usize = 200;
/// Writes measured against the floor.
const WRITES: usize = 2_000;
const PATCHES: usize = 1_000;

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; arguments select phases: `peers`,
    // `writes`, `flat` (`kubernetes` = both of those) and, to measure only
    // some sizes of the flat phase, `flat-<users>` (full-size numbers).
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let wants = |phase: &str| {
        args.is_empty()
            || args.iter().any(|a| a == phase)
            || (matches!(phase, "writes" | "flat") && args.iter().any(|a| a == "kubernetes"))
    };
    let sizes: Vec<usize> = FLAT_SIZES
        .into_iter()
        .filter(|s| wants("flat") || args.iter().any(|a| *a == format!("flat-{s}")))
        .collect();
    let started = Instant::now();
    let mut report = report::Report::default();
    let mut took = Vec::new();

    if wants("peers") {
        eprintln!("==> protocol peers (in-memory)");
        let phase = Instant::now();
        for (name, command, token) in peers::PEERS {
            report
                .peers
                .push(peers::measure(name, command, token).await);
        }
        took.push(("protocol peers".to_owned(), phase.elapsed()));
    }
    if (wants("writes") || !sizes.is_empty()) && std::env::var_os("SCIMITAR_OPERATOR_LOG").is_none()
    {
        // The operator logs at info, as the chart runs it (unless asked
        // otherwise, to look into a run).
        // SAFETY: set before any thread of ours reads the environment.
        unsafe { std::env::set_var("SCIMITAR_OPERATOR_LOG", "info") };
    }
    if wants("writes") {
        eprintln!("==> scimitar on Kubernetes: writes against the floor");
        let phase = Instant::now();
        let (admin, operator) = kubernetes::start().await;
        report.apiserver = admin
            .apiserver_version()
            .await
            .map(|v| v.git_version)
            .unwrap_or_default();
        report.writes = Some(writes(&admin, &operator).await);
        // Stopped before the flat phase, so it competes for nothing.
        drop(operator);
        took.push(("writes against the floor".to_owned(), phase.elapsed()));
    }
    if !sizes.is_empty() {
        eprintln!(
            "==> flat cost as a tenant grows: one tenant, one operator, one control plane per size"
        );
        let largest = *sizes.last().expect("a size");
        for size in sizes {
            let phase = Instant::now();
            let load = if size >= FLAT_DIRECT_FROM {
                flat::Load::Direct
            } else {
                flat::Load::Scim
            };
            let point = flat::measure(size, n(size), load, n(FLAT_CHANGES), size == largest).await;
            took.push((format!("flat cost at {} users", n(size)), phase.elapsed()));
            report.flat.push(point);
        }
        if report.apiserver.is_empty() {
            report.apiserver = support::ControlPlane::shared()
                .admin()
                .await
                .apiserver_version()
                .await
                .map(|v| v.git_version)
                .unwrap_or_default();
        }
        report.profile = report::profile(&out_dir().join("operator-profile.txt"), 15);
    }
    report.criterion = report::criterion(&repo().join("target/criterion"));
    report.duration = started.elapsed();
    report.phases = took;
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
    for (phase, took) in &report.phases {
        eprintln!("  {phase}: {:.0} s", took.as_secs_f64());
    }
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
    let (floor_post, floor_created) = kubernetes::floor_create_users(
        admin,
        &floor_ns,
        0..n(WRITES),
        c,
        limit,
        Target::user,
        None,
    )
    .await;
    let (scim_post, created) =
        kubernetes::scim_create_users(&target, 0..n(WRITES), c, limit, Target::user).await;
    let claimed_ns = support::namespace(admin, "writes-claimed").await;
    let claimed_post =
        kubernetes::floor_create_claimed_users(admin, &claimed_ns, 0..n(WRITES), c, limit).await;
    let group_api: kube::Api<scimitar::crd::ScimGroup> =
        kube::Api::namespaced(admin.clone(), &floor_ns);
    let mut groups = Vec::new();
    let mut floor_groups = Vec::new();
    for g in 0..20 {
        let name = format!("bench-group-{g}");
        groups.push(target.create_group(&name, &[]).await.expect("group"));
        let object = kubernetes::group_object(&floor_ns, &name, &[], None);
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
