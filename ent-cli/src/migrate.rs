//! `ent migrate --from sqlite:PATH --to postgres://...`: moves a whole ENT from SQLite to PostgreSQL.

use std::path::PathBuf;

use clap::Args;
use ent::storage::migrate;
use ent::storage::postgres::{PostgresOptions, PostgresStore};

use crate::summary::Outcome;

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The SQLite database to copy: `sqlite:PATH` or a path. It is only read.
    #[arg(long)]
    from: String,
    /// The PostgreSQL database to fill, empty: `postgres://USER@HOST/DB[?schema=NAME]`.
    #[arg(long)]
    to: String,
    /// The report as JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// Connects to a PostgreSQL URL (with the adapter's own `schema=` parameter).
pub(crate) async fn connect(url: &str) -> ent::Result<PostgresStore> {
    let (url, options) = PostgresOptions::from_url(url);
    PostgresStore::connect_with(&url, options).await
}

pub(crate) async fn run(args: &MigrateArgs) -> ent::Result<Outcome> {
    let from =
        PathBuf::from(args.from.strip_prefix("sqlite:").map_or(args.from.as_str(), |p| p.trim_start_matches("//")));
    if !from.is_file() {
        return Err(ent::Error::Config(format!(
            "`{}`: no such SQLite file / fichier SQLite introuvable",
            from.display()
        )));
    }
    if !(args.to.starts_with("postgres:") || args.to.starts_with("postgresql:")) {
        return Err(ent::Error::Config(format!("`{}`: --to takes a postgres:// URL", args.to)));
    }
    let target = connect(&args.to).await?;
    let report = migrate::sqlite_to_postgres(&from, &target).await?;
    let value = serde_json::json!({
        "collections": report.collections,
        "records": report.records,
        "index_entries": report.index_entries,
        "counters": report.counters,
        "blobs": report.blobs,
        "blob_bytes": report.blob_bytes,
        "fulltext_documents_to_reindex": report.fulltext_documents,
        "checksum": report.checksum,
    });
    if args.json {
        let text = serde_json::to_string_pretty(&value).map_err(|e| ent::Error::serialization("the report", e))?;
        std::io::Write::write_all(&mut std::io::stdout(), format!("{text}\n").as_bytes())
            .map_err(|e| ent::Error::Config(format!("writing the report: {e}")))?;
    } else {
        eprintln!(
            "migré / migrated {} → {}: {} collections, {} records, {} index entries, {} counters, {} blobs ({} bytes); \
             verified (checksum {})",
            from.display(),
            target.shown(),
            report.collections,
            report.records,
            report.index_entries,
            report.counters,
            report.blobs,
            report.blob_bytes,
            report.checksum
        );
        if report.fulltext_documents > 0 {
            eprintln!(
                "{} documents of the full-text index must be indexed again by their modules / documents à réindexer",
                report.fulltext_documents
            );
        }
    }
    Ok(Outcome::Success)
}
