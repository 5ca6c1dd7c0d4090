//! Commands the screen sends back: replay control, recording, patterns, a benchmark run, quit.
//!
//! The screen only asks; the pipeline decides and its next [`Snapshot`](crate::pipeline::Snapshot)
//! shows the outcome (the replay speed in `LinkState::Replay`, the file in
//! `SourceStatus::recording`).

use crate::pipeline::PatternSpec;

/// Replay speed changes by this factor per key press (`]` multiplies, `[` divides).
pub const REPLAY_SPEED_FACTOR: f64 = 2.0;

/// A seek key moves the replay by this much of the trace's clock.
pub const REPLAY_SEEK_STEP_NS: i64 = 5_000_000_000;

/// What the screen asks of a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplayCommand {
    /// Pause a running replay, or resume a paused one.
    TogglePause,
    /// Multiply the speed by [`REPLAY_SPEED_FACTOR`].
    SpeedUp,
    /// Divide the speed by [`REPLAY_SPEED_FACTOR`].
    SlowDown,
    /// Move by `delta_ns` nanoseconds of the trace's clock (negative: backwards), clamped to
    /// the trace.
    Seek { delta_ns: i64 },
    /// Go back to the start of the trace.
    Restart,
}

/// A message from the screen to the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Replay(ReplayCommand),
    /// Start recording to a trace file if not recording, else stop.
    ToggleRecording,
    /// Add this reference pattern (captured from the screen) to the library.
    AddPattern(PatternSpec),
    /// Start a quick benchmark run in the background (`bench --quick`), unless one is going.
    RunBenchmarks,
    /// Keep (pin) this learnt pattern.
    PinPattern(String),
    /// Drop this learnt pattern.
    DropPattern(String),
    /// The screen is closing; the pipeline should shut down.
    Quit,
}
