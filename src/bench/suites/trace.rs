//! Trace write and read throughput, scalar records; a replay's seek in a large trace.

use crate::bench::harness::Harness;
use crate::bench::harness::ScratchDir;
use criterion::{BatchSize, Throughput};
use std::time::Instant;

use crate::model::{Catalog, ChannelInfo, ChannelKind, Record, SourceEvent, Value};
use crate::pipeline::Pipeline;
use crate::sources::replay::{Replay, ReplayCommand, ReplayIndex};
use crate::trace::{TraceHeader, TraceReader, TraceWriter, WriterOptions};

const RECORDS: u64 = 100_000;

fn header() -> TraceHeader {
    TraceHeader {
        version: crate::trace::FORMAT_VERSION,
        started_unix_ns: 0,
        source: "bench".into(),
        catalog: Catalog::default(),
    }
}

fn records() -> Vec<Record> {
    (0..RECORDS)
        .map(|i| Record {
            channel: (i % 4) as u32,
            seq: i / 4,
            t_ns: i * 5_000_000,
            value: Value::Scalar((i as f64 * 0.01).sin()),
        })
        .collect()
}

fn trace_bench(c: &mut Harness<'_>) {
    if !c.wants_group("trace") {
        return;
    }
    let recs = records();
    let dir = ScratchDir::new().expect("temp dir");
    let path = dir.path().join("bench.mtr");

    let mut group = c.benchmark_group("trace");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(20);
    group.bench_function("write_scalar_100k", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut w = TraceWriter::create(&path, &header(), WriterOptions::default())
                    .expect("create");
                for r in &recs {
                    w.append(r).expect("append");
                }
                // Flush without fsync: the bench measures encoding and buffered I/O, not the disk.
                w.flush().expect("flush");
            },
            BatchSize::PerIteration,
        )
    });

    let mut w = TraceWriter::create(&path, &header(), WriterOptions::default()).expect("create");
    for r in &recs {
        w.append(r).expect("append");
    }
    w.finish().expect("finish");
    let bytes = std::fs::read(&path).expect("read");
    group.bench_function("read_scalar_100k", |b| {
        b.iter(|| {
            let reader = TraceReader::new("bench", &bytes[..]).expect("header");
            let n = reader.count();
            assert_eq!(n as u64, RECORDS);
        })
    });
    group.finish();
}

/// A seek on screen: a jump through the index of a 2.2 M-record trace (11 scalar channels,
/// ~46 MB), the records from the index point before the target up to it read and decoded,
/// and the pipeline reset and given them (without engines: their work is queued, not run,
/// when the records arrive). Alternates between 25 % and 75 % of the trace, so every seek is
/// a jump.
fn seek_bench(c: &mut Harness<'_>) {
    if !c.wants("trace/replay_seek_jump_2m") {
        return;
    }
    const CHANNELS: u32 = 11;
    const SEEK_RECORDS: u64 = 2_200_000;
    let dir = ScratchDir::new().expect("temp dir");
    let path = dir.path().join("seek.mtr");
    let header = TraceHeader {
        catalog: Catalog {
            source: "bench".into(),
            channels: (0..CHANNELS)
                .map(|id| ChannelInfo {
                    id,
                    name: format!("c{id}"),
                    kind: ChannelKind::Scalar,
                    unit: None,
                    period_s: Some(1e-4),
                })
                .collect(),
        },
        ..header()
    };
    let mut w = TraceWriter::create(&path, &header, WriterOptions::default()).expect("create");
    for i in 0..SEEK_RECORDS {
        let channel = (i % u64::from(CHANNELS)) as u32;
        w.append(&Record {
            channel,
            seq: i / u64::from(CHANNELS),
            t_ns: i * 10_000,
            value: Value::Scalar((i as f64 * 0.001).sin()),
        })
        .expect("append");
    }
    w.finish().expect("finish");
    let mut replay = Replay::open(&path, 1.0, ReplayIndex::Scan).expect("open");
    let half = (replay.length_ns() / 2) as i64;
    let mut pipeline = Pipeline::new("bench");
    pipeline.handle(SourceEvent::Catalog(header.catalog.clone()), Instant::now());
    // To 25 %, then back and forth between 75 % and 25 %.
    for event in replay.command(ReplayCommand::Seek(half / 2)) {
        pipeline.handle(event, Instant::now());
    }
    let mut forward = true;
    let mut group = c.benchmark_group("trace");
    group.sample_size(30);
    group.bench_function("replay_seek_jump_2m", |b| {
        b.iter(|| {
            let delta = if forward { half } else { -half };
            forward = !forward;
            let events = replay.command(ReplayCommand::Seek(delta));
            assert!(matches!(events[0], SourceEvent::Reset));
            for event in events {
                pipeline.handle(event, Instant::now());
            }
        })
    });
    group.finish();
}

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    trace_bench(c);
    seek_bench(c);
}
