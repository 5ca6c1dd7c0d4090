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
    /// Connected, but nothing (not even a keep-alive) has arrived from `remote` for
    /// `silent_for`: the source or the network went silent without closing. Back to
    /// `Connected` when packets flow again, or `Reconnecting` at the idle timeout.
    Stalled {
        remote: String,
        silent_for: Duration,
    },
    /// Reading a text input (a file, a followed file, a pipe).
    Reading {
        input: String,
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
    /// What a text input could not use so far (sent when it changes, and at the end).
    Input(InputReport),
    /// Decisions of the learning loop recorded in a trace, in the order they were made (a
    /// replay shows the live run's decisions).
    Decisions(Vec<super::Decision>),
}

/// Most problems an [`InputReport`] lists one by one; the rest are counted.
pub const MAX_LISTED_PROBLEMS: usize = 8;

/// The bad input a text source (or the payloads of a NATS source) has met: counts, the first problems and the latest one, each
/// as `line N: reason` with the input's own line number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputReport {
    /// Lines read, blank lines and headers included.
    pub lines: u64,
    /// Lines skipped whole.
    pub bad_lines: u64,
    /// Messages skipped whole (a NATS payload that starts like JSON but does not parse).
    pub bad_messages: u64,
    /// Cells skipped in lines that were otherwise used.
    pub bad_cells: u64,
    /// Values whose type differed from their field's first one (counted, not coerced).
    pub type_changes: u64,
    /// The first [`MAX_LISTED_PROBLEMS`] problems.
    pub first: Vec<String>,
    /// The latest problem.
    pub latest: Option<String>,
}

impl InputReport {
    /// Lines, cells and values that could not be used.
    pub fn problems(&self) -> u64 {
        self.bad_lines + self.bad_messages + self.bad_cells + self.type_changes
    }

    /// One line for a status line or a log: `3 bad lines, 1 bad cell (latest: line 7: ...)`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        if self.bad_lines > 0 {
            parts.push(plural(self.bad_lines, "bad line"));
        }
        if self.bad_messages > 0 {
            parts.push(plural(self.bad_messages, "bad message"));
        }
        if self.bad_cells > 0 {
            parts.push(plural(self.bad_cells, "bad cell"));
        }
        if self.type_changes > 0 {
            parts.push(plural(self.type_changes, "type change"));
        }
        let mut text = parts.join(", ");
        if let Some(latest) = &self.latest {
            text.push_str(&format!(" (latest: {latest})"));
        }
        text
    }
}
