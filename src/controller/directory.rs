//! The tenant's directory ConfigMap(s). Pure: no I/O.
//!
//! The directory lets workloads in the tenant namespace read who is in which
//! group without access to the custom resources.
//!
//! # Content
//!
//! One data key per entry, its value compact JSON:
//!
//! - `user.<id>`: an active user, `{"userName", "displayName"?, "email"?,
//!   "groups": [displayNames]}` where `email` is the primary email (see
//!   [`crate::crd::primary_email`]) and `groups` the sorted, deduplicated
//!   displayNames of the groups listing the user and, with nested groups on,
//!   of the groups containing those. Inactive users have no key.
//! - `group.<id>`: every group, `{"id", "displayName", "members": [userNames]}`
//!   where `members` are the sorted, deduplicated userNames of the active
//!   users among the group's effective members ([`super::nesting`]: its own,
//!   and with nested groups on those of its member groups; unknown ids are
//!   left out).
//!
//! A key that would exceed 253 characters uses `h-` and 10 hex digits of
//! the id's sha256 instead of the id ([`entry_key`]). One key per entry is
//! what lets a change rewrite only the entries it changes.
//!
//! # Layout (manifest version 3)
//!
//! The main ConfigMap `<tenant>-directory` in the tenant namespace always has
//! `manifest.json` = `{"version":3,"users":N,"groups":M,"shards":[names]}`.
//! When the manifest and every entry fit in [`SHARD_BUDGET`] bytes (keys plus
//! values), the entries are keys of the main ConfigMap and `shards` is empty.
//!
//! Otherwise the main ConfigMap holds only the manifest, and every entry has
//! a shard that depends on that entry alone: a user goes to bucket
//! `h(user id) mod B`, a group to bucket `h(group id) mod B` (`h`: the first
//! 64 bits of sha256 of `u\0<id>` or `g\0<id>`), stored in
//! `<tenant>-directory-<bucket + 1>`. `B` is the smallest power of two for
//! which every bucket fits the budget (at least twice the total size over the
//! budget). The current `B` is kept while every bucket fits and it is at most
//! four times what is needed; only then does it change (and every shard is
//! rewritten once), so a tenant at a boundary does not flip back and forth.
//!
//! An entry larger than a quarter of the budget lives in shards of its own,
//! `<tenant>-directory-u<hash>-<k>` or `-g<hash>-<k>` (`<hash>`: 10 hex digits
//! of the same sha256), each holding the entry's key with a slice: the entry
//! repeats its identity (`id`/`displayName` of a group, `userName`/
//! `displayName`/`email` of a user) with consecutive slices of its `members`
//! (or `groups`). The manifest lists the bucket shards in order, then these.
//!
//! Consumers read the manifest, then the entries of the main ConfigMap (no
//! shards) or of every shard it lists, and merge group entries by `id` and
//! user entries by `userName`; order across shards means nothing. Nothing is
//! ever truncated; only an entry whose list has a single element and still
//! exceeds the budget (impossible with the real budget short of a ~900 kB
//! name) is placed alone in an over-budget shard.
//!
//! A tenant name longer than 200 characters is shortened to 189 characters plus
//! `-` and 10 hex digits of its sha256, so every ConfigMap name stays a valid
//! DNS-1123 subdomain.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::{Deserialize, Serialize};

use super::nesting;
use crate::crd::{ScimGroup, ScimTenant, ScimUser};
use crate::meta::{DIRECTORY_LABEL, hex, object_name, sha256, sha256_prefix};

/// Most bytes (keys plus values) of `data` in one directory ConfigMap; the API
/// server's limit is 1 MiB, leaving room for metadata.
pub const SHARD_BUDGET: usize = 900_000;
/// Key of the manifest in the main ConfigMap.
pub const MANIFEST_KEY: &str = "manifest.json";
/// Version written in the manifest: 3 is one data key per entry.
pub const VERSION: u32 = 3;

/// One user, under `user.<id>`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserEntry {
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub groups: Vec<String>,
}

/// One group, under `group.<id>`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GroupEntry {
    pub id: String,
    pub display_name: String,
    pub members: Vec<String>,
}

/// `manifest.json`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub version: u32,
    /// Number of users (not of split entries).
    pub users: usize,
    /// Number of groups (not of split entries).
    pub groups: usize,
    /// Names of the shard ConfigMaps, in order; empty when unsharded.
    pub shards: Vec<String>,
}

/// Name of the main directory ConfigMap of `tenant`; shards append `-<n>`.
pub fn main_name(tenant: &ScimTenant) -> String {
    let name = object_name(&tenant.metadata);
    let base = if name.len() > 200 {
        let head: String = name.chars().take(189).collect();
        let head = head.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        format!("{head}-{}", sha256_prefix(&[name], 10))
    } else {
        name.to_string()
    };
    format!("{base}-directory")
}

/// The directory entries, sorted as described in the module documentation.
/// Nested groups are not expanded (see [`keyed_entries`]).
pub fn entries(users: &[ScimUser], groups: &[ScimGroup]) -> (Vec<UserEntry>, Vec<GroupEntry>) {
    let (users, groups) = keyed_entries(users, groups, 0);
    (users.into_iter().map(|(_, e)| e).collect(), groups)
}

/// [`entries`], each user with its SCIM id (which places it in a shard),
/// with member groups expanded `depth` levels ([`nesting`]).
fn keyed_entries(
    users: &[ScimUser],
    groups: &[ScimGroup],
    depth: usize,
) -> (Vec<(String, UserEntry)>, Vec<GroupEntry>) {
    let by_id: BTreeMap<&str, &ScimUser> = users
        .iter()
        .map(|u| (object_name(&u.metadata), u))
        .collect();
    let nested = nesting::Groups::new(groups, depth);
    let mut group_entries = Vec::new();
    for group in groups {
        let mut members = BTreeSet::new();
        for id in nested.expand(object_name(&group.metadata)).users.keys() {
            if let Some(user) = by_id.get(id).filter(|u| u.spec.is_active()) {
                members.insert(user.spec.user_name.clone());
            }
        }
        group_entries.push(GroupEntry {
            id: object_name(&group.metadata).to_string(),
            display_name: group.spec.display_name.clone(),
            members: members.into_iter().collect(),
        });
    }
    group_entries.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));

    let mut user_entries: Vec<(&str, UserEntry)> = users
        .iter()
        .filter(|u| u.spec.is_active())
        .map(|u| {
            let id = object_name(&u.metadata);
            let entry = UserEntry {
                user_name: u.spec.user_name.clone(),
                display_name: u.spec.display_name.clone(),
                email: u.spec.primary_email().map(str::to_string),
                // Every group listing its id (as the cache's membership
                // index has them), and the groups containing those.
                groups: nested
                    .groups_of(id)
                    .into_iter()
                    .filter_map(|(g, _)| nested.display_name(g))
                    .collect::<BTreeSet<&str>>()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            };
            (id, entry)
        })
        .collect();
    // The id breaks ties so that the order never depends on the input order.
    user_entries.sort_by(|(a_id, a), (b_id, b)| (&a.user_name, a_id).cmp(&(&b.user_name, b_id)));
    (
        user_entries
            .into_iter()
            .map(|(id, e)| (id.to_string(), e))
            .collect(),
        group_entries,
    )
}

/// The compact JSON of an entry, as it is stored under its key.
pub fn entry_json<T: Serialize>(entry: &T) -> String {
    to_json(entry)
}

/// The bucket of an entry among `count`, and the 10 hex digits naming its
/// own shards if it is large.
pub fn bucket_of(is_user: bool, id: &str, count: usize) -> (usize, String) {
    let (short, hash) = placement(if is_user { 'u' } else { 'g' }, id);
    ((hash % count.max(1) as u64) as usize, short)
}

/// Where an entry lives: 10 hex digits naming its own shards, and the
/// 64-bit hash choosing its bucket, both from the sha256 of `kind` and `id`.
fn placement(kind: char, id: &str) -> (String, u64) {
    let digest = sha256(&[&kind.to_string(), id]);
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let short = hex(&digest[..5]);
    (short, u64::from_be_bytes(head))
}

/// The directory ConfigMaps of `tenant`: the main one first, then the shards.
/// `previous` is how many hashed shards it has now (see [`bucket_count`]).
pub fn build(
    tenant: &ScimTenant,
    users: &[ScimUser],
    groups: &[ScimGroup],
    labels: &BTreeMap<String, String>,
    owner: Option<OwnerReference>,
    previous: Option<usize>,
) -> Vec<ConfigMap> {
    build_with(tenant, users, groups, labels, owner, SHARD_BUDGET, previous)
}

/// How many hashed shards a directory manifest lists (`None` when it is
/// not a version 2 manifest): what [`build`] keeps while it still fits.
pub fn bucket_count(main: &ConfigMap) -> Option<usize> {
    bucket_count_in(
        main.metadata.name.as_deref().unwrap_or_default(),
        main.data.as_ref()?.get(MANIFEST_KEY)?,
    )
}

/// [`bucket_count`] of the main ConfigMap `main` whose manifest is `manifest`.
pub fn bucket_count_in(main: &str, manifest: &str) -> Option<usize> {
    let manifest: Manifest = serde_json::from_str(manifest).ok()?;
    // Version 2 placed entries in the same buckets; its count carries over.
    (manifest.version == VERSION || manifest.version == 2).then(|| {
        let prefix = format!("{main}-");
        manifest
            .shards
            .iter()
            .filter(|name| {
                name.strip_prefix(&prefix)
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            })
            .count()
    })
}

/// Compact JSON of directory data, which cannot fail to serialize (strings,
/// numbers and arrays only).
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Splits an entry whose list is `list` into serialized entries that each fit
/// alone under `key` in `budget` (see the module documentation).
fn split<T: Serialize>(
    list: &[String],
    rebuild: impl Fn(&[String]) -> T,
    key: &str,
    budget: usize,
) -> Vec<String> {
    let whole = to_json(&rebuild(list));
    let capacity = budget.saturating_sub(key.len() + 2);
    if whole.len() <= capacity {
        return vec![whole];
    }
    let base = to_json(&rebuild(&[])).len();
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut len = base;
    for (i, item) in list.iter().enumerate() {
        let item_len = to_json(item).len();
        if i > start && len + 1 + item_len > capacity {
            chunks.push(to_json(&rebuild(&list[start..i])));
            start = i;
            len = base + item_len;
        } else {
            len += item_len + usize::from(i > start);
        }
    }
    chunks.push(to_json(&rebuild(&list[start..])));
    chunks
}

/// [`build`] with a budget of `budget` bytes per ConfigMap and no shards yet.
#[cfg(test)]
pub(crate) fn build_with_budget(
    tenant: &ScimTenant,
    users: &[ScimUser],
    groups: &[ScimGroup],
    labels: &BTreeMap<String, String>,
    owner: Option<OwnerReference>,
    budget: usize,
) -> Vec<ConfigMap> {
    build_with(tenant, users, groups, labels, owner, budget, None)
}

/// The data key of an entry: `user.<id>` or `group.<id>`, or, when that is
/// not a valid ConfigMap key (over 253 characters), `user.h-<hash>`.
pub fn entry_key(is_user: bool, id: &str) -> String {
    let prefix = if is_user { "user." } else { "group." };
    let key = format!("{prefix}{id}");
    let valid = key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        key
    } else {
        let (short, _) = placement(if is_user { 'u' } else { 'g' }, id);
        format!("{prefix}h-{short}")
    }
}

/// One entry on its way into a ConfigMap.
struct Item {
    key: String,
    json: String,
    hash: u64,
}

/// One entry on its way into [`build_from`].
pub enum Entry {
    /// An active user, with its SCIM id (which places it in a shard).
    User(String, UserEntry),
    Group(GroupEntry),
}

/// The directory ConfigMaps of `entries`: what [`build`] makes of the
/// users and groups they were made from. Each entry is serialized as it
/// comes, so only the ConfigMaps' data is ever held, never the objects.
pub fn build_from(
    tenant: &ScimTenant,
    entries: impl IntoIterator<Item = Entry>,
    labels: &BTreeMap<String, String>,
    owner: Option<OwnerReference>,
    previous: Option<usize>,
) -> Vec<ConfigMap> {
    layout(tenant, entries, labels, owner, SHARD_BUDGET, previous)
}

/// [`build`] with a budget of `budget` bytes per ConfigMap.
pub(crate) fn build_with(
    tenant: &ScimTenant,
    users: &[ScimUser],
    groups: &[ScimGroup],
    labels: &BTreeMap<String, String>,
    owner: Option<OwnerReference>,
    budget: usize,
    previous: Option<usize>,
) -> Vec<ConfigMap> {
    let depth = tenant.spec.nested_groups.depth();
    let (user_entries, group_entries) = keyed_entries(users, groups, depth);
    let entries = user_entries
        .into_iter()
        .map(|(id, entry)| Entry::User(id, entry))
        .chain(group_entries.into_iter().map(Entry::Group));
    layout(tenant, entries, labels, owner, budget, previous)
}

/// Lays `entries` out in ConfigMaps of at most `budget` bytes of data.
fn layout(
    tenant: &ScimTenant,
    entries: impl IntoIterator<Item = Entry>,
    labels: &BTreeMap<String, String>,
    owner: Option<OwnerReference>,
    budget: usize,
    previous: Option<usize>,
) -> Vec<ConfigMap> {
    let main = main_name(tenant);
    let namespace = tenant.spec.namespace.as_str();
    let mut labels = labels.clone();
    labels.insert(DIRECTORY_LABEL.to_string(), "true".to_string());
    let config_map = |name: String, data: BTreeMap<String, String>| ConfigMap {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.to_string()),
            labels: Some(labels.clone()),
            owner_references: owner.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..ConfigMap::default()
    };

    // Entries that go to a bucket; large ones get shards of their own,
    // split where one alone would not fit.
    let large = budget / 4;
    let (mut users, mut groups) = (0, 0);
    let mut items: Vec<Item> = Vec::new();
    let mut own: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for entry in entries {
        let (kind, id, json) = match &entry {
            Entry::User(id, user) => {
                users += 1;
                ('u', id.as_str(), to_json(user))
            }
            Entry::Group(group) => {
                groups += 1;
                ('g', group.id.as_str(), to_json(group))
            }
        };
        let key = entry_key(kind == 'u', id);
        let (short, hash) = placement(kind, id);
        if json.len() <= large {
            items.push(Item { key, json, hash });
            continue;
        }
        let slices = match &entry {
            Entry::User(_, user) => {
                let rebuild = |groups: &[String]| UserEntry {
                    groups: groups.to_vec(),
                    ..user.clone()
                };
                split(&user.groups, rebuild, &key, budget)
            }
            Entry::Group(group) => {
                let rebuild = |members: &[String]| GroupEntry {
                    members: members.to_vec(),
                    ..group.clone()
                };
                split(&group.members, rebuild, &key, budget)
            }
        };
        own.insert(format!("{kind}{short}"), (key, slices));
    }
    let manifest = |shards: Vec<String>| {
        to_json(&Manifest {
            version: VERSION,
            users,
            groups,
            shards,
        })
    };

    let total: usize = items.iter().map(|i| i.key.len() + i.json.len()).sum();
    let single = manifest(Vec::new());
    if own.is_empty() && MANIFEST_KEY.len() + single.len() + total <= budget {
        let mut data: BTreeMap<String, String> =
            items.into_iter().map(|i| (i.key, i.json)).collect();
        data.insert(MANIFEST_KEY.to_string(), single);
        return vec![config_map(main, data)];
    }

    // The fewest buckets (a power of two) in which every bucket fits; the
    // current count is kept while everything fits in it and it is not more
    // than four times what is needed, so a tenant hovering at a boundary
    // does not rewrite every shard back and forth.
    let needed = (2 * total)
        .div_ceil(budget.max(1))
        .max(1)
        .next_power_of_two();
    let mut count = match previous {
        Some(p) if p.is_power_of_two() && p >= needed / 2 && p <= needed * 4 => p,
        _ => needed,
    };
    let mut kept = count != needed;
    let fits = |count: usize| {
        let mut sizes = vec![0usize; count];
        for item in &items {
            sizes[(item.hash % count as u64) as usize] += item.key.len() + item.json.len();
        }
        sizes.iter().all(|size| *size <= budget)
    };
    while !fits(count) && count < 1 << 16 {
        // The kept count overflows: grow from what is needed.
        count = if kept {
            needed.max(count * 2)
        } else {
            count * 2
        };
        kept = false;
    }
    let mut buckets: Vec<BTreeMap<String, String>> = (0..count).map(|_| BTreeMap::new()).collect();
    for item in items {
        buckets[(item.hash % count as u64) as usize].insert(item.key, item.json);
    }

    let mut names: Vec<String> = (1..=buckets.len()).map(|n| format!("{main}-{n}")).collect();
    let mut config_maps = Vec::with_capacity(names.len() + own.len() + 1);
    for (name, data) in names.iter().zip(buckets) {
        config_maps.push(config_map(name.clone(), data));
    }
    for (short, (key, slices)) in own {
        for (k, slice) in slices.into_iter().enumerate() {
            let name = format!("{main}-{short}-{}", k + 1);
            let data = BTreeMap::from([(key.clone(), slice)]);
            config_maps.push(config_map(name.clone(), data));
            names.push(name);
        }
    }
    config_maps.insert(
        0,
        config_map(
            main,
            BTreeMap::from([(MANIFEST_KEY.to_string(), manifest(names))]),
        ),
    );
    config_maps
}

#[cfg(test)]
mod tests;
