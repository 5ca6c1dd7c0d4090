//! A unit of engine work — a closure with a priority class, an optional deadline and a label —
//! and the handle through which its submitter follows it.

use std::alloc::{self, Layout};
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::slots;
use crate::model::ChannelId;

/// Priority class of a task. Classes are strict priorities (Critical first), except for the
/// aging rule of [`SchedulerConfig::aging_after`](super::SchedulerConfig::aging_after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskClass {
    /// LTL monitor steps: never shed; when its queue is full, `submit` hands the task back.
    Critical = 0,
    /// Pattern search.
    High = 1,
    /// Attractor analysis on a sliding window.
    Normal = 2,
    /// Motif discovery, self-tuning: the first work shed under overload.
    Low = 3,
}

impl TaskClass {
    /// Number of classes.
    pub const COUNT: usize = 4;
    /// Every class, most urgent first.
    pub const ALL: [TaskClass; TaskClass::COUNT] = [
        TaskClass::Critical,
        TaskClass::High,
        TaskClass::Normal,
        TaskClass::Low,
    ];

    /// Position in [`TaskClass::ALL`] (0 = Critical … 3 = Low), for per-class arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Normal and Low: the long analyses that the urgent reserve keeps off some workers (see
    /// [`SchedulerConfig::urgent_reserve`](super::SchedulerConfig::urgent_reserve)).
    pub const fn is_background(self) -> bool {
        matches!(self, TaskClass::Normal | TaskClass::Low)
    }

    /// Lower-case name for display and JSON ("critical", "high", "normal", "low").
    pub const fn name(self) -> &'static str {
        match self {
            TaskClass::Critical => "critical",
            TaskClass::High => "high",
            TaskClass::Normal => "normal",
            TaskClass::Low => "low",
        }
    }
}

impl fmt::Display for TaskClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which engine a task belongs to and which channel it works on. Shed counts are kept per
/// label, and cancellation selects tasks by label or channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskLabel {
    /// Engine name, e.g. `"ltl"`, `"temporal"`, `"attractor"`, `"meta"`.
    pub engine: &'static str,
    /// Channel the work is about.
    pub channel: ChannelId,
}

impl TaskLabel {
    pub const fn new(engine: &'static str, channel: ChannelId) -> Self {
        TaskLabel { engine, channel }
    }
}

impl fmt::Display for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on channel {}", self.engine, self.channel)
    }
}

/// The closure type a task runs, for callers that hold boxed work; [`Task::new`] accepts any
/// `FnOnce() + Send + 'static`, a `TaskFn` included.
pub type TaskFn = Box<dyn FnOnce() + Send + 'static>;

/// What the scheduler keeps about a task, at the start of the task's single allocation (see
/// [`TaskNode`]).
pub(crate) struct Header {
    /// Link of the executor's injection stack; null outside it.
    pub(crate) next: *mut Header,
    pub(crate) class: TaskClass,
    pub(crate) label: TaskLabel,
    pub(crate) deadline: Option<Instant>,
    /// Set by `submit`: submission sequence number, enqueue time, and the handle's shared
    /// status (absent for detached tasks).
    pub(crate) seq: u64,
    pub(crate) enqueued: Option<Instant>,
    pub(crate) state: Option<Arc<TaskState>>,
    /// Type-erased operations on the whole node (`Node<F>` for the closure's type `F`).
    ops: &'static NodeOps,
}

struct NodeOps {
    /// Frees the node and then calls its closure.
    run: unsafe fn(NonNull<Header>),
    /// Frees the node and drops its closure uncalled.
    drop: unsafe fn(NonNull<Header>),
}

/// The single allocation of a task: its [`Header`], then its closure. `repr(C)` puts the header
/// at offset 0, so a pointer to the node is a pointer to its header.
#[repr(C)]
struct Node<F> {
    header: Header,
    work: F,
}

impl<F: FnOnce() + Send + 'static> Node<F> {
    const OPS: NodeOps = NodeOps {
        run: Self::run,
        drop: Self::drop,
    };

    /// Whether nodes of this closure type live in the scheduler's recycled slots (see
    /// [`slots`]) rather than in their own system allocation.
    const IN_SLOT: bool = slots::fits(Layout::new::<Node<F>>());

    fn allocate(node: Node<F>) -> NonNull<Header> {
        let raw = if Self::IN_SLOT {
            slots::allocate().cast::<Node<F>>()
        } else {
            // Not `Box`: `free` must know which allocator to give the memory back to, and the
            // layout says it without a flag in the header.
            let layout = Layout::new::<Node<F>>();
            // SAFETY: a node is never zero-sized (it holds a header).
            let raw = unsafe { alloc::alloc(layout) }.cast::<Node<F>>();
            NonNull::new(raw).unwrap_or_else(|| alloc::handle_alloc_error(layout))
        };
        // SAFETY: `raw` is fresh memory with the size and alignment of a `Node<F>`.
        unsafe { raw.write(node) };
        // `repr(C)` puts the header at offset 0.
        raw.cast::<Header>()
    }

    /// Gives the node's memory back, its contents already moved out or dropped.
    ///
    /// # Safety
    /// `node` came from [`Node::allocate`] and holds no live value.
    unsafe fn free(node: NonNull<Node<F>>) {
        if Self::IN_SLOT {
            // SAFETY: by the caller's contract, a slot with nothing left in it.
            unsafe { slots::release(node.cast()) }
        } else {
            // SAFETY: allocated in `allocate` with this very layout.
            unsafe { alloc::dealloc(node.as_ptr().cast(), Layout::new::<Node<F>>()) }
        }
    }

    /// # Safety
    /// `header` came from [`Node::allocate`] for this `F` and is not used afterwards.
    unsafe fn run(header: NonNull<Header>) {
        let node = header.cast::<Node<F>>();
        // SAFETY: by the caller's contract the pointer owns a live `Node<F>`; reading moves the
        // value out, and the memory is freed before the closure runs, so that a panic in it
        // unwinds through its own captures only.
        let Node { header, work } = unsafe {
            let value = node.read();
            Self::free(node);
            value
        };
        drop(header);
        work();
    }

    /// # Safety
    /// As for [`Node::run`].
    unsafe fn drop(header: NonNull<Header>) {
        let node = header.cast::<Node<F>>();
        // SAFETY: as in `run`; the value is dropped in place, then its memory is freed.
        unsafe {
            ptr::drop_in_place(node.as_ptr());
            Self::free(node);
        }
    }
}

/// An owned task node: a task's header and closure in one heap allocation, so that submitting
/// a task allocates once (twice with a handle) and the executor can link it into its lock-free
/// injection stack without another allocation.
pub(crate) struct TaskNode(NonNull<Header>);

// SAFETY: a `TaskNode` owns its node like a `Box` does. The closure is `Send` (checked in
// `TaskNode::new`) and the header's fields are `Send`; the `next` pointer is only used by the
// executor while it owns the node.
unsafe impl Send for TaskNode {}
// SAFETY: `Sync` only lets `&TaskNode` be shared between threads. Through a shared reference a
// `TaskNode` gives access to header fields that are `Copy` or `Sync` (class, label, deadline,
// sequence number, the `Arc<TaskState>`), never to the closure, which only the consuming
// `run` and `drop` touch. This is the argument of the `sync_wrapper` crate.
unsafe impl Sync for TaskNode {}

impl TaskNode {
    fn new<F: FnOnce() + Send + 'static>(class: TaskClass, label: TaskLabel, work: F) -> Self {
        TaskNode(Node::allocate(Node {
            header: Header {
                next: std::ptr::null_mut(),
                class,
                label,
                deadline: None,
                seq: 0,
                enqueued: None,
                state: None,
                ops: &Node::<F>::OPS,
            },
            work,
        }))
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the node is alive while `self` owns it.
        unsafe { self.0.as_ref() }
    }

    pub(crate) fn header_mut(&mut self) -> &mut Header {
        // SAFETY: as in `header`, and `&mut self` makes the access exclusive.
        unsafe { self.0.as_mut() }
    }

    /// Gives up ownership, for linking into the injection stack.
    pub(crate) fn into_raw(self) -> *mut Header {
        let raw = self.0.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// # Safety
    /// `raw` came from [`TaskNode::into_raw`] and is owned by nobody else.
    pub(crate) unsafe fn from_raw(raw: *mut Header) -> TaskNode {
        // SAFETY: by the caller's contract `raw` is a live node pointer, so not null.
        TaskNode(unsafe { NonNull::new_unchecked(raw) })
    }

    /// Frees the node and calls the closure.
    pub(crate) fn run(self) {
        let header = self.0;
        let run = self.header().ops.run;
        std::mem::forget(self);
        // SAFETY: `self` owned the node and was forgotten, so the node is used once, here.
        unsafe { run(header) }
    }
}

impl Drop for TaskNode {
    fn drop(&mut self) {
        let drop_node = self.header().ops.drop;
        // SAFETY: the node is owned by `self`, which is being dropped.
        unsafe { drop_node(self.0) }
    }
}

/// A closure to run on a worker, with its class, optional deadline and label.
///
/// Within a class, tasks run earliest deadline first; tasks without a deadline come after all
/// tasks with one, in submission order.
pub struct Task {
    pub(crate) node: TaskNode,
}

impl Task {
    /// A task without a deadline. The closure and the scheduler's bookkeeping share one heap
    /// allocation.
    pub fn new(class: TaskClass, label: TaskLabel, work: impl FnOnce() + Send + 'static) -> Self {
        Task {
            node: TaskNode::new(class, label, work),
        }
    }

    /// Sets the instant by which the task should have finished. A task that finishes later is
    /// counted as a deadline miss; it still runs (dropping late work is the submitter's call).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.node.header_mut().deadline = Some(deadline);
        self
    }

    /// Sets the deadline `budget` from now. A budget too large to represent means no deadline.
    pub fn with_deadline_in(mut self, budget: Duration) -> Self {
        self.node.header_mut().deadline = Instant::now().checked_add(budget);
        self
    }

    pub fn class(&self) -> TaskClass {
        self.node.header().class
    }

    pub fn label(&self) -> TaskLabel {
        self.node.header().label
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.node.header().deadline
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("class", &self.class())
            .field("label", &self.label())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

/// Where a submitted task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Waiting in its class queue.
    Queued,
    /// A worker is running it.
    Running,
    /// It ran to the end.
    Completed,
    /// It ran and panicked; the worker caught the panic and carried on.
    Panicked,
    /// Removed from the queue before it started (cancellation or `shutdown_now`).
    Cancelled,
    /// Dropped from the queue under overload to make room for more urgent work.
    Shed,
}

impl TaskStatus {
    /// True once the status can no longer change.
    pub fn is_terminal(self) -> bool {
        !matches!(self, TaskStatus::Queued | TaskStatus::Running)
    }

    fn to_bits(self) -> u8 {
        match self {
            TaskStatus::Queued => 0,
            TaskStatus::Running => 1,
            TaskStatus::Completed => 2,
            TaskStatus::Panicked => 3,
            TaskStatus::Cancelled => 4,
            TaskStatus::Shed => 5,
        }
    }

    fn from_bits(bits: u8) -> TaskStatus {
        match bits & STATUS_MASK {
            0 => TaskStatus::Queued,
            1 => TaskStatus::Running,
            2 => TaskStatus::Completed,
            3 => TaskStatus::Panicked,
            4 => TaskStatus::Cancelled,
            _ => TaskStatus::Shed,
        }
    }
}

/// Low bits of [`TaskState::bits`]: the [`TaskStatus`].
const STATUS_MASK: u8 = 0b0111;
/// Set while at least one thread waits in [`TaskHandle::wait`]; the thread that moves the task
/// to a terminal status then wakes the waiters.
const WAITER_BIT: u8 = 0b1000;

/// Status shared between a queued task and its handle.
#[derive(Debug)]
pub(crate) struct TaskState {
    bits: AtomicU8,
    waiters: Mutex<Vec<Thread>>,
}

impl TaskState {
    pub(crate) fn new() -> Self {
        TaskState {
            bits: AtomicU8::new(TaskStatus::Queued.to_bits()),
            waiters: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn status(&self) -> TaskStatus {
        TaskStatus::from_bits(self.bits.load(Ordering::Acquire))
    }

    /// Queued → Running, keeping the waiter bit.
    pub(crate) fn set_running(&self) {
        let running = TaskStatus::Running.to_bits();
        // Only the worker that popped the task writes a non-terminal status, and waiters only
        // add WAITER_BIT, so this loop retries at most once per concurrent waiter.
        let _ = self
            .bits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                Some((bits & WAITER_BIT) | running)
            });
    }

    /// Moves to a terminal status and wakes every waiter.
    pub(crate) fn finish(&self, status: TaskStatus) {
        debug_assert!(status.is_terminal());
        let previous = self.bits.swap(status.to_bits(), Ordering::AcqRel);
        if previous & WAITER_BIT != 0 {
            let waiters = std::mem::take(&mut *self.waiters.lock());
            for waiter in waiters {
                waiter.unpark();
            }
        }
    }

    /// Blocks until the status is terminal or `deadline` passes.
    fn wait_until(&self, deadline: Option<Instant>) -> Option<TaskStatus> {
        let status = self.status();
        if status.is_terminal() {
            return Some(status);
        }
        {
            let mut waiters = self.waiters.lock();
            waiters.push(thread::current());
            // Publishing the bit under the lock orders it against `finish`: either `finish`
            // swapped first (and we see a terminal status below), or it sees the bit and takes
            // this lock to wake us after we have registered.
            self.bits.fetch_or(WAITER_BIT, Ordering::AcqRel);
        }
        loop {
            let status = self.status();
            if status.is_terminal() {
                return Some(status);
            }
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        let me = thread::current().id();
                        self.waiters.lock().retain(|t| t.id() != me);
                        return None;
                    }
                    thread::park_timeout(deadline - now);
                }
            }
        }
    }
}

/// The submitter's view of a task: its identity and status, and a way to wait for it.
/// Dropping the handle does not cancel the task.
#[derive(Debug)]
pub struct TaskHandle {
    pub(crate) id: u64,
    pub(crate) class: TaskClass,
    pub(crate) label: TaskLabel,
    pub(crate) state: Arc<TaskState>,
}

impl TaskHandle {
    /// Submission sequence number, unique within one scheduler.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn class(&self) -> TaskClass {
        self.class
    }

    pub fn label(&self) -> TaskLabel {
        self.label
    }

    pub fn status(&self) -> TaskStatus {
        self.state.status()
    }

    /// True once the task completed, panicked, was cancelled or was shed.
    pub fn is_finished(&self) -> bool {
        self.state.status().is_terminal()
    }

    /// Blocks until the task reaches a terminal status and returns it. Waiting inside a task
    /// for a task that needs the same (or the only free) worker never returns.
    pub fn wait(&self) -> TaskStatus {
        // Without a deadline `wait_until` only returns with a terminal status.
        self.state
            .wait_until(None)
            .unwrap_or_else(|| self.state.status())
    }

    /// Blocks up to `timeout`; `None` if the task is still queued or running by then.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<TaskStatus> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.state.wait_until(Some(deadline)),
            None => Some(self.wait()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_can_cross_threads() {
        assert_send_sync::<Task>();
        assert_send_sync::<TaskHandle>();
        assert_send_sync::<crate::scheduler::SubmitError>();
        assert_send_sync::<crate::scheduler::SchedulerError>();
        assert_send_sync::<crate::scheduler::Scheduler>();
        assert_send_sync::<crate::scheduler::SchedulerStats>();
    }

    #[test]
    fn a_task_node_owns_its_closure_until_run_or_dropped() {
        let captured = Arc::new(());
        let held = Arc::clone(&captured);
        let task = Task::new(TaskClass::Low, TaskLabel::new("test", 3), move || {
            drop(held)
        })
        .with_deadline_in(Duration::from_secs(60));
        assert_eq!(task.class(), TaskClass::Low);
        assert_eq!(task.label(), TaskLabel::new("test", 3));
        assert!(task.deadline().is_some());
        assert_eq!(Arc::strong_count(&captured), 2);
        // Dropped unrun (a cancelled or shed task): the captures go with it.
        drop(task);
        assert_eq!(Arc::strong_count(&captured), 1);

        let ran = Arc::new(AtomicU8::new(0));
        let flag = Arc::clone(&ran);
        Task::new(TaskClass::High, TaskLabel::new("test", 4), move || {
            flag.store(1, Ordering::SeqCst)
        })
        .node
        .run();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&ran), 1, "the closure was consumed");
    }

    #[test]
    fn nodes_in_slots_and_nodes_too_big_or_too_aligned_for_one_all_run_and_drop() {
        #[derive(Clone)]
        #[repr(align(128))]
        struct Aligned(u8);
        fn round_trip<C: Clone + Send + 'static>(capture: C, check: fn(&C) -> bool) {
            let marker = Arc::new(());
            for run in [false, true] {
                let held = Arc::clone(&marker);
                let ok = Arc::new(AtomicU8::new(0));
                let flag = Arc::clone(&ok);
                let capture = capture.clone();
                let task = Task::new(TaskClass::Normal, TaskLabel::new("test", 6), move || {
                    let _held = held;
                    flag.store(u8::from(check(&capture)), Ordering::SeqCst);
                });
                if run {
                    task.node.run();
                    assert_eq!(ok.load(Ordering::SeqCst), 1, "the closure saw its captures");
                } else {
                    drop(task);
                }
                assert_eq!(Arc::strong_count(&marker), 1, "captures released");
            }
        }
        // Checked at compile time: a small closure lives in a slot, one the size of a slot
        // cannot fit next to the header.
        const {
            assert!(Node::<fn()>::IN_SLOT);
            assert!(!slots::fits(Layout::new::<Node<[u8; slots::SLOT_BYTES]>>()));
            assert!(!slots::fits(Layout::new::<Node<Aligned>>()));
        }
        round_trip(7u64, |c| *c == 7);
        round_trip([3u8; slots::SLOT_BYTES], |c| c.iter().all(|&b| b == 3));
        round_trip(Aligned(9), |c| {
            c.0 == 9 && (c as *const Aligned as usize).is_multiple_of(128)
        });
    }

    #[test]
    fn a_panicking_task_node_releases_its_captures() {
        let captured = Arc::new(());
        let held = Arc::clone(&captured);
        let node = Task::new(TaskClass::Normal, TaskLabel::new("test", 5), move || {
            let _held = held;
            panic!("deliberate panic in a task-node test");
        })
        .node;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.run()));
        assert!(outcome.is_err());
        assert_eq!(Arc::strong_count(&captured), 1);
    }

    #[test]
    fn class_indices_follow_priority_order() {
        for (i, class) in TaskClass::ALL.iter().enumerate() {
            assert_eq!(class.index(), i);
        }
        assert!(TaskClass::Critical < TaskClass::Low);
    }

    #[test]
    fn status_bits_round_trip() {
        for status in [
            TaskStatus::Queued,
            TaskStatus::Running,
            TaskStatus::Completed,
            TaskStatus::Panicked,
            TaskStatus::Cancelled,
            TaskStatus::Shed,
        ] {
            assert_eq!(TaskStatus::from_bits(status.to_bits()), status);
            assert_eq!(TaskStatus::from_bits(status.to_bits() | WAITER_BIT), status);
        }
    }

    #[test]
    fn waiter_is_woken_by_finish() {
        let state = Arc::new(TaskState::new());
        let handle = TaskHandle {
            id: 0,
            class: TaskClass::Normal,
            label: TaskLabel::new("test", 0),
            state: Arc::clone(&state),
        };
        let waiter = thread::spawn(move || handle.wait());
        state.set_running();
        state.finish(TaskStatus::Completed);
        assert_eq!(waiter.join().ok(), Some(TaskStatus::Completed));
    }

    #[test]
    fn wait_timeout_returns_none_while_queued() {
        let handle = TaskHandle {
            id: 0,
            class: TaskClass::Low,
            label: TaskLabel::new("test", 0),
            state: Arc::new(TaskState::new()),
        };
        assert_eq!(handle.wait_timeout(Duration::from_millis(5)), None);
        assert!(handle.state.waiters.lock().is_empty());
        handle.state.finish(TaskStatus::Cancelled);
        assert_eq!(
            handle.wait_timeout(Duration::from_millis(5)),
            Some(TaskStatus::Cancelled)
        );
    }
}
