//! The Kubernetes part: scimitar on its Kubernetes store against the storage
//! floor (the same custom resources written straight to the API server with
//! the kube client), and what the flat-cost phase (flat.rs) shares.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use scimitar::crd::{ScimGroup, ScimTenantSpec, ScimUser};
use scimitar::meta::{ANCHOR_LABEL, LAST_MODIFIED, MANAGED_BY, MANAGER, TENANT_UID_LABEL};
use scimitar::store::kube::anchor::anchor_name;
use scimitar::store::kube::convert::{group_spec_from_scim, user_spec_from_scim};
use serde_json::{Value, json};

use crate::drive::{Stats, drive};
use crate::support::operator::{Operator, create_tenant, mapping};
use crate::support::{ControlPlane, namespace};
use crate::target::{Target, user_name};

/// The objects the store would write for a SCIM resource: same spec, same
/// labels and annotations, named by a fresh id.
/// `tenant_uid` is the uid of the tenant the object is created for, which
/// the store labels it with (`new_meta` in src/store/kube/mod.rs).
fn metadata(namespace: &str, tenant_uid: Option<&str>) -> kube::api::ObjectMeta {
    let mut labels = BTreeMap::from([(MANAGED_BY.to_owned(), MANAGER.to_owned())]);
    if let Some(uid) = tenant_uid {
        labels.insert(TENANT_UID_LABEL.to_owned(), uid.to_owned());
    }
    kube::api::ObjectMeta {
        name: Some(uuid::Uuid::new_v4().to_string()),
        namespace: Some(namespace.to_owned()),
        labels: Some(labels),
        annotations: Some(BTreeMap::from([(
            LAST_MODIFIED.to_owned(),
            jiff::Timestamp::now().to_string(),
        )])),
        ..Default::default()
    }
}

pub fn user_object(namespace: &str, resource: &Value, tenant_uid: Option<&str>) -> ScimUser {
    ScimUser {
        metadata: metadata(namespace, tenant_uid),
        spec: user_spec_from_scim(resource).expect("valid user"),
        status: None,
    }
}

pub fn group_object(
    namespace: &str,
    name: &str,
    members: &[String],
    tenant_uid: Option<&str>,
) -> ScimGroup {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let scim = json!({"displayName": name, "members": members});
    ScimGroup {
        metadata: metadata(namespace, tenant_uid),
        spec: group_spec_from_scim(&scim).expect("valid group"),
        status: None,
    }
}

/// The floor: creates users `range` (of `shape`) directly, for the tenant
/// of uid `tenant_uid` if given; returns stats and (number, name) of each.
pub async fn floor_create_users(
    client: &Client,
    namespace: &str,
    range: std::ops::Range<usize>,
    concurrency: usize,
    limit: Duration,
    shape: fn(usize) -> Value,
    tenant_uid: Option<&str>,
) -> (Stats, Vec<(usize, String)>) {
    let api: Api<ScimUser> = Api::namespaced(client.clone(), namespace);
    let names = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (start, count) = (range.start, range.len());
    let (ns, kept) = (namespace.to_owned(), names.clone());
    let uid = tenant_uid.map(str::to_owned);
    let stats = drive(concurrency, count, limit, move |i| {
        let (api, ns, kept, uid) = (api.clone(), ns.clone(), kept.clone(), uid.clone());
        async move {
            let user = user_object(&ns, &shape(start + i), uid.as_deref());
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
            let user = user_object(&ns, &Target::user(start + i), None);
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {
                    "name": anchor_name(&user.spec.user_name),
                    "labels": {
                        ANCHOR_LABEL: "username",
                        MANAGED_BY: MANAGER,
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

/// SCIM: creates users `range` (of `shape`); returns stats and (number, id) of each.
pub async fn scim_create_users(
    target: &Target,
    range: std::ops::Range<usize>,
    concurrency: usize,
    limit: Duration,
    shape: fn(usize) -> Value,
) -> (Stats, Vec<(usize, String)>) {
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (start, count) = (range.start, range.len());
    let (t, kept) = (target.clone(), ids.clone());
    let stats = drive(concurrency, count, limit, move |i| {
        let (t, kept) = (t.clone(), kept.clone());
        async move {
            match t.create("/Users", &shape(start + i)).await {
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

/// `scimitar run` flags of the benchmark: limits off, the request log at
/// its defaults.
pub const OPERATOR_FLAGS: &[&str] = &[
    "--rate-limit-per-second",
    "0",
    "--max-concurrent-requests",
    "0",
    "--auth-failures-per-minute",
    "0",
    "--request-timeout-seconds",
    "60",
];

/// Starts the shared control plane and an operator (release build, limits off).
pub async fn start() -> (Client, Operator) {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    crate::support::install_crds(&admin).await;
    let operator = Operator::start_with(cp, OPERATOR_FLAGS);
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
