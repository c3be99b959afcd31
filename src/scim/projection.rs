//! Partial representations: the `attributes` and `excludedAttributes`
//! parameters (RFC 7644 §3.4.2.5, §3.9) and the `returned` characteristic
//! (RFC 7643 §7), applied to a resource held as JSON.
//!
//! Rules, in order of precedence:
//! - `returned: never` attributes (password) are always removed;
//! - `returned: always` attributes (`id`, `schemas`) are always kept, whatever
//!   either parameter says;
//! - with `attributes`, only the listed attributes (or sub-attributes) are
//!   kept; a listed complex attribute keeps its default sub-attributes;
//! - without it, `returned: request` attributes are removed and the rest kept;
//! - `excludedAttributes` then removes what it names. RFC 7644 calls the two
//!   parameters mutually exclusive; given both, the exclusion applies to the
//!   inclusion's result rather than being an error.
//!
//! Names are case-insensitive, may be URN-qualified, and a bare schema URN
//! (e.g. the enterprise extension's) stands for all of that schema's
//! attributes. Unknown names are ignored (RFC 7644 does not ask for an error
//! and IdPs send names from their own schemas); malformed ones are
//! `invalidValue`, the keyword RFC 7644 §3.12 gives GET parameters
//! (`invalidPath` is for PATCH paths).

use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::parse_attr_path;
use super::schema::{
    self, AttrType, AttributeDef, RESOURCE_TYPES, ResourceTypeDef, Returned, SchemaDef,
};

/// One resolved entry of `attributes` or `excludedAttributes`.
#[derive(Debug, Clone, Copy)]
enum Sel {
    /// Every attribute of a schema, from a bare schema URN.
    Schema(&'static SchemaDef),
    /// An attribute, or one of its sub-attributes.
    Attr {
        attr: &'static AttributeDef,
        sub: Option<&'static AttributeDef>,
    },
}

impl Sel {
    /// Whether this entry names `attr` of `schema` as a whole. A whole schema
    /// names only the attributes returned by default, so `returned: request`
    /// ones still need naming explicitly.
    fn names_whole(&self, schema: &SchemaDef, attr: &AttributeDef) -> bool {
        match *self {
            Sel::Schema(s) => std::ptr::eq(s, schema) && attr.returned != Returned::Request,
            Sel::Attr { attr: a, sub } => sub.is_none() && std::ptr::eq(a, attr),
        }
    }

    /// Whether this entry names `sub` of `attr`.
    fn names_sub(&self, attr: &AttributeDef, sub: &AttributeDef) -> bool {
        matches!(*self, Sel::Attr { attr: a, sub: Some(s) }
            if std::ptr::eq(a, attr) && std::ptr::eq(s, sub))
    }

    /// Whether this entry names some sub-attribute of `attr`.
    fn names_some_sub(&self, attr: &AttributeDef) -> bool {
        matches!(*self, Sel::Attr { attr: a, sub: Some(_) } if std::ptr::eq(a, attr))
    }
}

/// How much of a complex attribute's value an inclusion asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The default sub-attributes plus any explicitly requested ones.
    Whole,
    /// Only the explicitly requested sub-attributes.
    Listed,
}

/// A parsed `attributes` / `excludedAttributes` pair for one resource type.
#[derive(Debug, Clone)]
pub struct Projection {
    rt: &'static ResourceTypeDef,
    include: Option<Vec<Sel>>,
    exclude: Vec<Sel>,
}

impl Projection {
    /// The default representation: everything but `returned: never` and
    /// `returned: request` attributes.
    pub fn default_for(rt: &'static ResourceTypeDef) -> Self {
        Self {
            rt,
            include: None,
            exclude: Vec::new(),
        }
    }

    /// Parses the comma-separated query parameters (or the `SearchRequest`
    /// members joined with commas). Absent or blank parameters mean "no
    /// restriction".
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        rt: &'static ResourceTypeDef,
    ) -> Result<Self, ScimError> {
        let include = match attributes.filter(|s| !s.trim().is_empty()) {
            Some(list) => Some(resolve_list("attributes", list, rt)?),
            None => None,
        };
        let exclude = match excluded {
            Some(list) => resolve_list("excludedAttributes", list, rt)?,
            None => Vec::new(),
        };
        Ok(Self {
            rt,
            include,
            exclude,
        })
    }

    /// Whether this is the default representation, so callers can skip work.
    pub fn is_default(&self) -> bool {
        self.include.is_none() && self.exclude.is_empty()
    }

    /// Reduces `resource` to the requested representation in place. Extension
    /// URNs whose object the projection removed are also removed from
    /// `schemas`, which RFC 7643 §3 defines as the schemas present.
    pub fn apply(&self, resource: &mut Value) {
        let Value::Object(obj) = resource else { return };
        let mut dropped: Vec<&'static str> = Vec::new();
        obj.retain(|key, value| {
            if let Some(attr) = self.rt.top_level_attribute(key) {
                self.keep(self.rt.schema, attr, value)
            } else if let Some(ext) = self.rt.extension_by_urn(key) {
                let keep = self.keep_extension(ext, value);
                if !keep {
                    dropped.push(ext.id);
                }
                keep
            } else {
                // Not in the schema: nobody asked for it, but do not hide it
                // from a client that asked for the default representation.
                self.include.is_none()
            }
        });
        if !dropped.is_empty()
            && let Some(Value::Array(schemas)) = obj
                .iter_mut()
                .find_map(|(k, v)| k.eq_ignore_ascii_case("schemas").then_some(v))
        {
            schemas.retain(|s| {
                !s.as_str()
                    .is_some_and(|s| dropped.iter().any(|d| d.eq_ignore_ascii_case(s)))
            });
        }
    }

    fn excluded_whole(&self, schema: &SchemaDef, attr: &AttributeDef) -> bool {
        self.exclude.iter().any(|s| match *s {
            // Excluding a whole schema excludes even `request` attributes.
            Sel::Schema(sc) => std::ptr::eq(sc, schema),
            _ => s.names_whole(schema, attr),
        })
    }

    fn keep_extension(&self, ext: &'static SchemaDef, value: &mut Value) -> bool {
        let Value::Object(obj) = value else {
            return self.include.is_none();
        };
        if obj.is_empty() {
            return self.include.is_none();
        }
        obj.retain(|key, v| match ext.attribute(key) {
            Some(attr) => self.keep(ext, attr, v),
            None => {
                self.include.is_none()
                    && !self
                        .exclude
                        .iter()
                        .any(|s| matches!(*s, Sel::Schema(sc) if std::ptr::eq(sc, ext)))
            }
        });
        !obj.is_empty()
    }

    /// Whether to keep attribute `attr` of `schema` with value `value`,
    /// trimming its sub-attributes as a side effect.
    fn keep(&self, schema: &SchemaDef, attr: &'static AttributeDef, value: &mut Value) -> bool {
        match attr.returned {
            Returned::Never => return false,
            Returned::Always => return true,
            Returned::Default | Returned::Request => {}
        }
        let mode = match &self.include {
            None if attr.returned == Returned::Request => return false,
            None => Mode::Whole,
            Some(inc) if inc.iter().any(|s| s.names_whole(schema, attr)) => Mode::Whole,
            Some(inc) if inc.iter().any(|s| s.names_some_sub(attr)) => Mode::Listed,
            Some(_) => return false,
        };
        if self.excluded_whole(schema, attr) {
            return false;
        }
        if attr.ty != AttrType::Complex {
            return true;
        }
        match value {
            Value::Array(items) if items.is_empty() => mode == Mode::Whole,
            Value::Array(items) => {
                items.retain_mut(|item| self.keep_complex_value(attr, item, mode));
                !items.is_empty()
            }
            other => self.keep_complex_value(attr, other, mode),
        }
    }

    /// Trims one complex value; false when nothing that was there is left.
    fn keep_complex_value(
        &self,
        attr: &'static AttributeDef,
        value: &mut Value,
        mode: Mode,
    ) -> bool {
        let Value::Object(obj) = value else {
            return mode == Mode::Whole;
        };
        if obj.is_empty() {
            return mode == Mode::Whole;
        }
        obj.retain(|key, _| self.keep_sub(attr, key, mode));
        !obj.is_empty()
    }

    fn keep_sub(&self, attr: &'static AttributeDef, key: &str, mode: Mode) -> bool {
        let Some(sub) = attr.sub_attribute(key) else {
            return mode == Mode::Whole;
        };
        let listed = || {
            self.include
                .iter()
                .flatten()
                .any(|s| s.names_sub(attr, sub))
        };
        let wanted = match sub.returned {
            Returned::Never => return false,
            Returned::Always => return true,
            Returned::Request => listed(),
            Returned::Default => mode == Mode::Whole || listed(),
        };
        wanted && !self.exclude.iter().any(|s| s.names_sub(attr, sub))
    }
}

fn resolve_list(
    param: &str,
    list: &str,
    rt: &'static ResourceTypeDef,
) -> Result<Vec<Sel>, ScimError> {
    let mut out = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let path = parse_attr_path(entry)
            .map_err(|e| ScimError::invalid_value(format!("{param}: '{entry}': {e}")))?;
        if let Some(schema) = rt.schema_for_path(&path) {
            out.push(Sel::Schema(schema));
        } else if let Some(r) = rt.find(&path) {
            out.push(Sel::Attr {
                attr: r.attr,
                sub: r.sub,
            });
        }
    }
    Ok(out)
}

/// Removes `returned: never` attributes (the password) from a resource,
/// finding its type from `schemas` or `meta.resourceType`; a resource of no
/// known type is stripped as every type would be. Call it on anything about
/// to leave the server that did not go through [`Projection::apply`].
pub fn strip_never_returned(resource: &mut Value) {
    match resource_type_of(resource) {
        Some(rt) => Projection::default_for(rt).strip_never(resource),
        None => {
            for rt in RESOURCE_TYPES {
                Projection::default_for(rt).strip_never(resource);
            }
        }
    }
}

fn resource_type_of(resource: &Value) -> Option<&'static ResourceTypeDef> {
    let from_schemas = resource
        .get("schemas")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(schema::resource_type_by_schema);
    from_schemas.or_else(|| {
        resource
            .pointer("/meta/resourceType")
            .and_then(Value::as_str)
            .and_then(schema::resource_type_by_name)
    })
}

impl Projection {
    /// Removes only `returned: never` attributes and sub-attributes.
    fn strip_never(&self, resource: &mut Value) {
        fn strip(
            attrs_of: impl Fn(&str) -> Option<&'static AttributeDef>,
            obj: &mut Map<String, Value>,
        ) {
            obj.retain(|k, v| {
                let Some(attr) = attrs_of(k) else { return true };
                if attr.returned == Returned::Never {
                    return false;
                }
                if attr.ty == AttrType::Complex {
                    let items = match v {
                        Value::Array(items) => items.iter_mut().collect::<Vec<_>>(),
                        other => vec![other],
                    };
                    for item in items {
                        if let Value::Object(o) = item {
                            o.retain(|k, _| {
                                attr.sub_attribute(k)
                                    .is_none_or(|s| s.returned != Returned::Never)
                            });
                        }
                    }
                }
                true
            });
        }
        let Value::Object(obj) = resource else { return };
        strip(|k| self.rt.top_level_attribute(k), obj);
        for (key, value) in obj.iter_mut() {
            if let (Some(ext), Value::Object(inner)) = (self.rt.extension_by_urn(key), value) {
                strip(|k| ext.attribute(k), inner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA_URN, GROUP_RESOURCE, USER_RESOURCE};

    fn user() -> Value {
        json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                ENTERPRISE_USER_SCHEMA_URN
            ],
            "id": "2819c223",
            "externalId": "701984",
            "userName": "bjensen@example.com",
            "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "active": true,
            "password": "t1meMa$heen",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"},
                {"type": "other"}
            ],
            "groups": [{"value": "e9e30dba", "display": "Tour Guides", "$ref": "https://h/Groups/e9e30dba"}],
            "x-custom": 1,
            ENTERPRISE_USER_SCHEMA_URN: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "26118915", "displayName": "John Smith"}
            },
            "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "location": "https://h/Users/2819c223"}
        })
    }

    fn project(attrs: Option<&str>, excluded: Option<&str>) -> Value {
        let mut v = user();
        Projection::parse(attrs, excluded, &USER_RESOURCE)
            .unwrap()
            .apply(&mut v);
        v
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn default_strips_only_never_returned() {
        let v = project(None, None);
        let mut want = user();
        want.as_object_mut().unwrap().remove("password");
        assert_eq!(v, want);
        assert!(
            Projection::parse(Some(" "), Some(""), &USER_RESOURCE)
                .unwrap()
                .is_default()
        );
    }

    #[test]
    fn include_keeps_always_attributes() {
        let v = project(Some("userName"), None);
        // The extension object went, so its URN leaves `schemas` too.
        assert_eq!(
            v,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "2819c223",
                "userName": "bjensen@example.com",
            })
        );
    }

    #[test]
    fn include_is_case_insensitive_and_urn_qualified() {
        let v = project(
            Some("urn:ietf:params:scim:schemas:core:2.0:User:USERNAME, DisplayName,password"),
            None,
        );
        assert_eq!(keys(&v), ["schemas", "id", "userName", "displayName"]);
    }

    #[test]
    fn include_sub_attributes() {
        let v = project(Some("emails.value,name.givenName"), None);
        assert_eq!(
            v["emails"],
            json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}])
        );
        assert_eq!(v["name"], json!({"givenName": "Barbara"}));
        // Asking for the whole attribute as well wins over the sub-attribute.
        let v = project(Some("emails.value,emails"), None);
        assert_eq!(v["emails"], user()["emails"]);
        // Nothing left of a single complex value: the attribute goes.
        let v = project(Some("name.middleName"), None);
        assert!(v.get("name").is_none());
    }

    #[test]
    fn include_extension() {
        let v = project(
            Some(&format!("{ENTERPRISE_USER_SCHEMA_URN}:employeeNumber")),
            None,
        );
        assert_eq!(keys(&v), ["schemas", "id", ENTERPRISE_USER_SCHEMA_URN]);
        assert_eq!(
            v[ENTERPRISE_USER_SCHEMA_URN],
            json!({"employeeNumber": "701984"})
        );
        assert_eq!(v["schemas"], user()["schemas"]);

        let v = project(
            Some(&format!("{ENTERPRISE_USER_SCHEMA_URN}:manager.value")),
            None,
        );
        assert_eq!(
            v[ENTERPRISE_USER_SCHEMA_URN],
            json!({"manager": {"value": "26118915"}})
        );

        // A bare URN selects the whole extension.
        let v = project(Some(&ENTERPRISE_USER_SCHEMA_URN.to_lowercase()), None);
        assert_eq!(
            v[ENTERPRISE_USER_SCHEMA_URN],
            user()[ENTERPRISE_USER_SCHEMA_URN]
        );
        assert!(v.get("userName").is_none());

        // Unqualified extension names resolve too.
        let v = project(Some("department"), None);
        assert_eq!(
            v[ENTERPRISE_USER_SCHEMA_URN],
            json!({"department": "Tour Operations"})
        );
    }

    #[test]
    fn exclude() {
        let v = project(None, Some("emails,name.familyName,id,schemas,meta.created"));
        assert!(v.get("emails").is_none());
        assert_eq!(
            v["name"],
            json!({"formatted": "Ms. Barbara J Jensen, III", "givenName": "Barbara"})
        );
        // `returned: always` cannot be excluded.
        assert_eq!(v["id"], "2819c223");
        assert!(v.get("schemas").is_some());
        assert_eq!(
            v["meta"],
            json!({"resourceType": "User", "location": "https://h/Users/2819c223"})
        );
        assert!(v.get("password").is_none());
        assert_eq!(v["x-custom"], 1);
    }

    #[test]
    fn exclude_extension() {
        let v = project(None, Some(&format!("{ENTERPRISE_USER_SCHEMA_URN}:manager")));
        assert_eq!(
            v[ENTERPRISE_USER_SCHEMA_URN],
            json!({"employeeNumber": "701984", "department": "Tour Operations"})
        );
        let v = project(None, Some(ENTERPRISE_USER_SCHEMA_URN));
        assert!(v.get(ENTERPRISE_USER_SCHEMA_URN).is_none());
        assert_eq!(
            v["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
        let v = project(None, Some("employeeNumber,department,manager"));
        assert!(v.get(ENTERPRISE_USER_SCHEMA_URN).is_none());
    }

    #[test]
    fn include_then_exclude() {
        let v = project(Some("emails,userName"), Some("emails.type,userName"));
        assert_eq!(keys(&v), ["schemas", "id", "emails"]);
        assert_eq!(
            v["emails"],
            json!([
                {"value": "bjensen@example.com", "primary": true},
                {"value": "babs@jensen.org"}
            ])
        );
    }

    #[test]
    fn unknown_names_are_ignored_and_bad_ones_rejected() {
        let v = project(Some("nickName,bogus.sub,urn:x:y:z"), None);
        assert_eq!(keys(&v), ["schemas", "id"]);
        let v = project(None, Some("bogus"));
        assert!(v.get("x-custom").is_some());
        let e = Projection::parse(Some("name."), None, &USER_RESOURCE).unwrap_err();
        assert_eq!(
            (e.status, e.scim_type.map(|t| t.as_str())),
            (400, Some("invalidValue"))
        );
        assert!(e.detail.starts_with("attributes: 'name.'"), "{}", e.detail);
        let e = Projection::parse(
            None,
            Some("userName,emails[type eq \"work\"]"),
            &USER_RESOURCE,
        )
        .unwrap_err();
        assert!(e.detail.starts_with("excludedAttributes:"), "{}", e.detail);
    }

    #[test]
    fn groups_members() {
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "e9e30dba",
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223", "$ref": "https://h/Users/2819c223", "type": "User", "display": "Babs"}
            ],
            "meta": {"resourceType": "Group"}
        });
        let run = |a: Option<&str>, x: Option<&str>| {
            let mut v = group.clone();
            Projection::parse(a, x, &GROUP_RESOURCE)
                .unwrap()
                .apply(&mut v);
            v
        };
        // What Entra ID sends to keep membership out of group listings.
        assert!(run(None, Some("members")).get("members").is_none());
        assert_eq!(run(None, None), group);
        assert_eq!(
            run(Some("MEMBERS.$ref"), None)["members"],
            json!([{"$ref": "https://h/Users/2819c223"}])
        );
        // Enterprise attributes mean nothing on a Group.
        assert_eq!(keys(&run(Some("employeeNumber"), None)), ["schemas", "id"]);
    }

    /// Synthetic schema exercising `returned: request` and `always` sub-attributes,
    /// which the RFC schemas do not use.
    mod request_semantics {
        use super::*;
        use crate::scim::schema::{AttrType, AttributeDef, Returned};

        static SUBS: [AttributeDef; 3] = [
            AttributeDef::new("a", AttrType::String, "a"),
            {
                let mut d = AttributeDef::new("r", AttrType::String, "requested only");
                d.returned = Returned::Request;
                d
            },
            {
                let mut d = AttributeDef::new("k", AttrType::String, "always");
                d.returned = Returned::Always;
                d
            },
        ];
        static ATTRS: [AttributeDef; 3] = [
            AttributeDef::new("plain", AttrType::String, "plain"),
            {
                let mut d = AttributeDef::new("secretish", AttrType::String, "requested only");
                d.returned = Returned::Request;
                d
            },
            {
                let mut d = AttributeDef::new("c", AttrType::Complex, "complex");
                d.sub_attributes = &SUBS;
                d
            },
        ];
        static SCHEMA: SchemaDef = SchemaDef {
            id: "urn:example:Thing",
            name: "Thing",
            description: "test",
            attributes: &ATTRS,
        };
        static RT: ResourceTypeDef = ResourceTypeDef {
            name: "Thing",
            endpoint: "/Things",
            description: "test",
            schema: &SCHEMA,
            extensions: &[],
        };

        fn run(a: Option<&str>, x: Option<&str>) -> Value {
            let mut v = json!({
                "id": "1", "plain": "p", "secretish": "s",
                "c": {"a": "1", "r": "2", "k": "3"}
            });
            Projection::parse(a, x, &RT).unwrap().apply(&mut v);
            v
        }

        #[test]
        fn request_only_when_asked() {
            assert_eq!(
                run(None, None),
                json!({"id": "1", "plain": "p", "c": {"a": "1", "k": "3"}})
            );
            assert_eq!(
                run(Some("secretish"), None),
                json!({"id": "1", "secretish": "s"})
            );
            assert_eq!(
                run(Some("c.r"), None),
                json!({"id": "1", "c": {"r": "2", "k": "3"}})
            );
            assert_eq!(
                run(Some("c,c.r"), None),
                json!({"id": "1", "c": {"a": "1", "r": "2", "k": "3"}})
            );
            // A whole-schema request is the default set.
            assert_eq!(
                run(Some("urn:example:Thing"), None),
                json!({"id": "1", "plain": "p", "c": {"a": "1", "k": "3"}})
            );
        }

        #[test]
        fn always_sub_attributes_survive_exclusion() {
            assert_eq!(
                run(None, Some("c.k,c.a")),
                json!({"id": "1", "plain": "p", "c": {"k": "3"}})
            );
        }
    }

    #[test]
    fn strip_never_returned_finds_the_type() {
        let mut v = user();
        strip_never_returned(&mut v);
        assert!(v.get("password").is_none());
        assert_eq!(v["emails"], user()["emails"]);

        // Found through meta.resourceType.
        let mut v = json!({"userName": "x", "password": "y", "meta": {"resourceType": "User"}});
        strip_never_returned(&mut v);
        assert_eq!(
            v,
            json!({"userName": "x", "meta": {"resourceType": "User"}})
        );

        // Unknown type: stripped as any type would be.
        let mut v = json!({"userName": "x", "PASSWORD": "y"});
        strip_never_returned(&mut v);
        assert_eq!(v, json!({"userName": "x"}));

        // Not an object: untouched.
        let mut v = json!("password");
        strip_never_returned(&mut v);
        assert_eq!(v, json!("password"));
    }
}
