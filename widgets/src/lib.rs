//! Reusable ratatui widgets for Midstream. They know nothing of the engines.
pub mod latency_histogram;
