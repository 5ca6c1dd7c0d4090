//! Meta engine benchmarks: the exact matrix profile of a random walk for n = 1,000, 10,000 and
//! 100,000 samples with windows of 100 (the last with 10 samples: one run visits n²/2 ≈ 5·10⁹
//! cells), motif and discord selection from a profile, and streaming appends (STAMPI) at
//! n = 10,000. Throughput of the profile runs is in cells (pairs of windows) per second.
//!
//! EDM and tuning groups: simplex projection on the logistic map (n = 1,000: library and
//! predictions 500 each, E = 3), the simplex survey E = 1..10 at n = 2,000 (`embed_dimension`,
//! and ten serial `simplex` calls as pyEDM's loop makes them: `scripts/bench_pyedm.py` times
//! pyEDM on the same series), the self-tuning `profile_dynamics` (E = 1..10 by simplex, then
//! S-map over the 16-value θ grid) at n = 1,000 and 2,000, and the dominant period of a noisy
//! sine at n = 2,048 (lags up to n/4, as `motif_window` searches).
//!
//! For comparison, on the same (shared, loaded) 2-core machine: stumpy 1.14 `stump` on a
//! random walk of n = 10,000 with m = 100, numba JIT warm, took 235 ms with one numba thread
//! and 359 ms with two (the machine being busy); this engine, single-threaded, about 23 ms.

use std::hint::black_box;

use crate::bench::harness::{BenchmarkId, Harness};
use crate::engines::meta::edm::{EdmParams, embed_dimension, profile_dynamics, simplex};
use crate::engines::meta::tuning::dominant_period;
use crate::engines::meta::{StreamingMatrixProfile, discords, matrix_profile, motifs};
use criterion::{BatchSize, Throughput};

const WINDOW: usize = 100;

/// xorshift64: reproducible inputs without a random-number dependency.
struct Xorshift(u64);

impl Xorshift {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random_walk(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = Xorshift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut level = 0.0;
    (0..n)
        .map(|_| {
            level += rng.unit() - 0.5;
            level
        })
        .collect()
}

/// Cells of the distance matrix the traversal visits: pairs of windows outside the zone.
fn cells(n: usize, m: usize) -> u64 {
    let l = (n - m + 1) as u64;
    let first = (m.div_ceil(4) + 1) as u64;
    (first..l).map(|k| l - k).sum()
}

fn bench_profile(c: &mut Harness<'_>) {
    let mut group = c.benchmark_group("matrix_profile");
    for n in [1_000, 10_000] {
        let series = random_walk(1, n);
        group.throughput(Throughput::Elements(cells(n, WINDOW)));
        group.bench_with_input(BenchmarkId::new("m100", n), &series, |bench, s| {
            bench.iter(|| matrix_profile(black_box(s), WINDOW).expect("profile"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("matrix_profile_large");
    group.sample_size(10);
    let n = 100_000;
    let series = random_walk(2, n);
    group.throughput(Throughput::Elements(cells(n, WINDOW)));
    group.bench_with_input(BenchmarkId::new("m100", n), &series, |bench, s| {
        bench.iter(|| matrix_profile(black_box(s), WINDOW).expect("profile"))
    });
    group.finish();
}

fn bench_selection(c: &mut Harness<'_>) {
    if !c.wants_group("selection") {
        return;
    }
    let profile = matrix_profile(&random_walk(3, 10_000), WINDOW).expect("profile");
    let mut group = c.benchmark_group("selection");
    group.bench_function("motifs_top3/10000", |bench| {
        bench.iter(|| motifs(black_box(&profile), 3))
    });
    group.bench_function("discords_top3/10000", |bench| {
        bench.iter(|| discords(black_box(&profile), 3))
    });
    group.finish();
}

/// Appends at n = 10,000: 100 samples per iteration onto a clone of the same seeded profile,
/// so that the vectors' growth (a clone has no spare capacity) is amortised as in a long run.
fn bench_streaming(c: &mut Harness<'_>) {
    if !c.wants_group("streaming") {
        return;
    }
    const APPENDED: usize = 100;
    let n = 10_000;
    let series = random_walk(4, n + APPENDED);
    let start = StreamingMatrixProfile::with_series(&series[..n], WINDOW).expect("seed");
    let mut group = c.benchmark_group("streaming");
    group.throughput(Throughput::Elements(APPENDED as u64));
    group.bench_function("push/10000", |bench| {
        bench.iter_batched(
            || start.clone(),
            |mut streaming| {
                streaming.extend(black_box(&series[n..])).expect("finite");
                streaming
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// The logistic map at r = 3.9 plus a little uniform noise, so no two states coincide.
fn noisy_logistic(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = Xorshift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut x = 0.4;
    (0..n)
        .map(|_| {
            x = 3.9 * x * (1.0 - x);
            x + 0.01 * (rng.unit() - 0.5)
        })
        .collect()
}

/// pyEDM's `EmbedDimension` default `maxE`.
const PROFILE_MAX_E: usize = 10;

fn bench_edm(c: &mut Harness<'_>) {
    if !c.wants_group("edm") {
        return;
    }
    let mut group = c.benchmark_group("edm");
    let series = noisy_logistic(5, 1_000);
    let params = EdmParams {
        e: 3,
        ..EdmParams::default()
    };
    group.bench_function("simplex/1000", |bench| {
        bench.iter(|| simplex(black_box(&series), 0..500, 500..1_000, &params).expect("simplex"))
    });
    // The simplex survey E = 1..10 on n = 2,000 (library the first half, predictions the
    // second): `embed_dimension` as the engine runs it, and the same ten `simplex` calls one
    // after the other, the work pyEDM's serial loop does. `scripts/bench_pyedm.py` times
    // pyEDM on the same series, for the ratio.
    let survey = noisy_logistic(6, 2_000);
    group.bench_function("embed_dimension/2000", |bench| {
        bench.iter(|| {
            embed_dimension(
                black_box(&survey),
                0..1_000,
                1_000..2_000,
                PROFILE_MAX_E,
                1,
                1,
            )
            .expect("survey")
        })
    });
    group.bench_function("simplex_serial/2000", |bench| {
        bench.iter(|| {
            (1..=PROFILE_MAX_E)
                .map(|e| {
                    let params = EdmParams {
                        e,
                        ..EdmParams::default()
                    };
                    simplex(black_box(&survey), 0..1_000, 1_000..2_000, &params)
                        .expect("simplex")
                        .rho
                })
                .sum::<f64>()
        })
    });
    group.sample_size(10);
    for n in [1_000, 2_000] {
        let series = noisy_logistic(6, n);
        group.bench_with_input(
            BenchmarkId::new("profile_dynamics", n),
            &series,
            |bench, s| {
                bench.iter(|| profile_dynamics(black_box(s), PROFILE_MAX_E).expect("profile"))
            },
        );
    }
    group.finish();
}

fn bench_tuning(c: &mut Harness<'_>) {
    if !c.wants_group("tuning") {
        return;
    }
    let n = 2_048;
    let mut rng = Xorshift(7);
    let series: Vec<f64> = (0..n)
        .map(|t| (std::f64::consts::TAU * t as f64 / 40.0).sin() + rng.unit() - 0.5)
        .collect();
    let mut group = c.benchmark_group("tuning");
    group.bench_function("dominant_period/2048", |bench| {
        bench.iter(|| dominant_period(black_box(&series), 2, n / 4))
    });
    group.finish();
}

/// The learning loop's cost per round: a meta round as the pipeline runs it (`meta::analyse`:
/// motif window, matrix profile, dynamics profile) against the same round followed by the
/// learning loop (`meta::learn`: held-out scoring, parameter rules, skill by horizon, motif
/// candidates, threshold learning for the four built-in patterns and the learnt ones), in the
/// same run, on N = 1,024 samples of a noisy sine (period 50) with a bump every 300 samples.
/// The learner is warmed by the rounds of the 4,096 samples before, as on a live channel.
/// `learn_only` times the learning loop alone on that round's outcome.
fn bench_learning(c: &mut Harness<'_>) {
    use crate::engines::meta::learning::ChannelLearner;
    use crate::pipeline::library::builtin_patterns;
    use crate::pipeline::tracks::meta::{self, LearningContext, WindowTuner};

    if !c.wants_group("learning") {
        return;
    }
    let mut rng = Xorshift(11);
    let stream: Vec<f64> = (0..5_120)
        .map(|t| {
            let bump = if t % 300 < 40 {
                3.0 * (std::f64::consts::PI * (t % 300) as f64 / 39.0).sin()
            } else {
                0.0
            };
            (std::f64::consts::TAU * t as f64 / 50.0).sin() + 0.1 * (rng.unit() - 0.5) + bump
        })
        .collect();
    let context = LearningContext {
        given: builtin_patterns(),
        chaos: None,
    };
    let mut learner = ChannelLearner::default();
    let mut tuner = WindowTuner::default();
    for at in (1_024..=4_096).step_by(256) {
        let series = &stream[at - 1_024..at];
        let outcome = meta::analyse(series, (at - 1_024) as u64, &mut tuner);
        meta::learn(
            &mut learner,
            0,
            "bench",
            series,
            (at - 1_024) as u64,
            &outcome,
            &context,
            None,
        );
    }
    let series = &stream[stream.len() - 1_024..];
    let first = (stream.len() - 1_024) as u64;
    let mut group = c.benchmark_group("learning");
    group.sample_size(10);
    group.bench_function("round/1024", |bench| {
        bench.iter_batched(
            || tuner,
            |mut t| meta::analyse(black_box(series), first, &mut t),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("round_with_learning/1024", |bench| {
        bench.iter_batched(
            || (tuner, learner.clone()),
            |(mut t, mut l)| {
                let outcome = meta::analyse(black_box(series), first, &mut t);
                meta::learn(&mut l, 0, "bench", series, first, &outcome, &context, None)
            },
            BatchSize::SmallInput,
        )
    });
    // The learning loop alone, on the round's outcome computed once: the two figures above
    // differ by less than their intervals, so their difference cannot say what learning costs.
    let outcome = meta::analyse(series, first, &mut tuner.clone());
    group.bench_function("learn_only/1024", |bench| {
        bench.iter_batched(
            || learner.clone(),
            |mut l| {
                meta::learn(
                    &mut l,
                    0,
                    "bench",
                    black_box(series),
                    first,
                    &outcome,
                    &context,
                    None,
                )
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    bench_learning(c);
    bench_profile(c);
    bench_selection(c);
    bench_streaming(c);
    bench_edm(c);
    bench_tuning(c);
}
