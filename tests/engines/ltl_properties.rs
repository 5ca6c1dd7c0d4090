//! Property tests of the LTL engine: the online monitor against two direct evaluators of the
//! LTLf semantics, the printer against the parser, and the online status against the future.

use std::sync::Arc;

use midstream::engines::ltl::semantics::evaluate;
use midstream::engines::ltl::{
    Atom, AtomTable, AtomTest, CompareOp, Formula, Literal, Monitor, MonitorStatus, State, compile,
    evaluate_atom, parse,
};
use midstream::model::FieldValue;
use proptest::prelude::*;

fn atom_pool() -> Vec<Atom> {
    let cmp = |field: &str, op, value| Atom {
        field: field.to_string(),
        test: AtomTest::Compare { op, value },
    };
    let bare = |field: &str| Atom {
        field: field.to_string(),
        test: AtomTest::Truthy,
    };
    vec![
        bare("p"),
        bare("q"),
        bare("r"),
        cmp("x", CompareOp::Gt, Literal::Number(2.0)),
        cmp("x", CompareOp::Le, Literal::Number(1.0)),
        cmp("x", CompareOp::Eq, Literal::Number(3.0)),
        cmp("s", CompareOp::Eq, Literal::Text("ok".into())),
        cmp("s", CompareOp::Ne, Literal::Text("err".into())),
        cmp("p", CompareOp::Eq, Literal::Bool(false)),
    ]
}

fn formula_strategy(depth: u32) -> impl Strategy<Value = Formula> {
    let leaf = prop_oneof![
        8 => prop::sample::select(atom_pool()).prop_map(Formula::Atom),
        1 => Just(Formula::True),
        1 => Just(Formula::False),
    ];
    leaf.prop_recursive(depth, 64, 2, |inner| {
        let b = |f: Formula| Box::new(f);
        prop_oneof![
            inner.clone().prop_map(move |a| Formula::Not(b(a))),
            inner.clone().prop_map(move |a| Formula::Next(b(a))),
            inner.clone().prop_map(move |a| Formula::Eventually(b(a))),
            inner.clone().prop_map(move |a| Formula::Always(b(a))),
            (inner.clone(), inner.clone()).prop_map(move |(a, c)| Formula::And(b(a), b(c))),
            (inner.clone(), inner.clone()).prop_map(move |(a, c)| Formula::Or(b(a), b(c))),
            (inner.clone(), inner.clone()).prop_map(move |(a, c)| Formula::Implies(b(a), b(c))),
            (inner.clone(), inner.clone()).prop_map(move |(a, c)| Formula::Iff(b(a), b(c))),
            (inner.clone(), inner.clone()).prop_map(move |(a, c)| Formula::Until(b(a), b(c))),
            (inner.clone(), inner.clone()).prop_map(move |(a, c)| Formula::Release(b(a), b(c))),
            (inner.clone(), inner).prop_map(move |(a, c)| Formula::WeakUntil(b(a), b(c))),
        ]
    })
}

const EXTRA_FIELDS: [&str; 12] = [
    "", "a", "pa", "p.q", "qq", "q_", "ra", "s2", "sa", "x0", "xx", "~",
];

fn value_strategy() -> impl Strategy<Value = Option<FieldValue>> {
    prop_oneof![
        3 => any::<bool>().prop_map(|b| Some(FieldValue::Bool(b))),
        3 => (-1i32..5).prop_map(|k| Some(FieldValue::Number(f64::from(k)))),
        1 => Just(Some(FieldValue::Number(2.5))),
        2 => prop::sample::select(vec!["ok", "err", "wait"])
            .prop_map(|s| Some(FieldValue::Text(s.to_string()))),
        2 => Just(None),
    ]
}

/// States over the formulas' fields and, now and then, others that sort between and around them
/// (so both ways of reading a state, a merged walk and lookups, are exercised).
fn state_strategy() -> impl Strategy<Value = State> {
    prop::collection::vec(value_strategy(), 5 + EXTRA_FIELDS.len()).prop_map(|values| {
        ["p", "q", "r", "x", "s"]
            .iter()
            .chain(EXTRA_FIELDS.iter())
            .zip(values)
            .filter_map(|(name, value)| value.map(|v| (name.to_string(), v)))
            .collect()
    })
}

/// The textbook definitions, quantifiers and all, on positions `i..n` (O(n²) per operator).
fn textbook(f: &Formula, trace: &[State], i: usize) -> bool {
    let n = trace.len();
    match f {
        Formula::True => true,
        Formula::False => false,
        Formula::Atom(atom) => evaluate_atom(atom, trace[i].get(&atom.field)).holds(),
        Formula::Not(a) => !textbook(a, trace, i),
        Formula::And(a, b) => textbook(a, trace, i) && textbook(b, trace, i),
        Formula::Or(a, b) => textbook(a, trace, i) || textbook(b, trace, i),
        Formula::Implies(a, b) => !textbook(a, trace, i) || textbook(b, trace, i),
        Formula::Iff(a, b) => textbook(a, trace, i) == textbook(b, trace, i),
        Formula::Next(a) => i + 1 < n && textbook(a, trace, i + 1),
        Formula::Eventually(a) => (i..n).any(|j| textbook(a, trace, j)),
        Formula::Always(a) => (i..n).all(|j| textbook(a, trace, j)),
        Formula::Until(a, b) => {
            (i..n).any(|j| textbook(b, trace, j) && (i..j).all(|k| textbook(a, trace, k)))
        }
        Formula::Release(a, b) => {
            (i..n).all(|j| textbook(b, trace, j) || (i..j).any(|k| textbook(a, trace, k)))
        }
        Formula::WeakUntil(a, b) => {
            (i..n).any(|j| textbook(b, trace, j) && (i..j).all(|k| textbook(a, trace, k)))
                || (i..n).all(|j| textbook(a, trace, j))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// After every step, the monitor's "verdict if the trace ended now" is the LTLf verdict on
    /// the prefix, by both direct evaluators; a decided status holds for the rest of the trace.
    #[test]
    fn monitor_agrees_with_the_semantics(
        formula in formula_strategy(5),
        trace in prop::collection::vec(state_strategy(), 1..24),
    ) {
        let automaton = Arc::new(compile(&formula).unwrap());
        let atoms = AtomTable::new(&formula).unwrap();
        let mut monitor = Monitor::new(Arc::clone(&automaton));
        let mut decided: Option<(MonitorStatus, u64)> = None;
        for k in 0..trace.len() {
            let verdict = monitor.step(&trace[k]);
            let prefix = &trace[..=k];
            let expected = textbook(&formula, prefix, 0);
            prop_assert_eq!(evaluate(&formula, &atoms, prefix), Some(expected));
            prop_assert_eq!(verdict.holds_if_ended, expected, "{} on {} steps", formula, k + 1);
            match (decided, verdict.status) {
                (None, MonitorStatus::Undecided) => prop_assert_eq!(verdict.decided_at, None),
                (None, status) => {
                    prop_assert_eq!(verdict.decided_at, Some(k as u64));
                    decided = Some((status, k as u64));
                }
                (Some((status, at)), now) => {
                    prop_assert_eq!(now, status);
                    prop_assert_eq!(verdict.decided_at, Some(at));
                }
            }
            if let Some((status, _)) = decided {
                prop_assert_eq!(expected, status == MonitorStatus::Satisfied);
            }
        }
    }

    /// A decided status is a promise about every continuation: try many.
    #[test]
    fn decided_status_holds_for_any_continuation(
        formula in formula_strategy(4),
        prefix in prop::collection::vec(state_strategy(), 1..6),
        continuations in prop::collection::vec(prop::collection::vec(state_strategy(), 1..8), 8),
    ) {
        let mut monitor = Monitor::new(Arc::new(compile(&formula).unwrap()));
        let mut last = None;
        for state in &prefix {
            last = Some(monitor.step(state));
        }
        let status = last.map(|v| v.status);
        if let Some(status @ (MonitorStatus::Satisfied | MonitorStatus::Violated)) = status {
            for continuation in &continuations {
                let trace: Vec<State> = prefix.iter().chain(continuation).cloned().collect();
                prop_assert_eq!(
                    textbook(&formula, &trace, 0),
                    status == MonitorStatus::Satisfied,
                    "{} decided {:?}", formula, status
                );
            }
        }
    }

    /// The printer writes what the parser reads back to the same tree.
    #[test]
    fn display_round_trips(formula in formula_strategy(6)) {
        let text = formula.to_string();
        let parsed = parse(&text);
        prop_assert!(parsed.is_ok(), "{} does not parse: {:?}", text, parsed);
        prop_assert_eq!(parsed.unwrap(), formula);
    }
}

/// Random depth-4 formulas compile into small automata.
#[test]
fn depth_four_automata_stay_small() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = formula_strategy(4);
    let mut largest = (0, String::new());
    for _ in 0..2000 {
        let formula = strategy.new_tree(&mut runner).unwrap().current();
        if std::env::var("LTL_DEBUG").is_ok() {
            eprintln!("{formula}");
        }
        let automaton = compile(&formula).unwrap();
        if automaton.state_count() > largest.0 {
            largest = (automaton.state_count(), formula.to_string());
        }
    }
    eprintln!(
        "largest depth-4 automaton: {} states for {}",
        largest.0, largest.1
    );
    assert!(largest.0 < 1000, "{largest:?}");
}
