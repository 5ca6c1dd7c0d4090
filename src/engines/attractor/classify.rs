//! Naming the dynamics: fixed point, periodic, quasi-periodic, chaotic or noise.
//!
//! The rules use only scale-free numbers (a Lyapunov exponent per mean period, a rise of the
//! log-divergence curve in nats, a correlation dimension, Cao's E2, a ratio of amplitudes), so
//! multiplying or shifting the series changes nothing. They are applied in this order:
//!
//! 1. **periodic** if the series repeats exactly (to [`super::embedding`]'s duplicate
//!    tolerance) with some period of at most a quarter of its length;
//! 2. **fixed point** if the oscillation dies out — the standard deviation of the last quarter is
//!    at most [`FIXED_POINT_DECAY`] of that of the first quarter — or if neighbouring
//!    trajectories converge: λ·P ≤ −[`CONTRACTION_PER_PERIOD`] with a good fit
//!    (R² ≥ [`MIN_FIT_R2`]) and no divergence (rise < [`CHAOS_MIN_RISE`]);
//! 3. **noise** if Cao's E2(d) stays within [`NOISE_E2_TOLERANCE`] of 1 for every d tried
//!    (Cao 1997: "for random data E2(d) = 1 for any d") and the correlation dimension does
//!    not saturate: D2 ≥ [`NOISE_D2_FRACTION`] · m (or no scaling region at all);
//! 4. **chaotic** if neighbours diverge exponentially and far: λ·P ≥
//!    [`CHAOS_MIN_EXPONENT_PER_PERIOD`], the divergence curve rises by at least
//!    [`CHAOS_MIN_RISE`] nats before it saturates, and the fit has R² ≥ [`MIN_FIT_R2`];
//! 5. otherwise the motion is bounded and does not diverge: **quasi-periodic** if
//!    D2 ≥ [`QUASI_PERIODIC_MIN_D2`] (a torus), **periodic** (a limit cycle) if less.
//!
//! Here λ is the largest Lyapunov exponent per sample and P the mean period in samples, so λ·P
//! is the growth per turn of the trajectory, independent of the sampling rate.

use serde::{Deserialize, Serialize};

/// Last-quarter standard deviation at most this fraction of the first quarter's: the
/// oscillation has lost three quarters of its amplitude within the series, i.e. it settles.
pub const FIXED_POINT_DECAY: f64 = 0.25;

/// Contraction per mean period that marks converging trajectories (a damped oscillation
/// losing 5% of its amplitude per turn); periodic and quasi-periodic series stay within ±0.02.
pub const CONTRACTION_PER_PERIOD: f64 = 0.05;

/// Cao's E2 within this of 1 at every dimension: random. White and AR(1) noise of 5000 samples
/// stay within 0.1 of 1, a random walk within 0.2; deterministic series leave by 0.4 or more.
pub const NOISE_E2_TOLERANCE: f64 = 0.25;

/// D2 of at least half the embedding dimension counts as not saturating: noise fills its
/// embedding (D2 ≈ 0.7–0.9 · m at n = 5000), attractors stay lower (Lorenz 2.05 in m = 3–4).
pub const NOISE_D2_FRACTION: f64 = 0.5;

/// Chaotic divergence per mean period: Lorenz ≈ 0.8, Rössler ≈ 0.43, Hénon ≈ 1.0, logistic
/// ≈ 2.1; limit cycles and tori stay near 0.
pub const CHAOS_MIN_EXPONENT_PER_PERIOD: f64 = 0.1;

/// Rise (nats) of the divergence curve from its start to its saturation level that chaos needs:
/// neighbours on a strange attractor separate by a large factor (Lorenz, Rössler ≈ 2.5–4 at
/// n = 5000 and ≥ 1.3 at n = 2000, maps 5–7), while on a torus they stay within a small one
/// (≈ 0.2–0.6 at n ≥ 1000). The rise shrinks with shorter series, whose neighbours start
/// farther apart; below n ≈ 1500 a short Rössler series can fall under it.
pub const CHAOS_MIN_RISE: f64 = 1.0;

/// Straight-line fits less good than this do not count as evidence.
pub const MIN_FIT_R2: f64 = 0.8;

/// Correlation dimension from which a bounded, non-diverging motion is a torus rather than a
/// cycle: between a limit cycle's 1 and a 2-torus's 2.
pub const QUASI_PERIODIC_MIN_D2: f64 = 1.5;

/// The kind of dynamics behind a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttractorClass {
    FixedPoint,
    Periodic,
    QuasiPeriodic,
    Chaotic,
    Noise,
}

impl AttractorClass {
    /// The stable name used in the headless output (`fixed-point`, `periodic`, …).
    pub fn label(self) -> &'static str {
        match self {
            AttractorClass::FixedPoint => "fixed-point",
            AttractorClass::Periodic => "periodic",
            AttractorClass::QuasiPeriodic => "quasi-periodic",
            AttractorClass::Chaotic => "chaotic",
            AttractorClass::Noise => "noise",
        }
    }
}

impl std::fmt::Display for AttractorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The numbers the classification looks at, all independent of the series' scale.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClassEvidence {
    /// The series repeats exactly with this period (samples).
    pub exact_period: Option<usize>,
    /// Standard deviation of the last quarter over that of the first.
    pub amplitude_ratio: f64,
    /// Largest Lyapunov exponent per sample, and R² of its fit.
    pub lyapunov_per_sample: Option<f64>,
    pub lyapunov_r2: Option<f64>,
    /// Mean period in samples.
    pub mean_period: f64,
    /// Rise of the divergence curve from its start to its saturation level (nats).
    pub divergence_rise: Option<f64>,
    /// Correlation dimension, if a scaling region was found.
    pub correlation_dimension: Option<f64>,
    /// Embedding dimension used.
    pub embedding_dim: usize,
    /// Largest |E2(d) − 1| over the dimensions Cao's method tried.
    pub cao_e2_deviation: Option<f64>,
}

impl ClassEvidence {
    /// λ·P: growth of neighbour separations per mean period.
    pub fn exponent_per_period(&self) -> Option<f64> {
        self.lyapunov_per_sample.map(|l| l * self.mean_period)
    }
}

/// Applies the rules of this module's documentation, in order.
pub fn classify(e: &ClassEvidence) -> AttractorClass {
    if e.exact_period.is_some() {
        return AttractorClass::Periodic;
    }
    let good_fit = e.lyapunov_r2.is_some_and(|r2| r2 >= MIN_FIT_R2);
    let rise = e.divergence_rise.unwrap_or(0.0);
    let per_period = e.exponent_per_period();
    let contracting = good_fit
        && rise < CHAOS_MIN_RISE
        && per_period.is_some_and(|lp| lp <= -CONTRACTION_PER_PERIOD);
    if e.amplitude_ratio <= FIXED_POINT_DECAY || contracting {
        return AttractorClass::FixedPoint;
    }
    let unsaturated = e
        .correlation_dimension
        .is_none_or(|d2| d2 >= NOISE_D2_FRACTION * e.embedding_dim as f64);
    if e.cao_e2_deviation
        .is_some_and(|dev| dev <= NOISE_E2_TOLERANCE)
        && unsaturated
    {
        return AttractorClass::Noise;
    }
    if good_fit
        && rise >= CHAOS_MIN_RISE
        && per_period.is_some_and(|lp| lp >= CHAOS_MIN_EXPONENT_PER_PERIOD)
    {
        return AttractorClass::Chaotic;
    }
    if e.correlation_dimension
        .is_some_and(|d2| d2 >= QUASI_PERIODIC_MIN_D2)
    {
        AttractorClass::QuasiPeriodic
    } else {
        AttractorClass::Periodic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chaotic() -> ClassEvidence {
        ClassEvidence {
            exact_period: None,
            amplitude_ratio: 1.0,
            lyapunov_per_sample: Some(0.009),
            lyapunov_r2: Some(0.98),
            mean_period: 90.0,
            divergence_rise: Some(3.6),
            correlation_dimension: Some(2.05),
            embedding_dim: 3,
            cao_e2_deviation: Some(0.9),
        }
    }

    #[test]
    fn each_rule_decides_its_class() {
        assert_eq!(classify(&chaotic()), AttractorClass::Chaotic);
        let periodic = ClassEvidence {
            exact_period: Some(4),
            ..chaotic()
        };
        assert_eq!(classify(&periodic), AttractorClass::Periodic);
        let decaying = ClassEvidence {
            amplitude_ratio: 0.1,
            ..chaotic()
        };
        assert_eq!(classify(&decaying), AttractorClass::FixedPoint);
        let contracting = ClassEvidence {
            lyapunov_per_sample: Some(-0.002),
            divergence_rise: Some(0.0),
            ..chaotic()
        };
        assert_eq!(classify(&contracting), AttractorClass::FixedPoint);
        let noise = ClassEvidence {
            cao_e2_deviation: Some(0.08),
            correlation_dimension: Some(6.1),
            embedding_dim: 7,
            divergence_rise: Some(1.2),
            ..chaotic()
        };
        assert_eq!(classify(&noise), AttractorClass::Noise);
        let torus = ClassEvidence {
            lyapunov_per_sample: Some(0.004),
            divergence_rise: Some(0.3),
            correlation_dimension: Some(2.1),
            ..chaotic()
        };
        assert_eq!(classify(&torus), AttractorClass::QuasiPeriodic);
        let cycle = ClassEvidence {
            correlation_dimension: Some(1.05),
            ..torus.clone()
        };
        assert_eq!(classify(&cycle), AttractorClass::Periodic);
        // A deterministic E2 keeps a high-dimensional D2 from reading as noise.
        let not_noise = ClassEvidence {
            correlation_dimension: Some(6.1),
            embedding_dim: 7,
            ..chaotic()
        };
        assert_eq!(classify(&not_noise), AttractorClass::Chaotic);
    }

    #[test]
    fn labels_are_the_documented_ones() {
        let labels: Vec<&str> = [
            AttractorClass::FixedPoint,
            AttractorClass::Periodic,
            AttractorClass::QuasiPeriodic,
            AttractorClass::Chaotic,
            AttractorClass::Noise,
        ]
        .iter()
        .map(|c| c.label())
        .collect();
        assert_eq!(
            labels,
            [
                "fixed-point",
                "periodic",
                "quasi-periodic",
                "chaotic",
                "noise"
            ]
        );
        assert_eq!(
            serde_json::to_string(&AttractorClass::QuasiPeriodic).unwrap(),
            "\"quasi-periodic\""
        );
    }
}
