//! Label and annotation keys on the objects scimitar writes, defined once:
//! the controller writes them, the store and the console select by them, the
//! chart's admission policy checks [`MANAGED_BY`].

/// Label naming the tool that manages an object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Label naming the application an object belongs to.
pub const APP_NAME_LABEL: &str = "app.kubernetes.io/name";
/// Value of [`MANAGED_BY`] and [`APP_NAME_LABEL`].
pub const MANAGER: &str = "scimitar";

/// Label holding the (label-safe) name of the tenant an object belongs to.
/// On a Secret a tenant references, it says which tenant may use it.
pub const TENANT_LABEL: &str = "scimitar.dev/tenant";
/// Annotation holding the uid of the tenant a token was issued for, so a
/// tenant deleted and created again under the same name does not inherit
/// its predecessor's tokens.
pub const TENANT_UID_ANNOTATION: &str = "scimitar.dev/tenant-uid";
/// Label holding the uid of the tenant a ScimUser or ScimGroup was created
/// for: a tenant created later for the same namespace ignores it.
pub const TENANT_UID_LABEL: &str = "scimitar.dev/tenant-uid";

/// Label holding the (label-safe) SCIM id of the group a binding was made for.
pub const GROUP_LABEL: &str = "scimitar.dev/group";
/// Annotation holding the displayName of the group a binding was made for.
pub const GROUP_NAME_ANNOTATION: &str = "scimitar.dev/group-name";
/// Annotation holding the bound role as `<Kind>/<name>`.
pub const ROLE_ANNOTATION: &str = "scimitar.dev/role";
/// Label marking directory ConfigMaps (value `"true"`).
pub const DIRECTORY_LABEL: &str = "scimitar.dev/directory";
/// Annotation holding SCIM `meta.lastModified` (Kubernetes keeps no such time).
pub const LAST_MODIFIED: &str = "scimitar.dev/last-modified";
/// Label on every userName anchor Lease, so they can be listed and recognised.
pub const ANCHOR_LABEL: &str = "scimitar.dev/anchor";

/// Label on every token Secret.
pub const TOKEN_LABEL: &str = "scimitar.dev/token";
/// The `type` of every token Secret.
pub const TOKEN_SECRET_TYPE: &str = "scimitar.dev/token";
/// Annotation on a token Secret with the tenant's exact name.
pub const TENANT_ANNOTATION: &str = "scimitar.dev/tenant";
/// Annotation on a token Secret with the token's human name.
pub const TOKEN_NAME_ANNOTATION: &str = "scimitar.dev/token-name";
/// Annotation on a token Secret with the comma-separated scopes.
pub const SCOPES_ANNOTATION: &str = "scimitar.dev/scopes";
/// Annotation on a token Secret with the expiry (RFC 3339), if any.
pub const EXPIRES_ANNOTATION: &str = "scimitar.dev/expires";
/// Annotation on a token Secret with the last time the token was used
/// (RFC 3339), updated at most once a minute.
pub const LAST_USED_ANNOTATION: &str = "scimitar.dev/last-used";

/// Label on a namespace scimitar created, holding the (label-safe) name of
/// the tenant it was created for; counted against the tenant's budget.
pub const CREATED_FOR_LABEL: &str = "scimitar.dev/created-for";
/// Label on a binding of a time-bound mapping: the Unix time (seconds,
/// rounded up) from which it grants nothing. A starting leader deletes
/// bindings past it before anything else.
pub const NOT_AFTER_LABEL: &str = "scimitar.dev/not-after";
