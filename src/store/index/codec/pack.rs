//! `Value` to blob.

use serde_json::{Number, Value};

use super::text::{Time, uuid};
use super::*;

/// What the packer leaves out, and what it reports back.
pub struct Pack<'v> {
    pub id: &'v str,
    pub version: &'v str,
    /// Whether the resource is a group: each member's `value` is a hole.
    pub group: bool,
    /// Strings (by address, from the packed `Value`) whose offset to report;
    /// `true` keeps the string readable in place (see [`str_at`]).
    pub wanted: [Option<(&'v str, bool)>; 4],
}

/// A packed resource: the version as a string at offset 0, then the tree.
pub struct Packed<'v> {
    pub blob: Box<[u8]>,
    /// Offsets of the wanted strings, [`NONE`] when not found.
    pub found: [u32; 4],
    /// Offset of the top-level `members` array, [`NONE`] without one.
    pub members_at: u32,
    /// Member ids, in the order of their holes.
    pub members: Vec<&'v str>,
}

pub fn pack<'v>(root: &'v Value, spec: &Pack<'v>, shapes: &mut Shapes) -> Packed<'v> {
    let mut packer = Packer {
        out: Vec::with_capacity(256),
        raw: Vec::new(),
        keys: Vec::new(),
        spec,
        shapes,
        found: [NONE; 4],
        members_at: NONE,
        members: Vec::new(),
    };
    packer.string(spec.version, true);
    packer.value(root, Place::Root);
    Packed {
        blob: packer.out.into_boxed_slice(),
        found: packer.found,
        members_at: packer.members_at,
        members: packer.members,
    }
}

/// Where a value sits, for the holes.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Root,
    Meta,
    Members,
    Member,
    /// Inside a member: strings stay readable in place.
    InMember,
    Other,
}

struct Packer<'v, 's> {
    out: Vec<u8>,
    /// Raw strings written so far, for back-references (the first 64).
    raw: Vec<(&'v str, u32)>,
    keys: Vec<u8>,
    spec: &'s Pack<'v>,
    shapes: &'s mut Shapes,
    found: [u32; 4],
    members_at: u32,
    members: Vec<&'v str>,
}

pub(super) fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(super) fn key(out: &mut Vec<u8>, key: &str) {
    match word(key) {
        Some(code) => out.push(code),
        None if key.len() < 127 => {
            out.push(0x80 + key.len() as u8);
            out.extend_from_slice(key.as_bytes());
        }
        None => {
            out.push(LONG_KEY);
            varint(out, key.len() as u64);
            out.extend_from_slice(key.as_bytes());
        }
    }
}

impl<'v> Packer<'v, '_> {
    fn at(&self) -> u32 {
        u32::try_from(self.out.len()).unwrap_or(NONE)
    }

    fn value(&mut self, value: &'v Value, place: Place) {
        match value {
            Value::Null => self.out.push(NULL),
            Value::Bool(false) => self.out.push(FALSE),
            Value::Bool(true) => self.out.push(TRUE),
            Value::Number(n) => self.number(n),
            Value::String(s) => {
                let wanted = self.spec.wanted.iter().position(|w| {
                    w.is_some_and(|(w, _)| {
                        std::ptr::eq(w.as_ptr(), s.as_ptr()) && w.len() == s.len()
                    })
                });
                if let Some(i) = wanted {
                    self.found[i] = self.at();
                }
                let in_place = place == Place::InMember
                    || wanted.is_some_and(|i| self.spec.wanted[i].is_some_and(|(_, r)| r));
                self.string(s, in_place);
            }
            Value::Array(items) => {
                if place == Place::Members {
                    self.members_at = self.at();
                }
                if items.len() < 16 {
                    self.out.push(SHORT_ARR + items.len() as u8);
                } else {
                    self.out.push(ARR);
                    varint(&mut self.out, items.len() as u64);
                }
                let inner = if place == Place::Members {
                    Place::Member
                } else {
                    Place::Other
                };
                for item in items {
                    self.value(item, inner);
                }
            }
            Value::Object(map) => {
                let mut keys = std::mem::take(&mut self.keys);
                let shape = self.shapes.of(map, &mut keys);
                self.keys = keys;
                match shape {
                    Some(shape) => {
                        self.out.push(SHAPED);
                        varint(&mut self.out, u64::from(shape));
                    }
                    None => {
                        self.out.push(OBJ);
                        varint(&mut self.out, map.len() as u64);
                    }
                }
                let shaped = shape.is_some();
                for (name, item) in map {
                    if !shaped {
                        key(&mut self.out, name);
                    }
                    self.field(place, name, item);
                }
            }
        }
    }

    /// The value of `name` in an object at `place`: a hole or packed.
    fn field(&mut self, place: Place, name: &str, item: &'v Value) {
        match (place, name, item) {
            (Place::Root, "id", Value::String(id)) if id == self.spec.id => self.out.push(HOLE_ID),
            (Place::Root, "meta", _) => self.value(item, Place::Meta),
            (Place::Root, "members", _) if self.spec.group => self.value(item, Place::Members),
            (Place::Meta, "version", Value::String(v)) if is_etag(v, self.spec.version) => {
                self.out.push(HOLE_VERSION)
            }
            (Place::Member, "value", Value::String(id)) => {
                self.members.push(id);
                self.out.push(HOLE_MEMBER);
            }
            (Place::Member | Place::InMember, _, _) => self.value(item, Place::InMember),
            _ => self.value(item, Place::Other),
        }
    }

    fn number(&mut self, n: &Number) {
        if let Some(u) = n.as_u64() {
            self.out.push(POS);
            varint(&mut self.out, u);
        } else if let Some(i) = n.as_i64() {
            self.out.push(NEG);
            varint(&mut self.out, !i as u64);
        } else {
            self.out.push(FLOAT);
            let f = n.as_f64().unwrap_or_default();
            self.out.extend_from_slice(&f.to_le_bytes());
        }
    }

    /// A string; `in_place` keeps it readable by [`str_at`] (raw, a word or
    /// a back-reference to a raw one).
    fn string(&mut self, s: &'v str, in_place: bool) {
        if let Some(code) = word(s) {
            self.out.push(WORD + code);
            return;
        }
        if !in_place {
            if let Some(bytes) = uuid(s) {
                self.out.push(UUID);
                self.out.extend_from_slice(&bytes);
                return;
            }
            if let Some(time) = Time::parse(s) {
                self.out.push(TIME);
                let seconds = time.seconds;
                varint(&mut self.out, ((seconds << 1) ^ (seconds >> 63)) as u64);
                varint(
                    &mut self.out,
                    u64::from(time.nanos) * 10 + u64::from(time.digits),
                );
                return;
            }
        }
        if s.len() >= 4 {
            if let Some((_, at)) = self.raw.iter().find(|(r, _)| *r == s) {
                let at = *at;
                self.out.push(BACK);
                varint(&mut self.out, u64::from(at));
                return;
            }
            if self.raw.len() < 64 {
                self.raw.push((s, self.at()));
            }
        }
        if s.len() < SHORT_STR_MAX {
            self.out.push(SHORT_STR + s.len() as u8);
        } else {
            self.out.push(STR);
            varint(&mut self.out, s.len() as u64);
        }
        self.out.extend_from_slice(s.as_bytes());
    }
}

fn is_etag(text: &str, version: &str) -> bool {
    text.strip_prefix("W/\"")
        .and_then(|t| t.strip_suffix('"'))
        .is_some_and(|v| v == version)
}
