//! Checking a series before analysis and bringing it to a standard scale.

use super::AttractorError;

/// Relative spread below which a series counts as constant: a range of less than about 4,500
/// units in the last place of f64 (2⁻⁵²·4500 ≈ 1e-12) is rounding noise, not dynamics.
pub const CONSTANT_RELATIVE_RANGE: f64 = 1e-12;

/// Checks that every sample is finite and that the series is not constant.
pub fn validate(series: &[f64]) -> Result<(), AttractorError> {
    if let Some((index, &value)) = series.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(AttractorError::NonFinite { index, value });
    }
    let Some(&first) = series.first() else {
        return Err(AttractorError::TooShort {
            what: "any analysis",
            n: 0,
            min: 1,
        });
    };
    let (lo, hi) = series
        .iter()
        .fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let magnitude = lo.abs().max(hi.abs());
    if hi - lo <= CONSTANT_RELATIVE_RANGE * magnitude || hi == lo {
        return Err(AttractorError::Constant { value: first });
    }
    Ok(())
}

/// Mean and (population) standard deviation.
pub fn mean_and_std(series: &[f64]) -> (f64, f64) {
    let n = series.len().max(1) as f64;
    let mean = series.iter().sum::<f64>() / n;
    let var = series.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The series as z-scores (zero mean, unit variance), after [`validate`].
///
/// Every estimate downstream is computed on this copy, which is what makes the analysis blind to
/// the series' unit and offset: multiplying the input by 10 gives the same standardised series
/// up to rounding.
pub fn standardise(series: &[f64]) -> Result<Vec<f64>, AttractorError> {
    validate(series)?;
    let (mean, std) = mean_and_std(series);
    if std <= 0.0 || !std.is_finite() {
        return Err(AttractorError::Constant { value: mean });
    }
    Ok(series.iter().map(|v| (v - mean) / std).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nan_constant_and_empty() {
        assert_eq!(
            validate(&[1.0, f64::NAN, 2.0]).unwrap_err().to_string(),
            "sample 1 is not a finite number (NaN)"
        );
        assert!(matches!(
            validate(&[3.5; 100]),
            Err(AttractorError::Constant { value }) if value == 3.5
        ));
        assert!(matches!(
            validate(&[]),
            Err(AttractorError::TooShort { .. })
        ));
        // A large offset with variation at rounding level is still constant.
        let nearly: Vec<f64> = (0..50).map(|i| 1e6 + (i % 2) as f64 * 1e-10).collect();
        assert!(validate(&nearly).is_err());
        assert!(validate(&[0.0, 1e-300]).is_ok());
    }

    #[test]
    fn standardised_series_ignores_scale_and_offset() {
        let x: Vec<f64> = (0..200)
            .map(|i| (i as f64 * 0.3).sin() + 0.1 * i as f64)
            .collect();
        let y: Vec<f64> = x.iter().map(|v| 10.0 * v - 7.0).collect();
        let (zx, zy) = (standardise(&x).unwrap(), standardise(&y).unwrap());
        let (m, s) = mean_and_std(&zx);
        assert!(m.abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        for (a, b) in zx.iter().zip(&zy) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
