//! Scheduler benchmarks (issue 6).
//!
//! Goals on the 2-core machine, and the benchmark that measures each:
//! - schedule one task ≤ 100 ns median: `schedule_one_task/*/workers/{1,2}`, the mean cost of
//!   `Task::new` + `submit` (with a handle) or `submit_detached`, on a running pool whose workers
//!   run the tasks concurrently; with 1 worker the producer and the worker each have a core of
//!   the 2-core machine, with 2 the three threads share them;
//! - schedule + dispatch + run a no-op ≤ 1 µs median: `schedule_dispatch_run_noop/workers/{1,2}`,
//!   the full round trip from creating and submitting a no-op task until the submitting thread
//!   sees it has run, one task at a time;
//! - statistics read ≤ 10 µs: `stats_read/history/*`;
//! - at 100,000 tasks/s of light work on 2 workers, Critical wait p99 ≤ 50 µs: `paced_load`
//!   prints the percentiles it measured, with the product's urgent reserve (one worker kept
//!   for Critical and High work) and without it.
//!
//! Run: `cargo bench --no-default-features --features scheduler --bench scheduler_bench --
//! --warm-up-time 1 --measurement-time 3`. The machine is shared: check the load first.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::bench::harness::{BenchmarkId, Harness};
use crate::scheduler::{
    DEFAULT_URGENT_RESERVE, LatencyKind, LogBucketSpec, Scheduler, SchedulerConfig, Task,
    TaskClass, TaskLabel,
};
use criterion::Throughput;

/// Queue bounds for benchmarks: large enough that nothing is ever shed or refused, so every
/// submitted task completes and the completion counters below always reach their targets.
const BENCH_CAPACITY: usize = 1 << 20;
/// Tasks submitted between two waits for completion when timing `submit` alone, so the queue
/// stays short as it does in the pipeline.
const SUBMIT_CHUNK: u64 = 256;
/// Workers for most benchmarks: one per core of the 2-core target machine.
const WORKERS: usize = 2;

/// Loop iterations of the synthetic work sizes (see `work_sizes/*` for what they cost here).
const LIGHT_WORK: u64 = 500;
const MEDIUM_WORK: u64 = 15_000;
const HEAVY_WORK: u64 = 300_000;

const LABEL: TaskLabel = TaskLabel::new("bench", 0);

/// Longest the round-trip benchmark polls for its task's completion before yielding: twice the
/// goal. Longer would take the core from a worker that shares it on a loaded machine.
const ROUND_TRIP_SPIN: Duration = Duration::from_micros(2);

/// A pool of `workers` without an urgent reserve, so that every worker runs every class: the
/// benchmarks of the executor's mechanics submit Normal tasks and mean all workers by
/// "workers". The product's reserve is measured by `paced_load` and `mixed_priorities`.
fn scheduler(workers: usize) -> Scheduler {
    scheduler_with_reserve(workers, 0)
}

/// A pool as the pipeline has it: [`DEFAULT_URGENT_RESERVE`] workers kept for Critical and
/// High work.
fn product_scheduler(workers: usize) -> Scheduler {
    scheduler_with_reserve(workers, DEFAULT_URGENT_RESERVE)
}

fn scheduler_with_reserve(workers: usize, urgent_reserve: usize) -> Scheduler {
    Scheduler::new(SchedulerConfig {
        workers,
        urgent_reserve,
        class_capacity: [BENCH_CAPACITY; TaskClass::COUNT],
        total_capacity: BENCH_CAPACITY,
        ..SchedulerConfig::default()
    })
    .unwrap_or_else(|e| panic!("scheduler: {e}"))
}

/// A dependent chain of floating-point operations the optimiser cannot remove.
fn synthetic_work(iterations: u64) -> f64 {
    let mut x = black_box(1.0f64);
    let factor = black_box(1.000_000_1f64);
    for _ in 0..iterations {
        x = x * factor + 1e-9;
    }
    black_box(x)
}

/// Counts completed tasks so the benchmark thread can wait for them without parking.
struct Completions {
    done: AtomicU64,
}

impl Completions {
    fn new() -> &'static Completions {
        Box::leak(Box::new(Completions {
            done: AtomicU64::new(0),
        }))
    }

    fn task(&'static self, class: TaskClass, work: u64) -> Task {
        Task::new(class, LABEL, move || {
            if work > 0 {
                synthetic_work(work);
            }
            self.done.fetch_add(1, Ordering::Release);
        })
    }

    /// Spins (yielding the core) until `target` tasks have completed.
    fn wait_for(&self, target: u64) {
        while self.done.load(Ordering::Acquire) < target {
            thread::yield_now();
        }
    }

    /// Polls (spin-loop hints) for up to [`ROUND_TRIP_SPIN`] until `target` tasks have
    /// completed, then yields like [`Completions::wait_for`]. A `yield_now` costs about 0.7 µs
    /// on the 2-core VM, as much as the round trip being measured, so a waiter that yielded at
    /// once would mostly measure its own system call. The spin is short, so it shares the cores
    /// with the polling workers (one per core) for at most [`ROUND_TRIP_SPIN`].
    fn wait_for_round_trip(&self, target: u64) {
        let start = Instant::now();
        while self.done.load(Ordering::Acquire) < target {
            if start.elapsed() > ROUND_TRIP_SPIN {
                return self.wait_for(target);
            }
            for _ in 0..16 {
                std::hint::spin_loop();
            }
        }
    }

    fn count(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }
}

fn submit(scheduler: &Scheduler, task: Task) {
    if let Err(e) = scheduler.submit_detached(task) {
        panic!("benchmark task not accepted: {e}");
    }
}

/// The scheduling cost of one task on a running pool: `Task::new` + `submit` (or
/// `submit_detached`), timed over chunks of [`SUBMIT_CHUNK`] submissions while the workers run
/// the tasks concurrently (so the producer contends with them as it would in the pipeline).
/// Between chunks the benchmark waits, untimed, for the chunk to complete, so the queue stays
/// short and the pool is running (its workers searching for work) when the next chunk starts.
/// With one worker and with one per core.
fn schedule_one_task(c: &mut Harness<'_>) {
    if !c.wants_group("schedule_one_task") {
        return;
    }
    let mut group = c.benchmark_group("schedule_one_task");
    for workers in [1, WORKERS] {
        for with_handle in [true, false] {
            let name = if with_handle {
                "submit"
            } else {
                "submit_detached"
            };
            let s = scheduler(workers);
            let completions = Completions::new();
            group.bench_function(BenchmarkId::new(name, format!("workers/{workers}")), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    let mut remaining = iters;
                    while remaining > 0 {
                        let chunk = remaining.min(SUBMIT_CHUNK);
                        let target = completions.count() + chunk;
                        let start = Instant::now();
                        for _ in 0..chunk {
                            let task = completions.task(TaskClass::Normal, 0);
                            if with_handle {
                                match s.submit(task) {
                                    Ok(handle) => drop(black_box(handle)),
                                    Err(e) => panic!("{e}"),
                                }
                            } else {
                                submit(&s, task);
                            }
                        }
                        timed += start.elapsed();
                        completions.wait_for(target);
                        remaining -= chunk;
                    }
                    timed
                })
            });
        }
    }
    group.finish();
}

/// The full round trip of one no-op task, one at a time: create and submit it, a worker
/// dispatches and runs it (the closure only counts itself done), and the submitting thread sees
/// it done. With 1 worker and with 2 (the default on this machine: one per core).
fn schedule_dispatch_run_noop(c: &mut Harness<'_>) {
    if !c.wants_group("schedule_dispatch_run_noop") {
        return;
    }
    let mut group = c.benchmark_group("schedule_dispatch_run_noop");
    for workers in [1, 2] {
        let s = scheduler(workers);
        let completions = Completions::new();
        group.bench_function(BenchmarkId::new("workers", workers), |b| {
            b.iter(|| {
                let target = completions.count() + 1;
                submit(&s, completions.task(TaskClass::Critical, 0));
                completions.wait_for_round_trip(target);
            })
        });
    }
    group.finish();
}

/// What one task of each work size costs by itself, outside the scheduler.
fn work_sizes(c: &mut Harness<'_>) {
    if !c.wants_group("work_sizes") {
        return;
    }
    let mut group = c.benchmark_group("work_sizes");
    for (name, iterations) in [
        ("light", LIGHT_WORK),
        ("medium", MEDIUM_WORK),
        ("heavy", HEAVY_WORK),
    ] {
        group.bench_function(name, |b| b.iter(|| synthetic_work(iterations)));
    }
    group.finish();
}

/// Throughput of batches of tasks of each work size on 2 workers.
fn task_sizes(c: &mut Harness<'_>) {
    if !c.wants_group("task_sizes") {
        return;
    }
    let mut group = c.benchmark_group("task_sizes");
    group.sample_size(20);
    let s = scheduler(WORKERS);
    let completions = Completions::new();
    for (name, work, batch) in [
        ("minimal", 0, 1_000),
        ("light", LIGHT_WORK, 1_000),
        ("medium", MEDIUM_WORK, 100),
        ("heavy", HEAVY_WORK, 10),
    ] {
        group.throughput(Throughput::Elements(batch));
        group.bench_function(name, |b| {
            b.iter(|| {
                let target = completions.count() + batch;
                for _ in 0..batch {
                    submit(&s, completions.task(TaskClass::Normal, work));
                }
                completions.wait_for(target);
            })
        });
    }
    group.finish();
}

/// Runs `tasks` tasks spread over the classes and waits until all are in the statistics.
fn populate(s: &Scheduler, tasks: u64) {
    let completions = Completions::new();
    let mut submitted = 0;
    while submitted < tasks {
        let chunk = (tasks - submitted).min(4096);
        for i in 0..chunk {
            let class = TaskClass::ALL[((submitted + i) % 4) as usize];
            submit(s, completions.task(class, (submitted + i) % 64));
        }
        submitted += chunk;
        completions.wait_for(submitted);
    }
    if !s.wait_idle(Duration::from_secs(60)) {
        panic!("scheduler did not become idle");
    }
}

/// `stats()` with histories of 10 to 1,000,000 tasks; then what the Scheduler pane computes
/// per frame; then a read while producers keep the workers busy.
fn stats_read(c: &mut Harness<'_>) {
    if !c.wants_group("stats_read") {
        return;
    }
    let mut group = c.benchmark_group("stats_read");
    for history in [10u64, 100, 1_000, 10_000, 100_000, 1_000_000] {
        let wanted = group.wants(BenchmarkId::new("history", history))
            || (history == 1_000_000
                && group.wants(BenchmarkId::new("with_percentiles_and_buckets", history)));
        if !wanted {
            continue;
        }
        let s = scheduler(WORKERS);
        populate(&s, history);
        group.bench_with_input(BenchmarkId::new("history", history), &s, |b, s| {
            b.iter(|| black_box(s.stats()))
        });
        if history == 1_000_000 {
            group.bench_with_input(
                BenchmarkId::new("with_percentiles_and_buckets", history),
                &s,
                |b, s| {
                    b.iter(|| {
                        let stats = s.stats();
                        for class in TaskClass::ALL {
                            for kind in [LatencyKind::Wait, LatencyKind::Run] {
                                black_box(stats.percentiles(class, kind));
                            }
                        }
                        black_box(stats.log_buckets(
                            TaskClass::Critical,
                            LatencyKind::Wait,
                            &LogBucketSpec::DEFAULT,
                        ))
                    })
                },
            );
        }
    }
    if !group.wants("under_load") {
        group.finish();
        return;
    }
    let s = Arc::new(scheduler(WORKERS));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let s = Arc::clone(&s);
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let completions = Completions::new();
            let mut submitted = 0;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    submit(&s, completions.task(TaskClass::High, LIGHT_WORK));
                }
                submitted += 64;
                completions.wait_for(submitted);
            }
        })
    };
    group.bench_function("under_load", |b| b.iter(|| black_box(s.stats())));
    stop.store(true, Ordering::Relaxed);
    let _ = producer.join();
    group.finish();
}

/// End-to-end throughput of no-op tasks from 1, 2, 4 and 8 producer threads on 2 workers.
fn producer_threads(c: &mut Harness<'_>) {
    if !c.wants_group("producer_threads") {
        return;
    }
    const TASKS: u64 = 8_000;
    let mut group = c.benchmark_group("producer_threads");
    group.sample_size(20);
    group.throughput(Throughput::Elements(TASKS));
    let s = scheduler(WORKERS);
    let completions = Completions::new();
    for producers in [1u64, 2, 4, 8] {
        group.bench_function(BenchmarkId::from_parameter(producers), |b| {
            b.iter(|| {
                let target = completions.count() + TASKS;
                thread::scope(|scope| {
                    for _ in 0..producers {
                        scope.spawn(|| {
                            for _ in 0..TASKS / producers {
                                submit(&s, completions.task(TaskClass::Normal, 0));
                            }
                        });
                    }
                });
                completions.wait_for(target);
            })
        });
    }
    group.finish();
}

/// A batch of 10, 50, 100 or 500 light tasks submitted at once, until the last one ends.
fn batches(c: &mut Harness<'_>) {
    if !c.wants_group("batches") {
        return;
    }
    let mut group = c.benchmark_group("batches");
    let s = scheduler(WORKERS);
    let completions = Completions::new();
    for batch in [10u64, 50, 100, 500] {
        group.throughput(Throughput::Elements(batch));
        group.bench_function(BenchmarkId::from_parameter(batch), |b| {
            b.iter(|| {
                let target = completions.count() + batch;
                for _ in 0..batch {
                    submit(&s, completions.task(TaskClass::High, LIGHT_WORK));
                }
                completions.wait_for(target);
            })
        });
    }
    group.finish();
}

/// Mean time of one `submit` call. Low contention: one producer, one worker busy with light
/// tasks. High contention: four producers and two workers running no-ops, all on the queue
/// lock.
fn contention(c: &mut Harness<'_>) {
    if !c.wants_group("contention") {
        return;
    }
    let mut group = c.benchmark_group("contention");
    for (name, producers, workers, work) in
        [("low", 1u64, 1, LIGHT_WORK), ("high", 4u64, WORKERS, 0)]
    {
        let s = scheduler(workers);
        let completions = Completions::new();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per_producer = iters.div_ceil(producers);
                let target = completions.count() + per_producer * producers;
                let busy: Duration = thread::scope(|scope| {
                    let threads: Vec<_> = (0..producers)
                        .map(|_| {
                            scope.spawn(|| {
                                let mut timed = Duration::ZERO;
                                let mut left = per_producer;
                                while left > 0 {
                                    let chunk = left.min(SUBMIT_CHUNK);
                                    let start = Instant::now();
                                    for _ in 0..chunk {
                                        submit(&s, completions.task(TaskClass::Normal, work));
                                    }
                                    timed += start.elapsed();
                                    left -= chunk;
                                }
                                timed
                            })
                        })
                        .collect();
                    threads
                        .into_iter()
                        .map(|t| t.join().unwrap_or_else(|_| panic!("producer panicked")))
                        .sum()
                });
                completions.wait_for(target);
                // Summed over producers: the mean cost of one call, not wall time.
                Duration::from_secs_f64(
                    busy.as_secs_f64() * iters as f64 / (per_producer * producers) as f64,
                )
            })
        });
    }
    group.finish();
}

/// 1000 light tasks of all four classes (Critical 10%, High 20%, Normal 30%, Low 40%).
fn mixed_priorities(c: &mut Harness<'_>) {
    if !c.wants_group("mixed_priorities") {
        return;
    }
    const BATCH: u64 = 1_000;
    const PATTERN: [TaskClass; 10] = [
        TaskClass::Low,
        TaskClass::Normal,
        TaskClass::High,
        TaskClass::Low,
        TaskClass::Critical,
        TaskClass::Normal,
        TaskClass::Low,
        TaskClass::High,
        TaskClass::Normal,
        TaskClass::Low,
    ];
    let mut group = c.benchmark_group("mixed_priorities");
    group.sample_size(20);
    group.throughput(Throughput::Elements(BATCH));
    let s = product_scheduler(WORKERS);
    let completions = Completions::new();
    group.bench_function("light_1000", |b| {
        b.iter(|| {
            let target = completions.count() + BATCH;
            for i in 0..BATCH {
                submit(&s, completions.task(PATTERN[(i % 10) as usize], LIGHT_WORK));
            }
            completions.wait_for(target);
        })
    });
    group.finish();
    let stats = s.stats();
    for class in TaskClass::ALL {
        let p = stats.percentiles(class, LatencyKind::Wait);
        eprintln!(
            "mixed_priorities {class:>8} wait: p50 {} ns, p99 {} ns, max {} ns ({} tasks)",
            p.p50_ns, p.p99_ns, p.max_ns, p.count
        );
    }
}

/// 100,000 tasks/s of light work on 2 workers, one task every 10 µs from one producer (a
/// quarter of them Critical, the rest High, Normal and Low in turn). Each iteration is 100 ms
/// of paced load; afterwards the per-class wait percentiles are printed. The criterion time
/// only shows the pacing held (about 100 ms per iteration).
fn paced_load(c: &mut Harness<'_>) {
    for (name, reserve) in [
        ("100k_per_s_light_2_workers", DEFAULT_URGENT_RESERVE),
        ("100k_per_s_light_2_workers_no_reserve", 0),
    ] {
        paced_load_with(c, name, scheduler_with_reserve(WORKERS, reserve));
    }
}

/// One `paced_load` run on `s`, printed under `name`.
fn paced_load_with(c: &mut Harness<'_>, name: &str, s: Scheduler) {
    if !c.wants_group("paced_load") {
        return;
    }
    const RATE_PER_S: u64 = 100_000;
    const TASKS_PER_ITERATION: u64 = 10_000;
    let period = Duration::from_nanos(1_000_000_000 / RATE_PER_S);
    let mut group = c.benchmark_group("paced_load");
    group.sample_size(10);
    let completions = Completions::new();
    let mut behind = 0u64;
    let mut paced_for = Duration::ZERO;
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let mut next = start;
            for i in 0..iters * TASKS_PER_ITERATION {
                // Yield rather than spin: producer and workers share the 2 cores.
                while Instant::now() < next {
                    thread::yield_now();
                }
                let class = TaskClass::ALL[(i % 4) as usize];
                submit(&s, completions.task(class, LIGHT_WORK));
                next += period;
                if Instant::now() > next + period * 10 {
                    behind += 1;
                }
            }
            let elapsed = start.elapsed();
            paced_for += elapsed;
            elapsed
        })
    });
    group.finish();
    if !s.wait_idle(Duration::from_secs(60)) {
        eprintln!("paced_load {name}: scheduler not idle after 60 s");
    }
    let stats = s.stats();
    let total: u64 = stats.classes.iter().map(|c| c.completed).sum();
    eprintln!(
        "paced_load {name}: {total} tasks at {:.0} tasks/s offered; the producer was more than \
         100 µs behind schedule at {behind} submissions",
        total as f64 / paced_for.as_secs_f64().max(1e-9)
    );
    for class in TaskClass::ALL {
        let w = stats.percentiles(class, LatencyKind::Wait);
        let r = stats.percentiles(class, LatencyKind::Run);
        eprintln!(
            "paced_load {name} {class:>8} wait: p50 {} ns, p90 {} ns, p99 {} ns, p99.9 {} ns, \
             max {} ns; run p50 {} ns; deadline misses {}",
            w.p50_ns,
            w.p90_ns,
            w.p99_ns,
            w.p999_ns,
            w.max_ns,
            r.p50_ns,
            stats.class(class).deadline_misses
        );
    }
}

/// Critical tasks among long background work, as in the pipeline (LTL steps between
/// attractor analyses and meta-learning rounds of milliseconds): for each iteration two Low
/// tasks of about 5 ms each are queued and then, about every 100 µs (a sleep apart), a no-op
/// Critical task, 100 of them. With the urgent reserve the Critical tasks run on the reserved worker at once;
/// without it they wait for a worker to finish its background task. Prints the Critical wait
/// percentiles of both; the criterion time is the iteration's.
fn urgent_reserve(c: &mut Harness<'_>) {
    if !c.wants_group("urgent_reserve") {
        return;
    }
    const CRITICAL_EVERY: Duration = Duration::from_micros(100);
    /// About 5 ms here (`work_sizes/heavy` runs ten of `HEAVY_WORK` in 0.5 ms on 2 workers).
    const BACKGROUND_WORK: u64 = HEAVY_WORK * 50;
    const CRITICAL_PER_ITERATION: u64 = 100;
    let mut group = c.benchmark_group("urgent_reserve");
    group.sample_size(20);
    for (name, reserve) in [
        ("critical_among_5ms_background", DEFAULT_URGENT_RESERVE),
        ("critical_among_5ms_background_no_reserve", 0),
    ] {
        let s = scheduler_with_reserve(WORKERS, reserve);
        let completions = Completions::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                let target = completions.count() + 2 + CRITICAL_PER_ITERATION;
                for _ in 0..2 {
                    submit(&s, completions.task(TaskClass::Low, BACKGROUND_WORK));
                }
                for _ in 0..CRITICAL_PER_ITERATION {
                    // Sleep, not spin: on 2 cores a spinning producer would take the core the
                    // reserved worker needs.
                    thread::sleep(CRITICAL_EVERY);
                    submit(&s, completions.task(TaskClass::Critical, 0));
                }
                completions.wait_for(target);
            })
        });
        if !s.wait_idle(Duration::from_secs(60)) {
            eprintln!("urgent_reserve {name}: scheduler not idle after 60 s");
        }
        let w = s
            .stats()
            .percentiles(TaskClass::Critical, LatencyKind::Wait);
        eprintln!(
            "urgent_reserve {name}: critical wait p50 {} ns, p90 {} ns, p99 {} ns, max {} ns",
            w.p50_ns, w.p90_ns, w.p99_ns, w.max_ns
        );
    }
    group.finish();
}

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    schedule_one_task(c);
    schedule_dispatch_run_noop(c);
    work_sizes(c);
    task_sizes(c);
    stats_read(c);
    producer_threads(c);
    batches(c);
    contention(c);
    mixed_priorities(c);
    paced_load(c);
    urgent_reserve(c);
}
