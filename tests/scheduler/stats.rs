//! Statistics against a known synthetic workload: tasks that busy-wait known durations, waits
//! imposed by a gate, deadline misses, counters, publication without `wait_idle`.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{Gate, NO_AGING, PATIENCE, single_worker};
use midstream::scheduler::stats::HISTOGRAM_SIGNIFICANT_FIGURES;
use midstream::scheduler::{
    LatencyKind, LogBucketSpec, SchedulerConfig, Task, TaskClass, TaskLabel, TaskStatus,
};

/// Relative resolution of the histograms: 2 significant digits give 256 sub-buckets per power
/// of two, so a recorded value is reported at most 1/128 above the sample.
const HISTOGRAM_RESOLUTION: f64 = 1.0 / 128.0;
/// Scheduler overhead around a task's closure that may add to its own measurement of its run
/// time: the scheduler's clock reads bracket the closure with a status update and a
/// `catch_unwind` in between (well under a microsecond), plus room for a rare preemption at
/// that spot on a loaded machine.
const BRACKET_SLACK: Duration = Duration::from_micros(200);

/// How close to a log-bucket bound a task's own measurement may be and still land on the
/// other side of it in the scheduler's histogram (bracket overhead plus one HdrHistogram bucket).
const BUCKET_MARGIN: Duration = Duration::from_micros(20);

/// Spins until `d` has passed since it was called (a sleep could end much later).
fn busy_wait(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Nearest-rank percentile of sorted samples (the definition HdrHistogram follows).
fn nearest_rank(sorted: &[u64], quantile: f64) -> u64 {
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

/// The histogram's value must lie between the exact value and the exact value plus the bracket
/// slack, rounded up to the histogram's resolution.
fn assert_matches(what: &str, histogram_ns: u64, exact_ns: u64) {
    let high = (exact_ns as f64 + BRACKET_SLACK.as_nanos() as f64) * (1.0 + HISTOGRAM_RESOLUTION);
    assert!(
        histogram_ns >= exact_ns && histogram_ns as f64 <= high,
        "{what}: histogram says {histogram_ns} ns, the tasks measured {exact_ns} ns"
    );
}

#[test]
fn run_time_percentiles_match_a_known_workload() {
    assert_eq!(HISTOGRAM_SIGNIFICANT_FIGURES, 2);
    let short = Duration::from_micros(300);
    let medium = Duration::from_millis(2);
    let long = Duration::from_millis(12);
    // 60 short, 35 medium, 5 long busy-waits, shuffled by a fixed stride. Each task measures its
    // own run time independently of the scheduler (preemption on a loaded machine can stretch
    // a busy-wait, and both clocks see that alike).
    let mut durations: Vec<Duration> = [(short, 60), (medium, 35), (long, 5)]
        .into_iter()
        .flat_map(|(d, n)| std::iter::repeat_n(d, n))
        .collect();
    let n = durations.len();
    durations = (0..n).map(|i| durations[(i * 37) % n]).collect();
    let measured = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let scheduler = single_worker(SchedulerConfig::default());
    let handles: Vec<_> = durations
        .iter()
        .map(|&d| {
            let measured = Arc::clone(&measured);
            let task = Task::new(
                TaskClass::Normal,
                TaskLabel::new("attractor", 1),
                move || {
                    let start = Instant::now();
                    busy_wait(d);
                    let own_ns = start.elapsed().as_nanos() as u64;
                    measured
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(own_ns);
                },
            );
            scheduler.submit(task).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    for h in &handles {
        assert_eq!(h.wait(), TaskStatus::Completed);
    }
    assert!(scheduler.wait_idle(PATIENCE));
    let mut exact = measured.lock().unwrap_or_else(|e| e.into_inner()).clone();
    exact.sort_unstable();
    assert_eq!(exact.len(), n);
    assert!(exact[0] >= short.as_nanos() as u64);

    let stats = scheduler.stats();
    let run = stats.percentiles(TaskClass::Normal, LatencyKind::Run);
    assert_eq!(run.count, n as u64);
    assert_matches("p50", run.p50_ns, nearest_rank(&exact, 0.5));
    assert_matches("p90", run.p90_ns, nearest_rank(&exact, 0.9));
    assert_matches("p99", run.p99_ns, nearest_rank(&exact, 0.99));
    assert_matches("p99.9", run.p999_ns, nearest_rank(&exact, 0.999));
    assert_matches("max", run.max_ns, exact[n - 1]);
    // The workload's shape shows through: p50 is a short task, p90 a medium one, p99 a long one.
    assert!(run.p50_ns >= short.as_nanos() as u64 && run.p50_ns < medium.as_nanos() as u64);
    assert!(run.p90_ns >= medium.as_nanos() as u64);
    assert!(run.p99_ns >= long.as_nanos() as u64);
    // Every sample is in its class and kind, nowhere else.
    assert_eq!(
        stats.histogram(TaskClass::Normal, LatencyKind::Wait).len(),
        n as u64
    );
    for class in [TaskClass::Critical, TaskClass::High, TaskClass::Low] {
        assert!(stats.histogram(class, LatencyKind::Run).is_empty());
        assert!(stats.histogram(class, LatencyKind::Wait).is_empty());
    }
    // With one worker the tasks ran back to back: the last one started waited for the runs of
    // (nearly) all the others, which were submitted before the worker got far.
    let total_ns: u64 = exact.iter().sum();
    let wait = stats.percentiles(TaskClass::Normal, LatencyKind::Wait);
    let lower_bound = total_ns - 2 * exact[n - 1];
    assert!(
        wait.max_ns >= lower_bound,
        "max wait {} ns < {lower_bound} ns",
        wait.max_ns
    );
    // Log buckets: every sample counted once, each where the tasks' own measurement puts it
    // (none is within a histogram bucket of a bound here: bounds are 10^(k/4) ns).
    let spec = LogBucketSpec {
        min_decade: 4,
        max_decade: 8,
        per_decade: 4,
    };
    let buckets = stats.log_buckets(TaskClass::Normal, LatencyKind::Run, &spec);
    assert_eq!(buckets.len(), 16);
    assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), n as u64);
    let short_bucket = buckets
        .iter()
        .find(|b| b.lower_ns <= 300_000 && 300_000 < b.upper_ns)
        .unwrap_or_else(|| panic!("no bucket for 300 µs"));
    // A sample within BUCKET_MARGIN of a bound may fall on either side: the scheduler's clock
    // reads bracket the task's own, and HdrHistogram buckets are about 2 µs wide here.
    let margin = BUCKET_MARGIN.as_nanos() as u64;
    let (lo, hi) = (short_bucket.lower_ns, short_bucket.upper_ns);
    let surely_in = exact
        .iter()
        .filter(|&&ns| ns >= lo + margin && ns + margin < hi)
        .count() as u64;
    let maybe_in = exact
        .iter()
        .filter(|&&ns| ns + margin >= lo && ns < hi + margin)
        .count() as u64;
    assert!(
        (surely_in..=maybe_in).contains(&short_bucket.count),
        "{short_bucket:?}: the tasks measured between {surely_in} and {maybe_in} in it"
    );
}

#[test]
fn wait_time_includes_the_time_spent_behind_a_busy_worker() {
    let scheduler = single_worker(SchedulerConfig {
        aging_after: NO_AGING,
        ..SchedulerConfig::default()
    });
    let gate = Gate::hold(&scheduler, 0);
    let held = Duration::from_millis(30);
    for _ in 0..10 {
        scheduler
            .submit_detached(Task::new(
                TaskClass::High,
                TaskLabel::new("temporal", 2),
                || {},
            ))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    thread::sleep(held);
    gate.open();
    assert!(scheduler.wait_idle(PATIENCE));
    let stats = scheduler.stats();
    let wait = stats.histogram(TaskClass::High, LatencyKind::Wait);
    assert_eq!(wait.len(), 10);
    // Every one was submitted before the sleep and started after the gate opened.
    assert!(
        wait.min() as u128 >= held.as_nanos() * 127 / 128,
        "min wait {}",
        wait.min()
    );
    let gate_run = stats.histogram(TaskClass::Critical, LatencyKind::Run);
    assert_eq!(gate_run.len(), 1);
    assert!(
        gate_run.max() as u128 >= held.as_nanos(),
        "gate ran {} ns",
        gate_run.max()
    );
}

#[test]
fn deadline_misses_are_counted_per_class() {
    let scheduler = single_worker(SchedulerConfig::default());
    let label = TaskLabel::new("ltl", 1);
    let late = scheduler
        .submit(
            Task::new(TaskClass::Critical, label, || {
                busy_wait(Duration::from_millis(2))
            })
            .with_deadline(Instant::now()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let on_time = scheduler
        .submit(
            Task::new(TaskClass::Critical, label, || {})
                .with_deadline_in(Duration::from_secs(3600)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let no_deadline = scheduler
        .submit(Task::new(TaskClass::High, label, || {
            busy_wait(Duration::from_millis(1))
        }))
        .unwrap_or_else(|e| panic!("{e}"));
    for h in [&late, &on_time, &no_deadline] {
        assert_eq!(h.wait(), TaskStatus::Completed);
    }
    let stats = scheduler.stats();
    assert_eq!(stats.class(TaskClass::Critical).deadline_misses, 1);
    assert_eq!(stats.class(TaskClass::High).deadline_misses, 0);
    assert_eq!(stats.class(TaskClass::Critical).completed, 2);
}

#[test]
fn histograms_are_published_without_waiting_for_idle() {
    let scheduler = single_worker(SchedulerConfig {
        stats_publish_interval: Duration::from_millis(5),
        ..SchedulerConfig::default()
    });
    for _ in 0..25 {
        scheduler
            .submit_detached(Task::new(TaskClass::Low, TaskLabel::new("meta", 1), || {}))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // The worker publishes on its own before it parks, at most one interval later.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = scheduler.stats();
        if stats.histogram(TaskClass::Low, LatencyKind::Run).len() == 25 {
            assert_eq!(stats.class(TaskClass::Low).completed, 25);
            assert!(stats.class(TaskClass::Low).tasks_per_s > 0.0);
            break;
        }
        assert!(Instant::now() < deadline, "histograms never published");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn reading_statistics_does_not_wait_for_running_tasks() {
    let scheduler = single_worker(SchedulerConfig::default());
    let gate = Gate::hold(&scheduler, 0);
    scheduler
        .submit_detached(Task::new(
            TaskClass::Normal,
            TaskLabel::new("attractor", 4),
            || {},
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    // The only worker is blocked inside a task: a read must still return, with live counters.
    let stats = scheduler.stats();
    assert_eq!(stats.class(TaskClass::Normal).queue_depth, 1);
    assert_eq!(stats.class(TaskClass::Critical).submitted, 1);
    assert_eq!(stats.class(TaskClass::Critical).completed, 0);
    assert_eq!(stats.workers, 1);
    assert!(!scheduler.wait_idle(Duration::from_millis(5)));
    gate.open();
    assert!(scheduler.wait_idle(PATIENCE));
    assert_eq!(scheduler.stats().class(TaskClass::Normal).completed, 1);
}
