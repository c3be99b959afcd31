//! The PatchOp message (RFC 7644 §3.5.2) and its error keywords.

use serde_json::json;

use super::*;
use crate::scim::patch::{PatchOpKind, PatchOperation};
use crate::scim::path::parse_patch_path;

fn parse_failure(body: Value) -> (u16, Option<ScimType>) {
    failure(parse_patch_request(&body).map(|_| Value::Null))
}

#[test]
fn parses_the_rfc_example() {
    let request = parse_patch_request(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"display": "Babs Jensen", "value": BABS}]},
            {"op": "remove", "path": "members[value eq \"2819c223\"]"},
            {"op": "replace", "value": {"displayName": "Tour Guides"}}
        ]
    }))
    .expect("valid");
    assert_eq!(
        request.operations,
        vec![
            PatchOperation {
                op: PatchOpKind::Add,
                path: Some(parse_patch_path("members").expect("path")),
                value: Some(json!([{"display": "Babs Jensen", "value": BABS}])),
            },
            PatchOperation {
                op: PatchOpKind::Remove,
                path: Some(parse_patch_path("members[value eq \"2819c223\"]").expect("path")),
                value: None,
            },
            PatchOperation {
                op: PatchOpKind::Replace,
                path: None,
                value: Some(json!({"displayName": "Tour Guides"})),
            },
        ]
    );
}

#[test]
fn op_names_match_in_any_case() {
    for (word, kind) in [
        ("add", PatchOpKind::Add),
        ("Add", PatchOpKind::Add),
        ("ADD", PatchOpKind::Add),
        ("Replace", PatchOpKind::Replace),
        ("rEpLaCe", PatchOpKind::Replace),
        ("Remove", PatchOpKind::Remove),
    ] {
        let request = parse(json!([{"op": word, "path": "nickName", "value": "x"}]));
        assert_eq!(request.operations[0].op, kind, "{word}");
    }
}

#[test]
fn message_member_names_match_in_any_case() {
    let request = parse_patch_request(&json!({
        "Schemas": ["URN:ietf:params:scim:api:messages:2.0:PatchOp"],
        "operations": [{"OP": "replace", "Path": "active", "Value": false}]
    }))
    .expect("valid");
    assert_eq!(request.operations[0].value, Some(json!(false)));
}

#[test]
fn schemas_must_name_patch_op() {
    let ops = json!([{"op": "add", "path": "nickName", "value": "x"}]);
    for body in [
        json!({"Operations": ops}),
        json!({"schemas": [], "Operations": ops}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": ops}),
        json!({"schemas": PATCH_OP_URN, "Operations": ops}),
        json!([{"op": "add"}]),
        json!("PatchOp"),
    ] {
        assert_eq!(parse_failure(body.clone()), INVALID_SYNTAX, "{body}");
    }
}

#[test]
fn operations_must_be_a_non_empty_array_of_objects() {
    for ops in [
        json!(null),
        json!([]),
        json!({"op": "add"}),
        json!(["add"]),
        json!([[]]),
    ] {
        let body = json!({"schemas": [PATCH_OP_URN], "Operations": ops});
        assert_eq!(parse_failure(body), INVALID_SYNTAX, "{ops}");
    }
    assert_eq!(
        parse_failure(json!({"schemas": [PATCH_OP_URN]})),
        INVALID_SYNTAX
    );
}

#[test]
fn op_must_be_a_known_string() {
    for op in [
        json!("copy"),
        json!("move"),
        json!("test"),
        json!(""),
        json!(1),
        json!(null),
    ] {
        let (status, kind) =
            parse_failure(body(json!([{"op": op, "path": "nickName", "value": "x"}])));
        assert_eq!((status, kind), INVALID_SYNTAX, "{op}");
    }
    assert_eq!(
        parse_failure(body(json!([{"path": "nickName", "value": "x"}]))),
        INVALID_SYNTAX
    );
}

#[test]
fn bad_paths_are_invalid_path() {
    for path in [
        json!(""),
        json!("name."),
        json!("members[value eq"),
        json!("a b"),
        json!(7),
        json!(["members"]),
    ] {
        assert_eq!(
            parse_failure(body(json!([{"op": "remove", "path": path}]))),
            INVALID_PATH,
            "{path}"
        );
    }
}

#[test]
fn remove_without_path_is_no_target() {
    // RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with
    // HTTP status code 400 and a "scimType" error code of "noTarget"."
    assert_eq!(parse_failure(body(json!([{"op": "remove"}]))), NO_TARGET);
    assert_eq!(
        parse_failure(body(
            json!([{"op": "Remove", "path": null, "value": [{"value": BABS}]}])
        )),
        NO_TARGET
    );
}

#[test]
fn add_and_replace_need_a_value() {
    for op in ["add", "replace"] {
        assert_eq!(
            parse_failure(body(json!([{"op": op, "path": "nickName"}]))),
            INVALID_VALUE
        );
        assert_eq!(
            parse_failure(body(json!([{"op": op, "path": "nickName", "value": null}]))),
            INVALID_VALUE
        );
        assert_eq!(parse_failure(body(json!([{"op": op}]))), INVALID_VALUE);
    }
}

#[test]
fn errors_name_the_operation() {
    let e = parse_patch_request(&body(json!([
        {"op": "add", "path": "nickName", "value": "x"},
        {"op": "frobnicate"}
    ])))
    .expect_err("second op is bad");
    assert!(e.detail.starts_with("Operations[1]: "), "{}", e.detail);
    assert!(e.detail.contains("frobnicate"), "{}", e.detail);
}

#[test]
fn remove_keeps_its_value() {
    let request = parse(json!([{"op": "remove", "path": "members", "value": [{"value": BABS}]}]));
    assert_eq!(request.operations[0].value, Some(json!([{"value": BABS}])));
}
