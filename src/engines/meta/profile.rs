//! The exact matrix profile of a series: STOMP's diagonal traversal with SCAMP's centred
//! update.
//!
//! Every cell `(i, j)` (`j > i + e`, `e` the exclusion zone) of the upper triangle of the
//! distance matrix is visited once, along its diagonal `k = j − i`: the centred dot product of
//! the two windows follows from the cell before it in O(1) (`stats`), its Pearson correlation
//! is that times the two inverse norms, and the cell updates both the row's profile (`i`) and
//! the column's (`j`), since the matrix is symmetric. Diagonals are taken in bands of
//! [`BAND`]; a band walks down its rows with everything it touches in the L1 cache, and the
//! inner loop over the band's cells is free of branches so that it vectorises. The profile is
//! kept as the largest correlation until the end (a larger correlation is a smaller distance),
//! where it becomes `√(2m(1 − ρ))`.
//!
//! References: Zhu et al., "Matrix Profile II: Exploiting a Novel Algorithm and GPUs to Break
//! the One Hundred Million Barrier for Time Series Motifs and Joins" (ICDM 2016, STOMP);
//! Zimmerman et al., "Matrix Profile XIV" (SoCC 2019, SCAMP, §3.1 and §3.3); stumpy's `stump`.

use super::stats::{WindowStats, centred_dot};
use super::{MatrixProfileError, exclusion_zone, validate};

/// Diagonals per band. Each row of a band reads five arrays of this many f64 (two update
/// terms, the inverse norms, the column profile and its index) and updates the band's dot
/// products: about 12 KiB, inside any L1 data cache.
const BAND: usize = 256;

/// Lanes of the unrolled inner loop, one row maximum per lane (8 f64 fill an AVX-512 register
/// or two AVX2 ones).
const LANES: usize = 8;

/// Squared distances below this are rounding noise of two identical windows and are set to 0
/// (stumpy's `STUMPY_P_NORM_THRESHOLD`).
pub const SQUARED_DISTANCE_FLOOR: f64 = 1e-14;

/// Profile entries with a correlation above `1 − REFINE_GAP` (distance below `√(0.2m)`) are
/// recomputed from the definition. `√(2m(1 − ρ))` magnifies an error δ of the correlation to
/// `δ / (2(1 − ρ))` in the relative distance: at most 5δ above this gap, without bound below it.
pub const REFINE_GAP: f64 = 0.1;

/// Profile entries whose pair is ill-conditioned are recomputed from the definition. Each
/// step along a diagonal adds a term bounded by `T = 2·max|df|·max|dg|` and rounds by about
/// ε of it, so after K steps a product is off by about `ε·K·T`, and the correlation by that
/// times `1/(‖x̃ᵢ‖‖x̃ⱼ‖)`. Where `T/(‖x̃ᵢ‖‖x̃ⱼ‖)` is at most this limit the correlation keeps a
/// relative precision of about ε·K (2·10⁻¹¹ at K = 10⁵); above it (short windows, quiet
/// windows in a loud series) the error grows without bound. Most entries of short windows are
/// refined, few of long ones, and the refinement costs O(m) against the O(n) of the entry.
pub const CONDITION_LIMIT: f64 = 1.0;

/// Correlation of a constant window with a non-constant one, by convention: distance `√m`
/// (stumpy's `_compute_diagonal`, which sets `pearson = 0.5` for that pair).
pub(crate) const CONSTANT_VS_VARYING_CORRELATION: f64 = 0.5;

/// Correlation of two constant windows: distance 0 (stumpy's convention).
pub(crate) const CONSTANT_PAIR_CORRELATION: f64 = 1.0;

/// The matrix profile of a series for one window size, with its index.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixProfile {
    /// Window (subsequence) length `m`.
    pub window: usize,
    /// Trivial-match exclusion zone: window `j` is no neighbour of window `i` when
    /// `|i − j| ≤ exclusion`.
    pub exclusion: usize,
    /// `distance[i]`: z-normalised Euclidean distance from window `i` to its nearest
    /// non-trivial neighbour.
    pub distance: Vec<f64>,
    /// `index[i]`: start of that nearest neighbour (one of them, when several are at the same
    /// distance).
    pub index: Vec<usize>,
}

impl MatrixProfile {
    /// Number of windows, `n − m + 1`.
    pub fn len(&self) -> usize {
        self.distance.len()
    }

    pub fn is_empty(&self) -> bool {
        self.distance.is_empty()
    }

    /// Whether windows `i` and `j` are trivial matches of each other.
    pub fn is_trivial(&self, i: usize, j: usize) -> bool {
        i.abs_diff(j) <= self.exclusion
    }
}

/// The profile as correlations, before the conversion to distances; shared with the
/// streaming profile.
#[derive(Debug, Clone)]
pub(crate) struct CorrelationProfile {
    /// Largest correlation of each window with a non-trivial neighbour (−∞ if none yet).
    pub corr: Vec<f64>,
    /// Where it was found (`usize::MAX` if nowhere yet).
    pub index: Vec<usize>,
}

impl CorrelationProfile {
    pub fn new(windows: usize) -> Self {
        CorrelationProfile {
            corr: vec![f64::NEG_INFINITY; windows],
            index: vec![usize::MAX; windows],
        }
    }

    /// The profile as distances. An entry is recomputed straight from the definition
    /// ([`znormalised_distance`], about 6m operations) when its correlation could be off by
    /// more than the conversion tolerates: for close pairs (`ρ > 1 −` [`REFINE_GAP`]), and for
    /// ill-conditioned ones, whose norms are small next to the terms the running products
    /// summed (see [`CONDITION_LIMIT`]).
    pub fn to_distances(&self, stats: &WindowStats) -> MatrixProfile {
        let window = stats.window();
        let series = &stats.shifted;
        let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
        // Bound on |df[i]·dg[j] + df[j]·dg[i]|, the terms of every update.
        let term_bound = 2.0 * max_abs(&stats.df) * max_abs(&stats.dg);
        let distance = self
            .corr
            .iter()
            .zip(&self.index)
            .enumerate()
            .map(|(i, (&rho, &j))| {
                let both_vary = j != usize::MAX && !stats.constant[i] && !stats.constant[j];
                let close = rho > 1.0 - REFINE_GAP;
                let ill_conditioned =
                    || term_bound * stats.inv_norm[i] * stats.inv_norm[j] > CONDITION_LIMIT;
                if both_vary && (close || ill_conditioned()) {
                    floor_distance(znormalised_distance(series, window, i, j))
                } else {
                    correlation_to_distance(rho, window)
                }
            })
            .collect();
        MatrixProfile {
            window,
            exclusion: exclusion_zone(window),
            distance,
            index: self.index.clone(),
        }
    }
}

/// The z-normalised Euclidean distance between two windows that are not constant, from the
/// definition: `√m · ‖uᵢ − uⱼ‖` with `u = (x − μ) / ‖x − μ‖` (two passes per window for the
/// mean and the norm). Its relative precision does not degrade as the windows get closer, as
/// `√(2m(1 − ρ))` does.
pub fn znormalised_distance(series: &[f64], window: usize, i: usize, j: usize) -> f64 {
    let unit = |start: usize| {
        let x = &series[start..start + window];
        let mean = x.iter().sum::<f64>() / window as f64;
        let norm = x
            .iter()
            .map(|&v| (v - mean) * (v - mean))
            .sum::<f64>()
            .sqrt();
        (x, mean, 1.0 / norm)
    };
    let (a, mean_a, inv_a) = unit(i);
    let (b, mean_b, inv_b) = unit(j);
    let squared: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let diff = (x - mean_a) * inv_a - (y - mean_b) * inv_b;
            diff * diff
        })
        .sum();
    (window as f64 * squared).sqrt()
}

/// Distances whose square is under [`SQUARED_DISTANCE_FLOOR`] become 0.
fn floor_distance(distance: f64) -> f64 {
    if distance * distance < SQUARED_DISTANCE_FLOOR {
        0.0
    } else {
        distance
    }
}

/// `√(2m(1 − ρ))`, with `ρ` clamped to 1 and squared distances under
/// [`SQUARED_DISTANCE_FLOOR`] set to 0, as stumpy does.
pub fn correlation_to_distance(rho: f64, window: usize) -> f64 {
    floor_distance((2.0 * window as f64 * (1.0 - rho.min(1.0))).abs().sqrt())
}

/// The correlation of windows `i` and `j` from their centred dot product, with the constant
/// windows' conventions.
#[inline]
pub(crate) fn pair_correlation(stats: &WindowStats, cov: f64, i: usize, j: usize) -> f64 {
    match (stats.constant[i], stats.constant[j]) {
        (true, true) => CONSTANT_PAIR_CORRELATION,
        (true, false) | (false, true) => CONSTANT_VS_VARYING_CORRELATION,
        (false, false) => cov * stats.inv_norm[i] * stats.inv_norm[j],
    }
}

/// The exact matrix profile of `series` for windows of `window` samples, z-normalised
/// Euclidean distance, exclusion zone `⌈m/4⌉`. O(n²) time, O(n) memory.
///
/// Errors: a window under [`super::MIN_WINDOW`], a window for which some window would have no
/// neighbour outside its exclusion zone ([`super::profile_is_defined`]), a sample that is not
/// finite or above [`super::MAX_MAGNITUDE`] (by its index).
pub fn matrix_profile(series: &[f64], window: usize) -> Result<MatrixProfile, MatrixProfileError> {
    validate(series, window)?;
    let stats = WindowStats::of(series, window);
    let (profile, _) = correlation_profile(&stats);
    Ok(profile.to_distances(&stats))
}

/// The correlation profile of a validated series (its statistics), and the last row of centred dot products,
/// `C(j, l−1)` for `j < l − 1 − e` (what the streaming profile needs to go on).
pub(crate) fn correlation_profile(stats: &WindowStats) -> (CorrelationProfile, Vec<f64>) {
    let mut profile = CorrelationProfile::new(stats.len());
    let mut last_row = vec![
        0.0;
        stats
            .len()
            .saturating_sub(exclusion_zone(stats.window()) + 1)
    ];
    #[cfg(target_arch = "x86_64")]
    match Avx2::detect() {
        Some(avx2) => traverse(stats, &mut profile, &mut last_row, &avx2),
        None => traverse(stats, &mut profile, &mut last_row, &Portable),
    }
    #[cfg(not(target_arch = "x86_64"))]
    traverse(stats, &mut profile, &mut last_row, &Portable);
    fix_constant_windows(stats, exclusion_zone(stats.window()), &mut profile);
    (profile, last_row)
}

/// The cells of one band row in whole chunks of [`LANES`] ([`row_cells`]), compiled for some
/// instruction set. Each implementation is a function of its own, not inlined into the
/// traversal: its slices then arrive as separate arguments, which the compiler knows do not
/// overlap, and that is what lets it vectorise the loop.
trait RowKernel {
    // Separate slice arguments are what tells the compiler that they do not overlap.
    #[allow(clippy::too_many_arguments)]
    fn cells(
        &self,
        cov: &mut [f64],
        df: &[f64],
        dg: &[f64],
        inv: &[f64],
        corr_col: &mut [f64],
        index_col: &mut [usize],
        row: (usize, f64, f64, f64),
    ) -> f64;
}

/// [`row_cells`] for any CPU of the target (SSE2 vectors of two f64 on x86-64).
struct Portable;

impl RowKernel for Portable {
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn cells(
        &self,
        cov: &mut [f64],
        df: &[f64],
        dg: &[f64],
        inv: &[f64],
        corr_col: &mut [f64],
        index_col: &mut [usize],
        row: (usize, f64, f64, f64),
    ) -> f64 {
        row_cells(cov, df, dg, inv, corr_col, index_col, row)
    }
}

/// [`row_cells`] compiled for AVX2 (vectors of four f64). Without FMA, so every product and
/// sum is rounded as in [`Portable`]: the two give the same bits. Only [`Avx2::detect`] makes
/// one, on a CPU that has AVX2.
#[cfg(target_arch = "x86_64")]
struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    fn detect() -> Option<Avx2> {
        std::arch::is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl RowKernel for Avx2 {
    #[allow(clippy::too_many_arguments)]
    fn cells(
        &self,
        cov: &mut [f64],
        df: &[f64],
        dg: &[f64],
        inv: &[f64],
        corr_col: &mut [f64],
        index_col: &mut [usize],
        row: (usize, f64, f64, f64),
    ) -> f64 {
        // SAFETY: an `Avx2` exists only when the CPU has AVX2 (`Avx2::detect`), which is all
        // `row_cells_avx2` requires.
        unsafe { row_cells_avx2(cov, df, dg, inv, corr_col, index_col, row) }
    }
}

/// [`row_cells`] written with AVX2 intrinsics, four cells per step: the same products and
/// sums in the same order (no FMA), and one movemask to see whether any column improved,
/// which the compiler does not find on its own.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn row_cells_avx2(
    cov: &mut [f64],
    df: &[f64],
    dg: &[f64],
    inv: &[f64],
    corr_col: &mut [f64],
    index_col: &mut [usize],
    (i, df_i, dg_i, inv_i): (usize, f64, f64, f64),
) -> f64 {
    use std::arch::x86_64::{
        _CMP_GT_OQ, _mm256_add_pd, _mm256_cmp_pd, _mm256_loadu_pd, _mm256_max_pd,
        _mm256_movemask_pd, _mm256_mul_pd, _mm256_set1_pd, _mm256_storeu_pd,
    };
    const STEP: usize = 4;
    let n = cov.len();
    assert!(
        n.is_multiple_of(STEP)
            && df.len() == n
            && dg.len() == n
            && inv.len() == n
            && corr_col.len() == n
            && index_col.len() == n
    );
    let (df_i_v, dg_i_v, inv_i_v) = (
        _mm256_set1_pd(df_i),
        _mm256_set1_pd(dg_i),
        _mm256_set1_pd(inv_i),
    );
    let mut max = _mm256_set1_pd(f64::NEG_INFINITY);
    for t in (0..n).step_by(STEP) {
        // SAFETY: t + STEP ≤ n, the length of every slice (asserted above), so each load and
        // store stays inside its slice; unaligned loads and stores have no other requirement.
        let (rho, improved) = unsafe {
            let c = _mm256_loadu_pd(cov.as_ptr().add(t));
            let dg_j = _mm256_loadu_pd(dg.as_ptr().add(t));
            let df_j = _mm256_loadu_pd(df.as_ptr().add(t));
            let c = _mm256_add_pd(
                c,
                _mm256_add_pd(_mm256_mul_pd(df_i_v, dg_j), _mm256_mul_pd(df_j, dg_i_v)),
            );
            _mm256_storeu_pd(cov.as_mut_ptr().add(t), c);
            let inv_j = _mm256_loadu_pd(inv.as_ptr().add(t));
            let rho = _mm256_mul_pd(_mm256_mul_pd(c, inv_i_v), inv_j);
            let corr = _mm256_loadu_pd(corr_col.as_ptr().add(t));
            let improved = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(rho, corr));
            (rho, improved)
        };
        max = _mm256_max_pd(rho, max);
        if improved != 0 {
            let mut lanes = [0.0; STEP];
            // SAFETY: `lanes` holds four f64.
            unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), rho) };
            for (lane, &value) in lanes.iter().enumerate() {
                if improved & (1 << lane) != 0 {
                    corr_col[t + lane] = value;
                    index_col[t + lane] = i;
                }
            }
        }
    }
    let mut lanes = [0.0; STEP];
    // SAFETY: `lanes` holds four f64.
    unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), max) };
    lanes.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Visits every cell outside the exclusion zone, band of diagonals by band, and leaves in
/// `last_row[j]` the centred dot product `C(j, l − 1)`.
fn traverse(
    stats: &WindowStats,
    profile: &mut CorrelationProfile,
    last_row: &mut [f64],
    kernel: &impl RowKernel,
) {
    let (series, window) = (&stats.shifted[..], stats.window());
    let windows = stats.len();
    let mut cov = [0.0; BAND];
    let mut band_start = exclusion_zone(window) + 1;
    while band_start < windows {
        let width = BAND.min(windows - band_start);
        for (t, c) in cov[..width].iter_mut().enumerate() {
            let j = band_start + t;
            *c = centred_dot(series, window, 0, j, stats.mean[0], stats.mean[j]);
        }
        for i in 0..windows - band_start {
            // Cells (i, i + band_start + t) for t < live; the band's diagonals run out one by
            // one at the bottom of the matrix.
            let live = width.min(windows - band_start - i);
            band_row(stats, profile, &mut cov[..live], i, band_start, kernel);
        }
        // The last cell of diagonal k is (l − 1 − k, l − 1).
        for t in 0..width {
            last_row[windows - 1 - (band_start + t)] = cov[t];
        }
        band_start += width;
    }
}

/// One row of a band: cells `(i, i + k0 + t)` for `t < cov.len()`. Updates the band's dot
/// products, the column profiles of the cells and the row profile of `i`.
///
/// The loop over the cells only computes, compares and selects (no branches, no bounds
/// checks), so that it vectorises; the row's maximum is kept per lane, and its position is
/// looked for again only when it beats the row's profile so far, which becomes rare as the
/// bands go by. The arithmetic is the same in every lane and in the remainder, so the result
/// does not depend on the vector width.
#[inline(always)]
fn band_row(
    stats: &WindowStats,
    profile: &mut CorrelationProfile,
    cov: &mut [f64],
    i: usize,
    k0: usize,
    kernel: &impl RowKernel,
) {
    let width = cov.len();
    let chunks = width / LANES * LANES;
    let (df_i, dg_i, inv_i) = (stats.df[i], stats.dg[i], stats.inv_norm[i]);
    let j0 = i + k0;
    let df = &stats.df[j0..j0 + width];
    let dg = &stats.dg[j0..j0 + width];
    let inv = &stats.inv_norm[j0..j0 + width];
    let (corr_row, corr_cols) = profile.corr.split_at_mut(j0);
    let (index_row, index_cols) = profile.index.split_at_mut(j0);
    let corr_col = &mut corr_cols[..width];
    let index_col = &mut index_cols[..width];

    let mut row_max = kernel.cells(
        &mut cov[..chunks],
        &df[..chunks],
        &dg[..chunks],
        &inv[..chunks],
        &mut corr_col[..chunks],
        &mut index_col[..chunks],
        (i, df_i, dg_i, inv_i),
    );
    for t in chunks..width {
        cov[t] += df_i * dg[t] + df[t] * dg_i;
        let rho = cov[t] * inv_i * inv[t];
        if rho > corr_col[t] {
            corr_col[t] = rho;
            index_col[t] = i;
        }
        row_max = if rho > row_max { rho } else { row_max };
    }
    if row_max > corr_row[i] {
        // The first cell of the row at the maximum: the same products as in the kernels, so
        // the same bits, and one of them is the maximum.
        if let Some(t) = (0..width).position(|t| cov[t] * inv_i * inv[t] == row_max) {
            corr_row[i] = row_max;
            index_row[i] = j0 + t;
        }
    }
}

/// The cells of one band row in whole chunks of [`LANES`]: updates the dot products and the
/// column profiles, returns the row's largest correlation. Every slice has the same length, a
/// multiple of [`LANES`].
#[inline(always)]
fn row_cells(
    cov: &mut [f64],
    df: &[f64],
    dg: &[f64],
    inv: &[f64],
    corr_col: &mut [f64],
    index_col: &mut [usize],
    (i, df_i, dg_i, inv_i): (usize, f64, f64, f64),
) -> f64 {
    let mut lane_max = [f64::NEG_INFINITY; LANES];
    for ((((c, df), dg), inv), (corr, index)) in cov
        .chunks_exact_mut(LANES)
        .zip(df.chunks_exact(LANES))
        .zip(dg.chunks_exact(LANES))
        .zip(inv.chunks_exact(LANES))
        .zip(
            corr_col
                .chunks_exact_mut(LANES)
                .zip(index_col.chunks_exact_mut(LANES)),
        )
    {
        let mut rho = [0.0; LANES];
        let mut better = [false; LANES];
        for lane in 0..LANES {
            // df[0] = dg[0] = 0: row 0 leaves the directly computed products unchanged.
            c[lane] += df_i * dg[lane] + df[lane] * dg_i;
            rho[lane] = c[lane] * inv_i * inv[lane];
            better[lane] = rho[lane] > corr[lane];
            lane_max[lane] = if rho[lane] > lane_max[lane] {
                rho[lane]
            } else {
                lane_max[lane]
            };
        }
        // Column improvements get rare as the traversal goes on: written apart, the loop above
        // stores nothing but the dot products.
        if better.iter().any(|&b| b) {
            for lane in 0..LANES {
                if better[lane] {
                    corr[lane] = rho[lane];
                    index[lane] = i;
                }
            }
        }
    }
    lane_max.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Applies the constant windows' conventions after the traversal, which gave every pair with
/// a constant window a correlation of 0 (its inverse norm is 0). A constant window's best is
/// another constant window outside its zone (ρ = 1) if there is one, else any window (ρ = ½);
/// a varying window gains ρ = ½ from any constant window outside its zone.
fn fix_constant_windows(stats: &WindowStats, exclusion: usize, profile: &mut CorrelationProfile) {
    let constants: Vec<usize> = (0..stats.len()).filter(|&i| stats.constant[i]).collect();
    if constants.is_empty() {
        return;
    }
    // The first constant window outside i's zone: the first one overall if it lies left of
    // the zone, else the first one right of it.
    let constant_outside = |i: usize| -> Option<usize> {
        let first = constants[0];
        if first + exclusion < i {
            return Some(first);
        }
        let right = constants.partition_point(|&c| c <= i + exclusion);
        constants.get(right).copied()
    };
    for i in 0..stats.len() {
        let Some(c) = constant_outside(i) else {
            if stats.constant[i] {
                // Every neighbour varies; the traversal already picked one of them.
                profile.corr[i] = CONSTANT_VS_VARYING_CORRELATION;
            }
            continue;
        };
        let rho = if stats.constant[i] {
            CONSTANT_PAIR_CORRELATION
        } else {
            CONSTANT_VS_VARYING_CORRELATION
        };
        if rho > profile.corr[i] {
            profile.corr[i] = rho;
            profile.index[i] = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The profile straight from the definition: z-normalise every window, compare every pair.
    fn brute_force(series: &[f64], m: usize) -> Vec<f64> {
        let l = series.len() - m + 1;
        let e = exclusion_zone(m);
        let z: Vec<Option<Vec<f64>>> = (0..l)
            .map(|i| {
                let w = &series[i..i + m];
                let mean = w.iter().sum::<f64>() / m as f64;
                let sd = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m as f64).sqrt();
                (!w.iter().all(|&v| v == w[0])).then(|| w.iter().map(|v| (v - mean) / sd).collect())
            })
            .collect();
        (0..l)
            .map(|i| {
                (0..l)
                    .filter(|&j| i.abs_diff(j) > e)
                    .map(|j| match (&z[i], &z[j]) {
                        (None, None) => 0.0,
                        (None, Some(_)) | (Some(_), None) => (m as f64).sqrt(),
                        (Some(a), Some(b)) => a
                            .iter()
                            .zip(b)
                            .map(|(x, y)| (x - y).powi(2))
                            .sum::<f64>()
                            .sqrt(),
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .collect()
    }

    #[test]
    fn stumpy_docstring_example() {
        // stumpy.stump(np.array([584., -11., 23., 79., 1001., 0., -19.]), m=3)
        let p = matrix_profile(&[584., -11., 23., 79., 1001., 0., -19.], 3).unwrap();
        let want = [
            0.11633857113691416,
            2.694073918063438,
            3.0000926340485923,
            2.694073918063438,
            0.11633857113691416,
        ];
        for (got, want) in p.distance.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(p.index, vec![4, 3, 0, 1, 0]);
        assert_eq!(p.exclusion, 1);
    }

    #[test]
    fn agrees_with_the_definition_across_bands_and_constant_stretches() {
        let mut state = 88172645463325252u64;
        let mut level = 0.0;
        let series: Vec<f64> = (0..700)
            .map(|k| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                level += (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                if (200..230).contains(&k) || (500..520).contains(&k) {
                    7.0
                } else {
                    level
                }
            })
            .collect();
        for m in [3, 8, 25] {
            let p = matrix_profile(&series, m).unwrap();
            let want = brute_force(&series, m);
            for (i, (&got, &want)) in p.distance.iter().zip(&want).enumerate() {
                assert!(
                    (got - want).abs() <= 1e-8 * want.max(1.0),
                    "m={m} i={i}: {got} vs {want}"
                );
                assert!(!p.is_trivial(i, p.index[i]), "m={m} i={i}");
            }
        }
    }

    /// The AVX2 kernel and the portable one do the same arithmetic: the same bits, the same
    /// indices (on a machine without AVX2 there is nothing to compare).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn kernels_agree_bit_for_bit() {
        let Some(avx2) = Avx2::detect() else {
            return;
        };
        let series: Vec<f64> = (0..1500)
            .map(|k| {
                let k = k as f64;
                (k * 0.05).sin() + (k * 0.31).cos() * 0.3 + (k * 0.013).sin() * 4.0 + 100.0
            })
            .collect();
        for m in [3, 16, 100] {
            let stats = WindowStats::of(&series, m);
            let run = |avx: bool| {
                let mut profile = CorrelationProfile::new(stats.len());
                let mut last_row = vec![0.0; stats.len() - exclusion_zone(m) - 1];
                if avx {
                    traverse(&stats, &mut profile, &mut last_row, &avx2);
                } else {
                    traverse(&stats, &mut profile, &mut last_row, &Portable);
                }
                (profile, last_row)
            };
            let ((a, a_row), (b, b_row)) = (run(true), run(false));
            assert!(
                a.corr
                    .iter()
                    .zip(&b.corr)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            );
            assert_eq!(a.index, b.index, "m={m}");
            assert!(
                a_row
                    .iter()
                    .zip(&b_row)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            );
        }
    }

    #[test]
    fn constant_series_is_all_zero_and_a_single_constant_window_is_root_m_away() {
        let p = matrix_profile(&[2.5; 40], 5).unwrap();
        assert!(p.distance.iter().all(|&d| d == 0.0));
        assert!((0..p.len()).all(|i| !p.is_trivial(i, p.index[i])));

        // One flat window in a sine: its nearest neighbour is at √m.
        let mut series: Vec<f64> = (0..60).map(|k| (k as f64 * 0.9).sin()).collect();
        series[30..36].fill(0.5);
        let p = matrix_profile(&series, 6).unwrap();
        assert!((p.distance[30] - 6f64.sqrt()).abs() < 1e-12);
    }
}
