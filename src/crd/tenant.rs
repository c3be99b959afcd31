//! `ScimTenant`: one identity provider's slice of the cluster.
// Repeated `printcolumn(...)` arguments of kube-derive look like duplicated
// attributes to clippy.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::NestedGroups;

/// A tenant: the namespace its users and groups live in, the identity provider
/// that provisions them, and how its groups become Kubernetes RBAC bindings.
//
// Not in the `scim` category, unlike ScimUser and ScimGroup: a category
// spanning a cluster-scoped kind makes `kubectl get scim -n <namespace>`
// list it cluster-wide, which someone who may only read a tenant's
// namespace is refused (a Forbidden line and exit status 1).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "scimitar.dev",
    version = "v1alpha1",
    kind = "ScimTenant",
    plural = "scimtenants",
    shortname = "stenant",
    status = "ScimTenantStatus",
    doc = "A SCIM tenant: an identity provider, the namespace its users and groups are stored in, and the mapping from its groups to RBAC roles.",
    printcolumn(name = "Namespace", type_ = "string", json_path = ".spec.namespace"),
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "Users", type_ = "integer", json_path = ".status.users"),
    printcolumn(name = "Groups", type_ = "integer", json_path = ".status.groups"),
    printcolumn(
        name = "Mappings",
        type_ = "integer",
        json_path = ".status.mappings",
        description = "Number of group-to-role mappings."
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
        name = "SCIM URL",
        type_ = "string",
        json_path = ".status.scimBaseUrl",
        priority = 1,
        description = "The SCIM base URL to give the identity provider."
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ScimTenantSpec {
    /// Namespace that holds this tenant's ScimUser and ScimGroup objects and its
    /// directory ConfigMap. One namespace belongs to at most one tenant.
    pub namespace: String,

    /// The identity provider that provisions this tenant. Only behaviour that
    /// must differ per provider depends on it; known deviations are tolerated for all.
    #[serde(default)]
    pub provider: Provider,

    /// How SCIM users and groups are named as RBAC subjects. This must match the
    /// API server's OIDC settings, or bindings will name nobody.
    #[serde(default)]
    pub subjects: SubjectSettings,

    /// Which roles each SCIM group grants, and where.
    #[serde(default)]
    pub mappings: Vec<RoleMapping>,

    /// Where namespaces named after groups (mappings with `groupPattern` and
    /// `namespaceFromGroup`) may be bound, and whether missing ones are
    /// created. Nothing is allowed until this lists names or a selector.
    #[serde(default, skip_serializing_if = "DerivedNamespaces::is_empty")]
    pub derived_namespaces: DerivedNamespaces,

    /// The Secret key holding the SHA-256 digest (64 hex characters) of the
    /// bearer token the identity provider presents. Only the digest is stored;
    /// generate a token with `openssl rand -base64 32` and store
    /// `printf %s "$TOKEN" | sha256sum | cut -c1-64` in a Secret in the
    /// operator's namespace labelled `scimitar.dev/tenant: <tenant>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeyRef>,
    /// The tenant's OIDC application, used to sign in to the scimitar console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<TenantOidc>,

    /// SCIM group display names whose active members may sign in to the console.
    #[serde(default)]
    pub console_admin_groups: Vec<String>,

    /// SCIM group display names whose active members may also issue and
    /// revoke API tokens in the console. A token with the `scim` scope can
    /// put anyone in any group, so it carries every role the tenant maps;
    /// keep this group smaller than the console admins. Empty: tokens are
    /// issued only with `scimitar token create`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console_token_admin_groups: Vec<String>,

    /// Whether groups listed as members of other groups grant their members
    /// the outer group's roles, and how deep. Off by default.
    #[serde(default, skip_serializing_if = "NestedGroups::is_default")]
    pub nested_groups: NestedGroups,
}

/// The identity provider on the other end of the SCIM connection.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Jumpcloud,
    Okta,
    Entra,
    #[default]
    Generic,
}

/// RBAC subject naming. Subjects are `<userPrefix><value of usernameClaim>` and
/// `<groupPrefix><group displayName>`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectSettings {
    /// The ID-token claim the API server turns into usernames
    /// (`--oidc-username-claim` or `claimMappings.username.claim`). With `email`,
    /// the SCIM user's primary email is used; otherwise `userName`.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// Prefix the API server adds to OIDC usernames (`--oidc-username-prefix`).
    #[serde(default = "default_prefix")]
    pub user_prefix: String,
    /// Prefix the API server adds to OIDC groups (`--oidc-groups-prefix`).
    #[serde(default = "default_prefix")]
    pub group_prefix: String,
    /// The ID-token claim listing the user's groups (`--oidc-groups-claim`),
    /// used in the console's Connect kubectl page. Only `bind: group` and
    /// `bind: both` depend on it.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// An empty prefix lets SCIM data name any subject the cluster knows; it is
    /// refused unless this is set to true.
    #[serde(default)]
    pub allow_empty_prefix: bool,
    /// Whether bindings list the group's active members as users, the group
    /// itself, or both.
    #[serde(default)]
    pub bind: BindSubjects,
}

impl Default for SubjectSettings {
    fn default() -> Self {
        Self {
            username_claim: default_username_claim(),
            user_prefix: default_prefix(),
            group_prefix: default_prefix(),
            groups_claim: default_groups_claim(),
            allow_empty_prefix: false,
            bind: BindSubjects::default(),
        }
    }
}

fn default_username_claim() -> String {
    "email".into()
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_prefix() -> String {
    "oidc:".into()
}

/// Which subjects a binding names.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BindSubjects {
    /// Each active member as a `User` subject. Deactivation takes effect at once,
    /// without waiting for the user's ID token to expire.
    #[default]
    Users,
    /// The group as a `Group` subject. Membership then comes from the ID
    /// token: a user deactivated over SCIM keeps the group's access until
    /// their ID token expires (RBAC has no deny). Use `users` where
    /// revocation must be immediate.
    Group,
    /// Both.
    Both,
}

/// One SCIM group granted one role, or every group a pattern matches.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleMapping {
    /// The SCIM group's displayName, compared ignoring case (SCIM displayName
    /// is not case-exact). Set this or `groupPattern`, not both.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// A pattern of group displayNames with exactly one `*`, which matches one
    /// or more characters; the rest is compared ignoring ASCII case. Example:
    /// `team-*` matches `team-payments` and `team-search`. Every matching
    /// group is granted the role on its own; with `namespaceFromGroup`, each
    /// in the namespace named after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_pattern: Option<String>,
    /// The role granted to the group's members.
    pub role: RoleRef,
    /// Namespaces to create a RoleBinding in. Namespaces that do not exist yet
    /// get their binding when they appear.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Also bind in every namespace whose labels this selects (a ClusterRole
    /// only). Namespaces that take the labels later get their binding then;
    /// those that lose them lose it. An empty selector is refused: it would
    /// select every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// With `groupPattern`: bind in the namespace this template names, with
    /// `{match}` replaced by what the pattern's `*` matched, lowercased
    /// (`{match}` turns `team-payments` into `payments`; `team-{match}` keeps
    /// the prefix). A ClusterRole only. The namespace must be allowed by
    /// `spec.derivedNamespaces`; `kube-*` namespaces never are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_from_group: Option<String>,
    /// Grant a ClusterRole cluster-wide with a ClusterRoleBinding instead.
    #[serde(default)]
    pub cluster_wide: bool,
    /// The mapping grants nothing before this time (RFC 3339, e.g.
    /// `2026-12-24T08:00:00Z`); the controller binds at that time on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// The mapping grants nothing from this time on; the controller removes
    /// the access at that time on its own, and an operator that was down
    /// removes expired bindings first when it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
}

/// Where namespaces derived from group names may be bound.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DerivedNamespaces {
    /// Namespaces a derived name may be, by exact name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// Namespaces a derived name may be, by label. Labels that scimitar put on
    /// a namespace it created are not read here, so a group name cannot make
    /// its own namespace allowed. An empty selector is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_selector: Option<LabelSelector>,
    /// Whether derived namespaces that do not exist are created.
    #[serde(default, skip_serializing_if = "NamespaceCreation::is_off")]
    pub create: NamespaceCreation,
}

impl DerivedNamespaces {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Creating derived namespaces that do not exist. Off by default; the
/// operator must also run with namespace creation allowed (the chart's
/// `namespaceCreation.enabled`, which grants it `create` on namespaces).
/// Namespaces are never deleted by scimitar.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceCreation {
    /// Create missing derived namespaces.
    #[serde(default)]
    pub enabled: bool,
    /// Names that may be created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Name prefixes that may be created (e.g. `team-`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,
    /// At most this many namespaces exist that scimitar created for this
    /// tenant; past it none is created.
    #[serde(default = "default_max_created")]
    pub max_count: u32,
}

impl Default for NamespaceCreation {
    fn default() -> Self {
        Self {
            enabled: false,
            names: Vec::new(),
            prefixes: Vec::new(),
            max_count: default_max_created(),
        }
    }
}

impl NamespaceCreation {
    pub fn is_off(&self) -> bool {
        self == &Self::default()
    }
}

fn default_max_created() -> u32 {
    10
}

/// A role to bind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// `ClusterRole` (the default) or `Role`; a Role must exist in each listed namespace.
    #[serde(default)]
    pub kind: RoleKind,
    /// The role's name. Only roles the operator may `bind` are accepted.
    pub name: String,
}

/// Kind of a referenced role.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum RoleKind {
    #[default]
    ClusterRole,
    Role,
}

/// The tenant's OIDC client for console sign-in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantOidc {
    /// Issuer URL; discovery is read from `<issuerUrl>/.well-known/openid-configuration`.
    pub issuer_url: String,
    /// The OIDC application's client ID.
    pub client_id: String,
    /// Where the client secret is kept. The secret itself never appears in a custom resource.
    pub client_secret_ref: SecretKeyRef,
}

/// A key of a Kubernetes Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    pub name: String,
    /// Key within the Secret's data.
    pub key: String,
    /// Namespace of the Secret; defaults to the operator's namespace. Only
    /// the operator's namespace and namespaces the cluster admin allowed
    /// (`--secret-namespaces`) are read, never a tenant's namespace, and the
    /// Secret must be labelled `scimitar.dev/tenant: <tenant>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Observed state of a tenant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimTenantStatus {
    /// `Ready` and `Degraded`, with reasons.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Number of ScimUsers in the tenant namespace.
    #[serde(default)]
    pub users: i64,
    /// Number of ScimGroups in the tenant namespace.
    #[serde(default)]
    pub groups: i64,
    /// Number of entries in `spec.mappings`.
    #[serde(default)]
    pub mappings: i64,
    /// The SCIM base URL to give the identity provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_base_url: Option<String>,
    /// The mappings with `notBefore` or `notAfter`, and whether each grants now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<MappingWindow>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Where one time-bound mapping stands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MappingWindow {
    /// The mapping's index in `spec.mappings`.
    pub mapping: u32,
    /// The mapping's group or group pattern, and its role (`ClusterRole/edit`).
    pub description: String,
    /// `Pending` (before notBefore), `Active` or `Expired` (from notAfter on).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
}
