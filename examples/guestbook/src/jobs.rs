//! The guest book's job: purging old signatures.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ent::core::job::{JobHandler, JobInfo};
use ent::core::module::Context;
use ent::core::storage::{Record, Scan, TxExt};
use ent::core::{Error, StructureId};
use serde::{Deserialize, Serialize};

use crate::records::Signature;

/// What a purge receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurgePayload {
    /// The structure whose book is purged.
    pub structure: StructureId,
    /// Signatures older than this many days go.
    pub older_than_days: u32,
}

/// `guestbook.purge`: deletes a structure's old signatures. Idempotent: running it twice deletes nothing
/// more.
pub struct Purge;

#[async_trait]
impl JobHandler for Purge {
    fn kind(&self) -> &str {
        "guestbook.purge"
    }

    async fn run(&self, ctx: &mut Context<'_>, job: &JobInfo) -> ent::Result<()> {
        let payload: PurgePayload =
            serde_json::from_value(job.payload.clone()).map_err(|e| Error::invalid("payload", e.to_string()))?;
        let cutoff = ctx.now() - chrono::Duration::days(payload.older_than_days.into());
        let scan = Scan::index(Signature::COLLECTION, "by_structure").prefix((payload.structure,)).limit(1000);
        let (page, _) = ctx.tx().scan_records::<Signature>(&scan).await?;
        for signature in page {
            let signed_at: DateTime<Utc> =
                signature.value.signed_at.parse().map_err(|_| Error::invalid("signed_at", "not RFC 3339"))?;
            if signed_at < cutoff {
                ctx.tx().delete_record::<Signature>(signature.value.id, Some(signature.version)).await?;
            }
        }
        // Counts the runs, so that tests can tell how many times the job ran.
        ctx.tx().counter_add(Signature::COLLECTION, &("purges", payload.structure).into(), 1).await
    }
}
