//! Lower bounds of DTW: LB_Kim and LB_Keogh (Keogh & Ratanamahatana 2005, "Exact indexing
//! of dynamic time warping", KAIS 7(3); Rakthanmanon et al. 2012, "Searching and mining
//! trillions of time series subsequences under dynamic time warping", KDD).
//!
//! Each bound is at most the DTW distance of [`dtw`](super::dtw::dtw) with the same cost and
//! band, for any lengths: they let a search skip the quadratic computation for most
//! candidates. All of them are returned in the units of the distance (square-rooted for
//! [`DtwCost::Squared`]).

use std::collections::VecDeque;

use super::dtw::{DtwCost, DtwOptions, effective_window};
use super::error::{Operand, TemporalError, check_series};

/// LB_Kim as Keogh & Ratanamahatana (2005, §2.2) give it after Kim, Park & Chu (2001): the
/// largest of the local costs between the first values, the last values, the maxima and the
/// minima of the two series. Each is the cost of one cell that every warping path must visit
/// (the cell matching a series' maximum is matched with something no larger than the other's
/// maximum), so each alone, and their maximum, is a lower bound. O(n + m).
pub fn lb_kim(a: &[f64], b: &[f64], cost: DtwCost) -> Result<f64, TemporalError> {
    check_series(a, Operand::First)?;
    check_series(b, Operand::Second)?;
    let (a_min, a_max) = min_max(a);
    let (b_min, b_max) = min_max(b);
    let raw = [
        cost.local(a[0], b[0]),
        cost.local(a[a.len() - 1], b[b.len() - 1]),
        cost.local(a_max, b_max),
        cost.local(a_min, b_min),
    ]
    .into_iter()
    .fold(0.0, f64::max);
    Ok(cost.distance_from_raw(raw))
}

/// LB_KimFL of the UCR suite (Rakthanmanon et al. 2012, §4.2.1): the cost of the first cell
/// plus that of the last one, which every path visits (one cell when both series have length
/// one). O(1).
pub fn lb_kim_fl(a: &[f64], b: &[f64], cost: DtwCost) -> Result<f64, TemporalError> {
    check_series(a, Operand::First)?;
    check_series(b, Operand::Second)?;
    let first = cost.local(a[0], b[0]);
    let raw = if a.len() == 1 && b.len() == 1 {
        first
    } else {
        first + cost.local(a[a.len() - 1], b[b.len() - 1])
    };
    Ok(cost.distance_from_raw(raw))
}

/// The upper and lower envelope of a series under a Sakoe–Chiba band: for each position `i`
/// of the other series, the largest and smallest value of `series[j]` over
/// `|i − j| ≤ radius` (Keogh & Ratanamahatana 2005, eq. 7).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `upper[i] = max series[j]` over the band around `i`.
    pub upper: Vec<f64>,
    /// `lower[i] = min series[j]` over the band around `i`.
    pub lower: Vec<f64>,
}

impl Envelope {
    /// The envelope at every position of `series` itself (equal lengths).
    pub fn new(series: &[f64], radius: usize) -> Envelope {
        build_envelope(series, radius, series.len())
    }

    /// The envelope at `positions` positions, for comparison with a series of that length.
    /// Every position must see at least one value: `positions ≤ series.len() + radius`, and
    /// the series must not be empty.
    pub fn for_length(
        series: &[f64],
        radius: usize,
        positions: usize,
    ) -> Result<Envelope, TemporalError> {
        if series.is_empty() {
            return Err(TemporalError::EmptySeries(Operand::Second));
        }
        if positions > series.len().saturating_add(radius) {
            return Err(TemporalError::InvalidParameter {
                name: "envelope length",
                reason: format!(
                    "{positions} positions around a series of {} values with radius {radius} \
                     leave positions that see no value",
                    series.len()
                ),
            });
        }
        Ok(build_envelope(series, radius, positions))
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        self.upper.len()
    }

    /// Whether the envelope has no positions.
    pub fn is_empty(&self) -> bool {
        self.upper.is_empty()
    }
}

/// Sliding maximum and minimum with monotone deques (Lemire 2009, "Faster retrieval with a
/// two-pass dynamic-time-warping lower bound", Pattern Recognition 42(9)): O(len) whatever
/// the radius. The window of position `i` is `[i − r, i + r] ∩ [0, len − 1]`; both ends only
/// move forwards.
fn build_envelope(series: &[f64], radius: usize, positions: usize) -> Envelope {
    let len = series.len();
    let mut upper = Vec::with_capacity(positions);
    let mut lower = Vec::with_capacity(positions);
    let mut max_q: VecDeque<usize> = VecDeque::new();
    let mut min_q: VecDeque<usize> = VecDeque::new();
    let mut next = 0usize;
    for i in 0..positions {
        let hi = (i.saturating_add(radius)).min(len.saturating_sub(1));
        while next <= hi && next < len {
            let v = series[next];
            while max_q.back().is_some_and(|&j| series[j] <= v) {
                max_q.pop_back();
            }
            max_q.push_back(next);
            while min_q.back().is_some_and(|&j| series[j] >= v) {
                min_q.pop_back();
            }
            min_q.push_back(next);
            next += 1;
        }
        let lo = i.saturating_sub(radius);
        while max_q.front().is_some_and(|&j| j < lo) {
            max_q.pop_front();
        }
        while min_q.front().is_some_and(|&j| j < lo) {
            min_q.pop_front();
        }
        // Callers guarantee every window is non-empty; an empty one (not reachable through
        // the public constructors) would give the widest possible envelope.
        upper.push(max_q.front().map_or(f64::INFINITY, |&j| series[j]));
        lower.push(min_q.front().map_or(f64::NEG_INFINITY, |&j| series[j]));
    }
    Envelope { upper, lower }
}

/// Sliding maximum (`keep_first(a, b)` = `a > b`) or minimum (`a < b`) over
/// `[i − r, i + r] ∩ [0, n − 1]` for every `i`, written to `out`, by the van Herk / Gil–Werman
/// algorithm (van Herk 1992, Pattern Recognition Letters 13(7); Gil & Werman 1993, IEEE PAMI
/// 15(5)): in blocks of `w = 2r + 1`, the window starting at `p` is the suffix extremum of its
/// block from `p` and the prefix extremum of the next block up to `p + w − 1`. Three
/// branch-free passes whatever `r`. `prefix` and `suffix` are scratch of any length (resized).
pub(crate) fn sliding_extremum_into(
    series: &[f64],
    r: usize,
    neutral: f64,
    keep_first: impl Fn(f64, f64) -> bool + Copy,
    out: &mut [f64],
    prefix: &mut Vec<f64>,
    suffix: &mut Vec<f64>,
) {
    let n = series.len();
    let w = 2 * r + 1;
    let pick = |a: f64, b: f64| if keep_first(a, b) { a } else { b };
    // Padded coordinates: p = i + r, so the window of i is [i, i + w − 1]. `suffix` first
    // holds the padded series.
    suffix.clear();
    suffix.resize(r, neutral);
    suffix.extend_from_slice(series);
    suffix.resize(n + 2 * r, neutral);
    prefix.clear();
    prefix.extend_from_slice(suffix);
    for block in prefix.chunks_mut(w) {
        let mut acc = neutral;
        for v in block.iter_mut() {
            acc = pick(acc, *v);
            *v = acc;
        }
    }
    for block in suffix.chunks_mut(w) {
        let mut acc = neutral;
        for v in block.iter_mut().rev() {
            acc = pick(acc, *v);
            *v = acc;
        }
    }
    for ((o, &s), &p) in out[..n].iter_mut().zip(suffix.iter()).zip(&prefix[w - 1..]) {
        *o = pick(s, p);
    }
}

/// The cost from `x` to the interval `[lower, upper]` (zero inside it).
#[inline(always)]
pub(crate) fn cost_to_interval(cost: DtwCost, x: f64, lower: f64, upper: f64) -> f64 {
    if x > upper {
        cost.local(x, upper)
    } else if x < lower {
        cost.local(x, lower)
    } else {
        0.0
    }
}

/// LB_Keogh (Keogh & Ratanamahatana 2005, eq. 8) of `a` against the envelope of `b` under the
/// band of `options` (widened to the length difference as DTW does). Every row `i` of the
/// matrix holds at least one cell of the path, inside the band, and that cell costs at least
/// the cost from `aᵢ` to the envelope at `i`. O(n + m).
pub fn lb_keogh(a: &[f64], b: &[f64], options: &DtwOptions) -> Result<f64, TemporalError> {
    check_series(a, Operand::First)?;
    check_series(b, Operand::Second)?;
    let radius = effective_window(a.len(), b.len(), options.window);
    let envelope = Envelope::for_length(b, radius, a.len())?;
    lb_keogh_envelope(a, &envelope, options.cost)
}

/// LB_Keogh of `a` against a precomputed envelope of the other series (one position per
/// value of `a`), in the units of the distance.
pub fn lb_keogh_envelope(
    a: &[f64],
    envelope: &Envelope,
    cost: DtwCost,
) -> Result<f64, TemporalError> {
    check_series(a, Operand::First)?;
    if envelope.len() != a.len() {
        return Err(TemporalError::InvalidParameter {
            name: "envelope",
            reason: format!(
                "it has {} positions for a series of {} values",
                envelope.len(),
                a.len()
            ),
        });
    }
    let raw: f64 = a
        .iter()
        .zip(envelope.upper.iter().zip(&envelope.lower))
        .map(|(&x, (&u, &l))| cost_to_interval(cost, x, l, u))
        .sum();
    Ok(cost.distance_from_raw(raw))
}

fn min_max(series: &[f64]) -> (f64, f64) {
    series
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

#[cfg(test)]
mod tests {
    use super::super::dtw::dtw;
    use super::*;

    #[test]
    fn envelope_by_hand() {
        let s = [1.0, 3.0, 2.0, 5.0, 4.0, 0.0];
        let e = Envelope::new(&s, 1);
        assert_eq!(e.upper, vec![3.0, 3.0, 5.0, 5.0, 5.0, 4.0]);
        assert_eq!(e.lower, vec![1.0, 1.0, 2.0, 2.0, 0.0, 0.0]);
        let e0 = Envelope::new(&s, 0);
        assert_eq!(e0.upper, s.to_vec());
        assert_eq!(e0.lower, s.to_vec());
        // A longer other series: positions past the end see the last values.
        let e = Envelope::for_length(&[1.0, 2.0], 2, 4).unwrap();
        assert_eq!(e.upper, vec![2.0, 2.0, 2.0, 2.0]);
        assert_eq!(e.lower, vec![1.0, 1.0, 1.0, 2.0]);
        assert!(Envelope::for_length(&[1.0, 2.0], 1, 4).is_err());
    }

    #[test]
    fn bounds_by_hand_and_below_dtw() {
        let a = [0.0, 1.0, 3.0];
        let b = [1.0, 2.0, 2.0, 5.0];
        // first |0−1| = 1, last |3−5| = 2, max |3−5| = 2, min |0−1| = 1.
        assert_eq!(lb_kim(&a, &b, DtwCost::Absolute).unwrap(), 2.0);
        assert_eq!(lb_kim_fl(&a, &b, DtwCost::Absolute).unwrap(), 3.0);
        let opts = DtwOptions::new(DtwCost::Absolute);
        let d = dtw(&a, &b, &opts).unwrap();
        assert_eq!(d, 5.0);
        // Without a band the envelope is [1, 5] everywhere: only a₀ = 0 lies outside.
        assert_eq!(lb_keogh(&a, &b, &opts).unwrap(), 1.0);
        assert_eq!(lb_kim_fl(&[2.0], &[5.0], DtwCost::Squared).unwrap(), 3.0);
    }

    #[test]
    fn van_herk_gil_werman_matches_the_deque_envelope() {
        let series: Vec<f64> = (0..97)
            .map(|i| ((i * 37 % 23) as f64).sin() * i as f64)
            .collect();
        let (mut prefix, mut suffix) = (Vec::new(), Vec::new());
        for r in [0, 1, 2, 5, 12, 50, 200] {
            let want = Envelope::new(&series, r);
            let mut upper = vec![0.0; series.len()];
            let mut lower = vec![0.0; series.len()];
            sliding_extremum_into(
                &series,
                r,
                f64::NEG_INFINITY,
                |a, b| a > b,
                &mut upper,
                &mut prefix,
                &mut suffix,
            );
            sliding_extremum_into(
                &series,
                r,
                f64::INFINITY,
                |a, b| a < b,
                &mut lower,
                &mut prefix,
                &mut suffix,
            );
            assert_eq!(upper, want.upper, "r = {r}");
            assert_eq!(lower, want.lower, "r = {r}");
        }
    }

    #[test]
    fn envelope_length_must_match() {
        let e = Envelope::new(&[1.0, 2.0, 3.0], 1);
        assert!(lb_keogh_envelope(&[1.0, 2.0], &e, DtwCost::Absolute).is_err());
    }
}
