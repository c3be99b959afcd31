//! `ScimUser`: one SCIM User (RFC 7643 §4.1, with the enterprise extension §4.3).
// Repeated `printcolumn(...)` arguments of kube-derive look like duplicated
// attributes to clippy.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A user provisioned over SCIM. The object name is the SCIM `id`, which never
/// changes, even when the user is renamed.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "scimitar.dev",
    version = "v1alpha1",
    kind = "ScimUser",
    plural = "scimusers",
    shortname = "suser",
    category = "scim",
    namespaced,
    status = "ScimUserStatus",
    doc = "A user provisioned by the tenant's identity provider over SCIM. The object name is the SCIM id.",
    selectable = ".spec.userName",
    printcolumn(name = "User Name", type_ = "string", json_path = ".spec.userName"),
    printcolumn(
        name = "Display Name",
        type_ = "string",
        json_path = ".spec.displayName"
    ),
    printcolumn(
        name = "Active",
        type_ = "boolean",
        json_path = ".status.active",
        description = "Whether the user may have access; a user without spec.active is active."
    ),
    printcolumn(
        name = "Groups",
        type_ = "string",
        json_path = ".status.groupNames",
        description = "The user's groups, cut short; status.groups lists them all."
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
        name = "Email",
        type_ = "string",
        json_path = ".status.email",
        priority = 1,
        description = "The primary email."
    ),
    printcolumn(
        name = "Subject",
        type_ = "string",
        json_path = ".status.subject",
        priority = 1,
        description = "The Kubernetes user name the bindings name."
    ),
    printcolumn(
        name = "External ID",
        type_ = "string",
        json_path = ".spec.externalId",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ScimUserSpec {
    /// Unique identifier the user signs in with; unique within the tenant, case-insensitively.
    pub user_name: String,
    /// The identity provider's own identifier for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Whether the user may have access. Inactive users are removed from every
    /// binding; a user without `active` counts as active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The components of the user's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<PersonName>,
    /// Name suitable for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Casual name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    /// URL of the user's online profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_url: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Organisation-specific relationship, e.g. `Employee` or `Contractor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// Preferred written or spoken language (RFC 7231 §5.3.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    /// Default location for localisation (e.g. `en-US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Email addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<MultiValue>,
    /// Phone numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<MultiValue>,
    /// Instant-messaging addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ims: Vec<MultiValue>,
    /// Photo URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<MultiValue>,
    /// Postal addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    /// Entitlements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<MultiValue>,
    /// Roles, as the identity provider names them (not Kubernetes roles).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<MultiValue>,
    /// DER-encoded certificates, base64.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x509_certificates: Vec<MultiValue>,
    /// Attributes of the enterprise user extension
    /// (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<EnterpriseAttributes>,
    /// Every other attribute the identity provider sent, kept as sent, keyed by
    /// attribute name or extension schema URN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "super::schema::preserve_unknown_object")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ScimUserSpec {
    /// Whether the user may have access: `active` unless it says `false`.
    pub fn is_active(&self) -> bool {
        self.active != Some(false)
    }

    /// The primary email (see [`primary_email`]).
    pub fn primary_email(&self) -> Option<&str> {
        primary_email(
            self.emails
                .iter()
                .map(|e| (e.value.as_deref(), e.primary, e.type_.as_deref())),
        )
    }
}

/// The primary email among `(value, primary, type)` triples: the one marked
/// primary, else the first of type `work`, else the first; emails without a
/// value are skipped. One rule for RBAC subjects, the directory and the
/// console, whatever form the user is read in.
pub fn primary_email<'a>(
    emails: impl IntoIterator<Item = (Option<&'a str>, Option<bool>, Option<&'a str>)>,
) -> Option<&'a str> {
    let (mut work, mut first) = (None, None);
    for (value, primary, type_) in emails {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        if primary == Some(true) {
            return Some(value);
        }
        if work.is_none() && type_.is_some_and(|t| t.eq_ignore_ascii_case("work")) {
            work = Some(value);
        }
        first = first.or(Some(value));
    }
    work.or(first)
}

/// RFC 7643 §4.1.1 `name`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
}

/// A value of a multi-valued attribute such as `emails` (RFC 7643 §2.4).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// A label such as `work` or `home`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// At most one value of an attribute is primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// RFC 7643 §4.1.2 `addresses`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// RFC 7643 §4.3, the enterprise user extension.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnterpriseAttributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager>,
}

/// The user's manager, by SCIM id.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Manager {
    /// The manager's SCIM id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// URI of the manager's SCIM User, as the identity provider sent it.
    #[serde(default, rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The manager's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// Observed state of a user.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimUserStatus {
    /// `Ready` and `Degraded`, with reasons.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Whether the user may have access: `spec.active`, and true when the
    /// identity provider did not send it (SCIM: absent means active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The primary email: the one marked primary, else the first of type
    /// `work`, else the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The RBAC `User` subject this user is bound as, e.g. `oidc:jane@example.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Display names of the groups the user is a member of: the groups
    /// listing it and, with the tenant's `nestedGroups` on, the groups
    /// containing those (inherited).
    #[serde(default)]
    pub groups: Vec<String>,
    /// `groups` joined with `, ` for `kubectl get`, at most 64 characters:
    /// the groups that do not fit are counted, as in `a, b (+3 more)`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group_names: String,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
