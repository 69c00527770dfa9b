//! Events: facts that happened (`notes.grade_published`, `guestbook.signed`), written to an outbox in the
//! transaction of the change and delivered after commit to the subscribers that listen to them.
//!
//! Guarantees, on every adapter:
//! - an event exists if and only if the transaction that emitted it committed (a rollback sends none, a
//!   crash after commit loses none: the outbox is in the store);
//! - each subscriber receives each event **at least once**, and in the normal case exactly once: a
//!   subscriber's handler runs in a transaction that also removes the event from its queue, so the
//!   handler's own writes to the store happen exactly once; only effects outside the store (a mail) can
//!   repeat after a crash, which is why subscribers are written to be idempotent;
//! - events of one **source** reach each subscriber in the order they were emitted (an event waits until the
//!   previous one of its source was handled); events of different sources are independent;
//! - several processes may deliver from the same store at once: they conflict on the queue entry and one of
//!   them retries and finds it gone.
//!
//! See [`outbox`] for the layout and why it is a queue per subscriber rather than a cursor.

pub mod delivery;
pub mod outbox;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::Caller;
use crate::module::Context;
use crate::{Error, EventId, Result};

pub use delivery::DeliveryReport;

/// A typed event.
///
/// ```
/// use ent_core::event::Event;
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, JsonSchema)]
/// struct Signed { book: uuid::Uuid, author: String }
///
/// impl Event for Signed {
///     const NAME: &'static str = "guestbook.signed";
///     const DESCRIPTION: &'static str = "Someone signed a guest book";
///     // Signatures of one book are delivered in order; different books are independent.
///     fn source(&self) -> String { format!("guestbook.book.{}", self.book) }
/// }
/// ```
pub trait Event: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// `module.event_name`.
    const NAME: &'static str;
    /// What fact it records (goes into the manifest).
    const DESCRIPTION: &'static str = "";

    /// The source the event belongs to: events of one source are delivered in order. Transactions that emit
    /// on the same source are serialized (they update the source's sequence), so choose the finest source
    /// whose order matters (a book, a class), not the module. The default is the module's id.
    fn source(&self) -> String {
        Self::NAME.split_once('.').map_or(Self::NAME, |(m, _)| m).to_owned()
    }
}

/// An event as subscribers receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Its id (UUID v7, unique across processes): what an idempotent subscriber remembers.
    pub id: EventId,
    /// `module.event_name`.
    pub name: String,
    /// Its source.
    pub source: String,
    /// Its position within its source (1, 2, 3...).
    pub seq: i64,
    /// When it was emitted.
    pub emitted_at: DateTime<Utc>,
    /// Who caused it.
    pub actor: Caller,
    /// The event itself.
    pub payload: Value,
}

impl EventEnvelope {
    /// Whether this is an `E`.
    pub fn is<E: Event>(&self) -> bool {
        self.name == E::NAME
    }

    /// The payload as an `E` (an error if it is another event).
    pub fn payload_as<E: Event>(&self) -> Result<E> {
        if self.name != E::NAME {
            return Err(Error::invalid("event", format!("`{}` is not `{}`", self.name, E::NAME)));
        }
        serde_json::from_value(self.payload.clone()).map_err(|e| Error::serialization(&self.name, e))
    }
}

/// Receives events. Its handler runs under a system caller (`event:<name>`, with the module's rights) in a
/// transaction that commits together with the removal of the event from the subscriber's queue.
#[async_trait]
pub trait Subscriber: Send + Sync + 'static {
    /// `module.name`, as declared in the manifest's `listens`.
    fn name(&self) -> &str;

    /// Handles one event. An error rolls the handler's writes back; the event is retried later, with
    /// backoff, and blocks the events after it from the same source until it succeeds.
    async fn handle(&self, ctx: &mut Context<'_>, event: &EventEnvelope) -> Result<()>;
}
