//! Correlation dimension after Grassberger & Procaccia (1983, Physica D 9, 189–208).
//!
//! `C(r)` is the fraction of distinct pairs of delay vectors closer than r; on an attractor of
//! dimension D2 it scales like `r^D2` over a range of r (the scaling region) below the size of
//! the attractor and above the scale where pairs run out. The pairs are counted exactly (every
//! pair `i < j` with `j − i` beyond the Theiler window, Theiler 1986), binned by distance on a
//! logarithmic grid read straight off the bits of the squared distance.

use super::AttractorError;
use super::embedding::DelayEmbedding;
use super::neighbours::NeighbourSearch;
use super::regression::fit_line;
use super::series;
use crate::model::order;

/// Sub-octave resolution of the distance histogram: the top 2 mantissa bits of the squared
/// distance split each factor 2 in r² into 4 bins (8 bins per factor 2 in r).
const MANTISSA_BITS: u32 = 2;
/// Smallest squared distance resolved, 2⁻⁶⁰ (standardised units); closer pairs share the first
/// bin.
const MIN_EXPONENT: i32 = -60;
/// Bins of the histogram: squared distances up to 2¹⁶, beyond any pair of a standardised series
/// in up to 12 dimensions.
const HIST_BINS: usize = (16 - MIN_EXPONENT) as usize * (1 << MANTISSA_BITS);

/// Pairs sampled to estimate where `C(r)` reaches [`MAX_SCALING_C`]: only pairs closer than
/// that (with some margin) are counted, found by fixed-radius queries on a k-d tree, so the
/// work grows with the number of close pairs and not with n².
const CUTOFF_SAMPLE_PAIRS: usize = 20_000;

/// The counting radius is where the sampled `C` reaches 1.5 × [`MAX_SCALING_C`]: with 20,000
/// sampled pairs the quantile is within ±5% of the true one, so the counted range always covers
/// `C ≤ MAX_SCALING_C`.
const CUTOFF_MARGIN: f64 = 1.5;

/// Most candidate pairs the box-assisted count examines; beyond that (high dimensions, where
/// boxes of the counting radius hold most of the points) it uses every s-th reference point,
/// which leaves `C(r)` unbiased (pairs (i, j) with i on the reference grid, all j).
pub const MAX_CANDIDATE_PAIRS: u64 = 3_000_000;

/// The scaling region lies where `C(r) ≤ 0.05`: above it the finite size of the attractor bends
/// the curve down (for Lorenz from C ≈ 0.01 on, for Hénon from C ≈ 0.1).
pub const MAX_SCALING_C: f64 = 0.02;

/// ...and where at least this many pairs are closer than r: below a few thousand pairs the
/// local slopes of a 5000-point Lorenz series scatter by ±0.2.
pub const MIN_SCALING_PAIRS: u64 = 5_000;

/// Width of the scaling region: a factor 4 in r (ln 4), the span Grassberger & Procaccia fitted
/// and wide enough to average out the lacunarity wiggles of the Hénon attractor.
pub const SCALING_WIDTH_LN: f64 = std::f64::consts::LN_2 * 2.0;

/// Fewest grid points in a scaling region.
const MIN_SCALING_POINTS: usize = 4;

/// The correlation sum `C(r)`: the fraction of distinct pairs (outside the Theiler window)
/// closer than r, on a logarithmic grid of radii.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CorrelationSum {
    /// ln r at the grid points (r in units of the series' standard deviation).
    pub log_r: Vec<f64>,
    /// ln C(r) at the grid points (only where 0 < C(r), and only up to the counting cutoff).
    pub log_c: Vec<f64>,
    /// Pairs closer than r at the grid points.
    pub counts: Vec<u64>,
    /// Pairs counted: `i < j`, `j − i > W`.
    pub total_pairs: u64,
}

/// The estimate and the scaling region it was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationDimension {
    /// D2, the slope of ln C against ln r over the scaling region.
    pub value: f64,
    /// Scaling region, radii in units of the series' standard deviation.
    pub r_range: (f64, f64),
    /// R² of the straight-line fit of ln C against ln r over the scaling region.
    pub r2: f64,
    pub sum: CorrelationSum,
}

fn bin_of(d2: f64) -> usize {
    let key = (d2.to_bits() >> (52 - MANTISSA_BITS)) as i64;
    let base = ((MIN_EXPONENT + 1023) as i64) << MANTISSA_BITS;
    (key - base).clamp(0, HIST_BINS as i64 - 1) as usize
}

/// Upper edge (squared distance) of histogram bin `b`.
fn upper_edge_sq(b: usize) -> f64 {
    let key = (((MIN_EXPONENT + 1023) as u64) << MANTISSA_BITS) + b as u64 + 1;
    f64::from_bits(key << (52 - MANTISSA_BITS))
}

fn distance_sq(z: &[f64], embedding: DelayEmbedding, i: usize, j: usize) -> f64 {
    (0..embedding.dim)
        .map(|c| {
            let d = z[i + c * embedding.delay] - z[j + c * embedding.delay];
            d * d
        })
        .sum()
}

/// Squared radius below which pairs are counted: where `C` reaches
/// `CUTOFF_MARGIN × MAX_SCALING_C` in an evenly spread sample of pairs.
fn cutoff_sq(z: &[f64], embedding: DelayEmbedding, theiler: usize, count: usize) -> f64 {
    if count <= theiler + 1 {
        return f64::INFINITY;
    }
    let mut sample = Vec::with_capacity(CUTOFF_SAMPLE_PAIRS);
    // A deterministic spread: i walks the points with one prime stride, j the points beyond
    // its Theiler window with another.
    for s in 0..CUTOFF_SAMPLE_PAIRS {
        let i = (s * 7919) % count;
        let room = count.saturating_sub(i + theiler + 1);
        if room > 0 {
            let j = i + theiler + 1 + (s * 104_729) % room;
            sample.push(distance_sq(z, embedding, i, j));
        }
    }
    if sample.len() < 100 {
        return f64::INFINITY;
    }
    let q = ((sample.len() as f64 * CUTOFF_MARGIN * MAX_SCALING_C) as usize).min(sample.len() - 1);
    *order::select_nth_by(&mut sample, q, f64::total_cmp)
}

/// Counts the pairs of delay vectors closer than r for a logarithmic grid of r
/// (Grassberger & Procaccia 1983, eq. 2.2, Euclidean norm) over the distinct pairs `i < j` with
/// `j − i > theiler`, up to a radius somewhat past where `C(r)` reaches [`MAX_SCALING_C`].
pub fn correlation_sum(
    series: &[f64],
    embedding: DelayEmbedding,
    theiler: usize,
) -> Result<CorrelationSum, AttractorError> {
    let z = series::standardise(series)?;
    Ok(correlation_sum_standardised(&z, embedding, theiler))
}

pub(crate) fn correlation_sum_standardised(
    z: &[f64],
    embedding: DelayEmbedding,
    theiler: usize,
) -> CorrelationSum {
    let count = embedding.points(z.len());
    let cutoff = cutoff_sq(z, embedding, theiler, count);
    let mut hist = vec![0u64; HIST_BINS];
    let search = NeighbourSearch {
        series: z,
        dim: embedding.dim,
        delay: embedding.delay,
        count,
        theiler,
        min_distance_sq: 0.0,
    };
    let stride =
        search.for_each_close_pair(cutoff, MAX_CANDIDATE_PAIRS, |d2| hist[bin_of(d2)] += 1);
    // Pairs looked at: every j beyond the Theiler window of each reference point i.
    let total: u64 = (0..count)
        .step_by(stride)
        .map(|i| count.saturating_sub(i + theiler + 1) as u64)
        .sum();
    let mut sum = CorrelationSum {
        total_pairs: total,
        ..CorrelationSum::default()
    };
    let mut cumulative = 0u64;
    for (b, &h) in hist.iter().enumerate() {
        cumulative += h;
        if upper_edge_sq(b) > cutoff {
            break;
        }
        if cumulative > 0 && cumulative < total {
            sum.log_r.push(0.5 * upper_edge_sq(b).ln());
            sum.log_c.push((cumulative as f64 / total as f64).ln());
            sum.counts.push(cumulative);
        }
    }
    sum
}

/// D2: the slope of ln C(r) against ln r over the automatically chosen scaling region.
pub fn correlation_dimension(
    series: &[f64],
    embedding: DelayEmbedding,
    theiler: usize,
) -> Result<CorrelationDimension, AttractorError> {
    let z = series::standardise(series)?;
    correlation_dimension_standardised(&z, embedding, theiler)
}

pub(crate) fn correlation_dimension_standardised(
    z: &[f64],
    embedding: DelayEmbedding,
    theiler: usize,
) -> Result<CorrelationDimension, AttractorError> {
    let sum = correlation_sum_standardised(z, embedding, theiler);
    let (from, to) = scaling_region(&sum).ok_or(AttractorError::TooShort {
        what: "a correlation-sum scaling region",
        n: z.len(),
        min: embedding.span() + theiler + 200,
    })?;
    let fit =
        fit_line(&sum.log_r[from..=to], &sum.log_c[from..=to]).ok_or(AttractorError::TooShort {
            what: "a correlation-sum scaling region",
            n: z.len(),
            min: embedding.span() + theiler + 200,
        })?;
    Ok(CorrelationDimension {
        value: fit.slope,
        r_range: (sum.log_r[from].exp(), sum.log_r[to].exp()),
        r2: fit.r2,
        sum,
    })
}

/// Chooses the scaling region. Among the windows [`SCALING_WIDTH_LN`] wide in ln r where
/// `C(r) ≤ MAX_SCALING_C` and at least [`MIN_SCALING_PAIRS`] pairs are counted, take the one
/// with the steepest least-squares slope: below the scaling region the statistics thin out and
/// above it the attractor's finite size flattens the curve, so the slope peaks there. The region
/// is then widened over the neighbouring windows whose slope is within [`PLATEAU_TOLERANCE`] of
/// that peak, so that it spans the whole plateau and the peak's own noise averages out. Where
/// the valid range is narrower than one window, all of it. `None` with fewer than
/// [`MIN_SCALING_POINTS`] valid points.
pub(crate) fn scaling_region(sum: &CorrelationSum) -> Option<(usize, usize)> {
    let max_log_c = MAX_SCALING_C.ln();
    let valid: Vec<usize> = (0..sum.log_r.len())
        .filter(|&i| sum.counts[i] >= MIN_SCALING_PAIRS && sum.log_c[i] <= max_log_c)
        .collect();
    let (&first, &last) = (valid.first()?, valid.last()?);
    if last + 1 - first < MIN_SCALING_POINTS {
        return None;
    }
    // (start, end, slope) of every full-width window.
    let mut windows: Vec<(usize, usize, f64)> = Vec::new();
    for a in first..=last {
        let Some(b) = (a..=last).find(|&b| sum.log_r[b] - sum.log_r[a] >= SCALING_WIDTH_LN) else {
            break;
        };
        if b + 1 - a < MIN_SCALING_POINTS {
            continue;
        }
        if let Some(fit) = fit_line(&sum.log_r[a..=b], &sum.log_c[a..=b]) {
            windows.push((a, b, fit.slope));
        }
    }
    let Some(peak) = (0..windows.len()).max_by(|&x, &y| windows[x].2.total_cmp(&windows[y].2))
    else {
        return Some((first, last));
    };
    let floor = windows[peak].2 * (1.0 - PLATEAU_TOLERANCE);
    let mut lo = peak;
    while lo > 0 && windows[lo - 1].2 >= floor {
        lo -= 1;
    }
    let mut hi = peak;
    while hi + 1 < windows.len() && windows[hi + 1].2 >= floor {
        hi += 1;
    }
    Some((windows[lo].0, windows[hi].1))
}

/// Windows whose slope is within 5% of the peak slope belong to the plateau (the local slopes
/// of a 5000-point Lorenz series wander by about that much inside its scaling region).
pub const PLATEAU_TOLERANCE: f64 = 0.05;
