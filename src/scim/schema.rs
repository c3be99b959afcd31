//! Schema definitions (RFC 7643 §2, §4, §7) and the lookups the rest of the
//! protocol layer needs: case-exactness, mutability, returnability.
//!
//! The tables are `static` so filter evaluation, PATCH and projection can
//! resolve attribute paths without allocating. Descriptions and
//! characteristics follow the normative representations of RFC 7643 §8.7;
//! where this server deliberately departs from them a comment says why.

use super::filter::AttrInfo;
use super::path::AttrPath;

/// `urn:ietf:params:scim:schemas:core:2.0:User`
pub const USER_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`
pub const ENTERPRISE_USER_SCHEMA_URN: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// `urn:ietf:params:scim:schemas:core:2.0:Group`
pub const GROUP_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Schema of the `/Schemas` resources themselves (RFC 7643 §7).
pub const SCHEMA_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// Schema of the `/ResourceTypes` resources (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema of `/ServiceProviderConfig` (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// Error response message (RFC 7644 §3.12).
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// List/query response message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PATCH request message (RFC 7644 §3.5.2).
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// `POST /.search` request message (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Bulk request message (RFC 7644 §3.7); recognised only to reject it.
pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// SCIM attribute data types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The keyword used in schema representations.
    pub const fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    /// The keyword used in schema representations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    /// The keyword used in schema representations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    /// The keyword used in schema representations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute and its characteristics.
#[derive(Debug)]
pub struct AttributeDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
    pub description: &'static str,
}

impl AttributeDef {
    /// An attribute with the RFC 7643 §7 defaults: single-valued, optional,
    /// case-insensitive, readWrite, returned by default, not unique.
    pub const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        AttributeDef {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description,
        }
    }

    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }

    const fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        // RFC 7643 §2.3.7: references are case exact.
        let mut a = Self::new(name, AttrType::Reference, description);
        a.reference_types = types;
        a.case_exact = true;
        a
    }

    const fn complex(
        name: &'static str,
        subs: &'static [AttributeDef],
        description: &'static str,
    ) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = subs;
        a
    }

    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    const fn case_insensitive(mut self) -> Self {
        self.case_exact = false;
        self
    }

    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    const fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }

    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    const fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// Case-insensitive sub-attribute lookup (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_in(self.sub_attributes, name)
    }
}

fn find_in(attrs: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// A schema: its URN and attributes.
#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// Case-insensitive attribute lookup (RFC 7643 §2.1).
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_in(self.attributes, name)
    }
}

/// A resource type: endpoint, core schema and extensions (RFC 7643 §6).
#[derive(Debug)]
pub struct ResourceTypeDef {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static SchemaDef,
    /// Extension schemas and whether each is required.
    pub extensions: &'static [(&'static SchemaDef, bool)],
}

/// A path resolved against a resource type's schemas.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAttr {
    /// The schema the attribute belongs to; the core schema for common attributes.
    pub schema: &'static SchemaDef,
    /// The top-level attribute.
    pub attr: &'static AttributeDef,
    /// The sub-attribute, when the path named one.
    pub sub: Option<&'static AttributeDef>,
    /// Whether the attribute lives under its schema URN object in the JSON
    /// (extension attributes) rather than at the top level.
    pub in_extension: bool,
}

impl ResolvedAttr {
    /// The definition the path designates: the sub-attribute if any, else the attribute.
    pub fn target(&self) -> &'static AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The JSON key of the object holding the attribute: `None` for the
    /// resource's top level, `Some(urn)` for an extension object.
    pub fn container(&self) -> Option<&'static str> {
        self.in_extension.then_some(self.schema.id)
    }

    /// Whether the attribute is one of the RFC 7643 §3.1 common attributes
    /// (`id`, `externalId`, `meta`, `schemas`).
    pub fn is_common(&self) -> bool {
        is_common_attribute(self.attr)
    }
}

/// Whether `attr` is one of [`COMMON_ATTRIBUTES`] (by identity).
pub fn is_common_attribute(attr: &AttributeDef) -> bool {
    COMMON_ATTRIBUTES
        .as_ptr_range()
        .contains(&std::ptr::from_ref(attr))
}

/// ASCII case-insensitive test of `urn ":" name == full`, without allocating.
fn joined_eq(urn: &str, name: &str, full: &str) -> bool {
    full.len() == urn.len() + 1 + name.len()
        && full.as_bytes()[urn.len()] == b':'
        && full[..urn.len()].eq_ignore_ascii_case(urn)
        && full[urn.len() + 1..].eq_ignore_ascii_case(name)
}

impl ResourceTypeDef {
    /// The core schema followed by the extension schemas.
    pub fn schemas(&self) -> impl Iterator<Item = &'static SchemaDef> + use<> {
        let core = self.schema;
        let exts = self.extensions;
        std::iter::once(core).chain(exts.iter().map(|(s, _)| *s))
    }

    /// The core or extension schema with this URN (case-insensitive).
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The extension schema with this URN (case-insensitive), if it extends this resource type.
    pub fn extension_by_urn(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .map(|(s, _)| *s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// A path naming a whole schema rather than an attribute, as
    /// `attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`
    /// does. A path parser splits such a URN into `urn` = everything up to the
    /// last colon and `name` = `User`, so both forms are accepted: the split
    /// one, and the whole URN in `urn` with an empty `name`.
    pub fn schema_for_path(&self, path: &AttrPath) -> Option<&'static SchemaDef> {
        if path.sub.is_some() {
            return None;
        }
        match &path.urn {
            Some(urn) if path.name.is_empty() => self.schema_by_urn(urn),
            Some(urn) => self.schemas().find(|s| joined_eq(urn, &path.name, s.id)),
            None => None,
        }
    }

    /// Resolves a possibly URN-qualified path, case-insensitively, to its
    /// schema, attribute and sub-attribute.
    ///
    /// Common attributes (`id`, `externalId`, `meta.*`, `schemas`) resolve
    /// bare or qualified with the core schema URN. An unqualified name that is
    /// neither core nor common falls back to the extensions: RFC 7644 §3.10
    /// wants extension attributes qualified, but some clients omit the URN and
    /// no name here is ambiguous.
    pub fn find(&self, path: &AttrPath) -> Option<ResolvedAttr> {
        let (schema, attr) = match &path.urn {
            Some(urn) => {
                let schema = self.schema_by_urn(urn)?;
                let attr = schema.attribute(&path.name).or_else(|| {
                    std::ptr::eq(schema, self.schema)
                        .then(|| find_in(&COMMON_ATTRIBUTES, &path.name))
                        .flatten()
                })?;
                (schema, attr)
            }
            None => {
                if let Some(attr) = self
                    .schema
                    .attribute(&path.name)
                    .or_else(|| find_in(&COMMON_ATTRIBUTES, &path.name))
                {
                    (self.schema, attr)
                } else {
                    self.extensions
                        .iter()
                        .find_map(|(s, _)| s.attribute(&path.name).map(|a| (*s, a)))?
                }
            }
        };
        let sub = match &path.sub {
            Some(name) => Some(attr.sub_attribute(name)?),
            None => None,
        };
        Some(ResolvedAttr {
            schema,
            attr,
            sub,
            in_extension: !std::ptr::eq(schema, self.schema),
        })
    }

    /// Resolves a top-level JSON key of a resource of this type: a core or
    /// common attribute name. Extension objects are found with
    /// [`Self::extension_by_urn`].
    pub fn top_level_attribute(&self, key: &str) -> Option<&'static AttributeDef> {
        self.schema
            .attribute(key)
            .or_else(|| find_in(&COMMON_ATTRIBUTES, key))
    }
}

/// Filter evaluation against this resource type's schemas: `caseExact` and
/// types come from the attribute definitions (RFC 7644 §3.4.2.2: string
/// comparisons honour `caseExact`), so `userName eq "BJensen"` matches
/// `bjensen` while `id` and `externalId` compare exactly.
impl AttrInfo for ResourceTypeDef {
    fn case_exact(&self, path: &AttrPath) -> bool {
        self.find(path).is_some_and(|r| r.target().case_exact)
    }

    fn attr_type(&self, path: &AttrPath) -> Option<AttrType> {
        self.find(path).map(|r| r.target().ty)
    }

    /// Only this type's own core schema sits at the top level; anything else
    /// (including another type's core URN) is looked up under its URN key,
    /// which is where declared extensions are stored.
    fn is_core_schema(&self, urn: &str) -> bool {
        self.schema.id.eq_ignore_ascii_case(urn)
    }
}

/// The resource types this server serves, in `/ResourceTypes` order.
pub static RESOURCE_TYPES: [&ResourceTypeDef; 2] = [&USER_RESOURCE, &GROUP_RESOURCE];

/// The resource schemas, in `/Schemas` order before the service-provider schemas.
pub static RESOURCE_SCHEMAS: [&SchemaDef; 3] =
    [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA];

/// The schemas describing the discovery resources themselves (RFC 7643 §8.7.2).
pub static SERVICE_PROVIDER_SCHEMAS: [&SchemaDef; 3] = [
    &SERVICE_PROVIDER_CONFIG_SCHEMA,
    &RESOURCE_TYPE_SCHEMA,
    &SCHEMA_SCHEMA,
];

/// Every schema published on `/Schemas`.
pub fn all_schemas() -> impl Iterator<Item = &'static SchemaDef> {
    RESOURCE_SCHEMAS
        .iter()
        .chain(SERVICE_PROVIDER_SCHEMAS.iter())
        .copied()
}

/// The schema with this URN (case-insensitive) among [`all_schemas`].
pub fn schema_by_id(id: &str) -> Option<&'static SchemaDef> {
    all_schemas().find(|s| s.id.eq_ignore_ascii_case(id))
}

/// The resource type with this name (case-sensitive: RFC 7643 §6 makes `name` caseExact).
pub fn resource_type_by_name(name: &str) -> Option<&'static ResourceTypeDef> {
    RESOURCE_TYPES.iter().copied().find(|rt| rt.name == name)
}

/// The resource type whose core schema is `urn` (case-insensitive).
pub fn resource_type_by_schema(urn: &str) -> Option<&'static ResourceTypeDef> {
    RESOURCE_TYPES
        .iter()
        .copied()
        .find(|rt| rt.schema.id.eq_ignore_ascii_case(urn))
}

// ---------------------------------------------------------------------------
// Common attributes (RFC 7643 §3.1). Not listed in any schema representation
// (RFC 7643 §8.7.1 leaves them out, and scim2-models would clash with its own
// `id`/`meta` fields), but resolvable for filters, sorting and projection.

const META_SUBS: [AttributeDef; 5] = [
    AttributeDef::string(
        "resourceType",
        "The name of the resource type of the resource.",
    )
    .case_exact()
    .read_only(),
    AttributeDef::new(
        "created",
        AttrType::DateTime,
        "The \"DateTime\" that the resource was added to the service provider.",
    )
    .read_only(),
    AttributeDef::new(
        "lastModified",
        AttrType::DateTime,
        "The most recent DateTime that the details of this resource were updated at the service provider.",
    )
    .read_only(),
    AttributeDef::reference("location", &["uri"], "The URI of the resource being returned.")
        .read_only(),
    AttributeDef::string(
        "version",
        "The version of the resource being returned, the same as its ETag.",
    )
    .case_exact()
    .read_only(),
];

/// `id`, `externalId`, `meta` and `schemas`, shared by every resource type.
pub static COMMON_ATTRIBUTES: [AttributeDef; 4] = [
    // `required` stays false: clients never send `id`, so a validator checking
    // required attributes on requests must not demand it.
    AttributeDef::string(
        "id",
        "A unique identifier for a SCIM resource as defined by the service provider.",
    )
    .case_exact()
    .read_only()
    .returned(Returned::Always)
    .uniqueness(Uniqueness::Server),
    AttributeDef::string(
        "externalId",
        "A String that is an identifier for the resource as defined by the provisioning client.",
    )
    .case_exact(),
    AttributeDef::complex(
        "meta",
        &META_SUBS,
        "A complex attribute containing resource metadata.",
    )
    .read_only(),
    // RFC 7643 §3: every representation carries `schemas`; clients write it.
    // Unlike other references it compares case-insensitively, as URNs do.
    AttributeDef::reference(
        "schemas",
        &["uri"],
        "The schema URIs that define the attributes present in the current JSON structure.",
    )
    .case_insensitive()
    .multi()
    .required()
    .returned(Returned::Always),
];

// ---------------------------------------------------------------------------
// User (RFC 7643 §4.1, §8.7.1)

const NAME_SUBS: [AttributeDef; 6] = [
    AttributeDef::string(
        "formatted",
        "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display (e.g., 'Ms. Barbara J Jensen, III').",
    ),
    AttributeDef::string(
        "familyName",
        "The family name of the User, or last name in most Western languages (e.g., 'Jensen' given the full name 'Ms. Barbara J Jensen, III').",
    ),
    AttributeDef::string(
        "givenName",
        "The given name of the User, or first name in most Western languages (e.g., 'Barbara' given the full name 'Ms. Barbara J Jensen, III').",
    ),
    AttributeDef::string(
        "middleName",
        "The middle name(s) of the User (e.g., 'Jane' given the full name 'Ms. Barbara J Jensen, III').",
    ),
    AttributeDef::string(
        "honorificPrefix",
        "The honorific prefix(es) of the User, or title in most Western languages (e.g., 'Ms.' given the full name 'Ms. Barbara J Jensen, III').",
    ),
    AttributeDef::string(
        "honorificSuffix",
        "The honorific suffix(es) of the User, or suffix in most Western languages (e.g., 'III' given the full name 'Ms. Barbara J Jensen, III').",
    ),
];

const DISPLAY_DESC: &str =
    "A human-readable name, primarily used for display purposes.  READ-ONLY.";

/// The `display` sub-attribute of the User's multi-valued attributes. RFC
/// 7643 §8.7.1 marks it readWrite despite the "READ-ONLY" in its text; we
/// follow the JSON, as clients send it and expect it back.
const fn display_sub() -> AttributeDef {
    AttributeDef::string("display", DISPLAY_DESC)
}

const fn primary_sub(description: &'static str) -> AttributeDef {
    AttributeDef::boolean("primary", description)
}

const EMAILS_DESC: &str = "Email addresses for the user.  The value SHOULD be canonicalized by the service provider, e.g., 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'.  Canonical type values of 'work', 'home', and 'other'.";

const EMAILS_SUBS: [AttributeDef; 4] = [
    AttributeDef::string("value", EMAILS_DESC),
    display_sub(),
    AttributeDef::string(
        "type",
        "A label indicating the attribute's function, e.g., 'work' or 'home'.",
    )
    .canonical(&["work", "home", "other"]),
    primary_sub(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred mailing address or primary email address.  The primary attribute value 'true' MUST appear no more than once.",
    ),
];

const PHONE_SUBS: [AttributeDef; 4] = [
    AttributeDef::string("value", "Phone number of the User."),
    display_sub(),
    AttributeDef::string(
        "type",
        "A label indicating the attribute's function, e.g., 'work', 'home', 'mobile'.",
    )
    .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    primary_sub(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred phone number or primary phone number.  The primary attribute value 'true' MUST appear no more than once.",
    ),
];

const IMS_SUBS: [AttributeDef; 4] = [
    AttributeDef::string("value", "Instant messaging address for the User."),
    display_sub(),
    AttributeDef::string(
        "type",
        "A label indicating the attribute's function, e.g., 'aim', 'gtalk', 'xmpp'.",
    )
    .canonical(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
    primary_sub(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred messenger or primary messenger.  The primary attribute value 'true' MUST appear no more than once.",
    ),
];

const PHOTOS_SUBS: [AttributeDef; 4] = [
    AttributeDef::reference("value", &["external"], "URL of a photo of the User."),
    display_sub(),
    AttributeDef::string(
        "type",
        "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'.",
    )
    .canonical(&["photo", "thumbnail"]),
    primary_sub(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred photo or thumbnail.  The primary attribute value 'true' MUST appear no more than once.",
    ),
];

/// RFC 7643 §8.7.1 omits `primary` here, but §4.1.2 gives addresses a
/// primary value and every IdP sends one.
const ADDRESSES_SUBS: [AttributeDef; 8] = [
    AttributeDef::string(
        "formatted",
        "The full mailing address, formatted for display or use with a mailing label.  This attribute MAY contain newlines.",
    ),
    AttributeDef::string(
        "streetAddress",
        "The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information.  This attribute MAY contain newlines.",
    ),
    AttributeDef::string("locality", "The city or locality component."),
    AttributeDef::string("region", "The state or region component."),
    AttributeDef::string("postalCode", "The zip code or postal code component."),
    AttributeDef::string("country", "The country name component."),
    AttributeDef::string(
        "type",
        "A label indicating the attribute's function, e.g., 'work' or 'home'.",
    )
    .canonical(&["work", "home", "other"]),
    primary_sub(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred mailing address.  The primary attribute value 'true' MUST appear no more than once.",
    ),
];

/// Memberships are computed by the server from the Groups (RFC 7643 §4.1.2),
/// so every sub-attribute is readOnly. `value` holds a Group `id`: caseExact.
const USER_GROUPS_SUBS: [AttributeDef; 4] = [
    AttributeDef::string("value", "The identifier of the User's group.")
        .case_exact()
        .read_only(),
    AttributeDef::reference(
        "$ref",
        &["User", "Group"],
        "The URI of the corresponding 'Group' resource to which the user belongs.",
    )
    .read_only(),
    AttributeDef::string("display", DISPLAY_DESC).read_only(),
    AttributeDef::string(
        "type",
        "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
    )
    .canonical(&["direct", "indirect"])
    .read_only(),
];

const PRIMARY_PLAIN: &str = "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.  The primary attribute value 'true' MUST appear no more than once.";

const ENTITLEMENTS_SUBS: [AttributeDef; 4] = [
    AttributeDef::string("value", "The value of an entitlement."),
    display_sub(),
    AttributeDef::string("type", "A label indicating the attribute's function."),
    primary_sub(PRIMARY_PLAIN),
];

const ROLES_SUBS: [AttributeDef; 4] = [
    AttributeDef::string("value", "The value of a role."),
    display_sub(),
    AttributeDef::string("type", "A label indicating the attribute's function."),
    primary_sub(PRIMARY_PLAIN),
];

const X509_SUBS: [AttributeDef; 4] = [
    // RFC 7643 §2.3.6: binary values are case exact.
    AttributeDef::new(
        "value",
        AttrType::Binary,
        "The value of an X.509 certificate.",
    )
    .case_exact(),
    display_sub(),
    AttributeDef::string("type", "A label indicating the attribute's function."),
    primary_sub(PRIMARY_PLAIN),
];

const USER_ATTRS: [AttributeDef; 21] = [
    AttributeDef::string(
        "userName",
        "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.  Each User MUST include a non-empty userName value.  This identifier MUST be unique across the service provider's entire set of Users.  REQUIRED.",
    )
    .required()
    .uniqueness(Uniqueness::Server),
    AttributeDef::complex(
        "name",
        &NAME_SUBS,
        "The components of the user's real name.  Providers MAY return just the full name as a single string in the formatted sub-attribute, or they MAY return just the individual component attributes using the other sub-attributes, or they MAY return both.  If both variants are returned, they SHOULD be describing the same name, with the formatted name indicating how the component attributes should be combined.",
    ),
    AttributeDef::string(
        "displayName",
        "The name of the User, suitable for display to end-users.  The name SHOULD be the full name of the User being described, if known.",
    ),
    AttributeDef::string(
        "nickName",
        "The casual way to address the user in real life, e.g., 'Bob' or 'Bobby' instead of 'Robert'.  This attribute SHOULD NOT be used to represent a User's username (e.g., 'bjensen' or 'mpepperidge').",
    ),
    AttributeDef::reference(
        "profileUrl",
        &["external"],
        "A fully qualified URL pointing to a page representing the User's online profile.",
    ),
    AttributeDef::string("title", "The user's title, such as \"Vice President.\""),
    AttributeDef::string(
        "userType",
        "Used to identify the relationship between the organization and the user.  Typical values used might be 'Contractor', 'Employee', 'Intern', 'Temp', 'External', and 'Unknown', but any value may be used.",
    ),
    AttributeDef::string(
        "preferredLanguage",
        "Indicates the User's preferred written or spoken language.  Generally used for selecting a localized user interface; e.g., 'en_US' specifies the language English and country US.",
    ),
    AttributeDef::string(
        "locale",
        "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations.",
    ),
    AttributeDef::string(
        "timezone",
        "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'.",
    ),
    AttributeDef::boolean(
        "active",
        "A Boolean value indicating the User's administrative status.",
    ),
    // Passwords are accepted (IdPs send them) but never stored or echoed.
    AttributeDef::string(
        "password",
        "The User's cleartext password.  This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password.",
    )
    .case_exact()
    .mutability(Mutability::WriteOnly)
    .returned(Returned::Never),
    AttributeDef::complex("emails", &EMAILS_SUBS, EMAILS_DESC).multi(),
    AttributeDef::complex(
        "phoneNumbers",
        &PHONE_SUBS,
        "Phone numbers for the User.  The value SHOULD be canonicalized by the service provider according to the format specified in RFC 3966, e.g., 'tel:+1-201-555-0123'.  Canonical type values of 'work', 'home', 'mobile', 'fax', 'pager', and 'other'.",
    )
    .multi(),
    AttributeDef::complex(
        "ims",
        &IMS_SUBS,
        "Instant messaging addresses for the User.",
    )
    .multi(),
    AttributeDef::complex("photos", &PHOTOS_SUBS, "URLs of photos of the User.").multi(),
    AttributeDef::complex(
        "addresses",
        &ADDRESSES_SUBS,
        "A physical mailing address for this User.  Canonical type values of 'work', 'home', and 'other'.  This attribute is a complex type with the following sub-attributes.",
    )
    .multi(),
    AttributeDef::complex(
        "groups",
        &USER_GROUPS_SUBS,
        "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.",
    )
    .multi()
    .read_only(),
    AttributeDef::complex(
        "entitlements",
        &ENTITLEMENTS_SUBS,
        "A list of entitlements for the User that represent a thing the User has.",
    )
    .multi(),
    AttributeDef::complex(
        "roles",
        &ROLES_SUBS,
        "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.",
    )
    .multi(),
    AttributeDef::complex(
        "x509Certificates",
        &X509_SUBS,
        "A list of certificates issued to the User.",
    )
    .multi(),
];

/// `urn:ietf:params:scim:schemas:core:2.0:User` (RFC 7643 §4.1).
pub static USER_SCHEMA: SchemaDef = SchemaDef {
    id: USER_SCHEMA_URN,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRS,
};

// ---------------------------------------------------------------------------
// Enterprise User extension (RFC 7643 §4.3, §8.7.1)

/// `required` stays false on `value` and `$ref`, as in the §8.7.1 JSON: a
/// required reference to another User would make every test client create
/// an endless chain of managers.
const MANAGER_SUBS: [AttributeDef; 3] = [
    AttributeDef::string(
        "value",
        "The id of the SCIM resource representing the User's manager.  REQUIRED.",
    )
    .case_exact(),
    AttributeDef::reference(
        "$ref",
        &["User"],
        "The URI of the SCIM resource representing the User's manager.  REQUIRED.",
    ),
    AttributeDef::string(
        "displayName",
        "The displayName of the User's manager.  OPTIONAL and READ-ONLY.",
    )
    .read_only(),
];

const ENTERPRISE_ATTRS: [AttributeDef; 6] = [
    AttributeDef::string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
    ),
    AttributeDef::string("costCenter", "Identifies the name of a cost center."),
    AttributeDef::string("organization", "Identifies the name of an organization."),
    AttributeDef::string("division", "Identifies the name of a division."),
    AttributeDef::string("department", "Identifies the name of a department."),
    AttributeDef::complex(
        "manager",
        &MANAGER_SUBS,
        "The User's manager.  A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.",
    ),
];

/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` (RFC 7643 §4.3).
pub static ENTERPRISE_USER_SCHEMA: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_ATTRS,
};

// ---------------------------------------------------------------------------
// Group (RFC 7643 §4.2, §8.7.1)

/// Member entries are added and removed whole, so their sub-attributes are
/// immutable (RFC 7643 §4.2). `display` is absent from §8.7.1 and readOnly
/// in later drafts, but Okta and Entra ID send it and clients (scim2-tester
/// among them) expect members back exactly as sent, so it is stored as given:
/// readWrite.
const MEMBERS_SUBS: [AttributeDef; 4] = [
    AttributeDef::string("value", "Identifier of the member of this Group.")
        .case_exact()
        .mutability(Mutability::Immutable),
    AttributeDef::reference(
        "$ref",
        &["User", "Group"],
        "The URI corresponding to a SCIM resource that is a member of this Group.",
    )
    .mutability(Mutability::Immutable),
    AttributeDef::string(
        "type",
        "A label indicating the type of resource, e.g., 'User' or 'Group'.",
    )
    .canonical(&["User", "Group"])
    .mutability(Mutability::Immutable),
    AttributeDef::string(
        "display",
        "A human-readable name for the member, primarily used for display purposes.",
    ),
];

const GROUP_ATTRS: [AttributeDef; 2] = [
    // §8.7.1 says required false, §4.2 says "REQUIRED."; a nameless group
    // cannot be turned into an RBAC binding, so we require it.
    AttributeDef::string(
        "displayName",
        "A human-readable name for the Group.  REQUIRED.",
    )
    .required(),
    AttributeDef::complex("members", &MEMBERS_SUBS, "A list of members of the Group.").multi(),
];

/// `urn:ietf:params:scim:schemas:core:2.0:Group` (RFC 7643 §4.2).
pub static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA_URN,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRS,
};

// ---------------------------------------------------------------------------
// Resource types (RFC 7643 §6, §8.6)

/// `/Users`, with the enterprise extension optional: IdPs send it only when
/// one of its attributes is mapped.
pub static USER_RESOURCE: ResourceTypeDef = ResourceTypeDef {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: &[(&ENTERPRISE_USER_SCHEMA, false)],
};

/// `/Groups`.
pub static GROUP_RESOURCE: ResourceTypeDef = ResourceTypeDef {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: &[],
};

// ---------------------------------------------------------------------------
// Service provider schemas (RFC 7643 §8.7.2), published on /Schemas so that
// clients can validate the discovery documents themselves.

const fn ro_string(name: &'static str, description: &'static str) -> AttributeDef {
    AttributeDef::string(name, description).read_only()
}

const fn ro_bool(name: &'static str, description: &'static str) -> AttributeDef {
    AttributeDef::boolean(name, description).read_only()
}

const fn ro_int(name: &'static str, description: &'static str) -> AttributeDef {
    AttributeDef::new(name, AttrType::Integer, description).read_only()
}

const SUPPORTED_DESC: &str =
    "A Boolean value specifying whether or not the operation is supported.";
const SUPPORTED_SUBS: [AttributeDef; 1] = [ro_bool("supported", SUPPORTED_DESC).required()];

const BULK_SUBS: [AttributeDef; 3] = [
    ro_bool("supported", SUPPORTED_DESC).required(),
    ro_int(
        "maxOperations",
        "An integer value specifying the maximum number of operations.",
    )
    .required(),
    ro_int(
        "maxPayloadSize",
        "An integer value specifying the maximum payload size in bytes.",
    )
    .required(),
];

const FILTER_SUBS: [AttributeDef; 2] = [
    ro_bool("supported", SUPPORTED_DESC).required(),
    ro_int(
        "maxResults",
        "An integer value specifying the maximum number of resources returned in a response.",
    )
    .required(),
];

/// RFC 7643 §8.7.2 lists only name, description, specUri and
/// documentationUri; §5 adds `type` (REQUIRED) and the examples use `primary`.
const AUTH_SCHEME_SUBS: [AttributeDef; 6] = [
    ro_string("type", "The authentication scheme.")
        .required()
        .canonical(&[
            "oauth",
            "oauth2",
            "oauthbearertoken",
            "httpbasic",
            "httpdigest",
        ]),
    ro_string(
        "name",
        "The common authentication scheme name, e.g., HTTP Basic.",
    )
    .required(),
    ro_string("description", "A description of the authentication scheme.").required(),
    AttributeDef::reference(
        "specUri",
        &["external"],
        "An HTTP-addressable URL pointing to the authentication scheme's specification.",
    )
    .read_only(),
    AttributeDef::reference(
        "documentationUri",
        &["external"],
        "An HTTP-addressable URL pointing to the authentication scheme's usage documentation.",
    )
    .read_only(),
    ro_bool(
        "primary",
        "A Boolean value indicating the 'primary' or preferred authentication scheme.",
    ),
];

/// §8.7.2 forgets `etag`, which §5 defines; it is listed here.
const SPC_ATTRS: [AttributeDef; 8] = [
    AttributeDef::reference(
        "documentationUri",
        &["external"],
        "An HTTP-addressable URL pointing to the service provider's human-consumable help documentation.",
    )
    .read_only(),
    AttributeDef::complex(
        "patch",
        &SUPPORTED_SUBS,
        "A complex type that specifies PATCH configuration options.",
    )
    .required()
    .read_only(),
    AttributeDef::complex(
        "bulk",
        &BULK_SUBS,
        "A complex type that specifies bulk configuration options.",
    )
    .required()
    .read_only(),
    AttributeDef::complex(
        "filter",
        &FILTER_SUBS,
        "A complex type that specifies FILTER options.",
    )
    .required()
    .read_only(),
    AttributeDef::complex(
        "changePassword",
        &SUPPORTED_SUBS,
        "A complex type that specifies configuration options related to changing a password.",
    )
    .required()
    .read_only(),
    AttributeDef::complex(
        "sort",
        &SUPPORTED_SUBS,
        "A complex type that specifies sort result options.",
    )
    .required()
    .read_only(),
    AttributeDef::complex(
        "etag",
        &SUPPORTED_SUBS,
        "A complex type that specifies ETag configuration options.",
    )
    .required()
    .read_only(),
    AttributeDef::complex(
        "authenticationSchemes",
        &AUTH_SCHEME_SUBS,
        "A complex type that specifies supported authentication scheme properties.",
    )
    .multi()
    .required()
    .read_only(),
];

/// `urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig` (RFC 7643 §5).
pub static SERVICE_PROVIDER_CONFIG_SCHEMA: SchemaDef = SchemaDef {
    id: SERVICE_PROVIDER_CONFIG_SCHEMA_URN,
    // RFC 7643 §8.7.2 has "Service Provider Configuration"; the name is only
    // for humans, and scim2-tester's core-schema check looks for this one.
    name: "ServiceProviderConfig",
    description: "Schema for representing the service provider's configuration",
    attributes: &SPC_ATTRS,
};

const SCHEMA_EXTENSION_SUBS: [AttributeDef; 2] = [
    AttributeDef::reference("schema", &["uri"], "The URI of a schema extension.")
        .required()
        .read_only(),
    ro_bool(
        "required",
        "A Boolean value that specifies whether or not the schema extension is required for the resource type.  If true, a resource of this type MUST include this schema extension and also include any attributes declared as required in this schema extension. If false, a resource of this type MAY omit this schema extension.",
    )
    .required(),
];

/// §8.7.2 says `schemaExtensions` is single-valued, contradicting §6 ("A
/// list") and its own examples; it is multi-valued here.
const RESOURCE_TYPE_ATTRS: [AttributeDef; 6] = [
    ro_string(
        "id",
        "The resource type's server unique id.  May be the same as the 'name' attribute.",
    ),
    ro_string(
        "name",
        "The resource type name.  When applicable, service providers MUST specify the name, e.g., 'User'.",
    )
    .required(),
    ro_string(
        "description",
        "The resource type's human-readable description.  When applicable, service providers MUST specify the description.",
    ),
    AttributeDef::reference(
        "endpoint",
        &["uri"],
        "The resource type's HTTP-addressable endpoint relative to the Base URL, e.g., '/Users'.",
    )
    .required()
    .read_only(),
    AttributeDef::reference(
        "schema",
        &["uri"],
        "The resource type's primary/base schema URI.",
    )
    .required()
    .read_only(),
    AttributeDef::complex(
        "schemaExtensions",
        &SCHEMA_EXTENSION_SUBS,
        "A list of URIs of the resource type's schema extensions.",
    )
    .multi()
    .read_only(),
];

/// `urn:ietf:params:scim:schemas:core:2.0:ResourceType` (RFC 7643 §6).
pub static RESOURCE_TYPE_SCHEMA: SchemaDef = SchemaDef {
    id: RESOURCE_TYPE_SCHEMA_URN,
    name: "ResourceType",
    description: "Specifies the schema that describes a SCIM resource type",
    attributes: &RESOURCE_TYPE_ATTRS,
};

const TYPE_VALUES: &[&str] = &[
    "string",
    "complex",
    "boolean",
    "decimal",
    "integer",
    "dateTime",
    "reference",
    "binary",
];

/// Characteristics shared by `attributes` and `subAttributes`; the outer
/// list adds `subAttributes` itself, one level deep as in RFC 7643 §8.7.2.
macro_rules! attribute_characteristics {
    ($($extra:expr),*) => {
        [
            ro_string("name", "The attribute's name.").required().case_exact(),
            ro_string(
                "type",
                "The attribute's data type.  Valid values include 'string', 'complex', 'boolean', 'decimal', 'integer', 'dateTime', 'reference'.",
            )
            .required()
            .canonical(TYPE_VALUES),
            ro_bool("multiValued", "A Boolean value indicating an attribute's plurality.").required(),
            ro_string("description", "A human-readable description of the attribute.").case_exact(),
            ro_bool(
                "required",
                "A boolean value indicating whether or not the attribute is required.",
            ),
            ro_string(
                "canonicalValues",
                "A collection of canonical values.  When applicable, service providers MUST specify the canonical types, e.g., 'work', 'home'.",
            )
            .multi()
            .case_exact(),
            ro_bool(
                "caseExact",
                "A Boolean value indicating whether or not a string attribute is case sensitive.",
            ),
            ro_string("mutability", "Indicates whether or not an attribute is modifiable.")
                .case_exact()
                .canonical(&["readOnly", "readWrite", "immutable", "writeOnly"]),
            ro_string(
                "returned",
                "Indicates when an attribute is returned in a response (e.g., to a query).",
            )
            .case_exact()
            .canonical(&["always", "never", "default", "request"]),
            ro_string("uniqueness", "Indicates how unique a value must be.")
                .case_exact()
                .canonical(&["none", "server", "global"]),
            ro_string(
                "referenceTypes",
                "Used only with an attribute of type 'reference'.  Specifies a SCIM resourceType that a reference attribute MAY refer to, e.g., 'User'.",
            )
            .multi()
            .case_exact(),
            $($extra),*
        ]
    };
}

const SUB_ATTRIBUTE_CHARACTERISTICS: [AttributeDef; 11] = attribute_characteristics!();

const ATTRIBUTE_CHARACTERISTICS: [AttributeDef; 12] = attribute_characteristics!(
    AttributeDef::complex(
        "subAttributes",
        &SUB_ATTRIBUTE_CHARACTERISTICS,
        "Used to define the sub-attributes of a complex attribute.",
    )
    .multi()
    .read_only()
);

const SCHEMA_ATTRS: [AttributeDef; 4] = [
    ro_string(
        "id",
        "The unique URI of the schema.  When applicable, service providers MUST specify the URI.",
    )
    .required()
    .case_exact(),
    ro_string(
        "name",
        "The schema's human-readable name.  When applicable, service providers MUST specify the name, e.g., 'User'.",
    )
    .required(),
    ro_string(
        "description",
        "The schema's human-readable description.  When applicable, service providers MUST specify the description.",
    ),
    AttributeDef::complex(
        "attributes",
        &ATTRIBUTE_CHARACTERISTICS,
        "A complex attribute that includes the attributes of a schema.",
    )
    .multi()
    .required()
    .read_only(),
];

/// `urn:ietf:params:scim:schemas:core:2.0:Schema` (RFC 7643 §7).
pub static SCHEMA_SCHEMA: SchemaDef = SchemaDef {
    id: SCHEMA_SCHEMA_URN,
    name: "Schema",
    description: "Specifies the schema attribute characteristics of SCIM resources",
    attributes: &SCHEMA_ATTRS,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn p(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        }
    }

    #[test]
    fn core_lookup_is_case_insensitive() {
        let r = USER_RESOURCE.find(&p(None, "USERNAME", None)).unwrap();
        assert_eq!(r.attr.name, "userName");
        assert!(r.sub.is_none());
        assert!(!r.in_extension);
        assert_eq!(r.container(), None);
        assert!(std::ptr::eq(r.schema, &USER_SCHEMA));
        assert!(!r.attr.case_exact);
        assert_eq!(r.attr.uniqueness, Uniqueness::Server);

        let r = USER_RESOURCE
            .find(&p(None, "name", Some("GIVENNAME")))
            .unwrap();
        assert_eq!(r.target().name, "givenName");
        assert!(USER_RESOURCE.find(&p(None, "name", Some("nope"))).is_none());
        assert!(USER_RESOURCE.find(&p(None, "nope", None)).is_none());
    }

    #[test]
    fn urn_qualified_lookup() {
        let r = USER_RESOURCE
            .find(&p(
                Some(&USER_SCHEMA_URN.to_ascii_uppercase()),
                "emails",
                Some("value"),
            ))
            .unwrap();
        assert_eq!(r.attr.name, "emails");
        assert_eq!(r.target().name, "value");
        assert!(!r.in_extension);
        // A core name qualified with the extension URN does not resolve.
        assert!(
            USER_RESOURCE
                .find(&p(Some(ENTERPRISE_USER_SCHEMA_URN), "userName", None))
                .is_none()
        );
        // The Group schema does not qualify User attributes.
        assert!(
            USER_RESOURCE
                .find(&p(Some(GROUP_SCHEMA_URN), "displayName", None))
                .is_none()
        );
    }

    #[test]
    fn extension_lookup() {
        let r = USER_RESOURCE
            .find(&p(
                Some(ENTERPRISE_USER_SCHEMA_URN),
                "Manager",
                Some("value"),
            ))
            .unwrap();
        assert!(r.in_extension);
        assert_eq!(r.container(), Some(ENTERPRISE_USER_SCHEMA_URN));
        assert_eq!(r.attr.name, "manager");
        assert!(r.target().case_exact);
        // Unqualified fallback.
        let r = USER_RESOURCE
            .find(&p(None, "employeeNumber", None))
            .unwrap();
        assert!(r.in_extension);
        assert!(std::ptr::eq(r.schema, &ENTERPRISE_USER_SCHEMA));
        // Groups have no extension.
        assert!(
            GROUP_RESOURCE
                .find(&p(None, "employeeNumber", None))
                .is_none()
        );
    }

    #[test]
    fn common_attributes() {
        for rt in RESOURCE_TYPES {
            let id = rt.find(&p(None, "ID", None)).unwrap();
            assert!(id.is_common());
            assert_eq!(id.attr.returned, Returned::Always);
            assert!(id.attr.case_exact);
            assert_eq!(id.attr.mutability, Mutability::ReadOnly);
            let ext = rt.find(&p(Some(rt.schema.id), "externalid", None)).unwrap();
            assert!(ext.attr.case_exact);
            assert_eq!(ext.attr.mutability, Mutability::ReadWrite);
            let lm = rt.find(&p(None, "meta", Some("lastmodified"))).unwrap();
            assert_eq!(lm.target().ty, AttrType::DateTime);
            assert!(!lm.in_extension);
            assert!(rt.find(&p(None, "meta", Some("bogus"))).is_none());
        }
        // Common attributes are not qualified by the extension.
        assert!(
            USER_RESOURCE
                .find(&p(Some(ENTERPRISE_USER_SCHEMA_URN), "id", None))
                .is_none()
        );
        assert!(
            !USER_RESOURCE
                .find(&p(None, "userName", None))
                .unwrap()
                .is_common()
        );
    }

    #[test]
    fn whole_schema_paths() {
        // As a parser splits the bare extension URN.
        let split = p(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
            "user",
            None,
        );
        assert!(std::ptr::eq(
            USER_RESOURCE.schema_for_path(&split).unwrap(),
            &ENTERPRISE_USER_SCHEMA
        ));
        assert!(USER_RESOURCE.find(&split).is_none());
        let whole = p(Some(ENTERPRISE_USER_SCHEMA_URN), "", None);
        assert!(USER_RESOURCE.schema_for_path(&whole).is_some());
        assert!(GROUP_RESOURCE.schema_for_path(&split).is_none());
        assert!(
            USER_RESOURCE
                .schema_for_path(&p(None, "user", None))
                .is_none()
        );
    }

    #[test]
    fn characteristics_follow_the_rfc() {
        let pw = USER_SCHEMA.attribute("password").unwrap();
        assert_eq!(pw.mutability, Mutability::WriteOnly);
        assert_eq!(pw.returned, Returned::Never);
        let groups = USER_SCHEMA.attribute("groups").unwrap();
        assert_eq!(groups.mutability, Mutability::ReadOnly);
        assert!(
            groups
                .sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::ReadOnly)
        );
        assert_eq!(
            groups.sub_attribute("$REF").unwrap().reference_types,
            ["User", "Group"]
        );
        let members = GROUP_SCHEMA.attribute("members").unwrap();
        for n in ["value", "$ref", "type"] {
            assert_eq!(
                members.sub_attribute(n).unwrap().mutability,
                Mutability::Immutable
            );
        }
        assert_eq!(
            members.sub_attribute("type").unwrap().canonical_values,
            ["User", "Group"]
        );
        assert!(GROUP_SCHEMA.attribute("displayName").unwrap().required);
        let mgr = ENTERPRISE_USER_SCHEMA.attribute("manager").unwrap();
        assert_eq!(
            mgr.sub_attribute("displayName").unwrap().mutability,
            Mutability::ReadOnly
        );
        let emails = USER_SCHEMA.attribute("emails").unwrap();
        assert!(emails.multi_valued);
        assert_eq!(
            emails.sub_attribute("type").unwrap().canonical_values,
            ["work", "home", "other"]
        );
    }

    #[test]
    fn user_schema_is_complete() {
        let names: Vec<_> = USER_SCHEMA.attributes.iter().map(|a| a.name).collect();
        assert_eq!(
            names,
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
        // Complex attributes have sub-attributes, others none; reference
        // attributes name their targets.
        for schema in all_schemas() {
            check_shape(schema.attributes);
        }
    }

    fn check_shape(attrs: &[AttributeDef]) {
        for a in attrs {
            assert_eq!(
                a.ty == AttrType::Complex,
                !a.sub_attributes.is_empty(),
                "{}",
                a.name
            );
            assert_eq!(
                a.ty == AttrType::Reference,
                !a.reference_types.is_empty(),
                "{}",
                a.name
            );
            assert!(!a.description.is_empty(), "{}", a.name);
            // RFC 7643 §2.3.6, §2.3.7.
            if matches!(a.ty, AttrType::Reference | AttrType::Binary) {
                assert!(a.case_exact, "{}", a.name);
            }
            check_shape(a.sub_attributes);
        }
    }

    #[test]
    fn attr_info_follows_the_schema() {
        let rt: &dyn AttrInfo = &USER_RESOURCE;
        assert!(!rt.case_exact(&p(None, "USERNAME", None)));
        assert!(rt.case_exact(&p(None, "id", None)));
        assert!(rt.case_exact(&p(None, "externalId", None)));
        assert!(rt.case_exact(&p(
            Some(ENTERPRISE_USER_SCHEMA_URN),
            "manager",
            Some("value")
        )));
        assert!(!rt.case_exact(&p(None, "nope", None)));
        assert_eq!(
            rt.attr_type(&p(None, "active", None)),
            Some(AttrType::Boolean)
        );
        assert_eq!(
            rt.attr_type(&p(None, "meta", Some("lastModified"))),
            Some(AttrType::DateTime)
        );
        assert_eq!(
            rt.attr_type(&p(None, "emails", None)),
            Some(AttrType::Complex)
        );
        assert_eq!(rt.attr_type(&p(None, "nope", None)), None);
        assert!(rt.is_core_schema(&USER_SCHEMA_URN.to_lowercase()));
        assert!(!rt.is_core_schema(ENTERPRISE_USER_SCHEMA_URN));
        assert!(!rt.is_core_schema(GROUP_SCHEMA_URN));
        let group: &dyn AttrInfo = &GROUP_RESOURCE;
        assert!(group.case_exact(&p(None, "members", Some("value"))));
        assert!(!group.case_exact(&p(None, "displayName", None)));
    }

    #[test]
    fn registries() {
        assert!(std::ptr::eq(
            resource_type_by_name("User").unwrap(),
            &USER_RESOURCE
        ));
        assert!(resource_type_by_name("user").is_none());
        assert!(std::ptr::eq(
            resource_type_by_schema(&GROUP_SCHEMA_URN.to_lowercase()).unwrap(),
            &GROUP_RESOURCE
        ));
        assert_eq!(all_schemas().count(), 6);
        assert!(schema_by_id(SCHEMA_SCHEMA_URN).is_some());
        let ids: Vec<_> = USER_RESOURCE.schemas().map(|s| s.id).collect();
        assert_eq!(ids, [USER_SCHEMA_URN, ENTERPRISE_USER_SCHEMA_URN]);
    }
}
