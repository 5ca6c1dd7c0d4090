//! `midstream-tui bench` as a user runs it: the `--json` contract, `--check`'s exit status
//! with a budgets file that must fail, baselines, and `--report`. Measurements are a few
//! milliseconds (`--measure-ms`, hidden) and only two benchmarks of the `ltl` suite: these
//! tests check what the command says, never how fast anything is.

use std::path::Path;

use serde_json::Value;

use crate::common::binary::{command, finish};

/// Two budgets of the `ltl` suite: a quick run measures exactly these.
const BUDGETS: &str = r#"
ci_margin = 3.0

[[budget]]
bench = "parse/complex_200_chars"
max_ns = 1e12
goal = "parse, generous"

[[budget]]
bench = "compile/complex_200_chars"
max_ns = 1e12
goal = "compile, generous"
"#;

/// The same benchmarks, one with a budget nothing can meet.
const IMPOSSIBLE: &str = r#"
[[budget]]
bench = "parse/complex_200_chars"
max_ns = 0.001
goal = "parse in a picosecond"

[[budget]]
bench = "compile/complex_200_chars"
max_ns = 1e12
goal = "compile, generous"
"#;

fn bench(home: &Path, results: &Path, budgets: &Path, extra: &[&str]) -> (bool, String, String) {
    finish(
        command(home)
            .args(["bench", "--quick", "--suite", "ltl", "--measure-ms", "5"])
            .arg("--results-dir")
            .arg(results)
            .arg("--budgets")
            .arg(budgets)
            .args(extra),
    )
}

fn results_of(stdout: &str) -> Vec<Value> {
    let run: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}"));
    run["results"].as_array().expect("a results list").clone()
}

#[test]
fn json_baselines_check_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let (home, results, report) = (
        dir.path().join("home"),
        dir.path().join("results"),
        dir.path().join("report"),
    );
    std::fs::create_dir_all(&home).unwrap();
    let budgets = dir.path().join("budgets.toml");
    std::fs::write(&budgets, BUDGETS).unwrap();

    // 1. One JSON object on stdout, a result per budgeted benchmark, progress on stderr.
    let (ok, stdout, stderr) = bench(
        &home,
        &results,
        &budgets,
        &[
            "--json",
            "--save-baseline",
            "before",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("2 benchmarks measured"), "{stderr}");
    assert!(stderr.contains("compile/complex_200_chars"), "{stderr}");
    let list = results_of(&stdout);
    let ids: Vec<&str> = list.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["parse/complex_200_chars", "compile/complex_200_chars"]
    );
    for r in &list {
        let median = r["median_ns"].as_f64().unwrap();
        let low = r["interval"]["low_ns"].as_f64().unwrap();
        let high = r["interval"]["high_ns"].as_f64().unwrap();
        assert!(median > 0.0 && low <= high, "{r}");
        assert_eq!(r["interval"]["confidence"], 0.95);
        assert_eq!(r["suite"], "ltl");
        assert!(r["budget"]["max_ns"].as_f64().is_some(), "{r}");
        assert_eq!(r["met"], true, "{r}");
        assert!(r["baseline"].is_null());
    }
    // Where the pane reads them, and criterion's own files.
    let latest: Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("latest.json")).unwrap())
            .unwrap();
    assert_eq!(latest["finished"], true);
    assert!(results.join("baselines/before.json").exists());
    assert!(results.join("criterion").is_dir());
    // The report: a chart per suite in both formats, and the table.
    let png = std::fs::read(report.join("ltl.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(report.join("ltl.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("parse/complex_200_chars"));
    let summary = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(
        summary.contains("| ✓ | `compile/complex_200_chars` |"),
        "{summary}"
    );

    // 2. Against the baseline, with --check and a budget nothing can meet: each result has its
    // change and whether it is beyond noise, and the run fails naming the benchmark over its
    // budget, and only that one.
    let impossible = dir.path().join("impossible.toml");
    std::fs::write(&impossible, IMPOSSIBLE).unwrap();
    let (ok, stdout, stderr) = bench(
        &home,
        &results,
        &impossible,
        &["--json", "--baseline", "before", "--check"],
    );
    assert!(!ok, "--check must fail: {stdout}{stderr}");
    for r in results_of(&stdout) {
        assert_eq!(r["baseline"]["name"], "before", "{r}");
        assert!(r["baseline"]["change"].as_f64().unwrap().is_finite());
        assert!(r["baseline"]["beyond_noise"].is_boolean());
    }
    assert!(
        stderr.contains("FAILED parse/complex_200_chars: over budget"),
        "{stderr}"
    );
    assert!(!stderr.contains("FAILED compile"), "{stderr}");

    // 3. Mistakes are named.
    let (ok, _, stderr) = bench(&home, &results, &budgets, &["--baseline", "never-saved"]);
    assert!(
        !ok && stderr.contains("no baseline named \"never-saved\""),
        "{stderr}"
    );
    let (ok, _, stderr) = finish(
        command(&home)
            .args(["bench", "--suite", "nonsense"])
            .arg("--results-dir")
            .arg(&results),
    );
    assert!(
        !ok && stderr.contains("unknown suite \"nonsense\""),
        "{stderr}"
    );
}
