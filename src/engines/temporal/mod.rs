//! Temporal comparison: dynamic time warping, LCS and edit distance, subsequence search.
//!
//! - [`dtw`](dtw::dtw), [`dtw_bounded`](dtw::dtw_bounded), [`dtw_path`](dtw::dtw_path): DTW
//!   with the two conventions of DESIGN.md (`|a − b|` summed; square root of the summed
//!   squares) and its band rule.
//! - [`bounds`]: LB_Kim and LB_Keogh.
//! - [`StreamingSearch`]: UCR-style subsequence search over an endless series, fed sample by
//!   sample; [`best_match`] for a whole series.
//! - [`edit`]: Levenshtein distance and LCS length over tokens or Unicode texts, bit-parallel,
//!   with the plain dynamic programs as oracles, and normalised similarities.
//! - [`ContentCache`]: an LRU cache of results keyed on the content of both sequences.
//! - [`RepetitionDetector`]: flags a token stream that repeats an earlier stretch of itself.
//!
//! Everything here is a pure function or a plain state machine over slices: no I/O, no
//! threads, no globals.

mod alphabet;
mod bitparallel;
pub mod bounds;
pub mod cache;
pub mod dtw;
pub mod edit;
pub mod error;
pub mod repetition;
pub mod search;

pub use bounds::{Envelope, lb_keogh, lb_keogh_envelope, lb_kim, lb_kim_fl};
pub use cache::{CacheBounds, CacheStats, Comparison, ContentCache, KeyContent};
pub use dtw::{DtwCost, DtwOptions, WarpingPath, dtw, dtw_bounded, dtw_path, effective_window};
pub use edit::{
    lcs_dp, lcs_len, lcs_len_str, lcs_similarity, lcs_similarity_str, levenshtein, levenshtein_dp,
    levenshtein_similarity, levenshtein_similarity_str, levenshtein_str,
};
pub use error::{Operand, TemporalError};
pub use repetition::{Repetition, RepetitionConfig, RepetitionDetector};
pub use search::{
    PatternMatch, SearchConfig, SearchStats, StreamingSearch, best_match, z_normalise,
};
