use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;

fn t0() -> Timestamp {
    "2025-03-01T12:00:00Z".parse().unwrap()
}

fn record(tenant: &str, minute: i64, method: &str, path: &str, status: u16) -> Record {
    Record {
        time: t0() + SignedDuration::from_mins(minute),
        tenant: tenant.into(),
        method: method.into(),
        path: path.into(),
        status,
        duration_ms: 1.25,
        request_body: None,
        response_body: None,
    }
}

fn parse(pairs: &[(&str, &str)]) -> Query {
    Query::parse(pairs.iter().copied()).unwrap()
}

fn seqs(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

#[test]
fn resource_types_come_from_the_path() {
    let cases = [
        ("/scim/v2/Users", ResourceType::User),
        ("/scim/v2/Users/abc?attributes=userName", ResourceType::User),
        ("/scim/v2/Users/.search", ResourceType::User),
        ("/Groups/g1", ResourceType::Group),
        ("/scim/v2/ServiceProviderConfig", ResourceType::Config),
        ("/scim/v2/ResourceTypes/User", ResourceType::Config),
        ("/scim/v2/Schemas", ResourceType::Schema),
        (
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            ResourceType::Schema,
        ),
        ("/scim/v2/.search", ResourceType::Search),
        ("/scim/v2/.search/x", ResourceType::Other),
        ("/scim/v2/Bulk", ResourceType::Other),
        ("/scim/v2/Me", ResourceType::Other),
        ("/scim/v2", ResourceType::Other),
        ("/scim/v2/Nope?x=/Users", ResourceType::Other),
    ];
    for (path, expected) in cases {
        assert_eq!(ResourceType::of_path(path), expected, "{path}");
    }
    for t in ResourceType::ALL {
        assert_eq!(ResourceType::parse(&t.as_str().to_lowercase()), Some(t));
    }
}

#[test]
fn bodies_are_redacted_and_bounded() {
    assert_eq!(Body::capture(b""), None);
    assert_eq!(Body::capture(b" \n"), None);

    let body = Body::capture(br#"{"userName":"ada","password":"s3cret"}"#).unwrap();
    assert_eq!(
        body.json,
        Some(json!({"userName": "ada", "password": "[redacted]"}))
    );
    assert!(!body.truncated);

    let body = Body::capture(br#"{"password":"s3cret", broken"#).unwrap();
    assert_eq!(body.json, None);
    assert_eq!(
        body.text.as_deref(),
        Some(r#"{"password":"[redacted]", broken"#)
    );
    assert!(!body.truncated);

    // A long text is cut at the limit, on a character boundary.
    let long = "é".repeat(BODY_LIMIT);
    let body = Body::capture(long.as_bytes()).unwrap();
    let text = body.text.unwrap();
    assert!(body.truncated);
    assert!(text.len() <= BODY_LIMIT && text.len() >= BODY_LIMIT - 1);
    assert!(long.starts_with(&text));

    // A long JSON body is redacted before it is cut.
    let big = json!({"password": "s3cret", "filler": "x".repeat(BODY_LIMIT)});
    let body = Body::capture(big.to_string().as_bytes()).unwrap();
    assert!(body.truncated && body.json.is_none());
    let text = body.text.unwrap();
    assert_eq!(text.len(), BODY_LIMIT);
    assert!(text.starts_with(r#"{"password":"[redacted]","filler":"xxx"#));
    assert!(!text.contains("s3cret"));
}

#[test]
fn the_ring_keeps_the_newest_entries_up_to_its_capacity() {
    let log = ScimLog::new(3);
    for i in 0..5 {
        assert_eq!(
            log.record(record("a", i, "GET", "/scim/v2/Users", 200)),
            i as u64
        );
    }
    assert_eq!(log.len(), 3);
    let page = log.page("a", &Query::default());
    assert_eq!(seqs(&page.entries), [4, 3, 2]);
    assert_eq!(page.next, None);

    let off = ScimLog::new(0);
    off.record(record("a", 0, "GET", "/scim/v2/Users", 200));
    assert!(off.is_empty());
    assert!(off.page("a", &Query::default()).entries.is_empty());
}

#[test]
fn tenants_see_only_their_own_entries() {
    let log = ScimLog::new(10);
    log.record(record("a", 0, "GET", "/scim/v2/Users", 200));
    log.record(record("b", 1, "GET", "/scim/v2/Users", 200));
    log.record(record("a", 2, "GET", "/scim/v2/Groups", 200));
    assert_eq!(seqs(&log.page("a", &Query::default()).entries), [2, 0]);
    assert_eq!(seqs(&log.page("b", &Query::default()).entries), [1]);
    assert!(log.page("c", &Query::default()).entries.is_empty());
    assert_eq!(seqs(&log.all("b", &Query::default())), [1]);
}

fn sample() -> ScimLog {
    let log = ScimLog::new(100);
    log.record(record("a", 0, "GET", "/scim/v2/ServiceProviderConfig", 200)); // 0
    log.record(record("a", 1, "POST", "/scim/v2/Users", 201)); // 1
    log.record(record("a", 2, "POST", "/scim/v2/Users", 409)); // 2
    log.record(record("a", 3, "PATCH", "/scim/v2/Groups/g", 204)); // 3
    log.record(record("a", 4, "GET", "/scim/v2/Schemas", 200)); // 4
    log.record(record("a", 5, "POST", "/scim/v2/.search", 400)); // 5
    log.record(record("a", 6, "DELETE", "/scim/v2/Users/u", 503)); // 6
    log.record(record("a", 7, "GET", "/scim/v2/Groups?filter=x", 304)); // 7
    log.record(record("b", 8, "POST", "/scim/v2/Users", 201)); // 8
    log
}

#[test]
fn every_filter_narrows_the_entries() {
    let log = sample();
    let find = |pairs: &[(&str, &str)]| seqs(&log.page("a", &parse(pairs)).entries);
    assert_eq!(find(&[]), [7, 6, 5, 4, 3, 2, 1, 0]);
    assert_eq!(find(&[("since", "2025-03-01T12:05:00Z")]), [7, 6, 5]);
    assert_eq!(find(&[("until", "2025-03-01T12:02:00Z")]), [1, 0]);
    assert_eq!(
        find(&[
            ("since", "2025-03-01T13:02:00+01:00"),
            ("until", "2025-03-01T12:04:00Z")
        ]),
        [3, 2]
    );
    assert_eq!(find(&[("method", "post")]), [5, 2, 1]);
    assert_eq!(find(&[("method", "PUT")]), Vec::<u64>::new());
    assert_eq!(find(&[("resourceType", "User")]), [6, 2, 1]);
    assert_eq!(find(&[("resourceType", "group")]), [7, 3]);
    assert_eq!(find(&[("resourceType", "Config")]), [0]);
    assert_eq!(find(&[("resourceType", "Schema")]), [4]);
    assert_eq!(find(&[("resourceType", "Search")]), [5]);
    assert_eq!(find(&[("status", "2xx")]), [4, 3, 1, 0]);
    assert_eq!(find(&[("status", "3xx")]), [7]);
    assert_eq!(find(&[("status", "4XX")]), [5, 2]);
    assert_eq!(find(&[("status", "5xx")]), [6]);
    assert_eq!(
        find(&[
            ("method", "POST"),
            ("resourceType", "User"),
            ("status", "2xx")
        ]),
        [1]
    );
}

#[test]
fn bad_parameters_are_refused_by_name() {
    for pairs in [
        &[("since", "yesterday")][..],
        &[("until", "2025-03-01")],
        &[("method", "G E T")],
        &[("resourceType", "Users")],
        &[("status", "200")],
        &[("status", "6xx")],
        &[("limit", "0")],
        &[("limit", "501")],
        &[("limit", "ten")],
        &[("cursor", "12")],
        &[("cursor", "c1.")],
        &[("resource_type", "User")],
    ] {
        let error = Query::parse(pairs.iter().copied()).unwrap_err();
        assert!(error.0.contains(pairs[0].0), "{error}");
    }
    assert_eq!(parse(&[("limit", "500")]).limit, 500);
    assert_eq!(parse(&[]).limit, 50);
}

#[test]
fn pages_cover_every_entry_once_even_while_new_ones_arrive() {
    let log = ScimLog::new(1000);
    for i in 0..95 {
        let tenant = if i % 3 == 0 { "b" } else { "a" };
        let status = if i % 4 == 0 { 404 } else { 200 };
        log.record(record(tenant, i, "GET", "/scim/v2/Users", status));
    }
    for filters in [&[][..], &[("status", "2xx")][..]] {
        let query = parse(filters);
        for limit in [1usize, 7, 10, 500] {
            let expected = seqs(&log.all("a", &query));
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut pairs: Vec<(&str, String)> =
                    filters.iter().map(|(k, v)| (*k, v.to_string())).collect();
                pairs.push(("limit", limit.to_string()));
                if let Some(c) = &cursor {
                    pairs.push(("cursor", c.clone()));
                }
                let page = log.page("a", &Query::parse(pairs).unwrap());
                assert!(page.entries.len() <= limit);
                assert!(!page.entries.is_empty(), "no empty pages");
                seen.extend(seqs(&page.entries));
                // New traffic between pages must not shift later pages.
                log.record(record("a", 200, "GET", "/scim/v2/Users", 200));
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "limit {limit}");
            assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());
        }
    }
}

#[test]
fn the_last_full_page_has_no_next() {
    let log = ScimLog::new(10);
    for i in 0..4 {
        log.record(record("a", i, "GET", "/scim/v2/Users", 200));
    }
    let first = log.page("a", &parse(&[("limit", "2")]));
    let next = first.next.unwrap();
    let second = log.page("a", &parse(&[("limit", "2"), ("cursor", &next)]));
    assert_eq!(seqs(&second.entries), [1, 0]);
    assert_eq!(second.next, None);
}

#[test]
fn csv_parses_back_into_the_entries() {
    let log = ScimLog::new(10);
    let mut post = record("a", 0, "POST", "/scim/v2/Users?x=1,2", 201);
    post.request_body =
        Body::capture(br#"{"userName":"ada \"the\" first","password":"p","note":"a,b\r\nc"}"#);
    post.response_body = Body::capture(br#"{"id":"1","userName":"ada"}"#);
    log.record(post);
    let mut bad = record("a", 1, "PUT", "/scim/v2/Users/1", 400);
    bad.request_body = Body::capture(b"not json, \"quoted\"\nline 2");
    bad.duration_ms = 0.001;
    log.record(bad);
    log.record(record("a", 2, "GET", "/scim/v2/Groups", 200));

    let entries = log.all("a", &Query::default());
    let csv = to_csv(&entries);
    assert!(csv.starts_with(
        "time,tenant,method,path,resource_type,status,duration_ms,request_body,response_body\r\n"
    ));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap(), CSV_COLUMNS.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), entries.len());
    for (row, entry) in rows.iter().zip(&entries) {
        assert_eq!(row[0].parse::<Timestamp>().unwrap(), entry.time);
        assert_eq!(&row[1], entry.tenant);
        assert_eq!(&row[2], entry.method);
        assert_eq!(&row[3], entry.path);
        assert_eq!(ResourceType::parse(&row[4]), Some(entry.resource_type));
        assert_eq!(row[5].parse::<u16>().unwrap(), entry.status);
        assert_eq!(row[6].parse::<f64>().unwrap(), entry.duration_ms);
        let body = |b: &Option<Body>| b.as_ref().map(Body::as_text).unwrap_or_default();
        assert_eq!(&row[7], body(&entry.request_body));
        assert_eq!(&row[8], body(&entry.response_body));
    }
    let posted: serde_json::Value = serde_json::from_str(&rows[2][7]).unwrap();
    assert_eq!(posted["password"], "[redacted]");
    assert_eq!(posted["note"], "a,b\r\nc");
}

#[test]
fn entries_serialise_in_camel_case_with_rfc3339_times() {
    let log = ScimLog::new(1);
    let mut r = record("a", 0, "POST", "/scim/v2/Users", 201);
    r.request_body = Body::capture(b"{}");
    log.record(r);
    let entry = &log.page("a", &Query::default()).entries[0];
    let json = serde_json::to_value(entry).unwrap();
    assert_eq!(
        json,
        json!({
            "seq": 0,
            "time": "2025-03-01T12:00:00Z",
            "tenant": "a",
            "method": "POST",
            "path": "/scim/v2/Users",
            "resourceType": "User",
            "status": 201,
            "durationMs": 1.25,
            "requestBody": {"json": {}, "truncated": false},
            "responseBody": null,
        })
    );
}
