//! A publisher dropped without `finish` or a shutdown: its clients still get every record it
//! was given and the end of its streams, and then its server stops (its events end and its UDP
//! port is free again), instead of running for the rest of the process. Over real QUIC on
//! 127.0.0.1.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use midstream::model::{ChannelKind, Record, Value};
use midstream::publish::{Publisher, PublisherOptions};
use midstream::transport::client::{ClientConfig, TransportEvent, connect};
use midstream::transport::server::{Delivery, ServerEvent};
use midstream::transport::tls::Trust;
use tokio::sync::mpsc;

use crate::common::catalog::{catalog, channel};

/// Longest wait for anything; generous because the machine is shared.
const WAIT: Duration = Duration::from_secs(30);
/// Batches sent before the drop, and records in each: far more than the server's queues and
/// the connection's windows hold at once, so that a server closed at the drop would lose some.
const BATCHES: u64 = 200;
const BATCH: u64 = 1000;

fn publisher() -> Publisher {
    let mut opts = PublisherOptions::new("127.0.0.1:0".parse().unwrap(), "dropped");
    opts.delivery = Delivery::Complete;
    Publisher::bind_with(
        opts,
        catalog("dropped", vec![channel(0, "x", ChannelKind::Scalar)]),
    )
    .unwrap()
}

/// Waits until the server's event queue closes: its task has ended.
async fn server_stopped(events: &mut mpsc::Receiver<ServerEvent>) {
    let stopped = tokio::time::timeout(WAIT, async { while events.recv().await.is_some() {} });
    stopped
        .await
        .expect("the dropped publisher's server still running after 30 s");
}

/// Waits until `addr`'s UDP port can be bound again: the server's socket is closed.
async fn port_free(addr: SocketAddr) {
    let start = tokio::time::Instant::now();
    while let Err(e) = UdpSocket::bind(addr) {
        assert!(start.elapsed() < WAIT, "{addr} still bound after 30 s: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_publisher_delivers_everything_then_stops() {
    let mut publisher = publisher();
    let info = publisher.info().clone();
    let mut events = publisher.take_events().unwrap();
    let mut client = connect(ClientConfig::new(
        info.addr.to_string(),
        Trust::Pin(info.fingerprint),
    ))
    .unwrap();
    publisher.subscribed().await;
    // The sender runs beside the reader (complete delivery holds it back for the client), and
    // drops the publisher as soon as the last batch is queued.
    let sending = tokio::spawn(async move {
        for b in 0..BATCHES {
            let batch = (b * BATCH..(b + 1) * BATCH)
                .map(|seq| Record {
                    channel: 0,
                    seq,
                    t_ns: seq,
                    value: Value::Scalar(seq as f64),
                })
                .collect();
            publisher.send_records(batch).await.unwrap();
        }
        drop(publisher);
    });
    let mut next = 0;
    let reason = loop {
        match tokio::time::timeout(WAIT, client.recv()).await {
            Ok(Some(TransportEvent::Records(batch))) => {
                for record in batch {
                    assert_eq!(record.seq, next, "records out of order or lost");
                    next += 1;
                }
            }
            Ok(Some(TransportEvent::Disconnected { reason })) => break reason,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the client stopped after {next} records"),
            Err(_) => panic!("nothing for 30 s after {next} records"),
        }
    };
    sending.await.unwrap();
    assert_eq!(
        next,
        BATCHES * BATCH,
        "records lost before the server shut down"
    );
    assert!(reason.contains("its stream has ended"), "{reason}");
    drop(client);
    server_stopped(&mut events).await;
    port_free(info.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_publisher_without_clients_stops_at_once() {
    let mut publisher = publisher();
    let info = publisher.info().clone();
    let mut events = publisher.take_events().unwrap();
    drop(publisher);
    server_stopped(&mut events).await;
    port_free(info.addr).await;
}

#[test]
fn a_publisher_dropped_outside_a_runtime_stops_its_server() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (publisher, info, mut events) = runtime.block_on(async {
        let mut publisher = publisher();
        let info = publisher.info().clone();
        let events = publisher.take_events().unwrap();
        (publisher, info, events)
    });
    drop(publisher);
    runtime.block_on(async {
        server_stopped(&mut events).await;
        port_free(info.addr).await;
    });
}
