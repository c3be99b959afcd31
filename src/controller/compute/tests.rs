//! The incremental path against the full computation: random sequences of
//! SCIM changes, namespaces appearing and being labelled, mapping edits, time
//! passing through a mapping's window and relists go through
//! the cache's journal, [`expand`] and one-group-at-a-time recomputation;
//! after every step the bindings and reports equal what [`desired`] computes
//! from scratch. Groups also list groups (typed `Group` or not), cycles
//! included, and the tenant's nesting is switched on and off and its depth
//! changed.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::controller::desired::{GroupOutcome, Inputs, RoleState, RoleTarget, desired};
use crate::controller::directory::{MANIFEST_KEY, entry_json, entry_key};
use crate::controller::testutil::{cluster_wide, in_namespaces, namespaces, tenant};
use crate::controller::work::{Work, expand};
use crate::crd::{RoleKind, ScimGroup, ScimUser};
use crate::meta::{GROUP_LABEL, label_value};
use crate::store::Kind;
use crate::store::index::Entry;
use crate::store::kube::cache::{Cache, Incoming};
use crate::store::kube::convert;

const NS: &str = crate::controller::testutil::NS;
/// Group names: mapped by name, two alike but for case, and matched by the
/// pattern `squad-*` (deriving `team-a`, allowed by name; `team-b`, allowed
/// by label; `team-x`, never allowed).
const NAMES: [&str; 8] = [
    "dev", "Dev", "ops", "sre", "squad-a", "Squad-A", "squad-b", "squad-x",
];
/// When the world starts; the timed mapping grants from one hour to three
/// hours after it.
const T0: &str = "2026-12-01T00:00:00Z";

#[derive(Debug, Clone)]
enum Op {
    PutUser {
        user: u8,
        name: u8,
        active: bool,
        email: bool,
    },
    DeleteUser(u8),
    PutGroup {
        group: u8,
        name: u8,
        members: Vec<u8>,
    },
    AddMember {
        group: u8,
        user: u8,
    },
    /// `group` lists `member` (a group), typed `Group` or not.
    Nest {
        group: u8,
        member: u8,
        typed: bool,
    },
    Unnest {
        group: u8,
        member: u8,
    },
    /// Nesting off, or on with this depth.
    Nesting(Option<u32>),
    RemoveMember {
        group: u8,
        user: u8,
    },
    DeleteGroup(u8),
    CreateNamespace,
    /// `team-b` gains or loses the label the selectors select.
    ToggleLabel,
    /// An hour passes.
    Tick,
    ToggleMapping,
    Relist,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..8u8, 0..6u8, any::<bool>(), any::<bool>())
            .prop_map(|(user, name, active, email)| Op::PutUser { user, name, active, email }),
        1 => (0..8u8).prop_map(Op::DeleteUser),
        3 => (0..5u8, 0..8u8, proptest::collection::vec(0..15u8, 0..6))
            .prop_map(|(group, name, members)| Op::PutGroup { group, name, members }),
        3 => (0..5u8, 0..5u8, any::<bool>())
            .prop_map(|(group, member, typed)| Op::Nest { group, member, typed }),
        2 => (0..5u8, 0..5u8).prop_map(|(group, member)| Op::Unnest { group, member }),
        1 => proptest::option::of(1..4u32).prop_map(Op::Nesting),
        4 => (0..5u8, 0..10u8).prop_map(|(group, user)| Op::AddMember { group, user }),
        3 => (0..5u8, 0..10u8).prop_map(|(group, user)| Op::RemoveMember { group, user }),
        1 => (0..5u8).prop_map(Op::DeleteGroup),
        1 => Just(Op::CreateNamespace),
        1 => Just(Op::ToggleLabel),
        1 => Just(Op::Tick),
        1 => Just(Op::ToggleMapping),
        1 => Just(Op::Relist),
    ]
}

/// The world: the cache (with its journal), the tenant, the namespaces, and
/// the bindings and reports as the incremental path left them.
struct World {
    cache: Cache,
    version: u64,
    tenant: crate::crd::ScimTenant,
    namespaces: BTreeSet<String>,
    labels: BTreeMap<String, BTreeMap<String, String>>,
    now: jiff::Timestamp,
    work: Work,
    role_bindings: BTreeMap<(String, String), RoleBinding>,
    cluster_role_bindings: BTreeMap<String, ClusterRoleBinding>,
    groups: BTreeMap<String, GroupOutcome>,
    users: BTreeMap<String, UserOutcome>,
    /// The directory's entries by key (one ConfigMap: the tenant is small).
    directory: BTreeMap<String, String>,
    full_next: bool,
}

fn env_dev() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some(BTreeMap::from([("env".into(), "dev".into())])),
        ..Default::default()
    }
}

fn mappings(extra: bool) -> Vec<crate::crd::RoleMapping> {
    let t0: jiff::Timestamp = T0.parse().expect("time");
    let hours = |h: i64| {
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            t0 + jiff::SignedDuration::from_hours(h),
        ))
    };
    let mut mappings = vec![
        in_namespaces("dev", RoleKind::ClusterRole, "edit", &["team-a", "team-b"]),
        cluster_wide("ops", "view"),
        crate::crd::RoleMapping {
            group_pattern: Some("squad-*".into()),
            namespace_from_group: Some("team-{match}".into()),
            ..in_namespaces("", RoleKind::ClusterRole, "edit", &[])
        },
        crate::crd::RoleMapping {
            namespace_selector: Some(env_dev()),
            ..in_namespaces("ops", RoleKind::ClusterRole, "admin", &[])
        },
        crate::crd::RoleMapping {
            not_before: hours(1),
            not_after: hours(3),
            ..in_namespaces("sre", RoleKind::ClusterRole, "view", &["team-a"])
        },
    ];
    if extra {
        mappings.push(in_namespaces(
            "sre",
            RoleKind::Role,
            "deployer",
            &["team-a"],
        ));
    }
    mappings
}

impl World {
    fn new() -> Self {
        let mut tenant = tenant("acme", mappings(false));
        tenant.spec.nested_groups = crate::crd::NestedGroups {
            enabled: true,
            max_depth: 2,
        };
        Self {
            cache: Cache::default(),
            version: 0,
            tenant: {
                tenant.spec.derived_namespaces.allowed = vec!["team-a".into()];
                tenant.spec.derived_namespaces.allowed_selector = Some(env_dev());
                tenant
            },
            namespaces: namespaces(&["team-a", "team-x"]),
            labels: BTreeMap::new(),
            now: T0.parse().expect("time"),
            work: Work::default(),
            role_bindings: BTreeMap::new(),
            cluster_role_bindings: BTreeMap::new(),
            groups: BTreeMap::new(),
            users: BTreeMap::new(),
            directory: BTreeMap::new(),
            full_next: true,
        }
    }

    fn current(&self, kind: Kind, id: &str) -> Option<Value> {
        self.cache
            .read(NS, |i| i.entry(kind, id).map(|e| e.to_entry().resource))
    }

    fn put(&mut self, kind: Kind, id: String, resource: Value) {
        self.version += 1;
        let entry = Entry {
            version: self.version.to_string(),
            resource,
            generation: Some(self.version as i64),
            tenant_uid: None,
            status: None,
        };
        let namespace = NS.to_owned();
        self.cache.upsert(
            kind,
            Incoming {
                namespace,
                id,
                entry,
            },
        );
    }

    fn remove(&mut self, kind: Kind, id: &str) {
        self.version += 1;
        self.cache
            .remove(kind, NS, id, Some(&self.version.to_string()));
    }

    fn members(&self, group: &str) -> Vec<Value> {
        self.current(Kind::Group, group)
            .and_then(|g| g.get("members").cloned())
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default()
    }

    fn apply_op(&mut self, op: &Op) {
        let user_id = |n: u8| format!("u{n}");
        let group_id = |n: u8| format!("g{n}");
        match op {
            Op::PutUser {
                user,
                name,
                active,
                email,
            } => {
                let mut resource = json!({"userName": format!("person{name}"), "active": active});
                if *email {
                    resource["emails"] =
                        json!([{"value": format!("p{user}@example.com"), "primary": true}]);
                }
                self.put(Kind::User, user_id(*user), resource);
            }
            Op::DeleteUser(user) => self.remove(Kind::User, &user_id(*user)),
            Op::PutGroup {
                group,
                name,
                members,
            } => {
                // 10 to 14 name groups g0 to g4, typed.
                let members: Vec<Value> = members
                    .iter()
                    .map(|m| match m {
                        0..10 => json!({"value": user_id(*m)}),
                        _ => json!({"value": group_id(*m - 10), "type": "Group"}),
                    })
                    .collect();
                let resource = json!({"displayName": NAMES[*name as usize], "members": members});
                self.put(Kind::Group, group_id(*group), resource);
            }
            Op::AddMember { group, user } | Op::RemoveMember { group, user } => {
                let Some(mut resource) = self.current(Kind::Group, &group_id(*group)) else {
                    return;
                };
                let mut members = self.members(&group_id(*group));
                let value = json!({"value": user_id(*user)});
                members.retain(|m| *m != value);
                if matches!(op, Op::AddMember { .. }) {
                    members.push(value);
                }
                resource["members"] = Value::Array(members);
                self.put(Kind::Group, group_id(*group), resource);
            }
            Op::Nest { group, member, .. } | Op::Unnest { group, member } => {
                let Some(mut resource) = self.current(Kind::Group, &group_id(*group)) else {
                    return;
                };
                let mut members = self.members(&group_id(*group));
                let id = group_id(*member);
                members.retain(|m| m["value"] != json!(id));
                if let Op::Nest { typed, .. } = op {
                    members.push(match typed {
                        true => json!({"value": id, "type": "Group"}),
                        false => json!({"value": id}),
                    });
                }
                resource["members"] = Value::Array(members);
                self.put(Kind::Group, group_id(*group), resource);
            }
            Op::Nesting(depth) => {
                self.tenant.spec.nested_groups = crate::crd::NestedGroups {
                    enabled: depth.is_some(),
                    max_depth: depth.unwrap_or(8),
                };
                // A spec change: the reconcile makes a full pass.
                self.full_next = true;
            }
            Op::DeleteGroup(group) => self.remove(Kind::Group, &group_id(*group)),
            Op::CreateNamespace => {
                if self.namespaces.insert("team-b".into()) {
                    self.work.facts.insert("team-b".into());
                }
            }
            Op::ToggleLabel => {
                let labels = self.labels.entry("team-b".into()).or_default();
                if labels.remove("env").is_none() {
                    labels.insert("env".into(), "dev".into());
                }
                self.work.facts.insert("team-b".into());
            }
            Op::Tick => {
                let before = self.windows();
                self.now += jiff::SignedDuration::from_hours(1);
                // A window that turned: the reconcile makes a full pass.
                self.full_next |= self.windows() != before;
            }
            Op::ToggleMapping => {
                let extra = self.tenant.spec.mappings.len() == 5;
                self.tenant.spec.mappings = mappings(extra);
                // A spec change: the reconcile makes a full pass.
                self.full_next = true;
            }
            Op::Relist => {
                for kind in [Kind::User, Kind::Group] {
                    let listed: Vec<(String, Entry)> = self.cache.read(NS, |i| {
                        i.ids(kind)
                            .into_iter()
                            .filter_map(|id| Some((id.clone(), i.entry(kind, &id)?.to_entry())))
                            .collect()
                    });
                    self.cache.relist_started(kind);
                    for (id, entry) in listed {
                        let namespace = NS.to_owned();
                        self.cache.relisted(
                            kind,
                            Incoming {
                                namespace,
                                id,
                                entry,
                            },
                        );
                    }
                    self.cache.relist_done(kind);
                }
            }
        }
    }

    fn windows(&self) -> Vec<crate::controller::desired::mapping::Window> {
        self.tenant
            .spec
            .mappings
            .iter()
            .map(|m| crate::controller::desired::mapping::window(m, self.now))
            .collect()
    }

    /// One reconcile down the incremental path, as `reconcile` runs it.
    fn reconcile(&mut self) -> usize {
        let changes = self.cache.take_changes(NS);
        let work = std::mem::take(&mut self.work);
        let tenant = self.tenant.clone();
        let plan = Plan::new(&tenant);
        let owner = Owner::of(&tenant);
        let roles = |_: &RoleTarget| RoleState::Bindable;
        let facts = Facts {
            namespaces: &self.namespaces,
            namespace_labels: &self.labels,
            roles: &roles,
            now: self.now,
        };
        let mut dirty = self.cache.read(NS, |i| expand(&plan, i, &changes, &work));
        if std::mem::take(&mut self.full_next) || dirty.full {
            dirty.full = true;
            dirty.groups = self
                .cache
                .read(NS, |i| i.groups().map(|g| g.id.to_owned()).collect());
            // Groups that still have bindings (the owned-object index).
            dirty.groups.extend(self.labelled_groups());
            dirty.users = self
                .cache
                .read(NS, |i| i.users().map(|u| u.id.to_owned()).collect());
            self.groups.clear();
            self.users.clear();
            self.directory.clear();
        }
        // Directory entries of the users and groups looked at.
        for (is_user, id) in dirty
            .users
            .iter()
            .map(|u| (true, u))
            .chain(dirty.groups.iter().map(|g| (false, g)))
        {
            let json = self.cache.read(NS, |i| {
                if is_user {
                    user_entry(&owner, i, id).map(|e| entry_json(&e))
                } else {
                    group_entry(&owner, i, id).map(|e| entry_json(&e))
                }
            });
            let key = entry_key(is_user, id);
            match json {
                Some(json) => self.directory.insert(key, json),
                None => self.directory.remove(&key),
            };
        }
        let mut visited = 0;
        for id in &dirty.groups {
            let want = self.cache.read(NS, |i| {
                group_desired(&plan, &owner, i, id, &facts, &mut visited)
            });
            // The deletion scope: every binding labelled for this group.
            let label = label_value(id);
            let of_group = |labels: &Option<BTreeMap<String, String>>| {
                labels.as_ref().and_then(|l| l.get(GROUP_LABEL)) == Some(&label)
            };
            self.role_bindings
                .retain(|_, b| !of_group(&b.metadata.labels));
            self.cluster_role_bindings
                .retain(|_, b| !of_group(&b.metadata.labels));
            match want {
                Some(want) => {
                    for rb in want.role_bindings {
                        let key = (
                            rb.metadata.namespace.clone().unwrap_or_default(),
                            rb.metadata.name.clone().unwrap_or_default(),
                        );
                        self.role_bindings.insert(key, rb);
                    }
                    for crb in want.cluster_role_bindings {
                        self.cluster_role_bindings
                            .insert(crb.metadata.name.clone().unwrap_or_default(), crb);
                    }
                    self.groups.insert(id.clone(), want.outcome);
                }
                None => {
                    self.groups.remove(id);
                }
            }
        }
        for id in &dirty.users {
            match self.cache.read(NS, |i| user_outcome(&plan, &owner, i, id)) {
                Some(outcome) => self.users.insert(id.clone(), outcome),
                None => self.users.remove(id),
            };
        }
        visited
    }

    /// The directory as [`super::super::directory_writes::rebuild`] lays it out.
    fn rebuild(&self) -> Vec<ConfigMap> {
        let plan = Plan::new(&self.tenant);
        let owner = Owner::of(&self.tenant);
        self.cache.read(NS, |index| {
            crate::controller::directory::build_from(
                &self.tenant,
                directory_entries(&owner, index),
                plan.labels(),
                plan.owner().cloned(),
                None,
            )
        })
    }

    fn labelled_groups(&self) -> BTreeSet<String> {
        let label = |labels: &Option<BTreeMap<String, String>>| {
            labels.as_ref().and_then(|l| l.get(GROUP_LABEL)).cloned()
        };
        self.role_bindings
            .values()
            .filter_map(|b| label(&b.metadata.labels))
            .chain(
                self.cluster_role_bindings
                    .values()
                    .filter_map(|b| label(&b.metadata.labels)),
            )
            .collect()
    }

    /// Everything computed from scratch by the pure oracle.
    fn oracle(&self) -> crate::controller::desired::Desired {
        let (users, groups): (Vec<ScimUser>, Vec<ScimGroup>) = self.cache.read(NS, |i| {
            let users = i
                .users()
                .map(|u| {
                    let resource = i.entry(Kind::User, u.id).expect("user").to_entry().resource;
                    let spec = convert::user_spec_from_scim(&resource).expect("user");
                    ScimUser::new(u.id, spec)
                })
                .collect();
            let groups = i
                .groups()
                .map(|g| {
                    let resource = i
                        .entry(Kind::Group, g.id)
                        .expect("group")
                        .to_entry()
                        .resource;
                    let spec = convert::group_spec_from_scim(&resource).expect("group");
                    ScimGroup::new(g.id, spec)
                })
                .collect();
            (users, groups)
        });
        desired(&Inputs {
            tenant: &self.tenant,
            users: &users,
            groups: &groups,
            namespaces: &self.namespaces,
            namespace_labels: &self.labels,
            roles: &|_| RoleState::Bindable,
            now: self.now,
            directory_shards: None,
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn incremental_reconciles_equal_the_full_computation(
        steps in proptest::collection::vec(proptest::collection::vec(op(), 1..4), 1..25)
    ) {
        let mut world = World::new();
        for ops in &steps {
            for op in ops {
                world.apply_op(op);
            }
            world.reconcile();
            let oracle = world.oracle();
            let role_bindings: Vec<RoleBinding> = world.role_bindings.values().cloned().collect();
            let cluster_role_bindings: Vec<ClusterRoleBinding> =
                world.cluster_role_bindings.values().cloned().collect();
            prop_assert_eq!(&role_bindings, &oracle.role_bindings, "after {:?}", ops);
            prop_assert_eq!(&cluster_role_bindings, &oracle.cluster_role_bindings);
            prop_assert_eq!(&world.groups, &oracle.groups);
            prop_assert_eq!(&world.users, &oracle.users);
            let mut directory = oracle.config_maps[0].data.clone().unwrap_or_default();
            // A rebuild, from the index as the controller makes it, is the
            // oracle's directory too.
            let rebuilt = world.rebuild();
            prop_assert_eq!(&rebuilt, &oracle.config_maps);
            directory.remove(MANIFEST_KEY);
            prop_assert_eq!(&world.directory, &directory);
        }
    }
}

/// A tenant of `users` users in groups of 20 (4 groups per user), with a
/// mapping for one of them.
fn tenant_of_size(users: usize) -> World {
    let mut world = World::new();
    for u in 0..users {
        world.put(
            Kind::User,
            format!("u{u}"),
            json!({"userName": format!("person{u}"), "active": true}),
        );
    }
    let groups = users / 5;
    for g in 0..groups {
        let members: Vec<Value> = (0..20)
            .map(|k| json!({"value": format!("u{}", (g * 5 + k * 97) % users)}))
            .collect();
        let name = if g == 0 {
            "dev".to_owned()
        } else {
            format!("team-{g}")
        };
        world.put(
            Kind::Group,
            format!("g{g}"),
            json!({"displayName": name, "members": members}),
        );
    }
    world.reconcile();
    world
}

#[test]
fn one_membership_change_recomputes_the_same_bindings_at_1k_and_10k_users() {
    let mut visits = Vec::new();
    for size in [1_000, 10_000] {
        let mut world = tenant_of_size(size);
        let mut members = world.members("g0");
        members.push(json!({"value": "u999"}));
        let mut group = world.current(Kind::Group, "g0").expect("g0");
        group["members"] = Value::Array(members);
        world.put(Kind::Group, "g0".into(), group);
        visits.push(world.reconcile());
    }
    // The group and its 21 members, at both sizes.
    assert_eq!(visits[0], visits[1], "{visits:?}");
    assert_eq!(visits[0], 22);
}

#[test]
fn a_change_in_a_nested_group_recomputes_the_groups_containing_it_at_1k_and_10k_users() {
    let mut visits = Vec::new();
    for size in [1_000, 10_000] {
        let mut world = tenant_of_size(size);
        // g0 ("dev", mapped) lists g-pay, which lists g-core.
        let users = |ids: std::ops::Range<usize>| -> Vec<Value> {
            ids.map(|u| json!({"value": format!("u{u}")})).collect()
        };
        let mut pay = users(500..520);
        pay.push(json!({"value": "g-core", "type": "Group"}));
        world.put(
            Kind::Group,
            "g-pay".into(),
            json!({"displayName": "pay", "members": pay}),
        );
        world.put(
            Kind::Group,
            "g-core".into(),
            json!({"displayName": "core", "members": users(600..610)}),
        );
        let mut dev = world.current(Kind::Group, "g0").expect("g0");
        let mut members = world.members("g0");
        members.push(json!({"value": "g-pay", "type": "Group"}));
        dev["members"] = Value::Array(members);
        world.put(Kind::Group, "g0".into(), dev);
        world.reconcile();
        let before = world
            .role_bindings
            .values()
            .next()
            .cloned()
            .expect("dev's binding");
        assert_eq!(before.subjects.as_ref().map(Vec::len), Some(50));

        let mut core = world.current(Kind::Group, "g-core").expect("g-core");
        let mut members = world.members("g-core");
        members.push(json!({"value": "u998"}));
        core["members"] = Value::Array(members);
        world.put(Kind::Group, "g-core".into(), core);
        visits.push(world.reconcile());
        let after = world.role_bindings.values().next().expect("dev's binding");
        assert_eq!(after.subjects.as_ref().map(Vec::len), Some(51));
    }
    // g-core (itself and 11 users), g-pay (itself, g-core and 31 users)
    // and g0 (itself, 2 groups and 51 users), at both sizes.
    assert_eq!(visits[0], visits[1], "{visits:?}");
    assert_eq!(visits[0], 12 + 33 + 54);
}
