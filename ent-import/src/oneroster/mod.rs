//! OneRoster (placeholder)
