//! Atomic counters: blind increments that never conflict, reads that do.

use ent_core::storage::retry;

use super::prelude::*;
use crate::testkit::Failure;

fn key(name: &str) -> Tuple {
    (name,).into()
}

async fn read(s: &Arc<dyn Store>, name: &str) -> Result<i64, Failure> {
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    Ok(tx.counter_get(ITEMS, &key(name)).await?)
}

pub(crate) async fn missing_is_zero(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    ensure_eq!(read(&s, "never").await?, 0, "a counter never written is 0");
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.counter_get(ITEMS, &Tuple::from((1i64, "any", true))).await?, 0, "any key shape");
    Ok(())
}

pub(crate) async fn add_and_subtract(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), 10).await?;
    tx.counter_add(ITEMS, &key("c"), -3).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), -20).await?;
    tx.commit().await?;
    ensure_eq!(read(&s, "c").await?, -13, "10 - 3 - 20");
    Ok(())
}

pub(crate) async fn own_increments_visible(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), 5).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), 2).await?;
    ensure_eq!(tx.counter_get(ITEMS, &key("c")).await?, 7, "committed value plus own increment");
    tx.counter_add(ITEMS, &key("c"), 1).await?;
    ensure_eq!(tx.counter_get(ITEMS, &key("c")).await?, 8, "after another increment");
    ensure_eq!(read(&s, "c").await?, 5, "others do not see them before commit");
    tx.commit().await?;
    ensure_eq!(read(&s, "c").await?, 8, "after commit");
    Ok(())
}

pub(crate) async fn rollback_discards(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), 5).await?;
    tx.rollback().await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), 7).await?;
    drop(tx);
    ensure_eq!(read(&s, "c").await?, 0, "rolled back and dropped increments are discarded");
    Ok(())
}

pub(crate) async fn keys_and_collections_are_independent(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("a"), 1).await?;
    tx.counter_add(ITEMS, &Tuple::from(("a", 1i64)), 2).await?;
    tx.counter_add(PAIRS, &key("a"), 4).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.counter_get(ITEMS, &key("a")).await?, 1, "(a) of items");
    ensure_eq!(tx.counter_get(ITEMS, &Tuple::from(("a", 1i64))).await?, 2, "(a, 1) of items");
    ensure_eq!(tx.counter_get(PAIRS, &key("a")).await?, 4, "(a) of pairs");
    ensure_eq!(tx.count(&Scan::primary(ITEMS)).await?, 0, "counters are not records");
    Ok(())
}

pub(crate) async fn concurrent_tasks_exact_sum(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                retry::transact(&*s, TxMode::ReadWrite, |tx| {
                    Box::pin(async move { tx.counter_add(ITEMS, &("hits",).into(), 1).await })
                })
                .await?;
            }
            Ok::<(), Error>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| Failure::new(format!("a task failed: {e}")))??;
    }
    ensure_eq!(read(&s, "hits").await?, 400, "8 tasks x 50 increments");
    Ok(())
}

pub(crate) async fn concurrent_increments_never_conflict(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut txs = Vec::new();
    for _ in 0..4 {
        let mut tx = s.begin(TxMode::ReadWrite).await?;
        tx.counter_add(ITEMS, &key("c"), 1).await?;
        tx.counter_add(ITEMS, &key("d"), -1).await?;
        txs.push(tx);
    }
    for (i, tx) in txs.into_iter().enumerate() {
        if let Err(e) = tx.commit().await {
            return Err(Failure::new(format!("blind increment {i} conflicted: {e:?}")));
        }
    }
    ensure_eq!((read(&s, "c").await?, read(&s, "d").await?), (4, -4), "every increment counted");
    Ok(())
}

pub(crate) async fn increments_beside_record_writes_never_conflict(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    // Two transactions in two tasks, each inserting its own record and incrementing one shared counter. A
    // single-writer adapter makes one wait for the other; neither may fail.
    let mut tasks = Vec::new();
    for name in ["a", "b"] {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = s.begin(TxMode::ReadWrite).await?;
            tx.insert(ITEMS, item(name, 1)).await?;
            tx.counter_add(ITEMS, &key("total"), 1).await?;
            tokio::task::yield_now().await;
            tx.commit().await
        }));
    }
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(Failure::new(format!("disjoint inserts with a shared blind increment conflicted: {e:?}")));
            }
            Err(e) => return Err(Failure::new(format!("task failed: {e}"))),
        }
    }
    ensure_eq!(read(&s, "total").await?, 2, "both counted");
    Ok(())
}

pub(crate) async fn read_then_concurrent_increment(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    // The reader copies the counter into a record; a concurrent increment commits in between. Committing the
    // copy would match no serial order, so the reader must fail with a retryable conflict.
    let mut reader = Contender::begin(&s, "reader").await?;
    let seen = reader.run(op(|tx| Box::pin(async move { tx.counter_get(ITEMS, &("c",).into()).await }))).await?;
    let mut writer = s.begin(TxMode::ReadWrite).await?;
    writer.counter_add(ITEMS, &key("c"), 1).await?;
    writer.commit().await?;
    if let Some(seen) = seen {
        reader.run(op(move |tx| Box::pin(async move { tx.insert(ITEMS, item("copy", seen)).await }))).await?;
    }
    let committed = reader.commit().await?;
    ensure!(!committed, "the reader of a counter committed although an increment it missed committed first");
    ensure_eq!(read(&s, "c").await?, 1, "the increment stands");
    Ok(())
}

pub(crate) async fn read_only_reader_sees_a_snapshot(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), 3).await?;
    tx.commit().await?;
    let mut reader = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(reader.counter_get(ITEMS, &key("c")).await?, 3, "first read");
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), 1).await?;
    tx.commit().await?;
    ensure_eq!(reader.counter_get(ITEMS, &key("c")).await?, 3, "the same value within the transaction");
    reader.commit().await?;
    ensure_eq!(read(&s, "c").await?, 4, "a new transaction sees the increment");
    Ok(())
}

pub(crate) async fn errors(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e =
        fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.counter_add("kit.nowhere", &("c",).into(), 1).await })))
            .await?;
    ensure!(matches!(e, Error::UnknownCollection { .. }), "UnknownCollection: {e:?}");
    let long = "k".repeat(s.limits().max_key_bytes);
    let e = fails_cleanly(
        &*s,
        op(move |tx| Box::pin(async move { tx.counter_add(ITEMS, &(long.as_str(),).into(), 1).await })),
    )
    .await?;
    ensure!(matches!(&e, Error::TooLarge { what, .. } if what == "key"), "TooLarge key: {e:?}");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    expect_err!(tx.counter_get("kit.nowhere", &key("c")).await, Error::UnknownCollection { .. });
    Ok(())
}

pub(crate) async fn failed_increment_keeps_earlier_ones(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.counter_add(ITEMS, &key("c"), 2).await?;
    expect_err!(tx.counter_add("kit.nowhere", &key("c"), 1).await, Error::UnknownCollection { .. });
    ensure_eq!(tx.counter_get(ITEMS, &key("c")).await?, 2, "the earlier increment stands");
    tx.commit().await?;
    ensure_eq!(read(&s, "c").await?, 2, "committed");
    Ok(())
}
