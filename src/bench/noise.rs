//! Whether a benchmark's change from a baseline is real or noise.
//!
//! Two runs of the same code on this shared 2-core machine differ, and the difference is not
//! always inside criterion's confidence intervals (those cover the noise within one run, not
//! between runs: another engineer's build starting is a step, not noise). A change counts as
//! beyond noise only when both hold: the medians differ by more than [`NOISE_MARGIN`], and the
//! two 95% confidence intervals of the median do not overlap.

/// Relative change of a median that repeated quick runs of unchanged code stay within on the
/// 2-core reference machine. Measured (README, "bench"): two back-to-back
/// `bench --quick` runs of the same binary, 62 benchmarks: the median |change| was 3%, the
/// 90th percentile 11%, the largest 21% (a QUIC benchmark, while another build ran). 25% is
/// above the largest, so a change flagged beyond noise is one that repetition does not make.
pub const NOISE_MARGIN: f64 = 0.25;

/// A median and its confidence interval, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub median_ns: f64,
    pub interval_ns: Option<(f64, f64)>,
}

/// How a new estimate stands against a baseline's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// new ÷ baseline − 1: 0.1 is 10% slower (more time per iteration).
    pub change: f64,
    /// Beyond [`NOISE_MARGIN`] and with disjoint confidence intervals.
    pub beyond_noise: bool,
}

impl Change {
    /// Slower than the baseline beyond noise: what `--check` fails on.
    pub fn is_regression(&self) -> bool {
        self.beyond_noise && self.change > 0.0
    }
}

/// `new` against `baseline`, with `margin` as the noise margin ([`NOISE_MARGIN`] normally).
pub fn compare(baseline: Estimate, new: Estimate, margin: f64) -> Change {
    let change = if baseline.median_ns > 0.0 {
        new.median_ns / baseline.median_ns - 1.0
    } else {
        0.0
    };
    // Without intervals only the margin can tell.
    let disjoint = match (baseline.interval_ns, new.interval_ns) {
        (Some((b_low, b_high)), Some((n_low, n_high))) => n_low > b_high || n_high < b_low,
        _ => true,
    };
    Change {
        change,
        beyond_noise: change.abs() > margin && disjoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(median_ns: f64, low: f64, high: f64) -> Estimate {
        Estimate {
            median_ns,
            interval_ns: Some((low, high)),
        }
    }

    #[test]
    fn a_change_within_the_margin_is_noise_even_with_disjoint_intervals() {
        let c = compare(
            estimate(100.0, 99.0, 101.0),
            estimate(110.0, 109.0, 111.0),
            0.25,
        );
        assert!((c.change - 0.1).abs() < 1e-12);
        assert!(!c.beyond_noise && !c.is_regression());
    }

    #[test]
    fn a_large_change_with_overlapping_intervals_is_noise() {
        // A median 50% slower but an interval so wide it reaches the baseline's.
        let c = compare(
            estimate(100.0, 95.0, 105.0),
            estimate(150.0, 104.0, 200.0),
            0.25,
        );
        assert!(!c.beyond_noise);
    }

    #[test]
    fn slower_and_faster_beyond_noise() {
        let slower = compare(
            estimate(100.0, 95.0, 105.0),
            estimate(200.0, 190.0, 210.0),
            0.25,
        );
        assert!((slower.change - 1.0).abs() < 1e-12);
        assert!(slower.beyond_noise && slower.is_regression());
        let faster = compare(
            estimate(100.0, 95.0, 105.0),
            estimate(50.0, 48.0, 52.0),
            0.25,
        );
        assert!(faster.beyond_noise && !faster.is_regression());
    }

    #[test]
    fn without_intervals_the_margin_decides() {
        let base = Estimate {
            median_ns: 100.0,
            interval_ns: None,
        };
        let new = Estimate {
            median_ns: 130.0,
            interval_ns: None,
        };
        assert!(compare(base, new, 0.25).is_regression());
        assert!(!compare(base, new, 0.5).beyond_noise);
        assert_eq!(
            compare(
                Estimate {
                    median_ns: 0.0,
                    ..base
                },
                new,
                0.25
            )
            .change,
            0.0
        );
    }
}
