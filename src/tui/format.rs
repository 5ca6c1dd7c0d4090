//! Numbers as the panes print them.

/// A count with thousands separators: `12,345,678`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number of samples: `1 sample`, `4,096 samples`.
pub fn samples(n: usize) -> String {
    if n == 1 {
        "1 sample".to_string()
    } else {
        format!("{} samples", count(n as u64))
    }
}

/// A rate in records per second: one decimal below 10, whole numbers with separators above.
pub fn rate(hz: f64) -> String {
    if !hz.is_finite() || hz < 0.0 {
        "—".to_string()
    } else if hz < 10.0 {
        format!("{hz:.1}")
    } else {
        count(hz.round() as u64)
    }
}

/// A duration, as every pane and widget prints it (`midstream_widgets::format`).
pub use midstream_widgets::format::{format_duration as duration, format_ns};

/// A benchmark time in nanoseconds (criterion's median), as [`format_ns`] prints it; `—` when
/// it is not a number.
pub fn nanos(ns: f64) -> String {
    if !ns.is_finite() || ns < 0.0 {
        return "—".to_string();
    }
    format_ns(ns.round() as u64)
}

/// A rate per second with an SI prefix, three significant figures: `950/s`, `12.3 k/s`,
/// `10.0 M/s`.
pub fn per_second(rate: f64) -> String {
    if !rate.is_finite() || rate < 0.0 {
        return "—".to_string();
    }
    let (value, prefix) = if rate < 1e3 {
        (rate, "")
    } else if rate < 1e6 {
        (rate / 1e3, " k")
    } else if rate < 1e9 {
        (rate / 1e6, " M")
    } else {
        (rate / 1e9, " G")
    };
    format!("{}{prefix}/s", three_figures(value))
}

/// `value` (below 1000) with three significant figures.
fn three_figures(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A position on a trace's clock, from nanoseconds: `12.3 s`, `4 m 07 s`.
pub fn clock_ns(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = ns / 1_000_000_000;
        format!("{} m {:02} s", whole / 60, whole % 60)
    }
}

/// A replay speed: `×2`, `×0.5`, `max` for as fast as possible (0).
pub fn speed(speed: f64) -> String {
    if speed <= 0.0 || !speed.is_finite() {
        "max".to_string()
    } else if speed.fract() == 0.0 {
        format!("×{speed:.0}")
    } else {
        let s = format!("×{speed:.3}");
        s.trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(12_345_678), "12,345,678");
        assert_eq!(samples(1), "1 sample");
        assert_eq!(samples(4096), "4,096 samples");
    }

    #[test]
    fn rates_durations_speeds() {
        assert_eq!(rate(2.345), "2.3");
        assert_eq!(rate(10_000.4), "10,000");
        assert_eq!(rate(f64::NAN), "—");
        assert_eq!(duration(Duration::from_micros(420)), "420µs");
        assert_eq!(duration(Duration::from_micros(12_340)), "12.3ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.50s");
        assert_eq!(duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(clock_ns(12_340_000_000), "12.3 s");
        assert_eq!(clock_ns(247_000_000_000), "4 m 07 s");
        assert_eq!(speed(2.0), "×2");
        assert_eq!(speed(0.5), "×0.5");
        assert_eq!(speed(0.125), "×0.125");
        assert_eq!(speed(0.0), "max");
    }

    #[test]
    fn benchmark_times_and_rates() {
        assert_eq!(nanos(84.0), "84ns");
        assert_eq!(nanos(22_480.0), "22.5µs");
        assert_eq!(nanos(1_500_000.0), "1.50ms");
        assert_eq!(nanos(287e6), "287ms");
        assert_eq!(nanos(2.31e9), "2.31s");
        assert_eq!(nanos(f64::NAN), "—");
        assert_eq!(per_second(950.0), "950/s");
        assert_eq!(per_second(12_340.0), "12.3 k/s");
        assert_eq!(per_second(1e7), "10.0 M/s");
        assert_eq!(per_second(-1.0), "—");
    }
}
