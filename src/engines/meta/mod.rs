//! Meta-learning: motif discovery with the matrix profile.
//!
//! The matrix profile of a series (Yeh et al., "Matrix Profile I", ICDM 2016) holds, for every
//! window of `m` samples, the z-normalised Euclidean distance to its nearest neighbour among the
//! other windows, and that neighbour's position (the matrix profile index). Windows that overlap
//! too much are trivial matches and never count as neighbours: window `j` is excluded for window
//! `i` when `|i − j| ≤ ⌈m/4⌉` ([`exclusion_zone`], the convention of stumpy and of STOMP; STAMP
//! used `m/2`). The smallest profile values are the motifs (the most similar pairs of windows);
//! the largest are the discords (the windows least like anything else).
//!
//! - [`matrix_profile`] computes the exact profile in O(n²) time and O(n) memory by walking the
//!   diagonals of the distance matrix with running centred dot products (STOMP, Zhu et al.
//!   2016, with the mean-centred update of SCAMP, Zimmerman et al. 2019; see `profile`), then
//!   recomputes from the definition the entries whose correlation the running products cannot
//!   give to full precision (close pairs, windows with small norms).
//! - [`StreamingMatrixProfile`] appends one sample at a time and updates the profile in O(n)
//!   (STAMPI, Yeh et al. 2016, Table 5); its profile is the batch profile, bit for bit wherever
//!   both chose the same neighbour (ties may pick different ones).
//! - [`motifs`] and [`discords`] pick the top-k pairs and outliers from a profile, each later
//!   pick excluded when it falls in the exclusion zone of an earlier one (see `motifs`).
//!
//! Distances follow stumpy's conventions, so that results agree with it: the distance between
//! two windows is `√(2m(1 − ρ))` with `ρ` their Pearson correlation; a window is constant when
//! all its samples are equal (or its centred norm is zero in floating point); two constant
//! windows are at distance 0, a constant and a non-constant one at `√m` (as if `ρ = ½`).
//!
//! Files by concern: `stats` (per-window means, norms and the update terms), `profile` (the
//! batch computation), `streaming` (STAMPI), `motifs` (top-k selection); `edm` (simplex
//! projection, S-map and the self-tuning dynamics profile) and `tuning` (dominant period and
//! motif window) are the self-tuning side.

pub mod edm;
pub mod learning;
pub mod motifs;
pub mod profile;
mod stats;
pub mod streaming;
pub mod tuning;

pub use edm::{
    DynamicsProfile, EdmError, EdmParams, Skill, embed_dimension, predict_nonlinear,
    profile_dynamics, profile_dynamics_with, simplex, smap,
};
pub use motifs::{Discord, MotifDiscovery, MotifPair, discords, discover, motifs};
pub use profile::{MatrixProfile, matrix_profile};
pub use streaming::StreamingMatrixProfile;
pub use tuning::{Period, dominant_period, motif_window};

/// The smallest window with a meaningful z-normalised distance: with `m = 2` every window
/// normalises to `[−1, 1]` or `[1, −1]`, and with `m = 1` the standard deviation is zero
/// (stumpy's `check_window_size` gives the same reason).
pub const MIN_WINDOW: usize = 3;

/// Denominator of the exclusion zone `⌈m / 4⌉` (stumpy's `STUMPY_EXCL_ZONE_DENOM`, after the
/// STOMP paper's Definition 3).
pub const EXCLUSION_ZONE_DENOMINATOR: usize = 4;

/// Largest accepted magnitude of a sample. The profile is built from sums of `m` products of
/// centred samples; below this bound they stay far inside the f64 range for any window that
/// fits in memory, above it they could overflow to infinity.
pub const MAX_MAGNITUDE: f64 = 1e100;

/// Half-width of the trivial-match exclusion zone for window `m`: window `j` is no neighbour of
/// window `i` when `|i − j| ≤ exclusion_zone(m)`.
pub fn exclusion_zone(window: usize) -> usize {
    window.div_ceil(EXCLUSION_ZONE_DENOMINATOR)
}

/// Whether every window of a series of `n` samples has at least one neighbour outside its
/// exclusion zone, which is what makes the whole profile defined. The central window is the
/// worst placed: its farthest neighbour is `⌊l/2⌋` positions away (`l = n − m + 1` windows), so
/// the condition is `⌊l/2⌋ > ⌈m/4⌉` (stumpy warns and returns infinite distances otherwise).
pub fn profile_is_defined(n: usize, window: usize) -> bool {
    if window < MIN_WINDOW || window > n {
        return false;
    }
    let windows = n - window + 1;
    windows / 2 > exclusion_zone(window)
}

/// The largest window whose profile is defined for `n` samples, if any (about `2n/3`).
pub fn max_window(n: usize) -> Option<usize> {
    (MIN_WINDOW..=n).rev().find(|&m| profile_is_defined(n, m))
}

/// What stops a matrix profile, with the value that was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatrixProfileError {
    #[error("window {window} is too small: at least {MIN_WINDOW} samples are needed")]
    WindowTooSmall { window: usize },
    #[error(
        "window {window} is too large for {n} samples: {}",
        match max_window(*n) {
            Some(max) => format!(
                "some window would have no neighbour outside its exclusion zone of ±{} samples \
                 (the largest window for {n} samples is {max})",
                exclusion_zone(*window)
            ),
            None => format!(
                "the profile needs at least {} samples",
                min_samples(MIN_WINDOW)
            ),
        }
    )]
    WindowTooLarge { window: usize, n: usize },
    #[error("sample {index} is not a finite number ({value})")]
    NonFinite { index: usize, value: f64 },
    #[error(
        "sample {index} is too large ({value}): magnitudes above {MAX_MAGNITUDE:e} are not accepted"
    )]
    TooLarge { index: usize, value: f64 },
}

/// The fewest samples for which a window of `m` has a defined profile.
pub fn min_samples(window: usize) -> usize {
    // l = n − m + 1 windows; ⌊l/2⌋ > e ⇔ l ≥ 2e + 2.
    window + 2 * exclusion_zone(window) + 1
}

/// Checks one sample for the profile: finite and of a magnitude whose squared sums fit.
pub(crate) fn check_sample(index: usize, value: f64) -> Result<(), MatrixProfileError> {
    if !value.is_finite() {
        Err(MatrixProfileError::NonFinite { index, value })
    } else if value.abs() > MAX_MAGNITUDE {
        Err(MatrixProfileError::TooLarge { index, value })
    } else {
        Ok(())
    }
}

/// Checks a window size against a series length and every sample of the series.
pub(crate) fn validate(series: &[f64], window: usize) -> Result<(), MatrixProfileError> {
    if window < MIN_WINDOW {
        return Err(MatrixProfileError::WindowTooSmall { window });
    }
    if !profile_is_defined(series.len(), window) {
        return Err(MatrixProfileError::WindowTooLarge {
            window,
            n: series.len(),
        });
    }
    series
        .iter()
        .enumerate()
        .try_for_each(|(index, &value)| check_sample(index, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusion_zone_is_a_quarter_window_rounded_up() {
        assert_eq!(exclusion_zone(3), 1);
        assert_eq!(exclusion_zone(4), 1);
        assert_eq!(exclusion_zone(5), 2);
        assert_eq!(exclusion_zone(100), 25);
        assert_eq!(exclusion_zone(101), 26);
    }

    #[test]
    fn defined_exactly_when_the_central_window_has_a_neighbour() {
        for n in 0..200 {
            for m in 0..=n + 1 {
                let brute = m >= MIN_WINDOW && m <= n && {
                    let l = n - m + 1;
                    let e = exclusion_zone(m);
                    (0..l).all(|i| (0..l).any(|j| i.abs_diff(j) > e))
                };
                assert_eq!(profile_is_defined(n, m), brute, "n={n} m={m}");
            }
        }
        assert_eq!(min_samples(3), 6);
        assert!(profile_is_defined(6, 3) && !profile_is_defined(5, 3));
        assert_eq!(max_window(300), Some(199));
        assert_eq!(max_window(5), None);
        for m in 3..60 {
            assert!(profile_is_defined(min_samples(m), m));
            assert!(!profile_is_defined(min_samples(m) - 1, m));
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let series = vec![0.0; 10];
        assert_eq!(
            validate(&series, 2),
            Err(MatrixProfileError::WindowTooSmall { window: 2 })
        );
        let err = validate(&series, 8).unwrap_err();
        assert_eq!(err, MatrixProfileError::WindowTooLarge { window: 8, n: 10 });
        assert_eq!(
            err.to_string(),
            "window 8 is too large for 10 samples: some window would have no neighbour outside \
             its exclusion zone of ±2 samples (the largest window for 10 samples is 5)"
        );
        let err = validate(&[1.0; 4], 3).unwrap_err().to_string();
        assert!(err.contains("needs at least 6 samples"), "{err}");
        let mut bad = vec![1.0; 10];
        bad[7] = f64::NAN;
        assert_eq!(
            validate(&bad, 3).unwrap_err().to_string(),
            "sample 7 is not a finite number (NaN)"
        );
        bad[7] = -2e100;
        assert!(matches!(
            validate(&bad, 3),
            Err(MatrixProfileError::TooLarge { index: 7, .. })
        ));
    }
}
