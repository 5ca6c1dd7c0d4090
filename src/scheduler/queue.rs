//! Per-class bounded run queues: earliest deadline first within a class, strict priority
//! between classes with an aging rule, and load shedding under overload.
//!
//! This is plain data with no locking and no clock of its own (the caller passes `now`), so the
//! ordering, shedding and aging rules are tested here deterministically. The executor keeps one
//! `RunQueue` behind its lock.
//!
//! # Admission and shedding
//!
//! Every class has its own capacity, and all classes together share a total capacity (the
//! scheduler is *overloaded* when the total is reached). Places are counted by a `Slots`
//! implementation rather than by the heaps: the executor admits most tasks without its lock
//! (an atomic reservation, then a lock-free injection stack) and only comes here, under the
//! lock, when a reservation fails, so the count also covers tasks not yet moved into a heap.
//! A submitted task of class `C`:
//!
//! 1. If `C`'s own queue is full:
//!    - Low or Normal: the least urgent task among `C`'s queue and the new task is shed (it is
//!      the new task when nothing queued is less urgent, e.g. when no task has a deadline).
//!    - High or Critical: nothing is dropped; the task is handed back to the submitter
//!      (`SubmitError::Full`), which is backpressure.
//! 2. Else if the total capacity is reached: Low work is shed first, then Normal work. The least
//!    urgent Low task makes room (if `C` is Low, that may be the new task itself); when no Low
//!    task is queued, the least urgent Normal task (likewise). High and Critical work is never
//!    shed: a High or Critical task that finds no Low or Normal task to displace is handed back.
//! 3. Otherwise it is queued.
//!
//! "Least urgent" is the task that would run last in its class: the latest deadline, tasks
//! without deadline after all others, and among equals the most recently submitted.
//!
//! # Aging
//!
//! Classes are served in strict priority order, except that a High, Normal or Low class that has
//! had work waiting for `aging_after` without any of its tasks being dispatched (measured from
//! its last dispatch, or from when it last became non-empty) is *starving*: the next dispatch
//! takes that class's most urgent task, ahead of more urgent classes. When several classes
//! starve, the one that has waited longest goes first. Its clock then restarts. So every class
//! with work gets at least one task started per `aging_after`, and Critical work is delayed by
//! at most three promoted tasks per `aging_after`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::task::{TaskClass, TaskLabel, TaskNode};

/// A task inside the run queue: its ordering key inline (so heap operations touch only the
/// heap's own memory) and the node with everything else.
pub(crate) struct QueuedTask {
    pub(crate) deadline: Option<Instant>,
    pub(crate) seq: u64,
    pub(crate) class: TaskClass,
    pub(crate) node: TaskNode,
}

impl QueuedTask {
    /// A submitted node (its sequence number and enqueue time already set).
    pub(crate) fn new(node: TaskNode) -> Self {
        let header = node.header();
        QueuedTask {
            deadline: header.deadline,
            seq: header.seq,
            class: header.class,
            node,
        }
    }

    pub(crate) fn label(&self) -> TaskLabel {
        self.node.header().label
    }

    /// When the task was submitted.
    pub(crate) fn enqueued(&self) -> Option<Instant> {
        self.node.header().enqueued
    }

    /// Ordering key, smallest = most urgent: deadline tasks before the rest, earliest deadline
    /// first, then submission order.
    fn urgency_key(&self) -> (bool, Option<Instant>, u64) {
        (self.deadline.is_none(), self.deadline, self.seq)
    }
}

impl PartialEq for QueuedTask {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for QueuedTask {}

impl PartialOrd for QueuedTask {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for QueuedTask {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the most urgent task.
    fn cmp(&self, other: &Self) -> Ordering {
        other.urgency_key().cmp(&self.urgency_key())
    }
}

/// Outcome of [`Slots::try_reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reserve {
    /// A place in the class and in the total was taken.
    Reserved,
    /// The class is at its capacity; nothing was taken.
    ClassFull,
    /// The class has room but the total is reached; nothing was taken.
    TotalFull,
}

/// The count of places taken, per class and in total, against the capacities.
pub(crate) trait Slots {
    /// Takes a place of `class` (and one of the total) if both have room.
    fn try_reserve(&self, class: TaskClass) -> Reserve;
    /// Moves one place from class `from` to class `to` (the total is unchanged); false if `to`
    /// has no room.
    fn transfer(&self, from: TaskClass, to: TaskClass) -> bool;
}

/// Outcome of [`RunQueue::admit`].
pub(crate) enum Admission {
    /// Queued; `evicted` is a less urgent Low or Normal task shed to make room.
    Queued { evicted: Option<QueuedTask> },
    /// The new Low or Normal task was the least urgent candidate and is shed.
    Shed(QueuedTask),
    /// A Critical or High task with no room and nothing lower to shed: back to the submitter.
    Full(QueuedTask),
}

struct ClassQueue {
    heap: BinaryHeap<QueuedTask>,
    /// Last dispatch from this class, or when it last became non-empty: the aging clock.
    waiting_since: Instant,
}

impl ClassQueue {
    /// The least urgent task (the one that would run last). O(n): only on the shedding
    /// path, which runs when the scheduler is already overloaded.
    fn least_urgent(&self) -> Option<&QueuedTask> {
        self.heap.iter().min()
    }

    fn remove_seq(&mut self, seq: u64) -> Option<QueuedTask> {
        let mut tasks = std::mem::take(&mut self.heap).into_vec();
        let position = tasks.iter().position(|t| t.seq == seq);
        let removed = position.map(|i| tasks.swap_remove(i));
        self.heap = BinaryHeap::from(tasks);
        removed
    }
}

/// The four class queues. Their places are counted by the caller's [`Slots`]: `admit` takes
/// and moves places; tasks leaving by `pop`, `remove`, `remove_where` and `drain` are released
/// by the caller.
pub(crate) struct RunQueue {
    classes: [ClassQueue; TaskClass::COUNT],
    total: usize,
    aging_after: Duration,
}

impl RunQueue {
    pub(crate) fn new(aging_after: Duration, now: Instant) -> Self {
        RunQueue {
            classes: std::array::from_fn(|_| ClassQueue {
                heap: BinaryHeap::with_capacity(INITIAL_HEAP_CAPACITY),
                waiting_since: now,
            }),
            total: 0,
            aging_after,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.total
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.total == 0
    }

    #[cfg(test)]
    pub(crate) fn class_len(&self, class: TaskClass) -> usize {
        self.classes[class.index()].heap.len()
    }

    /// Applies the admission rules of the module documentation, counting places in `slots`.
    pub(crate) fn admit(&mut self, task: QueuedTask, slots: &impl Slots) -> Admission {
        let class = task.class;
        // Only repeats when another thread took the place this one was about to move (the
        // executor's producers reserve without the queue lock).
        'retry: loop {
            match slots.try_reserve(class) {
                Reserve::Reserved => {
                    self.push(task);
                    return Admission::Queued { evicted: None };
                }
                Reserve::ClassFull => {
                    return match class {
                        TaskClass::Critical | TaskClass::High => Admission::Full(task),
                        TaskClass::Normal | TaskClass::Low => {
                            self.replace_least_urgent(class, task)
                        }
                    };
                }
                Reserve::TotalFull => {
                    for victim in [TaskClass::Low, TaskClass::Normal] {
                        if victim == class {
                            return self.replace_least_urgent(class, task);
                        }
                        if !self.classes[victim.index()].heap.is_empty() {
                            if !slots.transfer(victim, class) {
                                continue 'retry;
                            }
                            let evicted = self.remove_least_urgent(victim);
                            self.push(task);
                            return Admission::Queued { evicted };
                        }
                    }
                    return Admission::Full(task);
                }
            }
        }
    }

    /// Sheds the least urgent of `class`'s queue and `task`; queues `task` unless it is that one.
    /// The evicted task's place goes to `task`.
    fn replace_least_urgent(&mut self, class: TaskClass, task: QueuedTask) -> Admission {
        let queue = &self.classes[class.index()];
        let displace = queue
            .least_urgent()
            .is_some_and(|worst| worst.urgency_key() > task.urgency_key());
        if !displace {
            return Admission::Shed(task);
        }
        let evicted = self.remove_least_urgent(class);
        self.push(task);
        Admission::Queued { evicted }
    }

    fn remove_least_urgent(&mut self, class: TaskClass) -> Option<QueuedTask> {
        let queue = &mut self.classes[class.index()];
        let seq = queue.least_urgent()?.seq;
        let removed = queue.remove_seq(seq);
        if removed.is_some() {
            self.total -= 1;
        }
        removed
    }

    /// Adds a task whose place is already counted.
    pub(crate) fn push(&mut self, task: QueuedTask) {
        let queue = &mut self.classes[task.class.index()];
        if queue.heap.is_empty() {
            // The aging clock starts when the class becomes non-empty: when the task was
            // submitted, not when the executor moved it into the heap.
            queue.waiting_since = task.enqueued().unwrap_or(queue.waiting_since);
        }
        queue.heap.push(task);
        self.total += 1;
    }

    /// Takes the next task to run at `now`: the most urgent task of a starving class if there is
    /// one (see the module documentation), else of the most urgent non-empty class. Without
    /// `background`, only Critical and High tasks are considered (the executor's urgent
    /// reserve, see [`TaskClass::is_background`]).
    pub(crate) fn pop(&mut self, now: Instant, background: bool) -> Option<QueuedTask> {
        if self.total == 0 {
            return None;
        }
        let eligible = |class: TaskClass| background || !class.is_background();
        let mut starving: Option<(usize, Instant)> = None;
        for class in [TaskClass::High, TaskClass::Normal, TaskClass::Low] {
            let queue = &self.classes[class.index()];
            if !eligible(class)
                || queue.heap.is_empty()
                || now.saturating_duration_since(queue.waiting_since) < self.aging_after
            {
                continue;
            }
            if starving.is_none_or(|(_, since)| queue.waiting_since < since) {
                starving = Some((class.index(), queue.waiting_since));
            }
        }
        let index = match starving {
            Some((index, _)) => index,
            None => TaskClass::ALL
                .iter()
                .position(|&c| eligible(c) && !self.classes[c.index()].heap.is_empty())?,
        };
        let queue = &mut self.classes[index];
        let task = queue.heap.pop()?;
        queue.waiting_since = now;
        self.total -= 1;
        Some(task)
    }

    /// Whether a Normal or Low task is queued.
    pub(crate) fn has_background(&self) -> bool {
        TaskClass::ALL
            .iter()
            .any(|&c| c.is_background() && !self.classes[c.index()].heap.is_empty())
    }

    /// Removes every queued task for which `matches` is true, most urgent class first.
    pub(crate) fn remove_where(
        &mut self,
        mut matches: impl FnMut(&QueuedTask) -> bool,
    ) -> Vec<QueuedTask> {
        let mut removed = Vec::new();
        for queue in &mut self.classes {
            if !queue.heap.iter().any(&mut matches) {
                continue;
            }
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut queue.heap)
                .into_iter()
                .partition(&mut matches);
            queue.heap = BinaryHeap::from(kept);
            self.total -= gone.len();
            removed.extend(gone);
        }
        removed
    }

    /// Removes the queued task with sequence number `seq` of `class`, if it is still queued.
    pub(crate) fn remove(&mut self, class: TaskClass, seq: u64) -> Option<QueuedTask> {
        let queue = &mut self.classes[class.index()];
        if !queue.heap.iter().any(|t| t.seq == seq) {
            return None;
        }
        let removed = queue.remove_seq(seq);
        if removed.is_some() {
            self.total -= 1;
        }
        removed
    }

    /// Empties every queue.
    pub(crate) fn drain(&mut self) -> Vec<QueuedTask> {
        self.remove_where(|_| true)
    }
}

/// Heap storage reserved up front per class; more is allocated on demand.
const INITIAL_HEAP_CAPACITY: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    const AGING: Duration = Duration::from_millis(100);

    use std::cell::Cell;

    use crate::scheduler::task::Task;

    /// Places counted in plain cells, as the executor counts them in atomics.
    struct PlainSlots {
        class: Cell<[usize; 4]>,
        total: Cell<usize>,
        class_capacity: [usize; 4],
        total_capacity: usize,
    }

    impl Slots for PlainSlots {
        fn try_reserve(&self, class: TaskClass) -> Reserve {
            let mut taken = self.class.get();
            if taken[class.index()] >= self.class_capacity[class.index()] {
                return Reserve::ClassFull;
            }
            if self.total.get() >= self.total_capacity {
                return Reserve::TotalFull;
            }
            taken[class.index()] += 1;
            self.class.set(taken);
            self.total.set(self.total.get() + 1);
            Reserve::Reserved
        }

        fn transfer(&self, from: TaskClass, to: TaskClass) -> bool {
            let mut taken = self.class.get();
            if taken[to.index()] >= self.class_capacity[to.index()] {
                return false;
            }
            taken[to.index()] += 1;
            taken[from.index()] -= 1;
            self.class.set(taken);
            true
        }
    }

    struct Fixture {
        queue: RunQueue,
        slots: PlainSlots,
        next_seq: u64,
        t0: Instant,
    }

    impl Fixture {
        fn new(class_capacity: [usize; 4], total: usize) -> Self {
            let t0 = Instant::now();
            Fixture {
                queue: RunQueue::new(AGING, t0),
                slots: PlainSlots {
                    class: Cell::new([0; 4]),
                    total: Cell::new(0),
                    class_capacity,
                    total_capacity: total,
                },
                next_seq: 0,
                t0,
            }
        }

        /// A task whose channel number is its name in these tests.
        fn task(&mut self, class: TaskClass, name: u32, deadline_ms: Option<u64>) -> QueuedTask {
            let mut task = Task::new(class, TaskLabel::new("test", name), || {});
            if let Some(ms) = deadline_ms {
                task = task.with_deadline(self.t0 + Duration::from_millis(ms));
            }
            let header = task.node.header_mut();
            header.seq = self.next_seq;
            header.enqueued = Some(self.t0);
            self.next_seq += 1;
            QueuedTask::new(task.node)
        }

        fn admit(&mut self, class: TaskClass, name: u32, deadline_ms: Option<u64>) -> Outcome {
            let task = self.task(class, name, deadline_ms);
            match self.queue.admit(task, &self.slots) {
                Admission::Queued { evicted: None } => Outcome::Queued,
                Admission::Queued { evicted: Some(t) } => Outcome::Evicted(t.label().channel),
                Admission::Shed(t) => Outcome::Shed(t.label().channel),
                Admission::Full(t) => Outcome::Full(t.label().channel),
            }
        }

        fn drain_order(&mut self, now: Instant) -> Vec<u32> {
            std::iter::from_fn(|| self.queue.pop(now, true))
                .map(|t| t.label().channel)
                .collect()
        }
    }

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Queued,
        Evicted(u32),
        Shed(u32),
        Full(u32),
    }

    use TaskClass::{Critical, High, Low, Normal};

    #[test]
    fn classes_run_in_priority_order_and_edf_within_a_class() {
        let mut f = Fixture::new([16; 4], 64);
        f.admit(Low, 1, None);
        f.admit(Normal, 2, Some(50));
        f.admit(Normal, 3, None);
        f.admit(Normal, 4, Some(10));
        f.admit(Critical, 5, None);
        f.admit(High, 6, Some(30));
        f.admit(High, 7, Some(20));
        f.admit(Critical, 8, Some(1_000));
        f.admit(Normal, 9, None);
        // Critical: deadline first, then no deadline; High by deadline; Normal by deadline, then
        // the two without deadline in submission order; Low.
        let t0 = f.t0;
        assert_eq!(f.drain_order(t0), vec![8, 5, 7, 6, 4, 2, 3, 9, 1]);
        assert!(f.queue.is_empty());
    }

    #[test]
    fn equal_deadlines_keep_submission_order() {
        let mut f = Fixture::new([16; 4], 64);
        for name in 0..5 {
            f.admit(High, name, Some(7));
        }
        let t0 = f.t0;
        assert_eq!(f.drain_order(t0), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn full_low_queue_sheds_the_least_urgent_low_task() {
        let mut f = Fixture::new([16, 16, 16, 2], 64);
        assert_eq!(f.admit(Low, 1, Some(40)), Outcome::Queued);
        assert_eq!(f.admit(Low, 2, None), Outcome::Queued);
        // Without a deadline the newcomer is the least urgent: it is shed itself.
        assert_eq!(f.admit(Low, 3, None), Outcome::Shed(3));
        // With an early deadline it displaces the task without deadline.
        assert_eq!(f.admit(Low, 4, Some(10)), Outcome::Evicted(2));
        // Later deadline than everything queued: shed.
        assert_eq!(f.admit(Low, 5, Some(90)), Outcome::Shed(5));
        let t0 = f.t0;
        assert_eq!(f.drain_order(t0), vec![4, 1]);
    }

    #[test]
    fn full_critical_or_high_queue_hands_the_task_back() {
        let mut f = Fixture::new([1, 1, 16, 16], 64);
        assert_eq!(f.admit(Critical, 1, None), Outcome::Queued);
        assert_eq!(f.admit(Critical, 2, Some(1)), Outcome::Full(2));
        assert_eq!(f.admit(High, 3, None), Outcome::Queued);
        assert_eq!(f.admit(High, 4, None), Outcome::Full(4));
        assert_eq!(f.queue.len(), 2);
    }

    #[test]
    fn overload_sheds_low_then_normal_never_high_or_critical() {
        let mut f = Fixture::new([8; 4], 4);
        assert_eq!(f.admit(Low, 1, None), Outcome::Queued);
        assert_eq!(f.admit(Low, 2, None), Outcome::Queued);
        assert_eq!(f.admit(Normal, 3, None), Outcome::Queued);
        assert_eq!(f.admit(Normal, 4, None), Outcome::Queued);
        // Full: a Critical task displaces the least urgent Low task (the newest, no deadlines).
        assert_eq!(f.admit(Critical, 5, None), Outcome::Evicted(2));
        assert_eq!(f.admit(High, 6, None), Outcome::Evicted(1));
        // No Low work left: Normal goes next.
        assert_eq!(f.admit(Critical, 7, None), Outcome::Evicted(4));
        // A Normal task competes with the remaining Normal task: it is newer, so it is shed.
        assert_eq!(f.admit(Normal, 8, None), Outcome::Shed(8));
        // A Low task has nothing below it: shed.
        assert_eq!(f.admit(Low, 9, None), Outcome::Shed(9));
        assert_eq!(f.admit(High, 10, None), Outcome::Evicted(3));
        // Only High and Critical remain: nothing may be shed, the task is handed back.
        assert_eq!(f.admit(Critical, 11, None), Outcome::Full(11));
        assert_eq!(f.admit(High, 12, None), Outcome::Full(12));
        let t0 = f.t0;
        assert_eq!(f.drain_order(t0), vec![5, 7, 6, 10]);
    }

    #[test]
    fn overload_prefers_shedding_low_even_for_a_normal_newcomer() {
        let mut f = Fixture::new([8; 4], 2);
        f.admit(Low, 1, Some(5));
        f.admit(Normal, 2, None);
        assert_eq!(f.admit(Normal, 3, None), Outcome::Evicted(1));
        assert_eq!(f.admit(Normal, 4, Some(1)), Outcome::Evicted(3));
    }

    #[test]
    fn a_starving_class_is_served_ahead_of_more_urgent_work() {
        let mut f = Fixture::new([16; 4], 64);
        f.admit(Low, 1, None);
        f.admit(Critical, 2, None);
        f.admit(Critical, 3, None);
        let t0 = f.t0;
        // Before the aging threshold: strict priority.
        assert_eq!(
            f.queue.pop(t0 + AGING / 2, true).map(|t| t.label().channel),
            Some(2)
        );
        // Low has waited past the threshold: it goes next, then Critical resumes.
        let late = t0 + AGING;
        assert_eq!(f.queue.pop(late, true).map(|t| t.label().channel), Some(1));
        assert_eq!(f.queue.pop(late, true).map(|t| t.label().channel), Some(3));
    }

    #[test]
    fn aging_serves_the_longest_starving_class_first_and_restarts_its_clock() {
        let mut f = Fixture::new([16; 4], 64);
        let t0 = f.t0;
        f.admit(Low, 1, None);
        f.admit(Low, 2, None);
        // Normal becomes non-empty later than Low.
        let mut normal = f.task(Normal, 3, None);
        normal.node.header_mut().enqueued = Some(t0 + Duration::from_millis(20));
        assert!(matches!(
            f.queue.admit(normal, &f.slots),
            Admission::Queued { .. }
        ));
        f.admit(Critical, 4, None);
        f.admit(Critical, 5, None);
        let now = t0 + AGING + Duration::from_millis(30);
        // Both starve; Low has waited longer.
        assert_eq!(f.queue.pop(now, true).map(|t| t.label().channel), Some(1));
        assert_eq!(f.queue.pop(now, true).map(|t| t.label().channel), Some(3));
        // Low's clock restarted at `now`: strict priority again.
        assert_eq!(f.queue.pop(now, true).map(|t| t.label().channel), Some(4));
        assert_eq!(f.queue.pop(now, true).map(|t| t.label().channel), Some(5));
        assert_eq!(f.queue.pop(now, true).map(|t| t.label().channel), Some(2));
    }

    #[test]
    fn without_background_only_critical_and_high_are_taken() {
        let mut f = Fixture::new([16; 4], 64);
        f.admit(Low, 1, None);
        f.admit(Normal, 2, Some(1));
        f.admit(High, 3, None);
        assert!(f.queue.has_background());
        let t0 = f.t0;
        // Even an aged Low task waits for a worker that may run background work.
        let late = t0 + AGING * 2;
        assert_eq!(f.queue.pop(late, false).map(|t| t.label().channel), Some(3));
        assert!(f.queue.pop(late, false).is_none());
        assert_eq!(f.queue.len(), 2);
        assert_eq!(f.drain_order(t0), vec![2, 1]);
        assert!(!f.queue.has_background());
    }

    #[test]
    fn remove_where_and_remove_by_seq() {
        let mut f = Fixture::new([16; 4], 64);
        f.admit(Normal, 1, None);
        f.admit(High, 2, None);
        f.admit(Normal, 1, Some(3));
        f.admit(Low, 3, None);
        let removed = f.queue.remove_where(|t| t.label().channel == 1);
        assert_eq!(removed.len(), 2);
        assert_eq!(f.queue.len(), 2);
        assert_eq!(f.queue.class_len(Normal), 0);
        // Sequence numbers: 0, 1, 2, 3. Task 3 is the Low one.
        assert!(f.queue.remove(Low, 3).is_some());
        assert!(f.queue.remove(Low, 3).is_none());
        assert_eq!(f.queue.len(), 1);
        let t0 = f.t0;
        assert_eq!(f.drain_order(t0), vec![2]);
    }
}
