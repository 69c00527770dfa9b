//! The context a handler runs in: who acts, the transaction, the clock, events, settings, jobs, the
//! module's configuration. The same context serves actions, event subscribers and jobs.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::action::Action;
use crate::caller::Caller;
use crate::clock::Clock;
use crate::ent::Runtime;
use crate::event::Event;
use crate::job::JobSpec;
use crate::storage::Transaction;
use crate::{Error, EventId, JobId, Result, StructureId};

/// What a handler gets: the caller, the transaction of the call, and the services that write into it.
pub struct Context<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) caller: &'a Caller,
    pub(crate) module: &'a str,
    pub(crate) tx: &'a mut dyn Transaction,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("caller", self.caller).field("module", &self.module).finish()
    }
}

impl<'a> Context<'a> {
    /// Who acts.
    pub fn caller(&self) -> &Caller {
        self.caller
    }

    /// The module whose handler runs.
    pub fn module(&self) -> &str {
        self.module
    }

    /// The transaction of the call: everything written here commits or rolls back with the call.
    pub fn tx(&mut self) -> &mut dyn Transaction {
        &mut *self.tx
    }

    /// The current time, from the assembly's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.rt.clock.now()
    }

    /// The assembly's clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.rt.clock
    }

    /// Emits an event declared by this module: it is written to the outbox in this transaction and
    /// delivered to subscribers after commit; a rollback discards it.
    pub async fn emit<E: Event>(&mut self, event: &E) -> Result<EventId> {
        let payload = serde_json::to_value(event).map_err(|e| Error::serialization(E::NAME, e))?;
        let source = event.source();
        self.emit_json(E::NAME, &source, payload).await
    }

    /// Emits an event given as JSON (for modules whose events are not Rust types).
    pub async fn emit_json(&mut self, name: &str, source: &str, payload: Value) -> Result<EventId> {
        crate::event::outbox::write(self.rt, &mut *self.tx, self.caller, self.module, name, source, payload).await
    }

    /// The value of a setting for a structure: the one an administrator set, or the manifest's default.
    pub async fn setting<T: DeserializeOwned>(&mut self, name: &str, structure: StructureId) -> Result<T> {
        let value = crate::settings::read(self.rt, &mut *self.tx, name, structure).await?;
        serde_json::from_value(value).map_err(|e| Error::serialization(format!("setting {name}"), e))
    }

    /// Schedules a job, in this transaction (it exists only if the call commits).
    pub async fn schedule(&mut self, job: JobSpec) -> Result<JobId> {
        crate::job::schedule(self.rt, &mut *self.tx, job).await
    }

    /// The module's configuration, as given to the assembly (validated against the manifest's schema).
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        let value = self.rt.registry.config(self.module).cloned().unwrap_or(Value::Null);
        serde_json::from_value(value).map_err(|e| Error::serialization(format!("configuration of {}", self.module), e))
    }

    /// Runs another action in this same transaction, as the same caller: its right is checked and its
    /// input validated exactly as for a call from outside.
    pub async fn run<A: Action>(&mut self, input: A::Input) -> Result<A::Output> {
        let value =
            serde_json::to_value(&input).map_err(|e| Error::serialization(format!("input of {}", A::NAME), e))?;
        let entry = self.rt.prepare(self.caller, A::NAME, &value).await?;
        let action = entry.handler.as_any().downcast_ref::<A>().ok_or_else(|| entry.not_typed::<A>())?;
        let mut ctx = Context { rt: self.rt, caller: self.caller, module: &entry.module, tx: &mut *self.tx };
        guard(A::NAME, action.run(&mut ctx, input)).await
    }
}

impl<'a> Context<'a> {
    fn engine(&self) -> Result<&'a crate::rights::RightsEngine> {
        let rt: &'a Runtime = self.rt;
        rt.authorizer.as_engine().ok_or_else(|| {
            Error::Config("relationship guards need the rights engine: EntBuilder::authorizer(RightsEngine)".into())
        })
    }

    /// The caller's effective rights, true as of now in the structure they act in (for a user caller;
    /// [`Error::Invalid`] for the system). Needs the rights engine in the assembly.
    pub async fn rights(&mut self) -> Result<std::sync::Arc<crate::rights::EffectiveRights>> {
        self.engine()?.rights_of(&self.rt.registry, self.caller).await
    }

    /// Checks that the caller may read a pupil's data (in `subject`, when given), reading the pupil's
    /// facts in this transaction, and returns the relation found (`None` for a system caller). Reads by
    /// staff are audited off the request path. [`Error::Forbidden`] without a relation.
    pub async fn read_pupil(
        &mut self,
        pupil: crate::UserId,
        subject: Option<crate::SubjectId>,
    ) -> Result<Option<crate::rights::Relation>> {
        let engine = self.engine()?;
        let year = engine.year();
        let facts = crate::rights::PupilFacts::load(&mut *self.tx, pupil, year).await?;
        engine.read_pupil(&self.rt.registry, self.caller, &facts, subject).await
    }

    /// Checks that the caller may read each of these pupils' data (in `subject`, when given), from facts the
    /// module already read (a class's members), reading the caller's rights once: [`Error::Forbidden`] if
    /// any pupil is out of reach. Each staff read is audited, one entry per pupil, off the request path.
    pub async fn read_pupils(
        &mut self,
        pupils: &[crate::rights::PupilFacts],
        subject: Option<crate::SubjectId>,
    ) -> Result<Vec<Option<crate::rights::Relation>>> {
        let engine = self.engine()?;
        engine.read_pupils(&self.rt.registry, self.caller, pupils, subject).await
    }
}

/// Runs a handler's future, turning a panic into [`Error::Panicked`].
pub(crate) async fn guard<T>(what: &str, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without message".to_owned());
            Err(Error::Panicked { what: what.to_owned(), message })
        }
    }
}
