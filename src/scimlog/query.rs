//! Filters and pagination of the request log.
//!
//! Parameters (all optional):
//! - `since`, `until`: RFC 3339 timestamps; `since` ≤ time < `until`.
//! - `method`: an HTTP method, any case.
//! - `resourceType`: `User`, `Group`, `Config`, `Schema`, `Search`, `Other`, any case.
//! - `status`: a status class, `2xx`, `3xx`, `4xx` or `5xx`.
//! - `limit`: entries per page, 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
//! - `cursor`: the `next` of the previous page.
//!
//! Pages are newest first. A cursor points below the last entry of the page it
//! came from, so entries recorded meanwhile never shift later pages: walking
//! `next` visits every matching entry once, without gaps or duplicates (except
//! those evicted meanwhile: eviction always takes a tenant's oldest entries).

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use super::{Entry, Position, ResourceType};

/// Entries per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 500;

const CURSOR_PREFIX: &str = "c1.";

/// A status class (`2xx` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusClass(pub u16);

impl StatusClass {
    /// Parses `2xx`, `3xx`, `4xx` or `5xx` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let digit = text.strip_suffix("xx")?;
        match digit {
            "2" | "3" | "4" | "5" => digit.parse().ok().map(StatusClass),
            _ => None,
        }
    }

    /// Whether `status` is in the class.
    pub fn contains(self, status: u16) -> bool {
        status / 100 == self.0
    }
}

/// A validated query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries before this time.
    pub until: Option<Timestamp>,
    /// Entries of this method (upper case).
    pub method: Option<String>,
    /// Entries of this resource type.
    pub resource_type: Option<ResourceType>,
    /// Entries whose status is in this class.
    pub status: Option<StatusClass>,
    /// Entries per page.
    pub limit: usize,
    /// Only entries recorded before this sequence number (this replica's
    /// own cursor, [`super::ScimLog::page`]).
    pub cursor: Option<u64>,
    /// Only entries below this position in the merged order of every
    /// replica (the cursor of a merged listing, [`super::merge`]).
    pub before: Option<Position>,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            method: None,
            resource_type: None,
            status: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
            before: None,
        }
    }
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// One page of entries, newest first, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// The entries, shared with the log (not copies).
    #[serde(serialize_with = "shared_entries")]
    pub entries: Vec<Arc<Entry>>,
    /// Cursor of the next page; `None` on the last page.
    pub next: Option<String>,
}

fn shared_entries<S: serde::Serializer>(
    entries: &[Arc<Entry>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(entries.iter().map(|e| &**e))
}

impl Query {
    /// Parses query-string parameters; an unknown parameter or a bad value is
    /// an error naming it.
    pub fn parse<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, QueryError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut query = Query::default();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref().trim());
            let bad = |what: &str| QueryError(format!("{key}={value:?}: {what}"));
            match key {
                "since" | "until" => {
                    let time = value.parse::<Timestamp>().map_err(|_| {
                        bad("expected an RFC 3339 time such as 2025-01-31T12:00:00Z")
                    })?;
                    if key == "since" {
                        query.since = Some(time);
                    } else {
                        query.until = Some(time);
                    }
                }
                "method" => {
                    let valid = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphabetic());
                    if !valid {
                        return Err(bad("expected an HTTP method such as POST"));
                    }
                    query.method = Some(value.to_ascii_uppercase());
                }
                "resourceType" => {
                    query.resource_type = Some(ResourceType::parse(value).ok_or_else(|| {
                        bad("expected User, Group, Config, Schema, Search or Other")
                    })?);
                }
                "status" => {
                    query.status = Some(
                        StatusClass::parse(value)
                            .ok_or_else(|| bad("expected 2xx, 3xx, 4xx or 5xx"))?,
                    );
                }
                "limit" => {
                    query.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| bad(&format!("expected a number from 1 to {MAX_LIMIT}")))?;
                }
                "cursor" => {
                    let not_a_cursor = || bad("not a cursor returned as `next`");
                    if value.starts_with(CURSOR_PREFIX) {
                        query.cursor = Some(decode_cursor(value).ok_or_else(not_a_cursor)?);
                    } else {
                        query.before = Some(Position::decode(value).ok_or_else(not_a_cursor)?);
                    }
                }
                _ => {
                    return Err(QueryError(format!(
                        "unknown parameter {key:?}; known are since, until, method, resourceType, status, limit, cursor, format"
                    )));
                }
            }
        }
        Ok(query)
    }

    /// [`Query::parse`] for a merged listing (the log API, the console, the
    /// internal endpoint): only merged cursors; one replica's own cursor
    /// (`c1.`, of a version before the merge) is refused, not ignored.
    pub fn parse_merged<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, QueryError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let query = Self::parse(pairs)?;
        if query.cursor.is_some() {
            return Err(QueryError(
                "cursor: a cursor of one replica's log (an earlier version); start again without it"
                    .into(),
            ));
        }
        Ok(query)
    }

    /// Whether `entry` passes the filters (not the cursor).
    pub fn matches(&self, entry: &Entry) -> bool {
        self.since.is_none_or(|since| entry.time >= since)
            && self.until.is_none_or(|until| entry.time < until)
            && self.method.as_deref().is_none_or(|m| entry.method == m)
            && self.resource_type.is_none_or(|t| entry.resource_type == t)
            && self.status.is_none_or(|c| c.contains(entry.status))
    }
}

impl Query {
    /// The query as query-string pairs, filters and merged cursor (what a
    /// peer replica is asked; `limit` and the local cursor are left out).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(since) = self.since {
            pairs.push(("since", since.to_string()));
        }
        if let Some(until) = self.until {
            pairs.push(("until", until.to_string()));
        }
        if let Some(method) = &self.method {
            pairs.push(("method", method.clone()));
        }
        if let Some(t) = self.resource_type {
            pairs.push(("resourceType", t.as_str().to_owned()));
        }
        if let Some(status) = self.status {
            pairs.push(("status", format!("{}xx", status.0)));
        }
        if let Some(before) = &self.before {
            pairs.push(("cursor", before.encode()));
        }
        pairs
    }
}

/// The cursor of the page after one ending with the entry `seq`.
pub(super) fn encode_cursor(seq: u64) -> String {
    format!("{CURSOR_PREFIX}{seq:x}")
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let hex = cursor.strip_prefix(CURSOR_PREFIX)?;
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}
