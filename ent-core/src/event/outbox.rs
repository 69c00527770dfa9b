//! The outbox: events written in the emitting transaction.
//!
//! # Layout
//!
//! - `ent.event_sources` holds, per source, the last sequence number used. Emitting reads and updates it,
//!   so two transactions emitting on the same source conflict and one retries: sequence order is commit
//!   order, per source.
//! - `ent.outbox` holds one entry per (subscriber, event), keyed `(subscriber, source, seq)`: each
//!   subscriber has its own queue, in source then sequence order. Delivering is handling the first entry of
//!   a source and deleting it in the same transaction.
//!
//! # Why queues rather than cursors
//!
//! A cursor over a log ("subscriber S has handled everything up to key K") is only correct if keys become
//! visible in key order. UUID v7 keys are drawn before commit: a transaction that drew K1 may commit after
//! one that drew K2 > K1, and a cursor already past K2 would skip K1 forever. Fixing that needs one global
//! sequence (every emitting transaction in the whole portal serialized) or a cursor per (subscriber,
//! source). A queue entry per subscriber needs neither: an entry is either there or handled, whatever the
//! commit order, and two processes handling the same entry conflict on its deletion. The cost is one small
//! write per subscriber of the event, done in one batch.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EventEnvelope;
use crate::caller::Caller;
use crate::ent::Runtime;
use crate::storage::typed::to_new_record;
use crate::storage::{CollectionDef, IndexEntry, KeyKind, Record, Transaction, Tuple, TxExt, WriteOp};
use crate::{Error, EventId, Result};

/// The collection of per-source sequence numbers.
pub const EVENT_SOURCES: &str = "ent.event_sources";
/// The collection of queued deliveries.
pub const OUTBOX: &str = "ent.outbox";

/// The last sequence number of a source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceSeq {
    /// The source.
    pub source: String,
    /// The last sequence number used.
    pub last: i64,
}

impl Record for SourceSeq {
    const COLLECTION: &'static str = EVENT_SOURCES;
    fn collection() -> CollectionDef {
        CollectionDef::new(EVENT_SOURCES, [KeyKind::Str])
    }
    fn id(&self) -> Tuple {
        (self.source.as_str(),).into()
    }
}

/// An event waiting for one subscriber.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The subscriber.
    pub subscriber: String,
    /// The event.
    pub event: EventEnvelope,
    /// Failed deliveries so far.
    pub attempts: u32,
    /// Not before this instant (after a failure).
    pub retry_at: Option<DateTime<Utc>>,
    /// The last failure, for operators.
    pub last_error: Option<String>,
}

impl Record for OutboxEntry {
    const COLLECTION: &'static str = OUTBOX;
    fn collection() -> CollectionDef {
        CollectionDef::new(OUTBOX, [KeyKind::Str, KeyKind::Str, KeyKind::Int])
    }
    fn id(&self) -> Tuple {
        (self.subscriber.as_str(), self.event.source.as_str(), self.event.seq).into()
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        Vec::new()
    }
}

/// Writes an event to the outbox in `tx`: checks that `module` declares it, takes the next sequence number
/// of its source, queues it for each subscriber listening to it.
pub(crate) async fn write(
    rt: &Runtime,
    tx: &mut dyn Transaction,
    actor: &Caller,
    module: &str,
    name: &str,
    source: &str,
    payload: Value,
) -> Result<EventId> {
    if rt.registry.emitter(name) != Some(module) {
        return Err(Error::invalid("event", format!("module `{module}` does not declare emitting `{name}`")));
    }
    if source.is_empty() {
        return Err(Error::invalid("event.source", "empty"));
    }
    let id = EventId::new();
    let listeners: Vec<&str> = rt
        .registry
        .subscribers()
        .iter()
        .filter(|s| s.events.iter().any(|e| e == name))
        .map(|s| s.name.as_str())
        .collect();
    if listeners.is_empty() {
        return Ok(id);
    }
    let seq = match tx.get_record::<SourceSeq>((source,)).await? {
        Some(current) => {
            let next = SourceSeq { source: source.to_owned(), last: current.value.last + 1 };
            tx.update_record(current.version, &next).await?;
            next.last
        }
        None => {
            tx.insert_record(&SourceSeq { source: source.to_owned(), last: 1 }).await?;
            1
        }
    };
    let event = EventEnvelope {
        id,
        name: name.to_owned(),
        source: source.to_owned(),
        seq,
        emitted_at: rt.clock.now(),
        actor: actor.clone(),
        payload,
    };
    let mut ops = Vec::with_capacity(listeners.len());
    for subscriber in listeners {
        let entry = OutboxEntry {
            subscriber: subscriber.to_owned(),
            event: event.clone(),
            attempts: 0,
            retry_at: None,
            last_error: None,
        };
        ops.push(WriteOp::Insert { collection: OUTBOX.to_owned(), record: to_new_record(&entry)? });
    }
    tx.write_batch(ops).await?;
    Ok(id)
}
