//! Integration tests of the facade (one binary, submodules).

mod assembly;
mod events;
mod fixture;
mod jobs;
mod sdk;
mod settings;
