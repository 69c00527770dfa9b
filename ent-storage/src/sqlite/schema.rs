//! The adapter's own schema: the generic tables every collection shares, versioned and upgraded in place.
//!
//! A database file says it belongs to ent in its header: `PRAGMA application_id` is [`APPLICATION_ID`], and
//! `PRAGMA user_version` is the version of this schema. Opening a file checks both before writing anything:
//! a file that is not SQLite, or a SQLite database of another application, is refused and left untouched;
//! a file of a newer version is refused with [`Error::SchemaTooNew`]; an older one is upgraded in place, one
//! migration per transaction, so a crash during an upgrade leaves the file at the last version it reached.
//!
//! # Layout (version 3)
//!
//! | table | holds |
//! |---|---|
//! | `ent_meta(key, value)` | `catalog_generation`, bumped by every declaration (other processes reload their catalog) |
//! | `ent_collection(cid, name, def)` | the declared collections, `def` the `CollectionDef` as JSON |
//! | `ent_index(xid, cid, name, is_unique)` | their secondary indexes |
//! | `ent_record(cid, id, version, schema_version, data, entries)` | the records: `id` the encoded key, `data` JSON, `entries` the record's index entries (to diff them on update) |
//! | `ent_entry(xid, key, id)` | entries of non-unique indexes, primary key `(xid, key, id)` |
//! | `ent_unique_entry(xid, key, id)` | entries of unique indexes, primary key `(xid, key)`: SQLite enforces uniqueness |
//! | `ent_counter(cid, key, value)` | counters; a `CHECK` refuses an overflow (SQLite would turn it into a float) |
//! | `ent_fts_doc`, `ent_fts` | the full-text port (version 2) |
//! | `ent_blob`, `ent_blob_chunk`, `ent_blob_upload` | the in-database blob store (version 3) |
//!
//! Keys are BLOBs in the order-preserving encoding of `ent_core::storage::key`: SQLite compares BLOBs with
//! `memcmp`, shorter first on a tie, which is exactly the encoding's order. The views `records`,
//! `index_entries` and `counters` show the same data with collection and index names, for people using the
//! `sqlite3` shell and for BI tools.

use rusqlite::{Connection, OpenFlags};

use super::error::{ADAPTER, Context};
use ent_core::{Error, Result};

/// `PRAGMA application_id` of an ent database: "ent1" in ASCII.
pub const APPLICATION_ID: i32 = 0x656E_7431;

/// The migrations: `MIGRATIONS[n]` upgrades version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: records, indexes, counters, the catalog.
    r#"
    CREATE TABLE ent_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    INSERT INTO ent_meta (key, value) VALUES ('catalog_generation', '0');
    CREATE TABLE ent_collection (
        cid INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        def TEXT NOT NULL
    );
    CREATE TABLE ent_index (
        xid INTEGER PRIMARY KEY AUTOINCREMENT,
        cid INTEGER NOT NULL,
        name TEXT NOT NULL,
        is_unique INTEGER NOT NULL,
        UNIQUE (cid, name)
    );
    CREATE TABLE ent_record (
        cid INTEGER NOT NULL,
        id BLOB NOT NULL,
        version INTEGER NOT NULL,
        schema_version INTEGER NOT NULL,
        data TEXT NOT NULL,
        entries BLOB NOT NULL,
        PRIMARY KEY (cid, id)
    ) WITHOUT ROWID;
    CREATE TABLE ent_entry (
        xid INTEGER NOT NULL,
        key BLOB NOT NULL,
        id BLOB NOT NULL,
        PRIMARY KEY (xid, key, id)
    ) WITHOUT ROWID;
    CREATE TABLE ent_unique_entry (
        xid INTEGER NOT NULL,
        key BLOB NOT NULL,
        id BLOB NOT NULL,
        PRIMARY KEY (xid, key)
    ) WITHOUT ROWID;
    CREATE TABLE ent_counter (
        cid INTEGER NOT NULL,
        key BLOB NOT NULL,
        value INTEGER NOT NULL CHECK (typeof(value) = 'integer'),
        PRIMARY KEY (cid, key)
    ) WITHOUT ROWID;
    CREATE VIEW records AS
        SELECT c.name AS collection, hex(r.id) AS id, r.version, r.schema_version, r.data
        FROM ent_record r JOIN ent_collection c USING (cid);
    CREATE VIEW index_entries AS
        SELECT c.name AS collection, i.name AS "index", hex(e.key) AS key, hex(e.id) AS id
        FROM (SELECT xid, key, id FROM ent_entry UNION ALL SELECT xid, key, id FROM ent_unique_entry) e
        JOIN ent_index i USING (xid) JOIN ent_collection c ON c.cid = i.cid;
    CREATE VIEW counters AS
        SELECT c.name AS collection, hex(k.key) AS key, k.value
        FROM ent_counter k JOIN ent_collection c USING (cid);
    "#,
    // 2: the full-text port. `scope` holds one token per (collection, partition); the text is not stored
    // again (contentless): it lives in the owner's records.
    r#"
    CREATE TABLE ent_fts_doc (
        rowid INTEGER PRIMARY KEY,
        collection TEXT NOT NULL,
        doc BLOB NOT NULL,
        partition BLOB NOT NULL,
        UNIQUE (collection, doc)
    );
    CREATE VIRTUAL TABLE ent_fts USING fts5(
        scope, body, content = '', contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    "#,
    // 3: the in-database blob store.
    r#"
    CREATE TABLE ent_blob (
        id BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        created INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE ent_blob_chunk (
        id BLOB NOT NULL,
        seq INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (id, seq)
    );
    CREATE TABLE ent_blob_upload (
        upload INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        started INTEGER NOT NULL,
        PRIMARY KEY (upload, seq)
    );
    "#,
];

/// The version of the adapter's schema this code writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// What the header of a file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity {
    /// No table at all: a new file (or an empty SQLite database) that becomes an ent database.
    Empty,
    /// An ent database of this schema version.
    Ent(u32),
}

/// Reads the header without writing anything, and refuses what is not an ent database.
fn identify(conn: &Connection, path: &str) -> Result<Identity> {
    let not_ent = |reason: String| {
        Error::storage(ADAPTER, format!("`{path}` is not an ent database: {reason}; it was left untouched"), false)
    };
    let app: i32 =
        conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => not_ent("the file is not a SQLite database".into()),
            _ => super::error::map(&format!("opening `{path}`"), &e),
        })?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).doing("reading user_version")?;
    let tables: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).doing("reading the schema")?;
    match app {
        0 if tables == 0 => Ok(Identity::Empty),
        APPLICATION_ID => Ok(Identity::Ent(u32::try_from(version).unwrap_or(u32::MAX))),
        0 => Err(not_ent(format!("it holds {tables} tables of another application"))),
        other => {
            Err(not_ent(format!("its application_id is {other:#010x}, an ent database has {APPLICATION_ID:#010x}")))
        }
    }
}

/// Checks the file and brings it to [`SCHEMA_VERSION`]; called on the first writer connection at open, before any
/// other use. Safe against another process doing the same at the same time.
pub(crate) fn prepare(conn: &Connection, path: &str, busy_timeout: std::time::Duration) -> Result<u32> {
    // In one read transaction: another process may be creating the file, and the header and the table list
    // must come from the same state.
    conn.execute_batch("BEGIN").doing("reading the header")?;
    let found = identify(conn, path);
    let _ = conn.execute_batch("ROLLBACK");
    let found = found?;
    if let Identity::Ent(stored) = found
        && stored > SCHEMA_VERSION
    {
        return Err(too_new(path, stored));
    }
    // WAL is a property of the file: set it once the file is known to be ours (or new). Switching takes an
    // exclusive lock without calling the busy handler, so a process opening a new file while another one
    // creates it retries for a while.
    let deadline = std::time::Instant::now() + busy_timeout;
    let mode = loop {
        let current: String =
            conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).doing("reading journal_mode")?;
        if current.eq_ignore_ascii_case("wal") {
            break current;
        }
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(mode) => break mode,
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(super::error::map("setting WAL mode", &e)),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::storage(
            ADAPTER,
            format!("`{path}`: SQLite refused WAL mode (journal mode is {mode})"),
            false,
        ));
    }
    migrate(conn, path, SCHEMA_VERSION)
}

fn too_new(path: &str, stored: u32) -> Error {
    Error::SchemaTooNew { what: format!("the SQLite database `{path}`"), stored, supported: SCHEMA_VERSION }
}

/// Applies the migrations up to `target`, one transaction each; returns the version reached.
pub(crate) fn migrate(conn: &Connection, path: &str, target: u32) -> Result<u32> {
    loop {
        conn.execute_batch("BEGIN IMMEDIATE").doing("starting a schema upgrade")?;
        let step = (|| {
            // Re-read under the write lock: another process may have upgraded meanwhile.
            let current = match identify(conn, path)? {
                Identity::Empty => 0,
                Identity::Ent(v) => v,
            };
            if current > SCHEMA_VERSION {
                return Err(too_new(path, current));
            }
            if current >= target {
                return Ok(None);
            }
            conn.execute_batch(MIGRATIONS[current as usize])
                .doing(&format!("upgrading the schema from version {current}"))?;
            conn.pragma_update(None, "application_id", APPLICATION_ID).doing("setting application_id")?;
            conn.pragma_update(None, "user_version", current + 1).doing("setting user_version")?;
            Ok(Some(current + 1))
        })();
        match step {
            Ok(Some(_)) => conn.execute_batch("COMMIT").doing("committing a schema upgrade")?,
            Ok(None) => {
                conn.execute_batch("COMMIT").doing("ending a schema check")?;
                return match identify(conn, path)? {
                    Identity::Ent(v) => Ok(v),
                    Identity::Empty => Ok(0),
                };
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
}

/// Sets the per-connection settings.
pub(crate) fn configure(conn: &Connection, options: &super::SqliteOptions) -> Result<()> {
    conn.pragma_update(None, "synchronous", options.durability.pragma()).doing("setting synchronous")?;
    conn.pragma_update(None, "cache_size", -options.cache_kib).doing("setting cache_size")?;
    conn.pragma_update(None, "temp_store", "MEMORY").doing("setting temp_store")?;
    conn.pragma_update(None, "foreign_keys", false).doing("setting foreign_keys")?;
    conn.pragma_update(None, "wal_autocheckpoint", options.checkpoint_pages).doing("setting wal_autocheckpoint")?;
    conn.pragma_update(None, "mmap_size", i64::try_from(options.mmap_bytes).unwrap_or(i64::MAX))
        .doing("setting mmap_size")?;
    conn.set_prepared_statement_cache_capacity(128);
    // The query planner stability guarantee: without it SQLite compiles a statement whose `LIMIT` is a
    // bound parameter again at every execution (it plans with the value), so every scan parsed its SQL
    // anew (38 µs for a one-key lookup in a read-only transaction, 8 µs without). The plans do not depend on values here: every scan
    // walks an index in order (see the scan tests).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .doing("setting the query planner stability guarantee")?;
    Ok(())
}

/// The flags of a writer connection.
pub(crate) fn writer_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// The flags of a reader connection: read-only, so that a bug cannot write through it.
pub(crate) fn reader_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder removed when dropped.
    struct Temp(std::path::PathBuf);

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp(name: &str) -> (Temp, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ent-sqlite-schema-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("db.sqlite");
        (Temp(dir), file)
    }

    #[test]
    fn an_old_file_is_upgraded_in_place_and_keeps_its_data() {
        let (_dir, path) = temp("upgrade");
        let conn = Connection::open(&path).unwrap();
        prepare_at(&conn, 1);
        conn.execute("INSERT INTO ent_collection (name, def) VALUES ('a.b', '{}')", []).unwrap();
        assert!(conn.prepare("SELECT * FROM ent_fts_doc").is_err());
        assert_eq!(prepare(&conn, "test", std::time::Duration::from_secs(1)).unwrap(), SCHEMA_VERSION);
        let n: i64 = conn.query_row("SELECT count(*) FROM ent_collection", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
        conn.prepare("SELECT * FROM ent_fts_doc").unwrap();
        conn.prepare("SELECT * FROM ent_blob").unwrap();
    }

    #[test]
    fn a_newer_file_is_refused() {
        let (_dir, path) = temp("newer");
        let conn = Connection::open(&path).unwrap();
        prepare(&conn, "test", std::time::Duration::from_secs(1)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        match prepare(&conn, "test", std::time::Duration::from_secs(1)) {
            Err(Error::SchemaTooNew { stored, supported, .. }) => {
                assert_eq!((stored, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    fn prepare_at(conn: &Connection, version: u32) {
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        assert_eq!(migrate(conn, "test", version).unwrap(), version);
    }
}
