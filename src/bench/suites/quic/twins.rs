//! Midstream's protocol against raw quinn, in the same run: every `quic/midstream/X` has a
//! `quic/raw/X` twin measured on the same machine moments apart, so each figure is also a
//! ratio (the run's `vs_raw`).
//!
//! - `single_stream`, `multiplexed/{1,10,100,1000}`: 102,400 scalar records per iteration
//!   from a publisher (complete delivery) to a client, over that many channel streams (the
//!   records are made before the clock starts, as the raw payload is); the raw
//!   twin writes as many bytes (the records' encoded size) on as many streams. Throughput in
//!   records and bytes. The Midstream side counts gaps in each channel's `seq`
//!   (`.../gaps`, a figure: the goal is none with 1,000 channels); any other event, or a stall,
//!   stops the suite with the reason.
//! - `handshake`: a new client endpoint to an established connection; for Midstream until
//!   `Connected` (QUIC + TLS 1.3 with the pinned certificate, then Hello, Catalog, Subscribe).
//! - `first_record`: from connecting to the first record received.
//! - `stream_open`: on a running connection, a new stream (a new channel) to its first record.
//! - `rtt_64b`: a 64-byte request and its 64-byte answer on one bidirectional stream, one at
//!   a time; p50 and p99 as figures. The protocol has no request/response message, so its
//!   twin is the same exchange in its framing (length prefix + postcard, decoded and
//!   re-encoded by the server).
//! - `rtt_64b_current_thread`: the same exchange with client and server on one thread (a
//!   current-thread runtime), which leaves out the wake-up of another thread at each hop.
//! - `priority/{with,without}_priorities`: a 16-byte event's delivery time while a bulk
//!   stream saturates the connection, with the event stream above the bulk one and with both
//!   at the same priority; p99 as figures.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{Bencher, Throughput};
use hdrhistogram::Histogram;
use tokio::runtime::Runtime;
use tokio::sync::{broadcast, mpsc};

use super::raw::{RawServer, count_into, open_streams};
use crate::bench::harness::{Group, Harness};
use crate::model::{Catalog, ChannelId, ChannelInfo, ChannelKind, FieldValue, Record, Value};
use crate::publish::{Publisher, PublisherOptions};
use crate::transport::client::{ClientConfig, ClientHandle, TransportEvent, connect};
use crate::transport::framing::{encode_frame, read_message};
use crate::transport::protocol::{MAX_BATCH_RECORDS, MAX_DATA_FRAME_BYTES};
use crate::transport::server::{Delivery, ServerEvent};
use crate::transport::tls::Trust;

/// Records per throughput iteration, whatever the number of channels.
const RECORDS_PER_ITERATION: u64 = 102_400;
/// Channel counts of the multiplexed benchmarks.
const CHANNELS: [usize; 4] = [1, 10, 100, 1000];
/// Bytes of the request and of the answer in `rtt_64b`.
const RTT_BYTES: usize = 64;
/// Bytes of one event in the priority test (its send time and padding).
const EVENT_BYTES: usize = 16;
/// What the bulk stream writes at a time in the priority test.
const BULK_CHUNK: usize = 64 << 10;
/// Channels one Midstream publisher takes in `stream_open` before a fresh one is made (each
/// new channel resends the catalog, which grows with it).
const STREAM_OPEN_CHANNELS: usize = 256;
/// Longest wait for anything in the suite: a benchmark that takes longer has failed.
const STALL: Duration = Duration::from_secs(30);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn scalar(channel: ChannelId, seq: u64) -> Record {
    Record {
        channel,
        seq,
        t_ns: 10_000_000_000 + seq * 1000,
        value: Value::Scalar((seq as f64 * 0.1).sin()),
    }
}

/// Encoded bytes per scalar record on the wire (a full batch's frame, divided).
fn bytes_per_record() -> u64 {
    let batch: Vec<Record> = (0..MAX_BATCH_RECORDS as u64)
        .map(|seq| scalar(0, 10_000_000 + seq))
        .collect();
    let frame = encode_frame(&batch, MAX_DATA_FRAME_BYTES, "batch").expect("encodes");
    frame.len() as u64 / MAX_BATCH_RECORDS as u64
}

fn catalog(kinds: &[(String, ChannelKind)]) -> Catalog {
    Catalog {
        source: "bench".into(),
        channels: kinds
            .iter()
            .enumerate()
            .map(|(id, (name, kind))| ChannelInfo {
                id: id as ChannelId,
                name: name.clone(),
                kind: kind.clone(),
                unit: None,
                period_s: None,
            })
            .collect(),
    }
}

/// Binds a publisher with `catalog` and connects a client that subscribes to everything.
async fn publisher_and_client(catalog: Catalog, delivery: Delivery) -> (Publisher, ClientHandle) {
    let mut opts = PublisherOptions::new(([127, 0, 0, 1], 0).into(), "bench");
    opts.delivery = delivery;
    let mut publisher = Publisher::bind_with(opts, catalog).expect("publisher binds");
    let info = publisher.info().clone();
    let client = connected(&info.addr.to_string(), info.fingerprint).await;
    publisher.subscribed().await;
    (publisher, client)
}

/// Shuts `publisher`'s server down and waits until it has stopped.
async fn shut_down(publisher: Publisher) {
    publisher.shutdown_handle().shutdown();
    publisher.finish().await;
}

/// A client connected (until `Connected`) to the server at `addr`.
async fn connected(addr: &str, fingerprint: crate::transport::tls::Fingerprint) -> ClientHandle {
    let mut client =
        connect(ClientConfig::new(addr.to_owned(), Trust::Pin(fingerprint))).expect("client");
    loop {
        match tokio::time::timeout(STALL, client.recv()).await {
            Ok(Some(TransportEvent::Connected { .. })) => return client,
            Ok(Some(TransportEvent::Rtt(_) | TransportEvent::Reconnecting { .. })) => {}
            other => panic!("expected Connected, got {other:?}"),
        }
    }
}

pub fn run(c: &mut Harness<'_>) {
    if !c.wants_group("quic") {
        return;
    }
    let rt = runtime();
    let bpr = bytes_per_record();
    throughput(c, &rt, bpr);
    handshake(c, &rt);
    first_record(c, &rt);
    stream_open(c, &rt);
    rtt(c, &rt, "rtt_64b");
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rtt(c, &one_thread, "rtt_64b_current_thread");
    priority(c, &rt);
}

/// Criterion's `iter_custom` with the timed loop run as a task on `rt`'s workers, where an
/// application's code runs, not on the thread that blocks on the runtime. From that thread,
/// outside the workers, every answer had to wake it from its park first: raw quinn's 64-byte
/// round trip read 194 µs at the median that way, and 36 µs from a task. `state` moves into
/// the task and comes back with the time; a panic in the task is raised here as it was.
fn iter_on_workers<S, F, Fut>(
    b: &mut Bencher<'_, WallTime>,
    rt: &Runtime,
    state: &mut Option<S>,
    measure: F,
) where
    S: Send + 'static,
    F: Fn(S, u64) -> Fut,
    Fut: Future<Output = (S, Duration)> + Send + 'static,
{
    b.iter_custom(|iters| {
        let taken = state
            .take()
            .expect("the state came back from the last call");
        let task = rt.spawn(measure(taken, iters));
        match rt.block_on(task) {
            Ok((back, took)) => {
                *state = Some(back);
                took
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    });
}

/// The id of a twin benchmark: `quic/{midstream,raw}/name`.
fn twin_ids(name: &str) -> [(bool, String); 2] {
    [
        (true, format!("midstream/{name}")),
        (false, format!("raw/{name}")),
    ]
}

fn throughput(c: &mut Harness<'_>, rt: &Runtime, bpr: u64) {
    let mut cases: Vec<(String, usize)> = vec![("single_stream".into(), 1)];
    cases.extend(CHANNELS.iter().map(|&n| (format!("multiplexed/{n}"), n)));
    let mut group = c.benchmark_group("quic");
    for (name, channels) in cases {
        let per_channel = RECORDS_PER_ITERATION / channels as u64;
        let records = per_channel * channels as u64;
        group.throughput(Throughput::ElementsAndBytes {
            elements: records,
            bytes: records * bpr,
        });
        let [(_, ours), (_, raw)] = twin_ids(&name);
        if group.wants(ours.as_str()) {
            let mut feed = Some(rt.block_on(MidstreamFeed::start(channels)));
            group.bench_function(ours.as_str(), |b| {
                iter_on_workers(b, rt, &mut feed, move |mut feed, iters| async move {
                    let took = feed.measure(iters, per_channel).await;
                    (feed, took)
                })
            });
            let feed = feed.expect("the feed is back");
            let gaps = feed.gaps;
            // Nothing received: criterion's own filter (under `cargo bench`) skipped it.
            let ran = feed.next_seq.iter().any(|&seq| seq > 0);
            drop(group);
            if ran {
                c.figure(&format!("quic/{ours}/gaps"), gaps as f64, "records");
            }
            group = c.benchmark_group("quic");
            group.throughput(Throughput::ElementsAndBytes {
                elements: records,
                bytes: records * bpr,
            });
        }
        if group.wants(raw.as_str()) {
            let mut feed =
                Some(rt.block_on(RawFeed::start(channels, (per_channel * bpr) as usize)));
            group.bench_function(raw.as_str(), |b| {
                iter_on_workers(b, rt, &mut feed, |mut feed, iters| async move {
                    let took = feed.measure(iters).await;
                    (feed, took)
                })
            });
        }
    }
    group.finish();
}

/// A publisher of `channels` scalar channels and its client; the publisher runs on a task of
/// its own and sends the batches it is handed. The records are made before the clock starts,
/// as the raw twin's payload is: what is timed is the protocol, not the making of samples.
struct MidstreamFeed {
    go: mpsc::Sender<Vec<Vec<Record>>>,
    client: ClientHandle,
    channels: usize,
    /// The next `seq` to send, and to expect, per channel.
    sent_seq: Vec<u64>,
    next_seq: Vec<u64>,
    gaps: u64,
}

impl MidstreamFeed {
    async fn start(channels: usize) -> Self {
        let kinds: Vec<_> = (0..channels)
            .map(|k| (format!("c{k}"), ChannelKind::Scalar))
            .collect();
        let (mut publisher, client) =
            publisher_and_client(catalog(&kinds), Delivery::Complete).await;
        let (go, mut orders) = mpsc::channel::<Vec<Vec<Record>>>(1);
        tokio::spawn(async move {
            while let Some(batches) = orders.recv().await {
                for batch in batches {
                    if publisher.send_records(batch).await.is_err() {
                        return;
                    }
                }
            }
        });
        Self {
            go,
            client,
            channels,
            sent_seq: vec![0; channels],
            next_seq: vec![0; channels],
            gaps: 0,
        }
    }

    /// One iteration's batches: `per_channel` records of every channel, in batches of at most
    /// [`MAX_BATCH_RECORDS`], the channels taking turns.
    fn batches(&mut self, per_channel: u64) -> Vec<Vec<Record>> {
        let mut batches = Vec::new();
        let mut left = per_channel;
        while left > 0 {
            let k = left.min(MAX_BATCH_RECORDS as u64);
            for (channel, seq) in self.sent_seq.iter_mut().enumerate() {
                batches.push(
                    (*seq..*seq + k)
                        .map(|s| scalar(channel as ChannelId, s))
                        .collect(),
                );
                *seq += k;
            }
            left -= k;
        }
        batches
    }

    async fn measure(&mut self, iters: u64, per_channel: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let batches = self.batches(per_channel);
            let start = Instant::now();
            self.go.send(batches).await.expect("publisher task");
            let mut left = per_channel * self.channels as u64;
            while left > 0 {
                match tokio::time::timeout(STALL, self.client.recv()).await {
                    Ok(Some(TransportEvent::Records(batch))) => {
                        let channel = batch[0].channel as usize;
                        let expected = self.next_seq[channel];
                        if batch[0].seq != expected {
                            self.gaps += batch[0].seq.saturating_sub(expected);
                        }
                        self.next_seq[channel] = batch[batch.len() - 1].seq + 1;
                        left = left.saturating_sub(batch.len() as u64);
                        black_box(&batch);
                    }
                    Ok(Some(TransportEvent::Rtt(_) | TransportEvent::CatalogUpdate(_))) => {}
                    Ok(Some(other)) => panic!("unexpected event {other:?}"),
                    Ok(None) | Err(_) => panic!("no records for {} s", STALL.as_secs()),
                }
            }
            total += start.elapsed();
        }
        total
    }
}

/// Raw quinn: `streams` unidirectional streams, each written `chunk` bytes per iteration by a
/// task of its own.
struct RawFeed {
    go: broadcast::Sender<()>,
    received: Arc<super::raw::Received>,
    target: u64,
    per_iteration: u64,
    _link: (quinn::Endpoint, quinn::Connection, RawServer),
}

impl RawFeed {
    async fn start(streams: usize, chunk: usize) -> Self {
        let mut server = RawServer::bind().expect("raw server");
        let (endpoint, client, conn) = server.connect().await.expect("raw connection");
        let (sends, received) = open_streams(&conn, &client, streams, None)
            .await
            .expect("raw streams");
        let payload: Arc<[u8]> = vec![0x5a; chunk].into();
        let (go, _) = broadcast::channel(4);
        for mut send in sends {
            let mut orders = go.subscribe();
            let payload = payload.clone();
            tokio::spawn(async move {
                while orders.recv().await.is_ok() {
                    if send.write_all(&payload).await.is_err() {
                        return;
                    }
                }
            });
        }
        Self {
            go,
            target: streams as u64,
            received,
            per_iteration: (streams * chunk) as u64,
            _link: (endpoint, client, server),
        }
    }

    async fn measure(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            self.target += self.per_iteration;
            self.go.send(()).expect("raw writers");
            tokio::time::timeout(STALL, self.received.wait_for(self.target))
                .await
                .expect("raw bytes arrive");
        }
        start.elapsed()
    }
}

fn handshake(c: &mut Harness<'_>, rt: &Runtime) {
    let mut group = c.benchmark_group("quic");
    if group.wants("midstream/handshake") {
        let (mut publisher, _first) = rt.block_on(publisher_and_client(
            catalog(&[("x".into(), ChannelKind::Scalar)]),
            Delivery::Live,
        ));
        let info = publisher.info().clone();
        let mut events = Some(publisher.take_events().expect("the server's events"));
        group.bench_function("midstream/handshake", |b| {
            let info = info.clone();
            iter_on_workers(b, rt, &mut events, move |mut events, iters| {
                let info = info.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let client = connected(&info.addr.to_string(), info.fingerprint).await;
                        total += start.elapsed();
                        drop(client);
                        // Off the clock, the server sees this client leave, so that its
                        // teardown does not share the cores with the next handshake.
                        left(&mut events).await;
                    }
                    (events, total)
                }
            })
        });
        drop(publisher);
    }
    if group.wants("raw/handshake") {
        let mut server = Some(
            rt.block_on(async { RawServer::bind() })
                .expect("raw server"),
        );
        group.bench_function("raw/handshake", |b| {
            iter_on_workers(b, rt, &mut server, |mut server, iters| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let (endpoint, client, server_side) =
                        server.connect().await.expect("raw connection");
                    total += start.elapsed();
                    client.close(0u32.into(), b"done");
                    // Off the clock, as for Midstream: the server sees the close.
                    let _ = tokio::time::timeout(STALL, server_side.closed()).await;
                    drop(endpoint);
                }
                (server, total)
            })
        });
    }
    group.finish();
}

/// Waits until the server reports a client gone.
async fn left(events: &mut mpsc::Receiver<ServerEvent>) {
    loop {
        match tokio::time::timeout(STALL, events.recv()).await {
            Ok(Some(ServerEvent::ClientLeft { .. } | ServerEvent::ClientClosed { .. })) => return,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("the server did not see a client leave"),
        }
    }
}

fn first_record(c: &mut Harness<'_>, rt: &Runtime) {
    let mut group = c.benchmark_group("quic");
    if group.wants("midstream/first_record") {
        group.bench_function("midstream/first_record", |b| {
            iter_on_workers(b, rt, &mut Some(()), |(), iters| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut opts = PublisherOptions::new(([127, 0, 0, 1], 0).into(), "bench");
                    opts.delivery = Delivery::Complete;
                    let mut publisher =
                        Publisher::bind_with(opts, catalog(&[("x".into(), ChannelKind::Scalar)]))
                            .expect("publisher");
                    let info = publisher.info().clone();
                    let start = Instant::now();
                    let sender = tokio::spawn(async move {
                        publisher.subscribed().await;
                        let _ = publisher.send_records(vec![scalar(0, 0)]).await;
                        publisher
                    });
                    let mut client = connected(&info.addr.to_string(), info.fingerprint).await;
                    loop {
                        match tokio::time::timeout(STALL, client.recv()).await {
                            Ok(Some(TransportEvent::Records(_))) => break,
                            Ok(Some(_)) => {}
                            _ => panic!("no first record"),
                        }
                    }
                    total += start.elapsed();
                    drop(client);
                    // Off the clock, the server is shut down and waited for, so that no
                    // iteration shares the cores with an earlier one's teardown (thousands
                    // of servers left running once made this 8 ms instead of 2).
                    let publisher = sender.await.expect("publisher task");
                    shut_down(publisher).await;
                }
                ((), total)
            })
        });
    }
    if group.wants("raw/first_record") {
        let mut server = Some(
            rt.block_on(async { RawServer::bind() })
                .expect("raw server"),
        );
        let record = [0x5au8; 25];
        group.bench_function("raw/first_record", |b| {
            iter_on_workers(b, rt, &mut server, move |mut server, iters| async move {
                let mut total = Duration::ZERO;
                let mut buf = [0u8; 25];
                for _ in 0..iters {
                    let start = Instant::now();
                    let (endpoint, client, conn) = server.connect().await.expect("raw connection");
                    let mut send = conn.open_uni().await.expect("open");
                    send.write_all(&record).await.expect("write");
                    let mut recv = client.accept_uni().await.expect("accept");
                    recv.read_exact(&mut buf).await.expect("read");
                    total += start.elapsed();
                    client.close(0u32.into(), b"done");
                    drop(endpoint);
                }
                (server, total)
            })
        });
    }
    group.finish();
}

fn stream_open(c: &mut Harness<'_>, rt: &Runtime) {
    let mut group = c.benchmark_group("quic");
    if group.wants("midstream/stream_open") {
        group.bench_function("midstream/stream_open", |b| {
            iter_on_workers(b, rt, &mut Some(()), |(), iters| async move {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let (mut publisher, mut client) = publisher_and_client(
                        catalog(&[("first".into(), ChannelKind::Scalar)]),
                        Delivery::Complete,
                    )
                    .await;
                    let batch = (iters - done).min(STREAM_OPEN_CHANNELS as u64);
                    for k in 0..batch {
                        let start = Instant::now();
                        let id = publisher
                            .scalar(&format!("c{done}_{k}"))
                            .expect("new channel");
                        publisher
                            .send_records(vec![scalar(id, 0)])
                            .await
                            .expect("send");
                        loop {
                            match tokio::time::timeout(STALL, client.recv()).await {
                                Ok(Some(TransportEvent::Records(r))) if r[0].channel == id => {
                                    break;
                                }
                                Ok(Some(_)) => {}
                                _ => panic!("no record on the new stream"),
                            }
                        }
                        total += start.elapsed();
                    }
                    done += batch;
                    drop(client);
                    shut_down(publisher).await;
                }
                ((), total)
            })
        });
    }
    if group.wants("raw/stream_open") {
        let mut server = rt
            .block_on(async { RawServer::bind() })
            .expect("raw server");
        let mut link = Some(rt.block_on(server.connect()).expect("raw connection"));
        let record = [0x5au8; 25];
        group.bench_function("raw/stream_open", |b| {
            iter_on_workers(b, rt, &mut link, move |link, iters| async move {
                let (_, client, conn) = &link;
                let mut total = Duration::ZERO;
                let mut buf = [0u8; 25];
                for _ in 0..iters {
                    let start = Instant::now();
                    let mut send = conn.open_uni().await.expect("open");
                    send.write_all(&record).await.expect("write");
                    let mut recv = client.accept_uni().await.expect("accept");
                    recv.read_exact(&mut buf).await.expect("read");
                    total += start.elapsed();
                    let _ = send.finish();
                }
                (link, total)
            })
        });
    }
    group.finish();
}

/// Latencies in nanoseconds, 1 ns to 10 s at 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("histogram bounds")
}

fn rtt(c: &mut Harness<'_>, rt: &Runtime, name: &str) {
    for (ours, id) in twin_ids(name) {
        let mut group = c.benchmark_group("quic");
        if !group.wants(id.as_str()) {
            continue;
        }
        let mut server = rt
            .block_on(async { RawServer::bind() })
            .expect("raw server");
        let (_endpoint, client, conn) = rt.block_on(server.connect()).expect("raw connection");
        let (send, recv) = rt.block_on(async {
            let (mut send, recv) = client.open_bi().await.expect("open");
            // The stream reaches the server with its first bytes.
            send.write_all(&[0]).await.expect("write");
            (send, recv)
        });
        // The server's side answers each request with one of the same size.
        rt.spawn(async move {
            let Ok((mut s_send, mut s_recv)) = conn.accept_bi().await else {
                return;
            };
            let mut first = [0u8; 1];
            if s_recv.read_exact(&mut first).await.is_err() {
                return;
            }
            if ours {
                while let Ok(Some(request)) =
                    read_message::<Vec<u8>, _>(&mut s_recv, MAX_DATA_FRAME_BYTES, "request").await
                {
                    let Ok(frame) = encode_frame(&request, MAX_DATA_FRAME_BYTES, "answer") else {
                        return;
                    };
                    if s_send.write_all(&frame).await.is_err() {
                        return;
                    }
                }
            } else {
                let mut buf = [0u8; RTT_BYTES];
                while s_recv.read_exact(&mut buf).await.is_ok() {
                    if s_send.write_all(&buf).await.is_err() {
                        return;
                    }
                }
            }
        });
        // A frame of 64 bytes in all: prefix, postcard length, payload.
        let payload = vec![0x5au8; RTT_BYTES - 4 - 1];
        let request = encode_frame(&payload, MAX_DATA_FRAME_BYTES, "request").expect("encodes");
        let request: Arc<[u8]> = request.into();
        let mut exchange = Some((send, recv, histogram()));
        group.bench_function(id.as_str(), |b| {
            let request = request.clone();
            iter_on_workers(b, rt, &mut exchange, move |exchange, iters| {
                let (mut send, mut recv, mut latencies) = exchange;
                let request = request.clone();
                async move {
                    let mut total = Duration::ZERO;
                    let mut buf = [0u8; RTT_BYTES];
                    for _ in 0..iters {
                        let start = Instant::now();
                        if ours {
                            send.write_all(&request).await.expect("write");
                            let answer: Vec<u8> =
                                read_message(&mut recv, MAX_DATA_FRAME_BYTES, "answer")
                                    .await
                                    .expect("answer")
                                    .expect("an answer");
                            black_box(answer);
                        } else {
                            send.write_all(&buf).await.expect("write");
                            recv.read_exact(&mut buf).await.expect("read");
                        }
                        let took = start.elapsed();
                        let _ = latencies.record(took.as_nanos() as u64);
                        total += took;
                    }
                    ((send, recv, latencies), total)
                }
            })
        });
        let (_, _, latencies) = exchange.expect("the exchange is back");
        group.finish();
        // Criterion's own filter (under `cargo bench`) skips the benchmark after its set-up.
        if latencies.is_empty() {
            continue;
        }
        c.figure(
            &format!("quic/{id}/p50_us"),
            latencies.value_at_quantile(0.5) as f64 / 1e3,
            "µs",
        );
        c.figure(
            &format!("quic/{id}/p99_us"),
            latencies.value_at_quantile(0.99) as f64 / 1e3,
            "µs",
        );
    }
}

fn priority(c: &mut Harness<'_>, rt: &Runtime) {
    for with in [true, false] {
        let name = if with {
            "priority/with_priorities"
        } else {
            "priority/without_priorities"
        };
        for (ours, id) in twin_ids(name) {
            let mut group = c.benchmark_group("quic");
            if !group.wants(id.as_str()) {
                continue;
            }
            let latencies = if ours {
                let link = rt.block_on(MidstreamSaturated::start(with));
                saturated_latencies(&mut group, rt, &id, link)
            } else {
                let link = rt.block_on(RawSaturated::start(with));
                saturated_latencies(&mut group, rt, &id, link)
            };
            group.finish();
            // Criterion's own filter (under `cargo bench`) skips the benchmark after its set-up.
            if latencies.is_empty() {
                continue;
            }
            c.figure(
                &format!("quic/{id}/p99_us"),
                latencies.value_at_quantile(0.99) as f64 / 1e3,
                "µs",
            );
        }
    }
}

/// A bulk stream kept saturated beside an event stream: Midstream's or raw quinn's.
trait Saturated: Send + 'static {
    /// Sends `iters` events one at a time, each once the last has arrived, recording each
    /// one's delivery time; their sum.
    fn measure(
        &mut self,
        iters: u64,
        latencies: &mut Histogram<u64>,
    ) -> impl Future<Output = Duration> + Send;

    /// Stops the bulk stream.
    fn stop(&self);
}

/// Benchmark `id`: `link`'s events, timed on the runtime's workers; their delivery times.
fn saturated_latencies(
    group: &mut Group<'_, '_>,
    rt: &Runtime,
    id: &str,
    link: impl Saturated,
) -> Histogram<u64> {
    let mut state = Some((link, histogram()));
    group.bench_function(id, |b| {
        iter_on_workers(
            b,
            rt,
            &mut state,
            |(mut link, mut latencies), iters| async move {
                let took = link.measure(iters, &mut latencies).await;
                ((link, latencies), took)
            },
        )
    });
    let (link, latencies) = state.expect("the link is back");
    link.stop();
    latencies
}

/// Raw quinn with a bulk stream written as fast as it goes and an event stream, at a higher
/// priority or not.
struct RawSaturated {
    stop: Arc<AtomicBool>,
    events: quinn::SendStream,
    arrivals: mpsc::Receiver<Instant>,
    _link: (quinn::Endpoint, quinn::Connection, RawServer),
}

impl RawSaturated {
    async fn start(with_priorities: bool) -> Self {
        let mut server = RawServer::bind().expect("raw server");
        let (endpoint, client, conn) = server.connect().await.expect("raw connection");
        let stop = Arc::new(AtomicBool::new(false));
        // The bulk stream: priority 0.
        let mut bulk = conn.open_uni().await.expect("open");
        bulk.write_all(&[0]).await.expect("write");
        let bulk_recv = client.accept_uni().await.expect("accept");
        tokio::spawn(count_into(bulk_recv, super::raw::Received::new()));
        let writing = stop.clone();
        tokio::spawn(async move {
            let chunk = vec![0u8; BULK_CHUNK];
            while !writing.load(Ordering::Relaxed) {
                if bulk.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        let mut events = conn.open_uni().await.expect("open");
        if with_priorities {
            events.set_priority(1).expect("priority");
        }
        events.write_all(&[0]).await.expect("write");
        let mut events_recv = client.accept_uni().await.expect("accept");
        let (arrived, arrivals) = mpsc::channel(1);
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            if events_recv.read_exact(&mut first).await.is_err() {
                return;
            }
            let mut buf = [0u8; EVENT_BYTES];
            while events_recv.read_exact(&mut buf).await.is_ok() {
                if arrived.send(Instant::now()).await.is_err() {
                    return;
                }
            }
        });
        Self {
            stop,
            events,
            arrivals,
            _link: (endpoint, client, server),
        }
    }
}

impl Saturated for RawSaturated {
    async fn measure(&mut self, iters: u64, latencies: &mut Histogram<u64>) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let sent = Instant::now();
            self.events
                .write_all(&[0x5a; EVENT_BYTES])
                .await
                .expect("write");
            let arrived = tokio::time::timeout(STALL, self.arrivals.recv())
                .await
                .expect("event arrives")
                .expect("reader");
            let took = arrived.duration_since(sent);
            let _ = latencies.record(took.as_nanos() as u64);
            total += took;
        }
        total
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A Midstream publisher with a scalar channel it saturates and an event channel; the
/// protocol puts events above samples (`channel_priority`), or, for the comparison, both at
/// one priority.
struct MidstreamSaturated {
    stop: Arc<AtomicBool>,
    orders: mpsc::Sender<()>,
    sent_at: Arc<AtomicU64>,
    base: Instant,
    client: ClientHandle,
}

impl MidstreamSaturated {
    async fn start(with_priorities: bool) -> Self {
        let kinds = [
            ("bulk".to_owned(), ChannelKind::Scalar),
            (
                "events".to_owned(),
                ChannelKind::Event {
                    fields: vec!["n".to_owned()],
                },
            ),
        ];
        let mut opts = PublisherOptions::new(([127, 0, 0, 1], 0).into(), "bench");
        opts.delivery = Delivery::Complete;
        opts.stream_priorities = with_priorities;
        let mut publisher = Publisher::bind_with(opts, catalog(&kinds)).expect("publisher");
        let info = publisher.info().clone();
        let client = connected(&info.addr.to_string(), info.fingerprint).await;
        publisher.subscribed().await;
        let stop = Arc::new(AtomicBool::new(false));
        let (orders, mut pending) = mpsc::channel::<()>(1);
        let sent_at = Arc::new(AtomicU64::new(0));
        let base = Instant::now();
        let (sending, stamp) = (stop.clone(), sent_at.clone());
        tokio::spawn(async move {
            let (mut bulk_seq, mut event_seq) = (0u64, 0u64);
            while !sending.load(Ordering::Relaxed) {
                if pending.try_recv().is_ok() {
                    let record = Record {
                        channel: 1,
                        seq: event_seq,
                        t_ns: event_seq,
                        value: Value::Fields(
                            [("n".to_owned(), FieldValue::Number(event_seq as f64))]
                                .into_iter()
                                .collect(),
                        ),
                    };
                    event_seq += 1;
                    stamp.store(base.elapsed().as_nanos() as u64, Ordering::Release);
                    if publisher.send_records(vec![record]).await.is_err() {
                        return;
                    }
                    continue;
                }
                let batch = (bulk_seq..bulk_seq + MAX_BATCH_RECORDS as u64)
                    .map(|s| scalar(0, s))
                    .collect();
                bulk_seq += MAX_BATCH_RECORDS as u64;
                if publisher.send_records(batch).await.is_err() {
                    return;
                }
            }
        });
        Self {
            stop,
            orders,
            sent_at,
            base,
            client,
        }
    }
}

impl Saturated for MidstreamSaturated {
    async fn measure(&mut self, iters: u64, latencies: &mut Histogram<u64>) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            self.orders.send(()).await.expect("publisher task");
            loop {
                match tokio::time::timeout(STALL, self.client.recv()).await {
                    Ok(Some(TransportEvent::Records(r))) if r[0].channel == 1 => break,
                    Ok(Some(_)) => {}
                    _ => panic!("no event for {} s", STALL.as_secs()),
                }
            }
            let now_ns = self.base.elapsed().as_nanos() as u64;
            let took =
                Duration::from_nanos(now_ns.saturating_sub(self.sent_at.load(Ordering::Acquire)));
            let _ = latencies.record(took.as_nanos() as u64);
            total += took;
        }
        total
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
