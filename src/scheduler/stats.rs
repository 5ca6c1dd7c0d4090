//! Scheduler statistics: per-class HDR histograms of wait and run time, counters, tasks/s.
//!
//! Reading never stalls a worker. Workers append `(class, wait, run)` samples to a private log
//! and *publish* it into a shared, copy-on-write [`HistogramSet`] at most every
//! `stats_publish_interval` while busy, when the log fills, before they park, and when they
//! exit. A reader only clones the `Arc` of the last published set and loads atomic counters.
//! So the histograms may lag the counters by up to one publish interval;
//! [`Scheduler::wait_idle`](super::Scheduler::wait_idle) and `shutdown` return only once
//! everything is published.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::{CreationError, Histogram};
use parking_lot::Mutex;

use super::latency::{
    LatencyBucket, LatencyKind, LatencyPercentiles, LogBucketSpec, latency_percentiles, log_buckets,
};
use super::task::{TaskClass, TaskLabel};

/// Smallest latency the histograms resolve, in ns.
pub const HISTOGRAM_LOWEST_NS: u64 = 1;
/// Largest latency the histograms hold, in ns (100 s); longer ones are recorded as 100 s.
pub const HISTOGRAM_HIGHEST_NS: u64 = 100_000_000_000;
/// HdrHistogram precision: values are kept to 2 significant digits (relative error ≤ 1/128 with
/// the 256 sub-buckets this gives). Three digits would make each histogram ~8× larger (about
/// 230 KiB instead of 31 KiB), and the copy-on-write clone a publish makes while a reader holds
/// the previous snapshot would cost that much more.
pub const HISTOGRAM_SIGNIFICANT_FIGURES: u8 = 2;
/// A worker publishes its sample log once it holds this many samples, whatever the interval, so
/// a publish (which readers wait behind) stays short: about 10 ns per sample.
pub(crate) const SAMPLE_LOG_CAPACITY: usize = 1024;
/// The tasks/s figure is taken over about this much recent time.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// Spacing of the reference points kept for tasks/s (so ≤ 11 are kept).
const RATE_SAMPLE_SPACING: Duration = Duration::from_millis(100);

/// Wait and run histograms of every class, in nanoseconds.
#[derive(Debug, Clone)]
pub struct HistogramSet {
    wait: [Histogram<u64>; TaskClass::COUNT],
    run: [Histogram<u64>; TaskClass::COUNT],
}

impl HistogramSet {
    pub(crate) fn new() -> Result<Self, CreationError> {
        let empty = || {
            Histogram::<u64>::new_with_bounds(
                HISTOGRAM_LOWEST_NS,
                HISTOGRAM_HIGHEST_NS,
                HISTOGRAM_SIGNIFICANT_FIGURES,
            )
        };
        Ok(HistogramSet {
            wait: [empty()?, empty()?, empty()?, empty()?],
            run: [empty()?, empty()?, empty()?, empty()?],
        })
    }

    pub fn get(&self, class: TaskClass, kind: LatencyKind) -> &Histogram<u64> {
        match kind {
            LatencyKind::Wait => &self.wait[class.index()],
            LatencyKind::Run => &self.run[class.index()],
        }
    }

    fn record(&mut self, sample: &Sample) {
        let i = sample.class.index();
        self.wait[i].saturating_record(sample.wait_ns);
        self.run[i].saturating_record(sample.run_ns);
    }
}

/// One finished task's latencies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) class: TaskClass,
    pub(crate) wait_ns: u64,
    pub(crate) run_ns: u64,
}

/// A worker's unpublished samples.
pub(crate) struct SampleLog {
    samples: Vec<Sample>,
    last_publish: Instant,
}

impl SampleLog {
    pub(crate) fn new(now: Instant) -> Self {
        SampleLog {
            samples: Vec::with_capacity(SAMPLE_LOG_CAPACITY),
            last_publish: now,
        }
    }

    pub(crate) fn push(&mut self, sample: Sample) {
        self.samples.push(sample);
    }

    pub(crate) fn is_dirty(&self) -> bool {
        !self.samples.is_empty()
    }

    /// True when there is something to publish and the interval has passed or the log is full.
    pub(crate) fn publish_due(&self, now: Instant, interval: Duration) -> bool {
        self.is_dirty()
            && (self.samples.len() >= SAMPLE_LOG_CAPACITY
                || now.saturating_duration_since(self.last_publish) >= interval)
    }

    /// Adds the log to the shared histograms and empties it.
    ///
    /// Publishers take `publisher` first, so they never overwrite each other. When no reader
    /// holds the current snapshot it is updated in place under the `published` lock (readers
    /// wait at most for [`SAMPLE_LOG_CAPACITY`] records); otherwise a copy is updated outside
    /// that lock and swapped in, and readers keep the old snapshot meanwhile.
    pub(crate) fn publish(
        &mut self,
        publisher: &Mutex<()>,
        published: &Mutex<Arc<HistogramSet>>,
        now: Instant,
    ) {
        if self.is_dirty() {
            let _one_publisher = publisher.lock();
            let mut slot = published.lock();
            if let Some(set) = Arc::get_mut(&mut slot) {
                self.samples.iter().for_each(|s| set.record(s));
            } else {
                let current = Arc::clone(&slot);
                drop(slot);
                let mut next = HistogramSet::clone(&current);
                drop(current);
                self.samples.iter().for_each(|s| next.record(s));
                *published.lock() = Arc::new(next);
            }
            self.samples.clear();
        }
        self.last_publish = now;
    }
}

/// Increments a counter that only one thread writes at a time (its owner, or the holder of the
/// queue lock): a load and a store, without a locked read-modify-write.
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Release,
    );
}

/// Counters per class of the submission path. `submitted` is written by producers on every
/// submission (a cache line of its own, which stays with a lone producer); the others only on
/// the overload and cancellation paths, under the queue lock.
#[derive(Debug, Default)]
pub(crate) struct QueueCounters {
    pub(crate) submitted: CachePadded<[AtomicU64; TaskClass::COUNT]>,
    pub(crate) shed: [AtomicU64; TaskClass::COUNT],
    pub(crate) rejected: [AtomicU64; TaskClass::COUNT],
    pub(crate) cancelled: [AtomicU64; TaskClass::COUNT],
}

/// Aligns `T` to 128 bytes (two cache lines, against the adjacent-line prefetcher), so that
/// data written by different threads does not share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Counters per class written by one worker only, and the worker's own flags; padded so
/// workers do not share cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct WorkerCounters {
    pub(crate) completed: [AtomicU64; TaskClass::COUNT],
    pub(crate) panicked: [AtomicU64; TaskClass::COUNT],
    pub(crate) deadline_misses: [AtomicU64; TaskClass::COUNT],
    /// The worker holds a task (from its dispatch until its sample is logged).
    pub(crate) busy: AtomicBool,
    /// The worker holds unpublished samples.
    pub(crate) dirty: AtomicBool,
}

/// Shed tasks per class and label.
#[derive(Debug, Default)]
pub(crate) struct ShedLedger {
    counts: Mutex<HashMap<(TaskClass, TaskLabel), u64>>,
}

impl ShedLedger {
    pub(crate) fn add(&self, class: TaskClass, label: TaskLabel) {
        *self.counts.lock().entry((class, label)).or_insert(0) += 1;
    }

    fn snapshot(&self) -> Vec<LabelShedCount> {
        let mut rows: Vec<LabelShedCount> = self
            .counts
            .lock()
            .iter()
            .map(|(&(class, label), &count)| LabelShedCount {
                class,
                label,
                count,
            })
            .collect();
        rows.sort_by_key(|r| (r.class, r.label));
        rows
    }
}

/// Completions per second over about the last [`RATE_WINDOW`], from reference points taken
/// when the statistics are read.
#[derive(Debug)]
pub(crate) struct RateMeter {
    started: Instant,
    points: VecDeque<(Instant, [u64; TaskClass::COUNT])>,
}

impl RateMeter {
    pub(crate) fn new(started: Instant) -> Self {
        RateMeter {
            started,
            points: VecDeque::new(),
        }
    }

    /// Rates per class at `now` given the completion totals; the first read gives the average
    /// since the scheduler started.
    fn rates(
        &mut self,
        now: Instant,
        finished: [u64; TaskClass::COUNT],
    ) -> [f64; TaskClass::COUNT] {
        // Keep the newest point older than the window as the reference, and the points after it.
        while self.points.len() >= 2
            && now.saturating_duration_since(self.points[1].0) >= RATE_WINDOW
        {
            self.points.pop_front();
        }
        let (t_ref, n_ref) = match self.points.front() {
            Some(&(t, n)) if t < now => (t, n),
            _ => (self.started, [0; TaskClass::COUNT]),
        };
        if self
            .points
            .back()
            .is_none_or(|&(t, _)| now.saturating_duration_since(t) >= RATE_SAMPLE_SPACING)
        {
            self.points.push_back((now, finished));
        }
        let dt_s = now.saturating_duration_since(t_ref).as_secs_f64();
        std::array::from_fn(|i| {
            if dt_s > 0.0 {
                finished[i].saturating_sub(n_ref[i]) as f64 / dt_s
            } else {
                0.0
            }
        })
    }
}

/// Everything the statistics are read from.
pub(crate) struct StatsSources<'a> {
    pub(crate) started: Instant,
    pub(crate) workers: usize,
    pub(crate) class_capacity: [usize; TaskClass::COUNT],
    pub(crate) queue: &'a QueueCounters,
    /// Tasks queued per class (admitted, not yet started or removed).
    pub(crate) depth: &'a [AtomicUsize; TaskClass::COUNT],
    pub(crate) per_worker: &'a [WorkerCounters],
    pub(crate) shed_ledger: &'a ShedLedger,
    pub(crate) published: &'a Mutex<Arc<HistogramSet>>,
    pub(crate) rate: &'a Mutex<RateMeter>,
}

impl StatsSources<'_> {
    /// A snapshot; O(1) in the number of tasks ever run (plus the shed-label table).
    pub(crate) fn read(&self) -> SchedulerStats {
        let now = Instant::now();
        let histograms = Arc::clone(&self.published.lock());
        let load = |c: &AtomicU64| c.load(Ordering::Acquire);
        let sum_workers = |f: fn(&WorkerCounters) -> &[AtomicU64; TaskClass::COUNT], i: usize| {
            self.per_worker.iter().map(|w| load(&f(w)[i])).sum::<u64>()
        };
        let completed: [u64; TaskClass::COUNT] =
            std::array::from_fn(|i| sum_workers(|w| &w.completed, i));
        let panicked: [u64; TaskClass::COUNT] =
            std::array::from_fn(|i| sum_workers(|w| &w.panicked, i));
        let finished = std::array::from_fn(|i| completed[i] + panicked[i]);
        let rates = self.rate.lock().rates(now, finished);
        let classes = TaskClass::ALL.map(|class| {
            let i = class.index();
            ClassStats {
                class,
                submitted: load(&self.queue.submitted[i]),
                completed: completed[i],
                panicked: panicked[i],
                cancelled: load(&self.queue.cancelled[i]),
                shed: load(&self.queue.shed[i]),
                rejected: load(&self.queue.rejected[i]),
                deadline_misses: sum_workers(|w| &w.deadline_misses, i),
                queue_depth: self.depth[i].load(Ordering::Acquire),
                capacity: self.class_capacity[i],
                tasks_per_s: rates[i],
            }
        });
        SchedulerStats {
            uptime: now.saturating_duration_since(self.started),
            workers: self.workers,
            classes,
            shed_by_label: self.shed_ledger.snapshot(),
            histograms,
        }
    }
}

/// Counters of one class. Every task offered to `submit` (before shutdown) ends up in exactly
/// one of: queued (`queue_depth`), running, `completed`, `panicked`, `cancelled`, `shed`,
/// `rejected`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassStats {
    pub class: TaskClass,
    /// Tasks offered to `submit`, whatever became of them.
    pub submitted: u64,
    /// Tasks that ran to the end.
    pub completed: u64,
    /// Tasks that ran and panicked.
    pub panicked: u64,
    /// Tasks removed before they started (cancellation, `shutdown_now`).
    pub cancelled: u64,
    /// Low and Normal tasks dropped under overload (on arrival or displaced later).
    pub shed: u64,
    /// Critical and High tasks handed back to the submitter because there was no room.
    pub rejected: u64,
    /// Tasks with a deadline that finished after it.
    pub deadline_misses: u64,
    /// Tasks waiting in the queue.
    pub queue_depth: usize,
    /// Bound of the class queue.
    pub capacity: usize,
    /// Tasks finished (completed or panicked) per second over about the last second.
    pub tasks_per_s: f64,
}

/// How many tasks of one class and label were shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelShedCount {
    pub class: TaskClass,
    pub label: TaskLabel,
    pub count: u64,
}

/// A snapshot of the scheduler's statistics. Cheap to take and to keep: the histograms are
/// shared with the scheduler until the next publish.
#[derive(Debug, Clone)]
pub struct SchedulerStats {
    /// Time since the scheduler started.
    pub uptime: Duration,
    /// Number of worker threads.
    pub workers: usize,
    /// Counters per class, indexed by [`TaskClass::index`].
    pub classes: [ClassStats; TaskClass::COUNT],
    /// Shed tasks by class and label, sorted by class then label.
    pub shed_by_label: Vec<LabelShedCount>,
    histograms: Arc<HistogramSet>,
}

impl SchedulerStats {
    /// Statistics made from given counters and latency samples `(class, wait_ns, run_ns)` rather
    /// than read from a running scheduler: for the screen's tests and the render benchmark,
    /// which need the same figures on every run.
    pub fn from_samples(
        uptime: Duration,
        workers: usize,
        classes: [ClassStats; TaskClass::COUNT],
        shed_by_label: Vec<LabelShedCount>,
        samples: impl IntoIterator<Item = (TaskClass, u64, u64)>,
    ) -> Result<Self, CreationError> {
        let mut set = HistogramSet::new()?;
        for (class, wait_ns, run_ns) in samples {
            set.record(&Sample {
                class,
                wait_ns,
                run_ns,
            });
        }
        Ok(SchedulerStats {
            uptime,
            workers,
            classes,
            shed_by_label,
            histograms: Arc::new(set),
        })
    }

    pub fn class(&self, class: TaskClass) -> &ClassStats {
        &self.classes[class.index()]
    }

    /// The class's wait or run histogram (ns), as last published by the workers.
    pub fn histogram(&self, class: TaskClass, kind: LatencyKind) -> &Histogram<u64> {
        self.histograms.get(class, kind)
    }

    /// p50 / p90 / p99 / p99.9 / max of the class's wait or run time.
    pub fn percentiles(&self, class: TaskClass, kind: LatencyKind) -> LatencyPercentiles {
        latency_percentiles(self.histogram(class, kind))
    }

    /// The class's wait or run histogram on log-scaled buckets, for the latency-histogram
    /// widget.
    pub fn log_buckets(
        &self,
        class: TaskClass,
        kind: LatencyKind,
        spec: &LogBucketSpec,
    ) -> Vec<LatencyBucket> {
        log_buckets(self.histogram(class, kind), spec)
    }

    /// Total tasks finished per second over all classes.
    pub fn tasks_per_s(&self) -> f64 {
        self.classes.iter().map(|c| c.tasks_per_s).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_meter_uses_start_then_a_sliding_reference() {
        let t0 = Instant::now();
        let mut meter = RateMeter::new(t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // First read: average since start.
        assert_eq!(meter.rates(at(500), [50, 0, 0, 0])[0], 100.0);
        // 100 more tasks in the next 500 ms: reference is the first read.
        assert_eq!(meter.rates(at(1000), [150, 0, 0, 0])[0], 200.0);
        // Much later: the reference is the newest point older than the window (at 1000 ms).
        let r = meter.rates(at(3000), [550, 0, 0, 0])[0];
        assert_eq!(r, 200.0);
    }

    #[test]
    fn sample_log_publishes_into_shared_set() {
        let published = Mutex::new(Arc::new(
            HistogramSet::new().unwrap_or_else(|e| panic!("{e}")),
        ));
        let t0 = Instant::now();
        let mut log = SampleLog::new(t0);
        assert!(!log.publish_due(t0, Duration::ZERO));
        log.push(Sample {
            class: TaskClass::High,
            wait_ns: 1_000,
            run_ns: 20_000,
        });
        assert!(log.publish_due(t0, Duration::ZERO));
        assert!(!log.publish_due(t0, Duration::from_secs(1)));
        let held = Arc::clone(&published.lock());
        log.publish(&Mutex::new(()), &published, t0);
        assert!(!log.is_dirty());
        // The reader's snapshot is unchanged; the new one has the sample.
        assert_eq!(held.get(TaskClass::High, LatencyKind::Wait).len(), 0);
        let now = Arc::clone(&published.lock());
        assert_eq!(now.get(TaskClass::High, LatencyKind::Wait).len(), 1);
        assert_eq!(now.get(TaskClass::High, LatencyKind::Run).len(), 1);
        assert_eq!(now.get(TaskClass::Low, LatencyKind::Run).len(), 0);
    }
}
