//! Tests of the PostgreSQL adapter against a real server (one binary: link time on 2 cores is real).
//!
//! They read `ENT_TEST_POSTGRES_URL` (`.ci/run` sets it to `postgres://postgres@127.0.0.1:5432/test`);
//! without it each test says it was skipped and passes. Each test works in a schema of its own, with a
//! unique name, dropped afterwards.

#[macro_use]
mod common;
mod bad_input;
mod blobs;
mod conformance;
mod crash;
mod fts;
mod migrate;
mod smoke;
