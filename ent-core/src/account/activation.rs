//! First-login activation codes: high-entropy secrets handed to a person once (on a letter, by the
//! school), stored only as a SHA-256 hash. A fast hash is right here: the code has 100 random bits, so no
//! dictionary attack applies, and argon2 over a million imported accounts would take hours.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::id::UserId;
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};
use crate::{Error, Result};

/// The alphabet of codes: Crockford's base 32 (no I, L, O, U), easy to read aloud and to type.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Number of characters of a code: 20 × 5 bits = 100 bits of entropy.
const LENGTH: usize = 20;

/// A code in clear, as shown once to the person it is for. Never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationSecret(String);

impl std::fmt::Debug for ActivationSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActivationSecret(***)")
    }
}

impl ActivationSecret {
    /// A new random code, from the thread's cryptographically secure generator (`rand::rng()`: ChaCha12,
    /// seeded and reseeded from the operating system's generator). An import issues one per new account: a
    /// system call each (the operating system's generator) was 2% of an académie's load.
    pub fn generate() -> Result<ActivationSecret> {
        let mut bytes = [0u8; LENGTH];
        rand::fill(&mut bytes[..]);
        Ok(ActivationSecret(bytes.iter().map(|b| ALPHABET[(b & 31) as usize] as char).collect()))
    }

    /// The code grouped by four for printing: `7K2M-Q9XD-...`.
    pub fn display(&self) -> String {
        self.0.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect::<Vec<_>>().join("-")
    }

    /// Parses what a person typed: case, dashes and spaces do not matter, and the letters a person may
    /// confuse are read as Crockford's base 32 reads them (O as 0, I and L as 1).
    pub fn parse(typed: &str) -> Result<ActivationSecret> {
        let mut out = String::with_capacity(LENGTH);
        for c in typed.chars().filter(|c| !matches!(c, '-' | ' ')) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !ALPHABET.contains(&(c as u8)) || !c.is_ascii() {
                return Err(Error::invalid("activation_code", "contains a character that is not in a code"));
            }
            out.push(c);
        }
        if out.len() != LENGTH {
            return Err(Error::invalid("activation_code", format!("a code has {LENGTH} characters")));
        }
        Ok(ActivationSecret(out))
    }

    /// The hash that is stored.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

/// A stored activation code: its hash, whose account it opens, until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationCode {
    /// SHA-256 of the code, hex.
    pub hash: String,
    /// The account it activates.
    pub user: UserId,
    /// When it was issued.
    pub issued: DateTime<Utc>,
    /// After this it no longer works.
    pub expires: DateTime<Utc>,
}

impl ActivationCode {
    /// A code for `user`, valid from `now` for `validity`; returns the secret to show once and the record to
    /// store.
    pub fn issue(user: UserId, now: DateTime<Utc>, validity: chrono::Duration) -> Result<(ActivationSecret, Self)> {
        let secret = ActivationSecret::generate()?;
        let record = ActivationCode { hash: hex::encode(secret.hash()), user, issued: now, expires: now + validity };
        Ok((secret, record))
    }
}

impl Record for ActivationCode {
    const COLLECTION: &'static str = "ent.activation_codes";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Str]).index(IndexDef::new("by_user", [KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        (self.hash.as_str(),).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry { index: "by_user".into(), key: (self.user.0,).into() }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_and_parse_back() {
        let a = ActivationSecret::generate().unwrap();
        let b = ActivationSecret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.display().len(), LENGTH + 4);
        assert_eq!(ActivationSecret::parse(&a.display().to_lowercase()).unwrap(), a);
        assert_eq!(ActivationSecret::parse(&a.display()).unwrap().hash(), a.hash());
    }

    #[test]
    fn confusable_letters_are_read_as_digits() {
        let typed = "o1il-0000-0000-0000-0000";
        assert_eq!(
            ActivationSecret::parse(typed).unwrap(),
            ActivationSecret::parse("0111-0000-0000-0000-0000").unwrap()
        );
    }

    #[test]
    fn bad_codes_are_refused() {
        assert!(ActivationSecret::parse("1234").is_err());
        assert!(ActivationSecret::parse("UUUU-0000-0000-0000-0000").is_err(), "U is not in the alphabet");
        assert!(ActivationSecret::parse("ÉÉÉÉ-0000-0000-0000-0000").is_err());
    }
}
