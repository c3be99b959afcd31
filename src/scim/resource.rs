//! The write path shared by POST, PUT and PATCH (RFC 7643 §2, §3, §7;
//! RFC 7644 §3.3, §3.5): validates a client's resource and normalises it to
//! the one form that is stored, filtered and returned.
//!
//! Decisions, each with its reason:
//! - Attribute names are rewritten to the schema's spelling (`USERNAME` →
//!   `userName`, RFC 7643 §2.1), so storage and filters see one spelling. The
//!   same name twice in one object (`userName` and `USERNAME`) is 400
//!   `invalidSyntax`: there is no telling which one the client meant.
//! - `null`, `[]` and `{}` mean "unassigned" (RFC 7643 §2.5) and are removed;
//!   JumpCloud PUTs `"emails": null`. On PUT an absent attribute is cleared,
//!   as the body replaces the resource (RFC 7644 §3.5.1).
//! - `schemas` may be missing (it is then filled in; no IdP omits it and no
//!   checker requires a rejection), but when given it must name the core
//!   schema, and must not name a schema of another resource type (400
//!   `invalidSyntax`). A URI unknown to this server is a client extension:
//!   it stays in `schemas` and its URN-keyed object is kept as sent, without
//!   validation. Known extension objects sent without their URN get it added
//!   (RFC 7643 §3 wants every schema present listed).
//! - Attributes this server does not know, in the core schema or a known
//!   extension, are dropped, as RFC 7644 §3.3 lets a service provider do.
//! - readOnly attributes in a request (`id`, `meta`, `groups`,
//!   `manager.displayName`) are ignored (RFC 7644 §3.3, §3.5.1). After a PATCH
//!   `id` and `meta` are what the stored resource had: a changed `id` is 400
//!   `mutability`, a changed `meta` a harmless echo and ignored. `groups` is
//!   computed from the Groups (RFC 7643 §4.1.2), so it is never stored.
//! - `password` (writeOnly) is accepted and dropped: scimitar authenticates
//!   nobody with it, and not storing it is the only safe way to keep it
//!   `returned: never` (RFC 7643 §4.1.1, §7).
//! - Immutable values (Group `members.type`) may be set on create or on the
//!   first PUT that gives them (RFC 7643 §7) and must not change after; an
//!   omitted one is carried over. Members are matched by `value`, so
//!   replacing the member list with other members is not a modification.
//! - At most one `primary: true` per multi-valued attribute (RFC 7643 §2.4):
//!   more is 400 `invalidValue` on POST/PUT; after a PATCH the newly set one
//!   wins and the others become `false` (RFC 7644 §3.5.2).
//! - Group members need a `value`, get a canonical `type`, lose their `$ref`
//!   (derived on output by [`with_member_refs`]) and are deduplicated: see
//!   `resource/members.rs`.
//! - Types are checked strictly, with coercions only for what IdPs are
//!   known to send (Entra's `"True"`, a lone value for a multi-valued
//!   attribute, a bare id for `manager`): see `resource/values.rs`.

mod members;
mod rules;
mod values;

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::{self, Mutability, ResourceTypeDef};

/// Validates and normalises a POST body. The result has no `id` or `meta`:
/// the store assigns those.
pub fn prepare_create(rt: &'static ResourceTypeDef, input: Value) -> Result<Value, ScimError> {
    let mut parts = normalise(rt, input)?;
    rules::single_primary(rt, &mut parts.body, None)?;
    rules::required(rt, &parts.body)?;
    Ok(Value::Object(parts.body))
}

/// Validates and normalises a PUT body against the resource it replaces.
/// The result has no `id` or `meta`.
pub fn prepare_replace(
    rt: &'static ResourceTypeDef,
    input: Value,
    existing: &Value,
) -> Result<Value, ScimError> {
    let mut parts = normalise(rt, input)?;
    rules::keep_immutable(rt, &mut parts.body, existing)?;
    rules::single_primary(rt, &mut parts.body, None)?;
    rules::required(rt, &parts.body)?;
    Ok(Value::Object(parts.body))
}

/// Validates and normalises a stored resource after PATCH operations were
/// applied to it. readOnly attributes that were carried over are accepted;
/// `id` and `meta` come back as in `existing`.
pub fn validate_patched(
    rt: &'static ResourceTypeDef,
    patched: Value,
    existing: &Value,
) -> Result<Value, ScimError> {
    let mut parts = normalise(rt, patched)?;
    let old_id = existing.get("id");
    if let (Some(old), Some((_, new))) = (old_id, parts.read_only.iter().find(|(n, _)| *n == "id"))
        && old != new
    {
        return Err(ScimError::mutability(
            "Attribute 'id' is readOnly and cannot be changed",
        ));
    }
    rules::keep_immutable(rt, &mut parts.body, existing)?;
    rules::single_primary(rt, &mut parts.body, Some(existing))?;
    rules::required(rt, &parts.body)?;
    Ok(assemble(
        parts.body,
        old_id.cloned(),
        existing.get("meta").cloned(),
    ))
}

/// `meta` for an outgoing resource (RFC 7643 §3.1). `version` is the store's
/// opaque version, rendered as the weak ETag `W/"<version>"` that also goes
/// in the `ETag` header (RFC 7644 §3.14); `location` is left out when `None`.
pub fn meta(
    rt: &ResourceTypeDef,
    created: &str,
    last_modified: &str,
    version: &str,
    location: Option<&str>,
) -> Value {
    let mut meta = Map::new();
    meta.insert("resourceType".into(), rt.name.into());
    meta.insert("created".into(), created.into());
    meta.insert("lastModified".into(), last_modified.into());
    if let Some(location) = location {
        meta.insert("location".into(), location.into());
    }
    meta.insert("version".into(), format!("W/\"{version}\"").into());
    Value::Object(meta)
}

/// The resource's URL: `{base}/Users/{id}` or `{base}/Groups/{id}`.
pub fn location(rt: &ResourceTypeDef, base_url: &str, id: &str) -> String {
    format!(
        "{}{}/{}",
        base_url.trim_end_matches('/'),
        rt.endpoint,
        encode_segment(id)
    )
}

/// Assembles an outgoing resource from a normalised one: `schemas`, `id`,
/// `externalId`, the attributes, then `meta`, the order of the RFC 7643
/// examples. Any `id`/`meta` already in `resource` are replaced.
pub fn finish(resource: Value, id: &str, meta: Value) -> Value {
    let body = match resource {
        Value::Object(body) => body,
        _ => Map::new(),
    };
    assemble(body, Some(id.into()), Some(meta))
}

/// Sets each Group member's `$ref` to `{base}/Users/{value}` or
/// `{base}/Groups/{value}` by its `type` (User when absent). `$ref` is not
/// stored (it depends on the URL the client used), so the HTTP layer adds it
/// on the way out.
pub fn with_member_refs(resource: &mut Value, base_url: &str) {
    let base = base_url.trim_end_matches('/');
    let Some(Value::Array(list)) = resource.get_mut("members") else {
        return;
    };
    for member in list.iter_mut().filter_map(Value::as_object_mut) {
        let Some(value) = member.get("value").and_then(Value::as_str) else {
            continue;
        };
        let endpoint = match member.get("type").and_then(Value::as_str) {
            Some(t) if t.eq_ignore_ascii_case("Group") => "Groups",
            _ => "Users",
        };
        let reference = format!("{base}/{endpoint}/{}", encode_segment(value));
        member.insert("$ref".into(), reference.into());
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an id
/// with a `/` or a space still makes one path segment.
fn encode_segment(s: &str) -> Cow<'_, str> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if s.bytes().all(unreserved) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

/// `schemas` first, then `id`, the attributes and `meta` last.
fn assemble(mut body: Map<String, Value>, id: Option<Value>, meta: Option<Value>) -> Value {
    let mut out = Map::with_capacity(body.len() + 2);
    if let Some(schemas) = body.shift_remove("schemas") {
        out.insert("schemas".into(), schemas);
    }
    body.shift_remove("meta");
    body.shift_remove("id");
    if let Some(id) = id {
        out.insert("id".into(), id);
    }
    if let Some(external) = body.shift_remove("externalId") {
        out.insert("externalId".into(), external);
    }
    out.extend(body);
    if let Some(meta) = meta {
        out.insert("meta".into(), meta);
    }
    Value::Object(out)
}

/// A normalised resource, and the readOnly values the input carried.
struct Parts {
    /// `schemas`, `externalId`, core attributes, extension objects.
    body: Map<String, Value>,
    /// readOnly top-level attributes as given (canonical names).
    read_only: Vec<(&'static str, Value)>,
}

/// Names seen in one JSON object, to catch the same attribute spelled twice.
#[derive(Default)]
struct Seen(HashSet<String>);

impl Seen {
    fn check(&mut self, canonical: &str) -> Result<(), ScimError> {
        if self.0.insert(canonical.to_ascii_lowercase()) {
            Ok(())
        } else {
            Err(ScimError::invalid_syntax(format!(
                "Attribute '{canonical}' is given more than once (attribute names are case-insensitive)"
            )))
        }
    }
}

/// Canonical spelling, types, unassigned values, readOnly/writeOnly,
/// unknown attributes, extensions and members: everything that needs only
/// the input.
fn normalise(rt: &'static ResourceTypeDef, input: Value) -> Result<Parts, ScimError> {
    let Value::Object(input) = input else {
        return Err(ScimError::invalid_syntax(format!(
            "A {} resource must be a JSON object",
            rt.name
        )));
    };
    let mut seen = Seen::default();
    let mut schemas_value = None;
    let mut fields = Vec::with_capacity(input.len());
    for (key, value) in input {
        if key.eq_ignore_ascii_case("schemas") {
            seen.check("schemas")?;
            schemas_value = Some(value);
        } else {
            fields.push((key, value));
        }
    }
    let mut declared = declared_schemas(rt, schemas_value)?;

    let mut core = Map::new();
    let mut extensions = Map::new();
    let mut read_only = Vec::new();
    for (key, value) in fields {
        if let Some(attr) = rt.top_level_attribute(&key) {
            seen.check(attr.name)?;
            match attr.mutability {
                Mutability::ReadOnly => read_only.push((attr.name, value)),
                Mutability::WriteOnly => {}
                Mutability::ReadWrite | Mutability::Immutable => {
                    let loc = values::Loc::top(None, attr.name);
                    let value = values::attribute(attr, value, loc)?;
                    let value = match value {
                        Some(list) if members::is_group_members(attr) => members::normalise(list)?,
                        other => other,
                    };
                    if let Some(value) = value {
                        core.insert(attr.name.into(), value);
                    }
                }
            }
        } else if let Some(ext) = rt.extension_by_urn(&key) {
            seen.check(ext.id)?;
            if let Some(value) = values::extension(ext, value)? {
                extensions.insert(ext.id.into(), value);
            }
        } else if let Some(urn) = declared
            .iter()
            .skip(1)
            .find(|d| d.eq_ignore_ascii_case(&key))
        {
            // A client extension this server does not know: kept as sent.
            seen.check(urn)?;
            match value {
                Value::Null => {}
                Value::Object(obj) if obj.is_empty() => {}
                Value::Object(obj) => {
                    extensions.insert(urn.clone(), Value::Object(obj));
                }
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "Extension '{urn}' must be a JSON object"
                    )));
                }
            }
        }
        // Anything else is an attribute no schema here defines: dropped
        // (RFC 7644 §3.3 lets the service provider ignore it).
    }

    for key in extensions.keys() {
        if !declared.iter().any(|d| d.eq_ignore_ascii_case(key)) {
            declared.push(key.clone());
        }
    }

    let mut body = Map::with_capacity(core.len() + extensions.len() + 1);
    body.insert(
        "schemas".into(),
        Value::Array(declared.into_iter().map(Value::String).collect()),
    );
    if let Some(external) = core.shift_remove("externalId") {
        body.insert("externalId".into(), external);
    }
    body.extend(core);
    body.extend(extensions);
    Ok(Parts { body, read_only })
}

/// The `schemas` to store: the core URN first, then the declared ones in
/// their canonical spelling when known, without duplicates.
fn declared_schemas(
    rt: &'static ResourceTypeDef,
    value: Option<Value>,
) -> Result<Vec<String>, ScimError> {
    let not_uris = || ScimError::invalid_syntax("'schemas' must be an array of schema URIs");
    let given: Vec<String> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(not_uris()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(not_uris()),
    };
    let mut out = vec![rt.schema.id.to_owned()];
    let mut has_core = given.is_empty();
    for uri in given.into_iter().filter(|u| !u.trim().is_empty()) {
        let canonical = match rt.schema_by_urn(&uri) {
            Some(s) if std::ptr::eq(s, rt.schema) => {
                has_core = true;
                continue;
            }
            Some(ext) => ext.id.to_owned(),
            None if belongs_elsewhere(&uri) => {
                return Err(ScimError::invalid_syntax(format!(
                    "Schema '{uri}' does not apply to {} resources",
                    rt.name
                )));
            }
            None => uri,
        };
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&canonical)) {
            out.push(canonical);
        }
    }
    if !has_core {
        return Err(ScimError::invalid_syntax(format!(
            "'schemas' must include '{}'",
            rt.schema.id
        )));
    }
    Ok(out)
}

/// Whether `uri` is a schema this server knows for something else: another
/// resource type, an extension of another type, a discovery or message
/// schema, or any other IETF core schema.
fn belongs_elsewhere(uri: &str) -> bool {
    const RESERVED: [&str; 2] = [
        "urn:ietf:params:scim:schemas:core:",
        "urn:ietf:params:scim:api:messages:",
    ];
    schema::schema_by_id(uri).is_some()
        || RESERVED.iter().any(|p| {
            uri.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        })
}

#[cfg(test)]
mod tests;
