//! The national directory feed (AAF): the ministry's XML export of structures, nomenclatures and people.
//!
//! Files are read one after the other and each one as a stream (an académie's person files are several
//! MiB each, split in parts): records are turned into the normalized [`Batch`] as they are read, and only
//! that batch is held. A feed (the files of one emitter and one day, see [`Feed`]) gives one batch.
//!
//! A bad record is rejected with its file, line and reason ([`Parsed::rejected`]) and the rest of the feed
//! goes on; a file nothing of which can be read is rejected as a whole. The formats accepted, the mapping of
//! every attribute and what is rejected are in `docs/import.md`.
//!
//! ```no_run
//! # async fn run(store: &dyn ent_core::storage::Store, clock: &dyn ent_core::clock::Clock)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use ent_import::aaf::{AafOptions, Feed};
//! for feed in Feed::in_dir(std::path::Path::new("/srv/aaf/2026-08-28"))? {
//!     let parsed = feed.parse(&AafOptions::default())?;
//!     let report = parsed.apply(store, clock, &Default::default()).await?;
//!     for r in &report.rejected {
//!         eprintln!("{r}");
//!     }
//! }
//! # Ok(()) }
//! ```

mod ahead;
mod codes;
mod decode;
mod files;
mod map;
mod write;
mod xml;

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

use ent_core::directory::SchoolYear;
use ent_core::{Error, Result};

pub use files::Feed;
pub use write::{WriteOptions, write_batch};

pub use crate::parsed::Parsed;
use crate::report::Rejection;

/// How to read a feed.
#[derive(Debug, Clone)]
pub struct AafOptions {
    /// The source the batch's keys belong to.
    pub source: String,
    /// The school year of the memberships; by default the year of the export's date.
    pub year: Option<SchoolYear>,
}

impl Default for AafOptions {
    fn default() -> Self {
        AafOptions { source: "aaf".into(), year: None }
    }
}

/// People per applied batch when [`apply_feeds`] merges full feeds (see [`crate::Batch::merge`]).
pub const MERGED_PEOPLE: usize = 100_000;

/// Reads and applies feeds in their order (the order of [`Feed::in_dir`]: oldest first), and reports once.
///
/// Consecutive full feeds of different emitters are merged up to [`MERGED_PEOPLE`] people and applied as
/// one batch, in transactions of [`ApplyOptions::chunk`] people: loaded structure by structure, an
/// académie's indexes of logins, source keys and names were written about once per structure. A delta is
/// applied alone, after everything before it. The feeds are read in order on another thread, ahead of their
/// apply by up to [`MERGED_PEOPLE`] people. `applied` is called with each feed once it is applied.
///
/// Fails on the first error of a feed's reading (an unknown school year) or of the store; the feeds before
/// a feed that cannot be read are applied first, and what was applied stays.
pub async fn apply_feeds(
    store: &dyn ent_core::storage::Store,
    clock: &dyn ent_core::clock::Clock,
    feeds: &[Feed],
    read: &AafOptions,
    options: &crate::ApplyOptions,
    mut applied: impl FnMut(&Feed),
) -> Result<crate::Report> {
    let mut reader = ahead::ReadAhead::start(feeds.to_vec(), read.clone(), MERGED_PEOPLE)?;
    let mut total = crate::Report::default();
    // Applies a group of feeds read as one batch (a delta is a group of one).
    let mut flush = async |group: Option<(Parsed, Vec<usize>)>| -> Result<()> {
        if let Some((parsed, members)) = group {
            total.absorb(parsed.apply(store, clock, options).await?);
            members.iter().for_each(|&m| applied(&feeds[m]));
        }
        Ok(())
    };
    // Full feeds waiting to be applied as one, with their indexes in `feeds`.
    let mut pending: Option<(Parsed, Vec<usize>)> = None;
    for (i, feed) in feeds.iter().enumerate() {
        let parsed = match reader.next().await {
            Some(Ok(parsed)) => parsed,
            failed => {
                // What was read before the failing feed is applied, as if the feeds had gone one by one.
                flush(pending.take()).await?;
                return Err(match failed {
                    Some(Err(e)) => e,
                    _ => Error::invalid("aaf", "the thread reading the feeds stopped"),
                });
            }
        };
        if let Some((group, members)) = &mut pending
            && feed.full
            && members.iter().all(|&m| feeds[m].emitter != feed.emitter)
            && group.batch.fits(&parsed.batch, MERGED_PEOPLE)
        {
            group.merge(parsed).map_err(|e| Error::invalid("aaf", e))?;
            members.push(i);
            continue;
        }
        flush(pending.take()).await?;
        if feed.full {
            pending = Some((parsed, vec![i]));
        } else {
            flush(Some((parsed, vec![i]))).await?;
        }
    }
    flush(pending).await?;
    Ok(total)
}

impl Feed {
    /// A feed of the given files, read in the given order (structures and nomenclatures first).
    pub fn of_files(files: Vec<std::path::PathBuf>, full: bool) -> Feed {
        Feed { emitter: String::new(), full, date: None, files }
    }

    /// Reads the feed's files into one batch. Fails only when the school year is unknown (neither given
    /// nor in the file names); everything wrong in the files is in [`Parsed::rejected`].
    pub fn parse(&self, options: &AafOptions) -> Result<Parsed> {
        let year = options.year.or_else(|| self.date.map(SchoolYear::containing)).ok_or_else(|| {
            Error::invalid(
                "year",
                "the school year is neither given nor in the file names (ENT_<UAI>_Complet_<date>_...)",
            )
        })?;
        let mut builder = map::Builder::new(&options.source, year);
        let mut unreadable = false;
        for path in &self.files {
            unreadable |= read_file(&mut builder, path);
        }
        let full = self.full && !unreadable;
        let downgraded = self.full && (unreadable || builder.unidentified);
        let (batch, mut rejected, locations) = builder.finish(full);
        if downgraded {
            rejected.push(Rejection {
                kind: "feed",
                key: self.emitter.clone(),
                reason: "a full feed is applied as a delta: part of it could not be read, so nobody is \
                         deactivated as missing"
                    .into(),
                location: None,
            });
        }
        Ok(Parsed { batch, rejected, locations })
    }
}

/// Reads one file into the builder; true when reading stopped before its end.
fn read_file(builder: &mut map::Builder, path: &Path) -> bool {
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    builder.file(&name);
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            builder.reject("file", &name, 0, format!("cannot be read: {e}"));
            return true;
        }
    };
    let (encoding, head) = match decode::sniff(&mut file) {
        Ok((Ok(e), head)) => (e, head),
        Ok((Err(reason), _)) => {
            builder.reject("file", &name, 0, reason);
            return true;
        }
        Err(e) => {
            builder.reject("file", &name, 0, format!("cannot be read: {e}"));
            return true;
        }
    };
    let lines = decode::Lines::default();
    let input = decode::Utf8Reader::new(Cursor::new(head).chain(file), encoding);
    let reader = xml::RecordReader::new(BufReader::new(decode::LineRecorder::new(input, lines.clone())), lines);
    let mut records = 0u64;
    let mut stopped = false;
    for item in reader {
        match item {
            xml::Item::Record(r) => {
                records += 1;
                builder.record(&r);
            }
            xml::Item::File { line, reason, fatal } => {
                stopped |= fatal;
                let reason = if fatal && records == 0 { format!("nothing could be read: {reason}") } else { reason };
                builder.reject("file", &name, line, reason);
            }
        }
    }
    stopped
}
