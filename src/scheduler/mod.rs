//! Priority + deadline executor for all engine work, with per-class latency histograms.
//!
//! Engine work is submitted as a [`Task`]: a closure with a [`TaskClass`] (Critical, High,
//! Normal, Low), an optional deadline and a [`TaskLabel`] (engine and channel). A pool of worker
//! threads (one per core by default) runs it; producers may submit from any thread.
//!
//! - **Order.** Classes are strict priorities; within a class, earliest deadline first, tasks
//!   without deadline last in submission order. **Aging:** a High, Normal or Low class that has
//!   had work waiting for [`SchedulerConfig::aging_after`] (default 100 ms) without a dispatch
//!   gets its most urgent task dispatched next, ahead of higher classes, so no class starves
//!   for longer than that (details in [`queue`]).
//! - **Bounded queues and shedding.** Each class queue is bounded and all classes share a total
//!   bound. Under overload Low work is shed first, then Normal work; every shed task is counted
//!   by class and label. High and Critical work is never shed: when there is no room for it,
//!   [`Scheduler::submit`] returns [`SubmitError::Full`] with the task inside, so the submitter
//!   decides (retry, wait, report) — Critical work is never dropped silently.
//! - **Urgent reserve.** Normal and Low work (the long analyses) runs on at most `workers −`
//!   [`SchedulerConfig::urgent_reserve`] workers at once (default: all but one), so a
//!   Critical or High task finds a worker even while long analyses occupy the others; a
//!   running task is never preempted, so without the reserve an LTL step could wait behind
//!   two meta-learning rounds. The reserved worker sleeps until urgent work comes.
//! - **Cancellation.** [`Scheduler::cancel_channel`] (a channel went away),
//!   [`Scheduler::cancel_label`] and [`Scheduler::cancel`] remove queued tasks; a running task
//!   is never interrupted.
//! - **Shutdown.** [`Scheduler::shutdown`] finishes everything queued, [`Scheduler::shutdown_now`]
//!   cancels it; both join the workers and return the final statistics. Dropping the scheduler
//!   does `shutdown_now`.
//! - **Statistics.** [`Scheduler::stats`] returns a [`SchedulerStats`] snapshot without stalling
//!   the workers: per-class HDR histograms of wait (enqueue → start) and run time, deadline
//!   misses, tasks/s, queue depths, shed counts (details in [`stats`]).
//!   [`SchedulerStats::percentiles`] and [`SchedulerStats::log_buckets`] turn a class's
//!   histogram into what the Scheduler pane's latency-histogram widget draws.
//!
//! A task that panics is caught on its worker, counted as panicked, and the worker carries on.
//!
//! Submitting takes no lock on the common path: an atomic reservation of a queue place and a
//! push on a lock-free injection stack, with one allocation per task (two with a handle). The
//! task's allocation is a recycled slot: memory freed by the worker that ran an earlier task,
//! handed back to producers without the system allocator (see the `slots` module).
//! Idle workers poll for work before parking, at most one per core, and a
//! producer wakes a parked worker only when every worker is running a task or parked. Details,
//! and why no wake-up is lost, in the executor module's source documentation.

mod executor;
pub mod latency;
pub mod queue;
mod slots;
pub mod stats;
pub mod task;

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use parking_lot::Mutex;
use thiserror::Error;

use crate::model::ChannelId;
use executor::Shared;

pub use latency::{
    LatencyBucket, LatencyKind, LatencyPercentiles, LogBucketSpec, latency_percentiles, log_buckets,
};
pub use stats::{ClassStats, HistogramSet, LabelShedCount, SchedulerStats};
pub use task::{Task, TaskClass, TaskFn, TaskHandle, TaskLabel, TaskStatus};

/// Default bound of each class queue.
pub const DEFAULT_CLASS_CAPACITY: usize = 1024;
/// Default bound of all queues together: half the sum of the class bounds, so overload (and
/// shedding of Low, then Normal work) sets in before any single class is full.
pub const DEFAULT_TOTAL_CAPACITY: usize = 2 * DEFAULT_CLASS_CAPACITY;
/// Default aging threshold: a class with waiting work gets a task started at least this often.
/// 100 ms is three frames of the dashboard's default 30 fps, so starved Low work still shows
/// progress on screen, while Critical work is delayed by at most three promoted tasks per 100 ms.
pub const DEFAULT_AGING_AFTER: Duration = Duration::from_millis(100);
/// Default time an idle worker polls for work before parking. Waking a parked worker costs the
/// waker a system call (about 6 µs on the 2-core VM this was tuned on) and the wakee tens of
/// microseconds of latency on a loaded machine; 50 µs of polling covers the gaps between tasks
/// at the 100,000 tasks/s the scheduler is sized for (10 µs apart on average) while costing at
/// most 50 µs of CPU per idle period. At most one worker per core polls; any others park at
/// once (see the executor's documentation).
pub const DEFAULT_SPIN_BEFORE_PARK: Duration = Duration::from_micros(50);
/// Default longest delay between a task finishing and its latencies appearing in
/// [`Scheduler::stats`]' histograms; a third of a 30 fps frame.
pub const DEFAULT_STATS_PUBLISH_INTERVAL: Duration = Duration::from_millis(10);

/// Default [`SchedulerConfig::urgent_reserve`]: one worker, so on the 2-core target the
/// pipeline's attractor and meta-learning rounds share one worker and LTL steps and pattern
/// search always have the other.
pub const DEFAULT_URGENT_RESERVE: usize = 1;
/// Most workers a scheduler may have.
pub const MAX_WORKERS: usize = 1024;

/// How to construct a [`Scheduler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Worker threads; default one per core (`std::thread::available_parallelism`).
    pub workers: usize,
    /// Bound of each class queue, indexed by [`TaskClass::index`].
    pub class_capacity: [usize; TaskClass::COUNT],
    /// Bound of all queues together; reaching it is overload. At most 2^32.
    pub total_capacity: usize,
    /// Aging threshold (see the module documentation).
    pub aging_after: Duration,
    /// How long an idle worker polls before parking; zero parks at once.
    pub spin_before_park: Duration,
    /// Longest delay before finished tasks appear in the histograms.
    pub stats_publish_interval: Duration,
    /// Worker threads are named `{thread_name}-{index}`.
    pub thread_name: String,
    /// Workers kept free of Normal and Low work: those classes run on at most `workers −
    /// urgent_reserve` workers at once (and on all of them when there is only one), so a
    /// Critical or High task finds a worker even while long analyses occupy the others. A
    /// running task is never preempted, so without a reserve a Critical task queued behind two
    /// 40 ms meta-learning rounds on a 2-worker pool waits up to 40 ms.
    pub urgent_reserve: usize,
    /// The workers' OS priority relative to the rest of the process, as a nice increment
    /// (Linux: threads have their own nice value; elsewhere ignored). A positive value lets
    /// the threads that ingest, record and draw take the cores first, so that under overload
    /// analyses wait (and Normal and Low work is shed) rather than records.
    pub worker_niceness: i32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
            class_capacity: [DEFAULT_CLASS_CAPACITY; TaskClass::COUNT],
            total_capacity: DEFAULT_TOTAL_CAPACITY,
            aging_after: DEFAULT_AGING_AFTER,
            spin_before_park: DEFAULT_SPIN_BEFORE_PARK,
            stats_publish_interval: DEFAULT_STATS_PUBLISH_INTERVAL,
            thread_name: "midstream-worker".to_owned(),
            urgent_reserve: DEFAULT_URGENT_RESERVE,
            worker_niceness: 0,
        }
    }
}

impl SchedulerConfig {
    /// The defaults with `workers` worker threads.
    pub fn with_workers(workers: usize) -> Self {
        SchedulerConfig {
            workers,
            ..SchedulerConfig::default()
        }
    }

    fn validate(&self) -> Result<(), SchedulerError> {
        let invalid = |field: &'static str, reason: String| {
            Err(SchedulerError::InvalidConfig { field, reason })
        };
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return invalid(
                "workers",
                format!("{} is not between 1 and {MAX_WORKERS}", self.workers),
            );
        }
        for class in TaskClass::ALL {
            if self.class_capacity[class.index()] == 0 {
                return invalid(
                    "class_capacity",
                    format!("the {class} queue must hold at least one task"),
                );
            }
        }
        if self.total_capacity == 0 {
            return invalid(
                "total_capacity",
                "the queues must hold at least one task in all".to_owned(),
            );
        }
        if self.total_capacity > executor::MAX_TOTAL_CAPACITY {
            return invalid(
                "total_capacity",
                format!(
                    "{} is more than the {} tasks the queue counter holds",
                    self.total_capacity,
                    executor::MAX_TOTAL_CAPACITY
                ),
            );
        }
        if self.aging_after.is_zero() {
            return invalid(
                "aging_after",
                "must be positive, or every class would always count as starving".to_owned(),
            );
        }
        if self.thread_name.contains('\0') {
            return invalid(
                "thread_name",
                format!("{:?} contains a NUL byte", self.thread_name),
            );
        }
        if self.stats_publish_interval.is_zero() {
            return invalid(
                "stats_publish_interval",
                "must be positive, or workers would publish after every task".to_owned(),
            );
        }
        Ok(())
    }
}

/// Why a scheduler could not be built.
#[derive(Debug, Error)]
pub enum SchedulerError {
    #[error("invalid scheduler configuration: {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    #[error("cannot create the latency histograms: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
    #[error("cannot start scheduler worker {index}: {source}")]
    Spawn {
        index: usize,
        #[source]
        source: std::io::Error,
    },
}

/// Why a task was not accepted.
#[derive(Debug, Error)]
pub enum SubmitError {
    /// Backpressure for Critical and High work: its class queue (`capacity`) or all queues
    /// (`total_capacity`) are full and there is no Low or Normal work to shed. Nothing was
    /// dropped: the task is handed back.
    #[error(
        "{} task for {} not accepted: the {} queue ({capacity}) or all queues ({total_capacity}) \
         are full with work that may not be shed",
        task.class(), task.label(), task.class()
    )]
    Full {
        capacity: usize,
        total_capacity: usize,
        task: Task,
    },
    /// A Low or Normal task shed on arrival under overload (counted in the statistics).
    #[error(
        "{class} task for {label} shed: the scheduler is overloaded and it was the least urgent"
    )]
    Shed { class: TaskClass, label: TaskLabel },
    /// The scheduler is shutting down; the task is handed back.
    #[error("{} task for {} not accepted: the scheduler is shutting down", task.class(), task.label())]
    ShutDown { task: Task },
}

impl SubmitError {
    /// The task, when it was handed back rather than shed.
    pub fn into_task(self) -> Option<Task> {
        match self {
            SubmitError::Full { task, .. } | SubmitError::ShutDown { task } => Some(task),
            SubmitError::Shed { .. } => None,
        }
    }
}

/// What shutdown does with queued tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Run everything already queued, then stop.
    Drain,
    /// Cancel everything queued; only running tasks finish.
    CancelPending,
}

/// The executor. Share it between producer threads by reference or in an `Arc`.
pub struct Scheduler {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Scheduler {
    /// Validates `config` and starts the workers.
    pub fn new(config: SchedulerConfig) -> Result<Scheduler, SchedulerError> {
        config.validate()?;
        let shared = Arc::new(Shared::new(config)?);
        let mut handles = Vec::with_capacity(shared.config.workers);
        for index in 0..shared.config.workers {
            let worker_shared = Arc::clone(&shared);
            let spawned = thread::Builder::new()
                .name(format!("{}-{index}", shared.config.thread_name))
                .spawn(move || {
                    lower_thread_priority(worker_shared.config.worker_niceness);
                    executor::run_worker(worker_shared, index)
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(source) => {
                    let partial = Scheduler {
                        shared,
                        workers: Mutex::new(handles),
                    };
                    partial.shutdown_now();
                    return Err(SchedulerError::Spawn { index, source });
                }
            }
        }
        Ok(Scheduler {
            shared,
            workers: Mutex::new(handles),
        })
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.shared.config
    }

    /// Queues `task` and returns a handle to follow it. See [`SubmitError`] for when it is not
    /// queued; a Low or Normal task may also be shed later, which its handle then reports.
    pub fn submit(&self, task: Task) -> Result<TaskHandle, SubmitError> {
        match self.shared.submit(task, true)? {
            Some(handle) => Ok(handle),
            None => unreachable!("submit with a handle returns one"),
        }
    }

    /// Like [`submit`](Self::submit) without a handle, which saves an allocation per task;
    /// the task can still be cancelled by channel or label.
    pub fn submit_detached(&self, task: Task) -> Result<(), SubmitError> {
        self.shared.submit(task, false).map(|_| ())
    }

    /// Cancels the task if it is still queued; false if it already started or ended.
    pub fn cancel(&self, handle: &TaskHandle) -> bool {
        self.shared.cancel_task(handle)
    }

    /// Cancels every queued task working on `channel` (the channel went away); returns how many.
    /// Running tasks finish; tasks submitted afterwards are accepted as usual.
    pub fn cancel_channel(&self, channel: ChannelId) -> usize {
        self.shared.cancel_where(|t| t.label().channel == channel)
    }

    /// Cancels every queued task with exactly this label; returns how many.
    pub fn cancel_label(&self, label: TaskLabel) -> usize {
        self.shared.cancel_where(|t| t.label() == label)
    }

    /// A snapshot of the statistics. Takes no lock a worker waits on for more than a histogram
    /// publish, and costs the same whatever the number of tasks run so far.
    pub fn stats(&self) -> SchedulerStats {
        self.shared.stats()
    }

    /// Blocks until no task is queued or running and every finished task is in the histograms,
    /// or until `timeout`; true if idle. With producers still submitting it may never be idle.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.shared.wait_idle(timeout)
    }

    /// Stops accepting tasks, runs everything already queued, joins the workers and returns
    /// the final statistics. Idempotent.
    pub fn shutdown(&self) -> SchedulerStats {
        self.shutdown_with(ShutdownMode::Drain)
    }

    /// Stops accepting tasks, cancels everything queued, waits for running tasks, joins the
    /// workers and returns the final statistics. Idempotent.
    pub fn shutdown_now(&self) -> SchedulerStats {
        self.shutdown_with(ShutdownMode::CancelPending)
    }

    /// Shuts down in `mode`. Called from inside a task, it cannot join the worker running that
    /// task, which exits once the task returns.
    pub fn shutdown_with(&self, mode: ShutdownMode) -> SchedulerStats {
        self.shared.begin_shutdown(mode);
        let handles = std::mem::take(&mut *self.workers.lock());
        let me = thread::current().id();
        for handle in handles {
            if handle.thread().id() != me {
                // Workers catch task panics, so a join error means the worker itself failed;
                // there is nothing left to clean up for it.
                let _ = handle.join();
            }
        }
        self.shared.stats()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        if !self.workers.get_mut().is_empty() {
            self.shutdown_now();
        }
    }
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// Raises the calling thread's nice value by `increment` (Linux, where nice is per thread;
/// elsewhere nothing). Best effort: a failure leaves the thread as it was.
fn lower_thread_priority(increment: i32) {
    #[cfg(all(target_os = "linux", feature = "app"))]
    if increment > 0 {
        // SAFETY: getpriority/setpriority with who = 0 act on the calling thread on Linux.
        unsafe {
            let current = libc::getpriority(libc::PRIO_PROCESS, 0);
            libc::setpriority(libc::PRIO_PROCESS, 0, current + increment);
        }
    }
    #[cfg(not(all(target_os = "linux", feature = "app")))]
    let _ = increment;
}
