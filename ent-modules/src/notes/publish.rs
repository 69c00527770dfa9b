//! Publication: before its date an evaluation is hidden from pupils and parents; at its date the
//! `notes.publish` job marks it published and emits `notes.grades_published`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ent_core::event::Event;
use ent_core::job::{JobHandler, JobInfo, JobSpec};
use ent_core::module::Context;
use ent_core::storage::TxExt;
use ent_core::{Error, Result, StructureId, SubjectId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::records::{Evaluation, EvaluationId};
use super::service::UnitRef;

/// The job kind that publishes an evaluation at its date.
pub const PUBLISH_JOB: &str = "notes.publish";

/// Grades became visible to pupils and parents: an evaluation was published, or grades were written into
/// an evaluation already published. Notifications are built on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GradesPublished {
    /// The evaluation.
    pub evaluation: EvaluationId,
    /// Its structure.
    pub structure: StructureId,
    /// Its class or group.
    pub unit: UnitRef,
    /// Its subject.
    pub subject: SubjectId,
    /// Its school year.
    pub year: i32,
    /// Its period.
    pub period: u8,
    /// Its title.
    pub title: String,
    /// The pupils whose grade became visible.
    pub pupils: Vec<UserId>,
}

impl Event for GradesPublished {
    const NAME: &'static str = "notes.grades_published";
    const DESCRIPTION: &'static str = "Grades became visible to pupils and parents";

    /// In order per class or group; classes are independent.
    fn source(&self) -> String {
        let id = match self.unit {
            UnitRef::Class(c) => c.0,
            UnitRef::Group(g) => g.0,
        };
        format!("notes.{id}")
    }
}

impl GradesPublished {
    pub(crate) fn of(evaluation: &Evaluation, pupils: Vec<UserId>) -> GradesPublished {
        GradesPublished {
            evaluation: evaluation.id,
            structure: evaluation.structure,
            unit: evaluation.unit.into(),
            subject: evaluation.subject,
            year: evaluation.year.0,
            period: evaluation.period,
            title: evaluation.title.clone(),
            pupils,
        }
    }
}

/// What the publication job receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishPayload {
    /// The evaluation to publish.
    pub evaluation: EvaluationId,
}

/// Publishes `evaluation` now if its date has come, or schedules the job for its date. Returns whether
/// it was published now.
pub(crate) async fn publish_or_schedule(ctx: &mut Context<'_>, evaluation: &mut Evaluation) -> Result<bool> {
    if evaluation.published {
        return Ok(false);
    }
    if evaluation.publish_at <= ctx.now() {
        evaluation.published = true;
        let pupils = evaluation.grades.iter().map(|g| g.pupil).collect();
        ctx.emit(&GradesPublished::of(evaluation, pupils)).await?;
        return Ok(true);
    }
    schedule(ctx, evaluation.id, evaluation.structure, evaluation.publish_at).await?;
    Ok(false)
}

async fn schedule(ctx: &mut Context<'_>, id: EvaluationId, structure: StructureId, at: DateTime<Utc>) -> Result<()> {
    let payload =
        serde_json::to_value(PublishPayload { evaluation: id }).map_err(|e| Error::serialization(PUBLISH_JOB, e))?;
    ctx.schedule(JobSpec::new(PUBLISH_JOB, payload).at(at).structure(structure)).await?;
    Ok(())
}

/// `notes.publish`: marks an evaluation published at its date and emits `notes.grades_published`.
/// Idempotent: an evaluation deleted, already published, or whose date was moved later is left alone (a
/// moved date scheduled its own job).
pub struct Publish;

#[async_trait]
impl JobHandler for Publish {
    fn kind(&self) -> &str {
        PUBLISH_JOB
    }

    async fn run(&self, ctx: &mut Context<'_>, job: &JobInfo) -> Result<()> {
        let payload: PublishPayload =
            serde_json::from_value(job.payload.clone()).map_err(|e| Error::invalid("payload", e.to_string()))?;
        let Some(found) = ctx.tx().get_record::<Evaluation>(payload.evaluation).await? else {
            return Ok(());
        };
        let mut evaluation = found.value;
        if evaluation.published || evaluation.publish_at > ctx.now() {
            return Ok(());
        }
        evaluation.published = true;
        evaluation.updated_at = ctx.now();
        ctx.tx().update_record(found.version, &evaluation).await?;
        let pupils = evaluation.grades.iter().map(|g| g.pupil).collect();
        ctx.emit(&GradesPublished::of(&evaluation, pupils)).await?;
        Ok(())
    }
}
