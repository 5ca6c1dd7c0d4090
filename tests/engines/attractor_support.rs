//! Test series for the attractor engine, made here by small independent integrators (RK4 at a
//! fixed step for the flows, direct iteration for the maps), not by the engine or the sources.
#![allow(dead_code)]

/// Fourth-order Runge–Kutta step of `dx/dt = f(x)` with step `h`.
fn rk4_step(f: impl Fn([f64; 3]) -> [f64; 3], x: [f64; 3], h: f64) -> [f64; 3] {
    let add =
        |a: [f64; 3], b: [f64; 3], s: f64| [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]];
    let k1 = f(x);
    let k2 = f(add(x, k1, h / 2.0));
    let k3 = f(add(x, k2, h / 2.0));
    let k4 = f(add(x, k3, h));
    std::array::from_fn(|i| x[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

/// Samples component `component` of a flow every `dt`, integrating with `substeps` RK4 steps per
/// sample, after discarding `transient` time units.
fn flow(
    f: impl Fn([f64; 3]) -> [f64; 3] + Copy,
    x0: [f64; 3],
    n: usize,
    dt: f64,
    substeps: usize,
    transient: f64,
    component: usize,
) -> Vec<f64> {
    let h = dt / substeps as f64;
    let mut x = x0;
    for _ in 0..(transient / h).round() as usize {
        x = rk4_step(f, x, h);
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(x[component]);
        for _ in 0..substeps {
            x = rk4_step(f, x, h);
        }
    }
    out
}

/// Lorenz x sampled every `dt` (RK4 at dt/5 after 50 time units, as [`lorenz_x`]) together with
/// the finite-time largest Lyapunov exponent of that very stretch of trajectory, from a tangent
/// vector integrated alongside (Benettin et al. 1980) and renormalised every step.
pub fn lorenz_x_with_ftle(n: usize, dt: f64, x0: [f64; 3]) -> (Vec<f64>, f64) {
    let joint = |s: [f64; 6]| -> [f64; 6] {
        let (x, y, z, a, b, c) = (s[0], s[1], s[2], s[3], s[4], s[5]);
        [
            10.0 * (y - x),
            x * (28.0 - z) - y,
            x * y - 8.0 / 3.0 * z,
            10.0 * (b - a),
            (28.0 - z) * a - b - x * c,
            y * a + x * b - 8.0 / 3.0 * c,
        ]
    };
    let h = dt / 5.0;
    let step = |s: [f64; 6]| -> [f64; 6] {
        let add = |a: [f64; 6], b: [f64; 6], k: f64| -> [f64; 6] {
            std::array::from_fn(|i| a[i] + k * b[i])
        };
        let k1 = joint(s);
        let k2 = joint(add(s, k1, h / 2.0));
        let k3 = joint(add(s, k2, h / 2.0));
        let k4 = joint(add(s, k3, h));
        std::array::from_fn(|i| s[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
    };
    let renormalise = |s: &mut [f64; 6]| -> f64 {
        let norm = (s[3] * s[3] + s[4] * s[4] + s[5] * s[5]).sqrt();
        for v in &mut s[3..] {
            *v /= norm;
        }
        norm.ln()
    };
    let mut s = [x0[0], x0[1], x0[2], 1.0, 1.0, 1.0];
    for _ in 0..(50.0 / h).round() as usize {
        s = step(s);
        renormalise(&mut s);
    }
    let mut out = Vec::with_capacity(n);
    let mut growth = 0.0;
    for _ in 0..n {
        out.push(s[0]);
        for _ in 0..5 {
            s = step(s);
            growth += renormalise(&mut s);
        }
    }
    (out, growth / (n as f64 * dt))
}

/// Lorenz (σ = 10, ρ = 28, β = 8/3) x, sampled every `dt`, RK4 at dt/5.
pub fn lorenz_x(n: usize, dt: f64, x0: [f64; 3]) -> Vec<f64> {
    let f = |v: [f64; 3]| {
        [
            10.0 * (v[1] - v[0]),
            v[0] * (28.0 - v[2]) - v[1],
            v[0] * v[1] - 8.0 / 3.0 * v[2],
        ]
    };
    flow(f, x0, n, dt, 5, 50.0, 0)
}

/// Rössler (a = b = 0.2, c = 5.7) x, sampled every `dt`, RK4 at dt/5.
pub fn rossler_x(n: usize, dt: f64, x0: [f64; 3]) -> Vec<f64> {
    let f = |v: [f64; 3]| [-v[1] - v[2], v[0] + 0.2 * v[1], 0.2 + v[2] * (v[0] - 5.7)];
    flow(f, x0, n, dt, 5, 500.0, 0)
}

/// Hénon map (a = 1.4, b = 0.3) x after 1000 transient iterations.
pub fn henon_x(n: usize, x0: f64) -> Vec<f64> {
    let (mut x, mut y) = (x0, 0.0);
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 1000 {
        (x, y) = (1.0 - 1.4 * x * x + y, 0.3 * x);
        if i >= 1000 {
            out.push(x);
        }
    }
    out
}

/// Logistic map x ← r x (1 − x) after 1000 transient iterations.
pub fn logistic(n: usize, r: f64, x0: f64) -> Vec<f64> {
    let mut x = x0;
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 1000 {
        x = r * x * (1.0 - x);
        if i >= 1000 {
            out.push(x);
        }
    }
    out
}

/// `amplitude·sin(2π i / period)`.
pub fn sine(n: usize, period: f64, amplitude: f64) -> Vec<f64> {
    (0..n)
        .map(|i| amplitude * (std::f64::consts::TAU * i as f64 / period).sin())
        .collect()
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, well-mixed generator for test noise.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `sin t + sin √2 t` sampled every `dt`: a 2-torus.
pub fn quasi_periodic(n: usize, dt: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = i as f64 * dt;
            t.sin() + (std::f64::consts::SQRT_2 * t).sin()
        })
        .collect()
}

/// A damped oscillation `e^(−γt) sin t` settling onto the fixed point 0.
pub fn damped(n: usize, dt: f64, gamma: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = i as f64 * dt;
            (-gamma * t).exp() * t.sin()
        })
        .collect()
}

/// Gaussian white noise.
pub fn white_noise(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix(seed);
    (0..n).map(|_| rng.normal()).collect()
}

/// Uniform white noise in [0, 1).
pub fn uniform_noise(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix(seed);
    (0..n).map(|_| rng.uniform()).collect()
}
