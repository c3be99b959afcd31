//! `scimitar plan` against the real API server, then the apply: the
//! changed ScimTenant is planned with the built binary (`-o json`, parsed),
//! applied, and once the controller has converged every verb the plan says
//! a user gains is allowed and every verb it says they lose is denied, as
//! SubjectAccessReview answers; the bindings are the ones it said.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use scimitar::controller::desired::selector;
use scimitar::crd::ScimTenant;
use serde_json::{Value, json};

use crate::support::operator::{Operator, access, mapping, until};
use crate::support::rbac::allowed;
use crate::support::tenant::Tenant;
use crate::support::{ControlPlane, install_crds, namespace, scimitar};

/// The tenant's bindings, as `namespace/name` (`name` cluster-wide).
async fn bound(admin: &Client, tenant: &ScimTenant) -> BTreeSet<String> {
    let labels = ListParams::default().labels(&selector(tenant));
    let mut out: BTreeSet<String> = Api::<RoleBinding>::all(admin.clone())
        .list(&labels)
        .await
        .expect("RoleBindings")
        .items
        .into_iter()
        .map(|b| {
            format!(
                "{}/{}",
                b.metadata.namespace.unwrap(),
                b.metadata.name.unwrap()
            )
        })
        .collect();
    out.extend(
        Api::<ClusterRoleBinding>::all(admin.clone())
            .list(&labels)
            .await
            .expect("ClusterRoleBindings")
            .items
            .into_iter()
            .map(|b| b.metadata.name.unwrap()),
    );
    out
}

fn key(binding: &Value) -> String {
    match binding["namespace"].as_str() {
        Some(ns) => format!("{ns}/{}", binding["name"].as_str().unwrap()),
        None => binding["name"].as_str().unwrap().to_owned(),
    }
}

/// A verb on (API group, resource, object name) in a namespace (`None`: cluster-wide).
type Verb = (String, String, String, Option<String>, Option<String>);

/// Every verb of a plan's `gained` or `lost` list.
fn verbs(grants: &Value) -> Vec<Verb> {
    let mut out = Vec::new();
    for g in grants.as_array().expect("grants") {
        for verb in g["verbs"].as_array().unwrap() {
            out.push((
                verb.as_str().unwrap().to_owned(),
                g["apiGroup"].as_str().unwrap().to_owned(),
                g["resource"].as_str().unwrap().to_owned(),
                g["name"].as_str().map(str::to_owned),
                g["namespace"].as_str().map(str::to_owned),
            ));
        }
    }
    out
}

#[tokio::test]
async fn the_access_after_the_apply_is_what_the_plan_said() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let dev = namespace(&admin, "plan-dev").await;
    let prod = namespace(&admin, "plan-prod").await;
    let acme = Tenant::setup(cp, "plan")
        .mapping("devs", "view", &[&dev])
        .user("ada")
        .user("bob")
        .user("cy")
        .group("devs", &["ada", "bob"])
        .group("ops", &["bob"])
        .group("idle", &["cy"])
        .on(Operator::shared(cp))
        .create()
        .await;
    access(&admin, "oidc:bob", "list", "pods", &dev, true).await;
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    let live = tenants.get(&acme.name).await.expect("tenant");
    let before = bound(&admin, &live).await;
    assert_eq!(before.len(), 1, "{before:?}");

    // devs move from dev to prod; ops get edit in dev.
    let mut changed = live.clone();
    changed.spec.mappings = vec![
        mapping("devs", "view", &[&prod]),
        mapping("ops", "edit", &[&dev]),
    ];
    let manifest = json!({
        "apiVersion": "scimitar.dev/v1alpha1",
        "kind": "ScimTenant",
        "metadata": {"name": acme.name},
        "spec": changed.spec,
    });
    let file = std::env::temp_dir().join(format!("{}-plan.yaml", acme.name));
    std::fs::write(&file, serde_yaml::to_string(&manifest).unwrap()).unwrap();
    let file = file.display().to_string();

    let plan: Value = serde_json::from_str(&scimitar(
        cp,
        &["plan", "--tenant", &acme.name, "-f", &file, "-o", "json"],
    ))
    .expect("plan -o json is JSON");
    let created: BTreeSet<String> = plan["bindings"]["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let deleted: BTreeSet<String> = plan["bindings"]["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    assert_eq!(created.len(), 2, "{plan:#}");
    assert_eq!(deleted, before, "{plan:#}");
    assert_eq!(plan["problems"], json!([]));
    let users: BTreeSet<&str> = plan["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(users, BTreeSet::from(["ada", "bob"]), "cy changes nothing");
    let ada = plan["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userName"] == "ada")
        .unwrap();
    assert!(
        verbs(&ada["lost"]).contains(&(
            "list".into(),
            String::new(),
            "pods".into(),
            None,
            Some(dev.clone())
        )),
        "ada loses list pods in {dev}: {ada:#}"
    );
    let text = scimitar(cp, &["plan", "-f", &file]);
    assert!(
        text.contains("2 to create, 0 to change, 1 to delete"),
        "{text}"
    );
    assert!(text.contains(&format!("loses in {dev}: ")), "{text}");
    eprintln!("example: scimitar plan -f {file}\n{text}");

    // The plan changed nothing; now apply.
    assert_eq!(bound(&admin, &live).await, before);
    tenants
        .patch(
            &acme.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"mappings": changed.spec.mappings}})),
        )
        .await
        .expect("spec applied");
    let want: BTreeSet<String> = created.clone();
    until("the controller applies the plan", true, || async {
        bound(&admin, &live).await == want
    })
    .await;

    let mut checked = 0;
    for user in plan["users"].as_array().unwrap() {
        let subject = format!("oidc:{}", user["userName"].as_str().unwrap());
        for (want, list) in [(true, &user["gained"]), (false, &user["lost"])] {
            for (verb, group, resource, name, namespace) in verbs(list) {
                let got = allowed(
                    &admin,
                    &subject,
                    &[],
                    &verb,
                    &group,
                    &resource,
                    name.as_deref(),
                    namespace.as_deref(),
                )
                .await;
                assert_eq!(
                    got, want,
                    "{subject} {verb} {resource}.{group} in {namespace:?}: the plan said {want}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "checked {checked} verbs");
    eprintln!("measured: {checked} verbs of the plan checked with SubjectAccessReview");

    // Planned again, the live spec has nothing left to change.
    let again: Value = serde_json::from_str(&scimitar(
        cp,
        &["plan", "--tenant", &acme.name, "-o", "json"],
    ))
    .unwrap();
    assert_eq!(
        again["bindings"],
        json!({"created": [], "changed": [], "deleted": []})
    );
    assert_eq!(again["users"], json!([]));
}

#[tokio::test]
async fn a_bad_manifest_is_refused_and_changes_nothing() {
    let cp = ControlPlane::shared();
    let file = std::env::temp_dir().join(format!("bad-plan-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        "apiVersion: scimitar.dev/v1alpha1\nkind: ScimTenant\nmetadata: {name: x}\nspec: {namespace: x, mappingz: []}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(["plan", "-f"])
        .arg(&file)
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .output()
        .expect("scimitar ran");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown fields: spec.mappingz"), "{stderr}");
}

/// The admin running the plan may bind `cluster-admin`; the operator may
/// not. The plan follows the operator, as the controller will.
#[tokio::test]
async fn a_role_only_the_admin_may_bind_is_planned_as_not_bindable() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let dev = namespace(&admin, "plan-escalate").await;
    let acme = Tenant::setup(cp, "plan-escalate")
        .user("ada")
        .group("devs", &["ada"])
        .on(Operator::shared(cp))
        .create()
        .await;
    let live = Api::<ScimTenant>::all(admin.clone())
        .get(&acme.name)
        .await
        .expect("tenant");
    let mut spec = live.spec.clone();
    spec.mappings = vec![
        mapping("devs", "cluster-admin", &[&dev]),
        mapping("devs", "view", &[&dev]),
    ];
    let manifest = json!({
        "apiVersion": "scimitar.dev/v1alpha1",
        "kind": "ScimTenant",
        "metadata": {"name": acme.name},
        "spec": spec,
    });
    let file = std::env::temp_dir().join(format!("{}-escalate.yaml", acme.name));
    std::fs::write(&file, serde_yaml::to_string(&manifest).unwrap()).unwrap();
    let plan: Value = serde_json::from_str(&scimitar(
        cp,
        &["plan", "-f", &file.display().to_string(), "-o", "json"],
    ))
    .unwrap();
    let created = plan["bindings"]["created"].as_array().unwrap();
    assert_eq!(created.len(), 1, "{plan:#}");
    assert_eq!(created[0]["role"]["name"], "view");
    let problems = plan["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("RoleNotBindable: ")
                && p.as_str().unwrap().contains("cluster-admin")),
        "{plan:#}"
    );
    let ada = &plan["users"][0];
    assert_eq!(ada["userName"], "ada");
    assert!(
        !verbs(&ada["gained"]).iter().any(|(verb, ..)| verb == "*"),
        "nothing of cluster-admin: {ada:#}"
    );
}
