//! The packed form a resource is kept in: its JSON tree as tagged bytes.
//!
//! - Common SCIM words (attribute names, schema URNs, `work`, `User`) take
//!   one byte; canonical UUIDs 16 bytes; UTC timestamps about 9.
//! - A string repeated in one resource (the email that is also the
//!   userName) is a back-reference.
//! - An object's keys are a shape, shared by every resource of the index
//!   with the same keys in the same order: the blob holds the shape's
//!   number, and unpacking clones the shape's map, whose keys are already
//!   hashed, instead of hashing each key again.
//! - Values the index holds typed are holes: the id, `meta.version` and
//!   each group member's `value`.
//!
//! Unpacking gives back the exact `Value`, attribute order included. A
//! `serde_json::Value` costs ~5 KB for a typical enterprise user; this form
//! about 200 bytes.

mod pack;
mod text;
mod unpack;

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

pub use pack::{Pack, pack};
pub use unpack::{Fill, count_at, members_at, str_at, time_at, unpack, unpack_fields, version};

// Value tags.
const NULL: u8 = 0x00;
const FALSE: u8 = 0x01;
const TRUE: u8 = 0x02;
/// `u64` varint.
const POS: u8 = 0x03;
/// A negative `i64` `n` as the varint of `!n`.
const NEG: u8 = 0x04;
/// `f64`, 8 bytes little-endian.
const FLOAT: u8 = 0x05;
/// Varint length, UTF-8 bytes.
const STR: u8 = 0x06;
/// Varint offset of an earlier raw string of the same blob.
const BACK: u8 = 0x07;
/// 16 bytes of a lowercase hyphenated UUID.
const UUID: u8 = 0x08;
/// Zigzag varint seconds, varint of nanoseconds × 10 + fraction digits.
const TIME: u8 = 0x09;
/// Varint count, then the items.
const ARR: u8 = 0x0A;
/// Varint count, then key and value pairs.
const OBJ: u8 = 0x0B;
/// The resource's id.
const HOLE_ID: u8 = 0x0C;
/// `W/"<version>"`.
const HOLE_VERSION: u8 = 0x0D;
/// The next member id of the group.
const HOLE_MEMBER: u8 = 0x0E;
/// Varint shape, then the values.
const SHAPED: u8 = 0x0F;
/// Plus a count below 16.
const SHORT_ARR: u8 = 0x10;
/// Plus a length below 96.
const SHORT_STR: u8 = 0x20;
const SHORT_STR_MAX: usize = 0x60;
/// Plus the index of a word below 128.
const WORD: u8 = 0x80;
// Keys (only in objects without a shape): below 0x80 a word; 0x80 plus a
// length below 127; 0xFF then a varint length.
const LONG_KEY: u8 = 0xFF;

/// Strings SCIM resources repeat, keys and values alike (at most 128).
const WORDS: &[&str] = &[
    "schemas",
    "id",
    "externalId",
    "userName",
    "name",
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "entitlements",
    "roles",
    "x509Certificates",
    "value",
    "display",
    "type",
    "primary",
    "$ref",
    "groups",
    "members",
    "meta",
    "resourceType",
    "created",
    "lastModified",
    "location",
    "version",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
    crate::scim::schema::USER_SCHEMA_URN,
    crate::scim::schema::GROUP_SCHEMA_URN,
    crate::scim::schema::ENTERPRISE_USER_SCHEMA_URN,
    "User",
    "Group",
    "work",
    "home",
    "other",
    "mobile",
    "fax",
    "pager",
    "direct",
    "indirect",
    "photo",
    "thumbnail",
    "Employee",
    "Contractor",
    "en",
    "en-US",
    "US",
];

static CODES: LazyLock<HashMap<&'static str, u8>> = LazyLock::new(|| {
    WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| (*w, u8::try_from(i).unwrap_or(u8::MAX)))
        .collect()
});

fn word(text: &str) -> Option<u8> {
    CODES.get(text).copied().filter(|c| *c < 0x80)
}

/// The code of a word, at compile time.
const fn code(text: &str) -> u8 {
    let mut i = 0;
    while i < WORDS.len() {
        let (a, b) = (WORDS[i].as_bytes(), text.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i as u8;
            }
        }
        i += 1;
    }
    panic!("not a word")
}

const VALUE_KEY: u8 = code("value");
const TYPE_KEY: u8 = code("type");

/// No offset.
pub const NONE: u32 = u32::MAX;

/// Most shapes one index keeps; objects of other shapes keep their keys.
const MAX_SHAPES: usize = 1024;

/// The key sequences of an index's objects.
#[derive(Default)]
pub struct Shapes {
    by_keys: HashMap<Box<[u8]>, u32>,
    list: Vec<Shape>,
}

struct Shape {
    /// The keys, each with `null`.
    template: Map<String, Value>,
    /// Each key's word code, if it is a word.
    words: Box<[Option<u8>]>,
}

impl Shapes {
    /// The shape of `map`, made if there is room; `keys` is scratch space.
    fn of(&mut self, map: &Map<String, Value>, keys: &mut Vec<u8>) -> Option<u32> {
        keys.clear();
        for key in map.keys() {
            pack::key(keys, key);
        }
        if let Some(id) = self.by_keys.get(keys.as_slice()) {
            return Some(*id);
        }
        if self.list.len() >= MAX_SHAPES {
            return None;
        }
        let id = u32::try_from(self.list.len()).ok()?;
        self.list.push(Shape {
            template: map.keys().map(|k| (k.clone(), Value::Null)).collect(),
            words: map.keys().map(|k| word(k)).collect(),
        });
        self.by_keys.insert(keys.as_slice().into(), id);
        Some(id)
    }

    /// An estimate of the heap the shapes hold (see [`super::size`]).
    pub fn heap_bytes(&self) -> usize {
        let keys: usize = self.by_keys.keys().map(|k| k.len()).sum();
        let shapes: usize = self
            .list
            .iter()
            .map(|s| {
                let keys: usize = s.template.keys().map(String::capacity).sum();
                keys + super::size::ordered_map_bytes::<String, Value>(s.template.len())
                    + s.words.len() * size_of::<Option<u8>>()
            })
            .sum();
        super::size::table_bytes::<Box<[u8]>, u32>(self.by_keys.capacity())
            + keys
            + super::size::vec_bytes(&self.list)
            + shapes
    }

    fn get(&self, id: u64) -> Option<&Shape> {
        self.list.get(usize::try_from(id).ok()?)
    }
}

#[cfg(test)]
mod tests;
