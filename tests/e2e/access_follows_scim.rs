//! End to end against the real API server with RBAC: the SCIM requests
//! JumpCloud sends become access, and lose it, as `SubjectAccessReview` sees it.

use scimitar::scim::schema::PATCH_OP_URN;
use std::time::Duration;

use crate::support::operator::{Operator, Scim, can, create_tenant, mapping, until};
use crate::support::tenant::Tenant;
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use scimitar::crd::{RoleMapping, ScimTenant, ScimTenantSpec};
use serde_json::json;

fn spec(namespace: &str, mappings: Vec<RoleMapping>) -> ScimTenantSpec {
    serde_json::from_value(json!({"namespace": namespace, "provider": "jumpcloud"}))
        .map(|s: ScimTenantSpec| ScimTenantSpec { mappings, ..s })
        .expect("tenant spec")
}

#[tokio::test]
async fn a_jumpcloud_day_grants_and_revokes_access() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "acme").await;
    let dev = namespace(&admin, "dev").await;
    let prod = namespace(&admin, "prod").await;
    let tenant = home.clone();
    let token = create_tenant(
        &admin,
        &tenant,
        spec(&home, vec![mapping("engineering", "edit", &[&dev])]),
    )
    .await;
    let operator = Operator::shared(cp);
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;

    // JumpCloud's connection test: a lookup that finds nobody.
    let probe = scim
        .send(
            "GET",
            "/Users?filter=userName%20eq%20%22nobody%40example.com%22",
            None,
        )
        .await;
    assert_eq!(probe.status, 200);
    assert_eq!(probe.body["totalResults"], 0);

    let user = scim
        .send(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "babs@example.com",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "babs@example.com", "type": "work", "primary": true}],
                "active": true
            })),
        )
        .await;
    assert_eq!(user.status, 201, "{}", user.body);
    let user_id = user.body["id"].as_str().expect("id").to_owned();
    // Read-your-writes: the GET right after the POST finds the user.
    let read = scim.send("GET", &format!("/Users/{user_id}"), None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["userName"], "babs@example.com");

    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "engineering",
                "members": [{"value": user_id}]
            })),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    let group_id = group.body["id"].as_str().expect("id").to_owned();

    let subject = "oidc:babs@example.com";
    let may_list = |ns: String| {
        let admin = admin.clone();
        move || {
            let admin = admin.clone();
            let ns = ns.clone();
            async move { can(&admin, subject, "list", "pods", &ns).await }
        }
    };
    let granted = until("access after group create", true, may_list(dev.clone())).await;
    assert!(
        !can(&admin, subject, "list", "pods", &prod).await,
        "no access outside the mapping"
    );
    eprintln!("timing: group create → access granted in {granted:?}");

    // Deactivation revokes; reactivation restores.
    let off = scim
        .send(
            "PATCH",
            &format!("/Users/{user_id}"),
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let revoked = until(
        "revocation after active=false",
        false,
        may_list(dev.clone()),
    )
    .await;
    eprintln!("timing: active=false → access revoked in {revoked:?}");
    assert!(
        revoked < Duration::from_secs(5),
        "revocation took {revoked:?}"
    );
    let on = scim
        .send(
            "PATCH",
            &format!("/Users/{user_id}"),
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "value": {"active": true}}]})),
        )
        .await;
    assert_eq!(on.status, 200);
    until("access after reactivation", true, may_list(dev.clone())).await;

    // JumpCloud's member removal and re-add.
    let member = json!([{"value": user_id}]);
    let removed = scim
        .send(
            "PATCH",
            &format!("/Groups/{group_id}"),
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "remove", "path": "members", "value": member}]})),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let gone = until(
        "revocation after member removal",
        false,
        may_list(dev.clone()),
    )
    .await;
    eprintln!("timing: member removed → access revoked in {gone:?}");
    let added = scim
        .send(
            "PATCH",
            &format!("/Groups/{group_id}"),
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "add", "path": "members", "value": member}]})),
        )
        .await;
    assert_eq!(added.status, 200);
    until("access after member add", true, may_list(dev.clone())).await;

    // The directory ConfigMap lists the active user and the group's members.
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &home);
    let name = format!("{tenant}-directory");
    let mut directory = None;
    for _ in 0..100 {
        if let Some(cm) = cms.get_opt(&name).await.expect("reading ConfigMap") {
            // Entries of one kind (`user.` or `group.`), joined.
            let kind = |prefix: &str| {
                cm.data
                    .iter()
                    .flatten()
                    .filter(|(k, _)| k.starts_with(prefix))
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            // Both kinds reflect the re-added member once the controller has
            // caught up with the last PATCH.
            let (users, groups) = (kind("user."), kind("group."));
            if users.contains("babs@example.com") && groups.contains("babs@example.com") {
                directory = Some(cm);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let directory = directory.expect("directory ConfigMap lists the user and her membership");
    let groups: String = directory
        .data
        .iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("group."))
        .map(|(_, v)| v.clone())
        .collect();
    assert!(
        groups.contains("engineering") && groups.contains("babs@example.com"),
        "{groups}"
    );

    // The user's status says which spec it describes.
    let users: Api<scimitar::crd::ScimUser> = Api::namespaced(admin.clone(), &home);
    let mut described = false;
    for _ in 0..100 {
        let user = users.get(&user_id).await.expect("user");
        let status = user.status.unwrap_or_default();
        described = status.observed_generation.is_some()
            && status.observed_generation == user.metadata.generation
            && status
                .conditions
                .iter()
                .all(|c| c.observed_generation == user.metadata.generation);
        if described {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        described,
        "ScimUser status has the current observedGeneration"
    );

    // Deleting the user revokes and removes the membership.
    let deleted = scim
        .send("DELETE", &format!("/Users/{user_id}"), None)
        .await;
    assert_eq!(deleted.status, 204);
    until("revocation after delete", false, may_list(dev.clone())).await;
    let group = scim.send("GET", &format!("/Groups/{group_id}"), None).await;
    assert!(group.body.get("members").is_none(), "{}", group.body);
    assert_eq!(
        scim.send("GET", &format!("/Users/{user_id}"), None)
            .await
            .status,
        404
    );

    // The tenant reports Ready.
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    let mut ready = false;
    for _ in 0..100 {
        let t = tenants.get(&tenant).await.expect("tenant");
        ready = t.status.as_ref().is_some_and(|s| {
            s.scim_base_url.as_deref() == Some(&format!("{}/scim/v2", operator.url))
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "tenant Ready, with its SCIM base URL");

    // Milestones and every change to managed objects are Events on the tenant.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::all(admin.clone());
    let mut reasons = std::collections::BTreeSet::new();
    for _ in 0..100 {
        reasons = events
            .list(&Default::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(tenant.as_str())
            })
            .filter_map(|e| e.reason)
            .collect();
        // Routine updates (a binding, a shard) are logged, not Events.
        if ["Provisioned", "Ready", "Created"]
            .iter()
            .all(|r| reasons.contains(*r))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for reason in ["Provisioned", "Ready", "Created"] {
        assert!(reasons.contains(reason), "no {reason} Event: {reasons:?}");
    }
    assert!(
        !reasons.contains("Updated"),
        "a routine update doubles its writes with an Event: {reasons:?}"
    );
}

#[tokio::test]
async fn concurrent_creates_of_one_user_name_make_one_user() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    let uniq = Tenant::setup(cp, "uniq")
        .spec(json!({"provider": "jumpcloud"}))
        .on(Operator::shared(cp))
        .create()
        .await;
    let (home, scim) = (&uniq.name, uniq.scim());
    let attempts = (0..8).map(|i| {
        let scim = &scim;
        let name = if i % 2 == 0 { "Casey@Example.com" } else { "casey@example.com" };
        async move {
            scim.send(
                "POST",
                "/Users",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})),
            )
            .await
        }
    });
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let conflicts: Vec<_> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!(created, 1, "exactly one create wins");
    assert_eq!(conflicts.len(), 7);
    assert!(conflicts.iter().all(|r| r.body["scimType"] == "uniqueness"));
    let users: Api<scimitar::crd::ScimUser> = Api::namespaced(admin.clone(), home);
    let listed = users.list(&Default::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1, "one ScimUser in the API server");
}

#[tokio::test]
async fn concurrent_member_patches_lose_nothing() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "race").await;
    let token = create_tenant(&admin, &home, spec(&home, vec![])).await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let group = scim
        .send(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "everyone"})),
        )
        .await;
    assert_eq!(group.status, 201);
    let group_id = group.body["id"].as_str().expect("id").to_owned();
    let patches = (0..100).map(|i| {
        let scim = &scim;
        let path = format!("/Groups/{group_id}");
        async move {
            scim.send(
                "PATCH",
                &path,
                Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": format!("member-{i:03}")}]}]})),
            )
            .await
            .status
        }
    });
    let statuses = futures::future::join_all(patches).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let groups: Api<scimitar::crd::ScimGroup> = Api::namespaced(admin.clone(), &home);
    let stored = groups.get(&group_id).await.expect("group");
    assert_eq!(stored.spec.members.len(), 100, "all 100 members stored");
}

/// The controller's status write is bookkeeping, not a change to the SCIM
/// resource: a client's ETag from its POST stays current across it, so its
/// If-Match update is not refused with 412 for something it never saw.
#[tokio::test]
async fn a_status_write_leaves_the_scim_version_alone() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "etag").await;
    let token = create_tenant(&admin, &home, spec(&home, vec![])).await;
    let scim = Scim::new(Operator::shared(cp), &token);
    scim.wait_until_authorized().await;
    let created = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "etag@example.com", "name": {"givenName": "Eve"}})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let version = created.body["meta"]["version"]
        .as_str()
        .expect("version")
        .to_owned();

    let users: Api<scimitar::crd::ScimUser> = Api::namespaced(admin.clone(), &home);
    let at_create = users
        .get(&id)
        .await
        .expect("user")
        .metadata
        .resource_version;
    until("the controller writes the user's status", true, || async {
        let user = users.get(&id).await.expect("user");
        user.status.is_some_and(|s| s.observed_generation.is_some())
            && user.metadata.resource_version != at_create
    })
    .await;

    let read = scim.send("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(
        read.body["meta"]["version"],
        version.as_str(),
        "{}",
        read.body
    );
    let replace = json!({"userName": "etag@example.com", "name": {"givenName": "Eva"}});
    let put = scim
        .send_if_match(
            "PUT",
            &format!("/Users/{id}"),
            Some(replace.clone()),
            Some(&version),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let changed = put.body["meta"]["version"].as_str().expect("version");
    assert_ne!(
        changed, version,
        "a change to the resource moves its version"
    );
    let stale = scim
        .send_if_match(
            "PUT",
            &format!("/Users/{id}"),
            Some(replace),
            Some(&version),
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.body);
}
