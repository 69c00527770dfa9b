//! Logins: `prenom.nom`, lowercase ASCII, predictable, with a number on collision.

use std::collections::{HashMap, HashSet};

use ent_core::directory::User;
use ent_core::directory::records::LOGIN_NUMBERS;
use ent_core::storage::{Record, Scan, Transaction, WriteOp};
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

/// Logins given and not committed yet, with the login-number counters as they will stand once they are:
/// those of the transaction being planned, and, when the apply plans a transaction while the previous one
/// commits, those of the previous one.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    logins: HashSet<String>,
    /// Per base, the counter's value once the pending writes are committed.
    counters: HashMap<String, i64>,
}

/// Gives a new person a login: `base` when nobody has it and it was never numbered, else `base` with
/// the next collision number, from the base's counter ([`LOGIN_NUMBERS`]). `earlier`: the logins of a
/// transaction still committing (empty when none is); `own`: those given earlier in the transaction being
/// planned, to which this one is added. Returns the login and the write that moves its counter, to be
/// written with the person.
///
/// Each candidate is checked with a point read of the login index: a counter behind the logins (a
/// directory filled before the counter existed, a login an administrator set by hand) only costs one read
/// per number skipped, once, and two imports numbering the same base at once conflict on the unique login
/// index instead of giving one login twice.
pub(crate) async fn allocate(
    tx: &mut dyn Transaction,
    base: &str,
    earlier: &Pending,
    own: &mut Pending,
) -> Result<(String, WriteOp)> {
    let given = match own.counters.get(base).or_else(|| earlier.counters.get(base)) {
        Some(value) => *value,
        None => tx.counter_get(LOGIN_NUMBERS, &(base,).into()).await?,
    };
    let pending = |login: &str| own.logins.contains(login) || earlier.logins.contains(login);
    let mut n = given.max(0);
    let login = loop {
        if n == 0 {
            n = 1;
            if !pending(base) && !taken(tx, base).await? {
                break base.to_owned();
            }
        }
        n = n.checked_add(1).ok_or_else(|| Error::invalid("login", format!("no number is left for `{base}`")))?;
        let login = format!("{base}{n}");
        if !pending(&login) && !taken(tx, &login).await? {
            break login;
        }
    };
    own.counters.insert(base.to_owned(), n);
    own.logins.insert(login.clone());
    let counter = WriteOp::CounterAdd { collection: LOGIN_NUMBERS.into(), key: (base,).into(), delta: n - given };
    Ok((login, counter))
}

async fn taken(tx: &mut dyn Transaction, login: &str) -> Result<bool> {
    let scan = Scan::index(User::COLLECTION, "by_login").prefix((login,)).limit(1).keys_only();
    Ok(!tx.scan(&scan).await?.entries.is_empty())
}
