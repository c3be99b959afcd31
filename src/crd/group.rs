//! `ScimGroup`: one SCIM Group (RFC 7643 §4.2).
// Repeated `printcolumn(...)` arguments of kube-derive look like duplicated
// attributes to clippy.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A group provisioned over SCIM. The object name is the SCIM `id`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "scimitar.dev",
    version = "v1alpha1",
    kind = "ScimGroup",
    plural = "scimgroups",
    shortname = "sgroup",
    category = "scim",
    namespaced,
    status = "ScimGroupStatus",
    doc = "A group provisioned by the tenant's identity provider over SCIM. The object name is the SCIM id.",
    selectable = ".spec.displayName",
    printcolumn(
        name = "Display Name",
        type_ = "string",
        json_path = ".spec.displayName"
    ),
    printcolumn(name = "Members", type_ = "integer", json_path = ".status.memberCount"),
    printcolumn(
        name = "Bindings",
        type_ = "integer",
        json_path = ".status.bindingCount",
        description = "RoleBindings and ClusterRoleBindings the group produced."
    ),
    printcolumn(
        name = "Roles",
        type_ = "string",
        json_path = ".status.roleNames",
        description = "The roles the group's bindings grant, cut short; status.bindings lists them all."
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "External ID",
        type_ = "string",
        json_path = ".spec.externalId",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ScimGroupSpec {
    /// The group's name; role mappings refer to groups by it.
    pub display_name: String,
    /// The identity provider's own identifier for the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Members, by SCIM id.
    #[serde(default)]
    pub members: Vec<GroupMember>,
    /// Every other attribute the identity provider sent, kept as sent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "super::schema::preserve_unknown_object")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ScimGroup {
    /// Ids of the members that are users (type `User` or no type).
    pub fn user_member_ids(&self) -> impl Iterator<Item = &str> {
        self.spec
            .members
            .iter()
            .filter(|m| m.is_user())
            .map(|m| m.value.as_str())
    }
}

/// One member of a group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupMember {
    /// The member's SCIM id.
    pub value: String,
    /// The member's display name, as the identity provider sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// `User` or `Group`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

impl GroupMember {
    /// Whether the member is a user: type `User` (any case) or no type.
    pub fn is_user(&self) -> bool {
        is_user_type(self.type_.as_deref())
    }
}

/// Whether a member `type` names a user: `User` (any case) or no type.
pub fn is_user_type(type_: Option<&str>) -> bool {
    type_.is_none_or(|t| t.eq_ignore_ascii_case("User"))
}

/// A binding a group produced.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProducedBinding {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub kind: String,
    /// Namespace of a RoleBinding; empty for a ClusterRoleBinding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The binding's name.
    pub name: String,
    /// The bound role, as `ClusterRole/<name>` or `Role/<name>`.
    pub role: String,
}

/// Observed state of a group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimGroupStatus {
    /// `Ready` and `Degraded`, with reasons.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Number of members.
    #[serde(default)]
    pub member_count: i64,
    /// With nested groups on (the tenant's `spec.nestedGroups`): the
    /// distinct users the group grants to, its own user members and those
    /// of its member groups (active or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_member_count: Option<i64>,
    /// The RoleBindings and ClusterRoleBindings this group produced.
    #[serde(default)]
    pub bindings: Vec<ProducedBinding>,
    /// Number of `bindings`.
    #[serde(default)]
    pub binding_count: i64,
    /// The distinct roles of `bindings` (`ClusterRole/edit`), sorted and
    /// joined with `, ` for `kubectl get`, at most 64 characters: the roles
    /// that do not fit are counted, as in `a, b (+3 more)`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role_names: String,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
