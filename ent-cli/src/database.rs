//! Opening the store named by `--database`.

use std::sync::Arc;

use ent::core::Ent;
use ent::core::storage::Store;
use ent::storage::memory::MemoryStore;
use ent::storage::sqlite::SqliteStore;

/// Opens (creating if needed) the store of a URL and assembles an `Ent` on it: the assembly declares
/// ent-core's collections and checks that the data is not newer than this build.
pub(crate) async fn open(url: &str) -> ent::Result<Ent> {
    let store: Arc<dyn Store> = match url {
        "memory:" => Arc::new(MemoryStore::new()),
        "sqlite::memory:" => Arc::new(SqliteStore::in_memory()?),
        _ => {
            let path = match url.strip_prefix("sqlite:") {
                Some(p) => p.trim_start_matches("//"),
                None if url.ends_with(".db") || url.ends_with(".sqlite") => url,
                None if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                    return Ent::builder(Arc::new(crate::migrate::connect(url).await?)).build().await;
                }
                None => {
                    return Err(ent::Error::Config(format!(
                        "`{url}` is not a database URL: use sqlite:PATH, postgres://USER@HOST/DB[?schema=NAME], sqlite::memory: or memory:"
                    )));
                }
            };
            Arc::new(SqliteStore::open(path)?)
        }
    };
    Ent::builder(store).build().await
}
