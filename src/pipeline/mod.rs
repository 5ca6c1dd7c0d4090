//! Per-channel analysis state; turns records into scheduled engine tasks and publishes snapshots.
//!
//! Sources (a QUIC client, a trace replay) send [`SourceEvent`]s; the pipeline keeps each
//! channel's state, hands records to the recorder, and publishes an immutable [`Snapshot`] for
//! the screen at a capped rate, only when something changed.

mod channel;
pub mod library;
pub mod recorder;
pub mod snapshot;
pub mod tracks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

pub use crate::model::{LinkState, SourceEvent};
pub use channel::{ChannelState, RING_CAPACITY, RateMeter};
pub use library::{PatternError, PatternSpec};
pub use recorder::Recorder;
pub use snapshot::{
    AnalysisSnapshot, ChannelSnapshot, ChaosView, DiscordView, DynamicsView, FormulaStatus,
    FormulaView, LearningView, LearntPatternView, MetaView, MotifView, Notice, PatternMatchView,
    RepetitionView, Snapshot, SourceStatus,
};
pub use tracks::{
    AnalysisConfig, Backlog, DEFAULT_WARN_AT, Engines, LearntRecord, LtlMonitoring, TrackError,
};

use crate::model::bench::BenchReport;
use crate::model::{Catalog, ChannelId, ChannelKind, Decision, Record};
use crate::sources::fleet::FleetTable;
use crate::trace::{TraceError, TraceHeader};

/// Samples per channel copied into each snapshot (what the phase portrait draws).
pub const SNAPSHOT_POINTS: usize = 2048;

/// What the user asks of the pipeline.
#[derive(Debug, Clone)]
pub enum PipelineCommand {
    /// Start writing received records to this trace file (as soon as the catalog is known).
    StartRecording(PathBuf),
    StopRecording,
    /// Stop recording if recording, else start recording to this file.
    ToggleRecording(PathBuf),
    /// Search every numeric channel for this pattern from now on, and save it in the pattern
    /// directory. A taken name gets a `-2`, `-3`, … suffix; the outcome is the next notice.
    AddPattern(PatternSpec),
    /// The latest benchmark results against their budgets (the Benchmarks pane), read off
    /// the pipeline's task; the next snapshots carry them.
    SetBenchmarks(Arc<BenchReport>),
    /// The analyzers' latest results (the Fleet pane, `attach --results`); the next
    /// snapshots carry them.
    SetFleet(Arc<FleetTable>),
    /// Keep a learnt pattern (never retired) and save it in the pattern directory like a
    /// captured one.
    PinPattern(String),
    /// Stop searching for a learnt pattern.
    DropPattern(String),
}

/// The pipeline's state: every channel of the current catalog and the link status.
pub struct Pipeline {
    status: SourceStatus,
    catalog: Catalog,
    channels: HashMap<ChannelId, ChannelState>,
    generation: u64,
    changed: bool,
    recorder: Option<Recorder>,
    /// The engines and their scheduler; `None` runs the pipeline without analysis.
    engines: Option<Engines>,
    /// A recording asked for before the catalog was known; it starts with the catalog, so the
    /// trace's header describes its channels.
    pending_recording: Option<PathBuf>,
    /// Where added patterns are saved (`None`: they last for this run only).
    pattern_dir: Option<PathBuf>,
    benchmarks: Option<Arc<BenchReport>>,
    fleet: Option<Arc<FleetTable>>,
    /// Records of channels that are not in the catalog (dropped, but counted).
    pub unknown_channel_records: u64,
}

impl Pipeline {
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            status: SourceStatus {
                label: label.into(),
                ..SourceStatus::default()
            },
            catalog: Catalog::default(),
            channels: HashMap::new(),
            generation: 0,
            changed: true,
            recorder: None,
            engines: None,
            pending_recording: None,
            pattern_dir: None,
            benchmarks: None,
            fleet: None,
            unknown_channel_records: 0,
        }
    }

    /// Runs `engines` on every channel from now on.
    pub fn with_engines(mut self, engines: Engines) -> Self {
        self.engines = Some(engines);
        self
    }

    /// Saves patterns added while running into `dir` (see [`PipelineCommand::AddPattern`]).
    pub fn with_pattern_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.pattern_dir = dir;
        self
    }

    pub fn engines(&self) -> Option<&Engines> {
        self.engines.as_ref()
    }

    pub fn set_insecure(&mut self, insecure: bool) {
        self.status.insecure = insecure;
        self.changed = true;
    }

    /// Whether the source should wait before the next event: with [`Backlog::Wait`] (files
    /// and traces), a pattern or repetition search has more than its inbox's capacity to
    /// catch up on. Schedules those searches again.
    pub fn backlogged(&self) -> bool {
        self.engines.as_ref().is_some_and(Engines::backlogged)
    }

    /// Waits, without holding a thread, until [`Pipeline::backlogged`] is false. Woken when an
    /// engine task ends, and looks again every [`BACKLOG_RECHECK`] in case none was running.
    pub async fn wait_for_backlog(&self) {
        let Some(engines) = &self.engines else {
            return;
        };
        let task_done = engines.task_done();
        while engines.backlogged() {
            wait_for_a_task(&task_done).await;
        }
    }

    /// Takes one event from the source.
    pub fn handle(&mut self, event: SourceEvent, now: Instant) {
        self.changed = true;
        match event {
            SourceEvent::Catalog(catalog) => self.set_catalog(catalog),
            SourceEvent::Records(records) => self.ingest(records, now),
            SourceEvent::Link(link) => {
                if matches!(link, LinkState::Ended { .. }) {
                    self.analyse_latest();
                }
                self.status.link = link;
            }
            SourceEvent::Rtt(rtt) => self.status.rtt = Some(rtt),
            SourceEvent::Input(report) => self.status.input = Some(report),
            SourceEvent::Decisions(decisions) => {
                if let Some(engines) = &mut self.engines {
                    engines.take_recorded(decisions);
                }
            }
            SourceEvent::Reset => {
                let catalog = std::mem::take(&mut self.catalog);
                self.channels.clear();
                if let Some(engines) = &mut self.engines {
                    engines.reset();
                }
                self.set_catalog(catalog);
            }
        }
    }

    /// A new catalog keeps the state of channels it still has (same id and name).
    fn set_catalog(&mut self, catalog: Catalog) {
        let mut old = std::mem::take(&mut self.channels);
        for info in &catalog.channels {
            let state = match old.remove(&info.id) {
                Some(mut state)
                    if state.info.name == info.name && same_shape(&state.info.kind, &info.kind) =>
                {
                    state.info = info.clone();
                    state
                }
                _ => ChannelState::new(info.clone()),
            };
            self.channels.insert(info.id, state);
        }
        if let Some(engines) = &mut self.engines {
            engines.set_channels(&catalog.channels);
        }
        if let Some(recorder) = &self.recorder
            && catalog != self.catalog
            && !recorder.send_catalog(catalog.clone())
        {
            self.recording_failed();
        }
        self.catalog = catalog;
        if let Some(path) = self.pending_recording.take()
            && let Err(err) = self.start_recording(path)
        {
            self.status.notice = Some(Notice::warning(format!("recording failed: {err}")));
        }
    }

    fn ingest(&mut self, mut records: Vec<Record>, now: Instant) {
        let mut decisions = Vec::new();
        // Batches from the network hold one channel; a replay's or a text input's mix them (a
        // line of 1,000 columns is 1,000 channels). Each channel takes its records of the
        // batch at once: a stable sort keeps every channel's order, and the trace then holds
        // the batch grouped by channel.
        if records.windows(2).any(|w| w[1].channel < w[0].channel) {
            records.sort_by_key(|r| r.channel);
        }
        let mut start = 0;
        while start < records.len() {
            let channel = records[start].channel;
            let end = records[start..]
                .iter()
                .position(|r| r.channel != channel)
                .map_or(records.len(), |n| start + n);
            let run = &records[start..end];
            start = end;
            let Some(state) = self.channels.get_mut(&channel) else {
                self.unknown_channel_records += run.len() as u64;
                continue;
            };
            match &mut self.engines {
                Some(engines) if engines.every_round() => {
                    // Every round at its exact sample count: the run is cut where one falls
                    // due, and it runs before the samples after it are taken.
                    let mut rest = run;
                    while !rest.is_empty() {
                        let take = (Engines::samples_to_next_round(state) as usize).min(rest.len());
                        let (chunk, after) = rest.split_at(take);
                        rest = after;
                        state.ingest_run(chunk);
                        engines.ingest(channel, chunk);
                        decisions.extend(engines.run_due_inline(channel, state));
                    }
                }
                Some(engines) => {
                    state.ingest_run(run);
                    engines.ingest(channel, run);
                    engines.analyse_if_due(channel, state);
                    engines.meta_if_due(channel, state);
                }
                None => state.ingest_run(run),
            }
        }
        if let Some(recorder) = &self.recorder {
            if recorder.send(records.into()) {
                self.status.recorded = recorder.written();
            } else {
                self.recording_failed();
            }
        }
        self.record_decisions(decisions);
        self.tick(now);
    }

    /// Applies what the learning rounds that finished since the last call learnt (see
    /// [`Engines::apply_learning`]) and records the decisions.
    fn apply_learning(&mut self) {
        let Some(engines) = &mut self.engines else {
            return;
        };
        let channels = &self.channels;
        let decisions =
            engines.apply_learning(|id| channels.get(&id).map_or(0, |c| c.samples_pushed));
        self.record_decisions(decisions);
    }

    /// Writes the learning loop's decisions into the recording, after the records they
    /// followed.
    fn record_decisions(&mut self, decisions: Vec<Decision>) {
        if decisions.is_empty() {
            return;
        }
        self.changed = true;
        if let Some(recorder) = &self.recorder
            && !decisions.into_iter().all(|d| recorder.send_decision(d))
        {
            self.recording_failed();
        }
    }

    /// The recorder's thread stopped on a write error (a full disk): the recording ends, the
    /// error says how many records the trace keeps, and everything else goes on.
    fn recording_failed(&mut self) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        let path = recorder.path().display().to_string();
        let message = match recorder.stop() {
            Err(TraceError::WriteFailed {
                records, source, ..
            }) => {
                self.status.recorded = records;
                format!(
                    "{path}: {source}; the trace keeps the {records} complete records written before"
                )
            }
            Err(err) => err.to_string(),
            Ok(written) => format!("{path}: the recorder stopped after {written} records"),
        };
        self.status.recording = None;
        self.status.notice = Some(Notice::warning(format!("recording stopped: {message}")));
        self.status.recording_error = Some(message);
    }

    /// At the end of a stream: the latest window of every channel is analysed (attractor and
    /// meta rounds) when due, since no later batch will ask for it.
    fn analyse_latest(&mut self) {
        if let Some(engines) = &mut self.engines {
            for info in &self.catalog.channels {
                if let Some(state) = self.channels.get(&info.id) {
                    engines.analyse_if_due(info.id, state);
                    engines.meta_if_due(info.id, state);
                }
            }
        }
    }

    /// Updates the rate meters (call regularly, also when nothing arrives).
    pub fn tick(&mut self, now: Instant) {
        self.apply_learning();
        for channel in self.channels.values_mut() {
            channel.tick(now);
        }
        if let Some(recorder) = &self.recorder {
            self.status.recorded = recorder.written();
        }
    }

    pub fn command(&mut self, command: PipelineCommand) -> Result<(), TraceError> {
        self.changed = true;
        match command {
            PipelineCommand::StartRecording(path) => self.start_recording(path),
            PipelineCommand::StopRecording => {
                self.stop_recording();
                Ok(())
            }
            PipelineCommand::ToggleRecording(path) => {
                if self.recording() {
                    self.stop_recording();
                    Ok(())
                } else {
                    self.start_recording(path)
                }
            }
            PipelineCommand::AddPattern(pattern) => {
                self.add_pattern(pattern);
                Ok(())
            }
            PipelineCommand::SetBenchmarks(report) => {
                self.benchmarks = Some(report);
                Ok(())
            }
            PipelineCommand::SetFleet(table) => {
                self.fleet = Some(table);
                Ok(())
            }
            PipelineCommand::PinPattern(name) => {
                self.pin_pattern(&name);
                Ok(())
            }
            PipelineCommand::DropPattern(name) => {
                let channels = &self.channels;
                let dropped = self.engines.as_mut().and_then(|e| {
                    e.drop_pattern(&name, |id| {
                        channels.get(&id).map_or(0, |c| c.samples_pushed)
                    })
                });
                match dropped {
                    Some(decision) => {
                        self.status.notice =
                            Some(Notice::info(format!("learnt pattern {name:?} dropped")));
                        self.record_decisions(vec![decision]);
                    }
                    None => {
                        self.status.notice = Some(Notice::warning(format!(
                            "no learnt pattern {name:?} to drop"
                        )))
                    }
                }
                Ok(())
            }
        }
    }

    /// See [`PipelineCommand::PinPattern`].
    fn pin_pattern(&mut self, name: &str) {
        let channels = &self.channels;
        let pinned = self.engines.as_mut().and_then(|e| {
            e.pin_pattern(name, |id| channels.get(&id).map_or(0, |c| c.samples_pushed))
        });
        let Some((spec, decision)) = pinned else {
            self.status.notice = Some(Notice::warning(format!(
                "no learnt pattern {name:?} to keep"
            )));
            return;
        };
        self.status.notice = Some(match &self.pattern_dir {
            None => Notice::info(format!("learnt pattern {name:?} kept, for this run only")),
            Some(dir) => match library::save_pattern(dir, &spec) {
                Ok(path) => Notice::info(format!(
                    "learnt pattern {name:?} kept, saved to {}",
                    path.display()
                )),
                Err(err) => Notice::warning(format!(
                    "learnt pattern {name:?} kept but not saved to {}: {err}",
                    dir.display()
                )),
            },
        });
        self.record_decisions(vec![decision]);
    }

    /// See [`PipelineCommand::AddPattern`]. A pattern the engines refuse is not saved.
    fn add_pattern(&mut self, mut pattern: PatternSpec) {
        let Some(engines) = self.engines.as_mut() else {
            self.status.notice = Some(Notice::warning(format!(
                "pattern {:?} not added: no analysis runs",
                pattern.name
            )));
            return;
        };
        let taken = engines.pattern_names();
        let base = pattern.name.clone();
        let mut suffix = 1;
        while taken.contains(&pattern.name) {
            suffix += 1;
            pattern.name = format!("{base}-{suffix}");
        }
        let channels = &self.channels;
        let samples_so_far = |id| channels.get(&id).map_or(0, |c| c.received);
        if let Err(err) = engines.add_pattern(pattern.clone(), samples_so_far) {
            self.status.notice = Some(Notice::warning(format!(
                "pattern {:?} not added: {err}",
                pattern.name
            )));
            return;
        }
        let added = format!(
            "pattern {:?} added ({} samples)",
            pattern.name,
            pattern.values.len()
        );
        self.status.notice = Some(match &self.pattern_dir {
            None => Notice::info(format!("{added}, for this run only")),
            Some(dir) => match library::save_pattern(dir, &pattern) {
                Ok(path) => Notice::info(format!("{added}, saved to {}", path.display())),
                Err(err) => {
                    Notice::warning(format!("{added} but not saved to {}: {err}", dir.display()))
                }
            },
        });
    }

    /// Whether a recording is running or waiting for the catalog.
    pub fn recording(&self) -> bool {
        self.recorder.is_some() || self.pending_recording.is_some()
    }

    fn start_recording(&mut self, path: PathBuf) -> Result<(), TraceError> {
        self.stop_recording();
        self.status.notice = None;
        self.status.recording = Some(path.display().to_string());
        self.status.recorded = 0;
        if self.catalog.channels.is_empty() {
            self.pending_recording = Some(path);
            return Ok(());
        }
        let header = TraceHeader {
            version: crate::trace::FORMAT_VERSION,
            started_unix_ns: unix_now_ns(),
            source: self.status.label.clone(),
            catalog: self.catalog.clone(),
        };
        match Recorder::start(path, header) {
            Ok(recorder) => {
                self.recorder = Some(recorder);
                Ok(())
            }
            Err(err) => {
                self.status.recording = None;
                Err(err)
            }
        }
    }

    fn stop_recording(&mut self) {
        self.pending_recording = None;
        if let Some(recorder) = self.recorder.take() {
            match recorder.stop() {
                Ok(written) => self.status.recorded = written,
                Err(err) => {
                    self.status.notice = Some(Notice::warning(format!("recording failed: {err}")))
                }
            }
        }
        self.status.recording = None;
    }

    /// Whether anything changed since the last snapshot (including engine results).
    pub fn changed(&mut self) -> bool {
        let engines = self.engines.as_ref().is_some_and(|e| e.take_changed());
        self.changed |= engines;
        self.changed
    }

    pub fn channel(&self, id: ChannelId) -> Option<&ChannelState> {
        self.channels.get(&id)
    }

    pub fn status(&self) -> &SourceStatus {
        &self.status
    }

    /// Builds the next snapshot and marks the state as seen.
    pub fn snapshot(&mut self, now: Instant) -> Snapshot {
        self.generation += 1;
        self.changed = false;
        let channels = self
            .catalog
            .channels
            .iter()
            .filter_map(|info| self.channels.get(&info.id))
            .map(|state| state.snapshot(now, SNAPSHOT_POINTS))
            .collect();
        Snapshot {
            generation: self.generation,
            source: self.status.clone(),
            catalog: self.catalog.clone(),
            channels,
            analysis: self.analysis_snapshot(now),
            benchmarks: self.benchmarks.clone(),
            fleet: self.fleet.clone(),
        }
    }

    fn analysis_snapshot(&self, now: Instant) -> AnalysisSnapshot {
        let Some(engines) = &self.engines else {
            return AnalysisSnapshot::default();
        };
        AnalysisSnapshot {
            chaos: engines.chaos_views(),
            patterns: engines.pattern_names(),
            matches: engines.match_views(now),
            repetitions: engines.repetition_views(now),
            samples_shed: engines.samples_shed(),
            formulas: engines.formula_views(),
            scheduler: Some(engines.scheduler().stats()),
            meta: engines.meta_views(now),
            learning: engines.learning_views(),
            decisions: newest(engines.decisions().iter()),
            recorded_decisions: newest(engines.recorded_decisions().iter()),
        }
    }

    /// Stops recording, flushing the trace file.
    pub fn close(&mut self) {
        self.stop_recording();
    }

    /// Lets the engines finish the work already queued (up to `timeout`), so the results
    /// reflect every record received; true when they did.
    pub fn drain_engines(&self, timeout: Duration) -> bool {
        self.engines
            .as_ref()
            .is_none_or(|e| e.scheduler().wait_idle(timeout))
    }

    /// At the end of a stream: drains the engines, then runs the meta-learning rounds that are
    /// due but were held back by [`tracks::meta::META_MAX_IN_FLIGHT`] (a round is submitted at a
    /// channel's next batch, and after the last batch there is none), draining after each;
    /// each takes at most `timeout`. True when everything finished.
    pub fn finish_engines(&mut self, timeout: Duration) -> bool {
        loop {
            if !self.drain_engines(timeout) {
                return false;
            }
            self.apply_learning();
            let Some(engines) = self.engines.as_mut() else {
                return true;
            };
            let mut submitted = false;
            for info in &self.catalog.channels {
                if let Some(state) = self.channels.get(&info.id) {
                    submitted |= engines.meta_if_due(info.id, state);
                }
            }
            if !submitted {
                break;
            }
        }
        // An attractor analysis is skipped while the channel's previous one is queued, so a
        // stream that ended meanwhile (a file or trace read at full speed) would keep an early
        // window: the latest one is analysed now, when it is due.
        self.analyse_latest();
        let drained = self.drain_engines(timeout);
        self.apply_learning();
        drained
    }
}

/// The newest [`snapshot::SNAPSHOT_DECISIONS`] decisions, oldest first.
fn newest<'a>(
    decisions: impl DoubleEndedIterator<Item = &'a Decision> + ExactSizeIterator,
) -> Vec<Decision> {
    let skip = decisions.len().saturating_sub(snapshot::SNAPSHOT_DECISIONS);
    decisions.skip(skip).cloned().collect()
}

/// Whether a channel of kind `a` keeps its state as kind `b`: the same kind, where an event
/// channel whose field list grew (a text input's new field) is still the same channel.
fn same_shape(a: &ChannelKind, b: &ChannelKind) -> bool {
    match (a, b) {
        (ChannelKind::Event { .. }, ChannelKind::Event { .. }) => true,
        _ => a == b,
    }
}

/// Sends a source's events to the pipeline in order; false when the pipeline is gone.
pub async fn send_all(events: &mpsc::Sender<SourceEvent>, batch: Vec<SourceEvent>) -> bool {
    for event in batch {
        if events.send(event).await.is_err() {
            return false;
        }
    }
    true
}

/// Nanoseconds since the Unix epoch, now.
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// How often a snapshot may be published at most, and how often rates are refreshed.
/// A snapshot may take at most 1 / this of the pipeline's time (see [`run`]).
const SNAPSHOT_COST_RATIO: u32 = 10;

#[derive(Debug, Clone, Copy)]
pub struct PublishOptions {
    pub min_interval: Duration,
}

impl Default for PublishOptions {
    fn default() -> Self {
        // Twice the screen's default frame rate (30 fps), so the screen never waits for data.
        Self {
            min_interval: Duration::from_millis(16),
        }
    }
}

/// How often a pipeline held back by a full inbox looks again when no engine task ends (a
/// search the full scheduler refused is scheduled again then).
pub const BACKLOG_RECHECK: Duration = Duration::from_millis(5);

/// Until an engine task ends, or [`BACKLOG_RECHECK`] has passed.
async fn wait_for_a_task(task_done: &tokio::sync::Notify) {
    tokio::select! {
        () = task_done.notified() => {}
        () = tokio::time::sleep(BACKLOG_RECHECK) => {}
    }
}

/// Runs the pipeline until the source's event channel closes: ingests events, obeys commands,
/// and publishes snapshots at most every `min_interval`, only when something changed (rates
/// are refreshed once a second even when nothing arrives).
///
/// While the engines are backlogged ([`Pipeline::backlogged`]), no event is taken: the source
/// waits on its bounded queue, and commands and snapshots go on.
pub async fn run(
    mut pipeline: Pipeline,
    mut events: mpsc::Receiver<SourceEvent>,
    mut commands: mpsc::Receiver<PipelineCommand>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    options: PublishOptions,
) -> Pipeline {
    // The next snapshot is due `min_interval` after the last, or ten times as long as the last
    // took to build, whichever is longer: a snapshot of 1,000 channels costs milliseconds, and
    // building it every 16 ms would take the time the records need (at most a tenth goes to
    // snapshots, and the screen then updates less often).
    let mut next_publish = tokio::time::Instant::now() + options.min_interval;
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut commands_open = true;
    let task_done = pipeline.engines.as_ref().map(Engines::task_done);
    let mut backlogged = false;
    loop {
        tokio::select! {
            event = events.recv(), if !backlogged => match event {
                Some(event) => {
                    pipeline.handle(event, Instant::now());
                    backlogged = pipeline.backlogged();
                }
                None => break,
            },
            () = async {
                if let Some(task_done) = &task_done {
                    wait_for_a_task(task_done).await;
                }
            }, if backlogged => backlogged = pipeline.backlogged(),
            command = commands.recv(), if commands_open => match command {
                Some(command) => {
                    if let Err(err) = pipeline.command(command) {
                        pipeline.status.notice =
                            Some(Notice::warning(format!("recording failed: {err}")));
                    }
                }
                None => commands_open = false,
            },
            () = tokio::time::sleep_until(next_publish) => {
                let started = Instant::now();
                if pipeline.changed() {
                    let snapshot = pipeline.snapshot(started);
                    if snapshots.send(Arc::new(snapshot)).is_err() {
                        break;
                    }
                }
                next_publish = tokio::time::Instant::now()
                    + options.min_interval.max(started.elapsed() * SNAPSHOT_COST_RATIO);
            }
            _ = refresh.tick() => {
                pipeline.tick(Instant::now());
                pipeline.changed = true;
            }
        }
    }
    pipeline.tick(Instant::now());
    let _ = snapshots.send(Arc::new(pipeline.snapshot(Instant::now())));
    pipeline
}
