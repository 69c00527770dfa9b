//! Browser tests (below).
