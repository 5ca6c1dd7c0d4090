//! Predictive monitoring: the probability that a running monitor reaches a violation within
//! the next K records, learnt online from the stream itself.
//!
//! # Model
//!
//! The stream is modelled as a Markov chain over the *valuations* of its records
//! ([`ValuationModel`]): a record's valuation is the formula's atom values together with a
//! symbol for every field of the record, not only those the formula reads (a field the
//! formula never names may be what predicts it). Booleans are their value, strings one of the
//! first [`MAX_TEXT_VALUES`] distinct strings of their field (later ones share an "other"
//! symbol), numbers their sign and binary order of magnitude, ⌊log₂(|x| + 1)⌋ (bins 0, 1,
//! 2–3, 4–7, …: scale-free, fixed from the first record, so the chain's states never move).
//! Transition probabilities are the maximum-likelihood estimates from the counts of observed
//! transitions; from a valuation never yet left, the next one is drawn from the valuations'
//! overall frequencies.
//!
//! # Product
//!
//! The monitor's automaton reads exactly the atom values of each valuation, so the pair
//! (automaton state, valuation) is a Markov chain too. The probability of a violation within
//! K steps is computed exactly on that product by a forward pass from the current pair: K
//! layers, each pushing the probability mass not yet violated along the transitions, adding
//! what reaches a violated verdict and (with [`OnVerdict::Restart`]) sending what reaches a
//! satisfied verdict back to the initial state. Cost per prediction: K times the transitions
//! leaving the pairs reachable so far; no I/O, no clock, so it builds for wasm32.
//!
//! # Bounds
//!
//! At most [`MAX_MODEL_STATES`] full valuations are distinguished. Past that, a new valuation
//! falls back to a coarse state keyed by the atom values only (at most [`MAX_COARSE_STATES`]
//! of them); a record that fits neither is not modelled (the chain's current state is unknown
//! until a known valuation comes back, and no prediction is made meanwhile). Each state keeps
//! its successors with their counts, so the model holds at most
//! (`MAX_MODEL_STATES` + `MAX_COARSE_STATES`)² successor entries (12 bytes each: 7 MB in the
//! worst case, a few kB for the demo's channels), and at most [`MAX_MODEL_FIELDS`] field
//! names with [`MAX_TEXT_VALUES`] strings each.

use rustc_hash::FxHashMap as HashMap;

use super::automaton::{Automaton, MonitorStatus};
use super::continuous::{ContinuousMonitor, OnVerdict, RunState};
use super::predicate::State;
use crate::model::FieldValue;

/// Steps ahead predicted when no horizon is given.
pub const DEFAULT_HORIZON_STEPS: usize = 10;
/// The longest horizon accepted: the pass costs K layers, and a thousand records ahead is far
/// beyond what a chain learnt from the last few thousand can say.
pub const MAX_HORIZON_STEPS: usize = 1_000;
/// Distinct full valuations the model distinguishes (see the module's bounds).
pub const MAX_MODEL_STATES: usize = 512;
/// Coarse states (atom values only) beyond [`MAX_MODEL_STATES`].
pub const MAX_COARSE_STATES: usize = 256;
/// Distinct field names whose values enter a valuation; later names are ignored.
pub const MAX_MODEL_FIELDS: usize = 64;
/// Distinct strings per field given their own symbol; later ones share one.
pub const MAX_TEXT_VALUES: usize = 8;

/// Symbol ranges of a field's value in a valuation key.
const SYMBOL_NUMBER: u32 = 0x1000;
const SYMBOL_NEGATIVE: u32 = 0x0800;
const SYMBOL_TEXT: u32 = 0x2000;
const SYMBOL_NAN: u32 = 0x3000;
/// The key word that marks a coarse (atoms-only) state.
const COARSE_MARK: u32 = u32::MAX;

/// One valuation of the chain.
#[derive(Debug, Clone)]
struct ModelState {
    /// The formula's atom values in this valuation.
    bits: u64,
    /// Times the stream was in this valuation.
    seen: u64,
    /// Observed successors and their counts.
    successors: Vec<(u32, u64)>,
    /// Sum of the successors' counts.
    left: u64,
}

/// A Markov chain over the valuations of a channel's records, learnt online (see the module).
#[derive(Debug, Clone, Default)]
pub struct ValuationModel {
    field_ids: HashMap<String, u32>,
    texts: Vec<Vec<String>>,
    index: HashMap<Box<[u32]>, u32>,
    states: Vec<ModelState>,
    coarse_states: usize,
    current: Option<u32>,
    transitions: u64,
    records: u64,
    unmodelled: u64,
    key: Vec<u32>,
}

impl ValuationModel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns from the next record, whose atom values are `bits`.
    pub fn observe(&mut self, state: &State, bits: u64) {
        self.records += 1;
        self.build_key(state, bits);
        let id = match self.index.get(self.key.as_slice()) {
            Some(&id) => Some(id),
            None if self.states.len() < MAX_MODEL_STATES => Some(self.insert(bits)),
            None => {
                self.key.truncate(2);
                self.key.push(COARSE_MARK);
                match self.index.get(self.key.as_slice()) {
                    Some(&id) => Some(id),
                    None if self.coarse_states < MAX_COARSE_STATES => {
                        self.coarse_states += 1;
                        Some(self.insert(bits))
                    }
                    None => None,
                }
            }
        };
        if let (Some(from), Some(to)) = (self.current, id) {
            let from = &mut self.states[from as usize];
            match from.successors.iter_mut().find(|(s, _)| *s == to) {
                Some((_, count)) => *count += 1,
                None => from.successors.push((to, 1)),
            }
            from.left += 1;
            self.transitions += 1;
        }
        match id {
            Some(id) => self.states[id as usize].seen += 1,
            None => self.unmodelled += 1,
        }
        self.current = id;
    }

    fn insert(&mut self, bits: u64) -> u32 {
        let id = self.states.len() as u32;
        self.states.push(ModelState {
            bits,
            seen: 0,
            successors: Vec::new(),
            left: 0,
        });
        self.index.insert(self.key.clone().into_boxed_slice(), id);
        id
    }

    /// The key of a valuation: the atom bits, then one word per field (its id and symbol), in
    /// the record's (sorted) field order.
    fn build_key(&mut self, state: &State, bits: u64) {
        self.key.clear();
        self.key.push(bits as u32);
        self.key.push((bits >> 32) as u32);
        for (name, value) in state.iter() {
            let field = match self.field_ids.get(name) {
                Some(&id) => id,
                None if self.field_ids.len() < MAX_MODEL_FIELDS => {
                    let id = self.field_ids.len() as u32;
                    self.field_ids.insert(name.to_string(), id);
                    self.texts.push(Vec::new());
                    id
                }
                None => continue,
            };
            let symbol = match value {
                FieldValue::Bool(b) => u32::from(*b),
                FieldValue::Number(x) if x.is_nan() => SYMBOL_NAN,
                FieldValue::Number(x) => {
                    let bin = (x.abs() + 1.0).log2().floor().min(1_000.0) as u32;
                    let sign = if *x < 0.0 { SYMBOL_NEGATIVE } else { 0 };
                    SYMBOL_NUMBER | sign | bin
                }
                FieldValue::Text(s) => {
                    let known = &mut self.texts[field as usize];
                    let at = match known.iter().position(|k| k == s) {
                        Some(at) => at,
                        None if known.len() < MAX_TEXT_VALUES => {
                            known.push(s.clone());
                            known.len() - 1
                        }
                        None => MAX_TEXT_VALUES,
                    };
                    SYMBOL_TEXT | at as u32
                }
            };
            self.key.push(field << 16 | symbol);
        }
    }

    /// Whether a prediction can be made: a transition has been seen and the current record
    /// was modelled.
    pub fn has_data(&self) -> bool {
        self.transitions > 0 && self.current.is_some()
    }

    /// Distinct valuations (full and coarse) the model holds.
    pub fn state_count(&self) -> usize {
        self.states.len()
    }

    /// Records that fitted no state (see the module's bounds).
    pub fn unmodelled(&self) -> u64 {
        self.unmodelled
    }

    /// Transitions observed.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// Calls `visit(next, probability)` for each valuation that may follow `from`.
    fn for_each_successor(&self, from: u32, mut visit: impl FnMut(u32, f64)) {
        let state = &self.states[from as usize];
        if state.left > 0 {
            let total = state.left as f64;
            for &(to, count) in &state.successors {
                visit(to, count as f64 / total);
            }
        } else {
            let total = self.records - self.unmodelled;
            let total = total as f64;
            for (to, s) in self.states.iter().enumerate() {
                if s.seen > 0 {
                    visit(to as u32, s.seen as f64 / total);
                }
            }
        }
    }
}

/// A monitor's violation forecast: the stream's model and the scratch space of the pass.
#[derive(Debug, Clone)]
pub struct ViolationForecaster {
    model: ValuationModel,
    horizon_steps: usize,
    layer: HashMap<(u32, u32), f64>,
    next: HashMap<(u32, u32), f64>,
}

impl ViolationForecaster {
    /// A forecaster over the next `horizon_steps` records (clamped to 1..=[`MAX_HORIZON_STEPS`]).
    pub fn new(horizon_steps: usize) -> Self {
        ViolationForecaster {
            model: ValuationModel::new(),
            horizon_steps: horizon_steps.clamp(1, MAX_HORIZON_STEPS),
            layer: HashMap::default(),
            next: HashMap::default(),
        }
    }

    pub fn horizon_steps(&self) -> usize {
        self.horizon_steps
    }

    pub fn model(&self) -> &ValuationModel {
        &self.model
    }

    /// Learns from a record the monitor just read, with its atom values.
    pub fn observe(&mut self, state: &State, bits: u64) {
        self.model.observe(state, bits);
    }

    /// The probability that `monitor` reaches a violation within the next K records, or
    /// `None` until the model has data.
    pub fn probability(&mut self, monitor: &ContinuousMonitor) -> Option<f64> {
        self.probability_from(
            monitor.automaton(),
            monitor.next_run_state(),
            monitor.on_verdict(),
        )
    }

    /// The same from a given run state (see [`ContinuousMonitor::next_run_state`]).
    pub fn probability_from(
        &mut self,
        automaton: &Automaton,
        run: RunState,
        on_verdict: OnVerdict,
    ) -> Option<f64> {
        if !self.model.has_data() {
            return None;
        }
        let start = match run {
            RunState::Violated => return Some(1.0),
            RunState::Satisfied => return Some(0.0),
            RunState::Running(q) => q,
        };
        let from = self.model.current?;
        let initial = automaton.initial_state();
        let restart = on_verdict == OnVerdict::Restart;
        self.layer.clear();
        self.layer.insert((start, from), 1.0);
        let mut violated = 0.0;
        for _ in 0..self.horizon_steps {
            self.next.clear();
            for (&(q, s), &mass) in &self.layer {
                let next = &mut self.next;
                let model = &self.model;
                model.for_each_successor(s, |to, p| {
                    let t = automaton.transition(q, model.states[to as usize].bits);
                    match t.status {
                        MonitorStatus::Violated => violated += mass * p,
                        MonitorStatus::Satisfied if restart => {
                            *next.entry((initial, to)).or_insert(0.0) += mass * p;
                        }
                        // A stopped monitor that is satisfied can no longer be violated.
                        MonitorStatus::Satisfied => {}
                        MonitorStatus::Undecided => {
                            *next.entry((t.next, to)).or_insert(0.0) += mass * p;
                        }
                    }
                });
            }
            std::mem::swap(&mut self.layer, &mut self.next);
            if self.layer.is_empty() {
                break;
            }
        }
        Some(violated.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::ltl::{compile, parse};
    use std::sync::Arc;

    fn record(pairs: &[(&str, FieldValue)]) -> State {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn phased(i: usize) -> State {
        record(&[
            ("p", FieldValue::Bool(!i.is_multiple_of(3))),
            (
                "phase",
                FieldValue::Text(["a", "b", "c"][i % 3].to_string()),
            ),
        ])
    }

    #[test]
    fn a_deterministic_alternation_is_predicted_with_certainty() {
        // p repeats false, true, true: G(p -> X !p) is violated at every second true. The
        // field `phase`, which the formula does not read, tells the two trues apart.
        let automaton = Arc::new(compile(&parse("G(p -> X !p)").unwrap()).unwrap());
        let mut monitor = ContinuousMonitor::new(automaton, OnVerdict::Restart, None);
        let mut forecaster = ViolationForecaster::new(1);
        let mut last = None;
        for i in 0..40 {
            let state = phased(i);
            let (_, bits) = monitor.step_reporting_valuation(&state);
            forecaster.observe(&state, bits);
            last = forecaster.probability(&monitor);
            if i == 0 {
                assert_eq!(last, None, "no transition seen yet");
            }
        }
        // Step 39 read p = false, so the next is p = true: no violation on the next step...
        assert_eq!(last, Some(0.0));
        let state = phased(40);
        let (_, bits) = monitor.step_reporting_valuation(&state);
        forecaster.observe(&state, bits);
        // ...but after a p comes a !p for sure: a violation.
        assert_eq!(forecaster.probability(&monitor), Some(1.0));
    }

    #[test]
    fn the_model_is_bounded_and_falls_back_to_coarse_states() {
        let mut model = ValuationModel::new();
        for i in 0..(MAX_MODEL_STATES as u64 * 4) {
            let state = record(&[
                ("id", FieldValue::Text(format!("{i}"))),
                ("x", FieldValue::Number((1u64 << (i % 17)) as f64)),
                ("y", FieldValue::Number((1u64 << (i / 17 % 19)) as f64)),
                ("p", FieldValue::Bool(i % 3 == 0)),
            ]);
            model.observe(&state, i % 3);
        }
        // 17 × 19 bins of x and y × 3 atom values: more than the cap, so the
        // overflow went to the three coarse states (one per atom value).
        assert_eq!(model.state_count(), MAX_MODEL_STATES + 3);
        assert!(model.has_data());
        assert_eq!(
            model.unmodelled(),
            0,
            "coarse states cover the three atom values"
        );
    }
}
