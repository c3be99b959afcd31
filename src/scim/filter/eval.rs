//! Filter evaluation over a resource held as JSON (RFC 7644 §3.4.2.2).
//!
//! Semantics worth knowing:
//! - attribute names match object keys case-insensitively;
//! - a multi-valued attribute matches when any of its values does;
//! - a complex value compared without a sub-attribute is compared through its `value`;
//! - `ne` is "no value is equal", so it matches a missing attribute, and `eq null`
//!   means "not present" (`ne null` means present);
//! - ordering operators never match booleans, and compare timestamps as instants.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::ast::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::schema::AttrType;

/// The attribute characteristics evaluation depends on. Paths are absolute: inside
/// `emails[type eq "work"]`, `type` is asked about as `emails.type`, with the URN of
/// `emails` if it had one.
pub trait AttrInfo {
    /// Whether string comparisons on `path` are case-sensitive (RFC 7643 §2.2 `caseExact`).
    fn case_exact(&self, path: &AttrPath) -> bool;

    /// The declared type of `path`, if known.
    fn attr_type(&self, path: &AttrPath) -> Option<AttrType>;

    /// Whether `urn` is the resource's core schema, whose attributes sit at the top level,
    /// rather than an extension, whose attributes sit in an object under the URN as a key.
    fn is_core_schema(&self, urn: &str) -> bool {
        const CORE: &str = "urn:ietf:params:scim:schemas:core:";
        urn.get(..CORE.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(CORE))
    }
}

/// No schema: strings compare case-insensitively and types are read off the JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSchema;

impl AttrInfo for NoSchema {
    fn case_exact(&self, _: &AttrPath) -> bool {
        false
    }

    fn attr_type(&self, _: &AttrPath) -> Option<AttrType> {
        None
    }
}

/// Whether `resource` satisfies `filter`.
pub fn matches(filter: &Filter, resource: &Value, info: &dyn AttrInfo) -> bool {
    Eval {
        info,
        root: resource,
    }
    .filter(filter, None)
}

/// An operator that the attribute's type cannot take, such as `gt` on a Boolean; RFC 7644
/// §3.4.2.2 answers these with 400 `invalidFilter` rather than an empty result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the '{op}' operator cannot be applied to the {ty:?} attribute '{path}'")]
pub struct UnsupportedComparison {
    /// The attribute, absolute as in [`AttrInfo`].
    pub path: AttrPath,
    pub op: CompareOp,
    pub ty: AttrType,
}

/// Rejects comparisons that can never be meaningful for the attribute's declared type:
/// ordering or substring operators on Booleans, ordering on Binary.
pub fn check_operators(filter: &Filter, info: &dyn AttrInfo) -> Result<(), UnsupportedComparison> {
    check(filter, info, None)
}

fn check(
    filter: &Filter,
    info: &dyn AttrInfo,
    parent: Option<&AttrPath>,
) -> Result<(), UnsupportedComparison> {
    match filter {
        Filter::And(lhs, rhs) | Filter::Or(lhs, rhs) => {
            check(lhs, info, parent)?;
            check(rhs, info, parent)
        }
        Filter::Not(inner) => check(inner, info, parent),
        Filter::ValuePath { path, filter } => check(filter, info, Some(path)),
        Filter::Present(_) => Ok(()),
        Filter::Compare { path, op, .. } => {
            let path = absolute(info, path, parent);
            let Some(ty) = info.attr_type(&path) else {
                return Ok(());
            };
            let ordering = matches!(
                op,
                CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
            );
            let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
            let unsupported = match ty {
                AttrType::Boolean => ordering || substring,
                AttrType::Binary => ordering,
                _ => false,
            };
            if unsupported {
                Err(UnsupportedComparison { path, op: *op, ty })
            } else {
                Ok(())
            }
        }
    }
}

/// The path to ask [`AttrInfo`] about. A complex attribute compared without a
/// sub-attribute is compared through its `value`, so that is what gets looked up.
fn absolute(info: &dyn AttrInfo, path: &AttrPath, parent: Option<&AttrPath>) -> AttrPath {
    let mut abs = match parent {
        Some(parent) => AttrPath {
            urn: parent.urn.clone(),
            name: parent.name.clone(),
            sub: Some(path.name.clone()),
        },
        None => path.clone(),
    };
    if abs.sub.is_none() && info.attr_type(&abs) == Some(AttrType::Complex) {
        abs.sub = Some("value".to_owned());
    }
    abs
}

struct Eval<'a> {
    info: &'a dyn AttrInfo,
    root: &'a Value,
}

/// One value of a multi-valued attribute, which paths inside `[ ]` are relative to.
#[derive(Clone, Copy)]
struct Element<'a> {
    value: &'a Value,
    parent: &'a AttrPath,
}

impl<'a> Eval<'a> {
    fn filter(&self, filter: &'a Filter, scope: Option<Element<'a>>) -> bool {
        match filter {
            Filter::And(lhs, rhs) => self.filter(lhs, scope) && self.filter(rhs, scope),
            Filter::Or(lhs, rhs) => self.filter(lhs, scope) || self.filter(rhs, scope),
            Filter::Not(inner) => !self.filter(inner, scope),
            Filter::Present(path) => self.values(path, scope).into_iter().any(is_present),
            Filter::Compare { path, op, value } => self.compare(path, *op, value, scope),
            Filter::ValuePath { path, filter } => {
                self.values(path, scope).into_iter().any(|value| {
                    self.filter(
                        filter,
                        Some(Element {
                            value,
                            parent: path,
                        }),
                    )
                })
            }
        }
    }

    fn compare(
        &self,
        path: &AttrPath,
        op: CompareOp,
        expected: &CompValue,
        scope: Option<Element<'a>>,
    ) -> bool {
        let values = self.values(path, scope);
        if *expected == CompValue::Null {
            let present = values.into_iter().any(is_present);
            return match op {
                CompareOp::Eq => !present,
                CompareOp::Ne => present,
                _ => false,
            };
        }
        let abs = absolute(self.info, path, scope.map(|el| el.parent));
        let traits = Traits {
            case_exact: self.info.case_exact(&abs),
            ty: self.info.attr_type(&abs),
        };
        let any = |op| {
            values
                .iter()
                .filter_map(|v| scalar(v))
                .any(|v| compare_one(op, v, expected, traits))
        };
        match op {
            CompareOp::Ne => !any(CompareOp::Eq),
            op => any(op),
        }
    }

    /// Every value `path` reaches from the scope, multi-valued attributes flattened.
    fn values(&self, path: &AttrPath, scope: Option<Element<'a>>) -> Vec<&'a Value> {
        let base = match (scope, &path.urn) {
            (Some(el), _) => Some(el.value),
            (None, Some(urn)) if !self.info.is_core_schema(urn) => member(self.root, urn),
            (None, _) => Some(self.root),
        };
        let mut out = Vec::new();
        let Some(top) = base.and_then(|b| member(b, &path.name)) else {
            return out;
        };
        match &path.sub {
            None => flatten(top, &mut out),
            Some(sub) => {
                let mut parents = Vec::new();
                flatten(top, &mut parents);
                for parent in parents {
                    if let Some(v) = member(parent, sub) {
                        flatten(v, &mut out);
                    }
                }
            }
        }
        out
    }
}

fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Array(items) => out.extend(items),
        other => out.push(other),
    }
}

/// `base[name]`, with the key matched case-insensitively (RFC 7643 §2.1). A primitive
/// value of a multi-valued attribute stands for its own `value` sub-attribute, so
/// `schemas[value eq "..."]` works on an array of strings.
fn member<'v>(base: &'v Value, name: &str) -> Option<&'v Value> {
    match base {
        Value::Object(map) => map.get(name).or_else(|| {
            map.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        }),
        Value::Array(_) | Value::Null => None,
        primitive => name.eq_ignore_ascii_case("value").then_some(primitive),
    }
}

/// What a value is compared as: complex values through their `value` sub-attribute.
fn scalar(value: &Value) -> Option<&Value> {
    match value {
        Value::Object(_) => member(value, "value"),
        other => Some(other),
    }
}

/// `pr`: not null, not an empty string, and not an array or object without a present value.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => map.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

#[derive(Clone, Copy)]
struct Traits {
    case_exact: bool,
    ty: Option<AttrType>,
}

/// One value against the filter's value; mismatched JSON types never match.
fn compare_one(op: CompareOp, actual: &Value, expected: &CompValue, traits: Traits) -> bool {
    match (actual, expected) {
        (Value::String(a), CompValue::String(b)) => compare_strings(op, a, b, traits),
        (Value::Number(a), CompValue::Number(b)) => ordered(op, compare_numbers(a, b)),
        (Value::Bool(a), CompValue::Bool(b)) => op == CompareOp::Eq && a == b,
        _ => false,
    }
}

fn compare_strings(op: CompareOp, actual: &str, expected: &str, traits: Traits) -> bool {
    use CompareOp::*;
    if matches!(op, Eq | Gt | Ge | Lt | Le)
        && let Some(order) = chronological(actual, expected, traits.ty)
    {
        return ordered(op, Some(order));
    }
    let (actual, expected) = (fold(actual, traits), fold(expected, traits));
    match op {
        Co => actual.contains(&*expected),
        Sw => actual.starts_with(&*expected),
        Ew => actual.ends_with(&*expected),
        op => ordered(op, Some(actual.cmp(&expected))),
    }
}

/// The form strings are compared in: as is when case-exact, else lower-cased.
fn fold(s: &str, traits: Traits) -> Cow<'_, str> {
    if traits.case_exact {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Timestamps compare as instants when the schema says DateTime or, lacking a schema,
/// when both sides parse as RFC 3339 (`...Z` and `...+00:00` are the same moment).
fn chronological(actual: &str, expected: &str, ty: Option<AttrType>) -> Option<Ordering> {
    if !matches!(ty, None | Some(AttrType::DateTime)) {
        return None;
    }
    let actual: jiff::Timestamp = actual.parse().ok()?;
    let expected: jiff::Timestamp = expected.parse().ok()?;
    Some(actual.cmp(&expected))
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Whether `order` (actual relative to expected) satisfies an equality or ordering `op`.
fn ordered(op: CompareOp, order: Option<Ordering>) -> bool {
    use CompareOp::*;
    let Some(order) = order else { return false };
    match op {
        Eq => order.is_eq(),
        Gt => order.is_gt(),
        Ge => order.is_ge(),
        Lt => order.is_lt(),
        Le => order.is_le(),
        Ne | Co | Sw | Ew => false,
    }
}

#[cfg(test)]
mod tests;
