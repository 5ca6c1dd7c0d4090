//! The attractor analysis of a series: the `analyze` command's JSON.

use midstream::engines::attractor::{AnalysisOptions, analyze};
use midstream::headless::analyze::to_json;
use serde_json::Value;

use crate::memory::{numbers, respond};

/// The complete automatic analysis of `series` (embedding, largest Lyapunov exponent,
/// correlation dimension, class). `dt` is the sample period (NaN for none: the exponent is
/// then per sample); `dim` and `delay` fix the embedding (0 chooses them automatically).
///
/// # Safety
///
/// `series` points to `len` aligned `f64`s (or is null for an empty series).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn midstream_analyze(
    series: *const f64,
    len: usize,
    dt: f64,
    dim: u32,
    delay: u32,
) -> *mut u8 {
    // SAFETY: as the caller promises.
    let series = unsafe { numbers(series, len) };
    let options = AnalysisOptions {
        dt: (!dt.is_nan()).then_some(dt),
        dim: (dim != 0).then_some(dim as usize),
        delay: (delay != 0).then_some(delay as usize),
    };
    respond(analysis_json(series, &options))
}

fn analysis_json(series: &[f64], options: &AnalysisOptions) -> Result<Value, String> {
    let analysis = analyze(series, options).map_err(|e| e.to_string())?;
    // No clock on wasm32-unknown-unknown: `elapsed_ms` is null, and the host times the call.
    Ok(to_json(&analysis, f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::testing::{HostBuffer, take};

    fn call(series: &[f64], dt: f64, dim: u32, delay: u32) -> Value {
        let buffer = HostBuffer::numbers(series);
        // SAFETY: a live buffer of this length.
        take(unsafe { midstream_analyze(buffer.as_f64(), buffer.len, dt, dim, delay) })
    }

    /// The logistic map at r = 4 from x₀ = 0.3: chaotic, with λ = ln 2 per step.
    fn logistic(n: usize) -> Vec<f64> {
        let mut x = 0.3;
        (0..n)
            .map(|_| {
                x = 4.0 * x * (1.0 - x);
                x
            })
            .collect()
    }

    #[test]
    fn answers_with_the_analyze_commands_json() {
        let result = call(&logistic(2000), f64::NAN, 0, 0);
        assert_eq!(result["n"], 2000);
        assert_eq!(result["class"], "chaotic");
        assert_eq!(result["lyapunov"]["unit"], "per sample");
        assert!(result["elapsed_ms"].is_null());
        let with_dt = call(&logistic(2000), 0.5, 2, 1);
        assert_eq!(with_dt["lyapunov"]["unit"], "per time unit");
        assert_eq!(with_dt["embedding"]["dim"], 2);
        assert_eq!(with_dt["dt"], 0.5);
    }

    #[test]
    fn errors_are_the_engines() {
        let err = call(&[1.0; 10], f64::NAN, 0, 0);
        assert!(
            err["error"].as_str().unwrap().contains("too short"),
            "{err}"
        );
        let err = call(&logistic(500), -1.0, 0, 0);
        assert!(
            err["error"].as_str().unwrap().contains("sample period"),
            "{err}"
        );
    }
}
