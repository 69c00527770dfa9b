//! Delivering the outbox: each subscriber's queue, in order per source, each event handled in a
//! transaction that also removes it from the queue.

use std::collections::HashSet;
use std::sync::Arc;

use super::outbox::{OUTBOX, OutboxEntry};
use crate::caller::{Caller, SystemScope};
use crate::ent::Runtime;
use crate::job::Backoff;
use crate::module::Context;
use crate::module::context::guard;
use crate::module::registry::SubscriberEntry;
use crate::storage::{Record, Scan, TxExt, TxMode};
use crate::{Error, Result};

const PAGE: usize = 256;

/// What a round of delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Events handled (and removed from their subscriber's queue).
    pub delivered: usize,
    /// Handler failures; those events wait for their retry time.
    pub failed: usize,
}

enum Outcome {
    Delivered,
    /// Handled by another process meanwhile, or not at the head of its source.
    Gone,
    Failed,
}

/// Delivers every event that is due, for every subscriber, until none is left (events that failed wait for
/// their retry time).
pub(crate) async fn run_pending(rt: &Arc<Runtime>) -> Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    for sub in rt.registry.subscribers().to_vec() {
        while pass(rt, &sub, &mut report).await? {}
    }
    Ok(report)
}

/// One pass over a subscriber's queue; returns whether anything was delivered.
async fn pass(rt: &Arc<Runtime>, sub: &Arc<SubscriberEntry>, report: &mut DeliveryReport) -> Result<bool> {
    let mut blocked: HashSet<String> = HashSet::new();
    let mut cursor = None;
    let mut progress = false;
    loop {
        let scan = Scan::primary(OUTBOX).prefix((sub.name.as_str(),)).limit(PAGE).after(cursor);
        let (entries, next) = {
            let mut tx = rt.store.begin(TxMode::ReadOnly).await?;
            tx.scan_records::<OutboxEntry>(&scan).await?
        };
        let now = rt.clock.now();
        for entry in entries {
            let event = &entry.value.event;
            if blocked.contains(&event.source) {
                continue;
            }
            if entry.value.retry_at.is_some_and(|t| t > now) {
                blocked.insert(event.source.clone());
                continue;
            }
            match deliver_one(rt, sub, &event.source, event.seq).await? {
                Outcome::Delivered => {
                    report.delivered += 1;
                    progress = true;
                }
                Outcome::Gone => {}
                Outcome::Failed => {
                    report.failed += 1;
                    blocked.insert(event.source.clone());
                }
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(progress),
        }
    }
}

async fn deliver_one(rt: &Arc<Runtime>, sub: &Arc<SubscriberEntry>, source: &str, seq: i64) -> Result<Outcome> {
    let (rt2, sub2, source2) = (rt.clone(), sub.clone(), source.to_owned());
    let result = rt
        .retry
        .run(&*rt.store, TxMode::ReadWrite, move |tx| {
            let (rt, sub, source) = (rt2.clone(), sub2.clone(), source2.clone());
            Box::pin(async move {
                // Only the head of the source may be handled: that is what keeps a source in order.
                let head = Scan::primary(OUTBOX).prefix((sub.name.as_str(), source.as_str())).limit(1);
                let (entries, _) = tx.scan_records::<OutboxEntry>(&head).await?;
                let Some(entry) = entries.into_iter().next() else { return Ok(false) };
                if entry.value.event.seq != seq {
                    return Ok(false);
                }
                let caller = Caller::system(format!("event:{}", sub.name), SystemScope::module(&sub.module));
                let what = format!("subscriber {}", sub.name);
                let mut ctx = Context { rt: &rt, caller: &caller, module: &sub.module, tx: &mut *tx };
                guard(&what, sub.handler.handle(&mut ctx, &entry.value.event)).await?;
                tx.delete(OUTBOX, &entry.value.id(), Some(entry.version)).await?;
                Ok(true)
            })
        })
        .await;
    match result {
        Ok(true) => Ok(Outcome::Delivered),
        Ok(false) => Ok(Outcome::Gone),
        Err(error) => {
            record_failure(rt, sub, source, seq, &error).await?;
            Ok(Outcome::Failed)
        }
    }
}

async fn record_failure(rt: &Runtime, sub: &SubscriberEntry, source: &str, seq: i64, error: &Error) -> Result<()> {
    let mut tx = rt.store.begin(TxMode::ReadWrite).await?;
    let Some(mut entry) = tx.get_record::<OutboxEntry>((sub.name.as_str(), source, seq)).await? else {
        return Ok(());
    };
    entry.value.attempts += 1;
    entry.value.retry_at = Some(rt.clock.now() + Backoff::default().delay(entry.value.attempts));
    entry.value.last_error = Some(error.to_string());
    let written = match tx.update_record(entry.version, &entry.value).await {
        Ok(_) => tx.commit().await,
        Err(e) => Err(e),
    };
    match written {
        // Another process recorded it, or delivered it, meanwhile: nothing to add.
        Err(Error::Conflict { .. } | Error::NotFound { .. }) => Ok(()),
        other => other,
    }
}
