//! What a source tells the pipeline: plain data, so sources need not know the pipeline.

use std::time::Duration;

use super::{Catalog, Record};

/// The state of the link to the source.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum LinkState {
    #[default]
    Connecting,
    Connected {
        remote: String,
    },
    /// The connection was lost; what was received is kept.
    Reconnecting {
        reason: String,
        attempt: u32,
        delay: Duration,
    },
    /// Replay from a trace file.
    Replay {
        speed: f64,
        paused: bool,
        /// Where the replay is, nanoseconds of the trace's clock.
        position_ns: u64,
        /// Length of the trace, nanoseconds of the trace's clock.
        length_ns: u64,
    },
    /// The source ended (end of a trace, or a server that closed for good).
    Ended {
        reason: String,
    },
    /// A fatal error: nothing more will arrive (wrong pin, refused token).
    Failed {
        reason: String,
    },
}

/// One event from a source (a QUIC client, a trace replay) to the pipeline.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    /// The source's channels (at connect, and again after a reconnect).
    Catalog(Catalog),
    Records(Vec<Record>),
    Link(LinkState),
    Rtt(Duration),
    /// Forget all channel state (a replay seeked backwards).
    Reset,
}
