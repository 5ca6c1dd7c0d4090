//! The built-in generators: Lorenz against an independent RK4 integration, determinism by
//! seed, and the qualitative behaviour each generator promises.

use std::collections::BTreeMap;

use midstream::model::{ChannelKind, FieldValue, Record, Value};
use midstream::sources::tokens::{SENTENCE_END, VOCABULARY};
use midstream::sources::{DemoSource, GENERATOR_NAMES};

use crate::common::fixtures;

/// Largest |Rust − numpy| allowed on the Lorenz fixture. The two RK4 implementations differ
/// only in floating-point rounding order (≈ 1e-15 per step); over the 25 model time units the
/// comparison spans (10 of transient, 15 published) the largest Lyapunov exponent, 0.906 per
/// time unit, amplifies that to at most ≈ 1e-15 · e^{0.906·25} ≈ 7e-6 in the worst direction,
/// while any error in the equations, the parameters or the step shows up at the scale of the
/// attractor (≥ 1e-2 within a few samples).
const LORENZ_FIXTURE_TOLERANCE: f64 = 1e-5;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn all_generators() -> Vec<String> {
    names(&GENERATOR_NAMES)
}

/// `ticks` ticks of `source`, grouped by channel name.
fn run(source: &mut DemoSource, ticks: usize) -> BTreeMap<String, Vec<Record>> {
    let mut out = Vec::new();
    for _ in 0..ticks {
        source.tick(&mut out);
    }
    let mut by_name: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for record in out {
        let name = source
            .catalog()
            .channel(record.channel)
            .unwrap()
            .name
            .clone();
        by_name.entry(name).or_default().push(record);
    }
    by_name
}

fn scalars(records: &[Record]) -> Vec<f64> {
    records
        .iter()
        .map(|r| match &r.value {
            Value::Scalar(x) => *x,
            other => panic!("expected a scalar, got {other:?}"),
        })
        .collect()
}

fn read_lorenz_fixture() -> Vec<(u64, [f64; 3])> {
    fixtures::text("sources/lorenz_rk4.csv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("seq"))
        .map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 4, "bad fixture line {line:?}");
            let num = |s: &str| s.parse::<f64>().expect("fixture number");
            (
                cols[0].parse().expect("fixture seq"),
                [num(cols[1]), num(cols[2]), num(cols[3])],
            )
        })
        .collect()
}

#[test]
fn lorenz_matches_an_independent_rk4_integration() {
    let fixture = read_lorenz_fixture();
    assert_eq!(fixture.len(), 1500);
    let mut source = DemoSource::new(&names(&["lorenz"]), 99).unwrap();
    let channels = run(&mut source, fixture.len());
    let vectors = &channels["lorenz"];
    let xs = scalars(&channels["lorenz.x"]);
    let mut worst = 0.0_f64;
    for (i, (seq, expected)) in fixture.iter().enumerate() {
        assert_eq!(vectors[i].seq, *seq);
        let Value::Vector(got) = &vectors[i].value else {
            panic!("lorenz record {i} is not a vector");
        };
        assert_eq!(got.len(), 3);
        for d in 0..3 {
            let err = (got[d] - expected[d]).abs();
            worst = worst.max(err);
            assert!(
                err < LORENZ_FIXTURE_TOLERANCE,
                "seq {seq} component {d}: got {}, numpy {}, difference {err:e}",
                got[d],
                expected[d]
            );
        }
        assert_eq!(xs[i], got[0], "lorenz.x must be the vector's x");
    }
    eprintln!("largest difference from the numpy RK4: {worst:e}");
}

#[test]
fn lorenz_catalog_and_sample_period() {
    let source = DemoSource::new(&names(&["lorenz"]), 1).unwrap();
    let catalog = source.catalog();
    assert_eq!(catalog.channels.len(), 2);
    assert_eq!(catalog.channels[0].name, "lorenz");
    assert_eq!(catalog.channels[0].kind, ChannelKind::Vector { dims: 3 });
    assert_eq!(catalog.channels[1].name, "lorenz.x");
    assert_eq!(catalog.channels[1].kind, ChannelKind::Scalar);
    assert_eq!(catalog.channels[0].period_s, Some(0.01));
}

#[test]
fn same_seed_same_stream_other_seed_other_randomness() {
    let a = run(&mut DemoSource::new(&all_generators(), 42).unwrap(), 3000);
    let b = run(&mut DemoSource::new(&all_generators(), 42).unwrap(), 3000);
    assert_eq!(a, b);
    let c = run(&mut DemoSource::new(&all_generators(), 43).unwrap(), 3000);
    for random in ["noise", "events", "tokens"] {
        assert_ne!(a[random], c[random], "{random} ignores the seed");
    }
    // Flows and maps are deterministic systems: the seed does not move them.
    for fixed in ["lorenz", "rossler", "henon", "logistic", "sine"] {
        assert_eq!(a[fixed], c[fixed], "{fixed} changed with the seed");
    }
}

#[test]
fn a_generator_does_not_depend_on_the_others() {
    let alone = run(&mut DemoSource::new(&names(&["events"]), 5).unwrap(), 2000);
    let among = run(
        &mut DemoSource::new(&names(&["tokens", "noise", "events"]), 5).unwrap(),
        2000,
    );
    let values = |m: &BTreeMap<String, Vec<Record>>| -> Vec<Value> {
        m["events"].iter().map(|r| r.value.clone()).collect()
    };
    assert_eq!(values(&alone), values(&among));
}

#[test]
fn every_channel_carries_values_of_its_kind_with_consecutive_seq() {
    let mut source = DemoSource::new(&all_generators(), 1).unwrap();
    let catalog = source.catalog().clone();
    let channels = run(&mut source, 500);
    assert_eq!(channels.len(), catalog.channels.len());
    for info in &catalog.channels {
        let records = &channels[&info.name];
        assert_eq!(records.len(), 500);
        for (k, r) in records.iter().enumerate() {
            assert_eq!(r.seq, k as u64);
            assert_eq!(r.t_ns, (k as f64 * 1e9 / 200.0).round() as u64);
            let fits = match (&info.kind, &r.value) {
                (ChannelKind::Scalar, Value::Scalar(x)) => x.is_finite(),
                (ChannelKind::Vector { dims }, Value::Vector(v)) => {
                    v.len() == *dims as usize && v.iter().all(|x| x.is_finite())
                }
                (ChannelKind::Event { fields }, Value::Fields(m)) => {
                    m.len() == fields.len() && fields.iter().all(|f| m.contains_key(f))
                }
                (ChannelKind::Text, Value::Token(t)) => !t.is_empty(),
                _ => false,
            };
            assert!(
                fits,
                "{}: {:?} does not fit {:?}",
                info.name, r.value, info.kind
            );
        }
    }
}

#[test]
fn henon_stays_on_its_bounded_attractor() {
    let mut source = DemoSource::new(&names(&["henon"]), 1).unwrap();
    let channels = run(&mut source, 200_000);
    for r in &channels["henon"] {
        let Value::Vector(v) = &r.value else { panic!() };
        // The attractor spans x ∈ [−1.285, 1.273], |y| < 0.386 (2·10⁶ iterations with numpy).
        assert!(
            v[0].abs() < 1.3 && v[1].abs() < 0.39,
            "left the attractor: {v:?}"
        );
    }
    let xs = scalars(&channels["henon.x"]);
    // Not collapsed onto a fixed point or a short cycle.
    let distinct = xs[..1000]
        .iter()
        .map(|x| x.to_bits())
        .collect::<std::collections::BTreeSet<_>>();
    assert!(distinct.len() > 990);
}

#[test]
fn logistic_r4_fills_the_unit_interval_with_its_invariant_density() {
    let mut source = DemoSource::new(&names(&["logistic"]), 1).unwrap();
    let xs = scalars(&run(&mut source, 1_000_000)["logistic"]);
    assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
    // The invariant density 1/(π√(x(1−x))) has mean 1/2, variance 1/8, and puts
    // (2/π)·asin(√0.1) = 20.48 % of the mass in [0, 0.1] (Ulam & von Neumann 1947).
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let low = xs.iter().filter(|x| **x <= 0.1).count() as f64 / n;
    assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    assert!((var - 0.125).abs() < 0.005, "variance {var}");
    let expected_low = 2.0 / std::f64::consts::PI * 0.1_f64.sqrt().asin();
    assert!(
        (low - expected_low).abs() < 0.005,
        "mass in [0, 0.1]: {low}"
    );
}

#[test]
fn logistic_r35_settles_on_its_four_cycle() {
    let mut source = DemoSource::new(&names(&["logistic:3.5"]), 1).unwrap();
    assert_eq!(source.catalog().channels[0].name, "logistic:3.5");
    let xs = scalars(&run(&mut source, 100)["logistic:3.5"]);
    for k in 0..96 {
        assert!((xs[k + 4] - xs[k]).abs() < 1e-9);
    }
    // …and not a fixed point or a 2-cycle: the 4-cycle of r = 3.5 is
    // {0.3828, 0.5009, 0.8269, 0.8750} (May 1976).
    let mut cycle: Vec<f64> = xs[..4].to_vec();
    cycle.sort_by(f64::total_cmp);
    let expected = [0.382_819_7, 0.500_884_2, 0.826_940_7, 0.874_997_3];
    for (got, want) in cycle.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "cycle {cycle:?}");
    }
}

#[test]
fn rossler_and_sine_behave() {
    let mut source = DemoSource::new(&names(&["rossler", "sine"]), 1).unwrap();
    let channels = run(&mut source, 50_000);
    for r in &channels["rossler"] {
        let Value::Vector(v) = &r.value else { panic!() };
        assert!(v[0].abs() < 15.0 && v[1].abs() < 15.0 && (0.0..30.0).contains(&v[2]));
    }
    let sine = scalars(&channels["sine"]);
    for k in 0..sine.len() - 50 {
        assert!((sine[k + 50] - sine[k]).abs() < 1e-12);
    }
    let peak = sine.iter().cloned().fold(f64::MIN, f64::max);
    assert!((peak - 1.0).abs() < 1e-2);
}

fn field<'a>(r: &'a Record, name: &str) -> &'a FieldValue {
    let Value::Fields(m) = &r.value else {
        panic!("not an event: {:?}", r.value)
    };
    &m[name]
}

fn flag(r: &Record, name: &str) -> bool {
    match field(r, name) {
        FieldValue::Bool(b) => *b,
        other => panic!("{name} is not a bool: {other:?}"),
    }
}

fn number(r: &Record, name: &str) -> f64 {
    match field(r, name) {
        FieldValue::Number(x) => *x,
        other => panic!("{name} is not a number: {other:?}"),
    }
}

#[test]
fn events_have_bursts_and_errors_that_mostly_recover() {
    let mut source = DemoSource::new(&names(&["events"]), 11).unwrap();
    let events = &run(&mut source, 100_000)["events"];
    let mut episodes = 0;
    let mut recovered = 0;
    let mut open = false;
    for (i, e) in events.iter().enumerate() {
        let error = flag(e, "error");
        let retry = flag(e, "retry");
        let status = match field(e, "status") {
            FieldValue::Text(s) => s.as_str(),
            other => panic!("status is not text: {other:?}"),
        };
        assert_eq!(status, if error { "error" } else { "ok" });
        assert!(number(e, "latency_ms") > 0.0);
        let depth = number(e, "queue_depth");
        assert!(depth >= 0.0 && depth.fract() == 0.0);
        // A retry only ever follows an error.
        if retry {
            assert!(
                i > 0 && flag(&events[i - 1], "error"),
                "retry without an error at {i}"
            );
        }
        if open && retry && !error {
            recovered += 1;
        }
        if error && !retry {
            episodes += 1;
        }
        open = error;
    }
    assert!(episodes > 500, "only {episodes} error episodes");
    let share = recovered as f64 / episodes as f64;
    // Most episodes recover; a few are given up (the property breaks now and then).
    assert!(
        share > 0.9 && share < 1.0,
        "recovered {recovered} of {episodes}"
    );

    // Bursts: windows of 20 events whose median latency is several times the calm median.
    let latencies: Vec<f64> = events.iter().map(|e| number(e, "latency_ms")).collect();
    let median = |xs: &[f64]| {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let overall = median(&latencies);
    let hot = latencies
        .chunks(20)
        .filter(|w| median(w) > 4.0 * overall)
        .count();
    assert!(
        hot > 20,
        "only {hot} burst windows (overall median {overall} ms)"
    );
    assert!(
        hot < latencies.len() / 20 / 4,
        "{hot} burst windows: bursts are not occasional"
    );
}

/// Positions where the stream repeats a span of 2..=6 tokens at least 3 times in a row.
fn repetition_loops(tokens: &[String]) -> usize {
    let mut loops = 0;
    let mut i = 0;
    while i < tokens.len() {
        let found = (2..=6).find(|&p| {
            i + 3 * p <= tokens.len() && (0..2 * p).all(|j| tokens[i + j] == tokens[i + j + p])
        });
        match found {
            Some(p) => {
                loops += 1;
                // Skip past this loop.
                let mut end = i + 3 * p;
                while end < tokens.len() && tokens[end] == tokens[end - p] {
                    end += 1;
                }
                i = end;
            }
            None => i += 1,
        }
    }
    loops
}

#[test]
fn tokens_are_words_and_sometimes_loop() {
    let mut source = DemoSource::new(&names(&["tokens"]), 2).unwrap();
    let tokens: Vec<String> = run(&mut source, 40_000)["tokens"]
        .iter()
        .map(|r| match &r.value {
            Value::Token(t) => t.clone(),
            other => panic!("not a token: {other:?}"),
        })
        .collect();
    assert!(
        tokens
            .iter()
            .all(|t| t == SENTENCE_END || VOCABULARY.contains(&t.as_str()))
    );
    let loops = repetition_loops(&tokens);
    // One loop starts every ~400 tokens (LOOP_START_PROBABILITY = 0.0025): about 100 here.
    assert!((40..250).contains(&loops), "{loops} loops in 40 000 tokens");
    let sentences = tokens.iter().filter(|t| *t == SENTENCE_END).count();
    assert!(sentences > 2000, "{sentences} sentences");
}
