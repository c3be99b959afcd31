//! The protocol phase: SCIM servers with in-memory storage side by side —
//! the Python `scim2-server`, SCIMMY behind express, and `scimitar serve` —
//! so the ratios measure protocol work alone. Peers are installed pinned by
//! benches/peers/install.sh.

use std::time::Duration;

use crate::drive::Stats;
use crate::kubernetes::{read_path, scim_add_members, scim_create_users};
use crate::target::{Process, Target};

/// The peers and how they are started (`{port}` is replaced).
pub const PEERS: [(&str, &str, &str); 3] = [
    (
        "scim2-server 0.8.3 (Python, gunicorn)",
        "bash benches/peers/scim2_server.sh {port}",
        "",
    ),
    (
        "SCIMMY 1.3.5 + scimmy-routers 1.3.2 (Node, express)",
        "node benches/peers/scimmy_server.mjs {port}",
        "",
    ),
    (
        "scimitar serve (in-memory store)",
        "{scimitar} serve --listen 127.0.0.1:{port} --token bench=bench-token --scim-log-capacity 10000",
        "bench-token",
    ),
];

/// What one server measured.
pub struct PeerResult {
    pub name: String,
    pub post: Stats,
    pub patch: Stats,
    /// (users loaded, the filter read at that size, RSS in MiB).
    pub reads: Vec<(usize, Stats, Option<f64>)>,
    /// (users loaded, seconds the load took), bulk POSTs at concurrency 8.
    pub loads: Vec<(usize, f64)>,
    /// Peak RSS (VmHWM) over the whole run, in MiB.
    pub peak_mib: Option<f64>,
}

/// Sizes the read path is measured at.
pub const SIZES: [usize; 2] = [10_000, 100_000];
/// Users created by the POST measurement.
const POSTS: usize = 2_000;
/// PATCHes adding one member, spread over [`GROUPS`] groups.
const PATCHES: usize = 1_000;
const GROUPS: usize = 20;
/// Filter reads per size.
const READS: usize = 5_000;
/// Concurrency of every measurement.
pub const CONCURRENCY: usize = 8;
/// Most time one loading step may take per server.
const LOAD_LIMIT: Duration = Duration::from_secs(300);
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs every measurement against one server.
pub async fn measure(name: &str, command: &str, token: &str) -> PeerResult {
    let port = free_port();
    let command = command
        .replace("{port}", &port.to_string())
        .replace("{scimitar}", env!("CARGO_BIN_EXE_scimitar"));
    let slug: String = name
        .chars()
        .take_while(|c| *c != ' ')
        .collect::<String>()
        .to_lowercase();
    let process = Process::spawn(&format!("peer-{slug}"), &command, &crate::repo());
    let target = Target::new(name, &format!("http://127.0.0.1:{port}/scim/v2"), token);
    target.wait_until_up(&process.log).await;
    eprintln!("  {name}: POST /Users");
    let posts = crate::n(POSTS);
    let (post, created) =
        scim_create_users(&target, 0..posts, CONCURRENCY, RUN_LIMIT, Target::user).await;
    let mut ids: Vec<String> = created.into_iter().map(|(_, id)| id).collect();
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        groups.push(
            target
                .create_group(&format!("bench-group-{g}"), &[])
                .await
                .unwrap_or_else(|| panic!("{name}: POST /Groups failed")),
        );
    }
    eprintln!("  {name}: PATCH /Groups");
    ids.truncate(crate::n(PATCHES));
    let patch = scim_add_members(&target, &groups, &ids, CONCURRENCY, RUN_LIMIT).await;
    let mut loaded = posts;
    let mut reads = Vec::new();
    let mut loads = Vec::new();
    for size in SIZES.map(crate::n) {
        eprintln!("  {name}: loading {size} users");
        let (stats, _) =
            scim_create_users(&target, loaded..size, CONCURRENCY, LOAD_LIMIT, Target::user).await;
        loaded += stats.ok;
        loads.push((loaded, stats.elapsed.as_secs_f64()));
        eprintln!("  {name}: filter reads at {loaded} users");
        let read = read_path(&target, loaded, crate::n(READS), RUN_LIMIT).await;
        reads.push((loaded, read, process.rss_mib()));
    }
    PeerResult {
        name: name.to_owned(),
        post,
        patch,
        reads,
        loads,
        peak_mib: process.hwm_mib(),
    }
}
