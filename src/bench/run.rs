//! `midstream-tui bench`: the suites measured by criterion inside the binary, one benchmark at
//! a time, each result judged against its budget (and a baseline) as soon as criterion has
//! written it, the run's file rewritten after each so the Benchmarks pane fills in as it goes.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use thiserror::Error;

use super::harness::{Harness, Watcher};
use super::noise::NOISE_MARGIN;
use super::outcome::{self, Figure, Measured, OutcomeError, RunOutcome, WasmSize};
use super::stdio::Redirected;
use super::suites::{self, SUITES, Suite};
use super::{report, results};
use crate::model::bench::{Budget, id_matches};

/// A quick run's measurement of each benchmark: criterion's minimum of 10 samples, after a
/// short warm-up, in about a second. The whole quick run (every budgeted benchmark) takes
/// under two minutes on the 2-core reference machine.
pub const QUICK_WARM_UP: Duration = Duration::from_millis(300);
pub const QUICK_MEASUREMENT: Duration = Duration::from_millis(1000);
pub const QUICK_SAMPLES: usize = 10;
/// Bootstrap resamples of a quick run: ten samples need far fewer than criterion's 100,000
/// for a stable interval, and the analysis then takes milliseconds instead of a second.
pub const QUICK_RESAMPLES: usize = 10_000;

/// Where the WebAssembly build of the engines (`midstream-wasm`) puts its output, relative to
/// the working directory: its size is reported when the file is there.
pub const WASM_FILE: &str = "target/wasm32-unknown-unknown/wasm-release/midstream_wasm.wasm";

/// What a run does (the command line, resolved).
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Suites by name; empty: all.
    pub suites: Vec<String>,
    pub quick: bool,
    /// Warm-up and measurement time per benchmark instead of the default, with a quick run's
    /// sample count (the tests use a few ms).
    pub measurement: Option<Duration>,
    pub json: bool,
    pub save_baseline: Option<String>,
    pub baseline: Option<String>,
    pub check: bool,
    /// `--check` fails beyond this multiple of a budget.
    pub check_margin: f64,
    pub budgets: Vec<Budget>,
    pub report: Option<PathBuf>,
    /// Where the run's file, the baselines and criterion's output go.
    pub results_dir: PathBuf,
    pub wasm_file: PathBuf,
}

/// Why a run could not be made.
#[derive(Debug, Error)]
pub enum BenchError {
    #[error("unknown suite {0:?}: the suites are {list}", list = suite_names())]
    UnknownSuite(String),
    #[error(transparent)]
    Outcome(#[from] OutcomeError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("report: {0}")]
    Report(String),
}

fn suite_names() -> String {
    SUITES.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// The run's file in `results_dir`, which the Benchmarks pane reads.
pub fn latest_path(results_dir: &Path) -> PathBuf {
    results_dir.join("latest.json")
}

/// Criterion's own output directory for the binary's runs.
pub fn criterion_dir(results_dir: &Path) -> PathBuf {
    results_dir.join("criterion")
}

/// Runs the benchmarks; progress on stderr, then the results on stdout (one JSON object with
/// `json`, else a table). `--check`'s failures are in the outcome: the caller decides the exit
/// status.
pub fn run(opts: &BenchOptions) -> Result<RunOutcome, BenchError> {
    let chosen: Vec<&'static Suite> = if opts.suites.is_empty() {
        SUITES.iter().collect()
    } else {
        opts.suites
            .iter()
            .map(|name| suites::suite(name).ok_or_else(|| BenchError::UnknownSuite(name.clone())))
            .collect::<Result<_, _>>()?
    };
    let baseline = match &opts.baseline {
        Some(name) => Some((
            name.clone(),
            outcome::read_baseline(&opts.results_dir, name)?,
        )),
        None => None,
    };
    if let Some(name) = &opts.save_baseline {
        outcome::baseline_path(&opts.results_dir, name)?;
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BenchError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.results_dir).map_err(io(&opts.results_dir))?;
    let log_path = opts.results_dir.join("criterion.log");
    let log = File::create(&log_path).map_err(io(&log_path))?;

    let mut run = RunOutcome {
        version: outcome::FORMAT_VERSION,
        quick: opts.quick,
        suites: chosen.iter().map(|s| s.name.to_owned()).collect(),
        started_unix_s: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        finished: false,
        current: None,
        baseline: baseline.as_ref().map(|(name, _)| name.clone()),
        noise_margin: NOISE_MARGIN,
        check_margin: opts.check_margin,
        results: Vec::new(),
        figures: Vec::new(),
        wasm: wasm_size(&opts.wasm_file),
        failures: Vec::new(),
    };
    let latest = latest_path(&opts.results_dir);
    outcome::write(&latest, &run)?;

    let (mut stdout, stderr) = {
        let redirected = Redirected::to(&log).map_err(io(&log_path))?;
        let stdout = redirected.stdout().map_err(io(&log_path))?;
        let stderr = redirected.stderr().map_err(io(&log_path))?;
        let mut progress = Progress::new(stderr, chosen.len());
        let mut criterion = configure(opts);
        for (index, suite) in chosen.iter().enumerate() {
            progress.suite(index, suite.name);
            let mut watcher = RunWatcher {
                suite: suite.name,
                opts,
                criterion_dir: criterion_dir(&opts.results_dir),
                latest: &latest,
                baseline: baseline.as_ref(),
                run: &mut run,
                progress: &mut progress,
            };
            let measured = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let fixed = opts.quick || opts.measurement.is_some();
                let mut harness = Harness::watched(&mut criterion, &mut watcher, fixed);
                (suite.run)(&mut harness);
            }));
            if measured.is_err() {
                run.failures.push(format!(
                    "suite {} stopped with a panic: see {}",
                    suite.name,
                    log_path.display()
                ));
            }
        }
        progress.done(run.results.len());
        (stdout, progress.into_inner())
        // `redirected` drops here: stdout and stderr are the terminal's again.
    };
    drop(stderr);

    run.finished = true;
    run.current = None;
    run.link_raw_twins();
    if opts.check {
        let failures = run.check_failures();
        run.failures.extend(failures);
    }
    outcome::write(&latest, &run)?;
    if let Some(name) = &opts.save_baseline {
        outcome::write(&outcome::baseline_path(&opts.results_dir, name)?, &run)?;
    }
    if let Some(dir) = &opts.report {
        report::write(dir, &run).map_err(BenchError::Report)?;
    }
    let printed = if opts.json {
        serde_json::to_string(&run)
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|text| writeln!(stdout, "{text}"))
    } else {
        write_table(&mut stdout, &run)
    };
    printed.map_err(io(Path::new("stdout")))?;
    Ok(run)
}

/// Criterion as the run measures with it: output in the results directory, no HTML plots
/// (`--report` draws its own), and in a quick run short measurements.
fn configure(opts: &BenchOptions) -> Criterion {
    let mut c = Criterion::default()
        .output_directory(&criterion_dir(&opts.results_dir))
        .without_plots()
        .with_output_color(false);
    if opts.quick {
        c = c
            .warm_up_time(QUICK_WARM_UP)
            .measurement_time(QUICK_MEASUREMENT)
            .sample_size(QUICK_SAMPLES)
            .nresamples(QUICK_RESAMPLES);
    }
    if let Some(time) = opts.measurement {
        c = c
            .warm_up_time(time)
            .measurement_time(time)
            .sample_size(QUICK_SAMPLES)
            .nresamples(QUICK_RESAMPLES);
    }
    c
}

fn wasm_size(path: &Path) -> Option<WasmSize> {
    let meta = std::fs::metadata(path).ok()?;
    Some(WasmSize {
        path: path.to_owned(),
        bytes: meta.len(),
    })
}

/// Whether the budget pattern `pattern` could match an id that starts with `group/`.
fn pattern_reaches(pattern: &str, group: &str) -> bool {
    let mut wanted = pattern.split('/');
    group
        .split('/')
        .all(|part| wanted.next().is_some_and(|w| w == "*" || w == part))
}

struct RunWatcher<'a> {
    suite: &'static str,
    opts: &'a BenchOptions,
    criterion_dir: PathBuf,
    latest: &'a Path,
    baseline: Option<&'a (String, RunOutcome)>,
    run: &'a mut RunOutcome,
    progress: &'a mut Progress,
}

impl RunWatcher<'_> {
    fn save(&mut self) {
        // The file is for the pane: a failed write loses a row there, not the run.
        let _ = outcome::write(self.latest, self.run);
    }
}

impl Watcher for RunWatcher<'_> {
    fn wants(&mut self, id: &str) -> bool {
        if !self.opts.quick {
            return true;
        }
        let budgeted = |id: &str| self.opts.budgets.iter().any(|b| id_matches(&b.bench, id));
        // A raw quinn baseline runs whenever its Midstream twin does, for the ratio.
        budgeted(id)
            || id
                .strip_prefix("quic/raw/")
                .is_some_and(|rest| budgeted(&format!("quic/midstream/{rest}")))
    }

    fn wants_group(&mut self, group: &str) -> bool {
        !self.opts.quick
            || self
                .opts
                .budgets
                .iter()
                .any(|b| pattern_reaches(&b.bench, group))
    }

    fn started(&mut self, id: &str) {
        self.run.current = Some(id.to_owned());
        self.save();
        self.progress.benchmark(id, self.run.results.len());
    }

    fn finished(&mut self, id: &str) {
        let Some(result) = results::find_result(&self.criterion_dir, id) else {
            self.run
                .failures
                .push(format!("{id}: criterion wrote no result"));
            return;
        };
        let mut measured = Measured::new(self.suite, &result, &self.opts.budgets);
        if let Some((name, baseline)) = self.baseline {
            measured.compare_with(name, baseline, NOISE_MARGIN);
        }
        self.progress.result(&measured);
        self.run.results.retain(|r| r.id != id);
        self.run.results.push(measured);
        self.run.link_raw_twins();
        self.save();
    }

    fn figure(&mut self, id: &str, value: f64, unit: &str) {
        self.run.figures.retain(|f| f.id != id);
        self.run.figures.push(Figure {
            id: id.to_owned(),
            value,
            unit: unit.to_owned(),
        });
    }
}

/// The progress line on stderr: a bar over the suites, the current one and benchmark, how
/// many are measured and the time so far. Redrawn in place on a terminal; elsewhere one line
/// per benchmark.
struct Progress {
    out: File,
    terminal: bool,
    suites: usize,
    suite_index: usize,
    suite: &'static str,
    start: Instant,
}

const BAR_WIDTH: usize = 20;

impl Progress {
    fn new(out: File, suites: usize) -> Self {
        Self {
            terminal: out.is_terminal(),
            out,
            suites,
            suite_index: 0,
            suite: "",
            start: Instant::now(),
        }
    }

    fn into_inner(self) -> File {
        self.out
    }

    fn suite(&mut self, index: usize, name: &'static str) {
        self.suite_index = index;
        self.suite = name;
    }

    fn bar(&self) -> String {
        let filled = (self.suite_index * BAR_WIDTH)
            .checked_div(self.suites)
            .unwrap_or(0);
        format!("[{}{}]", "#".repeat(filled), "-".repeat(BAR_WIDTH - filled))
    }

    fn elapsed(&self) -> String {
        let s = self.start.elapsed().as_secs();
        format!("{}:{:02}", s / 60, s % 60)
    }

    fn benchmark(&mut self, id: &str, measured: usize) {
        let line = format!(
            "{} {}/{} {} · {id} · {measured} measured · {}",
            self.bar(),
            self.suite_index + 1,
            self.suites,
            self.suite,
            self.elapsed()
        );
        let _ = if self.terminal {
            write!(self.out, "\r\x1b[2K{line}")
        } else {
            writeln!(self.out, "{line}")
        };
        let _ = self.out.flush();
    }

    fn result(&mut self, m: &Measured) {
        if self.terminal {
            let _ = write!(self.out, "\r\x1b[2K");
        }
        let _ = writeln!(self.out, "  {}", table_row(m));
    }

    fn done(&mut self, measured: usize) {
        if self.terminal {
            let _ = write!(self.out, "\r\x1b[2K");
        }
        let _ = writeln!(
            self.out,
            "[{}] {measured} benchmarks measured in {}",
            "#".repeat(BAR_WIDTH),
            self.elapsed()
        );
    }
}

/// Nanoseconds as a short time.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// A rate with an SI prefix.
pub fn format_rate(per_s: f64, unit: &str) -> String {
    let (value, prefix) = if per_s >= 1e9 {
        (per_s / 1e9, "G")
    } else if per_s >= 1e6 {
        (per_s / 1e6, "M")
    } else if per_s >= 1e3 {
        (per_s / 1e3, "k")
    } else {
        (per_s, "")
    };
    format!("{value:.2} {prefix}{unit}/s")
}

/// One result as a line: mark, id, median [interval], rate, budget, baseline, ratio to raw.
pub fn table_row(m: &Measured) -> String {
    let mark = match m.met {
        Some(true) => '✓',
        Some(false) => '✗',
        None => '·',
    };
    let mut line = format!("{mark} {:<52} {:>10}", m.id, format_ns(m.median_ns));
    if let Some(i) = m.interval {
        line.push_str(&format!(
            " [{} – {}]",
            format_ns(i.low_ns),
            format_ns(i.high_ns)
        ));
    }
    if let Some(t) = m.throughput {
        if let Some(rate) = t.per_s {
            line.push_str(&format!("  {}", format_rate(rate, "elem")));
        }
        if let Some(rate) = t.bytes_per_s {
            line.push_str(&format!("  {}", format_rate(rate, "B")));
        }
    }
    if let Some(b) = &m.budget {
        match (b.max_ns, b.min_per_s) {
            (Some(ns), _) => line.push_str(&format!("  budget ≤ {}", format_ns(ns))),
            (_, Some(rate)) => line.push_str(&format!("  budget ≥ {}", format_rate(rate, "elem"))),
            _ => {}
        }
    }
    if let Some(b) = &m.baseline {
        let noise = if b.beyond_noise { "" } else { ", noise" };
        line.push_str(&format!("  {:+.1}% vs {}{noise}", b.change * 100.0, b.name));
    }
    if let Some(ratio) = m.vs_raw {
        line.push_str(&format!("  {ratio:.2}× raw"));
    }
    line
}

fn write_table(out: &mut dyn Write, run: &RunOutcome) -> std::io::Result<()> {
    for m in &run.results {
        writeln!(out, "{}", table_row(m))?;
    }
    for f in &run.figures {
        writeln!(out, "  {}: {:.3} {}", f.id, f.value, f.unit)?;
    }
    if let Some(w) = &run.wasm {
        writeln!(out, "  wasm: {} bytes ({})", w.bytes, w.path.display())?;
    }
    let budgeted: Vec<_> = run.results.iter().filter_map(|m| m.met).collect();
    writeln!(
        out,
        "{} of {} budgeted benchmarks within budget",
        budgeted.iter().filter(|m| **m).count(),
        budgeted.len()
    )?;
    for failure in &run.failures {
        writeln!(out, "FAILED {failure}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_wanted_when_a_budget_can_reach_it() {
        assert!(pattern_reaches("dtw/full/abs/100", "dtw"));
        assert!(pattern_reaches("render/*", "render"));
        assert!(pattern_reaches("*/x", "anything"));
        assert!(!pattern_reaches("dtw/full", "edit"));
        assert!(pattern_reaches(
            "pipeline/snapshot/x",
            "pipeline/snapshot/x"
        ));
        assert!(!pattern_reaches("classify", "classify/more"));
    }

    #[test]
    fn times_and_rates_read_short() {
        assert_eq!(format_ns(84.0), "84.0 ns");
        assert_eq!(format_ns(22_500.0), "22.50 µs");
        assert_eq!(format_ns(3.2e9), "3.20 s");
        assert_eq!(format_rate(12.5e6, "elem"), "12.50 Melem/s");
    }
}
