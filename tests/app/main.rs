//! The application around the engines: generators, pipeline, trace files, QUIC transport, the
//! command line and the terminal, up to the real binary in a pseudo-terminal. One binary; each
//! module was a test file of its own.

#![cfg(feature = "app")]

#[path = "../common/mod.rs"]
mod common;

mod bench_cli;
mod cli_config;
mod cli_input;
mod cli_replay;
mod cli_serve_record;
mod fleet;
mod generators;
mod meta_cli;
mod nats_auth;
mod nats_source;
mod net_faults;
mod pipeline_engines;
mod pipeline_meta;
mod pty_dashboard;
mod publish_lanes;
mod publisher_drop;
mod quic_loopback;
mod record_limits;
mod server_admission;
mod sse_source;
mod terminal_restore;
mod trace_recovery;
mod transport_stall;
