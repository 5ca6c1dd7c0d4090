//! Criterion's latest results (`target/criterion/**/new/`), read for the Benchmarks pane.
//!
//! Criterion writes, for every benchmark, `new/benchmark.json` (its id and declared
//! throughput) and `new/estimates.json` (the statistics of one iteration's time, in
//! nanoseconds), and `change/estimates.json` (the relative change from the run before) when
//! there was one. The median is the figure used, as the issues' goals are medians.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::model::bench::{BenchReport, BenchResult, Budget};

/// Where criterion's results are looked for, besides `--criterion-dir`-like overrides:
/// `MIDSTREAM_CRITERION_DIR`, else `$CARGO_TARGET_DIR/criterion`, else `target/criterion`
/// under the working directory (where `cargo bench` puts them).
pub fn default_results_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MIDSTREAM_CRITERION_DIR") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target).join("criterion"),
        None => PathBuf::from("target").join("criterion"),
    }
}

/// Where `midstream-tui bench` keeps its results, baselines and criterion's output:
/// `bench/` in the user's data directory (`~/.local/share/midstream/bench` on Linux).
pub fn default_bench_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "midstream").map(|d| d.data_dir().join("bench"))
}

#[derive(Debug, Deserialize)]
struct BenchmarkJson {
    full_id: String,
    throughput: Option<ThroughputJson>,
}

/// Criterion's `Throughput`: element counts make a rate budgets can use, byte counts a data
/// rate.
#[derive(Debug, Deserialize)]
enum ThroughputJson {
    Bits(u64),
    Elements(u64),
    Bytes(u64),
    BytesDecimal(u64),
    ElementsAndBytes { elements: u64, bytes: u64 },
}

#[derive(Debug, Deserialize)]
struct EstimatesJson {
    median: Estimate,
}

#[derive(Debug, Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Option<ConfidenceInterval>,
}

#[derive(Debug, Deserialize)]
struct ConfidenceInterval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Every result under `dir` (criterion's output directory), sorted by id, and a line for each
/// result that could not be read. A missing directory has no results.
pub fn load_results(dir: &Path) -> (Vec<BenchResult>, Vec<String>) {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            // `report` holds criterion's HTML; `base` and `change` belong to a result.
            if path.file_name().is_some_and(|n| n == "report") {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                match read_result(&path) {
                    Ok(result) => results.push(result),
                    Err(e) => errors.push(format!("{}: {e}", path.display())),
                }
            } else {
                pending.push(path);
            }
        }
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    (results, errors)
}

/// Why one result could not be read (the caller adds the directory).
#[derive(Debug, Error)]
enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{file}: {source}")]
    Json {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Parses criterion's `file` (read from `dir`).
fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &'static str,
) -> Result<T, ReadError> {
    let text = std::fs::read_to_string(dir.join(file))?;
    serde_json::from_str(&text).map_err(|source| ReadError::Json { file, source })
}

/// The result in a `new/` directory.
fn read_result(new: &Path) -> Result<BenchResult, ReadError> {
    let benchmark: BenchmarkJson = read_json(new, "benchmark.json")?;
    let estimates_path = new.join("estimates.json");
    let estimates: EstimatesJson = read_json(new, "estimates.json")?;
    let change = new
        .parent()
        .map(|p| p.join("change").join("estimates.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str::<EstimatesJson>(&text).ok())
        .map(|e| e.median.point_estimate);
    let (elements, bytes) = match benchmark.throughput {
        None => (None, None),
        Some(ThroughputJson::Bits(bits)) => (None, Some(bits / 8)),
        Some(ThroughputJson::Elements(n)) => (Some(n), None),
        Some(ThroughputJson::Bytes(b) | ThroughputJson::BytesDecimal(b)) => (None, Some(b)),
        Some(ThroughputJson::ElementsAndBytes { elements, bytes }) => (Some(elements), Some(bytes)),
    };
    Ok(BenchResult {
        id: benchmark.full_id,
        median_ns: estimates.median.point_estimate,
        interval_ns: estimates
            .median
            .confidence_interval
            .map(|ci| (ci.lower_bound, ci.upper_bound)),
        elements,
        bytes,
        change,
        modified: std::fs::metadata(&estimates_path)
            .and_then(|m| m.modified())
            .ok(),
    })
}

/// The result of benchmark `id` in criterion's output directory `dir`, if it has one.
pub fn find_result(dir: &Path, id: &str) -> Option<BenchResult> {
    load_results(dir).0.into_iter().find(|r| r.id == id)
}

/// Where `midstream-tui bench` keeps its results: `$MIDSTREAM_BENCH_DIR` (as `bench
/// --results-dir` reads it), else [`default_bench_dir`].
pub fn bench_dir() -> Option<PathBuf> {
    std::env::var_os("MIDSTREAM_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(default_bench_dir)
}

/// A run's file not rewritten for this long is not running any more (it was killed): a
/// benchmark of a full run takes well under this.
const RUN_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// The Benchmarks pane's report: `cargo bench`'s results in `criterion_dir` and the latest
/// `midstream-tui bench` run in `bench_dir` (`latest.json`), the newer result of each
/// benchmark kept, checked against `budgets`. A run still going is named in `running`.
pub fn load_pane_report(
    criterion_dir: &Path,
    bench_dir: Option<&Path>,
    budgets: &[Budget],
) -> BenchReport {
    let (mut results, mut errors) = load_results(criterion_dir);
    let mut dir = criterion_dir.to_owned();
    let mut baseline = None;
    let mut running = None;
    if let Some(bench_dir) = bench_dir {
        let latest = super::run::latest_path(bench_dir);
        if latest.exists() {
            match super::outcome::read(&latest) {
                Ok(run) => {
                    let modified = std::fs::metadata(&latest).and_then(|m| m.modified()).ok();
                    let fresh = modified
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age < RUN_STALE_AFTER);
                    if !run.finished && fresh {
                        running = Some(run.current.clone().unwrap_or_else(|| "starting".into()));
                    }
                    if !run.results.is_empty() || running.is_some() {
                        dir = bench_dir.to_owned();
                    }
                    baseline = run.baseline.clone();
                    for m in &run.results {
                        let result = m.to_result(modified);
                        match results.iter_mut().find(|r| r.id == result.id) {
                            Some(old) if old.modified >= result.modified => {}
                            Some(old) => *old = result,
                            None => results.push(result),
                        }
                    }
                    results.sort_by(|a, b| a.id.cmp(&b.id));
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    let mut report = BenchReport::check(&results, budgets);
    report.dir = dir;
    report.baseline = baseline;
    report.running = running;
    report.errors.extend(errors);
    report
}

/// Reads criterion's results in `dir` and checks them against `budgets`.
pub fn load_report(dir: &Path, budgets: &[Budget]) -> BenchReport {
    let (results, errors) = load_results(dir);
    let mut report = BenchReport::check(&results, budgets);
    report.dir = dir.to_owned();
    report.errors.extend(errors);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_output_is_read_with_throughput_and_change() {
        let dir = tempfile::tempdir().unwrap();
        let bench = dir.path().join("edit").join("lev_small").join("1000");
        std::fs::create_dir_all(bench.join("new")).unwrap();
        std::fs::create_dir_all(bench.join("change")).unwrap();
        std::fs::create_dir_all(dir.path().join("report")).unwrap();
        std::fs::write(
            bench.join("new").join("benchmark.json"),
            r#"{"group_id":"edit","function_id":"lev/small","value_str":"1000","throughput":{"Elements":1000},"full_id":"edit/lev/small/1000","directory_name":"edit/lev_small/1000","title":"edit/lev/small/1000"}"#,
        )
        .unwrap();
        let estimates = |median: f64| {
            format!(
                r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":1.5,"standard_error":0.1}},"median":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":{median},"standard_error":0.1}}}}"#
            )
        };
        std::fs::write(
            bench.join("new").join("estimates.json"),
            estimates(25_000.0),
        )
        .unwrap();
        std::fs::write(
            bench.join("change").join("estimates.json"),
            estimates(-0.12),
        )
        .unwrap();
        // A broken result is reported, not fatal.
        let broken = dir.path().join("broken").join("new");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("benchmark.json"), "{").unwrap();

        let (results, errors) = load_results(dir.path());
        assert_eq!(results.len(), 1, "{errors:?}");
        let r = &results[0];
        assert_eq!(r.id, "edit/lev/small/1000");
        assert_eq!(r.median_ns, 25_000.0);
        assert_eq!(r.elements, Some(1000));
        assert_eq!(r.per_s(), Some(1000.0 * 1e9 / 25_000.0));
        assert_eq!(r.change, Some(-0.12));
        assert!(r.modified.is_some());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("broken") && errors[0].contains("benchmark.json"));

        let (none, errors) = load_results(&dir.path().join("absent"));
        assert!(none.is_empty() && errors.is_empty());
    }

    #[test]
    fn the_pane_reads_a_bench_run_going_on_with_its_baseline() {
        use crate::bench::outcome::{self, Measured, RunOutcome};
        let dir = tempfile::tempdir().unwrap();
        let budgets = crate::bench::parse_budgets(
            "[[budget]]\nbench = \"dtw/full/abs/100\"\nmax_ns = 15000\ngoal = \"dtw\"\n",
        )
        .unwrap();
        let result = BenchResult {
            id: "dtw/full/abs/100".into(),
            median_ns: 9_000.0,
            interval_ns: Some((8_900.0, 9_100.0)),
            elements: None,
            bytes: None,
            change: None,
            modified: None,
        };
        let mut measured = Measured::new("temporal", &result, &budgets);
        measured.baseline = Some(outcome::BaselineChange {
            name: "main".into(),
            median_ns: 10_000.0,
            change: -0.1,
            beyond_noise: false,
        });
        let run = RunOutcome {
            version: outcome::FORMAT_VERSION,
            quick: true,
            suites: vec!["temporal".into()],
            started_unix_s: 0,
            finished: false,
            current: Some("dtw/full/abs/1000".into()),
            baseline: Some("main".into()),
            noise_margin: 0.25,
            check_margin: 1.0,
            results: vec![measured],
            figures: Vec::new(),
            wasm: None,
            failures: Vec::new(),
        };
        outcome::write(&crate::bench::run::latest_path(dir.path()), &run).unwrap();
        let report = load_pane_report(&dir.path().join("no-criterion"), Some(dir.path()), &budgets);
        assert_eq!(report.running.as_deref(), Some("dtw/full/abs/1000"));
        assert_eq!(report.baseline.as_deref(), Some("main"));
        assert_eq!(report.dir, dir.path());
        let row = &report.rows[0];
        assert_eq!(row.result.as_ref().unwrap().change, Some(-0.1));
        assert_eq!(report.within(), (1, 1));
    }
}
