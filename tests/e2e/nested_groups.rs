//! Nested groups end to end (`spec.nestedGroups`): a group listed as a
//! member of a mapped group grants its users the mapped role, as the API
//! server's SubjectAccessReview sees it; deactivating such a user, or
//! removing the nesting, takes the access away; a cycle is reported and
//! grants no one outside it; another tenant's group never counts; a
//! depth outside 1 to 32 is refused by the API server.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{Api, Client};
use scimitar::crd::{ScimGroup, ScimTenant};
use scimitar::scim::schema::PATCH_OP_URN;
use serde_json::{Value, json};

use crate::support::operator::{Operator, Scim, access, can, within};
use crate::support::tenant::Tenant;
use crate::support::{ControlPlane, install_crds, namespace};

/// Sends a SCIM PATCH of `operations` to `path`; it must answer 200.
async fn patch(scim: &Scim, path: &str, operations: Value) -> Value {
    let reply = scim
        .send(
            "PATCH",
            path,
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": operations})),
        )
        .await;
    assert_eq!(reply.status, 200, "PATCH {path}: {}", reply.body);
    reply.body
}

/// Waits until `conditions()` holds a true `Degraded` naming `reason`.
async fn degraded<F, Fut>(what: &str, reason: &str, mut conditions: F) -> String
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<Condition>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = conditions().await;
        if let Some(c) = now.iter().find(|c| {
            c.type_ == "Degraded"
                && c.status == "True"
                && (c.reason == reason || c.message.contains(reason))
        }) {
            return c.message.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{what} not Degraded with {reason} within 20 s: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn group_conditions(admin: &Client, namespace: &str, id: &str) -> Vec<Condition> {
    let api: Api<ScimGroup> = Api::namespaced(admin.clone(), namespace);
    api.get_opt(id)
        .await
        .expect("reading the group")
        .and_then(|g| g.status)
        .map(|s| s.conditions)
        .unwrap_or_default()
}

/// The directory entry `key` of the tenant, once `ready` accepts it.
async fn directory_entry(
    admin: &Client,
    tenant: &str,
    key: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), tenant);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let entry = cms
            .get_opt(&format!("{tenant}-directory"))
            .await
            .expect("reading the directory")
            .and_then(|cm| cm.data?.get(key).cloned());
        if let Some(entry) = entry.as_deref().filter(|e| ready(e)) {
            return entry.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "directory {key} not as expected within 20 s: {entry:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_member_groups_users_get_the_access_and_lose_it() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    // The operator waits for the CRDs when it starts.
    install_crds(&admin).await;
    let dev = namespace(&admin, "nest-dev").await;
    let operator = Operator::shared(cp);
    let acme = Tenant::setup(cp, "nest")
        .spec(json!({"nestedGroups": {"enabled": true, "maxDepth": 4}}))
        .mapping("eng", "edit", &[&dev])
        .user("alice@example.com")
        .user("bob@example.com")
        .group("payments-team", &["alice@example.com"])
        .group("eng", &[])
        .on(operator)
        .create()
        .await;
    let scim = acme.scim();
    let (eng, pay) = (
        acme.group("eng").to_owned(),
        acme.group("payments-team").to_owned(),
    );
    let alice = "oidc:alice@example.com";

    // Nobody has access before the nesting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!can(&admin, alice, "list", "pods", &dev).await);

    // The IdP nests payments-team in eng: stored with its type.
    let body = patch(
        scim,
        &format!("/Groups/{eng}"),
        json!([{"op": "add", "path": "members", "value": [{"value": pay, "type": "Group"}]}]),
    )
    .await;
    let member = &body["members"][0];
    assert_eq!(
        (&member["value"], &member["type"]),
        (&json!(pay), &json!("Group")),
        "{body}"
    );
    // Its $ref names the group, not a user.
    let reference = member["$ref"].as_str().unwrap_or_default();
    assert!(reference.ends_with(&format!("/Groups/{pay}")), "{body}");
    let read = scim.send("GET", &format!("/Groups/{eng}"), None).await;
    assert_eq!(read.body["members"][0]["type"], "Group", "{}", read.body);

    let granted = access(&admin, alice, "list", "pods", &dev, true).await;
    eprintln!("timing: nesting → access granted in {granted:?}");
    assert!(!can(&admin, "oidc:bob@example.com", "list", "pods", &dev).await);

    // The directory lists eng's effective members, and alice's groups
    // include the one she inherits.
    let entry = directory_entry(&admin, &acme.name, &format!("group.{eng}"), |e| {
        e.contains("alice@example.com")
    })
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&entry).expect("entry")["members"],
        json!(["alice@example.com"])
    );
    let alice_id = acme.user("alice@example.com").to_owned();
    let entry = directory_entry(&admin, &acme.name, &format!("user.{alice_id}"), |e| {
        e.contains("\"eng\"")
    })
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&entry).expect("entry")["groups"],
        json!(["eng", "payments-team"])
    );
    eprintln!("directory: user.{alice_id} = {entry}");
    // eng's status counts 1 direct member (the group) and 1 effective one.
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &acme.name);
    let mut counted = None;
    for _ in 0..200 {
        let status = groups
            .get(&eng)
            .await
            .expect("eng")
            .status
            .unwrap_or_default();
        if status.effective_member_count == Some(1) {
            counted = Some(status.member_count);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counted, Some(1), "eng's status never counted alice");

    // Deactivating a member group's user revokes as for a direct member.
    patch(
        scim,
        &format!("/Users/{alice_id}"),
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await;
    within(
        "revocation of alice (nested)",
        Duration::from_secs(5),
        false,
        || can(&admin, alice, "list", "pods", &dev),
    )
    .await;
    patch(
        scim,
        &format!("/Users/{alice_id}"),
        json!([{"op": "replace", "path": "active", "value": true}]),
    )
    .await;
    access(&admin, alice, "list", "pods", &dev, true).await;

    // Removing the nesting revokes.
    patch(
        scim,
        &format!("/Groups/{eng}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{pay}\"]")}]),
    )
    .await;
    within(
        "revocation by un-nesting",
        Duration::from_secs(5),
        false,
        || can(&admin, alice, "list", "pods", &dev),
    )
    .await;
}

#[tokio::test]
async fn a_cycle_is_reported_and_another_tenants_group_never_counts() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    // The operator waits for the CRDs when it starts.
    install_crds(&admin).await;
    let dev = namespace(&admin, "cycle-dev").await;
    let operator = Operator::shared(cp);
    let acme = Tenant::setup(cp, "cycle")
        .spec(json!({"nestedGroups": {"enabled": true}}))
        .mapping("eng", "edit", &[&dev])
        .user("alice@example.com")
        .user("cy@example.com")
        .group("eng", &["cy@example.com"])
        .group("payments-team", &["alice@example.com"])
        .on(operator)
        .create()
        .await;
    // Another tenant, with a group holding its own user.
    let other = Tenant::setup(cp, "other")
        .spec(json!({"nestedGroups": {"enabled": true}}))
        .user("mallory@example.com")
        .group("theirs", &["mallory@example.com"])
        .on(operator)
        .create()
        .await;
    let scim = acme.scim();
    let (eng, pay) = (
        acme.group("eng").to_owned(),
        acme.group("payments-team").to_owned(),
    );

    // eng lists payments-team, which lists eng; eng also names the other
    // tenant's group by id.
    let theirs = other.group("theirs").to_owned();
    patch(
        scim,
        &format!("/Groups/{eng}"),
        json!([{"op": "add", "path": "members", "value": [
            {"value": pay, "type": "Group"},
            {"value": theirs, "type": "Group"}
        ]}]),
    )
    .await;
    patch(
        scim,
        &format!("/Groups/{pay}"),
        json!([{"op": "add", "path": "members", "value": [{"value": eng, "type": "Group"}]}]),
    )
    .await;

    for (what, id) in [("eng", &eng), ("payments-team", &pay)] {
        let message = degraded(what, "GroupCycle", || {
            group_conditions(&admin, &acme.name, id)
        })
        .await;
        assert!(message.contains("member of itself"), "{message}");
        eprintln!("reported: {what}: {message}");
    }
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    let message = degraded("the tenant", "GroupCycle", || async {
        tenants
            .get(&acme.name)
            .await
            .ok()
            .and_then(|t| t.status)
            .map(|s| s.conditions)
            .unwrap_or_default()
    })
    .await;
    assert!(
        message.contains("\"eng\"") && message.contains("\"payments-team\""),
        "{message}"
    );
    eprintln!("reported: the tenant: {message}");

    // The cycle's members have the access, no one else does.
    access(&admin, "oidc:alice@example.com", "list", "pods", &dev, true).await;
    access(&admin, "oidc:cy@example.com", "list", "pods", &dev, true).await;
    assert!(!can(&admin, "oidc:mallory@example.com", "list", "pods", &dev).await);
    let entry = directory_entry(&admin, &acme.name, &format!("group.{eng}"), |e| {
        e.contains("alice@example.com")
    })
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&entry).expect("entry")["members"],
        json!(["alice@example.com", "cy@example.com"])
    );

    // Breaking the cycle clears the report.
    patch(
        scim,
        &format!("/Groups/{pay}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{eng}\"]")}]),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let conditions = group_conditions(&admin, &acme.name, &pay).await;
        let cyclic = conditions
            .iter()
            .any(|c| c.type_ == "Degraded" && c.status == "True");
        if !cyclic && !conditions.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still reported: {conditions:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    access(&admin, "oidc:alice@example.com", "list", "pods", &dev, true).await;

    // A deleted member group leaves the groups listing it, and its users
    // lose what it brought.
    let deleted = scim.send("DELETE", &format!("/Groups/{pay}"), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let read = scim.send("GET", &format!("/Groups/{eng}"), None).await;
    let members: Vec<&str> = read.body["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert!(!members.contains(&pay.as_str()), "{}", read.body);
    within(
        "revocation by deleting the member group",
        Duration::from_secs(5),
        false,
        || can(&admin, "oidc:alice@example.com", "list", "pods", &dev),
    )
    .await;
}

#[tokio::test]
async fn a_max_depth_outside_1_to_32_is_refused_and_nothing_is_created() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    for depth in [0, 33] {
        let name = format!(
            "deep-{depth}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let tenant: ScimTenant = serde_json::from_value(json!({
            "apiVersion": "scimitar.dev/v1alpha1",
            "kind": "ScimTenant",
            "metadata": {"name": name},
            "spec": {"namespace": name, "nestedGroups": {"enabled": true, "maxDepth": depth}}
        }))
        .expect("tenant");
        let refused = tenants
            .create(&kube::api::PostParams::default(), &tenant)
            .await
            .expect_err("the schema refuses it");
        let message = refused.to_string();
        assert!(message.contains("spec.nestedGroups.maxDepth"), "{message}");
        assert!(tenants.get_opt(&name).await.expect("get").is_none());
    }
}
