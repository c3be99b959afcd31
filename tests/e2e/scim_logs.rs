//! The SCIM request log, in process over the in-memory store: real SCIM
//! traffic goes through the SCIM router, then the log API is asked about it
//! (filters, newest-first order, pagination, CSV, redaction, tenant isolation).

use crate::support::scimlog::*;
use axum::http::{Method, StatusCode, header};
use serde_json::Value;

#[tokio::test]
async fn every_request_is_recorded_newest_first_and_redacted() {
    let server = Server::new();
    let sent = traffic(&server, "ada").await;
    // acme's requests and other's one; the unauthenticated ones are not stored.
    assert_eq!(server.log.len(), sent.len() + 1);

    let page = server.logs("acme", ACME, "?limit=500").await;
    assert!(page["next"].is_null());
    let entries = page["entries"].as_array().unwrap();
    let got: Vec<(String, String, u16)> = entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap() as u16,
            )
        })
        .collect();
    let mut newest_first = sent.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    let s = seqs(entries);
    assert!(s.windows(2).all(|w| w[0] > w[1]), "newest first: {s:?}");
    let times: Vec<jiff::Timestamp> = entries
        .iter()
        .map(|e| e["time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    for entry in entries {
        assert_eq!(entry["tenant"], "acme");
        assert!(entry["durationMs"].as_f64().unwrap() >= 0.0);
    }

    let types: Vec<&str> = entries
        .iter()
        .rev()
        .map(|e| e["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Config", "User", "User", "User", "User", "Schema", "Search", "Group", "User", "User",
            "Group"
        ]
    );

    // Bodies: the IdP's request and our response, secrets redacted.
    let all = page.to_string();
    for secret in [PASSWORD, NEW_PASSWORD, ACME, OTHER, ACME_SCIM_ONLY] {
        assert!(!all.contains(secret), "{secret} leaked into the log");
    }
    let created = &entries[entries.len() - 2];
    assert_eq!(created["status"], 201);
    assert_eq!(created["requestBody"]["json"]["password"], "[redacted]");
    assert_eq!(
        created["requestBody"]["json"]["userName"],
        "ada@example.com"
    );
    assert_eq!(
        created["responseBody"]["json"]["userName"],
        "ada@example.com"
    );
    assert_eq!(created["requestBody"]["truncated"], false);
    let conflict = &entries[entries.len() - 3];
    assert_eq!(conflict["responseBody"]["json"]["scimType"], "uniqueness");
    let patch = &entries[entries.len() - 5];
    assert_eq!(patch["method"], "PATCH");
    assert_eq!(
        patch["requestBody"]["json"]["Operations"][0]["value"],
        "[redacted]"
    );
    assert_eq!(
        patch["requestBody"]["json"]["Operations"][1]["value"],
        false
    );
    let broken = &entries[2];
    assert_eq!(broken["status"], 400);
    let text = broken["requestBody"]["text"].as_str().unwrap();
    assert!(text.contains(r#""password": "[redacted]""#), "{text}");
    let too_large = &entries[1];
    assert_eq!(too_large["status"], 413);
    assert_eq!(too_large["responseBody"]["json"]["status"], "413");
    let get = &entries[0];
    assert!(get["requestBody"].is_null());

    // The other tenant sees only its own request.
    let theirs = server.logs("other", OTHER, "").await;
    let theirs = theirs["entries"].as_array().unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["tenant"], "other");
    assert_eq!(theirs[0]["requestBody"]["json"]["password"], "[redacted]");
}

#[tokio::test]
async fn filters_select_by_method_resource_type_status_and_time() {
    let server = Server::new();
    let sent = traffic(&server, "ada").await;
    let find = |query: &'static str| {
        let server = &server;
        async move {
            let page = server.logs("acme", ACME, query).await;
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["method"].as_str().unwrap().to_owned(),
                        e["path"].as_str().unwrap().to_owned(),
                        e["status"].as_u64().unwrap() as u16,
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let expect = |keep: &dyn Fn(&(String, String, u16)) -> bool| {
        sent.iter()
            .rev()
            .filter(|r| keep(r))
            .cloned()
            .collect::<Vec<_>>()
    };

    assert_eq!(find("?method=POST").await, expect(&|r| r.0 == "POST"));
    assert_eq!(find("?method=patch").await, expect(&|r| r.0 == "PATCH"));
    assert_eq!(
        find("?resourceType=User").await,
        expect(&|r| r.1.starts_with("/scim/v2/Users"))
    );
    assert_eq!(
        find("?resourceType=Group").await,
        expect(&|r| r.1.starts_with("/scim/v2/Groups"))
    );
    assert_eq!(find("?resourceType=Config").await.len(), 1);
    assert_eq!(find("?resourceType=Schema").await.len(), 1);
    assert_eq!(find("?resourceType=Search").await.len(), 1);
    assert_eq!(find("?status=2xx").await, expect(&|r| r.2 / 100 == 2));
    assert_eq!(find("?status=4xx").await, expect(&|r| r.2 / 100 == 4));
    assert_eq!(find("?status=4xx").await.len(), 4);
    assert!(find("?status=5xx").await.is_empty());
    assert_eq!(
        find("?method=POST&resourceType=User&status=4xx").await,
        expect(&|r| r.0 == "POST" && r.1 == "/scim/v2/Users" && r.2 / 100 == 4)
    );

    // Time range: since is inclusive, until exclusive.
    let all = server.logs("acme", ACME, "?limit=500").await;
    let entries = all["entries"].as_array().unwrap();
    let pivot = entries[5]["time"].as_str().unwrap().to_owned();
    let since = server
        .logs("acme", ACME, &format!("?limit=500&since={pivot}"))
        .await;
    let until = server
        .logs("acme", ACME, &format!("?limit=500&until={pivot}"))
        .await;
    let since = since["entries"].as_array().unwrap();
    let until = until["entries"].as_array().unwrap();
    assert_eq!(since.len() + until.len(), entries.len());
    let pivot: jiff::Timestamp = pivot.parse().unwrap();
    for e in since {
        assert!(
            e["time"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                >= pivot
        );
    }
    for e in until {
        assert!(
            e["time"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                < pivot
        );
    }
    let none = server
        .logs("acme", ACME, "?since=2999-01-01T00:00:00Z")
        .await;
    assert!(none["entries"].as_array().unwrap().is_empty());
    let none = server
        .logs("acme", ACME, "?until=2000-01-01T00:00:00Z")
        .await;
    assert!(none["entries"].as_array().unwrap().is_empty());

    // Bad parameters are 400 in JSON, naming the parameter.
    for query in [
        "?status=200",
        "?limit=0",
        "?limit=501",
        "?cursor=nope",
        "?resourceType=Users",
        "?since=today",
        "?format=xml",
        "?bogus=1",
    ] {
        let reply = server.logs_reply("acme", Some(ACME), query).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        let body = reply.json();
        assert_eq!(body["status"], 400);
        assert_eq!(body["error"], "invalidQuery");
        let name = query[1..].split('=').next().unwrap();
        assert!(body["detail"].as_str().unwrap().contains(name), "{body}");
    }
}

#[tokio::test]
async fn pages_walk_every_entry_once() {
    let server = Server::new();
    traffic(&server, "ada").await;
    traffic(&server, "bob").await;
    let everything = server.logs("acme", ACME, "?limit=500").await;
    let everything = seqs(everything["entries"].as_array().unwrap());
    assert_eq!(everything.len(), 22);
    let first = server.logs("acme", ACME, "").await;
    assert_eq!(
        first["entries"].as_array().unwrap().len(),
        22,
        "default limit 50"
    );
    for limit in [1, 3, 5, 22, 23] {
        let walked = server.walk("", limit).await;
        assert_eq!(seqs(&walked), everything, "limit {limit}");
    }
    // Filtered pages, while more traffic arrives between pages.
    let posts = server.logs("acme", ACME, "?limit=500&method=POST").await;
    let posts = seqs(posts["entries"].as_array().unwrap());
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = "?method=POST&limit=2".to_owned();
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = server.logs("acme", ACME, &q).await;
        walked.extend(seqs(page["entries"].as_array().unwrap()));
        server
            .scim(
                Method::POST,
                "/scim/v2/Users",
                ACME,
                Some(user("ada@example.com")),
            )
            .await;
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, posts);
}

#[tokio::test]
async fn csv_export_matches_the_json_entries() {
    let server = Server::new();
    traffic(&server, "ada").await;
    for query in [
        "",
        "?status=4xx",
        "?method=POST&resourceType=User",
        "?limit=2",
    ] {
        let sep = if query.is_empty() { "?" } else { "&" };
        let reply = server
            .logs_reply("acme", Some(ACME), &format!("{query}{sep}format=csv"))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "text/csv; charset=utf-8"
        );
        assert!(
            reply.headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .contains("scim-logs-acme.csv")
        );
        assert!(!reply.text.contains(PASSWORD) && !reply.text.contains(NEW_PASSWORD));

        // CSV exports the whole filtered set: compare with JSON without a limit.
        let filters = query.replace("limit=2", "");
        let sep = if filters.len() > 1 { "&" } else { "?" };
        let filters = if filters == "?" {
            String::new()
        } else {
            filters
        };
        let json = server
            .logs("acme", ACME, &format!("{filters}{sep}limit=500"))
            .await;
        let entries = json["entries"].as_array().unwrap();
        assert!(!entries.is_empty());

        let mut reader = csv::Reader::from_reader(reply.text.as_bytes());
        assert_eq!(
            reader.headers().unwrap(),
            vec![
                "time",
                "tenant",
                "method",
                "path",
                "resource_type",
                "status",
                "duration_ms",
                "request_body",
                "response_body"
            ]
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), entries.len(), "{query}");
        for (row, entry) in rows.iter().zip(entries) {
            assert_eq!(&row[0], entry["time"].as_str().unwrap());
            assert_eq!(&row[1], entry["tenant"].as_str().unwrap());
            assert_eq!(&row[2], entry["method"].as_str().unwrap());
            assert_eq!(&row[3], entry["path"].as_str().unwrap());
            assert_eq!(&row[4], entry["resourceType"].as_str().unwrap());
            assert_eq!(
                row[5].parse::<u64>().unwrap(),
                entry["status"].as_u64().unwrap()
            );
            assert_eq!(
                row[6].parse::<f64>().unwrap(),
                entry["durationMs"].as_f64().unwrap()
            );
            for (column, field) in [(7, "requestBody"), (8, "responseBody")] {
                let body = &entry[field];
                if body.is_null() {
                    assert_eq!(&row[column], "");
                } else if let Some(text) = body["text"].as_str() {
                    assert_eq!(&row[column], text);
                } else {
                    let parsed: Value = serde_json::from_str(&row[column]).unwrap();
                    assert_eq!(parsed, body["json"]);
                }
            }
        }
    }
}

#[tokio::test]
async fn logs_are_only_for_the_tenants_own_logs_token() {
    let server = Server::new();
    traffic(&server, "ada").await;

    let reply = server.logs_reply("acme", None, "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(reply.json()["status"], 401);
    let reply = server.logs_reply("acme", Some("unknown"), "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Another tenant's token: as if the log did not exist.
    let reply = server.logs_reply("acme", Some(OTHER), "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error"], "notFound");
    assert!(!reply.text.contains("ada"));
    let reply = server.logs_reply("other", Some(ACME), "?format=csv").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(!reply.text.contains("eve"));
    let reply = server.logs_reply("nobody", Some(ACME), "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // The tenant's own token without the logs scope.
    let reply = server.logs_reply("acme", Some(ACME_SCIM_ONLY), "").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["error"], "forbidden");

    // The log API itself is not recorded as SCIM traffic.
    let before = server.log.len();
    server.logs("acme", ACME, "").await;
    assert_eq!(server.log.len(), before);
}
