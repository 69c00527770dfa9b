//! The store: a pool of connections to the primary (and, optionally, one to a replica for read-only
//! transactions), the catalog cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use ent_core::storage::{CollectionDef, DeclareReport, Limits, Store, Transaction, TxMode};
use ent_core::{Error, Result};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Client, NoTls, Statement};

use super::catalog::{self, Catalog};
use super::error::{ADAPTER, Context, is_connection_lost, map};
use super::schema;
use super::transaction::PgTransaction;

/// Settings of a [`PostgresStore`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The PostgreSQL schema that holds the ent tables (created if missing); `None`: the first schema of
    /// the connection's `search_path` (usually `public`). Lowercase ASCII letters, digits and `_`.
    pub schema: Option<String>,
    /// Most connections to the primary open at once; transactions wait for one beyond that. A
    /// transaction holds its connection from its first operation to its end.
    pub max_connections: usize,
    /// A replica (a hot standby streaming from the primary) that serves read-only transactions, with
    /// its own pool of `max_connections`; `None`: the primary serves them. See `docs/postgres.md`.
    pub replica_url: Option<String>,
    /// How long connecting may take before [`Error::Storage`] (retryable): a server that is down or
    /// unreachable fails fast instead of hanging.
    pub connect_timeout: Duration,
    /// How long a statement waits for a row lock held by another transaction before a retryable
    /// [`Error::Conflict`] (PostgreSQL's `lock_timeout`).
    pub lock_timeout: Duration,
    /// A transaction left open without activity longer than this is ended by the server
    /// (`idle_in_transaction_session_timeout`), so that a stuck client cannot hold locks forever.
    pub idle_in_transaction_timeout: Duration,
    /// The limits the store enforces.
    pub limits: Limits,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: None,
            max_connections: 16,
            replica_url: None,
            connect_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(5),
            idle_in_transaction_timeout: Duration::from_secs(300),
            limits: Limits::default(),
        }
    }
}

impl PostgresOptions {
    /// Reads the adapter's own parameter from a URL (`schema=NAME` in its query string, which the driver
    /// would refuse) and returns the URL without it, with default options naming that schema.
    ///
    /// ```
    /// use ent_storage::postgres::PostgresOptions;
    /// let (url, options) = PostgresOptions::from_url("postgres://ent@db/ent?schema=lycee_hugo&sslmode=disable");
    /// assert_eq!(url, "postgres://ent@db/ent?sslmode=disable");
    /// assert_eq!(options.schema.as_deref(), Some("lycee_hugo"));
    /// ```
    pub fn from_url(url: &str) -> (String, PostgresOptions) {
        let mut options = PostgresOptions::default();
        let Some((base, query)) = url.split_once('?') else { return (url.to_owned(), options) };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.strip_prefix("schema=") {
                Some(schema) => options.schema = Some(schema.to_owned()),
                None if !pair.is_empty() => kept.push(pair),
                None => {}
            }
        }
        let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        (url, options)
    }
}

/// The PostgreSQL adapter of the storage port.
///
/// ```no_run
/// use ent_core::storage::{CollectionDef, KeyKind, NewRecord, Store, TxMode};
/// use ent_storage::postgres::PostgresStore;
/// # async fn demo() -> ent_core::Result<()> {
/// let store = PostgresStore::connect("postgres://ent@127.0.0.1/ent").await?;
/// store.declare(&[CollectionDef::new("doc.notes", [KeyKind::Str])]).await?;
/// let mut tx = store.begin(TxMode::ReadWrite).await?;
/// tx.insert("doc.notes", NewRecord::from_value(("a",), 1, &"hello")?).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) shared: Arc<Shared>,
}

/// What the store's handles share.
pub(crate) struct Shared {
    pub(crate) options: PostgresOptions,
    pub(crate) primary: Arc<Pool>,
    replica: Option<Arc<Pool>>,
    catalog: RwLock<Arc<Catalog>>,
    /// Commits since the markers were last cleaned.
    commits: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("database", &self.primary.shown).field("options", &self.options).finish()
    }
}

/// A pool of connections to one server.
pub(crate) struct Pool {
    config: tokio_postgres::Config,
    /// `host:port/dbname (schema)`, without credentials, for messages.
    pub(crate) shown: String,
    /// The session settings every new connection runs.
    setup: String,
    connect_timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    slots: Arc<Semaphore>,
}

/// One connection and its prepared statements.
pub(crate) struct Conn {
    pub(crate) client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    /// The prepared statement of `sql` (prepared once per connection).
    pub(crate) async fn prepare(&mut self, sql: &str) -> std::result::Result<Statement, tokio_postgres::Error> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(sql).await?;
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn check_schema_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("postgres schema", format!("`{name}`: lowercase ASCII letters, digits and `_`")))
    }
}

/// A duration in milliseconds, as PostgreSQL settings take it.
fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

impl Pool {
    fn new(url: &str, options: &PostgresOptions) -> Result<Pool> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| Error::Config(format!("`{}` is not a PostgreSQL URL: {e}", redact(url))))?;
        config.connect_timeout(options.connect_timeout);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("ent");
        }
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(h) => h.clone(),
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().or(config.get_user()).unwrap_or("postgres").to_owned();
        let mut setup = format!(
            "SET lock_timeout = {}; SET idle_in_transaction_session_timeout = {}; \
             SET plan_cache_mode = force_generic_plan;",
            millis(options.lock_timeout),
            millis(options.idle_in_transaction_timeout)
        );
        let shown = match &options.schema {
            Some(schema) => {
                check_schema_name(schema)?;
                setup.push_str(&format!(" SET search_path = \"{schema}\";"));
                format!("`{host}:{port}/{db}` (schema `{schema}`)")
            }
            None => format!("`{host}:{port}/{db}`"),
        };
        Ok(Pool {
            config,
            shown,
            setup,
            connect_timeout: options.connect_timeout,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(options.max_connections.max(1))),
        })
    }

    /// Opens a connection, under the connect timeout, and applies the session settings.
    async fn connect(&self) -> Result<Conn> {
        let doing = format!("connecting to {}", self.shown);
        let connected = tokio::time::timeout(self.connect_timeout, self.config.connect(NoTls)).await;
        let (client, connection) = match connected {
            Err(_) => {
                return Err(Error::storage(
                    ADAPTER,
                    format!(
                        "{doing}: no answer within {:?}; the server may be down or unreachable",
                        self.connect_timeout
                    ),
                    true,
                ));
            }
            Ok(Err(e)) => return Err(map(&doing, &e)),
            Ok(Ok(pair)) => pair,
        };
        tokio::spawn(async move {
            // Ends when the connection closes; its errors reach the client's calls.
            let _ = connection.await;
        });
        client.batch_execute(&self.setup).await.doing("setting up a connection")?;
        Ok(Conn { client, statements: HashMap::new() })
    }

    /// Takes a connection (an idle one that is still open, or a new one).
    pub(crate) async fn take(self: &Arc<Self>) -> Result<Pooled> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::storage(ADAPTER, "the connection pool is closed", false))?;
        let idle = loop {
            let Some(conn) = lock(&self.idle).pop() else { break None };
            if !conn.client.is_closed() {
                break Some(conn);
            }
        };
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        Ok(Pooled { conn: Some(conn), pool: self.clone(), permit: Some(permit), end: None, discard: false })
    }

    /// Replaces a lost connection by a new one, keeping the caller's place in the pool.
    pub(crate) async fn reconnect(self: &Arc<Self>, pooled: &mut Pooled) -> Result<()> {
        pooled.conn = None;
        pooled.end = None;
        pooled.discard = false;
        pooled.conn = Some(self.connect().await?);
        Ok(())
    }
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &credentials[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A connection taken from its pool; it goes back when dropped, after `end` (`COMMIT` or `ROLLBACK`)
/// if a transaction is still open, unless it is to be discarded.
pub(crate) struct Pooled {
    conn: Option<Conn>,
    pool: Arc<Pool>,
    permit: Option<OwnedSemaphorePermit>,
    /// What ends the transaction still open on the connection, run before it goes back to the pool.
    pub(crate) end: Option<&'static str>,
    /// Close the connection instead of returning it (it was lost, or is in an unknown state).
    pub(crate) discard: bool,
}

impl Pooled {
    pub(crate) fn conn(&mut self) -> Result<&mut Conn> {
        self.conn.as_mut().ok_or_else(|| Error::storage(ADAPTER, "the connection was lost", true))
    }

    /// Notes an error: a connection that was lost is not returned to the pool.
    pub(crate) fn saw(&mut self, err: &tokio_postgres::Error) {
        if is_connection_lost(err) {
            self.discard = true;
        }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.discard || conn.client.is_closed() {
            return;
        }
        let pool = self.pool.clone();
        let permit = self.permit.take();
        match self.end.take() {
            None => lock(&pool.idle).push(conn),
            Some(end) => {
                // The transaction is ended off the caller's path; the connection (and its place in the
                // pool) comes back once the server answered. Without a runtime it is closed, which ends
                // the transaction on the server too.
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    handle.spawn(async move {
                        if conn.client.batch_execute(end).await.is_ok() {
                            lock(&pool.idle).push(conn);
                        }
                        drop(permit);
                    });
                }
            }
        }
    }
}

impl PostgresStore {
    /// Connects with the default options, checks the database and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        PostgresStore::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects, checks the database and brings its schema up to date.
    ///
    /// Fails, leaving the database as it was, if the server cannot be reached within
    /// [`PostgresOptions::connect_timeout`] ([`Error::Storage`], retryable), if the schema holds tables of
    /// another application ([`Error::Storage`] saying so), or if its ent schema is newer than this code
    /// ([`Error::SchemaTooNew`]).
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<PostgresStore> {
        let primary = Arc::new(Pool::new(url, &options)?);
        let replica = match &options.replica_url {
            Some(replica) => Some(Arc::new(Pool::new(
                replica,
                &PostgresOptions { schema: options.schema.clone(), ..options.clone() },
            )?)),
            None => None,
        };
        let mut conn = primary.take().await?;
        if let Some(schema) = &options.schema {
            conn.conn()?
                .client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .doing("creating the schema")?;
        }
        schema::prepare(&conn.conn()?.client, &primary.shown).await?;
        super::blob::remove_abandoned_uploads(&conn.conn()?.client, chrono::Utc::now()).await?;
        let catalog = catalog::load(&conn.conn()?.client).await?;
        drop(conn);
        Ok(PostgresStore {
            shared: Arc::new(Shared {
                options,
                primary,
                replica,
                catalog: RwLock::new(Arc::new(catalog)),
                commits: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// Where the store is, for messages: `host:port/dbname` and the schema, never a password.
    pub fn shown(&self) -> &str {
        &self.shared.primary.shown
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &PostgresOptions {
        &self.shared.options
    }
}

impl Shared {
    /// The catalog as last read.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Installs a catalog read later than the current one.
    pub(crate) fn install(&self, catalog: Arc<Catalog>) {
        let mut slot = self.catalog.write().unwrap_or_else(|e| e.into_inner());
        if catalog.generation >= slot.generation {
            *slot = catalog;
        }
    }

    /// Counts a read-write commit; every few hundred, removes the read markers no running transaction can
    /// conflict with any more, in the background (a `READ COMMITTED` statement: no dependency of its own).
    pub(crate) fn committed(self: &Arc<Self>) {
        let n = self.commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 256 != 255 {
            return;
        }
        let shared = self.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = shared
                    .with_conn(async |conn| {
                        conn.client.batch_execute(super::transaction::CLEAN_MARKERS).await.doing("cleaning markers")
                    })
                    .await;
            });
        }
    }

    /// The pool of a transaction mode.
    pub(crate) fn pool(&self, mode: TxMode) -> &Arc<Pool> {
        match (mode, &self.replica) {
            (TxMode::ReadOnly, Some(replica)) => replica,
            _ => &self.primary,
        }
    }

    /// Runs `f` on a connection of the primary outside any transaction (each statement commits on its
    /// own; `f` runs its own `BEGIN`/`COMMIT` when it needs several).
    pub(crate) async fn with_conn<T>(self: &Arc<Self>, f: impl AsyncFnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let mut pooled = self.primary.take().await?;
        let result = f(pooled.conn()?).await;
        if let Err(Error::Storage { retryable: true, .. }) = &result {
            // Possibly a lost connection, possibly inside a transaction f did not end: do not reuse it.
            pooled.discard = true;
        }
        result
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn adapter(&self) -> &'static str {
        ADAPTER
    }

    fn limits(&self) -> &Limits {
        &self.shared.options.limits
    }

    async fn declare(&self, collections: &[CollectionDef]) -> Result<DeclareReport> {
        let shared = self.shared.clone();
        self.shared
            .with_conn(async move |conn| {
                let report = catalog::declare(&conn.client, collections).await?;
                shared.install(Arc::new(catalog::load(&conn.client).await?));
                Ok(report)
            })
            .await
    }

    async fn collections(&self) -> Result<Vec<CollectionDef>> {
        let shared = self.shared.clone();
        let catalog = self
            .shared
            .with_conn(async move |conn| {
                let catalog = Arc::new(catalog::load(&conn.client).await?);
                shared.install(catalog.clone());
                Ok(catalog)
            })
            .await?;
        let mut defs: Vec<CollectionDef> = catalog.collections.values().map(|c| c.def.clone()).collect();
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(defs)
    }

    async fn begin(&self, mode: TxMode) -> Result<Box<dyn Transaction>> {
        let conn = self.shared.pool(mode).take().await?;
        Ok(Box::new(PgTransaction::new(self.shared.clone(), conn, mode)))
    }
}
