//! A deterministic, realistic [`Snapshot`] for the screen's tests and the render benchmark
//! (`cargo bench` and `midstream-tui bench`): eight channels like the demo's, each with `points`
//! recent samples of the real generators (`sources::flows`, `sources::maps`,
//! `sources::signals`: Lorenz and Rössler integrated with RK4, Hénon and logistic maps, a
//! sine), an event and a token channel, and the engines' results on them: attractor analyses
//! with the published exponents and dimensions, pattern matches, repetition loops, three
//! formulas (one of each status), scheduler statistics made from fixed latency samples, and
//! meta-learning rounds (motifs computed, dynamics fixed). The criterion results of the
//! Benchmarks pane are invented ([`bench_report`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::model::bench::{BenchReport, BenchResult};
use crate::model::{Catalog, ChannelId, ChannelInfo, ChannelKind, FieldValue, Fields, Value};
use crate::pipeline::{
    AnalysisSnapshot, ChannelSnapshot, ChaosView, DynamicsView, FormulaStatus, FormulaView,
    LinkState, MetaView, PatternMatchView, RepetitionView, Snapshot, SourceStatus, tracks::meta,
};
use crate::scheduler::{ClassStats, LabelShedCount, SchedulerStats, TaskClass, TaskLabel};
use crate::sources::MAP_SAMPLE_PERIOD;
use crate::sources::flows::{LORENZ_SAMPLE_PERIOD, Lorenz, ROSSLER_SAMPLE_PERIOD, Rossler};
use crate::sources::maps::{Henon, Logistic};
use crate::sources::signals::{SINE_SAMPLE_PERIOD, Sine};

/// Growth rate of the sample's logistic map: 3.9, inside the chaotic band, where the
/// Lyapunov exponent is about 0.49 per iteration (the figure the sample's analysis shows).
const LOGISTIC_R: f64 = 3.9;

/// `points` samples of a three-dimensional generator, one column per component.
fn columns(points: usize, mut next: impl FnMut() -> [f64; 3]) -> Vec<Vec<f64>> {
    let mut columns: Vec<Vec<f64>> = (0..3).map(|_| Vec::with_capacity(points)).collect();
    for _ in 0..points {
        for (column, v) in columns.iter_mut().zip(next()) {
            column.push(v);
        }
    }
    columns
}

/// `points` samples of a scalar generator.
fn series(points: usize, next: impl FnMut() -> f64) -> Vec<f64> {
    std::iter::repeat_with(next).take(points).collect()
}

fn info(
    id: u32,
    name: &str,
    kind: ChannelKind,
    unit: Option<&str>,
    period_s: Option<f64>,
) -> ChannelInfo {
    ChannelInfo {
        id,
        name: name.to_string(),
        kind,
        unit: unit.map(str::to_string),
        period_s,
    }
}

/// Made-up criterion results for some of the shipped budgets: within, over, not comparable,
/// and the rest not run.
pub fn bench_report() -> BenchReport {
    let result =
        |id: &str, median_ns: f64, elements: Option<u64>, change: Option<f64>| BenchResult {
            interval_ns: None,
            bytes: None,
            id: id.to_string(),
            median_ns,
            elements,
            change,
            modified: None,
        };
    let results = [
        result("dtw/full/abs/100", 5_400.0, None, Some(-0.02)),
        result("edit/levenshtein/large/1000", 41_000.0, None, Some(0.09)),
        result("edit/levenshtein/small/1000", 24_500.0, None, None),
        result(
            "search/best_match/abs/128/1M",
            95e6,
            Some(1_000_000),
            Some(-0.31),
        ),
        result(
            "schedule_one_task/submit_detached/workers/1",
            84.0,
            None,
            None,
        ),
        result("classify", 1_200.0, None, None),
    ];
    let budgets = crate::bench::budgets().unwrap_or_default();
    BenchReport {
        dir: PathBuf::from("target/criterion"),
        ..BenchReport::check(&results, &budgets)
    }
}

/// A connected demo source with eight channels of `points` recent samples each.
pub fn demo_snapshot(points: usize) -> Snapshot {
    let mut lorenz = Lorenz::new();
    let lorenz_xyz = columns(points, || lorenz.next_sample());
    let mut rossler = Rossler::new();
    let rossler_xyz = columns(points, || rossler.next_sample());
    let mut henon = Henon::new();
    let henon_x = series(points, || henon.next_sample()[0]);
    let mut logistic = Logistic::new(LOGISTIC_R);
    let logistic_x = series(points, || logistic.next_sample());
    let mut sine = Sine::new();
    let sine = series(points, || sine.next_sample());
    let fields: Fields = [
        ("error", FieldValue::Bool(false)),
        ("latency_ms", FieldValue::Number(12.5)),
        ("queue_depth", FieldValue::Number(3.0)),
    ]
    .into_iter()
    .collect();
    let event_fields = fields.keys().map(str::to_owned).collect();

    let mut channels = Vec::new();
    let mut push =
        |info: ChannelInfo, recent: Vec<Vec<f64>>, last: Value, rate_hz: f64, missing: u64| {
            let mut c = ChannelSnapshot::new(info);
            c.received = 48_210 + 1000 * c.info.id as u64;
            c.missing = missing;
            c.rate_hz = rate_hz;
            c.last_value = Some(last);
            c.last_t_ns = 482_100_000_000;
            c.recent = recent;
            channels.push(c);
        };
    let last = |columns: &[Vec<f64>]| -> Vec<f64> {
        columns.iter().filter_map(|c| c.last().copied()).collect()
    };
    let lorenz_last = last(&lorenz_xyz);
    let x_last = lorenz_xyz[0].last().copied().unwrap_or(0.0);
    push(
        info(
            0,
            "lorenz",
            ChannelKind::Vector { dims: 3 },
            None,
            Some(LORENZ_SAMPLE_PERIOD),
        ),
        lorenz_xyz.clone(),
        Value::Vector(lorenz_last),
        100.0,
        0,
    );
    push(
        info(
            1,
            "lorenz.x",
            ChannelKind::Scalar,
            None,
            Some(LORENZ_SAMPLE_PERIOD),
        ),
        vec![lorenz_xyz[0].clone()],
        Value::Scalar(x_last),
        100.0,
        0,
    );
    let rossler_last = last(&rossler_xyz);
    push(
        info(
            2,
            "rossler",
            ChannelKind::Vector { dims: 3 },
            None,
            Some(ROSSLER_SAMPLE_PERIOD),
        ),
        rossler_xyz,
        Value::Vector(rossler_last),
        100.0,
        0,
    );
    let h_last = henon_x.last().copied().unwrap_or(0.0);
    push(
        info(
            3,
            "henon.x",
            ChannelKind::Scalar,
            None,
            Some(MAP_SAMPLE_PERIOD),
        ),
        vec![henon_x],
        Value::Scalar(h_last),
        250.0,
        12,
    );
    let l_last = logistic_x.last().copied().unwrap_or(0.0);
    push(
        info(
            4,
            "logistic",
            ChannelKind::Scalar,
            None,
            Some(MAP_SAMPLE_PERIOD),
        ),
        vec![logistic_x],
        Value::Scalar(l_last),
        250.0,
        0,
    );
    let s_last = sine.last().copied().unwrap_or(0.0);
    push(
        info(
            5,
            "sine",
            ChannelKind::Scalar,
            Some("V"),
            Some(SINE_SAMPLE_PERIOD),
        ),
        vec![sine],
        Value::Scalar(s_last),
        20.0,
        0,
    );
    push(
        info(
            6,
            "events",
            ChannelKind::Event {
                fields: event_fields,
            },
            None,
            None,
        ),
        Vec::new(),
        Value::Fields(fields),
        7.5,
        3,
    );
    push(
        info(7, "tokens", ChannelKind::Text, None, None),
        Vec::new(),
        Value::Token("again".to_string()),
        42.0,
        0,
    );

    let analysis = analysis(&channels);
    Snapshot {
        fleet: None,
        generation: 1,
        source: SourceStatus {
            label: "demo on 127.0.0.1:40123".to_string(),
            link: LinkState::Connected {
                remote: "127.0.0.1:40123".to_string(),
            },
            rtt: Some(Duration::from_micros(420)),
            insecure: false,
            recording: None,
            recorded: 0,
            recording_error: None,
            input: None,
            notice: None,
        },
        catalog: Catalog {
            source: "demo: lorenz,rossler,henon,logistic,sine,events,tokens".to_string(),
            channels: channels.iter().map(|c| c.info.clone()).collect(),
        },
        channels,
        analysis,
        benchmarks: Some(Arc::new(bench_report())),
    }
}

/// Analyses of the sample analysis window, one per analysed channel.
const SAMPLE_WINDOW: usize = 4096;
/// Analyses kept in the sample histories.
const SAMPLE_HISTORY: usize = 40;

/// One attractor analysis whose history wobbles deterministically around the final values.
#[allow(clippy::too_many_arguments)]
fn chaos_view(
    received: u64,
    (dim, delay): (usize, usize),
    lyapunov: f64,
    unit: &str,
    d2: f64,
    fit: (usize, usize),
    fit_r2: f64,
    class: &str,
    elapsed_ms: f64,
) -> ChaosView {
    let history = (0..SAMPLE_HISTORY)
        .map(|i| {
            let t = i as f64;
            let wobble = 0.04 * (t * 0.7).sin() + 0.02 * (t * 1.9).cos();
            let d2_wobble = 0.02 * (t * 0.3 + 1.0).sin();
            (
                Some(lyapunov + wobble * lyapunov.abs().max(0.05)),
                Some(d2 * (1.0 + d2_wobble)),
            )
        })
        .collect();
    ChaosView {
        window: SAMPLE_WINDOW,
        at_sample: received,
        dim,
        delay,
        lyapunov: Some(lyapunov),
        lyapunov_unit: unit.to_string(),
        fit: Some(fit),
        fit_r2: Some(fit_r2),
        correlation_dimension: Some(d2),
        class: class.to_string(),
        elapsed_ms,
        history,
        error: None,
    }
}

/// A small deterministic generator (xorshift64*, Vigna 2016) for the sample latencies.
struct Xorshift(u64);

impl Xorshift {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// About log-normal around `median_ns`: the exponent is a sum of four uniforms (nearly
    /// normal), `spread` wide.
    fn latency_ns(&mut self, median_ns: f64, spread: f64) -> u64 {
        let z: f64 = (0..4).map(|_| self.next_unit()).sum::<f64>() - 2.0;
        (median_ns * (spread * z).exp()).max(1.0) as u64
    }
}

/// Scheduler statistics of a pipeline that has run for a while: LTL steps (Critical) wait a
/// few µs, pattern searches (High) tens of µs, attractor analyses (Normal) milliseconds, motif
/// discovery (Low) tens of ms; some Low and Normal work was shed.
fn scheduler_stats() -> Option<SchedulerStats> {
    /// What one class did.
    struct ClassPlan {
        class: TaskClass,
        tasks: u64,
        wait_median_ns: f64,
        run_median_ns: f64,
        spread: f64,
        tasks_per_s: f64,
        queued: usize,
        deadline_misses: u64,
        shed: u64,
    }
    let plan =
        |class, tasks, (wait_median_ns, run_median_ns, spread), tasks_per_s, queued| ClassPlan {
            class,
            tasks,
            wait_median_ns,
            run_median_ns,
            spread,
            tasks_per_s,
            queued,
            deadline_misses: 0,
            shed: 0,
        };
    let mut plans = [
        plan(
            TaskClass::Critical,
            24_000,
            (1_800.0, 900.0, 1.2),
            3_610.0,
            0,
        ),
        plan(TaskClass::High, 6_000, (14_000.0, 45_000.0, 1.3), 902.0, 2),
        plan(TaskClass::Normal, 240, (2.4e6, 16e6, 1.0), 3.9, 3),
        plan(TaskClass::Low, 60, (60e6, 35e6, 1.1), 0.8, 37),
    ];
    plans[2].deadline_misses = 2;
    plans[2].shed = 3;
    plans[3].shed = 112;
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let mut samples = Vec::new();
    for p in &plans {
        for _ in 0..p.tasks {
            let w = rng.latency_ns(p.wait_median_ns, p.spread);
            let r = rng.latency_ns(p.run_median_ns, p.spread);
            samples.push((p.class, w, r));
        }
    }
    let classes = plans.map(|p| ClassStats {
        class: p.class,
        submitted: p.tasks + p.queued as u64 + p.shed,
        completed: p.tasks,
        panicked: 0,
        cancelled: 0,
        shed: p.shed,
        rejected: 0,
        deadline_misses: p.deadline_misses,
        queue_depth: p.queued,
        capacity: crate::scheduler::DEFAULT_CLASS_CAPACITY,
        tasks_per_s: p.tasks_per_s,
    });
    let shed_by_label = vec![
        LabelShedCount {
            class: TaskClass::Normal,
            label: TaskLabel::new("attractor", 3),
            count: 3,
        },
        LabelShedCount {
            class: TaskClass::Low,
            label: TaskLabel::new("meta", 1),
            count: 32,
        },
        LabelShedCount {
            class: TaskClass::Low,
            label: TaskLabel::new("meta", 5),
            count: 80,
        },
    ];
    SchedulerStats::from_samples(Duration::from_secs(482), 2, classes, shed_by_label, samples).ok()
}

/// The engines' results on the sample channels (ids as in [`demo_snapshot`]).
fn analysis(channels: &[ChannelSnapshot]) -> AnalysisSnapshot {
    let channel = |id: ChannelId| channels.iter().find(|c| c.info.id == id);
    let received = |id: ChannelId| channel(id).map_or(0, |c| c.received);
    let last_t_ns = channels.first().map_or(0, |c| c.last_t_ns);
    // Lorenz: λ = 0.906 per time unit and D2 = 2.05 (Sprott 2003, table A.1; Grassberger &
    // Procaccia 1983); Rössler λ = 0.0714; Hénon λ = 0.419 per iteration, D2 = 1.22; the
    // logistic map at r = 3.9, λ ≈ 0.49; the sine is a limit cycle (λ ≈ 0, D2 ≈ 1).
    let chaos = [
        (
            0,
            (3, 11),
            0.906,
            "1/s",
            2.05,
            (4, 38),
            0.994,
            "chaotic",
            21.3,
        ),
        (
            1,
            (3, 11),
            0.893,
            "1/s",
            2.04,
            (4, 36),
            0.991,
            "chaotic",
            19.8,
        ),
        (
            2,
            (3, 150),
            0.0714,
            "1/s",
            1.99,
            (30, 310),
            0.982,
            "chaotic",
            24.6,
        ),
        (
            3,
            (2, 1),
            0.419,
            "1/s",
            1.22,
            (1, 9),
            0.997,
            "chaotic",
            12.2,
        ),
        (
            4,
            (2, 1),
            0.494,
            "1/s",
            0.98,
            (1, 8),
            0.996,
            "chaotic",
            11.7,
        ),
        (
            5,
            (2, 31),
            -0.002,
            "1/s",
            1.01,
            (2, 60),
            0.412,
            "periodic",
            9.4,
        ),
    ]
    .into_iter()
    .map(|(id, embedding, l, unit, d2, fit, r2, class, ms)| {
        (
            id,
            chaos_view(received(id), embedding, l, unit, d2, fit, r2, class, ms),
        )
    })
    .collect();

    // Match times on the source clock: a match ending `back` samples before the newest one, on
    // a channel sampled every `period_ns`.
    let found = |pattern: &str, id: ChannelId, name: &str, distance: f64, back: u64, len: usize| {
        let period_s = channel(id)
            .and_then(|c| c.info.period_s)
            .unwrap_or(LORENZ_SAMPLE_PERIOD);
        let period_ns = (period_s * 1e9) as u64;
        let end = received(id).saturating_sub(back);
        PatternMatchView {
            pattern: pattern.to_string(),
            channel: id,
            channel_name: name.to_string(),
            distance,
            start_sample: end.saturating_sub(len as u64),
            len,
            t_ns: last_t_ns.saturating_sub(back * period_ns),
            age: Duration::from_nanos(back * period_ns),
        }
    };
    let matches = vec![
        found("double-scroll", 0, "lorenz", 0.412, 180, 96),
        found("spike", 1, "lorenz.x", 0.537, 420, 64),
        found("ramp", 5, "sine", 0.871, 1_900, 128),
        found("spike", 3, "henon.x", 1.902, 62, 64),
        found("double-scroll", 1, "lorenz.x", 0.655, 4_100, 96),
    ];
    let repeated =
        |tokens: &[&str], lag: usize, distance: usize, back: u64, age_ms: u64| RepetitionView {
            channel: 7,
            channel_name: "tokens".to_string(),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            lag,
            distance,
            at_token: received(7).saturating_sub(back),
            age: Duration::from_millis(age_ms),
        };
    let repetitions = vec![
        repeated(&["I", "think", "so", "again"], 4, 0, 34, 810),
        repeated(
            &["and", "then", "the", "cat", "sat", "down"],
            12,
            1,
            1_160,
            27_600,
        ),
    ];

    let strip = |n: usize, f: &dyn Fn(usize) -> Option<bool>| (0..n).map(f).collect::<Vec<_>>();
    let formulas = vec![
        FormulaView {
            formula: "F queue_depth <= 3".to_string(),
            channel_name: "events".to_string(),
            status: FormulaStatus::Satisfied,
            verdict_if_ended: true,
            decided_at: Some(4),
            steps: 3_605,
            recent: strip(64, &|_| Some(true)),
            violation_window: Vec::new(),
            restarts: true,
            violations: 0,
            satisfactions: 1_180,
            violation_steps: Vec::new(),
            prediction: Some(0.0),
            predict_steps: 10,
            warn_at: 0.5,
            missing_fields: 0,
        },
        FormulaView {
            formula: "G(latency_ms < 50)".to_string(),
            channel_name: "events".to_string(),
            status: FormulaStatus::Violated,
            verdict_if_ended: false,
            decided_at: Some(1_877),
            steps: 3_605,
            recent: strip(64, &|_| Some(false)),
            violation_window: vec![
                "#1875 {error: false, latency_ms: 12.5, queue_depth: 3}".to_string(),
                "#1876 {error: false, latency_ms: 38.0, queue_depth: 7}".to_string(),
                "#1877 {error: true, latency_ms: 81.0, queue_depth: 9}".to_string(),
            ],
            restarts: true,
            violations: 37,
            satisfactions: 0,
            violation_steps: (0..37u64)
                .map(|i| 1_877 + i * i * 12 / 10)
                .filter(|&s| s < 3_605)
                .collect(),
            prediction: Some(0.62),
            predict_steps: 10,
            warn_at: 0.5,
            missing_fields: 0,
        },
        FormulaView {
            formula: "G(error -> F !error) & G(retry -> X !error)".to_string(),
            channel_name: "events".to_string(),
            status: FormulaStatus::Undecided,
            verdict_if_ended: true,
            decided_at: None,
            steps: 3_605,
            recent: strip(64, &|i| match i % 16 {
                5 | 6 => Some(false),
                11 => None,
                _ => Some(true),
            }),
            violation_window: Vec::new(),
            restarts: true,
            violations: 4,
            satisfactions: 0,
            violation_steps: vec![2_950, 3_100, 3_340, 3_512],
            prediction: None,
            predict_steps: 10,
            warn_at: 0.5,
            missing_fields: 12,
        },
    ];

    AnalysisSnapshot {
        chaos,
        patterns: ["double-scroll", "ramp", "spike", "sine-burst"]
            .map(str::to_string)
            .to_vec(),
        matches,
        repetitions,
        samples_shed: 0,
        formulas,
        scheduler: scheduler_stats(),
        meta: meta_views(channels),
        ..AnalysisSnapshot::default()
    }
}

/// Samples of each channel's meta-learning round in the sample snapshot (the live default N
/// is 1,024; this keeps building the snapshot fast in debug tests).
const SAMPLE_META_SAMPLES: usize = 512;

/// Meta-learning rounds on the numeric sample channels: the motifs and discords are computed
/// here on each channel's last [`SAMPLE_META_SAMPLES`] samples (`meta::analyse_motifs`, the
/// live round's motif part); the dynamics profiles are fixed, being what the live round's
/// `meta::profile_dynamics` gave on those samples of `demo_snapshot(1000)` (computing them
/// here would take seconds in a debug build). Run times are made up; the ages grow with the
/// channel id.
fn meta_views(channels: &[ChannelSnapshot]) -> BTreeMap<ChannelId, MetaView> {
    // (id, E, τ, θ, nonlinear, ρ, run ms)
    let profiles = [
        (0, 1, 18, 3.0, true, 0.771, 6.8),
        (1, 1, 18, 3.0, true, 0.771, 6.5),
        (2, 2, 21, 5.0, true, 0.984, 7.1),
        (3, 2, 1, 9.0, true, 1.000, 9.9),
        (4, 1, 1, 9.0, true, 1.000, 6.2),
        (5, 1, 8, 9.0, false, 0.540, 5.4),
    ];
    profiles
        .into_iter()
        .filter_map(
            |(id, e, tau, theta, nonlinear, forecast_skill, elapsed_ms)| {
                let channel = channels.iter().find(|c| c.info.id == id)?;
                let recent = channel.recent.first()?;
                let series = &recent[recent.len().saturating_sub(SAMPLE_META_SAMPLES)..];
                let first_sample = channel.received.saturating_sub(series.len() as u64);
                let mut tuner = meta::WindowTuner::default();
                let outcome = meta::analyse_motifs(series, first_sample, &mut tuner);
                let failed = !outcome.errors.is_empty();
                let view = MetaView {
                    rounds: channel.received / meta::META_EVERY,
                    series: series.into(),
                    first_sample,
                    length: meta::DEFAULT_LENGTH,
                    window: outcome.window,
                    period: outcome.period,
                    motifs: outcome.motifs,
                    discords: outcome.discords,
                    dynamics: (!failed).then(|| DynamicsView {
                        e,
                        tau,
                        theta,
                        nonlinear,
                        forecast_skill,
                        rho_by_e: Vec::new(),
                        rho_by_theta: Vec::new(),
                    }),
                    elapsed_ms,
                    age: Duration::from_millis(300 + 150 * u64::from(id)),
                    error: failed.then(|| outcome.errors.join("; ")),
                };
                Some((id, view))
            },
        )
        .collect()
}
