//! The operator stops; the cluster changes behind its back (a binding deleted
//! by hand; by writes to the custom resources, a user deactivated, a member
//! removed and a group deleted); a new operator process converges to the
//! directory's state within seconds of being ready.

use std::time::{Duration, Instant};

use crate::support::operator::{Operator, Scim, can, until};
use crate::support::tenant::Tenant;
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use scimitar::crd::{ScimGroup, ScimUser};
use serde_json::json;

/// How soon after a new operator process is ready what changed while none
/// ran is repaired: its first (full) pass, not the periodic resync.
const AT_START: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_new_operator_process_repairs_what_changed_while_none_ran() {
    // Its own control plane: no other operator may repair anything while
    // this test runs none.
    let cp = &ControlPlane::dedicated("operator-restart");
    let admin = cp.admin().await;
    let dev = namespace(&admin, "opr-dev").await;
    // eng may read (view), ops may change workloads (edit), leads may also
    // grant access (admin), all in dev. jo and kim are in eng only, max and
    // lee in ops, lee in leads too.
    // The operator waits for the CRDs of its control plane.
    install_crds(&admin).await;
    let mut first = Operator::start(cp);
    let opr = Tenant::setup(cp, "opr")
        .mapping("eng", "view", &[&dev])
        .mapping("ops", "edit", &[&dev])
        .mapping("leads", "admin", &[&dev])
        .user("jo@example.com")
        .user("kim@example.com")
        .user("lee@example.com")
        .user("max@example.com")
        .group("eng", &["jo@example.com", "kim@example.com"])
        .group("ops", &["max@example.com", "lee@example.com"])
        .group("leads", &["lee@example.com"])
        .on(&first)
        .create()
        .await;
    let (home, token) = (&opr.name, &opr.token);
    let ids: std::collections::HashMap<&str, String> = ["jo", "kim", "lee", "max"]
        .map(|name| (name, opr.user(&format!("{name}@example.com")).to_owned()))
        .into();
    let groups_made: std::collections::HashMap<&str, String> = ["eng", "ops", "leads"]
        .map(|group| (group, opr.group(group).to_owned()))
        .into();
    // What each user may do, as the API server's RBAC decides: list pods
    // (view), create deployments (edit), create rolebindings (admin).
    let reads = |user: &'static str| (user, "list", "pods");
    let writes = |user: &'static str| (user, "create", "apps/deployments");
    let grants = |user: &'static str| (user, "create", "rbac.authorization.k8s.io/rolebindings");
    let may = |(user, verb, resource): (&'static str, &'static str, &'static str), want: bool| {
        let admin = admin.clone();
        let dev = dev.clone();
        async move {
            until(&format!("{user} {verb} {resource}"), want, || {
                let admin = admin.clone();
                let dev = dev.clone();
                async move { can(&admin, user, verb, resource, &dev).await }
            })
            .await
        }
    };
    may(reads("oidc:jo@example.com"), true).await;
    may(reads("oidc:kim@example.com"), true).await;
    may(writes("oidc:max@example.com"), true).await;
    may(writes("oidc:lee@example.com"), true).await;
    may(grants("oidc:lee@example.com"), true).await;
    // jo's status as the first operator wrote it.
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), home);
    let jo_id = ids["jo"].clone();
    until("jo's status written", true, || async {
        users
            .get(&jo_id)
            .await
            .ok()
            .and_then(|u| u.status)
            // Its final status: jo is in eng (an earlier one, written
            // before eng existed, lists no group).
            .is_some_and(|s| s.subject.is_some() && !s.conditions.is_empty() && s.groups == ["eng"])
    })
    .await;
    let jo_version = users
        .get(&jo_id)
        .await
        .expect("jo")
        .metadata
        .resource_version;

    first.stop();
    // Behind the operator's back, by writes that reached the API server
    // directly: eng's binding is deleted, kim is deactivated, lee is taken
    // out of ops, and leads is deleted.
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &dev);
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=scimitar");
    let of_role = |role: &'static str| {
        let (bindings, managed) = (bindings.clone(), managed.clone());
        async move {
            bindings
                .list(&managed)
                .await
                .expect("list")
                .items
                .into_iter()
                .filter(|b| b.role_ref.name == role)
                .collect::<Vec<_>>()
        }
    };
    let eng_binding = of_role("view").await;
    assert_eq!(eng_binding.len(), 1, "eng's binding");
    bindings
        .delete(
            eng_binding[0].metadata.name.as_deref().expect("name"),
            &DeleteParams::default(),
        )
        .await
        .expect("delete");
    users
        .patch(
            &ids["kim"],
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"active": false}})),
        )
        .await
        .expect("deactivate kim directly");
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), home);
    groups
        .patch(
            &groups_made["ops"],
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"members": [{"value": ids["max"]}]}})),
        )
        .await
        .expect("take lee out of ops directly");
    groups
        .delete(&groups_made["leads"], &DeleteParams::default())
        .await
        .expect("delete leads directly");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Nothing repaired it yet: access is as stale as the bindings.
    assert!(!can(&admin, "oidc:jo@example.com", "list", "pods", &dev).await);
    let (user, verb, resource) = grants("oidc:lee@example.com");
    assert!(can(&admin, user, verb, resource, &dev).await);
    let (user, verb, resource) = writes("oidc:lee@example.com");
    assert!(can(&admin, user, verb, resource, &dev).await);

    // Measured from readiness (`/readyz`: caches synced), and printed also
    // from the process's start: the first pass may finish before readiness
    // is next probed.
    let spawned = Instant::now();
    let mut second = Operator::spawn(cp, &[]);
    second.wait_ready();
    let ready = Instant::now();
    let repaired = |what: &str| {
        let took = ready.elapsed();
        eprintln!(
            "measured: {what}: {took:?} after the new operator was ready, {:?} after it was started (bound {AT_START:?} after ready)",
            spawned.elapsed()
        );
        assert!(
            took <= AT_START,
            "{what}: {took:?} after the new operator was ready, over {AT_START:?}"
        );
    };
    may(reads("oidc:jo@example.com"), true).await;
    repaired("eng's binding, deleted by hand while none ran, is back");
    may(reads("oidc:kim@example.com"), false).await;
    repaired("kim, deactivated while none ran, may no longer read");
    may(grants("oidc:lee@example.com"), false).await;
    repaired("lee, in leads, deleted while none ran, may no longer grant");
    may(writes("oidc:lee@example.com"), false).await;
    repaired("lee, taken out of ops while none ran, may no longer write");
    // The stale binding is gone, the edited one names exactly its member.
    assert!(of_role("admin").await.is_empty(), "leads' binding is gone");
    let ops = of_role("edit").await;
    assert_eq!(ops.len(), 1, "ops' binding");
    let subjects: Vec<&str> = ops[0]
        .subjects
        .iter()
        .flatten()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(subjects, ["oidc:max@example.com"]);
    assert!(
        can(
            &admin,
            "oidc:max@example.com",
            "create",
            "apps/deployments",
            &dev
        )
        .await
    );

    let scim = Scim::new(&second, token);
    scim.wait_until_authorized().await;
    let kim_now = scim
        .send("GET", &format!("/Users/{}", ids["kim"]), None)
        .await;
    assert_eq!(kim_now.body["active"], false, "{}", kim_now.body);
    // The new process read the statuses it found instead of rewriting them:
    // once it has written kim's (inactive now), jo's, unchanged, is as it was.
    let kim_id = ids["kim"].clone();
    until("kim's status written", true, || async {
        users
            .get(&kim_id)
            .await
            .ok()
            .and_then(|u| u.status)
            .is_some_and(|s| s.subject.is_none())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jo_now = users
        .get(&jo_id)
        .await
        .expect("jo")
        .metadata
        .resource_version;
    assert_eq!(jo_now, jo_version, "an unchanged status was rewritten");

    // The new process read the directory ConfigMaps it found (it holds no
    // ConfigMap data; its first pass read them once). Once it has written
    // them, a change reads none: what is there is known from the answers
    // to its own writes.
    let mut reads = second
        .unlabelled_metric("scimitar_directory_reads_total")
        .await;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = second
            .unlabelled_metric("scimitar_directory_reads_total")
            .await;
        if now == reads {
            break;
        }
        reads = now;
    }
    assert!(reads > 0.0, "the first pass read the directory it found");
    let ned = scim
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "ned@example.com"})),
        )
        .await;
    assert_eq!(ned.status, 201);
    let config_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), home);
    let directory = format!("{home}-directory");
    until("ned is in the directory", true, || async {
        config_maps
            .get_opt(&directory)
            .await
            .ok()
            .flatten()
            .and_then(|cm| cm.data)
            .is_some_and(|data| data.values().any(|v| v.contains("ned@example.com")))
    })
    .await;
    assert_eq!(
        second
            .unlabelled_metric("scimitar_directory_reads_total")
            .await,
        reads,
        "a change read a directory ConfigMap"
    );
}
