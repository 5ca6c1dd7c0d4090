//! What a `bench` run measured: the one JSON object of `--json`, also written (as it grows) to
//! `latest.json` in the results directory, where the Benchmarks pane reads it, and kept as a
//! named baseline (`baselines/NAME.json`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::noise::{self, Estimate};
use crate::model::bench::{BenchResult, Budget, Limit, id_matches};

/// Version of the file's layout.
pub const FORMAT_VERSION: u32 = 1;

/// The run, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub version: u32,
    /// `--quick`: only the budgeted benchmarks, short measurements.
    pub quick: bool,
    /// The suites run.
    pub suites: Vec<String>,
    /// When the run started, seconds since the Unix epoch.
    pub started_unix_s: u64,
    /// False while the run goes on (the file is rewritten after each benchmark).
    pub finished: bool,
    /// The benchmark being measured, while the run goes on.
    pub current: Option<String>,
    /// The baseline compared with (`--baseline`).
    pub baseline: Option<String>,
    /// The relative change beyond which a difference from the baseline can be real.
    pub noise_margin: f64,
    /// `--check` fails a benchmark beyond this multiple of its budget.
    pub check_margin: f64,
    pub results: Vec<Measured>,
    /// Figures a benchmark reports besides its time (percentiles, counts), by benchmark.
    pub figures: Vec<Figure>,
    /// The WebAssembly engines' size, when that build's output is present.
    pub wasm: Option<WasmSize>,
    /// What `--check` found: every benchmark over its budget or slower than the baseline.
    pub failures: Vec<String>,
}

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Criterion's id: group/function/parameter.
    pub id: String,
    pub suite: String,
    /// Median time of one iteration.
    pub median_ns: f64,
    /// The median's 95% confidence interval (criterion's bootstrap).
    pub interval: Option<Interval>,
    pub throughput: Option<Throughput>,
    pub budget: Option<BudgetJson>,
    /// Share of the budget used (above 1: over).
    pub load: Option<f64>,
    /// Whether the budget is met; `None` without a budget (or one the result cannot be
    /// compared with).
    pub met: Option<bool>,
    pub baseline: Option<BaselineChange>,
    /// For a Midstream benchmark with a raw quinn twin in the run (`quic/midstream/X` and
    /// `quic/raw/X`): Midstream's rate ÷ raw's, or raw's time ÷ Midstream's; 1 is parity.
    pub vs_raw: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low_ns: f64,
    pub high_ns: f64,
    pub confidence: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub elements: Option<u64>,
    pub per_s: Option<f64>,
    pub bytes: Option<u64>,
    pub bytes_per_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetJson {
    /// The budget's id pattern.
    pub bench: String,
    pub max_ns: Option<f64>,
    pub min_per_s: Option<f64>,
    pub goal: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineChange {
    pub name: String,
    pub median_ns: f64,
    /// new ÷ baseline − 1 of the median time.
    pub change: f64,
    pub beyond_noise: bool,
}

/// A figure a benchmark reports besides its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub id: String,
    pub value: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WasmSize {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Criterion's confidence level for the median's interval.
const CONFIDENCE: f64 = 0.95;

impl Measured {
    /// `result` of `suite`, judged against the first budget that matches its id.
    pub fn new(suite: &str, result: &BenchResult, budgets: &[Budget]) -> Self {
        let budget = budgets.iter().find(|b| id_matches(&b.bench, &result.id));
        let per_s = result.per_s();
        let load = budget.and_then(|b| match b.limit {
            Limit::MaxNs(max) => Some(result.median_ns / max),
            Limit::MinPerS(min) => per_s.map(|rate| min / rate),
        });
        Self {
            id: result.id.clone(),
            suite: suite.to_owned(),
            median_ns: result.median_ns,
            interval: result.interval_ns.map(|(low_ns, high_ns)| Interval {
                low_ns,
                high_ns,
                confidence: CONFIDENCE,
            }),
            throughput: (result.elements.is_some() || result.bytes.is_some()).then(|| Throughput {
                elements: result.elements,
                per_s,
                bytes: result.bytes,
                bytes_per_s: result.bytes_per_s(),
            }),
            budget: budget.map(|b| BudgetJson {
                bench: b.bench.clone(),
                max_ns: match b.limit {
                    Limit::MaxNs(ns) => Some(ns),
                    Limit::MinPerS(_) => None,
                },
                min_per_s: match b.limit {
                    Limit::MinPerS(rate) => Some(rate),
                    Limit::MaxNs(_) => None,
                },
                goal: b.goal.clone(),
            }),
            load,
            met: load.map(|l| l <= 1.0),
            baseline: None,
            vs_raw: None,
        }
    }

    pub fn estimate(&self) -> Estimate {
        Estimate {
            median_ns: self.median_ns,
            interval_ns: self.interval.map(|i| (i.low_ns, i.high_ns)),
        }
    }

    /// Compares with the same benchmark in `baseline` (named `name`), if it has it.
    pub fn compare_with(&mut self, name: &str, baseline: &RunOutcome, margin: f64) {
        if let Some(base) = baseline.results.iter().find(|b| b.id == self.id) {
            let c = noise::compare(base.estimate(), self.estimate(), margin);
            self.baseline = Some(BaselineChange {
                name: name.to_owned(),
                median_ns: base.median_ns,
                change: c.change,
                beyond_noise: c.beyond_noise,
            });
        }
    }

    /// The result as the Benchmarks pane shows it (the change is the baseline's, if any).
    pub fn to_result(&self, modified: Option<SystemTime>) -> BenchResult {
        BenchResult {
            id: self.id.clone(),
            median_ns: self.median_ns,
            interval_ns: self.interval.map(|i| (i.low_ns, i.high_ns)),
            elements: self.throughput.and_then(|t| t.elements),
            bytes: self.throughput.and_then(|t| t.bytes),
            change: self.baseline.as_ref().map(|b| b.change),
            modified,
        }
    }
}

/// The `raw` twin of a Midstream QUIC benchmark id (`quic/midstream/X` → `quic/raw/X`).
pub fn raw_twin(id: &str) -> Option<String> {
    id.strip_prefix("quic/midstream/")
        .map(|rest| format!("quic/raw/{rest}"))
}

impl RunOutcome {
    /// Fills in each Midstream QUIC result's ratio to its raw quinn twin.
    pub fn link_raw_twins(&mut self) {
        let ratios: Vec<Option<f64>> = self
            .results
            .iter()
            .map(|r| {
                let twin = raw_twin(&r.id)?;
                let raw = self.results.iter().find(|x| x.id == twin)?;
                (r.median_ns > 0.0).then(|| raw.median_ns / r.median_ns)
            })
            .collect();
        for (r, ratio) in self.results.iter_mut().zip(ratios) {
            r.vs_raw = ratio;
        }
    }

    /// What `--check` fails on: results over `check_margin` × their budget, and results
    /// slower than the baseline beyond noise. One line each, naming the benchmark.
    pub fn check_failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for r in &self.results {
            if let (Some(load), Some(budget)) = (r.load, &r.budget)
                && load > self.check_margin
            {
                failures.push(format!(
                    "{}: over budget: {:.2}× its budget ({})",
                    r.id, load, budget.goal
                ));
            }
            if let Some(b) = &r.baseline
                && b.beyond_noise
                && b.change > 0.0
            {
                failures.push(format!(
                    "{}: {:+.0}% slower than baseline {} (beyond the {:.0}% noise margin)",
                    r.id,
                    b.change * 100.0,
                    b.name,
                    self.noise_margin * 100.0
                ));
            }
        }
        failures
    }
}

/// Why a results or baseline file cannot be used.
#[derive(Debug, Error)]
pub enum OutcomeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("no baseline named {name:?} in {dir} (make one with --save-baseline {name})")]
    NoBaseline { name: String, dir: PathBuf },
    #[error("a baseline name is letters, digits, '-', '_' and '.', not {0:?}")]
    BadName(String),
}

/// Reads a run's file.
pub fn read(path: &Path) -> Result<RunOutcome, OutcomeError> {
    let text = std::fs::read_to_string(path).map_err(|source| OutcomeError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| OutcomeError::Json {
        path: path.to_owned(),
        source,
    })
}

/// Writes a run's file whole: to a temporary name first, then renamed, so a reader never sees
/// half a file.
pub fn write(path: &Path, outcome: &RunOutcome) -> Result<(), OutcomeError> {
    let io = |source| OutcomeError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let text = serde_json::to_string_pretty(outcome).map_err(|source| OutcomeError::Json {
        path: path.to_owned(),
        source,
    })?;
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}

/// The file of baseline `name` under the results directory `dir`.
pub fn baseline_path(dir: &Path, name: &str) -> Result<PathBuf, OutcomeError> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(OutcomeError::BadName(name.to_owned()));
    }
    Ok(dir.join("baselines").join(format!("{name}.json")))
}

/// Baseline `name`, kept under the results directory `dir`.
pub fn read_baseline(dir: &Path, name: &str) -> Result<RunOutcome, OutcomeError> {
    let path = baseline_path(dir, name)?;
    if !path.exists() {
        return Err(OutcomeError::NoBaseline {
            name: name.to_owned(),
            dir: dir.join("baselines"),
        });
    }
    read(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(id: &str, median_ns: f64) -> Measured {
        let result = BenchResult {
            id: id.into(),
            median_ns,
            interval_ns: Some((median_ns * 0.98, median_ns * 1.02)),
            elements: None,
            bytes: Some(1000),
            change: None,
            modified: None,
        };
        Measured::new("quic", &result, &[])
    }

    fn outcome(results: Vec<Measured>) -> RunOutcome {
        RunOutcome {
            version: FORMAT_VERSION,
            quick: true,
            suites: vec!["quic".into()],
            started_unix_s: 0,
            finished: true,
            current: None,
            baseline: None,
            noise_margin: noise::NOISE_MARGIN,
            check_margin: 1.0,
            results,
            figures: Vec::new(),
            wasm: None,
            failures: Vec::new(),
        }
    }

    #[test]
    fn midstream_results_get_their_ratio_to_raw() {
        let mut run = outcome(vec![
            measured("quic/midstream/single_stream", 125.0),
            measured("quic/raw/single_stream", 100.0),
            measured("quic/midstream/handshake", 50.0),
        ]);
        run.link_raw_twins();
        assert_eq!(run.results[0].vs_raw, Some(0.8));
        assert_eq!(run.results[1].vs_raw, None);
        assert_eq!(run.results[2].vs_raw, None, "no raw twin in the run");
        let t = run.results[0].throughput.unwrap();
        assert_eq!(t.bytes_per_s, Some(8e9));
    }

    #[test]
    fn check_names_budget_overruns_beyond_the_margin_and_regressions() {
        let budgets = crate::bench::parse_budgets(
            "[[budget]]\nbench = \"a/*\"\nmax_ns = 100\ngoal = \"a fast\"\n",
        )
        .unwrap();
        let result = |id: &str, ns: f64| BenchResult {
            id: id.into(),
            median_ns: ns,
            interval_ns: Some((ns * 0.99, ns * 1.01)),
            elements: None,
            bytes: None,
            change: None,
            modified: None,
        };
        let mut run = outcome(vec![
            Measured::new("s", &result("a/within", 90.0), &budgets),
            Measured::new("s", &result("a/over", 150.0), &budgets),
            Measured::new("s", &result("b/slower", 100.0), &budgets),
        ]);
        assert_eq!(run.results[1].met, Some(false));
        assert_eq!(run.results[2].met, None);
        let baseline = outcome(vec![Measured::new(
            "s",
            &result("b/slower", 40.0),
            &budgets,
        )]);
        for r in &mut run.results {
            r.compare_with("before", &baseline, noise::NOISE_MARGIN);
        }
        let failures = run.check_failures();
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].starts_with("a/over: over budget: 1.50×"),
            "{failures:?}"
        );
        assert!(
            failures[1].starts_with("b/slower: +150% slower than baseline before"),
            "{failures:?}"
        );
        // With a margin of 2× the budget only the regression remains.
        run.check_margin = 2.0;
        assert_eq!(run.check_failures().len(), 1);
    }

    #[test]
    fn baseline_names_are_plain_file_names() {
        let dir = Path::new("/data");
        assert!(baseline_path(dir, "main-2026.12").is_ok());
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(baseline_path(dir, bad).is_err(), "{bad}");
        }
    }
}
