//! The project's own benchmark results for the Benchmarks pane: criterion's output read from
//! disk ([`results`]) and checked against the built-in speed budgets ([`budgets`]). The data
//! types live in [`crate::model::bench`], so a snapshot can carry a report.

pub mod budgets;
pub mod results;

pub use budgets::{BUDGETS_TEXT, BudgetError, budgets, parse_budgets};
pub use results::{default_results_dir, load_report, load_results};
