//! `scimitar replay`: sends an identity provider's recorded SCIM traffic
//! (`tests/fixtures/idp/<idp>/<sequence>.yaml`) to a SCIM base URL and checks
//! every answer the IdP depends on. The IdP tests replay the same files, so
//! an install that passes `replay jumpcloud/activate.yaml` answers JumpCloud's
//! Activate as the tests do; `make dev` seeds its example tenant with it.
//! Imports nothing from the rest of the crate.
//!
//! A fixture is a list of steps:
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
//! variable: captured ones, those the caller passes in, and `${token}`.
//! Subset matching: objects match when every expected key matches (recursively);
//! arrays must have the same length and match element by element; scalars
//! must be equal. `~` (null) in `body` means the key must be absent or null.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller`,
//! `http`, `console`, `leader` and its own layer (the top layer;
//! tests/e2e/imports_follow_the_layers.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use openidconnect::reqwest;
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

/// Variables shared by the fixtures of one replay.
pub type Vars = BTreeMap<String, String>;

impl Fixture {
    /// Reads a fixture file.
    pub fn load(path: &Path) -> anyhow::Result<Fixture> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        // YAML merge keys (`<<: *anchor`) let a fixture repeat a body with one change.
        let mut value: serde_yaml::Value =
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        value
            .apply_merge()
            .with_context(|| format!("merging keys in {}", path.display()))?;
        serde_yaml::from_value(value).with_context(|| format!("reading {}", path.display()))
    }
}

/// Replaces `${name}` with the variable's value; an unknown name is an error
/// in the fixture or in what the caller passed.
pub fn substitute(text: &str, vars: &Vars) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            bail!("unclosed ${{ in {text:?}");
        };
        let name = &after[..end];
        let Some(value) = vars.get(name) else {
            bail!("the fixture uses ${{{name}}}, which is not set (--var {name}=...)");
        };
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_json(value: &Value, vars: &Vars) -> anyhow::Result<Value> {
    Ok(match value {
        Value::String(s) => Value::String(substitute(s, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_json(v, vars))
                .collect::<anyhow::Result<_>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((substitute(k, vars)?, substitute_json(v, vars)?)))
                .collect::<anyhow::Result<_>>()?,
        ),
        other => other.clone(),
    })
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

/// Sends every step of `fixture` (named `name` in errors) to `base` (the
/// `/scim/v2` URL), checking each answer and capturing variables into
/// `vars`. `on_step` hears of each step that answered as the IdP needs.
/// Stops at the first that did not, naming the fixture and the step.
pub async fn run(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    fixture: &Fixture,
    vars: &mut Vars,
    mut on_step: impl FnMut(&Step),
) -> anyhow::Result<()> {
    for step in &fixture.steps {
        let answer = send(http, base, &fixture.headers, &step.request, vars)
            .await
            .with_context(|| format!("{name}, step {:?}", step.name))?;
        if let Some(why) = check(&step.expect, &answer, vars)? {
            bail!(
                "{name}, step {:?}: {why}\nstatus {}, body {}",
                step.name,
                answer.status,
                answer.body
            );
        }
        for (var, pointer) in &step.capture {
            let value = match answer.body.pointer(pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => bail!(
                    "{name}, step {:?}: nothing at {pointer} to capture as {var}\nbody {}",
                    step.name,
                    answer.body
                ),
            };
            vars.insert(var.clone(), value);
        }
        on_step(step);
    }
    Ok(())
}

/// Why `answer` is not what `expect` asks for, if it is not.
fn check(expect: &Expect, answer: &Answer, vars: &Vars) -> anyhow::Result<Option<String>> {
    if answer.status != expect.status {
        return Ok(Some(format!("expected status {}", expect.status)));
    }
    for (name, want) in &expect.headers {
        let have = answer
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !have.contains(&substitute(want, vars)?) {
            return Ok(Some(format!(
                "header {name}: expected {want:?} in {have:?}"
            )));
        }
    }
    if let Some(body) = &expect.body
        && let Some(why) = mismatch(&substitute_json(body, vars)?, &answer.body, "")
    {
        return Ok(Some(why));
    }
    if let Some(pointer) = expect
        .absent
        .iter()
        .find(|p| answer.body.pointer(p).is_some())
    {
        return Ok(Some(format!("{pointer} should be absent")));
    }
    for (pointer, len) in &expect.length {
        let have = answer
            .body
            .pointer(pointer)
            .and_then(Value::as_array)
            .map(Vec::len);
        if have != Some(*len) {
            return Ok(Some(format!(
                "{pointer}: expected {len} items, got {have:?}"
            )));
        }
    }
    Ok(None)
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    common: &BTreeMap<String, String>,
    request: &Request,
    vars: &Vars,
) -> anyhow::Result<Answer> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .with_context(|| format!("HTTP method {:?}", request.method))?;
    let url = format!("{base}{}", substitute(&request.path, vars)?);
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
        builder = builder.header(name.as_str(), substitute(value, vars)?);
    }
    if let Some(body) = &request.body {
        builder = builder.body(substitute_json(body, vars)?.to_string());
    } else if let Some(raw) = &request.raw {
        builder = builder.body(substitute(raw, vars)?);
    }
    let response = builder.send().await.context("sending the request")?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Settings of `scimitar replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The SCIM base URL (`https://scim.example.com/scim/v2`).
    #[arg(long)]
    pub url: String,
    /// File holding the tenant's bearer token (kept out of the process list).
    #[arg(long, env = "SCIMITAR_TOKEN_FILE")]
    pub token_file: PathBuf,
    /// A variable the fixtures use, as `NAME=VALUE` (e.g. `test_email=it@example.com`).
    #[arg(long = "var", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Fixture files, replayed in order with shared variables.
    #[arg(required = true)]
    pub fixtures: Vec<PathBuf>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?}: expected NAME=VALUE"))
}

/// Replays each fixture, printing one line per step; fails at the first
/// step that does not answer as recorded.
pub async fn run_cli(args: ReplayArgs) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading {}", args.token_file.display()))?;
    let mut vars: Vars = args.vars.into_iter().collect();
    vars.insert("token".into(), token.trim().to_owned());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let base = args.url.trim_end_matches('/');
    for path in &args.fixtures {
        let fixture = Fixture::load(path)?;
        let name = path.display().to_string();
        run(&http, base, &name, &fixture, &mut vars, |step| {
            println!("ok  {name}: {}", step.name)
        })
        .await?;
    }
    Ok(())
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
    fn variables_are_substituted_and_unknown_ones_named() {
        let vars = Vars::from([("id".to_owned(), "42".to_owned())]);
        assert_eq!(
            substitute("/Users/${id}?x=${id}", &vars).unwrap(),
            "/Users/42?x=42"
        );
        let unknown = substitute("/Users/${who}", &vars).unwrap_err().to_string();
        assert!(
            unknown.contains("${who}") && unknown.contains("--var who="),
            "{unknown}"
        );
        assert!(substitute("/Users/${id", &vars).is_err());
    }

    #[test]
    fn every_recorded_session_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/idp");
        let mut count = 0;
        for idp in std::fs::read_dir(&root).unwrap() {
            for file in std::fs::read_dir(idp.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                let fixture = Fixture::load(&path).unwrap();
                assert!(!fixture.steps.is_empty(), "{}", path.display());
                count += 1;
            }
        }
        assert!(count >= 27, "{count} fixtures");
    }
}
