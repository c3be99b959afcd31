//! Flat cost as a tenant grows: at each size, one tenant alone in a control
//! plane of its own, served by an operator process of its own, so that what
//! the operator holds is that tenant and nothing else.
//!
//! Per size: the floor of onboarding (the same objects written straight to
//! the API server, in a namespace deleted again before the operator starts);
//! the tenant loaded (over SCIM as JumpCloud would, or, from
//! [`crate::FLAT_DIRECT_FROM`] users on, straight into the API server with
//! exactly the objects the store writes) and reconciled; membership changes
//! one at a time (PATCH latency, until the RoleBinding lists the member, and
//! the operator's API writes and bytes); deprovisions one at a time (until a
//! SubjectAccessReview says no); the read path; a kube-apiserver restart (one
//! relist) and the operator's peak RSS; then, with the operator stopped, the
//! floor's JSON patch on the same groups at the same concurrency.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use scimitar::crd::{ScimGroup, ScimTenant, ScimTenantSpec, ScimUser};
use scimitar::store::kube::convert::{group_spec_from_scim, user_spec_from_scim};
use serde_json::json;
use tokio::sync::watch;

use crate::drive::{Stats, drive};
use crate::kubernetes::{
    OPERATOR_FLAGS, Profiler, floor_create_users, group_object, group_sizes, members_of, read_path,
    reconciled, scim_create_users,
};
use crate::support::ControlPlane;
use crate::support::operator::{Operator, can, create_tenant, mapping};
use crate::target::{Target, hwm_mib, rss_mib, user_name};

/// How the tenant was loaded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Over SCIM at the onboarding concurrency.
    Scim,
    /// Straight into the API server (the store's objects, without its
    /// userName anchor Leases, which the operator does not cache).
    Direct,
}

/// Onboarding over SCIM against its floor.
pub struct Onboarding {
    pub concurrency: usize,
    /// Until the last SCIM response.
    pub provisioned: Duration,
    /// Until every binding and the directory were reconciled.
    pub total: Duration,
    /// Writing the same objects straight to the API server.
    pub floor: Duration,
    pub errors: usize,
}

/// The operator's memory at one size, in MiB.
#[derive(Default)]
pub struct Memory {
    /// Ready, the tenant created and still empty.
    pub empty: Option<f64>,
    /// Loaded and reconciled (VmRSS).
    pub loaded: Option<f64>,
    /// After the measurements and the relist (VmRSS).
    pub end: Option<f64>,
    /// VmHWM at the end: the peak over the whole life of the process.
    pub peak: Option<f64>,
    /// `scimitar_scim_log_bytes` at the end (the request log's own count).
    pub scim_log: Option<f64>,
    /// The components of [`Memory::loaded`] and [`Memory::end`] the
    /// operator counts itself, scraped with them.
    pub parts_loaded: Parts,
    pub parts_end: Parts,
}

/// Heap bytes the operator reports for its components.
#[derive(Default, Clone, Copy)]
pub struct Parts {
    /// `scimitar_cache_bytes` of the tenant: its read cache.
    pub cache: Option<f64>,
    /// `scimitar_scim_log_bytes`: the request log.
    pub scim_log: Option<f64>,
}

impl Parts {
    fn scraped(text: &str, tenant: &str) -> Self {
        Parts {
            cache: sample(
                text,
                &format!("scimitar_cache_bytes{{tenant=\"{tenant}\"}}"),
            ),
            scim_log: sample(text, "scimitar_scim_log_bytes"),
        }
    }
}

/// Mutating API requests of the operator during the membership changes.
#[derive(Default, Clone)]
pub struct ApiWrites {
    /// Changes they were counted over.
    pub changes: usize,
    /// (verb, resource) → (requests, body bytes).
    pub by_resource: BTreeMap<(String, String), (f64, f64)>,
}

impl ApiWrites {
    /// Requests and bytes per change for resources matching `keep`.
    pub fn per_change(&self, keep: impl Fn(&str) -> bool) -> (f64, f64) {
        let n = self.changes.max(1) as f64;
        let (w, b) = self
            .by_resource
            .iter()
            .filter(|((_, r), _)| keep(r))
            .fold((0.0, 0.0), |(w, b), (_, (dw, db))| (w + dw, b + db));
        (w / n, b / n)
    }
}

/// The directory ConfigMaps at one size.
#[derive(Default, Clone)]
pub struct Shards {
    /// Directory ConfigMaps (the main one and its shards).
    pub config_maps: usize,
    /// Mean and largest data size (keys plus values) of the ConfigMaps
    /// holding entries: the shards, or the main one when unsharded.
    pub mean_bytes: f64,
    pub max_bytes: usize,
}

/// Everything measured at one size.
pub struct Point {
    /// The full size this point stands for (the quick run divides it by 20).
    pub nominal: usize,
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub load: Load,
    pub onboarding: Option<Onboarding>,
    /// Loading, and loading until reconciled.
    pub loaded: Duration,
    pub reconciled: Duration,
    /// SCIM PATCH adding one member, concurrency 1.
    pub patch: Stats,
    /// From sending that PATCH until the RoleBinding lists the member.
    pub added: Stats,
    /// The floor: a JSON patch appending a member to the same groups,
    /// concurrency 1, the operator stopped.
    pub floor_patch: Stats,
    /// From sending `active: false` until a SubjectAccessReview says no.
    pub deprovision: Stats,
    /// `GET /Users?filter=userName eq …` through `scimitar run`.
    pub read: Stats,
    pub writes: ApiWrites,
    pub shards: Shards,
    pub memory: Memory,
    /// From the kube-apiserver restart until the operator was Ready and a
    /// change reached a RoleBinding again.
    pub relist: Option<Duration>,
    pub errors: Vec<String>,
}

/// Bounds of the one-at-a-time measurements.
const CHANGE_LIMIT: Duration = Duration::from_secs(300);
const FLOOR_LIMIT: Duration = Duration::from_secs(120);
const CONVERGE: Duration = Duration::from_secs(30);

/// Measures one size: `users` users (standing for `nominal`), a tenth as
/// many groups.
pub async fn measure(
    nominal: usize,
    users: usize,
    load: Load,
    changes: usize,
    profile: bool,
) -> Point {
    let groups = (users / 10).max(1);
    let mut errors = Vec::new();
    eprintln!("  flat {users}: control plane");
    let cp = ControlPlane::dedicated(&format!("bench-flat-{users}"));
    let admin = cp.admin().await;
    crate::support::install_crds(&admin).await;
    let names: Vec<String> = (0..groups).map(|g| format!("team-{g:05}")).collect();
    let sizes = group_sizes(groups);

    // The floor of onboarding, before the operator exists; its namespace is
    // deleted again so the operator never sees it.
    let floor = if load == Load::Scim {
        eprintln!("  flat {users}: onboarding floor");
        let started = Instant::now();
        let floor_ns = crate::support::namespace(&admin, "flat-floor").await;
        let (stats, created) = floor_create_users(
            &admin,
            &floor_ns,
            0..users,
            crate::ONBOARD_CONCURRENCY,
            Duration::from_secs(900),
            Target::person,
            None,
        )
        .await;
        let mut created = created;
        created.sort();
        let ids: Vec<String> = created.into_iter().map(|(_, id)| id).collect();
        let group_stats = create_groups_directly(
            &admin,
            &floor_ns,
            &names,
            &sizes,
            &ids,
            crate::ONBOARD_CONCURRENCY,
            None,
        )
        .await
        .0;
        let took = started.elapsed();
        delete_namespace(&admin, &floor_ns).await;
        Some((took, stats.errors + group_stats.errors))
    } else {
        None
    };

    let home = crate::support::namespace(&admin, "flat").await;
    let apps = crate::support::namespace(&admin, "flat-apps").await;
    let mappings = names.iter().map(|g| mapping(g, "view", &[&apps])).collect();
    let spec = ScimTenantSpec {
        namespace: home.clone(),
        mappings,
        ..serde_json::from_value(json!({"namespace": home})).expect("spec")
    };
    let token = create_tenant(&admin, &home, spec).await;
    let tenant_uid = Api::<ScimTenant>::all(admin.clone())
        .get(&home)
        .await
        .expect("tenant")
        .metadata
        .uid;
    eprintln!("  flat {users}: operator");
    let (mut operator, mut target) = serve(&cp, &token, &home).await;
    let mut memory = Memory {
        empty: operator.pid.and_then(rss_mib),
        ..Memory::default()
    };
    if load == Load::Direct {
        // That operator only gave the empty tenant's memory: the tenant is
        // loaded without one, and a fresh one takes it over (as after a
        // failover), listing it whole.
        operator.stop();
    }

    // Load: users, then groups with their members.
    eprintln!("  flat {users}: loading {users} users, {groups} groups ({load})");
    let started = Instant::now();
    let (user_stats, created) = match load {
        Load::Scim => {
            scim_create_users(
                &target,
                0..users,
                crate::ONBOARD_CONCURRENCY,
                Duration::from_secs(900),
                Target::person,
            )
            .await
        }
        Load::Direct => {
            floor_create_users(
                &admin,
                &home,
                0..users,
                32,
                Duration::from_secs(900),
                Target::person,
                tenant_uid.as_deref(),
            )
            .await
        }
    };
    let mut created = created;
    created.sort();
    let ids: Vec<String> = created.iter().map(|(_, id)| id.clone()).collect();
    let (group_stats, group_ids, plan) = match load {
        Load::Scim => {
            let plan: Vec<Vec<String>> = sizes
                .iter()
                .enumerate()
                .map(|(g, size)| members_of(g, *size, &ids))
                .collect();
            let ids = Arc::new(Mutex::new(vec![String::new(); groups]));
            let (t, kept, names, members) = (
                target.clone(),
                ids.clone(),
                Arc::new(names.clone()),
                Arc::new(plan.clone()),
            );
            let stats = drive(
                crate::ONBOARD_CONCURRENCY,
                groups,
                Duration::from_secs(900),
                move |g| {
                    let (t, kept, names, members) =
                        (t.clone(), kept.clone(), names.clone(), members.clone());
                    async move {
                        match t.create_group(&names[g], &members[g]).await {
                            Some(id) => {
                                kept.lock().unwrap()[g] = id;
                                true
                            }
                            None => false,
                        }
                    }
                },
            )
            .await;
            let ids = ids.lock().unwrap().clone();
            (stats, ids, plan)
        }
        Load::Direct => {
            create_groups_directly(
                &admin,
                &home,
                &names,
                &sizes,
                &ids,
                32,
                tenant_uid.as_deref(),
            )
            .await
        }
    };
    let loaded = started.elapsed();
    let started = if load == Load::Direct {
        eprintln!("  flat {users}: a fresh operator takes the loaded tenant over");
        let started = Instant::now();
        (operator, target) = serve(&cp, &token, &home).await;
        started
    } else {
        started
    };
    let pid = operator.pid.expect("operator pid");
    let memberships: usize = plan.iter().map(Vec::len).sum();
    if user_stats.errors + group_stats.errors > 0 {
        errors.push(format!(
            "loading: {} users and {} groups failed",
            user_stats.errors, group_stats.errors
        ));
    }
    let (n_users, n_groups) = (
        created.len(),
        group_ids.iter().filter(|g| !g.is_empty()).count(),
    );
    let poll = if users >= 50_000 {
        Duration::from_secs(2)
    } else {
        Duration::from_millis(250)
    };
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        // The tenant's status first: listing every binding is not cheap.
        let done = tenant_counts(&admin, &home).await == Some((n_users as i64, n_groups as i64))
            && reconciled(
                &admin,
                &home,
                &apps,
                n_groups,
                memberships,
                n_users,
                n_groups,
            )
            .await;
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{users} users not reconciled within 20 minutes; see {}",
            operator.log.display()
        );
        tokio::time::sleep(poll).await;
    }
    let reconciled_after = started.elapsed();
    eprintln!(
        "  flat {users}: loaded in {:.0} s, reconciled after {:.0} s",
        loaded.as_secs_f64(),
        reconciled_after.as_secs_f64()
    );
    // The last statuses of the load can still be on their way once the
    // bindings and the directory are right: they are not the changes'.
    let quiet = Instant::now();
    if !quiescent(&operator.metrics_url, poll.max(Duration::from_secs(1))).await {
        errors.push("the operator never stopped writing after the load".into());
    }
    eprintln!(
        "  flat {users}: its writes stopped {:.1} s later",
        quiet.elapsed().as_secs_f64()
    );
    memory.loaded = rss_mib(pid);
    memory.parts_loaded = Parts::scraped(&scrape(&operator.metrics_url).await, &home);
    if load == Load::Scim
        && let (Some((i, id)), Some(group)) = (created.first(), group_ids.first())
        && let Some(differs) = same_shape(&admin, &home, (*i, id), (group, &plan[0])).await
    {
        errors.push(format!(
            "the direct load's objects differ from the store's: {differs}"
        ));
    }
    let onboarding = floor.map(|(floor, floor_errors)| Onboarding {
        concurrency: crate::ONBOARD_CONCURRENCY,
        provisioned: loaded,
        total: reconciled_after,
        floor,
        errors: floor_errors + user_stats.errors + group_stats.errors,
    });

    let bindings = Bindings::watch(&admin, &apps).await;
    let index: HashMap<&str, usize> = created.iter().map(|(i, id)| (id.as_str(), *i)).collect();
    let mut members: Vec<BTreeSet<usize>> = plan
        .iter()
        .map(|m| {
            m.iter()
                .filter_map(|id| index.get(id.as_str()).copied())
                .collect()
        })
        .collect();
    let id_of: HashMap<usize, String> = created.iter().cloned().collect();
    let mut picker = Picker::new(created.iter().map(|(i, _)| *i).collect(), 1);

    // Membership changes, one at a time.
    eprintln!("  flat {users}: {changes} membership changes");
    let before = scrape(&operator.metrics_url).await;
    let profiler = profile
        .then(|| Profiler::start(pid, "operator-profile"))
        .flatten();
    let (mut patch, mut added) = (Vec::new(), Vec::new());
    let mut failed = 0;
    let started = Instant::now();
    let mut done = 0;
    let mut stopped = None;
    while done < changes && started.elapsed() < CHANGE_LIMIT {
        let Some((g, i)) = picker.membership(&members) else {
            stopped = Some("no group had a user left to add");
            break;
        };
        let (group, user) = (&group_ids[g], &id_of[&i]);
        let subject = subject(i);
        let sent = Instant::now();
        if !target.add_member(group, user).await {
            failed += 1;
            continue;
        }
        patch.push(sent.elapsed());
        members[g].insert(i);
        done += 1;
        if bindings.until(CONVERGE, |b| b.lists(group, &subject)).await {
            added.push(sent.elapsed());
        } else {
            failed += 1;
        }
        if failed >= 5 {
            errors.push(format!(
                "membership changes: gave up after {failed} failures"
            ));
            break;
        }
    }
    let change_time = started.elapsed();
    if let Some(profiler) = profiler {
        profiler.finish();
    }
    let after = scrape(&operator.metrics_url).await;
    if done < changes {
        errors.push(format!(
            "membership changes: {done} of {changes} measured: {}",
            stopped.map_or_else(
                || format!("the {} s bound was reached", CHANGE_LIMIT.as_secs()),
                str::to_owned
            )
        ));
    }
    let writes = ApiWrites {
        changes: done,
        by_resource: api_writes(&after)
            .into_iter()
            .map(|(k, (w, b))| {
                let (w0, b0) = api_writes(&before).get(&k).copied().unwrap_or_default();
                (k, (w - w0, b - b0))
            })
            .filter(|(_, (w, _))| *w > 0.0)
            .collect(),
    };
    let shards = shards(&admin, &home).await;

    // Deprovisions, one at a time, of users bound through some group.
    eprintln!("  flat {users}: {changes} deprovisions");
    let bound: BTreeSet<usize> = members.iter().flatten().copied().collect();
    let mut latencies = Vec::new();
    let mut deprov_failed = 0;
    let mut stopped = None;
    let started = Instant::now();
    while latencies.len() + deprov_failed < changes && started.elapsed() < CHANGE_LIMIT {
        let Some(i) = picker.user(|i| bound.contains(&i)) else {
            stopped = Some("no bound user was left");
            break;
        };
        let subject = subject(i);
        if !can(&admin, &subject, "list", "pods", &apps).await {
            // Not bound yet (or any more): not a deprovision to measure.
            continue;
        }
        let sent = Instant::now();
        if !target.deactivate(&id_of[&i]).await {
            deprov_failed += 1;
            continue;
        }
        // The bindings say so first; then the authorizer (a few ms behind).
        let unbound = bindings
            .until(CONVERGE, |b| !b.names_anywhere(&subject))
            .await;
        let mut denied = false;
        while unbound && sent.elapsed() < CONVERGE {
            if !can(&admin, &subject, "list", "pods", &apps).await {
                denied = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if denied {
            latencies.push(sent.elapsed());
        } else {
            deprov_failed += 1;
            if deprov_failed >= 5 {
                stopped = Some("5 failed (a PATCH refused, or still allowed after 30 s)");
                break;
            }
        }
    }
    latencies.sort();
    let deprovision = Stats {
        ok: latencies.len(),
        errors: deprov_failed,
        elapsed: started.elapsed(),
        latencies,
    };
    if deprovision.ok < changes {
        errors.push(format!(
            "deprovision: {} of {changes} measured: {}",
            deprovision.ok,
            stopped.map_or_else(
                || format!("the {} s bound was reached", CHANGE_LIMIT.as_secs()),
                str::to_owned
            )
        ));
    }

    eprintln!("  flat {users}: read path");
    let profiler = profile
        .then(|| Profiler::start(pid, "operator-reads-profile"))
        .flatten();
    let read = read_path(&target, users, 20_000, Duration::from_secs(20)).await;
    if let Some(profiler) = profiler {
        profiler.finish();
    }

    // One relist: restart the API server, wait until the operator is Ready
    // and a change reaches a RoleBinding again, then read the peak.
    eprintln!("  flat {users}: kube-apiserver restart");
    let restarted = Instant::now();
    tokio::task::block_in_place(|| cp.restart_apiserver());
    if !ready(&operator, Duration::from_secs(600)).await {
        errors.push(
            "the operator was not Ready within 10 minutes of the kube-apiserver restart".into(),
        );
    }
    let relist = match picker.membership(&members) {
        Some((g, i)) => {
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut landed = false;
            while !landed && Instant::now() < deadline {
                landed = target.add_member(&group_ids[g], &id_of[&i]).await;
                if !landed {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            members[g].insert(i);
            let seen = landed
                && bindings
                    .until(Duration::from_secs(300), |b| {
                        b.lists(&group_ids[g], &subject(i))
                    })
                    .await;
            seen.then(|| restarted.elapsed())
        }
        None => None,
    };
    if relist.is_none() {
        errors.push("after the kube-apiserver restart, no change reached a RoleBinding".into());
    }
    let end = scrape(&operator.metrics_url).await;
    memory.end = rss_mib(pid);
    memory.peak = hwm_mib(pid);
    memory.scim_log = sample(&end, "scimitar_scim_log_bytes");
    memory.parts_end = Parts::scraped(&end, &home);
    operator.stop();
    drop(bindings);

    // The floor: the same add-member change as a JSON patch, the operator stopped.
    eprintln!("  flat {users}: floor JSON patches");
    let api: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    // The client's connection was broken by the restart: open it untimed.
    let _ = api.get(&group_ids[0]).await;
    let mut floor_latencies = Vec::new();
    let mut floor_failed = 0;
    let started = Instant::now();
    while floor_latencies.len() < changes && started.elapsed() < FLOOR_LIMIT {
        let Some((g, i)) = picker.membership(&members) else {
            break;
        };
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "add", "path": "/spec/members/-", "value": {"value": id_of[&i], "type": "User"}}
        ]))
        .expect("patch");
        let sent = Instant::now();
        match api
            .patch(
                &group_ids[g],
                &PatchParams::default(),
                &Patch::Json::<()>(patch),
            )
            .await
        {
            Ok(_) => floor_latencies.push(sent.elapsed()),
            Err(_) => floor_failed += 1,
        }
        members[g].insert(i);
    }
    floor_latencies.sort();
    let floor_patch = Stats {
        ok: floor_latencies.len(),
        errors: floor_failed,
        elapsed: started.elapsed(),
        latencies: floor_latencies,
    };
    let mut patch_stats = Stats {
        ok: patch.len(),
        errors: failed,
        elapsed: change_time,
        latencies: patch,
    };
    patch_stats.latencies.sort();
    added.sort();
    let added = Stats {
        ok: added.len(),
        errors: failed,
        elapsed: change_time,
        latencies: added,
    };
    drop(cp);
    Point {
        nominal,
        users: n_users,
        groups: n_groups,
        memberships,
        load,
        onboarding,
        loaded,
        reconciled: reconciled_after,
        patch: patch_stats,
        added,
        floor_patch,
        deprovision,
        read,
        writes,
        shards,
        memory,
        relist,
        errors,
    }
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Load::Scim => "over SCIM",
            Load::Direct => "straight into the API server",
        })
    }
}

/// Starts an operator on `cp` and waits until it serves the tenant of `home`
/// (at most 10 minutes: an operator taking over 100,000 users lists them
/// all before it is Ready).
async fn serve(cp: &ControlPlane, token: &str, home: &str) -> (Operator, Target) {
    let operator = Operator::spawn(cp, OPERATOR_FLAGS);
    assert!(
        ready(&operator, Duration::from_secs(600)).await,
        "operator not Ready within 10 minutes; see {}",
        operator.log.display()
    );
    let target = Target::new("scimitar run", &format!("{}/scim/v2", operator.url), token);
    let deadline = Instant::now() + Duration::from_secs(600);
    while target.user_count().await.is_none() {
        assert!(
            Instant::now() < deadline,
            "tenant {home} not served; see {}",
            operator.log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (operator, target)
}

/// Waits (at most `limit`) until the operator's `/readyz` answers 200.
async fn ready(operator: &Operator, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let url = format!("{}/readyz", operator.url);
    while Instant::now() < deadline {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The RBAC subject of benchmark user `i` (the tenant's default naming:
/// `oidc:` and the primary email, which is the userName).
fn subject(i: usize) -> String {
    format!("oidc:{}", user_name(i))
}

/// Groups `names[g]` with members `members_of(g, sizes[g], ids)`, written
/// straight to the API server as the store writes them; returns the stats,
/// the group names (ids) in order, and the member ids of each.
async fn create_groups_directly(
    admin: &Client,
    namespace: &str,
    names: &[String],
    sizes: &[usize],
    ids: &[String],
    concurrency: usize,
    tenant_uid: Option<&str>,
) -> (Stats, Vec<String>, Vec<Vec<String>>) {
    let plan: Vec<Vec<String>> = sizes
        .iter()
        .enumerate()
        .map(|(g, size)| members_of(g, *size, ids))
        .collect();
    let api: Api<ScimGroup> = Api::namespaced(admin.clone(), namespace);
    let created = Arc::new(Mutex::new(vec![String::new(); names.len()]));
    let (ns, uid) = (namespace.to_owned(), tenant_uid.map(str::to_owned));
    let (names_c, plan_c, kept) = (
        Arc::new(names.to_vec()),
        Arc::new(plan.clone()),
        created.clone(),
    );
    let stats = drive(
        concurrency,
        names.len(),
        Duration::from_secs(900),
        move |g| {
            let (api, ns, uid, names, plan, kept) = (
                api.clone(),
                ns.clone(),
                uid.clone(),
                names_c.clone(),
                plan_c.clone(),
                kept.clone(),
            );
            async move {
                let group = group_object(&ns, &names[g], &plan[g], uid.as_deref());
                match api.create(&PostParams::default(), &group).await {
                    Ok(created) => {
                        kept.lock().unwrap()[g] = created.metadata.name.unwrap_or_default();
                        true
                    }
                    Err(_) => false,
                }
            }
        },
    )
    .await;
    let created = created.lock().unwrap().clone();
    (stats, created, plan)
}

/// Deletes `namespace` and waits (at most 10 minutes) until it is gone.
async fn delete_namespace(admin: &Client, namespace: &str) {
    let api: Api<Namespace> = Api::all(admin.clone());
    let _ = api.delete(namespace, &DeleteParams::default()).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while api.get_opt(namespace).await.ok().flatten().is_some() {
        assert!(
            Instant::now() < deadline,
            "namespace {namespace} not deleted within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The users and groups the tenant's status counts.
async fn tenant_counts(admin: &Client, tenant: &str) -> Option<(i64, i64)> {
    let status = Api::<ScimTenant>::all(admin.clone())
        .get(tenant)
        .await
        .ok()?
        .status?;
    Some((status.users, status.groups))
}

/// The directory ConfigMaps of the tenant in `home`.
async fn shards(admin: &Client, home: &str) -> Shards {
    let main = format!("{home}-directory");
    let Ok(list) = Api::<ConfigMap>::namespaced(admin.clone(), home)
        .list(&ListParams::default())
        .await
    else {
        return Shards::default();
    };
    let sized: Vec<(bool, usize)> = list
        .items
        .iter()
        .filter_map(|cm| {
            let name = cm.metadata.name.as_deref()?;
            let is_main = name == main;
            if !is_main && !name.starts_with(&format!("{main}-")) {
                return None;
            }
            let bytes = cm
                .data
                .as_ref()
                .map_or(0, |d| d.iter().map(|(k, v)| k.len() + v.len()).sum());
            Some((is_main, bytes))
        })
        .collect();
    let holding: Vec<usize> = if sized.len() > 1 {
        sized.iter().filter(|(m, _)| !m).map(|(_, b)| *b).collect()
    } else {
        sized.iter().map(|(_, b)| *b).collect()
    };
    Shards {
        config_maps: sized.len(),
        mean_bytes: holding.iter().sum::<usize>() as f64 / holding.len().max(1) as f64,
        max_bytes: holding.iter().copied().max().unwrap_or(0),
    }
}

/// Waits (at most five minutes) until the operator sent no API write for
/// `interval`, leaving out the ones it makes on a timer (Leases, Secrets).
async fn quiescent(url: &str, interval: Duration) -> bool {
    let count = |text: &str| -> f64 {
        api_writes(text)
            .iter()
            .filter(|((_, resource), _)| resource != "leases" && resource != "secrets")
            .map(|(_, (writes, _))| writes)
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last = count(&scrape(url).await);
    while Instant::now() < deadline {
        tokio::time::sleep(interval).await;
        let now = count(&scrape(url).await);
        if now == last {
            return true;
        }
        last = now;
    }
    false
}

/// The operator's `/metrics` text (empty when it does not answer).
async fn scrape(url: &str) -> String {
    match reqwest::get(url).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The value of an unlabelled sample.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `scimitar_api_writes_total` and `scimitar_api_write_bytes_total` by
/// (verb, resource).
fn api_writes(text: &str) -> BTreeMap<(String, String), (f64, f64)> {
    let mut found: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for line in text.lines() {
        let (bytes, rest) = if let Some(rest) = line.strip_prefix("scimitar_api_writes_total{") {
            (false, rest)
        } else if let Some(rest) = line.strip_prefix("scimitar_api_write_bytes_total{") {
            (true, rest)
        } else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=\""))?.strip_suffix('"'))
                .unwrap_or_default()
                .to_owned()
        };
        let value: f64 = value.trim().parse().unwrap_or(0.0);
        let entry = found.entry((label("verb"), label("resource"))).or_default();
        if bytes {
            entry.1 += value;
        } else {
            entry.0 += value;
        }
    }
    found
}

/// Picks what to change next, deterministically: users are used once.
struct Picker {
    users: Vec<usize>,
    used: BTreeSet<usize>,
    state: u64,
}

impl Picker {
    fn new(users: Vec<usize>, seed: u64) -> Picker {
        Picker {
            users,
            used: BTreeSet::new(),
            state: 0x2545_F491_4F6C_DD1D ^ seed,
        }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// An unused user for which `fits` holds.
    fn user(&mut self, fits: impl Fn(usize) -> bool) -> Option<usize> {
        for _ in 0..1_000 {
            let pick = (self.next() % self.users.len() as u64) as usize;
            let i = self.users[pick];
            if !self.used.contains(&i) && fits(i) {
                self.used.insert(i);
                return Some(i);
            }
        }
        None
    }

    /// A group and an unused user not yet in it.
    fn membership(&mut self, members: &[BTreeSet<usize>]) -> Option<(usize, usize)> {
        if members.is_empty() {
            return None;
        }
        for _ in 0..1_000 {
            let g = (self.next() % members.len() as u64) as usize;
            if let Some(i) = self.user(|i| !members[g].contains(&i)) {
                return Some((g, i));
            }
        }
        None
    }
}

/// The RoleBindings of a namespace as a watch sees them: by name, the group
/// each is for (its `scimitar.dev/group` label) and its subjects.
struct Bindings {
    seen: Arc<Mutex<Seen>>,
    changed: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

type Seen = HashMap<String, (String, BTreeSet<String>)>;

struct View<'a>(&'a Seen);

impl View<'_> {
    fn lists(&self, group: &str, subject: &str) -> bool {
        self.0
            .values()
            .any(|(g, s)| g == group && s.contains(subject))
    }

    fn names_anywhere(&self, subject: &str) -> bool {
        self.0.values().any(|(_, s)| s.contains(subject))
    }
}

const GROUP_LABEL: &str = "scimitar.dev/group";

fn entry(b: &RoleBinding) -> (String, (String, BTreeSet<String>)) {
    let group = b
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(GROUP_LABEL))
        .cloned()
        .unwrap_or_default();
    let subjects = b
        .subjects
        .iter()
        .flatten()
        .map(|s| s.name.clone())
        .collect();
    (
        b.metadata.name.clone().unwrap_or_default(),
        (group, subjects),
    )
}

impl Bindings {
    async fn watch(admin: &Client, namespace: &str) -> Bindings {
        let api: Api<RoleBinding> = Api::namespaced(admin.clone(), namespace);
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let (tx, changed) = watch::channel(0u64);
        let kept = seen.clone();
        let task = tokio::spawn(async move {
            let mut init = Seen::new();
            let mut events = watcher(api, watcher::Config::default()).boxed();
            let mut n = 0u64;
            while let Some(event) = events.next().await {
                let Ok(event) = event else {
                    continue;
                };
                match event {
                    watcher::Event::Apply(b) => {
                        let (name, v) = entry(&b);
                        kept.lock().unwrap().insert(name, v);
                    }
                    watcher::Event::Delete(b) => {
                        kept.lock().unwrap().remove(&entry(&b).0);
                    }
                    watcher::Event::Init => {
                        init.clear();
                        continue;
                    }
                    watcher::Event::InitApply(b) => {
                        let (name, v) = entry(&b);
                        init.insert(name, v);
                        continue;
                    }
                    watcher::Event::InitDone => {
                        *kept.lock().unwrap() = std::mem::take(&mut init);
                    }
                }
                // Sent once the first list is in, then on every change.
                n += 1;
                let _ = tx.send(n);
            }
        });
        let bindings = Bindings {
            seen,
            changed,
            task,
        };
        bindings.until(Duration::from_secs(120), |_| true).await;
        bindings
    }

    /// Waits (at most `limit`) until `holds` is true of the bindings seen
    /// (after the first list); whether it became true.
    async fn until(&self, limit: Duration, holds: impl Fn(&View) -> bool) -> bool {
        let mut changed = self.changed.clone();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let listed = *changed.borrow_and_update() > 0;
            if listed && holds(&View(&self.seen.lock().unwrap())) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return false;
            }
        }
    }
}

impl Drop for Bindings {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether the first user and group the store wrote have exactly the specs
/// the direct load writes (the claim that loading straight into the API
/// server writes what the store would).
async fn same_shape(
    admin: &Client,
    home: &str,
    user: (usize, &str),
    group: (&str, &[String]),
) -> Option<String> {
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), home);
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), home);
    let stored = users.get(user.1).await.ok()?;
    let direct = user_spec_from_scim(&Target::person(user.0)).ok()?;
    let mut differs = Vec::new();
    if serde_json::to_value(&stored.spec).ok() != serde_json::to_value(&direct).ok() {
        differs.push(format!(
            "user: stored {} vs direct {}",
            serde_json::to_string(&stored.spec).unwrap_or_default(),
            serde_json::to_string(&direct).unwrap_or_default()
        ));
    }
    let stored = groups.get(group.0).await.ok()?;
    let members: Vec<serde_json::Value> = group.1.iter().map(|m| json!({"value": m})).collect();
    let direct =
        group_spec_from_scim(&json!({"displayName": stored.spec.display_name, "members": members}))
            .ok()?;
    if serde_json::to_value(&stored.spec).ok() != serde_json::to_value(&direct).ok() {
        differs.push(format!(
            "group: stored {} vs direct {}",
            serde_json::to_string(&stored.spec).unwrap_or_default(),
            serde_json::to_string(&direct).unwrap_or_default()
        ));
    }
    (!differs.is_empty()).then(|| differs.join("; "))
}
