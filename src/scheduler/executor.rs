//! The worker pool: admission under the queue lock, dispatch, running tasks, parking.
//!
//! # Waking workers
//!
//! One lock protects the [`RunQueue`]; its length is mirrored in an atomic so idle workers can
//! watch for work without taking the lock. A worker that finds no work first *spins* for
//! [`SchedulerConfig::spin_before_park`], polling the atomic: a short exponential busy-wait on
//! the CPU, then `yield_now` (which lets producers sharing the cores run) until the window ends.
//! Only then does it *park* on a condition variable. Under steady load the workers never park
//! and dispatch costs no system call; when the dashboard is idle every worker is parked and uses
//! no CPU.
//!
//! A producer wakes a parked worker unless some worker is in the busy-wait phase (it will pick
//! the task up within a poll, well under a microsecond). A worker in the yield phase does not
//! count: on a loaded machine a yielding thread may stay off the CPU for milliseconds, while a
//! freshly woken one is scheduled promptly. A worker that takes a task while more are queued
//! wakes the next sleeper by the same rule, so a burst fans out to every worker.
//!
//! The lost-wakeup argument: a producer pushes and reads the busy-wait count while holding the
//! lock; a worker leaves the busy-wait count before it can park, and parks only after taking
//! the lock and finding the queue empty. If the producer saw the worker busy-waiting, the worker
//! takes the lock after the push and sees the task.

use std::hint;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::CreationError;
use parking_lot::{Condvar, Mutex};

use super::queue::{Admission, QueuedTask, RunQueue};
use super::stats::{
    HistogramSet, QueueCounters, RateMeter, Sample, SampleLog, SchedulerStats, ShedLedger,
    StatsSources, WorkerCounters, bump,
};
use super::task::{Task, TaskClass, TaskHandle, TaskState, TaskStatus, TaskWork};
use super::{SchedulerConfig, ShutdownMode, SubmitError};

/// Busy-wait rounds before a spinning worker starts yielding: round `k` spins `2^k` times, so
/// 127 spin-loop hints in all (a few microseconds), the usual exponential backoff of
/// `crossbeam_utils::Backoff`.
const SPIN_DOUBLINGS: u32 = 7;
/// Longest a `wait_idle` caller sleeps between checks, in case a worker's notification raced
/// with its check.
const IDLE_POLL: Duration = Duration::from_millis(1);

struct QueueState {
    run: RunQueue,
    /// Workers parked on `work_available`.
    sleepers: usize,
    /// Threads inside `wait_idle`.
    idle_waiters: usize,
    shutdown: Option<ShutdownMode>,
}

/// State shared by the scheduler handle and its workers.
pub(crate) struct Shared {
    pub(crate) config: SchedulerConfig,
    started: Instant,
    queue: Mutex<QueueState>,
    work_available: Condvar,
    idle: Condvar,
    /// Mirror of the queue length, for spinning workers.
    pending: AtomicUsize,
    /// Workers in the busy-wait phase of their spin (on the CPU, polling `pending`).
    spinning: AtomicUsize,
    running: AtomicUsize,
    /// Workers holding unpublished samples.
    dirty_workers: AtomicUsize,
    /// Mirror of `shutdown.is_some()`, for spinning workers.
    closing: AtomicBool,
    counters: QueueCounters,
    per_worker: Box<[WorkerCounters]>,
    shed_ledger: ShedLedger,
    published: Mutex<Arc<HistogramSet>>,
    /// Serialises publishers (see [`SampleLog::publish`]).
    publisher: Mutex<()>,
    rate: Mutex<RateMeter>,
}

impl Shared {
    /// `config` must be validated.
    pub(crate) fn new(config: SchedulerConfig) -> Result<Self, CreationError> {
        let started = Instant::now();
        let run = RunQueue::new(
            config.class_capacity,
            config.total_capacity,
            config.aging_after,
            started,
        );
        let per_worker = (0..config.workers)
            .map(|_| WorkerCounters::default())
            .collect();
        Ok(Shared {
            started,
            queue: Mutex::new(QueueState {
                run,
                sleepers: 0,
                idle_waiters: 0,
                shutdown: None,
            }),
            work_available: Condvar::new(),
            idle: Condvar::new(),
            pending: AtomicUsize::new(0),
            spinning: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            dirty_workers: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            counters: QueueCounters::default(),
            per_worker,
            shed_ledger: ShedLedger::default(),
            published: Mutex::new(Arc::new(HistogramSet::new()?)),
            publisher: Mutex::new(()),
            rate: Mutex::new(RateMeter::new(started)),
            config,
        })
    }

    /// Mirrors the queue lengths into the atomics readers and spinners look at. Call with the
    /// queue lock held, after every change.
    fn sync_depths(&self, run: &RunQueue) {
        for class in TaskClass::ALL {
            self.counters.depth[class.index()].store(run.class_len(class), Ordering::Release);
        }
        self.pending.store(run.len(), Ordering::Release);
    }

    pub(crate) fn submit(
        &self,
        task: Task,
        with_handle: bool,
    ) -> Result<Option<TaskHandle>, SubmitError> {
        let enqueued = Instant::now();
        let state = with_handle.then(|| Arc::new(TaskState::new()));
        let Task {
            class,
            label,
            deadline,
            work,
        } = task;
        let mut q = self.queue.lock();
        if q.shutdown.is_some() {
            drop(q);
            return Err(SubmitError::ShutDown {
                task: Task {
                    class,
                    label,
                    deadline,
                    work,
                },
            });
        }
        let seq = q.run.take_seq();
        let admission = q.run.admit(QueuedTask {
            seq,
            class,
            label,
            deadline,
            enqueued,
            work: work.into_inner(),
            state: state.clone(),
        });
        bump(&self.counters.submitted[class.index()], 1);
        let mut wake = false;
        match &admission {
            Admission::Queued { evicted } => {
                if let Some(evicted) = evicted {
                    bump(&self.counters.shed[evicted.class.index()], 1);
                }
                wake = q.sleepers > 0 && self.spinning.load(Ordering::SeqCst) == 0;
            }
            Admission::Shed(_) => bump(&self.counters.shed[class.index()], 1),
            Admission::Full(_) => bump(&self.counters.rejected[class.index()], 1),
        }
        self.sync_depths(&q.run);
        drop(q);
        if wake {
            self.work_available.notify_one();
        }
        match admission {
            Admission::Queued { evicted } => {
                if let Some(evicted) = evicted {
                    self.discard(evicted, TaskStatus::Shed);
                }
                Ok(state.map(|state| TaskHandle {
                    id: seq,
                    class,
                    label,
                    state,
                }))
            }
            Admission::Shed(task) => {
                self.discard(task, TaskStatus::Shed);
                Err(SubmitError::Shed { class, label })
            }
            Admission::Full(task) => Err(SubmitError::Full {
                capacity: self.config.class_capacity[class.index()],
                total_capacity: self.config.total_capacity,
                task: Task {
                    class: task.class,
                    label: task.label,
                    deadline: task.deadline,
                    work: TaskWork::new(task.work),
                },
            }),
        }
    }

    /// Settles a task that leaves the queue without running; its closure is dropped here,
    /// outside the queue lock.
    fn discard(&self, task: QueuedTask, status: TaskStatus) {
        if status == TaskStatus::Shed {
            self.shed_ledger.add(task.class, task.label);
        }
        if let Some(state) = &task.state {
            state.finish(status);
        }
    }

    /// Cancels every queued task matching `matches`; returns how many.
    pub(crate) fn cancel_where(&self, matches: impl FnMut(&QueuedTask) -> bool) -> usize {
        let removed = {
            let mut q = self.queue.lock();
            let removed = q.run.remove_where(matches);
            self.count_cancelled(&removed);
            self.sync_depths(&q.run);
            removed
        };
        let n = removed.len();
        for task in removed {
            self.discard(task, TaskStatus::Cancelled);
        }
        n
    }

    /// Cancels one task if it is still queued.
    pub(crate) fn cancel_task(&self, handle: &TaskHandle) -> bool {
        let removed = {
            let mut q = self.queue.lock();
            let removed = q.run.remove(handle.class, handle.id);
            if let Some(task) = &removed {
                self.count_cancelled(std::slice::from_ref(task));
            }
            self.sync_depths(&q.run);
            removed
        };
        match removed {
            Some(task) => {
                self.discard(task, TaskStatus::Cancelled);
                true
            }
            None => false,
        }
    }

    fn count_cancelled(&self, tasks: &[QueuedTask]) {
        for task in tasks {
            bump(&self.counters.cancelled[task.class.index()], 1);
        }
    }

    /// Stops admission; with [`ShutdownMode::CancelPending`] also cancels everything queued.
    /// Workers finish what is left (if anything) and exit.
    pub(crate) fn begin_shutdown(&self, mode: ShutdownMode) {
        let cancelled = {
            let mut q = self.queue.lock();
            if q.shutdown != Some(ShutdownMode::CancelPending) {
                q.shutdown = Some(mode);
            }
            let cancelled = match mode {
                ShutdownMode::Drain => Vec::new(),
                ShutdownMode::CancelPending => q.run.drain(),
            };
            self.count_cancelled(&cancelled);
            self.sync_depths(&q.run);
            self.closing.store(true, Ordering::Release);
            cancelled
        };
        for task in cancelled {
            self.discard(task, TaskStatus::Cancelled);
        }
        self.work_available.notify_all();
    }

    pub(crate) fn stats(&self) -> SchedulerStats {
        StatsSources {
            started: self.started,
            workers: self.config.workers,
            class_capacity: self.config.class_capacity,
            queue: &self.counters,
            per_worker: &self.per_worker,
            shed_ledger: &self.shed_ledger,
            published: &self.published,
            rate: &self.rate,
        }
        .read()
    }

    /// Waits until nothing is queued or running and every sample is published.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut q = self.queue.lock();
        q.idle_waiters += 1;
        // Parked workers holding samples publish when they see an idle waiter.
        self.work_available.notify_all();
        let idle = loop {
            if q.run.is_empty()
                && self.running.load(Ordering::SeqCst) == 0
                && self.dirty_workers.load(Ordering::SeqCst) == 0
            {
                break true;
            }
            let now = Instant::now();
            let poll = match deadline {
                Some(deadline) if now >= deadline => break false,
                Some(deadline) => (deadline - now).min(IDLE_POLL),
                None => IDLE_POLL,
            };
            self.idle.wait_for(&mut q, poll);
        };
        q.idle_waiters -= 1;
        idle
    }

    /// Polls for work without the lock for up to `spin_before_park`; true if work (or the
    /// shutdown) showed up. Counted in `spinning` only while busy-waiting on the CPU.
    fn spin_for_work(&self) -> bool {
        let window = self.config.spin_before_park;
        if window.is_zero() {
            return false;
        }
        let work_or_closing =
            || self.pending.load(Ordering::Acquire) > 0 || self.closing.load(Ordering::Acquire);
        let started = Instant::now();
        self.spinning.fetch_add(1, Ordering::SeqCst);
        let mut found = false;
        for round in 0..SPIN_DOUBLINGS {
            if work_or_closing() {
                found = true;
                break;
            }
            for _ in 0..(1u32 << round) {
                hint::spin_loop();
            }
        }
        self.spinning.fetch_sub(1, Ordering::SeqCst);
        while !found && started.elapsed() < window {
            thread::yield_now();
            found = work_or_closing();
        }
        found
    }

    /// Runs one task and records it; returns when it ended.
    fn execute(
        &self,
        task: QueuedTask,
        start: Instant,
        counters: &WorkerCounters,
        log: &mut SampleLog,
    ) -> Instant {
        let QueuedTask {
            class,
            deadline,
            enqueued,
            work,
            state,
            ..
        } = task;
        if let Some(state) = &state {
            state.set_running();
        }
        let outcome = panic::catch_unwind(AssertUnwindSafe(work));
        let end = Instant::now();
        let i = class.index();
        let status = match outcome {
            Ok(()) => {
                bump(&counters.completed[i], 1);
                TaskStatus::Completed
            }
            Err(_payload) => {
                bump(&counters.panicked[i], 1);
                TaskStatus::Panicked
            }
        };
        if deadline.is_some_and(|d| end > d) {
            bump(&counters.deadline_misses[i], 1);
        }
        if !log.is_dirty() {
            // Before `running` drops, so `wait_idle` never sees neither running nor dirty.
            self.dirty_workers.fetch_add(1, Ordering::SeqCst);
        }
        log.push(Sample {
            class,
            wait_ns: duration_ns(start.saturating_duration_since(enqueued)),
            run_ns: duration_ns(end.saturating_duration_since(start)),
        });
        self.running.fetch_sub(1, Ordering::SeqCst);
        if let Some(state) = state {
            state.finish(status);
        }
        end
    }

    fn publish(&self, log: &mut SampleLog, now: Instant) {
        let was_dirty = log.is_dirty();
        log.publish(&self.publisher, &self.published, now);
        if was_dirty {
            self.dirty_workers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Body of worker thread `index`.
pub(crate) fn run_worker(shared: Arc<Shared>, index: usize) {
    let interval = shared.config.stats_publish_interval;
    let counters = &shared.per_worker[index];
    let mut log = SampleLog::new(Instant::now());
    // After a timed wake-up for publishing, go straight back to the park checks.
    let mut skip_spin = false;
    loop {
        let mut q = shared.queue.lock();
        if !q.run.is_empty() {
            // The clock is read under the lock so that `start` is never before the enqueue time.
            let start = Instant::now();
            if let Some(task) = q.run.pop(start) {
                shared.running.fetch_add(1, Ordering::SeqCst);
                shared.sync_depths(&q.run);
                let wake_next = !q.run.is_empty()
                    && q.sleepers > 0
                    && shared.spinning.load(Ordering::SeqCst) == 0;
                drop(q);
                if wake_next {
                    shared.work_available.notify_one();
                }
                let end = shared.execute(task, start, counters, &mut log);
                if log.publish_due(end, interval) {
                    shared.publish(&mut log, end);
                }
                skip_spin = false;
                continue;
            }
        }
        if q.shutdown.is_some() {
            break;
        }
        drop(q);
        if !skip_spin && shared.spin_for_work() {
            continue;
        }
        skip_spin = false;
        let mut q = shared.queue.lock();
        if !q.run.is_empty() {
            continue;
        }
        if q.shutdown.is_some() {
            break;
        }
        let now = Instant::now();
        if log.is_dirty() && (q.idle_waiters > 0 || log.publish_due(now, interval)) {
            drop(q);
            shared.publish(&mut log, now);
            skip_spin = true;
            continue;
        }
        q.sleepers += 1;
        if q.idle_waiters > 0 {
            shared.idle.notify_all();
        }
        if log.is_dirty() {
            let timed_out = shared
                .work_available
                .wait_for(&mut q, log.until_due(now, interval))
                .timed_out();
            skip_spin = timed_out;
        } else {
            shared.work_available.wait(&mut q);
        }
        q.sleepers -= 1;
    }
    shared.publish(&mut log, Instant::now());
    shared.idle.notify_all();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::scheduler::{Scheduler, TaskLabel};

    const PATIENCE: Duration = Duration::from_secs(30);

    fn scheduler(workers: usize) -> Scheduler {
        Scheduler::new(SchedulerConfig::with_workers(workers))
            .unwrap_or_else(|e| panic!("scheduler: {e}"))
    }

    /// Polls `condition` until it holds or PATIENCE runs out.
    fn eventually(condition: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if condition() {
                return true;
            }
            thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn idle_workers_stop_spinning_and_park() {
        let s = scheduler(2);
        for _ in 0..100 {
            s.submit_detached(Task::new(TaskClass::High, TaskLabel::new("test", 0), || {}))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(s.wait_idle(PATIENCE));
        // With nothing to do, both workers end up parked on the condition variable: no CPU is
        // burnt while the dashboard is idle.
        let shared = &s.shared;
        assert!(eventually(
            || shared.queue.lock().sleepers == 2 && shared.spinning.load(Ordering::SeqCst) == 0
        ));
    }

    #[test]
    fn a_burst_wakes_every_parked_worker() {
        let s = scheduler(2);
        let shared = &s.shared;
        assert!(eventually(|| shared.queue.lock().sleepers == 2));
        // Two tasks that can only finish if they run at the same time.
        let started = Arc::new(AtomicUsize::new(0));
        let met = Arc::new(AtomicBool::new(true));
        let handles: Vec<TaskHandle> = (0..2)
            .map(|_| {
                let started = Arc::clone(&started);
                let met = Arc::clone(&met);
                let task = Task::new(TaskClass::Normal, TaskLabel::new("test", 0), move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let deadline = Instant::now() + PATIENCE;
                    while started.load(Ordering::SeqCst) < 2 {
                        if Instant::now() > deadline {
                            met.store(false, Ordering::SeqCst);
                            return;
                        }
                        thread::yield_now();
                    }
                });
                s.submit(task).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        for h in &handles {
            assert_eq!(h.wait(), TaskStatus::Completed);
        }
        assert!(
            met.load(Ordering::SeqCst),
            "the second worker was never woken"
        );
    }

    #[test]
    fn counters_mirror_the_queue() {
        let s = scheduler(1);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        s.submit_detached(Task::new(
            TaskClass::Critical,
            TaskLabel::new("gate", 0),
            move || {
                let _ = started_tx.send(());
                let _ = rx.recv();
            },
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(started_rx.recv_timeout(PATIENCE).is_ok());
        for class in TaskClass::ALL {
            s.submit_detached(Task::new(class, TaskLabel::new("test", 1), || {}))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(s.shared.pending.load(Ordering::SeqCst), 4);
        assert_eq!(s.shared.running.load(Ordering::SeqCst), 1);
        let _ = tx.send(());
        assert!(s.wait_idle(PATIENCE));
        assert_eq!(s.shared.pending.load(Ordering::SeqCst), 0);
        assert_eq!(s.shared.running.load(Ordering::SeqCst), 0);
        assert_eq!(s.shared.dirty_workers.load(Ordering::SeqCst), 0);
    }
}
