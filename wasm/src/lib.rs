//! Midstream's engines for WebAssembly: DTW and edit distance, the attractor analysis of a
//! series, an LTLf check over a JSON trace, and the matrix profile's top motifs, as plain
//! `extern "C"` functions that any WebAssembly host can call without generated glue.
//!
//! # The protocol
//!
//! - The host asks for memory with [`midstream_alloc`] (8-byte aligned, so it can hold `f64`s),
//!   writes its input there (`f64` arrays, or UTF-8 text) and passes pointer and length.
//! - Every function answers with a pointer to a response: its length in bytes as a
//!   little-endian `u32`, then that many bytes of JSON. A failure is the object
//!   `{"error": "..."}`; a success never has a top-level `error` key. The host frees a response
//!   with [`midstream_result_free`] and its own buffers with [`midstream_free`].
//! - The JSON of a success is what the matching command prints with `--json` (`compare`,
//!   `analyze`, `check` for one formula, `motifs`), made by the same functions, except that
//!   `elapsed_ms` is `null`: a wasm32-unknown-unknown module has no clock, so the host times the
//!   call.
//!
//! `wasm/midstream.js` wraps this protocol in a JavaScript API.

mod attractor;

/// The module's allocator: Talc instead of dlmalloc, for size (see `Cargo.toml`). The module is
/// single-threaded (no `atomics` target feature), which Talc's wasm allocator requires.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

mod ltl;
mod memory;
mod meta;
mod temporal;

pub use attractor::midstream_analyze;
pub use ltl::midstream_check;
pub use memory::{midstream_alloc, midstream_free, midstream_result_free};
pub use meta::midstream_motifs;
pub use temporal::{midstream_dtw, midstream_edit};
