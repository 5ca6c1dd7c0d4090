//! Continuous monitoring: what a monitor does once its verdict is decided.
//!
//! With [`OnVerdict::Stop`] the verdict is final (the monitor keeps reading, and its status no
//! longer changes): a trace is one run. With [`OnVerdict::Restart`] the monitor starts again
//! on the record after the one that decided it, so a long stream is a sequence of runs, and a
//! property such as `G(error -> F recovery)` is judged again after each violation. Either way
//! the violations and satisfactions are counted, with the steps (0-based records of the whole
//! stream) at which they were decided.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::automaton::{Automaton, MonitorStatus};
use super::monitor::{Monitor, MonitorVerdict};
use super::predicate::State;

/// What a monitor does after a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnVerdict {
    /// The verdict is final: the default of `check`, where a trace is one run.
    #[default]
    Stop,
    /// Start again on the next record: the default of the live monitors.
    Restart,
}

impl OnVerdict {
    /// The name used on the command line and in the configuration file.
    pub fn name(self) -> &'static str {
        match self {
            OnVerdict::Stop => "stop",
            OnVerdict::Restart => "restart",
        }
    }
}

impl fmt::Display for OnVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is neither `stop` nor `restart`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown on-verdict action {0:?}: expected \"stop\" or \"restart\"")]
pub struct UnknownOnVerdict(pub String);

impl FromStr for OnVerdict {
    type Err = UnknownOnVerdict;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stop" => Ok(OnVerdict::Stop),
            "restart" => Ok(OnVerdict::Restart),
            other => Err(UnknownOnVerdict(other.to_string())),
        }
    }
}

/// Verdicts of one kind: an exact count, and the steps of the latest ones.
///
/// Memory: at most `keep` steps (`None`: all of them, for a finite trace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerdictLog {
    count: u64,
    steps: VecDeque<u64>,
    keep: Option<usize>,
}

impl VerdictLog {
    /// A log keeping the steps of the latest `keep` verdicts (`None`: every one).
    pub fn new(keep: Option<usize>) -> Self {
        VerdictLog {
            count: 0,
            steps: VecDeque::new(),
            keep,
        }
    }

    fn push(&mut self, step: u64) {
        self.count += 1;
        if self.keep == Some(0) {
            return;
        }
        if self.keep.is_some_and(|keep| self.steps.len() >= keep) {
            self.steps.pop_front();
        }
        self.steps.push_back(step);
    }

    /// How many verdicts of this kind there were, exactly.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The steps of the latest verdicts (all of them when the log keeps every one), oldest first.
    pub fn steps(&self) -> &VecDeque<u64> {
        &self.steps
    }
}

/// A monitor that counts its verdicts and, with [`OnVerdict::Restart`], starts again after each.
#[derive(Debug, Clone)]
pub struct ContinuousMonitor {
    monitor: Monitor,
    on_verdict: OnVerdict,
    /// Records read, over every run.
    steps: u64,
    /// The stream step at which the current run read its first record.
    run_start: u64,
    /// The last record decided the run: the next one starts a new run.
    restart_pending: bool,
    violations: VerdictLog,
    satisfactions: VerdictLog,
}

/// What a [`ContinuousMonitor`] knows after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContinuousVerdict {
    /// The current run's verdict (its `step` and `decided_at` count from the run's start).
    pub run: MonitorVerdict,
    /// The stream step just read, counted from 0 over every run.
    pub step: u64,
    /// The stream step at which the current run started.
    pub run_start: u64,
    /// This step decided the run (a violation or a satisfaction was counted).
    pub decided_now: bool,
}

impl ContinuousMonitor {
    /// A monitor at the start of a stream, keeping the steps of at most `keep_steps` verdicts
    /// of each kind (`None`: all).
    pub fn new(
        automaton: Arc<Automaton>,
        on_verdict: OnVerdict,
        keep_steps: Option<usize>,
    ) -> Self {
        ContinuousMonitor {
            monitor: Monitor::new(automaton),
            on_verdict,
            steps: 0,
            run_start: 0,
            restart_pending: false,
            violations: VerdictLog::new(keep_steps),
            satisfactions: VerdictLog::new(keep_steps),
        }
    }

    /// Reads the next record.
    #[inline]
    pub fn step(&mut self, state: &State) -> ContinuousVerdict {
        self.step_reporting_valuation(state).0
    }

    /// Reads the next record, also returning the atoms' values on it (see
    /// [`Monitor::step_reporting_valuation`]).
    pub fn step_reporting_valuation(&mut self, state: &State) -> (ContinuousVerdict, u64) {
        if self.restart_pending {
            self.monitor.restart();
            self.run_start = self.steps;
            self.restart_pending = false;
        }
        let was_decided = self.monitor.is_decided();
        let (run, bits) = self.monitor.step_reporting_valuation(state);
        let step = self.steps;
        self.steps += 1;
        let decided_now = !was_decided && run.status != MonitorStatus::Undecided;
        if decided_now {
            match run.status {
                MonitorStatus::Violated => self.violations.push(step),
                MonitorStatus::Satisfied => self.satisfactions.push(step),
                MonitorStatus::Undecided => {}
            }
            self.restart_pending = self.on_verdict == OnVerdict::Restart;
        }
        (
            ContinuousVerdict {
                run,
                step,
                run_start: self.run_start,
                decided_now,
            },
            bits,
        )
    }

    /// The current run's monitor.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    pub fn automaton(&self) -> &Arc<Automaton> {
        self.monitor.automaton()
    }

    pub fn on_verdict(&self) -> OnVerdict {
        self.on_verdict
    }

    /// Records read, over every run.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The stream step at which the current run started.
    pub fn run_start(&self) -> u64 {
        self.run_start
    }

    /// The current run's verdict with `decided_at` counted in stream steps.
    pub fn verdict(&self) -> Option<MonitorVerdict> {
        self.monitor.verdict().map(|v| MonitorVerdict {
            step: self.run_start + v.step,
            decided_at: v.decided_at.map(|d| self.run_start + d),
            ..v
        })
    }

    pub fn violations(&self) -> &VerdictLog {
        &self.violations
    }

    pub fn satisfactions(&self) -> &VerdictLog {
        &self.satisfactions
    }

    /// Where the next record is read from: the automaton state, and whether the run that
    /// reads it can still change its verdict (`false` when a stopped monitor is decided).
    pub fn next_run_state(&self) -> RunState {
        if self.restart_pending {
            return RunState::Running(self.monitor.automaton().initial_state());
        }
        match self.monitor.verdict().map(|v| v.status) {
            Some(MonitorStatus::Violated) => RunState::Violated,
            Some(MonitorStatus::Satisfied) => RunState::Satisfied,
            _ => RunState::Running(self.monitor.state()),
        }
    }
}

/// The state the next record meets (see [`ContinuousMonitor::next_run_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// A run in this automaton state.
    Running(u32),
    /// A stopped monitor that was violated: it stays so.
    Violated,
    /// A stopped monitor that was satisfied: it stays so.
    Satisfied,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::ltl::{compile, parse};
    use crate::model::FieldValue;

    fn p(value: bool) -> State {
        [("p".to_string(), FieldValue::Bool(value))]
            .into_iter()
            .collect()
    }

    fn automaton(text: &str) -> Arc<Automaton> {
        Arc::new(compile(&parse(text).unwrap()).unwrap())
    }

    #[test]
    fn restart_counts_every_violation_at_its_step() {
        let mut m = ContinuousMonitor::new(automaton("G p"), OnVerdict::Restart, None);
        let trace = [true, false, true, true, false, false, true];
        for &v in &trace {
            m.step(&p(v));
        }
        // Runs: [0,1] violated at 1; [2,3,4] violated at 4; [5] violated at 5; [6] running.
        assert_eq!(m.violations().count(), 3);
        assert_eq!(m.violations().steps(), &[1, 4, 5]);
        assert_eq!(m.run_start(), 6);
        assert_eq!(
            m.verdict().map(|v| v.status),
            Some(MonitorStatus::Undecided)
        );
    }

    #[test]
    fn stop_keeps_the_first_verdict() {
        let mut m = ContinuousMonitor::new(automaton("G p"), OnVerdict::Stop, None);
        for v in [true, false, true, false] {
            m.step(&p(v));
        }
        assert_eq!(m.violations().steps(), &[1]);
        assert_eq!(m.next_run_state(), RunState::Violated);
        assert_eq!(m.verdict().and_then(|v| v.decided_at), Some(1));
    }

    #[test]
    fn satisfactions_restart_too_and_the_log_is_bounded() {
        let mut m = ContinuousMonitor::new(automaton("F p"), OnVerdict::Restart, Some(2));
        for v in [false, true, true, false, false, true] {
            m.step(&p(v));
        }
        assert_eq!(m.satisfactions().count(), 3);
        assert_eq!(m.satisfactions().steps(), &[2, 5]);
        assert_eq!("restart".parse::<OnVerdict>(), Ok(OnVerdict::Restart));
        assert!("again".parse::<OnVerdict>().is_err());
    }
}
