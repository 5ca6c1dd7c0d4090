//! The integration tests' one kit: fixture files ([`fixtures`]), test catalogs and trace
//! headers ([`catalog`]), the binary under test ([`binary`]), a pseudo-terminal to run it
//! in ([`pty`]), a UDP relay that can go silent ([`relay`]), a real NATS server
//! ([`nats`]) and a real HTTP server streaming recorded LLM responses ([`sse`]). Each test binary includes it with `#[path = "../common/mod.rs"] mod common;`.

// Each test binary uses part of the kit; the rest would warn as unused in that binary.
#![allow(dead_code)]

#[cfg(feature = "app")]
pub mod binary;
pub mod catalog;
pub mod fixtures;
#[cfg(feature = "app")]
pub mod nats;
#[cfg(feature = "app")]
pub mod nats_cluster;
#[cfg(feature = "app")]
pub mod pty;
#[cfg(feature = "app")]
pub mod relay;
#[cfg(feature = "app")]
pub mod sse;
