//! The `ent` command. It holds no logic a library user would need: each subcommand parses its arguments,
//! opens the store and calls the library.
//!
//! Exit codes: 0 success; 1 failure (nothing or not everything could be done); 2 bad usage; 3 partial
//! success (done, but records were rejected or deactivations held for confirmation).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc rather than the system allocator: an import allocates and frees millions of small strings
/// and records, and glibc's allocator spent a quarter of an académie load consolidating its free lists
/// (docs/dependencies.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod alloc;
mod database;
mod import;
mod migrate;
mod serve;
mod summary;

/// ent: an Espace Numérique de Travail.
#[derive(Debug, Parser)]
#[command(name = "ent", version, about, long_about = None)]
struct Cli {
    /// The database: `sqlite:PATH` (or a path ending in `.db`), `postgres://USER@HOST/DB[?schema=NAME]`,
    /// `sqlite::memory:`, `memory:`.
    #[arg(long, global = true, env = "ENT_DATABASE", default_value = "sqlite:ent.db")]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Imports a directory feed.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Generates the demo population (seeded, deterministic) and applies it like a feed.
    Demo(DemoArgs),
    /// Runs the portal: the web shell and the JSON API (`--demo`: with the demo school, to try it).
    Serve(serve::ServeArgs),
    /// Copies a whole ENT from a SQLite file into an empty PostgreSQL database, and verifies the copy.
    Migrate(migrate::MigrateArgs),
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// The national AAF export: files or folders of `ENT_<UAI>_{Complet,Delta}_<date>_<Kind>_NNNN.xml`.
    Aaf {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The school year (the year it starts in) when the file names do not give it.
        #[arg(long)]
        year: Option<i32>,
        #[command(flatten)]
        common: ImportArgs,
    },
    /// A OneRoster 1.2 CSV bundle: a folder or a zip with `manifest.csv`.
    Oneroster {
        /// The folder or zip.
        path: PathBuf,
        /// The school year (the year it starts in), if the bundle's academic sessions do not say.
        #[arg(long)]
        year: Option<i32>,
        #[command(flatten)]
        common: ImportArgs,
    },
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Report what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The summary as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Apply deactivations held because they would disable a large share of a structure.
    #[arg(long)]
    confirm_mass_deactivation: bool,
    /// Write the activation codes of new accounts to this file (CSV, readable by its owner only).
    #[arg(long)]
    codes: Option<PathBuf>,
    /// People per transaction: a crash leaves the directory before or after each. Larger is faster (an
    /// académie's indexes are written once per transaction) and holds the write lock longer, which a
    /// portal serving the same database feels as waits of about a second per 10,000 people. By default
    /// 50,000 for a first load (the directory holds no account: nobody can be waiting), 20,000 otherwise.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    chunk: Option<u32>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// How many structures (an académie's mix of écoles, collèges and lycées); one collège when absent.
    #[arg(long)]
    structures: Option<u32>,
    /// The seed: the same seed gives the same people.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    #[command(flatten)]
    common: ImportArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // Bulk work: keep what each transaction frees for the next one (see `alloc`).
        alloc::keep_freed_memory();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ent: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        if let Command::Migrate(args) = &cli.command {
            return migrate::run(args).await;
        }
        // An import writes large transactions: a larger page cache for SQLite keeps their pages.
        let usage = match &cli.command {
            Command::Import(ImportCommand::Aaf { common, .. } | ImportCommand::Oneroster { common, .. }) => {
                database::Usage::Import { chunk: import::largest_chunk(common) }
            }
            Command::Demo(args) => database::Usage::Import { chunk: import::largest_chunk(&args.common) },
            _ => database::Usage::Serve,
        };
        let db = database::open(&cli.database, usage).await?;
        match cli.command {
            Command::Import(ImportCommand::Aaf { paths, year, common }) => {
                import::aaf(&db, &paths, year, &common).await
            }
            Command::Import(ImportCommand::Oneroster { path, year, common }) => {
                import::oneroster(&db, &path, year, &common).await
            }
            Command::Demo(args) => import::demo(&db, &args).await,
            Command::Serve(args) => serve::serve(&db, &args, &cli.database).await,
            Command::Migrate(_) => unreachable!("handled before opening the database"),
        }
    });
    match result {
        Ok(outcome) => ExitCode::from(outcome as u8),
        Err(e) => {
            eprintln!("ent: {e}");
            ExitCode::from(1)
        }
    }
}
