//! The Kubernetes part: scimitar on its Kubernetes store against the storage
//! floor (the same custom resources written straight to the API server with
//! the kube client), onboarding, deprovision latency and scaling.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use scimitar::crd::{ScimGroup, ScimTenantSpec, ScimUser};
use scimitar::store::kube::anchor::{ANCHOR_LABEL, anchor_name};
use scimitar::store::kube::convert::{group_spec_from_scim, user_spec_from_scim};
use scimitar::store::kube::{LAST_MODIFIED, MANAGED_BY};
use serde_json::{Value, json};

use crate::drive::{Stats, drive};
use crate::support::operator::{Operator, can, create_tenant, mapping};
use crate::support::{ControlPlane, namespace};
use crate::target::{Target, user_name};

/// The objects the store would write for a SCIM resource: same spec, same
/// labels and annotations, named by a fresh id.
fn metadata(namespace: &str) -> kube::api::ObjectMeta {
    kube::api::ObjectMeta {
        name: Some(uuid::Uuid::new_v4().to_string()),
        namespace: Some(namespace.to_owned()),
        labels: Some(BTreeMap::from([(
            MANAGED_BY.0.to_owned(),
            MANAGED_BY.1.to_owned(),
        )])),
        annotations: Some(BTreeMap::from([(
            LAST_MODIFIED.to_owned(),
            jiff::Timestamp::now().to_string(),
        )])),
        ..Default::default()
    }
}

pub fn user_object(namespace: &str, i: usize) -> ScimUser {
    ScimUser {
        metadata: metadata(namespace),
        spec: user_spec_from_scim(&Target::user(i)).expect("valid user"),
        status: None,
    }
}

pub fn group_object(namespace: &str, name: &str, members: &[String]) -> ScimGroup {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let scim = json!({"displayName": name, "members": members});
    ScimGroup {
        metadata: metadata(namespace),
        spec: group_spec_from_scim(&scim).expect("valid group"),
        status: None,
    }
}

/// The floor: creates users `range` directly; returns stats and their names.
pub async fn floor_create_users(
    client: &Client,
    namespace: &str,
    range: std::ops::Range<usize>,
    concurrency: usize,
    limit: Duration,
) -> (Stats, Vec<(usize, String)>) {
    let api: Api<ScimUser> = Api::namespaced(client.clone(), namespace);
    let names = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (start, count) = (range.start, range.len());
    let (ns, kept) = (namespace.to_owned(), names.clone());
    let stats = drive(concurrency, count, limit, move |i| {
        let (api, ns, kept) = (api.clone(), ns.clone(), kept.clone());
        async move {
            let user = user_object(&ns, start + i);
            let created = api.create(&PostParams::default(), &user).await;
            if let Ok(created) = &created {
                let id = created.metadata.name.clone().unwrap_or_default();
                kept.lock().unwrap().push((start + i, id));
            }
            created.is_ok()
        }
    })
    .await;
    let names = names.lock().unwrap().clone();
    (stats, names)
}

/// The floor of a create with a userName claim: the anchor `Lease` the store
/// claims (same name, labels and holder), then the `ScimUser`, one after the
/// other, straight to the API server. No tenant reads this namespace, so no
/// controller reacts to it.
pub async fn floor_create_claimed_users(
    client: &Client,
    namespace: &str,
    range: std::ops::Range<usize>,
    concurrency: usize,
    limit: Duration,
) -> Stats {
    let users: Api<ScimUser> = Api::namespaced(client.clone(), namespace);
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let (start, count) = (range.start, range.len());
    let ns = namespace.to_owned();
    drive(concurrency, count, limit, move |i| {
        let (users, leases, ns) = (users.clone(), leases.clone(), ns.clone());
        async move {
            let user = user_object(&ns, start + i);
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {
                    "name": anchor_name(&user.spec.user_name),
                    "labels": {
                        ANCHOR_LABEL: "username",
                        MANAGED_BY.0: MANAGED_BY.1,
                    },
                },
                "spec": {"holderIdentity": user.metadata.name},
            }))
            .expect("lease");
            leases.create(&PostParams::default(), &lease).await.is_ok()
                && users.create(&PostParams::default(), &user).await.is_ok()
        }
    })
    .await
}

/// The floor of "add one member": a JSON patch appending to `spec.members`.
pub async fn floor_add_members(
    client: &Client,
    namespace: &str,
    groups: &[String],
    users: &[String],
    concurrency: usize,
    limit: Duration,
) -> Stats {
    let api: Api<ScimGroup> = Api::namespaced(client.clone(), namespace);
    let (groups, users) = (Arc::new(groups.to_vec()), Arc::new(users.to_vec()));
    let count = users.len();
    drive(concurrency, count, limit, move |i| {
        let (api, groups, users) = (api.clone(), groups.clone(), users.clone());
        async move {
            let group = &groups[i % groups.len()];
            let patch: json_patch::Patch = serde_json::from_value(json!([
                {"op": "add", "path": "/spec/members/-", "value": {"value": users[i], "type": "User"}}
            ]))
            .expect("patch");
            api.patch(group, &PatchParams::default(), &Patch::Json::<()>(patch))
                .await
                .is_ok()
        }
    })
    .await
}

/// SCIM: creates users `range`; returns stats and (number, id) of each.
pub async fn scim_create_users(
    target: &Target,
    range: std::ops::Range<usize>,
    concurrency: usize,
    limit: Duration,
) -> (Stats, Vec<(usize, String)>) {
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (start, count) = (range.start, range.len());
    let (t, kept) = (target.clone(), ids.clone());
    let stats = drive(concurrency, count, limit, move |i| {
        let (t, kept) = (t.clone(), kept.clone());
        async move {
            match t.create_user(start + i).await {
                Some(id) => {
                    kept.lock().unwrap().push((start + i, id));
                    true
                }
                None => false,
            }
        }
    })
    .await;
    let ids = ids.lock().unwrap().clone();
    (stats, ids)
}

/// SCIM: adds `users[i]` to `groups[i % groups.len()]`, one PATCH each.
pub async fn scim_add_members(
    target: &Target,
    groups: &[String],
    users: &[String],
    concurrency: usize,
    limit: Duration,
) -> Stats {
    let (t, groups, users) = (
        target.clone(),
        Arc::new(groups.to_vec()),
        Arc::new(users.to_vec()),
    );
    let count = users.len();
    drive(concurrency, count, limit, move |i| {
        let (t, groups, users) = (t.clone(), groups.clone(), users.clone());
        async move { t.add_member(&groups[i % groups.len()], &users[i]).await }
    })
    .await
}

/// A tenant of its own in a fresh namespace, mapping `mappings` (group →
/// view in `apps`); returns (tenant namespace, SCIM target).
pub async fn tenant(
    admin: &Client,
    operator: &Operator,
    prefix: &str,
    groups: &[String],
    apps: &str,
) -> (String, Target) {
    let home = namespace(admin, prefix).await;
    let mappings = groups.iter().map(|g| mapping(g, "view", &[apps])).collect();
    let spec = ScimTenantSpec {
        namespace: home.clone(),
        mappings,
        ..serde_json::from_value(json!({"namespace": home})).expect("spec")
    };
    let token = create_tenant(admin, &home, spec).await;
    let target = Target::new(
        &format!("scimitar ({prefix})"),
        &format!("{}/scim/v2", operator.url),
        &token,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while target.user_count().await.is_none() {
        assert!(Instant::now() < deadline, "tenant {home} not served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (home, target)
}

/// Member counts of the onboarding groups: 1 to 200, skewed towards small
/// groups as directories are (a few large all-staff groups, many teams),
/// deterministic. Mean about 40.
pub fn group_sizes(groups: usize) -> Vec<usize> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..groups)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state % 10_000) as f64 / 10_000.0;
            1 + (199.0 * u.powi(4)).round() as usize
        })
        .collect()
}

/// Members of onboarding group `g` among `users`.
pub fn members_of(g: usize, size: usize, users: &[String]) -> Vec<String> {
    (0..size)
        .map(|k| users[(g * 7919 + k * 104_729) % users.len()].clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Whether the tenant in `home` is fully reconciled: `bindings` RoleBindings
/// in `apps` holding `subjects` subjects in all, and a directory listing
/// `users` users and `groups` groups.
pub async fn reconciled(
    admin: &Client,
    home: &str,
    apps: &str,
    bindings: usize,
    subjects: usize,
    users: usize,
    groups: usize,
) -> bool {
    let selector = format!("scimitar.dev/tenant={home}");
    let Ok(list) = Api::<RoleBinding>::namespaced(admin.clone(), apps)
        .list(&ListParams::default().labels(&selector))
        .await
    else {
        return false;
    };
    let found: usize = list
        .items
        .iter()
        .map(|b| b.subjects.as_ref().map_or(0, Vec::len))
        .sum();
    if list.items.len() != bindings || found != subjects {
        return false;
    }
    let Ok(Some(directory)) = Api::<ConfigMap>::namespaced(admin.clone(), home)
        .get_opt(&format!("{home}-directory"))
        .await
    else {
        return false;
    };
    let manifest: Value = directory
        .data
        .as_ref()
        .and_then(|d| d.get("manifest.json"))
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    manifest["users"] == users && manifest["groups"] == groups
}

/// Waits until the controller has reconciled the tenant of `home` with
/// `users` users: its status counts them, which it writes after every
/// binding, ConfigMap and user status of that pass.
pub async fn settle(admin: &Client, home: &str, users: usize) {
    let tenants: Api<scimitar::crd::ScimTenant> = Api::all(admin.clone());
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let counted = tenants
            .get(home)
            .await
            .ok()
            .and_then(|t| t.status)
            .map(|s| s.users);
        if counted == Some(users as i64) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "tenant {home} never settled at {users} users"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Onboarding result.
pub struct Onboarding {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub concurrency: usize,
    /// Until the last SCIM response.
    pub provisioned: Duration,
    /// Until every binding and the directory were reconciled.
    pub total: Duration,
    /// Writing the same objects straight to the API server.
    pub floor: Duration,
    pub errors: usize,
}

/// From empty to `users` users and `groups` groups over SCIM, until every
/// RoleBinding and the directory are reconciled; and the floor.
pub async fn onboarding(
    admin: &Client,
    operator: &Operator,
    users: usize,
    groups: usize,
    concurrency: usize,
) -> Onboarding {
    let apps = namespace(admin, "onboard-apps").await;
    let names: Vec<String> = (0..groups).map(|g| format!("team-{g:04}")).collect();
    let (home, target) = tenant(admin, operator, "onboard", &names, &apps).await;
    let sizes = group_sizes(groups);
    let limit = Duration::from_secs(600);
    // The floor first, while the operator is idle: the same objects,
    // straight to the API server.
    let floor_ns = namespace(admin, "onboard-floor").await;
    let started = Instant::now();
    let (floor_users, floor_created) =
        floor_create_users(admin, &floor_ns, 0..users, concurrency, limit).await;
    let floor_ids: Vec<String> = floor_created.into_iter().map(|(_, id)| id).collect();
    let api: Api<ScimGroup> = Api::namespaced(admin.clone(), &floor_ns);
    let floor_plan: Arc<Vec<(String, Vec<String>)>> = Arc::new(
        names
            .iter()
            .zip(&sizes)
            .enumerate()
            .map(|(g, (name, size))| (name.clone(), members_of(g, *size, &floor_ids)))
            .collect(),
    );
    let ns = floor_ns.clone();
    let floor_groups = drive(concurrency, groups, limit, move |g| {
        let (api, plan, ns) = (api.clone(), floor_plan.clone(), ns.clone());
        async move {
            let group = group_object(&ns, &plan[g].0, &plan[g].1);
            api.create(&PostParams::default(), &group).await.is_ok()
        }
    })
    .await;
    let floor = started.elapsed();
    let started = Instant::now();
    // Users, then groups with their members, as JumpCloud pushes them.
    let (user_stats, created) = scim_create_users(&target, 0..users, concurrency, limit).await;
    let ids: Vec<String> = created.into_iter().map(|(_, id)| id).collect();
    let plan: Vec<(String, Vec<String>)> = names
        .iter()
        .zip(&sizes)
        .enumerate()
        .map(|(g, (name, size))| (name.clone(), members_of(g, *size, &ids)))
        .collect();
    let memberships: usize = plan.iter().map(|(_, m)| m.len()).sum();
    let (t, plan) = (target.clone(), Arc::new(plan));
    let group_plan = plan.clone();
    let group_stats = drive(concurrency, groups, limit, move |g| {
        let (t, plan) = (t.clone(), group_plan.clone());
        async move { t.create_group(&plan[g].0, &plan[g].1).await.is_some() }
    })
    .await;
    let provisioned = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(900);
    while !reconciled(admin, &home, &apps, groups, memberships, users, groups).await {
        assert!(
            Instant::now() < deadline,
            "onboarding not reconciled within 15 minutes; see {}",
            operator.log.display()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let total = started.elapsed();

    Onboarding {
        users,
        groups,
        memberships,
        concurrency,
        provisioned,
        total,
        floor,
        errors: user_stats.errors + group_stats.errors + floor_users.errors + floor_groups.errors,
    }
}

/// Deprovision latency: from the `active: false` response to the
/// SubjectAccessReview saying no, for each of `count` users in a mapped group.
pub async fn deprovision(admin: &Client, operator: &Operator, count: usize) -> Stats {
    let apps = namespace(admin, "deprov-apps").await;
    let (_, target) = tenant(admin, operator, "deprov", &["deprov".to_owned()], &apps).await;
    let (_, created) = scim_create_users(&target, 0..count, 8, Duration::from_secs(300)).await;
    assert_eq!(created.len(), count, "deprovision users created");
    let ids: Vec<String> = created.iter().map(|(_, id)| id.clone()).collect();
    target.create_group("deprov", &ids).await.expect("group");
    let deadline = Instant::now() + Duration::from_secs(120);
    for (i, _) in &created {
        let subject = format!("oidc:{}", user_name(*i));
        while !can(admin, &subject, "list", "pods", &apps).await {
            assert!(
                Instant::now() < deadline,
                "deprovision users never got access"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut latencies = Vec::with_capacity(count);
    let mut errors = 0;
    let started = Instant::now();
    for (i, id) in &created {
        let subject = format!("oidc:{}", user_name(*i));
        if !target.deactivate(id).await {
            errors += 1;
            continue;
        }
        let answered = Instant::now();
        let deadline = answered + Duration::from_secs(30);
        while can(admin, &subject, "list", "pods", &apps).await {
            if Instant::now() > deadline {
                errors += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(answered.elapsed());
    }
    latencies.sort();
    Stats {
        ok: latencies.len(),
        errors,
        elapsed: started.elapsed(),
        latencies,
    }
}

/// One membership change at a size.
pub struct Scale {
    pub users: usize,
    /// Latency of the PATCH adding one member.
    pub patch: Stats,
    /// From the PATCH response until the RoleBinding lists the new member.
    pub reconcile: Stats,
    pub read: Stats,
    pub operator_rss_mib: Option<f64>,
}

/// Measures one membership change (`changes` times) and the read path at
/// the tenant's current size.
/// The tenant the scaling measurement grows.
pub struct ScaleTenant<'a> {
    pub admin: &'a Client,
    pub operator: &'a Operator,
    pub target: &'a Target,
    /// Namespace of the mapped group's RoleBinding.
    pub apps: &'a str,
    /// SCIM id of the mapped group.
    pub group: &'a str,
}

pub async fn scale_point(
    tenant: &ScaleTenant<'_>,
    users: &[(String, String)],
    changes: usize,
    profile: Option<&str>,
) -> Scale {
    let ScaleTenant {
        admin,
        operator,
        target,
        apps,
        group,
    } = *tenant;
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), apps);
    // At the largest size, a CPU profile of the operator over the changes.
    let profiler = profile.and_then(|name| Profiler::start(operator.pid()?, name));
    let mut patch = Vec::new();
    let mut reconcile = Vec::new();
    let mut errors = 0;
    let started = Instant::now();
    for k in 0..changes {
        let (id, name) = &users[(k * 7_919) % users.len()];
        let subject = format!("oidc:{name}");
        let sent = Instant::now();
        if !target.add_member(group, id).await {
            errors += 1;
            continue;
        }
        patch.push(sent.elapsed());
        let answered = Instant::now();
        let deadline = answered + Duration::from_secs(30);
        loop {
            let listed = bindings
                .list(&ListParams::default().labels(&format!("scimitar.dev/group={group}")))
                .await
                .map(|l| {
                    l.items.iter().any(|b| {
                        b.subjects
                            .as_ref()
                            .is_some_and(|s| s.iter().any(|s| s.name == subject))
                    })
                })
                .unwrap_or(false);
            if listed {
                break;
            }
            if Instant::now() > deadline {
                errors += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        reconcile.push(answered.elapsed());
        if errors >= 3 {
            // Not converging at this size: say so rather than wait on.
            break;
        }
    }
    patch.sort();
    reconcile.sort();
    let elapsed = started.elapsed();
    if let Some(profiler) = profiler {
        profiler.finish();
    }
    let read = read_path(target, users.len(), 3000, Duration::from_secs(20)).await;
    Scale {
        users: users.len(),
        patch: Stats {
            ok: patch.len(),
            errors,
            elapsed,
            latencies: patch,
        },
        reconcile: Stats {
            ok: reconcile.len(),
            errors: 0,
            elapsed,
            latencies: reconcile,
        },
        read,
        operator_rss_mib: operator.pid().and_then(crate::target::rss_mib),
    }
}

/// `GET /Users?filter=userName eq "…"` for random loaded users.
pub async fn read_path(target: &Target, loaded: usize, count: usize, limit: Duration) -> Stats {
    let t = target.clone();
    drive(8, count, limit, move |i| {
        let t = t.clone();
        let pick = (i.wrapping_mul(2_654_435_761)) % loaded.max(1);
        async move { t.find_user(&user_name(pick)).await }
    })
    .await
}

/// Starts the control plane and the operator (release build, limits off).
pub async fn start() -> (Client, Operator) {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    crate::support::install_crds(&admin).await;
    let operator = Operator::start_with(
        cp,
        &[
            "--rate-limit-per-second",
            "0",
            "--max-concurrent-requests",
            "0",
            "--auth-failures-per-minute",
            "0",
            "--request-timeout-seconds",
            "60",
        ],
    );
    (admin, operator)
}

/// `perf record` of a process, if perf is there; the report goes to
/// target/bench/<name>.txt.
pub struct Profiler {
    child: std::process::Child,
    data: std::path::PathBuf,
    report: std::path::PathBuf,
}

impl Profiler {
    pub fn start(pid: u32, name: &str) -> Option<Profiler> {
        let data = crate::out_dir().join(format!("{name}.perf"));
        let child = std::process::Command::new("perf")
            .args(["record", "-F", "499", "-g", "-p", &pid.to_string(), "-o"])
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(Profiler {
            child,
            data,
            report: crate::out_dir().join(format!("{name}.txt")),
        })
    }

    /// Stops recording and writes the report: self time by symbol.
    pub fn finish(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let report = std::process::Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "--percent-limit",
                "1",
                "-g",
                "none",
                "-i",
            ])
            .arg(&self.data)
            .output();
        if let Ok(out) = report {
            let _ = std::fs::write(&self.report, out.stdout);
            eprintln!("  profile: {}", self.report.display());
        }
    }
}
