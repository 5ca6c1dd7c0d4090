//! Ordinary least-squares straight lines, used on the divergence and correlation-sum curves.

/// The least-squares line `y ≈ slope·x + intercept` and its coefficient of determination.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LineFit {
    pub slope: f64,
    pub intercept: f64,
    /// R² = 1 − SS_res / SS_tot; 1 when the points are collinear (also when y is flat).
    pub r2: f64,
}

/// Fits a line through `(x[i], y[i])`; `None` with fewer than two distinct x values.
pub(crate) fn fit_line(x: &[f64], y: &[f64]) -> Option<LineFit> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = x[..n].iter().sum::<f64>() / nf;
    let my = y[..n].iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (&xi, &yi) in x[..n].iter().zip(&y[..n]) {
        let (dx, dy) = (xi - mx, yi - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let ss_res = (syy - slope * sxy).max(0.0);
    let r2 = if syy > 0.0 { 1.0 - ss_res / syy } else { 1.0 };
    Some(LineFit {
        slope,
        intercept: my - slope * mx,
        r2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_known_lines() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let fit = fit_line(&x, &[1.0, 3.0, 5.0, 7.0]).unwrap();
        assert!((fit.slope - 2.0).abs() < 1e-12 && (fit.intercept - 1.0).abs() < 1e-12);
        assert!((fit.r2 - 1.0).abs() < 1e-12);
        // y = x with alternating ±1 noise: slope 0.6 by hand (sxy = 3, sxx = 5).
        let fit = fit_line(&x, &[1.0, 0.0, 3.0, 2.0]).unwrap();
        assert!((fit.slope - 0.6).abs() < 1e-12);
        assert!(fit.r2 < 1.0 && fit.r2 > 0.0);
        assert!(fit_line(&[1.0, 1.0], &[0.0, 1.0]).is_none());
        assert!(fit_line(&[1.0], &[0.0]).is_none());
    }
}
