#![doc = include_str!("../README.md")]
// The workspace denies `unsafe_code` (the scale examples set allocator options); every library forbids it.
#![forbid(unsafe_code)]

pub use ent_core as core;
pub use ent_core::{Error, Result};
pub use ent_import as import;
pub use ent_modules as modules;
pub use ent_storage as storage;
#[cfg(feature = "web")]
pub use ent_web as web;

#[cfg(feature = "web")]
pub mod portal;

#[cfg(all(feature = "web", feature = "notes", feature = "messagerie"))]
pub mod demo_content;
