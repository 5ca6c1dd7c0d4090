//! Delay embedding and the automatic choice of its delay τ, its dimension m and the Theiler
//! window.
//!
//! - τ: the first minimum of the average mutual information between `x(t)` and `x(t+τ)`
//!   (Fraser & Swinney 1986, Phys. Rev. A 33, 1134); when it has none within the search range,
//!   the first lag where the autocorrelation falls below 1/e.
//! - m: Cao's method (L. Cao 1997, Physica D 110, 43–50): `E1(d) = E(d+1)/E(d)` stops
//!   changing once d is large enough to unfold the attractor. Cao's second statistic `E2(d)`
//!   stays at 1 for every d on random data, which the classification uses.
//! - Theiler window (J. Theiler 1986, Phys. Rev. A 34, 2427): neighbours closer in time than
//!   this are excluded everywhere, in the neighbour searches and in the pair counts.

use super::AttractorError;
use super::neighbours::NeighbourSearch;
use super::series;

/// Squared distance (in units of the series' standard deviation) at or below which two delay
/// vectors are the same point: far above the rounding error of standardised data (~1e-15) and
/// far below any nearest-neighbour distance on a real attractor of up to 10⁶ points.
pub(crate) const DUPLICATE_DISTANCE_SQ: f64 = 1e-18;

/// Bins of the histogram behind the mutual information: 16, TISEAN's `mutual` default (Hegger,
/// Kantz & Schreiber 1999). Only the position of the first minimum is used, which depends little
/// on the bin count.
pub const AMI_BINS: usize = 16;

/// Largest delay considered, as a fraction of the series length: with dimensions up to
/// [`MAX_AUTO_DIM`] the embedding still keeps more than half of the points.
pub const MAX_DELAY_FRACTION: f64 = 0.05;

/// Largest dimension Cao's method tries.
pub const MAX_AUTO_DIM: usize = 10;

/// Cao's method samples at most this many reference points per dimension; E1 and E2 are means
/// over them, whose standard error at 500 points (about 0.01) is well under the saturation
/// tolerance.
pub const CAO_REFERENCE_POINTS: usize = 500;

/// E1 counts as saturated once it is within this of 1 (Cao 1997, Fig. 1–3: E1 reaches 0.9–1
/// at the embedding dimension of the Hénon, Ikeda, Lorenz and Mackey–Glass systems).
pub const CAO_E1_SATURATION: f64 = 0.9;

/// Cao's search stops once E2 has stayed within [`CAO_NOISE_EARLY_TOLERANCE`] of 1 for this
/// many dimensions: on random data no dimension unfolds anything (Cao 1997, section 3), and
/// the higher dimensions would only cost time.
pub const CAO_NOISE_CHECK_DIMS: usize = 4;

/// Half of the classification's noise tolerance (white noise of 5000 samples stays within 0.1).
pub const CAO_NOISE_EARLY_TOLERANCE: f64 = 0.125;

/// Fewest samples for which the automatic choices mean anything.
pub const MIN_SERIES_LEN: usize = 100;

/// Delay `τ` and dimension `m` of a delay embedding `y_i = (x_i, x_{i+τ}, …, x_{i+(m−1)τ})`
/// (Takens 1981).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DelayEmbedding {
    pub dim: usize,
    pub delay: usize,
}

impl DelayEmbedding {
    /// An embedding with `dim ≥ 1` and `delay ≥ 1`.
    pub fn new(dim: usize, delay: usize) -> Result<Self, AttractorError> {
        if dim == 0 {
            return Err(AttractorError::InvalidParameter {
                name: "embedding dimension",
                message: "must be at least 1".into(),
            });
        }
        if delay == 0 {
            return Err(AttractorError::InvalidParameter {
                name: "embedding delay",
                message: "must be at least 1 sample".into(),
            });
        }
        Ok(Self { dim, delay })
    }

    /// Time span of one delay vector, in samples: `(m−1)·τ`.
    pub fn span(&self) -> usize {
        (self.dim - 1) * self.delay
    }

    /// Number of delay vectors in a series of `n` samples.
    pub fn points(&self, n: usize) -> usize {
        n.saturating_sub(self.span())
    }

    /// The delay vectors of `series`, row after row (`points(n) × dim` values).
    pub fn embed(&self, series: &[f64]) -> Vec<f64> {
        let count = self.points(series.len());
        let mut out = Vec::with_capacity(count * self.dim);
        for i in 0..count {
            out.extend((0..self.dim).map(|c| series[i + c * self.delay]));
        }
        out
    }
}

/// How the delay was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DelayMethod {
    /// First minimum of the average mutual information.
    MutualInformation,
    /// First lag where the autocorrelation falls below 1/e.
    Autocorrelation,
    /// Neither curve decorrelated within the search range: the largest delay searched.
    SearchLimit,
    /// Given by the caller.
    Given,
}

/// The chosen delay and the curves it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DelayChoice {
    pub delay: usize,
    pub method: DelayMethod,
    /// Average mutual information in nats for lags 0, 1, … as far as it was computed.
    pub mutual_information: Vec<f64>,
}

/// Average mutual information `I(τ) = Σ p_ij(τ) ln(p_ij(τ) / (p_i p_j))` in nats between
/// `x(t)` and `x(t+τ)` for `τ = 0..=max_lag`, from a histogram of [`AMI_BINS`] equal bins over
/// the series' range (Fraser & Swinney 1986, eq. 11, with a fixed partition).
pub fn average_mutual_information(series: &[f64], max_lag: usize) -> Vec<f64> {
    let bins = binned(series, AMI_BINS);
    (0..=max_lag.min(series.len().saturating_sub(1)))
        .map(|lag| mutual_information_at(&bins, lag))
        .collect()
}

fn binned(series: &[f64], bins: usize) -> Vec<u16> {
    let (lo, hi) = series
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let width = (hi - lo) / bins as f64;
    series
        .iter()
        .map(|&v| {
            if width > 0.0 {
                (((v - lo) / width) as usize).min(bins - 1) as u16
            } else {
                0
            }
        })
        .collect()
}

fn mutual_information_at(bins: &[u16], lag: usize) -> f64 {
    let pairs = bins.len().saturating_sub(lag);
    if pairs == 0 {
        return 0.0;
    }
    let b = AMI_BINS;
    let mut joint = vec![0u32; b * b];
    let mut first = vec![0u32; b];
    let mut second = vec![0u32; b];
    for (&p, &q) in bins[..pairs].iter().zip(&bins[lag..]) {
        joint[p as usize * b + q as usize] += 1;
        first[p as usize] += 1;
        second[q as usize] += 1;
    }
    let total = pairs as f64;
    let mut info = 0.0;
    for (cell, &count) in joint.iter().enumerate() {
        if count > 0 {
            let (p, q) = (cell / b, cell % b);
            let pij = count as f64 / total;
            let pi = first[p] as f64 / total;
            let pj = second[q] as f64 / total;
            info += pij * (pij / (pi * pj)).ln();
        }
    }
    info
}

/// Sample autocorrelation `r(k) = Σ (x_t − x̄)(x_{t+k} − x̄) / Σ (x_t − x̄)²` for
/// `k = 0..=max_lag` (the usual biased estimator, Box & Jenkins).
pub fn autocorrelation(series: &[f64], max_lag: usize) -> Vec<f64> {
    let (mean, _) = series::mean_and_std(series);
    let centred: Vec<f64> = series.iter().map(|v| v - mean).collect();
    let denom: f64 = centred.iter().map(|v| v * v).sum();
    (0..=max_lag.min(series.len().saturating_sub(1)))
        .map(|k| {
            if denom > 0.0 {
                centred[..centred.len() - k]
                    .iter()
                    .zip(&centred[k..])
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    / denom
            } else {
                0.0
            }
        })
        .collect()
}

/// First lag `k ≥ 1` where `r(k) < 1/e`, computing the autocorrelation only that far.
pub(crate) fn autocorrelation_time(series: &[f64], max_lag: usize) -> Option<usize> {
    let (mean, _) = series::mean_and_std(series);
    let centred: Vec<f64> = series.iter().map(|v| v - mean).collect();
    let denom: f64 = centred.iter().map(|v| v * v).sum();
    if denom <= 0.0 {
        return None;
    }
    (1..=max_lag.min(series.len().saturating_sub(1))).find(|&k| {
        let r = centred[..centred.len() - k]
            .iter()
            .zip(&centred[k..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / denom;
        r < (-1.0f64).exp()
    })
}

/// Largest delay searched for a series of `n` samples.
pub fn max_delay(n: usize) -> usize {
    ((n as f64 * MAX_DELAY_FRACTION) as usize).max(1)
}

/// Chooses τ: the first local minimum of the average mutual information (Fraser & Swinney
/// 1986), else the autocorrelation's 1/e crossing, else the largest delay searched.
///
/// The curve is smoothed over [`AMI_SMOOTHING`] neighbouring lags first, and a minimum counts
/// only while the information is still clearly above what independent samples would show
/// ([`AMI_FLOOR_FACTOR`] × the estimator's bias). A map or a noise decorrelates within a few
/// samples and its curve falls straight to that floor, where any "minimum" is a fluctuation:
/// such series get the autocorrelation fallback, which gives τ = 1 for them.
pub fn choose_delay(series: &[f64]) -> Result<DelayChoice, AttractorError> {
    if series.len() < MIN_SERIES_LEN {
        return Err(AttractorError::TooShort {
            what: "choosing the embedding delay",
            n: series.len(),
            min: MIN_SERIES_LEN,
        });
    }
    series::validate(series)?;
    let limit = max_delay(series.len());
    let bins = binned(series, AMI_BINS);
    let floor = AMI_FLOOR_FACTOR * ami_bias(series.len());
    let half = AMI_SMOOTHING / 2;
    let mut ami: Vec<f64> = (0..=AMI_SMOOTHING.min(limit + half + 1))
        .map(|lag| mutual_information_at(&bins, lag))
        .collect();
    // smoothed(l) = mean of ami[l-half..=l+half]; ami is extended lazily.
    let smoothed = |ami: &[f64], lag: usize| {
        let lo = lag.saturating_sub(half);
        ami[lo..=lag + half].iter().sum::<f64>() / (lag + half + 1 - lo) as f64
    };
    let mut found = None;
    for lag in 1..limit {
        while ami.len() <= lag + 1 + half + AMI_CONFIRM {
            let next = ami.len();
            ami.push(mutual_information_at(&bins, next));
        }
        let here = smoothed(&ami, lag);
        if here <= floor {
            break;
        }
        let before = smoothed(&ami, lag - 1);
        let after_min = (lag + 1..=lag + AMI_CONFIRM)
            .map(|l| smoothed(&ami, l))
            .fold(f64::INFINITY, f64::min);
        if here < before && here <= after_min {
            found = Some(lag);
            break;
        }
    }
    if let Some(delay) = found {
        return Ok(DelayChoice {
            delay,
            method: DelayMethod::MutualInformation,
            mutual_information: ami,
        });
    }
    if let Some(lag) = autocorrelation_time(series, limit) {
        return Ok(DelayChoice {
            delay: lag,
            method: DelayMethod::Autocorrelation,
            mutual_information: ami,
        });
    }
    Ok(DelayChoice {
        delay: limit,
        method: DelayMethod::SearchLimit,
        mutual_information: ami,
    })
}

/// Lags averaged when smoothing the mutual-information curve (centred, odd): enough to remove
/// the binning jitter of a pure tone, whose curve is jagged at the bin scale.
pub const AMI_SMOOTHING: usize = 3;

/// Lags after a candidate minimum that must not go lower, so that a one-lag wobble on a
/// plateau does not count as the minimum.
pub const AMI_CONFIRM: usize = 2;

/// A minimum of the mutual information counts only above this multiple of the estimator's bias
/// for independent samples (about 3 × the bias; independent samples scatter within ±20% of it).
pub const AMI_FLOOR_FACTOR: f64 = 3.0;

/// Bias of the histogram estimate of mutual information for independent samples,
/// `(B − 1)² / 2N` nats (Roulston 1999, Physica D 125, eq. 21).
fn ami_bias(n: usize) -> f64 {
    let b = (AMI_BINS - 1) as f64;
    b * b / (2.0 * n.max(1) as f64)
}

/// Cao's statistics for `d = 1..=max_dim`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaoStatistics {
    /// `E1(d) = E(d+1)/E(d)`, index 0 is d = 1.
    pub e1: Vec<f64>,
    /// `E2(d) = E*(d+1)/E*(d)`, index 0 is d = 1.
    pub e2: Vec<f64>,
}

/// `E(d)` and `E*(d)` of Cao (1997, eqs. 2–3 and 5), with Euclidean distances, on up to
/// [`CAO_REFERENCE_POINTS`] evenly spread reference points.
fn cao_means(series: &[f64], delay: usize, d: usize, theiler: usize) -> Option<(f64, f64)> {
    let count = series.len().checked_sub(d * delay)?;
    if count < 2 {
        return None;
    }
    let step = count.div_ceil(CAO_REFERENCE_POINTS).max(1);
    let queries: Vec<usize> = (0..count).step_by(step).collect();
    let search = NeighbourSearch {
        series,
        dim: d,
        delay,
        count,
        theiler,
        min_distance_sq: DUPLICATE_DISTANCE_SQ,
    };
    let (mut sum_a, mut sum_star, mut used) = (0.0, 0.0, 0usize);
    for (&i, nb) in queries.iter().zip(search.nearest(&queries)) {
        let Some(nb) = nb else { continue };
        let extra = (series[i + d * delay] - series[nb.index + d * delay]).abs();
        sum_a += (nb.distance * nb.distance + extra * extra).sqrt() / nb.distance;
        sum_star += extra;
        used += 1;
    }
    (used > 0).then(|| (sum_a / used as f64, sum_star / used as f64))
}

/// Cao's `E1(d)` and `E2(d)` for `d = 1..=max_dim`.
pub fn cao(
    series: &[f64],
    delay: usize,
    max_dim: usize,
    theiler: usize,
) -> Result<CaoStatistics, AttractorError> {
    let z = series::standardise(series)?;
    Ok(cao_standardised(&z, delay, max_dim, theiler, false))
}

fn cao_standardised(
    z: &[f64],
    delay: usize,
    max_dim: usize,
    theiler: usize,
    stop_early: bool,
) -> CaoStatistics {
    let mut stats = CaoStatistics::default();
    let Some(mut prev) = cao_means(z, delay, 1, theiler) else {
        return stats;
    };
    let mut saturated_run = 0;
    for d in 1..=max_dim {
        let Some(next) = cao_means(z, delay, d + 1, theiler) else {
            break;
        };
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 1.0 };
        stats.e1.push(ratio(next.0, prev.0));
        stats.e2.push(ratio(next.1, prev.1));
        prev = next;
        saturated_run = if stats.e1[d - 1] >= CAO_E1_SATURATION {
            saturated_run + 1
        } else {
            0
        };
        let random_so_far = d >= CAO_NOISE_CHECK_DIMS
            && stats
                .e2
                .iter()
                .all(|v| (v - 1.0).abs() <= CAO_NOISE_EARLY_TOLERANCE);
        if stop_early && (saturated_run >= 1 || random_so_far) {
            break;
        }
    }
    stats
}

/// How the dimension was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionChoice {
    pub dim: usize,
    pub cao: CaoStatistics,
}

/// Chooses m with Cao's method: the smallest d whose E1(d) reaches [`CAO_E1_SATURATION`];
/// if none does (noise, or a search cut short by [`CAO_NOISE_CHECK_DIMS`]), the d where E1 is
/// largest.
pub fn choose_dimension(
    series: &[f64],
    delay: usize,
    theiler: usize,
) -> Result<DimensionChoice, AttractorError> {
    if series.len() < MIN_SERIES_LEN {
        return Err(AttractorError::TooShort {
            what: "choosing the embedding dimension",
            n: series.len(),
            min: MIN_SERIES_LEN,
        });
    }
    let z = series::standardise(series)?;
    let max_dim = MAX_AUTO_DIM.min((z.len() / 2 / delay.max(1)).max(1));
    let cao = cao_standardised(&z, delay, max_dim, theiler, true);
    Ok(DimensionChoice {
        dim: dimension_from_e1(&cao.e1),
        cao,
    })
}

pub(crate) fn dimension_from_e1(e1: &[f64]) -> usize {
    if let Some(i) = e1.iter().position(|&v| v >= CAO_E1_SATURATION) {
        return i + 1;
    }
    e1.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(1, |(i, _)| i + 1)
}

/// Fewest samples in a Theiler window, however fast the series decorrelates.
pub const MIN_THEILER: usize = 1;

/// Chooses the Theiler window W: pairs with `|i − j| ≤ W` are never neighbours.
/// W is the autocorrelation time (first lag where the autocorrelation falls below 1/e), the
/// usual lower bound for the window (Theiler 1986; Kantz & Schreiber 2004, sec. 6.4), capped at
/// [`MAX_THEILER_FRACTION`] of the series so that a non-stationary series (a random walk, whose
/// autocorrelation hardly decays) does not exclude most of its own points.
pub fn theiler_window(series: &[f64]) -> usize {
    let limit = ((series.len() as f64 * MAX_THEILER_FRACTION) as usize).max(MIN_THEILER);
    autocorrelation_time(series, limit)
        .unwrap_or(limit)
        .max(MIN_THEILER)
}

/// Largest Theiler window as a fraction of the series (100 samples of 5000); flows sampled
/// ~100 times per turn decorrelate within a third of a turn (Lorenz ≈ 30, Rössler ≈ 22).
pub const MAX_THEILER_FRACTION: f64 = 0.02;

#[cfg(test)]
mod tests {
    use super::*;

    fn logistic(n: usize) -> Vec<f64> {
        let mut x = 0.3f64;
        (0..n)
            .map(|_| {
                x = 4.0 * x * (1.0 - x);
                x
            })
            .collect()
    }

    fn henon(n: usize) -> Vec<f64> {
        let (mut x, mut y) = (0.1f64, 0.0f64);
        (0..n + 100)
            .map(|_| {
                (x, y) = (1.0 - 1.4 * x * x + y, 0.3 * x);
                x
            })
            .skip(100)
            .collect()
    }

    fn sine(n: usize, period: f64) -> Vec<f64> {
        (0..n)
            .map(|i| (std::f64::consts::TAU * i as f64 / period).sin())
            .collect()
    }

    #[test]
    fn embedding_layout_and_counts() {
        let e = DelayEmbedding::new(3, 2).unwrap();
        let x: Vec<f64> = (0..8).map(f64::from).collect();
        assert_eq!(e.points(8), 4);
        assert_eq!(e.embed(&x)[..6], [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
        assert!(DelayEmbedding::new(0, 1).is_err() && DelayEmbedding::new(2, 0).is_err());
    }

    #[test]
    fn mutual_information_of_known_distributions() {
        // 16 equally likely values in 16 equal bins: I(0) = H = ln 16.
        let x: Vec<f64> = (0..1600).map(|i| (i % 16) as f64).collect();
        let ami = average_mutual_information(&x, 1);
        assert!((ami[0] - 16f64.ln()).abs() < 1e-12);
        // x(t+1) is a one-to-one function of x(t): I(1) = H of the 1599 pairs' marginal,
        // ln 16 up to the one missing sample (≈ 1e-4).
        assert!((ami[1] - 16f64.ln()).abs() < 1e-3);
        // Independent samples: only the estimator's bias, (B − 1)²/2N ≈ 0.02 nats at N = 5000.
        let mut s = 7u64;
        let noise: Vec<f64> = (0..5000)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64
            })
            .collect();
        let ami = average_mutual_information(&noise, 3);
        assert!(
            ami[1..].iter().all(|&v| v < 3.0 * ami_bias(5000)),
            "{ami:?}"
        );
    }

    #[test]
    fn delay_is_about_a_quarter_period_for_a_tone_and_one_for_maps() {
        let tone = choose_delay(&sine(4000, 40.0 * std::f64::consts::SQRT_2)).unwrap();
        assert_eq!(tone.method, DelayMethod::MutualInformation);
        assert!((8..=18).contains(&tone.delay), "τ = {}", tone.delay);
        for map in [logistic(4000), henon(4000)] {
            let choice = choose_delay(&map).unwrap();
            assert_eq!(choice.delay, 1);
            assert_eq!(choice.method, DelayMethod::Autocorrelation);
        }
    }

    #[test]
    fn cao_unfolds_the_henon_map_in_two_dimensions() {
        let x = henon(4000);
        let choice = choose_dimension(&x, 1, 1).unwrap();
        assert_eq!(choice.dim, 2, "E1 = {:?}", choice.cao.e1);
        // Deterministic: E2 leaves 1 (Cao 1997, fig. 2).
        assert!(choice.cao.e2.iter().any(|v| (v - 1.0).abs() > 0.3));
    }

    #[test]
    fn theiler_window_follows_the_autocorrelation_time() {
        // cos(2πk/T) < 1/e first at k = T·acos(1/e)/2π ≈ 0.190 T.
        let w = theiler_window(&sine(5000, 100.0 * std::f64::consts::SQRT_2));
        assert!((26..=28).contains(&w), "W = {w}");
        assert_eq!(theiler_window(&logistic(5000)), 1);
    }
}
