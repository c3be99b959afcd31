use pretty_assertions::assert_eq;
use serde_json::Number;

use super::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn attr(name: &str) -> AttrPath {
    AttrPath {
        urn: None,
        name: name.to_owned(),
        sub: None,
    }
}

fn sub(name: &str, sub: &str) -> AttrPath {
    AttrPath {
        sub: Some(sub.to_owned()),
        ..attr(name)
    }
}

fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { path, op, value }
}

fn eq(name: &str, value: &str) -> Filter {
    cmp(attr(name), CompareOp::Eq, string(value))
}

fn pr(name: &str) -> Filter {
    Filter::Present(attr(name))
}

fn string(s: &str) -> CompValue {
    CompValue::String(s.to_owned())
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

fn value_path(path: AttrPath, filter: Filter) -> Filter {
    Filter::ValuePath {
        path,
        filter: Box::new(filter),
    }
}

fn parse(input: &str) -> Filter {
    parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn error(input: &str) -> (usize, &'static str) {
    let err = parse_filter(input).expect_err(input);
    assert_eq!(err.subject(), Subject::Filter);
    (err.offset(), err.message())
}

#[test]
fn every_operator_in_any_case() {
    for op in CompareOp::ALL {
        for word in [op.as_str().to_owned(), op.as_str().to_ascii_uppercase()] {
            let f = parse(&format!("title {word} \"x\""));
            assert_eq!(f, cmp(attr("title"), op, string("x")));
        }
    }
    assert_eq!(parse("title pr"), pr("title"));
    assert_eq!(parse("title PR"), pr("title"));
    assert_eq!(parse("title Pr"), pr("title"));
}

#[test]
fn string_literals_unescape() {
    let cases = [
        (r#""plain""#, "plain"),
        (r#""""#, ""),
        (r#""a\"b""#, "a\"b"),
        (r#""back\\slash""#, "back\\slash"),
        (r#""caf\u00e9""#, "café"),
        (r#""caf\u00E9""#, "café"),
        (r#""\/\b\f\n\r\t""#, "/\u{8}\u{c}\n\r\t"),
        (r#""\ud83d\ude00""#, "😀"),
        ("\"raw ünïcode 😀\"", "raw ünïcode 😀"),
        (r#""(and) [or] not""#, "(and) [or] not"),
    ];
    for (literal, want) in cases {
        assert_eq!(
            parse(&format!("a eq {literal}")),
            eq("a", want),
            "{literal}"
        );
    }
}

#[test]
fn numbers_and_keywords() {
    let number = |text: &str| match parse(&format!("n gt {text}")) {
        Filter::Compare {
            value: CompValue::Number(n),
            ..
        } => n,
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(number("0"), Number::from(0u64));
    assert_eq!(number("-0"), Number::from(0u64));
    assert_eq!(number("42"), Number::from(42u64));
    assert_eq!(number("-17"), Number::from(-17i64));
    assert_eq!(number("18446744073709551615"), Number::from(u64::MAX));
    assert_eq!(number("-9223372036854775808"), Number::from(i64::MIN));
    assert_eq!(number("1.5").as_f64(), Some(1.5));
    assert_eq!(number("1e3").as_f64(), Some(1000.0));
    assert_eq!(number("-2.5E-3").as_f64(), Some(-0.0025));
    assert_eq!(number("1E+2").as_f64(), Some(100.0));
    assert_eq!(
        number("123456789012345678901234567890").as_f64(),
        Some(1.2345678901234568e29)
    );

    for (text, want) in [
        ("true", CompValue::Bool(true)),
        ("TRUE", CompValue::Bool(true)),
        ("False", CompValue::Bool(false)),
        ("null", CompValue::Null),
        ("NULL", CompValue::Null),
    ] {
        assert_eq!(
            parse(&format!("a eq {text}")),
            cmp(attr("a"), CompareOp::Eq, want)
        );
    }
}

#[test]
fn and_binds_tighter_than_or_and_both_associate_left() {
    let (a, b, c) = (pr("a"), pr("b"), pr("c"));
    assert_eq!(
        parse("a pr or b pr and c pr"),
        or(a.clone(), and(b.clone(), c.clone()))
    );
    assert_eq!(
        parse("a pr and b pr or c pr"),
        or(and(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        parse("a pr or b pr or c pr"),
        or(or(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        parse("a pr and b pr and c pr"),
        and(and(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        parse("(a pr or b pr) and c pr"),
        and(or(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        parse("a pr and (b pr or c pr)"),
        and(a.clone(), or(b.clone(), c.clone()))
    );
    assert_eq!(parse("a pr AND b pr Or c pr"), or(and(a.clone(), b), c));
    assert_eq!(parse("((a pr))"), a);
}

#[test]
fn not_needs_parentheses_and_leaves_attribute_names_alone() {
    assert_eq!(parse("not (a pr)"), not(pr("a")));
    assert_eq!(parse("NOT(a pr)"), not(pr("a")));
    assert_eq!(parse("not ( a pr )"), not(pr("a")));
    assert_eq!(parse("not (not (a pr))"), not(not(pr("a"))));
    assert_eq!(parse("not (a pr) and b pr"), and(not(pr("a")), pr("b")));
    // Keywords are only keywords where the grammar expects them.
    assert_eq!(parse(r#"not eq "x""#), eq("not", "x"));
    assert_eq!(parse("notes pr"), pr("notes"));
    assert_eq!(parse("and pr and or pr"), and(pr("and"), pr("or")));
    assert_eq!(parse("pr pr"), pr("pr"));
    assert_eq!(parse(r#"ordinal eq "x""#), eq("ordinal", "x"));
}

#[test]
fn whitespace_is_lenient() {
    let want = and(eq("userName", "x"), pr("title"));
    for text in [
        r#"userName eq "x" and title pr"#,
        "  userName   eq  \"x\"\tand\ntitle pr  ",
        r#"userName eq"x" and title pr"#,
        r#"(userName eq "x")and(title pr)"#,
    ] {
        assert_eq!(parse(text), want, "{text:?}");
    }
    assert_eq!(parse("not(a pr)or(b pr)"), or(not(pr("a")), pr("b")));
}

#[test]
fn value_paths() {
    assert_eq!(
        parse(r#"emails[type eq "work" and value co "@example.com"]"#),
        value_path(
            attr("emails"),
            and(
                eq("type", "work"),
                cmp(attr("value"), CompareOp::Co, string("@example.com"))
            )
        )
    );
    assert_eq!(
        parse(r#"id eq "g1" and members[value eq "u1"]"#),
        and(
            eq("id", "g1"),
            value_path(attr("members"), eq("value", "u1"))
        )
    );
    assert_eq!(
        parse(r#"name[givenName eq "x"]"#),
        value_path(attr("name"), eq("givenName", "x"))
    );
    assert_eq!(
        parse(r#"emails [ not (type eq "work") ]"#),
        value_path(attr("emails"), not(eq("type", "work")))
    );
    assert_eq!(
        parse(&format!(r#"{ENTERPRISE}:manager[value pr]"#)),
        value_path(
            AttrPath {
                urn: Some(ENTERPRISE.to_owned()),
                ..attr("manager")
            },
            pr("value")
        )
    );
}

#[test]
fn entra_sub_attribute_after_value_filter_becomes_a_conjunction() {
    assert_eq!(
        parse(r#"emails[type eq "work"].value eq "x@y""#),
        parse(r#"emails[type eq "work" and value eq "x@y"]"#),
    );
    assert_eq!(
        parse(r#"emails[type eq "work" or primary eq true].value pr"#),
        value_path(
            attr("emails"),
            and(
                or(
                    eq("type", "work"),
                    cmp(attr("primary"), CompareOp::Eq, CompValue::Bool(true))
                ),
                pr("value")
            )
        )
    );
    assert_eq!(
        parse(r#"emails[type eq "work"].value eq "x" and active eq true"#),
        and(
            value_path(attr("emails"), and(eq("type", "work"), eq("value", "x"))),
            cmp(attr("active"), CompareOp::Eq, CompValue::Bool(true))
        )
    );
}

#[test]
fn qualified_and_sub_attribute_paths() {
    assert_eq!(
        parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "b""#),
        cmp(
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".to_owned()),
                ..attr("userName")
            },
            CompareOp::Eq,
            string("b")
        )
    );
    assert_eq!(
        parse(&format!(r#"{ENTERPRISE}:manager.value eq "m""#)),
        cmp(
            AttrPath {
                urn: Some(ENTERPRISE.to_owned()),
                ..sub("manager", "value")
            },
            CompareOp::Eq,
            string("m")
        )
    );
    assert_eq!(
        parse(r#"name.familyName co "O'Malley""#),
        cmp(sub("name", "familyName"), CompareOp::Co, string("O'Malley"))
    );
    assert_eq!(
        parse("members.$ref pr"),
        Filter::Present(sub("members", "$ref"))
    );
    assert_eq!(parse("x-custom_attr2 pr"), pr("x-custom_attr2"));
}

#[test]
fn filters_real_identity_providers_send() {
    for text in [
        r#"userName eq "bjensen@example.com""#,
        r#"externalId eq "abc""#,
        r#"displayName eq "Eng""#,
        r#"emails[type eq "work"].value eq "x@y""#,
        r#"id eq "g1" and members[value eq "u1"]"#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"not (emails co "example.com")"#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"userName Eq "john""#,
    ] {
        parse(text);
    }
}

#[test]
fn errors_say_what_was_expected_where() {
    let cases = [
        ("", 0, START),
        ("   ", 3, START),
        ("userName foo \"x\"", 9, OPERATOR),
        ("userName eq", 11, VALUE),
        ("userName eq bob", 12, VALUE),
        ("userName eq 01", 12, VALUE),
        ("userName eq 1.", 12, VALUE),
        ("userName eq 12abc", 12, VALUE),
        ("userName eq 1e999", 12, NUMBER_RANGE),
        ("userName eq \"bob", 12, UNTERMINATED),
        (r#"userName eq "b\x""#, 14, ESCAPE),
        (r#"userName eq "\u12""#, 13, ESCAPE),
        (r#"userName eq "\ud800""#, 13, ESCAPE),
        (r#"userName eq "\udc00""#, 13, ESCAPE),
        ("(userName pr", 12, CLOSE_PAREN),
        ("(a pr b pr)", 6, CLOSE_PAREN),
        ("userName pr)", 11, END_FILTER),
        ("a pr orb pr", 5, END_FILTER),
        ("userName pr and", 15, START),
        ("userName pr and )", 16, START),
        ("not a pr", 4, OPERATOR),
        ("not (", 5, START),
        ("emails[type eq \"work\"", 21, CLOSE_BRACKET),
        ("emails[]", 7, START),
        ("emails[type[value pr]]", 11, NESTED_VALUE_FILTER),
        ("emails[type eq \"work\"].", 23, SUB_ATTR),
        ("emails[type eq \"work\"].value", 28, OPERATOR),
        ("name.", 5, SUB_ATTR),
        ("name.familyName[x pr]", 15, OPERATOR),
        ("1abc pr", 0, START),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User: pr",
            43,
            URN_ATTR,
        ),
        ("a eq \"x\" and", 12, START),
    ];
    for (text, offset, message) in cases {
        assert_eq!(error(text), (offset, message), "{text:?}");
    }
}

#[test]
fn error_display() {
    let err = parse_filter(r#"displayName "x""#).expect_err("no operator");
    assert_eq!(
        err.to_string(),
        "invalid filter at position 12: expected a comparison operator \
         (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"
    );
    let err: FilterError = "a eq".parse::<Filter>().expect_err("no value");
    assert_eq!(
        err.to_string(),
        "invalid filter at position 4: expected a value (a JSON string, a number, true, false or null)"
    );
}

#[test]
fn nesting_and_length_are_bounded() {
    let nest = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(parse(&nest(MAX_DEPTH)), pr("a"));
    assert_eq!(error(&nest(MAX_DEPTH + 1)), (MAX_DEPTH, TOO_DEEP));
    assert_eq!(error(&nest(4000)), (MAX_DEPTH, TOO_DEEP));
    let nots = format!(
        "{}a pr{}",
        "not (".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(error(&nots), (5 * MAX_DEPTH, TOO_DEEP));
    assert_eq!(error(&"[".repeat(MAX_LEN + 1)), (MAX_LEN, TOO_LONG));
    assert!(TOO_DEEP.contains(&MAX_DEPTH.to_string()));
    assert!(TOO_LONG.contains(&MAX_LEN.to_string()));
}

#[test]
fn longest_flat_chain_prints_evaluates_and_drops() {
    let unit = "a pr or ";
    let text = format!("{}a pr", unit.repeat((MAX_LEN - 4) / unit.len()));
    let filter = parse(&text);
    assert_eq!(filter.to_string(), text);
    let resource = serde_json::json!({ "b": 1 });
    assert!(!super::super::matches(
        &filter,
        &resource,
        &super::super::NoSchema
    ));
}
