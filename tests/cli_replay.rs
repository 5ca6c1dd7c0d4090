//! `midstream-tui replay --headless`: per-channel counts, gaps, and how reading ended.

#![cfg(feature = "app")]

use std::process::Command;

use midstream::model::{Catalog, ChannelInfo, ChannelKind, Record, Value};
use midstream::trace::{TraceHeader, TraceWriter, WriterOptions};

fn write_trace(path: &std::path::Path) -> u64 {
    let header = TraceHeader {
        version: midstream::trace::FORMAT_VERSION,
        started_unix_ns: 0,
        source: "unit".into(),
        catalog: Catalog {
            source: "unit".into(),
            channels: vec![
                ChannelInfo {
                    id: 0,
                    name: "alpha".into(),
                    kind: ChannelKind::Scalar,
                    unit: None,
                    period_s: None,
                },
                ChannelInfo {
                    id: 1,
                    name: "beta".into(),
                    kind: ChannelKind::Text,
                    unit: None,
                    period_s: None,
                },
            ],
        },
    };
    let mut w = TraceWriter::create(path, &header, WriterOptions::default()).unwrap();
    // alpha: seq 0..100 with 10..15 missing (5 lost); beta: 0..20.
    for seq in (0..100u64).filter(|s| !(10..15).contains(s)) {
        w.append(&Record {
            channel: 0,
            seq,
            t_ns: seq * 1000,
            value: Value::Scalar(seq as f64),
        })
        .unwrap();
    }
    for seq in 0..20u64 {
        w.append(&Record {
            channel: 1,
            seq,
            t_ns: seq * 5000,
            value: Value::Token("w".into()),
        })
        .unwrap();
    }
    w.finish().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn replay(path: &std::path::Path) -> (bool, String, String) {
    replay_with_config_home(path, path.parent().unwrap())
}

/// `replay --headless path` with `config_home` as the user's configuration directory.
fn replay_with_config_home(
    path: &std::path::Path,
    config_home: &std::path::Path,
) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_midstream-tui"))
        .args(["replay", "--headless"])
        .arg(path)
        // No user configuration: only the built-in analysis runs.
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("MIDSTREAM_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn row<'a>(stdout: &'a str, name: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{stdout}"))
        .split_whitespace()
        .collect()
}

#[test]
fn clean_trace_reports_counts_and_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.mtr");
    write_trace(&path);
    let (ok, stdout, stderr) = replay(&path);
    assert!(ok, "{stderr}");
    assert_eq!(row(&stdout, "alpha"), ["alpha", "scalar", "95", "5"]);
    assert_eq!(row(&stdout, "beta"), ["beta", "text", "20", "0"]);
    assert!(
        stdout.contains("recovery: clean end, 115 records"),
        "{stdout}"
    );
}

#[test]
fn cut_trace_replays_what_came_before_and_says_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.mtr");
    let len = write_trace(&path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..(len - 3) as usize]).unwrap();
    let (ok, stdout, stderr) = replay(&path);
    assert!(ok, "{stderr}");
    assert_eq!(row(&stdout, "beta"), ["beta", "text", "19", "0"]);
    assert!(stdout.contains("recovery: truncated at byte"), "{stdout}");
    assert!(stdout.contains("recovered 114 records"), "{stdout}");
}

#[test]
fn a_file_that_is_not_a_trace_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello").unwrap();
    let (ok, _, stderr) = replay(&path);
    assert!(!ok);
    assert!(
        stderr.contains("notes.txt") && stderr.contains("not a Midstream trace"),
        "{stderr}"
    );
}

/// The sample trace in `assets/` (12 s of `serve` with every generator at 100 records/s):
/// it reads to a clean end, and the engines find in it what the generators are known to be.
#[test]
fn the_sample_trace_replays_and_its_channels_are_what_their_generators_are() {
    let config = tempfile::tempdir().unwrap();
    let trace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample.midtrace");
    let (ok, stdout, stderr) = replay_with_config_home(&trace, config.path());
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("recovery: clean end, 13189 records"),
        "{stdout}"
    );
    assert_eq!(
        row(&stdout, "lorenz.x"),
        ["lorenz.x", "scalar", "1199", "0"]
    );
    let meta = |name: &str| {
        let prefix = format!("meta on {name}: ");
        stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no meta line for {name} in:\n{stdout}"))
            .to_owned()
    };
    // Chaotic flows and maps are nonlinear; the sine and the noise are not.
    for name in ["lorenz.x", "rossler.x", "henon.x", "logistic"] {
        assert!(meta(name).ends_with("nonlinear yes"), "{}", meta(name));
    }
    for name in ["sine", "noise"] {
        assert!(meta(name).ends_with("nonlinear no"), "{}", meta(name));
    }
    // The sine's period (50 samples) is its motif window.
    assert!(
        meta("sine").contains("window 50 (period 50)"),
        "{}",
        meta("sine")
    );
}
