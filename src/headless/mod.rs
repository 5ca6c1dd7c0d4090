//! The non-interactive subcommands: read files, run engines, print stable output.
//!
//! Each command is a function from options and an output sink to a result, so the binary,
//! the tests and users' scripts all go through the same code.

pub mod analyze;
#[cfg(feature = "app")]
pub mod analyzer;
pub mod check;
pub mod compare;
pub mod motifs;
#[cfg(feature = "app")]
pub mod record;
#[cfg(feature = "app")]
pub mod replay;
#[cfg(feature = "app")]
pub mod serve;
#[cfg(feature = "app")]
pub mod summary;

/// What went wrong in a headless command, with enough context to fix it.
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    /// An input that cannot be read, or a line of it that does not parse.
    #[error(transparent)]
    Text(#[from] crate::sources::text::TextError),
    #[error("{0}")]
    Invalid(String),
    /// The write's error is the source (`{:#}` prints it after the colon).
    #[error("cannot write output")]
    Output(#[from] std::io::Error),
}
