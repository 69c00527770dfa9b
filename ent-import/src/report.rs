//! What an apply did.

use ent_core::id::UserId;
use serde::Serialize;

/// The summary of an apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Records created (structures, subjects, classes, groups, people).
    pub created: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Pupils who changed class.
    pub moved: u64,
    /// Accounts deactivated (disabled now, deleted after the retention delay).
    pub deactivated: u64,
    /// Records that were already as the feed says.
    pub unchanged: u64,
    /// Records refused, with the reason; the rest was applied.
    pub rejected: Vec<Rejection>,
    /// Mass deactivations held for an administrator's confirmation, per structure.
    pub held: Vec<Held>,
    /// Activation codes of the accounts created: shown here once, stored only as hashes.
    #[serde(skip)]
    pub codes: Vec<IssuedCode>,
}

impl Report {
    /// Adds the report of a later apply to this one (an import of several feeds reports once).
    pub fn absorb(&mut self, other: Report) {
        self.created += other.created;
        self.updated += other.updated;
        self.moved += other.moved;
        self.deactivated += other.deactivated;
        self.unchanged += other.unchanged;
        self.rejected.extend(other.rejected);
        self.held.extend(other.held);
        self.codes.extend(other.codes);
    }
}

/// A refused record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// What kind of record (`structure`, `class`, `person`...).
    pub kind: &'static str,
    /// Its key in the feed.
    pub key: String,
    /// Why, for the administrator.
    pub reason: String,
    /// Where in the feed, when a parser read it from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A place in a feed's files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    /// The file's name (without its folder).
    pub file: String,
    /// The line, 1 first; 0 for the file as a whole.
    pub line: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 { f.write_str(&self.file) } else { write!(f, "{}:{}", self.file, self.line) }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        write!(f, "{} `{}`: {}", self.kind, self.key, self.reason)
    }
}

/// Deactivations not applied because they would disable too large a share of a structure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Held {
    /// The structure's key in the feed.
    pub structure: String,
    /// How many accounts would lose their affiliation there.
    pub would_deactivate: u64,
    /// How many accounts the structure has.
    pub of: u64,
}

/// An activation code to hand to a new account's owner.
#[derive(Clone, PartialEq)]
pub struct IssuedCode {
    /// The account.
    pub user: UserId,
    /// Its login.
    pub login: String,
    /// The code, grouped for printing.
    pub code: String,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCode").field("user", &self.user).field("login", &self.login).finish_non_exhaustive()
    }
}
