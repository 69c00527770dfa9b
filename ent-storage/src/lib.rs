//! Storage adapters for **ent**: implementations of `ent-core`'s storage ports, and the public
//! conformance testkit that every adapter (ours or a third party's) runs.

#[cfg(feature = "memory")]
pub mod memory;

#[cfg(feature = "testkit")]
pub mod testkit;
