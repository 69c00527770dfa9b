//! OneRoster 1.2 CSV bundles: a folder (or, with the `zip` feature, a zip file) holding `manifest.csv` and
//! the files it lists as `bulk`, `delta` or `absent`.
//!
//! Headers are checked against the specification's columns: a misspelled column rejects its file with the
//! reason (and the column it was probably meant to be), never guessed. Dates are ISO 8601 only: a local
//! format such as `31/12/2026` rejects its row, with file, line and reason. The mapping to the directory
//! (roles to profiles, classes and groups, enrollments) is in `docs/import.md`.
//!
//! ```no_run
//! # async fn run(store: &dyn ent_core::storage::Store, clock: &dyn ent_core::clock::Clock)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use ent_import::oneroster::{Bundle, OneRosterOptions};
//! let parsed = Bundle::dir("/srv/oneroster/2026-08-28").parse(&OneRosterOptions::default())?;
//! let report = parsed.apply(store, clock, &Default::default()).await?;
//! # Ok(()) }
//! ```

mod manifest;
mod map;
mod table;

use std::io::Read;
use std::path::{Path, PathBuf};

use ent_core::directory::SchoolYear;
use ent_core::{Error, Result};

pub use crate::parsed::Parsed;
use crate::report::{Location, Rejection};
use manifest::Provided;

/// How to read a bundle.
#[derive(Debug, Clone)]
pub struct OneRosterOptions {
    /// The source the batch's keys belong to.
    pub source: String,
    /// The school year; by default the one of the bundle's `schoolYear` academic session.
    pub year: Option<SchoolYear>,
}

impl Default for OneRosterOptions {
    fn default() -> Self {
        OneRosterOptions { source: "oneroster".into(), year: None }
    }
}

/// Where a bundle's files are.
#[derive(Debug, Clone)]
pub enum Bundle {
    /// A folder.
    Dir(PathBuf),
    /// A zip file (deflate or stored entries).
    #[cfg(feature = "zip")]
    Zip(PathBuf),
}

/// The files read, in the order they are needed.
const FILES: [&str; 8] = [
    "academicSessions.csv",
    "orgs.csv",
    "courses.csv",
    "classes.csv",
    "users.csv",
    "demographics.csv",
    "roles.csv",
    "enrollments.csv",
];

impl Bundle {
    /// A bundle in a folder.
    pub fn dir(path: impl AsRef<Path>) -> Bundle {
        Bundle::Dir(path.as_ref().to_owned())
    }

    /// A bundle in a zip file.
    #[cfg(feature = "zip")]
    pub fn zip(path: impl AsRef<Path>) -> Bundle {
        Bundle::Zip(path.as_ref().to_owned())
    }

    /// The bytes of a file of the bundle, if it is there.
    fn open(&self, name: &str) -> std::io::Result<Option<Box<dyn Read>>> {
        match self {
            Bundle::Dir(dir) => match std::fs::File::open(dir.join(name)) {
                Ok(f) => Ok(Some(Box::new(std::io::BufReader::new(f)))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            #[cfg(feature = "zip")]
            Bundle::Zip(path) => {
                let mut archive = zip::ZipArchive::new(std::fs::File::open(path)?).map_err(std::io::Error::other)?;
                // Entries may sit in a folder of the archive.
                let Some(index) = (0..archive.len()).find(|i| {
                    archive
                        .name_for_index(*i)
                        .and_then(Result::ok)
                        .is_some_and(|n| n == name || n.ends_with(&format!("/{name}")))
                }) else {
                    return Ok(None);
                };
                let mut entry = archive.by_index(index).map_err(std::io::Error::other)?;
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                Ok(Some(Box::new(std::io::Cursor::new(bytes))))
            }
        }
    }

    /// Reads the bundle into one batch. Fails when the manifest cannot be read or the school year is
    /// unknown; everything wrong in the files is in [`Parsed::rejected`].
    pub fn parse(&self, options: &OneRosterOptions) -> Result<Parsed> {
        let io = |e: std::io::Error| Error::invalid("bundle", e.to_string());
        let manifest =
            self.open("manifest.csv").map_err(io)?.ok_or_else(|| Error::invalid("bundle", "no manifest.csv"))?;
        let manifest = manifest::read(manifest).map_err(|e| Error::invalid("manifest", e))?;
        let mut rejected = Vec::new();
        let reject =
            |rejected: &mut Vec<Rejection>, file: &str, line: u64, kind: &'static str, key: &str, reason: String| {
                rejected.push(Rejection {
                    kind,
                    key: key.to_owned(),
                    reason,
                    location: Some(Location { file: file.to_owned(), line }),
                });
            };
        let mut tables = Vec::new();
        let mut any_delta = false;
        for file in FILES {
            let provided = manifest.files.get(file).copied().unwrap_or(Provided::Absent);
            let input = self.open(file).map_err(io)?;
            let delta = match (provided, input.is_some()) {
                (Provided::Absent, false) => continue,
                (Provided::Absent, true) => {
                    reject(
                        &mut rejected,
                        file,
                        0,
                        "file",
                        file,
                        "present but the manifest says absent: not read".into(),
                    );
                    continue;
                }
                (_, false) => {
                    reject(&mut rejected, file, 0, "file", file, "listed in the manifest but missing".into());
                    continue;
                }
                (p, true) => p == Provided::Delta,
            };
            any_delta |= delta;
            let Some(input) = input else { continue };
            match table::read(file, input, delta) {
                Ok(t) => {
                    for (line, key, reason) in &t.rejected {
                        reject(&mut rejected, file, *line, "row", key, reason.clone());
                    }
                    tables.push((file, t, delta));
                }
                Err(reason) => reject(&mut rejected, file, 1, "file", file, reason),
            }
        }
        let mut builder = map::Builder::new(&options.source, options.year, rejected);
        for (file, t, delta) in tables {
            builder.table(file, t, delta);
        }
        builder.finish(!any_delta)
    }
}
