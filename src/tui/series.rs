//! Numbers scaled for ratatui's `Sparkline`, which draws non-negative integers: any real
//! series (negative exponents included) is mapped onto a fixed number of levels between its own
//! minimum and maximum.

/// Levels a scaled value takes, `SPARK_FLOOR..=SPARK_LEVELS`. 64 levels are finer than the
/// eighth-block steps of a sparkline up to 8 rows high.
pub const SPARK_LEVELS: u64 = 64;
/// The lowest value's level: an eighth of the sparkline's height, so it still draws a bar and
/// reads apart from a missing value (drawn empty).
pub const SPARK_FLOOR: u64 = SPARK_LEVELS / 8;

/// `values` scaled to `SPARK_FLOOR..=SPARK_LEVELS` between their finite minimum and maximum (a flat
/// series sits at mid height); `None` and non-finite values stay `None`. Also returns the
/// range, when there is a finite value.
pub fn scale_to_levels(values: &[Option<f64>]) -> (Vec<Option<u64>>, Option<(f64, f64)>) {
    let range = values.iter().flatten().filter(|v| v.is_finite()).fold(
        None,
        |acc: Option<(f64, f64)>, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        },
    );
    let scaled = values
        .iter()
        .map(|v| {
            let v = (*v).filter(|v| v.is_finite())?;
            let (lo, hi) = range?;
            let fraction = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            Some(SPARK_FLOOR + (fraction * (SPARK_LEVELS - SPARK_FLOOR) as f64).round() as u64)
        })
        .collect();
    (scaled, range)
}

/// `values` cut into `columns` consecutive runs of about equal length (the last ones shorter
/// by at most one), each summarised by `summary`; fewer columns when there are fewer values.
/// Returns, for each column, its summary and the index range it covers.
pub fn downsample(
    values: &[f64],
    columns: usize,
    summary: impl Fn(&[f64]) -> f64,
) -> Vec<(f64, std::ops::Range<usize>)> {
    let columns = columns.min(values.len());
    (0..columns)
        .map(|c| {
            let range = c * values.len() / columns..(c + 1) * values.len() / columns;
            (summary(&values[range.clone()]), range)
        })
        .collect()
}

/// The mean of a non-empty run.
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_spans_the_levels_and_keeps_gaps() {
        let (scaled, range) = scale_to_levels(&[Some(-2.0), None, Some(0.0), Some(2.0)]);
        assert_eq!(range, Some((-2.0, 2.0)));
        // 0 is half way: 8 + round(0.5 × 56) = 36.
        assert_eq!(
            scaled,
            vec![Some(SPARK_FLOOR), None, Some(36), Some(SPARK_LEVELS)]
        );
        let (flat, _) = scale_to_levels(&[Some(3.0), Some(3.0)]);
        assert_eq!(flat[0], flat[1]);
        let (none, range) = scale_to_levels(&[None, Some(f64::NAN)]);
        assert_eq!((none, range), (vec![None, None], None));
    }

    #[test]
    fn downsampling_covers_every_value_once() {
        let values: Vec<f64> = (0..10).map(f64::from).collect();
        let columns = downsample(&values, 4, mean);
        let ranges: Vec<_> = columns.iter().map(|(_, r)| r.clone()).collect();
        assert_eq!(ranges, vec![0..2, 2..5, 5..7, 7..10]);
        assert_eq!(columns[0].0, 0.5);
        assert_eq!(downsample(&values[..3], 8, mean).len(), 3);
        assert!(downsample(&[], 8, mean).is_empty());
    }
}
