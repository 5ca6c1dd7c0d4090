//! The `check` command's contract: plain and JSON output, several formulas, and its errors.

use std::io::Write;
use std::path::PathBuf;

use midstream::engines::ltl::OnVerdict;
use midstream::headless::HeadlessError;
use midstream::headless::check::{CheckOptions, ContinuousOptions, run, run_continuous};
use midstream::sources::text::TextError;
use serde_json::Value;

use crate::common::fixtures;

fn trace_file(lines: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(lines.as_bytes()).unwrap();
    file
}

fn check(
    formulas: &[&str],
    json: bool,
    explain: bool,
    trace: PathBuf,
) -> Result<String, HeadlessError> {
    let opts = CheckOptions {
        formulas: formulas.iter().map(|f| f.to_string()).collect(),
        json,
        explain,
        trace,
    };
    let mut out = Vec::new();
    run(&opts, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

const RESPONSE_TRACE: &str = r#"{"error": false, "recovery": false, "latency": 12.5}
{"error": true, "recovery": false, "latency": 70}

{"error": false, "recovery": true, "latency": 30, "status": "ok"}
{"error": false, "recovery": false, "latency": 20}
"#;

#[test]
fn plain_output_is_one_verdict_per_formula() {
    let file = trace_file(RESPONSE_TRACE);
    let path = file.path().to_path_buf();
    assert_eq!(
        check(&["G(error -> F recovery)"], false, false, path.clone()).unwrap(),
        "true\n"
    );
    assert_eq!(
        check(&["G(latency < 50)"], false, false, path.clone()).unwrap(),
        "false\n"
    );
    assert_eq!(
        check(
            &[
                "G(error -> F recovery)",
                "F status == \"ok\"",
                "X X X X true"
            ],
            false,
            false,
            path
        )
        .unwrap(),
        "true\ntrue\nfalse\n"
    );
}

#[test]
fn json_output_has_the_documented_keys() {
    let file = trace_file(RESPONSE_TRACE);
    let path = file.path().to_path_buf();
    let out = check(&["G(latency < 50)"], true, false, path.clone()).unwrap();
    assert_eq!(out.lines().count(), 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], false);
    assert_eq!(v["status"], "violated");
    assert_eq!(v["decided_at"], 1);
    assert_eq!(v["steps"], 4);
    assert!(v["elapsed_ms"].as_f64().unwrap() >= 0.0);

    // Holds on this trace, but only because it ends here.
    let v: Value = serde_json::from_str(
        &check(&["G(error -> F recovery)"], true, false, path.clone()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (v["verdict"].clone(), v["status"].clone()),
        (Value::Bool(true), "undecided".into())
    );
    assert_eq!(v["decided_at"], Value::Null);

    // `status` is missing at three steps of four.
    let v: Value =
        serde_json::from_str(&check(&["F status == \"ok\""], true, false, path.clone()).unwrap())
            .unwrap();
    assert_eq!(v["status"], "satisfied");
    assert_eq!(v["decided_at"], 2);
    assert_eq!(v["atoms"][0]["missing"], 3);

    let out = check(&["G(latency < 50)", "F recovery"], true, true, path).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], false);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["verdict"], true);
    assert_eq!(results[1]["status"], "satisfied");
    assert_eq!(results[1]["decided_at"], 2);
    assert!(
        results[0]["explain"]
            .as_str()
            .unwrap()
            .contains("monitor for G(latency < 50)")
    );
}

#[test]
fn explain_prints_the_monitor_before_the_verdict() {
    let file = trace_file(RESPONSE_TRACE);
    let out = check(
        &["G(error -> F recovery)"],
        false,
        true,
        file.path().to_path_buf(),
    )
    .unwrap();
    assert!(out.contains("a0 = error"), "{out}");
    assert!(out.contains("s1 [open]"), "{out}");
    assert!(out.ends_with("\ntrue\n"), "{out}");
}

#[test]
fn a_bad_formula_shows_where() {
    let file = trace_file(RESPONSE_TRACE);
    let err = check(&["G(error -> )"], false, false, file.path().to_path_buf()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("column 12"), "{text}");
    assert!(text.ends_with("  G(error -> )\n             ^"), "{text}");
    let err = check(&["p", "p U"], false, false, file.path().to_path_buf()).unwrap_err();
    assert!(err.to_string().starts_with("bad formula 2 "), "{err}");
}

#[test]
fn a_bad_line_names_the_file_and_line() {
    let file = trace_file("{\"p\": true}\n{\"p\": tru}\n");
    let err = check(&["G p"], false, false, file.path().to_path_buf()).unwrap_err();
    match &err {
        HeadlessError::Text(TextError::Parse {
            path,
            line,
            message,
        }) => {
            assert_eq!(path, file.path());
            assert_eq!(*line, 2);
            assert!(message.contains("not valid JSON"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("{}:2:", file.path().display()))
    );
    let file = trace_file("{\"p\": true}\n[1]\n");
    let err = check(&["G p"], false, false, file.path().to_path_buf()).unwrap_err();
    assert!(
        err.to_string().contains(":2: expected a JSON object"),
        "{err}"
    );
}

#[test]
fn an_empty_trace_is_an_error() {
    let file = trace_file("\n\n");
    let err = check(&["G p"], false, false, file.path().to_path_buf()).unwrap_err();
    assert!(err.to_string().contains("the trace is empty"), "{err}");
    let err = check(
        &["G p"],
        false,
        false,
        PathBuf::from("/nonexistent/trace.jsonl"),
    )
    .unwrap_err();
    assert!(
        matches!(err, HeadlessError::Text(TextError::Io { .. })),
        "{err:?}"
    );
}

fn check_continuous(
    formulas: &[&str],
    continuous: ContinuousOptions,
    trace: PathBuf,
) -> Result<Value, HeadlessError> {
    let opts = CheckOptions {
        formulas: formulas.iter().map(|f| f.to_string()).collect(),
        json: true,
        explain: false,
        trace,
    };
    let mut out = Vec::new();
    run_continuous(&opts, &continuous, &mut out)?;
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    Ok(serde_json::from_str(&text).unwrap())
}

const RESTART: ContinuousOptions = ContinuousOptions {
    on_verdict: Some(OnVerdict::Restart),
    predict_steps: None,
};

#[test]
fn restart_counts_every_violation_and_satisfaction_with_its_step() {
    let file =
        trace_file("{\"x\": 1}\n{\"x\": 9}\n{\"x\": 2}\n\n{\"x\": 8}\n{\"x\": 7}\n{\"x\": 1}\n");
    let path = file.path().to_path_buf();
    let out = check_continuous(&["G(x < 5)"], RESTART, path.clone()).unwrap();
    // Steps count records, blank lines skipped: x = 1, 9, 2, 8, 7, 1 at steps 0..5.
    assert_eq!(out["violations"], serde_json::json!([1, 3, 4]));
    assert_eq!(out["satisfactions"], serde_json::json!([]));
    assert_eq!(out["on_verdict"], "restart");
    assert_eq!(out["verdict"], false);
    assert_eq!(out["steps"], 6);
    assert!(
        out.get("predictions").is_none(),
        "no --predict, no predictions"
    );
    let out = check_continuous(&["F(x > 5)"], RESTART, path.clone()).unwrap();
    assert_eq!(out["satisfactions"], serde_json::json!([1, 3, 4]));
    // --on-verdict stop: one verdict at most, the same as `check` without the flag.
    let stop = ContinuousOptions {
        on_verdict: Some(OnVerdict::Stop),
        predict_steps: None,
    };
    let out = check_continuous(&["G(x < 5)"], stop, path.clone()).unwrap();
    assert_eq!(out["violations"], serde_json::json!([1]));
    assert_eq!(out["decided_at"], 1);
    let plain = check_continuous(&["G(x < 5)"], ContinuousOptions::default(), path).unwrap();
    assert!(
        plain.get("violations").is_none(),
        "output without the flags is unchanged"
    );
    assert_eq!(plain["decided_at"], 1);
}

/// `scripts/make_ltl_predict_fixtures.py` computes the violations and the K-step forecasts
/// with a hand-coded monitor and its own recursion over the documented model.
#[test]
fn predictions_match_an_independent_computation() {
    let expected = fixtures::json("ltl/predict_expected.json");
    let horizon = expected["horizon"].as_u64().unwrap() as usize;
    let out = check_continuous(
        &[expected["formula"].as_str().unwrap()],
        ContinuousOptions {
            on_verdict: Some(OnVerdict::Restart),
            predict_steps: Some(horizon),
        },
        fixtures::path("ltl/predict_trace.jsonl"),
    )
    .unwrap();
    assert_eq!(out["violations"], expected["violations"]);
    assert_eq!(out["predict_steps"], horizon);
    let ours = out["predictions"].as_array().unwrap();
    let theirs = expected["predictions"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours.len() as u64, out["steps"].as_u64().unwrap());
    for (step, (a, b)) in ours.iter().zip(theirs).enumerate() {
        match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "step {step}: {a} vs {b}"),
            (None, None) => {}
            _ => panic!("step {step}: {a} vs {b}"),
        }
    }
    assert!(ours[0].is_null(), "null until the model has data");
}

#[test]
fn several_formulas_put_the_continuous_keys_in_each_result() {
    let file = trace_file("{\"x\": 1}\n{\"x\": 9}\n{\"x\": 2}\n");
    let out = check_continuous(
        &["G(x < 5)", "F(x > 5)"],
        ContinuousOptions {
            on_verdict: Some(OnVerdict::Restart),
            predict_steps: Some(2),
        },
        file.path().to_path_buf(),
    )
    .unwrap();
    assert_eq!(out["steps"], 3);
    let results = out["results"].as_array().unwrap();
    assert_eq!(results[0]["violations"], serde_json::json!([1]));
    assert_eq!(results[1]["satisfactions"], serde_json::json!([1]));
    for result in results {
        assert_eq!(result["predictions"].as_array().unwrap().len(), 3);
    }
    let err = check_continuous(
        &["G(x < 5)"],
        ContinuousOptions {
            on_verdict: None,
            predict_steps: Some(0),
        },
        file.path().to_path_buf(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--predict 0"), "{err}");
}
