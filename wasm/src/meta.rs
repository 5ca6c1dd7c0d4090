//! The matrix profile's top motif pairs and discords: the `motifs` command's JSON.

use midstream::engines::meta::discover;
use midstream::headless::motifs::to_json;
use serde_json::Value;

use crate::memory::{numbers, respond};

/// The `top` closest pairs of windows of `window` samples (motifs) and the `top` windows
/// farthest from any other (discords), from the exact matrix profile of `series`.
///
/// # Safety
///
/// `series` points to `len` aligned `f64`s (or is null for an empty series).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn midstream_motifs(
    series: *const f64,
    len: usize,
    window: u32,
    top: u32,
) -> *mut u8 {
    // SAFETY: as the caller promises.
    let series = unsafe { numbers(series, len) };
    respond(motifs_json(series, window as usize, top as usize))
}

fn motifs_json(series: &[f64], window: usize, top: usize) -> Result<Value, String> {
    if top == 0 {
        return Err("top must be at least 1".to_string());
    }
    let found = discover(series, window, top).map_err(|e| e.to_string())?;
    // No clock on wasm32-unknown-unknown: `elapsed_ms` is null, and the host times the call.
    Ok(to_json(&found, series.len(), top, f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::testing::{HostBuffer, take};

    fn call(series: &[f64], window: u32, top: u32) -> Value {
        let buffer = HostBuffer::numbers(series);
        // SAFETY: a live buffer of this length.
        take(unsafe { midstream_motifs(buffer.as_f64(), buffer.len, window, top) })
    }

    #[test]
    fn a_planted_repeat_is_the_top_motif() {
        // Xorshift noise (no two windows alike) with a ramp of 8 samples planted twice: the
        // two copies are the same window, at distance 0.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut series: Vec<f64> = (0..60)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect();
        let ramp = [0.0, 3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0];
        series[10..18].copy_from_slice(&ramp);
        series[40..48].copy_from_slice(&ramp);
        let result = call(&series, 8, 1);
        assert_eq!(result["window"], 8);
        assert_eq!(result["n"], 60);
        assert_eq!(result["motifs"][0]["a"], 10);
        assert_eq!(result["motifs"][0]["b"], 40);
        assert!(result["motifs"][0]["distance"].as_f64().unwrap() < 1e-6);
        assert!(result["elapsed_ms"].is_null());
    }

    #[test]
    fn errors_are_the_engines() {
        assert_eq!(call(&[1.0; 20], 3, 0)["error"], "top must be at least 1");
        let err = call(&[1.0; 20], 2, 1);
        assert!(
            err["error"].as_str().unwrap().contains("too small"),
            "{err}"
        );
    }
}
