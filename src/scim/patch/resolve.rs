//! Paths resolved against a resource type's schemas (RFC 7644 §3.10), and
//! value filters evaluated over the values of one multi-valued attribute.

use serde_json::Value;

use super::values::Object;
use crate::scim::error::ScimError;
use crate::scim::filter::{AttrInfo, CompValue, CompareOp, Filter, check_operators, matches};
use crate::scim::path::{AttrPath, PatchPath};
use crate::scim::schema::{AttrType, AttributeDef, ResourceTypeDef, SchemaDef};

/// What a path designates.
pub(super) enum Resolved<'p> {
    Attr(Target<'p>),
    /// A whole schema named by its URN, as in Entra's
    /// `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {...}}`.
    Schema(&'static SchemaDef),
}

/// An attribute, or some of its values or sub-attributes.
#[derive(Clone, Copy)]
pub(super) struct Target<'p> {
    /// The extension whose object holds the attribute; `None` for the top level.
    pub(super) container: Option<&'static SchemaDef>,
    pub(super) attr: &'static AttributeDef,
    /// The value filter, on multi-valued attributes only.
    pub(super) filter: Option<&'p Filter>,
    /// `givenName` in `name.givenName`, `value` in `emails[type eq "work"].value`.
    pub(super) sub: Option<&'static AttributeDef>,
}

/// Resolves a path case-insensitively. Unknown attributes and sub-attributes
/// are `invalidPath`, as are filters on single-valued attributes and filters
/// naming anything but the filtered attribute's sub-attributes.
pub(super) fn resolve<'p>(
    rt: &'static ResourceTypeDef,
    path: &'p PatchPath,
) -> Result<Resolved<'p>, ScimError> {
    let Some(found) = rt.find(&path.attr) else {
        if path.filter.is_none()
            && let Some(schema) = rt.schema_for_path(&path.attr)
        {
            return Ok(Resolved::Schema(schema));
        }
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not an attribute of the {} resource",
            path.attr, rt.name
        )));
    };
    let sub = match (found.sub, &path.sub_after_filter) {
        (Some(sub), _) => Some(sub),
        (None, Some(name)) => Some(found.attr.sub_attribute(name).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "\"{name}\" is not a sub-attribute of {}",
                found.attr.name
            ))
        })?),
        (None, None) => None,
    };
    if let Some(filter) = &path.filter {
        if !found.attr.multi_valued {
            return Err(ScimError::invalid_path(format!(
                "a value filter needs a multi-valued attribute, and {} is single-valued",
                found.attr.name
            )));
        }
        check_filter_paths(found.attr, filter)?;
        check_operators(filter, &ElementInfo(found.attr))?;
    }
    Ok(Resolved::Attr(Target {
        container: found.in_extension.then_some(found.schema),
        attr: found.attr,
        filter: path.filter.as_ref(),
        sub,
    }))
}

/// Indices of the values `filter` selects.
pub(super) fn matching(
    values: &[Value],
    attr: &'static AttributeDef,
    filter: &Filter,
) -> Vec<usize> {
    let info = ElementInfo(attr);
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| matches(filter, v, &info))
        .map(|(i, _)| i)
        .collect()
}

/// The value an `eq`-only filter describes: `type eq "work" and primary eq true`
/// gives `{"type": "work", "primary": true}`. `None` for any other filter.
pub(super) fn eq_seed(attr: &AttributeDef, filter: &Filter) -> Option<Object> {
    fn collect(attr: &AttributeDef, filter: &Filter, out: &mut Object) -> Option<()> {
        match filter {
            Filter::And(lhs, rhs) => {
                collect(attr, lhs, out)?;
                collect(attr, rhs, out)
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.urn.is_none() && path.sub.is_none() => {
                let sub = attr.sub_attribute(&path.name)?;
                let value = match value {
                    CompValue::Null => return None,
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::String(s) => Value::String(s.clone()),
                };
                match out.get(sub.name) {
                    Some(existing) if *existing != value => None,
                    _ => {
                        out.insert(sub.name.to_owned(), value);
                        Some(())
                    }
                }
            }
            _ => None,
        }
    }
    if attr.ty != AttrType::Complex {
        return None;
    }
    let mut out = Object::new();
    collect(attr, filter, &mut out)?;
    Some(out)
}

/// Paths inside `[...]` must name sub-attributes of the filtered attribute
/// (`value` for a simple multi-valued one): a filter on a typo would silently
/// match nothing.
fn check_filter_paths(attr: &AttributeDef, filter: &Filter) -> Result<(), ScimError> {
    match filter {
        Filter::And(lhs, rhs) | Filter::Or(lhs, rhs) => {
            check_filter_paths(attr, lhs)?;
            check_filter_paths(attr, rhs)
        }
        Filter::Not(inner) => check_filter_paths(attr, inner),
        Filter::Present(path) | Filter::Compare { path, .. } => {
            let known = path.urn.is_none()
                && path.sub.is_none()
                && if attr.ty == AttrType::Complex {
                    attr.sub_attribute(&path.name).is_some()
                } else {
                    path.name.eq_ignore_ascii_case("value")
                };
            if known {
                Ok(())
            } else {
                Err(ScimError::invalid_path(format!(
                    "\"{path}\" in the filter is not a sub-attribute of {}",
                    attr.name
                )))
            }
        }
        Filter::ValuePath { .. } => Err(ScimError::invalid_path("value filters cannot be nested")),
    }
}

/// Filter evaluation over one value of a multi-valued attribute, whose
/// sub-attributes are the filter's top-level names.
struct ElementInfo(&'static AttributeDef);

impl ElementInfo {
    fn def(&self, path: &AttrPath) -> Option<&'static AttributeDef> {
        if path.sub.is_some() {
            None
        } else if self.0.ty == AttrType::Complex {
            self.0.sub_attribute(&path.name)
        } else {
            path.name.eq_ignore_ascii_case("value").then_some(self.0)
        }
    }
}

impl AttrInfo for ElementInfo {
    fn case_exact(&self, path: &AttrPath) -> bool {
        self.def(path).is_some_and(|d| d.case_exact)
    }

    fn attr_type(&self, path: &AttrPath) -> Option<AttrType> {
        self.def(path).map(|d| d.ty)
    }
}
