//! `midstream-tui motifs` end to end through the real binary: DESIGN.md's contract (plain lines,
//! or one JSON object with `motifs: [{a, b, distance}]` and `discords: [{index, distance}]`),
//! stdin as `-`, the default `--top`, and clear errors for bad input. The expected pairs are
//! the fixtures' references (scripts/make_meta_fixtures.py).
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::binary::BIN;
use crate::common::fixtures;

/// Distances printed by the binary against the brute-force references: the engine agrees with
/// them to 1e-9 relative (meta_fixtures.rs), and JSON carries full precision.
const DISTANCE_RTOL: f64 = 1e-9;

fn fixture(name: &str) -> PathBuf {
    fixtures::path(&format!("meta/{name}"))
}

fn motifs(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .arg("motifs")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run midstream-tui");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn reference(file: &str, window: u64) -> Value {
    fixtures::json("meta/references.json")["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["file"] == file && c["window"] == window)
        .expect("case")
        .clone()
}

#[test]
fn json_output_is_the_reference_motifs_and_discords() {
    let case = reference("planted_motif_2000.txt", 64);
    assert_eq!(case["motifs_unambiguous"], true);
    let path = fixture("planted_motif_2000.txt");
    let out = stdout(&motifs(
        &["--window", "64", "--json", path.to_str().expect("path")],
        None,
    ));
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["window"], 64);
    assert_eq!(v["n"], 2000);
    assert_eq!(v["exclusion"], 16);
    assert!(v["elapsed_ms"].as_f64().is_some());
    let got = v["motifs"].as_array().expect("motifs");
    let want = case["motifs"].as_array().expect("motifs");
    assert_eq!(got.len(), 3, "default --top is 3");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((&g["a"], &g["b"]), (&w["a"], &w["b"]), "{g} vs {w}");
        let (gd, wd) = (g["distance"].as_f64(), w["distance"].as_f64());
        assert!(
            matches!((gd, wd), (Some(g), Some(w)) if (g - w).abs() <= DISTANCE_RTOL * w),
            "{gd:?} vs {wd:?}"
        );
    }
    let got = v["discords"].as_array().expect("discords");
    let want = case["discords"].as_array().expect("discords");
    assert_eq!(got.len(), 3);
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["index"], w["index"]);
        let (gd, wd) = (g["distance"].as_f64(), w["distance"].as_f64());
        assert!(
            matches!((gd, wd), (Some(g), Some(w)) if (g - w).abs() <= DISTANCE_RTOL * w),
            "{gd:?} vs {wd:?}"
        );
    }
}

#[test]
fn plain_output_reads_stdin_and_prints_one_line_per_result() {
    let case = reference("random_walk_1000.txt", 20);
    assert_eq!(case["motifs_unambiguous"], true);
    let series = std::fs::read(fixture("random_walk_1000.txt")).expect("series");
    let out = stdout(&motifs(
        &["--window", "20", "--top", "2", "-"],
        Some(&series),
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (k, line) in lines[..2].iter().enumerate() {
        let m = &case["motifs"][k];
        let expected = format!(
            "motif {}: {} and {}, distance {:.6}",
            k + 1,
            m["a"],
            m["b"],
            m["distance"].as_f64().expect("distance")
        );
        assert_eq!(*line, expected);
    }
    for (k, line) in lines[2..].iter().enumerate() {
        let d = &case["discords"][k];
        let expected = format!(
            "discord {}: {}, distance {:.6}",
            k + 1,
            d["index"],
            d["distance"].as_f64().expect("distance")
        );
        assert_eq!(*line, expected);
    }
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let path = fixture("random_walk_120.txt");
    let path = path.to_str().expect("path");
    let fails = |args: &[&str], stdin: Option<&[u8]>| {
        let output = motifs(args, stdin);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(output.stdout.is_empty());
        String::from_utf8(output.stderr).expect("utf-8")
    };
    let err = fails(&["--window", "2", path], None);
    assert!(err.contains("window 2 is too small"), "{err}");
    let err = fails(&["--window", "80", path], None);
    assert!(
        err.contains("window 80 is too large for 120 samples")
            && err.contains("the largest window for 120 samples is 79"),
        "{err}"
    );
    let err = fails(&["--window", "5", "-"], Some(b"1\n2\n3\nbanana\n5\n"));
    assert!(err.contains("-:4: not a number: \"banana\""), "{err}");
    let err = fails(&["--window", "5", "--top", "0", path], None);
    assert!(err.contains("--top"), "{err}");
    let err = fails(&[path], None);
    assert!(err.contains("--window"), "{err}");
}
