//! Each kind is watched once per operator process: the SCIM store, the
//! console and the controller read one `ScimTenant` watch (the store's
//! reflector, shared), instead of opening one each. Counted with the
//! operator's own `scimitar_api_watches_total`, which counts every watch
//! request its Kubernetes client sends to the API server.

use std::collections::BTreeMap;

use crate::support::operator::{Operator, Scim, create_tenant, until};
use crate::support::{ControlPlane, install_crds, namespace};
use kube::Api;
use kube::api::{Patch, PatchParams};
use scimitar::crd::{ScimTenant, ScimTenantSpec};
use serde_json::json;

/// `scimitar_api_watches_total` by resource.
async fn watches(operator: &Operator) -> BTreeMap<String, f64> {
    let text = operator.metrics_text().await;
    text.lines()
        .filter_map(|line| line.strip_prefix("scimitar_api_watches_total{resource=\""))
        .filter_map(|rest| {
            let (resource, value) = rest.split_once("\"} ")?;
            Some((resource.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

async fn observed_generation(tenants: &Api<ScimTenant>, name: &str) -> Option<i64> {
    let tenant = tenants.get(name).await.ok()?;
    let observed = tenant.status.as_ref()?.observed_generation?;
    (Some(observed) == tenant.metadata.generation).then_some(observed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_the_console_and_the_controller_share_one_tenant_watch() {
    // Its own control plane, so that its operator leads and runs the
    // controller (on the shared one another operator may hold the Lease).
    let cp = &ControlPlane::dedicated("watch");
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "watch").await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({"namespace": home})).expect("spec");
    let token = create_tenant(&admin, &home, spec).await;

    let operator = Operator::start(cp);
    // Every reader of tenants works off the one watch: the store (the
    // tenant's token is accepted), the controller (it reconciles the tenant
    // when it appears and again when it changes).
    Scim::new(&operator, &token).wait_until_authorized().await;
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    until("the controller reconciled the tenant", true, || async {
        observed_generation(&tenants, &home).await.is_some()
    })
    .await;
    let before = observed_generation(&tenants, &home).await;
    tenants
        .patch(
            &home,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"subjects": {"userPrefix": "scim:"}}})),
        )
        .await
        .expect("tenant changed");
    until("the controller saw the change", true, || async {
        observed_generation(&tenants, &home).await > before
    })
    .await;

    let watches = watches(&operator).await;
    for kind in ["scimtenants", "scimusers", "scimgroups"] {
        assert_eq!(
            watches.get(kind).copied(),
            Some(1.0),
            "{kind} watched other than once; every watch: {watches:?}"
        );
    }
    // No other kind is watched twice either.
    let twice: Vec<_> = watches.iter().filter(|(_, n)| **n > 1.0).collect();
    assert!(twice.is_empty(), "watched more than once: {twice:?}");
}
