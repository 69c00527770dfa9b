//! Imports the demo generator's population written as AAF files into a SQLite file: the import of an
//! académie's national feed, timed step by step. The figures of `docs/benchmarks.md` ("AAF import at
//! scale") come from here.
//!
//! `cargo run --release --features sqlite --example aaf_scale -- STRUCTURES [WORK_DIR]`
//!
//! 1. The demo population of STRUCTURES structures is written as AAF files (ISO-8859-15, parts of 5,000
//!    records, one full feed per structure as the ministry exports them per UAI) into `WORK_DIR/aaf`.
//! 2. The feeds are read once by the streaming parser alone, to time it.
//! 3. Every feed of the folder is read and applied as `ent import aaf` does (`aaf::apply_feeds`) into
//!    `WORK_DIR/ent.db` (opened as `ent` opens it for an import, `SqliteOptions::for_import`, and flushed at
//!    the end): full feeds merged up to 100,000 people, transactions of 50,000 people (a first load, as `ent`
//!    writes it), the feeds read on another thread ahead of their apply.
//! 4. The same feeds are read and applied again, in transactions of 20,000 people: nothing may change (the
//!    importer's idempotence at scale).
//!
//! With `ENT_SCALE_ONE_FEED` set, step 1 writes the académie as one emitter's feed (the ministry exports
//! per UAI; an integrator may concatenate an académie's): the import then reads it as one batch, every
//! person of the académie in memory at once.

#![allow(clippy::print_stdout)] // an example talks to its reader

// The allocator of the `ent` binary, whose import this measures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Its allocator options for bulk work, from the same file.
#[path = "../ent-cli/src/alloc.rs"]
mod alloc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ent::core::Ent;
use ent::core::clock::SystemClock;
use ent::core::storage::Store;
use ent::import::aaf::{AafOptions, Feed, WriteOptions, apply_feeds, write_batch};
use ent::import::demo::{Demo, DemoConfig};
use ent::import::{ApplyOptions, FIRST_LOAD_CHUNK, SERVED_CHUNK};
use ent::storage::sqlite::{SqliteOptions, SqliteStore};

#[tokio::main]
async fn main() -> ent::Result<()> {
    alloc::keep_freed_memory();
    let mut args = std::env::args().skip(1);
    let structures: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let work = PathBuf::from(args.next().unwrap_or_else(|| format!("/tmp/ent-aaf-scale-{structures}")));
    let io = |e: std::io::Error| ent::Error::storage("aaf_scale", e.to_string(), false);
    let _ = std::fs::remove_dir_all(&work);
    let feed_dir = work.join("aaf");
    std::fs::create_dir_all(&feed_dir).map_err(io)?;

    // 1. Write the feed.
    let demo = Demo::new(DemoConfig::structures(structures));
    let date = chrono::NaiveDate::from_ymd_opt(2026, 8, 28).unwrap_or_default();
    let t = Instant::now();
    let mut files = 0usize;
    let mut people = 0usize;
    // With ENT_SCALE_ONE_FEED set, the académie is written as one emitter's feed, which the import reads as
    // one batch; otherwise as one feed per structure, as the ministry exports them.
    if std::env::var_os("ENT_SCALE_ONE_FEED").is_some() {
        let options = WriteOptions { emitter: Some("ACADEMIE".into()), ..WriteOptions::on(date) };
        for batch in demo.merged_batches(usize::MAX) {
            people += batch.people.len();
            files += write_batch(&batch, &feed_dir, &options).map_err(io)?.len();
        }
    } else {
        for batch in demo.batches() {
            people += batch.people.len();
            files += write_batch(&batch, &feed_dir, &WriteOptions::on(date)).map_err(io)?.len();
        }
    }
    let bytes: u64 =
        std::fs::read_dir(&feed_dir).map_err(io)?.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    println!(
        "write: {structures} structures, {people} person records, {files} files, {:.0} MB in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // As `ent import`: transactions of 20,000 people, SQLite set for them.
    // People per transaction as `ent` chooses them: a first load 50,000, an import into a directory that
    // holds accounts 20,000.
    let chunks = [("import", FIRST_LOAD_CHUNK), ("re-import", SERVED_CHUNK)];
    let sqlite = SqliteOptions::for_import(FIRST_LOAD_CHUNK);
    let sqlite = SqliteStore::open_with(work.join("ent.db"), sqlite)?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let ent = Ent::builder(store.clone()).build().await?;
    let feeds = Feed::in_dir(&feed_dir).map_err(io)?;
    // 2. The parser alone (the import reads the feeds on another thread, ahead of their apply).
    let t = Instant::now();
    let mut records = 0;
    for feed in &feeds {
        records += feed.parse(&AafOptions::default())?.batch.people.len();
    }
    let parsing = t.elapsed();
    println!(
        "read: {records} person records in {:.1} s, {:.1} MB/s",
        parsing.as_secs_f64(),
        bytes as f64 / 1e6 / parsing.as_secs_f64()
    );
    // 3. Import it, then 4. import it again.
    for (pass, chunk) in chunks {
        let started = Instant::now();
        let cpu = cpu_seconds();
        let options = ApplyOptions { chunk, ..ApplyOptions::default() };
        let total = apply_feeds(&**ent.store(), &SystemClock, &feeds, &AafOptions::default(), &options, |_| {}).await?;
        // As `ent` does before it reports success: the import's commits were not synced one by one.
        sqlite.flush().await?;
        let accounts = total.codes.len();
        let elapsed = started.elapsed();
        let used = cpu_seconds().zip(cpu).map_or(f64::NAN, |(b, a)| b - a);
        println!(
            "{pass}: {} feeds in {:.1} s, {used:.1} s of CPU ({:.0} person records/s overall); accounts \
             created {accounts}; records created {}, updated {}, unchanged {}, deactivated {}, rejected {}, held {}",
            feeds.len(),
            elapsed.as_secs_f64(),
            people as f64 / elapsed.as_secs_f64(),
            total.created,
            total.updated,
            total.unchanged,
            total.deactivated,
            total.rejected.len(),
            total.held.len(),
        );
        for r in total.rejected.iter().take(5) {
            println!("  rejected: {r}");
        }
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
