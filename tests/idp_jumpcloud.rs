//! JumpCloud's SCIM traffic, replayed against `scimitar run` on the real API
//! server (fixtures in `tests/fixtures/idp/jumpcloud/`), and what it becomes
//! in Kubernetes.

mod support;

use kube::Api;
use scimitar::crd::{ScimGroup, ScimTenantSpec, ScimUser};
use serde_json::json;
use support::operator::{Operator, Scim, create_tenant};
use support::replay::{Vars, replay};
use support::{ControlPlane, install_crds, namespace};

#[tokio::test]
async fn activate_handshake_passes_and_leaves_nothing_behind() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "jc-activate").await;
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home, "provider": "jumpcloud"})).expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let operator = Operator::shared(cp);
    Scim::new(operator, &token).wait_until_authorized().await;
    let mut vars = Vars::from([
        ("token".to_owned(), token),
        ("run".to_owned(), home.clone()),
        (
            "test_email".to_owned(),
            "jc-test@customer.example".to_owned(),
        ),
    ]);
    let base = format!("{}/scim/v2", operator.url);
    replay(&base, "jumpcloud/activate.yaml", &mut vars).await;

    // The clean-up really cleaned up.
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    assert!(
        users
            .list(&Default::default())
            .await
            .expect("users")
            .items
            .is_empty()
    );
    assert!(
        groups
            .list(&Default::default())
            .await
            .expect("groups")
            .items
            .is_empty()
    );

    // Activation re-runs with a new Test User Email on every settings save.
    vars.insert("test_email".into(), "jc-test-2@customer.example".into());
    vars.insert("run".into(), format!("{home}-again"));
    replay(&base, "jumpcloud/activate.yaml", &mut vars).await;
}
