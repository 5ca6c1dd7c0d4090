//! An independent oracle for the meta engine: the matrix profile straight from its definition
//! (every window z-normalised with its population standard deviation, every non-trivial pair
//! compared, O(n²m)), with stumpy's conventions for constant windows. Nothing here calls the
//! engine.
#![allow(dead_code)]

/// ⌈m/4⌉, stumpy's exclusion zone.
pub fn exclusion(m: usize) -> usize {
    m.div_ceil(4)
}

/// Window `i` z-normalised, or `None` when all its samples are equal.
pub fn znormalised(series: &[f64], m: usize, i: usize) -> Option<Vec<f64>> {
    let w = &series[i..i + m];
    if w.iter().all(|&v| v == w[0]) {
        return None;
    }
    let mean = w.iter().sum::<f64>() / m as f64;
    let sd = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m as f64).sqrt();
    Some(w.iter().map(|v| (v - mean) / sd).collect())
}

/// z-normalised Euclidean distance of windows `i` and `j`: 0 between two constant windows,
/// √m between a constant and a varying one.
pub fn distance(series: &[f64], m: usize, i: usize, j: usize) -> f64 {
    match (znormalised(series, m, i), znormalised(series, m, j)) {
        (None, None) => 0.0,
        (None, Some(_)) | (Some(_), None) => (m as f64).sqrt(),
        (Some(a), Some(b)) => a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt(),
    }
}

/// The full distance matrix, with `+∞` inside the exclusion zone.
pub fn distance_matrix(series: &[f64], m: usize) -> Vec<Vec<f64>> {
    let l = series.len() - m + 1;
    let e = exclusion(m);
    let z: Vec<Option<Vec<f64>>> = (0..l).map(|i| znormalised(series, m, i)).collect();
    (0..l)
        .map(|i| {
            (0..l)
                .map(|j| {
                    if i.abs_diff(j) <= e {
                        return f64::INFINITY;
                    }
                    match (&z[i], &z[j]) {
                        (None, None) => 0.0,
                        (None, Some(_)) | (Some(_), None) => (m as f64).sqrt(),
                        (Some(a), Some(b)) => a
                            .iter()
                            .zip(b)
                            .map(|(x, y)| (x - y).powi(2))
                            .sum::<f64>()
                            .sqrt(),
                    }
                })
                .collect()
        })
        .collect()
}

/// Row minima of the distance matrix: the profile.
pub fn profile(matrix: &[Vec<f64>]) -> Vec<f64> {
    matrix
        .iter()
        .map(|row| row.iter().copied().fold(f64::INFINITY, f64::min))
        .collect()
}

/// xorshift64: reproducible inputs without a random-number dependency.
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn random_walk(&mut self, n: usize) -> Vec<f64> {
        let mut level = 0.0;
        (0..n)
            .map(|_| {
                level += self.unit() - 0.5;
                level
            })
            .collect()
    }
}
