//! Opening the store named by `--database`.

use std::sync::Arc;

use ent::core::Ent;
use ent::core::directory::User;
use ent::core::storage::{Record, Scan, Store, TxMode};
use ent::storage::memory::MemoryStore;
use ent::storage::sqlite::{SqliteOptions, SqliteStore};

/// What a `--database` URL names.
pub(crate) enum Target<'a> {
    /// `memory:`: the memory adapter (forgets everything on exit).
    Memory,
    /// `sqlite::memory:`: a SQLite database in memory.
    SqliteMemory,
    /// `sqlite:PATH`, or a path ending in `.db` or `.sqlite`.
    SqliteFile(&'a str),
    /// `postgres://…` or `postgresql://…`.
    Postgres(&'a str),
}

impl<'a> Target<'a> {
    /// Reads a URL, or says which forms are accepted.
    pub(crate) fn parse(url: &'a str) -> ent::Result<Target<'a>> {
        Ok(match url {
            "memory:" => Target::Memory,
            "sqlite::memory:" => Target::SqliteMemory,
            _ => match url.strip_prefix("sqlite:") {
                Some(p) => Target::SqliteFile(p.trim_start_matches("//")),
                None if url.ends_with(".db") || url.ends_with(".sqlite") => Target::SqliteFile(url),
                None if url.starts_with("postgres:") || url.starts_with("postgresql:") => Target::Postgres(url),
                None => {
                    return Err(ent::Error::Config(format!(
                        "`{url}` is not a database URL: use sqlite:PATH, postgres://USER@HOST/DB[?schema=NAME], sqlite::memory: or memory:"
                    )));
                }
            },
        })
    }
}

/// What the store is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// A portal: many short transactions.
    Serve,
    /// An import in transactions of this many people.
    Import { chunk: usize },
}

/// An open database: the assembly, and the SQLite file store when it is one (for [`Database::flush`]).
pub(crate) struct Database {
    pub(crate) ent: Ent,
    sqlite: Option<SqliteStore>,
}

impl Database {
    /// Whether the directory holds an account (one key read).
    pub(crate) async fn has_accounts(&self) -> ent::Result<bool> {
        let mut tx = self.ent.store().begin(TxMode::ReadOnly).await?;
        Ok(!tx.scan(&Scan::primary(User::COLLECTION).limit(1).keys_only()).await?.entries.is_empty())
    }

    /// Makes what was committed durable: an import's SQLite store does not sync its commits one by one
    /// (`SqliteOptions::for_import`), so a command that wrote calls this before it reports success. The
    /// other stores' commits are durable already.
    pub(crate) async fn flush(&self) -> ent::Result<()> {
        match &self.sqlite {
            Some(store) => store.flush().await,
            None => Ok(()),
        }
    }
}

/// Opens (creating if needed) the store of a URL and assembles an `Ent` on it: the assembly declares
/// ent-core's collections and checks that the data is not newer than this build.
pub(crate) async fn open(url: &str, usage: Usage) -> ent::Result<Database> {
    let mut sqlite = None;
    let store: Arc<dyn Store> = match Target::parse(url)? {
        Target::Memory => Arc::new(MemoryStore::new()),
        Target::SqliteMemory => Arc::new(SqliteStore::in_memory()?),
        Target::SqliteFile(path) => {
            let options = match usage {
                Usage::Serve => SqliteOptions::default(),
                Usage::Import { chunk } => SqliteOptions::for_import(chunk),
            };
            let store = SqliteStore::open_with(path, options)?;
            sqlite = Some(store.clone());
            Arc::new(store)
        }
        Target::Postgres(url) => Arc::new(crate::migrate::connect(url).await?),
    };
    Ok(Database { ent: Ent::builder(store).build().await?, sqlite })
}
