//! What the Benchmarks pane shows: criterion's latest results (`target/criterion/**/new/`),
//! checked against the speed budgets the issues set (`assets/budgets.toml`).
//!
//! Criterion writes, for every benchmark, `new/benchmark.json` (its id and declared
//! throughput) and `new/estimates.json` (the statistics of one iteration's time, in
//! nanoseconds), and `change/estimates.json` (the relative change from the run before) when
//! there was one. The median is the figure used, as the issues' goals are medians.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

/// The budgets, as shipped.
pub const BUDGETS_TEXT: &str = include_str!("../../assets/budgets.toml");

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

/// A speed goal for the benchmarks whose id matches `bench`.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// A criterion id, `*` standing for one whole `/`-separated part.
    pub bench: String,
    pub limit: Limit,
    /// The goal in words, with the issue that set it.
    pub goal: String,
}

/// What a budget bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// The median time of one iteration, at most this many nanoseconds.
    MaxNs(f64),
    /// Elements per second (for benchmarks that declare a throughput), at least this many.
    MinPerS(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    budget: Vec<RawBudget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    bench: String,
    max_ns: Option<f64>,
    min_per_s: Option<f64>,
    goal: String,
}

/// The shipped budgets.
pub fn budgets() -> Result<Vec<Budget>, String> {
    parse_budgets(BUDGETS_TEXT)
}

/// Budgets from the text of a budgets file; an error names the budget that is wrong.
pub fn parse_budgets(text: &str) -> Result<Vec<Budget>, String> {
    let file: BudgetFile = toml::from_str(text).map_err(|e| format!("budgets: {e}"))?;
    file.budget
        .into_iter()
        .map(|b| {
            let limit = match (b.max_ns, b.min_per_s) {
                (Some(ns), None) if ns > 0.0 => Limit::MaxNs(ns),
                (None, Some(rate)) if rate > 0.0 => Limit::MinPerS(rate),
                _ => {
                    return Err(format!(
                        "budget for {:?}: give one positive `max_ns` or `min_per_s`",
                        b.bench
                    ));
                }
            };
            Ok(Budget {
                bench: b.bench,
                limit,
                goal: b.goal,
            })
        })
        .collect()
}

/// Whether criterion id `id` matches `pattern` (`*` matches one whole part).
pub fn id_matches(pattern: &str, id: &str) -> bool {
    let mut parts = id.split('/');
    let mut wanted = pattern.split('/');
    loop {
        match (wanted.next(), parts.next()) {
            (None, None) => return true,
            (Some(w), Some(p)) if w == "*" || w == p => {}
            _ => return false,
        }
    }
}

/// One benchmark's latest result.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Criterion's full id: group/function/parameter.
    pub id: String,
    /// Median time of one iteration, nanoseconds.
    pub median_ns: f64,
    /// Elements per iteration, when the benchmark declares a throughput.
    pub elements: Option<u64>,
    /// Relative change of the median from the run before (0.05: 5% slower), if any.
    pub change: Option<f64>,
    /// When criterion wrote it.
    pub modified: Option<SystemTime>,
}

impl BenchResult {
    /// Elements per second, when the benchmark declares a throughput.
    pub fn per_s(&self) -> Option<f64> {
        self.elements
            .filter(|_| self.median_ns > 0.0)
            .map(|n| n as f64 * 1e9 / self.median_ns)
    }
}

#[derive(Debug, Deserialize)]
struct BenchmarkJson {
    full_id: String,
    throughput: Option<ThroughputJson>,
}

/// Criterion's `Throughput`; only element counts make a rate budgets can use.
#[derive(Debug, Deserialize)]
enum ThroughputJson {
    Elements(u64),
    Bytes(serde::de::IgnoredAny),
    BytesDecimal(serde::de::IgnoredAny),
    ElementsAndBytes {
        elements: u64,
        #[serde(rename = "bytes")]
        _bytes: serde::de::IgnoredAny,
    },
}

#[derive(Debug, Deserialize)]
struct EstimatesJson {
    median: Estimate,
}

#[derive(Debug, Deserialize)]
struct Estimate {
    point_estimate: f64,
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

/// The result in a `new/` directory.
fn read_result(new: &Path) -> Result<BenchResult, String> {
    let read = |path: PathBuf| std::fs::read_to_string(&path).map_err(|e| e.to_string());
    let benchmark: BenchmarkJson = serde_json::from_str(&read(new.join("benchmark.json"))?)
        .map_err(|e| format!("benchmark.json: {e}"))?;
    let estimates_path = new.join("estimates.json");
    let estimates: EstimatesJson = serde_json::from_str(&read(estimates_path.clone())?)
        .map_err(|e| format!("estimates.json: {e}"))?;
    let change = new
        .parent()
        .map(|p| p.join("change").join("estimates.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str::<EstimatesJson>(&text).ok())
        .map(|e| e.median.point_estimate);
    let elements = benchmark.throughput.and_then(|t| match t {
        ThroughputJson::Elements(n) | ThroughputJson::ElementsAndBytes { elements: n, .. } => {
            Some(n)
        }
        ThroughputJson::Bytes(_) | ThroughputJson::BytesDecimal(_) => None,
    });
    Ok(BenchResult {
        id: benchmark.full_id,
        median_ns: estimates.median.point_estimate,
        elements,
        change,
        modified: std::fs::metadata(&estimates_path)
            .and_then(|m| m.modified())
            .ok(),
    })
}

/// How a result stands against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Within,
    Over,
    /// The budget is a rate but the benchmark declares no throughput.
    NotComparable,
}

/// One row of the pane: a budgeted result, or a budget nothing has measured yet.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    pub budget: Budget,
    /// The matching result, `None` when the benchmark has not been run.
    pub result: Option<BenchResult>,
    pub verdict: Option<Verdict>,
    /// How much of the budget the result uses: above 1 is over (time ÷ budget, or budget ÷
    /// rate).
    pub load: Option<f64>,
}

/// Criterion's results checked against the budgets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenchReport {
    /// Where the results were read.
    pub dir: PathBuf,
    /// Budget order; a budget with a `*` gives one row per matching result.
    pub rows: Vec<BudgetRow>,
    /// Results no budget covers.
    pub unbudgeted: usize,
    /// Results that could not be read, and a bad budgets file.
    pub errors: Vec<String>,
    /// The newest result's time.
    pub newest: Option<SystemTime>,
}

impl BenchReport {
    /// Reads `dir` and checks it against `budgets`.
    pub fn load(dir: &Path, budgets: &[Budget]) -> Self {
        let (results, errors) = load_results(dir);
        let mut report = Self::check(&results, budgets);
        report.dir = dir.to_owned();
        report.errors.extend(errors);
        report
    }

    /// `results` against `budgets`.
    pub fn check(results: &[BenchResult], budgets: &[Budget]) -> Self {
        let mut rows = Vec::new();
        let mut covered = vec![false; results.len()];
        for budget in budgets {
            let before = rows.len();
            for (i, result) in results.iter().enumerate() {
                if id_matches(&budget.bench, &result.id) {
                    covered[i] = true;
                    let (verdict, load) = judge(budget.limit, result);
                    rows.push(BudgetRow {
                        budget: budget.clone(),
                        result: Some(result.clone()),
                        verdict: Some(verdict),
                        load,
                    });
                }
            }
            if rows.len() == before {
                rows.push(BudgetRow {
                    budget: budget.clone(),
                    result: None,
                    verdict: None,
                    load: None,
                });
            }
        }
        Self {
            dir: PathBuf::new(),
            rows,
            unbudgeted: covered.iter().filter(|c| !**c).count(),
            errors: Vec::new(),
            newest: results.iter().filter_map(|r| r.modified).max(),
        }
    }

    /// Rows measured and within their budget, and rows measured at all.
    pub fn within(&self) -> (usize, usize) {
        let measured = self.rows.iter().filter(|r| r.verdict.is_some());
        let within = measured
            .clone()
            .filter(|r| r.verdict == Some(Verdict::Within))
            .count();
        (within, measured.count())
    }
}

fn judge(limit: Limit, result: &BenchResult) -> (Verdict, Option<f64>) {
    let load = match limit {
        Limit::MaxNs(max) => Some(result.median_ns / max),
        Limit::MinPerS(min) => result.per_s().map(|rate| min / rate),
    };
    let verdict = match load {
        None => Verdict::NotComparable,
        Some(l) if l <= 1.0 => Verdict::Within,
        Some(_) => Verdict::Over,
    };
    (verdict, load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_budgets_parse() {
        let budgets = budgets().unwrap();
        assert!(budgets.len() >= 15);
        let lev = budgets
            .iter()
            .find(|b| b.bench == "edit/levenshtein/*/1000")
            .unwrap();
        assert_eq!(lev.limit, Limit::MaxNs(30_000.0));
    }

    #[test]
    fn a_budget_needs_exactly_one_limit() {
        let err = parse_budgets("[[budget]]\nbench = \"x\"\ngoal = \"g\"\n").unwrap_err();
        assert!(err.contains("\"x\""), "{err}");
        let both = "[[budget]]\nbench = \"x\"\ngoal = \"g\"\nmax_ns = 1\nmin_per_s = 2\n";
        assert!(parse_budgets(both).is_err());
    }

    #[test]
    fn stars_match_one_whole_part() {
        assert!(id_matches(
            "edit/levenshtein/*/1000",
            "edit/levenshtein/large/1000"
        ));
        assert!(!id_matches(
            "edit/levenshtein/*/1000",
            "edit/levenshtein/large/100"
        ));
        assert!(!id_matches(
            "edit/levenshtein/*/1000",
            "edit/levenshtein/1000"
        ));
        assert!(!id_matches("render/*", "render/a/b"));
        assert!(id_matches(
            "monitor_step/G(p -> F q)/state_map",
            "monitor_step/G(p -> F q)/state_map"
        ));
    }

    fn result(id: &str, median_ns: f64, elements: Option<u64>) -> BenchResult {
        BenchResult {
            id: id.into(),
            median_ns,
            elements,
            change: None,
            modified: None,
        }
    }

    #[test]
    fn results_are_judged_by_time_or_by_rate() {
        let budgets = parse_budgets(
            r#"
            [[budget]]
            bench = "edit/lev/*"
            max_ns = 30000
            goal = "lev"
            [[budget]]
            bench = "search/*"
            min_per_s = 10000000
            goal = "search"
            [[budget]]
            bench = "never/run"
            max_ns = 1
            goal = "never"
            "#,
        )
        .unwrap();
        let results = [
            result("edit/lev/small", 20_000.0, None),
            result("edit/lev/large", 45_000.0, None),
            // 1 M elements in 80 ms: 12.5 M/s.
            result("search/abs", 80e6, Some(1_000_000)),
            result("search/no_throughput", 1.0, None),
            result("other/thing", 5.0, None),
        ];
        let report = BenchReport::check(&results, &budgets);
        let verdicts: Vec<_> = report
            .rows
            .iter()
            .map(|r| (r.result.as_ref().map(|x| x.id.as_str()), r.verdict))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                (Some("edit/lev/small"), Some(Verdict::Within)),
                (Some("edit/lev/large"), Some(Verdict::Over)),
                (Some("search/abs"), Some(Verdict::Within)),
                (Some("search/no_throughput"), Some(Verdict::NotComparable)),
                (None, None),
            ]
        );
        assert!((report.rows[1].load.unwrap() - 1.5).abs() < 1e-12);
        assert!((report.rows[2].load.unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(report.unbudgeted, 1);
        assert_eq!(report.within(), (2, 4));
    }

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
}
