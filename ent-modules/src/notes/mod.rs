//! **notes**: evaluations, grades and averages (see `docs/modules/notes.md`).

mod hundredths;
pub mod rules;

pub use hundredths::Hundredths;
