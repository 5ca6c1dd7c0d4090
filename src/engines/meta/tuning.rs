//! Self-tuning of the motif search: the dominant period of a series, from its autocorrelation,
//! chooses the matrix-profile window.
//!
//! The autocorrelation is the biased sample estimate of numpy/statsmodels
//! (`statsmodels.tsa.stattools.acf(x, adjusted=False)`, Box & Jenkins §2.1.4):
//! `r(k) = Σ_{t<n−k} (x_t − x̄)(x_{t+k} − x̄) / Σ_t (x_t − x̄)²`. It is computed directly in
//! `O(n · max_lag)`: the lags asked for here are at most `n/4`, which for the 1–4k sample
//! windows this serves is a few million multiply-adds, and saves an FFT dependency.
//!
//! The dominant period is the lag of the highest local maximum of `r` that comes after the
//! first zero crossing (the first lag with `r(k) ≤ 0`). Before the crossing the ACF is still
//! falling from `r(0) = 1` and its shoulders are not periods; after it, the first return of the
//! series to itself is the largest peak for a periodic signal (the biased estimate shrinks
//! later peaks by `1 − k/n`), while a harmonic's smaller peaks lose to the fundamental.

/// The dominant period found by [`dominant_period`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period {
    /// Lag of the peak, in samples.
    pub lag: usize,
    /// Autocorrelation at that lag, in `(0, 1]` for a real peak.
    pub strength: f64,
}

/// Smallest motif window [`motif_window`] returns: shorter periods are near-Nyquist
/// oscillations whose z-normalised windows all look alike, and the matrix profile literature
/// (Yeh et al. 2016; stumpy's tutorials) uses windows of tens of samples; 8 keeps a few samples
/// per half-cycle.
pub const MIN_MOTIF_WINDOW: usize = 8;

/// Largest motif window as a fraction of the series: `n / 4` leaves at least a few
/// non-overlapping repetitions of a motif to find (and keeps the profile defined, which needs
/// about `m ≤ 2n/3`).
pub const MAX_MOTIF_WINDOW_DENOMINATOR: usize = 4;

/// A period is used for the motif window only when the autocorrelation at its lag is at least
/// this. White noise has sample autocorrelations of about `±1.96/√n` (the 95% band: 0.2 at
/// n = 100, 0.04 at n = 2048), while a sinusoid in noise of equal variance still reaches 0.5 at
/// its period; 0.3 separates the two for every n ≥ 100.
pub const MIN_PERIOD_STRENGTH: f64 = 0.3;

/// Smallest lag [`motif_window`] searches: lag 1 cannot be a peak after a zero crossing.
const MIN_SEARCH_LAG: usize = 2;

/// Biased sample autocorrelation `r(0..=max_lag)` (statsmodels `acf(adjusted=False)`), or
/// `None` when the series has a non-finite sample or is constant.
pub fn autocorrelation(series: &[f64], max_lag: usize) -> Option<Vec<f64>> {
    let n = series.len();
    if n == 0 || series.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mean = series.iter().sum::<f64>() / n as f64;
    let centred: Vec<f64> = series.iter().map(|x| x - mean).collect();
    let c0: f64 = centred.iter().map(|x| x * x).sum();
    if c0 <= 0.0 || !c0.is_finite() {
        return None;
    }
    let max_lag = max_lag.min(n - 1);
    Some(
        (0..=max_lag)
            .map(|k| {
                centred[..n - k]
                    .iter()
                    .zip(&centred[k..])
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    / c0
            })
            .collect(),
    )
}

/// The dominant period among lags `min_lag..=max_lag`: the highest local maximum of the
/// autocorrelation after its first zero crossing (see the module documentation). A lag at the
/// edge of the search range counts as a peak only when its autocorrelation is a strict local
/// maximum over the neighbouring lags that exist in the series. `None` for a non-finite or
/// constant series, an empty range, a series whose autocorrelation never crosses zero within
/// `max_lag`, or no peak in range after the crossing.
pub fn dominant_period(series: &[f64], min_lag: usize, max_lag: usize) -> Option<Period> {
    let n = series.len();
    let min_lag = min_lag.max(1);
    let max_lag = max_lag.min(n.saturating_sub(1));
    if min_lag > max_lag {
        return None;
    }
    // One lag beyond the range, to tell whether max_lag is a peak.
    let r = autocorrelation(series, max_lag + 1)?;
    let crossing = (1..=max_lag).find(|&k| r[k] <= 0.0)?;
    let mut best: Option<Period> = None;
    for k in min_lag.max(crossing + 1)..=max_lag {
        let left = r[k - 1];
        let right = r.get(k + 1).copied().unwrap_or(f64::NEG_INFINITY);
        if r[k] > left && r[k] >= right && best.is_none_or(|b| r[k] > b.strength) {
            best = Some(Period {
                lag: k,
                strength: r[k],
            });
        }
    }
    best
}

/// The motif window for a series: its dominant period (searched over lags `2..=n/4`) when the
/// autocorrelation there is at least [`MIN_PERIOD_STRENGTH`], clamped to
/// `[MIN_MOTIF_WINDOW, n/4]`; otherwise `default`, unchanged.
pub fn motif_window(series: &[f64], default: usize) -> usize {
    let max = series.len() / MAX_MOTIF_WINDOW_DENOMINATOR;
    if max < MIN_MOTIF_WINDOW {
        return default;
    }
    match dominant_period(series, MIN_SEARCH_LAG, max) {
        Some(p) if p.strength >= MIN_PERIOD_STRENGTH => p.lag.clamp(MIN_MOTIF_WINDOW, max),
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, period: f64) -> Vec<f64> {
        (0..n)
            .map(|t| (std::f64::consts::TAU * t as f64 / period).sin())
            .collect()
    }

    /// Uniform noise in [−0.5, 0.5) from xorshift64.
    fn noise(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    #[test]
    fn a_sines_dominant_period_is_its_period() {
        for period in [12.0, 50.0, 64.0, 100.0, 37.3] {
            let p = dominant_period(&sine(2000, period), 2, 500).unwrap();
            assert_eq!(p.lag, period.round() as usize, "period {period}: {p:?}");
            assert!(p.strength > 0.9, "{p:?}");
            assert_eq!(
                motif_window(&sine(2000, period), 100),
                period.round() as usize
            );
        }
    }

    #[test]
    fn a_noisy_sine_keeps_its_period() {
        let n = 2048;
        let x: Vec<f64> = sine(n, 40.0)
            .iter()
            .zip(noise(3, n))
            .map(|(s, e)| s + 2.0 * e)
            .collect();
        let p = dominant_period(&x, 2, n / 4).unwrap();
        assert_eq!(p.lag, 40);
        assert!(p.strength > MIN_PERIOD_STRENGTH, "{p:?}");
        assert_eq!(motif_window(&x, 100), 40);
    }

    #[test]
    fn the_fundamental_beats_its_harmonic() {
        let x: Vec<f64> = (0..2048)
            .map(|t| {
                let t = t as f64 * std::f64::consts::TAU;
                (t / 80.0).sin() + 0.6 * (t / 20.0).sin()
            })
            .collect();
        assert_eq!(dominant_period(&x, 2, 512).unwrap().lag, 80);
    }

    #[test]
    fn noise_gets_the_default_window() {
        for seed in 1..=5 {
            let x = noise(seed, 2048);
            let p = dominant_period(&x, 2, 512);
            assert!(p.is_none_or(|p| p.strength < 0.1), "{p:?}");
            assert_eq!(motif_window(&x, 77), 77);
        }
    }

    #[test]
    fn windows_are_clamped() {
        assert_eq!(motif_window(&sine(1000, 5.0), 100), MIN_MOTIF_WINDOW);
        assert_eq!(motif_window(&sine(1000, 200.0), 100), 200);
        // Too short to hold a window of MIN_MOTIF_WINDOW in n/4.
        assert_eq!(motif_window(&sine(20, 4.0), 9), 9);
    }

    #[test]
    fn bad_input_has_no_period() {
        assert_eq!(dominant_period(&[3.0; 100], 2, 50), None);
        assert_eq!(autocorrelation(&[3.0; 100], 5), None);
        let mut x = sine(500, 25.0);
        x[17] = f64::NAN;
        assert_eq!(dominant_period(&x, 2, 100), None);
        assert_eq!(motif_window(&x, 64), 64);
        assert_eq!(dominant_period(&[], 2, 10), None);
        assert_eq!(
            dominant_period(&sine(100, 10.0), 50, 40),
            None,
            "empty lag range"
        );
        // A trend never crosses zero within the range.
        let trend: Vec<f64> = (0..500).map(|t| t as f64).collect();
        assert_eq!(dominant_period(&trend, 2, 50), None);
    }

    #[test]
    fn autocorrelation_by_hand() {
        // x = [1, 2, 3, 4]: centred [−1.5, −0.5, 0.5, 1.5], c0 = 5;
        // r1 = (0.75 − 0.25 + 0.75) / 5 = 0.25, r2 = (−0.75 − 0.75) / 5 = −0.3.
        let r = autocorrelation(&[1.0, 2.0, 3.0, 4.0], 10).unwrap();
        let want = [1.0, 0.25, -0.3, -0.45];
        assert_eq!(r.len(), 4);
        for (g, w) in r.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{r:?}");
        }
    }
}
