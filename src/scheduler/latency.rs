//! Turning a latency histogram into what a screen shows: the usual percentiles, and counts on
//! log-scaled buckets (the data the `midstream-widgets` latency histogram draws).

use hdrhistogram::Histogram;

/// Which of a task's two latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatencyKind {
    /// Enqueue → start of execution.
    Wait,
    /// Start → end of execution.
    Run,
}

impl LatencyKind {
    pub const fn name(self) -> &'static str {
        match self {
            LatencyKind::Wait => "wait",
            LatencyKind::Run => "run",
        }
    }
}

/// Percentiles of one latency histogram, in nanoseconds.
///
/// Each value is HdrHistogram's "highest equivalent value" of the bucket holding the percentile,
/// so it is at most one bucket width (a relative `10^-sigfig`) above the exact sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyPercentiles {
    /// Number of samples.
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

impl LatencyPercentiles {
    /// `(name, value)` pairs in display order: p50, p90, p99, p99.9, max.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("p50", self.p50_ns),
            ("p90", self.p90_ns),
            ("p99", self.p99_ns),
            ("p99.9", self.p999_ns),
            ("max", self.max_ns),
        ]
    }
}

/// p50, p90, p99, p99.9 and max of `histogram` in one pass; all zero when it is empty.
pub fn latency_percentiles(histogram: &Histogram<u64>) -> LatencyPercentiles {
    if histogram.is_empty() {
        return LatencyPercentiles::default();
    }
    let mut values = histogram.value_at_quantiles([0.5, 0.9, 0.99, 0.999]);
    let mut next = || values.next().unwrap_or(0);
    let (p50_ns, p90_ns, p99_ns, p999_ns) = (next(), next(), next(), next());
    LatencyPercentiles {
        count: histogram.len(),
        p50_ns,
        p90_ns,
        p99_ns,
        p999_ns,
        max_ns: histogram.max(),
    }
}

/// One log-scaled bucket: samples in `[lower_ns, upper_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyBucket {
    pub lower_ns: u64,
    pub upper_ns: u64,
    pub count: u64,
}

/// Layout of log-scaled buckets: `per_decade` buckets of equal width on a log scale, from
/// `10^min_decade` ns to `10^max_decade` ns. Samples below the range are counted in the first
/// bucket, samples above it in the last, so the bucket counts always add up to the sample count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBucketSpec {
    /// Power of ten of the first bucket's lower bound, in ns (1 = 10 ns).
    pub min_decade: u32,
    /// Power of ten of the last bucket's upper bound, in ns (10 = 10 s).
    pub max_decade: u32,
    /// Buckets per power of ten, at least 1.
    pub per_decade: u32,
}

impl LogBucketSpec {
    /// 10 ns … 10 s, three buckets per decade (27 buckets): wide enough for both a task's wait
    /// and its run time, narrow enough for an 80-column pane.
    pub const DEFAULT: LogBucketSpec = LogBucketSpec {
        min_decade: 1,
        max_decade: 10,
        per_decade: 3,
    };

    /// The decades covering everything `histograms` hold (at least one decade), with
    /// `per_decade` buckets each; the default range when they are all empty.
    pub fn covering<'a>(
        histograms: impl IntoIterator<Item = &'a Histogram<u64>>,
        per_decade: u32,
    ) -> LogBucketSpec {
        let mut range: Option<(u64, u64)> = None;
        for h in histograms.into_iter().filter(|h| !h.is_empty()) {
            let (lo, hi) = (h.min().max(1), h.max().max(1));
            range = Some(match range {
                None => (lo, hi),
                Some((a, b)) => (a.min(lo), b.max(hi)),
            });
        }
        let Some((lo, hi)) = range else {
            return LogBucketSpec {
                per_decade: per_decade.max(1),
                ..LogBucketSpec::DEFAULT
            };
        };
        let min_decade = lo.ilog10();
        // The smallest power of ten strictly above `hi`.
        let max_decade = (hi.ilog10() + 1).min(MAX_DECADE);
        LogBucketSpec {
            min_decade: min_decade.min(max_decade - 1),
            max_decade,
            per_decade: per_decade.max(1),
        }
    }

    fn bucket_count(&self) -> usize {
        let decades = self.max_decade.saturating_sub(self.min_decade).max(1);
        (decades * self.per_decade.max(1)) as usize
    }

    /// Bounds of bucket `i`, rounded to whole nanoseconds.
    fn bounds(&self, i: usize) -> (u64, u64) {
        let edge = |k: usize| -> u64 {
            let exponent = self.min_decade as f64 + k as f64 / self.per_decade.max(1) as f64;
            10f64.powf(exponent).round() as u64
        };
        (edge(i), edge(i + 1))
    }
}

/// Largest power of ten (in ns) a bucket bound may reach: 10^19 > u64::MAX ns is not
/// representable.
const MAX_DECADE: u32 = 19;

/// Counts of `histogram` on the log-scaled buckets of `spec`.
///
/// Each HdrHistogram bucket is assigned whole by its median equivalent value, so a sample within
/// one HdrHistogram bucket width (relative `10^-sigfig`) of a bound may land on either side.
pub fn log_buckets(histogram: &Histogram<u64>, spec: &LogBucketSpec) -> Vec<LatencyBucket> {
    let n = spec.bucket_count();
    let mut buckets: Vec<LatencyBucket> = (0..n)
        .map(|i| {
            let (lower_ns, upper_ns) = spec.bounds(i);
            LatencyBucket {
                lower_ns,
                upper_ns,
                count: 0,
            }
        })
        .collect();
    for value in histogram.iter_recorded() {
        let sample_ns = histogram.median_equivalent(value.value_iterated_to());
        // First bucket whose upper bound is above the sample; the last bucket takes the rest.
        let index = buckets
            .partition_point(|b| b.upper_ns <= sample_ns)
            .min(n - 1);
        buckets[index].count += value.count_at_value();
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 2)
            .unwrap_or_else(|e| panic!("histogram bounds: {e}"));
        for &v in values {
            h.saturating_record(v);
        }
        h
    }

    #[test]
    fn percentiles_of_one_to_one_thousand() {
        // Nearest-rank percentiles of 1..=1000 are 500, 900, 990, 999 and the max 1000; the
        // histogram reports each within its 2-significant-digit bucket (relative 1/128 here).
        let values: Vec<u64> = (1..=1000).collect();
        let p = latency_percentiles(&histogram(&values));
        assert_eq!(p.count, 1000);
        for (got, want) in [
            (p.p50_ns, 500),
            (p.p90_ns, 900),
            (p.p99_ns, 990),
            (p.p999_ns, 999),
            (p.max_ns, 1000),
        ] {
            assert!(
                got >= want && got <= want + want / 128 + 1,
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn empty_histogram_gives_zeros() {
        assert_eq!(
            latency_percentiles(&histogram(&[])),
            LatencyPercentiles::default()
        );
    }

    #[test]
    fn log_buckets_have_log_spaced_bounds() {
        let spec = LogBucketSpec {
            min_decade: 2,
            max_decade: 4,
            per_decade: 2,
        };
        let b = log_buckets(&histogram(&[]), &spec);
        let bounds: Vec<(u64, u64)> = b.iter().map(|b| (b.lower_ns, b.upper_ns)).collect();
        // 10^2, 10^2.5 = 316.2…, 10^3, 10^3.5 = 3162.3…, 10^4.
        assert_eq!(
            bounds,
            vec![(100, 316), (316, 1000), (1000, 3162), (3162, 10_000)]
        );
    }

    #[test]
    fn log_buckets_count_every_sample_once() {
        let spec = LogBucketSpec {
            min_decade: 2,
            max_decade: 4,
            per_decade: 1,
        };
        // 5 below the range (first bucket), 150 and 900 in [100, 1000), 5000 in [1000, 10000),
        // 2_000_000 above (last bucket).
        let b = log_buckets(&histogram(&[5, 150, 900, 5000, 2_000_000]), &spec);
        let counts: Vec<u64> = b.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![3, 2]);
    }

    #[test]
    fn covering_spans_min_to_max() {
        let a = histogram(&[1_500, 20_000]);
        let b = histogram(&[250_000]);
        let spec = LogBucketSpec::covering([&a, &b], 4);
        assert_eq!(
            spec,
            LogBucketSpec {
                min_decade: 3,
                max_decade: 6,
                per_decade: 4
            }
        );
        let empty = histogram(&[]);
        assert_eq!(LogBucketSpec::covering([&empty], 3), LogBucketSpec::DEFAULT);
    }
}
