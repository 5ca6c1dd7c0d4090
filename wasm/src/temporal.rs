//! DTW between two series, and Levenshtein distance or LCS length between two texts: the
//! `compare` command's metrics, with its JSON (`{"metric": ..., "value": ...}`).

use midstream::engines::temporal::{DtwCost, DtwOptions, dtw, lcs_len_str, levenshtein_str};
use midstream::headless::compare::Metric;
use serde_json::{Value, json};

use crate::memory::{numbers, respond, text};

/// The DTW distance between the series `a` and `b`: Σ|aᵢ − bⱼ| along the best warping path
/// (`dtw`), or with `squared` ≠ 0 the square root of the least Σ(aᵢ − bⱼ)² (`dtw-sq`).
/// `window` is the Sakoe–Chiba half-width (widened to the length difference); negative for no
/// band.
///
/// # Safety
///
/// `a` and `b` point to `a_len` and `b_len` aligned `f64`s (or are null for an empty series).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn midstream_dtw(
    a: *const f64,
    a_len: usize,
    b: *const f64,
    b_len: usize,
    squared: u32,
    window: i32,
) -> *mut u8 {
    // SAFETY: as the caller promises.
    let (a, b) = unsafe { (numbers(a, a_len), numbers(b, b_len)) };
    let metric = if squared == 0 {
        Metric::Dtw
    } else {
        Metric::DtwSq
    };
    respond(dtw_json(a, b, metric, usize::try_from(window).ok()))
}

fn dtw_json(a: &[f64], b: &[f64], metric: Metric, window: Option<usize>) -> Result<Value, String> {
    let cost = if metric == Metric::Dtw {
        DtwCost::Absolute
    } else {
        DtwCost::Squared
    };
    let distance = dtw(a, b, &DtwOptions { cost, window }).map_err(|e| e.to_string())?;
    if !distance.is_finite() {
        return Err(format!("the {metric} distance overflows a 64-bit float"));
    }
    Ok(json!({ "metric": metric.name(), "value": distance }))
}

/// The Levenshtein distance between the UTF-8 texts `a` and `b` (`edit`), or with `lcs` ≠ 0
/// the length of their longest common subsequence (`lcs`), Unicode scalar value by value.
///
/// # Safety
///
/// `a` and `b` point to `a_len` and `b_len` bytes (or are null for an empty text).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn midstream_edit(
    a: *const u8,
    a_len: usize,
    b: *const u8,
    b_len: usize,
    lcs: u32,
) -> *mut u8 {
    // SAFETY: as the caller promises.
    let texts = unsafe { (text(a, a_len, "text A"), text(b, b_len, "text B")) };
    let metric = if lcs == 0 { Metric::Edit } else { Metric::Lcs };
    respond(match texts {
        (Ok(a), Ok(b)) => {
            let value = if metric == Metric::Lcs {
                lcs_len_str(a, b)
            } else {
                levenshtein_str(a, b)
            };
            Ok(json!({ "metric": metric.name(), "value": value }))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::testing::{HostBuffer, take};

    fn call_dtw(a: &[f64], b: &[f64], squared: u32, window: i32) -> Value {
        let (a, b) = (HostBuffer::numbers(a), HostBuffer::numbers(b));
        // SAFETY: live buffers of these lengths.
        take(unsafe { midstream_dtw(a.as_f64(), a.len, b.as_f64(), b.len, squared, window) })
    }

    fn call_edit(a: &str, b: &str, lcs: u32) -> Value {
        let (a, b) = (HostBuffer::text(a), HostBuffer::text(b));
        // SAFETY: live buffers of these lengths.
        take(unsafe { midstream_edit(a.ptr, a.len, b.ptr, b.len, lcs) })
    }

    #[test]
    fn dtw_by_hand() {
        // a = [0, 1, 2], b = [0, 2]: the best path pairs 1 with 0 or 2, one unit of cost.
        let abs = call_dtw(&[0.0, 1.0, 2.0], &[0.0, 2.0], 0, -1);
        assert_eq!(abs, json!({"metric": "dtw", "value": 1.0}));
        // Squared: 3 and 7 are 4 apart, their root-of-squares distance is 4.
        let sq = call_dtw(&[3.0], &[7.0], 1, 0);
        assert_eq!(sq, json!({"metric": "dtw-sq", "value": 4.0}));
    }

    #[test]
    fn dtw_errors_are_the_engines() {
        let err = call_dtw(&[], &[1.0], 0, -1);
        assert_eq!(
            err["error"],
            "the first series is empty: DTW needs at least one value in each series"
        );
        let err = call_dtw(&[1.0, f64::NAN], &[1.0], 0, -1);
        assert!(
            err["error"].as_str().unwrap().contains("non-finite"),
            "{err}"
        );
        let err = call_dtw(&[1e300], &[-1e300], 1, -1);
        assert_eq!(err["error"], "the dtw-sq distance overflows a 64-bit float");
    }

    #[test]
    fn edit_distance_and_lcs_by_hand() {
        assert_eq!(
            call_edit("kitten", "sitting", 0),
            json!({"metric": "edit", "value": 3})
        );
        assert_eq!(
            call_edit("kitten", "sitting", 1),
            json!({"metric": "lcs", "value": 4})
        );
        // Scalar values, not bytes: one substitution.
        assert_eq!(call_edit("façade", "facade", 0)["value"], 1);
        assert_eq!(call_edit("", "", 0)["value"], 0);
    }
}
