//! Shedding under overload: Low first, then Normal; High and Critical are handed back, never
//! dropped; every shed task counted by class and label.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Gate, NO_AGING, PATIENCE, RunLog, single_worker};
use midstream::scheduler::{
    LabelShedCount, SchedulerConfig, SubmitError, Task, TaskClass, TaskHandle, TaskLabel,
    TaskStatus,
};

use TaskClass::{Critical, High, Low, Normal};

fn accepted(result: Result<TaskHandle, SubmitError>) -> TaskHandle {
    result.unwrap_or_else(|e| panic!("expected the task to be queued: {e}"))
}

#[test]
fn overload_sheds_low_then_normal_and_hands_back_high_and_critical() {
    let scheduler = single_worker(SchedulerConfig {
        class_capacity: [4; 4],
        total_capacity: 6,
        aging_after: NO_AGING,
        ..SchedulerConfig::default()
    });
    let gate = Gate::hold(&scheduler, 0);
    let log = RunLog::default();
    // Channel 1 for Low work, 2 for Normal work; names 11.. and 21.. tell them apart.
    let low_task = |name: u32| log.labelled(Low, TaskLabel::new("meta", 1), name);
    let normal_task = |name: u32| log.task(Normal, name);
    let lows: Vec<TaskHandle> = (11..14)
        .map(|n| accepted(scheduler.submit(low_task(n))))
        .collect();
    let normals: Vec<TaskHandle> = (21..24)
        .map(|n| accepted(scheduler.submit(normal_task(n))))
        .collect();
    assert_eq!(scheduler.stats().class(Low).queue_depth, 3);

    // All six places taken: Critical and High work displaces Low work, newest first.
    let mut urgent = Vec::new();
    urgent.push(accepted(scheduler.submit(log.task(Critical, 1))));
    assert_eq!(lows[2].status(), TaskStatus::Shed);
    urgent.push(accepted(scheduler.submit(log.task(Critical, 2))));
    assert_eq!(lows[1].status(), TaskStatus::Shed);
    urgent.push(accepted(scheduler.submit(log.task(High, 3))));
    assert_eq!(lows[0].status(), TaskStatus::Shed);
    // No Low work left: Normal work goes next, newest first.
    urgent.push(accepted(scheduler.submit(log.task(High, 4))));
    assert_eq!(normals[2].status(), TaskStatus::Shed);
    urgent.push(accepted(scheduler.submit(log.task(Critical, 5))));
    assert_eq!(normals[1].status(), TaskStatus::Shed);
    assert_eq!(normals[0].status(), TaskStatus::Queued);

    // New Low and Normal work is the least urgent in a full scheduler: shed on arrival.
    assert!(matches!(
        scheduler.submit(low_task(14)),
        Err(SubmitError::Shed { class: Low, .. })
    ));
    assert!(matches!(
        scheduler.submit(normal_task(24)),
        Err(SubmitError::Shed { class: Normal, .. })
    ));
    urgent.push(accepted(scheduler.submit(log.task(Critical, 6))));
    assert_eq!(normals[0].status(), TaskStatus::Shed);

    // Critical queue (4) full: the task comes back, nothing is dropped.
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let critical = Task::new(Critical, TaskLabel::new("ltl", 9), move || {
        flag.store(true, Ordering::SeqCst)
    });
    let returned = match scheduler.submit(critical) {
        Err(SubmitError::Full {
            capacity: 4, task, ..
        }) => task,
        other => panic!("expected Full, got {other:?}"),
    };
    assert_eq!(returned.class(), Critical);
    assert_eq!(returned.label(), TaskLabel::new("ltl", 9));
    // High has room in its own queue, but all six places hold work that may not be shed.
    assert!(matches!(
        scheduler.submit(log.task(High, 7)),
        Err(SubmitError::Full { .. })
    ));

    let stats = scheduler.stats();
    assert_eq!(stats.class(Low).shed, 4);
    assert_eq!(stats.class(Normal).shed, 4);
    assert_eq!(stats.class(High).shed, 0);
    assert_eq!(stats.class(Critical).shed, 0);
    assert_eq!(stats.class(Critical).rejected, 1);
    assert_eq!(stats.class(High).rejected, 1);
    assert_eq!(
        stats.shed_by_label,
        vec![
            LabelShedCount {
                class: Normal,
                label: TaskLabel::new("test", 21),
                count: 1
            },
            LabelShedCount {
                class: Normal,
                label: TaskLabel::new("test", 22),
                count: 1
            },
            LabelShedCount {
                class: Normal,
                label: TaskLabel::new("test", 23),
                count: 1
            },
            LabelShedCount {
                class: Normal,
                label: TaskLabel::new("test", 24),
                count: 1
            },
            LabelShedCount {
                class: Low,
                label: TaskLabel::new("meta", 1),
                count: 4
            },
        ]
    );

    gate.open();
    for handle in &urgent {
        assert_eq!(handle.wait(), TaskStatus::Completed);
    }
    // The handed-back task can be submitted again once there is room.
    accepted(scheduler.submit(returned));
    assert!(scheduler.wait_idle(PATIENCE));
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!(log.names(), vec![1, 2, 5, 6, 3, 4]);
    let stats = scheduler.shutdown();
    for class in TaskClass::ALL {
        let c = stats.class(class);
        assert_eq!(
            c.submitted,
            c.completed + c.panicked + c.cancelled + c.shed + c.rejected,
            "{class}: every submitted task is accounted for"
        );
    }
}

#[test]
fn a_full_low_queue_keeps_the_most_urgent_deadlines() {
    let scheduler = single_worker(SchedulerConfig {
        class_capacity: [8, 8, 8, 3],
        aging_after: NO_AGING,
        ..SchedulerConfig::default()
    });
    let gate = Gate::hold(&scheduler, 0);
    let log = RunLog::default();
    let base = Instant::now() + Duration::from_secs(60);
    let at = |ms: u64| base + Duration::from_millis(ms);
    let a = accepted(scheduler.submit(log.task(Low, 1).with_deadline(at(30))));
    let b = accepted(scheduler.submit(log.task(Low, 2).with_deadline(at(10))));
    let c = accepted(scheduler.submit(log.task(Low, 3)));
    // Earlier deadline than the task without one: that one is shed.
    let d = accepted(scheduler.submit(log.task(Low, 4).with_deadline(at(20))));
    assert_eq!(c.status(), TaskStatus::Shed);
    // Later than everything queued: shed on arrival.
    assert!(matches!(
        scheduler.submit(log.task(Low, 5).with_deadline(at(40))),
        Err(SubmitError::Shed { .. })
    ));
    gate.open();
    for h in [&a, &b, &d] {
        assert_eq!(h.wait(), TaskStatus::Completed);
    }
    assert_eq!(log.names(), vec![2, 4, 1]);
    assert_eq!(scheduler.stats().class(Low).shed, 2);
}
