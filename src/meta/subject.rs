//! How a SCIM user is named as an RBAC `User` subject. The controller binds
//! that name and the console shows it, so both read it from here.

use crate::crd::{ScimUser, SubjectSettings};

const RESERVED_PREFIX: &str = "system:";

/// The `User` subject name of `user` under `settings`, guards not applied.
pub fn user_subject_name(settings: &SubjectSettings, user: &ScimUser) -> String {
    subject_name(settings, &user.spec.user_name, user.spec.primary_email())
}

/// The `User` subject name of a user with `user_name` and `primary_email`:
/// `userPrefix` followed by the claim `settings` name.
pub fn subject_name(
    settings: &SubjectSettings,
    user_name: &str,
    primary_email: Option<&str>,
) -> String {
    let claim = if settings.username_claim == "email" {
        primary_email.unwrap_or(user_name)
    } else {
        user_name
    };
    format!("{}{claim}", settings.user_prefix)
}

/// Whether a subject name is reserved by the API server (`system:`, any case).
pub fn is_reserved(name: &str) -> bool {
    name.get(..RESERVED_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_PREFIX))
}
