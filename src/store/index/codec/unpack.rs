//! Blob to `Value`, and reads of single values in place.

use serde_json::{Map, Number, Value};

use super::text::{Time, uuid_text};
use super::*;

/// Fills the holes while unpacking.
pub struct Fill<'a, I> {
    pub id: &'a str,
    pub version: &'a str,
    pub members: I,
}

/// The tree of a blob.
pub fn unpack<'a>(
    blob: &[u8],
    shapes: &Shapes,
    fill: &mut Fill<'a, impl Iterator<Item = &'a str>>,
) -> Value {
    let mut r = Reader::new(blob, 0, Some(shapes));
    r.skip();
    r.value(fill)
}

/// The top-level fields of a blob whose key `keep` accepts (member holes
/// left empty: only `members` has them).
pub fn unpack_fields(blob: &[u8], shapes: &Shapes, id: &str, keep: impl Fn(&str) -> bool) -> Value {
    let fill = &mut Fill {
        id,
        version: version(blob),
        members: std::iter::empty(),
    };
    let mut r = Reader::new(blob, 0, Some(shapes));
    r.skip();
    let mut map = Map::new();
    match r.byte() {
        SHAPED => {
            let keys = r.shape().map(|s| s.template.keys());
            for key in keys.into_iter().flatten() {
                if keep(key) {
                    map.insert(key.clone(), r.value(fill));
                } else {
                    r.skip();
                }
            }
        }
        OBJ => {
            for _ in 0..r.varint() {
                let key = r.key();
                if keep(&key) {
                    let value = r.value(fill);
                    map.insert(key, value);
                } else {
                    r.skip();
                }
            }
        }
        _ => {}
    }
    Value::Object(map)
}

/// The version a blob starts with.
pub fn version(blob: &[u8]) -> &str {
    str_at(blob, 0).unwrap_or_default()
}

/// The string at `at`, when it is kept readable in place.
pub fn str_at(blob: &[u8], at: u32) -> Option<&str> {
    Reader::new(blob, at, None).borrowed()
}

/// The timestamp at `at` (packed, or a string that parses as one).
pub fn time_at(blob: &[u8], at: u32) -> Option<jiff::Timestamp> {
    let mut r = Reader::new(blob, at, None);
    if r.peek()? == TIME {
        r.at += 1;
        return r.time().timestamp();
    }
    r.borrowed()?.parse().ok()
}

/// The members of the array at `at`: whether each has a hole (a string
/// `value`), and its `type` when readable in place.
pub fn members_at<'b>(
    blob: &'b [u8],
    shapes: &'b Shapes,
    at: u32,
) -> impl Iterator<Item = (bool, Option<&'b str>)> + 'b {
    let mut r = Reader::new(blob, at, Some(shapes));
    let n = if at == NONE { 0 } else { r.array() };
    (0..n).map(move |_| {
        let mut member = (false, None);
        match r.byte() {
            SHAPED => {
                let words = r.shape().map(|s| &*s.words).unwrap_or_default();
                for code in words {
                    r.member_field(*code, &mut member);
                }
            }
            OBJ => {
                for _ in 0..r.varint() {
                    let code = r.key_code();
                    r.member_field(code, &mut member);
                }
            }
            _ => {
                r.at -= 1;
                r.skip();
            }
        }
        member
    })
}

/// The number of items of the array at `at` (0 without one).
pub fn count_at(blob: &[u8], at: u32) -> usize {
    if at == NONE {
        return 0;
    }
    Reader::new(blob, at, None).array()
}

struct Reader<'b> {
    blob: &'b [u8],
    at: usize,
    shapes: Option<&'b Shapes>,
}

impl<'b> Reader<'b> {
    fn new(blob: &'b [u8], at: u32, shapes: Option<&'b Shapes>) -> Self {
        Reader {
            blob,
            at: usize::try_from(at).unwrap_or(usize::MAX),
            shapes,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.blob.get(self.at).copied()
    }

    fn byte(&mut self) -> u8 {
        let b = self.peek().unwrap_or(NULL);
        self.at += 1;
        b
    }

    fn varint(&mut self) -> u64 {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte();
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
        }
        n
    }

    fn bytes(&mut self, len: usize) -> &'b [u8] {
        let start = self.at.min(self.blob.len());
        let end = start.saturating_add(len).min(self.blob.len());
        self.at = end;
        &self.blob[start..end]
    }

    fn text(&mut self, len: usize) -> &'b str {
        std::str::from_utf8(self.bytes(len)).unwrap_or_default()
    }

    fn time(&mut self) -> Time {
        let (seconds, fraction) = (self.varint(), self.varint());
        Time {
            seconds: ((seconds >> 1) as i64) ^ -((seconds & 1) as i64),
            nanos: u32::try_from(fraction / 10).unwrap_or_default(),
            digits: (fraction % 10) as u8,
        }
    }

    /// The item count of an array.
    fn array(&mut self) -> usize {
        match self.byte() {
            ARR => self.varint() as usize,
            t if (SHORT_ARR..SHORT_STR).contains(&t) => usize::from(t - SHORT_ARR),
            _ => 0,
        }
    }

    /// A key's word code, or `None` for a raw key (skipped).
    fn key_code(&mut self) -> Option<u8> {
        match self.byte() {
            b if b < 0x80 => Some(b),
            LONG_KEY => {
                let len = self.varint() as usize;
                self.bytes(len);
                None
            }
            b => {
                self.bytes(usize::from(b - 0x80));
                None
            }
        }
    }

    fn key(&mut self) -> String {
        match self.byte() {
            b if b < 0x80 => WORDS
                .get(usize::from(b))
                .copied()
                .unwrap_or_default()
                .to_owned(),
            LONG_KEY => {
                let len = self.varint() as usize;
                self.text(len).to_owned()
            }
            b => self.text(usize::from(b - 0x80)).to_owned(),
        }
    }

    /// A string readable in place: raw, a word or a back-reference.
    fn borrowed(&mut self) -> Option<&'b str> {
        match self.byte() {
            t if t >= WORD => WORDS.get(usize::from(t - WORD)).copied(),
            t if t >= SHORT_STR => Some(self.text(usize::from(t - SHORT_STR))),
            STR => {
                let len = self.varint() as usize;
                Some(self.text(len))
            }
            BACK => {
                let at = self.varint();
                str_at(self.blob, u32::try_from(at).ok()?)
            }
            _ => None,
        }
    }

    /// One field of a member object, its key's code given.
    fn member_field(&mut self, code: Option<u8>, member: &mut (bool, Option<&'b str>)) {
        if code == Some(VALUE_KEY) && self.peek() == Some(HOLE_MEMBER) {
            member.0 = true;
            self.at += 1;
        } else if code == Some(TYPE_KEY) {
            let start = self.at;
            member.1 = self.borrowed();
            self.at = start;
            self.skip();
        } else {
            self.skip();
        }
    }

    fn shape(&mut self) -> Option<&'b Shape> {
        let id = self.varint();
        self.shapes?.get(id)
    }

    fn skip(&mut self) {
        match self.byte() {
            t if t >= WORD => {}
            t if t >= SHORT_STR => {
                self.bytes(usize::from(t - SHORT_STR));
            }
            t if t >= SHORT_ARR || t == ARR => {
                self.at -= 1;
                for _ in 0..self.array() {
                    self.skip();
                }
            }
            SHAPED => {
                let n = self.shape().map_or(0, |s| s.words.len());
                for _ in 0..n {
                    self.skip();
                }
            }
            OBJ => {
                for _ in 0..self.varint() {
                    self.key_code();
                    self.skip();
                }
            }
            POS | NEG | BACK => {
                self.varint();
            }
            FLOAT => {
                self.bytes(8);
            }
            STR => {
                let len = self.varint() as usize;
                self.bytes(len);
            }
            UUID => {
                self.bytes(16);
            }
            TIME => {
                self.time();
            }
            _ => {}
        }
    }

    fn value<'a>(&mut self, fill: &mut Fill<'a, impl Iterator<Item = &'a str>>) -> Value {
        let tag = self.byte();
        match tag {
            t if t >= WORD => Value::String(
                WORDS
                    .get(usize::from(t - WORD))
                    .copied()
                    .unwrap_or_default()
                    .into(),
            ),
            t if t >= SHORT_STR => Value::String(self.text(usize::from(t - SHORT_STR)).into()),
            t if t >= SHORT_ARR || t == ARR => {
                self.at -= 1;
                let n = self.array();
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(fill));
                }
                Value::Array(items)
            }
            SHAPED => {
                let mut map = match self.shape() {
                    Some(shape) => shape.template.clone(),
                    None => Map::new(),
                };
                for value in map.values_mut() {
                    *value = self.value(fill);
                }
                Value::Object(map)
            }
            OBJ => {
                let n = self.varint() as usize;
                let mut map = Map::with_capacity(n);
                for _ in 0..n {
                    let key = self.key();
                    let value = self.value(fill);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            POS => Value::Number(self.varint().into()),
            NEG => Value::Number((!(self.varint() as i64)).into()),
            FLOAT => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(self.bytes(8));
                Number::from_f64(f64::from_le_bytes(bytes)).map_or(Value::Null, Value::Number)
            }
            STR | BACK => {
                self.at -= 1;
                Value::String(self.borrowed().unwrap_or_default().into())
            }
            UUID => Value::String(uuid_text(self.bytes(16))),
            TIME => Value::String(self.time().text()),
            HOLE_ID => Value::String(fill.id.into()),
            HOLE_VERSION => Value::String(format!("W/\"{}\"", fill.version)),
            HOLE_MEMBER => Value::String(fill.members.next().unwrap_or_default().into()),
            _ => Value::Null,
        }
    }
}
