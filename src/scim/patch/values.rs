//! JSON helpers for the operations: case-insensitive keys (RFC 7643 §2.1), the
//! unassigned state (RFC 7643 §2.5), value identity and `primary`.

use serde_json::{Map, Value};

use crate::scim::schema::AttributeDef;

pub(super) type Object = Map<String, Value>;

/// RFC 7643 §2.5: null and an empty array are unassigned; so is a complex
/// value without sub-attributes, which serialises as `{}`.
pub(super) fn is_unassigned(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(map)) => map.is_empty(),
        Some(_) => false,
    }
}

/// Whether two values are the same state: both unassigned, or equal, strings
/// ignoring case unless `def` is caseExact.
pub(super) fn equivalent(def: &AttributeDef, a: Option<&Value>, b: Option<&Value>) -> bool {
    if is_unassigned(a) || is_unassigned(b) {
        return is_unassigned(a) && is_unassigned(b);
    }
    match (a, b) {
        (Some(Value::String(a)), Some(Value::String(b))) if !def.case_exact => {
            a.to_lowercase() == b.to_lowercase()
        }
        (a, b) => a == b,
    }
}

/// `map[name]`, the exact key first, else any key equal ignoring ASCII case.
pub(super) fn get_ci<'m>(map: &'m Object, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Stores the value of `name` under exactly that spelling: a key differing only
/// in case is renamed, so output carries schema case whatever the client sent.
/// Should both spellings exist, the canonical one wins.
pub(super) fn canonicalize_key(map: &mut Object, name: &str) {
    let variants: Vec<String> = map
        .keys()
        .filter(|k| k.as_str() != name && k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    for key in variants {
        if let Some(v) = map.shift_remove(&key)
            && !map.contains_key(name)
        {
            map.insert(name.to_owned(), v);
        }
    }
}

/// Removes `name` in any spelling.
pub(super) fn remove_ci(map: &mut Object, name: &str) {
    map.retain(|k, _| !k.eq_ignore_ascii_case(name));
}

/// `value` as an object, replacing whatever else it held. A scalar becomes its
/// own `value` sub-attribute (a string member stays that member).
pub(super) fn object_mut(value: &mut Value) -> &mut Object {
    if !value.is_object() {
        let mut map = Object::new();
        if is_scalar(value) {
            map.insert("value".to_owned(), value.take());
        }
        *value = Value::Object(map);
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("made an object above"),
    }
}

/// `value` as an array: null becomes empty, a lone value a one-element array.
pub(super) fn array_mut(value: &mut Value) -> &mut Vec<Value> {
    if !value.is_array() {
        *value = match value.take() {
            Value::Null => Value::Array(Vec::new()),
            single => Value::Array(vec![single]),
        };
    }
    match value {
        Value::Array(items) => items,
        _ => unreachable!("made an array above"),
    }
}

pub(super) fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// A value as compared for identity: strings folded to lower case unless
/// caseExact, anything else by its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Text(String),
    Json(String),
}

impl Key {
    pub(super) fn of(value: &Value, case_exact: bool) -> Self {
        match value {
            Value::String(s) if case_exact => Key::Text(s.clone()),
            Value::String(s) => Key::Text(s.to_lowercase()),
            other => Key::Json(other.to_string()),
        }
    }
}

/// Whether every non-null member of `pattern` has an equal counterpart in
/// `element` (keys ignoring case). An empty pattern contains nothing.
pub(super) fn contains_all(element: &Value, pattern: &Object) -> bool {
    let Value::Object(element) = element else {
        return false;
    };
    let mut any = false;
    for (k, v) in pattern {
        if v.is_null() {
            continue;
        }
        any = true;
        if get_ci(element, k) != Some(v) {
            return false;
        }
    }
    any
}

/// `primary` is true: a JSON `true`, or Entra's string `"True"`.
fn is_primary(value: &Value) -> bool {
    let Value::Object(map) = value else {
        return false;
    };
    match get_ci(map, "primary") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// RFC 7644 §3.5.2: setting `primary` true on a value "SHALL cause the server to
/// automatically set "primary" to "false" for any other values in the array".
/// Of several values an operation marks primary, the last one wins.
pub(super) fn enforce_primary(attr: &AttributeDef, values: &mut [Value], touched: &[usize]) {
    if attr.sub_attribute("primary").is_none() {
        return;
    }
    let Some(&winner) = touched
        .iter()
        .rev()
        .find(|&&i| values.get(i).is_some_and(is_primary))
    else {
        return;
    };
    for (i, value) in values.iter_mut().enumerate() {
        if i != winner && is_primary(value) {
            let map = object_mut(value);
            canonicalize_key(map, "primary");
            map.insert("primary".to_owned(), Value::Bool(false));
        }
    }
}
