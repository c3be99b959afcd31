//! One tenant's reconcile, in phases: gather what changed → compute what it
//! affects (pure, from the cache) → apply → status → events.
//!
//! Only what changed is computed again: a membership change recomputes the
//! bindings of that group and the status of that user. A full pass (every
//! group and user) runs on the first reconcile of a tenant, after its spec
//! changed, after the cache relisted, and every [`FULL_EVERY`]. Each
//! deletion scope is still complete: a group's bindings are all the
//! bindings labelled for that group, so nothing orphaned survives.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use super::apply::{self, Applied, Managed};
use super::bound::Bound;
use super::compute::{Owner, group_desired};
use super::context::{Context, Error};
use super::desired::mapping::{self, Window};
use super::desired::{Facts, GroupDesired, GroupOutcome, Plan, Problem, RoleState, RoleTarget};
use super::directory_writes;
use super::namespaces;
use super::nesting;
use super::owned::{Key, Scope};
use super::work;
use crate::crd::ScimTenant;
use crate::meta::label_value;

/// How often a tenant gets a full pass anyway, in case a change was missed.
pub const FULL_EVERY: Duration = Duration::from_secs(30 * 60);
/// Groups computed per step on the blocking pool.
const GROUPS_PER_STEP: usize = 256;
/// Groups whose bindings are written at once.
const GROUP_WRITES: usize = 8;

/// What the controller remembers of a tenant between reconciles.
#[derive(Default)]
pub struct Pass {
    generation: Option<i64>,
    uid: Option<String>,
    /// The last full pass (`None`: none yet).
    at: Option<Instant>,
    /// Users and groups left in the namespace by an earlier tenant.
    leftovers: BTreeSet<(bool, String)>,
    /// Which mappings' windows were open at the last full pass.
    windows: Vec<Window>,
    /// The derived namespaces each group wants created, as last computed:
    /// a pass that does not compute a group still creates (or reports) its
    /// namespaces. One entry per group with any.
    to_create: BTreeMap<String, Vec<String>>,
    /// Groups in a nesting cycle, as last computed: the tenant reports
    /// them without going over every group.
    cyclic: BTreeSet<String>,
}

/// Where each mapping's time window stands at `now`.
fn windows(tenant: &ScimTenant, now: jiff::Timestamp) -> Vec<Window> {
    tenant
        .spec
        .mappings
        .iter()
        .map(|m| mapping::window(m, now))
        .collect()
}

/// The roles the tenant's mappings reference.
pub fn role_targets(tenant: &ScimTenant) -> Vec<RoleTarget> {
    let mut out = Vec::new();
    for mapping in &tenant.spec.mappings {
        let kind = mapping.role.kind;
        if mapping.cluster_wide {
            out.push(RoleTarget {
                kind,
                name: mapping.role.name.clone(),
                namespace: None,
            });
        }
        // Selected and derived namespaces bind a ClusterRole only: it is
        // looked up once, cluster-wide.
        if mapping.namespace_selector.is_some() || mapping.namespace_from_group.is_some() {
            out.push(RoleTarget {
                kind,
                name: mapping.role.name.clone(),
                namespace: None,
            });
        }
        for namespace in &mapping.namespaces {
            out.push(RoleTarget {
                kind,
                name: mapping.role.name.clone(),
                namespace: (kind == crate::crd::RoleKind::Role).then(|| namespace.clone()),
            });
        }
    }
    out
}

/// The objects of `keys` that `store` holds.
fn held<K: Resource<DynamicType = ()> + Clone>(store: &Store<K>, keys: &[Key]) -> Vec<Arc<K>> {
    keys.iter()
        .filter(|(kind, _, _)| *kind == super::owned::kind_name::<K>())
        .filter_map(|(_, namespace, name)| {
            let mut reference = ObjectRef::<K>::new(name);
            if let Some(ns) = namespace {
                reference = reference.within(ns);
            }
            store.get(&reference)
        })
        .collect()
}

/// Everything a reconcile found, for status and events.
#[derive(Default)]
pub struct Outcome {
    pub applied: Applied,
    pub groups: BTreeMap<String, GroupOutcome>,
    /// The users whose status may have changed, by id.
    pub users: Vec<String>,
    pub problems: Vec<Problem>,
    pub user_count: usize,
    pub group_count: usize,
    pub leftovers: usize,
    pub full: bool,
}

/// Gathers and applies what changed for `tenant`; statuses are the caller's.
pub async fn changes(tenant: &ScimTenant, ctx: &Context) -> Result<Outcome, Error> {
    let name = tenant.name_any();
    let namespace = tenant.spec.namespace.clone();

    // Gather: what changed since the last reconcile, and whether it is time
    // for a full pass.
    let work = ctx.pending.take(&name);
    let journal = ctx.store.cache().take_changes(&namespace);
    // One time for the whole pass: a window turning in the middle of it
    // turns at the next one.
    let now = jiff::Timestamp::now();
    let windows = windows(tenant, now);
    let due = {
        let passes = ctx.passes.lock().unwrap_or_else(|e| e.into_inner());
        // A window that opened or closed changes what every group it
        // matches is granted, as a spec change does.
        passes.get(&name).is_none_or(|pass| {
            pass.generation != tenant.metadata.generation
                || pass.uid != tenant.metadata.uid
                || pass.windows != windows
                || pass.at.is_none_or(|at| at.elapsed() >= FULL_EVERY)
        })
    };
    let result = apply_changes(tenant, ctx, &work, &journal, due, now).await;
    if result.is_err() {
        // What was taken is not lost: the next reconcile goes over everything.
        ctx.pending.everything(&name);
    }
    let mut outcome = result?;
    let mut passes = ctx.passes.lock().unwrap_or_else(|e| e.into_inner());
    let pass = passes.entry(name).or_default();
    if outcome.full {
        pass.generation = tenant.metadata.generation;
        pass.uid = tenant.metadata.uid.clone();
        pass.at = Some(Instant::now());
        pass.windows = windows;
    }
    outcome.leftovers = pass.leftovers.len();
    Ok(outcome)
}

async fn apply_changes(
    tenant: &ScimTenant,
    ctx: &Context,
    work: &work::Work,
    journal: &crate::store::kube::cache::Changes,
    due: bool,
    now: jiff::Timestamp,
) -> Result<Outcome, Error> {
    let name = tenant.name_any();
    let namespace = tenant.spec.namespace.clone();
    let label = label_value(&name);
    let owner = Owner::of(tenant);
    let cache = ctx.store.cache().clone();

    let mut dirty = {
        let plan = Plan::new(tenant);
        cache.read(&namespace, |index| {
            work::expand(&plan, index, journal, work)
        })
    };
    dirty.full |= due;
    let mut visited = dirty.groups.len() + dirty.users.len();
    if dirty.full {
        // Every group and user, and the bindings of groups the cache no
        // longer has (deleted while no one was watching).
        let owner_ = owner.clone();
        let (groups, users, leftovers) = cache.read(&namespace, |index| {
            let mut leftovers = BTreeSet::new();
            let groups: BTreeSet<String> = index
                .groups()
                .filter(|g| {
                    let ours = owner_.group(index, g.id).is_some();
                    if !ours {
                        leftovers.insert((false, g.id.to_owned()));
                    }
                    ours
                })
                .map(|g| g.id.to_owned())
                .collect();
            let users: BTreeSet<String> = index
                .users()
                .filter(|u| {
                    let ours = owner_.user(index, u.id).is_some();
                    if !ours {
                        leftovers.insert((true, u.id.to_owned()));
                    }
                    ours
                })
                .map(|u| u.id.to_owned())
                .collect();
            (groups, users, leftovers)
        });
        visited = groups.len() + users.len();
        dirty.groups = groups;
        dirty.groups.extend(ctx.owned.groups_of(&name));
        dirty.users = users;
        dirty.directory = true;
        ctx.passes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.clone())
            .or_default()
            .leftovers = leftovers;
    } else {
        // Keep the leftover count current for the objects that changed.
        let mut passes = ctx.passes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pass) = passes.get_mut(&name) {
            cache.read(&namespace, |index| {
                for (is_user, id) in journal
                    .users
                    .iter()
                    .map(|u| (true, u))
                    .chain(journal.groups.iter().map(|g| (false, g)))
                {
                    let exists = if is_user {
                        index.user(id).is_some()
                    } else {
                        index.group(id).is_some()
                    };
                    let ours = if is_user {
                        owner.user(index, id).is_some()
                    } else {
                        owner.group(index, id).is_some()
                    };
                    if exists && !ours {
                        pass.leftovers.insert((is_user, id.clone()));
                    } else {
                        pass.leftovers.remove(&(is_user, id.clone()));
                    }
                }
            });
        }
    }

    // Facts: namespaces that exist and their labels, roles that may be bound.
    let listed = ctx.namespaces.state();
    let namespaces: Arc<BTreeSet<String>> = Arc::new(listed.iter().map(|n| n.name_any()).collect());
    let labels: Arc<BTreeMap<String, mapping::Labels>> = Arc::new(
        listed
            .iter()
            .filter(|n| !n.labels().is_empty())
            .map(|n| (n.name_any(), n.labels().clone()))
            .collect(),
    );
    drop(listed);
    let states = Arc::new(
        ctx.roles
            .states(role_targets(tenant))
            .await
            .map_err(Error::Roles)?,
    );

    let mut outcome = Outcome {
        full: dirty.full,
        ..Outcome::default()
    };
    let groups: Vec<String> = dirty.groups.iter().cloned().collect();
    let mut to_create: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for step in groups.chunks(GROUPS_PER_STEP) {
        let (cache_, tenant_, owner_, namespace_) = (
            cache.clone(),
            Arc::new(tenant.clone()),
            owner.clone(),
            namespace.clone(),
        );
        let (namespaces_, states_, ids) = (namespaces.clone(), states.clone(), step.to_vec());
        let labels_ = labels.clone();
        // Computing a large group's subjects is CPU work: on the blocking
        // pool, off the async workers that serve SCIM and the probes.
        let (computed, seen) = tokio::task::spawn_blocking(move || {
            let plan = Plan::new(&tenant_);
            let lookup = |target: &RoleTarget| super::facts::lookup(&states_, target);
            let facts = Facts {
                namespaces: &namespaces_,
                namespace_labels: &labels_,
                roles: &lookup as &dyn Fn(&RoleTarget) -> RoleState,
                now,
            };
            let mut seen = 0;
            let computed: Vec<(String, Option<GroupDesired>)> = cache_.read(&namespace_, |index| {
                ids.into_iter()
                    .map(|id| {
                        let want = group_desired(&plan, &owner_, index, &id, &facts, &mut seen);
                        (id, want)
                    })
                    .collect()
            });
            (computed, seen)
        })
        .await
        .map_err(|e| Error::Apply(format!("computing the desired state: {e}")))?;
        visited += seen;
        for (id, want) in &computed {
            let wanted = want.as_ref().map(|w| w.namespaces_to_create.clone());
            to_create.insert(id.clone(), wanted.unwrap_or_default());
        }
        // Groups' bindings are written several groups at a time: a user's
        // deactivation touches each of its groups, and its access is gone
        // once the last of them is written.
        let mut applied = futures::stream::iter(computed)
            .map(|(id, want)| apply_group(ctx, &name, id, want.unwrap_or_default()))
            .buffer_unordered(GROUP_WRITES);
        while let Some((id, group, applied, scope)) = applied.next().await {
            visited += scope;
            outcome.applied.add(applied);
            if cache.read(&namespace, |index| owner.group(index, &id).is_some()) {
                outcome.groups.insert(id, group);
            }
        }
    }
    if dirty.full {
        // Bindings of the tenant that no group claims (hand-made with our
        // labels, or from a group label no longer used) go too.
        let stray_rbs = stray(&ctx.role_bindings, &label, &outcome);
        let applied = apply::apply(
            &ctx.client,
            &ctx.role_bindings,
            &[],
            stray_rbs,
            &label,
            &ctx.failing,
            &ctx.owned,
        )
        .await;
        outcome.applied.add(applied);
        let stray_crbs = stray(&ctx.cluster_role_bindings, &label, &outcome);
        let applied = apply::apply(
            &ctx.client,
            &ctx.cluster_role_bindings,
            &[],
            stray_crbs,
            &label,
            &ctx.failing,
            &ctx.owned,
        )
        .await;
        outcome.applied.add(applied);
    }

    if dirty.rebuild_directory || dirty.full {
        visited += directory_writes::rebuild(tenant, ctx, &mut outcome.applied).await?;
    } else if dirty.directory {
        let entries: Vec<(bool, String)> = dirty
            .users
            .iter()
            .map(|u| (true, u.clone()))
            .chain(dirty.groups.iter().map(|g| (false, g.clone())))
            .collect();
        visited += entries.len();
        if !directory_writes::entries(tenant, ctx, &entries, &mut outcome.applied).await? {
            // The layout must change: rebuild it all.
            visited += directory_writes::rebuild(tenant, ctx, &mut outcome.applied).await?;
        }
    }
    if dirty.full {
        ctx.failing.retain(&label, &outcome.applied.wanted);
    }

    let cyclic: BTreeSet<String> = {
        let mut passes = ctx.passes.lock().unwrap_or_else(|e| e.into_inner());
        let pass = passes.entry(name.clone()).or_default();
        if dirty.full {
            pass.cyclic.clear();
        }
        for id in &dirty.groups {
            if outcome.groups.get(id).is_some_and(nesting::in_cycle) {
                pass.cyclic.insert(id.clone());
            } else {
                pass.cyclic.remove(id);
            }
        }
        pass.cyclic.clone()
    };

    // Users whose status may have changed: the status phase computes them
    // a step at a time.
    outcome.users = std::mem::take(&mut dirty.users).into_iter().collect();

    // The tenant as a whole.
    let plan = Plan::new(tenant);
    let (problems, users, groups) = cache.read(&namespace, |index| {
        let mut problems = plan.problems(&|name: &str| owner.matching(index, name));
        let cyclic: Vec<(&str, &str)> = cyclic
            .iter()
            .filter_map(|id| Some((id.as_str(), owner.group(index, id)?.display_name)))
            .collect();
        problems.extend(nesting::tenant_problem(&name, cyclic.into_iter()));
        (
            problems,
            index.count(crate::store::Kind::User),
            index.count(crate::store::Kind::Group),
        )
    });
    outcome.problems = problems;
    // The namespaces every group wants created, as last computed.
    let to_create: BTreeSet<String> = {
        let mut passes = ctx.passes.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = &mut passes.entry(name.clone()).or_default().to_create;
        if dirty.full {
            wanted.clear();
        }
        for (id, names) in to_create {
            if names.is_empty() {
                wanted.remove(&id);
            } else {
                wanted.insert(id, names);
            }
        }
        wanted.values().flatten().cloned().collect()
    };
    let created = namespaces::create(ctx, tenant, &namespaces, to_create).await;
    outcome.problems.extend(created.problems);
    outcome.applied.add(created.applied);
    let leftovers = ctx
        .passes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&name)
        .map(|p| {
            (
                p.leftovers.iter().filter(|(u, _)| *u).count(),
                p.leftovers.iter().filter(|(u, _)| !*u).count(),
            )
        })
        .unwrap_or_default();
    outcome.user_count = users.saturating_sub(leftovers.0);
    outcome.group_count = groups.saturating_sub(leftovers.1);
    ctx.metrics.visited(visited, outcome.full);
    Ok(outcome)
}

/// Writes one group's bindings: `want`, and the deletion of what its
/// scope (every binding labelled for it) holds beyond that. Returns the
/// group's outcome, what was applied and how many objects the scope held.
async fn apply_group(
    ctx: &Context,
    tenant: &str,
    id: String,
    want: GroupDesired,
) -> (String, GroupOutcome, Applied, usize) {
    let label = label_value(tenant);
    let scope = ctx.owned.of_group(tenant, &label_value(&id));
    let mut applied = apply::apply(
        &ctx.client,
        &ctx.role_bindings,
        &want.role_bindings,
        held(&ctx.role_bindings, &scope),
        &label,
        &ctx.failing,
        &ctx.owned,
    )
    .await;
    applied.add(
        apply::apply(
            &ctx.client,
            &ctx.cluster_role_bindings,
            &want.cluster_role_bindings,
            held(&ctx.cluster_role_bindings, &scope),
            &label,
            &ctx.failing,
            &ctx.owned,
        )
        .await,
    );
    if !applied.failures.is_empty() {
        // Tried again on the retry of this reconcile.
        ctx.pending.touched(tenant, &Scope::Group(label_value(&id)));
    }
    (id, want.outcome, applied, scope.len())
}

/// Bindings of the tenant outside every group's scope: made for a group
/// label no group of this pass has, or with no group label at all.
fn stray<K: Managed>(
    store: &Store<Bound<K>>,
    label: &str,
    outcome: &Outcome,
) -> Vec<Arc<Bound<K>>> {
    let groups: BTreeSet<String> = outcome.groups.keys().map(|g| label_value(g)).collect();
    apply::tenant_objects(store, label)
        .into_iter()
        .filter(|object| {
            object
                .labels()
                .get(crate::meta::GROUP_LABEL)
                .is_none_or(|g| !groups.contains(g))
        })
        .collect()
}
