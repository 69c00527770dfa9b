//! Passwords: strength estimated rather than composition rules, common passwords refused, argon2id hashes.
//!
//! The CNIL's 2022 recommendation asks, where throttling is in place (it always is in ent), for about 50
//! bits of entropy, its own example being 8 characters of 3 kinds (8 × log2 62 ≈ 47.6 bits). Strength is
//! estimated with zxcvbn: each part of the password that zxcvbn recognises (a dictionary word, a keyboard
//! walk, a date, a repetition, the person's own names) counts for the guesses zxcvbn gives it; each part it
//! does not recognise counts for its length times the bits of its character set. No "one capital, one
//! digit" rule: `correct horse battery staple` passes, `Azerty123!` does not.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use unicode_normalization::UnicodeNormalization;
use zxcvbn::matching::patterns::MatchPattern;

use crate::{Error, Result};

/// Words every French school password guesser tries first, on top of zxcvbn's (English) lists.
const FRENCH_COMMON: &[&str] = &[
    "motdepasse",
    "azerty",
    "azertyuiop",
    "soleil",
    "doudou",
    "chouchou",
    "bonjour",
    "marseille",
    "loulou",
    "nicolas",
    "julien",
    "camille",
    "chocolat",
    "jetaime",
    "princesse",
    "coucou",
    "vacances",
    "football",
    "france",
    "paris",
    "college",
    "lycee",
    "ecole",
    "eleve",
    "professeur",
    "pronote",
    "ent",
    "education",
    "academie",
    "rentree",
    "classe",
    "cartable",
    "maman",
    "papa",
    "bisous",
    "liberte",
    "amour",
    "qwertz",
];

/// What a password policy enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordPolicy {
    /// Least estimated entropy, in bits.
    pub min_bits: f64,
    /// Fewest characters (a floor under the estimate).
    pub min_chars: usize,
    /// Most characters accepted (at least 128; long pass phrases are welcome).
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_bits: 47.0, min_chars: 8, max_chars: 256 }
    }
}

/// Why a password is refused. Each maps to a message of the i18n catalogue (`password-too-short`...).
#[derive(Debug, Clone, PartialEq)]
pub enum Weakness {
    /// Fewer characters than the policy's floor.
    TooShort {
        /// The floor.
        min: usize,
    },
    /// More characters than accepted.
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A common password, or one made of the person's own names or login.
    Common,
    /// Guessable: its estimated entropy is below the policy's.
    TooWeak {
        /// The estimate.
        bits: f64,
        /// What the policy asks.
        min: f64,
    },
}

impl Weakness {
    /// The stable code of this weakness, as the i18n catalogue and API clients know it.
    pub fn code(&self) -> &'static str {
        match self {
            Weakness::TooShort { .. } => "password-too-short",
            Weakness::TooLong { .. } => "password-too-long",
            Weakness::Common => "password-common",
            Weakness::TooWeak { .. } => "password-too-weak",
        }
    }
}

impl From<Weakness> for Error {
    fn from(w: Weakness) -> Error {
        let detail = match &w {
            Weakness::TooShort { min } => format!("at least {min} characters"),
            Weakness::TooLong { max } => format!("at most {max} characters"),
            Weakness::Common => "a common password, or made of the person's names".to_owned(),
            Weakness::TooWeak { bits, min } => format!("about {bits:.0} bits of entropy, {min:.0} needed"),
        };
        Error::invalid("password", format!("{}: {detail}", w.code()))
    }
}

/// Passwords are compared after NFKC normalization, so that the same password typed on two keyboards (a
/// precomposed `é` or `e` + accent) is the same password.
fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

fn charset_bits(token: &str) -> f64 {
    let (mut lower, mut upper, mut digit, mut symbol, mut other) = (false, false, false, false, false);
    for c in token.chars() {
        match c {
            'a'..='z' => lower = true,
            'A'..='Z' => upper = true,
            '0'..='9' => digit = true,
            c if c.is_ascii() => symbol = true,
            _ => other = true,
        }
    }
    let size = 26 * u32::from(lower)
        + 26 * u32::from(upper)
        + 10 * u32::from(digit)
        + 33 * u32::from(symbol)
        + 100 * u32::from(other);
    f64::from(size.max(2)).log2()
}

impl PasswordPolicy {
    /// The estimated entropy of a password, in bits; `context` holds what an attacker knows of its owner
    /// (login, names, structure).
    pub fn estimate_bits(&self, password: &str, context: &[&str]) -> f64 {
        let password = normalize(password);
        let mut inputs: Vec<&str> = FRENCH_COMMON.to_vec();
        inputs.extend(context.iter().copied());
        let entropy = zxcvbn::zxcvbn(&password, &inputs);
        let known: f64 = entropy
            .sequence()
            .iter()
            .map(|m| match m.pattern {
                MatchPattern::BruteForce => m.token.chars().count() as f64 * charset_bits(&m.token),
                _ => (m.guesses.unwrap_or(1).max(1) as f64).log2(),
            })
            .sum();
        // zxcvbn reads the first 100 characters; the rest of a long pass phrase counts as a second copy of
        // nothing (no bits): a conservative estimate.
        known
    }

    /// Checks a new password.
    ///
    /// ```
    /// use ent_core::account::PasswordPolicy;
    /// let policy = PasswordPolicy::default();
    /// assert!(policy.check("correct horse battery staple", &["camille.martin"]).is_ok());
    /// assert!(policy.check("kT7#pQ2m", &[]).is_ok(), "8 characters of several kinds");
    /// assert!(policy.check("Azerty123!", &[]).is_err());
    /// assert!(policy.check("Camille.Martin2011", &["camille.martin", "Camille", "Martin"]).is_err());
    /// ```
    pub fn check(&self, password: &str, context: &[&str]) -> Result<(), Weakness> {
        let n = password.chars().count();
        if n < self.min_chars {
            return Err(Weakness::TooShort { min: self.min_chars });
        }
        if n > self.max_chars.max(128) {
            return Err(Weakness::TooLong { max: self.max_chars.max(128) });
        }
        let normalized = normalize(password).to_lowercase();
        let plain: String = normalized.chars().filter(|c| c.is_alphanumeric()).collect();
        let own = context.iter().any(|c| {
            let c: String = normalize(c).to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
            !c.is_empty() && (plain == c || plain.trim_end_matches(|ch: char| ch.is_ascii_digit()) == c)
        });
        if own || FRENCH_COMMON.iter().any(|w| plain.trim_end_matches(|c: char| c.is_ascii_digit()) == *w) {
            return Err(Weakness::Common);
        }
        let bits = self.estimate_bits(password, context);
        if bits < self.min_bits {
            return Err(Weakness::TooWeak { bits, min: self.min_bits });
        }
        Ok(())
    }
}

/// The argon2id parameters: OWASP's recommendation (19 MiB, 2 passes, 1 lane), about 16 ms a hash on
/// these machines, so ~120 logins a second on 2 cores is the ceiling.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (PHC string: algorithm, parameters and salt travel with the hash).
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::storage("os random", e, true))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::invalid("salt", e.to_string()))?;
    argon2()
        .hash_password(normalize(password).as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid("password", e.to_string()))
}

/// Whether `password` matches a stored hash. A malformed hash never matches.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2().verify_password(normalize(password).as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Whether a stored hash was made with other parameters than today's (rehash it at the next login).
pub fn needs_rehash(hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => {
            let current = argon2();
            let now = current.params();
            parsed.algorithm.as_str() != "argon2id"
                || Params::try_from(&parsed).map_or(true, |p| {
                    (p.m_cost(), p.t_cost(), p.p_cost()) != (now.m_cost(), now.t_cost(), now.p_cost())
                })
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_examples() {
        let p = PasswordPolicy::default();
        let cases: &[(&str, bool)] = &[
            ("correct horse battery staple", true),
            ("kT7#pQ2m", true),
            ("Lc8!xW3rQz", true),
            ("J'aime les tartes aux pommes de ma grand-mère", true),
            ("motdepasse", false),
            ("Motdepasse2024", false),
            ("azertyuiop", false),
            ("Azerty123!", false),
            ("password1", false),
            ("12345678", false),
            ("aaaaaaaaaaaa", false),
            // Not in zxcvbn's dictionaries ("troubadour" is): judged on its 11 mixed characters.
            ("Tr0ub4dor&3", true),
            ("soleil2010", false),
        ];
        for (pw, ok) in cases {
            let r = p.check(pw, &["camille.martin", "Camille", "Martin"]);
            assert_eq!(r.is_ok(), *ok, "{pw}: {r:?} ({:.1} bits)", p.estimate_bits(pw, &[]));
        }
    }

    #[test]
    fn own_names_are_common() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("CamilleMartin", &["camille.martin", "Camille", "Martin"]), Err(Weakness::Common));
        assert_eq!(p.check("camille.martin2012", &["camille.martin"]), Err(Weakness::Common));
    }

    #[test]
    fn lengths() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("aB3$", &[]), Err(Weakness::TooShort { min: 8 }));
        let alphabet: Vec<char> = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789#%&".chars().collect();
        let long: String = (0..256usize).map(|i| alphabet[(i * 37 + i / 7) % alphabet.len()]).collect();
        assert!(p.check(&long, &[]).is_ok(), "256 characters are accepted");
        assert_eq!(p.check(&format!("{long}x"), &[]), Err(Weakness::TooLong { max: 256 }));
    }

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash_password("correct horse battery staple").unwrap();
        let b = hash_password("correct horse battery staple").unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify_password(&a, "correct horse battery staple"));
        assert!(!verify_password(&a, "correct horse battery stapl"));
        assert!(!verify_password("not a hash", "x"));
        assert!(!needs_rehash(&a));
        assert!(needs_rehash("$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"));
    }

    #[test]
    fn unicode_forms_are_one_password() {
        let composed = "Éléphant rose à Noël";
        let decomposed: String = composed.nfd().collect();
        let h = hash_password(composed).unwrap();
        assert!(verify_password(&h, &decomposed));
    }
}
