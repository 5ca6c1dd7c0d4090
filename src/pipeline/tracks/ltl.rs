//! LTLf monitors on event channels: one track per formula and channel, stepped by Critical
//! tasks. Each monitor runs continuously ([`OnVerdict::Restart`] by default: it starts again
//! on the record after a verdict) and forecasts its next violation from a model of the
//! channel's records ([`ViolationForecaster`], bounded as its module says).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::LtlMonitoring;
use super::{Track, TrackError, TrackRunner};
use crate::engines::ltl::automaton::{Automaton, MonitorStatus};
use crate::engines::ltl::continuous::ContinuousMonitor;
use crate::engines::ltl::continuous::OnVerdict;
use crate::engines::ltl::monitor::Monitor;
use crate::engines::ltl::predict::ViolationForecaster;
use crate::model::{ChannelId, ChannelInfo, Record, Value};
use crate::pipeline::snapshot::{FormulaStatus, FormulaView};
use crate::scheduler::{TaskClass, TaskLabel};

/// Deadline budget of an LTL step: a verdict should be visible within a frame or two.
const LTL_BUDGET: Duration = Duration::from_millis(20);

/// Verdict cells kept per formula for the verdict strip.
const VERDICT_HISTORY: usize = 120;

/// Records kept per event channel to show the window that broke a formula.
const VIOLATION_WINDOW: usize = 8;

/// Steps of the latest violations (and satisfactions) kept per monitor for the pane's
/// timeline; the counts themselves are exact however many there are.
pub const VERDICT_STEPS_KEPT: usize = 256;

/// A formula compiled once, shared by its monitors on every channel.
struct CompiledFormula {
    text: String,
    automaton: Arc<Automaton>,
    /// The field names the formula reads: it is monitored on channels that have them all.
    fields: Vec<String>,
}

/// One formula on one event channel.
struct LtlTrack {
    formula: String,
    channel_name: String,
    monitor: ContinuousMonitor,
    forecaster: ViolationForecaster,
    /// The forecast after the last record stepped.
    prediction: Option<f64>,
    inbox: VecDeque<Arc<Record>>,
    recent: VecDeque<Option<bool>>,
    /// The last records stepped, shared with the inbox; formatted only when one breaks the
    /// formula (a record of 1,000 fields is long to print, and most windows are never shown).
    window: VecDeque<Arc<Record>>,
    violation_window: Vec<String>,
}

/// The compiled formulas and their monitors on every event channel.
pub(super) struct LtlTracks {
    compiled: Vec<CompiledFormula>,
    settings: LtlMonitoring,
    tracks: BTreeMap<ChannelId, Vec<Arc<Track<LtlTrack>>>>,
}

impl LtlTracks {
    /// Compiles the formulas; an error names the formula and the spot.
    pub(super) fn compile(
        formulas: &[String],
        settings: LtlMonitoring,
    ) -> Result<Self, TrackError> {
        let compiled = formulas
            .iter()
            .map(|text| {
                let monitor = Monitor::from_text(text).map_err(|source| TrackError::Formula {
                    formula: text.clone(),
                    source: Box::new(source),
                })?;
                let automaton = monitor.automaton().clone();
                let fields = automaton.atoms().field_names().map(str::to_owned).collect();
                Ok(CompiledFormula {
                    text: text.clone(),
                    automaton,
                    fields,
                })
            })
            .collect::<Result<_, TrackError>>()?;
        Ok(Self {
            compiled,
            settings,
            tracks: BTreeMap::new(),
        })
    }

    /// Monitors every formula whose fields the channel has.
    pub(super) fn add_channel(&mut self, info: &ChannelInfo, fields: &[String]) {
        self.tracks.insert(info.id, Vec::new());
        self.fields_grew(info, fields);
    }

    /// A known channel's field list grew (a text input's field that appeared later): the
    /// formulas that now have all their fields start on it, from its next record.
    pub(super) fn fields_grew(&mut self, info: &ChannelInfo, fields: &[String]) {
        let Some(tracks) = self.tracks.get_mut(&info.id) else {
            return;
        };
        for formula in &self.compiled {
            let ready = formula.fields.iter().all(|f| fields.contains(f));
            if ready && !tracks.iter().any(|t| t.lock().formula == formula.text) {
                tracks.push(Track::new(LtlTrack {
                    formula: formula.text.clone(),
                    channel_name: info.name.clone(),
                    monitor: ContinuousMonitor::new(
                        formula.automaton.clone(),
                        self.settings.on_verdict,
                        Some(VERDICT_STEPS_KEPT),
                    ),
                    forecaster: ViolationForecaster::new(self.settings.predict_steps),
                    prediction: None,
                    inbox: VecDeque::new(),
                    recent: VecDeque::new(),
                    window: VecDeque::new(),
                    violation_window: Vec::new(),
                }));
            }
        }
    }

    pub(super) fn remove(&mut self, channel: ChannelId) {
        self.tracks.remove(&channel);
    }

    pub(super) fn clear(&mut self) {
        self.tracks.clear();
    }

    /// Queues the records for each of the channel's monitors and schedules their steps.
    pub(super) fn ingest(&self, runner: &TrackRunner, channel: ChannelId, records: &[Record]) {
        let Some(tracks) = self.tracks.get(&channel) else {
            return;
        };
        // One copy of each record, shared by the channel's monitors.
        let shared: Vec<Arc<Record>> = records.iter().cloned().map(Arc::new).collect();
        for track in tracks {
            track.lock().inbox.extend(shared.iter().cloned());
            runner.schedule(
                track,
                TaskClass::Critical,
                TaskLabel::new("ltl", channel),
                LTL_BUDGET,
                |t| step_ltl(&mut t.lock()),
            );
        }
    }

    /// One row per monitored formula, in channel then formula order.
    pub(super) fn views(&self) -> Vec<FormulaView> {
        self.tracks
            .values()
            .flatten()
            .map(|track| {
                let track = track.lock();
                let verdict = track.monitor.verdict();
                let violations = track.monitor.violations();
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
                    restarts: track.monitor.on_verdict() == OnVerdict::Restart,
                    violations: violations.count(),
                    satisfactions: track.monitor.satisfactions().count(),
                    violation_steps: violations.steps().iter().copied().collect(),
                    prediction: track.prediction,
                    predict_steps: self.settings.predict_steps,
                    warn_at: self.settings.warn_at,
                    missing_fields: track
                        .monitor
                        .monitor()
                        .atom_counts()
                        .iter()
                        .map(|c| c.missing + c.wrong_type)
                        .sum(),
                }
            })
            .collect()
    }
}

/// Steps the monitor over the inbox, teaching the forecaster every record, then forecasts
/// once (the pane shows the latest forecast only); always a change (the step count moves).
fn step_ltl(track: &mut LtlTrack) -> bool {
    let mut stepped = false;
    while let Some(record) = track.inbox.pop_front() {
        let Value::Fields(state) = &record.value else {
            continue;
        };
        let (continuous, bits) = track.monitor.step_reporting_valuation(state);
        track.forecaster.observe(state, bits);
        stepped = true;
        let verdict = continuous.run;
        if track.window.len() == VIOLATION_WINDOW {
            track.window.pop_front();
        }
        track.window.push_back(Arc::clone(&record));
        if continuous.decided_now && verdict.status == MonitorStatus::Violated {
            track.violation_window = track
                .window
                .iter()
                .map(|r| format!("#{} {}", r.seq, r.value))
                .collect();
        }
        if track.recent.len() == VERDICT_HISTORY {
            track.recent.pop_front();
        }
        track.recent.push_back(match verdict.status {
            MonitorStatus::Undecided => None,
            _ => Some(verdict.holds_if_ended),
        });
    }
    if stepped {
        track.prediction = track.forecaster.probability(&track.monitor);
    }
    true
}
