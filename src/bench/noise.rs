//! Whether a benchmark's change from a baseline is real or noise.
//!
//! Two runs of the same code on this shared 2-core machine differ, and the difference is not
//! always inside criterion's confidence intervals (those cover the noise within one run, not
//! between runs: another engineer's build starting is a step, not noise). A change counts as
//! beyond noise only when both hold: the new median is more than 1 + [`NOISE_MARGIN`] times
//! the baseline's, or less than its 1 / (1 + margin) (symmetric on a log scale: with a margin
//! of 1, doubled or halved), and the two 95% confidence intervals of the median do not overlap.

/// Relative change of a median that repeated quick runs of unchanged code stay within on the
/// shared 2-core machine. Measured: two back-to-back `bench --quick` runs of the same binary
/// (51 benchmarks, 2026-12-06, load average about 5 from other engineers' builds): the
/// median |change| was 13%, the 90th percentile 44%, the largest 85%
/// (`quic/midstream/single_stream`; `schedule_dispatch_run_noop/workers/1` changed by −83%).
/// With a 25% margin 12 of the 51 would have been flagged, 6 of them as slower. A median must
/// therefore double before a change counts: above the largest change repetition made.
pub const NOISE_MARGIN: f64 = 1.0;

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
    /// Beyond the noise margin either way, with disjoint confidence intervals.
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
    let ratio = 1.0 + change;
    let beyond_margin = ratio > 1.0 + margin || ratio * (1.0 + margin) < 1.0;
    Change {
        change,
        beyond_noise: beyond_margin && disjoint,
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
        // Symmetric on a log scale: with a margin of 1, halved is as far as doubled.
        let halved = compare(
            estimate(100.0, 99.0, 101.0),
            estimate(49.0, 48.0, 50.0),
            1.0,
        );
        let doubled = compare(
            estimate(100.0, 99.0, 101.0),
            estimate(201.0, 200.0, 202.0),
            1.0,
        );
        assert!(halved.beyond_noise && doubled.beyond_noise);
        let not_quite = compare(
            estimate(100.0, 99.0, 101.0),
            estimate(51.0, 50.0, 52.0),
            1.0,
        );
        assert!(!not_quite.beyond_noise);
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
