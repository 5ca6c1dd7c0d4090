//! The matrix profile of a growing series, one sample at a time (STAMPI: Yeh et al., "Matrix
//! Profile I", ICDM 2016, §3.3 and Table 5).
//!
//! Each new sample completes one new window `s`. Its centred dot products with the earlier
//! windows follow in O(1) each from those of the window before it, `C(j, s)` from
//! `C(j − 1, s − 1)`, by the update the batch profile uses along its diagonals (`stats`). So the
//! new row of the distance matrix costs O(n): it gives the new window's profile entry, and
//! lowers the entries of the windows it is nearer to than their neighbour so far. Nothing is
//! recomputed, so a series of `n` samples costs what one batch profile costs. The correlations
//! are the batch profile's bit for bit (the same arithmetic in the same order), and so are the
//! distances wherever both picked the same neighbour; where several neighbours tie, the index
//! may differ.
//!
//! Memory grows with the series (five f64 per sample). The pipeline runs it as Low-class work
//! on a channel's samples and starts it again over its ring buffer when it wants to forget.
//! Like the batch profile, it works on the samples less the first one (see `stats`).

use super::profile::{CorrelationProfile, MatrixProfile, correlation_profile, pair_correlation};
use super::stats::{WindowStats, centred_dot};
use super::{
    MIN_WINDOW, MatrixProfileError, check_sample, exclusion_zone, profile_is_defined, validate,
};

/// A matrix profile that takes one sample at a time.
#[derive(Debug, Clone)]
pub struct StreamingMatrixProfile {
    window: usize,
    exclusion: usize,
    /// The samples (less the first) and their windows' statistics.
    stats: WindowStats,
    profile: CorrelationProfile,
    /// `row[j] = C(j, s)` for the last window `s` and every `j < s − e`.
    row: Vec<f64>,
}

impl StreamingMatrixProfile {
    /// An empty series with windows of `window` samples.
    pub fn new(window: usize) -> Result<Self, MatrixProfileError> {
        if window < MIN_WINDOW {
            return Err(MatrixProfileError::WindowTooSmall { window });
        }
        Ok(StreamingMatrixProfile {
            window,
            exclusion: exclusion_zone(window),
            stats: WindowStats::new(window),
            profile: CorrelationProfile::new(0),
            row: Vec::new(),
        })
    }

    /// Starts from `series`: with the batch traversal when its profile is defined (much faster
    /// than appending the samples one by one, and the same numbers), else sample by sample.
    pub fn with_series(series: &[f64], window: usize) -> Result<Self, MatrixProfileError> {
        let mut streaming = StreamingMatrixProfile::new(window)?;
        if !profile_is_defined(series.len(), window) {
            streaming.extend(series)?;
            return Ok(streaming);
        }
        validate(series, window)?;
        streaming.stats = WindowStats::of(series, window);
        let (profile, row) = correlation_profile(&streaming.stats);
        streaming.profile = profile;
        streaming.row = row;
        Ok(streaming)
    }

    pub fn window(&self) -> usize {
        self.window
    }

    /// Samples taken in so far.
    pub fn len(&self) -> usize {
        self.stats.shifted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stats.shifted.is_empty()
    }

    /// Whether every window has a neighbour outside its exclusion zone yet.
    pub fn is_defined(&self) -> bool {
        profile_is_defined(self.len(), self.window)
    }

    /// Appends every sample of `samples`; stops at the first bad one, keeping those before it.
    pub fn extend(&mut self, samples: &[f64]) -> Result<(), MatrixProfileError> {
        samples.iter().try_for_each(|&x| self.push(x))
    }

    /// Appends one sample and updates the profile in O(n). A sample that is not finite or too
    /// large is refused (by its index in the series) and changes nothing.
    pub fn push(&mut self, x: f64) -> Result<(), MatrixProfileError> {
        check_sample(self.len(), x)?;
        self.stats.push(x);
        if self.len() < self.window {
            return Ok(());
        }
        let s = self.len() - self.window;
        self.profile.corr.push(f64::NEG_INFINITY);
        self.profile.index.push(usize::MAX);
        let neighbours = s.saturating_sub(self.exclusion);
        if neighbours == 0 {
            return Ok(());
        }
        // Windows 0..neighbours are outside s's zone; row[j] becomes C(j, s), from C(j−1, s−1)
        // for j ≥ 1 (updated from the top so that row[j − 1] is still the old value) and
        // directly for j = 0, as the batch traversal starts each diagonal.
        let stats = &self.stats;
        self.row.resize(neighbours, 0.0);
        let (df_s, dg_s) = (stats.df[s], stats.dg[s]);
        for j in (1..neighbours).rev() {
            self.row[j] = self.row[j - 1] + (stats.df[j] * dg_s + df_s * stats.dg[j]);
        }
        self.row[0] = centred_dot(
            &stats.shifted,
            self.window,
            0,
            s,
            stats.mean[0],
            stats.mean[s],
        );
        let (mut best, mut best_j) = (f64::NEG_INFINITY, usize::MAX);
        for (j, &cov) in self.row.iter().enumerate() {
            let rho = pair_correlation(stats, cov, j, s);
            if rho > self.profile.corr[j] {
                self.profile.corr[j] = rho;
                self.profile.index[j] = s;
            }
            if rho > best {
                best = rho;
                best_j = j;
            }
        }
        self.profile.corr[s] = best;
        self.profile.index[s] = best_j;
        Ok(())
    }

    /// The profile of the samples so far; an error while some window has no neighbour outside
    /// its exclusion zone (too few samples for the window).
    pub fn profile(&self) -> Result<MatrixProfile, MatrixProfileError> {
        if !self.is_defined() {
            return Err(MatrixProfileError::WindowTooLarge {
                window: self.window,
                n: self.len(),
            });
        }
        Ok(self.profile.to_distances(&self.stats))
    }
}
