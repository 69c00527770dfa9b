//! The error type of `ent-core`, shared by every port, adapter and module.
//!
//! Each variant is something a caller can act on: retry a conflict, show the missing right, point at the
//! invalid field. The HTTP layer maps variants to statuses in one place (`Error::kind`).

use std::fmt;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error that `ent-core`'s ports, the SDK and the modules return.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing asked for does not exist (or the caller may not know that it exists).
    #[error("not found: {what} {key}")]
    NotFound {
        /// What kind of thing (a collection name, "user", "blob"...).
        what: String,
        /// Which one, printed.
        key: String,
    },
    /// The caller lacks a right.
    #[error("forbidden: the right `{right}` is required")]
    Forbidden {
        /// The missing right, e.g. `notes.grade.write`.
        right: String,
    },
    /// A concurrent change won. `retryable` tells whether running the same transaction again may succeed
    /// (a serialization conflict at commit) or whether the caller's expectation itself is stale (an update
    /// with an old version number that the caller brought from outside the transaction).
    #[error("conflict on {what}: expected version {expected:?}, found {found:?}{}", if *retryable { " (retryable)" } else { "" })]
    Conflict {
        /// What conflicted (a collection and key, or "transaction").
        what: String,
        /// The version the caller expected, where one was given.
        expected: Option<u64>,
        /// The version found, where the record exists.
        found: Option<u64>,
        /// Whether retrying the whole transaction may succeed.
        retryable: bool,
    },
    /// A unique index already holds this key for another record, or a record with this id exists.
    #[error("duplicate key in {collection}.{index}: {key}")]
    Duplicate {
        /// The collection.
        collection: String,
        /// The index (`"primary"` for the record id).
        index: String,
        /// The key, printed.
        key: String,
    },
    /// An input failed validation.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field (a dotted path where useful).
        field: String,
        /// Why it is invalid, for a developer (user-facing messages go through i18n).
        reason: String,
    },
    /// A key element does not have the type its index declares.
    #[error("wrong key type in {collection}.{index} at position {position}: expected {expected}, found {found}")]
    KeyType {
        /// The collection.
        collection: String,
        /// The index (`"primary"` for the record id).
        index: String,
        /// Position of the element in the tuple.
        position: usize,
        /// The declared kind.
        expected: String,
        /// The kind given.
        found: String,
    },
    /// A value is larger than the limit the store enforces.
    #[error("{what} is too large: {size} bytes, the limit is {limit}")]
    TooLarge {
        /// What was too large ("record", "key", "blob", "batch"...).
        what: String,
        /// The size given.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A pagination cursor that does not belong to this scan (another collection, index or direction) or
    /// that is corrupted.
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// Why.
        reason: String,
    },
    /// A collection that was never declared to the store.
    #[error("unknown collection `{collection}`")]
    UnknownCollection {
        /// The name used.
        collection: String,
    },
    /// An index that the collection does not declare.
    #[error("unknown index `{index}` of collection `{collection}`")]
    UnknownIndex {
        /// The collection.
        collection: String,
        /// The index name used.
        index: String,
    },
    /// A write inside a read-only transaction.
    #[error("write in a read-only transaction")]
    ReadOnly,
    /// A transaction used after it ended (a failed commit, a rollback).
    #[error("transaction already finished")]
    TransactionFinished,
    /// Stored data, or a stored schema, is newer than this code understands.
    #[error("{what} has schema version {stored}, this code supports up to {supported}")]
    SchemaTooNew {
        /// What (a collection, the adapter's own schema).
        what: String,
        /// The version found in the store.
        stored: u32,
        /// The newest this code knows.
        supported: u32,
    },
    /// A declaration that contradicts what the store already holds (an index whose fields changed...).
    #[error("schema mismatch for {what}: {reason}")]
    SchemaMismatch {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// A handler (an action, an event subscriber, a job) panicked: a bug of that handler, turned into an error
    /// of that call; nothing it wrote was committed.
    #[error("{what} panicked: {message}")]
    Panicked {
        /// The handler (`guestbook.sign`, `event guestbook.counter`, `job guestbook.digest`).
        what: String,
        /// The panic's message.
        message: String,
    },
    /// No registered module has this id.
    #[error("unknown module `{module}`")]
    UnknownModule {
        /// The id asked for.
        module: String,
    },
    /// The module exists but has no such action.
    #[error("module `{module}` has no action `{action}`")]
    UnknownAction {
        /// The module.
        module: String,
        /// The action asked for (its full name, `module.action`).
        action: String,
    },
    /// No module declares this right.
    #[error("unknown right `{right}`")]
    UnknownRight {
        /// The right's name as given.
        right: String,
    },
    /// No module declares this setting.
    #[error("unknown setting `{setting}`")]
    UnknownSetting {
        /// The setting's full name (`module.name`).
        setting: String,
    },
    /// A JSON text that does not parse.
    #[error("malformed JSON for {what} at line {line}, column {column}: {message}")]
    MalformedJson {
        /// What was being read (an action's input...).
        what: String,
        /// The line of the error (1-based).
        line: usize,
        /// The column of the error (1-based).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// An action's input does not match the action's JSON Schema.
    #[error("input of `{action}` does not match its schema: {}", Violation::list(violations))]
    InvalidInput {
        /// The action (`module.action`).
        action: String,
        /// What is wrong, where.
        violations: Vec<Violation>,
    },
    /// A setting's new value does not match the setting's JSON Schema.
    #[error("value of setting `{setting}` does not match its schema: {}", Violation::list(violations))]
    InvalidSetting {
        /// The setting (`module.name`).
        setting: String,
        /// What is wrong, where.
        violations: Vec<Violation>,
    },
    /// A module's configuration does not match the module's configuration schema.
    #[error("configuration of module `{module}` does not match its schema: {}", Violation::list(violations))]
    InvalidConfig {
        /// The module.
        module: String,
        /// What is wrong, where.
        violations: Vec<Violation>,
    },
    /// Two modules given to the assembly share an id.
    #[error("two modules have the id `{module}`")]
    DuplicateModule {
        /// The id.
        module: String,
    },
    /// A module requires a module that is not in the assembly.
    #[error("module `{module}` requires module `{requires}` ({requirement}), which is not in the assembly")]
    MissingDependency {
        /// The module that requires.
        module: String,
        /// The module it requires.
        requires: String,
        /// The version requirement (`^1.2`).
        requirement: String,
    },
    /// A module requires a version of ent-core or of another module that the assembly does not have.
    #[error("module `{module}` requires `{requires}` {requirement}, found version {found}")]
    VersionMismatch {
        /// The module that requires.
        module: String,
        /// What it requires (`ent-core` or a module id).
        requires: String,
        /// The version requirement (`^1.2`).
        requirement: String,
        /// The version present.
        found: String,
    },
    /// The store was last used by a newer version of a module than the one starting.
    #[error("module `{module}` is at version {running}, but the store was last used by version {stored}")]
    Downgrade {
        /// The module.
        module: String,
        /// The version recorded in the store.
        stored: String,
        /// The version starting.
        running: String,
    },
    /// Wrong login, password, code or second factor. Deliberately says no more (which of them was wrong
    /// would tell an attacker which accounts exist).
    #[error("authentication failed")]
    Unauthenticated,
    /// Too many failed attempts: try again after the delay (growing delays, then a temporary lock).
    #[error("too many attempts: retry in {retry_after_secs} s")]
    Throttled {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The password was right but the account requires its second factor (TOTP or a recovery code).
    #[error("second factor required")]
    SecondFactorRequired,
    /// The account is disabled (left the directory, or by an administrator).
    #[error("account disabled")]
    AccountDisabled,
    /// The session is unknown, expired (idle or absolute), revoked, or its structure's sessions were cut.
    #[error("session expired")]
    SessionExpired,
    /// A configuration or assembly problem found at start-up.
    #[error("configuration error: {0}")]
    Config(String),
    /// The backend failed (I/O, a lost connection, a full disk). `retryable` tells whether the same call may
    /// succeed later.
    #[error("storage failure in {adapter}: {message}")]
    Storage {
        /// The adapter's name (`memory`, `sqlite`, `postgres`).
        adapter: String,
        /// The backend's own message.
        message: String,
        /// Whether a retry may succeed (a lost connection: yes; a corrupted file: no).
        retryable: bool,
    },
    /// A record could not be (de)serialized.
    #[error("serialization of {what} failed: {message}")]
    Serialization {
        /// What.
        what: String,
        /// The serializer's message.
        message: String,
    },
}

/// One reason a JSON value fails its schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// Where, as a JSON Pointer into the value (`/entries/0/text`; empty for the whole value).
    pub pointer: String,
    /// What is wrong (the value itself is not repeated: it may be personal data).
    pub reason: String,
}

impl Violation {
    fn list(violations: &[Violation]) -> String {
        violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() { "/" } else { &self.pointer };
        write!(f, "at {at}: {}", self.reason)
    }
}

/// The coarse class of an error, for mapping to HTTP statuses or exit codes in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 404.
    NotFound,
    /// 403.
    Forbidden,
    /// 401: log in (again).
    Unauthenticated,
    /// 429: slow down.
    TooManyRequests,
    /// 409.
    Conflict,
    /// 400 / 422.
    Invalid,
    /// 413.
    TooLarge,
    /// 500: a bug or a broken setup.
    Internal,
    /// 503: try again later.
    Unavailable,
}

impl Error {
    /// Whether running the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Conflict { retryable, .. } | Error::Storage { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. }
            | Error::UnknownCollection { .. }
            | Error::UnknownIndex { .. }
            | Error::UnknownModule { .. }
            | Error::UnknownAction { .. }
            | Error::UnknownSetting { .. } => ErrorKind::NotFound,
            Error::Forbidden { .. } | Error::AccountDisabled => ErrorKind::Forbidden,
            Error::Unauthenticated | Error::SecondFactorRequired | Error::SessionExpired => ErrorKind::Unauthenticated,
            Error::Throttled { .. } => ErrorKind::TooManyRequests,
            Error::Conflict { .. } | Error::Duplicate { .. } => ErrorKind::Conflict,
            Error::Invalid { .. }
            | Error::KeyType { .. }
            | Error::InvalidCursor { .. }
            | Error::MalformedJson { .. }
            | Error::InvalidInput { .. }
            | Error::InvalidSetting { .. }
            | Error::UnknownRight { .. } => ErrorKind::Invalid,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::Storage { retryable: true, .. } => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(what: impl Into<String>, key: impl fmt::Display) -> Self {
        Error::NotFound { what: what.into(), key: key.to_string() }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), reason: reason.into() }
    }

    /// Shorthand for [`Error::Forbidden`].
    pub fn forbidden(right: impl Into<String>) -> Self {
        Error::Forbidden { right: right.into() }
    }

    /// A retryable serialization conflict detected at commit.
    pub fn serialization_conflict(what: impl Into<String>) -> Self {
        Error::Conflict { what: what.into(), expected: None, found: None, retryable: true }
    }

    /// Shorthand for [`Error::Storage`].
    pub fn storage(adapter: impl Into<String>, message: impl fmt::Display, retryable: bool) -> Self {
        Error::Storage { adapter: adapter.into(), message: message.to_string(), retryable }
    }

    /// [`Error::MalformedJson`] from a `serde_json` parse error.
    pub fn malformed_json(what: impl Into<String>, err: &serde_json::Error) -> Self {
        Error::MalformedJson { what: what.into(), line: err.line(), column: err.column(), message: err.to_string() }
    }

    /// Shorthand for [`Error::Serialization`].
    pub fn serialization(what: impl Into<String>, err: impl fmt::Display) -> Self {
        Error::Serialization { what: what.into(), message: err.to_string() }
    }
}
