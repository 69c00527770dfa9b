//! Integration tests of the facade: one binary, one submodule per subject (link time is real on 2 cores).

mod aaf;
mod accounts;
mod assembly;
mod demo;
mod directory;
mod events;
mod fixture;
mod import;
mod import_pipeline;
mod jobs;
#[cfg(feature = "messagerie")]
mod messagerie;
#[cfg(feature = "notes")]
mod notes;
mod oneroster;
#[cfg(feature = "postgres")]
mod postgres_processes;
mod rights;
mod rights_oracle;
mod sdk;
mod settings;
#[cfg(feature = "sqlite")]
mod sqlite_processes;
mod storage_memory;
#[cfg(feature = "web")]
mod web;
#[cfg(all(feature = "web", feature = "notes", feature = "messagerie"))]
mod web_modules;
