//! The discovery documents of RFC 7644 §4 (`/ServiceProviderConfig`,
//! `/Schemas`, `/ResourceTypes`), rendered from the static schema tables so
//! what we advertise cannot drift from what we enforce.
//!
//! Clients (Entra ID, scim2-tester) build their whole model of the server
//! from these documents, so every attribute characteristic is spelled out
//! rather than left to RFC 7643 §7 defaults.
//!
//! RFC 7644 §4 asks that a `filter` on these endpoints be answered with 403;
//! that is the HTTP layer's job, these functions ignore query parameters.

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::schema::{
    self, AttrType, AttributeDef, LIST_RESPONSE_URN, RESOURCE_TYPE_SCHEMA_URN, ResourceTypeDef,
    SCHEMA_SCHEMA_URN, SERVICE_PROVIDER_CONFIG_SCHEMA_URN, SchemaDef,
};

/// What `/ServiceProviderConfig` advertises beyond the fixed facts (no bulk,
/// no password change, bearer tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderConfig {
    /// `filter.maxResults`: the cap on resources in one list response.
    pub max_results: u32,
    /// `bulk.maxPayloadSize`: the request body limit, which applies to every
    /// request even though bulk itself is unsupported.
    pub max_payload_bytes: u64,
    /// `etag.supported`: `meta.version` and `If-Match`/`If-None-Match`.
    pub etag: bool,
    /// `patch.supported`.
    pub patch: bool,
    /// `filter.supported`.
    pub filter: bool,
    /// `sort.supported`.
    pub sort: bool,
    /// `documentationUri`, omitted when `None`.
    pub documentation_uri: Option<String>,
}

impl Default for ServiceProviderConfig {
    fn default() -> Self {
        Self {
            max_results: 200,
            max_payload_bytes: 1024 * 1024,
            etag: true,
            patch: true,
            filter: true,
            sort: true,
            documentation_uri: None,
        }
    }
}

fn location(base_url: &str, tail: &str) -> String {
    format!("{}/{tail}", base_url.trim_end_matches('/'))
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({ "resourceType": resource_type, "location": location })
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5).
///
/// `base_url` is the SCIM base the client used (e.g.
/// `https://host/scim/v2`), used for `meta.location`.
pub fn service_provider_config(cfg: &ServiceProviderConfig, base_url: &str) -> Value {
    let mut doc = Map::new();
    doc.insert(
        "schemas".into(),
        json!([SERVICE_PROVIDER_CONFIG_SCHEMA_URN]),
    );
    if let Some(uri) = &cfg.documentation_uri {
        doc.insert("documentationUri".into(), Value::from(uri.as_str()));
    }
    doc.insert("patch".into(), json!({ "supported": cfg.patch }));
    // maxOperations and maxPayloadSize are REQUIRED even when bulk is not
    // supported; maxPayloadSize is the honest body limit.
    doc.insert(
        "bulk".into(),
        json!({ "supported": false, "maxOperations": 0, "maxPayloadSize": cfg.max_payload_bytes }),
    );
    doc.insert(
        "filter".into(),
        json!({ "supported": cfg.filter, "maxResults": cfg.max_results }),
    );
    doc.insert("changePassword".into(), json!({ "supported": false }));
    doc.insert("sort".into(), json!({ "supported": cfg.sort }));
    doc.insert("etag".into(), json!({ "supported": cfg.etag }));
    doc.insert(
        "authenticationSchemes".into(),
        json!([{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }]),
    );
    doc.insert(
        "meta".into(),
        meta(
            "ServiceProviderConfig",
            location(base_url, "ServiceProviderConfig"),
        ),
    );
    Value::Object(doc)
}

/// One attribute definition with every characteristic (RFC 7643 §7).
/// `canonicalValues` is written for every non-complex attribute, empty when
/// there are none; `referenceTypes` only for references and `subAttributes`
/// only for complex attributes, where RFC 7643 §7 makes them meaningful.
pub fn attribute(attr: &AttributeDef) -> Value {
    let mut a = Map::new();
    a.insert("name".into(), Value::from(attr.name));
    a.insert("type".into(), Value::from(attr.ty.as_str()));
    a.insert("multiValued".into(), Value::from(attr.multi_valued));
    a.insert("description".into(), Value::from(attr.description));
    a.insert("required".into(), Value::from(attr.required));
    if attr.ty != AttrType::Complex {
        a.insert("canonicalValues".into(), json!(attr.canonical_values));
    }
    a.insert("caseExact".into(), Value::from(attr.case_exact));
    a.insert("mutability".into(), Value::from(attr.mutability.as_str()));
    a.insert("returned".into(), Value::from(attr.returned.as_str()));
    a.insert("uniqueness".into(), Value::from(attr.uniqueness.as_str()));
    if attr.ty == AttrType::Reference {
        a.insert("referenceTypes".into(), json!(attr.reference_types));
    }
    if attr.ty == AttrType::Complex {
        let subs = attr.sub_attributes.iter().map(attribute).collect();
        a.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(a)
}

/// `GET /Schemas/{id}` for a known schema (RFC 7643 §7).
pub fn schema(schema: &SchemaDef, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA_URN],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": schema.attributes.iter().map(attribute).collect::<Vec<_>>(),
        "meta": meta("Schema", location(base_url, &format!("Schemas/{}", schema.id))),
    })
}

/// `GET /Schemas/{id}`: 404 for an unknown URN. Matching is case-insensitive
/// as schema URNs are (RFC 7643 §2.1).
pub fn schema_by_id(id: &str, base_url: &str) -> Result<Value, ScimError> {
    schema::schema_by_id(id)
        .map(|s| schema(s, base_url))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))
}

/// `GET /Schemas`: a ListResponse (RFC 7644 §4) of the User, EnterpriseUser
/// and Group schemas followed by the service-provider schemas of RFC 7643
/// §8.7.2.
pub fn schemas(base_url: &str) -> Value {
    list_response(schema::all_schemas().map(|s| schema(s, base_url)).collect())
}

/// `GET /ResourceTypes/{name}` for a known resource type (RFC 7643 §6).
/// `schemaExtensions` is omitted when there are none, as in RFC 7643 §8.6.
pub fn resource_type(rt: &ResourceTypeDef, base_url: &str) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA_URN]));
    doc.insert("id".into(), Value::from(rt.name));
    doc.insert("name".into(), Value::from(rt.name));
    doc.insert("endpoint".into(), Value::from(rt.endpoint));
    doc.insert("description".into(), Value::from(rt.description));
    doc.insert("schema".into(), Value::from(rt.schema.id));
    if !rt.extensions.is_empty() {
        let exts = rt
            .extensions
            .iter()
            .map(|(s, required)| json!({ "schema": s.id, "required": required }))
            .collect();
        doc.insert("schemaExtensions".into(), Value::Array(exts));
    }
    doc.insert(
        "meta".into(),
        meta(
            "ResourceType",
            location(base_url, &format!("ResourceTypes/{}", rt.name)),
        ),
    );
    Value::Object(doc)
}

/// `GET /ResourceTypes/{name}`: 404 for an unknown name. Resource type names
/// are caseExact (RFC 7643 §6).
pub fn resource_type_by_name(name: &str, base_url: &str) -> Result<Value, ScimError> {
    schema::resource_type_by_name(name)
        .map(|rt| resource_type(rt, base_url))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name}")))
}

/// `GET /ResourceTypes`: a ListResponse (RFC 7644 §4).
pub fn resource_types(base_url: &str) -> Value {
    list_response(
        schema::RESOURCE_TYPES
            .iter()
            .map(|rt| resource_type(rt, base_url))
            .collect(),
    )
}

/// A complete, unpaged ListResponse (RFC 7644 §3.4.2).
fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA_URN, GROUP_SCHEMA_URN, USER_SCHEMA_URN};

    const BASE: &str = "https://scim.example.com/scim/v2/";

    fn names(attrs: &Value) -> Vec<&str> {
        attrs
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect()
    }

    fn find<'a>(attrs: &'a Value, name: &str) -> &'a Value {
        attrs
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    #[test]
    fn service_provider_config_is_honest() {
        let cfg = ServiceProviderConfig {
            max_results: 100,
            max_payload_bytes: 65536,
            ..Default::default()
        };
        let v = service_provider_config(&cfg, BASE);
        assert_eq!(v["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA_URN]));
        assert_eq!(v["patch"], json!({"supported": true}));
        assert_eq!(
            v["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 65536})
        );
        assert_eq!(v["filter"], json!({"supported": true, "maxResults": 100}));
        assert_eq!(v["changePassword"], json!({"supported": false}));
        assert_eq!(v["sort"], json!({"supported": true}));
        assert_eq!(v["etag"], json!({"supported": true}));
        assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert!(v.get("documentationUri").is_none());
        assert_eq!(
            v["meta"],
            json!({
                "resourceType": "ServiceProviderConfig",
                "location": "https://scim.example.com/scim/v2/ServiceProviderConfig"
            })
        );
        let v = service_provider_config(
            &ServiceProviderConfig {
                documentation_uri: Some("https://docs.example.com".into()),
                etag: false,
                ..Default::default()
            },
            BASE,
        );
        assert_eq!(v["documentationUri"], "https://docs.example.com");
        assert_eq!(v["etag"], json!({"supported": false}));
    }

    #[test]
    fn every_characteristic_is_serialized() {
        let v = attribute(
            crate::scim::schema::USER_SCHEMA
                .attribute("emails")
                .unwrap(),
        );
        let keys: Vec<_> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "type",
                "multiValued",
                "description",
                "required",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness",
                "subAttributes"
            ]
        );
        let ty = find(&v["subAttributes"], "type");
        assert_eq!(ty["canonicalValues"], json!(["work", "home", "other"]));
        let keys: Vec<_> = ty.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "type",
                "multiValued",
                "description",
                "required",
                "canonicalValues",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness"
            ]
        );
        let v = attribute(
            crate::scim::schema::USER_SCHEMA
                .attribute("profileUrl")
                .unwrap(),
        );
        assert_eq!(v["type"], "reference");
        assert_eq!(v["referenceTypes"], json!(["external"]));
    }

    #[test]
    fn user_schema_document() {
        let v = schema_by_id(USER_SCHEMA_URN, BASE).unwrap();
        assert_eq!(v["schemas"], json!([SCHEMA_SCHEMA_URN]));
        assert_eq!(v["id"], USER_SCHEMA_URN);
        assert_eq!(v["name"], "User");
        assert_eq!(
            v["meta"],
            json!({
                "resourceType": "Schema",
                "location": format!("https://scim.example.com/scim/v2/Schemas/{USER_SCHEMA_URN}")
            })
        );
        let attrs = &v["attributes"];
        assert_eq!(
            names(attrs),
            [
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates"
            ]
        );
        let user_name = find(attrs, "userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(
            names(&find(attrs, "name")["subAttributes"]),
            [
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix"
            ]
        );
        let pw = find(attrs, "password");
        assert_eq!(
            (&pw["mutability"], &pw["returned"]),
            (&json!("writeOnly"), &json!("never"))
        );
        for multi in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            let a = find(attrs, multi);
            assert_eq!(a["multiValued"], true, "{multi}");
            assert_eq!(
                names(&a["subAttributes"]),
                ["value", "display", "type", "primary"],
                "{multi}"
            );
        }
        assert_eq!(
            names(&find(attrs, "addresses")["subAttributes"]),
            [
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "type",
                "primary"
            ]
        );
        let groups = find(attrs, "groups");
        assert_eq!(groups["mutability"], "readOnly");
        assert_eq!(
            names(&groups["subAttributes"]),
            ["value", "$ref", "display", "type"]
        );
        assert_eq!(
            find(&groups["subAttributes"], "$ref")["referenceTypes"],
            json!(["User", "Group"])
        );
        assert_eq!(
            find(&find(attrs, "x509Certificates")["subAttributes"], "value")["type"],
            "binary"
        );
        // Common attributes are not part of schema representations.
        for common in ["id", "externalId", "meta", "schemas"] {
            assert!(!names(attrs).contains(&common));
        }
    }

    #[test]
    fn enterprise_and_group_documents() {
        let v = schema_by_id(ENTERPRISE_USER_SCHEMA_URN, BASE).unwrap();
        assert_eq!(
            names(&v["attributes"]),
            [
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "manager"
            ]
        );
        let mgr = find(&v["attributes"], "manager");
        assert_eq!(
            names(&mgr["subAttributes"]),
            ["value", "$ref", "displayName"]
        );
        assert_eq!(
            find(&mgr["subAttributes"], "displayName")["mutability"],
            "readOnly"
        );
        assert_eq!(
            find(&mgr["subAttributes"], "$ref")["referenceTypes"],
            json!(["User"])
        );

        let v = schema_by_id(&GROUP_SCHEMA_URN.to_lowercase(), BASE).unwrap();
        assert_eq!(v["id"], GROUP_SCHEMA_URN);
        assert_eq!(names(&v["attributes"]), ["displayName", "members"]);
        let members = find(&v["attributes"], "members");
        assert_eq!(
            names(&members["subAttributes"]),
            ["value", "$ref", "type", "display"]
        );
        assert_eq!(
            find(&members["subAttributes"], "value")["mutability"],
            "immutable"
        );
        assert_eq!(
            find(&members["subAttributes"], "type")["canonicalValues"],
            json!(["User", "Group"])
        );

        let e = schema_by_id("urn:nope", BASE).unwrap_err();
        assert_eq!(e.status, 404);
    }

    #[test]
    fn schema_list() {
        let v = schemas(BASE);
        assert_eq!(v["schemas"], json!([LIST_RESPONSE_URN]));
        assert_eq!(v["totalResults"], 6);
        assert_eq!(v["itemsPerPage"], 6);
        assert_eq!(v["startIndex"], 1);
        let ids: Vec<_> = v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                USER_SCHEMA_URN,
                ENTERPRISE_USER_SCHEMA_URN,
                GROUP_SCHEMA_URN,
                SERVICE_PROVIDER_CONFIG_SCHEMA_URN,
                RESOURCE_TYPE_SCHEMA_URN,
                SCHEMA_SCHEMA_URN
            ]
        );
        // The Schema schema describes attribute characteristics, nesting one level.
        let s = &v["Resources"][5];
        let attrs = find(&s["attributes"], "attributes");
        let subs = find(&attrs["subAttributes"], "subAttributes");
        assert_eq!(subs["subAttributes"].as_array().unwrap().len(), 11);
    }

    #[test]
    fn resource_type_documents() {
        let v = resource_types(BASE);
        assert_eq!(v["totalResults"], 2);
        assert_eq!(
            v["Resources"][0],
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA_URN],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER_SCHEMA_URN,
                "schemaExtensions": [{"schema": ENTERPRISE_USER_SCHEMA_URN, "required": false}],
                "meta": {
                    "resourceType": "ResourceType",
                    "location": "https://scim.example.com/scim/v2/ResourceTypes/User"
                }
            })
        );
        let g = resource_type_by_name("Group", "https://h/scim/v2").unwrap();
        assert_eq!(g["endpoint"], "/Groups");
        assert!(g.get("schemaExtensions").is_none());
        assert_eq!(
            g["meta"]["location"],
            "https://h/scim/v2/ResourceTypes/Group"
        );
        assert_eq!(resource_type_by_name("Pet", BASE).unwrap_err().status, 404);
    }

    /// Writes every discovery document to `target/scim-discovery/` for
    /// out-of-band validation (e.g. loading them into scim2-models).
    #[test]
    fn dump_discovery_documents() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scim-discovery");
        std::fs::create_dir_all(&dir).unwrap();
        let docs = [
            (
                "ServiceProviderConfig.json",
                service_provider_config(&Default::default(), BASE),
            ),
            ("Schemas.json", schemas(BASE)),
            ("ResourceTypes.json", resource_types(BASE)),
        ];
        for (name, doc) in docs {
            std::fs::write(dir.join(name), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        }
    }
}
