//! The urgent reserve: Normal and Low work runs on at most `workers − urgent_reserve` workers,
//! so Critical and High tasks find a worker while long analyses occupy the rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use crate::support::PATIENCE;
use midstream::scheduler::{
    Scheduler, SchedulerConfig, Task, TaskClass, TaskHandle, TaskLabel, TaskStatus,
};

/// Long enough for a worker that was free to have started a task; a test that fails waits
/// this long once, a test that passes never waits for it to run out except where it checks
/// that something did not happen.
const SETTLE: Duration = Duration::from_millis(100);

/// A task of `class` that reports when it starts and then runs until it is released.
struct Held {
    handle: TaskHandle,
    started: Receiver<()>,
    release: Sender<()>,
}

impl Held {
    fn submit(scheduler: &Scheduler, class: TaskClass, channel: u32) -> Held {
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let task = Task::new(class, TaskLabel::new("held", channel), move || {
            let _ = started_tx.send(());
            let _ = release_rx.recv();
        });
        let handle = scheduler
            .submit(task)
            .unwrap_or_else(|e| panic!("not accepted: {e}"));
        Held {
            handle,
            started,
            release,
        }
    }

    fn wait_started(&self) {
        self.started
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("task {} never started: {e}", self.handle.id()));
    }

    fn starts_within(&self, time: Duration) -> bool {
        self.started.recv_timeout(time).is_ok()
    }

    fn finish(&self) {
        let _ = self.release.send(());
        assert_eq!(self.handle.wait(), TaskStatus::Completed);
    }
}

fn pool(workers: usize, urgent_reserve: usize) -> Scheduler {
    Scheduler::new(SchedulerConfig {
        workers,
        urgent_reserve,
        ..SchedulerConfig::default()
    })
    .unwrap_or_else(|e| panic!("scheduler: {e}"))
}

fn quick(scheduler: &Scheduler, class: TaskClass) -> TaskHandle {
    scheduler
        .submit(Task::new(class, TaskLabel::new("quick", 9), || {}))
        .unwrap_or_else(|e| panic!("not accepted: {e}"))
}

#[test]
fn urgent_work_finds_the_reserved_worker_while_background_work_waits_for_its_own() {
    let scheduler = pool(2, 1);
    let first = Held::submit(&scheduler, TaskClass::Low, 1);
    first.wait_started();
    // The second worker is the reserve: a second background task waits for the first.
    let second = Held::submit(&scheduler, TaskClass::Normal, 2);
    assert!(
        !second.starts_within(SETTLE),
        "background work took the reserve"
    );
    assert_eq!(second.handle.status(), TaskStatus::Queued);
    // Critical and High work runs at once on the reserve, the background task still waiting.
    for class in [TaskClass::Critical, TaskClass::High] {
        let urgent = quick(&scheduler, class);
        assert_eq!(
            urgent.wait_timeout(PATIENCE),
            Some(TaskStatus::Completed),
            "{class} work waited for background work"
        );
    }
    assert_eq!(second.handle.status(), TaskStatus::Queued);
    // The first ends: the second takes its place.
    first.finish();
    second.wait_started();
    second.finish();
    let stats = scheduler.shutdown();
    assert_eq!(stats.class(TaskClass::Critical).completed, 1);
}

#[test]
fn without_a_reserve_background_work_takes_every_worker() {
    let scheduler = pool(2, 0);
    let first = Held::submit(&scheduler, TaskClass::Low, 1);
    let second = Held::submit(&scheduler, TaskClass::Low, 2);
    first.wait_started();
    second.wait_started();
    // Both workers are busy: urgent work waits until one is free.
    let urgent = quick(&scheduler, TaskClass::Critical);
    assert_eq!(urgent.wait_timeout(SETTLE), None);
    first.finish();
    assert_eq!(urgent.wait_timeout(PATIENCE), Some(TaskStatus::Completed));
    second.finish();
}

#[test]
fn a_single_worker_runs_background_work_whatever_the_reserve() {
    let scheduler = pool(1, 1);
    let held = Held::submit(&scheduler, TaskClass::Low, 1);
    held.wait_started();
    held.finish();
}

#[test]
fn shutdown_drains_background_work_while_a_worker_is_in_reserve() {
    let scheduler = pool(3, 1);
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..20 {
        let done = Arc::clone(&done);
        let task = Task::new(TaskClass::Low, TaskLabel::new("slow", i), move || {
            std::thread::sleep(Duration::from_millis(2));
            done.fetch_add(1, Ordering::SeqCst);
        });
        scheduler
            .submit_detached(task)
            .unwrap_or_else(|e| panic!("not accepted: {e}"));
    }
    let stats = scheduler.shutdown();
    assert_eq!(done.load(Ordering::SeqCst), 20);
    assert_eq!(stats.class(TaskClass::Low).completed, 20);
}
