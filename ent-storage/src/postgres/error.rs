//! How PostgreSQL's errors become `ent_core::Error`s: the one place that decides what a caller may retry.
//!
//! | PostgreSQL | `Error` | why |
//! |---|---|---|
//! | `40001` serialization_failure, `40P01` deadlock_detected | `Conflict { retryable: true }` | another transaction won; running this one again may succeed |
//! | `55P03` lock_not_available (`lock_timeout` passed) | `Conflict { retryable: true }` | another transaction held a row this one needs for longer than the lock timeout |
//! | connection refused, reset or closed; `57P01` admin_shutdown, `57P02`, `57P03` cannot_connect_now; `08xxx` | `Storage { retryable: true }` | the server is down or restarting: later it may be back, and the pool reconnects |
//! | `53100` disk_full, `53200` out_of_memory, `53300` too_many_connections | `Storage { retryable: false / true }` | an operator must free space; connections come back by themselves |
//! | `42501` insufficient_privilege, `3D000` invalid_catalog_name... | `Storage { retryable: false }` | a configuration error an operator must fix |
//! | anything else | `Storage { retryable: false }` | a bug of the adapter or a damaged database: never retry blindly |
//!
//! Expected failures (a duplicate key, a stale version) never reach this table: statements use
//! `ON CONFLICT DO NOTHING` and version predicates, so that PostgreSQL never aborts the transaction for them.

use ent_core::Error;
use tokio_postgres::error::SqlState;

/// The adapter name in every error.
pub(crate) const ADAPTER: &str = "postgres";

/// Whether an error means the connection is gone (it is not returned to the pool).
pub(crate) fn is_connection_lost(err: &tokio_postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    match err.code() {
        Some(code) => {
            *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || code.code().starts_with("08")
        }
        // No SQLSTATE: an I/O error, a protocol error, a closed socket.
        None => true,
    }
}

/// Maps a driver error; `doing` says what the adapter was doing ("reading notes.grades", "commit").
pub(crate) fn map(doing: &str, err: &tokio_postgres::Error) -> Error {
    let Some(code) = err.code() else {
        let detail = std::error::Error::source(err).map_or_else(|| err.to_string(), |s| format!("{err}: {s}"));
        return Error::storage(
            ADAPTER,
            format!("{doing}: the connection to PostgreSQL failed ({detail}); the server may be down"),
            true,
        );
    };
    let message = err.as_db_error().map_or_else(|| err.to_string(), |db| db.message().to_owned());
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return Error::serialization_conflict(format!("{doing} (PostgreSQL: {message})"));
    }
    if *code == SqlState::LOCK_NOT_AVAILABLE {
        return Error::serialization_conflict(format!(
            "{doing}: another transaction held a row for longer than the lock timeout (PostgreSQL: {message})"
        ));
    }
    let (what, retryable) = if is_connection_lost(err) {
        ("the connection to PostgreSQL was lost", true)
    } else if *code == SqlState::DISK_FULL {
        ("the PostgreSQL server's disk is full", false)
    } else if *code == SqlState::OUT_OF_MEMORY || *code == SqlState::TOO_MANY_CONNECTIONS {
        ("the PostgreSQL server is out of resources", true)
    } else if *code == SqlState::QUERY_CANCELED {
        ("the statement was cancelled (statement_timeout)", true)
    } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        ("permission denied", false)
    } else if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
        ("the server is read-only (a replica?)", false)
    } else {
        ("PostgreSQL error", false)
    };
    Error::storage(ADAPTER, format!("{doing}: {what}: {message} (SQLSTATE {})", code.code()), retryable)
}

/// A helper to map results with context.
pub(crate) trait Context<T> {
    /// Maps the error with [`map`].
    fn doing(self, doing: &str) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, tokio_postgres::Error> {
    fn doing(self, doing: &str) -> Result<T, Error> {
        self.map_err(|e| map(doing, &e))
    }
}
