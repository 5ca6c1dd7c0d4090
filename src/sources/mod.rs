//! Built-in stream generators, and trace replay as a source.
pub mod replay;
