//! `write_batch`: every outcome, all or nothing, ordering within the batch, the batch limit.

use super::prelude::*;
use crate::testkit::Failure;

fn ins(r: NewRecord) -> WriteOp {
    WriteOp::Insert { collection: ITEMS.into(), record: r }
}

fn upd(v: u64, r: NewRecord) -> WriteOp {
    WriteOp::Update { collection: ITEMS.into(), expected_version: v, record: r }
}

fn del(id: &str, v: Option<u64>) -> WriteOp {
    WriteOp::Delete { collection: ITEMS.into(), id: t(id), expected_version: v }
}

fn add(k: &str, d: i64) -> WriteOp {
    WriteOp::CounterAdd { collection: ITEMS.into(), key: t(k), delta: d }
}

pub(crate) async fn every_outcome(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("old", 1), item("gone", 1)]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let out = tx
        .write_batch(vec![
            ins(item("new", 1)),
            upd(1, item("old", 2)),
            del("gone", Some(1)),
            del("never", None),
            add("c", 3),
        ])
        .await?;
    ensure_eq!(
        out,
        vec![
            WriteOutcome::Written { version: 1 },
            WriteOutcome::Written { version: 2 },
            WriteOutcome::Deleted { existed: true },
            WriteOutcome::Deleted { existed: false },
            WriteOutcome::Counted,
        ],
        "one outcome per operation, in order"
    );
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(all_ids(&mut *tx, &Scan::primary(ITEMS), 10).await?, ts(&["new", "old"]), "records");
    ensure_eq!(tx.counter_get(ITEMS, &t("c")).await?, 3, "counter");
    Ok(())
}

pub(crate) async fn all_or_nothing(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(async move {
                tx.write_batch(vec![
                    ins(item("b", 1).with_entry("by_tag", ("x",))),
                    upd(1, item("a", 2)),
                    add("c", 1),
                    ins(item("a", 3)), // duplicate: the whole batch fails
                    ins(item("d", 1)),
                ])
                .await
            })
        }),
    )
    .await?;
    ensure!(matches!(e, Error::Duplicate { .. }), "Duplicate: {e:?}");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.counter_get(ITEMS, &t("c")).await?, 0, "the increment of a failed batch is not applied");
    Ok(())
}

pub(crate) async fn failure_in_last_op(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(async move { tx.write_batch(vec![del("a", None), ins(item("b", 1)), upd(7, item("b", 2))]).await })
        }),
    )
    .await?;
    ensure!(
        matches!(e, Error::Conflict { expected: Some(7), found: Some(1), retryable: false, .. }),
        "stale version: {e:?}"
    );
    Ok(())
}

pub(crate) async fn ops_see_earlier_ops(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let out = tx
        .write_batch(vec![
            ins(item("a", 1).with_entry("by_code", ("A",))),
            upd(1, item("a", 2).with_entry("by_code", ("B",))),
            ins(item("b", 1).with_entry("by_code", ("A",))), // A was freed by the update
            del("a", Some(2)),
            ins(item("a", 9)),
            add("c", 1),
            add("c", 1),
        ])
        .await?;
    ensure_eq!(out[1], WriteOutcome::Written { version: 2 }, "the update saw the insert");
    ensure_eq!(out[3], WriteOutcome::Deleted { existed: true }, "the delete saw the update");
    ensure_eq!(out[4], WriteOutcome::Written { version: 1 }, "the re-insert saw the delete");
    ensure_eq!(tx.counter_get(ITEMS, &t("c")).await?, 2, "increments add up");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::index(ITEMS, "by_code")).await?, ts(&["b"]), "codes");
    Ok(())
}

pub(crate) async fn unique_conflict_inside_batch(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(async move {
                tx.write_batch(vec![
                    ins(item("a", 1).with_entry("by_code", ("X",))),
                    ins(item("b", 1).with_entry("by_code", ("X",))),
                ])
                .await
            })
        }),
    )
    .await?;
    ensure!(matches!(&e, Error::Duplicate { index, .. } if index == "by_code"), "Duplicate by_code: {e:?}");
    Ok(())
}

pub(crate) async fn empty_batch(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.write_batch(Vec::new()).await?, Vec::<WriteOutcome>::new(), "no op, no outcome");
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn too_many_ops(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let max = s.limits().max_batch_ops;
    let e = fails_cleanly(
        &*s,
        op(move |tx| {
            Box::pin(async move { tx.write_batch((0..=max).map(|i| add(&format!("c{}", i % 7), 1)).collect()).await })
        }),
    )
    .await?;
    ensure!(matches!(e, Error::TooLarge { .. } | Error::Invalid { .. }), "TooLarge or Invalid: {e:?}");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.counter_get(ITEMS, &t("c0")).await?, 0, "nothing applied");
    Ok(())
}

pub(crate) async fn large_batch_at_limit_or_ten_thousand(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    // A message to 2,000 recipients is one batch: a batch of the limit (capped to keep the case quick) passes.
    let n = s.limits().max_batch_ops.min(10_000);
    let ops = (0..n)
        .map(|i| ins(record((format!("r{i:05}"),), json!({ "n": i })).with_entry("by_group", ("g", i as i64))))
        .collect();
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let out = tx.write_batch(ops).await?;
    ensure_eq!(out.len(), n, "outcomes");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_group")).await?, n as u64, "entries");
    Ok(())
}

pub(crate) async fn errors_are_typed(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(async move {
                tx.write_batch(vec![
                    ins(item("a", 1)),
                    WriteOp::Insert { collection: "kit.nowhere".into(), record: item("a", 1) },
                ])
                .await
            })
        }),
    )
    .await?;
    ensure!(matches!(e, Error::UnknownCollection { .. }), "UnknownCollection: {e:?}");
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.write_batch(vec![ins(item("a", 1).with_entry("by_tag", (1i64,)))]).await })),
    )
    .await?;
    ensure!(matches!(e, Error::KeyType { .. }), "KeyType: {e:?}");
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.write_batch(vec![upd(1, item("ghost", 1))]).await })))
        .await?;
    ensure!(matches!(e, Error::NotFound { .. }), "NotFound: {e:?}");
    Ok(())
}

/// A batch that fails as its transaction's first write (an adapter may undo it by undoing the whole
/// transaction rather than a savepoint) leaves the transaction usable: before any read, and after reads,
/// which still see what they saw.
pub(crate) async fn failed_first_write_leaves_the_transaction_usable(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_code", ("A",))]).await?;
    let failing = || vec![ins(item("b", 1)), add("c", 1), ins(item("z", 1).with_entry("by_code", ("A",)))];

    // Nothing read or written before.
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let e = tx.write_batch(failing()).await.err().ok_or_else(|| Failure::new("the batch should have failed"))?;
    ensure!(matches!(e, Error::Duplicate { .. }), "Duplicate: {e:?}");
    ensure!(tx.get(ITEMS, &t("b")).await?.is_none(), "the failed batch's insert is gone");
    ensure_eq!(tx.counter_get(ITEMS, &t("c")).await?, 0, "the failed batch's increment is gone");
    tx.insert(ITEMS, item("d", 1)).await?;
    tx.commit().await?;

    // After reads.
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let a = tx.get(ITEMS, &t("a")).await?.ok_or_else(|| Failure::new("a is there"))?;
    let e = tx.write_batch(failing()).await.err().ok_or_else(|| Failure::new("the batch should have failed"))?;
    ensure!(matches!(e, Error::Duplicate { .. }), "Duplicate: {e:?}");
    ensure_eq!(tx.get(ITEMS, &t("a")).await?.map(|r| r.version), Some(a.version), "the read is the same");
    ensure_eq!(
        ids(&mut *tx, &Scan::primary(ITEMS)).await?,
        ts(&["a", "d"]),
        "the transaction sees what it saw before the batch"
    );
    tx.write_batch(vec![upd(a.version, item("a", 2)), ins(item("e", 1))]).await?;
    tx.commit().await?;

    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::primary(ITEMS)).await?, ts(&["a", "d", "e"]), "only the later writes");
    ensure_eq!(tx.counter_get(ITEMS, &t("c")).await?, 0, "no increment of the failed batches");
    ensure_eq!(tx.get(ITEMS, &t("a")).await?.map(|r| r.version), Some(2), "a updated once");
    Ok(())
}

/// Large batches (an import's transaction, which an adapter may write off the async executor) that fail,
/// as the first write and after one, leave the transaction as it was; a large batch then commits whole.
pub(crate) async fn large_failed_batches_leave_the_transaction_usable(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_code", ("A",))]).await?;
    let n = s.limits().max_batch_ops.min(1_500) - 1;
    let many = |prefix: &str| -> Vec<WriteOp> {
        (0..n)
            .map(|i| {
                ins(record((format!("{prefix}{i:05}"),), json!({ "n": i })).with_entry("by_group", ("g", i as i64)))
            })
            .collect()
    };
    let failing = |prefix: &str| {
        let mut ops = many(prefix);
        ops.push(ins(item("z", 1).with_entry("by_code", ("A",))));
        ops
    };

    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let e = tx.write_batch(failing("f")).await.err().ok_or_else(|| Failure::new("the batch should have failed"))?;
    ensure!(matches!(e, Error::Duplicate { .. }), "Duplicate: {e:?}");
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_group")).await?, 0, "the failed first batch left nothing");
    ensure_eq!(tx.write_batch(many("r")).await?.len(), n, "a large batch after it");
    let e = tx.write_batch(failing("s")).await.err().ok_or_else(|| Failure::new("the batch should have failed"))?;
    ensure!(matches!(e, Error::Duplicate { .. }), "Duplicate: {e:?}");
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_group")).await?, n as u64, "the failed later batch left nothing");
    tx.commit().await?;

    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::primary(ITEMS)).await?, n as u64 + 1, "a and the successful batch");
    ensure!(tx.get(ITEMS, &t("r00000")).await?.is_some(), "the successful batch is committed");
    ensure!(
        tx.get(ITEMS, &t("f00000")).await?.is_none() && tx.get(ITEMS, &t("s00000")).await?.is_none(),
        "no failed one"
    );
    Ok(())
}
