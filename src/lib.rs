//! Midstream: live stream analysis in the terminal.
//!
//! `model` and `engines` are pure and build alone (`--no-default-features`); the rest is the
//! application around them.

/// `eprintln!` that does not panic when stderr is gone: a pipe whose reader has exited, as
/// when `midstream-tui serve 2>&1 | tee log` is stopped with Ctrl-C and `tee` goes first. The
/// line is lost, not the command: `eprintln!` panicked there, so `serve` died before telling
/// its clients why and `record` exited with 101.
#[allow(unused_macros)] // the engines alone (no default features) log nothing
macro_rules! elog {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

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
