use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;

fn t0() -> Timestamp {
    "2025-03-01T12:00:00Z".parse().unwrap()
}

fn record(
    tenant: &str,
    minute: i64,
    method: &str,
    path: &str,
    resource_type: ResourceType,
    status: u16,
) -> Record {
    Record {
        time: t0() + SignedDuration::from_mins(minute),
        tenant: tenant.into(),
        method: method.into(),
        path: path.into(),
        resource_type,
        status,
        duration_ms: 1.25,
        request_body: None,
        response_body: None,
    }
}

fn parse(pairs: &[(&str, &str)]) -> Query {
    Query::parse(pairs.iter().copied()).unwrap()
}

fn seqs(entries: &[Arc<Entry>]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

#[test]
fn resource_type_names_parse_in_any_case() {
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
        body.json(),
        Some(json!({"userName": "ada", "password": "[redacted]"}))
    );
    assert_eq!(body.text(), None);
    assert!(!body.truncated());
    // Kept as compact text.
    assert_eq!(
        body.as_text(),
        r#"{"userName":"ada","password":"[redacted]"}"#
    );
    let spaced = Body::capture(b" { \"a\" : [ 1 , 2 ] } ").unwrap();
    assert_eq!(spaced.raw_json().map(|r| r.get()), Some(r#"{"a":[1,2]}"#));

    let body = Body::capture(br#"{"password":"s3cret", broken"#).unwrap();
    assert_eq!(body.json(), None);
    assert_eq!(body.text(), Some(r#"{"password":"[redacted]", broken"#));
    assert!(!body.truncated());

    // A long text is cut at the limit, on a character boundary.
    let long = "é".repeat(BODY_LIMIT);
    let body = Body::capture(long.as_bytes()).unwrap();
    let text = body.text().unwrap();
    assert!(body.truncated());
    assert!(text.len() <= BODY_LIMIT && text.len() >= BODY_LIMIT - 1);
    assert!(long.starts_with(text));
    assert!(body.heap_bytes() <= heap(BODY_LIMIT));

    // A long JSON body is redacted before it is cut.
    let big = json!({"password": "s3cret", "filler": "x".repeat(BODY_LIMIT)});
    let body = Body::capture(big.to_string().as_bytes()).unwrap();
    assert!(body.truncated() && body.json().is_none());
    let text = body.text().unwrap();
    assert_eq!(text.len(), BODY_LIMIT);
    assert!(text.starts_with(r#"{"password":"[redacted]","filler":"xxx"#));
    assert!(!text.contains("s3cret"));
}

#[test]
fn the_ring_keeps_the_newest_entries_up_to_its_capacity() {
    let log = ScimLog::new(3);
    for i in 0..5 {
        assert_eq!(
            log.record(record(
                "a",
                i,
                "GET",
                "/scim/v2/Users",
                ResourceType::User,
                200
            )),
            i as u64
        );
    }
    assert_eq!(log.len(), 3);
    let page = log.page("a", &Query::default());
    assert_eq!(seqs(&page.entries), [4, 3, 2]);
    assert_eq!(page.next, None);
    assert_eq!(
        log.dropped(),
        Dropped {
            too_large: 0,
            evicted: 2
        }
    );

    let off = ScimLog::new(0);
    off.record(record(
        "a",
        0,
        "GET",
        "/scim/v2/Users",
        ResourceType::User,
        200,
    ));
    assert!(off.is_empty());
    assert!(off.page("a", &Query::default()).entries.is_empty());
    // Keeping nothing by choice is not losing entries.
    assert_eq!(off.dropped(), Dropped::default());
}

#[test]
fn tenants_see_only_their_own_entries() {
    let log = ScimLog::new(10);
    log.record(record(
        "a",
        0,
        "GET",
        "/scim/v2/Users",
        ResourceType::User,
        200,
    ));
    log.record(record(
        "b",
        1,
        "GET",
        "/scim/v2/Users",
        ResourceType::User,
        200,
    ));
    log.record(record(
        "a",
        2,
        "GET",
        "/scim/v2/Groups",
        ResourceType::Group,
        200,
    ));
    assert_eq!(seqs(&log.page("a", &Query::default()).entries), [2, 0]);
    assert_eq!(seqs(&log.page("b", &Query::default()).entries), [1]);
    assert!(log.page("c", &Query::default()).entries.is_empty());
    assert_eq!(seqs(&log.all("b", &Query::default())), [1]);
}

fn sample() -> ScimLog {
    let log = ScimLog::new(100);
    log.record(record(
        "a",
        0,
        "GET",
        "/scim/v2/ServiceProviderConfig",
        ResourceType::Config,
        200,
    )); // 0
    log.record(record(
        "a",
        1,
        "POST",
        "/scim/v2/Users",
        ResourceType::User,
        201,
    )); // 1
    log.record(record(
        "a",
        2,
        "POST",
        "/scim/v2/Users",
        ResourceType::User,
        409,
    )); // 2
    log.record(record(
        "a",
        3,
        "PATCH",
        "/scim/v2/Groups/g",
        ResourceType::Group,
        204,
    )); // 3
    log.record(record(
        "a",
        4,
        "GET",
        "/scim/v2/Schemas",
        ResourceType::Schema,
        200,
    )); // 4
    log.record(record(
        "a",
        5,
        "POST",
        "/scim/v2/.search",
        ResourceType::Search,
        400,
    )); // 5
    log.record(record(
        "a",
        6,
        "DELETE",
        "/scim/v2/Users/u",
        ResourceType::User,
        503,
    )); // 6
    log.record(record(
        "a",
        7,
        "GET",
        "/scim/v2/Groups?filter=x",
        ResourceType::Group,
        304,
    )); // 7
    log.record(record(
        "b",
        8,
        "POST",
        "/scim/v2/Users",
        ResourceType::User,
        201,
    )); // 8
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
        log.record(record(
            tenant,
            i,
            "GET",
            "/scim/v2/Users",
            ResourceType::User,
            status,
        ));
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
                log.record(record(
                    "a",
                    200,
                    "GET",
                    "/scim/v2/Users",
                    ResourceType::User,
                    200,
                ));
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
        log.record(record(
            "a",
            i,
            "GET",
            "/scim/v2/Users",
            ResourceType::User,
            200,
        ));
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
    let mut post = record(
        "a",
        0,
        "POST",
        "/scim/v2/Users?x=1,2",
        ResourceType::User,
        201,
    );
    post.request_body =
        Body::capture(br#"{"userName":"ada \"the\" first","password":"p","note":"a,b\r\nc"}"#);
    post.response_body = Body::capture(br#"{"id":"1","userName":"ada"}"#);
    log.record(post);
    let mut bad = record("a", 1, "PUT", "/scim/v2/Users/1", ResourceType::User, 400);
    bad.request_body = Body::capture(b"not json, \"quoted\"\nline 2");
    bad.duration_ms = 0.001;
    log.record(bad);
    log.record(record(
        "a",
        2,
        "GET",
        "/scim/v2/Groups",
        ResourceType::Group,
        200,
    ));

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
        let body = |b: &Option<Body>| b.as_ref().map(|b| b.as_text().to_owned());
        let body = |b| body(b).unwrap_or_default();
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
    let mut r = record("a", 0, "POST", "/scim/v2/Users", ResourceType::User, 201);
    r.request_body = Body::capture(b"{}");
    log.record(r);
    let entry = &log.page("a", &Query::default()).entries[0];
    let json = serde_json::to_value(&**entry).unwrap();
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

// Memory budgets.

/// A POST whose request body is JSON of about `len` bytes.
fn sized(tenant: &str, minute: i64, len: usize) -> Record {
    let mut r = record(
        tenant,
        minute,
        "POST",
        "/scim/v2/Users",
        ResourceType::User,
        400,
    );
    let text = format!(r#"{{"x":"{}"}}"#, "y".repeat(len.saturating_sub(8)));
    r.request_body = Body::capture(text.as_bytes());
    r
}

/// The running counts agree with a recount from scratch, and every limit holds.
fn check(log: &ScimLog) {
    let shelves = log.lock();
    let (len, bytes) = shelves.recount();
    assert_eq!(len, shelves.len(), "entries");
    assert_eq!(bytes, shelves.bytes(), "bytes");
    let limits = log.limits();
    assert!(len <= limits.entries, "{len} entries");
    assert!(bytes <= limits.bytes, "{bytes} bytes");
}

fn all_seqs(log: &ScimLog, tenant: &str) -> Vec<u64> {
    seqs(&log.all(tenant, &Query::default()))
}

#[test]
fn an_entry_counts_its_struct_and_every_heap_block_it_owns() {
    let mut r = record(
        "acme",
        0,
        "POST",
        "/scim/v2/Users?x=1",
        ResourceType::User,
        400,
    );
    r.request_body = Body::capture(br#"{ "userName": "ada" }"#);
    r.response_body = Body::capture(b"not json");
    let log = ScimLog::new(10);
    log.record(r);
    let entry = log.all("acme", &Query::default()).remove(0);
    let arc = heap(2 * size_of::<usize>() + size_of::<Entry>());
    // tenant, method, path, the compact JSON (18 bytes), the text.
    let owned = heap(4) + heap(4) + heap(18) + heap(18) + heap(8);
    assert_eq!(entry.retained_bytes(), arc + owned);
    assert_eq!(
        entry.retained_bytes(),
        arc + [
            entry.tenant.capacity(),
            entry.method.capacity(),
            entry.path.capacity(),
            entry.request_body.as_ref().unwrap().as_text().len(),
            entry.response_body.as_ref().unwrap().as_text().len(),
        ]
        .map(heap)
        .iter()
        .sum::<usize>()
    );
    // The log adds the entry's slot and acme's place in the tenant map.
    check(&log);
    let total = log.retained_bytes();
    assert!(total > entry.retained_bytes(), "{total}");
    assert!(total < entry.retained_bytes() + 1024, "{total}");
    assert_eq!(log.tenant_bytes("acme"), entry.retained_bytes() + 4 * 8);
}

#[test]
fn a_json_body_with_thousands_of_keys_is_accounted_at_about_its_text_size() {
    let object: serde_json::Map<String, serde_json::Value> =
        (0..5000).map(|i| (format!("k{i}"), json!(i))).collect();
    let text = serde_json::Value::Object(object).to_string();
    assert!(text.len() > 40_000 && text.len() <= BODY_LIMIT);
    let body = Body::capture(text.as_bytes()).unwrap();
    assert_eq!(body.as_text(), text);
    assert_eq!(body.heap_bytes(), heap(text.len()));
    let log = ScimLog::new(10);
    let mut r = record("acme", 0, "POST", "/scim/v2/Users", ResourceType::User, 400);
    r.request_body = Some(body);
    log.record(r);
    let retained = log.retained_bytes();
    assert!(
        retained >= text.len() && retained < text.len() + 1024,
        "{retained} bytes for {} bytes of text",
        text.len()
    );
    // It is served as the JSON it was.
    let page = log.page("acme", &Query::default());
    let served = serde_json::to_value(&page).unwrap();
    assert_eq!(
        served["entries"][0]["requestBody"]["json"]["k4999"],
        json!(4999)
    );
}

#[test]
fn a_tenant_over_its_budget_loses_only_its_own_oldest_entries() {
    let limits = Limits {
        entries: 10_000,
        bytes: 4 << 20,
        tenant_bytes: 1 << 20,
    };
    let log = ScimLog::with_limits(limits);
    for i in 0..5 {
        log.record(sized("b", i, 10_000));
    }
    let b = all_seqs(&log, "b");
    let mut last = 0;
    for i in 0..200 {
        last = log.record(sized("a", i, 60_000));
        check(&log);
        assert!(log.tenant_bytes("a") <= limits.tenant_bytes);
    }
    // 12 MB sent; a keeps what fits in 1 MiB: its newest, without gaps.
    let a = all_seqs(&log, "a");
    assert!(a.len() >= 15 && a.len() <= 17, "{}", a.len());
    assert_eq!(a[0], last);
    assert!(a.windows(2).all(|w| w[0] == w[1] + 1));
    assert!(log.tenant_bytes("a") > limits.tenant_bytes - 70_000);
    // b lost nothing.
    assert_eq!(all_seqs(&log, "b"), b);
}

#[test]
fn the_overall_budget_is_shared_and_the_largest_tenants_pay() {
    // Six tenants may each hold 1 MiB, but all of them only 2 MiB.
    let limits = Limits {
        entries: 10_000,
        bytes: 2 << 20,
        tenant_bytes: 1 << 20,
    };
    let log = ScimLog::with_limits(limits);
    for i in 0..3 {
        log.record(sized("quiet", i, 1_000));
    }
    let quiet = all_seqs(&log, "quiet");
    let flooders: Vec<String> = (0..6).map(|t| format!("t{t}")).collect();
    for round in 0..40 {
        for tenant in &flooders {
            log.record(sized(tenant, round, 50_000));
            check(&log);
        }
    }
    // The quiet tenant holds least and lost nothing.
    assert_eq!(all_seqs(&log, "quiet"), quiet);
    // The others share what is left, none more than a fair share and an entry.
    let share = (limits.bytes - log.tenant_bytes("quiet")) / flooders.len();
    for tenant in &flooders {
        let held = log.tenant_bytes(tenant);
        assert!(held <= share + 60_000, "{tenant}: {held} > {share}");
        assert!(held >= share - 120_000, "{tenant}: {held} < {share}");
    }
    assert!(log.retained_bytes() > limits.bytes - 120_000);
}

#[test]
fn a_tenant_flooding_the_entry_cap_evicts_its_own_entries() {
    let log = ScimLog::new(100);
    for i in 0..10 {
        log.record(record(
            "b",
            i,
            "GET",
            "/scim/v2/Users",
            ResourceType::User,
            200,
        ));
    }
    let b = all_seqs(&log, "b");
    for i in 0..1000 {
        log.record(record(
            "a",
            i,
            "GET",
            "/scim/v2/Users",
            ResourceType::User,
            200,
        ));
    }
    check(&log);
    assert_eq!(log.len(), 100);
    assert_eq!(all_seqs(&log, "b"), b);
    assert_eq!(all_seqs(&log, "a"), (920..1010).rev().collect::<Vec<u64>>());
}

#[test]
fn an_entry_larger_than_a_budget_is_not_kept_but_numbered() {
    let log = ScimLog::with_limits(Limits {
        entries: 10,
        bytes: 1 << 20,
        tenant_bytes: 20_000,
    });
    assert_eq!(log.record(sized("a", 0, 30_000)), 0);
    assert!(log.is_empty());
    assert_eq!(log.retained_bytes(), 0);
    assert_eq!(log.record(sized("a", 1, 1_000)), 1);
    assert_eq!(all_seqs(&log, "a"), [1]);
    check(&log);
    assert_eq!(
        log.dropped(),
        Dropped {
            too_large: 1,
            evicted: 0
        }
    );

    for limits in [
        Limits {
            bytes: 0,
            ..Limits::default()
        },
        Limits {
            tenant_bytes: 0,
            ..Limits::default()
        },
    ] {
        let off = ScimLog::with_limits(limits);
        assert!(!off.keeps_entries());
        off.record(record(
            "a",
            0,
            "GET",
            "/scim/v2/Users",
            ResourceType::User,
            200,
        ));
        assert!(off.is_empty());
        assert_eq!(off.dropped(), Dropped::default());
    }
}

#[test]
fn among_equal_tenants_the_oldest_entry_goes_and_emptied_tenants_are_dropped() {
    let log = ScimLog::new(5);
    for i in 0..20 {
        log.record(sized(&format!("t{i}"), i, 1_000));
        check(&log);
    }
    // One entry each: the globally oldest went first.
    for i in 0..15 {
        assert_eq!(log.lock().entries(&format!("t{i}")), None, "t{i}");
    }
    for i in 15..20 {
        assert_eq!(all_seqs(&log, &format!("t{i}")), [i as u64]);
    }
    // What is left is counted as five entries and five tenants, no more.
    let one = log.tenant_bytes("t19");
    assert!(
        log.retained_bytes() < 5 * one + 1024,
        "{}",
        log.retained_bytes()
    );
}

#[test]
fn pages_stay_consistent_while_entries_are_evicted() {
    let log = ScimLog::with_limits(Limits {
        entries: 10_000,
        bytes: 1 << 20,
        tenant_bytes: 200_000,
    });
    for i in 0..30 {
        log.record(sized("a", i, 10_000));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs = vec![("limit", "4".to_owned())];
        if let Some(c) = &cursor {
            pairs.push(("cursor", c.clone()));
        }
        let page = log.page("a", &Query::parse(pairs).unwrap());
        seen.extend(seqs(&page.entries));
        // Each new entry evicts one of the oldest.
        log.record(sized("a", 100, 10_000));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Newest first, no duplicates, no gaps until the evicted tail.
    assert!(seen.windows(2).all(|w| w[0] == w[1] + 1), "{seen:?}");
    assert_eq!(seen[0], 29);
}

#[test]
fn csv_cells_a_spreadsheet_would_run_are_neutralised() {
    use std::borrow::Cow;
    for (cell, safe) in [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        ("{\"a\":\"=1\"}", "{\"a\":\"=1\"}"),
    ] {
        assert_eq!(csv_export::neutralise(Cow::Borrowed(cell)), safe);
    }
    let log = ScimLog::new(10);
    let mut r = record("a", 0, "POST", "/scim/v2/Users", ResourceType::User, 400);
    r.request_body = Body::capture(br#"=HYPERLINK("http://evil.example","x")"#);
    // A JSON body can start with a minus too.
    r.response_body = Body::capture(b"-5");
    log.record(r);
    let csv = to_csv(&log.all("a", &Query::default()));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[7], r#"'=HYPERLINK("http://evil.example","x")"#);
    assert_eq!(&row[8], "'-5");
    assert_eq!(&row[3], "/scim/v2/Users");
}

mod budgets {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever arrives, the running counts match a recount, every
        /// limit holds, and each tenant's entries stay in sequence order.
        #[test]
        fn limits_hold_and_counts_stay_honest(
            entries in 1usize..40,
            bytes in 1usize..400_000,
            tenant_bytes in 1usize..200_000,
            traffic in proptest::collection::vec((0usize..4, 0usize..40_000), 1..120),
        ) {
            let log = ScimLog::with_limits(Limits { entries, bytes, tenant_bytes });
            for (i, (tenant, len)) in traffic.into_iter().enumerate() {
                let tenant = format!("t{tenant}");
                log.record(sized(&tenant, i as i64, len));
                check(&log);
                for t in 0..4 {
                    let name = format!("t{t}");
                    prop_assert!(log.tenant_bytes(&name) <= tenant_bytes);
                    let seqs = all_seqs(&log, &name);
                    prop_assert!(seqs.windows(2).all(|w| w[0] > w[1]));
                }
            }
        }
    }
}
