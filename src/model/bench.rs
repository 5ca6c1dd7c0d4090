//! Benchmark results and the speed budgets they are checked against: what the Benchmarks
//! pane shows. Plain data and the pure check; reading criterion's files and the budgets file
//! is `crate::bench`'s work.

use std::path::PathBuf;
use std::time::SystemTime;

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
    /// The median's confidence interval (criterion's bootstrap, 95%), nanoseconds.
    pub interval_ns: Option<(f64, f64)>,
    /// Elements per iteration, when the benchmark declares a throughput.
    pub elements: Option<u64>,
    /// Bytes per iteration, when the benchmark declares a throughput in bytes.
    pub bytes: Option<u64>,
    /// Relative change of the median from the run before, or from the baseline the run was
    /// compared with (0.05: 5% slower), if any.
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

    /// Bytes per second, when the benchmark declares a throughput in bytes.
    pub fn bytes_per_s(&self) -> Option<f64> {
        self.bytes
            .filter(|_| self.median_ns > 0.0)
            .map(|n| n as f64 * 1e9 / self.median_ns)
    }
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
    /// The named baseline the changes are measured from (`bench --baseline NAME`); `None`: from
    /// the run before.
    pub baseline: Option<String>,
    /// What a `bench` run going on now is measuring (the pane's background run included).
    pub running: Option<String>,
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
            baseline: None,
            running: None,
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
}
