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
//! Memory grows with the series (about ten words per sample). It is meant for the pipeline to
//! run as Low-class work on a channel's samples, started again over the ring buffer
//! ([`StreamingMatrixProfile::with_series`]) when old samples should be forgotten.
//! Like the batch profile, it works on the samples less the first one (see `stats`).

use super::profile::{
    CONSTANT_VS_VARYING_CORRELATION, CorrelationProfile, MatrixProfile, correlation_profile,
    pair_correlation,
};
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
    /// The last window's products with the windows outside its zone, `C(j, s)` for `j < s − e`,
    /// at `row[row_start + j]`. Each push moves `row_start` one place down, so that the old
    /// `C(j − 1, s − 1)` already sits where the new `C(j, s)` goes.
    row: Vec<f64>,
    row_start: usize,
    /// The constant windows, in order.
    constants: Vec<usize>,
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
            row_start: 0,
            constants: Vec::new(),
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
        (streaming.row, streaming.row_start) = with_room(&row);
        streaming.constants = (0..streaming.stats.len())
            .filter(|&i| streaming.stats.constant[i])
            .collect();
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
        if self.stats.constant[s] {
            self.constants.push(s);
        }
        let neighbours = s.saturating_sub(self.exclusion);
        if neighbours == 0 {
            return Ok(());
        }
        let row = shift_row(&mut self.row, &mut self.row_start, neighbours);
        let stats = &self.stats;
        // Windows j < neighbours are outside s's zone. C(j, s) follows from C(j − 1, s − 1),
        // which is already in its place; j = 0 starts a new diagonal with a direct product,
        // as in the batch traversal.
        let (df_s, dg_s, inv_s) = (stats.df[s], stats.dg[s], stats.inv_norm[s]);
        row[0] = centred_dot(
            &stats.shifted,
            self.window,
            0,
            s,
            stats.mean[0],
            stats.mean[s],
        );
        let (df, dg) = (&stats.df[..neighbours], &stats.dg[..neighbours]);
        for j in 1..neighbours {
            row[j] += df[j] * dg_s + df_s * dg[j];
        }
        let (corr, corr_s) = self.profile.corr.split_at_mut(s);
        let (index, index_s) = self.profile.index.split_at_mut(s);
        let (corr, index) = (&mut corr[..neighbours], &mut index[..neighbours]);
        let mut consider = |j: usize, rho: f64, best: &mut (f64, usize)| {
            if rho > corr[j] {
                corr[j] = rho;
                index[j] = s;
            }
            if rho > best.0 {
                *best = (rho, j);
            }
        };
        let mut best = (f64::NEG_INFINITY, usize::MAX);
        if stats.constant[s] {
            for j in 0..neighbours {
                consider(j, pair_correlation(stats, 0.0, j, s), &mut best);
            }
        } else {
            // A constant j (inverse norm 0) gets 0 here, and its conventional ½ below.
            let inv = &stats.inv_norm[..neighbours];
            for j in 0..neighbours {
                consider(j, row[j] * inv[j] * inv_s, &mut best);
            }
            for &j in self.constants.iter().take_while(|&&j| j < neighbours) {
                consider(j, CONSTANT_VS_VARYING_CORRELATION, &mut best);
            }
        }
        (corr_s[0], index_s[0]) = best;
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

/// Moves the row one place down (C(j − 1, s − 1) becomes the start of C(j, s)) and returns
/// its `neighbours` entries; makes room in front first when there is none.
fn shift_row<'a>(row: &'a mut Vec<f64>, row_start: &mut usize, neighbours: usize) -> &'a mut [f64] {
    if *row_start == 0 {
        (*row, *row_start) = with_room(&row[..neighbours - 1]);
    }
    *row_start -= 1;
    &mut row[*row_start..*row_start + neighbours]
}

/// `entries` with as much room in front as they take (at least 64), so that moving the row
/// down costs O(1) amortised.
fn with_room(entries: &[f64]) -> (Vec<f64>, usize) {
    let room = entries.len().max(64);
    let mut row = vec![0.0; room + entries.len()];
    row[room..].copy_from_slice(entries);
    (row, room)
}
