//! Loads a demo académie into a SQLite file through the apply path, then applies a 1% delta and runs name
//! searches, timing each step. The figures of `docs/benchmarks.md` ("Directory at scale") come from here.
//!
//! `cargo run --release --features sqlite --example directory_scale -- STRUCTURES [DB_PATH] [CHUNK]`
//!
//! It loads as `ent demo` does: structures merged up to 100,000 people per applied batch
//! (`ENT_SCALE_MERGE_PEOPLE` changes it; 1 applies each structure alone), transactions of CHUNK people
//! (`FIRST_LOAD_CHUNK`, as `ent` writes a first load), SQLite as `ent` opens it for an import
//! (`SqliteOptions::for_import`), flushed at the end. Its settings can be varied from the environment:
//! `ENT_SCALE_CACHE_KIB` (page cache per connection), `ENT_SCALE_CHECKPOINT_PAGES` and
//! `ENT_SCALE_MMAP_BYTES` (see `SqliteOptions`).

#![allow(clippy::print_stdout)] // an example talks to its reader

// The allocator of the `ent` binary, whose import this measures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Its allocator options for bulk work, from the same file.
#[path = "../ent-cli/src/alloc.rs"]
mod alloc;

use std::sync::Arc;
use std::time::Instant;

use ent::core::Ent;
use ent::core::clock::SystemClock;
use ent::core::directory::query::{self, SearchScope};
use ent::core::storage::{Store, TxMode};
use ent::import::demo::{Demo, DemoConfig};
use ent::import::{ApplyOptions, Batch, FIRST_LOAD_CHUNK, Mode, SERVED_CHUNK, UnitRef, apply};
use ent::storage::sqlite::{SqliteOptions, SqliteStore};

#[tokio::main]
async fn main() -> ent::Result<()> {
    alloc::keep_freed_memory();
    let mut args = std::env::args().skip(1);
    let structures: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let path = args.next().unwrap_or_else(|| format!("/tmp/ent-scale-{structures}.db"));
    // With ENT_SCALE_REUSE set, the file loaded by an earlier run is kept and only the delta and the
    // searches run again.
    let reuse = std::env::var_os("ENT_SCALE_REUSE").is_some();
    if !reuse {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    // People per transaction (ApplyOptions::chunk), by default as `ent demo` into an empty database; SQLite
    // set as `ent` sets it.
    let chunk: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(FIRST_LOAD_CHUNK);
    let mut sqlite = SqliteOptions::for_import(chunk);
    if let Some(kib) = env("ENT_SCALE_CACHE_KIB") {
        sqlite.cache_kib = kib as i64;
    }
    if let Some(pages) = env("ENT_SCALE_CHECKPOINT_PAGES") {
        sqlite.checkpoint_pages = pages as u32;
    }
    if let Some(bytes) = env("ENT_SCALE_MMAP_BYTES") {
        sqlite.mmap_bytes = bytes;
    }
    let sqlite = SqliteStore::open_with(&path, sqlite)?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let ent = Ent::builder(store.clone()).build().await?;
    let clock = SystemClock;
    let demo = Demo::new(DemoConfig::structures(structures));
    let options = ApplyOptions { chunk, ..ApplyOptions::default() };

    let started = Instant::now();
    let cpu = cpu_seconds();
    let mut accounts = 0u64;
    // When the batch that crossed a million accounts was applied (the aim speaks of a million).
    let mut millionth = None;
    // The delta moves pupils of the first structures: enough of them for 1% of an académie.
    const DELTA_STRUCTURES: u32 = 40;
    let t = Instant::now();
    let batches: Vec<Batch> = (0..structures.min(DELTA_STRUCTURES)).map(|i| demo.batch(i)).collect();
    let mut generating = t.elapsed();
    if !reuse {
        // Structures merged up to this many people per applied batch (`Batch::merge`), as `ent demo` does.
        let merged = env("ENT_SCALE_MERGE_PEOPLE").map_or(ent::import::aaf::MERGED_PEOPLE, |n| n as usize);
        let mut groups = demo.merged_batches_ahead(merged)?;
        loop {
            let t = Instant::now();
            let Some(batch) = groups.next().await else { break };
            generating += t.elapsed();
            let report = apply(&**ent.store(), &clock, &batch, &options).await?;
            accounts += report.codes.len() as u64;
            if accounts >= 1_000_000 && millionth.is_none() {
                millionth = Some(started.elapsed());
            }
            if !report.rejected.is_empty() {
                println!("rejected: {} (first: {})", report.rejected.len(), report.rejected[0]);
            }
        }
        // As `ent` does before it reports success: the import's commits were not synced one by one.
        sqlite.flush().await?;
    }
    if reuse {
        let mut tx = store.begin(TxMode::ReadOnly).await?;
        accounts = tx.count(&ent::core::storage::Scan::index("ent.users", "by_login")).await?;
    }
    let load = started.elapsed();
    let load_cpu = cpu_seconds().zip(cpu).map_or(f64::NAN, |(b, a)| b - a);
    if !reuse {
        println!(
            "load: {structures} structures, {accounts} accounts in {:.1} s ({:.0} accounts/s; generation {:.1} s); \
         {load_cpu:.1} s of CPU ({:.0} accounts per CPU second)",
            load.as_secs_f64(),
            accounts as f64 / load.as_secs_f64(),
            generating.as_secs_f64(),
            accounts as f64 / load_cpu,
        );
        if let Some(t) = millionth {
            println!("load: the first 1,000,000 accounts or more applied after {:.1} s", t.as_secs_f64());
        }
    }

    // A 1% delta of the whole population: every hundredth pupil of the first structures changes class.
    let mut delta_people = Vec::new();
    let target = (accounts / 100) as usize;
    'outer: for batch in &batches {
        let classes: Vec<String> = batch.classes.iter().map(|c| c.key.clone()).collect();
        for (n, p) in batch.people.iter().filter(|p| p.units.iter().any(|u| matches!(u, UnitRef::Class(_)))).enumerate()
        {
            let mut moved = p.clone();
            moved.units = vec![UnitRef::Class(classes[(n + 1) % classes.len()].clone())];
            if moved.units != p.units {
                delta_people.push(moved);
            }
            if delta_people.len() >= target {
                break 'outer;
            }
        }
    }
    let delta = Batch {
        mode: Mode::Delta,
        structures: batches.iter().flat_map(|b| b.structures.clone()).collect(),
        subjects: vec![],
        classes: vec![],
        groups: vec![],
        people: delta_people,
        ..batches[0].clone()
    };
    let t = Instant::now();
    let cpu = cpu_seconds();
    // Into a directory that holds accounts, `ent` writes SERVED_CHUNK people per transaction, and flushes.
    let delta_options = ApplyOptions { chunk: SERVED_CHUNK, ..options.clone() };
    let report = apply(&**ent.store(), &clock, &delta, &delta_options).await?;
    let applied = t.elapsed();
    sqlite.flush().await?;
    let used = cpu_seconds().zip(cpu).map_or(f64::NAN, |(b, a)| b - a);
    println!(
        "delta: {} people ({} moved) in {:.2} s (applied in {:.2} s, then flushed), {used:.2} s of CPU",
        delta.people.len(),
        report.moved,
        t.elapsed().as_secs_f64(),
        applied.as_secs_f64(),
    );

    // Searches across the académie and within a structure.
    let structure = {
        let mut tx = store.begin(TxMode::ReadOnly).await?;
        query::search(&mut *tx, "martin", SearchScope::default(), 1).await?[0].affiliations[0].structure
    };
    for (label, q, scope) in [
        ("académie, 'martin'", "martin", SearchScope::default()),
        ("académie, 'lef'", "lef", SearchScope::default()),
        ("académie, 'jean pi'", "jean pi", SearchScope::default()),
        ("structure, 'ma'", "ma", SearchScope { structure: Some(structure), profile: None }),
    ] {
        let n = 50;
        let t = Instant::now();
        let mut found = 0;
        for _ in 0..n {
            let mut tx = store.begin(TxMode::ReadOnly).await?;
            found = query::search(&mut *tx, q, scope, 20).await?.len();
        }
        println!("search {label}: {:.2} ms per query ({found} shown)", t.elapsed().as_secs_f64() * 1000.0 / n as f64);
    }
    Ok(())
}

/// CPU time of this process so far (user + system, from `/proc/self/stat`; `None` elsewhere than Linux):
/// on a machine shared with other builds, the wall time measures the share the others left.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces) start with the state, field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
