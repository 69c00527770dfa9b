//! The store: one database file, pools of writer and reader connections, the write lock.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use ent_core::storage::{CollectionDef, DeclareReport, Limits, Store, Transaction, TxMode};
use ent_core::{Error, Result};
use rusqlite::{Connection, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::catalog::{self, Catalog};
use super::checkpoint::Checkpointer;
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
    pub(crate) fn pragma(self) -> &'static str {
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
    /// How long a transaction's first write waits for another transaction (of this process or another) that
    /// holds SQLite's write lock, before a retryable [`Error::Conflict`].
    pub busy_timeout: Duration,
    /// Most reader connections open at once; read-only transactions wait for one beyond that.
    pub max_readers: usize,
    /// Most read-write transactions open at once (each holds a connection; one at a time holds SQLite's
    /// write lock); more wait for one to end.
    pub max_writers: usize,
    /// Page cache per connection, in KiB.
    pub cache_kib: i64,
    /// How many pages the write-ahead log may hold before they are copied into the database file (a
    /// checkpoint). SQLite's default is 1,000 (4 MiB); 10,000 (40 MiB) here: a page written by many
    /// transactions in a row (an index's hot leaf during an import) is copied once rather than at each of
    /// them.
    pub checkpoint_pages: u32,
    /// Run checkpoints on a thread of the store rather than inside the commit that crosses
    /// `checkpoint_pages` (SQLite's `wal_autocheckpoint`): no request pays for copying the whole log. On
    /// by default; see `checkpoint.rs`.
    pub background_checkpoint: bool,
    /// How much of the database file each connection maps into memory (`PRAGMA mmap_size`), in bytes; 0
    /// (the default) reads pages with `pread` into the page cache. Mapped pages are read without a system
    /// call and without a second copy; the mapping is virtual address space, shared with the operating
    /// system's file cache, not memory of the process. In this project's benchmarks (a mass send, a
    /// directory load) it made no difference beyond their run-to-run spread, hence off by default; an I/O
    /// error on a mapped page ends the process (SIGBUS) instead of failing the read.
    pub mmap_bytes: u64,
    /// The limits the store enforces.
    pub limits: Limits,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            max_readers: 8,
            max_writers: 16,
            cache_kib: 8 * 1024,
            checkpoint_pages: 10_000,
            background_checkpoint: true,
            mmap_bytes: 0,
            limits: Limits::default(),
        }
    }
}

impl SqliteOptions {
    /// The settings of a bulk import writing `people_per_transaction` people per transaction (the `ent`
    /// command's imports and the scale examples), from the defaults:
    ///
    /// - a page cache of 32 KiB per person of a transaction, at least 1 GiB, so that the pages a transaction
    ///   dirties stay in the cache until its commit (spilled to the WAL before, they are written twice). An
    ///   upper bound that SQLite fills only as pages are read: an académie loaded in transactions of 100,000
    ///   people (a 3.2 GB cache) peaked at 4.3 GB of memory;
    /// - a checkpoint every 250,000 WAL pages (1 GiB) instead of 10,000: a page the transactions of an import
    ///   dirty again and again is copied into the file once per checkpoint, so fewer checkpoints copy less (an
    ///   académie load: 42 → 34 GB written, 264 → 229 s). The WAL file grows to a few GiB during the import;
    ///   SQLite removes it when the last connection closes;
    /// - [`Durability::Normal`]: commits are not synced one by one (an académie load: 280 → 217 s on a
    ///   slower machine, the commit's fsync being on the import's path). A power loss may lose the last
    ///   transactions, never half of one, and an import is idempotent: running it again applies them. The
    ///   import calls [`SqliteStore::flush`] at its end, which syncs everything, before it reports success;
    /// - a [`Limits::max_batch_ops`] of 32 operations per person of a transaction (at least the default
    ///   100,000), so that the import writes a transaction in one `write_batch`: every batch after a
    ///   transaction's first runs in a savepoint, whose statement journal copies each page the batch
    ///   touches (8% of the writing thread in an académie load, at 50,000 people and 100,000 operations
    ///   per batch). A person is about 13 operations.
    ///
    /// [`Limits::max_batch_ops`]: ent_core::storage::Limits::max_batch_ops
    pub fn for_import(people_per_transaction: usize) -> SqliteOptions {
        let defaults = SqliteOptions::default();
        let per_transaction = i64::try_from(people_per_transaction).unwrap_or(i64::MAX).saturating_mul(32);
        let limits = Limits {
            max_batch_ops: defaults.limits.max_batch_ops.max(people_per_transaction.saturating_mul(32)),
            ..defaults.limits
        };
        SqliteOptions {
            cache_kib: defaults.cache_kib.max(per_transaction).max(1 << 20),
            checkpoint_pages: 250_000,
            durability: Durability::Normal,
            limits,
            ..defaults
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
/// # drop(store);
/// # std::fs::remove_dir_all(&dir).ok();
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
    writers: Pool,
    readers: Pool,
    catalog: RwLock<Arc<Catalog>>,
    /// The size limit of [`SqliteStore::set_size_limit`] (`max_page_count`) and its generation: a pooled
    /// writer connection of an older generation gets the new limit when it is taken.
    size_limit: Mutex<(u64, Option<i64>)>,
    /// The checkpoint thread, with [`SqliteOptions::background_checkpoint`]. Dropped after the pools (its
    /// thread stops and its connection closes) and before the temporary folder.
    checkpointer: Option<Checkpointer>,
    // Last, so that it is dropped after the connections.
    _temp: Option<TempDir>,
}

/// Idle connections of one kind, and the permits that bound how many are open.
struct Pool {
    idle: Mutex<Vec<(Connection, u64)>>,
    slots: Arc<Semaphore>,
}

impl Pool {
    fn new(max: usize) -> Pool {
        Pool { idle: Mutex::new(Vec::new()), slots: Arc::new(Semaphore::new(max.max(1))) }
    }
}

/// The two kinds of connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Opened read-only: read-only transactions.
    Reader,
    /// Opened read-write: read-write transactions (one at a time holds SQLite's write lock).
    Writer,
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
        SqliteStore::in_memory_with(SqliteOptions::default())
    }

    /// [`SqliteStore::in_memory`] with options (its durability is always [`Durability::Off`]).
    pub fn in_memory_with(options: SqliteOptions) -> Result<SqliteStore> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() { base.to_owned() } else { std::env::temp_dir() };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir =
            base.join(format!("ent-sqlite-{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir(&dir)
            .map_err(|e| Error::storage(ADAPTER, format!("creating {}: {e}", dir.display()), false))?;
        let options = SqliteOptions { durability: Durability::Off, ..options };
        SqliteStore::open_inner(dir.join("ent.db"), options, Some(TempDir(dir)))
    }

    fn open_inner(path: PathBuf, options: SqliteOptions, temp: Option<TempDir>) -> Result<SqliteStore> {
        let shown = path.display().to_string();
        let mut writer = open_writer(&path, &options)?;
        schema::prepare(&writer, &shown, options.busy_timeout)?;
        schema::configure(&writer, &options)?;
        let checkpointer = match options.background_checkpoint {
            true => {
                let conn = open_writer(&path, &options)?;
                schema::configure(&conn, &options)?;
                let checkpointer = Checkpointer::start(conn, options.checkpoint_pages)?;
                checkpointer.hook(&mut writer)?;
                Some(checkpointer)
            }
            false => None,
        };
        super::blob::remove_abandoned_uploads(&writer, chrono::Utc::now())?;
        writer.busy_timeout(Duration::ZERO).doing("setting busy_timeout")?;
        let catalog = catalog::load(&writer)?;
        let shared = Shared {
            path,
            writers: Pool::new(options.max_writers),
            readers: Pool::new(options.max_readers),
            options,
            catalog: RwLock::new(Arc::new(catalog)),
            size_limit: Mutex::new((0, None)),
            checkpointer,
            _temp: temp,
        };
        // Open one reader now, so that a file readers cannot open is refused at open, not later.
        let reader = shared.open(Kind::Reader)?;
        lock(&shared.readers.idle).push((reader, 0));
        lock(&shared.writers.idle).push((writer, 0));
        Ok(SqliteStore { shared: Arc::new(shared) })
    }

    /// How many checkpoints the store's checkpoint thread has run (0 without
    /// [`SqliteOptions::background_checkpoint`]): for monitoring, and for tests.
    pub fn background_checkpoints(&self) -> u64 {
        self.shared.checkpointer.as_ref().map_or(0, Checkpointer::runs)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Runs `PRAGMA integrity_check` and returns its findings (empty when the file is sound; damage so deep
    /// that SQLite stops the check is one finding).
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        let mut reader = self.shared.begin_read().await?;
        let check = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = reader.conn().prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.filter(|row| !matches!(row.as_deref(), Ok("ok"))).collect()
        };
        match check() {
            Ok(findings) => {
                reader.discard = !findings.is_empty();
                Ok(findings)
            }
            Err(e) if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)) => {
                reader.discard = true;
                Ok(vec![e.to_string()])
            }
            Err(e) => Err(map("integrity_check", &e)),
        }
    }

    /// Makes every transaction committed so far durable, whatever the store's [`Durability`], and copies the
    /// write-ahead log into the database file when nothing stands in the way.
    ///
    /// What a bulk import opened with [`SqliteOptions::for_import`] ([`Durability::Normal`]: its commits are
    /// not synced one by one) calls at its end, so that it is durable when it reports success. It runs
    /// `PRAGMA wal_checkpoint(TRUNCATE)` with `synchronous=FULL` (SQLite syncs the log before copying it and
    /// the file after), once the store's checkpoint thread is done with the log. If a reader or a writer keeps
    /// part of the log (the checkpoint reports busy), it syncs the log file itself, which makes the commits it
    /// holds durable just the same.
    pub async fn flush(&self) -> Result<()> {
        let conn = self.shared.take(Kind::Writer).await?;
        let wal = wal_path(&self.shared.path);
        let durability = self.shared.options.durability.pragma();
        let shared = self.shared.clone();
        crate::blocking::run(move || {
            let c = conn.conn();
            c.pragma_update(None, "synchronous", "FULL").doing("flushing")?;
            // The store's checkpoint thread, if it is copying the log, would make this checkpoint busy at once
            // (one checkpoint at a time): the log would then stay as long as the import made it, for the next
            // flush to copy. It is waited for, and kept from starting until this one is done.
            let _paused = shared.checkpointer.as_ref().map(Checkpointer::pause);
            let checkpoint = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
            c.pragma_update(None, "synchronous", durability).doing("flushing")?;
            if checkpoint.doing("flushing")? != 0 {
                let synced = match std::fs::File::open(&wal) {
                    Ok(file) => file.sync_all(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                };
                synced.map_err(|e| {
                    Error::storage(
                        ADAPTER,
                        format!("syncing `{}`: {e}", wal.display()),
                        e.kind() == std::io::ErrorKind::Interrupted,
                    )
                })?;
            }
            Ok(())
        })
        .await
    }

    /// Sets the largest size the database may grow to, in bytes (`None`: no limit): past it, writes fail
    /// with [`Error::Storage`] "disk full" and the store goes on serving reads and smaller writes. A quota,
    /// and the way tests simulate a full disk.
    pub async fn set_size_limit(&self, bytes: Option<u64>) -> Result<()> {
        let page_size: i64 = self
            .shared
            .read(|conn| conn.pragma_query_value(None, "page_size", |r| r.get(0)).doing("reading page_size"))
            .await?;
        let pages = bytes.map(|b| (b as i64 / page_size).max(1));
        let mut limit = lock(&self.shared.size_limit);
        *limit = (limit.0 + 1, pages);
        Ok(())
    }
}

/// SQLite's write-ahead log of a database file: its path with `-wal` appended.
fn wal_path(db: &Path) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push("-wal");
    PathBuf::from(path)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens a writer connection, refusing a file that cannot be written.
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

/// The error of a writer that waited `busy_timeout` for the write lock in vain: another transaction (of
/// this process or another) kept it; running the transaction again may succeed.
fn lock_timeout(busy_timeout: Duration) -> Error {
    Error::Conflict {
        what: format!("transaction: another transaction held the write lock for more than {busy_timeout:?}"),
        expected: None,
        found: None,
        retryable: true,
    }
}

impl Shared {
    fn open(&self, kind: Kind) -> Result<Connection> {
        let mut conn = match kind {
            Kind::Writer => open_writer(&self.path, &self.options)?,
            Kind::Reader => Connection::open_with_flags(&self.path, schema::reader_flags())
                .map_err(|e| map(&format!("opening a reader on `{}`", self.path.display()), &e))?,
        };
        // A writer never waits inside a statement: a write that finds the lock taken after this transaction
        // read fails at once (waiting could only end in a stale snapshot); only `lock` waits, off the executor.
        let timeout = match kind {
            Kind::Writer => Duration::ZERO,
            Kind::Reader => self.options.busy_timeout,
        };
        conn.busy_timeout(timeout).doing("setting busy_timeout")?;
        schema::configure(&conn, &self.options)?;
        if let (Kind::Writer, Some(checkpointer)) = (kind, &self.checkpointer) {
            checkpointer.hook(&mut conn)?;
        }
        Ok(conn)
    }

    /// Takes a connection of that kind from its pool (opening one if none is idle), outside any transaction.
    pub(crate) async fn take(self: &Arc<Self>, kind: Kind) -> Result<Pooled> {
        let pool = match kind {
            Kind::Writer => &self.writers,
            Kind::Reader => &self.readers,
        };
        let permit = pool
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::storage(ADAPTER, "the connection pool is closed", false))?;
        let idle = lock(&pool.idle).pop();
        let (conn, mut generation) = match idle {
            Some(idle) => idle,
            None => (self.open(kind)?, 0),
        };
        if kind == Kind::Writer {
            let (current, pages) = *lock(&self.size_limit);
            if generation != current {
                let pages = pages.unwrap_or(i64::from(u32::MAX - 1));
                conn.pragma_update(None, "max_page_count", pages).doing("setting max_page_count")?;
                generation = current;
            }
        }
        Ok(Pooled { conn: Some(conn), generation, kind, shared: self.clone(), _permit: permit, discard: false })
    }

    /// Starts a write transaction on a writer connection: `BEGIN IMMEDIATE` takes SQLite's write lock now,
    /// so write transactions of this store and of other processes run one after the other. If another
    /// transaction holds the lock, waits for it up to `busy_timeout` on tokio's blocking pool (never on an
    /// executor thread), then fails with a retryable [`Error::Conflict`].
    pub(crate) async fn lock(&self, conn: Pooled) -> (Result<()>, Pooled) {
        let first = conn.conn().prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([]));
        match first {
            Ok(_) => (Ok(()), conn),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
                let timeout = self.options.busy_timeout;
                crate::blocking::run(move || {
                    let mut conn = conn;
                    // SQLite's own busy timeout sleeps up to 100 ms between tries; poll every half
                    // millisecond instead, so that the lock passes from one transaction to the next at once.
                    let deadline = std::time::Instant::now() + timeout;
                    let poll = move |_tries: i32| {
                        let waiting = std::time::Instant::now() < deadline;
                        if waiting {
                            std::thread::sleep(Duration::from_micros(500));
                        }
                        waiting
                    };
                    let begun = conn
                        .conn_mut()
                        .busy_handler(Some(poll))
                        .and_then(|()| conn.conn().execute_batch("BEGIN IMMEDIATE"));
                    let _ = conn.conn().busy_timeout(Duration::ZERO);
                    let result = match begun {
                        Ok(()) => Ok(()),
                        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => Err(lock_timeout(timeout)),
                        Err(e) => Err(map("starting a write transaction", &e)),
                    };
                    (result, conn)
                })
                .await
            }
            Err(e) => (Err(map("starting a write transaction", &e)), conn),
        }
    }

    /// Waits until no transaction holds the write lock (or `busy_timeout` passed), without keeping it: a
    /// transaction that lost the lock calls it before reporting its conflict.
    pub(crate) async fn wait_for_writer(self: &Arc<Self>) {
        if let Ok(conn) = self.take(Kind::Writer).await {
            let (locked, conn) = self.lock(conn).await;
            if locked.is_ok() {
                let _ = conn.conn().execute_batch("ROLLBACK");
            }
        }
    }

    /// Commits and hands the connection back. On error the transaction is rolled back: nothing was applied.
    ///
    /// A commit that wrote waits for an fsync with [`Durability::Full`], so it runs on the blocking pool;
    /// otherwise it only appends to the WAL (an occasional checkpoint aside) and runs inline, cheaper than a
    /// thread hop.
    /// Commits on tokio's blocking pool when the commit waits for the disk (`Durability::Full`) or writes
    /// many pages (`large`: a transaction of a bulk import), inline otherwise.
    pub(crate) async fn commit(&self, conn: Pooled, wrote: bool, large: bool) -> (Result<()>, Pooled) {
        let commit = move || {
            let c = conn.conn();
            let result = c.prepare_cached("COMMIT").and_then(|mut s| s.execute([]).map(|_| ()));
            if result.is_err() && !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
            let mut conn = conn;
            let result = result.doing("commit");
            conn.discard |= suspect(&result);
            (result, conn)
        };
        match (wrote, self.options.durability) {
            (true, Durability::Full) => crate::blocking::run(commit).await,
            (true, Durability::Normal) if large => crate::blocking::run(commit).await,
            _ => commit(),
        }
    }

    /// Takes a reader and starts a read transaction on a snapshot taken now.
    pub(crate) async fn begin_read(self: &Arc<Self>) -> Result<Pooled> {
        let reader = self.take(Kind::Reader).await?;
        reader.conn().prepare_cached("BEGIN").and_then(|mut s| s.execute([])).doing("starting a read transaction")?;
        Ok(reader)
    }

    /// The catalog as of the connection's snapshot (reloaded if another declaration happened since).
    pub(crate) fn catalog_for(&self, conn: &Connection) -> Result<Arc<Catalog>> {
        let generation = catalog::generation(conn)?;
        let current = self.catalog();
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

    /// The catalog as last read.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `f` in a write transaction of its own and commits it.
    pub(crate) async fn write<T>(self: &Arc<Self>, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let (locked, mut conn) = self.lock(self.take(Kind::Writer).await?).await;
        locked?;
        match f(conn.conn()) {
            Ok(value) => self.commit(conn, true, false).await.0.map(|()| value),
            Err(e) => {
                conn.discard = suspect::<()>(&Err(e.clone()));
                Err(e)
            }
        }
    }

    /// Runs `f` in a read transaction of its own.
    pub(crate) async fn read<T>(self: &Arc<Self>, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut reader = self.begin_read().await?;
        let result = f(reader.conn());
        reader.discard = suspect(&result);
        let value = result?;
        self.commit(reader, false, false).await.0?;
        Ok(value)
    }
}

/// A connection taken from its pool; it goes back when dropped (its transaction rolled back if one is
/// still open), unless it is to be discarded.
pub(crate) struct Pooled {
    conn: Option<Connection>,
    generation: u64,
    kind: Kind,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
    /// Close the connection instead of returning it to the pool (see [`suspect`]).
    pub(crate) discard: bool,
}

/// Whether a result is a failure after which a connection's page cache may hold wrong pages: any
/// non-retryable storage error (corruption, I/O). Such a connection is closed rather than pooled, so that
/// no wrong page stays cached and the store recovers by itself once the file is repaired.
pub(crate) fn suspect<T>(result: &Result<T>) -> bool {
    matches!(result, Err(Error::Storage { retryable: false, .. }))
}

impl Pooled {
    pub(crate) fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("a pooled connection is held until dropped")
    }

    fn conn_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("a pooled connection is held until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            if conn.is_autocommit() && !self.discard {
                let pool = match self.kind {
                    Kind::Writer => &self.shared.writers,
                    Kind::Reader => &self.shared.readers,
                };
                lock(&pool.idle).push((conn, self.generation));
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
        let shared = &self.shared;
        let (locked, mut conn) = shared.lock(shared.take(Kind::Writer).await?).await;
        locked?;
        let result = shared.catalog_for(conn.conn()).and_then(|c| catalog::declare(conn.conn(), &c, collections));
        match result {
            Ok(report) => {
                let (committed, conn) = shared.commit(conn, true, false).await;
                committed?;
                let loaded = Arc::new(catalog::load(conn.conn())?);
                *shared.catalog.write().unwrap_or_else(|e| e.into_inner()) = loaded;
                Ok(report)
            }
            Err(e) => {
                conn.discard = suspect::<()>(&Err(e.clone()));
                Err(e)
            }
        }
    }

    async fn collections(&self) -> Result<Vec<CollectionDef>> {
        let catalog = self.shared.read(|conn| self.shared.catalog_for(conn)).await?;
        let mut defs: Vec<CollectionDef> = catalog.collections.values().map(|c| c.def.clone()).collect();
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(defs)
    }

    async fn begin(&self, mode: TxMode) -> Result<Box<dyn Transaction>> {
        let tx = match mode {
            TxMode::ReadWrite => {
                let conn = self.shared.take(Kind::Writer).await?;
                SqliteTransaction::writer(self.shared.clone(), conn)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_settings_grow_the_cache_with_the_transactions_and_keep_the_rest() {
        let small = SqliteOptions::for_import(2_000);
        assert_eq!((small.cache_kib, small.checkpoint_pages), (1 << 20, 250_000), "at least 1 GiB");
        assert_eq!(SqliteOptions::for_import(100_000).cache_kib, 3_200_000, "32 KiB per person");
        assert_eq!(SqliteOptions::for_import(usize::MAX).cache_kib, i64::MAX, "no overflow");
        assert_eq!(small.durability, Durability::Normal, "commits not synced one by one; flush at the end");
        assert!(small.background_checkpoint);
        assert_eq!(small.limits.max_batch_ops, 100_000, "at least the default");
        assert_eq!(SqliteOptions::for_import(50_000).limits.max_batch_ops, 1_600_000, "a transaction in one batch");
        assert_eq!(SqliteOptions::for_import(usize::MAX).limits.max_batch_ops, usize::MAX, "no overflow");
        assert_eq!(small.limits.max_scan_limit, Limits::default().max_scan_limit, "the other limits as they were");
    }
}
