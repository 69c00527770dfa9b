//! **notes**: evaluations (devoirs), grades and averages, for every profile. The guide is
//! `docs/modules/notes.md`: the rules implemented, the records, the actions, the settings and rights, and
//! what each profile sees.
//!
//! - [`rules`]: the averaging engine, pure functions with exact arithmetic (unit- and property-tested);
//! - [`records`]: one record per evaluation holding all its grades, indexed so that a class's period is one
//!   index scan;
//! - actions (`notes.create_evaluation`, `notes.record_grades`, `notes.pupil_period`,
//!   `notes.teacher_grid`, `notes.class_averages`...), the publication job and the `notes.grades_published`
//!   event.
//!
//! The module needs the rights engine in the assembly (relationship guards and audited staff reads):
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn ent_core::storage::Store>) -> ent_core::Result<()> {
//! use std::sync::Arc;
//! use ent_core::clock::SystemClock;
//! use ent_core::rights::RightsEngine;
//! use ent_modules::notes::Notes;
//! let engine = RightsEngine::new(store.clone(), Arc::new(SystemClock));
//! let ent = ent_core::Ent::builder(store).authorizer(engine).module(Notes).build().await?;
//! # let _ = ent; Ok(()) }
//! ```

pub mod actions;
mod hundredths;
pub mod publish;
pub mod records;
pub mod rules;
pub mod service;
pub mod views;
pub mod web;

use std::borrow::Cow;

use ent_core::directory::Profile;
use ent_core::module::{Handlers, Manifest, ServiceModule};
use ent_core::{Caller, Ent, Result};

pub use actions::{
    CreateEvaluation, CreateEvaluationInput, DeleteEvaluation, DeleteEvaluationInput, EvaluationWritten, GradeInput,
    PeriodView, Periods, PeriodsInput, RecordGrades, RecordGradesInput, RecordGradesOutput, SetPeriod, SetPeriodInput,
    SetSubjectOptions, SetSubjectOptionsInput, UpdateEvaluation, UpdateEvaluationInput,
};
pub use hundredths::Hundredths;
pub use publish::{GradesPublished, PUBLISH_JOB, Publish, PublishPayload};
pub use records::{Evaluation, EvaluationId, Grade, SubjectOptions};
pub use service::{NotesOptions, UnitRef};
pub use views::{
    ChildPeriod, ChildrenPeriod, ClassAverages, ClassAveragesAction, ClassAveragesInput, MyTeachings, MyTeachingsInput,
    PeriodRef, PupilPeriod, PupilPeriodAction, PupilPeriodInput, TeacherGrid, TeacherGridAction, TeacherGridInput,
    TeachingView,
};

/// Read grades: one's own, one's children's, one's classes' (the relationship guards narrow it).
pub const READ: &str = "notes.read";
/// Create evaluations and write grades (teachers, for the classes and subjects they teach).
pub const WRITE: &str = "notes.write";
/// Read a whole class's averages (direction; a professeur principal for their class).
pub const CLASS_READ: &str = "notes.class_read";
/// Set periods and subject coefficients (direction).
pub const MANAGE: &str = "notes.manage";
/// The structure setting holding [`NotesOptions`].
pub const OPTIONS: &str = "notes.options";

/// The notes module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notes;

impl ServiceModule for Notes {
    fn manifest(&self) -> Manifest {
        use Profile::*;
        let m = Manifest::new("notes", env!("CARGO_PKG_VERSION"))
            .description("Evaluations, grades and averages (notes)")
            .right(
                READ,
                "Read grades and averages",
                [Eleve, Responsable, Enseignant, Direction, VieScolaire, AdminLocal, AdminCentral],
            )
            .right(WRITE, "Create evaluations and write grades", [Enseignant])
            .right(CLASS_READ, "Read a class's averages", [Direction, Enseignant, AdminLocal, AdminCentral])
            .right(MANAGE, "Set periods and subject coefficients", [Direction, AdminLocal, AdminCentral])
            .collection::<Evaluation>()
            .collection::<SubjectOptions>()
            .action::<CreateEvaluation>()
            .action::<UpdateEvaluation>()
            .action::<DeleteEvaluation>()
            .action::<RecordGrades>()
            .action::<SetSubjectOptions>()
            .action::<SetPeriod>()
            .action::<Periods>()
            .action::<PupilPeriodAction>()
            .action::<ChildrenPeriod>()
            .action::<TeacherGridAction>()
            .action::<ClassAveragesAction>()
            .action::<MyTeachings>()
            .emits::<GradesPublished>()
            .setting(
                OPTIONS,
                "Rounding, optional-grade rule, ranks and class statistics for families",
                NotesOptions::default(),
            )
            .job(PUBLISH_JOB, "Publish an evaluation at its publication date", None)
            .notification("notes.grades_published", "New grades are visible")
            .i18n("fr", "i18n/fr.ftl")
            .i18n("en", "i18n/en.ftl");
        web::declare(m)
    }

    fn handlers(&self) -> Handlers {
        Handlers::new()
            .action(CreateEvaluation)
            .action(UpdateEvaluation)
            .action(DeleteEvaluation)
            .action(RecordGrades)
            .action(SetSubjectOptions)
            .action(SetPeriod)
            .action(Periods)
            .action(PupilPeriodAction)
            .action(ChildrenPeriod)
            .action(TeacherGridAction)
            .action(ClassAveragesAction)
            .action(web::MyClassesAction)
            .action(MyTeachings)
            .job(Publish)
    }

    fn asset(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        let bytes: &'static [u8] = match path {
            "i18n/fr.ftl" => include_bytes!("i18n/fr.ftl"),
            "i18n/en.ftl" => include_bytes!("i18n/en.ftl"),
            _ => return web::asset(path),
        };
        Some(Cow::Borrowed(bytes))
    }
}

/// The typed API: each method runs its action through the assembly, so rights and input schemas are
/// checked exactly as for a JSON call.
impl Notes {
    /// Creates an evaluation.
    pub async fn create_evaluation(
        ent: &Ent,
        caller: &Caller,
        input: CreateEvaluationInput,
    ) -> Result<EvaluationWritten> {
        ent.run::<CreateEvaluation>(caller, input).await
    }

    /// Writes grades of an evaluation.
    pub async fn record_grades(ent: &Ent, caller: &Caller, input: RecordGradesInput) -> Result<RecordGradesOutput> {
        ent.run::<RecordGrades>(caller, input).await
    }

    /// A pupil's period.
    pub async fn pupil_period(ent: &Ent, caller: &Caller, input: PupilPeriodInput) -> Result<PupilPeriod> {
        ent.run::<PupilPeriodAction>(caller, input).await
    }

    /// A parent's children's periods.
    pub async fn children_period(ent: &Ent, caller: &Caller, input: PeriodRef) -> Result<Vec<ChildPeriod>> {
        ent.run::<ChildrenPeriod>(caller, input).await
    }

    /// A teacher's grid.
    pub async fn teacher_grid(ent: &Ent, caller: &Caller, input: TeacherGridInput) -> Result<TeacherGrid> {
        ent.run::<TeacherGridAction>(caller, input).await
    }

    /// A class's averages.
    pub async fn class_averages(ent: &Ent, caller: &Caller, input: ClassAveragesInput) -> Result<ClassAverages> {
        ent.run::<ClassAveragesAction>(caller, input).await
    }
}
