//! The engines' work on live channels, run as scheduler tasks.
//!
//! Each engine keeps per-channel state in a *track* behind a mutex: an inbox of new samples
//! and the engine's own state. The pipeline appends to the inbox and submits a task; the task
//! drains the inbox in order. Two tasks of one track never interleave (the mutex) and never
//! reorder samples (the inbox is FIFO and drained whole), so tasks may run on any worker.
//! Results stay in the track; the pipeline reads them when it builds a snapshot, and tasks
//! raise a shared flag so a result that arrives while the source is quiet is still published.
//!
//! Classes (DESIGN.md): LTL monitor steps are Critical, pattern and repetition search High,
//! attractor analysis Normal (every 256 new samples, on the last 4096), meta-learning Low
//! (motif discovery and self-tuning every 256 new samples, see [`super::meta`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::channel::ChannelState;
use super::library;
use super::meta::{self, MetaTrack};
use super::snapshot::{
    ChaosView, FormulaStatus, FormulaView, MetaView, PatternMatchView, RepetitionView,
};
use crate::engines::attractor::{
    AnalysisOptions, AttractorAnalysis, AttractorError, SlidingWindow, analyze,
};
use crate::engines::ltl::automaton::{Automaton, MonitorStatus};
use crate::engines::ltl::monitor::Monitor;
use crate::engines::temporal::repetition::{RepetitionConfig, RepetitionDetector};
use crate::engines::temporal::search::{SearchConfig, StreamingSearch};
use crate::model::{ChannelId, ChannelInfo, ChannelKind, Record, Value};
use crate::scheduler::{Scheduler, SubmitError, Task, TaskClass, TaskLabel};

/// Deadline budgets per class: an LTL step should be visible within a frame or two, a pattern
/// match within a few frames; attractor analysis only needs to finish before the next window.
const LTL_BUDGET: Duration = Duration::from_millis(20);
const PATTERN_BUDGET: Duration = Duration::from_millis(100);
/// An attractor analysis should be done before the next window is due (256 samples later:
/// about a second at the demo's 200 Hz).
const ATTRACTOR_BUDGET: Duration = Duration::from_secs(1);

/// Verdict cells kept per formula for the verdict strip.
const VERDICT_HISTORY: usize = 120;

/// Records kept per event channel to show the window that broke a formula.
const VIOLATION_WINDOW: usize = 8;

/// Matches and repetitions kept for the Patterns pane.
const MATCH_HISTORY: usize = 64;

/// A z-normalised window matches a pattern when its DTW (|a − b|) distance is at most this
/// much per query sample: z-normalised values have unit variance, so 0.25 per sample is a
/// close match in shape (about a quarter of a standard deviation off on average).
pub const MATCH_DISTANCE_PER_SAMPLE: f64 = 0.25;

/// Sakoe–Chiba band for pattern search, as a fraction of the pattern length (the 10% the
/// UCR suite uses).
pub const PATTERN_BAND_FRACTION: f64 = 0.1;

/// A named reference pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternSpec {
    pub name: String,
    pub values: Vec<f64>,
}

/// What the engines run on: formulas for event channels, patterns for numeric channels.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConfig {
    /// LTLf formulas; each is monitored on every event channel whose fields include all of
    /// the formula's fields.
    pub formulas: Vec<String>,
    pub patterns: Vec<PatternSpec>,
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

/// One formula on one event channel.
struct LtlTrack {
    formula: String,
    channel_name: String,
    monitor: Monitor,
    inbox: VecDeque<Record>,
    recent: VecDeque<Option<bool>>,
    window: VecDeque<String>,
    violation_window: Vec<String>,
}

/// A search for `pattern` on one channel, named after the pattern (`None` if the search
/// refuses it, which [`Engines::new`] and [`Engines::add_pattern`] rule out).
fn pattern_track(pattern: &PatternSpec, offset: u64) -> Option<NamedPatternTrack> {
    let search =
        StreamingSearch::new(&pattern.values, pattern_search_config(pattern.values.len())).ok()?;
    Some((
        pattern.name.clone(),
        Track::new(PatternTrack {
            search,
            offset,
            inbox: VecDeque::new(),
            times: VecDeque::new(),
            found: Vec::new(),
        }),
    ))
}

/// One pattern on one numeric channel.
struct PatternTrack {
    search: StreamingSearch,
    /// Samples the channel had before the search started (a pattern added while running):
    /// the search counts from 0, the channel from its first sample.
    offset: u64,
    inbox: VecDeque<(f64, u64)>,
    /// t_ns of the samples the search may still report as a match's end.
    times: VecDeque<u64>,
    found: Vec<(crate::engines::temporal::search::PatternMatch, u64, Instant)>,
}

/// A pattern's name and its track on one channel.
type NamedPatternTrack = (String, Arc<Track<PatternTrack>>);

/// The attractor analysis of one numeric channel.
struct ChaosTrack {
    /// The channel's sample count at the last analysis (`None` before the first).
    analysed_at: Option<u64>,
    view: Option<ChaosView>,
    history: VecDeque<(Option<f64>, Option<f64>)>,
}

/// The repetition detector of one text channel.
struct RepetitionTrack {
    detector: RepetitionDetector,
    inbox: VecDeque<String>,
    tokens: VecDeque<String>,
    found: Vec<(RepetitionView, Instant)>,
}

/// The engines' state for every channel, and the scheduler they run on.
pub struct Engines {
    scheduler: Arc<Scheduler>,
    config: AnalysisConfig,
    /// Compiled formulas (shared automata), with their field names.
    compiled: Vec<(String, Arc<Automaton>, Vec<String>)>,
    ltl: BTreeMap<ChannelId, Vec<Arc<Track<LtlTrack>>>>,
    patterns: BTreeMap<ChannelId, Vec<NamedPatternTrack>>,
    repetition: BTreeMap<ChannelId, Arc<Track<RepetitionTrack>>>,
    chaos: BTreeMap<ChannelId, Arc<Track<ChaosTrack>>>,
    meta: BTreeMap<ChannelId, Arc<Track<MetaTrack>>>,
    /// Meta-learning rounds queued or running (at most [`meta::META_MAX_IN_FLIGHT`]).
    meta_in_flight: Arc<std::sync::atomic::AtomicUsize>,
    /// Sample period per channel, so exponents come per time unit.
    periods: BTreeMap<ChannelId, f64>,
    names: BTreeMap<ChannelId, String>,
    /// Raised by tasks when they changed a result.
    results_changed: Arc<AtomicBool>,
    sliding: SlidingWindow,
    /// Tasks the scheduler refused (Critical and High are handed back, never dropped silently).
    pub rejected: u64,
}

impl Engines {
    /// Compiles the formulas (an error names the formula and the spot) and checks patterns.
    pub fn new(scheduler: Arc<Scheduler>, config: AnalysisConfig) -> Result<Self, String> {
        let mut compiled = Vec::new();
        for text in &config.formulas {
            let monitor = Monitor::from_text(text).map_err(|e| format!("formula {text:?}: {e}"))?;
            let automaton = monitor.automaton().clone();
            let fields = automaton.atoms().field_names().map(str::to_owned).collect();
            compiled.push((text.clone(), automaton, fields));
        }
        for pattern in &config.patterns {
            let search_config = pattern_search_config(pattern.values.len());
            StreamingSearch::new(&pattern.values, search_config)
                .map_err(|e| format!("pattern {:?}: {e}", pattern.name))?;
        }
        Ok(Self {
            scheduler,
            config,
            compiled,
            ltl: BTreeMap::new(),
            patterns: BTreeMap::new(),
            repetition: BTreeMap::new(),
            chaos: BTreeMap::new(),
            meta: BTreeMap::new(),
            meta_in_flight: Arc::default(),
            periods: BTreeMap::new(),
            names: BTreeMap::new(),
            results_changed: Arc::new(AtomicBool::new(false)),
            sliding: SlidingWindow::default(),
            rejected: 0,
        })
    }

    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.scheduler
    }

    pub fn pattern_names(&self) -> Vec<String> {
        self.config
            .patterns
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// Adds a reference pattern while running: every numeric channel is searched for it from
    /// its next sample on; `samples_so_far` gives how many samples a channel has had (so
    /// matches are placed in the channel's own count). Refused, with the reason, when the
    /// values cannot be a pattern or the name is taken.
    pub fn add_pattern(
        &mut self,
        pattern: PatternSpec,
        samples_so_far: impl Fn(ChannelId) -> u64,
    ) -> Result<(), String> {
        if self.config.patterns.iter().any(|p| p.name == pattern.name) {
            return Err(format!("a pattern named {:?} exists", pattern.name));
        }
        library::check_pattern(&pattern.values)?;
        StreamingSearch::new(&pattern.values, pattern_search_config(pattern.values.len()))
            .map_err(|e| e.to_string())?;
        for (channel, tracks) in &mut self.patterns {
            tracks.extend(pattern_track(&pattern, samples_so_far(*channel)));
        }
        self.config.patterns.push(pattern);
        self.results_changed.store(true, Ordering::Release);
        Ok(())
    }

    /// A known channel whose catalog entry changed: its sample period (a text input's is
    /// estimated from its time field after a few records), or an event channel's fields (a
    /// field that appeared later): the formulas that now have all their fields start on it,
    /// from its next record.
    fn update_channel(&mut self, info: &ChannelInfo) {
        if matches!(info.kind, ChannelKind::Scalar | ChannelKind::Vector { .. })
            && let Some(period_s) = info.period_s.filter(|p| p.is_finite() && *p > 0.0)
        {
            self.periods.insert(info.id, period_s);
        }
        let (ChannelKind::Event { fields }, Some(tracks)) =
            (&info.kind, self.ltl.get_mut(&info.id))
        else {
            return;
        };
        for (text, automaton, needed) in &self.compiled {
            let ready = needed.iter().all(|f| fields.contains(f));
            if ready && !tracks.iter().any(|t| t.lock().formula == *text) {
                tracks.push(Track::new(LtlTrack {
                    formula: text.clone(),
                    channel_name: info.name.clone(),
                    monitor: Monitor::new(automaton.clone()),
                    inbox: VecDeque::new(),
                    recent: VecDeque::new(),
                    window: VecDeque::new(),
                    violation_window: Vec::new(),
                }));
            }
        }
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
            self.scheduler.cancel_channel(id);
            self.ltl.remove(&id);
            self.patterns.remove(&id);
            self.repetition.remove(&id);
            self.chaos.remove(&id);
            self.meta.remove(&id);
            self.periods.remove(&id);
            self.names.remove(&id);
        }
        for info in channels {
            if self.names.contains_key(&info.id) {
                self.update_channel(info);
                continue;
            }
            self.names.insert(info.id, info.name.clone());
            match &info.kind {
                ChannelKind::Event { fields } => {
                    let tracks = self
                        .compiled
                        .iter()
                        .filter(|(_, _, needed)| needed.iter().all(|f| fields.contains(f)))
                        .map(|(text, automaton, _)| {
                            Track::new(LtlTrack {
                                formula: text.clone(),
                                channel_name: info.name.clone(),
                                monitor: Monitor::new(automaton.clone()),
                                inbox: VecDeque::new(),
                                recent: VecDeque::new(),
                                window: VecDeque::new(),
                                violation_window: Vec::new(),
                            })
                        })
                        .collect();
                    self.ltl.insert(info.id, tracks);
                }
                ChannelKind::Scalar | ChannelKind::Vector { .. } => {
                    self.chaos.insert(
                        info.id,
                        Track::new(ChaosTrack {
                            analysed_at: None,
                            view: None,
                            history: VecDeque::new(),
                        }),
                    );
                    self.meta.insert(info.id, Track::new(MetaTrack::default()));
                    if let Some(period_s) = info.period_s.filter(|p| p.is_finite() && *p > 0.0) {
                        self.periods.insert(info.id, period_s);
                    }
                    let tracks = self
                        .config
                        .patterns
                        .iter()
                        .filter_map(|p| pattern_track(p, 0))
                        .collect();
                    self.patterns.insert(info.id, tracks);
                }
                ChannelKind::Text => {
                    if let Ok(detector) = RepetitionDetector::new(RepetitionConfig::default()) {
                        self.repetition.insert(
                            info.id,
                            Track::new(RepetitionTrack {
                                detector,
                                inbox: VecDeque::new(),
                                tokens: VecDeque::new(),
                                found: Vec::new(),
                            }),
                        );
                    }
                }
            }
        }
    }

    /// Forgets every channel's engine state (a replay went back): tracks are made anew.
    pub fn reset(&mut self) {
        for id in self.names.keys() {
            self.scheduler.cancel_channel(*id);
        }
        self.ltl.clear();
        self.patterns.clear();
        self.repetition.clear();
        self.chaos.clear();
        self.meta.clear();
        self.periods.clear();
        self.names.clear();
    }

    /// Queues a batch of one channel's records for its engines and schedules their tasks.
    pub fn ingest(&mut self, channel: ChannelId, records: &[Record]) {
        if let Some(tracks) = self.ltl.get(&channel) {
            for track in tracks {
                track.lock().inbox.extend(records.iter().cloned());
                self.rejected += u64::from(self.schedule(
                    track,
                    TaskClass::Critical,
                    TaskLabel::new("ltl", channel),
                    LTL_BUDGET,
                    |t| step_ltl(&mut t.lock()),
                ));
            }
        }
        if let Some(tracks) = self.patterns.get(&channel) {
            let samples: Vec<(f64, u64)> = records
                .iter()
                .filter_map(|r| r.value.as_f64().map(|x| (x, r.t_ns)))
                .collect();
            for (_, track) in tracks {
                track.lock().inbox.extend(samples.iter().copied());
                self.rejected += u64::from(self.schedule(
                    track,
                    TaskClass::High,
                    TaskLabel::new("temporal", channel),
                    PATTERN_BUDGET,
                    |t| search_patterns(&mut t.lock()),
                ));
            }
        }
        if let Some(track) = self.repetition.get(&channel) {
            let name = self.names.get(&channel).cloned().unwrap_or_default();
            track
                .lock()
                .inbox
                .extend(records.iter().filter_map(|r| match &r.value {
                    Value::Token(t) => Some(t.clone()),
                    _ => None,
                }));
            self.rejected += u64::from(self.schedule(
                track,
                TaskClass::High,
                TaskLabel::new("repetition", channel),
                PATTERN_BUDGET,
                move |t: &Track<RepetitionTrack>| detect_repetition(&mut t.lock(), channel, &name),
            ));
        }
    }

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
        let task = Task::new(class, label, move || {
            let Some(track) = queued.0.take() else {
                return;
            };
            track.queued.store(false, Ordering::Release);
            if work(&track) {
                changed.store(true, Ordering::Release);
            }
        })
        .with_deadline_in(budget);
        match self.scheduler.submit_detached(task) {
            Ok(()) => false,
            Err(err) => {
                track.queued.store(false, Ordering::Release);
                !matches!(err, SubmitError::Shed { .. })
            }
        }
    }

    /// Analyses the channel's latest window when enough new samples have come (a Normal
    /// task with its own copy of the window, so the ring buffer keeps moving meanwhile).
    pub fn analyse_if_due(&mut self, channel: ChannelId, state: &ChannelState) {
        let Some(track) = self.chaos.get(&channel) else {
            return;
        };
        let total = state.samples_pushed;
        let due = self.sliding.is_due(
            total as usize,
            track.lock().analysed_at.map(|at| at as usize),
        );
        if !due || track.queued.load(Ordering::Acquire) {
            return;
        }
        track.lock().analysed_at = Some(total);
        let window = state.recent(0, self.sliding.window);
        let options = AnalysisOptions {
            dt: self.periods.get(&channel).copied(),
            ..AnalysisOptions::default()
        };
        self.rejected += u64::from(self.schedule(
            track,
            TaskClass::Normal,
            TaskLabel::new("attractor", channel),
            ATTRACTOR_BUDGET,
            move |t: &Track<ChaosTrack>| {
                // The analysis runs without the lock, so a snapshot taken meanwhile shows the
                // previous result instead of waiting.
                let started = Instant::now();
                let result = analyze(&window, &options);
                let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
                record_chaos(
                    &mut t.lock(),
                    window.len(),
                    total,
                    result,
                    elapsed_ms,
                    options.dt.is_some(),
                )
            },
        ));
    }

    /// Submits a meta-learning round (a Low task with its own copy of the channel's last N
    /// samples) when [`meta::META_EVERY`] new samples have come, no round of the channel is
    /// queued or running, and fewer than [`meta::META_MAX_IN_FLIGHT`] rounds of any channel
    /// are (a due channel that finds no place goes at its next batch after one frees). True
    /// when a round was submitted.
    pub fn meta_if_due(&mut self, channel: ChannelId, state: &ChannelState) -> bool {
        let Some(track) = self.meta.get(&channel) else {
            return false;
        };
        let total = state.samples_pushed;
        let (length, in_flight) = {
            let mut t = track.lock();
            if !meta::is_due(total, t.analysed_at)
                || t.running
                || track.queued.load(Ordering::Acquire)
            {
                return false;
            }
            let Some(in_flight) = meta::InFlight::take(&self.meta_in_flight) else {
                return false;
            };
            t.analysed_at = Some(total);
            (t.length.length(), in_flight)
        };
        let series = state.recent(0, length);
        let refused = self.schedule(
            track,
            TaskClass::Low,
            TaskLabel::new("meta", channel),
            meta::META_BUDGET,
            move |t: &Track<MetaTrack>| {
                meta::run_round(&t.state, series, total);
                drop(in_flight);
                true
            },
        );
        self.rejected += u64::from(refused);
        !refused
    }

    /// The latest meta-learning round per numeric channel, aged at `now`.
    pub fn meta_views(&self, now: Instant) -> BTreeMap<ChannelId, MetaView> {
        self.meta
            .iter()
            .filter_map(|(id, track)| track.lock().view(now).map(|v| (*id, v)))
            .collect()
    }

    /// The latest attractor analysis per numeric channel.
    pub fn chaos_views(&self) -> BTreeMap<ChannelId, ChaosView> {
        self.chaos
            .iter()
            .filter_map(|(id, track)| track.lock().view.clone().map(|v| (*id, v)))
            .collect()
    }

    /// Whether a task changed a result since the last call.
    pub fn take_changed(&self) -> bool {
        self.results_changed.swap(false, Ordering::AcqRel)
    }

    /// One row per monitored formula, in channel then formula order.
    pub fn formula_views(&self) -> Vec<FormulaView> {
        self.ltl
            .values()
            .flatten()
            .map(|track| {
                let track = track.lock();
                let verdict = track.monitor.verdict();
                FormulaView {
                    formula: track.formula.clone(),
                    channel_name: track.channel_name.clone(),
                    status: match verdict.map(|v| v.status) {
                        Some(MonitorStatus::Satisfied) => FormulaStatus::Satisfied,
                        Some(MonitorStatus::Violated) => FormulaStatus::Violated,
                        _ => FormulaStatus::Undecided,
                    },
                    verdict_if_ended: verdict.is_some_and(|v| v.holds_if_ended),
                    decided_at: verdict.and_then(|v| v.decided_at),
                    steps: track.monitor.steps(),
                    recent: track.recent.iter().copied().collect(),
                    violation_window: track.violation_window.clone(),
                    missing_fields: track
                        .monitor
                        .atom_counts()
                        .iter()
                        .map(|c| c.missing + c.wrong_type)
                        .sum(),
                }
            })
            .collect()
    }

    /// Recent pattern matches on every channel, newest first.
    pub fn match_views(&self, now: Instant) -> Vec<PatternMatchView> {
        let mut views: Vec<(Instant, PatternMatchView)> = self
            .patterns
            .iter()
            .flat_map(|(channel, tracks)| {
                let channel_name = self.names.get(channel).cloned().unwrap_or_default();
                tracks.iter().flat_map(move |(pattern, track)| {
                    let channel_name = channel_name.clone();
                    let track = track.lock();
                    let offset = track.offset;
                    track
                        .found
                        .iter()
                        .map(|(m, t_ns, at)| {
                            (
                                *at,
                                PatternMatchView {
                                    pattern: pattern.clone(),
                                    channel: *channel,
                                    channel_name: channel_name.clone(),
                                    distance: m.distance,
                                    start_sample: m.start + offset,
                                    len: m.len,
                                    t_ns: *t_ns,
                                    age: now.saturating_duration_since(*at),
                                },
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        views.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        views.truncate(MATCH_HISTORY);
        views.into_iter().map(|(_, v)| v).collect()
    }

    /// Recent repetition loops on text channels, newest first.
    pub fn repetition_views(&self, now: Instant) -> Vec<RepetitionView> {
        let mut views: Vec<(Instant, RepetitionView)> = self
            .repetition
            .values()
            .flat_map(|track| {
                track
                    .lock()
                    .found
                    .iter()
                    .map(|(view, at)| {
                        let mut view = view.clone();
                        view.age = now.saturating_duration_since(*at);
                        (*at, view)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        views.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        views.truncate(MATCH_HISTORY);
        views.into_iter().map(|(_, v)| v).collect()
    }
}

fn pattern_search_config(len: usize) -> SearchConfig {
    SearchConfig::with_band_fraction(
        len,
        PATTERN_BAND_FRACTION,
        MATCH_DISTANCE_PER_SAMPLE * len as f64,
    )
}

/// Steps the monitor over the inbox; always a change (the step count moves).
fn step_ltl(track: &mut LtlTrack) -> bool {
    while let Some(record) = track.inbox.pop_front() {
        let Value::Fields(state) = &record.value else {
            continue;
        };
        let before = track.monitor.is_decided();
        let verdict = track.monitor.step(state);
        if track.window.len() == VIOLATION_WINDOW {
            track.window.pop_front();
        }
        track
            .window
            .push_back(format!("#{} {}", record.seq, record.value));
        if !before && verdict.status == MonitorStatus::Violated {
            track.violation_window = track.window.iter().cloned().collect();
        }
        if track.recent.len() == VERDICT_HISTORY {
            track.recent.pop_front();
        }
        track.recent.push_back(match verdict.status {
            MonitorStatus::Undecided => None,
            _ => Some(verdict.holds_if_ended),
        });
    }
    true
}

/// Attractor results kept per channel for the sparklines.
const CHAOS_HISTORY: usize = 120;

/// Stores an analysis result (or why it failed) in the track.
/// Records an analysis of the window ending at sample `at_sample`; false, and nothing
/// recorded, when an analysis of a later window has been recorded already. Two analyses of one
/// channel can run at once (a track is free for the next task as soon as its task starts), and
/// the older one may finish last.
fn record_chaos(
    track: &mut ChaosTrack,
    window: usize,
    at_sample: u64,
    result: Result<AttractorAnalysis, AttractorError>,
    elapsed_ms: f64,
    per_time: bool,
) -> bool {
    if track.view.as_ref().is_some_and(|v| v.at_sample > at_sample) {
        return false;
    }
    let unit = if per_time { "1/s" } else { "1/sample" }.to_owned();
    let view = match result {
        Ok(analysis) => {
            let lyapunov = analysis.lyapunov_value();
            let d2 = analysis.correlation_dimension.as_ref().map(|d| d.value);
            if track.history.len() == CHAOS_HISTORY {
                track.history.pop_front();
            }
            track.history.push_back((lyapunov, d2));
            ChaosView {
                window,
                at_sample,
                dim: analysis.embedding.dim,
                delay: analysis.embedding.delay,
                lyapunov,
                lyapunov_unit: unit,
                fit: analysis.lyapunov.as_ref().map(|l| l.fit_steps),
                fit_r2: analysis.lyapunov.as_ref().map(|l| l.r2),
                correlation_dimension: d2,
                class: analysis.class.label().to_owned(),
                elapsed_ms,
                history: track.history.iter().copied().collect(),
                error: None,
            }
        }
        Err(error) => {
            let mut view = track.view.clone().unwrap_or(ChaosView {
                window,
                at_sample,
                dim: 0,
                delay: 0,
                lyapunov: None,
                lyapunov_unit: unit,
                fit: None,
                fit_r2: None,
                correlation_dimension: None,
                class: String::new(),
                elapsed_ms,
                history: Vec::new(),
                error: None,
            });
            view.error = Some(error.to_string());
            view.at_sample = at_sample;
            view
        }
    };
    track.view = Some(view);
    true
}

/// Feeds the inbox to the search; true when a new match was found.
fn search_patterns(track: &mut PatternTrack) -> bool {
    let mut found = false;
    let keep = track.search.query_len() * 2;
    while let Some((x, t_ns)) = track.inbox.pop_front() {
        if track.times.len() == keep {
            track.times.pop_front();
        }
        track.times.push_back(t_ns);
        if let Some(m) = track.search.push(x) {
            if track.found.len() == MATCH_HISTORY {
                track.found.remove(0);
            }
            track.found.push((m, t_ns, Instant::now()));
            found = true;
        }
    }
    found
}

/// Feeds the inbox to the detector; true when a new loop was found.
fn detect_repetition(track: &mut RepetitionTrack, channel: ChannelId, name: &str) -> bool {
    let mut found = false;
    let window = track.detector.config().window;
    while let Some(token) = track.inbox.pop_front() {
        if track.tokens.len() == window {
            track.tokens.pop_front();
        }
        track.tokens.push_back(token.clone());
        if let Some(rep) = track.detector.push(&token) {
            // One alert per loop: a loop that goes on reports again only after a full period.
            let fresh = track
                .found
                .last()
                .is_none_or(|(last, _)| rep.window_start >= last.at_token + rep.period);
            if fresh {
                if track.found.len() == MATCH_HISTORY {
                    track.found.remove(0);
                }
                track.found.push((
                    RepetitionView {
                        channel,
                        channel_name: name.to_owned(),
                        tokens: track.tokens.iter().cloned().collect(),
                        lag: rep.period as usize,
                        distance: rep.edits,
                        at_token: rep.window_start,
                        age: Duration::ZERO,
                    },
                    Instant::now(),
                ));
                found = true;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize) -> Vec<f64> {
        (0..n).map(|i| (i as f64 * 0.3).sin()).collect()
    }

    #[test]
    fn an_analysis_that_finishes_after_a_later_one_is_not_recorded() {
        let mut track = ChaosTrack {
            analysed_at: None,
            view: None,
            history: VecDeque::new(),
        };
        let options = AnalysisOptions::default();
        let later = analyze(&sine(1_000), &options);
        assert!(later.is_ok(), "a sine of 1,000 samples is analysable");
        assert!(record_chaos(&mut track, 1_000, 2_000, later, 1.0, false));
        let dim = track.view.as_ref().map(|v| v.dim);
        // The window ending at sample 1,500 finishes last, as a failure: it changes nothing.
        let earlier = analyze(&[1.0; 3], &options);
        assert!(earlier.is_err());
        assert!(!record_chaos(&mut track, 3, 1_500, earlier, 1.0, false));
        let view = track.view.as_ref().expect("the later analysis stays");
        assert_eq!((view.at_sample, Some(view.dim)), (2_000, dim));
        assert!(view.error.is_none());
        assert_eq!(track.history.len(), 1);
        // A still later failure is recorded, keeping the last good figures beside its error.
        assert!(record_chaos(
            &mut track,
            3,
            2_500,
            analyze(&[1.0; 3], &options),
            1.0,
            false
        ));
        let view = track.view.as_ref().expect("a view");
        assert_eq!(view.at_sample, 2_500);
        assert!(view.error.is_some());
    }
}
