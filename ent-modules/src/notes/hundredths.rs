//! Grades and coefficients as exact decimals with at most two decimal places ("12,5", "0.25"), held as a
//! count of hundredths. No binary float ever holds a grade: JSON numbers are read through their shortest
//! decimal text, which is what the user typed.

use std::fmt;

use ent_core::Error;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A non-negative decimal with at most two decimal places, stored as hundredths: `Hundredths(1250)` is
/// 12.5. Reads from a JSON number (`12.5`) or a string (`"12.5"`, `"12,5"`); writes as a string
/// (`"12.5"`), so that no reader turns it into a float.
///
/// ```
/// use ent_modules::notes::Hundredths;
/// assert_eq!("12,5".parse::<Hundredths>().unwrap(), Hundredths(1250));
/// assert_eq!(Hundredths(1205).to_string(), "12.05");
/// assert_eq!(Hundredths(2000).to_string(), "20");
/// assert!("12.345".parse::<Hundredths>().is_err());
/// assert!("-1".parse::<Hundredths>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hundredths(pub u32);

/// The largest value read (one million): far above any scale or coefficient, small enough that sums of
/// products never approach the integer limits.
const MAX: u64 = 100_000_000;

impl Hundredths {
    /// A whole number.
    pub const fn units(n: u32) -> Hundredths {
        Hundredths(n * 100)
    }

    /// Whether it is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a field's value, naming the field in the error.
    pub fn parse_field(text: &str, field: &str) -> ent_core::Result<Hundredths> {
        text.parse::<Hundredths>().map_err(|e| match e {
            Error::Invalid { reason, .. } => Error::invalid(field, reason),
            other => other,
        })
    }

    /// Formats with exactly `decimals` decimal places (0, 1 or 2), rounding is the caller's business: the
    /// digits dropped must be zeros.
    pub fn fixed(self, decimals: u8) -> String {
        let (int, frac) = (self.0 / 100, self.0 % 100);
        match decimals {
            0 => format!("{int}"),
            1 => format!("{int}.{}", frac / 10),
            _ => format!("{int}.{frac:02}"),
        }
    }
}

impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (int, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "{int}"),
            f10 if f10 % 10 == 0 => write!(f, "{int}.{}", f10 / 10),
            _ => write!(f, "{int}.{frac:02}"),
        }
    }
}

impl std::str::FromStr for Hundredths {
    type Err = Error;

    fn from_str(text: &str) -> ent_core::Result<Hundredths> {
        let bad = |reason: &str| Error::invalid("value", format!("`{text}`: {reason}"));
        let t = text.trim();
        if t.starts_with('-') {
            return Err(bad("negative"));
        }
        let t = t.strip_prefix('+').unwrap_or(t);
        let (int, frac) = match t.split_once(['.', ',']) {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (!frac.is_empty() && !digits(frac)) || (t.contains(['.', ',']) && frac.is_empty()) {
            return Err(bad("not a decimal number (digits, optionally a point or comma and 1 or 2 decimals)"));
        }
        if frac.len() > 2 {
            return Err(bad("at most two decimal places"));
        }
        let int: u64 = int.parse().map_err(|_| bad("too large"))?;
        // "5" is 50 hundredths, "05" is 5: digits only, checked above.
        let frac: u64 =
            frac.bytes().fold(0, |acc, b| acc * 10 + u64::from(b - b'0')) * if frac.len() == 1 { 10 } else { 1 };
        let value = int
            .checked_mul(100)
            .and_then(|v| v.checked_add(frac))
            .filter(|v| *v <= MAX)
            .ok_or_else(|| bad("too large"))?;
        Ok(Hundredths(value as u32))
    }
}

impl Serialize for Hundredths {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hundredths {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HundredthsVisitor)
    }
}

struct HundredthsVisitor;

impl serde::de::Visitor<'_> for HundredthsVisitor {
    type Value = Hundredths;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number with at most two decimal places")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Hundredths, E> {
        v.parse().map_err(|e: Error| E::custom(e.to_string()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Hundredths, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Hundredths, E> {
        self.visit_str(&v.to_string())
    }

    /// A float is read through its shortest round-trip text (Rust prints 12.3 as "12.3"): what was typed.
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Hundredths, E> {
        if !v.is_finite() {
            return Err(E::custom("not a finite number"));
        }
        self.visit_str(&v.to_string())
    }
}

impl JsonSchema for Hundredths {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Hundredths".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A decimal with at most two decimal places, as a number or a string (`12.5`, `\"12,5\"`)",
            "anyOf": [
                { "type": "number" },
                { "type": "string", "pattern": "^\\s*[+-]?[0-9]+([.,][0-9]*)?\\s*$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_people_type_and_refuses_the_rest() {
        let ok = [("12", 1200), ("12.5", 1250), ("12,50", 1250), ("0.05", 5), ("+3", 300), (" 7.1 ", 710)];
        for (text, hundredths) in ok {
            assert_eq!(text.parse::<Hundredths>().unwrap(), Hundredths(hundredths), "{text}");
        }
        for text in ["", "-1", "1.234", "abc", "1.", ".5", "1e3", "12.5.1", "99999999999"] {
            assert!(text.parse::<Hundredths>().is_err(), "{text} should be refused");
        }
    }

    #[test]
    fn json_numbers_are_read_through_their_decimal_text() {
        let v: Hundredths = serde_json::from_str("12.3").unwrap();
        assert_eq!(v, Hundredths(1230));
        let v: Hundredths = serde_json::from_str("0.1").unwrap();
        assert_eq!(v, Hundredths(10));
        let v: Hundredths = serde_json::from_str("\"14,75\"").unwrap();
        assert_eq!(v, Hundredths(1475));
        assert!(serde_json::from_str::<Hundredths>("true").is_err());
        assert_eq!(serde_json::to_string(&Hundredths(1475)).unwrap(), "\"14.75\"");
    }
}
