//! SCIM JSON ↔ `ScimUser`/`ScimGroup` specs. Pure: no I/O.
//!
//! The input of [`user_spec_from_scim`] and [`group_spec_from_scim`] is a
//! resource as the protocol layer normalises it (`scim::resource`:
//! canonical attribute names, unassigned values removed, unknown core
//! attributes dropped, `password` dropped, declared extensions kept under
//! their URN). `schemas`, `id`, `meta` and a User's computed `groups` are
//! ignored: the store keeps `id` as the object name and `meta` in the
//! object's metadata, `groups` is derived from the Groups, and `schemas` is
//! derived again from what the spec holds.
//!
//! Typed spec fields take the attributes they model, so `kubectl get -o
//! yaml` and the controller see plain fields. Everything else is kept
//! losslessly in `extra`, keyed as in the SCIM JSON: extension objects other
//! than the enterprise one under their URN, and any attribute whose value the
//! typed structs cannot hold (a sub-attribute they lack) whole under its
//! name. Falling back per top-level attribute keeps the typed fields typed
//! in the common case and needs no `extra` inside every nested struct.
//!
//! The roundtrip law: for a resource `R` the protocol layer produces,
//! `user_to_scim(&user_spec_from_scim(&R)?)` is `R` without `id`, `meta`
//! and `groups`. One
//! part is derived rather than kept: `schemas` is rebuilt from the content
//! (core URN, enterprise URN, then the other extension URNs sorted), so a
//! URN `R` lists without sending its object is not kept, and the extension
//! URNs come out in that order whatever order the client listed them in.
//!
//! Errors are for input the protocol layer would not produce: a resource
//! that is not an object, a missing `userName`/`displayName`, or a value of
//! the wrong JSON type for a typed field.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use crate::crd::{GroupMember, ScimGroupSpec, ScimUserSpec};
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA_URN, GROUP_SCHEMA_URN, USER_SCHEMA_URN};

/// Why a SCIM resource cannot become a spec. The attribute is named as a
/// path into the resource, e.g. `emails[1].primary` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The resource is not a JSON object.
    #[error("a SCIM {resource} must be a JSON object, not {found}")]
    NotAnObject {
        /// `User` or `Group`.
        resource: &'static str,
        /// The JSON type given instead.
        found: &'static str,
    },
    /// A required attribute is absent or `null`.
    #[error("a SCIM {resource} needs '{attribute}'")]
    Missing {
        /// `User` or `Group`.
        resource: &'static str,
        /// Path of the missing attribute.
        attribute: String,
    },
    /// A typed field's value has another JSON type than the spec holds.
    #[error("attribute '{attribute}' must be {expected}, not {found}")]
    WrongType {
        /// Path of the offending value.
        attribute: String,
        /// The JSON type the spec field needs.
        expected: &'static str,
        /// The JSON type given.
        found: &'static str,
    },
    /// A Group member has a sub-attribute `GroupMember` cannot hold. Members
    /// are not moved to `extra` like other attributes: the controller binds
    /// roles from `spec.members`, and a group whose members were hidden in
    /// `extra` would silently lose its bindings.
    #[error("attribute '{attribute}' is not a sub-attribute a ScimGroup member can hold")]
    UnsupportedMember {
        /// Path of the sub-attribute.
        attribute: String,
    },
}

/// The spec of a SCIM User. `active` defaults to `true` when absent; see the
/// module documentation for what goes where.
pub fn user_spec_from_scim(resource: &Value) -> Result<ScimUserSpec, ConvertError> {
    let obj = resource_object(resource, "User")?;
    let mut spec = ScimUserSpec {
        active: None,
        ..ScimUserSpec::default()
    };
    let mut user_name = None;
    for (key, value) in obj {
        // `null` is unassigned (RFC 7643 §2.5), the same as absent.
        if value.is_null() {
            continue;
        }
        let extra = &mut spec.extra;
        match key.as_str() {
            // Derived or stored elsewhere; see the module documentation.
            "schemas" | "id" | "meta" | "groups" => {}
            // The protocol layer drops it already; a password must never end
            // up in an object anyone with `get` on ScimUsers can read.
            "password" => {}
            "userName" => user_name = string(value, key)?,
            "externalId" => spec.external_id = string(value, key)?,
            "active" => spec.active = boolean(value, key)?,
            "displayName" => spec.display_name = string(value, key)?,
            "nickName" => spec.nick_name = string(value, key)?,
            "profileUrl" => spec.profile_url = string(value, key)?,
            "title" => spec.title = string(value, key)?,
            "userType" => spec.user_type = string(value, key)?,
            "preferredLanguage" => spec.preferred_language = string(value, key)?,
            "locale" => spec.locale = string(value, key)?,
            "timezone" => spec.timezone = string(value, key)?,
            "name" => typed_one(key, value, &mut spec.name, extra)?,
            "emails" => typed_list(key, value, &mut spec.emails, extra)?,
            "phoneNumbers" => typed_list(key, value, &mut spec.phone_numbers, extra)?,
            "ims" => typed_list(key, value, &mut spec.ims, extra)?,
            "photos" => typed_list(key, value, &mut spec.photos, extra)?,
            "addresses" => typed_list(key, value, &mut spec.addresses, extra)?,
            "entitlements" => typed_list(key, value, &mut spec.entitlements, extra)?,
            "roles" => typed_list(key, value, &mut spec.roles, extra)?,
            "x509Certificates" => typed_list(key, value, &mut spec.x509_certificates, extra)?,
            ENTERPRISE_USER_SCHEMA_URN => typed_one(key, value, &mut spec.enterprise, extra)?,
            _ => {
                extra.insert(key.clone(), value.clone());
            }
        }
    }
    spec.user_name = user_name.ok_or_else(|| ConvertError::Missing {
        resource: "User",
        attribute: "userName".into(),
    })?;
    Ok(spec)
}

/// The SCIM representation of a user spec, without `id`, `meta` and
/// `groups`: `schemas` first, then the attributes in RFC 7643 §4.1 order,
/// attributes kept in `extra` in their place (other unknown ones after the
/// core ones), extension objects last. `active` is always given.
///
/// A typed field wins over an `extra` entry of the same name, which only an
/// edit by hand can create.
pub fn user_to_scim(spec: &ScimUserSpec) -> Value {
    let enterprise = spec.enterprise.as_ref().map(to_json);
    let mut out = Output::new(
        USER_SCHEMA_URN,
        Some((ENTERPRISE_USER_SCHEMA_URN, enterprise)),
        &spec.extra,
    );
    out.string("externalId", &spec.external_id);
    out.put("userName", Some(Value::String(spec.user_name.clone())));
    out.one("name", &spec.name);
    out.string("displayName", &spec.display_name);
    out.string("nickName", &spec.nick_name);
    out.string("profileUrl", &spec.profile_url);
    out.string("title", &spec.title);
    out.string("userType", &spec.user_type);
    out.string("preferredLanguage", &spec.preferred_language);
    out.string("locale", &spec.locale);
    out.string("timezone", &spec.timezone);
    out.put("active", spec.active.map(Value::Bool));
    out.list("emails", &spec.emails);
    out.list("phoneNumbers", &spec.phone_numbers);
    out.list("ims", &spec.ims);
    out.list("photos", &spec.photos);
    out.list("addresses", &spec.addresses);
    out.list("entitlements", &spec.entitlements);
    out.list("roles", &spec.roles);
    out.list("x509Certificates", &spec.x509_certificates);
    out.finish()
}

/// The spec of a SCIM Group. Every member needs a string `value`; see the
/// module documentation for what goes where.
pub fn group_spec_from_scim(resource: &Value) -> Result<ScimGroupSpec, ConvertError> {
    let obj = resource_object(resource, "Group")?;
    let mut spec = ScimGroupSpec::default();
    let mut display_name = None;
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "schemas" | "id" | "meta" => {}
            "displayName" => display_name = string(value, key)?,
            "externalId" => spec.external_id = string(value, key)?,
            "members" => spec.members = members(value)?,
            _ => {
                spec.extra.insert(key.clone(), value.clone());
            }
        }
    }
    spec.display_name = display_name.ok_or_else(|| ConvertError::Missing {
        resource: "Group",
        attribute: "displayName".into(),
    })?;
    Ok(spec)
}

/// The SCIM representation of a group spec, without `id` and `meta`:
/// `schemas`, `externalId`, `displayName`, `members` (left out when there
/// are none, as the protocol layer removes `[]`), then `extra`.
pub fn group_to_scim(spec: &ScimGroupSpec) -> Value {
    let mut out = Output::new(GROUP_SCHEMA_URN, None, &spec.extra);
    out.string("externalId", &spec.external_id);
    out.put(
        "displayName",
        Some(Value::String(spec.display_name.clone())),
    );
    out.list("members", &spec.members);
    out.finish()
}

// ---------------------------------------------------------------------------
// Reading

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

fn wrong_type(attribute: impl Into<String>, expected: &'static str, got: &Value) -> ConvertError {
    ConvertError::WrongType {
        attribute: attribute.into(),
        expected,
        found: json_kind(got),
    }
}

fn resource_object<'a>(
    resource: &'a Value,
    name: &'static str,
) -> Result<&'a Map<String, Value>, ConvertError> {
    resource.as_object().ok_or(ConvertError::NotAnObject {
        resource: name,
        found: json_kind(resource),
    })
}

/// A string value at `at`; `null` is `None`.
fn string(value: &Value, at: &str) -> Result<Option<String>, ConvertError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(wrong_type(at, "a string", other)),
    }
}

/// A boolean value at `at`; `null` is `None`. Strings are not coerced: the
/// protocol layer has already turned Entra ID's `"True"` into `true`.
fn boolean(value: &Value, at: &str) -> Result<Option<bool>, ConvertError> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(wrong_type(at, "a boolean", other)),
    }
}

/// How a complex value reads into the CRD struct that models it.
enum Read<T> {
    /// The struct holds all of it.
    Typed(T),
    /// The struct has no sub-attribute at this path below the value.
    Unknown(String),
}

/// One complex value at `at`, read by `T`'s derived `Deserialize`. A
/// sub-attribute's path is joined to `at` with `:` when `at` is an extension
/// URN and `.` otherwise; `resource` names the resource a missing required
/// sub-attribute belongs to.
///
/// A sub-attribute `T` cannot hold wins over a value of the wrong type
/// anywhere in the same value: serde stops at the first bad value, so that
/// value is dropped from a copy and the copy read again until it reads or a
/// key turns out unknown. Only input with errors pays for this.
fn read<T: DeserializeOwned>(
    value: &Value,
    at: &str,
    resource: &'static str,
) -> Result<Read<T>, ConvertError> {
    if !value.is_object() {
        return Err(wrong_type(at, "an object", value));
    }
    let at = Located {
        at,
        separator: if is_schema_key(at) { ":" } else { "." },
    };
    let mut input = Cow::Borrowed(value);
    let mut first_error = None;
    loop {
        let mut unknown = None;
        let mut ignored = |path: serde_ignored::Path<'_>| {
            unknown.get_or_insert_with(|| ignored_path(&path));
        };
        let result: Result<T, _> = serde_path_to_error::deserialize(
            serde_ignored::Deserializer::new(&*input, &mut ignored),
        );
        if let Some(key) = unknown {
            return Ok(Read::Unknown(key));
        }
        let error = match result {
            Ok(typed) => {
                return match first_error.or_else(|| struct_from_array(value, &at)) {
                    Some(e) => Err(e),
                    None => Ok(Read::Typed(typed)),
                };
            }
            Err(e) => e,
        };
        let path: Vec<Segment> = error.path().iter().cloned().collect();
        let e = convert_error(&input, &at, resource, &path, error.inner());
        let first = first_error.get_or_insert(e);
        if !remove(input.to_mut(), &path) {
            return Err(first.clone());
        }
    }
}

/// Where a complex value is, for error paths.
struct Located<'a> {
    at: &'a str,
    /// Between `at` and a sub-attribute's path.
    separator: &'static str,
}

impl Located<'_> {
    fn join(&self, below: &str) -> String {
        format!("{}{}{below}", self.at, self.separator)
    }
}

/// The error serde gave at `path` below the value, in this module's terms:
/// the offending value's JSON type is looked up in `value`, the type the
/// struct needs is taken from serde's `expected ...`.
fn convert_error(
    value: &Value,
    at: &Located<'_>,
    resource: &'static str,
    path: &[Segment],
    error: &serde_json::Error,
) -> ConvertError {
    let mut below = String::new();
    let mut found = Some(value);
    for segment in path {
        match segment {
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !below.is_empty() {
                    below.push('.');
                }
                below.push_str(key);
                found = found.and_then(|v| v.get(key));
            }
            // Inside an array only when serde reads a struct from one by
            // position; SCIM has no such thing, so the array is the error.
            // (`Unknown`, a key that is not a string, cannot occur in JSON.)
            Segment::Seq { .. } | Segment::Unknown => {
                return ConvertError::WrongType {
                    attribute: at.join(&below),
                    expected: "an object",
                    found: found.map_or("null", json_kind),
                };
            }
        }
    }
    let message = error.to_string();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        let path = if below.is_empty() {
            field.to_owned()
        } else {
            format!("{below}.{field}")
        };
        return ConvertError::Missing {
            resource,
            attribute: at.join(&path),
        };
    }
    match found {
        // A required sub-attribute given as `null` (unassigned).
        None | Some(Value::Null) => ConvertError::Missing {
            resource,
            attribute: at.join(&below),
        },
        Some(found) => ConvertError::WrongType {
            attribute: at.join(&below),
            // The structs hold strings, booleans and structs; serde expects
            // the last as `struct Name` or, given an array, some length.
            expected: match message.rsplit_once("expected ").map(|(_, e)| e) {
                Some("a string") => "a string",
                Some("a boolean") => "a boolean",
                _ => "an object",
            },
            found: json_kind(found),
        },
    }
}

/// An array below a value its struct read without error: serde reads a
/// struct from an array by position, SCIM does not.
fn struct_from_array(value: &Value, at: &Located<'_>) -> Option<ConvertError> {
    fn array_in(value: &Value) -> Option<String> {
        let Value::Object(obj) = value else {
            return None;
        };
        obj.iter().find_map(|(k, v)| match v {
            Value::Array(_) => Some(k.clone()),
            _ => array_in(v).map(|below| format!("{k}.{below}")),
        })
    }
    array_in(value).map(|below| ConvertError::WrongType {
        attribute: at.join(&below),
        expected: "an object",
        found: "an array",
    })
}

/// Removes the entry at `path` below `value`; false when there is none.
fn remove(value: &mut Value, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut parent = value;
    for segment in parents {
        let child = match (segment, parent) {
            (Segment::Map { key }, Value::Object(obj)) => obj.get_mut(key),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        match child {
            Some(child) => parent = child,
            None => return false,
        }
    }
    match (last, parent) {
        (Segment::Map { key }, Value::Object(obj)) => obj.shift_remove(key).is_some(),
        (Segment::Seq { index }, Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

/// A path `serde_ignored` reports, as `manager.email`.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => match ignored_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// A multi-valued complex attribute at `at`: `Ok(None)` when `T` cannot hold
/// one of its values.
fn complex_list<T: DeserializeOwned>(
    value: &Value,
    at: &str,
) -> Result<Option<Vec<T>>, ConvertError> {
    let Value::Array(items) = value else {
        return Err(wrong_type(at, "an array", value));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match read(item, &format!("{at}[{i}]"), "User")? {
            Read::Typed(v) => out.push(v),
            Read::Unknown(_) => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// Sets `slot` from a single complex attribute, or keeps the attribute
/// whole in `extra` when the struct cannot hold it.
fn typed_one<T: DeserializeOwned>(
    key: &str,
    value: &Value,
    slot: &mut Option<T>,
    extra: &mut BTreeMap<String, Value>,
) -> Result<(), ConvertError> {
    match read(value, key, "User")? {
        Read::Typed(v) => *slot = Some(v),
        Read::Unknown(_) => {
            extra.insert(key.to_owned(), value.clone());
        }
    }
    Ok(())
}

/// Sets `slot` from a multi-valued complex attribute, or keeps the attribute
/// whole in `extra` when the struct cannot hold one of its values.
fn typed_list<T: DeserializeOwned>(
    key: &str,
    value: &Value,
    slot: &mut Vec<T>,
    extra: &mut BTreeMap<String, Value>,
) -> Result<(), ConvertError> {
    match complex_list(value, key)? {
        Some(v) => *slot = v,
        None => {
            extra.insert(key.to_owned(), value.clone());
        }
    }
    Ok(())
}

/// Group members: typed or an error, never moved to `extra` (see
/// [`ConvertError::UnsupportedMember`]). `$ref` is not a sub-attribute
/// `GroupMember` holds: the protocol layer derives it on the way out and
/// never stores it.
fn members(value: &Value) -> Result<Vec<GroupMember>, ConvertError> {
    let Value::Array(items) = value else {
        return Err(wrong_type("members", "an array", value));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("members[{i}]");
        match read(item, &at, "Group")? {
            Read::Typed(member) => out.push(member),
            Read::Unknown(key) => {
                return Err(ConvertError::UnsupportedMember {
                    attribute: format!("{at}.{key}"),
                });
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Writing

/// A CRD struct as SCIM JSON: its derived `Serialize` writes the
/// sub-attributes in RFC 7643 order (the structs' field order), unset ones
/// left out.
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("a CRD struct serializes to JSON")
}

/// Whether an `extra` key is a schema URI (an extension object) rather than
/// an attribute name: attribute names cannot contain `:` (RFC 7643 §2.1
/// `ATTRNAME`), and extension URIs always do, `urn:` or not.
fn is_schema_key(key: &str) -> bool {
    key.contains(':')
}

/// A resource being written: typed fields in order, with the `extra`
/// entries not yet placed.
struct Output<'a> {
    out: Map<String, Value>,
    extra: BTreeMap<&'a str, &'a Value>,
    /// The extension a typed spec field holds (the enterprise one for Users),
    /// with its value; it comes before the other extensions.
    extension: Option<(&'static str, Option<Value>)>,
}

impl<'a> Output<'a> {
    /// Starts with `schemas`: `core`, the typed extension's URN when the
    /// typed field or an `extra` entry holds it, then the other extension
    /// URIs of `extra` in sorted order. Entries of `extra` named like the
    /// common attributes are left out: they are not the spec's to give.
    fn new(
        core: &'static str,
        extension: Option<(&'static str, Option<Value>)>,
        extra: &'a BTreeMap<String, Value>,
    ) -> Self {
        let extra: BTreeMap<&str, &Value> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .filter(|(k, _)| !matches!(*k, "schemas" | "id" | "meta"))
            .collect();
        let mut schemas = vec![Value::String(core.to_owned())];
        if let Some((urn, typed)) = &extension
            && (typed.is_some() || extra.contains_key(urn))
        {
            schemas.push(Value::String((*urn).to_owned()));
        }
        schemas.extend(
            extra
                .keys()
                .filter(|k| is_schema_key(k) && extension.as_ref().is_none_or(|(u, _)| u != *k))
                .map(|k| Value::String((*k).to_owned())),
        );
        let mut out = Map::new();
        out.insert("schemas".into(), Value::Array(schemas));
        Output {
            out,
            extra,
            extension,
        }
    }

    /// `key`: the typed value if any, else an `extra` entry of that name.
    fn put(&mut self, key: &str, typed: Option<Value>) {
        let kept = self.extra.remove(key);
        if let Some(v) = typed.or_else(|| kept.cloned()) {
            self.out.insert(key.into(), v);
        }
    }

    fn string(&mut self, key: &str, value: &Option<String>) {
        self.put(key, value.clone().map(Value::String));
    }

    fn one<T: Serialize>(&mut self, key: &str, value: &Option<T>) {
        self.put(key, value.as_ref().map(to_json));
    }

    /// A multi-valued attribute; none is left out, as the protocol layer
    /// removes `[]` (RFC 7643 §2.5).
    fn list<T: Serialize>(&mut self, key: &str, values: &[T]) {
        let typed =
            (!values.is_empty()).then(|| Value::Array(values.iter().map(to_json).collect()));
        self.put(key, typed);
    }

    /// The remaining `extra` attributes, the typed extension, then the other
    /// extension objects, in the order `schemas` lists them.
    fn finish(mut self) -> Value {
        let extra = std::mem::take(&mut self.extra);
        let (attributes, extensions): (Vec<_>, Vec<_>) =
            extra.into_iter().partition(|(k, _)| !is_schema_key(k));
        for (k, v) in attributes {
            // Typed fields win over a same-named entry.
            if !self.out.contains_key(k) {
                self.out.insert(k.into(), v.clone());
            }
        }
        if let Some((urn, typed)) = self.extension.take() {
            let kept = extensions
                .iter()
                .find(|(k, _)| *k == urn)
                .map(|(_, v)| (*v).clone());
            if let Some(v) = typed.or(kept) {
                self.out.insert(urn.into(), v);
            }
        }
        for (k, v) in extensions {
            if !self.out.contains_key(k) {
                self.out.insert(k.into(), v.clone());
            }
        }
        Value::Object(self.out)
    }
}

#[cfg(test)]
mod tests;
