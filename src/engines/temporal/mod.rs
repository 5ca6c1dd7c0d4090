//! Temporal comparison: dynamic time warping, LCS and edit distance, subsequence search.
