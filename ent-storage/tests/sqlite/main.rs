//! Tests of the SQLite adapter (one binary: link time on 2 cores is real).

mod bad_input;
mod blobs;
mod checkpoint;
mod common;
mod conformance;
mod crash;
mod fts;
mod smoke;
