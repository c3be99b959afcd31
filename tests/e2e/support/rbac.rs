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

/// Whether `user` (with `groups`) may `verb` on `resource` of `api_group`
/// (`pods/log`: a subresource), object `name` if given, in `namespace`
/// (`None`: cluster-wide), as SubjectAccessReview answers. A `resource`
/// starting with `/` is a non-resource URL.
#[allow(clippy::too_many_arguments)]
pub async fn allowed(
    admin: &Client,
    user: &str,
    groups: &[String],
    verb: &str,
    api_group: &str,
    resource: &str,
    name: Option<&str>,
    namespace: Option<&str>,
) -> bool {
    use k8s_openapi::api::authorization::v1::{
        NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
    };
    let (resource_attributes, non_resource_attributes) = if resource.starts_with('/') {
        let url = NonResourceAttributes {
            path: Some(resource.to_owned()),
            verb: Some(verb.to_owned()),
        };
        (None, Some(url))
    } else {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        let attributes = ResourceAttributes {
            verb: Some(verb.to_owned()),
            group: Some(api_group.to_owned()),
            resource: Some(resource.to_owned()),
            subresource: (!subresource.is_empty()).then(|| subresource.to_owned()),
            name: name.map(str::to_owned),
            namespace: namespace.map(str::to_owned),
            ..Default::default()
        };
        (Some(attributes), None)
    };
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            groups: (!groups.is_empty()).then(|| groups.to_vec()),
            resource_attributes,
            non_resource_attributes,
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SubjectAccessReview>::all(admin.clone())
        .create(&kube::api::PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed && !s.denied.unwrap_or(false))
}
