//! The live path through the real binary: `serve` prints how to attach, `record` with the
//! printed pin writes a trace, `replay --headless` reads it back without gaps; a wrong pin
//! connects nothing and writes nothing; SIGTERM, SIGINT and SIGHUP close every connection with
//! the signal in the reason, and `record` gets back to a restarted source and counts the gap.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use midstream::transport::client::{ClientConfig, ClientHandle, TransportEvent, connect};
use midstream::transport::tls::{Fingerprint, Trust};

use crate::common::binary::{self, BIN, Served};

fn serve() -> Served {
    let here = std::env::current_dir().expect("the current directory");
    binary::serve(&here, &["--generator", "lorenz,events", "--rate", "400"])
}

#[test]
fn record_with_the_printed_pin_then_replay_without_gaps() {
    let served = serve();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("run.mtr");
    let out = Command::new(BIN)
        .args([
            "record",
            &served.addr,
            "--pin",
            &served.pin,
            "--duration",
            "1.5",
            "-o",
        ])
        .arg(&trace)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "record failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("recorded "), "{stdout}");
    let recorded: u64 = stdout.split_whitespace().nth(1).unwrap().parse().unwrap();
    // Three channels at 400 records/s for about 1.5 s.
    assert!(recorded > 300, "{stdout}");

    let out = Command::new(BIN)
        .args(["replay", "--headless"])
        .arg(&trace)
        // No user configuration: only the built-in analysis runs.
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("MIDSTREAM_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    let mut total = 0;
    for name in ["lorenz", "lorenz.x", "events"] {
        let row: Vec<&str> = report
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{report}"))
            .split_whitespace()
            .collect();
        let records: u64 = row[2].parse().unwrap();
        assert!(records > 100, "{report}");
        assert_eq!(row[3], "0", "no gaps on {name}:\n{report}");
        total += records;
    }
    assert_eq!(total, recorded, "{report}");
    assert!(report.contains("recovery: clean end"), "{report}");
}

#[test]
fn a_wrong_pin_connects_nothing_and_writes_nothing() {
    let served = serve();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("never.mtr");
    let wrong = "00".repeat(32);
    let out = Command::new(BIN)
        .args([
            "record",
            &served.addr,
            "--pin",
            &wrong,
            "--duration",
            "10",
            "-o",
        ])
        .arg(&trace)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&served.pin) && stderr.contains(&wrong),
        "names both fingerprints: {stderr}"
    );
    assert!(!trace.exists(), "no trace file for a refused connection");
}

/// How long a client may take to hear that the server closed: it is told at once, so this is
/// only the margin for a slow, shared machine (the idle timeout it replaces is 10 s).
const TOLD_WITHIN: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_closes_every_connection_with_the_signal_as_reason_and_exits_0() {
    for (signal, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGHUP, "SIGHUP"),
    ] {
        let mut served = serve();
        let fingerprint: Fingerprint = served.pin.parse().unwrap();
        let mut clients = Vec::new();
        for _ in 0..2 {
            let mut client = connect(ClientConfig::new(
                served.addr.clone(),
                Trust::Pin(fingerprint),
            ))
            .unwrap();
            loop {
                match next_event(&mut client).await {
                    TransportEvent::Connected { .. } => break,
                    TransportEvent::Rtt(_) => {}
                    other => panic!("{name}: expected Connected, got {other:?}"),
                }
            }
            clients.push(client);
        }
        served.signal(signal);
        let signalled = Instant::now();
        for client in &mut clients {
            let reason = loop {
                match next_event(client).await {
                    TransportEvent::Disconnected { reason } => break reason,
                    TransportEvent::Records(_) | TransportEvent::Rtt(_) => {}
                    other => panic!("{name}: expected Disconnected, got {other:?}"),
                }
            };
            assert_eq!(
                reason,
                format!("the server closed the connection: server shutting down ({name})")
            );
        }
        let told = signalled.elapsed();
        assert!(told < TOLD_WITHIN, "{name}: clients told after {told:?}");
        let status = served.wait_exit(Duration::from_secs(20));
        assert!(status.success(), "{name}: serve exited with {status}");
    }
}

/// `serve 2>&1 | tee log` stopped with Ctrl-C, where `tee` goes first: serve's stderr is then a
/// pipe without a reader. Its log lines are lost, but serve still serves, tells its client why
/// it closes and exits 0 (`eprintln!` panicked on the first line: serve died at its start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_its_stderr_gone_still_serves_closes_with_the_reason_and_exits_0() {
    let here = std::env::current_dir().expect("the current directory");
    let mut served =
        binary::serve_with_stderr_gone(&here, &["--generator", "lorenz", "--rate", "400"]);
    let fingerprint: Fingerprint = served.pin.parse().unwrap();
    let mut client = connect(ClientConfig::new(
        served.addr.clone(),
        Trust::Pin(fingerprint),
    ))
    .unwrap();
    let mut records = 0;
    while records < 100 {
        match next_event(&mut client).await {
            TransportEvent::Records(batch) => records += batch.len(),
            TransportEvent::Connected { .. } | TransportEvent::Rtt(_) => {}
            other => panic!("expected records, got {other:?}"),
        }
    }
    served.signal(libc::SIGINT);
    let reason = loop {
        match next_event(&mut client).await {
            TransportEvent::Disconnected { reason } => break reason,
            TransportEvent::Records(_) | TransportEvent::Rtt(_) => {}
            other => panic!("expected Disconnected, got {other:?}"),
        }
    };
    assert_eq!(
        reason,
        "the server closed the connection: server shutting down (SIGINT)"
    );
    let status = served.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "serve exited with {status}");
}

/// The same for `record`: with its stderr gone, Ctrl-C still ends the recording cleanly, with
/// its summary on stdout and exit status 0 (it exited with 101, a panic, before).
#[test]
fn record_with_its_stderr_gone_ends_cleanly_on_sigint() {
    let served = serve();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("run.mtr");
    let mut child = Command::new(BIN)
        .args(["record", &served.addr, "--pin", &served.pin, "-o"])
        .arg(&trace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let start = Instant::now();
    while std::fs::metadata(&trace).map_or(0, |m| m.len()) < 4096 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with a pid this test started and has not reaped yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "record exited with {}: {stdout}",
        out.status
    );
    assert!(stdout.starts_with("recorded "), "{stdout}");
    let home = tempfile::tempdir().unwrap();
    let (ok, replayed, stderr) = binary::replay_headless(home.path(), &[], &trace);
    assert!(ok, "{stderr}");
    assert!(replayed.contains("recovery: clean end"), "{replayed}");
}

async fn next_event(client: &mut ClientHandle) -> TransportEvent {
    match tokio::time::timeout(Duration::from_secs(20), client.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the client stopped"),
        Err(_) => panic!("no event within 20 s"),
    }
}

#[test]
fn record_gets_back_to_a_restarted_source_and_counts_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let args = [
        "--generator",
        "sine",
        "--rate",
        "200",
        "--cert",
        cert,
        "--key",
        key,
    ];
    let mut first = binary::serve_on(dir.path(), "127.0.0.1:0", &args);

    let trace = dir.path().join("run.mtr");
    let mut record = Command::new(BIN)
        .args([
            "record",
            &first.addr,
            "--pin",
            &first.pin,
            "--duration",
            "15",
            "-o",
        ])
        .arg(&trace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = binary::StderrLines::of(&mut record);
    stderr.wait_for("connected to", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));

    first.signal(libc::SIGTERM);
    let killed = Instant::now();
    let line = stderr.wait_for("server shutting down (SIGTERM)", Duration::from_secs(20));
    assert!(
        killed.elapsed() < TOLD_WITHIN,
        "told after {:?}: {line}",
        killed.elapsed()
    );
    assert!(first.wait_exit(Duration::from_secs(20)).success());
    std::thread::sleep(Duration::from_secs(1));

    let second = binary::serve_on(dir.path(), &first.addr, &args);
    assert_eq!(second.pin, first.pin, "the same identity");
    stderr.wait_for("connected to", Duration::from_secs(10));
    let back = killed.elapsed();
    let out = record.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "record failed:\n{}",
        stderr.lines().join("\n")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let recorded: u64 = stdout.split_whitespace().nth(1).unwrap().parse().unwrap();

    // One run of seqs, one jump in it: the records the restarted source sent before record got
    // back; after it, the restarted source's records.
    let read = midstream::trace::read_trace(&trace).unwrap();
    let seqs: Vec<u64> = read.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len() as u64, recorded, "{stdout}");
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "the numbering never goes back"
    );
    let jumps: Vec<usize> = (1..seqs.len())
        .filter(|&i| seqs[i] > seqs[i - 1] + 1)
        .collect();
    assert_eq!(jumps.len(), 1, "one gap, at the restart: {jumps:?}");
    let missed = seqs[jumps[0]] - seqs[jumps[0] - 1] - 1;
    let after = seqs.len() - jumps[0];
    // 200 records/s for the seconds left of the 15 after record got back (at least 5).
    assert!(
        after > 500,
        "{after} records after the restart (back after {back:?})"
    );
    let times: Vec<u64> = read.records.iter().map(|r| r.t_ns).collect();
    assert!(
        times.windows(2).all(|w| w[1] >= w[0]),
        "time never goes back"
    );

    let (ok, report, err) = binary::replay_headless(dir.path(), &[], &trace);
    assert!(ok, "{err}");
    let row: Vec<&str> = report
        .lines()
        .find(|l| l.split_whitespace().next() == Some("sine"))
        .unwrap_or_else(|| panic!("no row for sine:\n{report}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[2], recorded.to_string(), "{report}");
    assert_eq!(row[3], missed.to_string(), "the gap is counted:\n{report}");
    assert!(missed > 0, "{report}");
    eprintln!("record got back {back:?} after the SIGTERM, {missed} records missed");
}
