//! The docs that show what scimitar does, checked against what it does:
//!
//! - `docs/scim-api.md`: every ```` ```http ```` request in it is sent, in
//!   order, to a real `scimitar serve` (the SCIM API over the in-memory
//!   store), and the response block after it must be what the server
//!   answered: status, the headers a client relies on, and the body. Server
//!   ids and times are replaced by fixed ones (the N-th new id seen becomes
//!   the N-th of [`IDS`], and requests use those), so the page reads the same
//!   on every run. `SCIMITAR_UPDATE_GOLDEN=1` rewrites the response blocks.
//! - `docs/jumpcloud.md`: the attribute tables say which `ScimUser` and
//!   `ScimGroup` field holds each attribute JumpCloud sends; the bodies of
//!   the JumpCloud replays in `tests/fixtures/idp/jumpcloud/` go through the
//!   write path and the Kubernetes store's conversion, and every row must
//!   hold.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scimitar::scim::patch::{apply_patch, parse_patch_request};
use scimitar::scim::resource::{prepare_create, prepare_replace};
use scimitar::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use scimitar::store::kube::convert::{group_spec_from_scim, user_spec_from_scim};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ids the page shows, in the order the server hands out new ones.
const IDS: [&str; 16] = [
    "2819c223-7f76-453a-919d-413861904646",
    "902c246b-6245-4190-8e05-00816be7344a",
    "e9e30dba-f08f-4109-8486-d5c6a331660a",
    "fc348aa8-3835-40eb-a20b-c726e15c55b5",
    "6c5bb468-14b2-4183-baf2-06d523e03bd3",
    "0f4fa3b4-6fa3-4b6c-9a1e-0b8e3c5d2a71",
    "a3c2f1e0-5b7d-4e2a-8c9f-1d2e3f4a5b6c",
    "b7e1d2c3-4a5f-4e6d-9b8a-7c6d5e4f3a2b",
    "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    "d4c3b2a1-f6e5-4d8c-9b0a-e1f2a3b4c5d6",
    "e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9",
    "f0e1d2c3-b4a5-4968-8776-655443322110",
    "11223344-5566-4778-8990-aabbccddeeff",
    "22334455-6677-4889-9aab-bccddeeff001",
    "33445566-7788-4990-aabb-ccddeeff0012",
    "44556677-8899-4aab-bbcc-ddeeff001223",
];

/// The bearer token the page's requests present as `$TOKEN`.
const TOKEN: &str = "docs-example-token";
/// The public base URL the server is told it is reached at.
const PUBLIC_URL: &str = "https://scim.example.com/scim/v2";
/// Response headers the page shows, in this order, when the server sends them.
const SHOWN_HEADERS: [&str; 5] = [
    "Content-Type",
    "Location",
    "ETag",
    "Retry-After",
    "WWW-Authenticate",
];

/// A `scimitar serve` on a free port, stopped on drop.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start() -> Serve {
        let port = crate::support::operator::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_scimitar"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--token", &format!("acme={TOKEN}")])
            .args(["--public-url", PUBLIC_URL])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("scimitar serve started");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "scimitar serve did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Serve {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fenced ```` ```http ```` block: the line numbers of its content.
struct Block {
    /// First content line (after the fence).
    start: usize,
    /// The closing fence.
    end: usize,
}

fn http_blocks(lines: &[&str]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open = None;
    for (n, line) in lines.iter().enumerate() {
        match (open, line.trim_end()) {
            (None, "```http") => open = Some(n + 1),
            (Some(start), "```") => {
                blocks.push(Block { start, end: n });
                open = None;
            }
            _ => {}
        }
    }
    assert!(open.is_none(), "an ```http block is not closed");
    blocks
}

/// Server values → the page's, and back.
#[derive(Default)]
struct Names {
    ids: Vec<String>,
    times: Vec<String>,
}

impl Names {
    /// Replaces every UUID in `text` by the page's id for it, naming new ones.
    fn ids_to_page(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some((before, uuid, after)) = next_uuid(rest) {
            out.push_str(before);
            let n = match self.ids.iter().position(|i| i.eq_ignore_ascii_case(uuid)) {
                Some(n) => n,
                None => {
                    self.ids.push(uuid.to_owned());
                    self.ids.len() - 1
                }
            };
            out.push_str(IDS.get(n).expect("more ids than IDS holds: add some"));
            rest = after;
        }
        out.push_str(rest);
        out
    }

    /// Replaces the page's ids in `text` by the server's.
    fn ids_to_server(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (n, real) in self.ids.iter().enumerate() {
            out = out.replace(IDS[n], real);
        }
        out
    }

    /// `meta.created` and `meta.lastModified` → fixed times, one a second
    /// from 12:00:00 in the order the server's times first appear.
    fn times_to_page(&mut self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    match (key.as_str(), v.as_str()) {
                        ("created" | "lastModified", Some(time)) => {
                            let n = match self.times.iter().position(|t| t == time) {
                                Some(n) => n,
                                None => {
                                    self.times.push(time.to_owned());
                                    self.times.len() - 1
                                }
                            };
                            *v = Value::String(format!(
                                "2025-01-31T12:{:02}:{:02}Z",
                                n / 60,
                                n % 60
                            ));
                        }
                        _ => self.times_to_page(v),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.times_to_page(v)),
            _ => {}
        }
    }
}

/// The first UUID (8-4-4-4-12 hex digits) in `text`: what precedes it, it,
/// and what follows.
fn next_uuid(text: &str) -> Option<(&str, &str, &str)> {
    let bytes = text.as_bytes();
    let is_uuid = |s: &[u8]| {
        s.len() == 36
            && s.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    (0..bytes.len().saturating_sub(35))
        .find(|&i| {
            is_uuid(&bytes[i..i + 36])
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
                && bytes.get(i + 36).is_none_or(|b| !b.is_ascii_alphanumeric())
        })
        .map(|i| (&text[..i], &text[i..i + 36], &text[i + 36..]))
}

/// A request as the page writes it: `METHOD TARGET HTTP/1.1`, headers, a
/// blank line, and the body (sent as written).
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

fn parse_request(text: &str) -> Request {
    let (head, body) = match text.split_once("\n\n") {
        Some((head, body)) => (head, Some(body.trim().to_owned())),
        None => (text, None),
    };
    let mut lines = head.lines();
    let first = lines.next().expect("a request line");
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some("HTTP/1.1"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("not a request line: {first:?}");
    };
    let headers = lines
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap_or_else(|| panic!("header {l:?}"));
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: body.filter(|b| !b.is_empty()),
    }
}

/// The route a request target exercises, e.g. `PATCH /Users/{id}`.
fn route(method: &str, target: &str) -> String {
    let path = target.split('?').next().unwrap_or(target);
    let path = path.strip_prefix("/scim/v2").unwrap_or(path);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let pattern = match segments.as_slice() {
        [kind @ ("Users" | "Groups"), id] if *id != ".search" => format!("/{kind}/{{id}}"),
        ["Schemas", _] => "/Schemas/{id}".to_owned(),
        ["ResourceTypes", _] => "/ResourceTypes/{name}".to_owned(),
        _ => format!("/{}", segments.join("/")),
    };
    format!("{method} {pattern}")
}

/// Every route of the SCIM router (`src/http/scim/mod.rs`,
/// `src/http/scim/resources.rs`) the page must show.
const ROUTES: [&str; 22] = [
    "GET /ServiceProviderConfig",
    "GET /ResourceTypes",
    "GET /ResourceTypes/{name}",
    "GET /Schemas",
    "GET /Schemas/{id}",
    "POST /Users",
    "GET /Users",
    "POST /Users/.search",
    "GET /Users/{id}",
    "PUT /Users/{id}",
    "PATCH /Users/{id}",
    "DELETE /Users/{id}",
    "POST /Groups",
    "GET /Groups",
    "POST /Groups/.search",
    "GET /Groups/{id}",
    "PUT /Groups/{id}",
    "PATCH /Groups/{id}",
    "DELETE /Groups/{id}",
    "POST /.search",
    "POST /Bulk",
    "GET /Me",
];

async fn send(serve: &Serve, names: &mut Names, request: &Request) -> String {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let target = names.ids_to_server(&request.target);
    let mut builder = client.request(method, format!("{}{target}", serve.url));
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("host") {
            continue;
        }
        let value = names.ids_to_server(&value.replace("$TOKEN", TOKEN));
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(names.ids_to_server(body));
    }
    let response = builder.send().await.expect("scimitar serve answered");
    let status = response.status();
    let mut out = format!(
        "HTTP/1.1 {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for name in SHOWN_HEADERS {
        if let Some(value) = response.headers().get(name) {
            let value = value.to_str().expect("ASCII header");
            out.push_str(&format!("\n{name}: {}", names.ids_to_page(value)));
        }
    }
    let text = response.text().await.expect("body");
    if !text.is_empty() {
        let body = match serde_json::from_str::<Value>(&text) {
            Ok(mut json) => {
                names.times_to_page(&mut json);
                let mut out = String::new();
                pretty(&json, 0, 0, &mut out);
                out
            }
            Err(_) => text,
        };
        out.push_str("\n\n");
        out.push_str(&names.ids_to_page(&body));
    }
    out
}

/// The page's width for JSON.
const WIDTH: usize = 80;

/// `value` as compact one-line JSON with spaces after `:` and `,`.
fn inline(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), inline(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

/// Pretty JSON, two spaces an indent, where an array or object that fits on
/// its line (`used` columns are taken before it) is written on one line.
fn pretty(value: &Value, indent: usize, used: usize, out: &mut String) {
    let one_line = inline(value);
    let container = matches!(value, Value::Array(_) | Value::Object(_));
    if !container || (indent > 0 && used + one_line.len() < WIDTH) {
        out.push_str(&one_line);
        return;
    }
    let pad = "  ".repeat(indent + 1);
    let (open, close) = if value.is_array() {
        ('[', ']')
    } else {
        ('{', '}')
    };
    out.push(open);
    let entries: Vec<(Option<&String>, &Value)> = match value {
        Value::Array(items) => items.iter().map(|v| (None, v)).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (Some(k), v)).collect(),
        _ => unreachable!(),
    };
    for (n, (key, item)) in entries.iter().enumerate() {
        out.push('\n');
        out.push_str(&pad);
        let mut used = pad.len();
        if let Some(key) = key {
            let key = format!("{}: ", Value::from(key.as_str()));
            used += key.len();
            out.push_str(&key);
        }
        pretty(item, indent + 1, used + 1, out);
        if n + 1 < entries.len() {
            out.push(',');
        }
    }
    out.push('\n');
    out.push_str(&"  ".repeat(indent));
    out.push(close);
}

#[tokio::test]
async fn scim_api_md_shows_what_the_server_answers() {
    let path = repo().join("docs/scim-api.md");
    let doc = std::fs::read_to_string(&path).expect("docs/scim-api.md");
    let lines: Vec<&str> = doc.lines().collect();
    let blocks = http_blocks(&lines);
    assert!(
        blocks.len().is_multiple_of(2),
        "every request block needs a response block after it"
    );

    let serve = Serve::start();
    let mut names = Names::default();
    let mut routes = Vec::new();
    // (first line, end line, new content) of every response block.
    let mut answers = Vec::new();
    for pair in blocks.chunks(2) {
        let (request, response) = (&pair[0], &pair[1]);
        let text = lines[request.start..request.end].join("\n");
        assert!(
            !text.starts_with("HTTP/"),
            "line {}: a request block was expected",
            request.start
        );
        let request_parsed = parse_request(&text);
        routes.push(route(&request_parsed.method, &request_parsed.target));
        let answer = send(&serve, &mut names, &request_parsed).await;
        answers.push((response.start, response.end, answer));
    }

    let mut regenerated: Vec<String> = Vec::with_capacity(lines.len());
    let mut next = 0;
    for (start, end, answer) in answers {
        regenerated.extend(lines[next..start].iter().map(|l| (*l).to_owned()));
        regenerated.extend(answer.lines().map(str::to_owned));
        next = end;
    }
    regenerated.extend(lines[next..].iter().map(|l| (*l).to_owned()));
    let regenerated = regenerated.join("\n") + "\n";

    if std::env::var_os("SCIMITAR_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &regenerated).expect("writing docs/scim-api.md");
    } else {
        pretty_assertions::assert_eq!(
            doc,
            regenerated,
            "docs/scim-api.md shows responses the server does not give; \
             SCIMITAR_UPDATE_GOLDEN=1 cargo test --test e2e -- docs_match_the_code:: rewrites them"
        );
    }
    let missing: Vec<&str> = ROUTES
        .iter()
        .copied()
        .filter(|r| !routes.iter().any(|seen| seen == r))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/scim-api.md shows no request to {missing:?}"
    );
}

/// The body of the step named `step` in a JumpCloud replay, with the
/// replay's `${…}` variables filled in from `vars`.
fn fixture_body(file: &str, step: &str, vars: &BTreeMap<&str, &str>) -> Value {
    let path = repo().join("tests/fixtures/idp/jumpcloud").join(file);
    let mut text = std::fs::read_to_string(&path).expect("fixture");
    for (name, value) in vars {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    let replay: Value = serde_yaml::from_str(&text).expect("fixture YAML");
    let steps = replay["steps"].as_array().expect("steps");
    steps
        .iter()
        .find(|s| s["name"] == step)
        .unwrap_or_else(|| panic!("{file} has no step {step:?}"))["request"]["body"]
        .clone()
}

/// The rows of the Markdown table after the line containing `marker`:
/// each row's cells.
fn table_after(doc: &str, marker: &str) -> Vec<Vec<String>> {
    let mut lines = doc
        .lines()
        .skip_while(|l| !l.contains(marker))
        .skip(1)
        .skip_while(|l| !l.starts_with('|'));
    let mut rows = Vec::new();
    // Header and separator.
    lines.next();
    lines.next();
    for line in lines.take_while(|l| l.starts_with('|')) {
        rows.push(
            line.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect(),
        );
    }
    assert!(!rows.is_empty(), "no table after {marker:?}");
    rows
}

/// The first `code span` of a cell.
fn code(cell: &str) -> Option<&str> {
    let start = cell.find('`')? + 1;
    let len = cell[start..].find('`')?;
    Some(&cell[start..start + len])
}

/// The value at a dotted SCIM or spec path (`name.givenName`,
/// `urn:…:User:department`, `members`), `None` when absent.
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let (mut current, rest) = match path.strip_prefix(ENTERPRISE) {
        Some(rest) => (value.get(ENTERPRISE)?, rest.trim_start_matches(':')),
        None => (value, path),
    };
    for key in rest.split('.').filter(|k| !k.is_empty()) {
        current = current.get(key)?;
    }
    (!current.is_null()).then_some(current)
}

/// Whether `stored` holds everything `sent` has (objects may gain keys the
/// server adds, such as a member's canonical `type`).
fn holds(stored: &Value, sent: &Value) -> bool {
    match (stored, sent) {
        (Value::Object(s), Value::Object(t)) => t
            .iter()
            .all(|(k, v)| s.get(k).is_some_and(|sv| holds(sv, v))),
        (Value::Array(s), Value::Array(t)) => {
            s.len() == t.len() && s.iter().zip(t).all(|(a, b)| holds(a, b))
        }
        _ => stored == sent,
    }
}

/// Checks the table after `marker` against SCIM bodies as JumpCloud sends
/// them and the specs scimitar stores for them: a row's SCIM attribute
/// (second column) must be in one of the bodies, and its field (third
/// column, `spec.…`) must hold what was sent, or be absent when what was
/// sent is `[]` (cleared); a row whose field says "not stored" must leave no
/// such field.
fn check_rows(doc: &str, marker: &str, sent_and_stored: &[(Value, Value)]) {
    for row in table_after(doc, marker) {
        let attribute = code(&row[1]).unwrap_or_else(|| panic!("no SCIM attribute in {row:?}"));
        let covering: Vec<&(Value, Value)> = sent_and_stored
            .iter()
            .filter(|(sent, _)| at(sent, attribute).is_some())
            .collect();
        assert!(
            !covering.is_empty(),
            "{marker}: no JumpCloud replay sends `{attribute}`"
        );
        for (sent, stored) in covering {
            let sent_value = at(sent, attribute).expect("covered");
            match code(&row[2]) {
                Some(field) => {
                    let field = field.strip_prefix("spec.").expect("a spec. field");
                    let stored_value = at(stored, field);
                    let unassigned = matches!(sent_value, Value::Array(a) if a.is_empty())
                        || matches!(sent_value, Value::Object(o) if o.is_empty());
                    if unassigned {
                        // `[]` and `{}` clear the field (RFC 7643 §2.5).
                        assert!(
                            stored_value.is_none(),
                            "{marker}: `{attribute}` = {sent_value} left spec.{field} = {stored_value:?}"
                        );
                        continue;
                    }
                    assert!(
                        stored_value.is_some_and(|v| holds(v, sent_value)),
                        "{marker}: `{attribute}` = {sent_value} is not in spec.{field} ({stored_value:?})"
                    );
                }
                None => {
                    assert!(row[2].contains("not stored"), "{row:?}");
                    assert!(
                        at(stored, attribute).is_none(),
                        "{marker}: `{attribute}` is stored after all: {stored}"
                    );
                }
            }
        }
    }
}

#[test]
fn jumpcloud_attribute_tables_say_where_each_attribute_is_stored() {
    let doc = std::fs::read_to_string(repo().join("docs/jumpcloud.md")).expect("docs/jumpcloud.md");
    let user_id = "d500eedc-4dbc-494e-978a-56da891f179a";
    let vars = BTreeMap::from([
        ("test_email", "jc-test@customer.example"),
        ("test_user", user_id),
        ("ada", user_id),
        ("readers", "4c1d2a0e-3f5b-4e6a-9d7c-8b9a0f1e2d3c"),
        ("run", "1"),
    ]);

    // Users: JumpCloud's create and its full PUT (title, department,
    // cleared lists), as the Kubernetes store converts them.
    let create = fixture_body("activate.yaml", "create the test user", &vars);
    let created = prepare_create(&USER_RESOURCE, create.clone()).expect("JumpCloud's create");
    let put = fixture_body("day.yaml", "ada gets a title and a department", &vars);
    let replaced = prepare_replace(&USER_RESOURCE, put.clone(), &created).expect("JumpCloud's PUT");
    let users: Vec<(Value, Value)> = [(create, created), (put, replaced)]
        .into_iter()
        .map(|(sent, normalised)| {
            let spec = user_spec_from_scim(&normalised).expect("a ScimUser spec");
            (sent, serde_json::to_value(spec).expect("JSON"))
        })
        .collect();
    check_rows(&doc, "<!-- jumpcloud user attributes -->", &users);

    // Groups: created without members, then a member added JumpCloud's way.
    let create = fixture_body("day.yaml", "create readers", &vars);
    let created = prepare_create(&GROUP_RESOURCE, create.clone()).expect("JumpCloud's group");
    let add = fixture_body("day.yaml", "ada joins readers", &vars);
    let request = parse_patch_request(&add).expect("JumpCloud's PATCH");
    let patched = apply_patch(&GROUP_RESOURCE, &created, &request).expect("member added");
    // What the add sent, as an attribute of the group.
    let added = serde_json::json!({"members": add["Operations"][0]["value"]});
    let groups: Vec<(Value, Value)> = [(create, created), (added, patched)]
        .into_iter()
        .map(|(sent, normalised)| {
            let spec = group_spec_from_scim(&normalised).expect("a ScimGroup spec");
            (sent, serde_json::to_value(spec).expect("JSON"))
        })
        .collect();
    check_rows(&doc, "<!-- jumpcloud group attributes -->", &groups);
}
