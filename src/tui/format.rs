//! Numbers as the panes print them.

use std::time::Duration;

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

/// A short duration: `850 µs`, `12.3 ms`, `1.50 s`, `2 m 05 s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 60.0 {
        format!("{s:.2} s")
    } else {
        let whole = d.as_secs();
        format!("{} m {:02} s", whole / 60, whole % 60)
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
        assert_eq!(duration(Duration::from_micros(420)), "420 µs");
        assert_eq!(duration(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.50 s");
        assert_eq!(duration(Duration::from_secs(125)), "2 m 05 s");
        assert_eq!(clock_ns(12_340_000_000), "12.3 s");
        assert_eq!(clock_ns(247_000_000_000), "4 m 07 s");
        assert_eq!(speed(2.0), "×2");
        assert_eq!(speed(0.5), "×0.5");
        assert_eq!(speed(0.125), "×0.125");
        assert_eq!(speed(0.0), "max");
    }
}
