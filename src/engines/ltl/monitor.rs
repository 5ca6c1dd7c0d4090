//! The online monitor: one compiled [`Automaton`] stepped over a trace, one state at a time.
//!
//! Each step evaluates the formula's atoms on the state (one lookup per field), walks one
//! decision diagram and updates a few counters: the cost depends on the formula only, and the
//! memory is the automaton plus one counter pair per atom, however long the trace.

use std::sync::Arc;

use super::automaton::{Automaton, MonitorStatus, Transition, compile};
use super::predicate::{AtomCounts, State};
use super::{LtlError, parser::parse};

/// What the monitor knows after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorVerdict {
    /// The step just read, counted from 0.
    pub step: u64,
    /// Whether every, no, or only some continuations of the trace satisfy the formula.
    pub status: MonitorStatus,
    /// The LTLf verdict if the trace ended at this step.
    pub holds_if_ended: bool,
    /// The first step after which the status was no longer undecided (it never changes back).
    pub decided_at: Option<u64>,
}

/// An online monitor for one formula.
#[derive(Debug, Clone)]
pub struct Monitor {
    automaton: Arc<Automaton>,
    state: u32,
    steps: u64,
    last: Option<Transition>,
    decided_at: Option<u64>,
    counts: Vec<AtomCounts>,
}

impl Monitor {
    /// Parses and compiles `formula`.
    pub fn from_text(formula: &str) -> Result<Self, LtlError> {
        let parsed = parse(formula)?;
        Ok(Monitor::new(Arc::new(compile(&parsed)?)))
    }

    /// A monitor at the start of a trace, sharing a compiled automaton.
    pub fn new(automaton: Arc<Automaton>) -> Self {
        let counts = vec![AtomCounts::default(); automaton.atoms().len()];
        Monitor {
            state: automaton.initial_state(),
            automaton,
            steps: 0,
            last: None,
            decided_at: None,
            counts,
        }
    }

    pub fn automaton(&self) -> &Arc<Automaton> {
        &self.automaton
    }

    /// Back to the start of a new trace (counts cleared too).
    pub fn reset(&mut self) {
        self.state = self.automaton.initial_state();
        self.steps = 0;
        self.last = None;
        self.decided_at = None;
        self.counts.fill(AtomCounts::default());
    }

    /// Back to the start of a new run on the same stream: like [`Monitor::reset`], but the
    /// missing and mistyped field counts go on accumulating (they describe the stream, not
    /// the run).
    pub fn restart(&mut self) {
        self.state = self.automaton.initial_state();
        self.steps = 0;
        self.last = None;
        self.decided_at = None;
    }

    /// The automaton state the monitor is in (what the rest of the trace must satisfy).
    pub fn state(&self) -> u32 {
        self.state
    }

    /// Reads the state at the next step.
    #[inline]
    pub fn step(&mut self, state: &State) -> MonitorVerdict {
        self.step_reporting_valuation(state).0
    }

    /// Reads the state at the next step, also returning the atoms' values on it (bit `i` for
    /// atom `i`), for callers that learn from them.
    #[inline]
    pub fn step_reporting_valuation(&mut self, state: &State) -> (MonitorVerdict, u64) {
        let bits = self.automaton.atoms().valuation(state, &mut self.counts);
        (self.step_valuation(bits), bits)
    }

    /// Reads the next step given as the atoms' values (bit `i` for atom `i` of
    /// [`Automaton::atoms`]), for callers that evaluate atoms themselves.
    #[inline]
    pub fn step_valuation(&mut self, bits: u64) -> MonitorVerdict {
        let t = self.automaton.transition(self.state, bits);
        let step = self.steps;
        if self.decided_at.is_none() && t.status != MonitorStatus::Undecided {
            self.decided_at = Some(step);
        }
        self.state = t.next;
        self.steps += 1;
        self.last = Some(t);
        MonitorVerdict {
            step,
            status: t.status,
            holds_if_ended: t.holds_if_ended,
            decided_at: self.decided_at,
        }
    }

    /// The verdict after the last step read; `None` before any step (LTLf has no verdict on the
    /// empty trace).
    pub fn verdict(&self) -> Option<MonitorVerdict> {
        self.last.map(|t| MonitorVerdict {
            step: self.steps - 1,
            status: t.status,
            holds_if_ended: t.holds_if_ended,
            decided_at: self.decided_at,
        })
    }

    /// Whether the status can no longer change, so the rest of the trace need not be read.
    pub fn is_decided(&self) -> bool {
        self.decided_at.is_some()
    }

    /// Steps read so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Per atom (in the order of [`Automaton::atoms`]), how often its field was missing or
    /// mistyped in the steps read.
    pub fn atom_counts(&self) -> &[AtomCounts] {
        &self.counts
    }
}

/// The verdict on a whole trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceVerdict {
    /// Whether the formula holds on the trace (LTLf).
    pub holds: bool,
    /// The online status after the last step read.
    pub status: MonitorStatus,
    pub decided_at: Option<u64>,
    /// Steps read: fewer than the trace's length when the verdict was decided early.
    pub steps_read: u64,
}

/// Checks `formula` on a non-empty trace, stopping as soon as the verdict is decided.
pub fn verify(automaton: &Arc<Automaton>, trace: &[State]) -> Result<TraceVerdict, LtlError> {
    let mut monitor = Monitor::new(Arc::clone(automaton));
    let mut last = None;
    for state in trace {
        let verdict = monitor.step(state);
        last = Some(verdict);
        if verdict.status != MonitorStatus::Undecided {
            break;
        }
    }
    let verdict = last.ok_or(LtlError::EmptyTrace)?;
    Ok(TraceVerdict {
        holds: verdict.holds_if_ended,
        status: verdict.status,
        decided_at: verdict.decided_at,
        steps_read: monitor.steps(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldValue;

    fn state(pairs: &[(&str, FieldValue)]) -> State {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn flags(p: bool, q: bool) -> State {
        state(&[("p", FieldValue::Bool(p)), ("q", FieldValue::Bool(q))])
    }

    #[test]
    fn reports_after_every_step() {
        let mut m = Monitor::from_text("G(p -> F q)").unwrap();
        assert_eq!(m.verdict(), None);
        let v = m.step(&flags(true, false));
        assert_eq!(
            (v.step, v.status, v.holds_if_ended, v.decided_at),
            (0, MonitorStatus::Undecided, false, None)
        );
        let v = m.step(&flags(false, true));
        assert_eq!((v.step, v.holds_if_ended), (1, true));
        assert_eq!(m.verdict(), Some(v));
        assert_eq!(m.steps(), 2);
    }

    #[test]
    fn decides_early_and_stays_decided() {
        let mut m = Monitor::from_text("G(latency < 50)").unwrap();
        let ok = state(&[("latency", FieldValue::Number(12.0))]);
        let slow = state(&[("latency", FieldValue::Number(80.0))]);
        assert_eq!(m.step(&ok).status, MonitorStatus::Undecided);
        let v = m.step(&slow);
        assert_eq!(
            (v.status, v.decided_at, v.holds_if_ended),
            (MonitorStatus::Violated, Some(1), false)
        );
        let v = m.step(&ok);
        assert_eq!((v.status, v.decided_at), (MonitorStatus::Violated, Some(1)));
        assert!(m.is_decided());
    }

    #[test]
    fn counts_missing_and_mistyped_fields() {
        let mut m = Monitor::from_text(r#"G(status == "ok" | retry)"#).unwrap();
        m.step(&state(&[("retry", FieldValue::Bool(true))]));
        m.step(&state(&[
            ("status", FieldValue::Number(200.0)),
            ("retry", FieldValue::Text("no".into())),
        ]));
        let counts = m.atom_counts();
        assert_eq!(
            counts[0],
            AtomCounts {
                missing: 1,
                wrong_type: 1
            }
        );
        assert_eq!(
            counts[1],
            AtomCounts {
                missing: 0,
                wrong_type: 1
            }
        );
        assert_eq!(m.verdict().map(|v| v.status), Some(MonitorStatus::Violated));
        m.reset();
        assert_eq!(m.atom_counts()[0], AtomCounts::default());
        assert_eq!(m.verdict(), None);
    }

    #[test]
    fn verify_stops_at_the_decision() {
        let automaton = Arc::new(compile(&parse("G p").unwrap()).unwrap());
        let mut trace = vec![flags(true, false); 100];
        trace[10] = flags(false, false);
        let v = verify(&automaton, &trace).unwrap();
        assert_eq!(
            (v.holds, v.status, v.decided_at, v.steps_read),
            (false, MonitorStatus::Violated, Some(10), 11)
        );
        let v = verify(&automaton, &trace[..10]).unwrap();
        assert_eq!(
            (v.holds, v.status, v.decided_at, v.steps_read),
            (true, MonitorStatus::Undecided, None, 10)
        );
        assert!(matches!(verify(&automaton, &[]), Err(LtlError::EmptyTrace)));
    }
}
