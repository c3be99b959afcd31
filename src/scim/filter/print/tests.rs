use pretty_assertions::assert_eq;
use proptest::prelude::*;
use serde_json::Number;

use super::super::parse_filter;
use super::*;
use crate::scim::path::{parse_attr_path, parse_patch_path};

fn canonical(input: &str) -> String {
    parse_filter(input)
        .unwrap_or_else(|e| panic!("{input:?}: {e}"))
        .to_string()
}

#[test]
fn canonical_text() {
    let cases = [
        (r#"userName EQ "x""#, r#"userName eq "x""#),
        ("  title   PR ", "title pr"),
        ("a pr OR b pr AND c pr", "a pr or b pr and c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("(a pr or b pr) or c pr", "a pr or b pr or c pr"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("(a pr and b pr) or c pr", "a pr and b pr or c pr"),
        ("((a pr))", "a pr"),
        ("NOT(a pr or b pr)", "not (a pr or b pr)"),
        ("a eq TRUE and b ne Null", "a eq true and b ne null"),
        ("n gt 1E3", "n gt 1000.0"),
        ("n lt -0.5", "n lt -0.5"),
        ("n le 18446744073709551615", "n le 18446744073709551615"),
        (
            r#"s eq "caf\u00e9 \"q\" \\ \/ \u0001 \t""#,
            r#"s eq "café \"q\" \\ / \u0001 \t""#,
        ),
        (
            r#"emails[type eq "work"].value eq "x""#,
            r#"emails[type eq "work" and value eq "x"]"#,
        ),
        (
            r#"emails[type eq "a" or type eq "b"].value pr"#,
            r#"emails[(type eq "a" or type eq "b") and value pr]"#,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(canonical(input), want, "{input:?}");
    }
}

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        1 => Just("$ref".to_owned()),
        // Names that are also keywords must still round-trip.
        2 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "urn"])
            .prop_map(str::to_owned),
    ]
}

fn arb_urn() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(CORE_USER.to_owned()),
        Just(ENTERPRISE.to_owned()),
        "urn:[a-z]{1,5}(:[a-zA-Z0-9._-]{1,6}){1,3}",
    ]
}

fn arb_path(with_sub: bool) -> impl Strategy<Value = AttrPath> {
    let sub = if with_sub {
        prop::option::of(arb_name()).boxed()
    } else {
        Just(None).boxed()
    };
    (prop::option::of(arb_urn()), arb_name(), sub).prop_map(|(urn, name, sub)| AttrPath {
        urn,
        name,
        sub,
    })
}

fn arb_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(CompValue::Number)),
        any::<String>().prop_map(CompValue::String),
    ]
}

fn arb_op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn arb_attr_expr() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (arb_path(true), arb_op(), arb_value()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
        arb_path(true).prop_map(Filter::Present),
    ]
}

/// Adds `and`, `or` and `not` over `leaf`.
fn logic(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
    .boxed()
}

/// Filters of the shapes the parser produces: value paths only at the outer level and
/// only on paths without a sub-attribute.
fn arb_filter() -> BoxedStrategy<Filter> {
    let value_path =
        (arb_path(false), logic(arb_attr_expr().boxed())).prop_map(|(path, filter)| {
            Filter::ValuePath {
                path,
                filter: Box::new(filter),
            }
        });
    logic(prop_oneof![3 => arb_attr_expr(), 1 => value_path].boxed())
}

proptest! {
    #[test]
    fn filters_round_trip(filter in arb_filter()) {
        let text = filter.to_string();
        let reparsed = parse_filter(&text);
        prop_assert_eq!(reparsed.as_ref(), Ok(&filter), "{}", text);
    }

    #[test]
    fn attr_paths_round_trip(path in arb_path(true)) {
        let text = path.to_string();
        prop_assert_eq!(parse_attr_path(&text), Ok(path), "{}", text);
    }

    #[test]
    fn patch_paths_round_trip(
        attr in arb_path(false),
        filter in logic(arb_attr_expr().boxed()),
        sub in prop::option::of(arb_name()),
    ) {
        let path = PatchPath { attr, filter: Some(filter), sub_after_filter: sub };
        let text = path.to_string();
        prop_assert_eq!(parse_patch_path(&text), Ok(path), "{}", text);
    }

    /// Anything at all: never panics, and whatever parses prints to a fixed point.
    #[test]
    fn arbitrary_text_parses_or_fails_cleanly(text in "\\PC{0,60}|[a-z()\\[\\]\". ]{0,60}") {
        if let Ok(filter) = parse_filter(&text) {
            prop_assert_eq!(parse_filter(&filter.to_string()), Ok(filter));
        }
    }
}
