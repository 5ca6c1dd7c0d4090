//! The LTLf semantics evaluated directly over a whole trace, independently of the monitor.
//!
//! De Giacomo & Vardi, "Linear Temporal Logic and Linear Dynamic Logic on Finite Traces",
//! IJCAI 2013, §2: for a non-empty trace π = π₀ … πₙ₋₁ and a position i,
//!
//! - π, i ⊨ X a  iff  i + 1 < n and π, i + 1 ⊨ a   (strong next: false at the last step)
//! - π, i ⊨ a U b  iff  some j with i ≤ j < n has π, j ⊨ b, and π, k ⊨ a for all i ≤ k < j
//! - F a = true U a, G a = !F !a, a R b = !(!a U !b), a W b = (a U b) | G a.
//!
//! Each subformula's truth at every position is filled in from the last position backwards
//! (a U b holds at i iff b holds at i, or a holds at i and i + 1 < n and a U b holds at i + 1),
//! so a formula of size m on n steps costs O(m·n). This is the reference the monitor is
//! property-tested against, and the offline answer for a trace already in memory.

use super::predicate::{AtomCounts, AtomTable, State};
use super::syntax::Formula;

/// Whether `formula` holds on the whole non-empty trace given as atom bit sets (bit `i` for
/// atom `i` of `atoms`). Returns `None` for an empty trace, where LTLf says nothing.
pub fn evaluate_valuations(formula: &Formula, atoms: &AtomTable, trace: &[u64]) -> Option<bool> {
    if trace.is_empty() {
        return None;
    }
    Some(truth_table(formula, atoms, trace)[0])
}

/// Whether `formula` holds on the whole non-empty trace of states; `None` for an empty trace.
/// Atoms follow the rule of [`super::predicate`] (missing or mistyped fields make them false).
pub fn evaluate(formula: &Formula, atoms: &AtomTable, trace: &[State]) -> Option<bool> {
    let mut counts = vec![AtomCounts::default(); atoms.len()];
    let bits: Vec<u64> = trace
        .iter()
        .map(|state| atoms.valuation(state, &mut counts))
        .collect();
    evaluate_valuations(formula, atoms, &bits)
}

/// The truth of `formula` at every position of `trace`.
pub fn truth_table(formula: &Formula, atoms: &AtomTable, trace: &[u64]) -> Vec<bool> {
    let n = trace.len();
    let unary = |a: &Formula, op: fn(bool) -> bool| -> Vec<bool> {
        truth_table(a, atoms, trace).into_iter().map(op).collect()
    };
    let binary = |a: &Formula, b: &Formula, op: fn(bool, bool) -> bool| -> Vec<bool> {
        let ta = truth_table(a, atoms, trace);
        let tb = truth_table(b, atoms, trace);
        ta.into_iter().zip(tb).map(|(x, y)| op(x, y)).collect()
    };
    // Fills positions from the last backwards: `step(here, next)` where `next` is the value at
    // i + 1, or `None` at the last position.
    let backwards = |step: &dyn Fn(usize, Option<bool>) -> bool| -> Vec<bool> {
        let mut out = vec![false; n];
        for i in (0..n).rev() {
            let next = (i + 1 < n).then(|| out[i + 1]);
            out[i] = step(i, next);
        }
        out
    };
    match formula {
        Formula::True => vec![true; n],
        Formula::False => vec![false; n],
        Formula::Atom(atom) => {
            let bit = atoms.index_of(atom).map_or(0, |i| 1u64 << i);
            trace.iter().map(|v| v & bit != 0).collect()
        }
        Formula::Not(a) => unary(a, |x| !x),
        Formula::And(a, b) => binary(a, b, |x, y| x && y),
        Formula::Or(a, b) => binary(a, b, |x, y| x || y),
        Formula::Implies(a, b) => binary(a, b, |x, y| !x || y),
        Formula::Iff(a, b) => binary(a, b, |x, y| x == y),
        Formula::Next(a) => {
            let ta = truth_table(a, atoms, trace);
            (0..n).map(|i| i + 1 < n && ta[i + 1]).collect()
        }
        Formula::Eventually(a) => {
            let ta = truth_table(a, atoms, trace);
            backwards(&|i, next| ta[i] || next == Some(true))
        }
        Formula::Always(a) => {
            let ta = truth_table(a, atoms, trace);
            backwards(&|i, next| ta[i] && next != Some(false))
        }
        Formula::Until(a, b) => {
            let (ta, tb) = (truth_table(a, atoms, trace), truth_table(b, atoms, trace));
            backwards(&|i, next| tb[i] || (ta[i] && next == Some(true)))
        }
        Formula::Release(a, b) => {
            let (ta, tb) = (truth_table(a, atoms, trace), truth_table(b, atoms, trace));
            backwards(&|i, next| tb[i] && (ta[i] || next != Some(false)))
        }
        Formula::WeakUntil(a, b) => {
            let (ta, tb) = (truth_table(a, atoms, trace), truth_table(b, atoms, trace));
            backwards(&|i, next| tb[i] || (ta[i] && next != Some(false)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::ltl::parser::parse;

    /// Evaluates `text` on a trace written as one string of letters per step (`"pq"`, `""`).
    fn eval(text: &str, steps: &[&str]) -> bool {
        let formula = parse(text).unwrap();
        let atoms = AtomTable::new(&formula).unwrap();
        let trace: Vec<u64> = steps
            .iter()
            .map(|letters| {
                letters.chars().fold(0, |bits, c| {
                    let atom = match parse(&c.to_string()).unwrap() {
                        Formula::Atom(a) => a,
                        _ => unreachable!(),
                    };
                    bits | atoms.index_of(&atom).map_or(0, |i| 1 << i)
                })
            })
            .collect();
        evaluate_valuations(&formula, &atoms, &trace).unwrap()
    }

    #[test]
    fn next_is_strong() {
        assert!(!eval("X true", &["p"]));
        assert!(eval("X true", &["p", ""]));
        assert!(eval("!X p", &["p"]));
        assert!(!eval("X !p", &["p"]));
        assert!(eval("X p", &["", "p"]));
    }

    #[test]
    fn operators_at_the_last_step() {
        assert!(eval("G p", &["p"]));
        assert!(!eval("G p", &["p", ""]));
        assert!(eval("F p", &["", "p"]));
        assert!(!eval("F p", &["", ""]));
        assert!(eval("p U q", &["p", "q"]));
        assert!(!eval("p U q", &["p", "p"]));
        assert!(eval("p W q", &["p", "p"]));
        assert!(!eval("p W q", &["p", ""]));
        assert!(eval("p R q", &["q", "q"]));
        assert!(eval("p R q", &["q", "pq", ""]));
        assert!(!eval("p R q", &["q", ""]));
        assert!(eval("G F p", &["", "p"]));
        assert!(!eval("G F p", &["p", ""]));
        assert!(eval("G(p -> X q)", &["", ""]));
        assert!(!eval("G(p -> X q)", &["", "p"]));
    }

    #[test]
    fn empty_trace_has_no_verdict() {
        let f = parse("G p").unwrap();
        let atoms = AtomTable::new(&f).unwrap();
        assert_eq!(evaluate_valuations(&f, &atoms, &[]), None);
    }
}
