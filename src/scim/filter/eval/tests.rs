use serde_json::{Value, json};

use super::*;
use crate::scim::filter::parse_filter;

/// RFC 7643 §8.3: the full enterprise user example (the §8.2 user plus the extension).
fn user() -> Value {
    serde_json::from_str(include_str!("../testdata/rfc7643_enterprise_user.json"))
        .expect("fixture is JSON")
}

/// Enough of the User schema to exercise caseExact and typing.
struct TestSchema {
    case_exact_everywhere: bool,
}

const STRICT: TestSchema = TestSchema {
    case_exact_everywhere: false,
};
const ALL_EXACT: TestSchema = TestSchema {
    case_exact_everywhere: true,
};

fn key(path: &AttrPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.name).to_ascii_lowercase(),
        None => path.name.to_ascii_lowercase(),
    }
}

impl AttrInfo for TestSchema {
    fn case_exact(&self, path: &AttrPath) -> bool {
        self.case_exact_everywhere
            || matches!(
                key(path).as_str(),
                "id" | "externalid" | "password" | "meta.version"
            )
    }

    fn attr_type(&self, path: &AttrPath) -> Option<AttrType> {
        Some(match key(path).as_str() {
            "active" | "emails.primary" | "addresses.primary" => AttrType::Boolean,
            "meta.created" | "meta.lastmodified" => AttrType::DateTime,
            "x509certificates.value" => AttrType::Binary,
            "name" | "emails" | "addresses" | "groups" | "meta" | "manager" => AttrType::Complex,
            "title" | "username" | "displayname" | "nickname" | "emails.value" => AttrType::String,
            _ => return None,
        })
    }
}

fn eval(filter: &str, resource: &Value, info: &dyn AttrInfo) -> bool {
    let filter = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    matches(&filter, resource, info)
}

/// Asserts each filter's result against the user, with and without a schema.
fn check_user(cases: &[(&str, bool)]) {
    let user = user();
    for &(filter, want) in cases {
        assert_eq!(eval(filter, &user, &NoSchema), want, "NoSchema: {filter}");
        assert_eq!(eval(filter, &user, &STRICT), want, "TestSchema: {filter}");
    }
}

#[test]
fn string_operators() {
    check_user(&[
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"userName eq "bjensen""#, false),
        (r#"userName ne "bjensen""#, true),
        (r#"userName ne "bjensen@example.com""#, false),
        (r#"userName co "jensen@""#, true),
        (r#"userName co "jensen#""#, false),
        (r#"userName sw "bjen""#, true),
        (r#"userName sw "jen""#, false),
        (r#"userName ew "example.com""#, true),
        (r#"userName ew "example""#, false),
        (r#"userName gt "a""#, true),
        (r#"userName gt "c""#, false),
        (r#"userName ge "bjensen@example.com""#, true),
        (r#"userName lt "bjensen@example.com""#, false),
        (r#"userName le "bjensen@example.com""#, true),
        (r#"userName lt "c""#, true),
        (r#"title eq "Tour Guide""#, true),
    ]);
}

#[test]
fn names_are_case_insensitive_and_values_follow_case_exact() {
    let user = user();
    for filter in [
        r#"USERNAME eq "bjensen@example.com""#,
        r#"Name.FamilyName eq "Jensen""#,
        r#"userName eq "BJensen@Example.COM""#,
        r#"displayName co "BABS""#,
        r#"emails[TYPE eq "WORK"]"#,
    ] {
        assert!(eval(filter, &user, &NoSchema), "NoSchema: {filter}");
        assert!(eval(filter, &user, &STRICT), "TestSchema: {filter}");
    }
    for filter in [
        r#"userName eq "BJensen@Example.COM""#,
        r#"displayName co "BABS""#,
        r#"emails[type eq "WORK"]"#,
    ] {
        assert!(!eval(filter, &user, &ALL_EXACT), "case exact: {filter}");
    }
    // Only the case-exact attributes of the schema care.
    let id = r#"id eq "2819C223-7F76-453A-919D-413861904646""#;
    assert!(eval(id, &user, &NoSchema));
    assert!(!eval(id, &user, &STRICT));
    assert!(eval(
        r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
        &user,
        &STRICT
    ));
    // Exactly, "a" sorts after "B" (0x61 > 0x42); case-insensitively, before it.
    let r = json!({ "v": "a" });
    assert!(!eval(r#"v gt "B""#, &r, &NoSchema));
    assert!(eval(r#"v gt "B""#, &r, &ALL_EXACT));
}

#[test]
fn multi_valued_and_complex_attributes() {
    check_user(&[
        // Without a sub-attribute a complex value is compared through `value`.
        (r#"emails co "example.com""#, true),
        (r#"emails eq "babs@jensen.org""#, true),
        (r#"emails co "nowhere""#, false),
        (r#"emails.value ew ".org""#, true),
        (r#"emails.type eq "home""#, true),
        (r#"emails.type eq "other""#, false),
        // `ne` means no value is equal.
        (r#"emails.type ne "work""#, false),
        (r#"emails.type ne "other""#, true),
        (r#"phoneNumbers.value sw "555-555-44""#, true),
        (r#"groups.display eq "employees""#, true),
        (r#"groups.$ref co "fc348aa8""#, true),
        (r#"name eq "Barbara""#, false),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#,
            true,
        ),
        (
            r#"schemas[value sw "urn:ietf:params:scim:schemas:extension"]"#,
            true,
        ),
    ]);
}

#[test]
fn value_filters_apply_to_one_value_at_a_time() {
    check_user(&[
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "home" and value co "@example.com"]"#,
            false,
        ),
        (
            r#"emails[type eq "home"] and emails[value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "work"].value eq "bjensen@example.com""#,
            true,
        ),
        (
            r#"emails[type eq "home"].value eq "bjensen@example.com""#,
            false,
        ),
        (r#"emails[type eq "work"].primary eq true"#, true),
        (r#"emails[primary eq true]"#, true),
        (r#"emails[not (primary pr)]"#, true),
        (r#"emails[primary pr and type eq "home"]"#, false),
        (
            r#"addresses[type eq "work" and postalCode eq "91608" and primary eq true]"#,
            true,
        ),
        (
            r#"name[givenName eq "Barbara" and familyName eq "Jensen"]"#,
            true,
        ),
        (r#"name[givenName eq "Babs"]"#, false),
        (
            r#"groups[display eq "Employees" or display eq "Nobody"]"#,
            true,
        ),
        (r#"nothing[value pr]"#, false),
        (r#"userName[value pr]"#, true),
    ]);
}

#[test]
fn timestamps_compare_chronologically() {
    check_user(&[
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:35Z""#, true),
        (r#"meta.lastModified le "2010-01-01T00:00:00Z""#, false),
        (r#"meta.lastModified eq "2011-05-13T04:42:34Z""#, true),
        // Same instant in another offset; lexicographically these differ.
        (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.lastModified gt "2011-05-13T05:00:00+02:00""#, true),
        (r#"meta.created co "2010-01""#, true),
    ]);
}

#[test]
fn declared_non_datetime_strings_stay_lexicographic() {
    let r = json!({ "title": "2011-05-13T04:42:34Z" });
    let later_elsewhere = r#"title lt "2011-05-13T05:00:00+02:00""#;
    assert!(!eval(later_elsewhere, &r, &NoSchema), "guessed a timestamp");
    assert!(eval(later_elsewhere, &r, &STRICT), "declared String");
}

#[test]
fn booleans_numbers_and_type_mismatches() {
    check_user(&[
        ("active eq true", true),
        ("active eq TRUE", true),
        ("active eq false", false),
        ("active ne false", true),
        ("active gt false", false),
        ("active co true", false),
        (r#"active eq "true""#, false),
        ("userName eq 5", false),
        ("userName ne 5", true),
    ]);
    let r = json!({ "count": 5, "big": u64::MAX, "neg": -3, "ratio": 0.5, "list": [1, 7] });
    for (filter, want) in [
        ("count eq 5", true),
        ("count eq 5.0", true),
        ("count gt 4.5", true),
        ("count ge 5", true),
        ("count lt 5", false),
        ("big gt 9223372036854775807", true),
        ("big eq 18446744073709551615", true),
        ("neg lt 0", true),
        ("neg gt -4", true),
        ("neg lt 18446744073709551615", true),
        ("ratio lt 1", true),
        ("ratio le 0.5", true),
        ("list gt 6", true),
        ("list gt 7", false),
        (r#"count eq "5""#, false),
        ("count co 5", false),
    ] {
        assert_eq!(eval(filter, &r, &NoSchema), want, "{filter}");
    }
}

#[test]
fn presence_and_null() {
    check_user(&[
        ("title pr", true),
        ("emails pr", true),
        ("name pr", true),
        ("name.middleName pr", true),
        ("nonexistent pr", false),
        ("title eq null", false),
        ("title ne null", true),
        ("nonexistent eq null", true),
        ("nonexistent ne null", false),
        ("nonexistent gt null", false),
        (r#"nonexistent ne "x""#, true),
        (r#"nonexistent eq "x""#, false),
    ]);
    let r = json!({
        "blank": "", "none": null, "emptyList": [], "emptyObject": {},
        "nulls": [null, ""], "hollow": { "a": null, "b": [] }, "zero": 0, "no": false,
    });
    for (filter, want) in [
        ("blank pr", false),
        ("none pr", false),
        ("emptyList pr", false),
        ("emptyObject pr", false),
        ("nulls pr", false),
        ("hollow pr", false),
        ("zero pr", true),
        ("no pr", true),
        ("blank eq null", true),
        ("none eq null", true),
    ] {
        assert_eq!(eval(filter, &r, &NoSchema), want, "{filter}");
    }
}

#[test]
fn logic() {
    check_user(&[
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr and userType eq "Intern""#, false),
        (r#"title eq "x" or userType eq "Employee""#, true),
        (r#"not (emails co "example.com")"#, false),
        (r#"not (emails co "nowhere.test")"#, true),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
    ]);
}

#[test]
fn schema_qualified_paths() {
    check_user(&[
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            true,
        ),
        (
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:employeeNumber eq "701984""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager co "26118915""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[displayName sw "John"]"#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#,
            false,
        ),
        (
            r#"urn:example:params:other:2.0:Thing:employeeNumber pr"#,
            false,
        ),
        // Extension attributes are not at the top level.
        (r#"employeeNumber eq "701984""#, false),
    ]);
}

#[test]
fn group_membership() {
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Eng",
        "members": [
            { "value": "u1", "$ref": "https://example.com/v2/Users/u1", "type": "User" },
            { "value": "u2", "type": "User" },
        ],
    });
    for (filter, want) in [
        (r#"id eq "g1" and members[value eq "u1"]"#, true),
        (r#"id eq "g1" and members[value eq "u3"]"#, false),
        (r#"displayName eq "eng""#, true),
        (r#"members eq "u2""#, true),
        (r#"members[value eq "u2" and $ref pr]"#, false),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Eng""#,
            true,
        ),
    ] {
        assert_eq!(eval(filter, &group, &NoSchema), want, "{filter}");
    }
}

#[test]
fn operators_the_type_cannot_take_are_reported() {
    let check = |text: &str| check_operators(&parse_filter(text).expect(text), &STRICT);
    for ok in [
        "active eq true",
        "active ne false",
        "active pr",
        r#"emails[primary eq true and value co "x"]"#,
        r#"x509Certificates.value eq "MIID""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        "unknown gt 1",
    ] {
        assert_eq!(check(ok), Ok(()), "{ok}");
    }
    let err = check("active gt false").expect_err("gt on a Boolean");
    assert_eq!(
        err.to_string(),
        "the 'gt' operator cannot be applied to the Boolean attribute 'active'"
    );
    let err = check(r#"userName pr and emails[primary sw "t"]"#).expect_err("sw on a Boolean");
    assert_eq!(
        (err.path.to_string(), err.op, err.ty),
        ("emails.primary".into(), CompareOp::Sw, AttrType::Boolean)
    );
    let err = check(r#"not (x509Certificates.value lt "M")"#).expect_err("lt on Binary");
    assert_eq!(err.ty, AttrType::Binary);
}
