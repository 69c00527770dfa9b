//! Index and record keys: tuples of typed elements with an **order-preserving binary encoding**, in the
//! spirit of FoundationDB's tuple layer.
//!
//! Every adapter stores and compares keys as these bytes, so that SQLite, PostgreSQL and the memory adapter
//! sort identically: no collation, no NULL ordering rules, no float surprises. Comparing two encodings
//! byte-wise gives the same answer as comparing the tuples element by element, where elements of different
//! kinds sort by kind in the order of [`KeyKind`]'s variants (null first), strings sort by Unicode code
//! point (accent- and case-insensitive search is the owner's job: it indexes folded tokens), and a tuple
//! sorts before every longer tuple it is a prefix of.
//!
//! The byte `0xFF` never starts an element, so `encode(t) ++ [0xFF]` is greater than every extension of `t`:
//! range bounds rely on that.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, Result};

const NULL: u8 = 0x00;
const BYTES: u8 = 0x01;
const STRING: u8 = 0x02;
const INT: u8 = 0x14;
const FLOAT: u8 = 0x21;
const FALSE: u8 = 0x26;
const TRUE: u8 = 0x27;
const UUID: u8 = 0x30;
const TIMESTAMP: u8 = 0x33;
const ESCAPE: u8 = 0xFF;

/// The byte appended to an encoded tuple to make a bound above all of its extensions.
pub const AFTER_ALL_EXTENSIONS: u8 = 0xFF;

/// One element of a key tuple.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Element {
    /// Sorts before every other element.
    Null,
    /// Raw bytes, compared byte-wise.
    Bytes(Vec<u8>),
    /// A string, compared by code point (no collation).
    Str(String),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float; NaN is refused and `-0.0` is stored as `0.0`.
    Float(f64),
    /// A boolean, `false` before `true`.
    Bool(bool),
    /// A UUID, compared byte-wise (so UUID v7 ids sort by creation time).
    Uuid(Uuid),
    /// An instant, to the microsecond.
    Timestamp(DateTime<Utc>),
}

/// The kind of a key element, as indexes declare them. The order of the variants is the order in which
/// elements of different kinds sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Raw bytes.
    Bytes,
    /// A string.
    Str,
    /// A signed integer.
    Int,
    /// A float.
    Float,
    /// A boolean.
    Bool,
    /// A UUID.
    Uuid,
    /// An instant.
    Timestamp,
    /// Any kind at all (a heterogeneous key position).
    Any,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            KeyKind::Bytes => "bytes",
            KeyKind::Str => "string",
            KeyKind::Int => "integer",
            KeyKind::Float => "float",
            KeyKind::Bool => "boolean",
            KeyKind::Uuid => "uuid",
            KeyKind::Timestamp => "timestamp",
            KeyKind::Any => "any",
        };
        f.write_str(name)
    }
}

impl Element {
    /// The kind of this element; `None` for [`Element::Null`], which every position accepts.
    pub fn kind(&self) -> Option<KeyKind> {
        Some(match self {
            Element::Null => return None,
            Element::Bytes(_) => KeyKind::Bytes,
            Element::Str(_) => KeyKind::Str,
            Element::Int(_) => KeyKind::Int,
            Element::Float(_) => KeyKind::Float,
            Element::Bool(_) => KeyKind::Bool,
            Element::Uuid(_) => KeyKind::Uuid,
            Element::Timestamp(_) => KeyKind::Timestamp,
        })
    }

    /// The kind's name, for error messages (`"null"` for [`Element::Null`]).
    pub fn kind_name(&self) -> String {
        self.kind().map_or_else(|| "null".to_owned(), |k| k.to_string())
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Element::Null => out.push(NULL),
            Element::Bytes(b) => {
                out.push(BYTES);
                escape_into(b, out);
            }
            Element::Str(s) => {
                out.push(STRING);
                escape_into(s.as_bytes(), out);
            }
            Element::Int(i) => {
                out.push(INT);
                out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
            }
            Element::Float(f) => {
                if f.is_nan() {
                    return Err(Error::invalid("key", "NaN cannot be part of a key"));
                }
                let f = if *f == 0.0 { 0.0f64 } else { *f };
                let bits = f.to_bits();
                let bits = if bits & (1 << 63) != 0 { !bits } else { bits ^ (1 << 63) };
                out.push(FLOAT);
                out.extend_from_slice(&bits.to_be_bytes());
            }
            Element::Bool(false) => out.push(FALSE),
            Element::Bool(true) => out.push(TRUE),
            Element::Uuid(u) => {
                out.push(UUID);
                out.extend_from_slice(u.as_bytes());
            }
            Element::Timestamp(t) => {
                out.push(TIMESTAMP);
                out.extend_from_slice(&((t.timestamp_micros() as u64) ^ (1 << 63)).to_be_bytes());
            }
        }
        Ok(())
    }
}

fn escape_into(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(ESCAPE);
        }
    }
    out.push(0);
}

/// A key: a tuple of [`Element`]s.
///
/// ```
/// use ent_core::storage::{Element, Tuple};
/// let a = Tuple::from(("3A", 12i64));
/// let b = Tuple::from(("3A", 13i64));
/// assert!(a.encode().unwrap() < b.encode().unwrap());
/// assert_eq!(Tuple::decode(&a.encode().unwrap()).unwrap(), a);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tuple(pub Vec<Element>);

impl Tuple {
    /// The empty tuple (a prefix of every key).
    pub fn empty() -> Self {
        Tuple(Vec::new())
    }

    /// The elements.
    pub fn elements(&self) -> &[Element] {
        &self.0
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the tuple has no element.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends an element.
    pub fn push(&mut self, element: impl Into<Element>) {
        self.0.push(element.into());
    }

    /// This tuple followed by `other`'s elements.
    pub fn concat(&self, other: &Tuple) -> Tuple {
        let mut v = Vec::with_capacity(self.len() + other.len());
        v.extend_from_slice(&self.0);
        v.extend_from_slice(&other.0);
        Tuple(v)
    }

    /// The order-preserving encoding. Fails only for a NaN float.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(16 * self.0.len());
        for e in &self.0 {
            e.encode_into(&mut out)?;
        }
        Ok(out)
    }

    /// Decodes bytes written by [`Tuple::encode`].
    pub fn decode(mut bytes: &[u8]) -> Result<Tuple> {
        let mut elements = Vec::new();
        while let Some((&tag, rest)) = bytes.split_first() {
            bytes = rest;
            let element = match tag {
                NULL => Element::Null,
                BYTES => Element::Bytes(unescape(&mut bytes)?),
                STRING => {
                    Element::Str(String::from_utf8(unescape(&mut bytes)?).map_err(|_| corrupt("string is not UTF-8"))?)
                }
                INT => Element::Int((take8(&mut bytes)? ^ (1 << 63)) as i64),
                FLOAT => {
                    let bits = take8(&mut bytes)?;
                    let bits = if bits & (1 << 63) != 0 { bits ^ (1 << 63) } else { !bits };
                    Element::Float(f64::from_bits(bits))
                }
                FALSE => Element::Bool(false),
                TRUE => Element::Bool(true),
                UUID => {
                    let (head, rest) = split(bytes, 16)?;
                    bytes = rest;
                    Element::Uuid(Uuid::from_slice(head).map_err(|_| corrupt("bad uuid"))?)
                }
                TIMESTAMP => {
                    let micros = (take8(&mut bytes)? ^ (1 << 63)) as i64;
                    Element::Timestamp(
                        Utc.timestamp_micros(micros).single().ok_or_else(|| corrupt("timestamp out of range"))?,
                    )
                }
                other => return Err(corrupt(&format!("unknown element tag {other:#04x}"))),
            };
            elements.push(element);
        }
        Ok(Tuple(elements))
    }
}

fn corrupt(reason: &str) -> Error {
    Error::invalid("key", format!("not a valid encoded key: {reason}"))
}

fn split(bytes: &[u8], n: usize) -> Result<(&[u8], &[u8])> {
    if bytes.len() < n {
        return Err(corrupt("truncated"));
    }
    Ok(bytes.split_at(n))
}

fn take8(bytes: &mut &[u8]) -> Result<u64> {
    let (head, rest) = split(bytes, 8)?;
    *bytes = rest;
    let mut a = [0u8; 8];
    a.copy_from_slice(head);
    Ok(u64::from_be_bytes(a))
}

fn unescape(bytes: &mut &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    let b = *bytes;
    loop {
        match b.get(i) {
            None => return Err(corrupt("unterminated string")),
            Some(0) if b.get(i + 1) == Some(&ESCAPE) => {
                out.push(0);
                i += 2;
            }
            Some(0) => {
                *bytes = &b[i + 1..];
                return Ok(out);
            }
            Some(&c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match e {
                Element::Null => f.write_str("null")?,
                Element::Bytes(b) => write!(f, "0x{}", hex::encode(b))?,
                Element::Str(s) => write!(f, "{s:?}")?,
                Element::Int(i) => write!(f, "{i}")?,
                Element::Float(x) => write!(f, "{x}")?,
                Element::Bool(b) => write!(f, "{b}")?,
                Element::Uuid(u) => write!(f, "{u}")?,
                Element::Timestamp(t) => write!(f, "{}", t.to_rfc3339())?,
            }
        }
        f.write_str(")")
    }
}

macro_rules! element_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Element {
            fn from($v: $t) -> Self {
                $e
            }
        })*
    };
}

element_from! {
    &str => |v| Element::Str(v.to_owned()),
    String => |v| Element::Str(v),
    &String => |v| Element::Str(v.clone()),
    i64 => |v| Element::Int(v),
    i32 => |v| Element::Int(i64::from(v)),
    u32 => |v| Element::Int(i64::from(v)),
    u16 => |v| Element::Int(i64::from(v)),
    u8 => |v| Element::Int(i64::from(v)),
    f64 => |v| Element::Float(v),
    bool => |v| Element::Bool(v),
    Uuid => |v| Element::Uuid(v),
    DateTime<Utc> => |v| Element::Timestamp(v),
    Vec<u8> => |v| Element::Bytes(v),
    &[u8] => |v| Element::Bytes(v.to_vec()),
}

impl<T: Into<Element>> From<Option<T>> for Element {
    fn from(v: Option<T>) -> Self {
        v.map_or(Element::Null, Into::into)
    }
}

impl From<Vec<Element>> for Tuple {
    fn from(v: Vec<Element>) -> Self {
        Tuple(v)
    }
}

impl From<Element> for Tuple {
    fn from(e: Element) -> Self {
        Tuple(vec![e])
    }
}

macro_rules! tuple_from {
    ($($name:ident),+) => {
        impl<$($name: Into<Element>),+> From<($($name,)+)> for Tuple {
            #[allow(non_snake_case)]
            fn from(($($name,)+): ($($name,)+)) -> Self {
                Tuple(vec![$($name.into()),+])
            }
        }
    };
}

tuple_from!(A);
tuple_from!(A, B);
tuple_from!(A, B, C);
tuple_from!(A, B, C, D);
tuple_from!(A, B, C, D, E);
tuple_from!(A, B, C, D, E, F);

impl From<&str> for Tuple {
    fn from(v: &str) -> Self {
        Tuple(vec![v.into()])
    }
}

impl From<Uuid> for Tuple {
    fn from(v: Uuid) -> Self {
        Tuple(vec![v.into()])
    }
}

impl From<i64> for Tuple {
    fn from(v: i64) -> Self {
        Tuple(vec![v.into()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn element() -> impl Strategy<Value = Element> {
        prop_oneof![
            Just(Element::Null),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(Element::Bytes),
            "[a\\x00é\u{1F600}Z]{0,5}".prop_map(Element::Str),
            any::<i64>().prop_map(Element::Int),
            any::<f64>().prop_filter("no NaN", |f| !f.is_nan()).prop_map(Element::Float),
            any::<bool>().prop_map(Element::Bool),
            any::<[u8; 16]>().prop_map(|b| Element::Uuid(Uuid::from_bytes(b))),
            (-62_135_596_800_000_000i64..253_402_300_799_000_000)
                .prop_map(|m| Element::Timestamp(Utc.timestamp_micros(m).unwrap())),
        ]
    }

    fn rank(e: &Element) -> u8 {
        match e {
            Element::Null => 0,
            Element::Bytes(_) => 1,
            Element::Str(_) => 2,
            Element::Int(_) => 3,
            Element::Float(_) => 4,
            Element::Bool(_) => 5,
            Element::Uuid(_) => 6,
            Element::Timestamp(_) => 7,
        }
    }

    /// The reference order, written from the rules in the module docs.
    fn cmp_element(a: &Element, b: &Element) -> std::cmp::Ordering {
        use Element::*;
        match (a, b) {
            (Bytes(x), Bytes(y)) => x.cmp(y),
            (Str(x), Str(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Int(x), Int(y)) => x.cmp(y),
            (Float(x), Float(y)) => {
                let n = |f: f64| if f == 0.0 { 0.0 } else { f };
                n(*x).total_cmp(&n(*y))
            }
            (Bool(x), Bool(y)) => x.cmp(y),
            (Uuid(x), Uuid(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Timestamp(x), Timestamp(y)) => x.timestamp_micros().cmp(&y.timestamp_micros()),
            _ => rank(a).cmp(&rank(b)),
        }
    }

    fn cmp_tuple(a: &[Element], b: &[Element]) -> std::cmp::Ordering {
        for (x, y) in a.iter().zip(b) {
            let c = cmp_element(x, y);
            if c.is_ne() {
                return c;
            }
        }
        a.len().cmp(&b.len())
    }

    proptest! {
        #[test]
        fn encoding_preserves_order(a in proptest::collection::vec(element(), 0..4),
                                    b in proptest::collection::vec(element(), 0..4)) {
            let ea = Tuple(a.clone()).encode().unwrap();
            let eb = Tuple(b.clone()).encode().unwrap();
            prop_assert_eq!(ea.cmp(&eb), cmp_tuple(&a, &b));
        }

        #[test]
        fn encoding_round_trips(a in proptest::collection::vec(element(), 0..5)) {
            let decoded = Tuple::decode(&Tuple(a.clone()).encode().unwrap()).unwrap();
            prop_assert_eq!(cmp_tuple(&decoded.0, &a), std::cmp::Ordering::Equal);
        }

        #[test]
        fn after_all_extensions_bounds_every_extension(a in proptest::collection::vec(element(), 0..3),
                                                       b in proptest::collection::vec(element(), 1..3)) {
            let mut bound = Tuple(a.clone()).encode().unwrap();
            let ext = Tuple(a).concat(&Tuple(b)).encode().unwrap();
            prop_assert!(ext > bound);
            bound.push(AFTER_ALL_EXTENSIONS);
            prop_assert!(ext < bound);
        }
    }

    #[test]
    fn nan_is_refused() {
        assert!(Tuple::from((f64::NAN,)).encode().is_err());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Tuple::decode(&[0x02, b'a']).is_err());
        assert!(Tuple::decode(&[0x14, 1, 2]).is_err());
        assert!(Tuple::decode(&[0x99]).is_err());
    }
}
