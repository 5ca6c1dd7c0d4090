//! `midstream-tui replay --headless`: per-channel counts, gaps, and how reading ended.

use midstream::model::{ChannelKind, Record, Value};
use midstream::trace::{TraceWriter, WriterOptions};

use crate::common::binary::replay_headless;
use crate::common::catalog::{catalog, channel, trace_header};

fn write_trace(path: &std::path::Path) -> u64 {
    let header = trace_header(catalog(
        "unit",
        vec![
            channel(0, "alpha", ChannelKind::Scalar),
            channel(1, "beta", ChannelKind::Text),
        ],
    ));
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
    replay_headless(path.parent().unwrap(), &[], path)
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
    let len = write_trace(&path) as usize;
    let bytes = std::fs::read(&path).unwrap();
    // The footer's trailer: the index frame's offset, then "MIDINDEX". Cut the last record.
    assert_eq!(&bytes[len - 8..], b"MIDINDEX");
    let index_at = u64::from_le_bytes(bytes[len - 16..len - 8].try_into().unwrap()) as usize;
    std::fs::write(&path, &bytes[..index_at - 3]).unwrap();
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
    let (ok, stdout, stderr) = replay_headless(config.path(), &[], &trace);
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
