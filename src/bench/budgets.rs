//! The speed budgets the issues set (`assets/budgets.toml`), built into the binary.

use serde::Deserialize;
use thiserror::Error;

use crate::model::bench::{Budget, Limit};

/// The budgets, as shipped.
pub const BUDGETS_TEXT: &str = include_str!("../../assets/budgets.toml");

/// Why a budgets file cannot be used.
#[derive(Debug, Error)]
pub enum BudgetError {
    #[error("budgets: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("budget for {bench:?}: give one positive `max_ns` or `min_per_s`")]
    NoLimit { bench: String },
    #[error("ci_margin = {0}: a multiple of the budgets, at least 1")]
    BadMargin(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    ci_margin: Option<f64>,
    budget: Vec<RawBudget>,
}

/// A budgets file: the budgets and the margin CI checks them with.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetSet {
    pub budgets: Vec<Budget>,
    /// `bench --check --ci` fails only beyond this multiple of a budget.
    pub ci_margin: Option<f64>,
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
pub fn budgets() -> Result<Vec<Budget>, BudgetError> {
    parse_budgets(BUDGETS_TEXT)
}

/// Budgets from the text of a budgets file; an error names the budget that is wrong.
pub fn parse_budgets(text: &str) -> Result<Vec<Budget>, BudgetError> {
    parse_budget_file(text).map(|set| set.budgets)
}

/// The whole budgets file: its budgets and its `ci_margin`.
pub fn parse_budget_file(text: &str) -> Result<BudgetSet, BudgetError> {
    let file: BudgetFile = toml::from_str(text)?;
    if let Some(margin) = file.ci_margin
        && (!margin.is_finite() || margin < 1.0)
    {
        return Err(BudgetError::BadMargin(margin));
    }
    let budgets = file
        .budget
        .into_iter()
        .map(|b| {
            let limit = match (b.max_ns, b.min_per_s) {
                (Some(ns), None) if ns > 0.0 => Limit::MaxNs(ns),
                (None, Some(rate)) if rate > 0.0 => Limit::MinPerS(rate),
                _ => return Err(BudgetError::NoLimit { bench: b.bench }),
            };
            Ok(Budget {
                bench: b.bench,
                limit,
                goal: b.goal,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(BudgetSet {
        budgets,
        ci_margin: file.ci_margin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bench::{BenchReport, BenchResult, Verdict};

    #[test]
    fn the_shipped_budgets_parse() {
        let budgets = budgets().unwrap();
        assert!(budgets.len() >= 15);
        let lev = budgets
            .iter()
            .find(|b| b.bench == "edit/levenshtein/*/1000")
            .unwrap();
        assert_eq!(lev.limit, Limit::MaxNs(30_000.0));
        assert_eq!(
            parse_budget_file(BUDGETS_TEXT).unwrap().ci_margin,
            Some(3.0)
        );
        // The headline scheduling budget matches the benchmark's real ids.
        let ids = ["schedule_one_task/submit_detached/workers/1", "classify"];
        for id in ids {
            assert!(
                budgets
                    .iter()
                    .any(|b| crate::model::bench::id_matches(&b.bench, id)),
                "{id}"
            );
        }
        assert!(parse_budget_file("ci_margin = 0.5\nbudget = []\n").is_err());
    }

    #[test]
    fn a_budget_needs_exactly_one_limit() {
        let err = parse_budgets("[[budget]]\nbench = \"x\"\ngoal = \"g\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"x\""), "{err}");
        let both = "[[budget]]\nbench = \"x\"\ngoal = \"g\"\nmax_ns = 1\nmin_per_s = 2\n";
        assert!(parse_budgets(both).is_err());
    }

    fn result(id: &str, median_ns: f64, elements: Option<u64>) -> BenchResult {
        BenchResult {
            interval_ns: None,
            bytes: None,
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
}
