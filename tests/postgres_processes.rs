//! Two processes on one PostgreSQL database: every event of the SDK is delivered once and every job runs
//! once, none is lost, while both processes emit, deliver and run at the same time.
//!
//! Runs when `ENT_TEST_POSTGRES_URL` is set, in a schema of its own dropped afterwards. The test runs itself
//! twice as a child (its own binary, `--exact` on its name, `ENT_PG_TWIN_SCHEMA` set). Each
//! child assembles an `Ent` on the file with the `twin` module, starts the workers, runs `N` actions (each
//! inserts a record, emits an event and schedules a job), and waits until the subscriber and the job handler
//! have counted all `2 N` of both processes. The subscriber and the job count into per-event counters in the
//! transaction that completes them, so a double delivery would show as a 2.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ent::core::clock::ManualClock;
use ent::core::directory::Profile;
use ent::core::event::{Event, EventEnvelope, Subscriber};
use ent::core::job::{JobHandler, JobInfo, JobSpec};
use ent::core::module::{Action, Context, Handlers, Manifest, ServiceModule};
use ent::core::storage::{CollectionDef, KeyKind, Record, Scan, Store, Tuple, TxExt, TxMode};
use ent::core::{Caller, Ent, StructureId, UserId};
use ent::storage::postgres::{PostgresOptions, PostgresStore};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const N: i64 = 150;
const SCHEMA_ENV: &str = "ENT_PG_TWIN_SCHEMA";
const FROM_ENV: &str = "ENT_PG_TWIN_FROM";
const URL_ENV: &str = "ENT_TEST_POSTGRES_URL";
const TEST_NAME: &str = "postgres_processes::two_processes_deliver_each_event_and_run_each_job_once";

async fn open(url: &str, schema: &str) -> PostgresStore {
    let options = PostgresOptions { schema: Some(schema.to_owned()), ..PostgresOptions::default() };
    PostgresStore::connect_with(url, options).await.unwrap()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Thing {
    n: i64,
}

impl Record for Thing {
    const COLLECTION: &'static str = "twin.things";
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Int])
    }
    fn id(&self) -> Tuple {
        (self.n,).into()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct Touched {
    n: i64,
}

impl Event for Touched {
    const NAME: &'static str = "twin.touched";
    fn source(&self) -> String {
        // Four sources: delivery is ordered per source, so both processes have work at once.
        format!("twin.{}", self.n % 4)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct TouchInput {
    n: i64,
}

struct Touch;

#[async_trait]
impl Action for Touch {
    type Input = TouchInput;
    type Output = ();
    const NAME: &'static str = "twin.touch";
    const RIGHT: &'static str = "twin.touch";

    async fn run(&self, ctx: &mut Context<'_>, input: TouchInput) -> ent::Result<()> {
        ctx.tx().insert_record(&Thing { n: input.n }).await?;
        ctx.emit(&Touched { n: input.n }).await?;
        let now = ctx.now();
        ctx.schedule(JobSpec::new("twin.job", serde_json::json!({ "n": input.n })).at(now)).await?;
        Ok(())
    }
}

struct Recorder;

#[async_trait]
impl Subscriber for Recorder {
    fn name(&self) -> &str {
        "twin.recorder"
    }

    async fn handle(&self, ctx: &mut Context<'_>, event: &EventEnvelope) -> ent::Result<()> {
        let touched: Touched = event.payload_as()?;
        ctx.tx().counter_add(Thing::COLLECTION, &("delivered", touched.n).into(), 1).await
    }
}

struct Job;

#[async_trait]
impl JobHandler for Job {
    fn kind(&self) -> &str {
        "twin.job"
    }

    async fn run(&self, ctx: &mut Context<'_>, job: &JobInfo) -> ent::Result<()> {
        let n = job.payload["n"].as_i64().unwrap_or(-1);
        ctx.tx().counter_add(Thing::COLLECTION, &("ran", n).into(), 1).await
    }
}

struct Twin;

impl ServiceModule for Twin {
    fn manifest(&self) -> Manifest {
        Manifest::new("twin", "1.0.0")
            .right("twin.touch", "Touch", [Profile::Enseignant])
            .collection::<Thing>()
            .action::<Touch>()
            .emits::<Touched>()
            .listens("twin.recorder", [Touched::NAME])
            .job("twin.job", "Counts its run", None)
    }

    fn handlers(&self) -> Handlers {
        Handlers::new().action(Touch).subscriber(Recorder).job(Job)
    }
}

/// `(events delivered, jobs run)` summed over every `n`, and whether any was counted twice.
async fn tally(store: &dyn Store) -> (i64, i64, Vec<String>) {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (mut delivered, mut ran, mut twice) = (0, 0, Vec::new());
    for n in 0..2 * N {
        let d = tx.counter_get(Thing::COLLECTION, &("delivered", n).into()).await.unwrap();
        let r = tx.counter_get(Thing::COLLECTION, &("ran", n).into()).await.unwrap();
        if d > 1 || r > 1 {
            twice.push(format!("n = {n}: delivered {d} times, run {r} times"));
        }
        delivered += d.min(1);
        ran += r.min(1);
    }
    (delivered, ran, twice)
}

async fn child(url: &str, schema: &str, from: i64) {
    let store = open(url, schema).await;
    // Time runs 100 times faster than the wall clock: a delivery that lost every retry of its transaction to
    // the other process waits out its backoff (10 s, then doubling) in a tenth of a second per 10 s.
    let clock = ManualClock::at(chrono::Utc::now());
    let ticking = clock.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ticking.advance(chrono::Duration::seconds(1));
        }
    });
    // Both processes assemble at once: the assembly's writes may lose to the other's, retryably.
    let mut attempts = 0;
    let ent = loop {
        match Ent::builder(Arc::new(store.clone())).clock(Arc::new(clock.clone())).module(Twin).build().await {
            Ok(ent) => break ent,
            Err(e) if e.is_retryable() && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err(e) => panic!("assembly: {e}"),
        }
    };
    let workers = ent.spawn_workers(Duration::from_millis(20));
    let caller = Caller::user(UserId::new(), StructureId::new(), [Profile::Enseignant]);
    for n in from..from + N {
        // A caller runs a retryable failure again (the runtime's own retries may all lose to the other
        // process's transactions).
        let mut attempts = 0;
        loop {
            match ent.run::<Touch>(&caller, TouchInput { n }).await {
                Ok(()) => break,
                Err(e) if e.is_retryable() && attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => panic!("action {n}: {e}"),
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (delivered, ran, twice) = tally(&store).await;
        assert!(twice.is_empty(), "{twice:?}");
        if delivered == 2 * N && ran == 2 * N {
            break;
        }
        assert!(Instant::now() < deadline, "after 60 s: {delivered} events delivered, {ran} jobs run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers.stop().await;
}

#[test]
fn two_processes_deliver_each_event_and_run_each_job_once() {
    let Some(url) = std::env::var(URL_ENV).ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: {URL_ENV} is not set");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let (Ok(schema), Ok(from)) = (std::env::var(SCHEMA_ENV), std::env::var(FROM_ENV)) {
        runtime.block_on(child(&url, &schema, from.parse().unwrap()));
        return;
    }
    let schema = format!("ent_test_twin_{}", std::process::id());
    let _drop = DropSchema(url.clone(), schema.clone());
    // Created once here, so that the children only race on the assembly.
    runtime.block_on(async { drop(open(&url, &schema).await) });
    let children: Vec<_> = [0, N]
        .into_iter()
        .map(|from| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
                .env(SCHEMA_ENV, &schema)
                .env(FROM_ENV, from.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a child failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    runtime.block_on(async {
        let store = open(&url, &schema).await;
        let (delivered, ran, twice) = tally(&store).await;
        assert!(twice.is_empty(), "{twice:?}");
        assert_eq!((delivered, ran), (2 * N, 2 * N), "every event delivered and every job run");
        let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
        assert_eq!(tx.count(&Scan::primary(Thing::COLLECTION)).await.unwrap(), 2 * N as u64);
        assert_eq!(tx.count(&Scan::primary("ent.outbox")).await.unwrap(), 0, "no event left in a queue");
    });
}

/// Drops the test's schema, whatever the test's outcome.
struct DropSchema(String, String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.0.clone(), self.1.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await
            })
        })
        .join();
    }
}
