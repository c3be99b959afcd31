//! Who may use a tenant's console: an active SCIM user of the tenant who is a
//! member of one of its `consoleAdminGroups`. Decided from the watch-fed
//! cache on every request, so a SCIM deactivation or group removal takes
//! effect on the user's next request.

use serde_json::Value;

use crate::store::index::{Index, UserView};

/// The outcome for one signed-in identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// May use the console, as this SCIM user.
    Allowed { user_name: String },
    /// No SCIM user of the tenant has this userName or primary email.
    Unknown,
    /// The SCIM user is deactivated.
    Inactive,
    /// The SCIM user is in none of the console admin groups.
    NotAnAdmin,
}

impl Decision {
    /// Why access is refused, for the 403 page.
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::Allowed { .. } => "",
            Decision::Unknown => "Your account is not a user of this tenant in scimitar.",
            Decision::Inactive => "Your account is deactivated in this tenant.",
            Decision::NotAnAdmin => {
                "Your account is not in any of this tenant's console admin groups."
            }
        }
    }
}

/// The primary email of a SCIM user, by the rule its RBAC subject uses
/// ([`crate::crd::primary_email`]).
pub fn primary_email(user: &Value) -> Option<&str> {
    let emails = user.get("emails")?.as_array()?;
    crate::crd::primary_email(emails.iter().map(|e| {
        (
            e.get("value").and_then(Value::as_str),
            e.get("primary").and_then(Value::as_bool),
            e.get("type").and_then(Value::as_str),
        )
    }))
}

/// Whether a SCIM user is active (`active` unless it says `false`).
pub fn is_active(user: &Value) -> bool {
    user.get("active").and_then(Value::as_bool) != Some(false)
}

/// The tenant whose console it is: objects not belonging to it (left in the
/// namespace by an earlier tenant) admit nobody.
#[derive(Debug, Clone, Copy, Default)]
pub struct Owner<'a> {
    pub uid: Option<&'a str>,
    pub created: Option<jiff::Timestamp>,
}

impl<'a> Owner<'a> {
    /// The owner that `tenant` is.
    pub fn of(tenant: &'a crate::crd::ScimTenant) -> Self {
        Owner {
            uid: tenant.metadata.uid.as_deref(),
            created: tenant.metadata.creation_timestamp.as_ref().map(|t| t.0),
        }
    }
}

/// Decides whether `login` (the ID token's verified email) may use the
/// console of the tenant whose resources `index` holds.
///
/// Names compare ignoring ASCII case only: Unicode case folding would let a
/// look-alike address (a Kelvin sign for a `k`) match someone else's. An
/// admin group name that more than one group carries admits nobody: anyone
/// who can create groups at the identity provider could create the second.
pub fn decide(index: &Index, login: &str, admin_groups: &[String], owner: Owner) -> Decision {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    // Objects an earlier tenant left in the namespace admit nobody.
    let ours = |user: &UserView| user.belongs_to(owner.uid, owner.created);
    let by_name = index
        .user_named(login)
        .and_then(|id| index.user(id))
        .filter(|u| ours(u) && same(u.user_name, login));
    let user = by_name.or_else(|| {
        index
            .users()
            .find(|u| ours(u) && u.primary_email.is_some_and(|email| same(email, login)))
    });
    let Some(user) = user else {
        return Decision::Unknown;
    };
    if !user.active {
        return Decision::Inactive;
    }
    let name_of = |gid: &str| {
        index
            .group(gid)
            .filter(|g| g.belongs_to(owner.uid, owner.created))
            .map(|g| g.display_name)
    };
    let member = index.group_ids_of(user.id).any(|gid| {
        name_of(gid).is_some_and(|name| {
            admin_groups.iter().any(|admin| same(admin, name)) && index.groups_named(name) == 1
        })
    });
    if !member {
        return Decision::NotAnAdmin;
    }
    Decision::Allowed {
        user_name: user.user_name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Kind;
    use crate::store::index::Entry;

    fn index() -> Index {
        let mut index = Index::default();
        let user = |id: &str, name: &str, email: &str, active: bool| Entry {
            version: "1".into(),
            resource: json!({"id": id, "userName": name, "active": active,
                "emails": [{"value": "other@example.com"}, {"value": email, "primary": true}]}),
            generation: None,
            tenant_uid: None,
            status: None,
        };
        index.insert(
            Kind::User,
            "u1",
            user("u1", "Admin", "admin@example.com", true),
        );
        index.insert(
            Kind::User,
            "u2",
            user("u2", "jdoe", "joe@example.com", true),
        );
        index.insert(
            Kind::User,
            "u3",
            user("u3", "gone", "gone@example.com", false),
        );
        index.insert(
            Kind::User,
            "u4",
            user("u4", "loner", "loner@example.com", true),
        );
        index.insert(
            Kind::Group,
            "g1",
            Entry {
                version: "1".into(),
                resource: json!({"id": "g1", "displayName": "Scimitar-Admins",
                    "members": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]}),
                generation: None,
                tenant_uid: None,
                status: None,
            },
        );
        index.insert(
            Kind::Group,
            "g2",
            Entry {
                version: "1".into(),
                resource: json!({"id": "g2", "displayName": "staff", "members": [{"value": "u4"}]}),
                generation: None,
                tenant_uid: None,
                status: None,
            },
        );
        index
    }

    #[test]
    fn admins_match_by_username_or_primary_email_ignoring_case() {
        let admins = vec!["scimitar-admins".to_owned()];
        let index = index();
        let allowed = |name: &str| Decision::Allowed {
            user_name: name.into(),
        };
        assert_eq!(
            decide(&index, "ADMIN", &admins, Owner::default()),
            allowed("Admin")
        );
        assert_eq!(
            decide(&index, "Joe@Example.com", &admins, Owner::default()),
            allowed("jdoe")
        );
        // Only the primary email counts.
        assert_eq!(
            decide(&index, "other@example.com", &admins, Owner::default()),
            Decision::Unknown
        );
    }

    #[test]
    fn look_alike_names_and_duplicated_admin_groups_admit_nobody() {
        let admins = vec!["scimitar-admins".to_owned()];
        let mut index = index();
        // U+212A KELVIN SIGN lowercases to "k" in Unicode.
        assert_eq!(
            decide(&index, "\u{212A}oe@example.com", &admins, Owner::default()),
            Decision::Unknown
        );
        assert_eq!(
            decide(&index, "joe@example.com", &admins, Owner::default()),
            Decision::Allowed {
                user_name: "jdoe".into()
            }
        );
        // Someone pushes a second group named like the admin group.
        index.insert(
            Kind::Group,
            "g9",
            Entry {
                version: "1".into(),
                resource: json!({"id": "g9", "displayName": "SCIMITAR-ADMINS", "members": [{"value": "u4"}]}),
                generation: None,
                tenant_uid: None,
                status: None,
            },
        );
        assert_eq!(
            decide(&index, "loner", &admins, Owner::default()),
            Decision::NotAnAdmin
        );
        assert_eq!(
            decide(&index, "admin", &admins, Owner::default()),
            Decision::NotAnAdmin
        );
    }

    #[test]
    fn objects_left_by_an_earlier_tenant_admit_nobody() {
        let admins = vec!["scimitar-admins".to_owned()];
        let mut index = index();
        for id in ["u1", "g1"] {
            let kind = if id.starts_with('u') {
                Kind::User
            } else {
                Kind::Group
            };
            let mut entry = index.entry(kind, id).expect("entry").to_entry();
            entry.tenant_uid = Some("old-tenant".into());
            index.insert(kind, id, entry);
        }
        let owner = Owner {
            uid: Some("new-tenant"),
            created: None,
        };
        assert_eq!(decide(&index, "admin", &admins, owner), Decision::Unknown);
        // jdoe is the new tenant's, but the admin group is not.
        assert_eq!(decide(&index, "jdoe", &admins, owner), Decision::NotAnAdmin);
    }

    #[test]
    fn inactive_unknown_and_non_admins_are_refused() {
        let admins = vec!["scimitar-admins".to_owned()];
        let index = index();
        assert_eq!(
            decide(&index, "gone", &admins, Owner::default()),
            Decision::Inactive
        );
        assert_eq!(
            decide(&index, "nobody", &admins, Owner::default()),
            Decision::Unknown
        );
        assert_eq!(
            decide(&index, "loner", &admins, Owner::default()),
            Decision::NotAnAdmin
        );
        assert_eq!(
            decide(&index, "admin", &[], Owner::default()),
            Decision::NotAnAdmin
        );
    }
}
