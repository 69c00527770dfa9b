//! Logins: `prenom.nom`, lowercase ASCII, predictable, with a number on collision.

use ent_core::directory::User;
use ent_core::directory::records::LOGIN_NUMBERS;
use ent_core::storage::{Record, Scan, Transaction, Tuple};
use ent_core::{Error, Result};
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

/// Gives a new person a login: `base` when nobody has it and it was never numbered, else `base` with
/// the next collision number, from the base's counter ([`LOGIN_NUMBERS`]). `pending`: logins given earlier
/// in the same transaction but not written yet.
///
/// Each candidate is checked with a point read of the login index: a counter behind the logins (a
/// directory filled before the counter existed, a login an administrator set by hand) only costs one read
/// per number skipped, once, and two imports numbering the same base at once conflict on that read as on
/// any other (the port's transactions are serializable) instead of giving one login twice.
pub(crate) async fn allocate(
    tx: &mut dyn Transaction,
    base: &str,
    pending: &std::collections::HashSet<String>,
) -> Result<String> {
    let key: Tuple = (base,).into();
    let given = tx.counter_get(LOGIN_NUMBERS, &key).await?;
    let mut n = given.max(0);
    if n == 0 {
        n = 1;
        if !pending.contains(base) && !taken(tx, base).await? {
            tx.counter_add(LOGIN_NUMBERS, &key, 1).await?;
            return Ok(base.to_owned());
        }
    }
    loop {
        n = n.checked_add(1).ok_or_else(|| Error::invalid("login", format!("no number is left for `{base}`")))?;
        let login = format!("{base}{n}");
        if !pending.contains(&login) && !taken(tx, &login).await? {
            tx.counter_add(LOGIN_NUMBERS, &key, n - given).await?;
            return Ok(login);
        }
    }
}

async fn taken(tx: &mut dyn Transaction, login: &str) -> Result<bool> {
    let scan = Scan::index(User::COLLECTION, "by_login").prefix((login,)).limit(1).keys_only();
    Ok(!tx.scan(&scan).await?.entries.is_empty())
}
