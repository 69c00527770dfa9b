//! TOTP second factor (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock drift allowed each
//! way), as every authenticator app speaks it, and single-use recovery codes.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

use super::token::constant_time_eq;
use crate::{Error, Result};

const STEP: u64 = 30;
const DIGITS: usize = 6;

/// A new shared secret (160 bits, as RFC 4226 recommends), base 32.
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| Error::storage("os random", e, true))?;
    Ok(Secret::Raw(bytes.to_vec()).to_encoded().to_string())
}

fn totp(secret: &str, issuer: &str, account: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().map_err(|_| Error::invalid("totp", "bad secret"))?;
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP, bytes, Some(issuer.replace(':', " ")), account.replace(':', " "))
        .map_err(|e| Error::invalid("totp", e.to_string()))
}

/// The `otpauth://` URL an authenticator app reads (from a QR code or pasted).
pub fn provisioning_url(secret: &str, issuer: &str, account: &str) -> Result<String> {
    Ok(totp(secret, issuer, account)?.get_url())
}

/// The code of a secret at an instant (for tests and for showing a demo).
pub fn code_at(secret: &str, at: DateTime<Utc>) -> Result<String> {
    Ok(totp(secret, "ent", "x")?.generate(at.timestamp().max(0) as u64))
}

/// Checks a code against the steps around `now`; returns the step it matched, which must be later than
/// `last_step` (a code is never accepted twice, even within its 30 seconds).
pub fn verify(secret: &str, code: &str, now: DateTime<Utc>, last_step: u64) -> Result<Option<u64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret, "ent", "x")?;
    let step = now.timestamp().max(0) as u64 / STEP;
    for candidate in [step.saturating_sub(1), step, step + 1] {
        if candidate > last_step && constant_time_eq(t.generate(candidate * STEP).as_bytes(), code.as_bytes()) {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Ten new recovery codes: shown once; their hashes are stored.
pub fn new_recovery_codes() -> Result<(Vec<String>, Vec<String>)> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut codes = Vec::new();
    for _ in 0..10 {
        let mut bytes = [0u8; 10];
        getrandom::fill(&mut bytes).map_err(|e| Error::storage("os random", e, true))?;
        let s: String = bytes.iter().map(|b| ALPHABET[(b & 31) as usize] as char).collect();
        codes.push(format!("{}-{}", &s[..5], &s[5..]));
    }
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    Ok((codes, hashes))
}

/// The stored form of a recovery code (case, dashes and spaces ignored).
pub fn recovery_hash(code: &str) -> String {
    let normalized: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vector() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", T = 59 s -> 94287082 (8 digits): the
        // 6-digit code is its last six digits.
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        let at = DateTime::from_timestamp(59, 0).unwrap();
        assert_eq!(code_at(&secret, at).unwrap(), "287082");
        let at = DateTime::from_timestamp(1_111_111_109, 0).unwrap();
        assert_eq!(code_at(&secret, at).unwrap(), "081804");
    }

    #[test]
    fn codes_are_accepted_once_with_drift() {
        let secret = new_secret().unwrap();
        let now: DateTime<Utc> = "2026-09-07T08:00:10Z".parse().unwrap();
        let code = code_at(&secret, now - chrono::Duration::seconds(30)).unwrap();
        let step = verify(&secret, &code, now, 0).unwrap().expect("one step of drift");
        assert_eq!(verify(&secret, &code, now, step).unwrap(), None, "replay refused");
        let late = code_at(&secret, now - chrono::Duration::seconds(90)).unwrap();
        assert_eq!(verify(&secret, &late, now, 0).unwrap(), None, "too old");
        assert_eq!(verify(&secret, "12ab56", now, 0).unwrap(), None);
    }

    #[test]
    fn recovery_codes_hash_loosely() {
        let (codes, hashes) = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(recovery_hash(&codes[0].to_lowercase().replace('-', " ")), hashes[0]);
    }
}
