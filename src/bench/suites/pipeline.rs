//! The pipeline with every engine on, fed by the demo's eight generators: how many records per
//! second it takes in *and analyses* (channel state, LTL steps, pattern search, loop detection,
//! attractor analysis on sliding windows, all through the scheduler), how fast channel state
//! alone takes records, and what one snapshot for the screen costs.
//!
//! The demo sends 200 records/s per generator (14 channels: about 2,800 records/s), so the
//! first figure divided by 2,800 is the dashboard's headroom on this machine. As live, an
//! attractor analysis that falls due while the channel's previous one is still queued is
//! skipped (the next one covers the newer window), so the figure is the rate at which every
//! record is taken in, monitored and searched, with the Chaos pane kept current.
//!
//! The `pipeline_meta` group times one meta-learning round (`pipeline::tracks::meta::analyse`: window
//! tuning, matrix-profile motifs and discords, dynamics profile) on a demo channel's last N
//! samples, for the N the budget rule moves between: what decides where N settles against the
//! 50 ms Low run budget (`meta::META_RUN_BUDGET`).
//!
//! Run: `cargo bench --bench pipeline_bench -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bench::harness::Harness;
use crate::model::{Record, SourceEvent};
use crate::pipeline::Pipeline;
use crate::pipeline::library;
use crate::pipeline::tracks::meta::{self, WindowTuner};
use crate::pipeline::{AnalysisConfig, Engines};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::session::DEMO_FORMULAS;
use crate::sources::DemoSource;
use criterion::{BatchSize, Throughput};

/// Ticks of the demo per analysed run: 4,096 samples per channel, one full attractor window.
const ANALYSED_TICKS: u64 = 4096;
/// Ticks for the channel-state and snapshot benchmarks.
const STATE_TICKS: u64 = 20_000;
/// Records per batch, as the network delivers them (one channel per batch).
const BATCH: usize = 64;
/// Long enough for any backlog of the analysed run to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

fn demo() -> DemoSource {
    let names: Vec<String> = [
        "lorenz", "rossler", "henon", "logistic", "sine", "noise", "events", "tokens",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    DemoSource::new(&names, 1).expect("demo generators")
}

/// The demo's first `ticks` ticks as per-channel batches of up to [`BATCH`] records, in
/// arrival order.
fn batches(source: &mut DemoSource, ticks: u64) -> Vec<Vec<Record>> {
    let mut records = Vec::new();
    for _ in 0..ticks {
        source.tick(&mut records);
    }
    let channels = source.catalog().channels.len();
    let mut out = Vec::new();
    for chunk in records.chunks(BATCH * channels) {
        for id in 0..channels as u32 {
            out.push(chunk.iter().filter(|r| r.channel == id).cloned().collect());
        }
    }
    out
}

fn analysis() -> AnalysisConfig {
    AnalysisConfig {
        formulas: DEMO_FORMULAS.iter().map(|f| f.to_string()).collect(),
        patterns: library::builtin_patterns(),
        ..AnalysisConfig::default()
    }
}

fn pipeline_bench(c: &mut Harness<'_>) {
    let mut source = demo();
    let catalog = source.catalog().clone();
    let analysed = batches(&mut source, ANALYSED_TICKS);
    let analysed_records: usize = analysed.iter().map(Vec::len).sum();

    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Elements(analysed_records as u64));
    group.bench_function("analyse/demo_8_generators/4096_ticks", |b| {
        b.iter_batched(
            || {
                let scheduler =
                    Arc::new(Scheduler::new(SchedulerConfig::default()).expect("scheduler starts"));
                let engines = Engines::new(scheduler, analysis()).expect("valid analysis");
                let mut pipeline = Pipeline::new("bench").with_engines(engines);
                pipeline.handle(SourceEvent::Catalog(catalog.clone()), Instant::now());
                (pipeline, analysed.clone())
            },
            |(mut pipeline, batches)| {
                for batch in batches {
                    pipeline.handle(SourceEvent::Records(batch), Instant::now());
                }
                assert!(pipeline.drain_engines(DRAIN_TIMEOUT), "engines drained");
                pipeline
            },
            BatchSize::PerIteration,
        )
    });

    let mut source = demo();
    let state = batches(&mut source, STATE_TICKS);
    let state_records: usize = state.iter().map(Vec::len).sum();
    group.throughput(Throughput::Elements(state_records as u64));
    group.bench_function("channel_state/demo_8_generators/20k_ticks", |b| {
        b.iter_batched(
            || {
                let mut pipeline = Pipeline::new("bench");
                pipeline.handle(SourceEvent::Catalog(catalog.clone()), Instant::now());
                (pipeline, state.clone())
            },
            |(mut pipeline, batches)| {
                for batch in batches {
                    pipeline.handle(SourceEvent::Records(batch), Instant::now());
                }
                pipeline
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let mut pipeline = Pipeline::new("bench");
    pipeline.handle(SourceEvent::Catalog(catalog), Instant::now());
    for batch in state {
        pipeline.handle(SourceEvent::Records(batch), Instant::now());
    }
    c.bench_function("pipeline/snapshot/demo_8_generators", |b| {
        b.iter(|| black_box(pipeline.snapshot(Instant::now())))
    });
}

/// The analysis lengths timed: the budget rule's floor, its start, and two doublings.
const META_LENGTHS: [usize; 4] = [meta::MIN_LENGTH, 512, meta::DEFAULT_LENGTH, 2048];

/// The demo channel `name`'s first `n` numeric samples (the first component of a vector).
fn channel_samples(source: &mut DemoSource, name: &str, n: usize) -> Vec<f64> {
    let id = source
        .catalog()
        .channels
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.id)
        .expect("demo channel");
    let mut records = Vec::new();
    let mut samples = Vec::with_capacity(n);
    while samples.len() < n {
        records.clear();
        source.tick(&mut records);
        samples.extend(
            records
                .iter()
                .filter(|r| r.channel == id)
                .filter_map(|r| r.value.as_f64()),
        );
    }
    samples.truncate(n);
    samples
}

fn meta_bench(c: &mut Harness<'_>) {
    if !c.wants_group("pipeline_meta") {
        return;
    }
    let mut group = c.benchmark_group("pipeline_meta");
    group.sample_size(10);
    let longest = META_LENGTHS.iter().copied().max().unwrap_or(0);
    // A periodic channel (m tuned to its period) and a chaotic one (no period: the default m).
    for name in ["sine", "lorenz.x"] {
        let series = channel_samples(&mut demo(), name, longest);
        for n in META_LENGTHS {
            let window = &series[series.len() - n..];
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(format!("round/{name}/{n}"), |b| {
                b.iter(|| {
                    let mut tuner = WindowTuner::default();
                    black_box(meta::analyse(black_box(window), 0, &mut tuner))
                })
            });
        }
    }
    group.finish();
}

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    pipeline_bench(c);
    meta_bench(c);
}
