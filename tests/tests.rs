//! Integration tests of the facade (one binary, submodules).
mod storage_memory;
