//! Builders for the unit tests of the controller's pure modules.

use std::collections::BTreeSet;

use crate::crd::{
    GroupMember, MultiValue, RoleKind, RoleMapping, RoleRef, ScimGroup, ScimGroupSpec, ScimTenant,
    ScimTenantSpec, ScimUser, ScimUserSpec, SubjectSettings,
};

pub const NS: &str = "idp-acme";

pub fn tenant(name: &str, mappings: Vec<RoleMapping>) -> ScimTenant {
    ScimTenant::new(
        name,
        ScimTenantSpec {
            namespace: NS.to_string(),
            provider: Default::default(),
            subjects: SubjectSettings::default(),
            mappings,
            derived_namespaces: Default::default(),
            token_secret_ref: None,
            oidc: None,
            console_admin_groups: Vec::new(),
            console_token_admin_groups: Vec::new(),
            nested_groups: Default::default(),
        },
    )
}

pub fn with_uid(mut tenant: ScimTenant, uid: &str) -> ScimTenant {
    tenant.metadata.uid = Some(uid.to_string());
    tenant
}

pub fn user(id: &str, user_name: &str) -> ScimUser {
    let mut user = ScimUser::new(
        id,
        ScimUserSpec {
            user_name: user_name.to_string(),
            active: Some(true),
            ..ScimUserSpec::default()
        },
    );
    user.metadata.namespace = Some(NS.to_string());
    user
}

pub fn inactive(mut user: ScimUser) -> ScimUser {
    user.spec.active = Some(false);
    user
}

pub fn email(value: &str, type_: Option<&str>, primary: Option<bool>) -> MultiValue {
    MultiValue {
        value: Some(value.to_string()),
        display: None,
        type_: type_.map(str::to_string),
        primary,
    }
}

pub fn with_emails(mut user: ScimUser, emails: Vec<MultiValue>) -> ScimUser {
    user.spec.emails = emails;
    user
}

pub fn member(id: &str) -> GroupMember {
    GroupMember {
        value: id.to_string(),
        display: None,
        type_: Some("User".to_string()),
    }
}

pub fn untyped_member(id: &str) -> GroupMember {
    GroupMember {
        value: id.to_string(),
        display: None,
        type_: None,
    }
}

pub fn group_member(id: &str) -> GroupMember {
    GroupMember {
        value: id.to_string(),
        display: None,
        type_: Some("Group".to_string()),
    }
}

pub fn group(id: &str, display_name: &str, members: Vec<GroupMember>) -> ScimGroup {
    let mut group = ScimGroup::new(
        id,
        ScimGroupSpec {
            display_name: display_name.to_string(),
            members,
            ..ScimGroupSpec::default()
        },
    );
    group.metadata.namespace = Some(NS.to_string());
    group
}

pub fn in_namespaces(group: &str, kind: RoleKind, role: &str, namespaces: &[&str]) -> RoleMapping {
    RoleMapping {
        group: group.to_string(),
        role: RoleRef {
            kind,
            name: role.to_string(),
        },
        namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        cluster_wide: false,
        ..Default::default()
    }
}

pub fn cluster_wide(group: &str, role: &str) -> RoleMapping {
    RoleMapping {
        group: group.to_string(),
        role: RoleRef {
            kind: RoleKind::ClusterRole,
            name: role.to_string(),
        },
        namespaces: Vec::new(),
        cluster_wide: true,
        ..Default::default()
    }
}

pub fn namespaces(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Whether `name` is a DNS-1123 subdomain as Kubernetes checks it (at most
/// 253 characters; no per-label limit).
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// Whether `value` is a valid label value.
pub fn is_valid_label_value(value: &str) -> bool {
    let b = value.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')))
}
