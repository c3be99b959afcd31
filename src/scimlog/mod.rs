//! The SCIM request log: what each SCIM request was and how it was answered,
//! as identity admins know it from SaaS consoles. Pure: no I/O, no HTTP
//! framework; the HTTP layer (`http::scimlog`) records into it and serves it.
//!
//! Imports: nothing of `crate::http`, `crate::metrics`, `crate::store` or
//! `crate::controller`; it is below them all. [`ResourceType`] lives here
//! because the log stores and filters by it, and the metrics label by it;
//! which route is which type is decided once, at the HTTP edge
//! (`http::scim::resource_type`).
//!
//! - [`Entry`]: one request (time, tenant, method, path, resource type,
//!   status, duration, redacted bodies, a sequence number).
//! - [`ScimLog`]: the entries of one replica, shared by all tenants, bounded
//!   by an entry cap and by byte budgets (overall and per tenant) that count
//!   the memory entries retain; see [`store`] for the eviction policy.
//! - [`Query`]: filters and pagination (newest first, opaque cursor).
//! - [`to_csv`]: RFC 4180 export.
//!
//! Imports: `crd`, `scim`, `meta` and its own layer; must not import `store`,
//! `controller`, `http`, `console`, `leader`, `operator`, `serve`, `cli`,
//! `token_admin`, `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

mod csv_export;
pub mod merge;
mod query;
pub mod redact;
pub mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::ser::SerializeStruct as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

pub use csv_export::{CSV_COLUMNS, csv_header, csv_row, neutralise, to_csv, unavailable_row};
pub use merge::{Merged, Part, Position, Served, Unavailable};
pub use query::{Page, Query, QueryError, StatusClass};
pub use store::Limits;

/// Bodies longer than this (after redaction, serialised) are stored
/// truncated, as text, with `truncated: true`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Default number of entries a replica keeps.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Default memory budget of a replica's log, all tenants together.
pub const DEFAULT_BYTES: usize = 32 * 1024 * 1024;

/// Default memory budget of one tenant's entries.
pub const DEFAULT_TENANT_BYTES: usize = 8 * 1024 * 1024;

/// Heap bytes an allocation of `len` bytes takes: allocators hand out blocks
/// in steps of at least 16 bytes (mimalloc's smallest bins, glibc's chunks).
pub(crate) fn heap(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len.next_multiple_of(16)
    }
}

/// What a SCIM request was about: the `resourceType` of log entries and the
/// `resource_type` label of the request metrics. The HTTP edge classifies
/// each request once, by the route that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceType {
    /// `/Users`, `/Users/{id}`, `/Users/.search`
    User,
    /// `/Groups`, `/Groups/{id}`, `/Groups/.search`
    Group,
    /// `/ServiceProviderConfig`: the features the server supports.
    Config,
    /// `/Schemas…`, `/ResourceTypes…`: the shape of the resources.
    Schema,
    /// `POST /.search` at the root (over every resource type).
    Search,
    /// Anything else (`/Bulk`, `/Me`, paths no route serves).
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

    /// Its name in the API, CSV, log lines and metric labels.
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

    /// Parses a name, case-insensitively (a query parameter of the log API).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl std::fmt::Display for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recorded request or response body, redacted, kept as compact text: the
/// redacted JSON serialised without whitespace (a `serde_json::Value` tree
/// of a body with thousands of small keys costs many times its text), or
/// the text of a body that is not JSON or too long.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    content: Content,
    truncated: bool,
}

#[derive(Debug, Clone)]
enum Content {
    /// Compact JSON, at most [`BODY_LIMIT`] bytes.
    Json(Box<RawValue>),
    /// Text, at most [`BODY_LIMIT`] bytes.
    Text(Box<str>),
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Content::Json(a), Content::Json(b)) => a.get() == b.get(),
            (Content::Text(a), Content::Text(b)) => a == b,
            _ => false,
        }
    }
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
            drop(json);
            if text.len() <= BODY_LIMIT {
                // `from_string` keeps exactly the text's length (a boxed str).
                match RawValue::from_string(text) {
                    Ok(raw) => {
                        return Some(Body {
                            content: Content::Json(raw),
                            truncated: false,
                        });
                    }
                    // Unreachable (serde_json wrote it); kept as redacted text then.
                    Err(_) => {
                        return Some(Self::cut(&redact::redact_text(&String::from_utf8_lossy(
                            bytes,
                        ))));
                    }
                }
            }
            return Some(Self::cut(&text));
        }
        Some(Self::cut(&redact::redact_text(&String::from_utf8_lossy(
            bytes,
        ))))
    }

    /// `text`, cut at [`BODY_LIMIT`] on a character boundary.
    fn cut(text: &str) -> Self {
        let mut end = text.len().min(BODY_LIMIT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Body {
            content: Content::Text(text[..end].into()),
            truncated: end < text.len(),
        }
    }

    /// The body as JSON (parsed from the kept text), when it was JSON.
    pub fn json(&self) -> Option<Value> {
        self.raw_json()
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// The body's compact JSON, unparsed, when it was JSON.
    pub fn raw_json(&self) -> Option<&RawValue> {
        match &self.content {
            Content::Json(raw) => Some(raw),
            Content::Text(_) => None,
        }
    }

    /// The kept text, when the body was not JSON or too long.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(text) => Some(text),
            Content::Json(_) => None,
        }
    }

    /// Whether the text was cut at [`BODY_LIMIT`].
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The body as one string: compact JSON, or the (possibly cut) text.
    pub fn as_text(&self) -> &str {
        match &self.content {
            Content::Json(raw) => raw.get(),
            Content::Text(text) => text,
        }
    }

    /// Heap bytes the body holds beyond its own struct.
    pub fn heap_bytes(&self) -> usize {
        heap(self.as_text().len())
    }
}

/// `{"json": …, "truncated": false}` or `{"text": "…", "truncated": …}`:
/// the JSON is written as kept, without a parse.
impl Serialize for Body {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut body = serializer.serialize_struct("Body", 2)?;
        match &self.content {
            Content::Json(raw) => body.serialize_field("json", raw)?,
            Content::Text(text) => body.serialize_field("text", text)?,
        }
        body.serialize_field("truncated", &self.truncated)?;
        body.end()
    }
}

/// Reads what [`Body`]'s `Serialize` wrote (a peer replica's answer),
/// bounded as [`Body::capture`] bounds it.
impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            json: Option<Box<RawValue>>,
            text: Option<String>,
            #[serde(default)]
            truncated: bool,
        }
        let wire = Wire::deserialize(deserializer)?;
        match (wire.json, wire.text) {
            (Some(json), None) if json.get().len() <= BODY_LIMIT => Ok(Body {
                content: Content::Json(json),
                truncated: wire.truncated,
            }),
            (None, Some(text)) => {
                let mut body = Body::cut(&text);
                body.truncated |= wire.truncated;
                Ok(body)
            }
            (Some(_), None) => Err(serde::de::Error::custom("body over the limit")),
            _ => Err(serde::de::Error::custom("a body is either json or text")),
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
    /// What the request was about, as the HTTP edge classified it.
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

impl Entry {
    /// Bytes of memory the entry retains once stored: its `Arc` allocation
    /// (the two reference counts and the struct) plus every heap block it
    /// owns (tenant, method, path, bodies), by capacity, rounded to the
    /// allocator's granularity. Not its serialised length.
    pub fn retained_bytes(&self) -> usize {
        let body = |b: &Option<Body>| b.as_ref().map_or(0, Body::heap_bytes);
        heap(2 * size_of::<usize>() + size_of::<Entry>())
            + heap(self.tenant.capacity())
            + heap(self.method.capacity())
            + heap(self.path.capacity())
            + body(&self.request_body)
            + body(&self.response_body)
    }
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
    /// See [`Entry::resource_type`].
    pub resource_type: ResourceType,
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

/// The request log of one replica: all tenants' entries within
/// [`Limits`] (an entry cap, a byte budget overall and one per tenant).
/// See [`store`] for what is evicted when.
#[derive(Debug)]
pub struct ScimLog {
    limits: Limits,
    inner: Mutex<store::Shelves>,
    /// Entries not kept because they were larger than a budget on their own.
    too_large: AtomicU64,
    /// Entries evicted to stay within the limits.
    evicted: AtomicU64,
}

/// Entries the log lost since it started (the `scimitar_scim_log_dropped`
/// metric).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Never kept: larger than a budget on their own. With a limit at 0 the
    /// log keeps nothing by choice, and that is not counted.
    pub too_large: u64,
    /// Kept, then evicted (oldest first) to stay within the limits.
    pub evicted: u64,
}

impl Default for ScimLog {
    fn default() -> Self {
        Self::with_limits(Limits::default())
    }
}

impl ScimLog {
    /// A log keeping at most `capacity` entries, within the default byte
    /// budgets.
    pub fn new(capacity: usize) -> Self {
        Self::with_limits(Limits {
            entries: capacity,
            ..Limits::default()
        })
    }

    /// A log within `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            inner: Mutex::new(store::Shelves::default()),
            too_large: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    /// How many entries it keeps at most.
    pub fn capacity(&self) -> usize {
        self.limits.entries
    }

    /// Its limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether it stores anything at all (no limit is 0).
    pub fn keeps_entries(&self) -> bool {
        self.limits.keeps_entries()
    }

    /// How many entries it holds now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory its entries retain now (what the budgets count).
    pub fn retained_bytes(&self) -> usize {
        self.lock().bytes()
    }

    /// Bytes of memory `tenant`'s entries retain now (what its budget counts).
    pub fn tenant_bytes(&self, tenant: &str) -> usize {
        self.lock().tenant_bytes(tenant)
    }

    /// Every tenant with entries: its name, entries and retained bytes.
    pub fn tenants(&self) -> Vec<(String, usize, usize)> {
        self.lock().tenants()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, store::Shelves> {
        // A panic while holding the lock cannot leave the shelves
        // inconsistent in a way that matters (at worst a count is off until
        // the tenant's shelf empties), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a record, evicting what the limits require, and returns its
    /// sequence number (also when the limits keep nothing).
    pub fn record(&self, record: Record) -> u64 {
        let shrunk = |mut s: String| {
            s.shrink_to_fit();
            s
        };
        let mut entry = Entry {
            seq: 0,
            time: record.time,
            tenant: shrunk(record.tenant),
            method: shrunk(record.method),
            path: shrunk(record.path),
            resource_type: record.resource_type,
            status: record.status,
            duration_ms: record.duration_ms,
            request_body: record.request_body,
            response_body: record.response_body,
        };
        let evicted = {
            let mut shelves = self.lock();
            entry.seq = shelves.next_seq();
            let seq = entry.seq;
            (seq, shelves.push(entry, &self.limits))
        };
        match &evicted.1 {
            Some(gone) => {
                self.evicted.fetch_add(gone.len() as u64, Ordering::Relaxed);
            }
            None if self.limits.keeps_entries() => {
                self.too_large.fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }
        // Evicted entries (and their bodies) are freed outside the lock.
        drop(evicted.1);
        evicted.0
    }

    /// Entries lost since the log started.
    pub fn dropped(&self) -> Dropped {
        Dropped {
            too_large: self.too_large.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
        }
    }

    /// One page of `tenant`'s entries matching `query`, newest first. The
    /// entries are shared with the log, not copied.
    pub fn page(&self, tenant: &str, query: &Query) -> Page {
        let (entries, more) = {
            let shelves = self.lock();
            let Some(entries) = shelves.entries(tenant) else {
                return Page {
                    entries: Vec::new(),
                    next: None,
                };
            };
            // Entries are in sequence order: start below the cursor.
            let end = match query.cursor {
                Some(cursor) => entries.partition_point(|e| e.seq < cursor),
                None => entries.len(),
            };
            let mut matching = entries.range(..end).rev().filter(|e| query.matches(e));
            let found: Vec<Arc<Entry>> = matching.by_ref().take(query.limit).cloned().collect();
            (found, matching.next().is_some())
        };
        let next = match entries.last() {
            Some(last) if more => Some(query::encode_cursor(last.seq)),
            _ => None,
        };
        Page { entries, next }
    }

    /// Every entry of `tenant` matching `query`'s filters, newest first
    /// (`limit` and `cursor` are not applied): what CSV export writes. The
    /// entries are shared with the log, not copied.
    pub fn all(&self, tenant: &str, query: &Query) -> Vec<Arc<Entry>> {
        let shelves = self.lock();
        shelves.entries(tenant).map_or_else(Vec::new, |entries| {
            entries
                .iter()
                .rev()
                .filter(|e| query.matches(e))
                .cloned()
                .collect()
        })
    }
}

#[cfg(test)]
mod tests;
