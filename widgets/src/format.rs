//! Durations as the widgets and the app's panes print them: one formatter for both, so a
//! latency in the histogram and the same latency in a table read alike.

use std::time::Duration;

/// Nanoseconds in a minute: from here on durations print as minutes and seconds.
const MINUTE_NS: u64 = 60_000_000_000;

pub(crate) fn is_power_of_ten(value: u64) -> bool {
    value > 0 && 10u64.pow(value.ilog10()) == value
}

/// A duration in ns with at most three significant digits and a unit: `850ns`, `1.20µs`,
/// `12.0µs`, `340µs`, `1.10ms`, `2.00s`; from a minute on, minutes and seconds (`8m02s`).
/// Whole powers of ten print without decimals (`10µs`), as axis ticks want.
pub fn format_ns(ns: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "µs"),
        (1, "ns"),
    ];
    if ns >= MINUTE_NS {
        let whole_s = ns / 1_000_000_000;
        return format!("{}m{:02}s", whole_s / 60, whole_s % 60);
    }
    let (scale, unit) = UNITS
        .iter()
        .copied()
        .find(|&(scale, _)| ns >= scale)
        .unwrap_or((1, "ns"));
    if scale == 1 {
        return format!("{ns}{unit}");
    }
    if ns.is_multiple_of(scale) && is_power_of_ten(ns / scale) {
        return format!("{}{unit}", ns / scale);
    }
    let value = ns as f64 / scale as f64;
    if value >= 100.0 {
        format!("{value:.0}{unit}")
    } else if value >= 10.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.2}{unit}")
    }
}

/// [`format_ns`] of a [`Duration`] (saturating at `u64::MAX` ns, about 584 years).
pub fn format_duration(d: Duration) -> String {
    format_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_compactly() {
        let cases = [
            (0, "0ns"),
            (850, "850ns"),
            (1_000, "1µs"),
            (1_200, "1.20µs"),
            (12_345, "12.3µs"),
            (340_000, "340µs"),
            (100_000, "100µs"),
            (1_100_000, "1.10ms"),
            (10_000_000_000, "10s"),
            (2_500_000_000, "2.50s"),
            (125_000_000_000, "2m05s"),
        ];
        for (ns, text) in cases {
            assert_eq!(format_ns(ns), text, "{ns}");
        }
        assert_eq!(format_duration(Duration::from_micros(420)), "420µs");
        assert_eq!(format_duration(Duration::from_secs(482)), "8m02s");
    }
}
