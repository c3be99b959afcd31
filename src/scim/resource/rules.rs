//! Rules that look at the whole resource, or at the one it replaces:
//! required attributes, immutability and `primary`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{AttrType, AttributeDef, Mutability, ResourceTypeDef};

/// RFC 7643 §7 `immutable`: a value already set must not change. One the
/// input omits is carried over rather than cleared. Multi-valued complex
/// attributes with immutable sub-attributes (Group `members`) are compared
/// per value, matched by their `value` sub-attribute: a member that was not
/// there before is a new value, not a modification.
pub(super) fn keep_immutable(
    rt: &'static ResourceTypeDef,
    body: &mut Map<String, Value>,
    existing: &Value,
) -> Result<(), ScimError> {
    let old_root = existing.as_object();
    immutable_in(rt.schema.attributes, body, old_root)?;
    for (ext, _) in rt.extensions {
        let old = old_root
            .and_then(|o| o.get(ext.id))
            .and_then(Value::as_object);
        if let Some(Value::Object(obj)) = body.get_mut(ext.id) {
            immutable_in(ext.attributes, obj, old)?;
        }
    }
    Ok(())
}

fn immutable_in(
    attrs: &'static [AttributeDef],
    new: &mut Map<String, Value>,
    old: Option<&Map<String, Value>>,
) -> Result<(), ScimError> {
    let Some(old) = old else { return Ok(()) };
    for attr in attrs {
        let Some(old_value) = old.get(attr.name) else {
            continue;
        };
        if attr.mutability == Mutability::Immutable {
            same_or_carry(new, attr.name, old_value, attr.name)?;
            continue;
        }
        let immutable_subs: Vec<&AttributeDef> = attr
            .sub_attributes
            .iter()
            .filter(|s| s.mutability == Mutability::Immutable)
            .collect();
        if attr.ty != AttrType::Complex || immutable_subs.is_empty() {
            continue;
        }
        match (new.get_mut(attr.name), old_value) {
            (Some(Value::Array(items)), Value::Array(old_items)) => {
                let by_value: HashMap<&str, &Map<String, Value>> = old_items
                    .iter()
                    .filter_map(Value::as_object)
                    .filter_map(|o| Some((o.get("value")?.as_str()?, o)))
                    .collect();
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    let Some(prior) = item
                        .get("value")
                        .and_then(Value::as_str)
                        .and_then(|v| by_value.get(v))
                    else {
                        continue;
                    };
                    for sub in immutable_subs.iter().filter(|s| s.name != "value") {
                        if let Some(old_sub) = prior.get(sub.name) {
                            let loc = format!("{}.{}", attr.name, sub.name);
                            same_or_carry(item, sub.name, old_sub, &loc)?;
                        }
                    }
                }
            }
            (Some(Value::Object(obj)), Value::Object(prior)) => {
                for sub in &immutable_subs {
                    if let Some(old_sub) = prior.get(sub.name) {
                        let loc = format!("{}.{}", attr.name, sub.name);
                        same_or_carry(obj, sub.name, old_sub, &loc)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn same_or_carry(
    new: &mut Map<String, Value>,
    key: &str,
    old: &Value,
    loc: &str,
) -> Result<(), ScimError> {
    match new.get(key) {
        None => {
            new.insert(key.to_owned(), old.clone());
            Ok(())
        }
        Some(v) if v == old => Ok(()),
        Some(_) => Err(ScimError::mutability(format!(
            "Attribute '{loc}' is immutable and already set to {old}"
        ))),
    }
}

/// RFC 7643 §2.4: `primary: true` at most once per attribute. Without
/// `existing` (POST, PUT) more is 400 `invalidValue`. After a PATCH
/// (`existing` given) the value that was not already primary wins and the
/// others are set to `false`, as RFC 7644 §3.5.2 asks; several new ones are
/// still an error.
pub(super) fn single_primary(
    rt: &'static ResourceTypeDef,
    body: &mut Map<String, Value>,
    existing: Option<&Value>,
) -> Result<(), ScimError> {
    let attrs = rt.schema.attributes.iter().filter(|a| {
        a.multi_valued && a.ty == AttrType::Complex && a.sub_attribute("primary").is_some()
    });
    for attr in attrs {
        let Some(Value::Array(items)) = body.get_mut(attr.name) else {
            continue;
        };
        let primaries: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].get("primary") == Some(&Value::Bool(true)))
            .collect();
        if primaries.len() < 2 {
            continue;
        }
        let too_many = || {
            ScimError::invalid_value(format!(
                "At most one value of '{}' may have primary set to true (RFC 7643 §2.4)",
                attr.name
            ))
        };
        let Some(existing) = existing else {
            return Err(too_many());
        };
        let old: &[Value] = existing
            .get(attr.name)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let fresh: Vec<usize> = primaries
            .iter()
            .copied()
            .filter(|&i| !old.contains(&items[i]))
            .collect();
        let keep = match fresh.as_slice() {
            [one] => *one,
            [] => primaries.last().copied().unwrap_or_default(),
            _ => return Err(too_many()),
        };
        for i in primaries.into_iter().filter(|&i| i != keep) {
            if let Some(item) = items[i].as_object_mut() {
                item.insert("primary".into(), false.into());
            }
        }
    }
    Ok(())
}

/// RFC 7643 §2.2 `required`: present and, for strings, not blank (userName
/// "MUST include a non-empty userName value", §4.1.1). Required extensions
/// must be present too (RFC 7643 §6).
pub(super) fn required(
    rt: &'static ResourceTypeDef,
    body: &Map<String, Value>,
) -> Result<(), ScimError> {
    check_required(None, rt.schema.attributes, Some(body))?;
    for (ext, needed) in rt.extensions {
        let obj = body.get(ext.id).and_then(Value::as_object);
        if *needed && obj.is_none() {
            return Err(ScimError::invalid_value(format!(
                "Extension '{}' is required for {} resources",
                ext.id, rt.name
            )));
        }
        if obj.is_some() {
            check_required(Some(ext.id), ext.attributes, obj)?;
        }
    }
    Ok(())
}

fn check_required(
    urn: Option<&str>,
    attrs: &[AttributeDef],
    obj: Option<&Map<String, Value>>,
) -> Result<(), ScimError> {
    for attr in attrs.iter().filter(|a| a.required) {
        let present = match obj.and_then(|o| o.get(attr.name)) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        };
        if !present {
            let prefix = urn.map(|u| format!("{u}:")).unwrap_or_default();
            return Err(ScimError::invalid_value(format!(
                "Attribute '{prefix}{}' is required and must not be empty",
                attr.name
            )));
        }
    }
    Ok(())
}
