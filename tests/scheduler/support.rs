//! Helpers shared by the scheduler integration tests: a gate that holds a worker, and tasks that
//! record the order in which they ran.

#![allow(dead_code)]

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use midstream::scheduler::{
    Scheduler, SchedulerConfig, Task, TaskClass, TaskHandle, TaskLabel, TaskStatus,
};

/// Longest any test waits for something that should happen at once; only reached on failure.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Aging threshold for tests that check strict priority order: far longer than any test runs,
/// so aging never reorders them even on a loaded machine.
pub const NO_AGING: Duration = Duration::from_secs(3600);

/// A task occupying a worker until [`Gate::open`] is called.
pub struct Gate {
    open_tx: Sender<()>,
    pub handle: TaskHandle,
}

impl Gate {
    /// Submits a Critical task labelled `gate` on `channel` and waits until a worker runs it.
    pub fn hold(scheduler: &Scheduler, channel: u32) -> Gate {
        let (open_tx, open_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let task = Task::new(
            TaskClass::Critical,
            TaskLabel::new("gate", channel),
            move || {
                let _ = started_tx.send(());
                let _ = open_rx.recv();
            },
        );
        let handle = scheduler
            .submit(task)
            .unwrap_or_else(|e| panic!("gate not accepted: {e}"));
        started_rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("gate task never started: {e}"));
        assert_eq!(handle.status(), TaskStatus::Running);
        Gate { open_tx, handle }
    }

    pub fn open(&self) {
        let _ = self.open_tx.send(());
    }
}

/// A single-worker scheduler whose order of execution is deterministic.
pub fn single_worker(config: SchedulerConfig) -> Scheduler {
    Scheduler::new(SchedulerConfig {
        workers: 1,
        ..config
    })
    .unwrap_or_else(|e| panic!("scheduler: {e}"))
}

/// Order in which tasks ran, by name.
#[derive(Clone, Default)]
pub struct RunLog(Arc<Mutex<Vec<u32>>>);

impl RunLog {
    /// A task named `name` (also its channel) that appends its name when it runs.
    pub fn task(&self, class: TaskClass, name: u32) -> Task {
        self.labelled(class, TaskLabel::new("test", name), name)
    }

    /// A task with `label` that appends `name` when it runs.
    pub fn labelled(&self, class: TaskClass, label: TaskLabel, name: u32) -> Task {
        let log = self.clone();
        Task::new(class, label, move || {
            log.0.lock().unwrap_or_else(|e| e.into_inner()).push(name)
        })
    }

    pub fn names(&self) -> Vec<u32> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
