//! The event the guest book emits, and its own subscriber that counts signatures.

use async_trait::async_trait;
use ent::core::event::{Event, EventEnvelope, Subscriber};
use ent::core::module::Context;
use ent::core::storage::Record;
use ent::core::{StructureId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::records::{Signature, signed_counter};

/// Someone signed a structure's guest book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Signed {
    /// The signature.
    pub signature: uuid::Uuid,
    /// The structure.
    pub structure: StructureId,
    /// Who signed.
    pub author: UserId,
}

impl Event for Signed {
    const NAME: &'static str = "guestbook.signed";
    const DESCRIPTION: &'static str = "Someone signed a structure's guest book";

    /// Signatures of one structure are delivered in order; structures are independent.
    fn source(&self) -> String {
        format!("guestbook.{}", self.structure)
    }
}

/// Counts signatures per structure. Its counter is written in the delivery transaction, so it counts each
/// event exactly once even when two processes deliver.
pub struct Counter;

#[async_trait]
impl Subscriber for Counter {
    fn name(&self) -> &str {
        "guestbook.counter"
    }

    async fn handle(&self, ctx: &mut Context<'_>, event: &EventEnvelope) -> ent::Result<()> {
        let signed: Signed = event.payload_as()?;
        ctx.tx().counter_add(Signature::COLLECTION, &signed_counter(signed.structure), 1).await
    }
}
