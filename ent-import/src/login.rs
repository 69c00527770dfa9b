//! Logins: `prenom.nom`, lowercase ASCII, predictable, with a number on collision.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

fn part(s: &str) -> String {
    let mut out = String::new();
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        match c {
            '\'' | '’' | '`' => {}
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            _ => {
                if !out.is_empty() && !out.ends_with('-') {
                    out.push('-');
                }
            }
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// The login before any collision number: folded given name, a dot, folded family name; apostrophes
/// dropped, other separators as one `-`.
///
/// ```
/// use ent_import::base_login;
/// assert_eq!(base_login("Hélène", "Martin"), "helene.martin");
/// assert_eq!(base_login("Jean-Pierre", "O'Connor"), "jean-pierre.oconnor");
/// assert_eq!(base_login("Zoé", "Le Gall  Dubœuf"), "zoe.le-gall-duboeuf");
/// assert_eq!(base_login("李", "!"), "user");
/// ```
pub fn base_login(given: &str, family: &str) -> String {
    let (g, f) = (part(given), part(family));
    match (g.is_empty(), f.is_empty()) {
        (false, false) => format!("{g}.{f}"),
        (false, true) => g,
        (true, false) => f,
        (true, true) => "user".to_owned(),
    }
}

/// The first free login given the taken ones that start with `base`: `base`, then `base2`, `base3`...
pub(crate) fn first_free(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_owned();
    }
    let max = taken
        .iter()
        .filter_map(|t| t.strip_prefix(base))
        .filter_map(|rest| rest.parse::<u32>().ok())
        .max()
        .unwrap_or(1);
    format!("{base}{}", max + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collisions_get_the_next_number() {
        assert_eq!(first_free("a.b", &[]), "a.b");
        assert_eq!(first_free("a.b", &["a.b".into()]), "a.b2");
        assert_eq!(first_free("a.b", &["a.b".into(), "a.b2".into(), "a.b7".into(), "a.bc".into()]), "a.b8");
        assert_eq!(first_free("a.b", &["a.b2".into()]), "a.b", "the base itself is free");
    }
}
