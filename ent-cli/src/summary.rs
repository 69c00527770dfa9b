//! The summary of an import: text for a person, JSON for a script.

use std::io::Write;
use std::path::Path;

use ent::import::Report;

/// How a run ended, as an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything applied.
    Success = 0,
    /// Applied, but records were rejected or deactivations held.
    Partial = 3,
}

impl Outcome {
    pub(crate) fn of(report: &Report) -> Outcome {
        if report.rejected.is_empty() && report.held.is_empty() { Outcome::Success } else { Outcome::Partial }
    }
}

/// Prints a report on standard output.
pub(crate) fn print(report: &Report, json: bool, dry_run: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "dry_run": dry_run,
            "created": report.created,
            "updated": report.updated,
            "moved": report.moved,
            "deactivated": report.deactivated,
            "unchanged": report.unchanged,
            "held": report.held,
            "rejected": report.rejected,
        });
        writeln!(out, "{value:#}")?;
        return Ok(());
    }
    if dry_run {
        writeln!(out, "Simulation (--dry-run): nothing was written.")?;
    }
    writeln!(
        out,
        "created {}, updated {}, moved {}, deactivated {}, unchanged {}, rejected {}, held {}",
        report.created,
        report.updated,
        report.moved,
        report.deactivated,
        report.unchanged,
        report.rejected.len(),
        report.held.len()
    )?;
    for h in &report.held {
        writeln!(
            out,
            "held: structure {} would lose {} of its {} accounts; run again with --confirm-mass-deactivation to apply",
            h.structure, h.would_deactivate, h.of
        )?;
    }
    for r in &report.rejected {
        match &r.location {
            Some(l) => writeln!(out, "rejected {} {} ({}): {}", r.kind, r.key, l, r.reason)?,
            None => writeln!(out, "rejected {} {}: {}", r.kind, r.key, r.reason)?,
        }
    }
    Ok(())
}

/// Writes the activation codes of new accounts, readable by the file's owner only.
pub(crate) fn write_codes(report: &Report, path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "login,code")?;
    for c in &report.codes {
        writeln!(file, "{},{}", c.login, c.code)?;
    }
    file.sync_all()
}
