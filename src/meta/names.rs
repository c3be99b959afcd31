//! Names derived from other names: the one hex encoder, sha256 digests of
//! name parts, label-safe values and slugs. Binding, directory, token and
//! anchor names are built from these, so they hash alike everywhere.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes 64 hex characters (a SHA-256 digest).
pub fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
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
    hex(&sha256(parts))
}

/// The first `len` hex digits of [`sha256_hex`].
pub fn sha256_prefix(parts: &[&str], len: usize) -> String {
    let mut hex = sha256_hex(parts);
    hex.truncate(len);
    hex
}

/// `value` if it is a valid label value of at most 63 characters, else `h-`
/// followed by the first 20 hex digits of its sha256.
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        value.to_string()
    } else {
        format!("h-{}", sha256_prefix(&[value], 20))
    }
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

/// Lowercase ASCII letters and digits, every other run as one `-`, no leading
/// or trailing `-`, at most `max` characters.
pub fn slug(value: &str, max: usize) -> String {
    let mut out = String::new();
    for c in value.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    out.trim_end_matches('-').to_string()
}

/// An object's name, empty when it has none (as in tests).
pub fn object_name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}
