//! Dynamic time warping (Sakoe & Chiba 1978) over `f64` series, with the two cost conventions
//! of DESIGN.md, a Sakoe–Chiba band, early abandoning and the warping path.
//!
//! The distance is `D(n−1, m−1)` of the recurrence
//! `D(i, j) = c(aᵢ, bⱼ) + min(D(i−1, j−1), D(i−1, j), D(i, j−1))`, `D(0, 0) = c(a₀, b₀)`,
//! over the cells allowed by the band. With [`DtwCost::Absolute`], `c = |a − b|` and the result
//! is the sum itself (`compare --metric dtw`); with [`DtwCost::Squared`], `c = (a − b)²` and the
//! result is the square root of the sum (`compare --metric dtw-sq`, the convention of
//! `dtaidistance`).
//!
//! The band rule (DESIGN.md): `window = Some(W)` allows the cells with `|i − j| ≤ W′`,
//! `W′ = max(W, |n − m|)`, so a path from `(0, 0)` to `(n−1, m−1)` always exists.
//!
//! When only the distance is wanted, the matrix is swept by anti-diagonals: the cells of one
//! anti-diagonal depend only on the two before it, so the inner loop has no loop-carried
//! dependency and compiles to SIMD, and three anti-diagonals of the shorter length are all the
//! memory needed (O(min(n, m))). The warping path needs the band of the matrix (O(n·W′)).

use super::error::{Operand, TemporalError, check_series};

/// The local cost of matching two values, and so which DTW is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DtwCost {
    /// `|a − b|`, summed along the path; no root (`dtw`).
    #[default]
    Absolute,
    /// `(a − b)²`, summed along the path; the result is the square root of the sum (`dtw-sq`).
    Squared,
}

impl DtwCost {
    /// Converts an accumulated path cost into the reported distance.
    #[inline]
    pub fn distance_from_raw(self, raw: f64) -> f64 {
        match self {
            DtwCost::Absolute => raw,
            DtwCost::Squared => raw.sqrt(),
        }
    }

    /// Converts a reported distance into the accumulated path cost it corresponds to.
    #[inline]
    pub fn raw_from_distance(self, distance: f64) -> f64 {
        match self {
            DtwCost::Absolute => distance,
            DtwCost::Squared => distance * distance,
        }
    }

    /// The local cost of matching `x` with `y`.
    #[inline]
    pub fn local(self, x: f64, y: f64) -> f64 {
        match self {
            DtwCost::Absolute => Abs::cost(x, y),
            DtwCost::Squared => Sq::cost(x, y),
        }
    }
}

/// A local cost as a type, so the hot loops are compiled once per convention.
pub(crate) trait LocalCost: Copy {
    fn cost(x: f64, y: f64) -> f64;
    /// The cost from `x` to the nearest point of `[lower, upper]` (zero inside), branch-free.
    fn to_interval(x: f64, lower: f64, upper: f64) -> f64;
}

/// `|x − y|`.
#[derive(Clone, Copy)]
pub(crate) struct Abs;

/// `(x − y)²`.
#[derive(Clone, Copy)]
pub(crate) struct Sq;

impl LocalCost for Abs {
    #[inline(always)]
    fn cost(x: f64, y: f64) -> f64 {
        (x - y).abs()
    }

    #[inline(always)]
    fn to_interval(x: f64, lower: f64, upper: f64) -> f64 {
        // At most one of the two is positive, since lower <= upper.
        positive_part(x - upper) + positive_part(lower - x)
    }
}

impl LocalCost for Sq {
    #[inline(always)]
    fn cost(x: f64, y: f64) -> f64 {
        let d = x - y;
        d * d
    }

    #[inline(always)]
    fn to_interval(x: f64, lower: f64, upper: f64) -> f64 {
        let above = positive_part(x - upper);
        let below = positive_part(lower - x);
        above * above + below * below
    }
}

/// `max(v, 0)` as a compare-and-select (one `maxpd`).
#[inline(always)]
fn positive_part(v: f64) -> f64 {
    if v > 0.0 { v } else { 0.0 }
}

/// The smaller of two values, as a plain compare-and-select so that it compiles to one
/// `minpd`; NaN never reaches it (inputs are checked finite).
#[inline(always)]
pub(crate) fn min2(x: f64, y: f64) -> f64 {
    if x < y { x } else { y }
}

/// Options of a DTW computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DtwOptions {
    /// The local cost, and so the convention of the result.
    pub cost: DtwCost,
    /// Sakoe–Chiba half-width `W`; `None` is no band. Widened to the length difference.
    pub window: Option<usize>,
}

impl DtwOptions {
    /// Full DTW with the given cost.
    pub fn new(cost: DtwCost) -> Self {
        DtwOptions { cost, window: None }
    }

    /// The same options with a Sakoe–Chiba band of half-width `window`.
    pub fn with_window(self, window: usize) -> Self {
        DtwOptions {
            window: Some(window),
            ..self
        }
    }
}

/// The band half-width actually used for series of lengths `len_a` and `len_b`:
/// `W′ = max(W, |len_a − len_b|)`, or a width covering the whole matrix without a band.
pub fn effective_window(len_a: usize, len_b: usize, window: Option<usize>) -> usize {
    let widest = len_a.max(len_b);
    match window {
        None => widest,
        Some(w) => w.max(len_a.abs_diff(len_b)).min(widest),
    }
}

/// DTW distance between `a` and `b` (see the module documentation for the conventions).
///
/// Errors when either series is empty or holds a non-finite value, naming which one.
pub fn dtw(a: &[f64], b: &[f64], options: &DtwOptions) -> Result<f64, TemporalError> {
    check_series(a, Operand::First)?;
    check_series(b, Operand::Second)?;
    let raw = raw_distance(a, b, options.cost, options.window, f64::INFINITY);
    Ok(options.cost.distance_from_raw(raw.unwrap_or(f64::INFINITY)))
}

/// DTW with early abandoning: `Ok(None)` as soon as the distance is certain to exceed
/// `max_distance` (in the units of the result), else `Ok(Some(distance))`.
///
/// Every warping path crosses anti-diagonal `d` or `d + 1` (a step advances `i + j` by one or
/// two) and costs are non-negative, so once the smallest partial cost on two consecutive
/// anti-diagonals exceeds the bound no path can come back under it.
pub fn dtw_bounded(
    a: &[f64],
    b: &[f64],
    options: &DtwOptions,
    max_distance: f64,
) -> Result<Option<f64>, TemporalError> {
    check_series(a, Operand::First)?;
    check_series(b, Operand::Second)?;
    if max_distance.is_nan() || max_distance < 0.0 {
        return Err(TemporalError::InvalidThreshold(max_distance));
    }
    let bound = options.cost.raw_from_distance(max_distance);
    Ok(raw_distance(a, b, options.cost, options.window, bound)
        .map(|raw| options.cost.distance_from_raw(raw)))
}

/// The accumulated cost (before any root), or `None` when it exceeds `bound_raw`.
/// Both series must be non-empty and finite.
pub(crate) fn raw_distance(
    a: &[f64],
    b: &[f64],
    cost: DtwCost,
    window: Option<usize>,
    bound_raw: f64,
) -> Option<f64> {
    // DTW is symmetric (the cost and the band are), so sweep with the shorter series along
    // the anti-diagonals: memory is then O(min(n, m)).
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let w = effective_window(short.len(), long.len(), window);
    match cost {
        DtwCost::Absolute => wavefront::<Abs>(short, long, w, bound_raw),
        DtwCost::Squared => wavefront::<Sq>(short, long, w, bound_raw),
    }
}

/// Anti-diagonal sweep; `a.len() <= b.len()`, both non-empty, `w` already widened.
///
/// Cells of anti-diagonal `d = i + j` are stored by `k = n − 1 − i`, so that along the
/// diagonal both the reversed shorter series and the longer series are read forwards:
/// `cur[k] = c(a[n−1−k], b[d−n+1+k]) + min(prev2[k+1], prev1[k+1], prev1[k])`.
/// Buffers are padded by one slot on each side; after each diagonal the slots just outside
/// its range are set to infinity, which (the range moving by at most one per diagonal) is
/// all the next two diagonals can read outside their own ranges.
fn wavefront<C: LocalCost>(a: &[f64], b: &[f64], w: usize, bound_raw: f64) -> Option<f64> {
    let n = a.len();
    let m = b.len();
    debug_assert!(n >= 1 && n <= m && w >= m - n);
    if w == 0 {
        // n == m and only the main diagonal is allowed.
        let mut total = 0.0;
        for (&x, &y) in a.iter().zip(b) {
            total += C::cost(x, y);
        }
        return (total <= bound_raw).then_some(total);
    }
    let abandon = bound_raw.is_finite();
    let reversed: Vec<f64> = a.iter().rev().copied().collect();
    let inf = f64::INFINITY;
    let mut prev2 = vec![inf; n + 2];
    let mut prev1 = vec![inf; n + 2];
    let mut cur = vec![inf; n + 2];
    // Diagonal 0: the single cell (0, 0), i = 0, k = n − 1, padded slot n.
    prev1[n] = C::cost(a[0], b[0]);
    let mut prev_min = prev1[n];
    if abandon && prev_min > bound_raw {
        return None;
    }
    for d in 1..=(n + m - 2) {
        let i_lo = d
            .saturating_sub(m - 1)
            .max(if d > w { (d - w).div_ceil(2) } else { 0 });
        let i_hi = (n - 1).min(d).min((d + w) / 2);
        let k_lo = n - 1 - i_hi;
        let k_hi = n - 1 - i_lo;
        let count = k_hi - k_lo + 1;
        let j_first = d + 1 + k_lo - n;
        let xs = &reversed[k_lo..k_lo + count];
        let ys = &b[j_first..j_first + count];
        let diag = &prev2[k_lo + 2..k_lo + 2 + count];
        let up = &prev1[k_lo + 2..k_lo + 2 + count];
        let left = &prev1[k_lo + 1..k_lo + 1 + count];
        let out = &mut cur[k_lo + 1..k_lo + 1 + count];
        diagonal_step::<C>(out, xs, ys, diag, up, left);
        cur[k_lo] = inf;
        cur[k_hi + 2] = inf;
        if abandon {
            let this_min = slice_min(&cur[k_lo + 1..k_lo + 1 + count]);
            if min2(this_min, prev_min) > bound_raw {
                return None;
            }
            prev_min = this_min;
        }
        std::mem::swap(&mut prev2, &mut prev1);
        std::mem::swap(&mut prev1, &mut cur);
    }
    // Cell (n − 1, m − 1): i = n − 1, k = 0, padded slot 1.
    let total = prev1[1];
    (total <= bound_raw).then_some(total)
}

/// One anti-diagonal: `out[k] = c(xs[k], ys[k]) + min(diag[k], up[k], left[k])`. Every slice
/// has the length of `out`; with that stated up front the loop has no bounds checks and
/// compiles to packed SIMD. Not inlined, so that the compiler keeps the knowledge that
/// `out` aliases none of the inputs.
#[inline(never)]
fn diagonal_step<C: LocalCost>(
    out: &mut [f64],
    xs: &[f64],
    ys: &[f64],
    diag: &[f64],
    up: &[f64],
    left: &[f64],
) {
    let n = out.len();
    let (xs, ys, diag, up, left) = (&xs[..n], &ys[..n], &diag[..n], &up[..n], &left[..n]);
    for k in 0..n {
        out[k] = C::cost(xs[k], ys[k]) + min2(min2(diag[k], up[k]), left[k]);
    }
}

/// Minimum of a slice with four independent accumulators (the loop-carried `min` would
/// otherwise serialise).
#[inline]
pub(crate) fn slice_min(values: &[f64]) -> f64 {
    let mut acc = [f64::INFINITY; 4];
    let mut chunks = values.chunks_exact(4);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = min2(*a, v);
        }
    }
    let mut best = min2(min2(acc[0], acc[1]), min2(acc[2], acc[3]));
    for &v in chunks.remainder() {
        best = min2(best, v);
    }
    best
}

/// Upper limit on the number of matrix cells [`dtw_path`] will store (2²⁸ cells = 2 GiB of
/// `f64`): beyond it the caller is told to use a band instead of the process running out of
/// memory.
pub const MAX_PATH_CELLS: usize = 1 << 28;

/// A DTW distance with one optimal warping path.
#[derive(Debug, Clone, PartialEq)]
pub struct WarpingPath {
    /// The distance, in the convention of the options' cost.
    pub distance: f64,
    /// Matched index pairs `(i, j)` from `(0, 0)` to `(n−1, m−1)`, each step moving by
    /// (1, 0), (0, 1) or (1, 1).
    pub path: Vec<(usize, usize)>,
}

/// DTW distance and an optimal warping path. Among equally cheap predecessors the
/// backtracking prefers the diagonal step, then the step that advances `a`, then `b`.
///
/// Stores the band of the matrix: `n · (2W′ + 1)` cells at most (`n · m` without a band);
/// errors above [`MAX_PATH_CELLS`].
pub fn dtw_path(a: &[f64], b: &[f64], options: &DtwOptions) -> Result<WarpingPath, TemporalError> {
    check_series(a, Operand::First)?;
    check_series(b, Operand::Second)?;
    let n = a.len();
    let m = b.len();
    let w = effective_window(n, m, options.window);
    let row_lo = |i: usize| i.saturating_sub(w);
    let row_hi = |i: usize| (m - 1).min(i + w);
    let mut offsets = Vec::with_capacity(n + 1);
    let mut cells = 0usize;
    for i in 0..n {
        offsets.push(cells);
        cells += row_hi(i) - row_lo(i) + 1;
        if cells > MAX_PATH_CELLS {
            return Err(TemporalError::InvalidParameter {
                name: "window",
                reason: format!(
                    "a warping path of {n} × {m} values needs more than {MAX_PATH_CELLS} \
                     matrix cells; use a narrower band"
                ),
            });
        }
    }
    offsets.push(cells);
    let mut acc = vec![f64::INFINITY; cells];
    let at = |acc: &[f64], i: usize, j: usize| -> f64 {
        if j < row_lo(i) || j > row_hi(i) {
            f64::INFINITY
        } else {
            acc[offsets[i] + j - row_lo(i)]
        }
    };
    // The accumulated costs of cell (i, j)'s diagonal, upper and left neighbours; infinite
    // outside the matrix or the band.
    let predecessors = |acc: &[f64], i: usize, j: usize| -> (f64, f64, f64) {
        let diag = if i > 0 && j > 0 {
            at(acc, i - 1, j - 1)
        } else {
            f64::INFINITY
        };
        let up = if i > 0 {
            at(acc, i - 1, j)
        } else {
            f64::INFINITY
        };
        let left = if j > 0 {
            at(acc, i, j - 1)
        } else {
            f64::INFINITY
        };
        (diag, up, left)
    };
    for i in 0..n {
        for j in row_lo(i)..=row_hi(i) {
            let best = if i == 0 && j == 0 {
                0.0
            } else {
                let (diag, up, left) = predecessors(&acc, i, j);
                min2(min2(diag, up), left)
            };
            acc[offsets[i] + j - row_lo(i)] = options.cost.local(a[i], b[j]) + best;
        }
    }
    let mut path = Vec::with_capacity(n + m);
    let (mut i, mut j) = (n - 1, m - 1);
    path.push((i, j));
    while i > 0 || j > 0 {
        let (diag, up, left) = predecessors(&acc, i, j);
        if diag <= up && diag <= left {
            i -= 1;
            j -= 1;
        } else if up <= left {
            i -= 1;
        } else {
            j -= 1;
        }
        path.push((i, j));
    }
    path.reverse();
    let raw = at(&acc, n - 1, m - 1);
    Ok(WarpingPath {
        distance: options.cost.distance_from_raw(raw),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straight from the recurrence, full matrix, as an oracle for the sweeps.
    fn naive(a: &[f64], b: &[f64], cost: DtwCost, window: Option<usize>) -> f64 {
        let (n, m) = (a.len(), b.len());
        let w = effective_window(n, m, window);
        let mut d = vec![vec![f64::INFINITY; m + 1]; n + 1];
        d[0][0] = 0.0;
        for i in 1..=n {
            for j in 1..=m {
                if (i as isize - j as isize).unsigned_abs() > w {
                    continue;
                }
                let best = d[i - 1][j - 1].min(d[i - 1][j]).min(d[i][j - 1]);
                d[i][j] = cost.local(a[i - 1], b[j - 1]) + best;
            }
        }
        cost.distance_from_raw(d[n][m])
    }

    fn pseudo_random(seed: u64, len: usize) -> Vec<f64> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64 * 10.0 - 5.0
            })
            .collect()
    }

    #[test]
    fn textbook_example() {
        // a = 0 1 3, b = 1 2 2 5: the best path (0,0) (1,1) (1,2) (2,3) costs
        // 1 + 1 + 1 + 2 = 5 with |·|, and 1 + 1 + 1 + 4 = 7 squared (dtaidistance gives
        // sqrt(7) = 2.6457513110645907 and, with inner_dist="euclidean", 5.0).
        let a = [0.0, 1.0, 3.0];
        let b = [1.0, 2.0, 2.0, 5.0];
        assert_eq!(
            dtw(&a, &b, &DtwOptions::new(DtwCost::Absolute)).unwrap(),
            5.0
        );
        let sq = dtw(&a, &b, &DtwOptions::new(DtwCost::Squared)).unwrap();
        assert!((sq - 7f64.sqrt()).abs() < 1e-15);
        let path = dtw_path(&a, &b, &DtwOptions::new(DtwCost::Absolute)).unwrap();
        assert_eq!(path.distance, 5.0);
        assert_eq!(path.path, vec![(0, 0), (1, 1), (1, 2), (2, 3)]);
    }

    #[test]
    fn single_values_and_band_zero() {
        let opts = DtwOptions::new(DtwCost::Absolute);
        assert_eq!(dtw(&[2.0], &[-1.5], &opts).unwrap(), 3.5);
        assert_eq!(dtw(&[2.0], &[1.0, 3.0, 0.0], &opts).unwrap(), 4.0);
        let banded = opts.with_window(0);
        assert_eq!(
            dtw(&[1.0, 2.0, 3.0], &[1.0, 3.0, 3.0], &banded).unwrap(),
            1.0
        );
        // With unequal lengths the band widens to the difference.
        assert_eq!(
            dtw(&[1.0, 2.0, 3.0], &[1.0, 3.0], &banded).unwrap(),
            naive(&[1.0, 2.0, 3.0], &[1.0, 3.0], DtwCost::Absolute, Some(0))
        );
    }

    #[test]
    fn sweep_matches_recurrence_on_many_shapes() {
        for (seed, n, m) in [
            (1, 1, 1),
            (2, 1, 9),
            (3, 9, 1),
            (4, 7, 7),
            (5, 13, 30),
            (6, 30, 13),
            (7, 64, 65),
            (8, 100, 100),
        ] {
            let a = pseudo_random(seed, n);
            let b = pseudo_random(seed + 100, m);
            for cost in [DtwCost::Absolute, DtwCost::Squared] {
                for window in [None, Some(0), Some(1), Some(2), Some(5), Some(50)] {
                    let opts = DtwOptions { cost, window };
                    let want = naive(&a, &b, cost, window);
                    let got = dtw(&a, &b, &opts).unwrap();
                    assert!(
                        (got - want).abs() <= 1e-12 * want.max(1.0),
                        "n={n} m={m} {cost:?} {window:?}: {got} vs {want}"
                    );
                    let path = dtw_path(&a, &b, &opts).unwrap();
                    assert!((path.distance - want).abs() <= 1e-12 * want.max(1.0));
                    let reversed = dtw(&b, &a, &opts).unwrap();
                    assert_eq!(got, reversed);
                }
            }
        }
    }

    #[test]
    fn early_abandoning_only_abandons_above_the_bound() {
        let a = pseudo_random(11, 80);
        let b = pseudo_random(12, 95);
        for cost in [DtwCost::Absolute, DtwCost::Squared] {
            for window in [None, Some(3), Some(20)] {
                let opts = DtwOptions { cost, window };
                let exact = dtw(&a, &b, &opts).unwrap();
                assert_eq!(dtw_bounded(&a, &b, &opts, exact).unwrap(), Some(exact));
                assert_eq!(
                    dtw_bounded(&a, &b, &opts, exact * 2.0).unwrap(),
                    Some(exact)
                );
                assert_eq!(dtw_bounded(&a, &b, &opts, exact * 0.999).unwrap(), None);
                assert_eq!(dtw_bounded(&a, &b, &opts, 0.0).unwrap(), None);
            }
        }
    }

    #[test]
    fn errors_name_the_empty_or_bad_series() {
        let opts = DtwOptions::default();
        assert_eq!(
            dtw(&[], &[1.0], &opts),
            Err(TemporalError::EmptySeries(Operand::First))
        );
        assert_eq!(
            dtw(&[1.0], &[], &opts),
            Err(TemporalError::EmptySeries(Operand::Second))
        );
        let err = dtw(&[1.0], &[0.0, f64::NAN], &opts).unwrap_err();
        assert!(matches!(
            err,
            TemporalError::NonFinite {
                operand: Operand::Second,
                index: 1,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "the second series has a non-finite value (NaN) at index 1"
        );
        assert!(dtw_bounded(&[1.0], &[1.0], &opts, -1.0).is_err());
    }
}
