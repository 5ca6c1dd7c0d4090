//! The LTL engine against verdicts computed elsewhere: `scripts/make_ltl_fixtures.py` writes them
//! with a textbook evaluator in Python cross-checked against flloat 0.3.0 (verdicts), and with
//! flloat's minimal DFA (online statuses).

use std::sync::Arc;

use midstream::engines::ltl::semantics::evaluate;
use midstream::engines::ltl::{Monitor, MonitorStatus, State, compile, parse};
use midstream::model::FieldValue;
use serde_json::Value;

use crate::common::fixtures;

fn rows(name: &str) -> Vec<Value> {
    fixtures::json_lines(&format!("ltl/{name}"))
}

fn state(object: &Value) -> State {
    object
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::Bool(b) => FieldValue::Bool(*b),
                Value::Number(n) => FieldValue::Number(n.as_f64().unwrap()),
                Value::String(s) => FieldValue::Text(s.clone()),
                other => panic!("unexpected value {other}"),
            };
            (k.clone(), value)
        })
        .collect()
}

fn status(name: &str) -> MonitorStatus {
    match name {
        "satisfied" => MonitorStatus::Satisfied,
        "violated" => MonitorStatus::Violated,
        "undecided" => MonitorStatus::Undecided,
        other => panic!("unknown status {other}"),
    }
}

#[test]
fn verdicts_agree_with_flloat_and_the_textbook() {
    let rows = rows("random_pairs.jsonl");
    assert!(rows.len() >= 1000, "only {} pairs", rows.len());
    let mut prefixes = 0;
    for row in &rows {
        let text = row["formula"].as_str().unwrap();
        let formula = parse(text).unwrap_or_else(|e| panic!("{}", e.render()));
        let automaton = Arc::new(compile(&formula).unwrap());
        let trace: Vec<State> = row["trace"].as_array().unwrap().iter().map(state).collect();
        let expected: Vec<bool> = row["prefix_verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_bool().unwrap())
            .collect();
        assert_eq!(expected.len(), trace.len());
        let mut monitor = Monitor::new(Arc::clone(&automaton));
        for (k, s) in trace.iter().enumerate() {
            let verdict = monitor.step(s);
            assert_eq!(
                verdict.holds_if_ended,
                expected[k],
                "{text} on the first {} steps of {}",
                k + 1,
                row["trace"]
            );
            prefixes += 1;
        }
        assert_eq!(
            evaluate(&formula, automaton.atoms(), &trace),
            row["verdict"].as_bool()
        );
    }
    assert!(prefixes > 10_000, "{prefixes}");
}

#[test]
fn online_statuses_agree_with_flloats_automaton() {
    let rows = rows("online_status.jsonl");
    assert!(rows.len() >= 250, "only {} rows", rows.len());
    let mut seen = [0usize; 3];
    for row in &rows {
        let text = row["formula"].as_str().unwrap();
        let mut monitor = Monitor::from_text(text).unwrap();
        let steps = row["steps"].as_array().unwrap();
        for (k, (s, step)) in row["trace"]
            .as_array()
            .unwrap()
            .iter()
            .zip(steps)
            .enumerate()
        {
            let verdict = monitor.step(&state(s));
            let want = status(step["status"].as_str().unwrap());
            assert_eq!(
                verdict.status, want,
                "{text} after step {k} of {}",
                row["trace"]
            );
            assert_eq!(
                verdict.holds_if_ended,
                step["holds_if_ended"].as_bool().unwrap()
            );
            seen[want as usize] += 1;
        }
        let decided = row["decided_at"].as_u64();
        assert_eq!(monitor.verdict().unwrap().decided_at, decided, "{text}");
    }
    assert!(seen.iter().all(|&n| n > 50), "statuses seen: {seen:?}");
}
