//! A source that goes silent without closing, through a real UDP relay on 127.0.0.1 that stops
//! forwarding: the client says STALLED (with for how long) within 5 s, goes back to connected
//! when packets flow again before the idle timeout, and after it reconnects and counts the
//! records it missed. A connection whose channels are merely quiet never stalls.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use midstream::model::{Catalog, ChannelKind};
use midstream::publish::{Publisher, PublisherOptions};
use midstream::sources::DemoSource;
use midstream::transport::client::{ClientConfig, ClientHandle, TransportEvent, connect};
use midstream::transport::protocol::{IDLE_TIMEOUT, KEEP_ALIVE_INTERVAL, STALL_AFTER};
use midstream::transport::server::{Server, ServerConfig};
use midstream::transport::tls::Trust;

use crate::common::binary::{self, BIN};
use crate::common::catalog::{catalog, channel};
use crate::common::relay::Relay;

/// The contract: a silent source shows STALLED within this long.
const STALLED_WITHIN: Duration = Duration::from_secs(5);
/// Records per second of the silent link's source: few enough that what the server sends
/// during the silence stays inside its congestion window (see the test).
const RATE: f64 = 20.0;
/// How long the link is silent before it comes back by itself.
const SILENCE: Duration = STALL_AFTER.saturating_add(Duration::from_millis(500));
/// Longest wait for anything else; generous because the machine is shared.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

async fn next_event(client: &mut ClientHandle, within: Duration) -> Option<TransportEvent> {
    match tokio::time::timeout(within, client.recv()).await {
        Ok(Some(event)) => Some(event),
        Ok(None) => panic!("the client stopped"),
        Err(_) => None,
    }
}

/// Waits for the first event that `pick` accepts, failing on Disconnected and Failed.
async fn wait_for<T>(
    client: &mut ClientHandle,
    what: &str,
    mut pick: impl FnMut(&TransportEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = next_event(client, left)
            .await
            .unwrap_or_else(|| panic!("no {what} within {EVENT_TIMEOUT:?}"));
        if let Some(found) = pick(&event) {
            return found;
        }
        if matches!(
            event,
            TransportEvent::Disconnected { .. } | TransportEvent::Failed(_)
        ) {
            panic!("{event:?} while waiting for {what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_link_is_stalled_within_5_s_and_connected_again_when_packets_flow() {
    let source = DemoSource::new(&["sine".to_owned()], 1)
        .unwrap()
        .with_rate(RATE)
        .unwrap();
    let (mut server, info) =
        Server::bind(ServerConfig::new("127.0.0.1:0".parse().unwrap(), source)).unwrap();
    let shutdown = server.shutdown_handle();
    let _events = server.take_events();
    let serving = tokio::spawn(server.run());
    let relay = Relay::start(info.addr);
    let mut client = connect(ClientConfig::new(
        relay.addr().to_string(),
        Trust::Pin(info.fingerprint),
    ))
    .unwrap();
    wait_for(&mut client, "Connected", |e| {
        matches!(e, TransportEvent::Connected { .. }).then_some(())
    })
    .await;
    wait_for(&mut client, "records", |e| {
        matches!(e, TransportEvent::Records(_)).then_some(())
    })
    .await;

    // Silent for half a second past STALL_AFTER, then forwarding again by itself (the relay
    // times the silence, not this task, which a busy machine may run late): the same
    // connection comes back, without a Disconnected (which `wait_for` fails on), as soon as
    // the server's next packet crosses. At RATE the server keeps sending new packets all
    // through the silence. A busier source fills the server's congestion window within about
    // a second of silence; from then on quinn sends only probes, whose interval doubles, and
    // holds back even its acknowledgements of the client's packets, so the connection comes
    // back only at the server's next probe: at 200 records/s, 4.8 to 11.2 s into this same
    // 4.5 s silence on a loaded machine, close to the 10 s idle timeout (the README says so).
    relay.stop_forwarding_for(SILENCE);
    let stopped = Instant::now();
    let first = wait_for(&mut client, "Stalled", |e| match e {
        TransportEvent::Stalled { silent_for } => Some(*silent_for),
        _ => None,
    })
    .await;
    let stalled_after = stopped.elapsed();
    assert!(first >= STALL_AFTER, "{first:?}");
    assert!(
        stalled_after < STALLED_WITHIN,
        "STALLED after {stalled_after:?}"
    );
    // Until packets come again, the silence's length grows with every report.
    let mut stalls = vec![first];
    let resumed = wait_for(&mut client, "Resumed", |e| match e {
        TransportEvent::Stalled { silent_for } => {
            stalls.push(*silent_for);
            None
        }
        TransportEvent::Resumed { silent_for } => Some(*silent_for),
        _ => None,
    })
    .await;
    assert!(
        stalls.windows(2).all(|pair| pair[0] < pair[1]),
        "{stalls:?}"
    );
    assert!(
        resumed > *stalls.last().unwrap(),
        "{stalls:?} then {resumed:?}"
    );
    let back_after = stopped.elapsed();
    wait_for(&mut client, "records after the stall", |e| {
        matches!(e, TransportEvent::Records(_)).then_some(())
    })
    .await;
    eprintln!(
        "STALLED {stalled_after:?} after the relay stopped; resumed {back_after:?} after, \
         {resumed:?} of silence, reported {} times while it lasted; {} datagrams dropped",
        stalls.len(),
        relay.dropped()
    );
    drop(client);
    shutdown.shutdown();
    let _ = serving.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_but_healthy_connection_never_stalls() {
    let catalog: Catalog = catalog("quiet", vec![channel(0, "never", ChannelKind::Scalar)]);
    let publisher = Publisher::bind_with(
        PublisherOptions::new("127.0.0.1:0".parse().unwrap(), "quiet"),
        catalog,
    )
    .unwrap();
    let info = publisher.info().clone();
    let relay = Relay::start(info.addr);
    let mut client = connect(ClientConfig::new(
        relay.addr().to_string(),
        Trust::Pin(info.fingerprint),
    ))
    .unwrap();
    wait_for(&mut client, "Connected", |e| {
        matches!(e, TransportEvent::Connected { .. }).then_some(())
    })
    .await;
    // No record at all, only keep-alives, for four keep-alive intervals and more.
    let watch = KEEP_ALIVE_INTERVAL * 4 + Duration::from_secs(1);
    let until = Instant::now() + watch;
    while let Some(event) =
        next_event(&mut client, until.saturating_duration_since(Instant::now())).await
    {
        assert!(
            matches!(event, TransportEvent::Rtt(_)),
            "a quiet connection: {event:?}"
        );
    }
    drop(publisher);
}

#[test]
fn record_says_stalled_then_reconnects_after_the_idle_timeout_and_counts_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let served = binary::serve(dir.path(), &["--generator", "sine", "--rate", "200"]);
    let relay = Relay::start(served.addr.parse().unwrap());
    let trace = dir.path().join("run.mtr");
    let mut record = Command::new(BIN)
        .arg("record")
        .arg(relay.addr().to_string())
        .args(["--pin", &served.pin, "--duration", "24", "-o"])
        .arg(&trace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = binary::StderrLines::of(&mut record);
    stderr.wait_for("connected to", EVENT_TIMEOUT);
    std::thread::sleep(Duration::from_secs(2));

    relay.stop_forwarding();
    let stopped = Instant::now();
    let line = stderr.wait_for("STALLED: no packet from", EVENT_TIMEOUT);
    let stalled_after = stopped.elapsed();
    assert!(
        stalled_after < STALLED_WITHIN,
        "after {stalled_after:?}: {line}"
    );
    let line = stderr.wait_for("no response from the peer for 10 s", EVENT_TIMEOUT);
    let lost_after = stopped.elapsed();
    assert!(lost_after >= IDLE_TIMEOUT, "{line} after {lost_after:?}");
    relay.resume_forwarding();
    stderr.wait_for("connected to", EVENT_TIMEOUT);
    let back_after = stopped.elapsed();

    let out = record.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "record failed:\n{}",
        stderr.lines().join("\n")
    );
    let (ok, report, err) = binary::replay_headless(dir.path(), &[], &trace);
    assert!(ok, "{err}");
    let row: Vec<&str> = report
        .lines()
        .find(|l| l.split_whitespace().next() == Some("sine"))
        .unwrap_or_else(|| panic!("no row for sine:\n{report}"))
        .split_whitespace()
        .collect();
    let gaps: u64 = row[3].parse().unwrap();
    // 200 records/s for the 10 s and more the link was down.
    assert!(gaps >= 1_500, "the gap is counted:\n{report}");
    eprintln!(
        "record: STALLED {stalled_after:?} after the relay stopped, lost after {lost_after:?}, \
         connected again {back_after:?} after; {gaps} records missed"
    );
}
