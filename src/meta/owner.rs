//! What belongs to a tenant: the labels and owner reference every object
//! made for it carries, and how a recorded tenant uid is matched.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::labels::{APP_NAME_LABEL, MANAGED_BY, MANAGER, TENANT_LABEL};
use super::names::label_value;

/// The ownerReference to the tenant `name` with `uid`. `controller` marks
/// the tenant as the managing controller (the objects the controller
/// writes); token Secrets are owned but not controlled. Never
/// `blockOwnerDeletion`, which would need permissions on the tenant's
/// finalizers.
pub fn tenant_owner(name: &str, uid: &str, controller: bool) -> OwnerReference {
    OwnerReference {
        api_version: format!("{}/{}", crate::crd::GROUP, crate::crd::VERSION),
        kind: "ScimTenant".to_string(),
        name: name.to_string(),
        uid: uid.to_string(),
        controller: controller.then_some(true),
        block_owner_deletion: None,
    }
}

/// The labels every object made for the tenant `name` carries.
pub fn tenant_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_string(), MANAGER.to_string()),
        (APP_NAME_LABEL.to_string(), MANAGER.to_string()),
        (TENANT_LABEL.to_string(), label_value(name)),
    ])
}

/// The label selector matching every object made for the tenant `name`.
pub fn tenant_selector(name: &str) -> String {
    format!(
        "{MANAGED_BY}={MANAGER},{TENANT_LABEL}={}",
        label_value(name)
    )
}

/// Whether something recorded for tenant uid `recorded` (or, without one,
/// made at `made`) belongs to the tenant with `uid`, created at `created`:
/// the same uid, or no uid and not older than the tenant (what an earlier
/// tenant of the same name or namespace left is older). `None` when the
/// facts do not tell; each caller decides what that means.
pub fn made_for(
    recorded: Option<&str>,
    made: Option<jiff::Timestamp>,
    uid: Option<&str>,
    created: Option<jiff::Timestamp>,
) -> Option<bool> {
    match (recorded, uid) {
        (Some(recorded), Some(uid)) => Some(recorded == uid),
        (Some(_), None) => None,
        (None, _) => Some(made? >= created?),
    }
}
