//! Lost wake-ups: many producers submitting tiny tasks to a pool whose workers keep going idle
//! and parking. A wake-up lost between a producer's push and a worker's decision to park would
//! leave a task queued with every worker asleep: `wait_idle` would then time out and the counts
//! would not add up. Repeated, with pauses that let the workers park between rounds; and one
//! task at a time, each submitted the moment the previous one ends, which is when the worker
//! that ran it is on its way to parking (a lost wake-up then strands that very task, with no
//! later submission to rescue it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::PATIENCE;
use midstream::scheduler::{Scheduler, SchedulerConfig, Task, TaskClass, TaskLabel};

const PRODUCERS: usize = 4;
const TASKS_PER_PRODUCER: u64 = 2_000;
const ROUNDS: usize = 20;

fn run_rounds(config: SchedulerConfig) {
    let workers = config.workers;
    let scheduler = Arc::new(Scheduler::new(config).unwrap_or_else(|e| panic!("{e}")));
    let runs = Arc::new(AtomicU64::new(0));
    for round in 0..ROUNDS {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let scheduler = Arc::clone(&scheduler);
                let runs = Arc::clone(&runs);
                thread::spawn(move || {
                    for i in 0..TASKS_PER_PRODUCER {
                        let runs = Arc::clone(&runs);
                        let class = TaskClass::ALL[(p + i as usize) % 4];
                        let task =
                            Task::new(class, TaskLabel::new("wakeup", p as u32), move || {
                                runs.fetch_add(1, Ordering::Relaxed);
                            });
                        if let Err(e) = scheduler.submit_detached(task) {
                            panic!("round {round}, producer {p}, task {i}: {e}");
                        }
                        // Now and then a gap long enough for an idle worker to start parking.
                        if i % 500 == 499 {
                            thread::sleep(Duration::from_micros(200));
                        }
                    }
                })
            })
            .collect();
        for producer in producers {
            producer
                .join()
                .unwrap_or_else(|_| panic!("producer panicked"));
        }
        assert!(
            scheduler.wait_idle(PATIENCE),
            "round {round} ({workers} workers): tasks left queued with the workers asleep"
        );
        let expected = (round as u64 + 1) * PRODUCERS as u64 * TASKS_PER_PRODUCER;
        assert_eq!(runs.load(Ordering::Relaxed), expected, "round {round}");
        // Let every worker go through searching and parking before the next round.
        thread::sleep(Duration::from_millis(2));
    }
    let stats = scheduler.shutdown();
    let total = ROUNDS as u64 * PRODUCERS as u64 * TASKS_PER_PRODUCER;
    let completed: u64 = stats.classes.iter().map(|c| c.completed).sum();
    let submitted: u64 = stats.classes.iter().map(|c| c.submitted).sum();
    assert_eq!(completed, total);
    assert_eq!(submitted, total);
    assert!(stats.classes.iter().all(|c| c.queue_depth == 0));
}

fn config(workers: usize, spin: Duration) -> SchedulerConfig {
    SchedulerConfig {
        workers,
        class_capacity: [PRODUCERS * TASKS_PER_PRODUCER as usize; 4],
        total_capacity: PRODUCERS * TASKS_PER_PRODUCER as usize,
        spin_before_park: spin,
        ..SchedulerConfig::default()
    }
}

#[test]
fn no_task_is_stranded_with_the_default_spin() {
    run_rounds(config(2, SchedulerConfig::default().spin_before_park));
}

/// Without spinning every idle worker parks at once: the wake-up path carries every task.
#[test]
fn no_task_is_stranded_when_workers_park_at_once() {
    run_rounds(config(2, Duration::ZERO));
}

#[test]
fn no_task_is_stranded_with_more_workers_than_cores() {
    run_rounds(config(5, Duration::from_micros(5)));
}

/// Single tasks, each submitted as soon as the previous one has run: every submission races
/// with the worker that ran the previous task deciding to park.
fn back_to_back(workers: usize, spin: Duration) {
    const TASKS: u64 = 50_000;
    let scheduler = Scheduler::new(config(workers, spin)).unwrap_or_else(|e| panic!("{e}"));
    let done = Arc::new(AtomicU64::new(0));
    for i in 0..TASKS {
        let flag = Arc::clone(&done);
        let task = Task::new(
            TaskClass::Critical,
            TaskLabel::new("wakeup", 0),
            move || {
                flag.store(i + 1, Ordering::Release);
            },
        );
        scheduler
            .submit_detached(task)
            .unwrap_or_else(|e| panic!("task {i}: {e}"));
        // Poll without parking this thread, so the next submission follows at once.
        let deadline = Instant::now() + PATIENCE;
        while done.load(Ordering::Acquire) != i + 1 {
            assert!(
                Instant::now() < deadline,
                "task {i} stranded ({workers} workers, spin {spin:?})"
            );
            std::hint::spin_loop();
        }
    }
    assert!(scheduler.wait_idle(PATIENCE));
}

#[test]
fn back_to_back_tasks_are_never_stranded() {
    back_to_back(1, Duration::ZERO);
    back_to_back(2, Duration::ZERO);
    back_to_back(2, Duration::from_micros(1));
    back_to_back(3, Duration::ZERO);
}
