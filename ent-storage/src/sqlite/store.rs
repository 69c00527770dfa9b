//! The store: one database file, one writer connection, a pool of reader connections.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use ent_core::storage::{CollectionDef, DeclareReport, Limits, Store, Transaction, TxMode};
use ent_core::{Error, Result};
use rusqlite::{Connection, ErrorCode};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::catalog::{self, Catalog};
use super::error::{ADAPTER, Context, map};
use super::schema;
use super::transaction::SqliteTransaction;

/// How far a commit goes before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is fsynced at every commit, so an acknowledged commit survives a process
    /// crash *and* a power loss or kernel panic. The default: DESIGN.md asks every write to be durable on
    /// commit, and on these machines an fsync costs about 0.3 ms, which batching (`write_batch`, one
    /// transaction per request) amortizes.
    #[default]
    Full,
    /// `synchronous=NORMAL`: the WAL is fsynced at checkpoints only. A commit survives a process crash but
    /// the last ones may be lost on a power loss; for data that can be rebuilt.
    Normal,
    /// `synchronous=OFF`: nothing is fsynced; for throwaway databases (tests, [`SqliteStore::in_memory`]).
    Off,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
            Durability::Off => "OFF",
        }
    }
}

/// Settings of a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// See [`Durability`].
    pub durability: Durability,
    /// How long a writer waits for another process that holds the write lock before
    /// [`Error::Storage`] with `retryable: true`.
    pub busy_timeout: Duration,
    /// Most reader connections open at once; read-only transactions wait for one beyond that.
    pub max_readers: usize,
    /// Page cache per connection, in KiB.
    pub cache_kib: i64,
    /// The limits the store enforces.
    pub limits: Limits,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            max_readers: 8,
            cache_kib: 8 * 1024,
            limits: Limits::default(),
        }
    }
}

/// The SQLite adapter of the storage port.
///
/// ```
/// use ent_core::storage::{CollectionDef, KeyKind, NewRecord, Store, TxMode};
/// use ent_storage::sqlite::SqliteStore;
/// # async fn demo() -> ent_core::Result<()> {
/// # let dir = std::env::temp_dir().join(format!("ent-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let store = SqliteStore::open(dir.join("ent.db"))?;
/// store.declare(&[CollectionDef::new("doc.notes", [KeyKind::Str])]).await?;
/// let mut tx = store.begin(TxMode::ReadWrite).await?;
/// tx.insert("doc.notes", NewRecord::from_value(("a",), 1, &"hello")?).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) shared: Arc<Shared>,
}

/// What the store's handles share.
pub(crate) struct Shared {
    pub(crate) path: PathBuf,
    pub(crate) options: SqliteOptions,
    writer: Arc<tokio::sync::Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Arc<Semaphore>,
    catalog: RwLock<Arc<Catalog>>,
    /// `max_page_count` set by [`SqliteStore::set_size_limit`], applied again to a reopened writer.
    max_pages: Mutex<Option<i64>>,
    // Last, so that it is dropped after the connections.
    _temp: Option<TempDir>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).field("options", &self.options).finish()
    }
}

/// A folder removed when the store is dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl SqliteStore {
    /// Opens (or creates) a database file with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Opens (or creates) a database file.
    ///
    /// Fails, leaving the file as it was, if it is not an ent database ([`Error::Storage`] saying so), if its
    /// schema is newer than this code ([`Error::SchemaTooNew`]), or if it cannot be written.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore> {
        SqliteStore::open_inner(path.as_ref().to_owned(), options, None)
    }

    /// A private database that lives as long as the store, for tests and examples.
    ///
    /// SQLite's own in-memory databases (`:memory:`, the `memdb` VFS) cannot run in WAL mode, so their
    /// readers block the writer's commit: a read-only transaction left open would stall every write. This
    /// store is therefore a file in a private folder of `/dev/shm` (RAM) where it exists, the system's
    /// temporary folder otherwise, with [`Durability::Off`], removed when the last handle is dropped: the
    /// same code as a file store, nothing durable.
    pub fn in_memory() -> Result<SqliteStore> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() { base.to_owned() } else { std::env::temp_dir() };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir =
            base.join(format!("ent-sqlite-{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir(&dir)
            .map_err(|e| Error::storage(ADAPTER, format!("creating {}: {e}", dir.display()), false))?;
        let options = SqliteOptions { durability: Durability::Off, ..SqliteOptions::default() };
        SqliteStore::open_inner(dir.join("ent.db"), options, Some(TempDir(dir)))
    }

    fn open_inner(path: PathBuf, options: SqliteOptions, temp: Option<TempDir>) -> Result<SqliteStore> {
        let shown = path.display().to_string();
        let writer = open_writer(&path, &options)?;
        schema::prepare(&writer, &shown)?;
        schema::configure(&writer, options.durability.pragma(), options.cache_kib)?;
        super::blob::remove_abandoned_uploads(&writer, chrono::Utc::now())?;
        let catalog = catalog::load(&writer)?;
        let shared = Shared {
            path,
            reader_slots: Arc::new(Semaphore::new(options.max_readers.max(1))),
            options,
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            readers: Mutex::new(Vec::new()),
            catalog: RwLock::new(Arc::new(catalog)),
            max_pages: Mutex::new(None),
            _temp: temp,
        };
        // Open one reader now, so that a file readers cannot open is refused at open, not later.
        let reader = shared.open_reader()?;
        shared.readers.lock().unwrap_or_else(|e| e.into_inner()).push(reader);
        Ok(SqliteStore { shared: Arc::new(shared) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Runs `PRAGMA integrity_check` and returns its findings (empty when the file is sound; damage so deep
    /// that SQLite stops the check is one finding).
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        let reader = self.shared.begin_read().await?;
        let check = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = reader.conn().prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.filter(|row| !matches!(row.as_deref(), Ok("ok"))).collect()
        };
        match check() {
            Ok(findings) => Ok(findings),
            Err(e) if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)) => {
                let mut reader = reader;
                reader.discard = true;
                Ok(vec![e.to_string()])
            }
            Err(e) => Err(map("integrity_check", &e)),
        }
    }

    /// Sets the largest size the database may grow to, in bytes (`None`: no limit): past it, writes fail
    /// with [`Error::Storage`] "disk full" and the store goes on serving reads and smaller writes. A quota,
    /// and the way tests simulate a full disk.
    pub async fn set_size_limit(&self, bytes: Option<u64>) -> Result<()> {
        let writer = self.shared.writer.lock().await;
        let page_size: i64 = writer.pragma_query_value(None, "page_size", |r| r.get(0)).doing("reading page_size")?;
        let pages = bytes.map_or(i64::from(u32::MAX - 1), |b| (b as i64 / page_size).max(1));
        writer.pragma_update(None, "max_page_count", pages).doing("setting max_page_count")?;
        *self.shared.max_pages.lock().unwrap_or_else(|e| e.into_inner()) = bytes.map(|_| pages);
        Ok(())
    }
}

/// Opens the writer connection, refusing a file that cannot be written.
fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection> {
    let shown = path.display();
    let writer = Connection::open_with_flags(path, schema::writer_flags())
        .map_err(|e| map(&format!("opening `{shown}`"), &e))?;
    writer.busy_timeout(options.busy_timeout).doing("setting busy_timeout")?;
    if writer.is_readonly("main").doing("checking the file")? {
        return Err(Error::storage(ADAPTER, format!("`{shown}`: the database file is read-only"), false));
    }
    Ok(writer)
}

impl Shared {
    /// Replaces the writer connection after a failure that may have left wrong pages in its cache (a
    /// corrupted page read, an I/O error): the next transaction reads the file afresh, so the store recovers
    /// by itself once the file is repaired. Keeps the old connection if a new one cannot be opened.
    pub(crate) fn renew_writer(&self, writer: &mut Connection) {
        let fresh = open_writer(&self.path, &self.options).and_then(|conn| {
            schema::configure(&conn, self.options.durability.pragma(), self.options.cache_kib)?;
            if let Some(pages) = *self.max_pages.lock().unwrap_or_else(|e| e.into_inner()) {
                conn.pragma_update(None, "max_page_count", pages).doing("setting max_page_count")?;
            }
            Ok(conn)
        });
        if let Ok(conn) = fresh {
            *writer = conn;
        }
    }

    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(&self.path, schema::reader_flags())
            .map_err(|e| map(&format!("opening a reader on `{}`", self.path.display()), &e))?;
        conn.busy_timeout(self.options.busy_timeout).doing("setting busy_timeout")?;
        schema::configure(&conn, self.options.durability.pragma(), self.options.cache_kib)?;
        Ok(conn)
    }

    /// Takes the writer and starts a write transaction (`BEGIN IMMEDIATE`: the write lock is taken now, so
    /// transactions of this store and of other processes on the file run one after the other).
    pub(crate) async fn begin_write(self: &Arc<Self>) -> Result<OwnedMutexGuard<Connection>> {
        let guard = self.writer.clone().lock_owned().await;
        if !guard.is_autocommit() {
            // A previous holder could not end its transaction (an I/O error during rollback).
            let _ = guard.execute_batch("ROLLBACK");
        }
        // Try without waiting first: only another process can hold the lock, and waiting for it must not
        // block an executor thread.
        guard.busy_timeout(Duration::ZERO).doing("setting busy_timeout")?;
        let first = guard.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([]));
        guard.busy_timeout(self.options.busy_timeout).doing("setting busy_timeout")?;
        match first {
            Ok(_) => Ok(guard),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
                crate::blocking::run(move || {
                    guard.execute_batch("BEGIN IMMEDIATE").map(|_| guard).doing("starting a write transaction")
                })
                .await
            }
            Err(e) => Err(map("starting a write transaction", &e)),
        }
    }

    /// Commits the writer's transaction and hands the writer back. On error the transaction is rolled back:
    /// nothing was applied.
    ///
    /// With [`Durability::Full`] the commit waits for an fsync, so it runs on the blocking pool; otherwise it
    /// only appends to the WAL (an occasional checkpoint aside) and runs inline, cheaper than a thread hop.
    pub(crate) async fn commit_write(
        &self,
        guard: OwnedMutexGuard<Connection>,
    ) -> (Result<()>, OwnedMutexGuard<Connection>) {
        let commit = move || {
            let result = guard.prepare_cached("COMMIT").and_then(|mut s| s.execute([]).map(|_| ()));
            if result.is_err() && !guard.is_autocommit() {
                let _ = guard.execute_batch("ROLLBACK");
            }
            (result.doing("commit"), guard)
        };
        match self.options.durability {
            Durability::Full => crate::blocking::run(commit).await,
            Durability::Normal | Durability::Off => commit(),
        }
    }

    /// Takes a reader and starts a read transaction on a snapshot taken now.
    pub(crate) async fn begin_read(self: &Arc<Self>) -> Result<PooledReader> {
        let permit = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::storage(ADAPTER, "the reader pool is closed", false))?;
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let reader = PooledReader { conn: Some(conn), shared: self.clone(), _permit: permit, discard: false };
        reader.conn().prepare_cached("BEGIN").and_then(|mut s| s.execute([])).doing("starting a read transaction")?;
        Ok(reader)
    }

    /// The catalog as of the connection's snapshot (reloaded if another declaration happened since).
    pub(crate) fn catalog_for(&self, conn: &Connection) -> Result<Arc<Catalog>> {
        let generation = catalog::generation(conn)?;
        let current = self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone();
        if current.generation == generation {
            return Ok(current);
        }
        let loaded = Arc::new(catalog::load(conn)?);
        let mut slot = self.catalog.write().unwrap_or_else(|e| e.into_inner());
        if loaded.generation > slot.generation {
            *slot = loaded.clone();
        }
        Ok(loaded)
    }

    /// Runs `f` in a write transaction of its own and commits it.
    pub(crate) async fn write<T>(self: &Arc<Self>, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.begin_write().await?;
        let result = match f(&guard) {
            Ok(value) => {
                let (committed, back) = self.commit_write(guard).await;
                guard = back;
                committed.map(|()| value)
            }
            Err(e) => {
                let _ = guard.execute_batch("ROLLBACK");
                Err(e)
            }
        };
        if suspect(&result) {
            self.renew_writer(&mut guard);
        }
        result
    }

    /// Runs `f` in a read transaction of its own.
    pub(crate) async fn read<T>(self: &Arc<Self>, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut reader = self.begin_read().await?;
        let result = f(reader.conn());
        reader.discard = suspect(&result);
        let value = result?;
        reader.finish()?;
        Ok(value)
    }
}

/// A reader connection taken from the pool; it goes back when dropped.
pub(crate) struct PooledReader {
    conn: Option<Connection>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
    /// Close the connection instead of returning it to the pool (see [`suspect`]).
    pub(crate) discard: bool,
}

/// Whether a result is a failure after which a connection's page cache may hold wrong pages: any
/// non-retryable storage error (corruption, I/O); a busy database or a duplicate key is not.
pub(crate) fn suspect<T>(result: &Result<T>) -> bool {
    matches!(result, Err(Error::Storage { retryable: false, .. }))
}

impl PooledReader {
    pub(crate) fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("a pooled reader holds its connection until dropped")
    }

    /// Ends the read transaction.
    pub(crate) fn finish(mut self) -> Result<()> {
        let result = self
            .conn()
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]).map(|_| ()))
            .doing("ending a read transaction");
        self.discard |= suspect(&result);
        result
    }
}

impl Drop for PooledReader {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            if conn.is_autocommit() && !self.discard {
                self.shared.readers.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn adapter(&self) -> &'static str {
        ADAPTER
    }

    fn limits(&self) -> &Limits {
        &self.shared.options.limits
    }

    async fn declare(&self, collections: &[CollectionDef]) -> Result<DeclareReport> {
        let mut guard = self.shared.begin_write().await?;
        let result = self.shared.catalog_for(&guard).and_then(|c| catalog::declare(&guard, &c, collections));
        let result = match result {
            Ok(report) => {
                let (committed, back) = self.shared.commit_write(guard).await;
                guard = back;
                committed.and_then(|()| catalog::load(&guard)).map(|loaded| {
                    *self.shared.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
                    report
                })
            }
            Err(e) => {
                let _ = guard.execute_batch("ROLLBACK");
                Err(e)
            }
        };
        if suspect(&result) {
            self.shared.renew_writer(&mut guard);
        }
        result
    }

    async fn collections(&self) -> Result<Vec<CollectionDef>> {
        let reader = self.shared.begin_read().await?;
        let catalog = self.shared.catalog_for(reader.conn())?;
        reader.finish()?;
        let mut defs: Vec<CollectionDef> = catalog.collections.values().map(|c| c.def.clone()).collect();
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(defs)
    }

    async fn begin(&self, mode: TxMode) -> Result<Box<dyn Transaction>> {
        let tx = match mode {
            TxMode::ReadWrite => {
                let guard = self.shared.begin_write().await?;
                match self.shared.catalog_for(&guard) {
                    Ok(catalog) => SqliteTransaction::writer(self.shared.clone(), guard, catalog),
                    Err(e) => {
                        let _ = guard.execute_batch("ROLLBACK");
                        return Err(e);
                    }
                }
            }
            TxMode::ReadOnly => {
                let reader = self.shared.begin_read().await?;
                let catalog = self.shared.catalog_for(reader.conn())?;
                SqliteTransaction::reader(self.shared.clone(), reader, catalog)
            }
        };
        Ok(Box::new(tx))
    }
}
