//! The project's own benchmark results for the Benchmarks pane: criterion's output read from
//! disk ([`results`]) and checked against the built-in speed budgets ([`budgets`]), and the
//! WebAssembly module's size against its budget ([`wasm_size`]). The data types live in
//! [`crate::model::bench`], so a snapshot can carry a report.

pub mod budgets;
pub mod results;
pub mod wasm_size;

pub use budgets::{BUDGETS_TEXT, BudgetError, budgets, parse_budgets};
pub use results::{default_results_dir, load_report, load_results};
pub use wasm_size::{
    WASM_ARTIFACT, WASM_BUILD_COMMAND, WASM_GZIP_BUDGET_BYTES, WasmSize, WasmSizeError,
    default_wasm_path, gzip_len, wasm_size,
};
