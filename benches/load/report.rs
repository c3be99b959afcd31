//! BENCHMARKS.md: the tables, with the command, machine and versions.

use std::path::Path;
use std::time::Duration;

use crate::drive::Stats;
use crate::kubernetes::{Onboarding, Scale};
use crate::peers::PeerResult;

/// scimitar's SCIM writes and the floor's.
pub struct Writes {
    pub scim_post: Stats,
    pub floor_post: Stats,
    /// The store's two writes of a create (the userName's Lease, then the
    /// `ScimUser`) with the kube client: the floor of the design.
    pub claimed_post: Stats,
    pub scim_patch: Stats,
    pub floor_patch: Stats,
}

#[derive(Default)]
pub struct Report {
    pub peers: Vec<PeerResult>,
    pub apiserver: String,
    pub writes: Option<Writes>,
    pub deprovision: Option<Stats>,
    pub onboarding: Option<Onboarding>,
    pub scaling: Vec<Scale>,
    /// (benchmark id, mean in ns), from criterion.
    pub criterion: Vec<(String, f64)>,
    /// The operator's hottest symbols during the largest scaling step
    /// (`perf report` lines), when perf was available.
    pub profile: Vec<String>,
    pub duration: Duration,
}

/// Criterion's mean estimates under `dir` (`<group>/<id>/new/estimates.json`).
pub fn criterion(dir: &Path) -> Vec<(String, f64)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                if p.file_name()
                    .is_some_and(|n| n == "report" || n == "base" || n == "change")
                {
                    continue;
                }
                stack.push(p);
            } else if p.ends_with("new/estimates.json") {
                let id = p
                    .parent()
                    .and_then(Path::parent)
                    .and_then(|d| d.strip_prefix(dir).ok())
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
                let mean = std::fs::read_to_string(&p)
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v["mean"]["point_estimate"].as_f64());
                if let Some(mean) = mean {
                    found.push((id, mean));
                }
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The top `limit` symbol lines of a `perf report --stdio` text.
pub fn profile(path: &Path, limit: usize) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .filter(|l| l.contains('%'))
        .take(limit)
        .map(|l| l.trim().to_owned())
        .collect()
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(String::new(), |kib| {
            format!("{:.0} GiB", kib / 1024.0 / 1024.0)
        });
    format!(
        "{cpu}, {cores} cores, {memory}, {}",
        command_output("uname", &["-sr"])
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rate(s: &Stats) -> String {
    format!("{:.0}", s.throughput())
}

fn errors(s: &Stats) -> String {
    if s.errors == 0 {
        String::new()
    } else {
        format!(" ({} errors)", s.errors)
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

impl Report {
    pub fn render(&self) -> String {
        let mut md = String::new();
        let push = |md: &mut String, line: String| {
            md.push_str(&line);
            md.push('\n');
        };
        push(&mut md, "# Benchmarks\n".into());
        push(
            &mut md,
            "Produced by `make bench` (`hack/bench.sh`: Criterion micro-benchmarks, then `cargo bench --bench load`), unattended, in one run on one machine. Ratios compare servers measured in that same run; absolute numbers move with the machine, which is small and shared.\n".into(),
        );
        push(
            &mut md,
            format!(
                "- Date: {} (UTC); the run took {:.0} s.",
                jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M"),
                self.duration.as_secs_f64()
            ),
        );
        push(&mut md, format!("- Machine: {}.", machine()));
        push(
            &mut md,
            format!(
                "- Versions: scimitar {} ({}, release profile); {}; kube-apiserver {}; Python {}; Node {}.",
                env!("CARGO_PKG_VERSION"),
                command_output("rustc", &["-V"]),
                "peers pinned in benches/peers/install.sh",
                if self.apiserver.is_empty() {
                    "not run"
                } else {
                    &self.apiserver
                },
                command_output(
                    "python3",
                    &["-c", "import platform; print(platform.python_version())"]
                ),
                command_output("node", &["-v"]),
            ),
        );
        push(
            &mut md,
            format!(
                "- Load: an in-process Rust client (`benches/load/drive.rs`, reqwest), loopback only, concurrency {} unless stated; every run is bounded in count and time. p50/p99 are per-request latencies as the client saw them.\n",
                crate::peers::CONCURRENCY
            ),
        );
        self.headline(&mut md);
        self.read_table(&mut md);
        self.write_tables(&mut md);
        self.onboarding_table(&mut md);
        self.deprovision_table(&mut md);
        self.scaling_table(&mut md);
        self.criterion_table(&mut md);
        self.profile_section(&mut md);
        md.push_str("What the gaps come from, and what would close them: [docs/performance.md](docs/performance.md).\n");
        md
    }

    fn profile_section(&self, md: &mut String) {
        if self.profile.is_empty() {
            return;
        }
        md.push_str("## 7. Where the operator's CPU goes at the largest size\n\n`perf record -g` of `scimitar run` during the membership changes of the largest scaling step; self time by symbol (`perf report --no-children`), top entries. The full report is `target/bench/operator-profile.txt`.\n\n```text\n");
        for line in &self.profile {
            md.push_str(line);
            md.push('\n');
        }
        md.push_str("```\n\n");
    }

    fn best_peer_read(&self, size_index: usize) -> Option<(&PeerResult, &Stats)> {
        self.peers
            .iter()
            .filter(|p| !p.name.starts_with("scimitar"))
            .filter_map(|p| p.reads.get(size_index).map(|(_, s, _)| (p, s)))
            .max_by(|a, b| a.1.throughput().total_cmp(&b.1.throughput()))
    }

    fn ours(&self) -> Option<&PeerResult> {
        self.peers.iter().find(|p| p.name.starts_with("scimitar"))
    }

    fn headline(&self, md: &mut String) {
        md.push_str("## Headline\n\n| target | measured | goal | |\n|---|---|---|---|\n");
        let last = crate::peers::SIZES.len() - 1;
        if let (Some(ours), Some((peer, best))) = (self.ours(), self.best_peer_read(last))
            && let Some((n, read, rss)) = ours.reads.get(last)
        {
            let ratio = read.throughput() / best.throughput().max(1e-9);
            md.push_str(&format!(
                    "| read path vs the faster peer ({}) at {n} users | {ratio:.1}× its throughput | ≥ 10× | {} |\n",
                    peer.name,
                    met(ratio >= 10.0)
                ));
            md.push_str(&format!(
                "| read p99 at {n} users (in-memory store) | {:.2} ms | ≤ 2 ms | {} |\n",
                read.p99_ms(),
                met(read.p99_ms() <= 2.0)
            ));
            if let Some(rss) = rss {
                md.push_str(&format!("| `scimitar serve` RSS at {n} users | {rss:.0} MiB | (≤ 150 MiB is the operator's goal) | |\n"));
            }
        }
        if let Some(w) = &self.writes {
            let post = w.floor_post.throughput() / w.scim_post.throughput().max(1e-9);
            let patch = w.floor_patch.throughput() / w.scim_patch.throughput().max(1e-9);
            md.push_str(&format!(
                "| Kubernetes-store POST /Users vs the floor | {post:.2}× the floor's time per write | ≤ 1.2× | {} |\n",
                met(post <= 1.2)
            ));
            md.push_str(&format!(
                "| Kubernetes-store PATCH /Groups vs the floor | {patch:.2}× the floor's time per write | ≤ 1.2× | {} |\n",
                met(patch <= 1.2)
            ));
        }
        if let Some(o) = &self.onboarding {
            md.push_str(&format!(
                "| onboarding {} users, {} groups until reconciled | {:.0} s | < 120 s | {} |\n",
                o.users,
                o.groups,
                o.total.as_secs_f64(),
                met(o.total < Duration::from_secs(120))
            ));
        }
        if let Some(d) = &self.deprovision {
            md.push_str(&format!(
                "| deprovision p99 (active: false → SubjectAccessReview says no) | {:.0} ms | ≤ 1000 ms | {} |\n",
                d.p99_ms(),
                met(d.p99_ms() <= 1000.0)
            ));
        }
        if let Some(s) = self.scaling.last()
            && let Some(rss) = s.operator_rss_mib
        {
            md.push_str(&format!(
                    "| operator RSS with {} users in one tenant (plus the other tenants of the run) | {rss:.0} MiB | ≤ 150 MiB | {} |\n",
                    s.users,
                    met(rss <= 150.0)
                ));
        }
        md.push('\n');
    }

    fn read_table(&self, md: &mut String) {
        if self.peers.is_empty() {
            return;
        }
        md.push_str(
            "## 1. Read path: `GET /Users?filter=userName eq \"…\"` (in-memory storage)\n\n",
        );
        md.push_str("Users are loaded with POST /Users first; a server that could not be loaded to the full size within the load limit is measured at the size it reached.\n\n");
        md.push_str("| server | users | req/s | p50 ms | p99 ms | scimitar ÷ this (throughput) | RSS MiB |\n|---|---|---|---|---|---|---|\n");
        for (index, _) in crate::peers::SIZES.iter().enumerate() {
            let ours = self
                .ours()
                .and_then(|p| p.reads.get(index))
                .map(|r| r.1.throughput());
            for peer in &self.peers {
                let Some((n, s, rss)) = peer.reads.get(index) else {
                    continue;
                };
                let ratio = ours.map_or(String::new(), |o| {
                    format!("{:.1}×", o / s.throughput().max(1e-9))
                });
                md.push_str(&format!(
                    "| {} | {n} | {}{} | {:.2} | {:.2} | {ratio} | {} |\n",
                    peer.name,
                    rate(s),
                    errors(s),
                    s.p50_ms(),
                    s.p99_ms(),
                    rss.map_or(String::new(), |r| format!("{r:.0}"))
                ));
            }
        }
        md.push_str("\nLoading (bulk POST /Users at the same concurrency):\n\n| server | users | seconds |\n|---|---|---|\n");
        for peer in &self.peers {
            for (n, secs) in &peer.loads {
                md.push_str(&format!("| {} | {n} | {secs:.1} |\n", peer.name));
            }
        }
        md.push('\n');
    }

    fn write_tables(&self, md: &mut String) {
        if !self.peers.is_empty() {
            md.push_str("## 2. Writes: `POST /Users` (distinct users) and `PATCH /Groups/{id}` adding one member\n\n### In-memory storage (protocol work)\n\n");
            md.push_str("| server | POST req/s | p50 ms | p99 ms | PATCH req/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n");
            for p in &self.peers {
                md.push_str(&format!(
                    "| {} | {}{} | {:.2} | {:.2} | {}{} | {:.2} | {:.2} |\n",
                    p.name,
                    rate(&p.post),
                    errors(&p.post),
                    p.post.p50_ms(),
                    p.post.p99_ms(),
                    rate(&p.patch),
                    errors(&p.patch),
                    p.patch.p50_ms(),
                    p.patch.p99_ms()
                ));
            }
            md.push('\n');
        }
        if let Some(w) = &self.writes {
            md.push_str("### Kubernetes store against the floor\n\nThe floor sends the same custom resources straight to the kube-apiserver with the kube client (create a `ScimUser`; a JSON patch appending to a `ScimGroup`'s `spec.members`), at the same concurrency. A SCIM create first claims the userName with a Lease (atomic uniqueness), then creates the `ScimUser`: two writes; the two-write floor makes exactly these two with the kube client, in a namespace no tenant uses (so no controller reacts to it). A SCIM PATCH reads from the cache and writes conditionally on resourceVersion.\n\n");
            md.push_str("| operation | path | req/s | p50 ms | p99 ms | time per write ÷ floor |\n|---|---|---|---|---|---|\n");
            for (op, scim, floor) in [
                ("POST /Users", &w.scim_post, &w.floor_post),
                ("PATCH /Groups add member", &w.scim_patch, &w.floor_patch),
            ] {
                let ratio = floor.throughput() / scim.throughput().max(1e-9);
                md.push_str(&format!(
                    "| {op} | scimitar (SCIM) | {}{} | {:.2} | {:.2} | {ratio:.2}× |\n",
                    rate(scim),
                    errors(scim),
                    scim.p50_ms(),
                    scim.p99_ms()
                ));
                md.push_str(&format!(
                    "| {op} | floor (kube client) | {}{} | {:.2} | {:.2} | 1× |\n",
                    rate(floor),
                    errors(floor),
                    floor.p50_ms(),
                    floor.p99_ms()
                ));
                if op == "POST /Users" {
                    let claimed = &w.claimed_post;
                    md.push_str(&format!(
                        "| {op} | two-write floor (Lease, then `ScimUser`; kube client) | {}{} | {:.2} | {:.2} | {:.2}× |\n",
                        rate(claimed),
                        errors(claimed),
                        claimed.p50_ms(),
                        claimed.p99_ms(),
                        floor.throughput() / claimed.throughput().max(1e-9)
                    ));
                }
            }
            md.push('\n');
        }
    }

    fn onboarding_table(&self, md: &mut String) {
        let Some(o) = &self.onboarding else {
            return;
        };
        md.push_str(&format!(
            "## 3. Onboarding\n\nFrom empty to {} users and {} groups ({} memberships, 1–200 members per group, skewed small) over SCIM at concurrency {} (users, then groups with their members), until all {} RoleBindings list every member and the directory ConfigMap lists every user and group. The floor writes the same ScimUsers and ScimGroups straight to the API server at the same concurrency.\n\n",
            o.users, o.groups, o.memberships, o.concurrency, o.groups
        ));
        md.push_str("| | seconds |\n|---|---|\n");
        md.push_str(&format!(
            "| SCIM requests answered | {:.1} |\n",
            o.provisioned.as_secs_f64()
        ));
        md.push_str(&format!(
            "| everything reconciled | {:.1} |\n",
            o.total.as_secs_f64()
        ));
        md.push_str(&format!(
            "| floor (objects written directly) | {:.1} |\n",
            o.floor.as_secs_f64()
        ));
        md.push_str(&format!(
            "| ratio reconciled ÷ floor | {:.2}× |\n",
            o.total.as_secs_f64() / o.floor.as_secs_f64().max(1e-9)
        ));
        if o.errors > 0 {
            md.push_str(&format!("| failed requests | {} |\n", o.errors));
        }
        md.push('\n');
    }

    fn deprovision_table(&self, md: &mut String) {
        let Some(d) = &self.deprovision else {
            return;
        };
        md.push_str(&format!(
            "## 4. Deprovision latency\n\n{} users of a mapped group deactivated one at a time (`PATCH active: false`); latency from the PATCH response until a SubjectAccessReview for the user says no (polled every 5 ms).\n\n| p50 ms | p99 ms | max ms | failures |\n|---|---|---|---|\n| {:.0} | {:.0} | {:.0} | {} |\n\n",
            d.ok,
            d.p50_ms(),
            d.p99_ms(),
            d.latencies.last().copied().map_or(0.0, ms),
            d.errors
        ));
    }

    fn scaling_table(&self, md: &mut String) {
        if self.scaling.is_empty() {
            return;
        }
        md.push_str("## 5. Scaling: one membership change as the tenant grows\n\nUsers are loaded straight into the API server between sizes; then 20 PATCHes each add one member to a mapped group, measuring the PATCH and the time from its response until the RoleBinding lists the member, and the read path at that size. RSS is the operator's (it also caches the run's other tenants).\n\n");
        md.push_str("| users | PATCH p50 ms | PATCH p99 ms | reconciled p50 ms | reconciled p99 ms | read req/s | read p99 ms | operator RSS MiB |\n|---|---|---|---|---|---|---|---|\n");
        for s in &self.scaling {
            md.push_str(&format!(
                "| {} | {:.1}{} | {:.1} | {:.0} | {:.0} | {} | {:.2} | {} |\n",
                s.users,
                s.patch.p50_ms(),
                errors(&s.patch),
                s.patch.p99_ms(),
                s.reconcile.p50_ms(),
                s.reconcile.p99_ms(),
                rate(&s.read),
                s.read.p99_ms(),
                s.operator_rss_mib
                    .map_or(String::new(), |r| format!("{r:.0}"))
            ));
        }
        md.push('\n');
    }

    fn criterion_table(&self, md: &mut String) {
        if self.criterion.is_empty() {
            return;
        }
        md.push_str("## 6. Micro-benchmarks (Criterion, `benches/protocol.rs`)\n\n| benchmark | mean |\n|---|---|\n");
        for (id, ns) in &self.criterion {
            let shown = if *ns >= 1e6 {
                format!("{:.2} ms", ns / 1e6)
            } else if *ns >= 1e3 {
                format!("{:.2} µs", ns / 1e3)
            } else {
                format!("{ns:.0} ns")
            };
            md.push_str(&format!("| `{id}` | {shown} |\n"));
        }
        md.push('\n');
    }
}
