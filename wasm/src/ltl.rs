//! An LTLf formula checked over a trace of JSON states: the `check` command's JSON for one
//! formula.

use std::sync::Arc;

use midstream::engines::ltl::{Monitor, compile, parse};
use midstream::headless::check::{result_json, state_from_json};
use serde_json::{Value, json};

use crate::memory::{respond, text};

/// The verdict of `formula` on `trace`: JSON lines, one object per line, the state at that step
/// (blank lines skipped; nested objects flattened with dots, `null` and arrays left out, as
/// `check` reads them). With `explain` ≠ 0 the answer also holds the compiled monitor.
///
/// # Safety
///
/// `formula` and `trace` point to `formula_len` and `trace_len` bytes (or are null when
/// empty).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn midstream_check(
    formula: *const u8,
    formula_len: usize,
    trace: *const u8,
    trace_len: usize,
    explain: u32,
) -> *mut u8 {
    // SAFETY: as the caller promises.
    let inputs = unsafe {
        (
            text(formula, formula_len, "the formula"),
            text(trace, trace_len, "the trace"),
        )
    };
    respond(match inputs {
        (Ok(formula), Ok(trace)) => check_json(formula, trace, explain != 0),
        (Err(e), _) | (_, Err(e)) => Err(e),
    })
}

fn check_json(formula: &str, trace: &str, explain: bool) -> Result<Value, String> {
    let parsed = parse(formula).map_err(|e| format!("bad formula {}", e.render()))?;
    let automaton = compile(&parsed).map_err(|e| format!("formula {formula:?}: {e}"))?;
    let mut monitor = Monitor::new(Arc::new(automaton));
    let mut steps = 0u64;
    for (index, line) in trace.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let state = state_from_json(line).map_err(|e| format!("trace line {}: {e}", index + 1))?;
        monitor.step(&state);
        steps += 1;
    }
    if steps == 0 {
        return Err("the trace is empty; LTLf gives verdicts on non-empty traces only".to_string());
    }
    let mut result = result_json(&monitor, explain);
    if let Value::Object(object) = &mut result {
        object.insert("steps".into(), json!(steps));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::testing::{HostBuffer, take};

    /// The trace of the `check` command's own tests (tests/engines/ltl_check.rs).
    const RESPONSE_TRACE: &str = r#"{"error": false, "recovery": false, "latency": 12.5}
{"error": true, "recovery": false, "latency": 70}

{"error": false, "recovery": true, "latency": 30, "status": "ok"}
{"error": false, "recovery": false, "latency": 20}
"#;

    fn call(formula: &str, trace: &str, explain: u32) -> Value {
        let (f, t) = (HostBuffer::text(formula), HostBuffer::text(trace));
        // SAFETY: live buffers of these lengths.
        take(unsafe { midstream_check(f.ptr, f.len, t.ptr, t.len, explain) })
    }

    #[test]
    fn verdicts_as_check_gives_them() {
        let result = call("G(error -> F recovery)", RESPONSE_TRACE, 0);
        assert_eq!(result["verdict"], true);
        assert_eq!(result["steps"], 4);
        let result = call("G(latency < 50)", RESPONSE_TRACE, 0);
        assert_eq!(result["verdict"], false);
        assert_eq!(result["status"], "violated");
        assert_eq!(result["decided_at"], 1);
        assert!(result.get("explain").is_none());
        assert!(call("G(latency < 50)", RESPONSE_TRACE, 1)["explain"].is_string());
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = call("G(", RESPONSE_TRACE, 0);
        assert!(
            err["error"].as_str().unwrap().starts_with("bad formula"),
            "{err}"
        );
        let err = call("G p", "{\"p\": true}\nnot json\n", 0);
        assert!(
            err["error"].as_str().unwrap().starts_with("trace line 2:"),
            "{err}"
        );
        let err = call("G p", "\n\n", 0);
        assert!(err["error"].as_str().unwrap().contains("empty"), "{err}");
    }
}
