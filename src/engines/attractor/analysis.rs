//! The complete automatic analysis of one series, and its sliding-window form for live
//! channels.

use super::AttractorError;
use super::classify::{AttractorClass, ClassEvidence, classify};
use super::dimension::{CorrelationDimension, correlation_dimension_standardised};
use super::embedding::{
    self, CaoStatistics, DUPLICATE_DISTANCE_SQ, DelayEmbedding, DelayMethod, MIN_SERIES_LEN,
};
use super::lyapunov::{LyapunovEstimate, mean_period, rosenstein_standardised};
use super::series;

/// Window the pipeline re-analyses on a live channel: the last 4096 samples …
pub const DEFAULT_WINDOW_SAMPLES: usize = 4096;
/// … every 256 new samples.
pub const DEFAULT_WINDOW_STRIDE: usize = 256;

/// Fewest delay vectors an embedding must leave for the estimates to mean anything.
pub const MIN_EMBEDDED_POINTS: usize = 64;

/// Largest embedding dimension accepted from the caller.
pub const MAX_DIM: usize = 32;

/// What the caller may fix; everything left `None` is chosen automatically.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AnalysisOptions {
    /// Sample period: the exponent is then also given per time unit.
    pub dt: Option<f64>,
    pub dim: Option<usize>,
    pub delay: Option<usize>,
}

/// How the embedding dimension was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DimensionMethod {
    /// Cao's E1 saturation.
    Cao,
    /// Smallest dimension in which the states of an exactly periodic series are distinct.
    PeriodicStates,
    /// Given by the caller.
    Given,
}

/// Everything one analysis found.
#[derive(Debug, Clone, PartialEq)]
pub struct AttractorAnalysis {
    /// Samples analysed.
    pub n: usize,
    pub embedding: DelayEmbedding,
    pub delay_method: DelayMethod,
    pub dimension_method: DimensionMethod,
    /// Cao's statistics (empty when the dimension was not searched).
    pub cao: CaoStatistics,
    /// Theiler window in samples.
    pub theiler_window: usize,
    /// Mean period in samples.
    pub mean_period: f64,
    /// The series repeats exactly with this period (samples).
    pub exact_period: Option<usize>,
    /// `None` where the series is too short for a divergence curve.
    pub lyapunov: Option<LyapunovEstimate>,
    /// `None` where no scaling region could be found.
    pub correlation_dimension: Option<CorrelationDimension>,
    pub class: AttractorClass,
    pub evidence: ClassEvidence,
    /// Sample period, if given.
    pub dt: Option<f64>,
}

impl AttractorAnalysis {
    /// λ per time unit when `dt` was given, else per sample.
    pub fn lyapunov_value(&self) -> Option<f64> {
        let l = self.lyapunov.as_ref()?;
        Some(self.dt.map_or(l.per_sample, |dt| l.per_time(dt)))
    }

    /// `"per time unit"` when `dt` was given, else `"per sample"`.
    pub fn lyapunov_unit(&self) -> &'static str {
        if self.dt.is_some() {
            "per time unit"
        } else {
            "per sample"
        }
    }

    /// The fit range in the exponent's unit: time when `dt` was given, else samples.
    pub fn lyapunov_fit(&self) -> Option<(f64, f64)> {
        let (a, b) = self.lyapunov.as_ref()?.fit_steps;
        let scale = self.dt.unwrap_or(1.0);
        Some((a as f64 * scale, b as f64 * scale))
    }
}

/// The smallest period `p ≤ n/4` with which the series repeats to within the duplicate
/// tolerance, if any.
pub fn exact_period(z: &[f64]) -> Option<usize> {
    let tolerance = DUPLICATE_DISTANCE_SQ.sqrt();
    (1..=z.len() / 4).find(|&p| {
        z[p..]
            .iter()
            .zip(z)
            .all(|(a, b)| (a - b).abs() <= tolerance)
    })
}

/// Smallest dimension (at least 1) in which the `period` states of an exactly periodic series
/// have distinct delay vectors.
fn periodic_dimension(z: &[f64], period: usize, delay: usize) -> usize {
    let count = period.min(z.len());
    (1..=MAX_DIM)
        .find(|&m| {
            let span = (m - 1) * delay;
            if count + span > z.len() {
                return true;
            }
            (0..count).all(|a| {
                (a + 1..count).all(|b| {
                    let d2: f64 = (0..m)
                        .map(|c| (z[a + c * delay] - z[b + c * delay]).powi(2))
                        .sum();
                    d2 > DUPLICATE_DISTANCE_SQ
                })
            })
        })
        .unwrap_or(MAX_DIM)
}

fn amplitude_ratio(z: &[f64]) -> f64 {
    let quarter = z.len() / 4;
    if quarter < 2 {
        return 1.0;
    }
    let (_, first) = series::mean_and_std(&z[..quarter]);
    let (_, last) = series::mean_and_std(&z[z.len() - quarter..]);
    if first > 0.0 {
        last / first
    } else if last > 0.0 {
        f64::INFINITY
    } else {
        1.0
    }
}

fn check_options(n: usize, options: &AnalysisOptions) -> Result<(), AttractorError> {
    if let Some(dt) = options.dt
        && !(dt.is_finite() && dt > 0.0)
    {
        return Err(AttractorError::InvalidParameter {
            name: "sample period dt",
            message: format!("must be a positive finite number, got {dt}"),
        });
    }
    if let Some(dim) = options.dim
        && !(1..=MAX_DIM).contains(&dim)
    {
        return Err(AttractorError::InvalidParameter {
            name: "embedding dimension",
            message: format!("must be between 1 and {MAX_DIM}, got {dim}"),
        });
    }
    if options.delay == Some(0) {
        return Err(AttractorError::InvalidParameter {
            name: "embedding delay",
            message: "must be at least 1 sample".into(),
        });
    }
    if let (Some(dim), Some(delay)) = (options.dim, options.delay) {
        let points = n.saturating_sub((dim - 1).saturating_mul(delay));
        if points < MIN_EMBEDDED_POINTS {
            return Err(AttractorError::InvalidParameter {
                name: "embedding",
                message: format!(
                    "dimension {dim} with delay {delay} leaves {points} delay vectors of {n} \
                     samples; at least {MIN_EMBEDDED_POINTS} are needed"
                ),
            });
        }
    }
    Ok(())
}

/// The complete automatic analysis: delay (mutual information), dimension (Cao), Theiler
/// window (autocorrelation time), largest Lyapunov exponent (Rosenstein), correlation dimension
/// (Grassberger–Procaccia) and class. Fixed options replace the automatic choices.
pub fn analyze(
    series: &[f64],
    options: &AnalysisOptions,
) -> Result<AttractorAnalysis, AttractorError> {
    let n = series.len();
    if n < MIN_SERIES_LEN {
        return Err(AttractorError::TooShort {
            what: "an attractor analysis",
            n,
            min: MIN_SERIES_LEN,
        });
    }
    check_options(n, options)?;
    let z = series::standardise(series)?;
    let theiler = embedding::theiler_window(&z);
    let period_exact = exact_period(&z);
    let (delay, delay_method) = match options.delay {
        Some(delay) => (delay, DelayMethod::Given),
        None => {
            let choice = embedding::choose_delay(&z)?;
            (choice.delay, choice.method)
        }
    };
    let (dim, dimension_method, cao) = match (options.dim, period_exact) {
        // Cao's statistics are still computed: the noise rule reads E2.
        (Some(dim), None) => (
            dim,
            DimensionMethod::Given,
            embedding::choose_dimension(&z, delay, theiler)?.cao,
        ),
        (Some(dim), Some(_)) => (dim, DimensionMethod::Given, CaoStatistics::default()),
        (None, Some(p)) => (
            periodic_dimension(&z, p, delay),
            DimensionMethod::PeriodicStates,
            CaoStatistics::default(),
        ),
        (None, None) => {
            let choice = embedding::choose_dimension(&z, delay, theiler)?;
            (choice.dim, DimensionMethod::Cao, choice.cao)
        }
    };
    let embedding = DelayEmbedding::new(dim, delay)?;
    if embedding.points(n) < MIN_EMBEDDED_POINTS {
        return Err(AttractorError::TooShort {
            what: "this embedding",
            n,
            min: embedding.span() + MIN_EMBEDDED_POINTS,
        });
    }
    let period = mean_period(&z);
    let (lyapunov, correlation_dimension) = match period_exact {
        // An exactly repeating sequence is a finite set of states: the distances between
        // neighbours repeat every period (no growth, λ = 0 over whole periods) and the
        // correlation sum is flat below the smallest distance between states (D2 = 0).
        Some(p) => (
            Some(LyapunovEstimate {
                per_sample: 0.0,
                fit_steps: (0, p),
                r2: 1.0,
                mean_period: period,
                curve: Default::default(),
            }),
            Some(CorrelationDimension {
                value: 0.0,
                r_range: (0.0, 0.0),
                r2: 1.0,
                sum: Default::default(),
            }),
        ),
        None => (
            rosenstein_standardised(&z, embedding, theiler).ok(),
            correlation_dimension_standardised(&z, embedding, theiler).ok(),
        ),
    };
    let evidence = ClassEvidence {
        exact_period: period_exact,
        amplitude_ratio: amplitude_ratio(&z),
        lyapunov_per_sample: lyapunov.as_ref().map(|l| l.per_sample),
        lyapunov_r2: lyapunov.as_ref().map(|l| l.r2),
        mean_period: period,
        divergence_rise: lyapunov.as_ref().and_then(|l| l.divergence_rise()),
        correlation_dimension: correlation_dimension.as_ref().map(|d| d.value),
        embedding_dim: dim,
        cao_e2_deviation: cao.e2.iter().map(|v| (v - 1.0).abs()).reduce(f64::max),
    };
    Ok(AttractorAnalysis {
        n,
        embedding,
        delay_method,
        dimension_method,
        cao,
        theiler_window: theiler,
        mean_period: period,
        exact_period: period_exact,
        lyapunov,
        correlation_dimension,
        class: classify(&evidence),
        evidence,
        dt: options.dt,
    })
}

/// How a live channel is re-analysed: the last `window` samples, every `stride` new samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    pub window: usize,
    pub stride: usize,
}

impl Default for SlidingWindow {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW_SAMPLES,
            stride: DEFAULT_WINDOW_STRIDE,
        }
    }
}

impl SlidingWindow {
    /// Whether a channel that has received `total` samples, last analysed when it had
    /// `analysed_at`, is due again (it is also due the first time it has a full window, or as
    /// soon as it has [`MIN_SERIES_LEN`] samples if nothing was analysed yet).
    pub fn is_due(&self, total: usize, analysed_at: Option<usize>) -> bool {
        match analysed_at {
            None => total >= MIN_SERIES_LEN.max(self.stride.min(self.window)),
            Some(at) => total >= at + self.stride.max(1),
        }
    }

    /// The samples to analyse: the last `window` of `recent` (all of them if fewer).
    pub fn latest<'a>(&self, recent: &'a [f64]) -> &'a [f64] {
        &recent[recent.len().saturating_sub(self.window)..]
    }
}

/// Analyses the last `window.window` samples of `recent` (the pipeline's per-channel ring
/// buffer, oldest first).
pub fn analyze_latest(
    recent: &[f64],
    window: &SlidingWindow,
    options: &AnalysisOptions,
) -> Result<AttractorAnalysis, AttractorError> {
    analyze(window.latest(recent), options)
}
