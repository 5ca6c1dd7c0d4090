//! `compare` end to end through files: the DESIGN.md contract (one number, or one JSON object
//! with `metric` and `value`) on the reference fixtures.

use std::path::Path;

use midstream::headless::compare::{CompareOptions, Metric, run};
use serde_json::Value;

use crate::common::fixtures;

/// Relative agreement with the reference DTW values (parsing the printed shortest
/// representation gives back the same f64; the reference may differ in the last bits).
const DTW_RTOL: f64 = 1e-12;

fn load(name: &str) -> Vec<Value> {
    fixtures::json(&format!("temporal/{name}"))["cases"]
        .as_array()
        .expect("cases")
        .clone()
}

fn run_compare(metric: Metric, window: Option<usize>, json: bool, a: &Path, b: &Path) -> String {
    let opts = CompareOptions {
        metric,
        window,
        json,
        a: a.to_path_buf(),
        b: b.to_path_buf(),
        column: None,
    };
    let mut out = Vec::new();
    run(&opts, &mut out).unwrap_or_else(|e| panic!("{metric}: {e}"));
    String::from_utf8(out).unwrap()
}

fn one_number(output: &str) -> f64 {
    assert!(
        output.ends_with('\n') && output.lines().count() == 1,
        "{output:?}"
    );
    output
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("{output:?}"))
}

#[test]
fn dtw_metrics_print_the_reference_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    let mut checked = 0;
    for case in load("dtw.json").iter().step_by(3) {
        let lines = |v: &Value| -> String {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| format!("{}\n", x.as_f64().unwrap()))
                .collect()
        };
        std::fs::write(&pa, lines(&case["a"])).unwrap();
        std::fs::write(&pb, lines(&case["b"])).unwrap();
        for result in case["results"].as_array().unwrap() {
            let window = result["window"].as_u64().map(|w| w as usize);
            for (metric, key) in [(Metric::Dtw, "dtw"), (Metric::DtwSq, "dtw_sq")] {
                let want = result[key].as_f64().unwrap();
                let got = one_number(&run_compare(metric, window, false, &pa, &pb));
                assert!(
                    (got - want).abs() <= DTW_RTOL * want.max(1.0),
                    "{metric} {window:?}: {got} vs {want}"
                );
                let json: Value =
                    serde_json::from_str(&run_compare(metric, window, true, &pa, &pb)).unwrap();
                assert_eq!(json["metric"], metric.name());
                // serde_json's default float parser may land one ulp away from the printed
                // shortest representation, so compare to that precision.
                let value = json["value"].as_f64().unwrap();
                assert!(
                    (value - got).abs() <= 4.0 * f64::EPSILON * got.abs(),
                    "{value} vs {got}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100);
}

#[test]
fn text_metrics_compare_unicode_scalar_values_ignoring_one_final_newline() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    for (k, case) in load("text.json").iter().enumerate() {
        let (a, b) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        // Alternate between files with and without the final newline: it must not count.
        let suffix = if k % 2 == 0 { "\n" } else { "" };
        std::fs::write(&pa, format!("{a}{suffix}")).unwrap();
        std::fs::write(&pb, b).unwrap();
        let lev = run_compare(Metric::Edit, None, false, &pa, &pb);
        assert_eq!(
            lev,
            format!("{}\n", case["levenshtein"]),
            "{a:?} vs {b:?} ({})",
            case["kind"]
        );
        let json: Value = serde_json::from_str(&run_compare(Metric::Lcs, None, true, &pa, &pb))
            .expect("one JSON object");
        assert_eq!(json["metric"], "lcs");
        assert_eq!(json["value"], case["lcs"], "{a:?} vs {b:?}");
    }
}
