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

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::crd::{
    Address, EnterpriseAttributes, GroupMember, Manager, MultiValue, PersonName, ScimGroupSpec,
    ScimUserSpec,
};
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
    let enterprise = spec.enterprise.as_ref().map(|e| Value::Object(e.write()));
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

/// The sub-attributes of one complex value, and where it is for errors.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    /// Prepended to a sub-attribute's name in error paths, separator included.
    prefix: &'a str,
}

impl Fields<'_> {
    fn at(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn string(&self, key: &str) -> Result<Option<String>, ConvertError> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(v) => string(v, &self.at(key)),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ConvertError> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(v) => boolean(v, &self.at(key)),
        }
    }

    /// The first key the type cannot hold, if any.
    fn unknown_key(&self, known: &[&str]) -> Option<&str> {
        self.obj
            .keys()
            .map(String::as_str)
            .find(|k| !known.contains(k))
    }
}

/// A complex value a CRD struct models.
trait Complex: Sized {
    /// The sub-attributes (JSON names) the struct holds.
    const KEYS: &'static [&'static str];
    /// The separator between the value's path and a sub-attribute's name:
    /// `.` for complex attributes, `:` for extension objects.
    const SEPARATOR: &'static str = ".";

    /// Reads an object whose keys are all in [`Self::KEYS`]. `Ok(None)`
    /// when a nested value has sub-attributes the struct cannot hold.
    fn read(fields: &Fields<'_>) -> Result<Option<Self>, ConvertError>;

    /// The JSON object, sub-attributes in RFC 7643 order, unset ones left out.
    fn write(&self) -> Map<String, Value>;
}

/// One complex value at `at`: `Ok(None)` when `T` cannot hold all of it.
fn complex<T: Complex>(value: &Value, at: &str) -> Result<Option<T>, ConvertError> {
    let Value::Object(obj) = value else {
        return Err(wrong_type(at, "an object", value));
    };
    let prefix = format!("{at}{}", T::SEPARATOR);
    let fields = Fields {
        obj,
        prefix: &prefix,
    };
    if fields.unknown_key(T::KEYS).is_some() {
        return Ok(None);
    }
    T::read(&fields)
}

/// A multi-valued complex attribute at `at`: `Ok(None)` when `T` cannot hold
/// one of its values.
fn complex_list<T: Complex>(value: &Value, at: &str) -> Result<Option<Vec<T>>, ConvertError> {
    let Value::Array(items) = value else {
        return Err(wrong_type(at, "an array", value));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match complex(item, &format!("{at}[{i}]"))? {
            Some(v) => out.push(v),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// Sets `slot` from a single complex attribute, or keeps the attribute
/// whole in `extra` when the struct cannot hold it.
fn typed_one<T: Complex>(
    key: &str,
    value: &Value,
    slot: &mut Option<T>,
    extra: &mut BTreeMap<String, Value>,
) -> Result<(), ConvertError> {
    match complex(value, key)? {
        Some(v) => *slot = Some(v),
        None => {
            extra.insert(key.to_owned(), value.clone());
        }
    }
    Ok(())
}

/// Sets `slot` from a multi-valued complex attribute, or keeps the attribute
/// whole in `extra` when the struct cannot hold one of its values.
fn typed_list<T: Complex>(
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
/// [`ConvertError::UnsupportedMember`]).
fn members(value: &Value) -> Result<Vec<GroupMember>, ConvertError> {
    let Value::Array(items) = value else {
        return Err(wrong_type("members", "an array", value));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("members[{i}]");
        if let Value::Object(obj) = item {
            let prefix = format!("{at}.");
            let fields = Fields {
                obj,
                prefix: &prefix,
            };
            if let Some(key) = fields.unknown_key(GroupMember::KEYS) {
                return Err(ConvertError::UnsupportedMember {
                    attribute: fields.at(key),
                });
            }
        }
        // Known keys only now, so `None` cannot happen; treated as the
        // unsupported case all the same rather than unwrapped.
        match complex::<GroupMember>(item, &at)? {
            Some(member) => out.push(member),
            None => return Err(ConvertError::UnsupportedMember { attribute: at }),
        }
    }
    Ok(out)
}

impl Complex for PersonName {
    const KEYS: &'static [&'static str] = &[
        "formatted",
        "familyName",
        "givenName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
    ];

    fn read(f: &Fields<'_>) -> Result<Option<Self>, ConvertError> {
        Ok(Some(PersonName {
            formatted: f.string("formatted")?,
            family_name: f.string("familyName")?,
            given_name: f.string("givenName")?,
            middle_name: f.string("middleName")?,
            honorific_prefix: f.string("honorificPrefix")?,
            honorific_suffix: f.string("honorificSuffix")?,
        }))
    }

    fn write(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put_string(&mut m, "formatted", &self.formatted);
        put_string(&mut m, "familyName", &self.family_name);
        put_string(&mut m, "givenName", &self.given_name);
        put_string(&mut m, "middleName", &self.middle_name);
        put_string(&mut m, "honorificPrefix", &self.honorific_prefix);
        put_string(&mut m, "honorificSuffix", &self.honorific_suffix);
        m
    }
}

impl Complex for MultiValue {
    const KEYS: &'static [&'static str] = &["value", "display", "type", "primary"];

    fn read(f: &Fields<'_>) -> Result<Option<Self>, ConvertError> {
        Ok(Some(MultiValue {
            value: f.string("value")?,
            display: f.string("display")?,
            type_: f.string("type")?,
            primary: f.boolean("primary")?,
        }))
    }

    fn write(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put_string(&mut m, "value", &self.value);
        put_string(&mut m, "display", &self.display);
        put_string(&mut m, "type", &self.type_);
        put_bool(&mut m, "primary", self.primary);
        m
    }
}

impl Complex for Address {
    const KEYS: &'static [&'static str] = &[
        "formatted",
        "streetAddress",
        "locality",
        "region",
        "postalCode",
        "country",
        "type",
        "primary",
    ];

    fn read(f: &Fields<'_>) -> Result<Option<Self>, ConvertError> {
        Ok(Some(Address {
            formatted: f.string("formatted")?,
            street_address: f.string("streetAddress")?,
            locality: f.string("locality")?,
            region: f.string("region")?,
            postal_code: f.string("postalCode")?,
            country: f.string("country")?,
            type_: f.string("type")?,
            primary: f.boolean("primary")?,
        }))
    }

    fn write(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put_string(&mut m, "formatted", &self.formatted);
        put_string(&mut m, "streetAddress", &self.street_address);
        put_string(&mut m, "locality", &self.locality);
        put_string(&mut m, "region", &self.region);
        put_string(&mut m, "postalCode", &self.postal_code);
        put_string(&mut m, "country", &self.country);
        put_string(&mut m, "type", &self.type_);
        put_bool(&mut m, "primary", self.primary);
        m
    }
}

impl Complex for EnterpriseAttributes {
    const KEYS: &'static [&'static str] = &[
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    ];
    const SEPARATOR: &'static str = ":";

    fn read(f: &Fields<'_>) -> Result<Option<Self>, ConvertError> {
        let manager = match f.obj.get("manager") {
            None | Some(Value::Null) => None,
            Some(v) => match complex::<Manager>(v, &f.at("manager"))? {
                Some(m) => Some(m),
                // The whole extension object goes to `extra` then.
                None => return Ok(None),
            },
        };
        Ok(Some(EnterpriseAttributes {
            employee_number: f.string("employeeNumber")?,
            cost_center: f.string("costCenter")?,
            organization: f.string("organization")?,
            division: f.string("division")?,
            department: f.string("department")?,
            manager,
        }))
    }

    fn write(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put_string(&mut m, "employeeNumber", &self.employee_number);
        put_string(&mut m, "costCenter", &self.cost_center);
        put_string(&mut m, "organization", &self.organization);
        put_string(&mut m, "division", &self.division);
        put_string(&mut m, "department", &self.department);
        if let Some(manager) = &self.manager {
            m.insert("manager".into(), Value::Object(manager.write()));
        }
        m
    }
}

/// The write path keeps `manager.$ref` as the client sent it (RFC 7643
/// §4.3; the §8.3 example has one), so `Manager` got a `$ref` field
/// (`reference`) rather than sending every user with a manager reference
/// wholly to `extra`: `kubectl get -o yaml` then shows the enterprise
/// attributes as the typed fields they are, `$ref` beside `value`.
impl Complex for Manager {
    const KEYS: &'static [&'static str] = &["value", "$ref", "displayName"];

    fn read(f: &Fields<'_>) -> Result<Option<Self>, ConvertError> {
        Ok(Some(Manager {
            value: f.string("value")?,
            reference: f.string("$ref")?,
            display_name: f.string("displayName")?,
        }))
    }

    fn write(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put_string(&mut m, "value", &self.value);
        put_string(&mut m, "$ref", &self.reference);
        put_string(&mut m, "displayName", &self.display_name);
        m
    }
}

impl Complex for GroupMember {
    /// No `$ref`: the protocol layer derives it on the way out and never
    /// stores it.
    const KEYS: &'static [&'static str] = &["value", "display", "type"];

    fn read(f: &Fields<'_>) -> Result<Option<Self>, ConvertError> {
        let value = f.string("value")?.ok_or_else(|| ConvertError::Missing {
            resource: "Group",
            attribute: f.at("value"),
        })?;
        Ok(Some(GroupMember {
            value,
            display: f.string("display")?,
            type_: f.string("type")?,
        }))
    }

    fn write(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("value".into(), Value::String(self.value.clone()));
        put_string(&mut m, "display", &self.display);
        put_string(&mut m, "type", &self.type_);
        m
    }
}

// ---------------------------------------------------------------------------
// Writing

fn put_string(m: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        m.insert(key.into(), Value::String(v.clone()));
    }
}

fn put_bool(m: &mut Map<String, Value>, key: &str, value: Option<bool>) {
    if let Some(v) = value {
        m.insert(key.into(), Value::Bool(v));
    }
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

    fn one<T: Complex>(&mut self, key: &str, value: &Option<T>) {
        self.put(key, value.as_ref().map(|v| Value::Object(v.write())));
    }

    /// A multi-valued attribute; none is left out, as the protocol layer
    /// removes `[]` (RFC 7643 §2.5).
    fn list<T: Complex>(&mut self, key: &str, values: &[T]) {
        let typed = (!values.is_empty())
            .then(|| Value::Array(values.iter().map(|v| Value::Object(v.write())).collect()));
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
