//! Bearer secrets (session tokens, reset codes): 256 random bits, given to their holder once, stored only
//! as their SHA-256. A fast hash is right for high-entropy secrets: no guessing attack applies, and a
//! session check runs on every request.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// A secret in clear, as handed to its holder. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// 32 random bytes from the operating system, as 64 hex digits.
    pub fn generate() -> Result<Token> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| Error::storage("os random", e, true))?;
        Ok(Token(hex::encode(bytes)))
    }

    /// A token received from a client (a cookie, a link). Malformed tokens are refused before any lookup.
    pub fn parse(s: &str) -> Result<Token> {
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::SessionExpired);
        }
        Ok(Token(s.to_ascii_lowercase()))
    }

    /// The token as text, to hand to its holder.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form: SHA-256, hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// Compares two byte strings in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_hash() {
        let t = Token::generate().unwrap();
        assert_eq!(Token::parse(t.expose()).unwrap(), t);
        assert_eq!(Token::parse(&t.expose().to_uppercase()).unwrap().hash(), t.hash());
        assert_ne!(Token::generate().unwrap(), t);
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert!(Token::parse("abc").is_err());
        assert!(Token::parse(&"g".repeat(64)).is_err());
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"123456", b"123456"));
        assert!(!constant_time_eq(b"123456", b"123457"));
        assert!(!constant_time_eq(b"12345", b"123456"));
    }
}
