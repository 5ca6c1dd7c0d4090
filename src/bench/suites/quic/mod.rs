//! The QUIC suite: Midstream's protocol against raw quinn in the same run ([`twins`]: the
//! `quic/midstream/*` and `quic/raw/*` benchmarks), then loopback ingest over real QUIC:
//! scalar records per second from a `serve`-style server to decoded records in the client,
//! and the batch codec on its own.
//!
//! The server streams the `sine` generator with [`Pacing::AsFastAsPossible`] (as fast as the
//! client reads, nothing skipped) to one client pinned to its certificate, all on 127.0.0.1 and
//! one tokio runtime with two workers. One iteration is [`RECORDS_PER_ITERATION`] records
//! received, decoded, checked and handed over as `TransportEvent::Records`; criterion reports
//! the rate. Goal (issue 2): at least 1,000,000 records/s on the 2-core machine.

use std::hint::black_box;
use std::time::Instant;

use crate::bench::harness::Harness;
use crate::bench::harness::ScratchDir;
use crate::model::SourceEvent;
use crate::model::{Record, Value};
use crate::publish::{Publisher, PublisherOptions};
use crate::sources::DemoSource;
use crate::sources::input::{InputOptions, InputPath, TextInput};
use crate::transport::batch::{decode_batch, encode_batch_frame};
use crate::transport::client::{ClientConfig, TransportEvent, connect};
use crate::transport::framing::{decode_body, encode_frame};
use crate::transport::protocol::{MAX_BATCH_RECORDS, MAX_DATA_FRAME_BYTES, RecordBatch};
use crate::transport::server::{Delivery, Pacing, Server, ServerConfig};
use crate::transport::tls::Trust;
use criterion::Throughput;

/// Records per measured iteration (about 0.1 s at the goal rate).
const RECORDS_PER_ITERATION: u64 = 100_000;
/// Nominal rate stamped into `t_ns` (the pacing ignores it); sets realistic varint sizes.
const NOMINAL_RATE_HZ: f64 = 1_000_000.0;

fn loopback_ingest(c: &mut Harness<'_>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut client = runtime.block_on(async {
        let source = DemoSource::new(&["sine".to_owned()], 1)
            .expect("sine generator")
            .with_rate(NOMINAL_RATE_HZ)
            .expect("rate");
        let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("address"), source);
        config.pacing = Pacing::AsFastAsPossible;
        let (server, info) = Server::bind(config).expect("server binds");
        tokio::spawn(server.run());
        let mut client = connect(ClientConfig::new(
            info.addr.to_string(),
            Trust::Pin(info.fingerprint),
        ))
        .expect("client starts");
        loop {
            match client.recv().await {
                Some(TransportEvent::Connected { .. }) => break,
                Some(TransportEvent::Rtt(_)) => {}
                other => panic!("expected Connected, got {other:?}"),
            }
        }
        client
    });

    let mut group = c.benchmark_group("quic_ingest");
    group.throughput(Throughput::Elements(RECORDS_PER_ITERATION));
    group.sample_size(20);
    // Records received beyond one measurement count towards the next.
    let mut surplus: u64 = 0;
    let mut next_seq: Option<u64> = None;
    group.bench_function("scalar_records_loopback", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let target = iters * RECORDS_PER_ITERATION;
                let mut received = surplus.min(target);
                surplus -= received;
                let start = Instant::now();
                while received < target {
                    match client.recv().await {
                        Some(TransportEvent::Records(batch)) => {
                            // The pacing never skips: a gap would mean lost records.
                            let first = batch[0].seq;
                            assert!(next_seq.is_none_or(|s| s == first), "gap before {first}");
                            next_seq = Some(first + batch.len() as u64);
                            received += batch.len() as u64;
                            black_box(&batch);
                        }
                        Some(TransportEvent::Rtt(_)) => {}
                        other => panic!("unexpected event {other:?}"),
                    }
                }
                surplus += received - target;
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// Rows of the CSV that `serve --input` publishes per iteration: 10 numeric columns, so 11
/// records a row (the columns and the row's event).
const INPUT_ROWS: u64 = 20_000;

/// `serve --input` end to end on loopback: a CSV file read by the text input, published with
/// complete delivery, received and decoded by a client; one iteration is the whole file, from
/// binding the server to the last record in the client. Throughput in input lines.
fn serve_input_end_to_end(c: &mut Harness<'_>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = ScratchDir::new().expect("temp dir");
    let path = dir.path().join("input.csv");
    let mut csv = String::from("a,b,c,d,e,f,g,h,i,j\n");
    for row in 0..INPUT_ROWS {
        let cells: Vec<String> = (0..10)
            .map(|c| format!("{:.4}", ((row * 10 + c) as f64 * 0.01).sin()))
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    std::fs::write(&path, csv).expect("write the input");
    let expected = INPUT_ROWS * 11;

    let mut group = c.benchmark_group("quic_ingest");
    group.throughput(Throughput::Elements(INPUT_ROWS));
    group.sample_size(10);
    group.bench_function("serve_input_csv_loopback", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut options =
                    PublisherOptions::new("127.0.0.1:0".parse().expect("address"), "bench");
                options.delivery = Delivery::Complete;
                let mut publisher = Publisher::bind(options).expect("publisher binds");
                let info = publisher.info().clone();
                let input = TextInput::open(InputOptions::new(InputPath::File(path.clone())))
                    .expect("input opens");
                let reading = tokio::spawn(async move {
                    publisher.subscribed().await;
                    let shutdown = publisher.shutdown_handle();
                    tokio::task::spawn_blocking(move || {
                        input.run(&mut |event| match event {
                            SourceEvent::Catalog(c) => publisher.blocking_set_catalog(c).is_ok(),
                            SourceEvent::Records(r) => publisher.blocking_send_records(r).is_ok(),
                            _ => true,
                        });
                    })
                    .await
                    .expect("reading thread");
                    shutdown
                });
                let mut client = connect(ClientConfig::new(
                    info.addr.to_string(),
                    Trust::Pin(info.fingerprint),
                ))
                .expect("client starts");
                let mut received = 0;
                while received < expected {
                    match client.recv().await {
                        Some(TransportEvent::Records(batch)) => received += batch.len() as u64,
                        Some(_) => {}
                        None => panic!("the client stopped after {received} records"),
                    }
                }
                let shutdown = reading.await.expect("publisher task");
                shutdown.shutdown();
                black_box(received)
            })
        })
    });
    group.finish();
}

fn scalar_batch() -> RecordBatch {
    (0..MAX_BATCH_RECORDS as u64)
        .map(|seq| Record {
            channel: 0,
            seq: 10_000_000 + seq,
            t_ns: 10_000_000_000 + seq * 1000,
            value: Value::Scalar((seq as f64 * 0.1).sin()),
        })
        .collect()
}

/// The data streams' batch codec (`transport::batch`), and postcard through serde, which
/// writes the same bytes, as its baseline in the same run.
fn batch_codec(c: &mut Harness<'_>) {
    let batch = scalar_batch();
    let frame = encode_batch_frame(&batch, MAX_DATA_FRAME_BYTES, "batch").expect("encodes");
    let mut group = c.benchmark_group("batch_codec");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("encode_1024_scalars", |b| {
        b.iter(|| encode_batch_frame(black_box(&batch), MAX_DATA_FRAME_BYTES, "batch"))
    });
    group.bench_function("decode_1024_scalars", |b| {
        b.iter(|| decode_batch(black_box(&frame[4..]), "batch"))
    });
    group.bench_function("postcard/encode_1024_scalars", |b| {
        b.iter(|| encode_frame(black_box(&batch), MAX_DATA_FRAME_BYTES, "batch"))
    });
    group.bench_function("postcard/decode_1024_scalars", |b| {
        b.iter(|| decode_body::<RecordBatch>(black_box(&frame[4..]), "batch"))
    });
    group.finish();
}

mod raw;
mod twins;

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    twins::run(c);
    loopback_ingest(c);
    serve_input_end_to_end(c);
    batch_codec(c);
}
