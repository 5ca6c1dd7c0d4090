//! Attractor engine benchmarks (issue 4): delay embedding for m = 2, 3, 5 and n = 1000…10000
//! with delays 1…50; the automatic delay and dimension choices; Rosenstein's exponent on Lorenz,
//! Rössler and a periodic signal for n = 500…10000; the correlation dimension; the
//! classification; and the complete automatic analysis (goal: n = 5000 in ≤ 50 ms).

use std::hint::black_box;

use crate::bench::harness::{BenchmarkId, Harness};
use crate::engines::attractor::{
    AnalysisOptions, ClassEvidence, DelayEmbedding, SlidingWindow, analyze, analyze_latest,
    choose_delay, choose_dimension, classify, correlation_dimension, rosenstein, theiler_window,
};

#[path = "../../../tests/engines/attractor_support.rs"]
mod support;

const SIZES: [usize; 5] = [500, 1000, 2000, 5000, 10000];

/// Makes a test series of the given length.
type Generator = fn(usize) -> Vec<f64>;

fn lorenz(n: usize) -> Vec<f64> {
    support::lorenz_x(n, 0.01, [1.0, 1.0, 1.0])
}

fn rossler(n: usize) -> Vec<f64> {
    support::rossler_x(n, 0.05, [1.0, 1.0, 0.0])
}

fn periodic(n: usize) -> Vec<f64> {
    support::sine(n, 10.0 * std::f64::consts::PI, 1.0)
}

fn embedding(c: &mut Harness<'_>) {
    let mut group = c.benchmark_group("embedding");
    for n in [1000, 2000, 5000, 10000] {
        let x = lorenz(n);
        for dim in [2, 3, 5] {
            for delay in [1, 5, 10, 20, 50] {
                let e = DelayEmbedding::new(dim, delay).expect("embedding");
                group.bench_with_input(
                    BenchmarkId::new(format!("m{dim}/tau{delay}"), n),
                    &x,
                    |b, x| b.iter(|| black_box(e.embed(black_box(x)))),
                );
            }
        }
    }
    group.finish();
    let mut group = c.benchmark_group("embedding_choice");
    group.sample_size(20);
    for n in [1000, 5000, 10000] {
        let x = lorenz(n);
        group.bench_with_input(BenchmarkId::new("delay_ami", n), &x, |b, x| {
            b.iter(|| black_box(choose_delay(black_box(x)).expect("delay")))
        });
        let w = theiler_window(&x);
        let tau = choose_delay(&x).expect("delay").delay;
        group.bench_with_input(BenchmarkId::new("dimension_cao", n), &x, |b, x| {
            b.iter(|| black_box(choose_dimension(black_box(x), tau, w).expect("dim")))
        });
    }
    group.finish();
}

fn lyapunov(c: &mut Harness<'_>) {
    if !c.wants_group("lyapunov_rosenstein") {
        return;
    }
    let mut group = c.benchmark_group("lyapunov_rosenstein");
    group.sample_size(10);
    let cases: [(&str, Generator); 3] = [
        ("lorenz", lorenz),
        ("rossler", rossler),
        ("periodic", periodic),
    ];
    for (name, make) in cases {
        for n in SIZES {
            let x = make(n);
            let w = theiler_window(&x);
            let e = DelayEmbedding::new(3, choose_delay(&x).expect("delay").delay).expect("emb");
            group.bench_with_input(BenchmarkId::new(name, n), &x, |b, x| {
                b.iter(|| black_box(rosenstein(black_box(x), e, w)))
            });
        }
    }
    group.finish();
}

fn dimension(c: &mut Harness<'_>) {
    if !c.wants_group("correlation_dimension") {
        return;
    }
    let mut group = c.benchmark_group("correlation_dimension");
    group.sample_size(10);
    for n in [1000, 2000, 5000, 10000] {
        let x = lorenz(n);
        let w = theiler_window(&x);
        let e = DelayEmbedding::new(3, choose_delay(&x).expect("delay").delay).expect("emb");
        group.bench_with_input(BenchmarkId::new("lorenz_m3", n), &x, |b, x| {
            b.iter(|| black_box(correlation_dimension(black_box(x), e, w)))
        });
    }
    let h = support::henon_x(10000, 0.1);
    let e = DelayEmbedding::new(2, 1).expect("emb");
    group.bench_function("henon_m2/10000", |b| {
        b.iter(|| black_box(correlation_dimension(black_box(&h), e, 1)))
    });
    group.finish();
}

fn classification(c: &mut Harness<'_>) {
    let evidence = ClassEvidence {
        exact_period: None,
        amplitude_ratio: 1.0,
        lyapunov_per_sample: Some(0.009),
        lyapunov_r2: Some(0.99),
        mean_period: 90.0,
        divergence_rise: Some(3.6),
        correlation_dimension: Some(2.05),
        embedding_dim: 3,
        cao_e2_deviation: Some(0.9),
    };
    c.bench_function("classify", |b| {
        b.iter(|| black_box(classify(black_box(&evidence))))
    });
}

fn complete(c: &mut Harness<'_>) {
    if !c.wants_group("analysis") {
        return;
    }
    let mut group = c.benchmark_group("analysis");
    group.sample_size(20);
    let cases: [(&str, Vec<f64>, Option<f64>); 5] = [
        ("lorenz", lorenz(5000), Some(0.01)),
        ("rossler", rossler(5000), Some(0.05)),
        ("henon", support::henon_x(5000, 0.1), None),
        ("sine", periodic(5000), None),
        ("noise", support::white_noise(5000, 1), None),
    ];
    for (name, x, dt) in &cases {
        let options = AnalysisOptions {
            dt: *dt,
            ..AnalysisOptions::default()
        };
        group.bench_with_input(BenchmarkId::new(*name, 5000), x, |b, x| {
            b.iter(|| black_box(analyze(black_box(x), &options)))
        });
    }
    for n in [1000, 2000, 10000] {
        let x = lorenz(n);
        let options = AnalysisOptions {
            dt: Some(0.01),
            ..AnalysisOptions::default()
        };
        group.bench_with_input(BenchmarkId::new("lorenz", n), &x, |b, x| {
            b.iter(|| black_box(analyze(black_box(x), &options)))
        });
    }
    let buffer = lorenz(8192);
    let window = SlidingWindow::default();
    group.bench_function("sliding_window_lorenz/4096", |b| {
        b.iter(|| {
            black_box(analyze_latest(
                black_box(&buffer),
                &window,
                &AnalysisOptions::default(),
            ))
        })
    });
    group.finish();
}

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    embedding(c);
    lyapunov(c);
    dimension(c);
    classification(c);
    complete(c);
}
