//! The guest book's actions: their inputs, outputs, rights, and handlers.

use async_trait::async_trait;
use ent::core::module::{Action, Context};
use ent::core::storage::{Record, Scan, TxExt};
use ent::core::{Error, StructureId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::Signed;
use crate::records::Signature;
use crate::{MAX_LENGTH, MaxLength};

/// Input of `guestbook.sign`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInput {
    /// What to write (the structure's `guestbook.max_length` setting limits it).
    #[schemars(length(min = 1, max = 2000))]
    pub message: String,
}

/// Output of `guestbook.sign`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SignOutput {
    /// The new signature's id.
    pub id: uuid::Uuid,
    /// Its version (pass it to `guestbook.edit`).
    pub version: u64,
}

/// `guestbook.sign`: signs the caller's structure's guest book.
pub struct Sign;

#[async_trait]
impl Action for Sign {
    type Input = SignInput;
    type Output = SignOutput;
    const NAME: &'static str = "guestbook.sign";
    const RIGHT: &'static str = "guestbook.sign";
    const DESCRIPTION: &'static str = "Sign the guest book of the caller's structure";

    async fn run(&self, ctx: &mut Context<'_>, input: SignInput) -> ent::Result<SignOutput> {
        let (Some(author), Some(structure)) = (ctx.caller().user_id(), ctx.caller().structure()) else {
            return Err(Error::forbidden(Self::RIGHT));
        };
        check_length(ctx, structure, &input.message).await?;
        let signature = Signature {
            id: uuid::Uuid::now_v7(),
            structure,
            author,
            message: input.message,
            signed_at: ctx.now().to_rfc3339(),
        };
        let version = ctx.tx().insert_record(&signature).await?;
        ctx.emit(&Signed { signature: signature.id, structure, author }).await?;
        Ok(SignOutput { id: signature.id, version })
    }
}

async fn check_length(ctx: &mut Context<'_>, structure: StructureId, message: &str) -> ent::Result<()> {
    let MaxLength(max) = ctx.setting(MAX_LENGTH, structure).await?;
    let length = message.chars().count();
    if length > max as usize {
        return Err(Error::invalid("message", format!("{length} characters, this structure allows {max}")));
    }
    Ok(())
}

/// Input of `guestbook.edit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditInput {
    /// The signature.
    pub id: uuid::Uuid,
    /// The version the caller read: a stale one is refused.
    pub version: u64,
    /// The new message.
    #[schemars(length(min = 1, max = 2000))]
    pub message: String,
}

/// `guestbook.edit`: its author changes a signature.
pub struct Edit;

#[async_trait]
impl Action for Edit {
    type Input = EditInput;
    type Output = SignOutput;
    const NAME: &'static str = "guestbook.edit";
    const RIGHT: &'static str = "guestbook.sign";
    const DESCRIPTION: &'static str = "Change one's own signature";

    async fn run(&self, ctx: &mut Context<'_>, input: EditInput) -> ent::Result<SignOutput> {
        let mut signature = ctx.tx().fetch_record::<Signature>(input.id).await?;
        // The relationship guard: only the author edits.
        if ctx.caller().user_id() != Some(signature.value.author) {
            return Err(Error::forbidden("guestbook.sign (own signature)"));
        }
        check_length(ctx, signature.value.structure, &input.message).await?;
        signature.value.message = input.message;
        let version = ctx.tx().update_record(input.version, &signature.value).await?;
        Ok(SignOutput { id: input.id, version })
    }
}

/// Input of `guestbook.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// How many, newest first.
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
}

/// Output of `guestbook.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListOutput {
    /// The signatures, newest first.
    pub signatures: Vec<Signature>,
    /// How many signatures the book holds (as counted from the `guestbook.signed` events).
    pub total: i64,
}

/// `guestbook.list`: reads the caller's structure's guest book.
pub struct List;

#[async_trait]
impl Action for List {
    type Input = ListInput;
    type Output = ListOutput;
    const NAME: &'static str = "guestbook.list";
    const RIGHT: &'static str = "guestbook.read";
    const DESCRIPTION: &'static str = "Read the guest book of the caller's structure";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: ListInput) -> ent::Result<ListOutput> {
        let Some(structure) = ctx.caller().structure() else {
            return Err(Error::invalid("caller", "acts in no structure"));
        };
        let scan = Scan::index(Signature::COLLECTION, "by_structure")
            .prefix((structure,))
            .backward()
            .limit(input.limit as usize);
        let (page, _) = ctx.tx().scan_records::<Signature>(&scan).await?;
        let total = ctx.tx().counter_get(Signature::COLLECTION, &crate::records::signed_counter(structure)).await?;
        Ok(ListOutput { signatures: page.into_iter().map(|v| v.value).collect(), total })
    }
}
