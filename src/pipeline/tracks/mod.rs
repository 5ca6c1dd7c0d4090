//! The engines' work on live channels, run as scheduler tasks.
//!
//! Each engine keeps per-channel state in a *track* behind a mutex: an inbox of new samples
//! and the engine's own state. The pipeline appends to the inbox and submits a task; the task
//! drains the inbox in order. Two tasks of one track never interleave (the mutex) and never
//! reorder samples (the inbox is FIFO and drained whole), so tasks may run on any worker.
//! Results stay in the track; the pipeline reads them when it builds a snapshot, and tasks
//! raise a shared flag so a result that arrives while the source is quiet is still published.
//!
//! One file per engine's tracks; this one holds what they share ([`Track`], [`TrackRunner`])
//! and the coordinator, [`Engines`]. Classes (DESIGN.md): LTL monitor steps are Critical
//! ([`ltl`]), pattern and repetition search High ([`patterns`], [`repetition`]), attractor
//! analysis Normal (every 256 new samples, on the last 4096: [`chaos`]), meta-learning Low
//! (motif discovery and self-tuning every 256 new samples: [`meta`]).

mod chaos;
mod ltl;
pub mod meta;
mod patterns;
mod repetition;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use thiserror::Error;
use tokio::sync::Notify;

use super::channel::ChannelState;
use super::library::{PatternError, PatternSpec};
use super::snapshot::{
    ChaosView, FormulaView, LearningView, MetaView, PatternMatchView, RepetitionView,
};
use crate::engines::ltl::{DEFAULT_HORIZON_STEPS, LtlError, OnVerdict};
use crate::engines::meta::learning::DecisionLog;
use crate::engines::temporal::TemporalError;
use crate::model::Decision;
use crate::model::{ChannelId, ChannelInfo, ChannelKind, Record};
use crate::scheduler::{Scheduler, SubmitError, Task, TaskClass, TaskLabel};

pub use patterns::{MATCH_DISTANCE_PER_SAMPLE, MATCH_HISTORY, PATTERN_BAND_FRACTION};

/// What the engines run on: formulas for event channels, patterns for numeric channels.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConfig {
    /// LTLf formulas; each is monitored on every event channel whose fields include all of
    /// the formula's fields.
    pub formulas: Vec<String>,
    pub patterns: Vec<PatternSpec>,
    /// What the pattern and repetition searches do when they fall behind.
    pub backlog: Backlog,
    /// Run every attractor and meta-learning round that falls due, on the pipeline's thread at
    /// the exact sample count where it falls due, instead of as scheduler tasks that may be
    /// coalesced under load; N is not tuned to the run time. The results (and the learning
    /// loop's decisions) then depend only on the input: `replay --headless`.
    pub every_round: bool,
    /// Keep every pattern match instead of the newest [`patterns::MATCH_HISTORY`] per search
    /// (`replay --headless --all-matches`; a trace is finite, so they are bounded by its length).
    /// The decision log then keeps every decision too.
    pub keep_all_matches: bool,
    /// What the LTL monitors do after a verdict, and their violation forecasts.
    pub ltl: LtlMonitoring,
}

/// How the live LTL monitors run: continuously, with a violation forecast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LtlMonitoring {
    /// After a verdict: restart on the next record (the default live) or stop.
    pub on_verdict: OnVerdict,
    /// Steps ahead of each monitor's violation forecast.
    pub predict_steps: usize,
    /// Forecast probability at which the LTL pane warns.
    pub warn_at: f64,
}

/// The LTL pane's early warning when no threshold is given: a violation is more likely than
/// not within the forecast's horizon.
pub const DEFAULT_WARN_AT: f64 = 0.5;

impl Default for LtlMonitoring {
    fn default() -> Self {
        LtlMonitoring {
            on_verdict: OnVerdict::Restart,
            predict_steps: DEFAULT_HORIZON_STEPS,
            warn_at: DEFAULT_WARN_AT,
        }
    }
}

/// Patterns learnt in a run that the engines remember for `replay --headless` (the newest;
/// learnt patterns are few, a handful per channel in an hour of the demo).
pub const LEARNT_HISTORY: usize = 1024;

/// A pattern the learning loop learnt, as `replay --headless` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct LearntRecord {
    pub name: String,
    pub channel: ChannelId,
    pub channel_name: String,
    pub from: u64,
    pub to: u64,
    pub threshold: f64,
}

/// What a search does when its inbox is full (it holds [`patterns::INBOX_CAPACITY`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backlog {
    /// The pipeline takes no more records until the search catches up
    /// (`Pipeline::backlogged`): every sample is searched. For sources that can wait (a file,
    /// a trace), so that the results do not depend on the machine's speed.
    #[default]
    Wait,
    /// The oldest waiting samples are shed and counted, and the search starts again after
    /// the gap. For live sources, which cannot be held back.
    Shed,
}

/// Why the engines refuse a configuration or a pattern added while running.
#[derive(Debug, Error)]
pub enum TrackError {
    /// A formula that does not parse or compile (boxed: a parse error is large, and this is
    /// the rare path).
    #[error("formula {formula:?}: {source}")]
    Formula {
        formula: String,
        #[source]
        source: Box<LtlError>,
    },
    /// A configured pattern the search refuses.
    #[error("pattern {name:?}: {source}")]
    Pattern {
        name: String,
        #[source]
        source: TemporalError,
    },
    /// A pattern added while running under a name already in use.
    #[error("a pattern named {0:?} exists")]
    PatternNameTaken(String),
    /// A pattern added while running whose values cannot be a pattern.
    #[error(transparent)]
    InvalidPattern(#[from] PatternError),
    /// A pattern added while running that the search refuses.
    #[error(transparent)]
    PatternSearch(TemporalError),
}

/// An engine's state for one channel, and whether a task to drain its inbox is queued.
struct Track<T> {
    state: Mutex<T>,
    queued: AtomicBool,
}

impl<T> Track<T> {
    fn new(state: T) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(state),
            queued: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, T> {
        self.state.lock()
    }
}

/// A queued task's hold on its track: the task clears the track's `queued` flag when it
/// starts; a task dropped without running (shed to make room for more urgent work, or
/// cancelled) clears it on drop, so the track is scheduled again next time instead of never.
struct QueuedTask<T>(Option<Arc<Track<T>>>);

impl<T> Drop for QueuedTask<T> {
    fn drop(&mut self) {
        if let Some(track) = self.0.take() {
            track.queued.store(false, Ordering::Release);
        }
    }
}

/// Submits the tracks' tasks to the scheduler, raises the shared "results changed" flag when
/// a task changed a result, and counts the tasks the scheduler refused.
struct TrackRunner {
    scheduler: Arc<Scheduler>,
    /// Raised by tasks when they changed a result.
    results_changed: Arc<AtomicBool>,
    /// Tasks the scheduler refused (Critical and High are handed back, never dropped silently).
    rejected: AtomicU64,
    /// Notified when a task ends: a pipeline held back by a full inbox ([`Backlog::Wait`])
    /// looks again (see `Pipeline::wait_for_backlog`).
    task_done: Arc<Notify>,
}

impl TrackRunner {
    /// Submits a task that runs `work` on `track` (which locks it for as long as it needs),
    /// unless one is already queued (it will drain what was just added). Returns true when the
    /// scheduler refused the task; the inbox keeps the samples, and the next task drains them.
    fn schedule<T: Send + 'static>(
        &self,
        track: &Arc<Track<T>>,
        class: TaskClass,
        label: TaskLabel,
        budget: Duration,
        work: impl FnOnce(&Track<T>) -> bool + Send + 'static,
    ) -> bool {
        if track.queued.swap(true, Ordering::AcqRel) {
            return false;
        }
        let mut queued = QueuedTask(Some(track.clone()));
        let changed = self.results_changed.clone();
        let task_done = self.task_done.clone();
        let task = Task::new(class, label, move || {
            let Some(track) = queued.0.take() else {
                return;
            };
            track.queued.store(false, Ordering::Release);
            if work(&track) {
                changed.store(true, Ordering::Release);
            }
            task_done.notify_one();
        })
        .with_deadline_in(budget);
        let refused = match self.scheduler.submit_detached(task) {
            Ok(()) => false,
            Err(err) => {
                track.queued.store(false, Ordering::Release);
                !matches!(err, SubmitError::Shed { .. })
            }
        };
        self.rejected
            .fetch_add(u64::from(refused), Ordering::Relaxed);
        refused
    }

    fn mark_changed(&self) {
        self.results_changed.store(true, Ordering::Release);
    }
}

/// The engines' tracks for every channel, and the scheduler they run on.
pub struct Engines {
    runner: TrackRunner,
    ltl: ltl::LtlTracks,
    patterns: patterns::PatternTracks,
    repetition: repetition::RepetitionTracks,
    chaos: chaos::ChaosTracks,
    meta: meta::MetaTracks,
    names: BTreeMap<ChannelId, String>,
    every_round: bool,
    /// The learning loop's decisions in this run (bounded: `DECISION_LOG_CAPACITY`).
    log: DecisionLog,
    /// Decisions read from a replayed trace (the live run's), bounded alike.
    recorded: DecisionLog,
    /// Patterns learnt in this run, the newest [`LEARNT_HISTORY`].
    learnt: std::collections::VecDeque<LearntRecord>,
}

impl Engines {
    /// Compiles the formulas (an error names the formula and the spot) and checks patterns.
    pub fn new(scheduler: Arc<Scheduler>, config: AnalysisConfig) -> Result<Self, TrackError> {
        Ok(Self {
            runner: TrackRunner {
                scheduler,
                results_changed: Arc::new(AtomicBool::new(false)),
                rejected: AtomicU64::new(0),
                task_done: Arc::new(Notify::new()),
            },
            ltl: ltl::LtlTracks::compile(&config.formulas, config.ltl)?,
            patterns: patterns::PatternTracks::new(
                config.patterns,
                config.backlog,
                config.keep_all_matches,
            )?,
            repetition: repetition::RepetitionTracks::new(config.backlog),
            chaos: chaos::ChaosTracks::default(),
            meta: meta::MetaTracks::default(),
            names: BTreeMap::new(),
            every_round: config.every_round,
            log: if config.keep_all_matches {
                DecisionLog::with_capacity(usize::MAX)
            } else {
                DecisionLog::default()
            },
            recorded: DecisionLog::default(),
            learnt: std::collections::VecDeque::new(),
        })
    }

    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.runner.scheduler
    }

    /// Tasks the scheduler refused so far (Critical and High are handed back, never dropped
    /// silently; their samples wait in the inbox for the next task).
    pub fn rejected(&self) -> u64 {
        self.runner.rejected.load(Ordering::Relaxed)
    }

    /// Samples and tokens shed from the pattern and repetition searches' inboxes under load
    /// (each inbox holds at most [`patterns::INBOX_CAPACITY`]; the search restarts after a
    /// gap). Ingest, recording and the LTL monitors never shed.
    pub fn samples_shed(&self) -> u64 {
        self.patterns.shed() + self.repetition.shed()
    }

    pub fn pattern_names(&self) -> Vec<String> {
        self.patterns.names()
    }

    /// Adds a reference pattern while running: every numeric channel is searched for it from
    /// its next sample on; `samples_so_far` gives how many samples a channel has had (so
    /// matches are placed in the channel's own count). Refused, with the reason, when the
    /// values cannot be a pattern or the name is taken.
    pub fn add_pattern(
        &mut self,
        pattern: PatternSpec,
        samples_so_far: impl Fn(ChannelId) -> u64,
    ) -> Result<(), TrackError> {
        self.patterns.add(pattern, samples_so_far)?;
        self.runner.mark_changed();
        Ok(())
    }

    /// Sets up tracks for a new catalog's channels (keeping those of unchanged channels), and
    /// cancels the pending work of channels that went away.
    pub fn set_channels(&mut self, channels: &[ChannelInfo]) {
        let keep: BTreeMap<ChannelId, &ChannelInfo> = channels.iter().map(|c| (c.id, c)).collect();
        let gone: Vec<ChannelId> = self
            .names
            .keys()
            .filter(|id| {
                keep.get(id)
                    .is_none_or(|c| Some(&c.name) != self.names.get(id))
            })
            .copied()
            .collect();
        for id in gone {
            self.runner.scheduler.cancel_channel(id);
            self.ltl.remove(id);
            self.patterns.remove(id);
            self.repetition.remove(id);
            self.chaos.remove(id);
            self.meta.remove(id);
            self.names.remove(&id);
        }
        for info in channels {
            if self.names.contains_key(&info.id) {
                // A known channel whose entry changed: its period, or an event channel's
                // fields, which a text input learns as it reads.
                match &info.kind {
                    ChannelKind::Event { fields } => self.ltl.fields_grew(info, fields),
                    ChannelKind::Scalar | ChannelKind::Vector { .. } => {
                        self.chaos.period_known(info);
                    }
                    ChannelKind::Text => {}
                }
                continue;
            }
            self.names.insert(info.id, info.name.clone());
            match &info.kind {
                ChannelKind::Event { fields } => self.ltl.add_channel(info, fields),
                ChannelKind::Scalar | ChannelKind::Vector { .. } => {
                    self.chaos.add_channel(info);
                    self.meta.add_channel(info.id, &info.name, self.every_round);
                    self.patterns.add_channel(info.id);
                }
                ChannelKind::Text => self.repetition.add_channel(info.id),
            }
        }
    }

    /// Forgets every channel's engine state (a replay went back): tracks are made anew.
    pub fn reset(&mut self) {
        for id in self.names.keys() {
            self.runner.scheduler.cancel_channel(*id);
        }
        self.ltl.clear();
        self.patterns.clear();
        self.repetition.clear();
        self.chaos.clear();
        self.meta.clear();
        self.names.clear();
    }

    /// Queues a batch of one channel's records for its engines and schedules their tasks.
    pub fn ingest(&mut self, channel: ChannelId, records: &[Record]) {
        self.ltl.ingest(&self.runner, channel, records);
        self.patterns.ingest(&self.runner, channel, records);
        let name = self.names.get(&channel).map_or("", String::as_str);
        self.repetition.ingest(&self.runner, channel, name, records);
    }

    /// With [`Backlog::Wait`], whether a search's inbox holds more than its capacity, so the
    /// source should wait. The searches of those inboxes are scheduled again (a task the full
    /// scheduler turned away is not queued), so that waiting ends.
    pub fn backlogged(&self) -> bool {
        let patterns = self.patterns.backlogged(&self.runner);
        let repetition = self.repetition.backlogged(&self.runner, &self.names);
        patterns || repetition
    }

    /// Notified whenever an engine task ends; see [`Engines::backlogged`].
    pub fn task_done(&self) -> Arc<Notify> {
        self.runner.task_done.clone()
    }

    /// Analyses the channel's latest window when enough new samples have come (a Normal
    /// task with its own copy of the window, so the ring buffer keeps moving meanwhile).
    pub fn analyse_if_due(&mut self, channel: ChannelId, state: &ChannelState) {
        if self.every_round {
            self.chaos.analyse_inline_if_due(channel, state);
        } else {
            self.chaos.analyse_if_due(&self.runner, channel, state);
        }
    }

    /// Whether rounds run inline at exact sample counts ([`AnalysisConfig::every_round`]).
    pub fn every_round(&self) -> bool {
        self.every_round
    }

    /// With [`AnalysisConfig::every_round`]: samples the channel may take before its next round
    /// falls due (rounds fall due at multiples of the 256-sample stride), so that the pipeline
    /// can stop there, run it and go on.
    pub fn samples_to_next_round(state: &ChannelState) -> u64 {
        let stride = meta::META_EVERY;
        stride - state.samples_pushed % stride
    }

    /// With [`AnalysisConfig::every_round`]: runs the channel's due attractor and meta rounds
    /// here and now, and applies what the learning loop decided; the decisions made.
    pub fn run_due_inline(&mut self, channel: ChannelId, state: &ChannelState) -> Vec<Decision> {
        self.chaos.analyse_inline_if_due(channel, state);
        let (chaos, given) = (&self.chaos, &self.patterns);
        let ran = self
            .meta
            .run_inline_if_due(channel, state, || meta::LearningContext {
                given: given.given().to_vec(),
                chaos: chaos.latest(channel),
            });
        if !ran {
            return Vec::new();
        }
        self.apply_learning(|_| state.samples_pushed)
    }

    /// Applies what finished rounds learnt: learnt patterns join their channel's search (from
    /// its next sample), retired ones leave it, thresholds change; the decisions go into the
    /// log and are returned (for the recording). `samples_so_far` gives each channel's count.
    pub fn apply_learning(&mut self, samples_so_far: impl Fn(ChannelId) -> u64) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for (channel, learning) in self.meta.take_pending() {
            let channel_name = self.names.get(&channel).cloned().unwrap_or_default();
            for p in &learning.learnt {
                let spec = PatternSpec {
                    name: p.name.clone(),
                    values: p.values.clone(),
                };
                self.patterns
                    .add_learnt(channel, &spec, samples_so_far(channel), p.threshold);
                if self.learnt.len() == LEARNT_HISTORY {
                    self.learnt.pop_front();
                }
                self.learnt.push_back(LearntRecord {
                    name: p.name.clone(),
                    channel,
                    channel_name: channel_name.clone(),
                    from: p.from,
                    to: p.to,
                    threshold: p.threshold,
                });
            }
            for name in &learning.retired {
                self.patterns.retire(channel, name);
            }
            for (name, threshold) in &learning.thresholds {
                self.patterns.set_threshold(channel, name, *threshold);
            }
            decisions.extend(learning.decisions);
        }
        if !decisions.is_empty() {
            self.log.extend(decisions.iter().cloned());
            self.runner.mark_changed();
        }
        decisions
    }

    /// The user keeps a learnt pattern: it is never retired. Its spec (to save like a captured
    /// pattern) and the decision, when a channel learnt it.
    pub fn pin_pattern(
        &mut self,
        name: &str,
        samples_so_far: impl Fn(ChannelId) -> u64,
    ) -> Option<(PatternSpec, Decision)> {
        let (spec, decision) =
            self.meta
                .with_learner_of(name, |channel, channel_name, learner| {
                    let p = learner.pin(name)?;
                    Some((
                        PatternSpec {
                            name: p.name.clone(),
                            values: p.values.clone(),
                        },
                        Decision {
                            channel,
                            channel_name: channel_name.to_owned(),
                            sample: samples_so_far(channel),
                            level: 1,
                            what: format!("pattern {name}"),
                            from: "learnt".into(),
                            to: "pinned".into(),
                            why: "kept by the user".into(),
                        },
                    ))
                })??;
        self.log.push(decision.clone());
        self.runner.mark_changed();
        Some((spec, decision))
    }

    /// The user drops a learnt pattern: its search stops. The decision, when a channel learnt it.
    pub fn drop_pattern(
        &mut self,
        name: &str,
        samples_so_far: impl Fn(ChannelId) -> u64,
    ) -> Option<Decision> {
        let (channel, decision) =
            self.meta
                .with_learner_of(name, |channel, channel_name, learner| {
                    let p = learner.drop_pattern(name)?;
                    Some((
                        channel,
                        Decision {
                            channel,
                            channel_name: channel_name.to_owned(),
                            sample: samples_so_far(channel),
                            level: 1,
                            what: format!("pattern {}", p.name),
                            from: if p.pinned { "pinned" } else { "learnt" }.into(),
                            to: "dropped".into(),
                            why: "dropped by the user".into(),
                        },
                    ))
                })??;
        self.patterns.retire(channel, name);
        self.log.push(decision.clone());
        self.runner.mark_changed();
        Some(decision)
    }

    /// The learning loop's decisions in this run (the newest `DECISION_LOG_CAPACITY`).
    pub fn decisions(&self) -> &DecisionLog {
        &self.log
    }

    /// Decisions read from a replayed trace.
    pub fn recorded_decisions(&self) -> &DecisionLog {
        &self.recorded
    }

    /// Takes decisions read from a replayed trace (shown beside this run's own).
    pub fn take_recorded(&mut self, decisions: Vec<Decision>) {
        self.recorded.extend(decisions);
        self.runner.mark_changed();
    }

    /// Patterns learnt in this run, in the order learnt (the newest [`LEARNT_HISTORY`]).
    pub fn learnt_patterns(&self) -> impl Iterator<Item = &LearntRecord> {
        self.learnt.iter()
    }

    /// The learning loop per numeric channel.
    pub fn learning_views(&self) -> BTreeMap<ChannelId, LearningView> {
        self.meta.learning_views()
    }

    /// Every pattern match kept, by channel, start and pattern (all of the run's with
    /// [`AnalysisConfig::keep_all_matches`]).
    pub fn all_matches(&self) -> Vec<PatternMatchView> {
        self.patterns.all_matches(&self.names)
    }

    /// Submits a meta-learning round (a Low task with its own copy of the channel's last N
    /// samples) when [`meta::META_EVERY`] new samples have come, no round of the channel is
    /// queued or running, and fewer than [`meta::META_MAX_IN_FLIGHT`] rounds of any channel
    /// are (a due channel that finds no place goes at its next batch after one frees). True
    /// when a round was submitted.
    pub fn meta_if_due(&mut self, channel: ChannelId, state: &ChannelState) -> bool {
        if self.every_round {
            return false;
        }
        let (chaos, given) = (&self.chaos, &self.patterns);
        self.meta
            .submit_if_due(&self.runner, channel, state, || meta::LearningContext {
                given: given.given().to_vec(),
                chaos: chaos.latest(channel),
            })
    }

    /// The latest meta-learning round per numeric channel, aged at `now`.
    pub fn meta_views(&self, now: Instant) -> BTreeMap<ChannelId, MetaView> {
        self.meta.views(now)
    }

    /// The latest attractor analysis per numeric channel.
    pub fn chaos_views(&self) -> BTreeMap<ChannelId, ChaosView> {
        self.chaos.views()
    }

    /// Whether a task changed a result since the last call.
    pub fn take_changed(&self) -> bool {
        self.runner.results_changed.swap(false, Ordering::AcqRel)
    }

    /// One row per monitored formula, in channel then formula order.
    pub fn formula_views(&self) -> Vec<FormulaView> {
        self.ltl.views()
    }

    /// Recent pattern matches on every channel, newest first.
    pub fn match_views(&self, now: Instant) -> Vec<PatternMatchView> {
        self.patterns.views(now, &self.names)
    }

    /// Recent repetition loops on text channels, newest first.
    pub fn repetition_views(&self, now: Instant) -> Vec<RepetitionView> {
        self.repetition.views(now)
    }
}
