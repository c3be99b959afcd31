//! Labels and annotations scimitar puts on the objects it writes, and the
//! label-safe form of names. Shared by `auth`, `store`, `controller` and
//! `console`, so none of them imports another for these.

use sha2::{Digest, Sha256};

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

/// `value` if it is a valid label value of at most 63 characters, else `h-`
/// followed by the first 20 hex digits of its sha256.
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        value.to_string()
    } else {
        format!("h-{}", &sha256_hex(&[value])[..20])
    }
}

/// The sha256 of `parts` joined by NUL bytes: the hash behind derived names
/// (binding names, label values, directory shards).
pub fn sha256(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// [`sha256`] in lower-case hex.
pub fn sha256_hex(parts: &[&str]) -> String {
    sha256(parts).iter().map(|b| format!("{b:02x}")).collect()
}

fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (None, _) | (_, None) => true,
        (Some(first), Some(last)) => {
            bytes.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_kept_when_valid_and_hashed_otherwise() {
        assert_eq!(label_value("acme"), "acme");
        assert_eq!(label_value("acme.prod_1"), "acme.prod_1");
        let long = "a".repeat(64);
        let hashed = label_value(&long);
        assert!(hashed.starts_with("h-") && hashed.len() == 22, "{hashed}");
        assert_eq!(hashed, label_value(&long));
        assert_ne!(label_value("-x"), "-x");
    }
}
