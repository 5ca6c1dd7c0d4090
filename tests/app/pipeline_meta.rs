//! Meta-learning runs live, as Low-class scheduler work: a periodic channel gets a round whose
//! tuned motif window is its period, whose motif pair lies in the channel's own sample count
//! and is really close (recomputed here from the samples fed), and whose dynamics profile is
//! published; a constant channel gets an error, not a crash; the budget rule moves N; and
//! `replay --headless` prints each numeric channel's round.

use std::sync::Arc;
use std::time::{Duration, Instant};

use midstream::model::{Catalog, ChannelKind, Decision, Record, SourceEvent, Value};
use midstream::pipeline::tracks::meta::{
    self, DEFAULT_LENGTH, LengthTuner, MAX_LENGTH, META_GROW_MARGIN, META_RUN_BUDGET, MIN_LENGTH,
};
use midstream::pipeline::{AnalysisConfig, Engines, MetaView, Pipeline, Snapshot};
use midstream::scheduler::{Scheduler, SchedulerConfig, Task, TaskClass, TaskLabel};
use midstream::trace::{TraceWriter, WriterOptions};

use crate::common;
use crate::common::binary::replay_headless;
use crate::common::catalog::{channel, trace_header};

/// The sine's period in samples.
const PERIOD: usize = 50;
/// Samples fed per channel: about a dozen rounds.
const SAMPLES: usize = 3000;
/// Standard deviation of the noise on the sine (amplitude 1).
const NOISE: f64 = 0.05;

fn catalog() -> Catalog {
    common::catalog::catalog(
        "test",
        vec![
            channel(0, "wave", ChannelKind::Scalar),
            channel(1, "flat", ChannelKind::Scalar),
            channel(2, "xy", ChannelKind::Vector { dims: 2 }),
            channel(3, "tokens", ChannelKind::Text),
        ],
    )
}

/// Deterministic noise: xorshift64* uniforms summed to about a normal (Irwin–Hall, 12 terms).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

fn noisy_sine(seed: u64) -> Vec<f64> {
    let mut noise = Noise(seed);
    (0..SAMPLES)
        .map(|i| {
            (2.0 * std::f64::consts::PI * i as f64 / PERIOD as f64).sin() + NOISE * noise.normal()
        })
        .collect()
}

/// Feeds the channels in batches of 64 records, as the network delivers them, letting the
/// engines finish after each batch that completes [`meta::META_EVERY`] samples (as a live
/// source's pace would; one round runs at a time, [`meta::META_MAX_IN_FLIGHT`]), so every
/// round that falls due runs: the last one ends at the last multiple of `META_EVERY`.
fn run(wave: &[f64], xy: &[(f64, f64)]) -> (Snapshot, Arc<Scheduler>) {
    let scheduler = Arc::new(Scheduler::new(SchedulerConfig::with_workers(2)).unwrap());
    let engines = Engines::new(scheduler.clone(), AnalysisConfig::default()).unwrap();
    let mut pipeline = Pipeline::new("test").with_engines(engines);
    pipeline.handle(SourceEvent::Catalog(catalog()), Instant::now());
    for start in (0..SAMPLES).step_by(64) {
        let end = (start + 64).min(SAMPLES);
        let batch = |channel, value: &dyn Fn(usize) -> Value| {
            (start..end)
                .map(|i| Record {
                    channel,
                    seq: i as u64,
                    t_ns: i as u64 * 5_000_000,
                    value: value(i),
                })
                .collect::<Vec<_>>()
        };
        for records in [
            batch(0, &|i| Value::Scalar(wave[i])),
            batch(1, &|_| Value::Scalar(3.0)),
            batch(2, &|i| Value::Vector(vec![xy[i].0, xy[i].1])),
            batch(3, &|i| Value::Token(format!("w{i}"))),
        ] {
            pipeline.handle(SourceEvent::Records(records), Instant::now());
            if (end as u64).is_multiple_of(meta::META_EVERY) {
                assert!(
                    pipeline.drain_engines(Duration::from_secs(120)),
                    "engines finished"
                );
            }
        }
    }
    assert!(
        pipeline.finish_engines(Duration::from_secs(120)),
        "engines finished"
    );
    (pipeline.snapshot(Instant::now()), scheduler)
}

/// The z-normalised Euclidean distance of two windows, from the definition (population
/// standard deviation, as stumpy and the matrix profile papers use).
fn znorm_distance(a: &[f64], b: &[f64]) -> f64 {
    let z = |x: &[f64]| {
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
        x.iter().map(|v| (v - mean) / sd).collect::<Vec<_>>()
    };
    z(a).iter()
        .zip(z(b))
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The rounds a channel fed [`SAMPLES`] samples runs, and the sample its last one ends at:
/// the first at [`meta::META_EVERY`], each next one the re-analysis interval later, that
/// interval starting at its default and changed by the learning loop's `interval` decisions
/// on the channel, each made by the round that ends at its sample.
fn expected_rounds(decisions: &[Decision], channel: u32) -> (u64, u64) {
    let mut interval = midstream::engines::meta::learning::params::DEFAULT_INTERVAL;
    let (mut at, mut rounds, mut last) = (meta::META_EVERY, 0, 0);
    while at <= SAMPLES as u64 {
        rounds += 1;
        last = at;
        for d in decisions
            .iter()
            .filter(|d| d.channel == channel && d.what == "interval" && d.sample == at)
        {
            interval = d.to.parse().expect("an interval in samples");
        }
        at += interval;
    }
    (rounds, last)
}

/// Checks a periodic channel's round against the samples that were fed.
fn check_periodic_round(
    view: &MetaView,
    fed: &[f64],
    name: &str,
    decisions: &[Decision],
    channel: u32,
) {
    assert_eq!(view.error, None, "{name}");
    // The window is the period (the autocorrelation peak of a noisy sine moves by a sample at
    // most), and the period is reported.
    assert!(
        view.window.abs_diff(PERIOD) <= 1,
        "{name}: window {}",
        view.window
    );
    assert!(
        view.period.is_some_and(|p| p.abs_diff(PERIOD) <= 1),
        "{name}: period {:?}",
        view.period
    );
    // Every round that fell due ran: one every META_EVERY samples until the learning loop
    // lengthened the interval (after its quiet rounds), then one every learnt interval. Its
    // samples are the channel's own, at the positions the view names.
    let (rounds, last) = expected_rounds(decisions, channel);
    assert_eq!(
        (view.rounds, view.end_sample()),
        (rounds, last),
        "{name}: every round ran"
    );
    // The interval did change in this run (so the count above is not the plain stride's).
    assert!(
        decisions
            .iter()
            .any(|d| d.channel == channel && d.what == "interval"),
        "{name}: no interval decision"
    );
    let first = view.first_sample as usize;
    assert_eq!(
        &fed[first..first + view.series.len()],
        &view.series[..],
        "{name}"
    );

    let m = view.window;
    let top = view.motifs.first().expect("a motif pair");
    let (a, b) = (top.a as usize, top.b as usize);
    assert!(
        first <= a && a < b && b + m <= view.end_sample() as usize,
        "{name}: {top:?}"
    );
    let recomputed = znorm_distance(&fed[a..a + m], &fed[b..b + m]);
    assert!(
        (recomputed - top.distance).abs() < 1e-9 * recomputed.max(1.0),
        "{name}: view says {}, recomputed {recomputed}",
        top.distance
    );
    // Really close: two unrelated windows of m samples are about √(2m) = 10 apart; two windows
    // a whole number of periods apart differ only by the noise, about √(2m)·σ/σ_sine = 0.7.
    assert!(top.distance < 1.5, "{name}: {top:?}");
    let offset = (b - a) % PERIOD;
    assert!(
        offset <= 1 || offset >= PERIOD - 1,
        "{name}: the pair is {} samples apart, not whole periods",
        b - a
    );
    // Every pair and discord lies inside the analysed samples.
    for pair in &view.motifs {
        assert!(pair.a >= view.first_sample && pair.b + m as u64 <= view.end_sample());
    }
    for discord in &view.discords {
        assert!(discord.index >= view.first_sample);
        assert!(discord.index + m as u64 <= view.end_sample());
        assert!(discord.distance >= top.distance);
    }
    // The dynamics of a noisy sine: low-dimensional, forecast well at its delay; E is tried up
    // to MAX_EMBEDDING or as far as the window's library allows at that delay.
    let dynamics = view.dynamics.as_ref().expect("a dynamics profile");
    let tried = dynamics.rho_by_e.len();
    assert!(
        (1..=meta::MAX_EMBEDDING).contains(&tried),
        "{name}: {dynamics:?}"
    );
    assert!((1..=tried).contains(&dynamics.e), "{name}: {dynamics:?}");
    assert!(dynamics.tau >= 1, "{name}: {dynamics:?}");
    assert!(dynamics.forecast_skill > 0.9, "{name}: {dynamics:?}");
    assert!(view.elapsed_ms > 0.0, "{name}");
    assert!(
        (MIN_LENGTH..=MAX_LENGTH).contains(&view.length),
        "{name}: N = {}",
        view.length
    );
}

#[test]
fn a_periodic_channel_gets_its_period_as_motif_window_and_a_close_pair() {
    let wave = noisy_sine(0x9E37_79B9_7F4A_7C15);
    // A vector channel is analysed on its first component, as the attractor analysis and the
    // pattern search read it: the sine in x, noise in y.
    let x = noisy_sine(0xD1B5_4A32_D192_ED03);
    let mut noise = Noise(0x94D0_49BB_1331_11EB);
    let xy: Vec<(f64, f64)> = x.iter().map(|&v| (v, noise.normal())).collect();
    let (snapshot, scheduler) = run(&wave, &xy);

    let meta = &snapshot.analysis.meta;
    let decisions = &snapshot.analysis.decisions;
    check_periodic_round(&meta[&0], &wave, "wave", decisions, 0);
    check_periodic_round(&meta[&2], &x, "xy", decisions, 2);
    assert!(
        !meta.contains_key(&3),
        "a text channel has no meta-learning"
    );

    let low = scheduler.stats();
    let low = low.class(TaskClass::Low);
    assert!(low.completed > 0, "meta-learning ran as Low tasks: {low:?}");
    assert_eq!(low.rejected, 0);
}

#[test]
fn a_constant_channel_gets_an_error_view_not_a_crash() {
    let wave = noisy_sine(7);
    let xy: Vec<(f64, f64)> = wave.iter().map(|&v| (v, v)).collect();
    let (snapshot, _) = run(&wave, &xy);
    let flat = &snapshot.analysis.meta[&1];
    let error = flat.error.as_deref().expect("an error");
    assert!(error.contains("constant"), "{error}");
    assert!(flat.motifs.is_empty() && flat.discords.is_empty() && flat.dynamics.is_none());
    assert!(flat.series.iter().all(|&v| v == 3.0) && !flat.series.is_empty());
}

#[test]
fn the_budget_rule_shrinks_n_when_over_and_grows_it_when_well_under() {
    let mut n = LengthTuner::default();
    assert_eq!(n.length(), DEFAULT_LENGTH);
    // A synthetic run time twice the budget: halved, again and again, down to the floor.
    let mut lengths = Vec::new();
    for _ in 0..6 {
        let analysed = n.length();
        lengths.push(n.update(analysed, 2 * META_RUN_BUDGET, META_RUN_BUDGET));
    }
    assert_eq!(lengths, [512, 256, 256, 256, 256, 256]);
    assert_eq!(MIN_LENGTH, 256);
    // Well under the budget (under an eighth): doubled up to the ring buffer.
    let quick = META_RUN_BUDGET / (2 * META_GROW_MARGIN);
    let mut lengths = Vec::new();
    for _ in 0..7 {
        let analysed = n.length();
        lengths.push(n.update(analysed, quick, META_RUN_BUDGET));
    }
    assert_eq!(lengths, [512, 1024, 2048, 4096, 8192, 8192, 8192]);
    assert_eq!(MAX_LENGTH, 8192);
    // In between: N stays.
    assert_eq!(n.update(8192, META_RUN_BUDGET / 2, META_RUN_BUDGET), 8192);
}

#[test]
fn replay_headless_prints_each_numeric_channels_meta_round() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sine.mtr");
    let catalog = catalog();
    let header = trace_header(catalog.clone());
    let mut writer = TraceWriter::create(&path, &header, WriterOptions::default()).unwrap();
    let wave = noisy_sine(11);
    for (i, &x) in wave.iter().enumerate().take(1000) {
        for (channel, value) in [(0, Value::Scalar(x)), (1, Value::Scalar(3.0))] {
            writer
                .append(&Record {
                    channel,
                    seq: i as u64,
                    t_ns: i as u64 * 5_000_000,
                    value,
                })
                .unwrap();
        }
    }
    writer.finish().unwrap();
    let (ok, stdout, stderr) = replay_headless(dir.path(), &[], &path);
    assert!(ok, "{stderr}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("meta on {name}: ")))
            .unwrap_or_else(|| panic!("no meta line for {name}:\n{stdout}"))
            .to_string()
    };
    let wave_line = line("wave");
    assert!(
        [
            "window 49 (period 49)",
            "window 50 (period 50)",
            "window 51 (period 51)"
        ]
        .iter()
        .any(|w| wave_line.contains(w)),
        "{wave_line}"
    );
    assert!(
        wave_line.contains(", motif ") && wave_line.contains(", E "),
        "{wave_line}"
    );
    let flat = line("flat");
    assert!(
        flat.contains("failed: the last") && flat.contains("constant"),
        "{flat}"
    );
    // Event, text and empty channels get no line; xy and tokens had no records.
    assert!(
        !stdout.contains("meta on tokens") && !stdout.contains("meta on xy"),
        "{stdout}"
    );
}

#[test]
fn one_round_runs_at_a_time_and_held_back_rounds_run_at_the_end() {
    // All four channels fed at once, without letting the engines catch up: only
    // META_MAX_IN_FLIGHT rounds may be queued or running, so the first due channel takes the
    // place and the others wait; `finish_engines` then runs those still due.
    assert_eq!(meta::META_MAX_IN_FLIGHT, 1);
    let scheduler = Arc::new(Scheduler::new(SchedulerConfig::with_workers(2)).unwrap());
    let engines = Engines::new(scheduler.clone(), AnalysisConfig::default()).unwrap();
    let mut pipeline = Pipeline::new("test").with_engines(engines);
    pipeline.handle(SourceEvent::Catalog(catalog()), Instant::now());
    let wave = noisy_sine(3);
    let n = meta::META_EVERY as usize;
    for channel in [0u32, 1, 2] {
        let records = (0..n)
            .map(|i| Record {
                channel,
                seq: i as u64,
                t_ns: i as u64,
                value: if channel == 2 {
                    Value::Vector(vec![wave[i], 0.0])
                } else {
                    Value::Scalar(wave[i])
                },
            })
            .collect();
        pipeline.handle(SourceEvent::Records(records), Instant::now());
    }
    assert!(pipeline.drain_engines(Duration::from_secs(120)));
    let first = pipeline.snapshot(Instant::now()).analysis.meta;
    assert_eq!(
        first.len(),
        1,
        "one round in flight at a time: {:?}",
        first.keys()
    );
    assert!(
        first.contains_key(&0),
        "the first channel due took the place"
    );
    assert!(pipeline.finish_engines(Duration::from_secs(120)));
    let all = pipeline.snapshot(Instant::now()).analysis.meta;
    assert_eq!(all.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    for view in all.values() {
        assert_eq!(
            (view.first_sample, view.end_sample()),
            (0, meta::META_EVERY)
        );
        assert_eq!(view.rounds, 1);
    }
    assert_eq!(scheduler.stats().class(TaskClass::Low).completed, 3);
}

/// `n` samples of the noisy sine on channel 0, from sample `from` on.
fn wave_records(from: usize, n: usize) -> Vec<Record> {
    let wave = noisy_sine(5);
    (from..from + n)
        .map(|i| Record {
            channel: 0,
            seq: i as u64,
            t_ns: i as u64,
            value: Value::Scalar(wave[i]),
        })
        .collect()
}

#[test]
fn a_round_shed_from_the_queue_does_not_stop_later_rounds() {
    // One worker, room for one queued Low task.
    let mut config = SchedulerConfig::with_workers(1);
    config.class_capacity[TaskClass::Low.index()] = 1;
    let scheduler = Arc::new(Scheduler::new(config).unwrap());
    let engines = Engines::new(scheduler.clone(), AnalysisConfig::default()).unwrap();
    let mut pipeline = Pipeline::new("test").with_engines(engines);
    pipeline.handle(SourceEvent::Catalog(catalog()), Instant::now());
    // Hold the worker so the round stays queued.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let blocker = Task::new(TaskClass::Critical, TaskLabel::new("test", 99), move || {
        let _ = started_tx.send(());
        let _ = release_rx.recv();
    });
    scheduler.submit_detached(blocker).unwrap();
    started_rx.recv().unwrap();
    let n = meta::META_EVERY as usize;
    pipeline.handle(SourceEvent::Records(wave_records(0, n)), Instant::now());
    // A more urgent Low task takes the only place: the queued round is shed.
    let urgent = Task::new(TaskClass::Low, TaskLabel::new("test", 98), || {})
        .with_deadline_in(Duration::from_millis(1));
    scheduler.submit_detached(urgent).unwrap();
    assert_eq!(scheduler.stats().class(TaskClass::Low).shed, 1);
    release_tx.send(()).unwrap();
    assert!(pipeline.drain_engines(Duration::from_secs(60)));
    assert!(pipeline.snapshot(Instant::now()).analysis.meta.is_empty());
    // The shed round gave its places back: the next one runs.
    pipeline.handle(SourceEvent::Records(wave_records(n, n)), Instant::now());
    assert!(pipeline.finish_engines(Duration::from_secs(120)));
    let meta = pipeline.snapshot(Instant::now()).analysis.meta;
    let view = meta.get(&0).expect("a round after the shed one");
    assert_eq!(view.end_sample(), 2 * meta::META_EVERY);
    assert_eq!(view.rounds, 1);
}

/// A chirp (amplitude 3) added every 300 samples to noise of standard deviation 0.3, from
/// sample 137 on, over `n` samples; the copies' starts.
fn chirp_in_noise(n: usize) -> (Vec<f64>, Vec<usize>) {
    const LEN: usize = 60;
    let mut noise = Noise(0x5eed_c41c);
    let mut stream: Vec<f64> = (0..n).map(|_| 0.3 * noise.normal()).collect();
    let copies: Vec<usize> = (137..n - LEN).step_by(300).collect();
    for &at in &copies {
        for k in 0..LEN {
            let t = k as f64 / LEN as f64;
            stream[at + k] += 3.0 * (2.0 * std::f64::consts::PI * (t + 3.0 * t * t)).sin();
        }
    }
    (stream, copies)
}

/// The whole loop on a recorded trace: `replay --headless` learns the recurring chirp of a
/// noisy channel (`learnt pattern shape@A from shape samples A..B threshold T`), and the
/// pattern search then finds it at each later copy, and nowhere in the noise.
#[test]
fn replay_headless_learns_a_recurring_shape_and_finds_its_later_copies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shape.mtr");
    let catalog = common::catalog::catalog("test", vec![channel(0, "shape", ChannelKind::Scalar)]);
    let mut writer =
        TraceWriter::create(&path, &trace_header(catalog), WriterOptions::default()).unwrap();
    let (stream, copies) = chirp_in_noise(2000);
    for (i, &x) in stream.iter().enumerate() {
        writer
            .append(&Record {
                channel: 0,
                seq: i as u64,
                t_ns: i as u64 * 5_000_000,
                value: Value::Scalar(x),
            })
            .unwrap();
    }
    writer.finish().unwrap();
    let (ok, stdout, stderr) = replay_headless(dir.path(), &["--all-matches"], &path);
    assert!(ok, "{stderr}");
    // learnt pattern NAME from CHANNEL samples A..B threshold T
    let learnt: Vec<(String, u64, u64, f64)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("learnt pattern "))
        .map(|rest| {
            let w: Vec<&str> = rest.split(' ').collect();
            assert_eq!(
                (w.len(), w[1], w[2], w[3], w[5]),
                (7, "from", "shape", "samples", "threshold"),
                "{rest}"
            );
            let (a, b) = w[4].split_once("..").unwrap();
            (
                w[0].to_owned(),
                a.parse().unwrap(),
                b.parse().unwrap(),
                w[6].parse().unwrap(),
            )
        })
        .collect();
    assert!(!learnt.is_empty(), "nothing learnt:\n{stdout}");
    for line in stdout.lines().filter(|l| l.contains("shape@")) {
        eprintln!("{line}");
    }
    for (name, from, to, threshold) in &learnt {
        assert_eq!(name, &format!("shape@{from}"), "{stdout}");
        // Taken from one of the first two copies (the first round holds only one): it starts
        // in the copy, and at most a quarter of it runs past the copy's end.
        let copy = copies[..2]
            .iter()
            .position(|&c| c as u64 <= *from && *to <= c as u64 + 60 + (to - from) / 4)
            .unwrap_or_else(|| panic!("{name} is not inside an early copy:\n{stdout}"));
        assert!(
            *threshold > 0.0 && *threshold < 0.25 * (to - from) as f64,
            "{name} {threshold}"
        );
        let decision = format!("level 1: pattern {name} candidate -> learnt (");
        let learnt_at: u64 = stdout
            .lines()
            .find(|l| l.starts_with("decision shape @") && l.contains(&decision))
            .and_then(|l| {
                l.strip_prefix("decision shape @")?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no decision for {name}:\n{stdout}"));
        // pattern NAME on CHANNEL: samples S..E, distance D
        let prefix = format!("pattern {name} on shape: samples ");
        let found: Vec<u64> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|r| r.split("..").next().unwrap().parse().unwrap())
            .collect();
        let offset = from - copies[copy] as u64;
        // Every copy that starts after the round that learnt it is found, within the band (but
        // the trace's last pattern lengths: the search reports a match once it has seen the
        // samples after it, where a closer one could still start).
        let len = to - from;
        let later: Vec<u64> = copies
            .iter()
            .map(|&c| c as u64 + offset)
            .filter(|&at| at >= learnt_at && at + 2 * len <= stream.len() as u64)
            .collect();
        assert!(later.len() >= 3, "{later:?}");
        for want in &later {
            assert!(
                found.iter().any(|f| f.abs_diff(*want) <= 4),
                "{name}: no match at {want}: {found:?}\n{stdout}"
            );
        }
        for f in &found {
            assert!(
                copies.iter().any(|&c| f.abs_diff(c as u64 + offset) <= 4),
                "{name}: a match at {f} away from the copies {later:?}"
            );
        }
    }
}
