//! BENCHMARKS.md: the tables, with the command, machine and versions.

use std::path::Path;
use std::time::Duration;

use crate::drive::Stats;
use crate::flat::{Load, Point};
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
    /// The flat-cost phase, one point per size, smallest first.
    pub flat: Vec<Point>,
    /// (benchmark id, mean in ns), from criterion.
    pub criterion: Vec<(String, f64)>,
    /// The operator's hottest symbols during the largest scaling step
    /// (`perf report` lines), when perf was available.
    pub profile: Vec<String>,
    pub duration: Duration,
    /// How long each phase took.
    pub phases: Vec<(String, Duration)>,
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
        self.flat_tables(&mut md);
        self.criterion_table(&mut md);
        self.profile_section(&mut md);
        self.phases_table(&mut md);
        md.push_str("What the gaps come from, and what would close them: [docs/performance.md](docs/performance.md).\n");
        md
    }

    fn profile_section(&self, md: &mut String) {
        if self.profile.is_empty() {
            return;
        }
        md.push_str("## 7. Where the operator's CPU goes at the largest size\n\n`perf record -g` of `scimitar run` during the membership changes at the largest size of section 3; self time by symbol (`perf report --no-children`), top entries. The full report is `target/bench/operator-profile.txt`.\n\n```text\n");
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

    /// The flat-cost point of nominal size `full` (divided by 20 in a quick run).
    fn point(&self, full: usize) -> Option<&Point> {
        self.flat.iter().find(|p| p.nominal == full)
    }

    fn headline(&self, md: &mut String) {
        md.push_str("## Headline\n\n### Flat cost as a tenant grows\n\nEach size is one tenant alone: a control plane, a namespace and a `scimitar run` process of its own (section 3).");
        if crate::quick() {
            md.push_str(
                " **Quick run: every size divided by 20; the goals are for the full sizes.**",
            );
        }
        md.push_str("\n\n| target | measured | goal | |\n|---|---|---|---|\n");
        let row =
            |md: &mut String, target: String, measured: String, goal: &str, ok: Option<bool>| {
                md.push_str(&format!(
                    "| {target} | {measured} | {goal} | {} |\n",
                    ok.map_or("", met)
                ));
            };
        for (full, goal) in [(10_000, 60.0), (100_000, 150.0)] {
            if let Some(p) = self.point(full) {
                row(
                    md,
                    format!(
                        "operator peak RSS (VmHWM), one tenant only: {} users + {} groups, one relist included",
                        p.users, p.groups
                    ),
                    p.memory
                        .peak
                        .map_or("not read".into(), |m| format!("{m:.0} MiB")),
                    &format!("≤ {goal:.0} MiB"),
                    p.memory.peak.map(|m| m <= goal),
                );
            }
        }
        let last = crate::peers::SIZES.len() - 1;
        if let Some(ours) = self.ours()
            && let Some((n, _, rss)) = ours.reads.get(last)
        {
            let peak = ours.peak_mib;
            row(
                md,
                format!("`scimitar serve` RSS at {n} users (peak over its run)"),
                format!(
                    "{} peak ({} resident at {n} users)",
                    peak.map_or("?".into(), |m| format!("{m:.0} MiB")),
                    rss.map_or("?".into(), |m| format!("{m:.0} MiB"))
                ),
                "≤ 100 MiB",
                peak.map(|m| m <= 100.0),
            );
        }
        for p in &self.flat {
            let ratio = p.patch.p99_ms() / p.floor_patch.p99_ms().max(1e-9);
            row(
                md,
                format!(
                    "PATCH add-member p99 at {} users, concurrency 1 ({} changes; floor {})",
                    p.users, p.patch.ok, p.floor_patch.ok
                ),
                format!(
                    "{:.1} ms = {ratio:.2}× the floor's JSON patch p99 ({:.1} ms)",
                    p.patch.p99_ms(),
                    p.floor_patch.p99_ms()
                ),
                "≤ 1.2× the floor",
                valid(&[&p.patch, &p.floor_patch]).then_some(ratio <= 1.2),
            );
        }
        for p in &self.flat {
            row(
                md,
                format!(
                    "member added → RoleBinding lists it, p99 at {} users ({} changes)",
                    p.users, p.added.ok
                ),
                format!("{:.0} ms", p.added.p99_ms()),
                "≤ 300 ms",
                valid(&[&p.added]).then_some(p.added.p99_ms() <= 300.0),
            );
        }
        if let (Some(small), Some(large)) = (self.point(1_000), self.point(100_000)) {
            let ratio = large.added.p99_ms() / small.added.p99_ms().max(1e-9);
            row(
                md,
                format!(
                    "member added → RoleBinding p99 at {} ÷ at {} users",
                    large.users, small.users
                ),
                format!("{ratio:.2}×"),
                "≤ 1.5×",
                valid(&[&small.added, &large.added]).then_some(ratio <= 1.5),
            );
        }
        if let Some(p) = self.point(100_000) {
            row(
                md,
                format!(
                    "deprovision p99 at {} users (`active: false` sent → SubjectAccessReview denies; {} users)",
                    p.users, p.deprovision.ok
                ),
                format!("{:.0} ms", p.deprovision.p99_ms()),
                "≤ 300 ms",
                valid(&[&p.deprovision]).then_some(p.deprovision.p99_ms() <= 300.0),
            );
        }
        for p in &self.flat {
            let budget = WriteBudget::of(p);
            row(
                md,
                format!(
                    "API writes per membership change at {} users ({} changes)",
                    p.users, p.writes.changes
                ),
                format!(
                    "{:.2} writes: {:.2} RoleBinding, {:.2} directory ConfigMap, {:.2} status, {:.2} the SCIM write, {:.2} other; {:.1} kB (shard {:.1} kB)",
                    budget.total,
                    budget.bindings,
                    budget.config_maps,
                    budget.statuses,
                    budget.scim,
                    budget.other,
                    budget.bytes / 1e3,
                    p.shards.mean_bytes / 1e3
                ),
                "≤ 1 RoleBinding (one per mapped namespace) + 2 shards + 2 statuses (+ the SCIM write); ≤ 2 × shard size",
                (p.writes.changes > 0).then(|| budget.met(p.shards.mean_bytes)),
            );
        }
        if let (Some(ours), Some(p)) = (self.ours(), self.flat.last())
            && let Some((n, serve, _)) = ours.reads.get(last)
        {
            let ratio = p.read.throughput() / serve.throughput().max(1e-9);
            row(
                md,
                format!(
                    "reads through `scimitar run` at {} users ÷ `scimitar serve` at {n} users (filter reads/s, concurrency {})",
                    p.users,
                    crate::peers::CONCURRENCY
                ),
                format!("{ratio:.2} ({} ÷ {} req/s)", rate(&p.read), rate(serve)),
                "≥ 0.5",
                Some(ratio >= 0.5),
            );
        }
        if let Some(p) = self.point(10_000)
            && let Some(o) = &p.onboarding
        {
            let ratio = o.total.as_secs_f64() / o.floor.as_secs_f64().max(1e-9);
            row(
                md,
                format!(
                    "onboarding {} users / {} groups until reconciled ÷ floor",
                    p.users, p.groups
                ),
                format!(
                    "{ratio:.2}× ({:.1} s ÷ {:.1} s)",
                    o.total.as_secs_f64(),
                    o.floor.as_secs_f64()
                ),
                "≤ 1.5×",
                Some(ratio <= 1.5),
            );
        }
        if let Some(w) = &self.writes {
            let post = w.floor_post.throughput() / w.scim_post.throughput().max(1e-9);
            let patch = w.floor_patch.throughput() / w.scim_patch.throughput().max(1e-9);
            row(
                md,
                "POST /Users on the Kubernetes store ÷ floor (time per write)".into(),
                format!("{post:.2}×"),
                "≤ 1.6×",
                Some(post <= 1.6),
            );
            row(
                md,
                "PATCH /Groups on the Kubernetes store ÷ floor (time per write)".into(),
                format!("{patch:.2}×"),
                "≤ 1.2×",
                Some(patch <= 1.2),
            );
        }
        md.push('\n');
        let notes: Vec<String> = self
            .flat
            .iter()
            .flat_map(|p| {
                p.errors
                    .iter()
                    .map(move |e| format!("- At {} users: {e}.", p.users))
            })
            .collect();
        if !notes.is_empty() {
            md.push_str("Loops that stopped short (their goals are judged on the samples they have; a goal without samples has no verdict):\n\n");
            for note in notes {
                md.push_str(&note);
                md.push('\n');
            }
            md.push('\n');
        }

        md.push_str("### Earlier targets\n\n| target | measured | goal | |\n|---|---|---|---|\n");
        if let (Some(ours), Some((peer, best))) = (self.ours(), self.best_peer_read(last))
            && let Some((n, read, _)) = ours.reads.get(last)
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
        }
        if let Some(p) = self.point(10_000)
            && let Some(o) = &p.onboarding
        {
            md.push_str(&format!(
                "| onboarding {} users, {} groups until reconciled | {:.0} s | < 120 s | {} |\n",
                p.users,
                p.groups,
                o.total.as_secs_f64(),
                met(o.total < Duration::from_secs(120))
            ));
        }
        if let Some(p) = self.flat.first() {
            md.push_str(&format!(
                "| deprovision p99 at {} users | {:.0} ms | ≤ 1000 ms | {} |\n",
                p.users,
                p.deprovision.p99_ms(),
                met(valid(&[&p.deprovision]) && p.deprovision.p99_ms() <= 1000.0)
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
        md.push_str("\nLoading (bulk POST /Users at the same concurrency), and each server's peak RSS (VmHWM, its processes summed) over the whole phase:\n\n| server | users | seconds | peak RSS MiB |\n|---|---|---|---|\n");
        for peer in &self.peers {
            for (n, secs) in &peer.loads {
                md.push_str(&format!(
                    "| {} | {n} | {secs:.1} | {} |\n",
                    peer.name,
                    peer.peak_mib.map_or(String::new(), |m| format!("{m:.0}"))
                ));
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

    fn flat_tables(&self, md: &mut String) {
        if self.flat.is_empty() {
            return;
        }
        md.push_str("## 3. Flat cost as a tenant grows\n\nEach size runs alone: a fresh control plane (etcd, kube-apiserver), one tenant in a fresh namespace, and a fresh `scimitar run` process (limits off, the request log at its defaults, logging at info), so its memory is that tenant's. Users are people as identity providers send them (name, emails, title, enterprise extension); there are a tenth as many groups, of 1–200 members skewed small (about 4 memberships per user), and the tenant maps every group to `view` in one namespace, so each group has one RoleBinding, and the directory ConfigMaps list everyone.\n\n");
        md.push_str(&format!(
            "Tenants up to {} users are onboarded over SCIM at concurrency {} (users, then groups with their members); its floor writes the same objects straight to the API server at the same concurrency, before the operator starts, in a namespace deleted again before it does. Larger tenants are loaded straight into the API server (32 at a time) with the objects the store writes (spec, labels including the tenant uid, annotation), without the userName anchor Leases, which the operator does not cache; at SCIM-loaded sizes the benchmark checks that a stored user and group have exactly the specs the direct load writes. They are loaded with no operator running; then a fresh operator takes the tenant over (as after a failover), and *until reconciled* counts from its start (its *empty* RSS in section 5 comes from an operator started for the empty tenant before loading). *Until reconciled* ends when the tenant's counts, every binding and the directory are right; the measurements after it start only once the operator has sent no API write (Leases and Secrets aside) for a second, so the load's last status writes are not counted against the changes.\n\n",
            crate::FLAT_DIRECT_FROM - 1,
            crate::ONBOARD_CONCURRENCY
        ));
        md.push_str("| users | groups | memberships | loaded | until the last write answered s | until reconciled s | onboarding floor s | reconciled ÷ floor | failed writes |\n|---|---|---|---|---|---|---|---|---|\n");
        for p in &self.flat {
            let (floor, ratio, failed) =
                p.onboarding
                    .as_ref()
                    .map_or((String::new(), String::new(), String::new()), |o| {
                        (
                            format!("{:.1}", o.floor.as_secs_f64()),
                            format!(
                                "{:.2}×",
                                o.total.as_secs_f64() / o.floor.as_secs_f64().max(1e-9)
                            ),
                            o.errors.to_string(),
                        )
                    });
            let loaded = p.onboarding.as_ref().map_or(p.loaded, |o| o.provisioned);
            md.push_str(&format!(
                "| {} | {} | {} | {} | {:.1} | {:.1} | {floor} | {ratio} | {failed} |\n",
                p.users,
                p.groups,
                p.memberships,
                match p.load {
                    Load::Scim => p.onboarding.as_ref().map_or("SCIM".to_owned(), |o| format!(
                        "SCIM, concurrency {}",
                        o.concurrency
                    )),
                    Load::Direct => "direct, concurrency 32".to_owned(),
                },
                loaded.as_secs_f64(),
                p.reconciled.as_secs_f64()
            ));
        }
        md.push_str("\n### Membership changes, deprovisions and reads\n\nOne change at a time (concurrency 1). *Added*: a SCIM `PATCH /Groups/{id}` adding a user who was not a member, timed from sending it until a watch on the RoleBindings sees the user's subject in the group's binding. *Floor*: the same change as a JSON patch appending to `spec.members`, straight to the API server, after the operator was stopped. *Deprovision*: `PATCH /Users/{id}` `active: false` for a user bound through some group, timed from sending it until the watch sees the subject in no binding and then a SubjectAccessReview (polled every 5 ms) says no. *Reads*: `GET /Users?filter=userName eq …` through `scimitar run` at concurrency 8. Each loop is bounded in time; the counts say how many were measured.\n\n");
        md.push_str("| users | changes | PATCH p50 / p99 ms | floor p50 / p99 ms | PATCH p99 ÷ floor p99 | added p50 / p99 / max ms | deprovisions | deprovision p50 / p99 / max ms | reads/s | read p99 ms |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for p in &self.flat {
            md.push_str(&format!(
                "| {} | {}{} | {:.1} / {:.1} | {:.1} / {:.1} | {:.2}× | {:.0} / {:.0} / {:.0} | {}{} | {:.0} / {:.0} / {:.0} | {}{} | {:.2} |\n",
                p.users,
                p.patch.ok,
                errors(&p.patch),
                p.patch.p50_ms(),
                p.patch.p99_ms(),
                p.floor_patch.p50_ms(),
                p.floor_patch.p99_ms(),
                p.patch.p99_ms() / p.floor_patch.p99_ms().max(1e-9),
                p.added.p50_ms(),
                p.added.p99_ms(),
                max_ms(&p.added),
                p.deprovision.ok,
                errors(&p.deprovision),
                p.deprovision.p50_ms(),
                p.deprovision.p99_ms(),
                max_ms(&p.deprovision),
                rate(&p.read),
                errors(&p.read),
                p.read.p99_ms()
            ));
        }
        md.push_str("\n## 4. API writes per membership change\n\nEvery mutating request the operator process sent to the API server during the membership changes of section 3 (its own counters `scimitar_api_writes_total` and `scimitar_api_write_bytes_total`, by verb and resource; request body bytes), divided by the number of changes. Leases (leader election) and Secrets (token last-used stamps) are written on a timer, not per change, and are left out of the budget. The shard size is the mean data size (keys plus values) of the directory ConfigMaps holding entries at the end of the changes (the one ConfigMap when unsharded).\n\n");
        md.push_str("| users | directory ConfigMaps | shard kB (mean / max) | verb | resource | writes per change | kB per change |\n|---|---|---|---|---|---|---|\n");
        for p in &self.flat {
            let n = p.writes.changes.max(1) as f64;
            for ((verb, resource), (w, b)) in &p.writes.by_resource {
                md.push_str(&format!(
                    "| {} | {} | {:.1} / {:.1} | {verb} | {resource} | {:.2} | {:.2} |\n",
                    p.users,
                    p.shards.config_maps,
                    p.shards.mean_bytes / 1e3,
                    p.shards.max_bytes as f64 / 1e3,
                    w / n,
                    b / n / 1e3
                ));
            }
        }
        md.push_str("\n## 5. The operator's memory\n\n`/proc/<pid>/status` of the operator at each size: resident when Ready with the tenant still empty, after loading and reconciling, and at the end; and VmHWM, the peak over the process's life, read after a kube-apiserver restart (every watch relists) once the operator was Ready again and a new membership reached a RoleBinding.\n\n");
        md.push_str("| users | empty MiB | loaded MiB | end MiB | peak (VmHWM) MiB | request log MiB | restart → converged s |\n|---|---|---|---|---|---|---|\n");
        let mib = |m: Option<f64>| m.map_or(String::new(), |m| format!("{m:.0}"));
        for p in &self.flat {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                p.users,
                mib(p.memory.empty),
                mib(p.memory.loaded),
                mib(p.memory.end),
                mib(p.memory.peak),
                p.memory
                    .scim_log
                    .map_or(String::new(), |b| format!("{:.1}", b / 1048576.0)),
                p.relist
                    .map_or("no".into(), |d| format!("{:.1}", d.as_secs_f64()))
            ));
        }
        md.push_str("\n### Memory budget per component\n\nAt each size, the resident memory after loading and at the end, split: the process with the tenant still empty (runtime, clients, empty caches), the tenant's read cache (`scimitar_cache_bytes`, the index's heap), the request log (`scimitar_scim_log_bytes`), and everything else (RSS minus those three: reflectors of owned objects, namespaces and roles, controller state, allocator slack). The peak is VmHWM over the process's life.\n");
        for p in &self.flat {
            memory_budget(md, p.users, &p.memory);
        }
        md.push('\n');
    }

    fn phases_table(&self, md: &mut String) {
        if self.phases.is_empty() {
            return;
        }
        md.push_str("## 8. How long each phase took\n\n| phase | seconds |\n|---|---|\n");
        for (phase, took) in &self.phases {
            md.push_str(&format!("| {phase} | {:.0} |\n", took.as_secs_f64()));
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

/// Whether every run has samples (a goal on none gets no verdict).
fn valid(stats: &[&Stats]) -> bool {
    stats.iter().all(|s| s.ok > 0)
}

fn max_ms(s: &Stats) -> f64 {
    s.latencies.last().copied().map_or(0.0, ms)
}

/// API writes per membership change, sorted by what the budget allows.
struct WriteBudget {
    total: f64,
    bindings: f64,
    config_maps: f64,
    statuses: f64,
    scim: f64,
    other: f64,
    bytes: f64,
}

impl WriteBudget {
    fn of(p: &Point) -> WriteBudget {
        let w = &p.writes;
        let timed = |r: &str| r == "leases" || r == "secrets";
        let (total, bytes) = w.per_change(|r| !timed(r));
        let bindings = w.per_change(|r| r == "rolebindings").0;
        let config_maps = w.per_change(|r| r == "configmaps").0;
        let statuses = w
            .per_change(|r| r == "scimusers/status" || r == "scimgroups/status")
            .0;
        let scim = w.per_change(|r| r == "scimgroups").0;
        WriteBudget {
            total,
            bindings,
            config_maps,
            statuses,
            scim,
            other: total - bindings - config_maps - statuses - scim,
            bytes,
        }
    }

    /// One binding (one mapped namespace per group), two shards, two
    /// statuses (the group's and the user's), one SCIM write, nothing else;
    /// bytes at most twice the shard size.
    fn met(&self, shard_bytes: f64) -> bool {
        let slack = 1e-9;
        self.bindings <= 1.0 + slack
            && self.config_maps <= 2.0 + slack
            && self.statuses <= 2.0 + slack
            && self.scim <= 1.0 + slack
            && self.other <= slack
            && self.bytes <= 2.0 * shard_bytes
    }
}

/// The "Memory budget per component" table of one size, in MiB.
fn memory_budget(md: &mut String, users: usize, m: &crate::flat::Memory) {
    let mib = |m: Option<f64>| m.map_or("–".into(), |m| format!("{m:.1}"));
    let bytes = |b: Option<f64>| b.map(|b| b / 1048576.0);
    let rest = |rss: Option<f64>, parts: &crate::flat::Parts| {
        Some(rss? - m.empty? - bytes(parts.cache)? - bytes(parts.scim_log)?)
    };
    let (l, e) = (&m.parts_loaded, &m.parts_end);
    md.push_str(&format!(
        "\n#### {users} users\n\n| component | loaded MiB | end MiB |\n|---|---|---|\n"
    ));
    for (component, loaded, end) in [
        ("runtime baseline (RSS, tenant empty)", m.empty, m.empty),
        (
            "read cache (`scimitar_cache_bytes`)",
            bytes(l.cache),
            bytes(e.cache),
        ),
        (
            "request log (`scimitar_scim_log_bytes`)",
            bytes(l.scim_log),
            bytes(e.scim_log),
        ),
        (
            "everything else (RSS − the three)",
            rest(m.loaded, l),
            rest(m.end, e),
        ),
        ("RSS", m.loaded, m.end),
        ("peak (VmHWM)", None, m.peak),
    ] {
        md.push_str(&format!(
            "| {component} | {} | {} |\n",
            mib(loaded),
            mib(end)
        ));
    }
}
