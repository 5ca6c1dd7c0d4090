//! The pipeline runs the engines on live channels through the scheduler: LTL verdicts equal
//! the whole-trace verdicts, reference patterns are found where they were planted, loops in a
//! token stream are flagged, and the scheduler saw the work in the classes DESIGN.md gives.

use std::sync::Arc;
use std::time::{Duration, Instant};

use midstream::engines::ltl::OnVerdict;
use midstream::model::{Catalog, ChannelKind, FieldValue, Fields, Record, SourceEvent, Value};
use midstream::pipeline::{
    AnalysisConfig, Engines, FormulaStatus, LtlMonitoring, PatternSpec, Pipeline, library,
};
use midstream::scheduler::{Scheduler, SchedulerConfig, TaskClass};

use crate::common;
use crate::common::catalog::channel;

fn catalog() -> Catalog {
    common::catalog::catalog(
        "test",
        vec![
            channel(
                0,
                "events",
                ChannelKind::Event {
                    fields: vec!["latency_ms".into(), "error".into()],
                },
            ),
            channel(1, "wave", ChannelKind::Scalar),
            channel(2, "tokens", ChannelKind::Text),
        ],
    )
}

fn event(seq: u64, latency_ms: f64, error: bool) -> Record {
    Record {
        channel: 0,
        seq,
        t_ns: seq * 1_000_000,
        value: Value::Fields(Fields::from([
            ("latency_ms".to_string(), FieldValue::Number(latency_ms)),
            ("error".to_string(), FieldValue::Bool(error)),
        ])),
    }
}

fn run_pipeline(
    formulas: &[&str],
    patterns: Vec<PatternSpec>,
    batches: Vec<Vec<Record>>,
) -> (Pipeline, Arc<Scheduler>) {
    let scheduler = Arc::new(Scheduler::new(SchedulerConfig::with_workers(2)).unwrap());
    let config = AnalysisConfig {
        formulas: formulas.iter().map(|f| f.to_string()).collect(),
        patterns,
        // Verdicts on the whole trace, as `verify` gives them: the monitors stop at the first
        // (restarting ones are tested in tests/engines/ltl_check.rs).
        ltl: LtlMonitoring {
            on_verdict: OnVerdict::Stop,
            ..LtlMonitoring::default()
        },
        ..AnalysisConfig::default()
    };
    let engines = Engines::new(scheduler.clone(), config).unwrap();
    let mut pipeline = Pipeline::new("test").with_engines(engines);
    pipeline.handle(SourceEvent::Catalog(catalog()), Instant::now());
    for batch in batches {
        pipeline.handle(SourceEvent::Records(batch), Instant::now());
    }
    assert!(
        pipeline.drain_engines(Duration::from_secs(30)),
        "engines finished"
    );
    (pipeline, scheduler)
}

#[test]
fn ltl_verdicts_match_the_whole_trace() {
    // Latency climbs past 100 ms at step 37; the first error is at step 50.
    let records: Vec<Record> = (0..80u64)
        .map(|i| event(i, i as f64 * 2.75, i == 50))
        .collect();
    let batches = records.chunks(7).map(<[Record]>::to_vec).collect();
    let formulas = [
        "G(latency_ms < 100)",
        "F error",
        "G(error -> X !error)",
        "G F error",
    ];
    let (mut pipeline, scheduler) = run_pipeline(&formulas, Vec::new(), batches);
    let snapshot = pipeline.snapshot(Instant::now());
    let views = &snapshot.analysis.formulas;
    assert_eq!(views.len(), formulas.len());

    let states: Vec<_> = records
        .iter()
        .map(|r| match &r.value {
            Value::Fields(f) => f.clone(),
            _ => unreachable!(),
        })
        .collect();
    for (view, text) in views.iter().zip(formulas) {
        assert_eq!(view.formula, text);
        assert_eq!(view.channel_name, "events");
        assert_eq!(view.steps, 80);
        let automaton = midstream::engines::ltl::Monitor::from_text(text)
            .unwrap()
            .automaton()
            .clone();
        let whole = midstream::engines::ltl::verify(&automaton, &states).unwrap();
        assert_eq!(view.verdict_if_ended, whole.holds, "{text}");
    }
    assert_eq!(views[0].status, FormulaStatus::Violated);
    assert_eq!(views[0].decided_at, Some(37));
    assert!(!views[0].violation_window.is_empty());
    assert!(
        views[0]
            .violation_window
            .last()
            .unwrap()
            .starts_with("#37 "),
        "{:?}",
        views[0].violation_window
    );
    assert_eq!(views[1].status, FormulaStatus::Satisfied);
    assert_eq!(views[1].decided_at, Some(50));
    assert_eq!(views[2].status, FormulaStatus::Undecided);
    assert!(views[2].verdict_if_ended);
    assert!(
        !views[3].verdict_if_ended,
        "G F error is false when the last step has no error"
    );

    let stats = scheduler.stats();
    assert!(
        stats.class(TaskClass::Critical).completed > 0,
        "LTL steps ran as Critical tasks"
    );
    assert_eq!(stats.class(TaskClass::Critical).rejected, 0);
}

/// The built-in spike pattern, and `len` records of channel `wave` (a slow drift) with the
/// spike planted, five times its size, at each of `planted`.
fn wave_with_spikes(len: usize, planted: &[usize]) -> (PatternSpec, Vec<Record>) {
    let spike = library::builtin_patterns()
        .into_iter()
        .find(|p| p.name == "spike")
        .unwrap();
    let mut wave: Vec<f64> = (0..len).map(|i| (i as f64 * 0.003).sin() * 0.2).collect();
    for &at in planted {
        for (k, v) in spike.values.iter().enumerate() {
            wave[at + k] += v * 5.0;
        }
    }
    let records = wave
        .iter()
        .enumerate()
        .map(|(i, &x)| Record {
            channel: 1,
            seq: i as u64,
            t_ns: i as u64 * 1000,
            value: Value::Scalar(x),
        })
        .collect();
    (spike, records)
}

#[test]
fn planted_patterns_are_found_where_they_were_planted() {
    // A slow drift with the spike planted at three places.
    let planted = [500usize, 1400, 2600];
    let (spike, records) = wave_with_spikes(3000, &planted);
    let batches = records.chunks(64).map(<[Record]>::to_vec).collect();
    let (mut pipeline, scheduler) = run_pipeline(&[], vec![spike.clone()], batches);
    let snapshot = pipeline.snapshot(Instant::now());
    let mut starts: Vec<u64> = snapshot
        .analysis
        .matches
        .iter()
        .filter(|m| m.pattern == "spike" && m.channel_name == "wave")
        .map(|m| m.start_sample)
        .collect();
    starts.sort_unstable();
    assert_eq!(starts.len(), planted.len(), "matches: {starts:?}");
    // The search reports the closest window of each group of overlapping ones; the drift under
    // the spike can make a neighbour of the planted window the closest, and warping inside the
    // Sakoe-Chiba band (10% of 48 samples) bounds how far: 4 samples.
    for (found, &at) in starts.iter().zip(&planted) {
        assert!(
            found.abs_diff(at as u64) <= 4,
            "found {found}, planted {at}"
        );
    }
    assert!(
        scheduler.stats().class(TaskClass::High).completed > 0,
        "pattern search ran as High tasks"
    );
}

#[test]
fn a_token_loop_is_flagged() {
    let words = [
        "the", "model", "keeps", "saying", "this", "same", "thing", "again", "and",
    ];
    let mut tokens: Vec<String> = (0..200).map(|i| format!("w{}", i * 7919 % 1000)).collect();
    for _ in 0..6 {
        tokens.extend(words.iter().map(|w| w.to_string()));
    }
    let records: Vec<Record> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| Record {
            channel: 2,
            seq: i as u64,
            t_ns: i as u64,
            value: Value::Token(t.clone()),
        })
        .collect();
    let batches = records.chunks(16).map(<[Record]>::to_vec).collect();
    let (mut pipeline, _) = run_pipeline(&[], Vec::new(), batches);
    let snapshot = pipeline.snapshot(Instant::now());
    let reps = &snapshot.analysis.repetitions;
    assert!(!reps.is_empty(), "the loop was flagged");
    assert_eq!(reps[0].channel_name, "tokens");
    // The earlier copy must end before the recent window (16 tokens) begins, so the lag is the
    // loop's period or a multiple of it.
    assert_eq!(
        reps[0].lag % words.len(),
        0,
        "lag {} is a multiple of the period",
        reps[0].lag
    );
    assert!(
        reps.iter().all(|r| r.at_token >= 200),
        "nothing flagged before the loop: {reps:?}"
    );
}

#[test]
fn a_pattern_added_while_running_is_searched_for_from_then_on_and_saved() {
    use midstream::pipeline::PipelineCommand;

    // A quiet drift with one bump shape at three places; the pattern is taken from the first.
    let bump: Vec<f64> = (0..40)
        .map(|k| {
            let x = k as f64 / 40.0;
            (x * std::f64::consts::PI).sin() * 3.0 + (x * 9.0).sin()
        })
        .collect();
    let mut wave: Vec<f64> = (0..3000).map(|i| (i as f64 * 0.003).sin() * 0.2).collect();
    let planted = [200usize, 1500, 2500];
    for &at in &planted {
        for (k, v) in bump.iter().enumerate() {
            wave[at + k] += v;
        }
    }
    let record = |i: usize| Record {
        channel: 1,
        seq: i as u64,
        t_ns: i as u64 * 1000,
        value: Value::Scalar(wave[i]),
    };
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("patterns");
    let scheduler = Arc::new(Scheduler::new(SchedulerConfig::with_workers(2)).unwrap());
    let engines = Engines::new(scheduler, AnalysisConfig::default()).unwrap();
    let mut pipeline = Pipeline::new("test")
        .with_engines(engines)
        .with_pattern_dir(Some(saved.clone()));
    pipeline.handle(SourceEvent::Catalog(catalog()), Instant::now());
    pipeline.handle(
        SourceEvent::Records((0..1000).map(record).collect()),
        Instant::now(),
    );

    let captured = PatternSpec {
        name: "wave-200".into(),
        values: wave[200..240].to_vec(),
    };
    pipeline
        .command(PipelineCommand::AddPattern(captured.clone()))
        .unwrap();
    let notice = pipeline.status().notice.clone().unwrap();
    assert!(!notice.warning, "{notice:?}");
    let file = saved.join("wave-200.txt");
    assert!(
        notice.text.contains(&file.display().to_string()),
        "{notice:?}"
    );
    assert_eq!(library::load_pattern(&file).unwrap(), captured);

    for chunk in (1000..3000).collect::<Vec<_>>().chunks(50) {
        pipeline.handle(
            SourceEvent::Records(chunk.iter().map(|&i| record(i)).collect()),
            Instant::now(),
        );
    }
    assert!(pipeline.drain_engines(Duration::from_secs(30)));
    let snapshot = pipeline.snapshot(Instant::now());
    assert!(snapshot.analysis.patterns.contains(&"wave-200".to_string()));
    let mut starts: Vec<u64> = snapshot
        .analysis
        .matches
        .iter()
        .filter(|m| m.pattern == "wave-200")
        .map(|m| m.start_sample)
        .collect();
    starts.sort_unstable();
    // Only the copies that arrived after the pattern was added; the band (10% of 40 samples)
    // bounds how far off a reported window can be.
    assert_eq!(starts.len(), 2, "matches: {starts:?}");
    for (found, at) in starts.iter().zip([1500u64, 2500]) {
        assert!(found.abs_diff(at) <= 4, "found {found}, planted {at}");
    }

    // The same name again gets a suffix; a constant window is refused and not saved.
    pipeline
        .command(PipelineCommand::AddPattern(captured))
        .unwrap();
    assert!(saved.join("wave-200-2.txt").exists());
    pipeline
        .command(PipelineCommand::AddPattern(PatternSpec {
            name: "flat".into(),
            values: vec![1.0; 40],
        }))
        .unwrap();
    let notice = pipeline.status().notice.clone().unwrap();
    assert!(
        notice.warning && notice.text.contains("constant"),
        "{notice:?}"
    );
    assert!(!saved.join("flat.txt").exists());
    assert!(
        !pipeline
            .snapshot(Instant::now())
            .analysis
            .patterns
            .contains(&"flat".to_string())
    );
}

#[test]
fn a_file_source_waits_for_a_backlogged_search_without_holding_the_runtime_and_sheds_nothing() {
    let planted: Vec<usize> = (1..12).map(|k| k * 5000).collect();
    let (spike, records) = wave_with_spikes(60_000, &planted);
    let scheduler = Arc::new(Scheduler::new(SchedulerConfig::with_workers(1)).unwrap());
    let config = AnalysisConfig {
        patterns: vec![spike],
        ..AnalysisConfig::default()
    };
    let engines = Engines::new(scheduler.clone(), config).unwrap();
    let mut pipeline = Pipeline::new("test").with_engines(engines);
    pipeline.handle(SourceEvent::Catalog(catalog()), Instant::now());

    // One thread for the runtime: a wait that slept on it would stop the ticker too.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (waits, ticks_while_waiting) = runtime.block_on(async {
        let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_micros(100)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        let (mut waits, mut ticks_while_waiting) = (0, 0);
        for batch in records.chunks(4096) {
            pipeline.handle(SourceEvent::Records(batch.to_vec()), Instant::now());
            if pipeline.backlogged() {
                waits += 1;
                let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
                tokio::time::timeout(Duration::from_secs(30), pipeline.wait_for_backlog())
                    .await
                    .expect("the search catches up");
                ticks_while_waiting += ticks.load(std::sync::atomic::Ordering::Relaxed) - before;
                assert!(!pipeline.backlogged());
            }
        }
        ticker.abort();
        (waits, ticks_while_waiting)
    });
    assert!(
        waits > 0,
        "4,096-sample batches overfill a 2,048-sample inbox"
    );
    assert!(
        ticks_while_waiting > 0,
        "the runtime ran other tasks during {waits} waits"
    );
    assert!(pipeline.drain_engines(Duration::from_secs(60)));
    let snapshot = pipeline.snapshot(Instant::now());
    assert_eq!(
        snapshot.analysis.samples_shed, 0,
        "a file source sheds nothing"
    );
    let found = snapshot
        .analysis
        .matches
        .iter()
        .filter(|m| m.pattern == "spike")
        .count();
    assert_eq!(found, planted.len(), "every planted spike is found");
}
