//! Compiling a formula into a deterministic automaton over the atoms' values.
//!
//! The states are formulas in negation normal form (hash-consed, [`super::nnf`]); reading one
//! step's atom values turns a state into its progression (Bacchus & Kabanza 1998, on finite
//! traces as in De Giacomo & Vardi 2013, §5: the DFA of an LTLf formula by progression) and
//! tells whether the trace would satisfy the formula if it ended at that step. The automaton is
//! built once, eagerly, over every combination of atom values that some state can produce (see
//! [`AtomTable::realizable_valuations`]), so that each state can be classified by reachability:
//!
//! - from a state where no reachable step can fail, every continuation satisfies the formula;
//! - from a state where no reachable step can succeed, no continuation does.
//!
//! A state's transitions form a reduced ordered decision diagram over the atoms (shared between
//! states), so a step costs one walk of at most one test per atom, whatever the trace length.

use rustc_hash::FxHashMap as HashMap;
use std::fmt;

use super::nnf::{DnfTooLarge, MAX_DNF_CUBES, NodeId, Store};
use super::predicate::{AtomTable, TooManyAtoms};
use super::syntax::Formula;
use crate::model::order;

/// The most states a compiled monitor may have. LTLf automata are doubly exponential in the
/// worst case, so some bound is needed; the formulas people write (and random formulas of depth
/// 4 over four atoms, measured in the tests) need a few dozen at most.
pub const MAX_STATES: usize = 20_000;

/// The most decision nodes a compiled monitor may have (the transitions' size; see
/// [`MAX_STATES`]). At 12 bytes each this caps a monitor's tables at about 12 MB.
pub const MAX_DECISIONS: usize = 1_000_000;

/// The most steps a compilation may take (see `Store::step`): splits of an unfolding on an
/// atom, children visited while rewriting, conjunctions formed while putting states in
/// canonical form. Compile time is about proportional to it, so a formula from a command line
/// or a config file cannot stall the start: refusals came after 0.1-0.4 s here (release build,
/// `cargo run --release --example ltl_compile_time`), where chains of 12 `W` had taken 10 s and
/// 20 of them 99 s. Formulas of ten nested temporal operators still compile; those people write
/// need a few thousand steps.
pub const MAX_COMPILE_STEPS: usize = 1_500_000;

/// The online status after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorStatus {
    /// Every continuation of the trace (including stopping here) satisfies the formula.
    Satisfied,
    /// No continuation of the trace (including stopping here) satisfies the formula.
    Violated,
    /// Some continuations satisfy it and some do not.
    Undecided,
}

impl MonitorStatus {
    /// The lower-case name used in output: `satisfied`, `violated`, `undecided`.
    pub fn name(self) -> &'static str {
        match self {
            MonitorStatus::Satisfied => "satisfied",
            MonitorStatus::Violated => "violated",
            MonitorStatus::Undecided => "undecided",
        }
    }
}

impl fmt::Display for MonitorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a formula could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error(transparent)]
    TooManyAtoms(#[from] TooManyAtoms),
    #[error("the formula's monitor needs more than {limit} {what}; split it into several formulas")]
    TooLarge { what: &'static str, limit: usize },
}

impl From<DnfTooLarge> for CompileError {
    fn from(too_large: DnfTooLarge) -> Self {
        match too_large {
            DnfTooLarge::Cubes => CompileError::TooLarge {
                what: "alternatives in one state",
                limit: MAX_DNF_CUBES,
            },
            DnfTooLarge::Steps(limit) => CompileError::TooLarge {
                what: "compilation steps",
                limit,
            },
        }
    }
}

/// What a state does on some atom values: its successor, whether the trace would satisfy the
/// formula if it ended at this step, and the online status that follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transition {
    pub next: u32,
    pub holds_if_ended: bool,
    pub status: MonitorStatus,
}

/// A node of a transition diagram: test an atom, or arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Decision {
    Test {
        atom: u8,
        if_false: u32,
        if_true: u32,
    },
    Leaf(Transition),
}

/// How a state's future looks, found by reachability over the whole automaton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateClass {
    /// Every non-empty continuation from here satisfies the formula.
    AllAccept,
    /// No non-empty continuation from here satisfies the formula.
    NoneAccept,
    Open,
}

#[derive(Debug, Clone)]
struct StateInfo {
    formula: NodeId,
    root: u32,
    class: StateClass,
}

/// A formula compiled into a deterministic automaton; immutable, so one compilation can serve
/// any number of [`super::Monitor`]s.
#[derive(Debug, Clone)]
pub struct Automaton {
    formula: Formula,
    atoms: AtomTable,
    store: Store,
    states: Vec<StateInfo>,
    decisions: Vec<Decision>,
}

/// Builds the automaton of `formula`, within [`MAX_COMPILE_STEPS`] of work.
pub fn compile(formula: &Formula) -> Result<Automaton, CompileError> {
    compile_within(formula, MAX_COMPILE_STEPS)
}

/// Builds the automaton of `formula`, or refuses it once `max_steps` steps of work are spent
/// (see [`MAX_COMPILE_STEPS`]); the error then names that limit.
pub fn compile_within(formula: &Formula, max_steps: usize) -> Result<Automaton, CompileError> {
    let atoms = AtomTable::new(formula)?;
    let mut builder = Builder::new(&atoms);
    builder.store.set_step_budget(max_steps);
    let initial = builder.store.convert(formula, false, &atoms);
    let initial = builder.store.canonical(initial)?;
    builder.intern_state(initial)?;
    let mut done = 0;
    while done < builder.states.len() {
        let unfolded = builder.store.expand(builder.states[done].formula);
        builder.decided.clear();
        let root = builder.decide(unfolded, 0, 0, done)?;
        builder.states[done].root = root;
        order::sort_unstable(&mut builder.edges[done]);
        builder.edges[done].dedup();
        done += 1;
    }
    builder.classify();
    let Builder {
        store,
        states,
        decisions,
        ..
    } = builder;
    Ok(Automaton {
        formula: formula.clone(),
        atoms,
        store,
        states,
        decisions,
    })
}

struct Builder<'a> {
    atoms: &'a AtomTable,
    store: Store,
    states: Vec<StateInfo>,
    state_of: HashMap<NodeId, u32>,
    decisions: Vec<Decision>,
    decision_of: HashMap<Decision, u32>,
    /// Per field, the realizable atom-value combinations, and the bits of that field's atoms.
    realizable: Vec<Vec<u64>>,
    field_masks: Vec<u64>,
    /// Per atom: the atoms of the fields that it or a later atom belongs to. Splitting on atom
    /// `a` and after looks only at these atoms' known values.
    later_fields: Vec<u64>,
    /// The current state's diagrams by (unfolding, known atoms, their values), both restricted
    /// to `later_fields` of the unfolding's first atom. Different orders of splitting reach the
    /// same unfolding again; without this the walk is exponential in the number of atoms even
    /// when the diagram is small.
    decided: HashMap<(NodeId, u64, u64), u32>,
    /// Per state, the (successor, holds-if-ended) pairs of its leaves.
    edges: Vec<Vec<(u32, bool)>>,
}

impl<'a> Builder<'a> {
    fn new(atoms: &'a AtomTable) -> Self {
        let realizable = atoms.realizable_valuations();
        let mut field_masks = vec![0u64; atoms.field_count()];
        for atom in 0..atoms.len() {
            field_masks[atoms.field_of(atom)] |= 1 << atom;
        }
        let mut later_fields = vec![0u64; atoms.len()];
        let mut mask = 0u64;
        for atom in (0..atoms.len()).rev() {
            mask |= field_masks[atoms.field_of(atom)];
            later_fields[atom] = mask;
        }
        Builder {
            atoms,
            store: Store::new(atoms.len()),
            states: Vec::new(),
            state_of: HashMap::default(),
            decisions: Vec::new(),
            decision_of: HashMap::default(),
            realizable,
            field_masks,
            later_fields,
            decided: HashMap::default(),
            edges: Vec::new(),
        }
    }

    fn intern_state(&mut self, formula: NodeId) -> Result<u32, CompileError> {
        if let Some(&state) = self.state_of.get(&formula) {
            return Ok(state);
        }
        if self.states.len() >= MAX_STATES {
            return Err(CompileError::TooLarge {
                what: "states",
                limit: MAX_STATES,
            });
        }
        let state = self.states.len() as u32;
        self.states.push(StateInfo {
            formula,
            root: 0,
            class: StateClass::Open,
        });
        self.edges.push(Vec::new());
        self.state_of.insert(formula, state);
        Ok(state)
    }

    fn intern_decision(&mut self, decision: Decision) -> Result<u32, CompileError> {
        if let Some(&id) = self.decision_of.get(&decision) {
            return Ok(id);
        }
        if self.decisions.len() >= MAX_DECISIONS {
            return Err(CompileError::TooLarge {
                what: "decision nodes",
                limit: MAX_DECISIONS,
            });
        }
        let id = self.decisions.len() as u32;
        self.decisions.push(decision);
        self.decision_of.insert(decision, id);
        Ok(id)
    }

    /// Whether atom `atom` can take `value` given the values already fixed (`known` bits, with
    /// their values in `values`): some value of its field must produce all of them.
    fn possible(&self, atom: u8, value: bool, known: u64, values: u64) -> bool {
        let field = self.atoms.field_of(atom as usize);
        let relevant = known & self.field_masks[field];
        let bit = 1u64 << atom;
        self.realizable[field]
            .iter()
            .any(|&v| (v ^ values) & relevant == 0 && ((v & bit) != 0) == value)
    }

    /// The decision diagram of an unfolding, splitting on its atoms in index order.
    fn decide(
        &mut self,
        unfolded: NodeId,
        known: u64,
        values: u64,
        from: usize,
    ) -> Result<u32, CompileError> {
        let Some(atom) = self.store.first_atom(unfolded) else {
            let next = self.store.successor(unfolded);
            let next = self.store.canonical(next)?;
            let holds_if_ended = self.store.holds_at_end(unfolded);
            let next = self.intern_state(next)?;
            // Repeats are removed once the state's diagram is done (`compile`).
            self.edges[from].push((next, holds_if_ended));
            // The status is filled in by `classify`, once every state is known.
            return self.intern_decision(Decision::Leaf(Transition {
                next,
                holds_if_ended,
                status: MonitorStatus::Undecided,
            }));
        };
        let relevant = self.later_fields[atom as usize];
        let key = (unfolded, known & relevant, values & relevant);
        if let Some(&done) = self.decided.get(&key) {
            return Ok(done);
        }
        self.store.step()?;
        let bit = 1u64 << atom;
        let can_false = self.possible(atom, false, known, values);
        let can_true = self.possible(atom, true, known, values);
        let if_false = if can_false {
            let branch = self.store.assign(unfolded, atom, false);
            Some(self.decide(branch, known | bit, values, from)?)
        } else {
            None
        };
        let if_true = if can_true {
            let branch = self.store.assign(unfolded, atom, true);
            Some(self.decide(branch, known | bit, values | bit, from)?)
        } else {
            None
        };
        let decision = match (if_false, if_true) {
            (Some(f), Some(t)) if f == t => f,
            (Some(if_false), Some(if_true)) => self.intern_decision(Decision::Test {
                atom,
                if_false,
                if_true,
            })?,
            (Some(only), None) | (None, Some(only)) => only,
            // Some value of every field is realizable (a missing field, at least), so one of
            // the two branches always exists; answer with a rejecting sink just in case.
            (None, None) => self.intern_decision(Decision::Leaf(Transition {
                next: from as u32,
                holds_if_ended: false,
                status: MonitorStatus::Undecided,
            }))?,
        };
        self.decided.insert(key, decision);
        Ok(decision)
    }

    /// Classifies every state by backward reachability, then gives every leaf its status.
    fn classify(&mut self) {
        let n = self.states.len();
        let mut predecessors: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (from, edges) in self.edges.iter().enumerate() {
            for &(to, _) in edges {
                predecessors[to as usize].push(from as u32);
            }
        }
        let reach = |seed: &dyn Fn(usize) -> bool| -> Vec<bool> {
            let mut marked: Vec<bool> = (0..n).map(seed).collect();
            let mut work: Vec<usize> = (0..n).filter(|&s| marked[s]).collect();
            while let Some(s) = work.pop() {
                for &p in &predecessors[s] {
                    if !marked[p as usize] {
                        marked[p as usize] = true;
                        work.push(p as usize);
                    }
                }
            }
            marked
        };
        let can_accept = reach(&|s| self.edges[s].iter().any(|&(_, ok)| ok));
        let can_reject = reach(&|s| self.edges[s].iter().any(|&(_, ok)| !ok));
        for (s, state) in self.states.iter_mut().enumerate() {
            state.class = match (can_accept[s], can_reject[s]) {
                (true, false) => StateClass::AllAccept,
                (false, _) => StateClass::NoneAccept,
                (true, true) => StateClass::Open,
            };
        }
        for decision in &mut self.decisions {
            if let Decision::Leaf(t) = decision {
                let class = self.states[t.next as usize].class;
                t.status = match (t.holds_if_ended, class) {
                    (true, StateClass::AllAccept) => MonitorStatus::Satisfied,
                    (false, StateClass::NoneAccept) => MonitorStatus::Violated,
                    _ => MonitorStatus::Undecided,
                };
            }
        }
    }
}

impl Automaton {
    /// The formula this automaton monitors, as parsed.
    pub fn formula(&self) -> &Formula {
        &self.formula
    }

    pub fn atoms(&self) -> &AtomTable {
        &self.atoms
    }

    pub fn state_count(&self) -> usize {
        self.states.len()
    }

    pub fn decision_count(&self) -> usize {
        self.decisions.len()
    }

    /// The state before the first step.
    pub fn initial_state(&self) -> u32 {
        0
    }

    pub fn state_class(&self, state: u32) -> StateClass {
        self.states[state as usize].class
    }

    /// What `state` does on the atom values `bits` (bit `i` for atom `i`).
    #[inline]
    pub fn transition(&self, state: u32, bits: u64) -> Transition {
        let mut at = self.states[state as usize].root;
        loop {
            match self.decisions[at as usize] {
                Decision::Test {
                    atom,
                    if_false,
                    if_true,
                } => {
                    at = if bits & (1 << atom) != 0 {
                        if_true
                    } else {
                        if_false
                    };
                }
                Decision::Leaf(t) => return t,
            }
        }
    }

    /// The formula a state stands for (what the rest of the trace must satisfy).
    pub fn state_formula(&self, state: u32) -> Formula {
        self.store
            .to_formula(self.states[state as usize].formula, &self.atoms)
    }

    /// Hash-consed formulas held by the automaton (a measure of its memory).
    pub fn formula_nodes(&self) -> usize {
        self.store.len()
    }

    /// Every path of a state's decision diagram: the atom values it tests and where it arrives.
    pub fn paths(&self, state: u32) -> Vec<(Vec<(u8, bool)>, Transition)> {
        let mut out = Vec::new();
        let mut tests = Vec::new();
        self.collect_paths(self.states[state as usize].root, &mut tests, &mut out);
        out
    }

    fn collect_paths(
        &self,
        at: u32,
        tests: &mut Vec<(u8, bool)>,
        out: &mut Vec<(Vec<(u8, bool)>, Transition)>,
    ) {
        match self.decisions[at as usize] {
            Decision::Leaf(t) => out.push((tests.clone(), t)),
            Decision::Test {
                atom,
                if_false,
                if_true,
            } => {
                tests.push((atom, false));
                self.collect_paths(if_false, tests, out);
                tests.pop();
                tests.push((atom, true));
                self.collect_paths(if_true, tests, out);
                tests.pop();
            }
        }
    }
}

/// The `--explain` listing: the atoms, then each state with the formula the rest of the trace
/// must satisfy and its transitions.
impl fmt::Display for Automaton {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "monitor for {}", self.formula)?;
        writeln!(
            f,
            "  {} atoms, {} states, {} decision nodes; an atom whose field is missing or mistyped is false",
            self.atoms.len(),
            self.states.len(),
            self.decisions.len()
        )?;
        for (i, atom) in self.atoms.atoms().iter().enumerate() {
            writeln!(f, "  a{i} = {atom}")?;
        }
        for state in 0..self.states.len() as u32 {
            let class = match self.state_class(state) {
                StateClass::AllAccept => "every continuation holds",
                StateClass::NoneAccept => "no continuation holds",
                StateClass::Open => "open",
            };
            let start = if state == 0 { ", start" } else { "" };
            writeln!(
                f,
                "s{state} [{class}{start}]: {}",
                self.state_formula(state)
            )?;
            for (tests, t) in self.paths(state) {
                let condition = if tests.is_empty() {
                    "always".to_string()
                } else {
                    tests
                        .iter()
                        .map(|&(a, v)| format!("{}a{a}", if v { "" } else { "!" }))
                        .collect::<Vec<_>>()
                        .join(" & ")
                };
                writeln!(
                    f,
                    "  {condition:<16} -> s{:<4} if the trace ends: {:<5}  status: {}",
                    t.next, t.holds_if_ended, t.status
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::ltl::parser::parse;

    fn automaton(text: &str) -> Automaton {
        compile(&parse(text).unwrap()).unwrap()
    }

    fn w_chain(n: usize) -> Formula {
        let text: String = (1..=n).fold("X p0".to_owned(), |t, i| format!("{t} W p{i}"));
        parse(&text).unwrap()
    }

    #[test]
    fn work_past_the_budget_is_refused_with_the_limit_named() {
        // 2 `W` need a few hundred steps; 20 would need hours without the budget.
        let small = compile_within(&w_chain(2), 10_000).expect("a small chain compiles");
        assert_eq!(small.state_count(), 6);
        let err = compile_within(&w_chain(20), 10_000).unwrap_err();
        assert_eq!(
            err,
            CompileError::TooLarge {
                what: "compilation steps",
                limit: 10_000
            }
        );
        assert_eq!(
            err.to_string(),
            "the formula's monitor needs more than 10000 compilation steps; split it into \
             several formulas"
        );
    }

    #[test]
    fn chains_of_weak_untils_compile_to_their_exact_automaton() {
        // 4^k + 2 states for k `W` after the `X`: the automaton is exponential, not the
        // compiler's bookkeeping (before the per-state memo, 12 took 10 s in a release build).
        for (n, states) in [(4, 18), (6, 66)] {
            assert_eq!(
                compile(&w_chain(n)).unwrap().state_count(),
                states,
                "n = {n}"
            );
        }
    }

    #[test]
    fn response_property_has_two_open_states() {
        let a = automaton("G(p -> F q)");
        assert_eq!(a.state_count(), 2);
        assert_eq!(a.state_class(0), StateClass::Open);
        assert_eq!(a.state_class(1), StateClass::Open);
        // p & !q leaves an obligation open; the trace ending there fails.
        let t = a.transition(0, 0b01);
        assert_eq!(
            (t.next, t.holds_if_ended, t.status),
            (1, false, MonitorStatus::Undecided)
        );
        let t = a.transition(1, 0b10);
        assert_eq!((t.next, t.holds_if_ended), (0, true));
        let text = a.to_string();
        assert!(text.contains("a0 = p"), "{text}");
        assert!(text.contains("s1 [open]: F q & G(!p | F q)"), "{text}");
    }

    #[test]
    fn safety_and_guarantee_decide() {
        let a = automaton("G p");
        let t = a.transition(0, 0);
        assert_eq!(
            (t.holds_if_ended, t.status),
            (false, MonitorStatus::Violated)
        );
        let a = automaton("F p");
        let t = a.transition(0, 1);
        assert_eq!(
            (t.holds_if_ended, t.status),
            (true, MonitorStatus::Satisfied)
        );
        let a = automaton("X false");
        assert_eq!(a.transition(0, 0).status, MonitorStatus::Violated);
        // "This is the last step": true if the trace stops, false if it goes on.
        let a = automaton("!X true");
        let t = a.transition(0, 0);
        assert_eq!(
            (t.holds_if_ended, t.status),
            (true, MonitorStatus::Undecided)
        );
    }

    #[test]
    fn correlated_atoms_are_seen_through() {
        // No value is above 5 and below 3, so this can never hold.
        let a = automaton("F(x > 5 & x < 3)");
        assert_eq!(a.transition(0, 0).status, MonitorStatus::Violated);
        // A number is either above 3 or not above 3, but a missing field is neither.
        let a = automaton("G(x > 3 | x <= 3)");
        assert_eq!(a.state_class(0), StateClass::Open);
        let a = automaton(r#"G(s == "a" -> s != "b")"#);
        assert_eq!(a.transition(0, 0).status, MonitorStatus::Satisfied);
    }

    #[test]
    fn atom_free_formulas_compile() {
        let a = automaton("true");
        assert_eq!(a.transition(0, 0).status, MonitorStatus::Satisfied);
        let a = automaton("G false");
        assert_eq!(a.transition(0, 0).status, MonitorStatus::Violated);
        let a = automaton("X X true");
        let t = a.transition(0, 0);
        assert_eq!(
            (t.holds_if_ended, t.status),
            (false, MonitorStatus::Undecided)
        );
        let t = a.transition(t.next, 0);
        assert_eq!(
            (t.holds_if_ended, t.status),
            (false, MonitorStatus::Undecided)
        );
        let t = a.transition(t.next, 0);
        assert_eq!(
            (t.holds_if_ended, t.status),
            (true, MonitorStatus::Satisfied)
        );
    }
}
