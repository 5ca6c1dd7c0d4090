//! Shutdown with pending tasks: `shutdown` finishes them, `shutdown_now` cancels them; both join
//! the workers; nothing is accepted afterwards; dropping the scheduler cleans up too.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use crate::support::{Gate, single_worker};
use midstream::scheduler::{
    Scheduler, SchedulerConfig, SubmitError, Task, TaskClass, TaskHandle, TaskLabel, TaskStatus,
};

const PENDING: usize = 50;

fn counting_tasks(scheduler: &Scheduler, runs: &Arc<AtomicUsize>) -> Vec<TaskHandle> {
    (0..PENDING)
        .map(|i| {
            let runs = Arc::clone(runs);
            let task = Task::new(
                TaskClass::ALL[i % 4],
                TaskLabel::new("test", 1),
                move || {
                    runs.fetch_add(1, Ordering::SeqCst);
                },
            );
            scheduler.submit(task).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Opens the gate from another thread a little later, while the test thread is blocked in
/// shutdown.
fn open_later(gate: Gate) -> thread::JoinHandle<Gate> {
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        gate.open();
        gate
    })
}

#[test]
fn shutdown_finishes_pending_tasks_and_joins_the_workers() {
    let scheduler = single_worker(SchedulerConfig::default());
    let gate = Gate::hold(&scheduler, 0);
    let runs = Arc::new(AtomicUsize::new(0));
    let handles = counting_tasks(&scheduler, &runs);
    let opener = open_later(gate);
    let stats = scheduler.shutdown();
    let gate = opener.join().unwrap_or_else(|_| panic!("opener panicked"));
    assert_eq!(gate.handle.status(), TaskStatus::Completed);
    assert_eq!(runs.load(Ordering::SeqCst), PENDING);
    for handle in &handles {
        assert_eq!(handle.status(), TaskStatus::Completed);
    }
    let completed: u64 = stats.classes.iter().map(|c| c.completed).sum();
    assert_eq!(completed, PENDING as u64 + 1);
    let recorded: u64 = TaskClass::ALL
        .iter()
        .map(|&c| {
            stats
                .histogram(c, midstream::scheduler::LatencyKind::Run)
                .len()
        })
        .sum();
    assert_eq!(
        recorded,
        PENDING as u64 + 1,
        "every task is in the final histograms"
    );
    let refused = scheduler.submit(Task::new(
        TaskClass::Critical,
        TaskLabel::new("ltl", 1),
        || {},
    ));
    match refused {
        Err(SubmitError::ShutDown { task }) => assert_eq!(task.class(), TaskClass::Critical),
        other => panic!("expected ShutDown, got {other:?}"),
    }
    // Idempotent.
    let again = scheduler.shutdown();
    assert_eq!(
        again.class(TaskClass::Low).completed,
        stats.class(TaskClass::Low).completed
    );
}

#[test]
fn shutdown_now_cancels_pending_tasks_and_lets_the_running_one_finish() {
    let scheduler = single_worker(SchedulerConfig::default());
    let gate = Gate::hold(&scheduler, 0);
    let runs = Arc::new(AtomicUsize::new(0));
    let handles = counting_tasks(&scheduler, &runs);
    let opener = open_later(gate);
    let stats = scheduler.shutdown_now();
    let gate = opener.join().unwrap_or_else(|_| panic!("opener panicked"));
    assert_eq!(gate.handle.status(), TaskStatus::Completed);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    for handle in &handles {
        assert_eq!(handle.status(), TaskStatus::Cancelled);
    }
    let cancelled: u64 = stats.classes.iter().map(|c| c.cancelled).sum();
    assert_eq!(cancelled, PENDING as u64);
    assert_eq!(
        stats.class(TaskClass::Critical).completed,
        1,
        "the gate task finished"
    );
    assert!(stats.classes.iter().all(|c| c.queue_depth == 0));
}

#[test]
fn dropping_the_scheduler_cancels_pending_work_and_joins() {
    let runs = Arc::new(AtomicUsize::new(0));
    let handles;
    {
        let scheduler =
            Scheduler::new(SchedulerConfig::with_workers(1)).unwrap_or_else(|e| panic!("{e}"));
        let gate = Gate::hold(&scheduler, 0);
        handles = counting_tasks(&scheduler, &runs);
        let _opener = open_later(gate);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert!(handles.iter().all(|h| h.status() == TaskStatus::Cancelled));
}

#[test]
fn shutdown_called_from_a_task_does_not_deadlock() {
    let scheduler = Arc::new(
        Scheduler::new(SchedulerConfig::with_workers(2)).unwrap_or_else(|e| panic!("{e}")),
    );
    let inner = Arc::clone(&scheduler);
    let handle = scheduler
        .submit(Task::new(
            TaskClass::Normal,
            TaskLabel::new("test", 1),
            move || {
                inner.shutdown();
            },
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(handle.wait(), TaskStatus::Completed);
    assert!(matches!(
        scheduler.submit(Task::new(TaskClass::Low, TaskLabel::new("test", 1), || {})),
        Err(SubmitError::ShutDown { .. })
    ));
}

#[test]
fn invalid_configurations_are_refused_with_the_field_named() {
    let cases = [
        SchedulerConfig::with_workers(0),
        SchedulerConfig {
            class_capacity: [4, 4, 0, 4],
            ..SchedulerConfig::default()
        },
        SchedulerConfig {
            total_capacity: 0,
            ..SchedulerConfig::default()
        },
        SchedulerConfig {
            aging_after: Duration::ZERO,
            ..SchedulerConfig::default()
        },
        SchedulerConfig {
            stats_publish_interval: Duration::ZERO,
            ..SchedulerConfig::default()
        },
        SchedulerConfig {
            thread_name: "bad\0name".to_owned(),
            ..SchedulerConfig::default()
        },
    ];
    let fields = [
        "workers",
        "class_capacity",
        "total_capacity",
        "aging_after",
        "stats_publish_interval",
        "thread_name",
    ];
    for (config, field) in cases.into_iter().zip(fields) {
        match Scheduler::new(config) {
            Err(e) => assert!(e.to_string().contains(field), "{e}"),
            Ok(_) => panic!("{field}: accepted"),
        }
    }
}
