//! A publisher's two lanes (events apart from samples, so that a saturated sample channel does
//! not hold an event back) keep what one lane kept: with complete delivery every record of
//! every channel arrives, in order, and a channel declared mid-stream is announced before its
//! first record, whichever lane its records take. Over a real QUIC connection on 127.0.0.1.

use std::collections::HashMap;
use std::time::Duration;

use midstream::model::{ChannelId, ChannelKind, FieldValue, Record, Value};
use midstream::publish::{Publisher, PublisherOptions};
use midstream::transport::client::{ClientConfig, TransportEvent, connect};
use midstream::transport::server::Delivery;
use midstream::transport::tls::Trust;

use crate::common::catalog::{catalog, channel};

/// Longest wait for the next event; generous because the machine is shared.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Sample batches of the bulk channel, and records in each.
const BULK_BATCHES: u64 = 120;
const BULK_BATCH: u64 = 512;
/// How long the client leaves its events unread at first.
const SLOW_START: Duration = Duration::from_secs(1);
/// An event goes out after every this many bulk batches.
const EVENT_EVERY: u64 = 3;

fn bulk(seq: u64) -> Record {
    Record {
        channel: 0,
        seq,
        t_ns: seq,
        value: Value::Scalar(seq as f64),
    }
}

fn event(channel: ChannelId, seq: u64) -> Record {
    Record {
        channel,
        seq,
        t_ns: seq,
        value: Value::Fields([("n".to_owned(), FieldValue::Number(seq as f64))].into()),
    }
}

/// A publisher of a sample channel `bulk` (0) and an event channel `events` (1), delivering
/// completely (held back for the slowest client, so nothing is skipped).
fn bulk_and_events() -> Publisher {
    let mut opts = PublisherOptions::new("127.0.0.1:0".parse().unwrap(), "lanes");
    opts.delivery = Delivery::Complete;
    Publisher::bind_with(
        opts,
        catalog(
            "lanes",
            vec![
                channel(0, "bulk", ChannelKind::Scalar),
                channel(1, "events", event_kind()),
            ],
        ),
    )
    .unwrap()
}

fn event_kind() -> ChannelKind {
    ChannelKind::Event {
        fields: vec!["n".to_owned()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_lose_nothing_and_announce_new_channels_first() {
    let mut publisher = bulk_and_events();
    let info = publisher.info().clone();
    // A client that reads slowly at first, with a short queue: the server's backlog and the
    // bulk lane fill up, so that a lane that ignored the order of catalog and records would
    // show it.
    let mut config = ClientConfig::new(info.addr.to_string(), Trust::Pin(info.fingerprint));
    config.event_queue = 4;
    let mut client = connect(config).unwrap();
    publisher.subscribed().await;

    // Bulk batches throughout; an event every EVENT_EVERY batches; from halfway a new event
    // channel, each of its events in a batch mixed with one bulk record (both lanes at once).
    let producer = tokio::spawn(async move {
        let mut bulk_seq = 0;
        let (mut events, mut alarm_seq) = (0, 0);
        let mut alarms = None;
        for batch in 0..BULK_BATCHES {
            let records = (bulk_seq..bulk_seq + BULK_BATCH).map(bulk).collect();
            bulk_seq += BULK_BATCH;
            publisher.send_records(records).await.unwrap();
            if batch % EVENT_EVERY == 0 {
                publisher
                    .send_records(vec![event(1, events)])
                    .await
                    .unwrap();
                events += 1;
            }
            if batch == BULK_BATCHES / 2 {
                alarms = Some(publisher.channel("alarms", event_kind(), None).unwrap());
            }
            if let Some(alarms) = alarms {
                let mixed = vec![event(alarms, alarm_seq), bulk(bulk_seq)];
                publisher.send_records(mixed).await.unwrap();
                alarm_seq += 1;
                bulk_seq += 1;
            }
        }
        let sent = HashMap::from([(0, bulk_seq), (1, events), (2, alarm_seq)]);
        (publisher, sent)
    });
    let expected: HashMap<ChannelId, u64> = HashMap::from([
        (0, BULK_BATCHES * BULK_BATCH + BULK_BATCHES / 2),
        (1, BULK_BATCHES.div_ceil(EVENT_EVERY)),
        (2, BULK_BATCHES / 2),
    ]);

    tokio::time::sleep(SLOW_START).await;
    // Every channel in order, counted; the new channel only after its announcement.
    let mut next: HashMap<ChannelId, u64> = HashMap::new();
    let mut known: Vec<String> = Vec::new();
    while next != expected {
        let event = tokio::time::timeout(EVENT_TIMEOUT, client.recv())
            .await
            .unwrap_or_else(|_| panic!("stuck at {next:?} of {expected:?}"))
            .expect("the client runs");
        match event {
            TransportEvent::Connected { catalog, .. } | TransportEvent::CatalogUpdate(catalog) => {
                known = catalog.channels.iter().map(|c| c.name.clone()).collect();
            }
            TransportEvent::Records(batch) => {
                let channel = batch[0].channel;
                assert!(
                    (channel as usize) < known.len(),
                    "records of channel {channel} before the catalog that declares it ({known:?})"
                );
                for record in &batch {
                    let expected = next.entry(record.channel).or_default();
                    assert_eq!(record.seq, *expected, "channel {}", record.channel);
                    *expected += 1;
                }
            }
            TransportEvent::Disconnected { reason } => panic!("disconnected: {reason}"),
            TransportEvent::Failed(e) => panic!("{e}"),
            _ => {}
        }
    }
    let (_publisher, sent) = producer.await.unwrap();
    assert_eq!(sent, expected, "the test's own arithmetic");
    assert!(known.contains(&"alarms".to_owned()));
}

/// The client's side of the lanes: an event that reaches a consumer whose queue is full of
/// samples is handed out before them, not after the whole queue (the stream priority would
/// otherwise end at the client's door).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_overtakes_the_samples_queued_for_a_slow_consumer() {
    const QUEUE: usize = 32;
    let mut publisher = bulk_and_events();
    let info = publisher.info().clone();
    let mut config = ClientConfig::new(info.addr.to_string(), Trust::Pin(info.fingerprint));
    config.event_queue = QUEUE;
    let mut client = connect(config).unwrap();
    publisher.subscribed().await;
    let (order, mut orders) = tokio::sync::mpsc::channel::<()>(1);
    let producer = tokio::spawn(async move {
        let mut bulk_seq = 0;
        loop {
            let records = (bulk_seq..bulk_seq + BULK_BATCH).map(bulk).collect();
            bulk_seq += BULK_BATCH;
            // The bulk lane soon stays full (nothing is read): the order cancels the wait for
            // room (that batch is not sent), and the event goes out on its own lane.
            tokio::select! {
                sent = publisher.send_records(records) => {
                    if sent.is_err() {
                        return;
                    }
                }
                Some(()) = orders.recv() => {
                    publisher.send_records(vec![event(1, 0)]).await.unwrap();
                }
            }
        }
    });
    // Nothing read for a while: the client's queue fills with samples, then the event is sent
    // and given time to arrive.
    let connected = tokio::time::timeout(EVENT_TIMEOUT, client.recv())
        .await
        .unwrap();
    assert!(matches!(connected, Some(TransportEvent::Connected { .. })));
    tokio::time::sleep(SLOW_START).await;
    order.send(()).await.unwrap();
    tokio::time::sleep(2 * SLOW_START).await;

    let mut samples_first = 0;
    loop {
        match tokio::time::timeout(EVENT_TIMEOUT, client.recv())
            .await
            .unwrap()
        {
            Some(TransportEvent::Records(batch)) if batch[0].channel == 1 => break,
            Some(TransportEvent::Records(_)) => samples_first += 1,
            Some(TransportEvent::Rtt(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    producer.abort();
    // One queue hands out the QUEUE batches of samples it holds first, and those its blocked
    // readers bring (measured: 36 with the client's lanes taken out); the lanes, the event.
    assert!(
        samples_first < QUEUE / 2,
        "the event came after {samples_first} batches of samples"
    );
}
