//! The configuration file on the command line: its formulas and patterns reach the engines
//! (seen through `replay --headless`), patterns saved in its pattern directory are loaded, and
//! a broken file is an error naming the file and the place.

use midstream::model::{ChannelKind, FieldValue, Fields, Record, Value};
use midstream::trace::{TraceWriter, WriterOptions};
use std::path::Path;

use crate::common::binary::replay_headless;
use crate::common::catalog::{catalog, channel, trace_header};

/// The saw the test plants and configures.
const SAW: [f64; 12] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
/// Where it is planted in the `wave` channel.
const PLANTED: [u64; 2] = [300, 700];

/// A trace with a quiet `wave` channel holding two saws, and a `jobs` event channel whose
/// `latency` climbs past 90 at step 45.
fn write_trace(path: &Path) {
    let catalog = catalog(
        "unit",
        vec![
            channel(0, "wave", ChannelKind::Scalar),
            channel(
                1,
                "jobs",
                ChannelKind::Event {
                    fields: vec!["latency".into()],
                },
            ),
        ],
    );
    let header = trace_header(catalog);
    let mut w = TraceWriter::create(path, &header, WriterOptions::default()).unwrap();
    for seq in 0..1000u64 {
        let mut x = (seq as f64 * 0.01).sin() * 0.05;
        for at in PLANTED {
            if (at..at + SAW.len() as u64).contains(&seq) {
                x += SAW[(seq - at) as usize] * 2.0;
            }
        }
        w.append(&Record {
            channel: 0,
            seq,
            t_ns: seq * 1000,
            value: Value::Scalar(x),
        })
        .unwrap();
    }
    for seq in 0..60u64 {
        w.append(&Record {
            channel: 1,
            seq,
            t_ns: seq * 10_000,
            value: Value::Fields(Fields::from([(
                "latency".to_string(),
                FieldValue::Number(seq as f64 * 2.0),
            )])),
        })
        .unwrap();
    }
    w.finish().unwrap();
}

fn saw_matches(stdout: &str, pattern: &str) -> Vec<u64> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("pattern {pattern} on wave: samples ")))
        .map(|rest| rest.split("..").next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn formulas_and_patterns_of_the_config_reach_the_engines() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.mtr");
    write_trace(&trace);
    let config = dir.path().join("my.toml");
    let values: Vec<String> = SAW.iter().map(|v| v.to_string()).collect();
    std::fs::write(
        &config,
        format!(
            "formulas = [\"G(latency < 90)\"]\n[[pattern]]\nname = \"saw\"\nvalues = [{}]\n",
            values.join(", ")
        ),
    )
    .unwrap();

    let (ok, stdout, stderr) =
        replay_headless(dir.path(), &["--config", config.to_str().unwrap()], &trace);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("formula G(latency < 90) on jobs: false (violated, decided at step 45"),
        "{stdout}"
    );
    let found = saw_matches(&stdout, "saw");
    assert_eq!(found.len(), PLANTED.len(), "{stdout}");
    // The band (10% of 12 samples: 1) bounds how far a reported window can be off.
    for (at, planted) in found.iter().zip(PLANTED) {
        assert!(
            at.abs_diff(planted) <= 1,
            "found {at}, planted {planted}\n{stdout}"
        );
    }

    // Without the config (and with no user config), neither is there.
    let (ok, stdout, stderr) = replay_headless(dir.path(), &[], &trace);
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("formula G(latency < 90)"), "{stdout}");
    assert!(saw_matches(&stdout, "saw").is_empty(), "{stdout}");
}

#[test]
fn the_user_config_and_its_saved_patterns_are_found_without_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.mtr");
    write_trace(&trace);
    // A pattern saved by the `a` key lives in <config dir>/midstream/patterns/.
    let saved = dir.path().join("midstream").join("patterns");
    std::fs::create_dir_all(&saved).unwrap();
    let lines: Vec<String> = SAW.iter().map(|v| v.to_string()).collect();
    std::fs::write(saved.join("wave-300.txt"), lines.join("\n")).unwrap();
    std::fs::write(
        dir.path().join("midstream").join("config.toml"),
        "formulas = [\"F(latency > 100)\"]\n",
    )
    .unwrap();

    let (ok, stdout, stderr) = replay_headless(dir.path(), &[], &trace);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("formula F(latency > 100) on jobs: true (satisfied, decided at step 51"),
        "{stdout}"
    );
    assert_eq!(
        saw_matches(&stdout, "wave-300").len(),
        PLANTED.len(),
        "{stdout}"
    );
}

#[test]
fn a_broken_config_is_an_error_naming_the_file_and_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.mtr");
    write_trace(&trace);
    let config = dir.path().join("broken.toml");
    std::fs::write(&config, "capture_samples = 64\nformulas = [\"G(p)\"\n").unwrap();
    let (ok, stdout, stderr) =
        replay_headless(dir.path(), &["--config", config.to_str().unwrap()], &trace);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("broken.toml: line 2"), "{stderr}");

    std::fs::write(&config, "formulas = [\"G(latency <)\"]\n").unwrap();
    let (ok, _, stderr) =
        replay_headless(dir.path(), &["--config", config.to_str().unwrap()], &trace);
    assert!(!ok);
    assert!(stderr.contains("G(latency <)"), "{stderr}");

    let (ok, _, stderr) = replay_headless(dir.path(), &["--config", "/nonexistent/m.toml"], &trace);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/m.toml"), "{stderr}");
}
