//! Simple reference signals: a pure sine (periodic) and Gaussian white noise (seeded ChaCha).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Model time between two sine samples (the catalog's `period_s`).
pub const SINE_SAMPLE_PERIOD: f64 = 0.01;
/// Samples per sine cycle: 50 samples of 0.01 model time, a 2 Hz tone in model time.
pub const SINE_SAMPLES_PER_CYCLE: u64 = 50;
/// Peak amplitude of the sine.
pub const SINE_AMPLITUDE: f64 = 1.0;

/// `A sin(2π k / P)` for sample k. The phase is reduced modulo one cycle before the multiply,
/// so it stays exact however long the stream runs.
#[derive(Debug, Clone, Default)]
pub struct Sine {
    k: u64,
}

impl Sine {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next sample (the first is sin 0 = 0).
    pub fn next_sample(&mut self) -> f64 {
        let phase = (self.k % SINE_SAMPLES_PER_CYCLE) as f64 / SINE_SAMPLES_PER_CYCLE as f64;
        self.k += 1;
        SINE_AMPLITUDE * (std::f64::consts::TAU * phase).sin()
    }
}

/// Standard Gaussian white noise N(0, 1), from a seeded ChaCha8 stream through the Box–Muller
/// transform (Box & Muller 1958, "A note on the generation of random normal deviates",
/// Ann. Math. Stat. 29). Written here because `rand` 0.9 has no normal distribution and
/// `rand_distr` would be a dependency for ten lines.
#[derive(Debug, Clone)]
pub struct Noise {
    rng: ChaCha8Rng,
    spare: Option<f64>,
}

impl Noise {
    pub fn new(rng: ChaCha8Rng) -> Self {
        Self { rng, spare: None }
    }

    /// The next N(0, 1) deviate.
    pub fn next_sample(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1: f64 = 1.0 - self.rng.random::<f64>();
        let u2: f64 = self.rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sine_hits_its_quarter_points() {
        let mut sine = Sine::new();
        let samples: Vec<f64> = (0..SINE_SAMPLES_PER_CYCLE + 1)
            .map(|_| sine.next_sample())
            .collect();
        // sin 0 = 0, sin π = 0 (sample 25), sin 2π·12/50 = 0.998, and the cycle repeats at 50.
        assert!(samples[0].abs() < 1e-15);
        assert!(samples[25].abs() < 1e-12);
        assert!((samples[12] - (std::f64::consts::TAU * 0.24).sin()).abs() < 1e-15);
        assert!(samples[12] > 0.99);
        assert_eq!(samples[SINE_SAMPLES_PER_CYCLE as usize], samples[0]);
    }

    /// Mean, variance and the fraction beyond ±1.96 of 200 000 deviates agree with N(0, 1):
    /// tolerances are five standard errors of each estimate.
    #[test]
    fn noise_is_standard_normal() {
        let n = 200_000;
        let mut noise = Noise::new(ChaCha8Rng::seed_from_u64(7));
        let xs: Vec<f64> = (0..n).map(|_| noise.next_sample()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let tail = xs.iter().filter(|x| x.abs() > 1.96).count() as f64 / n as f64;
        let se_mean = (1.0 / n as f64).sqrt();
        let se_var = (2.0 / n as f64).sqrt();
        let se_tail = (0.05 * 0.95 / n as f64).sqrt();
        assert!(mean.abs() < 5.0 * se_mean, "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * se_var, "variance {var}");
        assert!((tail - 0.05).abs() < 5.0 * se_tail, "tail {tail}");
    }
}
