//! Order of execution: classes, deadlines within a class, aging; producers on many threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{Gate, NO_AGING, PATIENCE, RunLog, single_worker};
use midstream::scheduler::{Scheduler, SchedulerConfig, Task, TaskClass, TaskLabel, TaskStatus};

use TaskClass::{Critical, High, Low, Normal};

#[test]
fn classes_run_by_priority_and_earliest_deadline_first_within_a_class() {
    let scheduler = single_worker(SchedulerConfig {
        aging_after: NO_AGING,
        ..SchedulerConfig::default()
    });
    let gate = Gate::hold(&scheduler, 0);
    let log = RunLog::default();
    let t0 = Instant::now() + Duration::from_secs(60);
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let submit = |task: Task| {
        scheduler
            .submit(task)
            .unwrap_or_else(|e| panic!("not accepted: {e}"))
    };
    submit(log.task(Low, 1));
    submit(log.task(Normal, 2).with_deadline(at(50)));
    submit(log.task(Normal, 3));
    submit(log.task(Normal, 4).with_deadline(at(10)));
    submit(log.task(Critical, 5));
    submit(log.task(High, 6).with_deadline(at(30)));
    submit(log.task(High, 7).with_deadline(at(20)));
    submit(log.task(Critical, 8).with_deadline(at(1_000)));
    submit(log.task(Low, 9).with_deadline(at(5)));
    submit(log.task(Normal, 10));
    submit(log.task(High, 11).with_deadline(at(20)));
    gate.open();
    assert!(scheduler.wait_idle(PATIENCE));
    // Critical (deadline first), High by deadline (equal deadlines in submission order), Normal
    // by deadline then the two without deadline in submission order, Low likewise.
    assert_eq!(log.names(), vec![8, 5, 7, 11, 6, 4, 2, 3, 10, 9, 1]);
}

#[test]
fn aging_lets_starving_low_work_ahead_of_critical_work() {
    let aging = Duration::from_millis(20);
    let scheduler = single_worker(SchedulerConfig {
        aging_after: aging,
        ..SchedulerConfig::default()
    });
    let gate = Gate::hold(&scheduler, 0);
    let log = RunLog::default();
    scheduler
        .submit(log.task(Low, 1))
        .unwrap_or_else(|e| panic!("{e}"));
    for name in 2..6 {
        scheduler
            .submit(log.task(Critical, name))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    thread::sleep(aging * 3);
    gate.open();
    assert!(scheduler.wait_idle(PATIENCE));
    // Low has waited longer than the aging threshold when the worker frees up: it goes first,
    // then strict priority resumes.
    assert_eq!(log.names(), vec![1, 2, 3, 4, 5]);
}

#[test]
fn without_aging_low_work_waits_for_all_critical_work() {
    let scheduler = single_worker(SchedulerConfig {
        aging_after: NO_AGING,
        ..SchedulerConfig::default()
    });
    let gate = Gate::hold(&scheduler, 0);
    let log = RunLog::default();
    scheduler
        .submit(log.task(Low, 1))
        .unwrap_or_else(|e| panic!("{e}"));
    for name in 2..6 {
        scheduler
            .submit(log.task(Critical, name))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    thread::sleep(Duration::from_millis(20));
    gate.open();
    assert!(scheduler.wait_idle(PATIENCE));
    assert_eq!(log.names(), vec![2, 3, 4, 5, 1]);
}

#[test]
fn producers_on_many_threads_get_every_task_run_once() {
    const PRODUCERS: usize = 4;
    const TASKS_PER_PRODUCER: usize = 2_000;
    let scheduler = Arc::new(
        Scheduler::new(SchedulerConfig {
            workers: 2,
            class_capacity: [PRODUCERS * TASKS_PER_PRODUCER; 4],
            total_capacity: PRODUCERS * TASKS_PER_PRODUCER,
            ..SchedulerConfig::default()
        })
        .unwrap_or_else(|e| panic!("{e}")),
    );
    let runs = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let scheduler = Arc::clone(&scheduler);
            let runs = Arc::clone(&runs);
            thread::spawn(move || {
                for i in 0..TASKS_PER_PRODUCER {
                    let class = TaskClass::ALL[(p + i) % 4];
                    let runs = Arc::clone(&runs);
                    let task = Task::new(class, TaskLabel::new("test", p as u32), move || {
                        runs.fetch_add(1, Ordering::Relaxed);
                    });
                    if let Err(e) = scheduler.submit_detached(task) {
                        panic!("producer {p} task {i}: {e}");
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
    assert!(scheduler.wait_idle(PATIENCE));
    let total = PRODUCERS * TASKS_PER_PRODUCER;
    assert_eq!(runs.load(Ordering::Relaxed), total);
    let stats = scheduler.stats();
    let completed: u64 = stats.classes.iter().map(|c| c.completed).sum();
    assert_eq!(completed, total as u64);
    for class in TaskClass::ALL {
        let c = stats.class(class);
        assert_eq!(c.submitted, (total / 4) as u64, "{class}");
        assert_eq!(c.completed, c.submitted, "{class}");
        assert_eq!(c.queue_depth, 0);
    }
}

#[test]
fn a_panicking_task_is_counted_and_the_worker_carries_on() {
    let scheduler = single_worker(SchedulerConfig::default());
    let bad = scheduler
        .submit(Task::new(Normal, TaskLabel::new("test", 1), || {
            panic!("deliberate panic in a scheduler test task")
        }))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bad.wait(), TaskStatus::Panicked);
    let log = RunLog::default();
    let good = scheduler
        .submit(log.task(Normal, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(good.wait(), TaskStatus::Completed);
    assert_eq!(log.names(), vec![2]);
    let stats = scheduler.shutdown();
    assert_eq!(stats.class(Normal).panicked, 1);
    assert_eq!(stats.class(Normal).completed, 1);
}

#[test]
fn handles_report_the_task_lifecycle() {
    let scheduler = single_worker(SchedulerConfig::default());
    let gate = Gate::hold(&scheduler, 0);
    let log = RunLog::default();
    let handle = scheduler
        .submit(log.task(High, 7))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(handle.status(), TaskStatus::Queued);
    assert_eq!(handle.class(), High);
    assert_eq!(handle.label(), TaskLabel::new("test", 7));
    assert_eq!(handle.wait_timeout(Duration::from_millis(10)), None);
    gate.open();
    assert_eq!(handle.wait(), TaskStatus::Completed);
    assert!(handle.is_finished());
    assert_eq!(gate.handle.wait(), TaskStatus::Completed);
    assert!(handle.id() > gate.handle.id());
}
