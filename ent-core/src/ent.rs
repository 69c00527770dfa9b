//! The assembly: storage + modules + configuration -> a running [`Ent`].
//!
//! [`EntBuilder::build`] refuses to start, naming the problem, when two modules share an id, a module's
//! dependency is missing or in the wrong version, a module needs another `ent-core`, a configuration does
//! not match its schema, a manifest contradicts its handlers, or the store holds data written by a newer
//! version of a module. Otherwise it declares every collection, runs the modules' migrations, records the
//! modules' versions in the store and schedules the periodic jobs.
//!
//! Every call goes through one path: find the action, check its right ([`Authorizer`]), validate its input
//! against its schema, run its handler in a transaction (run again on a serialization conflict), commit,
//! then wake the event delivery.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::audit::{AUDIT, AuditEntry};
use crate::authorize::{Authorizer, DefaultGrants};
use crate::caller::Caller;
use crate::clock::{Clock, SystemClock};
use crate::directory::Profile;
use crate::event::DeliveryReport;
use crate::job::{JobReport, JobSpec};
use crate::module::context::guard;
use crate::module::installed::InstalledModule;
use crate::module::registry::ActionEntry;
use crate::module::{
    Action, CORE_VERSION, CollectionDecl, Context, Handlers, Manifest, Migration, Registry, ServiceModule,
};
use crate::settings::{SETTINGS_WRITE, SettingValue};
use crate::storage::retry::RetryPolicy;
use crate::storage::{Record, Scan, Store, TxExt, TxMode};
use crate::{Error, JobId, Result, StructureId, audit, rights, settings};

/// What every handler, worker and call of one assembly shares.
pub(crate) struct Runtime {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) registry: Registry,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) retry: RetryPolicy,
    pub(crate) wake: Notify,
    /// This process's name in job leases.
    pub(crate) worker: String,
    /// How long a claimed job is reserved to its process.
    pub(crate) lease: Duration,
}

impl Runtime {
    /// Finds an action, checks the caller's right, validates the input: the one place both paths share.
    pub(crate) async fn prepare(&self, caller: &Caller, action: &str, input: &Value) -> Result<Arc<ActionEntry>> {
        let entry = self.registry.resolve(action)?.clone();
        self.authorizer.authorize(&self.registry, caller, &entry.decl.right).await?;
        let violations = entry.input.violations(input);
        if !violations.is_empty() {
            return Err(Error::InvalidInput { action: entry.decl.name.clone(), violations });
        }
        Ok(entry)
    }
}

/// ent-core's own declarations: its collections and the rights it checks.
struct CoreModule;

#[async_trait::async_trait]
impl ServiceModule for CoreModule {
    fn manifest(&self) -> Manifest {
        let mut manifest = Manifest::new("ent", CORE_VERSION)
            .description("ent-core: events, jobs, settings, audit")
            .right(SETTINGS_WRITE, "Change the settings of a structure", [Profile::AdminLocal, Profile::AdminCentral])
            .right(
                rights::MANAGE,
                "Manage roles and grants in a structure",
                [Profile::AdminLocal, Profile::AdminCentral],
            )
            .right(rights::AUDIT_READ, "Read a structure's audit log", [Profile::AdminLocal, Profile::AdminCentral])
            .job(audit::PURGE_JOB, "Delete audit entries older than a year (scheduled with the rights engine)", None);
        manifest.collections = crate::storage::core_collections()
            .into_iter()
            .map(|def| CollectionDecl { def, schema_version: 1 })
            .collect();
        manifest
    }

    fn handlers(&self) -> Handlers {
        Handlers::new().job(audit::PurgeAudit)
    }

    /// Fills the indexes added to the core's collections in a store that already held records (the users'
    /// `by_token_name`, which replaced `by_token` and `by_name_token`).
    async fn migrate(&self, store: &dyn Store, migration: &crate::module::Migration) -> Result<()> {
        if migration.new_indexes.iter().any(|(c, _)| c == crate::directory::User::COLLECTION) {
            crate::storage::typed::reindex::<crate::directory::User>(store, 500).await?;
        }
        Ok(())
    }
}

/// Assembles an [`Ent`]: see the `guestbook` example crate for a complete assembly.
pub struct EntBuilder {
    store: Arc<dyn Store>,
    modules: Vec<Arc<dyn ServiceModule>>,
    configs: HashMap<String, Value>,
    duplicate_config: Option<String>,
    clock: Arc<dyn Clock>,
    authorizer: Arc<dyn Authorizer>,
    retry: RetryPolicy,
    worker: String,
    lease: Duration,
}

impl EntBuilder {
    /// Adds a module.
    pub fn module(mut self, module: impl ServiceModule) -> Self {
        self.modules.push(Arc::new(module));
        self
    }

    /// Adds a module already shared.
    pub fn module_arc(mut self, module: Arc<dyn ServiceModule>) -> Self {
        self.modules.push(module);
        self
    }

    /// Gives a module its configuration (checked against the manifest's configuration schema).
    pub fn config(mut self, module: impl Into<String>, config: Value) -> Self {
        let module = module.into();
        if self.configs.insert(module.clone(), config).is_some() {
            self.duplicate_config = Some(module);
        }
        self
    }

    /// Sets the clock (a [`crate::clock::ManualClock`] in tests). Defaults to the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the rights check. Defaults to [`DefaultGrants`].
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }

    /// Sets how transactions are retried on serialization conflicts.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Names this process in job leases (defaults to a random name).
    pub fn worker_name(mut self, name: impl Into<String>) -> Self {
        self.worker = name.into();
        self
    }

    /// How long a claimed job stays reserved to this process (default 5 minutes): a job whose process died
    /// runs again after this.
    pub fn job_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Checks the assembly and starts it. See the [module documentation](self) for what it refuses.
    pub async fn build(self) -> Result<Ent> {
        if let Some(module) = self.duplicate_config {
            return Err(Error::Config(format!("two configurations were given for module `{module}`")));
        }
        let mut modules: Vec<Arc<dyn ServiceModule>> = vec![Arc::new(CoreModule)];
        modules.extend(self.modules);
        let registry = Registry::build(modules, self.configs)?;
        let store = self.store;

        // Check what the store holds before declaring anything: declaring would drop the indexes a newer
        // version added.
        store.declare(&[InstalledModule::collection()]).await?;
        let installed = read_installed(&*store).await?;
        for entry in registry.entries() {
            let Some(stored) = installed.get(&entry.manifest.id) else { continue };
            if let Ok(stored_version) = semver::Version::parse(&stored.version)
                && stored_version > entry.version
            {
                return Err(Error::Downgrade {
                    module: entry.manifest.id.clone(),
                    stored: stored.version.clone(),
                    running: entry.version.to_string(),
                });
            }
            for decl in &entry.manifest.collections {
                if let Some(&stored_schema) = stored.collections.get(&decl.def.name)
                    && stored_schema > decl.schema_version
                {
                    return Err(Error::SchemaTooNew {
                        what: format!("collection {}", decl.def.name),
                        stored: stored_schema,
                        supported: decl.schema_version,
                    });
                }
            }
        }

        let collections: Vec<_> =
            registry.manifests().flat_map(|m| m.collections.iter().map(|c| c.def.clone())).collect();
        let report = store.declare(&collections).await?;

        let rt = Arc::new(Runtime {
            store,
            registry,
            clock: self.clock,
            authorizer: self.authorizer,
            retry: self.retry,
            wake: Notify::new(),
            worker: self.worker,
            lease: self.lease,
        });

        for entry in rt.registry.entries() {
            let m = &entry.manifest;
            let stored = installed.get(&m.id);
            let new_indexes: Vec<(String, String)> = report
                .new_indexes
                .iter()
                .filter(|(c, _)| m.collections.iter().any(|d| &d.def.name == c))
                .cloned()
                .collect();
            let collections: BTreeMap<String, u32> =
                m.collections.iter().map(|c| (c.def.name.clone(), c.schema_version)).collect();
            let record = InstalledModule { id: m.id.clone(), version: m.version.clone(), collections };
            if stored == Some(&record) && new_indexes.is_empty() {
                continue;
            }
            let migration = Migration {
                from: stored.and_then(|s| semver::Version::parse(&s.version).ok()),
                to: entry.version.clone(),
                new_indexes,
            };
            entry.module.migrate(&*rt.store, &migration).await?;
            let mut tx = rt.store.begin(TxMode::ReadWrite).await?;
            match tx.get_record::<InstalledModule>((m.id.as_str(),)).await? {
                Some(old) => tx.update_record(old.version, &record).await?,
                None => tx.insert_record(&record).await?,
            };
            tx.commit().await?;
        }

        crate::job::scheduler::ensure_periodic(&rt).await?;
        if rt.authorizer.as_engine().is_some() {
            // The engine audits every staff read: the log it grows is purged daily.
            crate::job::scheduler::ensure_scheduled(&rt, audit::PURGE_JOB, 24 * 3600).await?;
        }
        Ok(Ent { rt })
    }
}

async fn read_installed(store: &dyn Store) -> Result<HashMap<String, InstalledModule>> {
    let mut out = HashMap::new();
    let mut cursor = None;
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    loop {
        let scan = Scan::primary(crate::module::installed::MODULES).limit(1000).after(cursor);
        let (page, next) = tx.scan_records::<InstalledModule>(&scan).await?;
        out.extend(page.into_iter().map(|r| (r.value.id.clone(), r.value)));
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// A running instance: modules over a store. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Ent {
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for Ent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ent").field("store", &self.rt.store.adapter()).field("registry", &self.rt.registry).finish()
    }
}

impl Ent {
    /// Starts assembling an instance over `store`.
    pub fn builder(store: Arc<dyn Store>) -> EntBuilder {
        EntBuilder {
            store,
            modules: Vec::new(),
            configs: HashMap::new(),
            duplicate_config: None,
            clock: Arc::new(SystemClock),
            authorizer: Arc::new(DefaultGrants),
            // Conflicts between processes on one database (SQLite's single writer, PostgreSQL's serialization
            // failures) are resolved by waiting a little and trying again: jittered, growing waits.
            retry: RetryPolicy { max_attempts: 20, clock: Some(Arc::new(SystemClock)), ..RetryPolicy::default() },
            worker: format!("worker-{}", uuid::Uuid::now_v7()),
            lease: Duration::from_secs(300),
        }
    }

    /// The modules, their manifests, actions, rights and settings.
    pub fn registry(&self) -> &Registry {
        &self.rt.registry
    }

    /// Administrators' operations on rights (roles, grants, explanations, the audit log). Needs the rights
    /// engine in the assembly ([`EntBuilder::authorizer`]), [`Error::Config`] otherwise.
    pub fn rights(&self) -> Result<rights::RightsAdmin<'_>> {
        let engine = self.rt.authorizer.as_engine().ok_or_else(|| {
            Error::Config("rights administration needs the rights engine: EntBuilder::authorizer(RightsEngine)".into())
        })?;
        Ok(rights::RightsAdmin { rt: &self.rt, engine })
    }

    /// Whether `caller` holds `right` ([`Error::Forbidden`] if not), by the assembly's [`Authorizer`]: the
    /// same check every action's call makes. A web shell asks it to show only what the user may open.
    pub async fn authorize(&self, caller: &Caller, right: &str) -> Result<()> {
        self.rt.authorizer.authorize(&self.rt.registry, caller, right).await
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.rt.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.rt.clock
    }

    /// Runs an action from JSON text, as the HTTP layer and plugins do: `action` is `module.action`. Errors:
    /// [`Error::UnknownModule`], [`Error::UnknownAction`], [`Error::MalformedJson`], [`Error::Forbidden`],
    /// [`Error::InvalidInput`], and whatever the action returns; on any error nothing is stored.
    pub async fn call(&self, caller: &Caller, action: &str, input: &str) -> Result<Value> {
        self.rt.registry.resolve(action)?;
        let value: Value =
            serde_json::from_str(input).map_err(|e| Error::malformed_json(format!("input of {action}"), &e))?;
        self.call_value(caller, action, value).await
    }

    /// Runs an action from a JSON value.
    pub async fn call_value(&self, caller: &Caller, action: &str, input: Value) -> Result<Value> {
        let entry = self.rt.prepare(caller, action, &input).await?;
        let read_only = entry.decl.read_only;
        let mode = if read_only { TxMode::ReadOnly } else { TxMode::ReadWrite };
        let (rt, caller2, entry2) = (self.rt.clone(), caller.clone(), entry.clone());
        let output = self
            .rt
            .retry
            .run(&*self.rt.store, mode, move |tx| {
                let (rt, caller, entry, input) = (rt.clone(), caller2.clone(), entry2.clone(), input.clone());
                Box::pin(async move {
                    let mut ctx = Context { rt: &rt, caller: &caller, module: &entry.module, tx: &mut *tx };
                    let output = guard(&entry.decl.name, entry.handler.run_json(&mut ctx, input)).await?;
                    audit_system_write(&rt, &mut *tx, &caller, &entry).await?;
                    Ok(output)
                })
            })
            .await?;
        if !read_only {
            self.rt.wake.notify_one();
        }
        Ok(output)
    }

    /// Runs an action with typed input and output: the module's typed API calls this. The right and the
    /// input's schema are checked exactly as for [`Ent::call`].
    pub async fn run<A: Action>(&self, caller: &Caller, input: A::Input) -> Result<A::Output> {
        let value =
            serde_json::to_value(&input).map_err(|e| Error::serialization(format!("input of {}", A::NAME), e))?;
        let entry = self.rt.prepare(caller, A::NAME, &value).await?;
        if entry.handler.as_any().downcast_ref::<A>().is_none() {
            return Err(entry.not_typed::<A>());
        }
        let mode = if A::READ_ONLY { TxMode::ReadOnly } else { TxMode::ReadWrite };
        let (rt, caller2, entry2) = (self.rt.clone(), caller.clone(), entry.clone());
        let output = self
            .rt
            .retry
            .run(&*self.rt.store, mode, move |tx| {
                let (rt, caller, entry, value) = (rt.clone(), caller2.clone(), entry2.clone(), value.clone());
                Box::pin(async move {
                    let input: A::Input = serde_json::from_value(value)
                        .map_err(|e| Error::serialization(format!("input of {}", A::NAME), e))?;
                    let action = entry.handler.as_any().downcast_ref::<A>().ok_or_else(|| entry.not_typed::<A>())?;
                    let mut ctx = Context { rt: &rt, caller: &caller, module: &entry.module, tx: &mut *tx };
                    let output = guard(A::NAME, action.run(&mut ctx, input)).await?;
                    audit_system_write(&rt, &mut *tx, &caller, &entry).await?;
                    Ok(output)
                })
            })
            .await?;
        if !A::READ_ONLY {
            self.rt.wake.notify_one();
        }
        Ok(output)
    }

    /// Delivers every pending event that is due (those whose handler failed wait for their retry time).
    /// Workers call this; tests call it to deliver deterministically.
    pub async fn run_pending_events(&self) -> Result<DeliveryReport> {
        crate::event::delivery::run_pending(&self.rt).await
    }

    /// Runs every job due now (including those that fell due while no process ran).
    pub async fn run_due_jobs(&self) -> Result<JobReport> {
        crate::job::scheduler::run_due(&self.rt).await
    }

    /// Schedules a job.
    pub async fn schedule(&self, job: JobSpec) -> Result<JobId> {
        let mut tx = self.rt.store.begin(TxMode::ReadWrite).await?;
        let id = crate::job::schedule(&self.rt, &mut *tx, job).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A setting's value for a structure (the manifest's default if the structure never set one).
    pub async fn setting<T: DeserializeOwned>(&self, structure: StructureId, name: &str) -> Result<T> {
        let value = self.setting_value(structure, name).await?.value;
        serde_json::from_value(value).map_err(|e| Error::serialization(format!("setting {name}"), e))
    }

    /// A setting's value and version for a structure.
    pub async fn setting_value(&self, structure: StructureId, name: &str) -> Result<SettingValue> {
        let mut tx = self.rt.store.begin(TxMode::ReadOnly).await?;
        settings::read_versioned(&self.rt, &mut *tx, name, structure).await
    }

    /// Changes a setting for a structure. Needs the right `ent.settings.write` in that structure; the value
    /// must match the setting's schema ([`Error::InvalidSetting`]); with `expected_version` (from
    /// [`Ent::setting_value`]) a concurrent change is refused with a non-retryable [`Error::Conflict`].
    /// The change is audited. Returns the new version.
    pub async fn set_setting<T: Serialize>(
        &self,
        caller: &Caller,
        structure: StructureId,
        name: &str,
        value: &T,
        expected_version: Option<u64>,
    ) -> Result<u64> {
        self.rt.registry.setting_entry(name)?;
        settings::authorize_write(&self.rt, caller, structure).await?;
        let value = serde_json::to_value(value).map_err(|e| Error::serialization(format!("setting {name}"), e))?;
        let (rt, caller2, name2) = (self.rt.clone(), caller.clone(), name.to_owned());
        self.rt
            .retry
            .run(&*self.rt.store, TxMode::ReadWrite, move |tx| {
                let (rt, caller, name, value) = (rt.clone(), caller2.clone(), name2.clone(), value.clone());
                Box::pin(async move {
                    settings::write(&rt, &mut *tx, &caller, structure, &name, value, expected_version).await
                })
            })
            .await
    }

    /// The audit entries about `target` (an action name, `setting@structure`, a job kind), oldest first, at
    /// most `limit`.
    pub async fn audit_trail(&self, target: &str, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut tx = self.rt.store.begin(TxMode::ReadOnly).await?;
        let scan = Scan::index(AUDIT, "by_target").prefix((target,)).limit(limit);
        Ok(tx.scan_records::<AuditEntry>(&scan).await?.0.into_iter().map(|v| v.value).collect())
    }

    /// Starts background delivery of events and running of jobs on the current tokio runtime: woken after
    /// each committed action, and every `poll` otherwise (for events emitted and jobs due in other
    /// processes). Stops when the returned [`Workers`] is stopped or dropped.
    pub fn spawn_workers(&self, poll: Duration) -> Workers {
        let rt = self.rt.clone();
        let stop = Arc::new(Notify::new());
        let last_error = Arc::new(Mutex::new(None));
        let (stop2, last_error2) = (stop.clone(), last_error.clone());
        let handle = tokio::spawn(async move {
            loop {
                let events = crate::event::delivery::run_pending(&rt).await.err();
                let jobs = crate::job::scheduler::run_due(&rt).await.err();
                if let Some(e) = events.or(jobs) {
                    *last_error2.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                }
                let woken = std::pin::pin!(rt.wake.notified());
                let timer = std::pin::pin!(tokio::time::sleep(poll));
                let stopped = std::pin::pin!(stop2.notified());
                let next = futures::future::select(futures::future::select(woken, timer), stopped).await;
                if let futures::future::Either::Right(_) = next {
                    return;
                }
            }
        });
        Workers { handle: Some(handle), stop, last_error }
    }
}

async fn audit_system_write(
    rt: &Runtime,
    tx: &mut dyn crate::storage::Transaction,
    caller: &Caller,
    entry: &ActionEntry,
) -> Result<()> {
    if caller.is_system() && !entry.decl.read_only {
        audit::record(rt, tx, caller, "action.run", &entry.decl.name, json!({})).await?;
    }
    Ok(())
}

/// The background workers of an [`Ent`].
pub struct Workers {
    handle: Option<tokio::task::JoinHandle<()>>,
    stop: Arc<Notify>,
    last_error: Arc<Mutex<Option<Error>>>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").finish_non_exhaustive()
    }
}

impl Workers {
    /// Stops after the current round and waits for it.
    pub async fn stop(mut self) {
        self.stop.notify_one();
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }

    /// The last error a round met (the round after it retries), for health checks.
    pub fn last_error(&self) -> Option<Error> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}
