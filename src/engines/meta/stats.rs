//! Per-window statistics of a series for the matrix profile: mean, inverse centred norm,
//! constancy, and the two update terms of the centred dot-product recurrence.
//!
//! With `C(i, j) = Σₜ (x[i+t] − μᵢ)(x[j+t] − μⱼ)` (t < m), the centred dot product of windows
//! `i` and `j`, SCAMP's update (Zimmerman et al. 2019, §3.3) is
//! `C(i, j) = C(i−1, j−1) + df[i]·dg[j] + df[j]·dg[i]` with
//! `df[i] = (x[i+m−1] − x[i−1]) / 2` and `dg[i] = (x[i+m−1] − μᵢ) + (x[i−1] − μᵢ₋₁)`: Mueen's
//! sliding dot-product update (STOMP) written on centred values, which keeps its precision on
//! series far from zero. The Pearson correlation is `C(i, j) / (‖x̃ᵢ‖ ‖x̃ⱼ‖)`.
//!
//! Everything is computed on the samples less the first sample: z-normalised distances do not
//! change when a constant is subtracted, and the sums lose far fewer digits on a series that
//! sits far from zero (a sensor reading around 10⁶ with unit noise). The statistics are built
//! one sample at a time ([`WindowStats::push`]), so the batch and the streaming profile compute
//! exactly the same numbers.

/// Windows between exact recomputations of a window's sum and centred norm; in between they
/// follow O(1) sliding updates. Bounds the rounding drift of those updates to 64 steps, at an
/// amortised cost of `2m/64` operations per window.
const STATS_REFRESH_WINDOWS: usize = 64;

/// Relative precision asked of a sliding centred norm². Each update rounds by about an ulp of
/// its own magnitude, so the error of a sliding norm² is about ε times the magnitudes summed
/// since the last exact value; when that is above this fraction of the norm² (nearly constant
/// windows, short windows of a wandering series, a window just after a constant stretch) the
/// norm² is recomputed exactly. The distance of a close pair magnifies a relative error δ of
/// the norms to about `m·δ/d` in `d`, hence the strict bound.
const NORM_RELATIVE_PRECISION: f64 = 1e-13;

/// Per-window statistics of a series, grown one sample at a time.
#[derive(Debug, Clone, Default)]
pub(crate) struct WindowStats {
    window: usize,
    /// The first sample, subtracted from every sample.
    offset: f64,
    /// The last sample as given (constancy is decided on the samples as given).
    last: f64,
    /// The samples less `offset`.
    pub shifted: Vec<f64>,
    /// Mean of each window.
    pub mean: Vec<f64>,
    /// `1 / ‖xᵢ − μᵢ‖`, or 0 for a constant window.
    pub inv_norm: Vec<f64>,
    /// All samples equal, or a centred norm that is zero in floating point.
    pub constant: Vec<bool>,
    /// `df[i]` of the recurrence; 0 for window 0.
    pub df: Vec<f64>,
    /// `dg[i]` of the recurrence; 0 for window 0.
    pub dg: Vec<f64>,
    /// Length of the run of equal samples that ends at the last observed sample.
    run: usize,
    /// Sliding sum of the last window.
    sum: f64,
    /// Sliding centred norm² of the last window.
    norm2: f64,
    /// Σ |norm² updates| since the last exact recomputation.
    drift: f64,
}

impl WindowStats {
    pub fn new(window: usize) -> Self {
        WindowStats {
            window,
            ..WindowStats::default()
        }
    }

    /// The statistics of every window of `series`.
    pub fn of(series: &[f64], window: usize) -> Self {
        let mut stats = WindowStats::new(window);
        let windows = (series.len() + 1).saturating_sub(window);
        stats.shifted.reserve(series.len());
        stats.mean.reserve(windows);
        stats.inv_norm.reserve(windows);
        stats.constant.reserve(windows);
        stats.df.reserve(windows);
        stats.dg.reserve(windows);
        for &x in series {
            stats.push(x);
        }
        stats
    }

    /// Window length `m`.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Number of windows seen so far.
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// The first sample, which [`WindowStats::shifted`] has less.
    #[cfg(test)]
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// Appends a sample, and the statistics of the window that ends with it once there are
    /// enough samples.
    pub fn push(&mut self, sample: f64) {
        if self.shifted.is_empty() {
            self.offset = sample;
            self.run = 1;
        } else if sample == self.last {
            self.run += 1;
        } else {
            self.run = 1;
        }
        self.last = sample;
        self.shifted.push(sample - self.offset);
        let series = &self.shifted[..];
        let m = self.window;
        let p = series.len() - 1;
        if series.len() < m {
            return;
        }
        let i = series.len() - m;
        let x = &series[i..];
        let (mean, df, dg);
        if i == 0 || i.is_multiple_of(STATS_REFRESH_WINDOWS) {
            self.sum = x.iter().sum();
            mean = self.sum / m as f64;
            self.norm2 = centred_norm2(x, mean);
            self.drift = 0.0;
            (df, dg) = if i == 0 {
                (0.0, 0.0)
            } else {
                update_terms(series, i, m, mean, self.mean[i - 1])
            };
        } else {
            let (first, last) = (series[i - 1], series[p]);
            self.sum += last - first;
            mean = self.sum / m as f64;
            (df, dg) = update_terms(series, i, m, mean, self.mean[i - 1]);
            let step = 2.0 * df * dg;
            self.norm2 += step;
            self.drift += step.abs();
            if f64::EPSILON * self.drift > NORM_RELATIVE_PRECISION * self.norm2 {
                self.norm2 = centred_norm2(x, mean);
                self.drift = 0.0;
            }
        }
        let inv_norm = 1.0 / self.norm2.sqrt();
        let constant = self.run >= m || !(inv_norm.is_finite() && self.norm2 > 0.0);
        self.mean.push(mean);
        self.inv_norm.push(if constant { 0.0 } else { inv_norm });
        self.constant.push(constant);
        self.df.push(df);
        self.dg.push(dg);
    }
}

/// `df[i]` and `dg[i]` of SCAMP's update (module documentation).
fn update_terms(series: &[f64], i: usize, m: usize, mean: f64, prev_mean: f64) -> (f64, f64) {
    let (first, last) = (series[i - 1], series[i + m - 1]);
    ((last - first) * 0.5, (last - mean) + (first - prev_mean))
}

/// `Σ (xₜ − μ)²`, two-pass.
fn centred_norm2(x: &[f64], mean: f64) -> f64 {
    x.iter().map(|&v| (v - mean) * (v - mean)).sum()
}

/// The centred dot product `C(i, j)` of windows `i < j`, computed directly. The batch and the
/// streaming profile both start each diagonal with it, in this argument order.
pub(crate) fn centred_dot(
    series: &[f64],
    window: usize,
    i: usize,
    j: usize,
    mean_i: f64,
    mean_j: f64,
) -> f64 {
    series[i..i + window]
        .iter()
        .zip(&series[j..j + window])
        .map(|(&a, &b)| (a - mean_i) * (b - mean_j))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(series: &[f64], m: usize, i: usize) -> (f64, f64) {
        let x = &series[i..i + m];
        let mean = x.iter().sum::<f64>() / m as f64;
        (mean, centred_norm2(x, mean))
    }

    #[test]
    fn sliding_statistics_agree_with_direct_ones() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let series: Vec<f64> = (0..1000)
            .map(|k| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // A large offset and a constant stretch stress the recurrences.
                if (400..460).contains(&k) {
                    1e4 + 0.25
                } else {
                    1e4 + (state >> 11) as f64 / (1u64 << 53) as f64
                }
            })
            .collect();
        for m in [3, 10, 50, 100] {
            let stats = WindowStats::of(&series, m);
            assert_eq!(stats.len(), series.len() - m + 1);
            for i in 0..stats.len() {
                let (mean, norm2) = direct(&series, m, i);
                let shifted_back = stats.mean[i] + stats.offset();
                assert!(
                    (shifted_back - mean).abs() <= 1e-12 * mean.abs(),
                    "m={m} i={i}"
                );
                let constant = series[i..i + m].iter().all(|&v| v == series[i]);
                assert_eq!(stats.constant[i], constant, "m={m} i={i}");
                if !constant {
                    let inv = 1.0 / norm2.sqrt();
                    assert!(
                        (stats.inv_norm[i] / inv - 1.0).abs() < 1e-12,
                        "m={m} i={i}: {} vs {inv}",
                        stats.inv_norm[i]
                    );
                } else {
                    assert_eq!(stats.inv_norm[i], 0.0);
                }
            }
        }
    }

    #[test]
    fn the_update_reproduces_centred_dot_products() {
        let series: Vec<f64> = (0..300)
            .map(|k| (k as f64 * 0.37).sin() * 3.0 + (k as f64 * 0.011).cos() + 50.0)
            .collect();
        let m = 17;
        let stats = WindowStats::of(&series, m);
        let series = &stats.shifted;
        for k in [5, 40, 200] {
            let mut c = centred_dot(series, m, 0, k, stats.mean[0], stats.mean[k]);
            for i in 1..stats.len() - k {
                let j = i + k;
                c += stats.df[i] * stats.dg[j] + stats.df[j] * stats.dg[i];
                let exact = centred_dot(series, m, i, j, stats.mean[i], stats.mean[j]);
                assert!((c - exact).abs() < 1e-10, "k={k} i={i}: {c} vs {exact}");
            }
        }
    }
}
