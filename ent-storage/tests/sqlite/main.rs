//! Tests of the SQLite adapter (one binary: link time on 2 cores is real).

mod blobs;
mod common;
mod crash;
mod fts;
mod smoke;
