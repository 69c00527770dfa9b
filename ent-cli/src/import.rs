//! `ent import` and `ent demo`: read, apply through the one apply path, summarize.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::database::Database;
use crate::summary::{self, Outcome};
use crate::{DemoArgs, ImportArgs};
use ent::core::directory::SchoolYear;
use ent::import::aaf::{AafOptions, Feed};
use ent::import::demo::{Demo, DemoConfig};
use ent::import::oneroster::{Bundle, OneRosterOptions};
use ent::import::{ApplyOptions, FIRST_LOAD_CHUNK, Report, SERVED_CHUNK};

/// The largest transaction the command may write, which sizes SQLite's page cache before the store is
/// open (an upper bound: SQLite fills it only as pages are read).
pub(crate) fn largest_chunk(args: &ImportArgs) -> usize {
    args.chunk.map_or(FIRST_LOAD_CHUNK.max(SERVED_CHUNK), |c| c as usize)
}

/// The apply's options: `--chunk`, or by default [`FIRST_LOAD_CHUNK`] into a directory without accounts
/// and [`SERVED_CHUNK`] otherwise.
async fn options(db: &Database, args: &ImportArgs) -> ent::Result<ApplyOptions> {
    let chunk = match args.chunk {
        Some(chunk) => chunk as usize,
        None if db.has_accounts().await? => SERVED_CHUNK,
        None => FIRST_LOAD_CHUNK,
    };
    Ok(ApplyOptions {
        dry_run: args.dry_run,
        confirm_mass_deactivation: args.confirm_mass_deactivation,
        chunk,
        ..Default::default()
    })
}

/// A progress bar on a terminal (hidden when standard error is not one, or for `--json`).
fn progress(len: u64, json: bool) -> ProgressBar {
    let bar = if json { ProgressBar::hidden() } else { ProgressBar::new(len) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Makes the import durable (see `Database::flush`), then writes the codes and the summary: a code is
/// shown only for an account that a power loss can no longer take back.
async fn finish(db: &Database, report: &Report, args: &ImportArgs) -> ent::Result<Outcome> {
    if !args.dry_run {
        db.flush().await?;
    }
    let io = |e: std::io::Error| ent::Error::invalid("output", e.to_string());
    if let Some(path) = &args.codes
        && !args.dry_run
    {
        summary::write_codes(report, path).map_err(io)?;
    }
    summary::print(report, args.json, args.dry_run).map_err(io)?;
    Ok(Outcome::of(report))
}

/// `ent import aaf PATH...`: every feed of the folders and files given, oldest first.
pub(crate) async fn aaf(
    db: &Database,
    paths: &[PathBuf],
    year: Option<i32>,
    args: &ImportArgs,
) -> ent::Result<Outcome> {
    let ent = &db.ent;
    let io = |p: &Path, e: std::io::Error| ent::Error::invalid("path", format!("{}: {e}", p.display()));
    let mut feeds = Vec::new();
    let mut loose = Vec::new();
    // Loose files are linked into a scratch folder, which must outlive the parsing of their feeds.
    let mut scratch = None;
    for p in paths {
        if p.is_dir() {
            feeds.extend(Feed::in_dir(p).map_err(|e| io(p, e))?);
        } else if p.is_file() {
            loose.push(p.clone());
        } else {
            return Err(io(p, std::io::Error::from(std::io::ErrorKind::NotFound)));
        }
    }
    if !loose.is_empty() {
        // Loose files: grouped like a folder's, by the feed their names give.
        let dir = tempdir_of(&loose).map_err(|e| io(&loose[0], e))?;
        feeds.extend(Feed::in_dir(dir.path()).map_err(|e| io(dir.path(), e))?);
        scratch = Some(dir);
    }
    if feeds.is_empty() {
        return Err(ent::Error::invalid("paths", "no AAF file found (ENT_<UAI>_Complet|Delta_<date>_<Kind>_NNNN.xml)"));
    }
    let options = AafOptions { year: year.map(SchoolYear), ..Default::default() };
    let apply_options = self::options(db, args).await?;
    let bar = progress(feeds.len() as u64, args.json);
    let total =
        ent::import::aaf::apply_feeds(&**ent.store(), &**ent.clock(), &feeds, &options, &apply_options, |feed| {
            bar.set_message(format!("{} {}", if feed.full { "full" } else { "delta" }, feed.emitter));
            bar.inc(1);
        })
        .await?;
    bar.finish_and_clear();
    drop(scratch);
    finish(db, &total, args).await
}

/// Links loose files into a scratch folder so that they group into feeds as a folder's files do.
fn tempdir_of(files: &[PathBuf]) -> std::io::Result<Scratch> {
    let dir = std::env::temp_dir().join(format!("ent-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for f in files {
        let name = f.file_name().ok_or_else(|| std::io::Error::other("not a file"))?;
        let target = std::fs::canonicalize(f)?;
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &link)?;
        #[cfg(not(unix))]
        std::fs::copy(&target, &link).map(|_| ())?;
    }
    Ok(Scratch(dir))
}

/// A scratch folder removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ent import oneroster PATH`.
pub(crate) async fn oneroster(
    db: &Database,
    path: &Path,
    year: Option<i32>,
    args: &ImportArgs,
) -> ent::Result<Outcome> {
    let ent = &db.ent;
    let bundle = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
        Bundle::zip(path)
    } else {
        Bundle::dir(path)
    };
    let options = OneRosterOptions { year: year.map(SchoolYear), ..Default::default() };
    let bar = progress(1, args.json);
    bar.set_message(path.display().to_string());
    let parsed = bundle.parse(&options)?;
    let report = parsed.apply(&**ent.store(), &**ent.clock(), &self::options(db, args).await?).await?;
    bar.finish_and_clear();
    finish(db, &report, args).await
}

/// `ent demo`: the seeded demo population, one structure at a time.
pub(crate) async fn demo(db: &Database, args: &DemoArgs) -> ent::Result<Outcome> {
    let ent = &db.ent;
    // The memberships are of the current school year, whenever the demo is generated.
    let year = SchoolYear::containing(ent.clock().now().date_naive());
    let config = match args.structures {
        Some(n) if n > 0 => DemoConfig { seed: args.seed, year, ..DemoConfig::structures(n) },
        Some(_) => return Err(ent::Error::invalid("structures", "at least one")),
        None => DemoConfig { seed: args.seed, year, ..DemoConfig::college() },
    };
    let demo = Demo::new(config);
    let bar = progress(u64::from(demo.config().total()), args.common.json);
    let options = options(db, &args.common).await?;
    let mut total = Report::default();
    let mut batches = demo.merged_batches_ahead(ent::import::aaf::MERGED_PEOPLE)?;
    while let Some(batch) = batches.next().await {
        let report = ent::import::apply(&**ent.store(), &**ent.clock(), &batch, &options).await?;
        total.absorb(report);
        bar.inc(batch.structures.len() as u64);
    }
    bar.finish_and_clear();
    finish(db, &total, &args.common).await
}
