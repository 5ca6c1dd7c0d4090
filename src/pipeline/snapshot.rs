//! What the screen draws: an immutable picture of the pipeline at one moment.
//!
//! The pipeline publishes a new `Snapshot` when something changed; the screen keeps the latest
//! one and never waits on the engines. Freezing the screen is keeping an old snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::bench::BenchReport;
use crate::model::{Catalog, ChannelId, ChannelInfo, Decision, LinkState, Value};
use crate::scheduler::SchedulerStats;

/// Everything the panes need, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Increases with every published snapshot; the screen redraws only when it changes.
    pub generation: u64,
    pub source: SourceStatus,
    pub catalog: Catalog,
    /// One entry per catalog channel, in catalog order.
    pub channels: Vec<ChannelSnapshot>,
    /// What the engines found; filled as their results come back from the scheduler.
    pub analysis: AnalysisSnapshot,
    /// Benchmark results against their budgets (Benchmarks pane), once read.
    pub benchmarks: Option<Arc<BenchReport>>,
    /// The analyzers' latest results (Fleet pane), with `attach --results`.
    pub fleet: Option<Arc<crate::sources::fleet::FleetTable>>,
}

/// The engines' latest results, as the panes show them.
#[derive(Debug, Clone, Default)]
pub struct AnalysisSnapshot {
    /// Attractor analysis per numeric channel (Chaos pane; τ for the phase portrait).
    pub chaos: BTreeMap<ChannelId, ChaosView>,
    /// Names of the reference patterns searched for on every numeric channel.
    pub patterns: Vec<String>,
    /// Recent pattern matches, newest first (Patterns pane).
    pub matches: Vec<PatternMatchView>,
    /// Recent repetition loops on text channels, newest first (Patterns pane).
    pub repetitions: Vec<RepetitionView>,
    /// Samples and tokens the pattern and repetition searches shed under load.
    pub samples_shed: u64,
    /// One row per monitored formula (LTL pane).
    pub formulas: Vec<FormulaView>,
    /// The scheduler's statistics (Scheduler pane); `None` when no scheduler runs.
    pub scheduler: Option<SchedulerStats>,
    /// The latest meta-learning round per numeric channel (Motifs pane).
    pub meta: BTreeMap<ChannelId, MetaView>,
    /// The learning loop per numeric channel (Learning pane, Patterns pane's learnt patterns).
    pub learning: BTreeMap<ChannelId, LearningView>,
    /// The learning loop's newest decisions (at most [`SNAPSHOT_DECISIONS`]), oldest first.
    pub decisions: Vec<Decision>,
    /// Decisions read from a replayed trace (the live run's), newest [`SNAPSHOT_DECISIONS`].
    pub recorded_decisions: Vec<Decision>,
}

/// Decisions copied into each snapshot: a screenful and more; the log itself keeps
/// `DECISION_LOG_CAPACITY`.
pub const SNAPSHOT_DECISIONS: usize = 256;

/// The learning loop of one channel (`engines::meta::learning`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LearningView {
    pub rounds: u64,
    /// Tuned embedding (None before the first profile) and the one in use (level 3 may have
    /// backed off to the defaults).
    pub e: Option<usize>,
    pub tau: Option<usize>,
    pub effective: (usize, usize),
    /// Analysis window and re-analysis interval, in samples.
    pub length: usize,
    pub interval: u64,
    pub nonlinear: Option<bool>,
    /// Simplex ρ by E (index E − 1) and by forecast horizon (samples, ρ).
    pub rho_by_e: Vec<f64>,
    pub rho_by_horizon: Vec<(usize, f64)>,
    /// Mean held-out ρ of the tuned embedding and of the defaults, over how many rounds.
    pub judge: Option<(f64, f64, usize)>,
    pub backed_off: bool,
    pub learnt: Vec<LearntPatternView>,
    /// How long the latest round's learning took (all three levels), milliseconds.
    pub learning_ms: f64,
}

/// A pattern the loop learnt on a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct LearntPatternView {
    pub name: String,
    pub from: u64,
    pub to: u64,
    pub threshold: f64,
    pub pinned: bool,
}

/// One meta-learning round on a channel's latest samples (see `pipeline::tracks::meta`): its motifs
/// and discords, the dynamics profile, and what the self-tuning chose.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaView {
    /// Rounds run on this channel so far, this one included.
    pub rounds: u64,
    /// The analysed samples, oldest first (shared between snapshots, not copied).
    pub series: Arc<[f64]>,
    /// Index of `series[0]` in the channel's sample count (the count starts at 0).
    pub first_sample: u64,
    /// The analysis length N the budget rule asks for from the next round on; `series` is
    /// shorter while the channel has fewer samples.
    pub length: usize,
    /// Motif window m used in this round (samples).
    pub window: usize,
    /// The dominant period (samples) this round's samples show, when they show one; the
    /// window follows it through the hysteresis rule (`pipeline::tracks::meta::WindowTuner`), so the
    /// two differ while a change of period is not yet confirmed.
    pub period: Option<usize>,
    /// Top motif pairs, closest first, positions in the channel's sample count.
    pub motifs: Vec<MotifView>,
    /// Top discords, farthest first, positions in the channel's sample count.
    pub discords: Vec<DiscordView>,
    /// Empirical dynamic modelling of the same samples, when it succeeded.
    pub dynamics: Option<DynamicsView>,
    /// How long the round took (tuning, motifs and dynamics), milliseconds.
    pub elapsed_ms: f64,
    /// How long ago the round finished, when the snapshot was taken.
    pub age: Duration,
    /// What failed in this round (too short, constant, not finite), if anything: the parts
    /// that failed are empty, the others are shown.
    pub error: Option<String>,
}

impl MetaView {
    /// The channel's sample count at the end of the analysed window.
    pub fn end_sample(&self) -> u64 {
        self.first_sample + self.series.len() as u64
    }
}

/// Two windows of `window` samples that are each other's nearest neighbour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotifView {
    /// First samples of the earlier and the later window, in the channel's sample count.
    pub a: u64,
    pub b: u64,
    /// Their z-normalised Euclidean distance.
    pub distance: f64,
}

/// A window of `window` samples far from every other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiscordView {
    /// Its first sample, in the channel's sample count.
    pub index: u64,
    /// Distance to its nearest non-trivial neighbour.
    pub distance: f64,
}

/// The dynamics profile of a window by empirical dynamic modelling (simplex projection for the
/// embedding dimension, S-map for nonlinearity; Sugihara & May 1990, Sugihara 1994).
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicsView {
    /// Best embedding dimension E.
    pub e: usize,
    /// Lag between embedding coordinates, and forecast horizon, in samples: the channel's
    /// embedding delay (see `pipeline::tracks::meta::analyse`).
    pub tau: usize,
    /// S-map localisation θ with the best forecast skill (0: a linear model does as well).
    pub theta: f64,
    /// Whether forecast skill improves with θ > 0: state-dependent, nonlinear dynamics.
    pub nonlinear: bool,
    /// Forecast skill ρ (correlation of predictions and observations) at the best E and θ.
    pub forecast_skill: f64,
    /// Simplex ρ for E = 1, 2, … (index E − 1).
    pub rho_by_e: Vec<f64>,
    /// S-map ρ for each θ tried, as (θ, ρ).
    pub rho_by_theta: Vec<(f64, f64)>,
}

/// One attractor analysis of a channel's sliding window, and the history before it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosView {
    /// Samples in the analysed window.
    pub window: usize,
    /// The channel's sample count when the window ended.
    pub at_sample: u64,
    /// Embedding dimension m and delay τ (samples) that were chosen.
    pub dim: usize,
    pub delay: usize,
    /// Largest Lyapunov exponent, in `lyapunov_unit`.
    pub lyapunov: Option<f64>,
    /// "1/sample", or "1/s" when the channel has a period.
    pub lyapunov_unit: String,
    /// Fit range on the divergence curve (steps) and its R².
    pub fit: Option<(usize, usize)>,
    pub fit_r2: Option<f64>,
    pub correlation_dimension: Option<f64>,
    /// fixed-point, periodic, quasi-periodic, chaotic or noise.
    pub class: String,
    pub elapsed_ms: f64,
    /// Earlier results, oldest first: (λ, D2), for the sparklines.
    pub history: Vec<(Option<f64>, Option<f64>)>,
    /// Why the last analysis failed (too short, constant), if it did.
    pub error: Option<String>,
}

/// One place where a reference pattern matched a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternMatchView {
    pub pattern: String,
    pub channel: ChannelId,
    pub channel_name: String,
    /// DTW distance between the z-normalised query and window.
    pub distance: f64,
    /// Index of the match's first sample in the channel's sample count.
    pub start_sample: u64,
    pub len: usize,
    /// The source clock at the end of the match, nanoseconds.
    pub t_ns: u64,
    /// How long ago it was found, when the snapshot was taken.
    pub age: Duration,
}

/// Recent tokens of a text channel that repeat an earlier window (a stuck generator).
#[derive(Debug, Clone, PartialEq)]
pub struct RepetitionView {
    pub channel: ChannelId,
    pub channel_name: String,
    /// The repeated tokens.
    pub tokens: Vec<String>,
    /// How many tokens back the earlier copy starts.
    pub lag: usize,
    /// Edit distance between the two windows, in tokens.
    pub distance: usize,
    /// Token count of the channel when found.
    pub at_token: u64,
    pub age: Duration,
}

/// The online status of a formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormulaStatus {
    /// True for every continuation.
    Satisfied,
    /// False for every continuation.
    Violated,
    /// Depends on what comes next.
    Undecided,
}

/// One monitored formula.
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaView {
    pub formula: String,
    pub channel_name: String,
    pub status: FormulaStatus,
    /// The verdict if the trace ended now.
    pub verdict_if_ended: bool,
    /// Step at which the final verdict was reached.
    pub decided_at: Option<u64>,
    pub steps: u64,
    /// Verdict-if-ended over the most recent steps, oldest first (the verdict strip);
    /// `None` while undecided.
    pub recent: Vec<Option<bool>>,
    /// For a violation: the records (as text) in the window that broke it, oldest first
    /// (with restarts: the latest violation's).
    pub violation_window: Vec<String>,
    /// The monitor starts again after each verdict (`--on-verdict restart`).
    pub restarts: bool,
    /// Violations and satisfactions counted since the channel appeared (exact).
    pub violations: u64,
    pub satisfactions: u64,
    /// Steps of the latest violations, oldest first (at most 256: the timeline's).
    pub violation_steps: Vec<u64>,
    /// The probability that the running monitor is violated within the next
    /// `predict_steps` records; `None` until the forecast has data.
    pub prediction: Option<f64>,
    pub predict_steps: usize,
    /// The forecast at which the pane warns.
    pub warn_at: f64,
    /// Atom evaluations on missing or wrongly typed fields (counted as false).
    pub missing_fields: u64,
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
    /// Why the recording stopped early (a full disk), with the records the trace keeps.
    pub recording_error: Option<String>,
    /// What a text input could not use (`None` for other sources, or while all was good).
    pub input: Option<crate::model::InputReport>,
    /// A message for the user that is not about the link: a recording that failed, a
    /// pattern that was added or refused.
    pub notice: Option<Notice>,
}

/// A message from the pipeline for the status line.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    /// Something went wrong (shown until replaced); otherwise it is news, shown for a while.
    pub warning: bool,
    /// When it was raised.
    pub at: Instant,
}

impl Notice {
    pub fn warning(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            warning: true,
            at: Instant::now(),
        }
    }

    pub fn info(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            warning: false,
            at: Instant::now(),
        }
    }
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
