//! The directory ConfigMaps on the real API server as a tenant outgrows one
//! ConfigMap: entries first written one by one into the main ConfigMap
//! (merge patches) move to hash buckets, and each entry is then in exactly
//! one ConfigMap, none left behind in the old place.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::operator::{Operator, create_tenant, until};
use crate::support::{ControlPlane, install_crds, namespace};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, PostParams};
use scimitar::controller::directory::{MANIFEST_KEY, Manifest, SHARD_BUDGET};
use scimitar::crd::{ScimTenantSpec, ScimUser};
use scimitar::meta::DIRECTORY_LABEL;
use serde_json::json;

/// Every directory ConfigMap of the namespace, by name.
async fn directory(admin: &kube::Client, namespace: &str) -> BTreeMap<String, ConfigMap> {
    Api::<ConfigMap>::namespaced(admin.clone(), namespace)
        .list(&ListParams::default().labels(&format!("{DIRECTORY_LABEL}=true")))
        .await
        .expect("listing the directory")
        .items
        .into_iter()
        .map(|cm| (cm.metadata.name.clone().unwrap_or_default(), cm))
        .collect()
}

fn manifest(directory: &BTreeMap<String, ConfigMap>, main: &str) -> Option<Manifest> {
    let text = directory.get(main)?.data.as_ref()?.get(MANIFEST_KEY)?;
    serde_json::from_str(text).ok()
}

async fn add_users(admin: &kube::Client, namespace: &str, range: std::ops::Range<usize>) {
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), namespace);
    // About 1 kB per entry, so a few hundred fill a ConfigMap's budget.
    let padding = "x".repeat(1_000);
    futures::stream::iter(range)
        .map(|i| {
            let users = users.clone();
            let spec = serde_json::from_value(json!({
                "userName": format!("grow-{i}@example.com"),
                "displayName": format!("User {i} {padding}"),
            }))
            .expect("spec");
            async move {
                users
                    .create(
                        &PostParams::default(),
                        &ScimUser::new(&format!("u{i:05}"), spec),
                    )
                    .await
                    .expect("creating a user")
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
}

#[tokio::test]
async fn a_directory_that_outgrows_its_config_map_keeps_each_entry_once() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "grow").await;
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home})).expect("tenant spec");
    create_tenant(&admin, &home, spec).await;
    Operator::shared(cp);
    let main = format!("{home}-directory");
    let first = SHARD_BUDGET / 1_100 / 3;
    let total = SHARD_BUDGET / 1_100 * 3 / 2;

    // A few hundred, written entry by entry into the main ConfigMap.
    add_users(&admin, &home, 0..first).await;
    until("the first users are in the directory", true, || async {
        let directory = directory(&admin, &home).await;
        manifest(&directory, &main).is_some_and(|m| m.users == first)
    })
    .await;
    let before = directory(&admin, &home).await;
    let in_main = before[&main]
        .data
        .as_ref()
        .map_or(0, |d| d.keys().filter(|k| k.starts_with("user.")).count());
    assert_eq!(
        in_main, first,
        "while it fits, the main ConfigMap holds every entry"
    );

    // Past one ConfigMap's budget: the layout becomes buckets.
    add_users(&admin, &home, first..total).await;
    until("the grown directory is complete", true, || async {
        let directory = directory(&admin, &home).await;
        manifest(&directory, &main).is_some_and(|m| m.users == total && !m.shards.is_empty())
    })
    .await;
    // Let anything still queued land before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = directory(&admin, &home).await;
    let mut places: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, cm) in &after {
        let size: usize = cm
            .data
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        assert!(size <= SHARD_BUDGET, "{name} holds {size} bytes");
        for key in cm.data.iter().flatten().map(|(k, _)| k.as_str()) {
            if key.starts_with("user.") {
                places.entry(key).or_default().push(name);
            }
        }
    }
    assert_eq!(places.len(), total, "every user has an entry");
    let twice: Vec<_> = places.iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "{} entries are in more than one ConfigMap, e.g. {:?}",
        twice.len(),
        twice.first()
    );
    let listed = manifest(&after, &main).expect("manifest");
    for name in after.keys() {
        assert!(
            name == &main || listed.shards.contains(name),
            "{name} is not in the manifest"
        );
    }
}
