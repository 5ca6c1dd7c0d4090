//! Cancellation: by channel (a channel went away), by label, by handle. Queued tasks are removed
//! and their closures dropped unrun; running tasks are never interrupted.

use std::sync::Arc;

use crate::support::{Gate, NO_AGING, PATIENCE, RunLog, single_worker};
use midstream::scheduler::{SchedulerConfig, Task, TaskClass, TaskLabel, TaskStatus};

use TaskClass::{Critical, High, Low, Normal};

#[test]
fn cancel_channel_removes_only_that_channels_queued_tasks() {
    let scheduler = single_worker(SchedulerConfig {
        aging_after: NO_AGING,
        ..SchedulerConfig::default()
    });
    // The running gate task is on channel 7, like the tasks cancelled below.
    let gate = Gate::hold(&scheduler, 7);
    let log = RunLog::default();
    let mut doomed = Vec::new();
    let mut kept = Vec::new();
    for (i, class) in TaskClass::ALL.into_iter().enumerate() {
        let i = i as u32;
        doomed.push(
            scheduler
                .submit(log.labelled(class, TaskLabel::new("temporal", 7), 70 + i))
                .unwrap_or_else(|e| panic!("{e}")),
        );
        kept.push(
            scheduler
                .submit(log.labelled(class, TaskLabel::new("temporal", 8), 80 + i))
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    assert_eq!(scheduler.cancel_channel(7), 4);
    assert_eq!(scheduler.cancel_channel(7), 0, "nothing left to cancel");
    assert_eq!(gate.handle.status(), TaskStatus::Running);
    for handle in &doomed {
        assert_eq!(handle.status(), TaskStatus::Cancelled);
    }
    let stats = scheduler.stats();
    for class in TaskClass::ALL {
        assert_eq!(stats.class(class).cancelled, 1, "{class}");
        assert_eq!(stats.class(class).queue_depth, 1, "{class}");
    }
    gate.open();
    assert_eq!(gate.handle.wait(), TaskStatus::Completed);
    for handle in &kept {
        assert_eq!(handle.wait(), TaskStatus::Completed);
    }
    assert_eq!(log.names(), vec![80, 81, 82, 83]);
}

#[test]
fn cancel_label_matches_engine_and_channel() {
    let scheduler = single_worker(SchedulerConfig::default());
    let gate = Gate::hold(&scheduler, 0);
    let log = RunLog::default();
    let attractor = TaskLabel::new("attractor", 3);
    let pattern = TaskLabel::new("temporal", 3);
    let a = scheduler
        .submit(log.labelled(Normal, attractor, 1))
        .unwrap_or_else(|e| panic!("{e}"));
    let p = scheduler
        .submit(log.labelled(High, pattern, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scheduler.cancel_label(attractor), 1);
    gate.open();
    assert_eq!(a.wait(), TaskStatus::Cancelled);
    assert_eq!(p.wait(), TaskStatus::Completed);
    assert_eq!(log.names(), vec![2]);
}

#[test]
fn cancel_by_handle_only_while_queued() {
    let scheduler = single_worker(SchedulerConfig::default());
    let gate = Gate::hold(&scheduler, 0);
    let log = RunLog::default();
    let first = scheduler
        .submit(log.task(Low, 1))
        .unwrap_or_else(|e| panic!("{e}"));
    let second = scheduler
        .submit(log.task(Low, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(scheduler.cancel(&first));
    assert!(!scheduler.cancel(&first), "already cancelled");
    assert!(
        !scheduler.cancel(&gate.handle),
        "running tasks are not interrupted"
    );
    gate.open();
    assert_eq!(second.wait(), TaskStatus::Completed);
    assert!(!scheduler.cancel(&second), "already completed");
    assert_eq!(first.status(), TaskStatus::Cancelled);
    assert_eq!(gate.handle.status(), TaskStatus::Completed);
    assert_eq!(log.names(), vec![2]);
    assert_eq!(scheduler.stats().class(Low).cancelled, 1);
}

#[test]
fn cancelled_closures_are_dropped_at_once() {
    let scheduler = single_worker(SchedulerConfig::default());
    let gate = Gate::hold(&scheduler, 0);
    let resource = Arc::new(vec![0u8; 1024]);
    for class in [Critical, High, Normal, Low] {
        let held = Arc::clone(&resource);
        scheduler
            .submit_detached(Task::new(class, TaskLabel::new("meta", 5), move || {
                drop(held);
            }))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(Arc::strong_count(&resource), 5);
    assert_eq!(scheduler.cancel_channel(5), 4);
    // The captured state was released by cancellation, not by running.
    assert_eq!(Arc::strong_count(&resource), 1);
    gate.open();
    assert!(scheduler.wait_idle(PATIENCE));
    assert_eq!(scheduler.stats().class(Critical).completed, 1);
}
