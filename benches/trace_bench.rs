//! Trace write and read throughput, scalar records.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use midstream::model::{Catalog, Record, Value};
use midstream::trace::{TraceHeader, TraceReader, TraceWriter, WriterOptions};

const RECORDS: u64 = 100_000;

fn header() -> TraceHeader {
    TraceHeader {
        version: midstream::trace::FORMAT_VERSION,
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

fn trace_bench(c: &mut Criterion) {
    let recs = records();
    let dir = tempfile::tempdir().expect("temp dir");
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
            let reader = TraceReader::new("bench", &bytes).expect("header");
            let n = reader.count();
            assert_eq!(n as u64, RECORDS);
        })
    });
    group.finish();
}

criterion_group!(benches, trace_bench);
criterion_main!(benches);
