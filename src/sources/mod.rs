//! Where records come from: the built-in generators, trace replay, text input (files,
//! pipes and programs printing JSON lines, CSV or whitespace-separated columns), and the
//! subjects of a NATS server (`nats`), and an LLM's streaming chat completion over
//! Server-Sent Events (`sse`).
//!
//! [`text`] turns lines of text into channels and records; it is pure parsing and builds with
//! the headless commands alone. Everything that reads, ticks or paces needs the `app` feature.

pub mod text;

#[cfg(feature = "app")]
mod demo;
#[cfg(feature = "app")]
pub mod events;
#[cfg(feature = "app")]
pub mod fleet;
#[cfg(feature = "app")]
pub mod flows;
#[cfg(feature = "app")]
pub mod input;
#[cfg(feature = "app")]
pub mod leases;
#[cfg(feature = "app")]
pub mod maps;
#[cfg(feature = "app")]
pub mod nats;
#[cfg(feature = "app")]
pub mod replay;
#[cfg(feature = "app")]
pub mod signals;
#[cfg(feature = "app")]
pub mod sse;
#[cfg(feature = "app")]
pub mod tokens;

#[cfg(feature = "app")]
pub use demo::*;
