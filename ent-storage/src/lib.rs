//! Storage adapters for **ent**: implementations of `ent-core`'s storage ports, and the public
//! conformance testkit that every adapter (ours or a third party's) runs.

#![forbid(unsafe_code)]

#[cfg(feature = "memory")]
pub mod memory;

#[cfg(any(feature = "sqlite", feature = "fs"))]
mod blocking;
#[cfg(feature = "fs")]
pub mod fs;
#[cfg(all(feature = "sqlite", feature = "postgres"))]
pub mod migrate;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "testkit")]
pub mod testkit;
