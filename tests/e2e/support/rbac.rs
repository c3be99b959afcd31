//! A tenant's RoleBindings as the tests compare them.

use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::ListParams;
use kube::{Api, Client};
use scimitar::meta::{GROUP_LABEL, GROUP_NAME_ANNOTATION, TENANT_LABEL};

/// The tenant's RoleBindings in `namespace`, as
/// `(group displayName, ClusterRole, sorted subject names)`, sorted.
pub async fn bindings(
    admin: &Client,
    tenant: &str,
    namespace: &str,
) -> Vec<(String, String, Vec<String>)> {
    let api: Api<RoleBinding> = Api::namespaced(admin.clone(), namespace);
    let listed = api
        .list(&ListParams::default().labels(&format!("{TENANT_LABEL}={tenant}")))
        .await
        .expect("listing RoleBindings");
    let mut out: Vec<_> = listed
        .items
        .into_iter()
        .map(|rb| {
            let group = rb
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(GROUP_NAME_ANNOTATION))
                .cloned()
                .unwrap_or_default();
            assert!(
                rb.metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(GROUP_LABEL)),
                "binding labelled with its group"
            );
            let mut subjects: Vec<String> = rb
                .subjects
                .unwrap_or_default()
                .into_iter()
                .map(|s| {
                    assert_eq!(s.kind, "User", "bind: users (the default)");
                    s.name
                })
                .collect();
            subjects.sort();
            (group, rb.role_ref.name, subjects)
        })
        .collect();
    out.sort();
    out
}
