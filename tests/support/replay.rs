//! Replays an identity provider's SCIM traffic from a fixture file and checks
//! every answer the IdP depends on.
//!
//! A fixture (`tests/fixtures/idp/<idp>/<sequence>.yaml`) is a list of steps:
//!
//! ```yaml
//! headers:                      # sent with every request (Authorization is added)
//!   User-Agent: Okta SCIM Client 1.0.0
//!   Content-Type: application/scim+json; charset=utf-8
//! steps:
//!   - name: connection test
//!     request:
//!       method: GET
//!       path: /Users?startIndex=1&count=2      # relative to /scim/v2, sent as is
//!       headers: {Accept: application/json}   # optional, per request
//!       body: {...}                           # optional, sent as JSON (or `raw: "..."`)
//!     expect:
//!       status: 200
//!       headers: {content-type: application/scim+json}  # value must be contained
//!       body: {totalResults: 0}               # subset: listed keys must match
//!       absent: [/Resources/0/members]        # JSON pointers that must not exist
//!       length: {/Resources: 1}               # array lengths
//!     capture: {user_id: /id}                 # JSON pointer → variable
//! ```
//!
//! `${name}` in paths, header values and body strings is replaced by a
//! variable: captured ones, those the test passes in, and `${token}`.
//! Subset matching: objects match when every expected key matches (recursively);
//! arrays must have the same length and match element by element; scalars
//! must be equal. `~` (null) in `body` means the key must be absent or null.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A whole fixture file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub steps: Vec<Step>,
}

/// One request and what its answer must be.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub request: Request,
    pub expect: Expect,
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub raw: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub absent: Vec<String>,
    #[serde(default)]
    pub length: BTreeMap<String, usize>,
}

/// Variables shared by the fixtures of one test.
pub type Vars = BTreeMap<String, String>;

/// Loads `tests/fixtures/idp/<relative>`.
pub fn load(relative: &str) -> Fixture {
    let path = super::repo().join("tests/fixtures/idp").join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    // YAML merge keys (`<<: *anchor`) let a fixture repeat a body with one change.
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    value
        .apply_merge()
        .unwrap_or_else(|e| panic!("merging keys in {}: {e}", path.display()));
    serde_yaml::from_value(value).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Replaces `${name}` with the variable's value; an unknown name is a test bug.
pub fn substitute(text: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .unwrap_or_else(|| panic!("unclosed ${{ in {text:?}"));
        let name = &after[..end];
        let value = vars
            .get(name)
            .unwrap_or_else(|| panic!("fixture uses ${{{name}}}, which is not set"));
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn substitute_json(value: &Value, vars: &Vars) -> Value {
    match value {
        Value::String(s) => Value::String(substitute(s, vars)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute_json(v, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (substitute(k, vars), substitute_json(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where `actual` fails to match `expected`, as a JSON pointer and reason.
pub fn mismatch(expected: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Null, Value::Null) => None,
        (Value::Null, other) => Some(format!("{at}: expected absent or null, got {other}")),
        (Value::Object(want), Value::Object(have)) => want.iter().find_map(|(key, w)| {
            let here = format!("{at}/{key}");
            match have.get(key) {
                Some(h) => mismatch(w, h, &here),
                None if w.is_null() => None,
                None => Some(format!("{here}: missing")),
            }
        }),
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Some(format!(
                    "{at}: expected {} items, got {}",
                    want.len(),
                    have.len()
                ));
            }
            want.iter()
                .zip(have)
                .enumerate()
                .find_map(|(i, (w, h))| mismatch(w, h, &format!("{at}/{i}")))
        }
        (want, have) if want == have => None,
        (want, have) => Some(format!("{at}: expected {want}, got {have}")),
    }
}

/// What a replayed step got back.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Sends every step of `fixture` to `base` (the `/scim/v2` URL), checking
/// each answer and capturing variables into `vars`. Panics at the first
/// step that does not answer as the IdP needs, naming the fixture and step.
pub async fn replay(base: &str, fixture_name: &str, vars: &mut Vars) {
    let fixture = load(fixture_name);
    let http = reqwest::Client::new();
    for step in &fixture.steps {
        let answer = send(&http, base, &fixture.headers, &step.request, vars).await;
        let fail = |why: String| -> ! {
            panic!(
                "{fixture_name}, step {:?}: {why}\nstatus {}, body {}",
                step.name, answer.status, answer.body
            )
        };
        if answer.status != step.expect.status {
            fail(format!("expected status {}", step.expect.status));
        }
        for (name, want) in &step.expect.headers {
            let have = answer
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !have.contains(&substitute(want, vars)) {
                fail(format!("header {name}: expected {want:?} in {have:?}"));
            }
        }
        if let Some(body) = &step.expect.body
            && let Some(why) = mismatch(&substitute_json(body, vars), &answer.body, "")
        {
            fail(why);
        }
        for pointer in &step.expect.absent {
            if answer.body.pointer(pointer).is_some() {
                fail(format!("{pointer} should be absent"));
            }
        }
        for (pointer, len) in &step.expect.length {
            let have = answer
                .body
                .pointer(pointer)
                .and_then(Value::as_array)
                .map(Vec::len);
            if have != Some(*len) {
                fail(format!("{pointer}: expected {len} items, got {have:?}"));
            }
        }
        for (name, pointer) in &step.capture {
            let value = match answer.body.pointer(pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => fail(format!("nothing at {pointer} to capture as {name}")),
            };
            vars.insert(name.clone(), value);
        }
    }
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    common: &BTreeMap<String, String>,
    request: &Request,
    vars: &Vars,
) -> Answer {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("HTTP method");
    let url = format!("{base}{}", substitute(&request.path, vars));
    let mut builder = http.request(method, url);
    let mut headers = common.clone();
    headers.extend(request.headers.clone());
    if !headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("authorization"))
    {
        headers.insert("Authorization".into(), "Bearer ${token}".into());
    }
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), substitute(value, vars));
    }
    if let Some(body) = &request.body {
        builder = builder.body(substitute_json(body, vars).to_string());
    } else if let Some(raw) = &request.raw {
        builder = builder.body(substitute(raw, vars));
    }
    let response = builder.send().await.expect("the server answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn subset_matching_names_the_first_difference() {
        let have = json!({"a": 1, "b": [{"x": 1, "y": 2}], "c": "z"});
        assert_eq!(mismatch(&json!({"a": 1, "b": [{"x": 1}]}), &have, ""), None);
        assert_eq!(
            mismatch(&json!({"b": [{"x": 2}]}), &have, "").as_deref(),
            Some("/b/0/x: expected 2, got 1")
        );
        assert_eq!(mismatch(&json!({"d": null}), &have, ""), None);
        assert!(mismatch(&json!({"b": []}), &have, "").is_some());
    }

    #[test]
    fn variables_are_substituted() {
        let vars = Vars::from([("id".to_owned(), "42".to_owned())]);
        assert_eq!(substitute("/Users/${id}?x=${id}", &vars), "/Users/42?x=42");
    }
}
