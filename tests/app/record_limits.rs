//! A recording at its limits, through the real binary: a file-size limit (as a full disk)
//! keeps every complete record written before it and says how many; SIGTERM, SIGINT and
//! SIGHUP end a recording cleanly, with its index footer.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::binary::{self, BIN};

/// Records in the trace, as `replay --headless` reports them, and whether it ended cleanly.
fn recovered(dir: &Path, trace: &Path) -> (u64, String) {
    let (ok, report, stderr) = binary::replay_headless(dir, &[], trace);
    assert!(ok, "{stderr}");
    let line = report
        .lines()
        .find(|l| l.starts_with("recovery:"))
        .unwrap_or_else(|| panic!("no recovery line in:\n{report}"))
        .to_owned();
    let records = line
        .split(", ")
        .find_map(|part| part.strip_suffix(" records"))
        .and_then(|n| n.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record count in {line}"));
    (records, line)
}

fn csv(path: &Path, rows: usize) {
    let mut out = String::from("a,b\n");
    for i in 0..rows {
        let x = i as f64 * 0.01;
        out.push_str(&format!("{:.5},{:.5}\n", x.sin(), (1.3 * x).cos()));
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_file_size_limit_keeps_every_complete_record_and_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let trace = dir.path().join("t.mtr");
    csv(&input, 100_000);
    // `ulimit -f` is in blocks of 1024 bytes: the trace stops near 128 KiB, far short of the
    // ~3 MB the input makes.
    let script = format!(
        "ulimit -f 128; exec {BIN} record --input {} -o {}",
        input.display(),
        trace.display()
    );
    let (ok, _stdout, stderr) = binary::finish(
        std::process::Command::new("bash")
            .args(["-c", &script])
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path()),
    );
    assert!(
        !ok,
        "a recording that could not be completed fails: {stderr}"
    );
    assert!(stderr.contains("File too large"), "{stderr}");
    let kept: u64 = stderr
        .split("the trace keeps the ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of kept records in: {stderr}"));
    assert!(kept > 1000, "{kept}");
    let len = std::fs::metadata(&trace).unwrap().len();
    assert!(len <= 128 * 1024, "{len} bytes");
    // The file was cut back to its last complete frame: it reads to a clean end, with
    // exactly the records the message counted.
    let (records, line) = recovered(dir.path(), &trace);
    assert_eq!(records, kept, "{line}");
    assert!(line.contains("clean end"), "{line}");
}

/// `record --input -` from a pipe that stays open; the signal ends it.
fn record_until(signal: i32, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.mtr");
    let mut child = binary::command(dir.path())
        .args(["record", "--input", "-", "--format", "columns", "-o"])
        .arg(&trace)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..500 {
        writeln!(stdin, "{i} {}", i * 2).unwrap();
    }
    stdin.flush().unwrap();
    // Wait for the records to reach the trace (it is flushed every 100 ms).
    let start = Instant::now();
    while std::fs::metadata(&trace).map_or(0, |m| m.len()) < 500 * 10 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: a plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name}: {:?} {stderr}", out.status);
    drop(stdin);
    let bytes = std::fs::read(&trace).unwrap();
    assert_eq!(
        &bytes[bytes.len() - 8..],
        b"MIDINDEX",
        "{name}: the index footer is written"
    );
    // Two channels and the line events: 500 records each.
    let (records, line) = recovered(dir.path(), &trace);
    assert_eq!(records, 1500, "{name}: {line}");
    assert!(line.contains("clean end"), "{line}");
}

#[test]
fn sigterm_ends_a_recording_cleanly() {
    record_until(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sighup_and_sigint_end_a_recording_cleanly() {
    record_until(libc::SIGHUP, "SIGHUP");
    record_until(libc::SIGINT, "SIGINT");
}
