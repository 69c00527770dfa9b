//! The UAI (*Unité Administrative Immatriculée*): the national identifier of a structure, 7 characters and
//! a check letter, e.g. `0370884K`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The 23 letters a check letter may be (no I, O, Q).
const CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// A valid UAI: 7 digits and the check letter that matches them, stored uppercase.
///
/// ```
/// use ent_core::directory::Uai;
/// let uai: Uai = "0370884k".parse().unwrap();
/// assert_eq!(uai.as_str(), "0370884K");
/// assert!("0370884A".parse::<Uai>().is_err(), "wrong check letter");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uai(String);

impl Uai {
    /// The check letter of a 7-digit number: the number modulo 23, as an index into `ABCDEFGHJKLMNPRSTUVWXYZ`.
    pub fn check_letter(digits: &str) -> Result<char> {
        if digits.len() != 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("uai", format!("`{digits}`: the first 7 characters must be digits")));
        }
        let n: u32 = digits.parse().map_err(|_| Error::invalid("uai", "not a number"))?;
        Ok(CHECK_LETTERS[(n % 23) as usize] as char)
    }

    /// The UAI as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Uai {
    type Err = Error;

    fn from_str(s: &str) -> Result<Uai> {
        let s = s.trim().to_ascii_uppercase();
        if s.len() != 8 || !s.is_ascii() {
            return Err(Error::invalid("uai", format!("`{s}` must be 7 digits and a letter")));
        }
        let (digits, letter) = s.split_at(7);
        let expected = Uai::check_letter(digits)?;
        if !letter.starts_with(expected) {
            return Err(Error::invalid("uai", format!("`{s}`: the check letter should be {expected}")));
        }
        Ok(Uai(s))
    }
}

impl TryFrom<String> for Uai {
    type Error = Error;
    fn try_from(s: String) -> Result<Uai> {
        s.parse()
    }
}

impl From<Uai> for String {
    fn from(u: Uai) -> String {
        u.0
    }
}

impl fmt::Display for Uai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uai({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_uais_are_valid() {
        // Well-formed UAIs, 0370884K among them (the example of the domain notes), overseas (974) and Corsica (620).
        for uai in ["0370884K", "0750655E", "0130040Y", "0690026D", "9740001H", "6200001G"] {
            let parsed: Result<Uai> = uai.parse();
            assert!(parsed.is_ok(), "{uai}: {parsed:?}");
        }
    }

    #[test]
    fn bad_uais_are_refused_with_a_reason() {
        for (uai, reason) in [
            ("0370884A", "check letter should be K"),
            ("037088K", "7 digits and a letter"),
            ("A370884K", "must be digits"),
            ("03708840", "check letter should be"),
            ("", "7 digits and a letter"),
            ("0370884KK", "7 digits and a letter"),
            ("037088éK", "7 digits and a letter"),
        ] {
            match uai.parse::<Uai>() {
                Err(Error::Invalid { field, reason: r }) => {
                    assert_eq!(field, "uai");
                    assert!(r.contains(reason), "{uai}: {r}");
                }
                other => panic!("{uai}: {other:?}"),
            }
        }
    }

    #[test]
    fn lowercase_and_spaces_are_normalized() {
        assert_eq!(" 0370884k ".parse::<Uai>().unwrap().as_str(), "0370884K");
    }
}
