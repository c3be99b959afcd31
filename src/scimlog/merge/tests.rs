use std::collections::BTreeSet;

use jiff::SignedDuration;

use super::*;
use crate::scimlog::{Record, ResourceType};

fn t0() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn record(tenant: &str, millis: i64, path: &str) -> Record {
    Record {
        time: t0() + SignedDuration::from_millis(millis),
        tenant: tenant.into(),
        method: "GET".into(),
        path: path.into(),
        resource_type: ResourceType::User,
        status: 200,
        duration_ms: 1.0,
        request_body: None,
        response_body: None,
    }
}

/// Walks a merged listing of `logs` (name, log) page by page, as the serving
/// replica would, returning the paths in order.
fn walk(logs: &[(&str, &ScimLog)], tenant: &str, limit: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut query = Query::default();
    for _ in 0..1000 {
        let parts = logs
            .iter()
            .map(|(name, log)| log.part(tenant, &query, name, Some(limit)))
            .collect();
        let page = merge(parts, Vec::new(), Some(limit));
        assert!(page.entries.len() <= limit);
        seen.extend(page.entries.iter().map(|s| s.entry.path.clone()));
        match page.next {
            Some(next) => {
                query = Query::parse([("cursor", next.as_str())]).unwrap();
            }
            None => return seen,
        }
    }
    panic!("the walk did not end");
}

#[test]
fn a_position_survives_its_cursor_and_bad_cursors_are_refused() {
    let position = Position {
        time: t0() + SignedDuration::from_nanos(123),
        replica: "scimitar-6f7c9-x2k.a".into(),
        seq: 0x2a,
    };
    let cursor = position.encode();
    assert_eq!(Position::decode(&cursor), Some(position.clone()));
    let query = Query::parse([("cursor", cursor.as_str())]).unwrap();
    assert_eq!(query.before, Some(position));
    assert_eq!(query.cursor, None);
    let local = Query::parse_merged([("cursor", "c1.2a")]).unwrap_err();
    assert!(local.0.contains("earlier version"), "{local}");
    for bad in [
        "m1.",
        "m1.12",
        "m1.12.zz.pod",
        "m1.12.1.",
        "m1.x.1.pod",
        "m1.1.1.pod/../x",
        "m1.99999999999999999999999999999.1.pod",
    ] {
        assert_eq!(Position::decode(bad), None, "{bad}");
        assert!(Query::parse([("cursor", bad)]).is_err(), "{bad}");
    }
}

#[test]
fn parts_of_two_replicas_merge_newest_first_with_their_replica() {
    let (a, b) = (ScimLog::default(), ScimLog::default());
    a.record(record("acme", 10, "/a1"));
    b.record(record("acme", 20, "/b1"));
    a.record(record("acme", 30, "/a2"));
    b.record(record("other", 40, "/b-other"));
    let parts = vec![
        a.part("acme", &Query::default(), "pod-a", Some(10)),
        b.part("acme", &Query::default(), "pod-b", Some(10)),
    ];
    let merged = merge(parts, Vec::new(), Some(10));
    let listed: Vec<(&str, &str)> = merged
        .entries
        .iter()
        .map(|s| (&*s.replica, s.entry.path.as_str()))
        .collect();
    assert_eq!(
        listed,
        [("pod-a", "/a2"), ("pod-b", "/b1"), ("pod-a", "/a1")],
        "another tenant's entries never join"
    );
    assert_eq!(merged.next, None);
    assert_eq!(merged.replicas, ["pod-a", "pod-b"]);
    let json = serde_json::to_value(&merged).unwrap();
    assert_eq!(json["entries"][0]["replica"], "pod-a");
    assert_eq!(json["entries"][0]["path"], "/a2");
    assert_eq!(json["unavailable"], serde_json::json!([]));
}

#[test]
fn equal_times_are_ordered_by_replica_then_sequence() {
    let (a, b) = (ScimLog::default(), ScimLog::default());
    for i in 0..3 {
        a.record(record("acme", 0, &format!("/a{i}")));
        b.record(record("acme", 0, &format!("/b{i}")));
    }
    let all = walk(&[("a", &a), ("b", &b)], "acme", 2);
    assert_eq!(all, ["/b2", "/b1", "/b0", "/a2", "/a1", "/a0"]);
}

#[test]
fn walking_the_cursor_visits_every_entry_once_while_requests_arrive() {
    let (a, b, c) = (ScimLog::default(), ScimLog::default(), ScimLog::default());
    // Interleaved times, some equal, arrival order not time order on `c`.
    for i in 0..40i64 {
        a.record(record("acme", i * 3, &format!("/a{i}")));
        b.record(record("acme", i * 2, &format!("/b{i}")));
        c.record(record("acme", (40 - i) * 5, &format!("/c{i}")));
    }
    let logs = [("a", &a), ("b", &b), ("c", &c)];
    for limit in [1, 3, 7, 50, 500] {
        let all = walk(&logs, "acme", limit);
        assert_eq!(all.len(), 120, "limit {limit}");
        assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 120);
    }

    // New requests between pages land above the cursor: no duplicate, no gap.
    let mut query = Query::default();
    let mut seen = Vec::new();
    loop {
        let parts = logs
            .iter()
            .map(|(name, log)| log.part("acme", &query, name, Some(7)))
            .collect();
        let page = merge(parts, Vec::new(), Some(7));
        seen.extend(page.entries.iter().map(|s| s.entry.path.clone()));
        a.record(record("acme", 10_000 + seen.len() as i64, "/new"));
        match page.next {
            Some(next) => query = Query::parse([("cursor", next.as_str())]).unwrap(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
    assert!(!seen.iter().any(|p| p == "/new"));
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 120);
}

#[test]
fn filters_apply_on_every_part() {
    let (a, b) = (ScimLog::default(), ScimLog::default());
    let mut post = record("acme", 5, "/a-post");
    post.method = "POST".into();
    a.record(post);
    a.record(record("acme", 6, "/a-get"));
    b.record(record("acme", 7, "/b-get"));
    let query = Query::parse([("method", "post")]).unwrap();
    let parts = vec![
        a.part("acme", &query, "a", None),
        b.part("acme", &query, "b", None),
    ];
    let merged = merge(parts, Vec::new(), None);
    assert_eq!(merged.entries.len(), 1);
    assert_eq!(merged.entries[0].entry.path, "/a-post");
}

#[test]
fn a_replica_that_did_not_answer_is_named_and_its_part_is_missing() {
    let a = ScimLog::default();
    a.record(record("acme", 1, "/a"));
    let missing = Unavailable {
        replica: "scimitar-b".into(),
        address: "10.0.0.7:8081".into(),
        reason: "no answer within 2s".into(),
    };
    let merged = merge(
        vec![a.part("acme", &Query::default(), "scimitar-a", Some(50))],
        vec![missing.clone()],
        Some(50),
    );
    assert_eq!(merged.entries.len(), 1);
    assert_eq!(merged.unavailable, std::slice::from_ref(&missing));
    let json = serde_json::to_value(&merged).unwrap();
    assert_eq!(
        json["unavailable"][0],
        serde_json::json!({"replica": "scimitar-b", "address": "10.0.0.7:8081", "reason": "no answer within 2s"})
    );

    // In CSV: a trailing row as wide as the others, its first field naming it.
    let row = crate::scimlog::unavailable_row(&missing);
    let csv = format!("{}{row}", crate::scimlog::csv_header());
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let record = reader.records().next().unwrap().unwrap();
    assert_eq!(record.len(), crate::scimlog::CSV_COLUMNS.len());
    assert_eq!(
        &record[0],
        "# replica not answering: scimitar-b (10.0.0.7:8081): no answer within 2s"
    );
}

#[test]
fn a_part_travels_between_replicas_unchanged() {
    let a = ScimLog::default();
    let mut with_bodies = record("acme", 1, "/Users");
    with_bodies.request_body =
        crate::scimlog::Body::capture(br#"{"userName":"ada","password":"x"}"#);
    with_bodies.response_body = crate::scimlog::Body::capture(b"not json");
    a.record(with_bodies);
    a.record(record("acme", 2, "/Users/1"));
    let part = a.part("acme", &Query::default(), "a", Some(1));
    assert!(part.more);
    let wire = serde_json::to_string(&part).unwrap();
    let back: Part = serde_json::from_str(&wire).unwrap();
    assert_eq!(back, part);
    let all = a.part("acme", &Query::default(), "a", None);
    let back: Part = serde_json::from_str(&serde_json::to_string(&all).unwrap()).unwrap();
    assert_eq!(back, all);
    assert!(
        !back.entries[1]
            .request_body
            .as_ref()
            .unwrap()
            .as_text()
            .contains("\"x\"")
    );

    // A body that is both, or over the limit, is refused.
    let both = r#"{"json":{},"text":"x","truncated":false}"#;
    assert!(serde_json::from_str::<crate::scimlog::Body>(both).is_err());
    let long = format!(r#"{{"json":"{}","truncated":false}}"#, "a".repeat(BODY));
    assert!(serde_json::from_str::<crate::scimlog::Body>(&long).is_err());
}

const BODY: usize = crate::scimlog::BODY_LIMIT;
