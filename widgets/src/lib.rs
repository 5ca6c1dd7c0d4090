//! Reusable ratatui widgets for Midstream. They know nothing of the engines.

pub mod benchmark_table;
pub mod exponent_gauge;
pub mod format;
pub mod latency_histogram;
pub mod phase_portrait;
pub mod verdict_strip;
