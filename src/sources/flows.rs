//! Continuous-time chaotic flows (Lorenz, Rössler) integrated with the classical fourth-order
//! Runge–Kutta method at a fixed internal step.
//!
//! Each generator is sampled at a fixed model-time period and takes several RK4 substeps per
//! sample, so the published samples are the exact RK4 trajectory at the internal step
//! (no interpolation). Both start from a fixed initial state and integrate a transient before
//! their first sample, so the first record already lies on the attractor. The flows use no
//! randomness: the same build always produces the same trajectory, which is what lets
//! `tests/app/generators.rs` compare it with an independent integration
//! (`scripts/make_lorenz_fixture.py`).

/// One classical RK4 step of size `h` for the autonomous system `ds/dt = f(s)`
/// (Kutta 1901; the "classical" tableau with weights 1/6, 1/3, 1/3, 1/6).
pub fn rk4_step<const N: usize>(
    f: impl Fn(&[f64; N]) -> [f64; N],
    s: &[f64; N],
    h: f64,
) -> [f64; N] {
    let offset = |base: &[f64; N], k: &[f64; N], scale: f64| -> [f64; N] {
        let mut out = *base;
        for i in 0..N {
            out[i] += scale * k[i];
        }
        out
    };
    let k1 = f(s);
    let k2 = f(&offset(s, &k1, h / 2.0));
    let k3 = f(&offset(s, &k2, h / 2.0));
    let k4 = f(&offset(s, &k3, h));
    let mut next = *s;
    for i in 0..N {
        next[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
    next
}

/// Lorenz (1963) parameters: the classical chaotic values σ = 10, ρ = 28, β = 8/3.
pub const LORENZ_SIGMA: f64 = 10.0;
pub const LORENZ_RHO: f64 = 28.0;
pub const LORENZ_BETA: f64 = 8.0 / 3.0;
/// Model time between two published Lorenz samples (the catalog's `period_s`); the value the
/// attractor engine's accuracy goals are stated for.
pub const LORENZ_SAMPLE_PERIOD: f64 = 0.01;
/// RK4 substeps per Lorenz sample: internal step 0.001, whose local error (O(h⁵) ≈ 1e-15 times
/// the fifth derivative) is at the level of double rounding, so the samples are the true flow
/// to within what the chaos amplifies.
pub const LORENZ_SUBSTEPS: u32 = 10;
/// Where every Lorenz trajectory starts, before the transient.
pub const LORENZ_INITIAL_STATE: [f64; 3] = [1.0, 1.0, 1.0];
/// Samples integrated and discarded before the first published one (10 model time units; the
/// orbit from (1, 1, 1) reaches the attractor within about 2).
pub const LORENZ_TRANSIENT_SAMPLES: u32 = 1000;

/// The Lorenz system `x' = σ(y − x)`, `y' = x(ρ − z) − y`, `z' = xy − βz`
/// (Lorenz 1963, "Deterministic nonperiodic flow", J. Atmos. Sci. 20, eq. 25–27).
pub fn lorenz_derivative(s: &[f64; 3]) -> [f64; 3] {
    let [x, y, z] = *s;
    [
        LORENZ_SIGMA * (y - x),
        x * (LORENZ_RHO - z) - y,
        x * y - LORENZ_BETA * z,
    ]
}

/// Lorenz generator: one (x, y, z) sample every [`LORENZ_SAMPLE_PERIOD`] of model time.
#[derive(Debug, Clone)]
pub struct Lorenz {
    state: [f64; 3],
}

impl Lorenz {
    /// Starts at [`LORENZ_INITIAL_STATE`] and discards [`LORENZ_TRANSIENT_SAMPLES`] samples.
    pub fn new() -> Self {
        let mut flow = Self::from_state(LORENZ_INITIAL_STATE);
        for _ in 0..LORENZ_TRANSIENT_SAMPLES {
            flow.next_sample();
        }
        flow
    }

    /// Starts at `state` with no transient: the next sample is `state` advanced by one period.
    pub fn from_state(state: [f64; 3]) -> Self {
        Self { state }
    }

    /// The current state (the last sample returned, or the start state).
    pub fn state(&self) -> [f64; 3] {
        self.state
    }

    /// Advances one sample period and returns the new state.
    pub fn next_sample(&mut self) -> [f64; 3] {
        let h = LORENZ_SAMPLE_PERIOD / f64::from(LORENZ_SUBSTEPS);
        for _ in 0..LORENZ_SUBSTEPS {
            self.state = rk4_step(lorenz_derivative, &self.state, h);
        }
        self.state
    }
}

impl Default for Lorenz {
    fn default() -> Self {
        Self::new()
    }
}

/// Rössler (1976) parameters a = b = 0.2, c = 5.7: the standard chaotic regime.
pub const ROSSLER_A: f64 = 0.2;
pub const ROSSLER_B: f64 = 0.2;
pub const ROSSLER_C: f64 = 5.7;
/// Model time between two published Rössler samples (the catalog's `period_s`).
pub const ROSSLER_SAMPLE_PERIOD: f64 = 0.05;
/// RK4 substeps per Rössler sample: internal step 0.005, about 1/1200 of the mean orbit period
/// (≈ 6 time units), far inside RK4's accuracy for this smooth, slowly rotating flow.
pub const ROSSLER_SUBSTEPS: u32 = 10;
/// Where every Rössler trajectory starts, before the transient.
pub const ROSSLER_INITIAL_STATE: [f64; 3] = [1.0, 1.0, 0.0];
/// Samples discarded before the first published one (50 model time units, about eight turns).
pub const ROSSLER_TRANSIENT_SAMPLES: u32 = 1000;

/// The Rössler system `x' = −y − z`, `y' = x + ay`, `z' = b + z(x − c)`
/// (Rössler 1976, "An equation for continuous chaos", Phys. Lett. A 57, 397–398).
pub fn rossler_derivative(s: &[f64; 3]) -> [f64; 3] {
    let [x, y, z] = *s;
    [-y - z, x + ROSSLER_A * y, ROSSLER_B + z * (x - ROSSLER_C)]
}

/// Rössler generator: one (x, y, z) sample every [`ROSSLER_SAMPLE_PERIOD`] of model time.
#[derive(Debug, Clone)]
pub struct Rossler {
    state: [f64; 3],
}

impl Rossler {
    /// Starts at [`ROSSLER_INITIAL_STATE`] and discards [`ROSSLER_TRANSIENT_SAMPLES`] samples.
    pub fn new() -> Self {
        let mut flow = Self::from_state(ROSSLER_INITIAL_STATE);
        for _ in 0..ROSSLER_TRANSIENT_SAMPLES {
            flow.next_sample();
        }
        flow
    }

    /// Starts at `state` with no transient.
    pub fn from_state(state: [f64; 3]) -> Self {
        Self { state }
    }

    /// Advances one sample period and returns the new state.
    pub fn next_sample(&mut self) -> [f64; 3] {
        let h = ROSSLER_SAMPLE_PERIOD / f64::from(ROSSLER_SUBSTEPS);
        for _ in 0..ROSSLER_SUBSTEPS {
            self.state = rk4_step(rossler_derivative, &self.state, h);
        }
        self.state
    }
}

impl Default for Rossler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On y' = y one RK4 step multiplies by 1 + h + h²/2 + h³/6 + h⁴/24 exactly, so ten steps of
    /// h = 0.1 give that factor to the tenth power (2.7182797441351627), which is within the
    /// method's O(h⁴) global error of e.
    #[test]
    fn rk4_integrates_the_exponential_to_fourth_order() {
        let mut s = [1.0];
        for _ in 0..10 {
            s = rk4_step(|y: &[f64; 1]| [y[0]], &s, 0.1);
        }
        assert!((s[0] - 2.718_279_744_135_163).abs() < 1e-12, "got {}", s[0]);
        assert!((s[0] - std::f64::consts::E).abs() < 3e-6);
    }

    #[test]
    fn lorenz_stays_on_its_attractor() {
        let mut flow = Lorenz::new();
        for _ in 0..20_000 {
            let [x, y, z] = flow.next_sample();
            // The attractor spans about |x| < 20, |y| < 27, 0 < z < 48: these boxes are looser.
            assert!(x.abs() < 25.0 && y.abs() < 30.0 && z > 0.0 && z < 55.0);
        }
    }

    #[test]
    fn rossler_stays_on_its_attractor() {
        let mut flow = Rossler::new();
        for _ in 0..20_000 {
            let [x, y, z] = flow.next_sample();
            assert!(x.abs() < 15.0 && y.abs() < 15.0 && (0.0..30.0).contains(&z));
        }
    }
}
