//! Type checks and coercions of attribute values (RFC 7643 §2.3, §2.4).
//!
//! Strict about types, with three tolerances for what IdPs are known to send:
//! - `"True"`/`"False"` (any case) for a boolean: Entra ID sends booleans as
//!   strings without the `aadOptscim062020` flag; RFC 7643 §2.3.2 wants JSON
//!   literals.
//! - A single value for a multi-valued attribute is wrapped in an array: a
//!   common IdP slip (`"emails": {...}`), and unambiguous.
//! - A bare value for a complex attribute that has a `value` sub-attribute
//!   becomes `{"value": ...}`: Entra ID sends `manager` as a plain id and
//!   expects `{"value": id}` back.
//!
//! Numbers are not accepted as strings nor strings as numbers: no IdP needs it.

use std::fmt;

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{AttrType, AttributeDef, Mutability, SchemaDef};

/// Where a value is, for error messages: `emails.value`, `urn:…:User:manager`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Loc {
    urn: Option<&'static str>,
    attr: &'static str,
    sub: Option<&'static str>,
}

impl Loc {
    pub(super) fn top(urn: Option<&'static str>, attr: &'static str) -> Self {
        Self {
            urn,
            attr,
            sub: None,
        }
    }

    fn sub(self, sub: &'static str) -> Self {
        Self {
            sub: Some(sub),
            ..self
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(self.attr)?;
        if let Some(sub) = self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn mismatch(loc: Loc, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!(
        "Attribute '{loc}' must be {expected}, not {}",
        json_kind(got)
    ))
}

/// Checks and normalises one attribute's value. `None` means unassigned
/// (`null`, `[]`, `{}` or only such values inside, RFC 7643 §2.5).
pub(super) fn attribute(
    attr: &'static AttributeDef,
    value: Value,
    loc: Loc,
) -> Result<Option<Value>, ScimError> {
    if !attr.multi_valued {
        if value.is_array() {
            return Err(ScimError::invalid_value(format!(
                "Attribute '{loc}' is single-valued; an array was given"
            )));
        }
        return single(attr, value, loc);
    }
    let items = match value {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if item.is_array() {
            return Err(ScimError::invalid_value(format!(
                "Attribute '{loc}' must hold values, not arrays"
            )));
        }
        if let Some(v) = single(attr, item, loc)? {
            out.push(v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// One value of `attr` (one element when multi-valued).
fn single(attr: &'static AttributeDef, value: Value, loc: Loc) -> Result<Option<Value>, ScimError> {
    let ok = |v| Ok(Some(v));
    match (attr.ty, value) {
        (_, Value::Null) => Ok(None),
        (AttrType::Complex, value) => complex(attr, value, loc),
        (AttrType::String | AttrType::Reference, v @ Value::String(_)) => ok(v),
        (AttrType::Binary, Value::String(s)) if is_base64(&s) => ok(Value::String(s)),
        (AttrType::Binary, Value::String(_)) => Err(ScimError::invalid_value(format!(
            "Attribute '{loc}' must be base64-encoded (RFC 7643 §2.3.6)"
        ))),
        (AttrType::Boolean, v @ Value::Bool(_)) => ok(v),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => ok(true.into()),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            ok(false.into())
        }
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => ok(Value::Number(n)),
        (AttrType::Decimal, v @ Value::Number(_)) => ok(v),
        (AttrType::DateTime, Value::String(s)) if is_date_time(&s) => ok(Value::String(s)),
        (AttrType::DateTime, Value::String(_)) => Err(ScimError::invalid_value(format!(
            "Attribute '{loc}' must be a dateTime such as 2008-01-23T04:56:22Z (RFC 7643 §2.3.5)"
        ))),
        (ty, other) => Err(mismatch(loc, expected(ty), &other)),
    }
}

fn expected(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime => {
            "a string"
        }
        AttrType::Boolean => "a boolean",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::Complex => "an object",
    }
}

/// A complex value: sub-attributes checked and renamed; unknown, readOnly and
/// writeOnly ones dropped (RFC 7644 §3.3, §3.5.1).
fn complex(
    attr: &'static AttributeDef,
    value: Value,
    loc: Loc,
) -> Result<Option<Value>, ScimError> {
    let fields = match value {
        Value::Object(fields) => fields,
        Value::Bool(_) | Value::Number(_) | Value::String(_)
            if attr.sub_attribute("value").is_some() =>
        {
            Map::from_iter([("value".to_owned(), value)])
        }
        other => return Err(mismatch(loc, "an object", &other)),
    };
    let mut seen = Vec::with_capacity(fields.len());
    let mut out = Map::new();
    for (key, value) in fields {
        let Some(sub) = attr.sub_attribute(&key) else {
            continue;
        };
        once(&mut seen, sub.name, || loc.sub(sub.name).to_string())?;
        if matches!(sub.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
            continue;
        }
        if let Some(v) = attribute(sub, value, loc.sub(sub.name))? {
            out.insert(sub.name.into(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// A known extension's object: its attributes checked like core ones.
pub(super) fn extension(ext: &'static SchemaDef, value: Value) -> Result<Option<Value>, ScimError> {
    let fields = match value {
        Value::Null => return Ok(None),
        Value::Object(fields) => fields,
        other => {
            return Err(ScimError::invalid_value(format!(
                "Extension '{}' must be a JSON object, not {}",
                ext.id,
                json_kind(&other)
            )));
        }
    };
    let mut seen = Vec::with_capacity(fields.len());
    let mut out = Map::new();
    for (key, value) in fields {
        let Some(attr) = ext.attribute(&key) else {
            continue;
        };
        once(&mut seen, attr.name, || format!("{}:{}", ext.id, attr.name))?;
        if matches!(
            attr.mutability,
            Mutability::ReadOnly | Mutability::WriteOnly
        ) {
            continue;
        }
        if let Some(v) = attribute(attr, value, Loc::top(Some(ext.id), attr.name))? {
            out.insert(attr.name.into(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// The same attribute twice in one object (`value` and `Value`) is
/// ambiguous. Schema names are static, so a short list of them does; the
/// message is only built on error, as this runs for every Group member.
fn once(
    seen: &mut Vec<&'static str>,
    name: &'static str,
    shown: impl FnOnce() -> String,
) -> Result<(), ScimError> {
    if seen.contains(&name) {
        return Err(ScimError::invalid_syntax(format!(
            "Attribute '{}' is given more than once (attribute names are case-insensitive)",
            shown()
        )));
    }
    seen.push(name);
    Ok(())
}

/// RFC 4648 base64, standard or URL-safe alphabet, padding optional.
fn is_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

/// xsd:dateTime as RFC 7643 §2.3.5 has it: with an offset (RFC 3339), or a
/// civil date and time without one.
fn is_date_time(s: &str) -> bool {
    s.parse::<jiff::Timestamp>().is_ok()
        || (s.contains('T') && s.parse::<jiff::civil::DateTime>().is_ok())
}
