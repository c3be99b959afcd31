//! Attribute paths as used by filters, `sortBy`, `attributes` and PATCH.
//!
//! The grammar lives with the filter parser (a PATCH path can hold a filter); the
//! canonical text is their `Display`.

use std::str::FromStr;

use super::filter::{self, Filter, FilterError};

/// `[urn:...:]attrName[.subAttr]`, the `attrPath` rule of RFC 7644 §3.4.2.2.
///
/// Names keep the case the client sent; comparisons against schemas are
/// case-insensitive (RFC 7643 §2.1). The URN is whatever precedes the last ':' of a
/// path starting `urn:`, so `urn:...:enterprise:2.0:User` alone parses as URN
/// `urn:...:enterprise:2.0` and name `User`; callers that accept whole schemas in
/// `attributes` must check for that themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// Schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub urn: Option<String>,
    /// Top-level attribute name, e.g. `emails`.
    pub name: String,
    /// Sub-attribute name, e.g. `value` in `emails.value`.
    pub sub: Option<String>,
}

/// A PATCH `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath [ "." subAttr ]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute, possibly with a sub-attribute when there is no filter.
    pub attr: AttrPath,
    /// The value filter in brackets, e.g. `type eq "work"` in `emails[type eq "work"]`.
    pub filter: Option<Filter>,
    /// The sub-attribute after the brackets, e.g. `value` in `emails[type eq "work"].value`.
    pub sub_after_filter: Option<String>,
}

/// Parses an attribute path as used in `sortBy` and `attributes`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    filter::parse_attr_path(input)
}

/// Parses a PATCH operation's `path`.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    filter::parse_patch_path(input)
}

impl FromStr for AttrPath {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_attr_path(s)
    }
}

impl FromStr for PatchPath {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_patch_path(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        }
    }

    #[test]
    fn attr_paths() {
        let cases = [
            ("userName", path(None, "userName", None)),
            ("name.familyName", path(None, "name", Some("familyName"))),
            (
                "  meta.lastModified ",
                path(None, "meta", Some("lastModified")),
            ),
            ("members.$ref", path(None, "members", Some("$ref"))),
            ("x509Certificates", path(None, "x509Certificates", None)),
            ("urn-ish_name", path(None, "urn-ish_name", None)),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                path(Some(CORE_USER), "userName", None),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                path(Some(ENTERPRISE), "manager", Some("value")),
            ),
            (
                "URN:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                path(
                    Some("URN:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                    "employeeNumber",
                    None,
                ),
            ),
        ];
        for (text, want) in cases {
            let got = parse_attr_path(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), text.trim(), "{text}");
        }
    }

    #[test]
    fn attr_path_errors() {
        let cases = [
            ("", 0, "expected an attribute name"),
            ("1abc", 0, "expected an attribute name"),
            ("name.", 5, "expected a sub-attribute name after '.'"),
            ("name.givenName.x", 14, "expected the end of the path"),
            (
                "emails[type eq \"work\"]",
                6,
                "expected the end of the path",
            ),
            ("a b", 2, "expected the end of the path"),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:",
                43,
                "expected an attribute name after the schema URN",
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0",
                34,
                "expected an attribute name after the schema URN",
            ),
        ];
        for (text, offset, message) in cases {
            let err = parse_attr_path(text).expect_err(text);
            assert_eq!((err.offset(), err.message()), (offset, message), "{text}");
            assert_eq!(err.subject(), filter::Subject::Path);
        }
    }

    #[test]
    fn patch_paths() {
        let plain = |text: &str, attr: AttrPath| {
            let got = parse_patch_path(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                got,
                PatchPath {
                    attr,
                    filter: None,
                    sub_after_filter: None
                }
            );
            assert_eq!(got.to_string(), text);
        };
        plain("members", path(None, "members", None));
        plain("name.givenName", path(None, "name", Some("givenName")));
        plain(
            &format!("{ENTERPRISE}:manager"),
            path(Some(ENTERPRISE), "manager", None),
        );
        plain(
            &format!("{ENTERPRISE}:manager.value"),
            path(Some(ENTERPRISE), "manager", Some("value")),
        );
        plain(
            &format!("{CORE_USER}:name.givenName"),
            path(Some(CORE_USER), "name", Some("givenName")),
        );

        let filtered = |text: &str, name: &str, filter: &str, sub: Option<&str>| {
            let got = parse_patch_path(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let want = PatchPath {
                attr: path(None, name, None),
                filter: Some(filter::parse_filter(filter).expect(filter)),
                sub_after_filter: sub.map(str::to_owned),
            };
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), text);
        };
        filtered(
            r#"members[value eq "2819c223"]"#,
            "members",
            r#"value eq "2819c223""#,
            None,
        );
        filtered(
            r#"emails[type eq "work"].value"#,
            "emails",
            r#"type eq "work""#,
            Some("value"),
        );
        filtered(
            r#"addresses[type eq "work" and primary eq true].streetAddress"#,
            "addresses",
            r#"type eq "work" and primary eq true"#,
            Some("streetAddress"),
        );
        assert!("members".parse::<PatchPath>().is_ok());
        assert!("name.givenName".parse::<AttrPath>().is_ok());
    }

    #[test]
    fn patch_path_errors() {
        let cases = [
            ("", 0, "expected an attribute name"),
            ("members[", 8, "expected an attribute name, '(' or 'not ('"),
            ("members[value eq \"x\"", 20, "expected 'and', 'or' or ']'"),
            (
                "members[value eq \"x\"].",
                22,
                "expected a sub-attribute name after '.'",
            ),
            (
                "members[value eq \"x\"]x",
                21,
                "expected the end of the path",
            ),
            (
                "members[a[b pr]]",
                9,
                "value filters ('[...]') cannot be nested",
            ),
            ("name.givenName[x pr]", 14, "expected the end of the path"),
        ];
        for (text, offset, message) in cases {
            let err = parse_patch_path(text).expect_err(text);
            assert_eq!((err.offset(), err.message()), (offset, message), "{text}");
        }
    }
}
