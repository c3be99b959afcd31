//! Who may use a tenant's console: an active SCIM user of the tenant who is a
//! member of one of its `consoleAdminGroups`. Decided from the watch-fed
//! cache on every request, so a SCIM deactivation or group removal takes
//! effect on the user's next request.

use serde_json::Value;

use crate::store::Kind;
use crate::store::index::Index;

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

/// The primary email of a SCIM user (the first email when none is marked primary).
pub fn primary_email(user: &Value) -> Option<&str> {
    let emails = user.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| emails.first())
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
}

/// Whether a SCIM user is active (`active` unless it says `false`).
pub fn is_active(user: &Value) -> bool {
    user.get("active").and_then(Value::as_bool) != Some(false)
}

/// Decides whether `login` (the ID token's verified email) may use the
/// console of the tenant whose resources `index` holds.
///
/// Names compare ignoring ASCII case only: Unicode case folding would let a
/// look-alike address (a Kelvin sign for a `k`) match someone else's. An
/// admin group name that more than one group carries admits nobody: anyone
/// who can create groups at the identity provider could create the second.
pub fn decide(index: &Index, login: &str, admin_groups: &[String]) -> Decision {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let by_name = index.user_named(login).map(str::to_owned).filter(|id| {
        index
            .entry(Kind::User, id)
            .and_then(|e| e.resource.get("userName").and_then(Value::as_str))
            .is_some_and(|name| same(name, login))
    });
    let id = by_name.or_else(|| {
        index.ids(Kind::User).into_iter().find(|id| {
            index
                .entry(Kind::User, id)
                .and_then(|e| primary_email(&e.resource))
                .is_some_and(|email| same(email, login))
        })
    });
    let Some(id) = id else {
        return Decision::Unknown;
    };
    let Some(user) = index.entry(Kind::User, &id) else {
        return Decision::Unknown;
    };
    if !is_active(&user.resource) {
        return Decision::Inactive;
    }
    let name_of = |gid: &str| {
        index
            .entry(Kind::Group, gid)
            .and_then(|g| g.resource.get("displayName").and_then(Value::as_str))
    };
    let member = index.groups_of(&id).iter().any(|gid| {
        name_of(gid).is_some_and(|name| {
            admin_groups.iter().any(|admin| same(admin, name))
                && index.groups_named(|other| same(other, name)) == 1
        })
    });
    if !member {
        return Decision::NotAnAdmin;
    }
    let user_name = user
        .resource
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or(login)
        .to_owned();
    Decision::Allowed { user_name }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::index::Entry;

    fn index() -> Index {
        let mut index = Index::default();
        let user = |id: &str, name: &str, email: &str, active: bool| Entry {
            version: "1".into(),
            resource: json!({"id": id, "userName": name, "active": active,
                "emails": [{"value": "other@example.com"}, {"value": email, "primary": true}]}),
            generation: None,
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
            },
        );
        index.insert(
            Kind::Group,
            "g2",
            Entry {
                version: "1".into(),
                resource: json!({"id": "g2", "displayName": "staff", "members": [{"value": "u4"}]}),
                generation: None,
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
        assert_eq!(decide(&index, "ADMIN", &admins), allowed("Admin"));
        assert_eq!(decide(&index, "Joe@Example.com", &admins), allowed("jdoe"));
        // Only the primary email counts.
        assert_eq!(
            decide(&index, "other@example.com", &admins),
            Decision::Unknown
        );
    }

    #[test]
    fn look_alike_names_and_duplicated_admin_groups_admit_nobody() {
        let admins = vec!["scimitar-admins".to_owned()];
        let mut index = index();
        // U+212A KELVIN SIGN lowercases to "k" in Unicode.
        assert_eq!(
            decide(&index, "\u{212A}oe@example.com", &admins),
            Decision::Unknown
        );
        assert_eq!(
            decide(&index, "joe@example.com", &admins),
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
            },
        );
        assert_eq!(decide(&index, "loner", &admins), Decision::NotAnAdmin);
        assert_eq!(decide(&index, "admin", &admins), Decision::NotAnAdmin);
    }

    #[test]
    fn inactive_unknown_and_non_admins_are_refused() {
        let admins = vec!["scimitar-admins".to_owned()];
        let index = index();
        assert_eq!(decide(&index, "gone", &admins), Decision::Inactive);
        assert_eq!(decide(&index, "nobody", &admins), Decision::Unknown);
        assert_eq!(decide(&index, "loner", &admins), Decision::NotAnAdmin);
        assert_eq!(decide(&index, "admin", &[]), Decision::NotAnAdmin);
    }
}
