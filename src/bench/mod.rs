//! The project's own benchmarks: the suites (`suites/`, shared with `cargo bench` through
//! [`harness`]), `midstream-tui bench` ([`run`]), its results, baselines and noise margin
//! ([`outcome`], [`noise`]), its charts ([`report`]); for the Benchmarks pane, criterion's
//! output and the runs' files read from disk ([`results`]) and checked against the built-in
//! speed budgets ([`budgets`]); and the WebAssembly module's size against its budget
//! ([`wasm_size`]). The data types the pane draws live in
//! [`crate::model::bench`], so a snapshot can carry a report.

pub mod budgets;
pub mod harness;
pub mod noise;
pub mod outcome;
pub mod report;
pub mod results;
pub mod run;
pub mod stdio;
pub mod suites;
pub mod wasm_size;

pub use budgets::{BUDGETS_TEXT, BudgetError, budgets, parse_budgets};
pub use results::{default_results_dir, load_report, load_results};
pub use wasm_size::{
    WASM_ARTIFACT, WASM_BUILD_COMMAND, WASM_GZIP_BUDGET_BYTES, WasmSize, WasmSizeError,
    default_wasm_path, gzip_len, wasm_size,
};
