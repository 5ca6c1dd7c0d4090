//! What the screen draws: an immutable picture of the pipeline at one moment.
//!
//! The pipeline publishes a new `Snapshot` when something changed; the screen keeps the latest
//! one and never waits on the engines. Freezing the screen is keeping an old snapshot.

use std::time::Duration;

use crate::model::{Catalog, ChannelInfo, LinkState, Value};

/// Everything the panes need, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Increases with every published snapshot; the screen redraws only when it changes.
    pub generation: u64,
    pub source: SourceStatus,
    pub catalog: Catalog,
    /// One entry per catalog channel, in catalog order.
    pub channels: Vec<ChannelSnapshot>,
}

/// Where the data comes from and how the link is doing.
#[derive(Debug, Clone, Default)]
pub struct SourceStatus {
    /// Human-readable description ("demo on 127.0.0.1:40123", "trace run.mtr").
    pub label: String,
    pub link: LinkState,
    /// Round-trip time of the QUIC connection, when there is one.
    pub rtt: Option<Duration>,
    /// Certificate verification is off: the screen warns the whole time.
    pub insecure: bool,
    /// Trace file being written, if recording.
    pub recording: Option<String>,
    /// Records the recorder has written.
    pub recorded: u64,
    /// A message for the user that is not about the link (a recording that failed).
    pub notice: Option<String>,
}

/// One channel's counters and recent values.
#[derive(Debug, Clone)]
pub struct ChannelSnapshot {
    pub info: ChannelInfo,
    /// Records received.
    pub received: u64,
    /// Records missing by `seq` (gaps), never hidden.
    pub missing: u64,
    /// Records per second over the last few seconds.
    pub rate_hz: f64,
    pub last_value: Option<Value>,
    /// The source clock of the last record, nanoseconds.
    pub last_t_ns: u64,
    /// Recent numeric samples, oldest first: one column for a scalar channel, one per component
    /// for a vector channel, none for event and text channels.
    pub recent: Vec<Vec<f64>>,
}

impl ChannelSnapshot {
    /// An empty channel with nothing received yet.
    pub fn new(info: ChannelInfo) -> Self {
        Self {
            info,
            received: 0,
            missing: 0,
            rate_hz: 0.0,
            last_value: None,
            last_t_ns: 0,
            recent: Vec::new(),
        }
    }
}
