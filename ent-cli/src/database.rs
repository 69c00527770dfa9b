//! Opening the store named by `--database`.

use std::sync::Arc;

use ent::core::Ent;
use ent::core::storage::Store;
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
    Import { chunk: u32 },
}

/// The SQLite page cache of an import's connections, in KiB: at least 1 GiB, and 32 KiB per person of a
/// transaction, so that the pages a transaction dirties stay in the cache until its commit (spilled to the
/// WAL before, they are written twice). An upper bound that SQLite fills only as pages are read: an
/// académie loaded in transactions of 100,000 people (a 3.2 GB cache) peaked at 4.3 GB of memory.
fn import_cache_kib(chunk: u32) -> i64 {
    (i64::from(chunk) * 32).max(1 << 20)
}

/// WAL pages between two checkpoints of an import (1 GiB; a portal's default is 10,000, 40 MiB): a page
/// the transactions of an import dirty again and again is copied into the file once per checkpoint, so
/// fewer checkpoints copy less (an académie load: 42 → 34 GB written, 264 → 229 s). The WAL file grows to
/// a few GiB during the import; SQLite removes it when the last connection closes.
const IMPORT_CHECKPOINT_PAGES: u32 = 250_000;

/// Opens (creating if needed) the store of a URL and assembles an `Ent` on it: the assembly declares
/// ent-core's collections and checks that the data is not newer than this build.
pub(crate) async fn open(url: &str, usage: Usage) -> ent::Result<Ent> {
    let store: Arc<dyn Store> = match Target::parse(url)? {
        Target::Memory => Arc::new(MemoryStore::new()),
        Target::SqliteMemory => Arc::new(SqliteStore::in_memory()?),
        Target::SqliteFile(path) => {
            let mut options = SqliteOptions::default();
            if let Usage::Import { chunk } = usage {
                options.cache_kib = options.cache_kib.max(import_cache_kib(chunk));
                options.checkpoint_pages = IMPORT_CHECKPOINT_PAGES;
            }
            Arc::new(SqliteStore::open_with(path, options)?)
        }
        Target::Postgres(url) => Arc::new(crate::migrate::connect(url).await?),
    };
    Ent::builder(store).build().await
}
