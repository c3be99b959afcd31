//! Secrets never enter the log: request and response bodies are redacted
//! before they are stored or emitted. (Headers are not recorded at all, so the
//! `Authorization` header never is.)
//!
//! - JSON: every object key naming the password attribute (`password` or a
//!   URN-qualified `urn:…:User:password`, any case, any depth) gets the value
//!   `"[redacted]"`; a PATCH operation whose `path` names the password
//!   attribute (`password`, `urn:…:User:password`, any case) gets its `value`
//!   redacted.
//! - Text (a body that is not JSON, e.g. a malformed one): best effort, the
//!   string value after each key ending in `password"` (so also the
//!   URN-qualified one) is masked.

use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Redacts `value` in place.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let patch_of_password = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, v)| v.as_str())
                .is_some_and(names_password);
            for (key, child) in map.iter_mut() {
                if names_password(key) || (patch_of_password && key.eq_ignore_ascii_case("value")) {
                    *child = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Whether a SCIM attribute path or object key names the password:
/// `password`, or a fully qualified `urn:…:password`, any case (a value
/// filter or sub-attribute never does).
fn names_password(path: &str) -> bool {
    let path = path.trim();
    let attribute = path.rsplit(':').next().unwrap_or(path);
    attribute.eq_ignore_ascii_case("password")
}

/// Masks the string value following every key ending in `password"` in text
/// that could not be parsed as JSON (`"password"`, `"urn:…:User:password"`;
/// case-insensitive; whitespace around `:` allowed).
pub fn redact_text(text: &str) -> String {
    const KEY: &str = "password\"";
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(KEY) {
        let mut i = from + found + KEY.len();
        from = i;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b':' {
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'"' {
            continue;
        }
        let start = i + 1;
        let mut end = start;
        let mut escaped = false;
        while end < bytes.len() {
            match bytes[end] {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => break,
                _ => {}
            }
            end += 1;
        }
        // Indices are at ASCII bytes (or the end), so they are char boundaries.
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
        from = end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn password_keys_are_redacted_at_any_depth_and_case() {
        let mut body = json!({
            "userName": "ada",
            "password": "s3cret",
            "PassWord": 12,
            "nested": {"list": [{"PASSWORD": {"deep": "x"}}, {"other": "kept"}]},
        });
        redact_json(&mut body);
        assert_eq!(
            body,
            json!({
                "userName": "ada",
                "password": REDACTED,
                "PassWord": REDACTED,
                "nested": {"list": [{"PASSWORD": REDACTED}, {"other": "kept"}]},
            })
        );
    }

    #[test]
    fn patch_operations_on_the_password_path_lose_their_value() {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "password", "value": "s3cret"},
                {"op": "Replace", "Path": "urn:ietf:params:scim:schemas:core:2.0:User:Password", "Value": "s3cret"},
                {"op": "replace", "path": "displayName", "value": "Ada"},
                {"op": "replace", "value": {"password": "s3cret", "active": true}},
            ]
        });
        redact_json(&mut body);
        let ops = body["Operations"].as_array().unwrap();
        assert_eq!(ops[0]["value"], REDACTED);
        assert_eq!(ops[1]["Value"], REDACTED);
        assert_eq!(ops[2]["value"], "Ada");
        assert_eq!(
            ops[3]["value"],
            json!({"password": REDACTED, "active": true})
        );
    }

    #[test]
    fn urn_qualified_password_keys_are_redacted() {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada",
            "urn:ietf:params:scim:schemas:core:2.0:User:password": "s3cret",
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:PASSWORD": "s3cret",
            "Operations": [{"op": "add", "value": {
                "urn:ietf:params:scim:schemas:core:2.0:User:Password": "s3cret",
                "urn:ietf:params:scim:schemas:core:2.0:User:passwordHint": "kept",
            }}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
        });
        redact_json(&mut body);
        assert_eq!(
            body["urn:ietf:params:scim:schemas:core:2.0:User:password"],
            REDACTED
        );
        assert_eq!(
            body["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:PASSWORD"],
            REDACTED
        );
        let value = &body["Operations"][0]["value"];
        assert_eq!(
            value["urn:ietf:params:scim:schemas:core:2.0:User:Password"],
            REDACTED
        );
        assert_eq!(
            value["urn:ietf:params:scim:schemas:core:2.0:User:passwordHint"],
            "kept"
        );
        assert_eq!(
            body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "R&D"
        );
        assert!(!body.to_string().contains("s3cret"));

        // The text fallback masks them too.
        let text = r#"{"urn:ietf:params:scim:schemas:core:2.0:User:PASSWORD" : "s3cret", broken"#;
        assert_eq!(
            redact_text(text),
            r#"{"urn:ietf:params:scim:schemas:core:2.0:User:PASSWORD" : "[redacted]", broken"#
        );
    }

    #[test]
    fn text_bodies_are_masked_after_password_keys() {
        let text =
            r#"{"userName":"ada", "Password" : "se\"cr,et", "password": 5, "x": "password" "#;
        assert_eq!(
            redact_text(text),
            r#"{"userName":"ada", "Password" : "[redacted]", "password": 5, "x": "password" "#
        );
        // An unterminated value is masked to the end.
        assert_eq!(
            redact_text(r#"{"password":"abc"#),
            r#"{"password":"[redacted]"#
        );
        assert_eq!(redact_text("plain text"), "plain text");
        assert_eq!(
            redact_text("ünïcödé \"password\":\"é\" ß"),
            "ünïcödé \"password\":\"[redacted]\" ß"
        );
    }
}
