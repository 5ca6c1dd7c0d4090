//! Meta-learning on live channels, as the scheduler's Low class (DESIGN.md: "motif discovery,
//! self-tuning").
//!
//! Every [`META_EVERY`] new samples of a numeric channel (the first component of a vector, as
//! the attractor analysis and the pattern search read it), the pipeline submits one Low task
//! with its own copy of the channel's last N samples. The task
//!
//! 1. tunes the motif window m to the data: the dominant period by autocorrelation
//!    (`engines::meta::tuning::motif_window`), through a hysteresis rule ([`WindowTuner`]) so m
//!    does not flap between rounds;
//! 2. finds the top [`META_TOP`] motif pairs and discords of the window with the exact matrix
//!    profile (`engines::meta::discover`), their positions mapped to the channel's own sample
//!    count (as pattern matches are);
//! 3. profiles the dynamics by empirical dynamic modelling (`engines::meta::edm`): embedding
//!    dimension E, S-map θ, nonlinearity and forecast skill ρ;
//! 4. measures its own run time and tunes N for the next round to the Low budget
//!    ([`LengthTuner`]).
//!
//! A round that fails (too few samples, a constant window, a sample that is not a number)
//! publishes the reason in [`MetaView::error`]; nothing is hidden and nothing panics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use thiserror::Error;

use super::{Track, TrackRunner};
use crate::engines::attractor::choose_delay;
use crate::engines::meta::learning::{ChannelLearner, GivenPattern, RoundInput, RoundLearning};
use crate::engines::meta::tuning::{self, MAX_MOTIF_WINDOW_DENOMINATOR, MIN_PERIOD_STRENGTH};
use crate::engines::meta::{self as engine, MIN_WINDOW, MotifPair, edm};
use crate::model::ChannelId;
use crate::pipeline::channel::{ChannelState, RING_CAPACITY};
use crate::pipeline::library::PatternSpec;
use crate::pipeline::snapshot::{
    DiscordView, DynamicsView, LearningView, LearntPatternView, MetaView, MotifView,
};
use crate::scheduler::{TaskClass, TaskLabel};

/// New samples between two rounds on a channel. The same stride as the attractor analysis
/// (256): at the demo's 200 samples/s a round every 1.3 s keeps the Motifs pane current, and
/// with rounds held to [`META_RUN_BUDGET`] the Low work stays a small, steady load next to the
/// Critical and High work on two cores.
pub const META_EVERY: u64 = 256;

/// Deadline of a round's task, from its submission: done before the next round of the
/// channel falls due ([`META_EVERY`] samples later, about 1.3 s at the demo's 200 Hz), like the
/// attractor analysis' budget. A Low task waits behind every other class, so most of this is
/// for waiting.
pub const META_BUDGET: Duration = Duration::from_secs(1);

/// Run time one round may take; the analysis length N is tuned to it ([`LengthTuner`]). A
/// twentieth of [`META_BUDGET`]: with the demo's nine numeric channels each running a round
/// every 1.3 s, rounds at this budget keep Low work under a third of one core (9 × 50 ms per
/// 1.3 s), leaving the machine's two cores to the classes above it. Measured
/// (`benches/pipeline_bench.rs`, group `pipeline_meta`, a loaded 2-core machine): a round
/// takes about 4 ms at N = 256, 15 ms at 512, 56 ms at 1,024 and 218 ms at 2,048 (mostly the
/// S-map), so N settles at 512 there.
pub const META_RUN_BUDGET: Duration = Duration::from_millis(50);

/// N grows only when a round took less than [`META_RUN_BUDGET`] divided by this. The matrix
/// profile and the S-map both cost O(N²), so doubling N about quadruples the run time: from
/// under an eighth of the budget it lands under half of it, and halving from just over the
/// budget lands near a quarter. Growth and shrinking therefore never undo each other.
pub const META_GROW_MARGIN: u32 = 8;

/// Samples analysed per round to start with (N): 20 periods of a 50-sample cycle, enough for
/// several motif pairs; the budget rule moves it from the first round on.
pub const DEFAULT_LENGTH: usize = 1024;

/// The shortest N the budget rule shrinks to: eight windows of the default motif window, so
/// motif pairs remain possible, and room for the dynamics profile up to [`MAX_EMBEDDING`]
/// (`edm::profile_min_samples`).
pub const MIN_LENGTH: usize = 256;

/// The longest N: the channel's ring buffer holds no more.
pub const MAX_LENGTH: usize = RING_CAPACITY;

/// Motif pairs and discords found per round (the `motifs` command's default `--top`).
pub const META_TOP: usize = 3;

/// Motif window when the data show no dominant period (noise, chaotic maps): 32 samples, short
/// enough to find motifs in the shortest N ([`MIN_LENGTH`] holds eight of them).
pub const DEFAULT_MOTIF_WINDOW: usize = 32;

/// Hysteresis of the motif window: a proposal within this fraction of the current m (or within
/// [`WINDOW_DEADBAND_MIN_SAMPLES`]) keeps m. The autocorrelation peak of a noisy periodic
/// signal moves by a sample or two between windows (2–4% of a 50-sample period); 10% is above
/// that noise and below a real change of the period.
pub const WINDOW_DEADBAND: f64 = 0.1;

/// A change of the motif window by this many samples or fewer is always noise.
pub const WINDOW_DEADBAND_MIN_SAMPLES: usize = 1;

/// Meta-learning rounds queued or running at once, over all channels. The scheduler does not
/// preempt a running task, so a round holds its worker for its whole run time; one at a time
/// leaves the other worker(s) to the Critical, High and Normal work, and nine channels' rounds
/// at the settled ~15 ms still take turns well within the 1.3 s between a channel's rounds.
pub const META_MAX_IN_FLIGHT: usize = 1;

/// Largest embedding dimension the dynamics profile tries (pyEDM's `EmbedDimension` default
/// `maxE = 10`).
pub const MAX_EMBEDDING: usize = 10;

/// Library vectors the dynamics profile wants per coefficient of its models (E + 1: the
/// simplex's neighbours, the S-map's linear terms and constant) before it tries that E: the
/// rule of thumb of ten observations per fitted parameter. Without it a short window at a long
/// delay is profiled up to E = 9 on a few dozen vectors, and picks an E from noise.
pub const LIBRARY_VECTORS_PER_COEFFICIENT: usize = 10;

/// Whether a channel that has had `total` samples, last analysed when it had `analysed_at`, is
/// due for a round: every [`META_EVERY`] samples, the first time as soon as it has that many.
pub fn is_due(total: u64, analysed_at: Option<u64>) -> bool {
    is_due_every(total, analysed_at, META_EVERY)
}

/// [`is_due`] with the re-analysis interval the learning loop chose (level 2).
pub fn is_due_every(total: u64, analysed_at: Option<u64>, interval: u64) -> bool {
    match analysed_at {
        None => total >= META_EVERY,
        Some(at) => total >= at + interval.max(1),
    }
}

/// The analysis length N, tuned to the Low budget from each round's measured run time.
///
/// Rule, after a round over `analysed` samples that took `run`:
/// - over the budget (`run > budget`): N becomes half of what was analysed (`min(N, analysed)
///   / 2`), but not below [`MIN_LENGTH`];
/// - well under it (`run < budget / META_GROW_MARGIN`) and the round had all N samples (a
///   young channel's short window says nothing about N): N doubles, up to [`MAX_LENGTH`];
/// - else N stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthTuner {
    length: usize,
}

impl Default for LengthTuner {
    fn default() -> Self {
        Self {
            length: DEFAULT_LENGTH,
        }
    }
}

impl LengthTuner {
    /// The samples the next round analyses (fewer when the channel has fewer).
    pub fn length(&self) -> usize {
        self.length
    }

    /// Applies the rule (type documentation) and returns the new N.
    pub fn update(&mut self, analysed: usize, run: Duration, budget: Duration) -> usize {
        if run > budget {
            self.length = (self.length.min(analysed) / 2).max(MIN_LENGTH);
        } else if run < budget / META_GROW_MARGIN && analysed >= self.length {
            self.length = (self.length * 2).min(MAX_LENGTH);
        }
        self.length
    }
}

/// The motif window m with hysteresis, so m does not flap between rounds.
///
/// Rule, given each round's proposal p (the data's dominant period):
/// - the first proposal is taken;
/// - a proposal inside the dead band of the current m (`|p − m| ≤ max(WINDOW_DEADBAND·m,
///   WINDOW_DEADBAND_MIN_SAMPLES)`) keeps m and forgets any pending change;
/// - a proposal outside it becomes m only when the round before proposed the same change (a
///   proposal inside the dead band of this one); otherwise it is kept as pending and m stays.
///
/// So estimation noise never moves m, a real change of the period moves it after two rounds,
/// and a proposal that alternates between two values (a period and its harmonic) leaves it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowTuner {
    current: Option<usize>,
    pending: Option<usize>,
}

/// Whether `proposal` lies within the dead band around `around`.
fn within_deadband(proposal: usize, around: usize) -> bool {
    let band = (WINDOW_DEADBAND * around as f64).max(WINDOW_DEADBAND_MIN_SAMPLES as f64);
    proposal.abs_diff(around) as f64 <= band
}

impl WindowTuner {
    /// The current motif window, once a round has proposed one.
    pub fn current(&self) -> Option<usize> {
        self.current
    }

    /// Applies the rule (type documentation) and returns the motif window to use.
    pub fn update(&mut self, proposal: usize) -> usize {
        let chosen = match self.current {
            None => proposal,
            Some(current) if within_deadband(proposal, current) => {
                self.pending = None;
                current
            }
            Some(current) => match self.pending {
                Some(pending) if within_deadband(proposal, pending) => {
                    self.pending = None;
                    proposal
                }
                _ => {
                    self.pending = Some(proposal);
                    current
                }
            },
        };
        self.current = Some(chosen);
        chosen
    }
}

/// A channel's meta-learning state, kept in its track between rounds.
#[derive(Debug, Default)]
pub struct MetaTrack {
    /// The channel's sample count when the last round was submitted (`None` before the first).
    pub analysed_at: Option<u64>,
    pub length: LengthTuner,
    pub window: WindowTuner,
    /// A round is running (so the next one waits instead of running beside it and racing it
    /// for the tuners).
    pub running: bool,
    /// Rounds finished.
    pub rounds: u64,
    /// The latest round and when it finished.
    pub latest: Option<(MetaView, Instant)>,
    /// The channel and its name (decisions carry them).
    pub channel: ChannelId,
    pub name: String,
    /// The learning loop of the channel.
    pub learner: ChannelLearner,
    /// What rounds learnt that the engines have not applied yet (at most one per round; the
    /// engines take them after each batch).
    pub pending: Vec<RoundLearning>,
    /// The sample count of the attractor analysis the learner last took λ and D2 from.
    pub chaos_seen_at: Option<u64>,
    /// Rounds run at fixed sample counts, without the clock (`AnalysisConfig::every_round`):
    /// N is not tuned to the run time.
    pub deterministic: bool,
    /// How long the latest round's learning took, milliseconds.
    pub learning_ms: f64,
}

/// What a round's learning needs from outside the channel's track.
#[derive(Debug, Clone, Default)]
pub struct LearningContext {
    /// The patterns every channel is searched for.
    pub given: Vec<PatternSpec>,
    /// The channel's latest attractor analysis: its sample count, λ and D2.
    pub chaos: Option<(u64, Option<f64>, Option<f64>)>,
}

impl MetaTrack {
    /// The learning loop as the snapshot shows it.
    pub fn learning_view(&self) -> LearningView {
        let l = &self.learner;
        LearningView {
            rounds: l.rounds,
            e: l.params.e,
            tau: l.params.tau,
            effective: l.effective_embedding(),
            length: l.params.length,
            interval: l.params.interval,
            nonlinear: l.params.nonlinear,
            rho_by_e: l.rho_by_e.clone(),
            rho_by_horizon: l.rho_by_horizon.clone(),
            judge: l.judge.means(),
            backed_off: l.judge.backed_off,
            learnt: l
                .learnt
                .iter()
                .map(|p| LearntPatternView {
                    name: p.name.clone(),
                    from: p.from,
                    to: p.to,
                    threshold: p.threshold,
                    pinned: p.pinned,
                })
                .collect(),
            learning_ms: self.learning_ms,
        }
    }

    /// The samples the next round analyses: the learning loop's window (level 2), and live
    /// also no more than the run-time budget allows.
    pub fn next_length(&self) -> usize {
        let learnt = self.learner.params.length;
        if self.deterministic {
            learnt
        } else {
            learnt.min(self.length.length())
        }
    }
}

impl MetaTrack {
    /// The latest round as the snapshot shows it at `now`.
    pub fn view(&self, now: Instant) -> Option<MetaView> {
        self.latest.as_ref().map(|(view, at)| MetaView {
            age: now.saturating_duration_since(*at),
            ..view.clone()
        })
    }
}

/// What a round found, before the track stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundOutcome {
    /// The motif window used and the period it came from.
    pub window: usize,
    pub period: Option<usize>,
    pub motifs: Vec<MotifView>,
    pub discords: Vec<DiscordView>,
    pub dynamics: Option<DynamicsView>,
    pub errors: Vec<String>,
    /// The motif pairs in the series' own positions, and the whole dynamics profile, for the
    /// learning loop.
    pub pairs: Vec<MotifPair>,
    pub profile: Option<edm::DynamicsProfile>,
}

/// The motif window this round's data propose (`tuning::motif_window`: the dominant period by
/// autocorrelation, else [`DEFAULT_MOTIF_WINDOW`]) and the period behind it, if one was found.
///
/// The period is found again by `tuning::dominant_period` over lags up to m + 1 only, which
/// costs O(n·m) instead of the O(n²/4) of the full search: when `motif_window` took a period,
/// that period is the highest peak after the first zero crossing, so it is also the highest
/// among the shorter lags (and when it was clamped up to the shortest window, the peak lies
/// below m). It counts only when it is strong enough and clamps to m as `motif_window`
/// clamps it, so a weak peak never stands behind the default.
fn propose_window(series: &[f64]) -> (usize, Option<usize>) {
    let m = tuning::motif_window(series, DEFAULT_MOTIF_WINDOW);
    let max = series.len() / MAX_MOTIF_WINDOW_DENOMINATOR;
    let period = tuning::dominant_period(series, 2, m + 1)
        .filter(|p| p.strength >= MIN_PERIOD_STRENGTH)
        .filter(|_| max >= tuning::MIN_MOTIF_WINDOW)
        .filter(|p| p.lag.clamp(tuning::MIN_MOTIF_WINDOW, max) == m)
        .map(|p| p.lag);
    (m, period)
}

/// The largest motif window a series of `n` samples takes (a quarter of it, as
/// `tuning::motif_window` allows, and a defined matrix profile), if any.
pub fn largest_window(n: usize) -> Option<usize> {
    engine::max_window(n)
        .map(|max| max.min(n / MAX_MOTIF_WINDOW_DENOMINATOR))
        .filter(|&m| m >= MIN_WINDOW)
}

/// One round on `series`, the channel's samples from `first_sample` on: the window m (through
/// `tuner`), motifs and discords in the channel's sample count ([`analyse_motifs`]), and the
/// dynamics profile ([`profile_dynamics`]).
pub fn analyse(series: &[f64], first_sample: u64, tuner: &mut WindowTuner) -> RoundOutcome {
    let mut outcome = analyse_motifs(series, first_sample, tuner);
    if unusable(series).is_some() {
        return outcome;
    }
    match profile_dynamics(series) {
        Ok(profile) => {
            outcome.profile = Some(profile.clone());
            outcome.dynamics = Some(DynamicsView {
                e: profile.e,
                tau: profile.tau,
                theta: profile.theta,
                nonlinear: profile.nonlinear,
                forecast_skill: profile.forecast_skill,
                rho_by_e: profile.rho_by_e,
                rho_by_theta: profile.rho_by_theta,
            })
        }
        Err(err) => outcome.errors.push(format!("dynamics: {err}")),
    }
    outcome
}

/// The dynamics profile of a round, with its lag and horizon tuned to the series: both are the
/// series' embedding delay τ (`attractor::choose_delay`, the first minimum of the mutual
/// information, 1 for maps and noise). One-step forecasts of a flow sampled much faster than
/// it evolves are nearly linear whatever its dynamics (pyEDM on the Lorenz x sampled every
/// 0.01: ρ 0.999 at every θ with τ = Tp = 1; 0.92 → 0.998 with τ = Tp = 10, see
/// `tests/engines/edm_fixtures.rs`), so a fixed τ = 1 would call every smooth flow linear. E goes up
/// to [`MAX_EMBEDDING`], or less when the series is too short for that many lags of τ
/// ([`LIBRARY_VECTORS_PER_COEFFICIENT`]).
pub fn profile_dynamics(series: &[f64]) -> Result<edm::DynamicsProfile, DynamicsError> {
    let tau = choose_delay(series).map_or(1, |choice| choice.delay.max(1));
    let n = series.len();
    // Library vectors of the first half at E: its samples less the embedding span and horizon.
    let library = |e: usize| (n / 2).saturating_sub((e - 1) * tau + tau);
    let max_e = (1..=MAX_EMBEDDING)
        .rev()
        .find(|&e| {
            edm::profile_min_samples_with(e, tau, tau) <= n
                && library(e) >= LIBRARY_VECTORS_PER_COEFFICIENT * (e + 1)
        })
        .ok_or(DynamicsError::TooFewSamples {
            samples: n,
            tau,
            needed: edm::profile_min_samples_with(1, tau, tau),
        })?;
    Ok(edm::profile_dynamics_with(series, max_e, tau, tau)?)
}

/// Why a round has no dynamics profile.
#[derive(Debug, Error)]
pub enum DynamicsError {
    #[error(
        "{samples} samples are too few for the dynamics profile at the series' delay τ = {tau} \
         (it needs {needed})"
    )]
    TooFewSamples {
        samples: usize,
        tau: usize,
        needed: usize,
    },
    #[error(transparent)]
    Edm(#[from] edm::EdmError),
}

/// Why a window cannot be analysed at all (too short, constant), if it cannot.
fn unusable(series: &[f64]) -> Option<String> {
    if largest_window(series.len()).is_none() {
        return Some(format!(
            "{} samples are too few: a round needs at least {}",
            series.len(),
            MIN_WINDOW * MAX_MOTIF_WINDOW_DENOMINATOR
        ));
    }
    let first = *series.first()?;
    series.iter().all(|&x| x == first).then(|| {
        format!(
            "the last {} samples are all {first}: a constant window has no motifs or dynamics",
            series.len()
        )
    })
}

/// The motif part of a round (no dynamics): the window m through `tuner`, the top motif pairs
/// and discords in the channel's sample count.
pub fn analyse_motifs(series: &[f64], first_sample: u64, tuner: &mut WindowTuner) -> RoundOutcome {
    let mut outcome = RoundOutcome {
        window: tuner.current().unwrap_or(DEFAULT_MOTIF_WINDOW),
        period: None,
        motifs: Vec::new(),
        discords: Vec::new(),
        dynamics: None,
        errors: Vec::new(),
        pairs: Vec::new(),
        profile: None,
    };
    if let Some(why) = unusable(series) {
        outcome.errors.push(why);
        return outcome;
    }
    let largest = largest_window(series.len()).unwrap_or(MIN_WINDOW);
    let (proposal, period) = propose_window(series);
    outcome.period = period;
    outcome.window = tuner.update(proposal).clamp(MIN_WINDOW, largest);
    match engine::discover(series, outcome.window, META_TOP) {
        Ok(found) => {
            outcome.pairs = found.motifs.clone();
            outcome.motifs = found
                .motifs
                .iter()
                .map(|p| MotifView {
                    a: first_sample + p.a as u64,
                    b: first_sample + p.b as u64,
                    distance: p.distance,
                })
                .collect();
            outcome.discords = found
                .discords
                .iter()
                .map(|d| DiscordView {
                    index: first_sample + d.index as u64,
                    distance: d.distance,
                })
                .collect();
        }
        Err(err) => outcome.errors.push(format!("motifs: {err}")),
    }
    outcome
}

/// Stores a round's outcome in the track as its latest view, and tunes N from its run time.
pub fn record(
    track: &mut MetaTrack,
    series: Arc<[f64]>,
    first_sample: u64,
    outcome: RoundOutcome,
    run: Duration,
    finished: Instant,
) {
    track.rounds += 1;
    if !track.deterministic {
        track.length.update(series.len(), run, META_RUN_BUDGET);
    }
    let length = track.next_length();
    let error = (!outcome.errors.is_empty()).then(|| outcome.errors.join("; "));
    let view = MetaView {
        rounds: track.rounds,
        series,
        first_sample,
        length,
        window: outcome.window,
        period: outcome.period,
        motifs: outcome.motifs,
        discords: outcome.discords,
        dynamics: outcome.dynamics,
        elapsed_ms: run.as_secs_f64() * 1e3,
        age: Duration::ZERO,
        error,
    };
    track.latest = Some((view, finished));
}

/// Counts a round as in flight (queued or running) from its submission until its task is
/// dropped: after it ran, or unrun when it was shed or cancelled.
#[derive(Debug)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Takes one of the [`META_MAX_IN_FLIGHT`] places of `counter`, if one is free.
    pub fn take(counter: &Arc<AtomicUsize>) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < META_MAX_IN_FLIGHT).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlight(counter.clone()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Clears [`MetaTrack::running`] when the round ends, also when it panics.
struct Running<'a>(&'a Mutex<MetaTrack>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.lock().running = false;
    }
}

/// The Low task: one round on `series`, the channel's last samples up to `at_sample`. The
/// analysis runs without the lock, so a snapshot taken meanwhile shows the previous round
/// instead of waiting.
pub fn run_round(
    state: &Mutex<MetaTrack>,
    series: Vec<f64>,
    at_sample: u64,
    context: &LearningContext,
) {
    let started = Instant::now();
    let (mut tuner, mut learner, channel, name, chaos_seen_at) = {
        let mut track = state.lock();
        track.running = true;
        (
            track.window,
            std::mem::take(&mut track.learner),
            track.channel,
            track.name.clone(),
            track.chaos_seen_at,
        )
    };
    let _running = Running(state);
    let first_sample = at_sample.saturating_sub(series.len() as u64);
    let outcome = analyse(&series, first_sample, &mut tuner);
    let run = started.elapsed();
    // The learning loop, timed on its own (its cost per round is reported apart).
    let learning_started = Instant::now();
    let chaos = context
        .chaos
        .filter(|(at, _, _)| chaos_seen_at.is_none_or(|seen| *at > seen));
    let learning = (outcome.errors.is_empty() || outcome.profile.is_some()).then(|| {
        learn(
            &mut learner,
            channel,
            &name,
            &series,
            first_sample,
            &outcome,
            context,
            chaos,
        )
    });
    let learning_ms = learning_started.elapsed().as_secs_f64() * 1e3;
    let mut track = state.lock();
    track.learner = learner;
    track.learning_ms = learning_ms;
    if let Some((at, _, _)) = chaos {
        track.chaos_seen_at = Some(at);
    }
    if let Some(learning) = learning {
        track.pending.push(learning);
    }
    track.window = tuner;
    record(
        &mut track,
        series.into(),
        first_sample,
        outcome,
        run,
        Instant::now(),
    );
}

/// One round of the learning loop on a round's outcome (`engines::meta::learning`).
#[allow(clippy::too_many_arguments)]
pub fn learn(
    learner: &mut ChannelLearner,
    channel: ChannelId,
    name: &str,
    series: &[f64],
    first_sample: u64,
    outcome: &RoundOutcome,
    context: &LearningContext,
    chaos: Option<(u64, Option<f64>, Option<f64>)>,
) -> RoundLearning {
    let given: Vec<GivenPattern> = context
        .given
        .iter()
        .map(|p| GivenPattern {
            name: &p.name,
            values: &p.values,
        })
        .collect();
    learner.round(&RoundInput {
        channel,
        channel_name: name,
        series,
        first_sample,
        window: outcome.window,
        motifs: &outcome.pairs,
        dynamics: outcome.profile.as_ref(),
        given: &given,
        lambda: chaos.and_then(|c| c.1),
        d2: chaos.and_then(|c| c.2),
    })
}

/// The meta-learning state of every numeric channel, and the rounds in flight.
#[derive(Default)]
pub(super) struct MetaTracks {
    tracks: BTreeMap<ChannelId, Arc<Track<MetaTrack>>>,
    /// Rounds queued or running (at most [`META_MAX_IN_FLIGHT`]).
    in_flight: Arc<AtomicUsize>,
}

impl MetaTracks {
    pub(super) fn add_channel(&mut self, channel: ChannelId, name: &str, deterministic: bool) {
        self.tracks.insert(
            channel,
            Track::new(MetaTrack {
                channel,
                name: name.to_owned(),
                deterministic,
                ..MetaTrack::default()
            }),
        );
    }

    /// Runs a due round on the calling thread, at this exact sample count (for
    /// `AnalysisConfig::every_round`: no round is skipped or coalesced, whatever the machine).
    /// True when one ran.
    pub(super) fn run_inline_if_due(
        &self,
        channel: ChannelId,
        state: &ChannelState,
        context: impl FnOnce() -> LearningContext,
    ) -> bool {
        let Some(track) = self.tracks.get(&channel) else {
            return false;
        };
        let total = state.samples_pushed;
        let length = {
            let mut t = track.lock();
            let interval = t.learner.params.interval;
            if !is_due_every(total, t.analysed_at, interval) {
                return false;
            }
            t.analysed_at = Some(total);
            t.next_length()
        };
        let series = state.recent(0, length);
        run_round(&track.state, series, total, &context());
        true
    }

    /// What the rounds learnt since the last call, by channel, in channel order.
    pub(super) fn take_pending(&self) -> Vec<(ChannelId, RoundLearning)> {
        let mut all = Vec::new();
        for (id, track) in &self.tracks {
            for learning in std::mem::take(&mut track.lock().pending) {
                all.push((*id, learning));
            }
        }
        all
    }

    /// The learning loop per numeric channel.
    pub(super) fn learning_views(&self) -> BTreeMap<ChannelId, LearningView> {
        self.tracks
            .iter()
            .map(|(id, track)| (*id, track.lock().learning_view()))
            .collect()
    }

    /// Runs `f` on the learner of the channel that learnt `pattern`, if one did.
    pub(super) fn with_learner_of<R>(
        &self,
        pattern: &str,
        f: impl FnOnce(ChannelId, &str, &mut ChannelLearner) -> R,
    ) -> Option<R> {
        for (id, track) in &self.tracks {
            let mut t = track.lock();
            if t.learner.learnt.iter().any(|p| p.name == pattern) {
                let name = t.name.clone();
                return Some(f(*id, &name, &mut t.learner));
            }
        }
        None
    }

    pub(super) fn remove(&mut self, channel: ChannelId) {
        self.tracks.remove(&channel);
    }

    pub(super) fn clear(&mut self) {
        self.tracks.clear();
    }

    /// Submits a round when one is due (see `Engines::meta_if_due`); true when it was.
    pub(super) fn submit_if_due(
        &self,
        runner: &TrackRunner,
        channel: ChannelId,
        state: &ChannelState,
        context: impl FnOnce() -> LearningContext,
    ) -> bool {
        let Some(track) = self.tracks.get(&channel) else {
            return false;
        };
        let total = state.samples_pushed;
        let (length, in_flight) = {
            let mut t = track.lock();
            let interval = t.learner.params.interval;
            if !is_due_every(total, t.analysed_at, interval)
                || t.running
                || track.queued.load(Ordering::Acquire)
            {
                return false;
            }
            let Some(in_flight) = InFlight::take(&self.in_flight) else {
                return false;
            };
            t.analysed_at = Some(total);
            (t.next_length(), in_flight)
        };
        let series = state.recent(0, length);
        let context = context();
        let refused = runner.schedule(
            track,
            TaskClass::Low,
            TaskLabel::new("meta", channel),
            META_BUDGET,
            move |t: &Track<MetaTrack>| {
                run_round(&t.state, series, total, &context);
                drop(in_flight);
                true
            },
        );
        !refused
    }

    /// The latest round per numeric channel, aged at `now`.
    pub(super) fn views(&self, now: Instant) -> BTreeMap<ChannelId, MetaView> {
        self.tracks
            .iter()
            .filter_map(|(id, track)| track.lock().view(now).map(|v| (*id, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// The Lorenz x of `tests/fixtures/meta/edm` with every RK4 step kept (dt 0.01).
    fn fine_lorenz_x() -> Vec<f64> {
        include_str!("../../../tests/fixtures/meta/edm/lorenz_x_fine_1024.txt")
            .lines()
            .map(|l| l.trim().parse().expect("a number per line"))
            .collect()
    }

    #[test]
    fn the_dynamics_profile_runs_at_the_series_delay() {
        // A finely sampled flow: one step ahead it looks linear (the fixture test shows pyEDM
        // agrees), at its embedding delay it is nonlinear.
        let flow = fine_lorenz_x();
        let profile = profile_dynamics(&flow).expect("a profile");
        let delay = choose_delay(&flow).expect("a delay").delay;
        assert!(
            delay > 1,
            "a finely sampled flow has a delay of several samples"
        );
        assert_eq!((profile.tau, profile.tp), (delay, delay));
        assert!(profile.nonlinear, "{profile:?}");
        assert!(
            !edm::profile_dynamics(&flow, MAX_EMBEDDING)
                .expect("τ = 1")
                .nonlinear
        );
        // A map decorrelates at once: τ = 1.
        let mut x = 0.4;
        let logistic: Vec<f64> = (0..600)
            .map(|_| {
                x = 3.9 * x * (1.0 - x);
                x
            })
            .collect();
        let profile = profile_dynamics(&logistic).expect("a profile");
        assert_eq!(profile.tau, 1);
        assert!(profile.nonlinear);
        // A short window at that delay: E stops where the first half still holds ten library
        // vectors per model coefficient.
        let short = &flow[flow.len() - 256..];
        let profile = profile_dynamics(short).expect("a profile");
        let max_e = profile.rho_by_e.len();
        let library = |e: usize| 128 - (e - 1) * profile.tau - profile.tau;
        assert!(max_e < MAX_EMBEDDING);
        assert!(library(max_e) >= LIBRARY_VECTORS_PER_COEFFICIENT * (max_e + 1));
        assert!(library(max_e + 1) < LIBRARY_VECTORS_PER_COEFFICIENT * (max_e + 2));
        // Too short for the delay's lags: a clear error, not a panic.
        let err = profile_dynamics(&flow[..5])
            .expect_err("too short")
            .to_string();
        assert!(err.contains("too few"), "{err}");
    }

    #[test]
    fn over_budget_halves_n_down_to_the_floor() {
        let mut n = LengthTuner::default();
        assert_eq!(n.length(), DEFAULT_LENGTH);
        assert_eq!(n.update(1024, 80 * MS, META_RUN_BUDGET), 512);
        assert_eq!(n.update(512, 51 * MS, META_RUN_BUDGET), 256);
        assert_eq!(n.update(256, 200 * MS, META_RUN_BUDGET), MIN_LENGTH);
        // A young channel's short window that was too slow: half of what was analysed.
        let mut young = LengthTuner::default();
        assert_eq!(young.update(900, 60 * MS, META_RUN_BUDGET), 450);
    }

    #[test]
    fn well_under_budget_doubles_n_up_to_the_ring_only_with_a_full_window() {
        let mut n = LengthTuner::default();
        // Under an eighth of the budget, but the channel had only 600 samples: N stays.
        assert_eq!(n.update(600, MS, META_RUN_BUDGET), DEFAULT_LENGTH);
        assert_eq!(n.update(1024, MS, META_RUN_BUDGET), 2048);
        assert_eq!(n.update(2048, MS, META_RUN_BUDGET), 4096);
        assert_eq!(n.update(4096, MS, META_RUN_BUDGET), MAX_LENGTH);
        assert_eq!(n.update(MAX_LENGTH, MS, META_RUN_BUDGET), MAX_LENGTH);
        // Inside the band [budget/8, budget]: N stays.
        let mut n = LengthTuner::default();
        assert_eq!(n.update(1024, 7 * MS, META_RUN_BUDGET), 1024);
        assert_eq!(n.update(1024, 50 * MS, META_RUN_BUDGET), 1024);
    }

    /// A round costing `c·N²` (the matrix profile's and the S-map's order) settles on one N
    /// inside the budget and stays there; on a faster machine N grows to the ring.
    #[test]
    fn n_settles_without_oscillating_under_a_quadratic_cost() {
        for ns_per_pair in [5.0, 20.0, 80.0, 400.0] {
            let cost = |n: usize| Duration::from_nanos((ns_per_pair * (n * n) as f64) as u64);
            let mut tuner = LengthTuner::default();
            let mut seen = Vec::new();
            for _ in 0..20 {
                let n = tuner.length();
                seen.push(tuner.update(n, cost(n), META_RUN_BUDGET));
            }
            let settled = *seen.last().unwrap();
            assert!(
                seen[10..].iter().all(|&n| n == settled),
                "{ns_per_pair} ns: {seen:?}"
            );
            assert!(
                cost(settled) <= META_RUN_BUDGET || settled == MIN_LENGTH,
                "{ns_per_pair} ns: settled at {settled}"
            );
            // And it is the largest power-of-two step that the rule keeps: doubling it would
            // leave the band or pass the ring.
            assert!(
                settled == MAX_LENGTH || cost(settled) >= META_RUN_BUDGET / META_GROW_MARGIN,
                "{ns_per_pair} ns: settled at {settled} with room to grow"
            );
        }
    }

    #[test]
    fn the_window_ignores_noise_and_follows_a_confirmed_change() {
        let mut m = WindowTuner::default();
        assert_eq!(m.update(50), 50);
        // ±10% is noise.
        for p in [51, 49, 55, 45, 50] {
            assert_eq!(m.update(p), 50);
        }
        // A new period once is not enough; twice (within the band of each other) is.
        assert_eq!(m.update(80), 50);
        assert_eq!(m.update(78), 78);
        assert_eq!(m.update(80), 78);
        // A period and its harmonic alternating: m stays.
        let mut m = WindowTuner::default();
        m.update(40);
        for p in [80, 40, 80, 40, 80] {
            assert_eq!(m.update(p), 40);
        }
        // A pending change is forgotten when the proposal comes back to m.
        let mut m = WindowTuner::default();
        m.update(40);
        assert_eq!(m.update(60), 40);
        assert_eq!(m.update(41), 40);
        assert_eq!(m.update(60), 40);
        // Small windows: a change by one sample is noise.
        let mut m = WindowTuner::default();
        m.update(4);
        assert_eq!(m.update(5), 4);
        assert_eq!(m.update(6), 4);
        assert_eq!(m.update(6), 6);
    }

    #[test]
    fn rounds_are_due_every_meta_every_samples() {
        assert!(!is_due(META_EVERY - 1, None));
        assert!(is_due(META_EVERY, None));
        assert!(!is_due(1000 + META_EVERY - 1, Some(1000)));
        assert!(is_due(1000 + META_EVERY, Some(1000)));
    }

    #[test]
    fn a_constant_or_short_window_is_an_error_not_a_result() {
        let mut m = WindowTuner::default();
        let flat = analyse(&[2.5; 500], 1000, &mut m);
        assert!(flat.motifs.is_empty() && flat.discords.is_empty());
        assert_eq!(
            flat.errors,
            ["the last 500 samples are all 2.5: a constant window has no motifs or dynamics"]
        );
        assert_eq!(m.current(), None, "a failed round proposes no window");
        let short = analyse(&[1.0, 2.0, 3.0, 1.0, 2.0], 0, &mut m);
        assert!(
            short.errors[0].contains("5 samples are too few"),
            "{short:?}"
        );
        let mut broken: Vec<f64> = (0..400).map(|i| (i as f64 * 0.3).sin()).collect();
        broken[123] = f64::NAN;
        let nan = analyse(&broken, 7000, &mut m);
        assert!(
            nan.errors[0].starts_with("motifs: sample 123 is not a finite number"),
            "{nan:?}"
        );
    }

    #[test]
    fn the_window_comes_from_the_period_and_the_period_is_reported() {
        let sine: Vec<f64> = (0..1024)
            .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 50.0).sin())
            .collect();
        assert_eq!(propose_window(&sine), (50, Some(50)));
        // A period under the shortest window: m is clamped up, the period stays what it is.
        let fast: Vec<f64> = (0..1024)
            .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 5.0).sin())
            .collect();
        assert_eq!(propose_window(&fast), (tuning::MIN_MOTIF_WINDOW, Some(5)));
        // No period (a ramp never crosses zero within n/4 of autocorrelation): the default
        // and no period.
        let ramp: Vec<f64> = (0..1024).map(f64::from).collect();
        assert_eq!(propose_window(&ramp), (DEFAULT_MOTIF_WINDOW, None));
        let mut m = WindowTuner::default();
        let round = analyse(&sine, 0, &mut m);
        assert_eq!((round.window, round.period), (50, Some(50)));
        let dynamics = round.dynamics.expect("a sine has a dynamics profile");
        assert!(dynamics.forecast_skill > 0.99, "{dynamics:?}");
        assert!(!dynamics.nonlinear, "{dynamics:?}");
    }

    #[test]
    fn positions_are_in_the_channels_sample_count() {
        // Noise with one shape planted twice: the top motif is the planted pair, at the
        // planted places plus the window's first sample.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut series: Vec<f64> = (0..600).map(|_| noise()).collect();
        let shape: Vec<f64> = (0..DEFAULT_MOTIF_WINDOW)
            .map(|i| 3.0 * (i as f64 * 0.4).sin())
            .collect();
        for at in [100, 400] {
            for (k, v) in shape.iter().enumerate() {
                series[at + k] = *v + 0.01 * noise();
            }
        }
        let mut m = WindowTuner::default();
        let outcome = analyse(&series, 50_000, &mut m);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        // The planted pair, wherever m put its best-matching part.
        let top = outcome.motifs[0];
        assert_eq!(top.b - top.a, 300, "{top:?}");
        assert!((50_100..50_100 + DEFAULT_MOTIF_WINDOW as u64).contains(&top.a));
        assert!(top.distance < 0.5, "{top:?}");
        // Every position is the engine's, shifted by the window's first sample.
        let found = engine::discover(&series, outcome.window, META_TOP).unwrap();
        for (view, pair) in outcome.motifs.iter().zip(&found.motifs) {
            assert_eq!(
                (view.a, view.b),
                (50_000 + pair.a as u64, 50_000 + pair.b as u64)
            );
        }
        for (view, discord) in outcome.discords.iter().zip(&found.discords) {
            assert_eq!(view.index, 50_000 + discord.index as u64);
        }
        assert_eq!(outcome.motifs.len(), found.motifs.len());
    }
}
