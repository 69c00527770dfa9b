//! The demo generator: a synthetic, deterministic population, fed through the same apply path as a real
//! feed.
//!
//! Seeded: the same [`DemoConfig`] gives the same people, to the letter, on every machine. Realistic: French
//! names with accents, hyphens and apostrophes; families with siblings, separated parents with two homes, a
//! grandparent as extra contact, a parent without authority; adult pupils in lycées; teachers with several
//! classes, one teaching in two structures, one who is also a parent (as the national feed sends them: two
//! records); option and split groups. Sized from one collège to an académie.
//!
//! ```
//! use ent_import::demo::{Demo, DemoConfig};
//! let demo = Demo::new(DemoConfig::college());
//! let batches: Vec<_> = demo.batches().collect();
//! assert_eq!(batches.len(), 1);
//! assert!(batches[0].people.len() > 1000);
//! assert_eq!(batches, Demo::new(DemoConfig::college()).batches().collect::<Vec<_>>(), "deterministic");
//! ```

mod names;
mod school;

use ent_core::directory::SchoolYear;
use ent_core::{Error, Result};

use crate::feed::Batch;

/// The size and seed of a demo population.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoConfig {
    /// Everything derives from it.
    pub seed: u64,
    /// How many écoles.
    pub ecoles: u32,
    /// How many collèges.
    pub colleges: u32,
    /// How many lycées.
    pub lycees: u32,
    /// The school year of the memberships.
    pub year: SchoolYear,
    /// The académie of the structures.
    pub academie: String,
}

impl DemoConfig {
    /// One collège (about 1,500 accounts): the reference portal's demo school.
    pub fn college() -> Self {
        DemoConfig {
            seed: 2026,
            ecoles: 0,
            colleges: 1,
            lycees: 0,
            year: SchoolYear(2026),
            academie: "ORLEANS-TOURS".into(),
        }
    }

    /// `n` structures in an académie's proportions (15% écoles, 60% collèges, 25% lycées).
    pub fn structures(n: u32) -> Self {
        let lycees = n / 4;
        let ecoles = n * 15 / 100;
        DemoConfig { ecoles, lycees, colleges: n - lycees - ecoles, ..Self::college() }
    }

    /// An académie: 1,000 structures, about 1.8 million accounts.
    pub fn academie() -> Self {
        Self::structures(1000)
    }

    /// How many structures.
    pub fn total(&self) -> u32 {
        self.ecoles + self.colleges + self.lycees
    }
}

/// The generator.
#[derive(Debug, Clone)]
pub struct Demo {
    config: DemoConfig,
}

impl Demo {
    /// A generator for this configuration.
    pub fn new(config: DemoConfig) -> Self {
        Demo { config }
    }

    /// The configuration.
    pub fn config(&self) -> &DemoConfig {
        &self.config
    }

    /// One full batch per structure, generated lazily (an académie does not fit in memory at once).
    pub fn batches(&self) -> impl Iterator<Item = Batch> + '_ {
        (0..self.config.total()).map(move |i| school::generate(&self.config, i))
    }

    /// The batches of [`Demo::batches`] merged up to `max_people` people each (see [`Batch::merge`]): the
    /// same population, applied in fewer and larger transactions.
    pub fn merged_batches(&self, max_people: usize) -> impl Iterator<Item = Batch> + '_ {
        let mut batches = self.batches().peekable();
        std::iter::from_fn(move || {
            let mut group = batches.next()?;
            while let Some(next) = batches.peek() {
                if !group.fits(next, max_people) {
                    break;
                }
                let next = batches.next()?;
                // Checked just above: the demo's batches share their source, year and kind.
                group.merge(next).ok()?;
            }
            Some(group)
        })
    }

    /// [`Demo::merged_batches`] generated on a thread of its own, ahead of the caller: the next batches are
    /// generated and merged while the caller applies the current one (an académie's load waited 0.3 s for
    /// each of its 16 batches). At most two batches wait beside the caller's: one handed over, one being
    /// generated.
    pub fn merged_batches_ahead(&self, max_people: usize) -> Result<Ahead> {
        let (mut sender, receiver) = futures::channel::mpsc::channel(0);
        let demo = self.clone();
        std::thread::Builder::new()
            .name("ent-demo-gen".into())
            .spawn(move || {
                for batch in demo.merged_batches(max_people) {
                    // The caller is gone (it stopped on an error): nothing more to generate.
                    if futures::executor::block_on(futures::SinkExt::send(&mut sender, batch)).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| Error::storage("demo", format!("cannot start the thread generating the demo: {e}"), true))?;
        Ok(Ahead { batches: receiver })
    }

    /// The batch of structure `index` alone.
    pub fn batch(&self, index: u32) -> Batch {
        school::generate(&self.config, index)
    }
}

/// The batches of [`Demo::merged_batches_ahead`], generated on a thread of their own; dropping it stops the
/// thread after the batch it is generating.
#[derive(Debug)]
pub struct Ahead {
    batches: futures::channel::mpsc::Receiver<Batch>,
}

impl Ahead {
    /// The next batch, once generated; `None` after the last.
    pub async fn next(&mut self) -> Option<Batch> {
        futures::StreamExt::next(&mut self.batches).await
    }
}
