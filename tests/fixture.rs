//! What the SDK tests share: a clock, callers, an assembly over a memory store with the guest book and a
//! probe module whose handlers can be told to fail, and a way to see what the store holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ent::core::clock::ManualClock;
use ent::core::directory::Profile;
use ent::core::event::{Event, EventEnvelope, Subscriber};
use ent::core::job::{JobHandler, JobInfo};
use ent::core::module::{Action, Context, Handlers, Manifest, ServiceModule};
use ent::core::storage::{CollectionDef, KeyKind, Record, Scan, Store, Tuple, TxMode};
use ent::core::{Caller, Ent, EntBuilder, Error, StructureId, UserId};
use ent::storage::memory::MemoryStore;
use guestbook::Guestbook;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(crate) fn clock() -> ManualClock {
    ManualClock::at("2026-09-07T08:00:00Z".parse().unwrap())
}

pub(crate) fn user(structure: StructureId, profile: Profile) -> Caller {
    Caller::user(UserId::new(), structure, [profile])
}

/// An assembly of the guest book and the probe over `store`.
pub(crate) fn builder(store: &MemoryStore, clock: &ManualClock, probe: &Probe) -> EntBuilder {
    Ent::builder(Arc::new(store.clone())).clock(Arc::new(clock.clone())).module(Guestbook).module(probe.clone())
}

pub(crate) async fn assemble(store: &MemoryStore, clock: &ManualClock, probe: &Probe) -> Ent {
    builder(store, clock, probe).build().await.unwrap()
}

/// How many records (and counters do not count) each collection holds: the "nothing stored" check.
pub(crate) async fn census(store: &MemoryStore) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let mut names: Vec<String> = store.collections().await.unwrap().into_iter().map(|c| c.name).collect();
    names.sort();
    for name in names {
        let n = tx.count(&Scan::primary(name.as_str())).await.unwrap();
        out.push((name, n));
    }
    out
}

pub(crate) async fn counter(store: &MemoryStore, collection: &str, key: Tuple) -> i64 {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    tx.counter_get(collection, &key).await.unwrap()
}

/// The probe module: an action that writes, emits and can fail after emitting or panic; a subscriber that
/// records what it sees and can be told to fail; a job that fails on demand.
#[derive(Clone, Default)]
pub(crate) struct Probe {
    pub(crate) state: Arc<ProbeState>,
}

#[derive(Default)]
pub(crate) struct ProbeState {
    /// Events the subscriber handled (committed or not), in order: (source, seq, n).
    pub(crate) seen: Mutex<Vec<(String, i64, u32)>>,
    /// The subscriber fails this many more times.
    pub(crate) subscriber_failures: AtomicUsize,
    /// The job fails this many more times.
    pub(crate) job_failures: AtomicUsize,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Touched {
    pub(crate) source: String,
    pub(crate) n: u32,
}

impl Event for Touched {
    const NAME: &'static str = "probe.touched";
    fn source(&self) -> String {
        self.source.clone()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Thing {
    pub(crate) n: u32,
}

impl Record for Thing {
    const COLLECTION: &'static str = "probe.things";
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Int])
    }
    fn id(&self) -> Tuple {
        (self.n as i64,).into()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct TouchInput {
    pub(crate) n: u32,
    #[serde(default)]
    pub(crate) source: Option<String>,
    /// Fail after writing and emitting: the transaction must roll back.
    #[serde(default)]
    pub(crate) fail: bool,
    /// Panic after writing and emitting.
    #[serde(default)]
    pub(crate) panic: bool,
}

pub(crate) struct Touch;

#[async_trait]
impl Action for Touch {
    type Input = TouchInput;
    type Output = u32;
    const NAME: &'static str = "probe.touch";
    const RIGHT: &'static str = "probe.touch";

    async fn run(&self, ctx: &mut Context<'_>, input: TouchInput) -> ent::Result<u32> {
        use ent::core::storage::TxExt;
        ctx.tx().insert_record(&Thing { n: input.n }).await?;
        let source = input.source.unwrap_or_else(|| "probe".into());
        ctx.emit(&Touched { source, n: input.n }).await?;
        if input.panic {
            panic!("probe told to panic");
        }
        if input.fail {
            return Err(Error::invalid("probe", "told to fail"));
        }
        Ok(input.n)
    }
}

struct Recorder(Arc<ProbeState>);

#[async_trait]
impl Subscriber for Recorder {
    fn name(&self) -> &str {
        "probe.recorder"
    }

    async fn handle(&self, ctx: &mut Context<'_>, event: &EventEnvelope) -> ent::Result<()> {
        let touched: Touched = event.payload_as()?;
        self.0.seen.lock().unwrap().push((event.source.clone(), event.seq, touched.n));
        ctx.tx().counter_add(Thing::COLLECTION, &("delivered",).into(), 1).await?;
        let fail = self.0.subscriber_failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if fail.is_ok() {
            return Err(Error::invalid("probe.recorder", "told to fail"));
        }
        Ok(())
    }
}

struct Chore(Arc<ProbeState>);

#[async_trait]
impl JobHandler for Chore {
    fn kind(&self) -> &str {
        "probe.chore"
    }

    async fn run(&self, ctx: &mut Context<'_>, _job: &JobInfo) -> ent::Result<()> {
        ctx.tx().counter_add(Thing::COLLECTION, &("chores",).into(), 1).await?;
        let fail = self.0.job_failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if fail.is_ok() {
            return Err(Error::invalid("probe.chore", "told to fail"));
        }
        Ok(())
    }
}

impl ServiceModule for Probe {
    fn manifest(&self) -> Manifest {
        Manifest::new("probe", "1.0.0")
            .requires("guestbook", "^0.1")
            .right("probe.touch", "Touch", [Profile::Enseignant])
            .collection::<Thing>()
            .action::<Touch>()
            .emits::<Touched>()
            .listens("probe.recorder", [Touched::NAME])
            .job("probe.chore", "A chore", None)
    }

    fn handlers(&self) -> Handlers {
        Handlers::new().action(Touch).subscriber(Recorder(self.state.clone())).job(Chore(self.state.clone()))
    }
}

/// A module made of a manifest and handlers given by the test.
#[derive(Clone)]
pub(crate) struct Custom {
    pub(crate) manifest: Manifest,
    pub(crate) handlers: Handlers,
}

impl Custom {
    pub(crate) fn new(manifest: Manifest) -> Self {
        Custom { manifest, handlers: Handlers::new() }
    }
}

impl ServiceModule for Custom {
    fn manifest(&self) -> Manifest {
        self.manifest.clone()
    }
    fn handlers(&self) -> Handlers {
        self.handlers.clone()
    }
}

pub(crate) fn _assert_types() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Ent>();
    send_sync::<MemoryStore>();
    send_sync::<Probe>();
    send_sync::<Guestbook>();
    let _ = |store: Arc<dyn Store>| store;
}
