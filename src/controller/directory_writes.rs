//! Writes a tenant's directory ConfigMaps: all of them (a rebuild), or only
//! the entries that changed.
//!
//! Neither holds the ConfigMaps' data: what is there now comes from the
//! [`Shards`](super::shards::Shards) summaries (filled by our own writes'
//! answers), read with a GET only for a ConfigMap without one (someone else
//! wrote it, or the first pass since the start). Which ConfigMaps exist, and
//! so what a rebuild deletes, comes from the complete metadata watch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::apply::{self, Applied, Change, describe, only_this, with_timeout};
use super::compute::{Owner, directory_entries, group_entry, user_entry};
use super::context::{Context, Error};
use super::desired::Plan;
use super::directory::{
    MANIFEST_KEY, Manifest, SHARD_BUDGET, VERSION, bucket_count_in, bucket_of, entry_json,
    entry_key, main_name,
};
use super::owned::Scope;
use super::shards::Summary;
use crate::crd::ScimTenant;
use crate::meta::label_value;
use crate::store::Kind;

/// The summary of `namespace/name` as it is now: the one kept, else read
/// (`None`: the ConfigMap does not exist).
async fn current(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Option<Arc<Summary>>, kube::Error> {
    if let Some(summary) = ctx.shards.get(namespace, name) {
        return Ok(Some(summary));
    }
    if ctx
        .config_maps
        .get(&ObjectRef::new(name).within(namespace))
        .is_none()
    {
        // The metadata view is complete: there is nothing to read.
        return Ok(None);
    }
    let mark = ctx.shards.mark();
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    ctx.metrics.directory_read();
    Ok(with_timeout(api.get_opt(name))
        .await?
        .map(|config_map| ctx.shards.record(&config_map, mark)))
}

/// Sends our write of `namespace/name` and files its answer: the owned
/// index learns which version was ours, and the summary is kept only if
/// the watch showed no one else's change meanwhile (else, and on a
/// failure, it is read again before it is trusted).
async fn write(
    ctx: &Context,
    namespace: &str,
    name: &str,
    send: impl std::future::Future<Output = Result<ConfigMap, kube::Error>>,
) -> Result<(), kube::Error> {
    let mark = ctx.shards.mark();
    let key = ("ConfigMap", Some(namespace.to_owned()), name.to_owned());
    ctx.owned.writing(key.clone());
    match with_timeout(send).await {
        Ok(answer) => {
            if ctx
                .owned
                .wrote(key, answer.metadata.resource_version.clone())
            {
                ctx.shards.record(&answer, mark);
            } else {
                ctx.shards.forget(namespace, name);
            }
            Ok(())
        }
        Err(error) => {
            ctx.owned.failed(&key);
            ctx.shards.forget(namespace, name);
            Err(error)
        }
    }
}

/// Rebuilds the directory ConfigMaps; returns how many objects it read.
pub async fn rebuild(
    tenant: &ScimTenant,
    ctx: &Context,
    applied: &mut Applied,
) -> Result<usize, Error> {
    let namespace = tenant.spec.namespace.clone();
    let label = label_value(&tenant.name_any());
    let main = main_name(tenant);
    let previous = match current(ctx, &namespace, &main).await {
        Ok(summary) => summary.and_then(|s| bucket_count_in(&main, s.manifest()?)),
        Err(error) => {
            ctx.pending.touched(&tenant.name_any(), &Scope::Directory);
            applied
                .failures
                .push(format!("reading ConfigMap {namespace}/{main}: {error}"));
            return Ok(0);
        }
    };
    // Every entry, from the cache's index: serialized one at a time, so
    // only the ConfigMaps' data is held, not a copy of every object.
    let (cache, owned) = (ctx.store.cache().clone(), tenant.clone());
    let (config_maps, read) = tokio::task::spawn_blocking(move || {
        let plan = Plan::new(&owned);
        let owner = Owner::of(&owned);
        cache.read(&owned.spec.namespace, |index| {
            let config_maps = super::directory::build_from(
                &owned,
                directory_entries(&owner, index),
                plan.labels(),
                plan.owner().cloned(),
                previous,
            );
            (
                config_maps,
                index.count(Kind::User) + index.count(Kind::Group),
            )
        })
    })
    .await
    .map_err(|e| Error::Apply(format!("computing the directory: {e}")))?;

    let mut written = Applied::default();
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let params = PostParams {
        field_manager: Some(apply::FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    let patch_params = PatchParams {
        field_manager: params.field_manager.clone(),
        ..Default::default()
    };
    let mut wanted = BTreeSet::new();
    // Each goes once written: a large directory is not held twice.
    for config_map in config_maps {
        let config_map = &config_map;
        let name = config_map.name_any();
        wanted.insert(name.clone());
        let what = describe(config_map);
        let now = match current(ctx, &namespace, &name).await {
            Ok(now) => now,
            Err(error) => {
                written.failures.push(format!("reading {what}: {error}"));
                continue;
            }
        };
        if now.as_ref().is_some_and(|s| s.describes(config_map)) {
            continue;
        }
        let sent = match now {
            Some(_) => {
                write(
                    ctx,
                    &namespace,
                    &name,
                    api.patch(&name, &patch_params, &replace_all(config_map)),
                )
                .await
            }
            None => write(ctx, &namespace, &name, api.create(&params, config_map)).await,
        };
        match sent {
            Ok(()) => written.changes.push(match now {
                Some(_) => Change::Updated(what),
                None => Change::Created(what),
            }),
            Err(error) => written.failures.push(format!("applying {what}: {error}")),
        }
    }
    // What the tenant's directory no longer has: every directory ConfigMap
    // of the tenant the metadata view lists, so nothing orphaned survives.
    for object in apply::tenant_objects(&ctx.config_maps, &label) {
        let name = object.name_any();
        if wanted.contains(&name) || object.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let namespace = object.metadata.namespace.clone().unwrap_or_default();
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
        ctx.owned
            .deleted(("ConfigMap", Some(namespace.clone()), name.clone()));
        ctx.shards.forget(&namespace, &name);
        match with_timeout(api.delete(&name, &only_this(object.as_ref()))).await {
            Ok(_) => written
                .changes
                .push(Change::Deleted(describe(object.as_ref()))),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => written
                .failures
                .push(format!("deleting {}: {error}", describe(object.as_ref()))),
        }
    }
    if !written.failures.is_empty() {
        ctx.pending.touched(&tenant.name_any(), &Scope::Directory);
    }
    applied.add(written);
    Ok(read)
}

/// A JSON patch that makes a ConfigMap's data, labels, annotations and
/// owners those of `wanted`. Not an apply: the keys our merge patches wrote
/// belong to another field owner, and an apply would keep the ones a new
/// layout moves elsewhere (a stale second copy of an entry).
fn replace_all(wanted: &ConfigMap) -> Patch<()> {
    let meta = &wanted.metadata;
    let fields = [
        ("/data", serde_json::to_value(&wanted.data)),
        ("/metadata/labels", serde_json::to_value(&meta.labels)),
        (
            "/metadata/annotations",
            serde_json::to_value(&meta.annotations),
        ),
        (
            "/metadata/ownerReferences",
            serde_json::to_value(&meta.owner_references),
        ),
    ];
    let ops = fields
        .into_iter()
        .filter_map(|(path, value)| {
            let value = value.ok().filter(|v| !v.is_null())?;
            Some(json_patch::PatchOperation::Add(json_patch::AddOperation {
                path: json_patch::jsonptr::PointerBuf::parse(path).ok()?,
                value,
            }))
        })
        .collect();
    Patch::Json(json_patch::Patch(ops))
}

/// Writes the directory entries of `entries` (users and groups that
/// changed), one merge patch per ConfigMap they live in, so a change costs
/// the entries it changes. Returns `false` when the layout must change
/// instead (a shard is missing, an entry is large or has shards of its own,
/// a ConfigMap would outgrow its budget): the caller rebuilds it all.
pub async fn entries(
    tenant: &ScimTenant,
    ctx: &Context,
    entries: &[(bool, String)],
    applied: &mut Applied,
) -> Result<bool, Error> {
    let namespace = tenant.spec.namespace.as_str();
    let main = main_name(tenant);
    // Read failures go to the rebuild, which reports them.
    let Ok(Some(main_summary)) = current(ctx, namespace, &main).await else {
        return Ok(false);
    };
    let Some(manifest) = main_summary
        .manifest()
        .and_then(|m| serde_json::from_str::<Manifest>(m).ok())
        .filter(|m| m.version == VERSION)
    else {
        return Ok(false);
    };
    let prefix = format!("{main}-");
    let buckets = manifest
        .shards
        .iter()
        .filter(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    let owner = Owner::of(tenant);
    let computed: Vec<(bool, &str, Option<String>)> = ctx.store.cache().read(namespace, |index| {
        entries
            .iter()
            .map(|(is_user, id)| {
                let json = if *is_user {
                    user_entry(&owner, index, id).map(|e| entry_json(&e))
                } else {
                    group_entry(&owner, index, id).map(|e| entry_json(&e))
                };
                (*is_user, id.as_str(), json)
            })
            .collect()
    });

    let mut patches: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    let mut sizes: HashMap<String, usize> = HashMap::new();
    let mut summaries: HashMap<String, Arc<Summary>> = HashMap::new();
    let (mut users, mut groups) = (manifest.users as i64, manifest.groups as i64);
    for (is_user, id, json) in computed {
        let (bucket, short) = bucket_of(is_user, id, buckets);
        let own = format!("{main}-{}{short}-1", if is_user { 'u' } else { 'g' });
        if manifest.shards.contains(&own)
            || json.as_ref().is_some_and(|j| j.len() > SHARD_BUDGET / 4)
        {
            return Ok(false);
        }
        let target = if buckets == 0 {
            main.clone()
        } else {
            format!("{main}-{}", bucket + 1)
        };
        let shard = match summaries.get(&target) {
            Some(shard) => shard.clone(),
            None => {
                let Ok(Some(shard)) = current(ctx, namespace, &target).await else {
                    return Ok(false);
                };
                summaries.insert(target.clone(), shard.clone());
                shard
            }
        };
        let key = entry_key(is_user, id);
        if shard.holds(&key, json.as_deref()) {
            continue;
        }
        let had = shard.len_of(&key);
        let delta = match (had.is_some(), json.is_some()) {
            (false, true) => 1,
            (true, false) => -1,
            _ => 0,
        };
        if is_user {
            users += delta;
        } else {
            groups += delta;
        }
        let size = sizes.entry(target.clone()).or_insert(shard.bytes());
        *size = (*size + json.as_ref().map_or(0, |j| key.len() + j.len()))
            .saturating_sub(had.map_or(0, |len| key.len() + len));
        if *size > SHARD_BUDGET {
            return Ok(false);
        }
        patches.entry(target).or_default().insert(key, json);
    }
    if (users, groups) != (manifest.users as i64, manifest.groups as i64) {
        let counted = Manifest {
            users: users.max(0) as usize,
            groups: groups.max(0) as usize,
            ..manifest
        };
        patches
            .entry(main.clone())
            .or_default()
            .insert(MANIFEST_KEY.to_owned(), Some(entry_json(&counted)));
    }

    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let params = PatchParams {
        field_manager: Some(apply::FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    for (name, data) in patches {
        let patch = Patch::Merge(serde_json::json!({ "data": data }));
        match write(ctx, namespace, &name, api.patch(&name, &params, &patch)).await {
            Ok(()) => applied
                .changes
                .push(Change::Updated(format!("ConfigMap {namespace}/{name}"))),
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(false),
            Err(error) => {
                ctx.pending.touched(&tenant.name_any(), &Scope::Directory);
                applied
                    .failures
                    .push(format!("updating ConfigMap {namespace}/{name}: {error}"));
            }
        }
    }
    Ok(true)
}
