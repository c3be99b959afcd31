//! The SCIM request log: what each SCIM request was and how it was answered,
//! as identity admins know it from SaaS consoles. Pure: no I/O, no HTTP
//! framework; the HTTP layer (`http::scimlog`) records into it and serves it.
//!
//! - [`Entry`]: one request (time, tenant, method, path, resource type,
//!   status, duration, redacted bodies, a sequence number).
//! - [`ScimLog`]: a bounded ring buffer per replica, shared by all tenants,
//!   oldest entries dropped first.
//! - [`Query`]: filters and pagination (newest first, opaque cursor).
//! - [`to_csv`]: RFC 4180 export.

mod csv_export;
mod query;
pub mod redact;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use csv_export::{CSV_COLUMNS, to_csv};
pub use query::{Page, Query, QueryError, StatusClass};

/// Bodies longer than this (after redaction, serialised) are stored
/// truncated, as text, with `truncated: true`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Default number of entries a replica keeps.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The kind of SCIM resource a request was about, derived from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceType {
    /// `/Users…`
    User,
    /// `/Groups…`
    Group,
    /// `/ServiceProviderConfig`, `/ResourceTypes…`
    Config,
    /// `/Schemas…`
    Schema,
    /// `POST /.search` at the root (over every resource type).
    Search,
    /// Anything else (`/Bulk`, `/Me`, unknown endpoints).
    Other,
}

impl ResourceType {
    /// Every resource type.
    pub const ALL: [ResourceType; 6] = [
        ResourceType::User,
        ResourceType::Group,
        ResourceType::Config,
        ResourceType::Schema,
        ResourceType::Search,
        ResourceType::Other,
    ];

    /// Its name in the API and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
            ResourceType::Config => "Config",
            ResourceType::Schema => "Schema",
            ResourceType::Search => "Search",
            ResourceType::Other => "Other",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The resource type of a request path, with or without the `/scim/v2`
    /// prefix and with or without a query string.
    pub fn of_path(path: &str) -> Self {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = path.strip_prefix("/scim/v2").unwrap_or(path);
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let first = segments.next().unwrap_or_default();
        let is = |name: &str| first.eq_ignore_ascii_case(name);
        if is("Users") {
            ResourceType::User
        } else if is("Groups") {
            ResourceType::Group
        } else if is("ServiceProviderConfig") || is("ResourceTypes") {
            ResourceType::Config
        } else if is("Schemas") {
            ResourceType::Schema
        } else if first == ".search" && segments.next().is_none() {
            ResourceType::Search
        } else {
            ResourceType::Other
        }
    }
}

impl std::fmt::Display for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recorded request or response body, redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    /// The body as JSON, when it parsed and fits in [`BODY_LIMIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// The body as text otherwise (not JSON, or too long: then cut at
    /// [`BODY_LIMIT`] bytes and `truncated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether `text` was cut at [`BODY_LIMIT`].
    pub truncated: bool,
}

impl Body {
    /// Redacts and bounds raw body bytes; `None` for an empty body.
    pub fn capture(bytes: &[u8]) -> Option<Self> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        if let Ok(mut json) = serde_json::from_slice::<Value>(bytes) {
            redact::redact_json(&mut json);
            let text = json.to_string();
            if text.len() <= BODY_LIMIT {
                return Some(Body {
                    json: Some(json),
                    text: None,
                    truncated: false,
                });
            }
            return Some(Self::text(&text));
        }
        Some(Self::text(&redact::redact_text(&String::from_utf8_lossy(
            bytes,
        ))))
    }

    fn text(text: &str) -> Self {
        let mut end = text.len().min(BODY_LIMIT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Body {
            json: None,
            text: Some(text[..end].to_owned()),
            truncated: end < text.len(),
        }
    }

    /// The body as one string: compact JSON, or the (possibly cut) text.
    pub fn as_text(&self) -> String {
        match (&self.json, &self.text) {
            (Some(json), _) => json.to_string(),
            (None, Some(text)) => text.clone(),
            (None, None) => String::new(),
        }
    }
}

/// One SCIM request, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Position in this replica's log: strictly increasing in recording order.
    pub seq: u64,
    /// When the request arrived (RFC 3339, UTC).
    pub time: Timestamp,
    /// The tenant whose token made the request.
    pub tenant: String,
    /// HTTP method.
    pub method: String,
    /// Path and query, as requested (`/scim/v2/Users?filter=…`).
    pub path: String,
    /// What the request was about, from the path.
    pub resource_type: ResourceType,
    /// HTTP status of the response.
    pub status: u16,
    /// From the request's arrival to the end of the response body, in milliseconds.
    pub duration_ms: f64,
    /// What the identity provider sent, redacted.
    pub request_body: Option<Body>,
    /// What we answered, redacted.
    pub response_body: Option<Body>,
}

/// An entry before the log numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// See [`Entry::time`].
    pub time: Timestamp,
    /// See [`Entry::tenant`].
    pub tenant: String,
    /// See [`Entry::method`].
    pub method: String,
    /// See [`Entry::path`].
    pub path: String,
    /// See [`Entry::status`].
    pub status: u16,
    /// See [`Entry::duration_ms`].
    pub duration_ms: f64,
    /// See [`Entry::request_body`].
    pub request_body: Option<Body>,
    /// See [`Entry::response_body`].
    pub response_body: Option<Body>,
}

/// Rounds a duration to microseconds, in milliseconds.
pub fn duration_ms(duration: std::time::Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

/// The request log of one replica: at most `capacity` entries over all
/// tenants, the oldest dropped first. Capacity 0 keeps nothing.
#[derive(Debug)]
pub struct ScimLog {
    capacity: usize,
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Arc<Entry>>,
    next_seq: u64,
}

impl Default for ScimLog {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ScimLog {
    /// A log keeping at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Ring::default()),
        }
    }

    /// How many entries it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries it holds now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A panic while holding the lock cannot leave the ring inconsistent
        // (every mutation is a single push or pop), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a record, dropping the oldest entries beyond capacity, and
    /// returns its sequence number.
    pub fn record(&self, record: Record) -> u64 {
        let mut ring = self.lock();
        let seq = ring.next_seq;
        ring.next_seq += 1;
        if self.capacity == 0 {
            return seq;
        }
        while ring.entries.len() >= self.capacity {
            ring.entries.pop_front();
        }
        let resource_type = ResourceType::of_path(&record.path);
        ring.entries.push_back(Arc::new(Entry {
            seq,
            time: record.time,
            tenant: record.tenant,
            method: record.method,
            path: record.path,
            resource_type,
            status: record.status,
            duration_ms: record.duration_ms,
            request_body: record.request_body,
            response_body: record.response_body,
        }));
        seq
    }

    /// One page of `tenant`'s entries matching `query`, newest first.
    pub fn page(&self, tenant: &str, query: &Query) -> Page {
        let (found, more) = {
            let ring = self.lock();
            // Entries are in sequence order: start below the cursor.
            let end = match query.cursor {
                Some(cursor) => ring.entries.partition_point(|e| e.seq < cursor),
                None => ring.entries.len(),
            };
            let mut matching = ring
                .entries
                .range(..end)
                .rev()
                .filter(|e| e.tenant == tenant && query.matches(e));
            let found: Vec<Arc<Entry>> = matching.by_ref().take(query.limit).cloned().collect();
            (found, matching.next().is_some())
        };
        // Bodies are copied outside the lock.
        let entries: Vec<Entry> = found.iter().map(|e| Entry::clone(e)).collect();
        let next = match entries.last() {
            Some(last) if more => Some(query::encode_cursor(last.seq)),
            _ => None,
        };
        Page { entries, next }
    }

    /// Every entry of `tenant` matching `query`'s filters, newest first
    /// (`limit` and `cursor` are not applied): what CSV export writes.
    pub fn all(&self, tenant: &str, query: &Query) -> Vec<Entry> {
        let found: Vec<Arc<Entry>> = self
            .lock()
            .entries
            .iter()
            .rev()
            .filter(|e| e.tenant == tenant && query.matches(e))
            .cloned()
            .collect();
        found.iter().map(|e| Entry::clone(e)).collect()
    }
}

#[cfg(test)]
mod tests;
