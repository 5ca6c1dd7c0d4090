//! `midstream-tui check --formula F [--formula G …] [--json] [--explain] TRACE.jsonl`
//!
//! Checks LTLf formulas against a trace in one pass. The trace is JSON lines: one object per
//! line, the state at that step (`{"p": true, "latency": 12.5, "status": "ok"}`); blank lines are
//! skipped. Numbers, booleans and strings become fields; nested objects are flattened with dots
//! (`{"resp": {"code": 200}}` gives `resp.code`); `null` and arrays are left out of the state,
//! so an atom on them sees a missing field.
//!
//! Output: plain, one line `true` or `false` per formula (the verdict on the whole trace);
//! `--json`, one object on one line with `verdict`, `status` (`satisfied`, `violated`, or
//! `undecided` when the verdict depended on the trace ending where it did), `decided_at` (the
//! 0-based step after which the status was fixed, or null), `steps`, `elapsed_ms`, `compile_ms`
//! and, per atom, how often its field was missing or mistyped; with several formulas, those
//! per-formula keys sit in `results: [...]` and the top-level `verdict` is true when all hold.
//! `--explain` adds each compiled monitor (plain: printed before the verdicts; JSON: an
//! `explain` string per formula).
//!
//! `--on-verdict stop|restart` (default `stop`) and `--predict K` add the continuous and
//! predictive keys to the JSON output; see [`run_continuous`].

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::HeadlessError;
use crate::engines::ltl::{
    Automaton, ContinuousMonitor, MAX_HORIZON_STEPS, Monitor, MonitorStatus, OnVerdict, State,
    ViolationForecaster, compile, parse,
};
use crate::model::FieldValue;
use crate::sources::text::TextError;

/// Options of `check`, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    pub formulas: Vec<String>,
    pub json: bool,
    pub explain: bool,
    /// The trace, JSON lines; `-` reads stdin.
    pub trace: PathBuf,
}

/// What `check` does after a verdict and whether it predicts (`--on-verdict`, `--predict`).
/// The default, no flag given, is the output `check` always had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContinuousOptions {
    /// `--on-verdict`: `None` is stop, without the `violations` and `satisfactions` keys.
    pub on_verdict: Option<OnVerdict>,
    /// `--predict K`: print, per step, the probability of a violation within K steps.
    pub predict_steps: Option<usize>,
}

/// Runs `check` and writes its output to `out`.
pub fn run(opts: &CheckOptions, out: &mut dyn std::io::Write) -> Result<(), HeadlessError> {
    run_continuous(opts, &ContinuousOptions::default(), out)
}

/// Runs `check` with `--on-verdict` and `--predict` (see [`ContinuousOptions`]).
///
/// With either flag, each formula's JSON object also has `on_verdict`, `violations` and
/// `satisfactions` (the 0-based steps at which each run was decided so); with `--predict K`,
/// `predict_steps` and `predictions` (one per step: the probability, after that step, that the
/// running monitor is violated within the next K steps, or null until the model has data; see
/// [`crate::engines::ltl::predict`]). With `restart`, `verdict` is true when no run was
/// violated and the last run holds if the trace ends there, and `status` and `decided_at` are
/// the last run's (`decided_at` in steps of the whole trace). With several formulas these keys
/// sit in each object of `results`. The plain output stays one `true` or `false` per formula.
pub fn run_continuous(
    opts: &CheckOptions,
    continuous: &ContinuousOptions,
    out: &mut dyn std::io::Write,
) -> Result<(), HeadlessError> {
    if opts.formulas.is_empty() {
        return Err(HeadlessError::Invalid(
            "no formula to check: give at least one --formula".to_string(),
        ));
    }
    if let Some(k) = continuous.predict_steps
        && !(1..=MAX_HORIZON_STEPS).contains(&k)
    {
        return Err(HeadlessError::Invalid(format!(
            "--predict {k}: the horizon must be between 1 and {MAX_HORIZON_STEPS} steps"
        )));
    }
    let started = Instant::now();
    let automata = compile_all(&opts.formulas)?;
    let compile_ms = started.elapsed().as_secs_f64() * 1e3;
    let on_verdict = continuous.on_verdict.unwrap_or_default();
    let mut monitors: Vec<ContinuousMonitor> = automata
        .iter()
        .cloned()
        .map(|a| ContinuousMonitor::new(a, on_verdict, None))
        .collect();
    let mut forecasters: Vec<ViolationForecaster> = match continuous.predict_steps {
        Some(k) => monitors
            .iter()
            .map(|_| ViolationForecaster::new(k))
            .collect(),
        None => Vec::new(),
    };
    let mut predictions: Vec<Vec<Option<f64>>> = vec![Vec::new(); forecasters.len()];

    let steps = read_trace(&opts.trace, |state| {
        if forecasters.is_empty() {
            for monitor in &mut monitors {
                monitor.step(state);
            }
            return;
        }
        for ((monitor, forecaster), predicted) in monitors
            .iter_mut()
            .zip(&mut forecasters)
            .zip(&mut predictions)
        {
            let (_, bits) = monitor.step_reporting_valuation(state);
            forecaster.observe(state, bits);
            predicted.push(forecaster.probability(monitor));
        }
    })?;
    if steps == 0 {
        return Err(HeadlessError::Invalid(format!(
            "{}: the trace is empty; LTLf gives verdicts on non-empty traces only",
            opts.trace.display()
        )));
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;

    if opts.json {
        let results: Vec<Value> = monitors
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut object = continuous_result_json(m, opts.explain);
                if let Value::Object(map) = &mut object {
                    if continuous.on_verdict.is_some() || continuous.predict_steps.is_some() {
                        map.insert("on_verdict".into(), json!(on_verdict.name()));
                        map.insert("violations".into(), json!(m.violations().steps()));
                        map.insert("satisfactions".into(), json!(m.satisfactions().steps()));
                    }
                    if let (Some(k), Some(predicted)) =
                        (continuous.predict_steps, predictions.get(i))
                    {
                        map.insert("predict_steps".into(), json!(k));
                        map.insert("predictions".into(), json!(predicted));
                    }
                }
                object
            })
            .collect();
        let line = if let [single] = results.as_slice() {
            let mut object = single.clone();
            if let Value::Object(map) = &mut object {
                map.insert("steps".into(), json!(steps));
                map.insert("elapsed_ms".into(), json!(elapsed_ms));
                map.insert("compile_ms".into(), json!(compile_ms));
            }
            object
        } else {
            let all = monitors.iter().all(continuous_holds);
            json!({
                "verdict": all,
                "steps": steps,
                "elapsed_ms": elapsed_ms,
                "compile_ms": compile_ms,
                "results": results,
            })
        };
        writeln!(out, "{line}")?;
    } else {
        if opts.explain {
            for monitor in &monitors {
                write!(out, "{}", monitor.automaton())?;
                write_counts(out, monitor)?;
                writeln!(out)?;
            }
        }
        for monitor in &monitors {
            writeln!(out, "{}", continuous_holds(monitor))?;
        }
    }
    Ok(())
}

/// The verdict printed for a formula: the LTLf verdict on the whole trace with `stop`; with
/// `restart`, no run violated and the last run holds if the trace ends here.
fn continuous_holds(monitor: &ContinuousMonitor) -> bool {
    match monitor.on_verdict() {
        OnVerdict::Stop => holds(monitor.monitor()),
        OnVerdict::Restart => monitor.violations().count() == 0 && holds(monitor.monitor()),
    }
}

/// [`result_json`] of a continuous monitor: `verdict` as [`continuous_holds`], `decided_at`
/// in steps of the whole trace.
fn continuous_result_json(monitor: &ContinuousMonitor, explain: bool) -> Value {
    let mut object = result_json(monitor.monitor(), explain);
    if let Value::Object(map) = &mut object {
        map.insert("verdict".into(), json!(continuous_holds(monitor)));
        map.insert(
            "decided_at".into(),
            json!(monitor.verdict().and_then(|v| v.decided_at)),
        );
    }
    object
}

fn compile_all(formulas: &[String]) -> Result<Vec<Arc<Automaton>>, HeadlessError> {
    let several = formulas.len() > 1;
    formulas
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let which = if several {
                format!("formula {} ", i + 1)
            } else {
                "formula ".to_string()
            };
            let parsed = parse(text)
                .map_err(|e| HeadlessError::Invalid(format!("bad {which}{}", e.render())))?;
            let automaton = compile(&parsed)
                .map_err(|e| HeadlessError::Invalid(format!("{which}{text:?}: {e}")))?;
            Ok(Arc::new(automaton))
        })
        .collect()
}

fn holds(monitor: &Monitor) -> bool {
    monitor.verdict().is_some_and(|v| v.holds_if_ended)
}

/// One formula's result as the JSON object `--json` prints for it (without the run's `steps`
/// and timings): verdict, status, `decided_at`, per-atom counts and the monitor's size.
pub fn result_json(monitor: &Monitor, explain: bool) -> Value {
    let automaton = monitor.automaton();
    let verdict = monitor.verdict();
    let atoms: Vec<Value> = automaton
        .atoms()
        .atoms()
        .iter()
        .zip(monitor.atom_counts())
        .map(|(atom, counts)| {
            json!({
                "atom": atom.to_string(),
                "missing": counts.missing,
                "wrong_type": counts.wrong_type,
            })
        })
        .collect();
    let mut object = Map::new();
    object.insert("formula".into(), json!(automaton.formula().to_string()));
    object.insert("verdict".into(), json!(holds(monitor)));
    let status = verdict.map_or(MonitorStatus::Undecided, |v| v.status);
    object.insert("status".into(), json!(status.name()));
    object.insert(
        "decided_at".into(),
        json!(verdict.and_then(|v| v.decided_at)),
    );
    object.insert("atoms".into(), Value::Array(atoms));
    object.insert(
        "monitor".into(),
        json!({
            "states": automaton.state_count(),
            "decision_nodes": automaton.decision_count(),
        }),
    );
    if explain {
        object.insert("explain".into(), json!(automaton.to_string()));
    }
    Value::Object(object)
}

fn write_counts(
    out: &mut dyn std::io::Write,
    continuous: &ContinuousMonitor,
) -> std::io::Result<()> {
    let monitor = continuous.monitor();
    let atoms = monitor.automaton().atoms().atoms();
    for (i, (atom, counts)) in atoms.iter().zip(monitor.atom_counts()).enumerate() {
        if counts.missing > 0 || counts.wrong_type > 0 {
            writeln!(
                out,
                "  a{i} = {atom}: field missing at {} steps, mistyped at {} (counted false)",
                counts.missing, counts.wrong_type
            )?;
        }
    }
    if let Some(v) = continuous.verdict() {
        let decided = v
            .decided_at
            .map_or("not decided before the end".to_string(), |s| {
                format!("decided at step {s}")
            });
        writeln!(
            out,
            "  after {} steps: {}, {decided}",
            continuous.steps(),
            v.status
        )?;
    }
    Ok(())
}

/// Reads the trace line by line, handing each state to `visit`; returns the number of states.
fn read_trace(path: &Path, mut visit: impl FnMut(&State)) -> Result<u64, HeadlessError> {
    let io_err = |source| TextError::Io {
        path: path.to_path_buf(),
        source,
    };
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(BufReader::new(File::open(path).map_err(io_err)?))
    };
    let mut steps = 0u64;
    let mut buffer = Vec::new();
    let mut reader = reader;
    let mut line_number = 0u64;
    loop {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer).map_err(io_err)?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let parse_err = |message: String| TextError::Parse {
            path: path.to_path_buf(),
            line: line_number,
            message,
        };
        let line = std::str::from_utf8(&buffer)
            .map_err(|e| parse_err(format!("not UTF-8 text ({e})")))?
            .trim();
        if line.is_empty() {
            continue;
        }
        let state = state_from_json(line).map_err(parse_err)?;
        visit(&state);
        steps += 1;
    }
    Ok(steps)
}

/// One line of a trace as a state. Nested objects are flattened with dots; `null` and arrays
/// are left out.
pub fn state_from_json(line: &str) -> Result<State, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err(format!(
            "expected a JSON object (the state at this step), found {}",
            kind_of(&value)
        ));
    };
    let mut pairs = Vec::new();
    flatten("", object, &mut pairs);
    Ok(pairs.into_iter().collect())
}

fn flatten(prefix: &str, object: Map<String, Value>, state: &mut Vec<(String, FieldValue)>) {
    for (key, value) in object {
        let name = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Bool(b) => {
                state.push((name, FieldValue::Bool(b)));
            }
            Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    state.push((name, FieldValue::Number(x)));
                }
            }
            Value::String(s) => {
                state.push((name, FieldValue::Text(s)));
            }
            Value::Object(inner) => flatten(&name, inner, state),
            Value::Null | Value::Array(_) => {}
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_flatten_nested_objects() {
        let state = state_from_json(
            r#"{"p": true, "resp": {"code": 200, "ok": "yes"}, "tags": [1], "n": null}"#,
        )
        .unwrap();
        assert_eq!(state.get("p"), Some(&FieldValue::Bool(true)));
        assert_eq!(state.get("resp.code"), Some(&FieldValue::Number(200.0)));
        assert_eq!(state.get("resp.ok"), Some(&FieldValue::Text("yes".into())));
        assert_eq!(state.len(), 3);
        assert!(
            state_from_json("[1, 2]")
                .unwrap_err()
                .contains("found an array")
        );
        assert!(
            state_from_json("{\"p\": tru}")
                .unwrap_err()
                .starts_with("not valid JSON")
        );
    }
}
