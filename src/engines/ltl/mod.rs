//! Temporal logic: LTLf formulas over stream fields, parsed and monitored online.
//!
//! A formula such as `G(error -> F recovery)` or `latency < 50 U queue_depth == 0` is parsed
//! ([`parser`], which documents the grammar and precedence), compiled once into a deterministic
//! automaton ([`automaton`]) and stepped over the states of a trace by a [`Monitor`]. The atoms
//! read the state's fields ([`predicate`], which states the one rule for missing and mistyped
//! fields: the atom is false, and it is counted).
//!
//! # Semantics
//!
//! LTLf, linear temporal logic on finite traces (De Giacomo & Vardi, IJCAI 2013), on non-empty
//! traces: `X` is strong next (false at the last step); `F`, `G` and `U` range over the
//! remaining steps, the current one included; `a W b = (a U b) | G a`; `a R b = !(!a U !b)`.
//! [`semantics`] evaluates these definitions directly and is the reference the monitor is
//! tested against.
//!
//! After each step the monitor reports a [`MonitorVerdict`]: the LTLf verdict if the trace
//! ended there, and whether every continuation satisfies the formula ([`MonitorStatus::Satisfied`]),
//! none does ([`MonitorStatus::Violated`]) or it depends ([`MonitorStatus::Undecided`]), with the
//! step at which it stopped depending. "Every continuation" means every sequence of states that
//! could follow, given what values a field can hold (`x > 5` and `x < 3` are never both true).

pub mod automaton;
pub mod continuous;
pub mod monitor;
pub(crate) mod nnf;
pub mod parser;
pub mod predicate;
pub mod predict;
pub mod semantics;
pub mod syntax;

pub use automaton::{
    Automaton, CompileError, MAX_COMPILE_STEPS, MonitorStatus, StateClass, Transition, compile,
    compile_within,
};
pub use continuous::{
    ContinuousMonitor, ContinuousVerdict, OnVerdict, RunState, UnknownOnVerdict, VerdictLog,
};
pub use monitor::{Monitor, MonitorVerdict, TraceVerdict, verify};
pub use parser::{ParseError, parse};
pub use predicate::{AtomCounts, AtomOutcome, AtomTable, State, evaluate_atom};
pub use predict::{DEFAULT_HORIZON_STEPS, MAX_HORIZON_STEPS, ValuationModel, ViolationForecaster};
pub use syntax::{Atom, AtomTest, CompareOp, Formula, Literal};

/// What can go wrong between a formula's text and a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LtlError {
    #[error("cannot parse the formula at {0}")]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error("the trace is empty; LTLf gives verdicts on non-empty traces only")]
    EmptyTrace,
}
