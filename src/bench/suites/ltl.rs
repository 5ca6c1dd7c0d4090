//! LTL engine benchmarks: parsing, compilation, monitor steps, whole-trace verification and
//! early decision.
//!
//! Goals (issue 5): monitor throughput ≥ 10,000,000 steps/s for `G(p -> F q)` on one core;
//! verifying a 1000-step trace against any depth-4 formula ≤ 50 µs; parsing a 200-character
//! formula ≤ 20 µs.

use std::hint::black_box;
use std::sync::Arc;

use crate::bench::harness::{BenchmarkId, Harness};
use crate::engines::ltl::{
    ContinuousMonitor, DEFAULT_HORIZON_STEPS, Monitor, MonitorStatus, OnVerdict, State,
    ViolationForecaster, compile, parse, verify,
};
use crate::model::{FieldValue, Value};
use crate::sources::events::ServiceEvents;
use criterion::Throughput;

/// A formula of exactly 200 characters mixing every operator and kind of atom.
const LONG_FORMULA: &str = concat!(
    "G((error & latency > 50) -> F(recovery | status == \"ok\")) & ",
    "(queue_depth <= 3 U (done | retries >= 5)) & G(X p -> (q W r)) & ",
    "(F alarm R !panic) & (mode != \"idle\" <-> X(F(p & q)) | G(ok & stable_stat))"
);

const DEPTH_FOUR: [(&str, &str); 6] = [
    ("response_within_until", "G(p -> X(q U r))"),
    ("recurrence_and_persistence", "G F p & F G(x > 2 | q)"),
    ("nested_until_release", "p U (q R (r W !s))"),
    ("eventually_always_next", "F(p & X G q)"),
    (
        "comparisons",
        "G((x > 2 & status == \"ok\") -> F(x <= 1 | q))",
    ),
    ("iff_next", "G((p <-> X q) | F(r & s))"),
];

fn nested(depth: usize) -> String {
    // G(p0 -> F(p1 & X(p2 U …))): one operator per level, cycling through the kinds.
    let mut text = format!("p{depth}");
    for level in (0..depth).rev() {
        text = match level % 5 {
            0 => format!("G(p{level} -> {text})"),
            1 => format!("F({text})"),
            2 => format!("(p{level} U {text})"),
            3 => format!("X({text} & p{level})"),
            _ => format!("({text} W !p{level})"),
        };
    }
    text
}

fn flags_state(step: usize) -> State {
    // q comes three steps after each p: G(p -> F q) stays undecided throughout.
    let p = step.is_multiple_of(7);
    let q = step % 7 == 3;
    let x = (step % 5) as f64;
    let s = if step.is_multiple_of(3) { "ok" } else { "wait" };
    [
        ("p".to_string(), FieldValue::Bool(p)),
        ("q".to_string(), FieldValue::Bool(q)),
        ("r".to_string(), FieldValue::Bool(step % 4 == 1)),
        ("s".to_string(), FieldValue::Bool(step % 6 == 5)),
        ("x".to_string(), FieldValue::Number(x)),
        ("status".to_string(), FieldValue::Text(s.to_string())),
    ]
    .into_iter()
    .collect()
}

fn trace(len: usize) -> Vec<State> {
    (0..len).map(flags_state).collect()
}

fn bench_parse(c: &mut Harness<'_>) {
    if !c.wants_group("parse") {
        return;
    }
    let mut group = c.benchmark_group("parse");
    assert_eq!(LONG_FORMULA.len(), 200);
    let cases = [
        ("simple", "p".to_string()),
        ("safety", "G(latency < 50)".to_string()),
        ("liveness", "G(error -> F recovery)".to_string()),
        ("complex_200_chars", LONG_FORMULA.to_string()),
    ];
    for (name, text) in &cases {
        group.bench_function(*name, |b| b.iter(|| parse(black_box(text)).unwrap()));
    }
    for depth in 1..=10 {
        let text = nested(depth);
        group.bench_with_input(BenchmarkId::new("nested", depth), &text, |b, text| {
            b.iter(|| parse(black_box(text)).unwrap())
        });
    }
    group.finish();
}

fn bench_compile(c: &mut Harness<'_>) {
    if !c.wants_group("compile") {
        return;
    }
    let mut group = c.benchmark_group("compile");
    let mut cases: Vec<(String, String)> = vec![
        ("safety".into(), "G(latency < 50)".into()),
        ("liveness".into(), "G(error -> F recovery)".into()),
        ("complex_200_chars".into(), LONG_FORMULA.into()),
    ];
    for (name, text) in DEPTH_FOUR {
        cases.push((format!("depth4_{name}"), text.into()));
    }
    for depth in [1, 5, 10] {
        cases.push((format!("nested_{depth}"), nested(depth)));
    }
    for (name, text) in &cases {
        let formula = parse(text).unwrap();
        group.bench_function(name.as_str(), |b| {
            b.iter(|| compile(black_box(&formula)).unwrap())
        });
    }
    group.finish();
}

fn bench_steps(c: &mut Harness<'_>) {
    if !c.wants_group("monitor_step") {
        return;
    }
    let mut group = c.benchmark_group("monitor_step");
    let automaton = Arc::new(compile(&parse("G(p -> F q)").unwrap()).unwrap());
    let states = trace(1000);
    group.throughput(Throughput::Elements(states.len() as u64));
    group.bench_function("G(p -> F q)/state_map", |b| {
        let mut monitor = Monitor::new(Arc::clone(&automaton));
        b.iter(|| {
            for state in &states {
                black_box(monitor.step(black_box(state)));
            }
        })
    });
    let bits: Vec<u64> = (0..1000u64)
        .map(|i| (i % 7 == 0) as u64 | (((i % 7 == 3) as u64) << 1))
        .collect();
    group.bench_function("G(p -> F q)/atom_bits", |b| {
        let mut monitor = Monitor::new(Arc::clone(&automaton));
        b.iter(|| {
            for &v in &bits {
                black_box(monitor.step_valuation(black_box(v)));
            }
        })
    });
    group.finish();
}

/// Compiles `text` and runs a monitor over every state: the whole job of `check` minus I/O.
fn verify_whole(text: &str, states: &[State]) -> bool {
    let automaton = Arc::new(compile(&parse(text).unwrap()).unwrap());
    let mut monitor = Monitor::new(automaton);
    for state in states {
        monitor.step(state);
    }
    monitor.verdict().is_some_and(|v| v.holds_if_ended)
}

fn bench_verify(c: &mut Harness<'_>) {
    let mut group = c.benchmark_group("verify");
    let states = trace(1000);
    for len in [10usize, 100, 1000] {
        group.throughput(Throughput::Elements(len as u64));
        group.bench_with_input(BenchmarkId::new("G(p -> F q)", len), &len, |b, &len| {
            b.iter(|| verify_whole(black_box("G(p -> F q)"), &states[..len]))
        });
    }
    // A million steps: the 1000 states over and over (kept small so the bench fits in memory).
    group.sample_size(10);
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function(BenchmarkId::new("G(p -> F q)", 1_000_000), |b| {
        b.iter(|| {
            let automaton = Arc::new(compile(&parse("G(p -> F q)").unwrap()).unwrap());
            let mut monitor = Monitor::new(automaton);
            for _ in 0..1000 {
                for state in &states {
                    monitor.step(state);
                }
            }
            monitor.verdict().map(|v| v.holds_if_ended)
        })
    });
    group.finish();

    // The goal: a 1000-step trace against depth-4 formulas, parse and compile included.
    let mut group = c.benchmark_group("verify_depth4_1000_steps");
    group.throughput(Throughput::Elements(1000));
    for (name, text) in DEPTH_FOUR {
        assert_eq!(parse(text).unwrap().depth(), 4, "{text}");
        group.bench_function(name, |b| b.iter(|| verify_whole(black_box(text), &states)));
    }
    group.finish();

    // The same with the monitor compiled once, as `check` and the pipeline use it.
    let mut group = c.benchmark_group("run_depth4_1000_steps");
    group.throughput(Throughput::Elements(1000));
    for (name, text) in DEPTH_FOUR {
        let automaton = Arc::new(compile(&parse(text).unwrap()).unwrap());
        let mut monitor = Monitor::new(automaton);
        group.bench_function(name, |b| {
            b.iter(|| {
                monitor.reset();
                for state in &states {
                    monitor.step(black_box(state));
                }
                monitor.verdict()
            })
        });
    }
    group.finish();
}

fn bench_early_decision(c: &mut Harness<'_>) {
    if !c.wants_group("early_decision") {
        return;
    }
    let mut group = c.benchmark_group("early_decision");
    // A million-step trace whose latency breaks the bound at step 100: verification stops there.
    let ok: State = [("latency".to_string(), FieldValue::Number(12.0))]
        .into_iter()
        .collect();
    let slow: State = [("latency".to_string(), FieldValue::Number(80.0))]
        .into_iter()
        .collect();
    let mut states = vec![ok; 1_000_000];
    states[100] = slow;
    let automaton = Arc::new(compile(&parse("G(latency < 50)").unwrap()).unwrap());
    let verdict = verify(&automaton, &states).unwrap();
    assert_eq!(
        (verdict.status, verdict.decided_at),
        (MonitorStatus::Violated, Some(100))
    );
    group.bench_function("G(latency < 50)/violated_at_100_of_1e6", |b| {
        b.iter(|| verify(&automaton, black_box(&states)).unwrap())
    });
    group.finish();
}

/// The demo's `events` records (seed 1), as the live monitors see them.
fn demo_events(len: usize) -> Vec<State> {
    use rand::SeedableRng;
    let mut events = ServiceEvents::new(rand_chacha::ChaCha8Rng::seed_from_u64(1));
    (0..len)
        .filter_map(|_| match events.next_event().to_value() {
            Value::Fields(fields) => Some(fields),
            _ => None,
        })
        .collect()
}

/// The cost of the violation forecast per record against the plain continuous monitor, in
/// the same run: the monitor alone; with the model learning every record; and with a K = 10
/// forecast after every record too (what `check --predict 10` does; the live pane forecasts
/// once per batch). The model first learns from 20,000 records, so its size is the steady one.
fn bench_predict(c: &mut Harness<'_>) {
    if !c.wants_group("predict_step") {
        return;
    }
    let mut group = c.benchmark_group("predict_step");
    let text = "G(error -> F(!error & !retry))";
    let automaton = Arc::new(compile(&parse(text).unwrap()).unwrap());
    let warm = demo_events(21_000);
    let (warm_up, states) = warm.split_at(20_000);
    let mut monitor = ContinuousMonitor::new(Arc::clone(&automaton), OnVerdict::Restart, None);
    let mut forecaster = ViolationForecaster::new(DEFAULT_HORIZON_STEPS);
    for state in warm_up {
        let (_, bits) = monitor.step_reporting_valuation(state);
        forecaster.observe(state, bits);
    }
    group.throughput(Throughput::Elements(states.len() as u64));
    group.bench_function("monitor_only", |b| {
        let mut monitor = monitor.clone();
        b.iter(|| {
            for state in states {
                black_box(monitor.step(black_box(state)));
            }
        })
    });
    group.bench_function("monitor_and_model", |b| {
        let mut monitor = monitor.clone();
        let mut forecaster = forecaster.clone();
        b.iter(|| {
            for state in states {
                let (_, bits) = monitor.step_reporting_valuation(black_box(state));
                forecaster.observe(state, bits);
            }
        })
    });
    group.bench_function("monitor_model_and_forecast_k10", |b| {
        let mut monitor = monitor.clone();
        let mut forecaster = forecaster.clone();
        b.iter(|| {
            for state in states {
                let (_, bits) = monitor.step_reporting_valuation(black_box(state));
                forecaster.observe(state, bits);
                black_box(forecaster.probability(&monitor));
            }
        })
    });
    group.finish();
}

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    bench_predict(c);
    bench_parse(c);
    bench_compile(c);
    bench_steps(c);
    bench_verify(c);
    bench_early_decision(c);
}
