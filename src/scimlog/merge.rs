//! One listing out of the logs of several replicas. Pure: the HTTP edge
//! (`http::scimlog_peers`) asks each replica for its part and merges here.
//!
//! Entries are ordered by their [`Position`]: (time, replica, sequence),
//! newest first. Time alone is not unique (two replicas record in the same
//! nanosecond, and one replica's arrival times are not in sequence order), so
//! the replica's name and its sequence number break ties; the order is total
//! and the same on every replica that computes it.
//!
//! Paging: a page's cursor is the position of its last entry, and the next
//! page is every replica's entries strictly below it. Each replica answers
//! its own newest `limit` entries below the cursor, so the union holds the
//! merged newest `limit`; entries recorded after the cursor was made are
//! newer than it and never shift later pages (a request still in flight when
//! the first page was read has an earlier arrival time and shows on a later
//! page). Walking `next` thus visits every entry once, except those evicted
//! meanwhile and those of a replica that did not answer (named in
//! [`Merged::unavailable`]).

use std::cmp::Ordering;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Entry, ScimLog};
use crate::scimlog::Query;

const CURSOR_PREFIX: &str = "m1.";

/// Where an entry sits in the merged order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// When the request arrived.
    pub time: Timestamp,
    /// The replica that served it.
    pub replica: String,
    /// Its sequence number in that replica's log.
    pub seq: u64,
}

impl Ord for Position {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, &self.replica, self.seq).cmp(&(other.time, &other.replica, other.seq))
    }
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Position {
    /// `m1.<nanoseconds since the epoch>.<sequence, hex>.<replica>`: the
    /// replica's name last, since pod names may hold dots.
    pub fn encode(&self) -> String {
        format!(
            "{CURSOR_PREFIX}{}.{:x}.{}",
            self.time.as_nanosecond(),
            self.seq,
            self.replica
        )
    }

    /// Parses what [`Position::encode`] wrote.
    pub fn decode(cursor: &str) -> Option<Self> {
        let rest = cursor.strip_prefix(CURSOR_PREFIX)?;
        let mut parts = rest.splitn(3, '.');
        let nanos: i128 = parts.next()?.parse().ok()?;
        let seq = parts.next().filter(|s| !s.is_empty() && s.len() <= 16)?;
        let seq = u64::from_str_radix(seq, 16).ok()?;
        let replica = parts.next()?;
        let valid = !replica.is_empty()
            && replica.len() <= 253
            && replica
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
        if !valid {
            return None;
        }
        Some(Position {
            time: Timestamp::from_nanosecond(nanos).ok()?,
            replica: replica.to_owned(),
            seq,
        })
    }
}

/// What one replica answers: its newest entries matching a query below a
/// cursor, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// The replica's name (its pod's name).
    pub replica: String,
    /// Its entries, newest first.
    #[serde(with = "shared")]
    pub entries: Vec<Arc<Entry>>,
    /// Whether it holds more matching entries below the last one.
    pub more: bool,
}

mod shared {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::Entry;

    pub fn serialize<S: Serializer>(entries: &[Arc<Entry>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(entries.iter().map(|e| &**e))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Arc<Entry>>, D::Error> {
        Ok(Vec::<Entry>::deserialize(d)?
            .into_iter()
            .map(Arc::new)
            .collect())
    }
}

/// A replica that was asked and did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unavailable {
    /// Its pod's name, or its address when the EndpointSlice names no pod.
    pub replica: String,
    /// The address it was asked at.
    pub address: String,
    /// Why its part is missing (timeout, refused, over the byte budget…).
    pub reason: String,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.replica, self.address, self.reason)
    }
}

/// One entry of a merged listing, with the replica that served it.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub replica: Arc<str>,
    pub entry: Arc<Entry>,
}

impl Serialize for Served {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            replica: &'a str,
            #[serde(flatten)]
            entry: &'a Entry,
        }
        View {
            replica: &self.replica,
            entry: &self.entry,
        }
        .serialize(serializer)
    }
}

impl Served {
    fn position(&self) -> Position {
        Position {
            time: self.entry.time,
            replica: self.replica.to_string(),
            seq: self.entry.seq,
        }
    }
}

/// A merged page (or, without a limit, every matching entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Merged {
    /// Newest first.
    pub entries: Vec<Served>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<String>,
    /// The replicas that answered, this one first.
    pub replicas: Vec<String>,
    /// The replicas that did not: their entries are missing from this
    /// listing.
    pub unavailable: Vec<Unavailable>,
}

impl ScimLog {
    /// This replica's part of a merged listing: `tenant`'s entries matching
    /// `query`'s filters and below `query.before` (this replica being named
    /// `replica`), newest first, at most `limit` (`None`: all). The local
    /// `cursor` (a sequence number) is not applied.
    pub fn part(&self, tenant: &str, query: &Query, replica: &str, limit: Option<usize>) -> Part {
        let mut found: Vec<Arc<Entry>> = {
            let shelves = self.lock();
            let Some(entries) = shelves.entries(tenant) else {
                return Part {
                    replica: replica.to_owned(),
                    entries: Vec::new(),
                    more: false,
                };
            };
            let below = |e: &Entry| {
                query.before.as_ref().is_none_or(|before| {
                    (e.time, replica, e.seq) < (before.time, before.replica.as_str(), before.seq)
                })
            };
            entries
                .iter()
                .filter(|e| query.matches(e) && below(e))
                .cloned()
                .collect()
        };
        // Newest first by (time, seq): arrival times are not in sequence order.
        found.sort_unstable_by_key(|e| std::cmp::Reverse((e.time, e.seq)));
        let more = limit.is_some_and(|limit| found.len() > limit);
        if let Some(limit) = limit {
            found.truncate(limit);
        }
        Part {
            replica: replica.to_owned(),
            entries: found,
            more,
        }
    }
}

/// Merges the parts of the replicas that answered (this replica's first) into
/// one listing of at most `limit` entries (`None`: all of them).
pub fn merge(parts: Vec<Part>, unavailable: Vec<Unavailable>, limit: Option<usize>) -> Merged {
    let replicas: Vec<String> = parts.iter().map(|p| p.replica.clone()).collect();
    let mut more = false;
    let mut entries: Vec<Served> = Vec::new();
    for part in parts {
        more |= part.more;
        let replica: Arc<str> = part.replica.into();
        entries.extend(part.entries.into_iter().map(|entry| Served {
            replica: replica.clone(),
            entry,
        }));
    }
    entries.sort_unstable_by(|a, b| {
        (b.entry.time, &*b.replica, b.entry.seq).cmp(&(a.entry.time, &*a.replica, a.entry.seq))
    });
    if let Some(limit) = limit
        && entries.len() > limit
    {
        entries.truncate(limit);
        more = true;
    }
    let next = if more && limit.is_some() {
        entries.last().map(|last| last.position().encode())
    } else {
        None
    };
    Merged {
        entries,
        next,
        replicas,
        unavailable,
    }
}

#[cfg(test)]
mod tests;
