//! The worker pool: lock-free admission, dispatch under the queue lock, running tasks, parking.
//!
//! # Submitting
//!
//! A producer does not take the queue lock. It reserves a place with two atomic additions (the
//! total in the [`State`] word, the class count beside it: one cache line), then pushes the task
//! (one allocation holding header and closure, see [`TaskNode`], usually a recycled slot of the
//! `slots` module rather than fresh memory) on a lock-free injection stack in the same cache
//! line. Workers take the whole stack at once under the queue lock and move
//! its tasks into the class heaps, where the earliest-deadline and class-priority order and the
//! aging rule of [`RunQueue`] apply. Only when a reservation fails (a bound is reached) does the
//! producer take the lock, move the injected tasks into the heaps and apply the shedding rules
//! there ([`RunQueue::admit`]), so overload handling is exact and unchanged.
//!
//! # Waking workers
//!
//! A worker is *searching* whenever it is not inside a task's closure or parked: while it
//! dispatches, records a finished task, or polls for work. An idle worker polls the [`State`]
//! word for queued work for [`SchedulerConfig::spin_before_park`] and then parks, at most one
//! polling worker per core (busy-waiting on the CPU); any further ones park at once. Measured
//! on the 2-core machine, capping the pollers at half the cores (Go's rule) made the producer's
//! submit cheaper but left one worker parked, and the wake-ups it then needed put Critical
//! tasks' p99 wait at 0.06–2 ms at 100k tasks/s; with one poller per core it is 25–72 µs and
//! the no-op round trip 0.6–0.8 µs. Polling is bounded in time, so an idle pool still parks.
//! Nothing polls by `yield_now`: with the kernel's EEVDF scheduler every yield pushes the
//! yielder's deadline back by a time slice, so a thread polling that way on a loaded machine
//! ends up behind every CPU-bound thread for tens of milliseconds. The busy-waiting searcher
//! only yields every [`BUSY_YIELD_EVERY`], in case it shares a core with a producer, and parks
//! if that yield ran another thread ([`SHARED_CORE_YIELD`]). A worker publishing its latency
//! samples does not count as searching either (see `Shared::publish_aside`).
//!
//! Who wakes whom, all decided on the one [`State`] word:
//! - A producer wakes a parked worker only if no worker is searching (all are running task
//!   closures or parked) and some worker is parked. It reads that from the same atomic addition
//!   that reserved its place, so this costs nothing when a worker is searching, and a worker is
//!   searching except while it runs user code. It also wakes one when tasks were already
//!   waiting and no searcher has shown progress for [`STALL`]: a searcher preempted on a loaded
//!   machine still counts as searching.
//! - A worker about to run a task while more are queued, when nobody else is searching, wakes a
//!   parked worker, so a burst fans out to every worker.
//! - A woken worker is counted as searching from the moment it is chosen, so two producers do
//!   not both wake one for the same task.
//! - The urgent reserve is apart from this: a worker that finds only Normal or Low work queued
//!   while the background workers are all busy stays counted as searching and sleeps on its
//!   own condition variable (`Shared::wait_in_reserve`), woken by a producer of Critical or
//!   High work, by a background task ending, or at shutdown. A worker in reserve exists only
//!   when no further worker could take background work, so no wake-up for background work is
//!   lost by its counting as a searcher.
//!
//! The lost-wakeup argument: a worker parks only through a compare-and-swap on the State word
//! that requires no queued task, and a producer's reservation is an atomic addition on the same
//! word; all of them are totally ordered. If the reservation comes first, the worker's
//! compare-and-swap fails and it goes back to work. If the worker's comes first, the producer's
//! addition returns a State that counts the worker as parked; if it also shows no searcher, the
//! producer wakes one. If it shows a searcher, that searcher cannot park while the task is
//! counted as queued, so it either takes this task or takes another one, and then the second rule
//! applies (more queued, nobody searching: wake one). A worker running a closure searches again
//! as soon as the closure returns. `tests/scheduler/wakeups.rs` checks this under many producers
//! and tiny tasks, and with single tasks submitted as the previous one ends.

use std::hint;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::CreationError;
use parking_lot::{Condvar, Mutex};

use super::queue::{Admission, QueuedTask, Reserve, RunQueue, Slots};
use super::stats::{
    CachePadded, HistogramSet, QueueCounters, RateMeter, Sample, SampleLog, SchedulerStats,
    ShedLedger, StatsSources, WorkerCounters, bump,
};
use super::task::{Header, Task, TaskClass, TaskHandle, TaskNode, TaskState, TaskStatus};
use super::{SchedulerConfig, ShutdownMode, SubmitError};

/// Polls between two clock reads of a busy-waiting searcher (a spin-loop hint each, about
/// 30 ns on the 2-core target machine, so about 2 µs).
const BUSY_POLLS_PER_CLOCK_READ: u32 = 64;
/// A busy-waiting searcher yields its core this often. On 2 cores the kernel may put it on the
/// producer's core, and without a yield the producer would wait for the end of its time slice
/// (milliseconds) to submit the task the spinner waits for. A few yields per search window
/// keep the cost of yielding under EEVDF (see the module documentation) small.
const BUSY_YIELD_EVERY: Duration = Duration::from_micros(10);
/// A `yield_now` of the busy-waiting searcher that takes longer than this ran another thread on
/// its core (alone on it, the system call returns in about 1 µs on the 2-core VM): the searcher
/// then stops and parks, leaving the core to that thread; a later wake-up places a worker on an
/// idle core. Without this, a spinner the kernel puts on the producer's core keeps it there and
/// takes a share of that core for the rest of the run.
const SHARED_CORE_YIELD: Duration = Duration::from_micros(5);
/// A producer that finds tasks already queued wakes a parked worker even though a worker counts
/// as searching, if no searching worker has shown progress (a poll of the busy-waiting
/// searcher, every [`BUSY_POLLS_PER_CLOCK_READ`] polls or about 2 µs, or a dispatch) for this
/// long: that searcher is evidently not running (on a loaded machine it may be preempted for a
/// whole time slice). Ten heartbeats, so an unloaded pool never looks stalled; at 100,000
/// tasks/s it is two task intervals, well under the 50 µs Critical wait goal.
const STALL: Duration = Duration::from_micros(20);
/// Longest a worker held back by the urgent reserve sleeps before it looks again. It is woken
/// at once for a Critical or High task and when a background slot frees; the timeout only
/// bounds the wait after a cancellation emptied the queue under it.
const RESERVE_RECHECK: Duration = Duration::from_millis(5);
/// Longest a `wait_idle` caller sleeps between checks, in case a worker's notification raced
/// with its check.
const IDLE_POLL: Duration = Duration::from_millis(1);

/// The State word: the scheduler's one word of shared truth about queued work and idle workers.
///
/// Bits 0..40: tasks queued (places reserved, including tasks a producer is about to push);
/// bits 40..51: workers searching; bits 51..62: workers parked; bit 62: shutting down.
struct State;

impl State {
    const QUEUED_ONE: u64 = 1;
    const QUEUED_MASK: u64 = (1 << 40) - 1;
    const SEARCHING_SHIFT: u32 = 40;
    const SEARCHING_ONE: u64 = 1 << Self::SEARCHING_SHIFT;
    const SLEEPING_SHIFT: u32 = 51;
    const SLEEPING_ONE: u64 = 1 << Self::SLEEPING_SHIFT;
    const COUNT_MASK: u64 = (1 << 11) - 1;
    const CLOSING: u64 = 1 << 62;

    fn queued(s: u64) -> u64 {
        s & Self::QUEUED_MASK
    }

    fn searching(s: u64) -> u64 {
        (s >> Self::SEARCHING_SHIFT) & Self::COUNT_MASK
    }

    fn sleeping(s: u64) -> u64 {
        (s >> Self::SLEEPING_SHIFT) & Self::COUNT_MASK
    }

    fn closing(s: u64) -> bool {
        s & Self::CLOSING != 0
    }
}

/// Largest total capacity the State word's queued field holds with room to spare for the
/// transient over-reservations of concurrent producers (at most one each).
pub(crate) const MAX_TOTAL_CAPACITY: usize = 1 << 32;
// The State word's worker counts (11 bits each) hold every allowed pool size.
const _: () = assert!(super::MAX_WORKERS <= State::COUNT_MASK as usize);

/// What producers and workers share on every task: one cache line, so a submission touches
/// one line that workers write.
#[derive(Default)]
#[repr(align(128))]
struct Hot {
    state: AtomicU64,
    /// Tasks queued per class (reserved places), the class bounds' counts.
    class_queued: [AtomicUsize; TaskClass::COUNT],
    /// Head of the injection stack (newest first), linked through [`Header::next`].
    inject: AtomicPtr<Header>,
}

/// The places counted in [`Hot`], for [`RunQueue::admit`] on the overload path.
struct AtomicSlots<'a> {
    hot: &'a Hot,
    class_capacity: [usize; TaskClass::COUNT],
    total_capacity: usize,
}

impl Slots for AtomicSlots<'_> {
    fn try_reserve(&self, class: TaskClass) -> Reserve {
        let i = class.index();
        // SeqCst: the reserve's handshake (see `Shared::wait_in_reserve`).
        if self.hot.class_queued[i].fetch_add(1, Ordering::SeqCst) >= self.class_capacity[i] {
            self.hot.class_queued[i].fetch_sub(1, Ordering::AcqRel);
            return Reserve::ClassFull;
        }
        let old = self
            .hot
            .state
            .fetch_add(State::QUEUED_ONE, Ordering::AcqRel);
        if State::queued(old) >= self.total_capacity as u64 {
            self.hot
                .state
                .fetch_sub(State::QUEUED_ONE, Ordering::AcqRel);
            self.hot.class_queued[i].fetch_sub(1, Ordering::AcqRel);
            return Reserve::TotalFull;
        }
        Reserve::Reserved
    }

    fn transfer(&self, from: TaskClass, to: TaskClass) -> bool {
        let to_count = &self.hot.class_queued[to.index()];
        if to_count.fetch_add(1, Ordering::AcqRel) >= self.class_capacity[to.index()] {
            to_count.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        self.hot.class_queued[from.index()].fetch_sub(1, Ordering::AcqRel);
        true
    }
}

struct QueueState {
    run: RunQueue,
    shutdown: Option<ShutdownMode>,
}

/// Where parked workers wait: a counting semaphore, closed at shutdown.
#[derive(Default)]
struct Parking {
    permits: Mutex<(usize, bool)>,
    wake: Condvar,
}

enum Woken {
    /// A waker chose this worker and counted it as searching.
    Permit,
    /// Shutdown; the worker is still counted as parked.
    Closed,
}

impl Parking {
    fn post(&self) {
        self.permits.lock().0 += 1;
        self.wake.notify_one();
    }

    fn close(&self) {
        self.permits.lock().1 = true;
        self.wake.notify_all();
    }

    fn wait(&self) -> Woken {
        let mut permits = self.permits.lock();
        loop {
            if permits.0 > 0 {
                permits.0 -= 1;
                return Woken::Permit;
            }
            if permits.1 {
                return Woken::Closed;
            }
            self.wake.wait(&mut permits);
        }
    }
}

/// State shared by the scheduler handle and its workers.
pub(crate) struct Shared {
    pub(crate) config: SchedulerConfig,
    started: Instant,
    hot: Hot,
    next_seq: CachePadded<AtomicU64>,
    /// When a searching worker last showed progress, in ns since `started` (see [`STALL`]).
    progress_ns: CachePadded<AtomicU64>,
    /// Busy-waiting searchers, at most `max_spinners`.
    spinners: CachePadded<AtomicUsize>,
    max_spinners: usize,
    queue: Mutex<QueueState>,
    parking: Parking,
    /// Workers that may run Normal or Low tasks at once (`SchedulerConfig::urgent_reserve`).
    background_limit: usize,
    /// Normal and Low tasks running; raised under the queue lock, so never above the limit.
    background_running: CachePadded<AtomicUsize>,
    /// Workers held back by the reserve, and where they wait (see `wait_in_reserve`).
    reserved: CachePadded<AtomicUsize>,
    reserve_lock: Mutex<()>,
    reserve_wake: Condvar,
    /// Threads inside `wait_idle`, and where they wait.
    idle_waiters: AtomicUsize,
    idle_lock: Mutex<()>,
    idle: Condvar,
    counters: QueueCounters,
    per_worker: Box<[WorkerCounters]>,
    shed_ledger: ShedLedger,
    published: Mutex<Arc<HistogramSet>>,
    /// Serialises publishers (see [`SampleLog::publish`]).
    publisher: Mutex<()>,
    rate: Mutex<RateMeter>,
}

/// Outcome of one dispatch attempt.
enum Dispatch {
    Run(QueuedTask, Instant),
    /// Nothing to run: the queued count covers tasks a producer has not pushed yet, or the
    /// queue was cancelled by `shutdown_now`.
    Nothing,
    /// Only Normal or Low tasks are queued and the background workers are all busy: this
    /// worker is part of the urgent reserve until one of them finishes.
    Reserved,
}

impl Shared {
    /// `config` must be validated.
    pub(crate) fn new(config: SchedulerConfig) -> Result<Self, CreationError> {
        let started = Instant::now();
        let per_worker = (0..config.workers)
            .map(|_| WorkerCounters::default())
            .collect();
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Shared {
            started,
            hot: Hot::default(),
            next_seq: CachePadded::default(),
            progress_ns: CachePadded::default(),
            spinners: CachePadded::default(),
            max_spinners: cores.max(1),
            queue: Mutex::new(QueueState {
                run: RunQueue::new(config.aging_after, started),
                shutdown: None,
            }),
            parking: Parking::default(),
            background_limit: config.workers
                - config.urgent_reserve.min(config.workers.saturating_sub(1)),
            background_running: CachePadded::default(),
            reserved: CachePadded::default(),
            reserve_lock: Mutex::new(()),
            reserve_wake: Condvar::new(),
            idle_waiters: AtomicUsize::new(0),
            idle_lock: Mutex::new(()),
            idle: Condvar::new(),
            counters: QueueCounters::default(),
            per_worker,
            shed_ledger: ShedLedger::default(),
            published: Mutex::new(Arc::new(HistogramSet::new()?)),
            publisher: Mutex::new(()),
            rate: Mutex::new(RateMeter::new(started)),
            config,
        })
    }

    fn slots(&self) -> AtomicSlots<'_> {
        AtomicSlots {
            hot: &self.hot,
            class_capacity: self.config.class_capacity,
            total_capacity: self.config.total_capacity,
        }
    }

    pub(crate) fn submit(
        &self,
        task: Task,
        with_handle: bool,
    ) -> Result<Option<TaskHandle>, SubmitError> {
        let mut node = task.node;
        let class = node.header().class;
        let i = class.index();
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let state = with_handle.then(|| Arc::new(TaskState::new()));
        let enqueued = Instant::now();
        {
            let header = node.header_mut();
            header.seq = seq;
            header.enqueued = Some(enqueued);
            header.state = state.clone();
        }
        let handle = |state: Option<Arc<TaskState>>, label| {
            state.map(|state| TaskHandle {
                id: seq,
                class,
                label,
                state,
            })
        };
        // Fast path: reserve a place in the total and in the class, push, wake if nobody looks.
        let old = self
            .hot
            .state
            .fetch_add(State::QUEUED_ONE, Ordering::AcqRel);
        if State::closing(old) {
            self.hot
                .state
                .fetch_sub(State::QUEUED_ONE, Ordering::AcqRel);
            node.header_mut().state = None;
            return Err(SubmitError::ShutDown {
                task: Task { node },
            });
        }
        let total_ok = State::queued(old) < self.config.total_capacity as u64;
        // SeqCst: the reserve's handshake (see `wait_in_reserve`); on x86 the same instruction.
        if total_ok
            && self.hot.class_queued[i].fetch_add(1, Ordering::SeqCst)
                < self.config.class_capacity[i]
        {
            self.counters.submitted[i].fetch_add(1, Ordering::Relaxed);
            let label = node.header().label;
            self.push_injected(node);
            if !class.is_background() {
                self.wake_reserve();
            }
            if State::sleeping(old) > 0
                && (State::searching(old) == 0
                    || (State::queued(old) > 0 && self.searchers_stalled(enqueued)))
            {
                self.wake_one();
            }
            return Ok(handle(state, label));
        }
        if total_ok {
            self.hot.class_queued[i].fetch_sub(1, Ordering::AcqRel);
        }
        self.hot
            .state
            .fetch_sub(State::QUEUED_ONE, Ordering::AcqRel);
        self.submit_overloaded(node, state, handle)
    }

    /// The overload path, under the queue lock: the shedding rules of [`RunQueue::admit`].
    fn submit_overloaded(
        &self,
        mut node: TaskNode,
        state: Option<Arc<TaskState>>,
        handle: impl FnOnce(Option<Arc<TaskState>>, super::TaskLabel) -> Option<TaskHandle>,
    ) -> Result<Option<TaskHandle>, SubmitError> {
        let class = node.header().class;
        let label = node.header().label;
        let mut q = self.queue.lock();
        if q.shutdown.is_some() {
            drop(q);
            node.header_mut().state = None;
            return Err(SubmitError::ShutDown {
                task: Task { node },
            });
        }
        self.move_injected(&mut q.run);
        self.counters.submitted[class.index()].fetch_add(1, Ordering::Relaxed);
        let admission = q.run.admit(QueuedTask::new(node), &self.slots());
        match &admission {
            Admission::Queued { evicted } => {
                if let Some(evicted) = evicted {
                    bump(&self.counters.shed[evicted.class.index()], 1);
                }
            }
            Admission::Shed(_) => bump(&self.counters.shed[class.index()], 1),
            Admission::Full(_) => bump(&self.counters.rejected[class.index()], 1),
        }
        drop(q);
        match admission {
            Admission::Queued { evicted } => {
                // Any State read after the reservation will do (see the module documentation).
                self.wake_if_unwatched(self.hot.state.load(Ordering::Acquire));
                if !class.is_background() {
                    self.wake_reserve();
                }
                if let Some(evicted) = evicted {
                    self.discard(evicted, TaskStatus::Shed);
                }
                Ok(handle(state, label))
            }
            Admission::Shed(task) => {
                self.discard(task, TaskStatus::Shed);
                Err(SubmitError::Shed { class, label })
            }
            Admission::Full(task) => {
                let mut node = task.node;
                node.header_mut().state = None;
                Err(SubmitError::Full {
                    capacity: self.config.class_capacity[class.index()],
                    total_capacity: self.config.total_capacity,
                    task: Task { node },
                })
            }
        }
    }

    /// Pushes a node whose place is reserved onto the injection stack.
    fn push_injected(&self, node: TaskNode) {
        let raw = node.into_raw();
        let mut head = self.hot.inject.load(Ordering::Relaxed);
        loop {
            // SAFETY: `raw` is the node just given up by `into_raw`; no other thread sees it
            // before the exchange below publishes it.
            unsafe { (*raw).next = head };
            // Only whole-stack takes remove nodes, so a stale `head` that compares equal is
            // still the current top: no ABA problem.
            match self.hot.inject.compare_exchange_weak(
                head,
                raw,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(current) => head = current,
            }
        }
    }

    /// Takes the whole injection stack (with the queue lock held) and moves it into the heaps
    /// in submission order.
    fn move_injected(&self, run: &mut RunQueue) {
        let mut newest_first = self.hot.inject.swap(ptr::null_mut(), Ordering::Acquire);
        let mut oldest_first: *mut Header = ptr::null_mut();
        while !newest_first.is_null() {
            // SAFETY: the swap made this thread the only owner of the list; the acquire swap
            // synchronises with every push in it (each push's exchange continues the release
            // sequence), so the links are visible.
            let next = unsafe { (*newest_first).next };
            unsafe { (*newest_first).next = oldest_first };
            oldest_first = newest_first;
            newest_first = next;
        }
        while !oldest_first.is_null() {
            // SAFETY: every node in the list came from `TaskNode::into_raw` and is owned here.
            let mut node = unsafe { TaskNode::from_raw(oldest_first) };
            oldest_first = node.header().next;
            node.header_mut().next = ptr::null_mut();
            run.push(QueuedTask::new(node));
        }
    }

    /// Gives back the places of `n` tasks of `class` that left the queue without an eviction.
    fn release(&self, class: TaskClass, n: usize) -> u64 {
        self.hot.class_queued[class.index()].fetch_sub(n, Ordering::AcqRel);
        self.hot
            .state
            .fetch_sub(n as u64 * State::QUEUED_ONE, Ordering::AcqRel)
    }

    /// Wakes a parked worker if work is queued, nobody searches and somebody is parked; the
    /// woken worker is counted as searching at once.
    fn wake_if_unwatched(&self, s: u64) {
        self.wake_parked(s, |s| State::searching(s) == 0);
    }

    /// Waits, as part of the urgent reserve, until a Critical or High task is queued, a
    /// background slot is free, the queue is empty (a cancellation, or the end of a drain), or
    /// [`RESERVE_RECHECK`] has passed: polling for up to `spin_before_park` first, then asleep.
    ///
    /// No wake-up is lost: the worker announces itself in `reserved` and then checks the
    /// condition, a producer reserves its place in `class_queued` and then reads `reserved`,
    /// and a finishing background task lowers `background_running` and then reads `reserved`,
    /// all sequentially consistent. Either the worker's check sees the change, or the other
    /// side sees the worker and notifies under `reserve_lock`, which the worker holds from its
    /// check until it sleeps.
    fn wait_in_reserve(&self, log: &mut SampleLog, me: &WorkerCounters) {
        // Poll first, as an idle worker does: urgent work that comes soon is taken without a
        // wake-up (which costs the producer a system call and the task tens of microseconds).
        if self.poll(log, me, Self::reserve_released) {
            return;
        }
        self.reserved.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.reserve_lock.lock();
        if !self.reserve_released() {
            self.reserve_wake.wait_for(&mut guard, RESERVE_RECHECK);
        }
        drop(guard);
        self.reserved.fetch_sub(1, Ordering::SeqCst);
    }

    fn reserve_released(&self) -> bool {
        let queued = |class: TaskClass| self.hot.class_queued[class.index()].load(Ordering::SeqCst);
        queued(TaskClass::Critical) + queued(TaskClass::High) > 0
            || self.background_running.load(Ordering::SeqCst) < self.background_limit
            || State::queued(self.hot.state.load(Ordering::SeqCst)) == 0
    }

    /// Wakes the workers held in reserve, if any.
    fn wake_reserve(&self) {
        if self.reserved.load(Ordering::SeqCst) > 0 {
            let _guard = self.reserve_lock.lock();
            self.reserve_wake.notify_all();
        }
    }

    /// A Normal or Low task ended: its background slot is free.
    fn background_done(&self) {
        self.background_running.fetch_sub(1, Ordering::SeqCst);
        self.wake_reserve();
    }

    fn since_start_ns(&self, at: Instant) -> u64 {
        duration_ns(at.saturating_duration_since(self.started))
    }

    fn note_progress(&self, at: Instant) {
        self.progress_ns
            .store(self.since_start_ns(at), Ordering::Relaxed);
    }

    /// True if no searching worker has shown progress for [`STALL`] before `now`.
    fn searchers_stalled(&self, now: Instant) -> bool {
        let last = self.progress_ns.load(Ordering::Relaxed);
        self.since_start_ns(now).saturating_sub(last) > duration_ns(STALL)
    }

    /// Wakes a parked worker if one is parked and work is queued (rule 1, or the stall rule,
    /// decided by the caller).
    fn wake_one(&self) {
        self.wake_parked(self.hot.state.load(Ordering::Acquire), |_| true);
    }

    /// Moves one parked worker to searching and posts it, starting from the state word `s`,
    /// while work is queued, a worker is parked and `also` holds for the current state.
    fn wake_parked(&self, mut s: u64, also: impl Fn(u64) -> bool) {
        loop {
            if State::queued(s) == 0 || State::sleeping(s) == 0 || !also(s) {
                return;
            }
            let woken = s - State::SLEEPING_ONE + State::SEARCHING_ONE;
            match self.hot.state.compare_exchange_weak(
                s,
                woken,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(current) => s = current,
            }
        }
        self.parking.post();
    }

    /// Settles a task that leaves the queue without running; its closure is dropped here,
    /// outside the queue lock.
    fn discard(&self, task: QueuedTask, status: TaskStatus) {
        if status == TaskStatus::Shed {
            self.shed_ledger.add(task.class, task.label());
        }
        if let Some(state) = &task.node.header().state {
            state.finish(status);
        }
    }

    /// Cancels `removed` (taken out of the queue under the lock): counts and places.
    fn count_cancelled(&self, removed: &[QueuedTask]) {
        for task in removed {
            bump(&self.counters.cancelled[task.class.index()], 1);
            self.release(task.class, 1);
        }
    }

    /// Cancels every queued task matching `matches`; returns how many.
    pub(crate) fn cancel_where(&self, matches: impl FnMut(&QueuedTask) -> bool) -> usize {
        let removed = {
            let mut q = self.queue.lock();
            self.move_injected(&mut q.run);
            let removed = q.run.remove_where(matches);
            self.count_cancelled(&removed);
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
            self.move_injected(&mut q.run);
            let removed = q.run.remove(handle.class, handle.id);
            if let Some(task) = &removed {
                self.count_cancelled(std::slice::from_ref(task));
            }
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

    /// Stops admission; with [`ShutdownMode::CancelPending`] also cancels everything queued.
    /// Workers finish what is left (if anything) and exit.
    pub(crate) fn begin_shutdown(&self, mode: ShutdownMode) {
        let cancelled = {
            let mut q = self.queue.lock();
            if q.shutdown != Some(ShutdownMode::CancelPending) {
                q.shutdown = Some(mode);
            }
            // Set under the lock, so the overload path (which checks `shutdown` under it) and
            // the fast path (which sees the bit in its reservation) agree.
            self.hot.state.fetch_or(State::CLOSING, Ordering::AcqRel);
            self.move_injected(&mut q.run);
            let cancelled = match q.shutdown {
                Some(ShutdownMode::CancelPending) => q.run.drain(),
                _ => Vec::new(),
            };
            self.count_cancelled(&cancelled);
            cancelled
        };
        for task in cancelled {
            self.discard(task, TaskStatus::Cancelled);
        }
        self.parking.close();
        self.wake_reserve();
    }

    pub(crate) fn stats(&self) -> SchedulerStats {
        StatsSources {
            started: self.started,
            workers: self.config.workers,
            class_capacity: self.config.class_capacity,
            queue: &self.counters,
            depth: &self.hot.class_queued,
            per_worker: &self.per_worker,
            shed_ledger: &self.shed_ledger,
            published: &self.published,
            rate: &self.rate,
        }
        .read()
    }

    fn is_idle(&self) -> bool {
        State::queued(self.hot.state.load(Ordering::Acquire)) == 0
            && self
                .per_worker
                .iter()
                .all(|w| !w.busy.load(Ordering::Acquire) && !w.dirty.load(Ordering::Acquire))
    }

    /// Waits until nothing is queued or running and every sample is published.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        self.idle_waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.idle_lock.lock();
        let idle = loop {
            if self.is_idle() {
                break true;
            }
            let now = Instant::now();
            let poll = match deadline {
                Some(deadline) if now >= deadline => break false,
                Some(deadline) => (deadline - now).min(IDLE_POLL),
                None => IDLE_POLL,
            };
            self.idle.wait_for(&mut guard, poll);
        };
        drop(guard);
        self.idle_waiters.fetch_sub(1, Ordering::SeqCst);
        idle
    }

    /// Tells `wait_idle` callers to look again.
    fn notify_idle_waiters(&self) {
        if self.idle_waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.idle_lock.lock();
            self.idle.notify_all();
        }
    }

    /// Takes the next task, moving injected tasks into the heaps first. The caller is counted
    /// as searching; with a task it stops being so, until the task's closure returns.
    fn dispatch(&self, me: &WorkerCounters) -> Dispatch {
        let mut q = self.queue.lock();
        self.move_injected(&mut q.run);
        if q.shutdown == Some(ShutdownMode::CancelPending) {
            let cancelled = q.run.drain();
            self.count_cancelled(&cancelled);
            drop(q);
            for task in cancelled {
                self.discard(task, TaskStatus::Cancelled);
            }
            return Dispatch::Nothing;
        }
        // The clock is read after the task was taken off the injection stack, so `start` is
        // never before its enqueue time.
        let start = Instant::now();
        self.note_progress(start);
        let background = self.background_running.load(Ordering::SeqCst) < self.background_limit;
        let Some(task) = q.run.pop(start, background) else {
            if !background && q.run.has_background() {
                return Dispatch::Reserved;
            }
            return Dispatch::Nothing;
        };
        if task.class.is_background() {
            self.background_running.fetch_add(1, Ordering::SeqCst);
        }
        // Before the queued count drops, so `wait_idle` never sees the task nowhere.
        me.busy.store(true, Ordering::Release);
        self.hot.class_queued[task.class.index()].fetch_sub(1, Ordering::AcqRel);
        let delta = State::QUEUED_ONE + State::SEARCHING_ONE;
        let now = self.hot.state.fetch_sub(delta, Ordering::AcqRel) - delta;
        drop(q);
        // More work and nobody else looking: fan out.
        self.wake_if_unwatched(now);
        Dispatch::Run(task, start)
    }

    /// Polls for queued work (or the shutdown) for up to `spin_before_park` if fewer than
    /// `max_spinners` workers do; true if it showed up. Others return false at once (and park).
    fn search(&self, log: &mut SampleLog, me: &WorkerCounters) -> bool {
        self.poll(log, me, |shared| {
            let s = shared.hot.state.load(Ordering::Acquire);
            State::queued(s) > 0 || State::closing(s)
        })
    }

    /// Busy-waits until `ready` holds, under the rules of [`Shared::search`]; false if it
    /// gave up (or may not poll) first.
    fn poll(
        &self,
        log: &mut SampleLog,
        me: &WorkerCounters,
        ready: impl Fn(&Self) -> bool,
    ) -> bool {
        let window = self.config.spin_before_park;
        if window.is_zero() {
            return false;
        }
        if self.spinners.fetch_add(1, Ordering::AcqRel) >= self.max_spinners {
            self.spinners.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        let started = Instant::now();
        let mut last_yield = started;
        let found = 'search: loop {
            for _ in 0..BUSY_POLLS_PER_CLOCK_READ {
                if ready(self) {
                    break 'search true;
                }
                hint::spin_loop();
            }
            let now = Instant::now();
            self.note_progress(now);
            if now.saturating_duration_since(started) >= window {
                break false;
            }
            if now.saturating_duration_since(last_yield) >= BUSY_YIELD_EVERY {
                thread::yield_now();
                last_yield = Instant::now();
                if last_yield.saturating_duration_since(now) >= SHARED_CORE_YIELD {
                    break false;
                }
            }
            if log.is_dirty() && self.idle_waiters.load(Ordering::Relaxed) > 0 {
                self.publish_aside(log, me, now);
                self.notify_idle_waiters();
            }
        };
        self.spinners.fetch_sub(1, Ordering::AcqRel);
        found
    }

    /// Moves a searching worker to parked if nothing is queued and no shutdown is under way.
    fn try_park(&self) -> bool {
        let mut s = self.hot.state.load(Ordering::Acquire);
        loop {
            if State::queued(s) > 0 || State::closing(s) {
                return false;
            }
            let parked = s - State::SEARCHING_ONE + State::SLEEPING_ONE;
            match self.hot.state.compare_exchange_weak(
                s,
                parked,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(current) => s = current,
            }
        }
    }

    /// Runs one task and records it; returns when it ended.
    fn execute(
        &self,
        task: QueuedTask,
        start: Instant,
        me: &WorkerCounters,
        log: &mut SampleLog,
    ) -> Instant {
        let QueuedTask {
            class,
            deadline,
            mut node,
            ..
        } = task;
        let state = node.header_mut().state.take();
        let enqueued = node.header().enqueued.unwrap_or(start);
        if let Some(state) = &state {
            state.set_running();
        }
        let outcome = panic::catch_unwind(AssertUnwindSafe(move || node.run()));
        // Out of user code: searching again (the bookkeeping below is short and bounded), so
        // producers need not wake anyone for the next task.
        self.hot
            .state
            .fetch_add(State::SEARCHING_ONE, Ordering::AcqRel);
        let end = Instant::now();
        let i = class.index();
        let status = match outcome {
            Ok(()) => {
                bump(&me.completed[i], 1);
                TaskStatus::Completed
            }
            Err(_payload) => {
                bump(&me.panicked[i], 1);
                TaskStatus::Panicked
            }
        };
        if deadline.is_some_and(|d| end > d) {
            bump(&me.deadline_misses[i], 1);
        }
        if !log.is_dirty() {
            // Before `busy` drops, so `wait_idle` never sees neither busy nor dirty.
            me.dirty.store(true, Ordering::Release);
        }
        log.push(Sample {
            class,
            wait_ns: duration_ns(start.saturating_duration_since(enqueued)),
            run_ns: duration_ns(end.saturating_duration_since(start)),
        });
        me.busy.store(false, Ordering::Release);
        if let Some(state) = state {
            state.finish(status);
        }
        end
    }

    fn publish(&self, log: &mut SampleLog, me: &WorkerCounters, now: Instant) {
        let was_dirty = log.is_dirty();
        log.publish(&self.publisher, &self.published, now);
        if was_dirty {
            me.dirty.store(false, Ordering::Release);
        }
    }

    /// [`Shared::publish`] by a searching worker. A publish takes tens of microseconds when it
    /// has to copy the histograms (a reader holds the current ones), so the worker stops
    /// counting as searching meanwhile, like when it runs a task: producers and the fan-out
    /// rule then wake a parked worker for work that comes in.
    fn publish_aside(&self, log: &mut SampleLog, me: &WorkerCounters, now: Instant) {
        if !log.is_dirty() {
            log.publish(&self.publisher, &self.published, now);
            return;
        }
        let left = self
            .hot
            .state
            .fetch_sub(State::SEARCHING_ONE, Ordering::AcqRel)
            - State::SEARCHING_ONE;
        self.wake_if_unwatched(left);
        self.publish(log, me, now);
        self.hot
            .state
            .fetch_add(State::SEARCHING_ONE, Ordering::AcqRel);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The workers have exited, and they exit only with nothing queued, so this finds
        // nothing unless a worker died; whatever is left is cancelled, so no handle waits forever.
        let run = &mut self.queue.get_mut().run;
        let mut head = self.hot.inject.swap(ptr::null_mut(), Ordering::Acquire);
        while !head.is_null() {
            // SAFETY: as in `move_injected`; nothing else can reach the stack during `drop`.
            let node = unsafe { TaskNode::from_raw(head) };
            head = node.header().next;
            run.push(QueuedTask::new(node));
        }
        for task in run.drain() {
            if let Some(state) = &task.node.header().state {
                state.finish(TaskStatus::Cancelled);
            }
        }
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Body of worker thread `index`.
pub(crate) fn run_worker(shared: Arc<Shared>, index: usize) {
    let interval = shared.config.stats_publish_interval;
    let me = &shared.per_worker[index];
    let mut log = SampleLog::new(Instant::now());
    // Searching (see the module documentation) except inside `execute`'s closure and parked.
    shared
        .hot
        .state
        .fetch_add(State::SEARCHING_ONE, Ordering::AcqRel);
    loop {
        let s = shared.hot.state.load(Ordering::Acquire);
        if State::queued(s) > 0 {
            match shared.dispatch(me) {
                Dispatch::Run(task, start) => {
                    let background = task.class.is_background();
                    let end = shared.execute(task, start, me, &mut log);
                    if background {
                        shared.background_done();
                    }
                    if log.publish_due(end, interval) {
                        shared.publish_aside(&mut log, me, end);
                    }
                }
                // A producer is between its reservation and its push (or was preempted there):
                // give it the core rather than hammer the lock. Rare, so the yield's cost under
                // EEVDF (see the module documentation) does not add up.
                Dispatch::Nothing => thread::yield_now(),
                Dispatch::Reserved => shared.wait_in_reserve(&mut log, me),
            }
            continue;
        }
        if State::closing(s) {
            break;
        }
        // Idle from here on.
        let now = Instant::now();
        if log.publish_due(now, interval)
            || (log.is_dirty() && shared.idle_waiters.load(Ordering::Relaxed) > 0)
        {
            shared.publish_aside(&mut log, me, now);
        }
        shared.notify_idle_waiters();
        if shared.search(&mut log, me) {
            continue;
        }
        // Publish before parking, so an idle scheduler's histograms are complete.
        shared.publish_aside(&mut log, me, Instant::now());
        if !shared.try_park() {
            continue;
        }
        shared.notify_idle_waiters();
        if let Woken::Closed = shared.parking.wait() {
            // Still counted as parked: count as searching again, to leave as every worker does.
            shared
                .hot
                .state
                .fetch_sub(State::SLEEPING_ONE, Ordering::AcqRel);
            shared
                .hot
                .state
                .fetch_add(State::SEARCHING_ONE, Ordering::AcqRel);
        }
    }
    shared
        .hot
        .state
        .fetch_sub(State::SEARCHING_ONE, Ordering::AcqRel);
    shared.publish(&mut log, me, Instant::now());
    shared.notify_idle_waiters();
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
        assert!(eventually(|| {
            let state = shared.hot.state.load(Ordering::SeqCst);
            State::sleeping(state) == 2 && State::searching(state) == 0
        }));
        assert_eq!(shared.spinners.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_burst_wakes_every_parked_worker() {
        let s = scheduler(2);
        let shared = &s.shared;
        assert!(eventually(|| State::sleeping(
            shared.hot.state.load(Ordering::SeqCst)
        ) == 2));
        // Two tasks that can only finish if they run at the same time.
        let started = Arc::new(AtomicUsize::new(0));
        let met = Arc::new(AtomicBool::new(true));
        let handles: Vec<TaskHandle> = (0..2)
            .map(|_| {
                let started = Arc::clone(&started);
                let met = Arc::clone(&met);
                // High: Normal work would leave one worker in the urgent reserve.
                let task = Task::new(TaskClass::High, TaskLabel::new("test", 0), move || {
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
        let shared = &s.shared;
        assert_eq!(State::queued(shared.hot.state.load(Ordering::SeqCst)), 4);
        for class in TaskClass::ALL {
            assert_eq!(
                shared.hot.class_queued[class.index()].load(Ordering::SeqCst),
                1
            );
        }
        assert!(shared.per_worker[0].busy.load(Ordering::SeqCst));
        let _ = tx.send(());
        assert!(s.wait_idle(PATIENCE));
        assert_eq!(State::queued(shared.hot.state.load(Ordering::SeqCst)), 0);
        assert!(!shared.per_worker[0].busy.load(Ordering::SeqCst));
        assert!(!shared.per_worker[0].dirty.load(Ordering::SeqCst));
    }
}
