//! The `PatchOp` message (RFC 7644 §3.5.2): shape checks, with the keyword
//! each failure gets in RFC 7644 §3.12.

use serde_json::{Map, Value};

use super::{PatchOpKind, PatchOperation, PatchRequest, in_operation};
use crate::scim::error::ScimError;
use crate::scim::path::parse_patch_path;
use crate::scim::schema::PATCH_OP_URN;

/// Parses a PATCH request body.
///
/// Member names (`schemas`, `Operations`, `op`, `path`, `value`) match
/// case-insensitively, as SCIM attribute names do (RFC 7643 §2.1); so do the
/// `op` values, which Entra ID capitalises.
pub fn parse_patch_request(body: &Value) -> Result<PatchRequest, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH request body must be a JSON object",
        ));
    };
    let has_urn = match get(body, "schemas") {
        Some(Value::Array(urns)) => urns.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))
        }),
        _ => false,
    };
    if !has_urn {
        return Err(ScimError::invalid_syntax(format!(
            "'schemas' must be an array containing \"{PATCH_OP_URN}\""
        )));
    }
    let operations = match get(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        Some(Value::Array(_)) => {
            return Err(ScimError::invalid_syntax(
                "'Operations' must hold at least one operation",
            ));
        }
        Some(_) => return Err(ScimError::invalid_syntax("'Operations' must be an array")),
        None => return Err(ScimError::invalid_syntax("'Operations' is missing")),
    };
    let operations = operations
        .iter()
        .enumerate()
        .map(|(i, op)| parse_operation(op).map_err(|e| in_operation(e, i)))
        .collect::<Result<_, _>>()?;
    Ok(PatchRequest { operations })
}

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax(
            "an operation must be a JSON object",
        ));
    };
    let kind = match get(op, "op") {
        Some(Value::String(word)) => PatchOpKind::from_keyword(word).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "unknown op \"{word}\"; expected \"add\", \"remove\" or \"replace\""
            ))
        })?,
        Some(_) => return Err(ScimError::invalid_syntax("'op' must be a string")),
        None => return Err(ScimError::invalid_syntax("'op' is missing")),
    };
    let path = match get(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(
            parse_patch_path(text)
                .map_err(|e| ScimError::invalid_path(format!("path \"{text}\": {e}")))?,
        ),
        Some(_) => return Err(ScimError::invalid_path("'path' must be a string")),
    };
    let value = get(op, "value").filter(|v| !v.is_null()).cloned();
    match kind {
        // RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with
        // HTTP status code 400 and a "scimType" error code of "noTarget"."
        PatchOpKind::Remove if path.is_none() => {
            return Err(ScimError::no_target("a remove operation needs a 'path'"));
        }
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => {
            return Err(ScimError::invalid_value(format!(
                "'{kind}' needs a 'value' that is not null"
            )));
        }
        _ => {}
    }
    Ok(PatchOperation {
        op: kind,
        path,
        value,
    })
}

/// `map[name]`, the exact key first, else any key equal ignoring ASCII case.
fn get<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}
