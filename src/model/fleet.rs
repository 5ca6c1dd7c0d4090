//! What a headless analyzer publishes about one channel (`analyzer --results PREFIX`), as JSON
//! on `PREFIX.<channel>`, at most once a second per channel; the Fleet pane reads it back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One analyzer's latest findings on one channel. The JSON keys are a contract (issue 15):
/// `channel`, `analyzer`, `samples`, `lyapunov`, `class`, `correlation_dimension`, `verdicts`,
/// `matches`, `time`; the others are extra.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetResult {
    /// The channel's name (`in.c07`, or `in.c07.temp` for a field of a JSON subject).
    pub channel: String,
    /// The analyzer's stable id: `--name`, else `HOSTNAME-PID`.
    pub analyzer: String,
    /// Samples of the channel analysed so far, by every analyzer that held it (the count is
    /// handed over with the channel's lease).
    pub samples: u64,
    /// Largest Lyapunov exponent of the latest attractor analysis (per second when the
    /// channel has a sample period, else per sample); `null` before the first, or when it
    /// could not be estimated.
    pub lyapunov: Option<f64>,
    /// fixed-point, periodic, quasi-periodic, chaotic or noise; `null` before the first
    /// analysis.
    pub class: Option<String>,
    pub correlation_dimension: Option<f64>,
    /// Each LTLf formula monitored on the channel: satisfied, violated or undecided.
    pub verdicts: BTreeMap<String, String>,
    /// The latest pattern matches on the channel, newest first.
    pub matches: Vec<FleetMatch>,
    /// When the result was made: seconds since the Unix epoch (UTC).
    pub time: f64,
    /// The NATS subject whose messages make the channel.
    #[serde(default)]
    pub subject: String,
    /// The stream sequence number of the channel's last message analysed.
    #[serde(default)]
    pub stream_seq: u64,
}

/// One place where a reference pattern matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetMatch {
    pub pattern: String,
    /// The match's first sample, in the channel's sample count on its analyzer.
    pub start_sample: u64,
    pub len: usize,
    /// DTW distance between the z-normalised pattern and window.
    pub distance: f64,
}

/// Most matches a result lists.
pub const MAX_RESULT_MATCHES: usize = 5;
