//! How SQLite's errors become `ent_core::Error`s: the one place that decides what a caller may retry.
//!
//! | SQLite | `Error` | why |
//! |---|---|---|
//! | `SQLITE_BUSY`, `SQLITE_LOCKED` | `Storage { retryable: true }` | another process holds the write lock longer than the busy timeout: later it may not |
//! | `SQLITE_FULL` | `Storage { retryable: false }`, "disk full" | retrying at once fails again; the store recovers by itself once space is freed |
//! | `SQLITE_READONLY`, `SQLITE_PERM`, `SQLITE_CANTOPEN` | `Storage { retryable: false }` | the file or its folder cannot be written: an operator must act |
//! | `SQLITE_CORRUPT`, `SQLITE_NOTADB` | `Storage { retryable: false }`, "corrupted" / "not a database" | never retry: restore from a backup |
//! | `SQLITE_IOERR` | `Storage { retryable: false }` | the OS failed a read or a write |
//!
//! Constraint violations never reach this table: the transaction code turns the ones it expects into
//! [`Error::Duplicate`] and treats any other as a bug of the adapter (a `Storage` error naming it).

use ent_core::Error;
use rusqlite::ErrorCode;

/// The adapter name in every error.
pub(crate) const ADAPTER: &str = "sqlite";

/// Maps a driver error; `doing` says what the adapter was doing ("reading notes.grades", "commit").
pub(crate) fn map(doing: &str, err: &rusqlite::Error) -> Error {
    let Some(code) = err.sqlite_error_code() else {
        return Error::storage(ADAPTER, format!("{doing}: {err}"), false);
    };
    let (what, retryable) = match code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => ("database busy (another writer holds the lock)", true),
        ErrorCode::DiskFull => ("disk full (or the database size limit is reached); free space and try again", false),
        ErrorCode::ReadOnly => ("the database file is read-only", false),
        ErrorCode::PermissionDenied => ("permission denied", false),
        ErrorCode::CannotOpen => ("cannot open the database file", false),
        ErrorCode::DatabaseCorrupt => ("the database file is corrupted", false),
        ErrorCode::NotADatabase => ("the file is not a database", false),
        ErrorCode::SystemIoFailure => ("I/O error", false),
        ErrorCode::OutOfMemory => ("out of memory", true),
        ErrorCode::OperationInterrupted => ("interrupted", true),
        _ => ("SQLite error", false),
    };
    Error::storage(ADAPTER, format!("{doing}: {what}: {err}"), retryable)
}

/// Whether the error is a constraint violation (a duplicate key, a failed CHECK).
pub(crate) fn is_constraint(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

/// A helper to map results with context.
pub(crate) trait Context<T> {
    /// Maps the error with [`map`].
    fn doing(self, doing: &str) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn doing(self, doing: &str) -> Result<T, Error> {
        self.map_err(|e| map(doing, &e))
    }
}
