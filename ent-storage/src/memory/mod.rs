//! The in-memory adapter: real transactions over persistent (structurally shared) maps.
//!
//! Not a map behind a lock: each transaction works on its own O(1) snapshot of the committed state, sees
//! its own writes, and is validated at commit against the write sets of the transactions that committed
//! since it began (optimistic concurrency control, as FoundationDB does). A transaction whose reads (point
//! reads and scanned ranges) intersect a later commit's writes fails with a retryable conflict, which makes
//! the isolation serializable: no lost update, no write skew, no phantom.
//!
//! Use it for tests, examples, and as the reference the other adapters are compared with.
//!
//! ```
//! # futures::executor::block_on(async {
//! use ent_core::storage::{CollectionDef, KeyKind, NewRecord, Store, TxMode};
//! use ent_storage::memory::MemoryStore;
//!
//! let store = MemoryStore::new();
//! store.declare(&[CollectionDef::new("demo.things", [KeyKind::Str])]).await?;
//! let mut tx = store.begin(TxMode::ReadWrite).await?;
//! tx.insert("demo.things", NewRecord::from_value(("a",), 1, &serde_json::json!({"n": 1}))?).await?;
//! tx.commit().await?;
//!
//! let mut tx = store.begin(TxMode::ReadOnly).await?;
//! let record = tx.get("demo.things", &("a",).into()).await?.unwrap();
//! assert_eq!(record.version, 1);
//! assert_eq!(record.data.get(), r#"{"n":1}"#);
//! # Ok::<(), ent_core::Error>(())
//! # }).unwrap();
//! ```

mod blob;
mod fulltext;
mod keyspace;
mod store;
mod transaction;

pub use blob::MemoryBlobStore;
pub use fulltext::MemoryFullText;
pub use store::MemoryStore;

#[cfg(test)]
mod tests {
    use ent_core::storage::{CollectionDef, IndexDef, KeyKind, NewRecord, Scan, Store, TxMode};
    use serde_json::json;

    use super::MemoryStore;

    async fn doctors() -> MemoryStore {
        let store = MemoryStore::new();
        let def = CollectionDef::new("t.doctors", [KeyKind::Str]).index(IndexDef::new("on_call", [KeyKind::Bool]));
        store.declare(&[def]).await.unwrap();
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        for name in ["alice", "bob"] {
            let r =
                NewRecord::from_value((name,), 1, &json!({"on_call": true})).unwrap().with_entry("on_call", (true,));
            tx.insert("t.doctors", r).await.unwrap();
        }
        tx.commit().await.unwrap();
        store
    }

    /// The adapter-specific part of serializability: the validation log is trimmed once no live
    /// transaction needs it, yet write skew is still caught while one does.
    #[tokio::test]
    async fn write_skew_is_caught_and_log_is_trimmed() {
        let store = doctors().await;
        let on_call = Scan::index("t.doctors", "on_call").prefix((true,));
        let mut t1 = store.begin(TxMode::ReadWrite).await.unwrap();
        let mut t2 = store.begin(TxMode::ReadWrite).await.unwrap();
        for (tx, me) in [(&mut t1, "alice"), (&mut t2, "bob")] {
            assert_eq!(tx.count(&on_call).await.unwrap(), 2);
            let r = tx.get("t.doctors", &(me,).into()).await.unwrap().unwrap();
            tx.update("t.doctors", r.version, NewRecord::from_value((me,), 1, &json!({"on_call": false})).unwrap())
                .await
                .unwrap();
        }
        t1.commit().await.unwrap();
        let err = t2.commit().await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(store.lock().log.is_empty(), "no live transaction: nothing to keep");
        assert!(store.lock().active.is_empty());
    }
}
