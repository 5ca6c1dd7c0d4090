//! The LTLf formula parser on arbitrary text; a formula that parses is printed and parsed again,
//! compiled, and monitored over a few states checked against the reference semantics.
//!
//! Input: `formula [\0 state bytes]`: the UTF-8 text before the first NUL byte is the formula;
//! the bytes after it choose the states (the formula's fields set to its own literals, nearby
//! numbers, booleans, or missing), through `arbitrary::Unstructured`.
//!
//! Checked: a parse error points inside the formula, at whole characters; a parsed formula
//! is at most `MAX_FORMULA_DEPTH` deep and its printed form parses back to the same formula
//! (the printer's documented promise); for a formula of at most ten temporal operators, the
//! monitor's verdict after every step equals `semantics::evaluate` on the states so far, a
//! decided status never changes, and it agrees with every later verdict (satisfied: true from
//! then on, violated: false from then on).
#![no_main]

use std::sync::Arc;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use midstream::engines::ltl::parser::MAX_FORMULA_DEPTH;
use midstream::engines::ltl::semantics;
use midstream::engines::ltl::{
    AtomTest, CompileError, Formula, Literal, Monitor, MonitorStatus, State, compile, parse,
};
use midstream::model::FieldValue;

/// The values a field may take in a state: the formula's literals, numbers next to them, and a
/// few of every type.
fn candidates(formula: &Formula) -> Vec<FieldValue> {
    let mut values = vec![
        FieldValue::Number(0.0),
        FieldValue::Number(1.0),
        FieldValue::Number(-1.0),
        FieldValue::Number(f64::NAN),
        FieldValue::Bool(true),
        FieldValue::Bool(false),
        FieldValue::Text(String::new()),
    ];
    formula.for_each_atom(&mut |atom| {
        if let AtomTest::Compare { value, .. } = &atom.test {
            match value {
                Literal::Number(x) => {
                    values.push(FieldValue::Number(*x));
                    values.push(FieldValue::Number(x - 0.5));
                    values.push(FieldValue::Number(x + 0.5));
                }
                Literal::Text(s) => values.push(FieldValue::Text(s.clone())),
                Literal::Bool(b) => values.push(FieldValue::Bool(*b)),
            }
        }
    });
    values
}

fn states(u: &mut Unstructured<'_>, fields: &[String], values: &[FieldValue]) -> Vec<State> {
    let steps = u.int_in_range(1..=8).unwrap_or(1);
    (0..steps)
        .map(|_| {
            let mut state = Vec::new();
            for field in fields {
                // Index `values.len()`: the field is missing.
                let pick = u.choose_index(values.len() + 1).unwrap_or(0);
                if let Some(value) = values.get(pick) {
                    state.push((field.as_str(), value.clone()));
                }
            }
            state.into_iter().collect::<State>()
        })
        .collect()
}

/// The most temporal operators (`X F G U R W`) of a formula that is compiled and monitored.
const MAX_TEMPORAL_OPERATORS: usize = 24;

fn temporal_operators(formula: &Formula) -> usize {
    match formula {
        Formula::True | Formula::False | Formula::Atom(_) => 0,
        Formula::Not(a) => temporal_operators(a),
        Formula::Next(a) | Formula::Eventually(a) | Formula::Always(a) => 1 + temporal_operators(a),
        Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) | Formula::Iff(a, b) => {
            temporal_operators(a) + temporal_operators(b)
        }
        Formula::Until(a, b) | Formula::Release(a, b) | Formula::WeakUntil(a, b) => {
            1 + temporal_operators(a) + temporal_operators(b)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (text, rest) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let formula = match parse(text) {
        Ok(formula) => formula,
        Err(e) => {
            // The offending token lies in the text, whole characters of it.
            let end = e.offset + e.len;
            assert!(
                end <= text.len() && text.is_char_boundary(e.offset),
                "{e:?}"
            );
            assert!(text.is_char_boundary(end), "{e:?}");
            assert!(e.line >= 1 && e.column >= 1);
            let _ = e.render();
            return;
        }
    };
    assert!(
        formula.depth() <= MAX_FORMULA_DEPTH,
        "depth {}",
        formula.depth()
    );

    let printed = formula.to_string();
    match parse(&printed) {
        Ok(again) => assert_eq!(again, formula, "{text:?} printed as {printed:?}"),
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }

    // `compile` refuses past `MAX_COMPILE_STEPS` of work (well under a second in a release
    // build), so every formula is compiled; its error must be one of the size limits. The cap
    // on temporal operators only keeps the sanitized build's executions per second up.
    if temporal_operators(&formula) > MAX_TEMPORAL_OPERATORS {
        return;
    }
    let automaton = match compile(&formula) {
        Ok(automaton) => automaton,
        Err(CompileError::TooLarge { .. } | CompileError::TooManyAtoms(_)) => return,
    };
    let automaton = Arc::new(automaton);
    let atoms = automaton.atoms();
    let fields: Vec<String> = atoms.field_names().map(str::to_owned).collect();
    let values = candidates(&formula);
    let mut u = Unstructured::new(rest);
    let trace = states(&mut u, &fields, &values);

    let mut monitor = Monitor::new(Arc::clone(&automaton));
    let mut decided: Option<(MonitorStatus, u64)> = None;
    for (i, state) in trace.iter().enumerate() {
        let verdict = monitor.step(state);
        assert_eq!(verdict.step, i as u64);
        let reference = semantics::evaluate(&formula, atoms, &trace[..=i]);
        assert_eq!(
            Some(verdict.holds_if_ended),
            reference,
            "{printed:?} after step {i} of {trace:?}"
        );
        match decided {
            Some((status, at)) => {
                assert_eq!(
                    verdict.status, status,
                    "{printed:?}: a decided status changed"
                );
                assert_eq!(verdict.decided_at, Some(at));
            }
            None if verdict.status != MonitorStatus::Undecided => {
                assert_eq!(verdict.decided_at, Some(i as u64));
                decided = Some((verdict.status, i as u64));
            }
            None => assert_eq!(verdict.decided_at, None),
        }
        match verdict.status {
            MonitorStatus::Satisfied => assert!(verdict.holds_if_ended, "{printed:?}"),
            MonitorStatus::Violated => assert!(!verdict.holds_if_ended, "{printed:?}"),
            MonitorStatus::Undecided => {}
        }
    }
    assert_eq!(monitor.steps(), trace.len() as u64);
});
