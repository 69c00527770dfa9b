//! The messagerie's events, and the subscriber that keeps the full-text index of each mailbox.
//!
//! The full-text port works apart from the record store's transactions, so the index is written after the
//! message commits, from the outbox: at least once, idempotently (indexing a document again replaces it).
//! A search checks every hit against the mailbox as it is, so a message deleted before its removal reaches
//! the index is never shown.
//!
//! On SQLite the full-text index lives in the same file, and its writes commit on their own: a delivery
//! transaction that read its snapshot before them can no longer write (a stale snapshot is a retryable
//! conflict), so the delivery is run again. The indexer remembers the events whose index writes it already
//! made, and on that second run it only lets the delivery finish. A process that dies in between leaves the
//! event to another, which indexes again (the same documents, replaced) and finishes on its own second run.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ent_core::event::{Event, EventEnvelope, Subscriber};
use ent_core::module::Context;
use ent_core::storage::TxExt;
use ent_core::{EventId, Result, StructureId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::actions::searchable;
use super::records::{MAIL_TEXT, Message, text_doc, text_partition};
use super::service::{self, Ports};

/// A message was delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sent {
    /// The message.
    pub message: uuid::Uuid,
    /// Who sent it.
    pub sender: UserId,
    /// The structure whose rules applied.
    pub structure: StructureId,
    /// How many received it.
    pub recipients: u32,
}

impl Event for Sent {
    const NAME: &'static str = "messagerie.sent";
    const DESCRIPTION: &'static str = "A message was delivered to its recipients";

    /// One source per sender: a sender's messages are handled in order, and two senders never wait on
    /// each other.
    fn source(&self) -> String {
        format!("messagerie.{}", self.sender)
    }
}

/// A message left some mailboxes (deleted for good, or recalled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Removed {
    /// The message.
    pub message: uuid::Uuid,
    /// Whose mailboxes.
    pub owners: Vec<UserId>,
}

impl Event for Removed {
    const NAME: &'static str = "messagerie.removed";
    const DESCRIPTION: &'static str = "A message left some mailboxes (deleted or recalled)";

    fn source(&self) -> String {
        format!("messagerie.message.{}", self.message)
    }
}

/// The subscriber `messagerie.indexer`: indexes a delivered message in each mailbox holding it, and removes
/// it from the mailboxes it left.
pub struct Indexer {
    ports: Arc<Ports>,
    /// Events whose index writes were made by this process (the most recent ones).
    done: Mutex<VecDeque<EventId>>,
}

/// How many handled events the indexer remembers.
const REMEMBERED: usize = 4096;

impl Indexer {
    pub(crate) fn new(ports: Arc<Ports>) -> Self {
        Indexer { ports, done: Mutex::new(VecDeque::new()) }
    }

    fn already_done(&self, id: EventId) -> bool {
        self.done.lock().unwrap_or_else(|e| e.into_inner()).contains(&id)
    }

    fn remember(&self, id: EventId) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        if done.len() == REMEMBERED {
            done.pop_front();
        }
        done.push_back(id);
    }
}

/// The subscriber's name.
pub const INDEXER: &str = "messagerie.indexer";

#[async_trait]
impl Subscriber for Indexer {
    fn name(&self) -> &str {
        INDEXER
    }

    async fn handle(&self, ctx: &mut Context<'_>, event: &EventEnvelope) -> Result<()> {
        if self.already_done(event.id) {
            return Ok(());
        }
        if event.is::<Sent>() {
            let sent: Sent = event.payload_as()?;
            let Some(message) = ctx.tx().get_record::<Message>(sent.message).await? else { return Ok(()) };
            let text = searchable(&message.value);
            let docs: Vec<_> = service::entries_of(ctx.tx(), sent.message)
                .await?
                .into_iter()
                .map(|e| (text_doc(e.owner, sent.message), text_partition(e.owner)))
                .collect();
            // One call: on SQLite, one commit for the whole mailing list.
            self.ports.text.index_many(MAIL_TEXT, &docs, &text).await?;
        } else if event.is::<Removed>() {
            let removed: Removed = event.payload_as()?;
            for owner in removed.owners {
                self.ports.text.remove(MAIL_TEXT, &text_doc(owner, removed.message)).await?;
            }
        }
        self.remember(event.id);
        Ok(())
    }
}
