//! Midstream: live stream analysis in the terminal.
//!
//! `model` and `engines` are pure and build alone (`--no-default-features`); the rest is the
//! application around them.

pub mod engines;
pub mod model;

#[cfg(feature = "headless")]
pub mod headless;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "headless")]
pub mod sources;

#[cfg(feature = "app")]
pub mod bench;
#[cfg(feature = "app")]
pub mod cli;
#[cfg(feature = "app")]
pub mod config;
#[cfg(feature = "app")]
pub mod pipeline;
#[cfg(feature = "app")]
pub mod session;
#[cfg(feature = "app")]
pub mod trace;
#[cfg(feature = "app")]
pub mod transport;
#[cfg(feature = "app")]
pub mod tui;

/// Publishing a stream of your own: see [`transport::publish`].
#[cfg(feature = "app")]
pub use transport::publish;
