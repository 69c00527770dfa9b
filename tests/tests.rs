//! Integration tests of the facade (one binary, submodules).
