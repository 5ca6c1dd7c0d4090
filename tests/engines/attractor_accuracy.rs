//! Accuracy of the automatic attractor analysis (n = 5000, no parameters given) against
//! published values and against each series' own finite-time exponent; the classes of the
//! textbook cases; scale invariance; the sliding-window API.
//!
//! The series come from small integrators in `attractor_support` (RK4 for the flows, direct
//! iteration for the maps), independent of the engine. Release builds run this in a few
//! seconds: `cargo test --release --no-default-features --test engines attractor_accuracy`.

use crate::attractor_support::*;
use midstream::engines::attractor::{
    AnalysisOptions, AttractorAnalysis, AttractorClass, SlidingWindow, analyze, analyze_latest,
};

const N: usize = 5000;

fn run(series: &[f64], dt: Option<f64>) -> AttractorAnalysis {
    analyze(
        series,
        &AnalysisOptions {
            dt,
            ..AnalysisOptions::default()
        },
    )
    .expect("analysis succeeds")
}

fn lambda(a: &AttractorAnalysis) -> f64 {
    a.lyapunov_value().expect("an exponent")
}

fn d2(a: &AttractorAnalysis) -> f64 {
    a.correlation_dimension.as_ref().expect("a D2").value
}

fn assert_within(what: &str, value: f64, expected: f64, relative: f64) {
    assert!(
        (value / expected - 1.0).abs() <= relative,
        "{what}: {value} is not within {}% of {expected}",
        relative * 100.0
    );
}

#[test]
fn lorenz_exponent_and_dimension() {
    // Lorenz (σ=10, ρ=28, β=8/3) x every 0.01: λ = 0.906 per time unit (Sprott 2003),
    // D2 = 2.05 (Grassberger & Procaccia 1983). Goals: λ within 10%, D2 within ±0.15.
    let a = run(&lorenz_x(N, 0.01, [1.0, 1.0, 1.0]), Some(0.01));
    assert_eq!(a.class, AttractorClass::Chaotic);
    assert_within("Lorenz λ", lambda(&a), 0.906, 0.10);
    assert_eq!(a.lyapunov_unit(), "per time unit");
    assert!((d2(&a) - 2.05).abs() <= 0.15, "Lorenz D2 {}", d2(&a));
    let l = a.lyapunov.as_ref().expect("an exponent");
    assert!(l.r2 > 0.95, "fit R² {}", l.r2);
    let (from, to) = a.lyapunov_fit().expect("a fit range");
    assert!(0.0 < from && from < to && to < 5.0, "fit {from}..{to}");
}

#[test]
fn lorenz_exponent_follows_the_series_own_finite_time_exponent() {
    // A 50-time-unit stretch carries its own finite-time exponent, which scatters around 0.906
    // by about 5%; this one is unusually low (0.79). The estimate must follow the data.
    for x0 in [[0.0, 1.0, 20.0], [-5.0, 3.0, 30.0]] {
        let (x, ftle) = lorenz_x_with_ftle(N, 0.01, x0);
        let a = run(&x, Some(0.01));
        assert_eq!(a.class, AttractorClass::Chaotic);
        assert_within("Lorenz λ against its own FTLE", lambda(&a), ftle, 0.10);
    }
}

#[test]
fn measurement_noise_does_not_hide_lorenz_chaos() {
    // 2% white measurement noise (of x's standard deviation, 7.9) on the same series.
    let mut rng = SplitMix(5);
    let noisy: Vec<f64> = lorenz_x(N, 0.01, [1.0, 1.0, 1.0])
        .iter()
        .map(|v| v + 0.02 * 7.9 * rng.normal())
        .collect();
    let a = run(&noisy, Some(0.01));
    assert_eq!(a.class, AttractorClass::Chaotic);
    assert_within("noisy Lorenz λ", lambda(&a), 0.906, 0.15);
}

#[test]
fn rossler_exponent() {
    // Rössler (a=b=0.2, c=5.7) x every 0.05: λ = 0.0714 per time unit. Goal: within 15%.
    let a = run(&rossler_x(N, 0.05, [1.0, 1.0, 0.0]), Some(0.05));
    assert_eq!(a.class, AttractorClass::Chaotic);
    assert_within("Rössler λ", lambda(&a), 0.0714, 0.15);
}

#[test]
fn henon_exponent_and_dimension() {
    // Hénon (a=1.4, b=0.3) x: λ = 0.419 per iteration, D2 = 1.22 (GP 1983: 1.21 ± 0.01).
    let a = run(&henon_x(N, 0.1), None);
    assert_eq!(a.class, AttractorClass::Chaotic);
    assert_within("Hénon λ", lambda(&a), 0.419, 0.10);
    assert_eq!(a.lyapunov_unit(), "per sample");
    assert!((d2(&a) - 1.22).abs() <= 0.1, "Hénon D2 {}", d2(&a));
    assert_eq!(a.embedding.delay, 1, "a map needs no delay beyond one step");
}

#[test]
fn logistic_exponent() {
    // r = 4: λ = ln 2 per iteration exactly.
    let a = run(&logistic(N, 4.0, 0.3), None);
    assert_eq!(a.class, AttractorClass::Chaotic);
    assert_within("logistic λ", lambda(&a), std::f64::consts::LN_2, 0.10);
}

#[test]
fn periodic_series_are_periodic() {
    let cycle = run(&logistic(N, 3.5, 0.3), None);
    assert_eq!(
        cycle.class,
        AttractorClass::Periodic,
        "logistic r = 3.5 (period 4)"
    );
    assert_eq!(cycle.exact_period, Some(4));
    // An irrational period (10π samples) never repeats exactly.
    let tone = run(&sine(N, 10.0 * std::f64::consts::PI, 1.0), None);
    assert_eq!(tone.class, AttractorClass::Periodic, "sine, period 10π");
    assert_eq!(tone.exact_period, None);
    assert!(lambda(&tone).abs() < 0.01, "a limit cycle does not diverge");
    assert!(
        (d2(&tone) - 1.0).abs() < 0.25,
        "a closed curve: D2 {}",
        d2(&tone)
    );
    let integer = run(&sine(N, 50.0, 3.0), None);
    assert_eq!(integer.class, AttractorClass::Periodic, "sine, period 50");
}

#[test]
fn white_noise_is_noise() {
    for seed in [1, 2] {
        assert_eq!(
            run(&white_noise(N, seed), None).class,
            AttractorClass::Noise
        );
        assert_eq!(
            run(&uniform_noise(N, seed), None).class,
            AttractorClass::Noise
        );
    }
}

#[test]
fn torus_and_fixed_point() {
    let torus = run(&quasi_periodic(N, 0.1), None);
    assert_eq!(torus.class, AttractorClass::QuasiPeriodic);
    assert!(
        (d2(&torus) - 2.0).abs() < 0.4,
        "a 2-torus: D2 {}",
        d2(&torus)
    );
    let settling = run(&damped(N, 0.05, 0.02), None);
    assert_eq!(settling.class, AttractorClass::FixedPoint);
}

#[test]
fn scaling_and_shifting_change_nothing() {
    for (series, dt) in [
        (lorenz_x(N, 0.01, [1.0, 1.0, 1.0]), Some(0.01)),
        (henon_x(N, 0.1), None),
        (white_noise(N, 3), None),
    ] {
        let base = run(&series, dt);
        for (scale, shift) in [(10.0, 0.0), (0.001, 0.0), (10.0, -250.0)] {
            let other: Vec<f64> = series.iter().map(|v| scale * v + shift).collect();
            let a = run(&other, dt);
            assert_eq!(a.class, base.class, "×{scale} {shift:+}");
            assert_eq!(a.embedding, base.embedding, "×{scale} {shift:+}");
            assert!((lambda(&a) - lambda(&base)).abs() <= 1e-9 * lambda(&base).abs().max(1e-6));
            assert!((d2(&a) - d2(&base)).abs() <= 1e-9 * d2(&base).max(1e-6));
        }
    }
}

#[test]
fn exponent_per_time_unit_is_per_sample_over_dt() {
    let x = henon_x(2000, 0.2);
    let per_sample = run(&x, None);
    let per_time = run(&x, Some(0.25));
    assert!((lambda(&per_time) - lambda(&per_sample) / 0.25).abs() < 1e-12);
    let (a, b) = per_sample.lyapunov_fit().expect("fit");
    let (c, d) = per_time.lyapunov_fit().expect("fit");
    assert!((c - a * 0.25).abs() < 1e-12 && (d - b * 0.25).abs() < 1e-12);
}

#[test]
fn given_embedding_is_used() {
    let a = analyze(
        &henon_x(3000, 0.1),
        &AnalysisOptions {
            dt: None,
            dim: Some(3),
            delay: Some(2),
        },
    )
    .expect("analysis");
    assert_eq!((a.embedding.dim, a.embedding.delay), (3, 2));
    // The class does not depend on the embedding being chosen automatically.
    let noise = analyze(
        &white_noise(N, 4),
        &AnalysisOptions {
            dt: None,
            dim: Some(4),
            delay: Some(1),
        },
    )
    .expect("analysis");
    assert_eq!(noise.class, AttractorClass::Noise);
    let lorenz = analyze(
        &lorenz_x(N, 0.01, [1.0, 1.0, 1.0]),
        &AnalysisOptions {
            dt: Some(0.01),
            dim: Some(3),
            delay: Some(10),
        },
    )
    .expect("analysis");
    assert_eq!(lorenz.class, AttractorClass::Chaotic);
    assert_within("Lorenz λ, m = 3, τ = 10", lambda(&lorenz), 0.906, 0.10);
}

#[test]
fn sliding_window_analyses_the_latest_samples() {
    let window = SlidingWindow::default();
    assert_eq!((window.window, window.stride), (4096, 256));
    // A buffer whose old part is noise and whose latest 4096 samples are the logistic map.
    let mut buffer = white_noise(3000, 9);
    buffer.extend(logistic(window.window, 4.0, 0.2));
    let a = analyze_latest(&buffer, &window, &AnalysisOptions::default()).expect("analysis");
    assert_eq!(a.n, 4096);
    assert_eq!(a.class, AttractorClass::Chaotic);
    assert!(
        !window.is_due(50, None),
        "too few samples for a first analysis"
    );
    assert!(window.is_due(300, None));
    assert!(!window.is_due(5000 + 255, Some(5000)));
    assert!(window.is_due(5000 + 256, Some(5000)));
}

#[test]
fn awkward_series_give_results_or_errors_never_panics() {
    let mut rng = SplitMix(42);
    let cases: Vec<Vec<f64>> = vec![
        (0..100).map(|_| rng.normal()).collect(),
        (0..150)
            .map(|i| if i % 7 == 0 { 1.0 } else { 0.0 })
            .collect(),
        (0..400).map(|i| if i < 200 { 0.0 } else { 1.0 }).collect(),
        (0..300).map(|i| (i as f64).powi(2)).collect(),
        (0..500).map(|i| if i == 250 { 1e6 } else { 0.0 }).collect(),
        (0..600).map(|i| (i % 2) as f64).collect(),
        (0..1000).map(|i| (i as f64 * 1e-3).exp()).collect(),
    ];
    for series in &cases {
        if let Ok(a) = analyze(series, &AnalysisOptions::default()) {
            assert_eq!(a.n, series.len());
            let json_ready = [
                a.lyapunov_value(),
                a.correlation_dimension.as_ref().map(|d| d.value),
            ];
            assert!(json_ready.iter().flatten().all(|v| v.is_finite()));
        }
    }
    assert!(analyze(&[1.0; 99], &AnalysisOptions::default()).is_err());
    assert!(analyze(&[2.0; 500], &AnalysisOptions::default()).is_err());
    let mut with_nan = logistic(500, 4.0, 0.3);
    with_nan[17] = f64::NAN;
    let err = analyze(&with_nan, &AnalysisOptions::default()).expect_err("NaN");
    assert!(err.to_string().contains("sample 17"), "{err}");
    let too_long = AnalysisOptions {
        dt: None,
        dim: Some(10),
        delay: Some(100),
    };
    assert!(analyze(&logistic(800, 4.0, 0.3), &too_long).is_err());
}
