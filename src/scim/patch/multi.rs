//! Adding and removing values of multi-valued attributes by identity, in
//! time linear in the attribute's size.

use std::collections::HashMap;

use serde_json::Value;

use super::values::{
    Key, Object, canonicalize_key, contains_all, equivalent, get_ci, is_unassigned, object_mut,
    remove_ci,
};
use crate::scim::schema::{AttrType, AttributeDef, Mutability};

/// The identity of one value of a multi-valued attribute: its `value`
/// sub-attribute (or itself, for simple attributes), and its `type` if any.
pub(super) struct Identity {
    value_def: Option<&'static AttributeDef>,
    type_def: Option<&'static AttributeDef>,
    simple: Option<&'static AttributeDef>,
}

impl Identity {
    fn of(attr: &'static AttributeDef) -> Self {
        if attr.ty == AttrType::Complex {
            Identity {
                value_def: attr.sub_attribute("value"),
                type_def: attr.sub_attribute("type"),
                simple: None,
            }
        } else {
            Identity {
                value_def: None,
                type_def: None,
                simple: Some(attr),
            }
        }
    }

    fn key(&self, element: &Value) -> Option<Key> {
        if let Some(def) = self.simple {
            return Some(Key::of(element, def.case_exact));
        }
        let def = self.value_def?;
        let value = match element {
            Value::Object(map) => get_ci(map, "value")?,
            scalar => scalar,
        };
        (!value.is_null()).then(|| Key::of(value, def.case_exact))
    }

    fn type_key(&self, element: &Value) -> Option<Key> {
        let def = self.type_def?;
        let Value::Object(map) = element else {
            return None;
        };
        get_ci(map, "type")
            .filter(|t| !t.is_null())
            .map(|t| Key::of(t, def.case_exact))
    }

    /// Values with equal `value`s are the same value unless both carry a
    /// `type` and the types differ (a work and a home address may coincide).
    /// A member re-sent without its `type` is the same member.
    fn same_type(&self, a: &Value, b: &Value) -> bool {
        match (self.type_key(a), self.type_key(b)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

/// Appends `items`, merging each into an existing equal value instead
/// (RFC 7644 §3.5.2.1: "If the target location already contains the value
/// specified, no changes SHOULD be made"). JumpCloud and Entra ID re-send adds
/// for members a group already has, so this is also what makes them idempotent.
///
/// Linear in existing plus added values: a group may have 100,000 members and
/// IdPs add them one PATCH at a time. Returns the indices of the values written.
pub(super) fn add_values(
    values: &mut Vec<Value>,
    attr: &'static AttributeDef,
    items: Vec<Value>,
) -> Vec<usize> {
    let identity = Identity::of(attr);
    // One or two items are cheaper to look up by scanning than by indexing.
    let mut index: Option<HashMap<Key, Vec<usize>>> = (items.len() > 4).then(|| {
        let mut index: HashMap<Key, Vec<usize>> = HashMap::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            if let Some(key) = identity.key(v) {
                index.entry(key).or_default().push(i);
            }
        }
        index
    });
    let mut touched = Vec::with_capacity(items.len());
    for item in items {
        let key = identity.key(&item);
        let found = match (&key, &index) {
            (Some(key), Some(index)) => index.get(key).and_then(|candidates| {
                candidates
                    .iter()
                    .copied()
                    .find(|&i| values.get(i).is_some_and(|v| identity.same_type(v, &item)))
            }),
            (Some(key), None) => values.iter().position(|v| {
                identity.key(v).as_ref() == Some(key) && identity.same_type(v, &item)
            }),
            (None, _) => match &item {
                Value::Object(pattern) => values.iter().position(|v| contains_all(v, pattern)),
                _ => None,
            },
        };
        match found {
            Some(i) => {
                if let (Some(existing), Value::Object(item)) = (values.get_mut(i), &item) {
                    merge_duplicate(object_mut(existing), attr, item);
                }
                touched.push(i);
            }
            None => {
                let i = values.len();
                if let (Some(key), Some(index)) = (key, &mut index) {
                    index.entry(key).or_default().push(i);
                }
                values.push(item);
                touched.push(i);
            }
        }
    }
    touched
}

/// Re-adding a value updates its mutable sub-attributes (Okta re-sends members
/// with a new `display`), but never fails: immutable sub-attributes already set
/// and readOnly ones keep their stored value, so a retried add stays a no-op.
fn merge_duplicate(existing: &mut Object, attr: &AttributeDef, item: &Object) {
    for (k, v) in item {
        if v.is_null() {
            continue;
        }
        let Some(sub) = attr.sub_attribute(k) else {
            remove_ci(existing, k);
            existing.insert(k.clone(), v.clone());
            continue;
        };
        canonicalize_key(existing, sub.name);
        let keep = equivalent(sub, existing.get(sub.name), Some(v))
            || match sub.mutability {
                Mutability::ReadOnly => true,
                Mutability::Immutable => !is_unassigned(existing.get(sub.name)),
                Mutability::ReadWrite | Mutability::WriteOnly => false,
            };
        if !keep {
            existing.insert(sub.name.to_owned(), v.clone());
        }
    }
}

/// Removes the values equal to one of `items`, by the identity [`add_values`]
/// uses; items without a `value` remove the values containing all their
/// sub-attributes. An empty list removes nothing.
pub(super) fn remove_values(values: &mut Vec<Value>, attr: &'static AttributeDef, items: &[Value]) {
    let identity = Identity::of(attr);
    let mut by_key: HashMap<Key, Vec<&Value>> = HashMap::with_capacity(items.len());
    let mut patterns = Vec::new();
    for item in items {
        match (identity.key(item), item) {
            (Some(key), _) => by_key.entry(key).or_default().push(item),
            (None, Value::Object(pattern)) => patterns.push(pattern),
            (None, _) => {}
        }
    }
    values.retain(|v| {
        let by_value = identity.key(v).is_some_and(|key| {
            by_key
                .get(&key)
                .is_some_and(|items| items.iter().any(|item| identity.same_type(v, item)))
        });
        !(by_value || patterns.iter().any(|p| contains_all(v, p)))
    });
}
