//! The thin layer between the benchmark suites and criterion, so that `cargo bench` and
//! `midstream-tui bench` measure the same workloads with the same statistics.
//!
//! A suite (`suites/*.rs`) is written against [`Harness`] and [`Group`], which have the shape
//! of criterion's `Criterion` and `BenchmarkGroup` and pass every benchmark to them. Under
//! `cargo bench` the harness adds nothing ([`Harness::cargo`]: criterion's own command line
//! filters and configures). Inside the binary it also has a [`Watcher`]: each benchmark is
//! offered to it first (by its full criterion id, `group/function/parameter`), so the run can
//! skip what was not asked for, show which benchmark is running, and read each result as soon
//! as criterion has written it; and in a quick run the suites' own longer sample sizes and
//! measurement times are ignored in favour of the run's.

use std::fmt::Display;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{Bencher, BenchmarkGroup, Criterion, Throughput};

/// What the binary's run sees of the suites: which benchmarks to run, and when each starts and
/// ends.
pub trait Watcher {
    /// Whether the benchmark `id` (criterion's full id) is to be run.
    fn wants(&mut self, id: &str) -> bool;
    /// Whether any benchmark whose id starts with `group/` may be run.
    fn wants_group(&mut self, group: &str) -> bool;
    /// `id` starts (its warm-up).
    fn started(&mut self, id: &str);
    /// `id` has been measured and criterion has written its result.
    fn finished(&mut self, id: &str);
    /// A figure benchmark `id` measured besides its time (a percentile, a count), in `unit`.
    fn figure(&mut self, id: &str, value: f64, unit: &str);
}

/// Criterion plus, inside the binary, the run's [`Watcher`].
pub struct Harness<'a> {
    criterion: &'a mut Criterion,
    watcher: Option<&'a mut (dyn Watcher + 'a)>,
    /// The run fixes the measurement: the suites' `sample_size`/`measurement_time` are ignored.
    fixed_measurement: bool,
}

impl<'a> Harness<'a> {
    /// For `cargo bench`: criterion as configured by its command line. Its HTML report's
    /// charts get the built-in font (`report::register_font`); they are skipped, with a
    /// warning, if it does not load.
    pub fn cargo(criterion: &'a mut Criterion) -> Self {
        if let Err(e) = super::report::register_font() {
            eprintln!("warning: {e}; criterion's charts are skipped");
            *criterion = std::mem::take(criterion).without_plots();
        }
        Self {
            criterion,
            watcher: None,
            fixed_measurement: false,
        }
    }

    /// For the binary's run: every benchmark goes through `watcher`; with `fixed_measurement`
    /// the criterion configuration given is kept for every benchmark.
    pub fn watched(
        criterion: &'a mut Criterion,
        watcher: &'a mut (dyn Watcher + 'a),
        fixed_measurement: bool,
    ) -> Self {
        Self {
            criterion,
            watcher: Some(watcher),
            fixed_measurement,
        }
    }

    /// Whether any benchmark of `group` may be wanted: lets a suite skip building the inputs of
    /// a group nothing in this run measures. Always true under `cargo bench`.
    pub fn wants_group(&mut self, group: &str) -> bool {
        match &mut self.watcher {
            None => true,
            Some(w) => w.wants_group(group),
        }
    }

    /// Whether the benchmark `id` (a full id) is run: lets a suite skip building an input
    /// nothing in this run measures. Always true under `cargo bench`.
    pub fn wants(&mut self, id: &str) -> bool {
        self.watcher.as_mut().is_none_or(|w| w.wants(id))
    }

    /// Reports a figure benchmark `id` measured besides its time: to the run, or on stderr
    /// under `cargo bench`.
    pub fn figure(&mut self, id: &str, value: f64, unit: &str) {
        match &mut self.watcher {
            Some(w) => w.figure(id, value, unit),
            None => eprintln!("{id}: {value:.6} {unit}"),
        }
    }

    /// A group of benchmarks, as `Criterion::benchmark_group`.
    pub fn benchmark_group(&mut self, name: impl Into<String>) -> Group<'_, 'a> {
        let name = name.into();
        Group {
            group: self.criterion.benchmark_group(name.clone()),
            name,
            watcher: self.watcher.as_deref_mut(),
            fixed_measurement: self.fixed_measurement,
        }
    }

    /// A benchmark alone (its id is `id`), as `Criterion::bench_function`.
    pub fn bench_function<F>(&mut self, id: &str, f: F)
    where
        F: FnMut(&mut Bencher<'_, WallTime>),
    {
        if let Some(w) = &mut self.watcher {
            if !w.wants(id) {
                return;
            }
            w.started(id);
        }
        self.criterion.bench_function(id, f);
        if let Some(w) = &mut self.watcher {
            w.finished(id);
        }
    }
}

/// A benchmark's id within its group: criterion's `BenchmarkId`, whose parts the harness needs
/// to know the full id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchmarkId {
    function: Option<String>,
    parameter: Option<String>,
}

impl BenchmarkId {
    pub fn new(function: impl Into<String>, parameter: impl Display) -> Self {
        Self {
            function: Some(function.into()),
            parameter: Some(parameter.to_string()),
        }
    }

    pub fn from_parameter(parameter: impl Display) -> Self {
        Self {
            function: None,
            parameter: Some(parameter.to_string()),
        }
    }

    /// The id's part after the group, as criterion joins it.
    fn suffix(&self) -> String {
        match (&self.function, &self.parameter) {
            (Some(f), Some(p)) => format!("{f}/{p}"),
            (Some(f), None) => f.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => String::new(),
        }
    }

    fn to_criterion(&self) -> criterion::BenchmarkId {
        match (&self.function, &self.parameter) {
            (Some(f), Some(p)) => criterion::BenchmarkId::new(f.clone(), p),
            // Criterion's own id of a function without a parameter has the same full id.
            (Some(only), None) | (None, Some(only)) => criterion::BenchmarkId::from_parameter(only),
            (None, None) => criterion::BenchmarkId::from_parameter(""),
        }
    }
}

impl From<&str> for BenchmarkId {
    fn from(function: &str) -> Self {
        Self {
            function: Some(function.to_owned()),
            parameter: None,
        }
    }
}

impl From<String> for BenchmarkId {
    fn from(function: String) -> Self {
        Self {
            function: Some(function),
            parameter: None,
        }
    }
}

/// Criterion's `BenchmarkGroup`, each benchmark offered to the run's watcher first.
pub struct Group<'g, 'w> {
    group: BenchmarkGroup<'g, WallTime>,
    name: String,
    watcher: Option<&'g mut (dyn Watcher + 'w)>,
    fixed_measurement: bool,
}

impl Group<'_, '_> {
    pub fn sample_size(&mut self, n: usize) -> &mut Self {
        if !self.fixed_measurement {
            self.group.sample_size(n);
        }
        self
    }

    pub fn measurement_time(&mut self, time: Duration) -> &mut Self {
        if !self.fixed_measurement {
            self.group.measurement_time(time);
        }
        self
    }

    pub fn throughput(&mut self, throughput: Throughput) -> &mut Self {
        self.group.throughput(throughput);
        self
    }

    /// Whether the benchmark `id` of this group is run (under `cargo bench` always: criterion
    /// filters it itself). Lets a suite skip building an input nothing measures.
    pub fn wants(&mut self, id: impl Into<BenchmarkId>) -> bool {
        let full = format!("{}/{}", self.name, id.into().suffix());
        self.watcher.as_mut().is_none_or(|w| w.wants(&full))
    }

    pub fn bench_function<F>(&mut self, id: impl Into<BenchmarkId>, f: F) -> &mut Self
    where
        F: FnMut(&mut Bencher<'_, WallTime>),
    {
        self.watched(id.into(), |group, id| {
            group.bench_function(id, f);
        })
    }

    pub fn bench_with_input<F, I>(
        &mut self,
        id: impl Into<BenchmarkId>,
        input: &I,
        f: F,
    ) -> &mut Self
    where
        F: FnMut(&mut Bencher<'_, WallTime>, &I),
        I: ?Sized,
    {
        self.watched(id.into(), |group, id| {
            group.bench_with_input(id, input, f);
        })
    }

    /// Runs the benchmark `id` through `run` unless the watcher skips it, telling the watcher
    /// when it starts and ends.
    fn watched(
        &mut self,
        id: BenchmarkId,
        run: impl FnOnce(&mut BenchmarkGroup<'_, WallTime>, criterion::BenchmarkId),
    ) -> &mut Self {
        let full = format!("{}/{}", self.name, id.suffix());
        if let Some(w) = &mut self.watcher {
            if !w.wants(&full) {
                return self;
            }
            w.started(&full);
        }
        run(&mut self.group, id.to_criterion());
        if let Some(w) = &mut self.watcher {
            w.finished(&full);
        }
        self
    }

    pub fn finish(self) {
        self.group.finish();
    }
}

/// A directory of its own under the system's temporary directory, removed when dropped: where a
/// suite writes its files (the binary has no `tempfile`, a test-only dependency).
pub struct ScratchDir {
    path: std::path::PathBuf,
}

impl ScratchDir {
    pub fn new() -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "midstream-bench-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
