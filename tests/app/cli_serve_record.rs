//! The live path through the real binary: `serve` prints how to attach, `record` with the
//! printed pin writes a trace, `replay --headless` reads it back without gaps; a wrong pin
//! connects nothing and writes nothing; SIGTERM, SIGINT and SIGHUP close every connection with
//! the signal in the reason.

use std::process::Command;
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

async fn next_event(client: &mut ClientHandle) -> TransportEvent {
    match tokio::time::timeout(Duration::from_secs(20), client.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the client stopped"),
        Err(_) => panic!("no event within 20 s"),
    }
}
