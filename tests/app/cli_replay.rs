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

/// `replay --headless` runs every analysis round that falls due, so its output (decisions,
/// learnt patterns, matches, rounds) depends on the trace only: a run while two threads keep
/// both cores busy prints exactly what an unloaded run prints. Each decision is one line of
/// the contract, and `--all-matches` prints every match (at least the default's).
#[test]
fn replay_headless_is_deterministic_under_load_and_prints_decisions_and_learnt_patterns() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let config = tempfile::tempdir().unwrap();
    let trace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample.midtrace");
    let (ok, quiet, stderr) = replay_headless(config.path(), &[], &trace);
    assert!(ok, "{stderr}");
    let stop = Arc::new(AtomicBool::new(false));
    let burners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                x
            })
        })
        .collect();
    let (ok, loaded, stderr) = replay_headless(config.path(), &[], &trace);
    stop.store(true, Ordering::Relaxed);
    for b in burners {
        b.join().unwrap();
    }
    assert!(ok, "{stderr}");
    assert_eq!(quiet, loaded, "the output differs under load");

    let decisions: Vec<&str> = quiet
        .lines()
        .filter(|l| l.starts_with("decision "))
        .collect();
    assert!(!decisions.is_empty(), "{quiet}");
    // decision CHANNEL @SAMPLE level N: WHAT FROM -> TO (WHY)
    for line in &decisions {
        let rest = line.strip_prefix("decision ").unwrap();
        let (channel, rest) = rest.split_once(" @").expect(line);
        let (sample, rest) = rest.split_once(" level ").expect(line);
        let (level, rest) = rest.split_once(": ").expect(line);
        assert!(!channel.is_empty(), "{line}");
        assert!(sample.parse::<u64>().is_ok(), "{line}");
        assert!(matches!(level, "1" | "2" | "3"), "{line}");
        assert!(
            rest.contains(" -> ") && rest.ends_with(')') && rest.contains(" ("),
            "{line}"
        );
    }
    // The sine gets its parameters (τ from its mutual information) and its class.
    assert!(
        decisions
            .iter()
            .any(|l| l.starts_with("decision sine @")
                && l.contains("level 2: class unknown -> linear")),
        "{quiet}"
    );
    // learnt pattern NAME from CHANNEL samples A..B threshold T
    for line in quiet.lines().filter(|l| l.starts_with("learnt pattern ")) {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words.len(), 9, "{line}");
        assert_eq!(
            (words[3], words[5], words[7]),
            ("from", "samples", "threshold"),
            "{line}"
        );
        assert!(words[2].starts_with(&format!("{}@", words[4])), "{line}");
        let (a, b) = words[6].split_once("..").expect(line);
        assert!(
            a.parse::<u64>().unwrap() < b.parse::<u64>().unwrap(),
            "{line}"
        );
        assert!(words[8].parse::<f64>().unwrap() > 0.0, "{line}");
    }
    let (ok, all, stderr) = replay_headless(config.path(), &["--all-matches"], &trace);
    assert!(ok, "{stderr}");
    let count = |s: &str| s.lines().filter(|l| l.starts_with("pattern ")).count();
    assert!(count(&quiet) <= 64, "{quiet}");
    assert!(count(&all) >= count(&quiet), "{all}");
    // Every match the default prints is among all of them.
    for line in quiet.lines().filter(|l| l.starts_with("pattern ")) {
        assert!(all.lines().any(|l| l == line), "{line}");
    }
}
