//! Benchmarks of the SQLite adapter against the raw driver (written next).

fn main() {}
