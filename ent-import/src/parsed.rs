//! A feed read by a parser: the batch, and what the parser refused on the way.

use std::collections::HashMap;

use ent_core::Result;
use ent_core::clock::Clock;
use ent_core::storage::Store;

use crate::apply::{ApplyOptions, apply};
use crate::feed::Batch;
use crate::report::{Location, Rejection, Report};

/// A feed read: its batch, and the records refused while reading it.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The normalized batch.
    pub batch: Batch,
    /// Records refused while reading, with their file and line.
    pub rejected: Vec<Rejection>,
    pub(crate) locations: HashMap<(&'static str, String), Location>,
}

impl Parsed {
    /// Applies the batch and returns one report: the reader's rejections first, then the apply's, each
    /// with the file and line of its record.
    pub async fn apply(&self, store: &dyn Store, clock: &dyn Clock, options: &ApplyOptions) -> Result<Report> {
        let mut report = apply(store, clock, &self.batch, options).await?;
        self.locate(&mut report);
        Ok(report)
    }

    /// Adds `other`, read from the same source, to this feed (see [`Batch::merge`]): the two are then
    /// applied as one batch, in fewer and larger transactions. Refused, with `other` left out, when the two
    /// cannot be one batch (different sources or years, a full feed and a delta).
    pub fn merge(&mut self, other: Parsed) -> std::result::Result<(), String> {
        self.batch.merge(other.batch)?;
        self.rejected.extend(other.rejected);
        for (k, v) in other.locations {
            self.locations.entry(k).or_insert(v);
        }
        Ok(())
    }

    /// Adds the reader's rejections to a report of the batch's apply, and the location of the records the
    /// apply rejected.
    pub fn locate(&self, report: &mut Report) {
        for r in &mut report.rejected {
            if r.location.is_none() {
                r.location = self.locations.get(&(r.kind, r.key.clone())).cloned();
            }
        }
        let mut all = self.rejected.clone();
        all.append(&mut report.rejected);
        report.rejected = all;
    }
}
