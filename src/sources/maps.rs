//! Discrete-time chaotic maps (Hénon, logistic). One record per iteration; the catalog's
//! `period_s` is 1.0 (one iteration per model time unit), so exponents come out per iteration.

/// Hénon (1976) parameters a = 1.4, b = 0.3: the classical strange attractor.
pub const HENON_A: f64 = 1.4;
pub const HENON_B: f64 = 0.3;
/// Where every Hénon orbit starts; (0, 0) lies in the attractor's basin.
pub const HENON_INITIAL_STATE: [f64; 2] = [0.0, 0.0];
/// Iterations discarded before the first published one; the orbit from (0, 0) is on the
/// attractor (to plotting precision) within a few dozen.
pub const HENON_TRANSIENT: u32 = 1000;

/// The Hénon map `x' = 1 − a x² + y`, `y' = b x`
/// (Hénon 1976, "A two-dimensional mapping with a strange attractor", Commun. Math. Phys. 50).
#[derive(Debug, Clone)]
pub struct Henon {
    state: [f64; 2],
}

impl Henon {
    /// Starts at [`HENON_INITIAL_STATE`] and discards [`HENON_TRANSIENT`] iterations.
    pub fn new() -> Self {
        let mut map = Self::from_state(HENON_INITIAL_STATE);
        for _ in 0..HENON_TRANSIENT {
            map.next_sample();
        }
        map
    }

    /// Starts at `state` with no transient.
    pub fn from_state(state: [f64; 2]) -> Self {
        Self { state }
    }

    /// Iterates once and returns the new (x, y).
    pub fn next_sample(&mut self) -> [f64; 2] {
        let [x, y] = self.state;
        self.state = [1.0 - HENON_A * x * x + y, HENON_B * x];
        self.state
    }
}

impl Default for Henon {
    fn default() -> Self {
        Self::new()
    }
}

/// The growth rate of the `logistic` generator unless another is given (`logistic:R`):
/// r = 4, the fully chaotic case with Lyapunov exponent ln 2 per iteration.
pub const LOGISTIC_DEFAULT_R: f64 = 4.0;
/// Where every logistic orbit starts (any point of (0, 1) other than 0.5, 0.75 and their
/// pre-images works for r = 4).
pub const LOGISTIC_INITIAL_X: f64 = 0.123_456_789;
/// Iterations discarded before the first published one (enough for r < 4 to settle on its
/// cycle; harmless for r = 4).
pub const LOGISTIC_TRANSIENT: u32 = 1000;
/// Irrational step (the golden ratio's fractional part) used to pick a fresh point when an
/// r = 4 orbit collapses numerically; see [`Logistic::next_sample`].
const LOGISTIC_RESTART_STEP: f64 = 0.618_033_988_749_894_8;

/// The logistic map `x' = r x (1 − x)` (May 1976, "Simple mathematical models with very
/// complicated dynamics", Nature 261).
#[derive(Debug, Clone)]
pub struct Logistic {
    r: f64,
    x: f64,
    restarts: u64,
}

impl Logistic {
    /// A map with growth rate `r`, which must lie in (0, 4] (checked by the caller,
    /// [`super::DemoSource::new`]), after [`LOGISTIC_TRANSIENT`] iterations.
    pub fn new(r: f64) -> Self {
        let mut map = Self::from_state(r, LOGISTIC_INITIAL_X);
        for _ in 0..LOGISTIC_TRANSIENT {
            map.next_sample();
        }
        map
    }

    /// A map with growth rate `r` starting at `x` with no transient.
    pub fn from_state(r: f64, x: f64) -> Self {
        Self { r, x, restarts: 0 }
    }

    /// The growth rate.
    pub fn r(&self) -> f64 {
        self.r
    }

    /// How many times a collapsed r = 4 orbit was restarted.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Iterates once and returns the new x.
    ///
    /// In floating point an r = 4 orbit can land exactly on 0.5 (then 1, then 0 forever) or on
    /// the unstable fixed point 0.75; the true chaotic orbit never does. When that happens the
    /// orbit restarts at a deterministic point of (0, 1) (multiples of the golden ratio modulo
    /// 1), so the stream stays chaotic and reproducible. Other values of r are left alone: their
    /// fixed points and cycles are real.
    pub fn next_sample(&mut self) -> f64 {
        self.x = self.r * self.x * (1.0 - self.x);
        let collapsed = self.r == LOGISTIC_DEFAULT_R
            && (self.x <= 0.0 || self.x >= 1.0 || self.x == 0.75 || self.x == 0.5);
        if collapsed {
            self.restarts += 1;
            let u = (self.restarts as f64 * LOGISTIC_RESTART_STEP).fract();
            self.x = 0.05 + 0.9 * u;
        }
        self.x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn henon_first_iterates_match_the_map() {
        let mut map = Henon::from_state([0.0, 0.0]);
        assert_eq!(map.next_sample(), [1.0, 0.0]);
        let [x, y] = map.next_sample();
        assert!((x - (1.0 - 1.4)).abs() < 1e-15 && (y - 0.3).abs() < 1e-15);
    }

    #[test]
    fn logistic_r4_collapse_is_restarted() {
        let mut map = Logistic::from_state(4.0, 0.5);
        let x = map.next_sample(); // 4·0.5·0.5 = 1 → collapse
        assert!(x > 0.0 && x < 1.0);
        assert_eq!(map.restarts(), 1);
    }

    #[test]
    fn logistic_below_4_keeps_its_fixed_point() {
        // r = 2.5 has the stable fixed point 1 − 1/r = 0.6.
        let mut map = Logistic::new(2.5);
        assert!((map.next_sample() - 0.6).abs() < 1e-12);
        assert_eq!(map.restarts(), 0);
    }
}
