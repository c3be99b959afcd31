//! Listing (RFC 7644 §3.4.2, §3.4.3): query parameters and `/.search`
//! bodies, sorting, paging and the ListResponse.
//!
//! Decisions:
//! - `startIndex` below 1 is 1 and a negative `count` is 0 (RFC 7644
//!   §3.4.2.4); `count` is capped at `maxResults`, which is also the default.
//!   Integers too large for 64 bits saturate; anything else is 400
//!   `invalidValue`.
//! - Parameter names and `/.search` keys are matched case-insensitively, and
//!   a blank parameter counts as absent: harmless, and some clients template
//!   `filter=` in.
//! - `sortBy` must parse as an attribute path (else 400 `invalidValue`), but
//!   an attribute the schema does not define sorts nothing, as every
//!   resource then lacks a value: RFC 7644 §3.4.2.3 gives no error for it,
//!   and filters treat unknown attributes as absent too.
//! - `Resources` is always present, `[]` when empty: scim-sanity wants it for
//!   `count=0`, scim2-models wants it whenever `totalResults` > 0.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::error::ScimError;
use super::filter::{Filter, parse_filter};
use super::path::{AttrPath, parse_attr_path};
use super::schema::{
    AttrType, LIST_RESPONSE_URN, ResolvedAttr, ResourceTypeDef, SEARCH_REQUEST_URN,
};

/// RFC 7644 §3.4.2.3 `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

/// A list or search request, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based index of the first result, at least 1.
    pub start_index: usize,
    /// Results per page, at most `maxResults`.
    pub count: usize,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    /// Comma-separated, as [`super::projection::Projection::parse`] takes it.
    pub attributes: Option<String>,
    /// Comma-separated.
    pub excluded_attributes: Option<String>,
}

/// The raw values, before validation.
#[derive(Default)]
struct Raw {
    filter: Option<String>,
    start_index: Option<Value>,
    count: Option<Value>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl Raw {
    /// The slot for a parameter name, if it is one of ours.
    fn set(&mut self, name: &str, value: Value) -> Result<(), ScimError> {
        let text = |v: Value| -> Result<Option<String>, ScimError> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s)),
                // `attributes` is an array in a SearchRequest (RFC 7644 §3.4.3).
                Value::Array(items) => items
                    .into_iter()
                    .map(|i| match i {
                        Value::String(s) => Ok(s),
                        _ => Err(ScimError::invalid_value(format!(
                            "'{name}' must be a list of attribute names"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|names| Some(names.join(","))),
                _ => Err(ScimError::invalid_value(format!(
                    "'{name}' must be a string"
                ))),
            }
        };
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "filter" | "sortby" | "sortorder" if value.is_array() => {
                return Err(ScimError::invalid_value(format!(
                    "'{name}' must be a string"
                )));
            }
            "filter" => self.filter = text(value)?,
            "sortby" => self.sort_by = text(value)?,
            "sortorder" => self.sort_order = text(value)?,
            "attributes" => self.attributes = text(value)?,
            "excludedattributes" => self.excluded_attributes = text(value)?,
            "startindex" => self.start_index = Some(value),
            "count" => self.count = Some(value),
            _ => {}
        }
        Ok(())
    }
}

impl ListQuery {
    /// From the query string of `GET /Users` or `GET /Groups`. Unknown
    /// parameters are ignored.
    pub fn from_params<I, K, V>(params: I, max_results: usize) -> Result<Self, ScimError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut raw = Raw::default();
        for (k, v) in params {
            raw.set(k.as_ref(), Value::String(v.as_ref().to_owned()))?;
        }
        Self::validate(raw, max_results)
    }

    /// From a `POST /.search` body (RFC 7644 §3.4.3), which must declare the
    /// SearchRequest schema.
    pub fn from_search(body: &Value, max_results: usize) -> Result<Self, ScimError> {
        let Value::Object(fields) = body else {
            return Err(ScimError::invalid_syntax(
                "A SearchRequest must be a JSON object",
            ));
        };
        let declared = fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
            .and_then(|(_, v)| v.as_array())
            .is_some_and(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .any(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST_URN))
            });
        if !declared {
            return Err(ScimError::invalid_syntax(format!(
                "A SearchRequest must have 'schemas': [\"{SEARCH_REQUEST_URN}\"]"
            )));
        }
        let mut raw = Raw::default();
        for (k, v) in fields {
            raw.set(k, v.clone())?;
        }
        Self::validate(raw, max_results)
    }

    fn validate(raw: Raw, max_results: usize) -> Result<Self, ScimError> {
        let present = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let filter = present(raw.filter).map(|f| parse_filter(&f)).transpose()?;
        let sort_by = present(raw.sort_by)
            .map(|s| {
                parse_attr_path(&s)
                    .map_err(|e| ScimError::invalid_value(format!("sortBy '{}': {e}", s.trim())))
            })
            .transpose()?;
        let sort_order = match present(raw.sort_order) {
            None => SortOrder::Ascending,
            Some(s) if s.trim().eq_ignore_ascii_case("ascending") => SortOrder::Ascending,
            Some(s) if s.trim().eq_ignore_ascii_case("descending") => SortOrder::Descending,
            Some(s) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be 'ascending' or 'descending', not '{s}'"
                )));
            }
        };
        let start_index = integer("startIndex", raw.start_index)?
            .map_or(1, |n| usize::try_from(n.max(1)).unwrap_or(usize::MAX));
        let count = integer("count", raw.count)?
            .map_or(max_results, |n| {
                usize::try_from(n.max(0)).unwrap_or(usize::MAX)
            })
            .min(max_results);
        Ok(Self {
            filter,
            start_index,
            count,
            sort_by,
            sort_order,
            attributes: present(raw.attributes),
            excluded_attributes: present(raw.excluded_attributes),
        })
    }
}

/// An integer parameter: a JSON integer or a string of digits, saturating
/// at the bounds of `i64`. Blank and `null` are absent.
fn integer(name: &str, value: Option<Value>) -> Result<Option<i64>, ScimError> {
    let bad = |shown: &dyn std::fmt::Display| {
        ScimError::invalid_value(format!("{name} must be an integer, not {shown}"))
    };
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => return Ok(Some(i)),
            (None, Some(_)) => return Ok(Some(i64::MAX)),
            _ => return Err(bad(&n)),
        },
        Some(Value::String(s)) => s,
        Some(other) => return Err(bad(&other)),
    };
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("'{t}'")));
    }
    Ok(Some(t.parse().unwrap_or(if t.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    })))
}

/// Sorts resources by `sort_by` (RFC 7644 §3.4.2.3), stably. Multi-valued
/// attributes sort by their primary value, else their first; strings compare
/// by Unicode code point, lower-cased unless `caseExact`; dateTimes as
/// instants. Resources without a value come last ascending, first
/// descending.
pub fn sort(resources: &mut [Value], sort_by: &AttrPath, order: SortOrder, rt: &ResourceTypeDef) {
    let Some(resolved) = rt.find(sort_by) else {
        return;
    };
    let mut keyed: Vec<(Option<Key>, Value)> = resources
        .iter_mut()
        .map(|r| (sort_key(r, &resolved), std::mem::take(r)))
        .collect();
    // Stable: equal keys keep their order.
    keyed.sort_by(|(a, _), (b, _)| compare(a, b, order));
    for (slot, (_, value)) in resources.iter_mut().zip(keyed) {
        *slot = value;
    }
}

/// Resources without the attribute come last in ascending order, first in
/// descending (RFC 7644 §3.4.2.3).
fn compare(a: &Option<Key>, b: &Option<Key>, order: SortOrder) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) if order == SortOrder::Ascending => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) if order == SortOrder::Ascending => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) if order == SortOrder::Ascending => a.cmp(b),
        (Some(a), Some(b)) => b.cmp(a),
    }
}

/// Which part of a list to give: sorted (or in the store's stable order),
/// from `start_index` (1-based), at most `count`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Window {
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    pub start_index: usize,
    pub count: usize,
}

impl Window {
    pub fn of(query: &ListQuery) -> Window {
        Window {
            sort_by: query.sort_by.clone(),
            sort_order: query.sort_order,
            start_index: query.start_index,
            count: query.count,
        }
    }
}

/// The page of `window` among the items `all` gives (each call the same
/// items in the same order), and how many items there are. It holds the
/// page, and when sorting a key per item, never every item: a list of a
/// 100,000-user tenant costs its page in memory, not the tenant.
pub fn select<T, I>(
    all: impl Fn() -> I,
    resource: impl Fn(&T) -> &Value,
    window: &Window,
    rt: &ResourceTypeDef,
) -> (usize, Vec<T>)
where
    I: Iterator<Item = T>,
{
    let skip = window.start_index.saturating_sub(1);
    let Some(resolved) = window.sort_by.as_ref().and_then(|path| rt.find(path)) else {
        let mut total = 0;
        let mut page = Vec::new();
        for item in all() {
            if total >= skip && page.len() < window.count {
                page.push(item);
            }
            total += 1;
        }
        return (total, page);
    };
    // First pass: a key per item, sorted (ties keep the store's order).
    let mut keys: Vec<(Option<Key>, usize)> = all()
        .enumerate()
        .map(|(at, item)| (sort_key(resource(&item), &resolved), at))
        .collect();
    keys.sort_by(|(a, i), (b, j)| compare(a, b, window.sort_order).then(i.cmp(j)));
    let total = keys.len();
    // The page's items by position in the store's order, with their rank.
    let mut wanted: Vec<(usize, usize)> = keys
        .iter()
        .skip(skip)
        .take(window.count)
        .enumerate()
        .map(|(rank, (_, at))| (*at, rank))
        .collect();
    drop(keys);
    wanted.sort_unstable();
    // Second pass: keep those.
    let mut page: Vec<Option<T>> = std::iter::repeat_with(|| None).take(wanted.len()).collect();
    let mut next = wanted.into_iter().peekable();
    for (at, item) in all().enumerate() {
        match next.peek() {
            Some(&(want, rank)) if want == at => {
                page[rank] = Some(item);
                next.next();
            }
            Some(_) => {}
            None => break,
        }
    }
    (total, page.into_iter().flatten().collect())
}

/// A sort key; values of different JSON types order by type.
#[derive(Debug, PartialEq)]
enum Key {
    Bool(bool),
    Number(f64),
    Time(jiff::Timestamp),
    Text(String),
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        let rank = |k: &Key| match k {
            Key::Bool(_) => 0,
            Key::Number(_) => 1,
            Key::Time(_) => 2,
            Key::Text(_) => 3,
        };
        match (self, other) {
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            (Key::Number(a), Key::Number(b)) => a.total_cmp(b),
            (Key::Time(a), Key::Time(b)) => a.cmp(b),
            (Key::Text(a), Key::Text(b)) => a.cmp(b),
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }
}

/// `base[name]`, with the key matched case-insensitively.
fn member<'v>(base: &'v Value, name: &str) -> Option<&'v Value> {
    let obj = base.as_object()?;
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn sort_key(resource: &Value, r: &ResolvedAttr) -> Option<Key> {
    let container = match r.container() {
        Some(urn) => member(resource, urn)?,
        None => resource,
    };
    let mut value = member(container, r.attr.name)?;
    if let Value::Array(items) = value {
        let primary = items
            .iter()
            .find(|i| member(i, "primary") == Some(&Value::Bool(true)));
        value = primary.or_else(|| items.iter().find(|i| !i.is_null()))?;
    }
    let value = match (r.sub, r.attr.ty) {
        (Some(sub), _) => member(value, sub.name)?,
        (None, AttrType::Complex) => member(value, "value")?,
        (None, _) => value,
    };
    let target = r.target();
    match value {
        Value::Bool(b) => Some(Key::Bool(*b)),
        Value::Number(n) => n.as_f64().map(Key::Number),
        Value::String(s) => {
            if target.ty == AttrType::DateTime
                && let Ok(t) = s.parse::<jiff::Timestamp>()
            {
                return Some(Key::Time(t));
            }
            Some(Key::Text(if target.case_exact {
                s.clone()
            } else {
                s.to_lowercase()
            }))
        }
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The page starting at the 1-based `start_index` with at most `count` items.
pub fn page<T>(items: Vec<T>, start_index: usize, count: usize) -> Vec<T> {
    items
        .into_iter()
        .skip(start_index.saturating_sub(1))
        .take(count)
        .collect()
}

/// The ListResponse (RFC 7644 §3.4.2): `itemsPerPage` is the number of
/// resources actually returned.
pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index.max(1),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests;
