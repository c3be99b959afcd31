//! Applying operations: each path is resolved against the resource type's
//! schemas, then the value at that place is added to, replaced or removed.

use serde_json::{Map, Value};

use super::multi::{add_values, remove_values};
use super::resolve::{Resolved, Target, eq_seed, matching, resolve};
use super::values::{
    Object, array_mut, canonicalize_key, enforce_primary, equivalent, get_ci, is_scalar,
    is_unassigned, object_mut, remove_ci,
};
use super::{PatchOpKind, PatchOperation, in_operation};
use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::path::parse_patch_path;
use crate::scim::schema::{AttrType, AttributeDef, Mutability, ResourceTypeDef, SchemaDef};

pub(super) fn apply_operations(
    rt: &'static ResourceTypeDef,
    resource: &Value,
    operations: &[PatchOperation],
) -> Result<Value, ScimError> {
    let Value::Object(original) = resource else {
        return Err(ScimError::internal(
            "the stored resource is not a JSON object",
        ));
    };
    let mut patched = original.clone();
    let engine = Engine { rt };
    for (i, op) in operations.iter().enumerate() {
        engine
            .operation(&mut patched, op)
            .map_err(|e| in_operation(e, i))?;
    }
    sync_extension_urns(rt, original, &mut patched);
    Ok(Value::Object(patched))
}

/// How a null sub-attribute in a value is read (RFC 7643 §2.5: null is
/// unassigned): adding nothing changes nothing, replacing with nothing removes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nulls {
    Skip,
    Unassign,
}

impl Nulls {
    fn of(kind: PatchOpKind) -> Self {
        match kind {
            PatchOpKind::Replace => Nulls::Unassign,
            PatchOpKind::Add | PatchOpKind::Remove => Nulls::Skip,
        }
    }
}

struct Engine {
    rt: &'static ResourceTypeDef,
}

impl Engine {
    fn operation(&self, res: &mut Object, op: &PatchOperation) -> Result<(), ScimError> {
        let Some(path) = &op.path else {
            return match (op.op, &op.value) {
                (PatchOpKind::Remove, _) => {
                    Err(ScimError::no_target("a remove operation needs a 'path'"))
                }
                (kind, Some(value)) => self.attributes(res, kind, None, value),
                (kind, None) => Err(missing_value(kind)),
            };
        };
        match (resolve(self.rt, path)?, op.op, &op.value) {
            (Resolved::Attr(target), kind, value) => self.target(res, kind, target, value.as_ref()),
            (Resolved::Schema(schema), PatchOpKind::Remove, _) => self.remove_schema(res, schema),
            (Resolved::Schema(schema), kind, Some(value)) => {
                self.attributes(res, kind, Some(schema), value)
            }
            (Resolved::Schema(_), kind, None) => Err(missing_value(kind)),
        }
    }

    /// A value whose keys are paths: the value of a no-`path` add or replace
    /// (RFC 7644 §3.5.2.1, §3.5.2.3), or of a path naming a whole schema.
    ///
    /// Entra ID (with `aadOptscim062020`) puts dotted (`name.givenName`) and
    /// URN-qualified (`urn:...:enterprise:2.0:User:employeeNumber`) paths here
    /// where the RFC expects attribute names; both parse as paths, so every key
    /// is treated as one.
    fn attributes(
        &self,
        res: &mut Object,
        kind: PatchOpKind,
        schema: Option<&'static SchemaDef>,
        value: &Value,
    ) -> Result<(), ScimError> {
        let Value::Object(map) = value else {
            return Err(ScimError::invalid_value(match schema {
                None => "without a 'path', 'value' must be an object of attributes".to_owned(),
                Some(s) => format!("the value for {} must be an object of attributes", s.id),
            }));
        };
        for (key, v) in map {
            // `schemas` is not an attribute a client sets: the engine keeps it in
            // step with the extension objects (`sync_extension_urns`). Clients
            // built on typed models (scim2-models) serialise it into extension
            // values, so it is skipped rather than refused.
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let mut path = parse_patch_path(key).map_err(|e| {
                ScimError::invalid_path(format!("attribute \"{key}\" in 'value': {e}"))
            })?;
            if let Some(s) = schema
                && path.attr.urn.is_none()
            {
                path.attr.urn = Some(s.id.to_owned());
            }
            match resolve(self.rt, &path)? {
                Resolved::Schema(inner) if schema.is_none() => {
                    self.attributes(res, kind, Some(inner), v)?;
                }
                Resolved::Schema(inner) => {
                    return Err(ScimError::invalid_path(format!(
                        "\"{key}\" names the schema {}, not an attribute",
                        inner.id
                    )));
                }
                Resolved::Attr(target) => match (kind, v) {
                    (PatchOpKind::Replace, Value::Null) => {
                        self.target(res, PatchOpKind::Remove, target, None)?;
                    }
                    (_, Value::Null) => {}
                    _ => self.target(res, kind, target, Some(v))?,
                },
            }
        }
        Ok(())
    }

    fn remove_schema(&self, res: &mut Object, schema: &'static SchemaDef) -> Result<(), ScimError> {
        if std::ptr::eq(schema, self.rt.schema) {
            return Err(ScimError::invalid_path(format!(
                "the core schema {} cannot be removed",
                schema.id
            )));
        }
        remove_ci(res, schema.id);
        Ok(())
    }

    /// One operation on one attribute, with the mutability rules of RFC 7644
    /// §3.5.2 checked on the result.
    fn target(
        &self,
        res: &mut Object,
        kind: PatchOpKind,
        t: Target<'_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let holder = holder_mut(res, t.container);
        canonicalize_key(holder, t.attr.name);
        let before = holder.get(t.attr.name);
        let was_assigned = !is_unassigned(before);
        // Only readOnly and immutable attributes need the old value; members never do.
        let before = matches!(
            t.attr.mutability,
            Mutability::ReadOnly | Mutability::Immutable
        )
        .then(|| before.cloned());
        let slot = holder.entry(t.attr.name.to_owned()).or_insert(Value::Null);
        let outcome = match (kind, value) {
            (PatchOpKind::Remove, value) => remove(slot, t, value),
            (kind, Some(value)) => set(slot, kind, t, value),
            (kind, None) => Err(missing_value(kind)),
        };
        if is_unassigned(Some(slot)) {
            holder.shift_remove(t.attr.name);
        }
        outcome?;
        check_attr_change(t.attr, before, was_assigned, holder.get(t.attr.name))?;
        if let Some(schema) = t.container
            && holder.is_empty()
        {
            remove_ci(res, schema.id);
        }
        Ok(())
    }
}

fn missing_value(kind: PatchOpKind) -> ScimError {
    ScimError::invalid_value(format!("'{kind}' needs a 'value' that is not null"))
}

/// The object holding an attribute: the resource, or its extension object,
/// created if absent.
fn holder_mut<'r>(res: &'r mut Object, container: Option<&SchemaDef>) -> &'r mut Object {
    match container {
        None => res,
        Some(schema) => {
            canonicalize_key(res, schema.id);
            object_mut(
                res.entry(schema.id.to_owned())
                    .or_insert_with(|| Value::Object(Map::new())),
            )
        }
    }
}

/// RFC 7644 §3.5.2: readOnly attributes cannot be modified, immutable ones only
/// set when unassigned; §3.5.2.2: a required attribute cannot become unassigned.
///
/// The check is on the outcome, not the request: Okta's group rename
/// (`{"op":"replace","value":{"id":"<same id>","displayName":"new"}}`) carries
/// the unchanged readOnly `id` and must succeed, so writing a readOnly
/// attribute's current value is accepted (a departure from §3.5.2's "a client
/// MUST NOT modify", which would be answered with `mutability`).
fn check_attr_change(
    attr: &AttributeDef,
    before: Option<Option<Value>>,
    was_assigned: bool,
    after: Option<&Value>,
) -> Result<(), ScimError> {
    if let Some(before) = before
        && !equivalent(attr, before.as_ref(), after)
    {
        match attr.mutability {
            Mutability::ReadOnly => {
                return Err(ScimError::mutability(format!(
                    "{} is readOnly and cannot be changed",
                    attr.name
                )));
            }
            Mutability::Immutable if was_assigned => {
                return Err(ScimError::mutability(format!(
                    "{} is immutable: it can be set once but not changed",
                    attr.name
                )));
            }
            _ => {}
        }
    }
    if attr.required && was_assigned && is_unassigned(after) {
        return Err(ScimError::mutability(format!(
            "{} is required and cannot be removed",
            attr.name
        )));
    }
    Ok(())
}

/// [`check_attr_change`] for a sub-attribute of one complex value.
fn check_sub_change(
    sub: &AttributeDef,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), ScimError> {
    if equivalent(sub, before, after) {
        return Ok(());
    }
    check_attr_change(sub, Some(before.cloned()), !is_unassigned(before), after)
}

/// add and replace (RFC 7644 §3.5.2.1, §3.5.2.3) on the attribute's slot.
fn set(slot: &mut Value, kind: PatchOpKind, t: Target<'_>, value: &Value) -> Result<(), ScimError> {
    let attr = t.attr;
    let nulls = Nulls::of(kind);
    match (t.filter, t.sub) {
        (None, None) if attr.multi_valued => {
            let items = elements(attr, value)?;
            let values = array_mut(slot);
            if kind == PatchOpKind::Replace {
                values.clear();
            }
            let touched = add_values(values, attr, items);
            enforce_primary(attr, values, &touched);
        }
        (None, None) if attr.ty == AttrType::Complex => {
            let incoming = complex_value(attr, value)?;
            merge(object_mut(slot), attr, &incoming, nulls)?;
        }
        (None, None) => {
            scalar(attr, value)?;
            *slot = value.clone();
        }
        // `emails.display`: every value's sub-attribute; with no value yet,
        // "the attribute and value are added" (§3.5.2.1).
        (None, Some(sub)) if attr.multi_valued => {
            scalar(sub, value)?;
            let values = array_mut(slot);
            if values.is_empty() {
                values.push(Value::Object(Map::new()));
            }
            for element in values.iter_mut() {
                set_sub(object_mut(element), sub, value)?;
            }
            let touched: Vec<usize> = (0..values.len()).collect();
            enforce_primary(attr, values, &touched);
        }
        (None, Some(sub)) => {
            scalar(sub, value)?;
            set_sub(object_mut(slot), sub, value)?;
        }
        (Some(filter), sub) => {
            let values = array_mut(slot);
            let mut touched = matching(values, attr, filter);
            if attr.ty != AttrType::Complex {
                if touched.is_empty() {
                    return Err(no_match(attr, filter));
                }
                scalar(attr, value)?;
                for &i in &touched {
                    if let Some(element) = values.get_mut(i) {
                        *element = value.clone();
                    }
                }
                return Ok(());
            }
            if touched.is_empty() {
                // Entra ID writes `emails[type eq "work"].value` to users without
                // a work email (with `add`, and with `replace` when the user has no
                // emails at all) and expects one to be created. RFC 7644 §3.5.2.3
                // answers a replace whose filter matches nothing with noTarget, and
                // §3.5.2.1 is unclear for add (RFC errata 8097). A filter made of
                // `eq` comparisons describes the missing value, so it is created;
                // any other filter still fails with noTarget.
                let seed = eq_seed(attr, filter).ok_or_else(|| no_match(attr, filter))?;
                values.push(Value::Object(seed));
                touched.push(values.len() - 1);
            }
            let incoming = match sub {
                Some(sub) => {
                    scalar(sub, value)?;
                    None
                }
                None => Some(complex_value(attr, value)?),
            };
            for &i in &touched {
                let Some(element) = values.get_mut(i) else {
                    continue;
                };
                let element = object_mut(element);
                match (sub, &incoming) {
                    (Some(sub), _) => set_sub(element, sub, value)?,
                    (None, Some(incoming)) => merge(element, attr, incoming, nulls)?,
                    (None, None) => {}
                }
            }
            enforce_primary(attr, values, &touched);
        }
    }
    Ok(())
}

/// remove (RFC 7644 §3.5.2.2) on the attribute's slot.
fn remove(slot: &mut Value, t: Target<'_>, value: Option<&Value>) -> Result<(), ScimError> {
    let attr = t.attr;
    match (t.filter, t.sub) {
        (None, None) => match value {
            // JumpCloud and Entra ID (without `aadOptscim062020`) remove group
            // members as `{"op":"remove","path":"members","value":[{"value":"<id>"}]}`.
            // RFC 7644 §3.5.2.2 has remove ignore `value` and clear the whole
            // attribute, which would empty the group; only the listed values are
            // removed. Without a value the attribute is cleared as the RFC says.
            Some(value) if attr.multi_valued => {
                let items = elements(attr, value)?;
                remove_values(array_mut(slot), attr, &items);
            }
            _ => *slot = Value::Null,
        },
        (None, Some(sub)) if attr.multi_valued => {
            let values = array_mut(slot);
            for element in values.iter_mut() {
                remove_sub(object_mut(element), sub)?;
            }
            values.retain(|v| !is_unassigned(Some(v)));
        }
        (None, Some(sub)) => {
            if let Value::Object(map) = slot {
                remove_sub(map, sub)?;
            }
        }
        // A filter that matches nothing removes nothing: §3.5.2.2 reserves
        // noTarget for a missing path, and an IdP retrying a removal that already
        // happened must not fail.
        (Some(filter), sub) => {
            let values = array_mut(slot);
            let matched = matching(values, attr, filter);
            if matched.is_empty() {
                return Ok(());
            }
            match sub {
                None => {
                    let mut hit = vec![false; values.len()];
                    for i in matched {
                        if let Some(h) = hit.get_mut(i) {
                            *h = true;
                        }
                    }
                    let mut i = 0;
                    values.retain(|_| {
                        i += 1;
                        !hit.get(i - 1).copied().unwrap_or(false)
                    });
                }
                Some(sub) => {
                    for i in matched {
                        if let Some(element) = values.get_mut(i) {
                            remove_sub(object_mut(element), sub)?;
                        }
                    }
                    values.retain(|v| !is_unassigned(Some(v)));
                }
            }
        }
    }
    Ok(())
}

fn no_match(attr: &AttributeDef, filter: &Filter) -> ScimError {
    ScimError::no_target(format!(
        "no value of {} matches the filter {filter}",
        attr.name
    ))
}

/// The values a multi-valued attribute gets from `value`: its elements, or the
/// value itself when a client sends one where an array belongs (tolerated for
/// every IdP: a lone object is unambiguous). Nulls and empty objects are skipped.
fn elements(attr: &AttributeDef, value: &Value) -> Result<Vec<Value>, ScimError> {
    let items: &[Value] = match value {
        Value::Array(items) => items,
        single => std::slice::from_ref(single),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if item.is_null() {
            continue;
        }
        if attr.ty == AttrType::Complex {
            let mut map = complex_value(attr, item)?;
            map.retain(|_, v| !v.is_null());
            if !map.is_empty() {
                out.push(Value::Object(map));
            }
        } else {
            scalar(attr, item)?;
            out.push(item.clone());
        }
    }
    Ok(out)
}

/// A complex value with sub-attribute names in schema case. A bare scalar is
/// taken as the `value` sub-attribute: Entra ID sends the enterprise `manager`
/// as `"value": "<id>"` where RFC 7643 §4.3 has `{"value": "<id>"}`.
fn complex_value(attr: &AttributeDef, value: &Value) -> Result<Object, ScimError> {
    match value {
        Value::Object(map) => {
            let mut out = Object::new();
            for (k, v) in map {
                let key = match attr.sub_attribute(k) {
                    Some(sub) => {
                        if !v.is_null() {
                            scalar(sub, v)?;
                        }
                        sub.name.to_owned()
                    }
                    // Unknown sub-attributes are kept for validation to judge,
                    // as it does for PUT bodies.
                    None => k.clone(),
                };
                out.insert(key, v.clone());
            }
            Ok(out)
        }
        scalar if is_scalar(scalar) && attr.sub_attribute("value").is_some() => {
            let mut out = Object::new();
            out.insert("value".to_owned(), scalar.clone());
            Ok(out)
        }
        _ => Err(ScimError::invalid_value(format!(
            "{} takes an object of sub-attributes",
            attr.name
        ))),
    }
}

/// Simple attributes take strings, numbers and booleans; their type (and
/// Entra's `"False"` for a Boolean) is left to validation.
fn scalar(def: &AttributeDef, value: &Value) -> Result<(), ScimError> {
    if is_scalar(value) {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "{} takes a single {} value, not {}",
            def.name,
            def.ty.as_str(),
            kind_of(value)
        )))
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// §3.5.2.3 for complex values: given sub-attributes are replaced or added,
/// the others left unchanged.
fn merge(
    element: &mut Object,
    attr: &AttributeDef,
    incoming: &Object,
    nulls: Nulls,
) -> Result<(), ScimError> {
    for (k, v) in incoming {
        match (attr.sub_attribute(k), v.is_null()) {
            (Some(sub), false) => set_sub(element, sub, v)?,
            (Some(sub), true) if nulls == Nulls::Unassign => remove_sub(element, sub)?,
            (None, false) => {
                remove_ci(element, k);
                element.insert(k.clone(), v.clone());
            }
            (None, true) if nulls == Nulls::Unassign => remove_ci(element, k),
            (_, true) => {}
        }
    }
    Ok(())
}

fn set_sub(element: &mut Object, sub: &AttributeDef, value: &Value) -> Result<(), ScimError> {
    canonicalize_key(element, sub.name);
    check_sub_change(sub, element.get(sub.name), Some(value))?;
    element.insert(sub.name.to_owned(), value.clone());
    Ok(())
}

fn remove_sub(element: &mut Object, sub: &AttributeDef) -> Result<(), ScimError> {
    canonicalize_key(element, sub.name);
    check_sub_change(sub, element.get(sub.name), None)?;
    element.shift_remove(sub.name);
    Ok(())
}

/// Keeps `schemas` in step with the extension objects (RFC 7643 §3: it lists
/// the schemas the representation uses): an extension the operations gave
/// attributes is added, one they emptied is dropped with its object. Only
/// extensions whose object changed are touched, so a stored `schemas` listing
/// an extension without attributes (as JumpCloud creates users) is kept.
fn sync_extension_urns(rt: &ResourceTypeDef, original: &Object, patched: &mut Object) {
    for (schema, _) in rt.extensions {
        let before = get_ci(original, schema.id);
        let after = get_ci(patched, schema.id);
        if before == after {
            continue;
        }
        let present = !is_unassigned(after);
        if !present {
            remove_ci(patched, schema.id);
        }
        canonicalize_key(patched, "schemas");
        let urns = array_mut(
            patched
                .entry("schemas")
                .or_insert_with(|| Value::Array(vec![Value::from(rt.schema.id)])),
        );
        let listed = |u: &Value| {
            u.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(schema.id))
        };
        if present {
            if !urns.iter().any(listed) {
                urns.push(Value::from(schema.id));
            }
        } else {
            urns.retain(|u| !listed(u));
        }
    }
}
