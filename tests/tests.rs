//! Integration tests of the facade: one binary, one submodule per subject (link time is real on 2 cores).

mod demo;
mod directory;
mod import;
