//! Text input parsing throughput: lines of JSONL (about 100 bytes each) and CSV (10 numeric
//! columns) parsed into records by the same parser `open`, `serve --input` and `record --input`
//! use, reported per line (Elements) and per byte (Bytes). In the same run, when `jq` is
//! installed, `jq -c .` reads the same lines from a file (`input/jq_c/...`): the baseline the
//! ratio in the notes is taken against. jq's start-up (a few ms) is amortised over the file.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The binary's allocator (see `Cargo.toml`), so the bench measures what `open` does.
#[cfg(feature = "app")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use midstream::sources::text::{Format, ParserOptions, RecordParser};

const LINES: usize = 200_000;

/// About 100 bytes a line, numbers, a nested object, a string and a boolean, as a service's
/// log would have.
pub fn jsonl_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{{\"ts\":{:.3},\"latency_ms\":{:.2},\"cpu\":{{\"user\":{:.1},\"sys\":{:.1}}},\"status\":\"ok\",\"retry\":{}}}",
                1_796_551_200.0 + i as f64 * 0.01,
                12.0 + (i as f64 * 0.1).sin() * 5.0,
                40.0 + (i % 13) as f64,
                3.0 + (i % 5) as f64,
                i % 11 == 0
            )
        })
        .collect()
}

/// A header and rows of 10 numeric columns.
pub fn csv_lines(n: usize) -> Vec<String> {
    let mut lines = vec!["a,b,c,d,e,f,g,h,i,j".to_owned()];
    lines.extend((0..n).map(|i| {
        (0..10)
            .map(|c| format!("{:.4}", ((i * 10 + c) as f64 * 0.01).sin() * 100.0))
            .collect::<Vec<_>>()
            .join(",")
    }));
    lines
}

fn parse(format: Format, lines: &[String]) -> usize {
    let mut parser = RecordParser::new(ParserOptions {
        format,
        name: "bench".into(),
        time_field: None,
        text_field: None,
        max_channels: 4096,
    });
    let mut out = Vec::with_capacity(4096);
    let mut problems = Vec::new();
    let mut records = 0;
    for (i, line) in lines.iter().enumerate() {
        parser
            .parse_line(i as u64 + 1, line, 0, &mut out, &mut problems)
            .expect("well-formed input");
        if out.len() >= 4096 {
            records += out.len();
            out.clear();
        }
    }
    records + out.len()
}

fn input_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("input");
    group.sample_size(10);
    for (name, format, lines) in [
        ("jsonl_parse", Format::Jsonl, jsonl_lines(LINES)),
        ("csv_parse", Format::Csv, csv_lines(LINES)),
    ] {
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        group.throughput(Throughput::Elements(LINES as u64));
        group.bench_function(format!("{name}/lines"), |b| {
            b.iter(|| parse(format, &lines))
        });
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format!("{name}/bytes"), |b| {
            b.iter(|| parse(format, &lines))
        });
    }
    let jsonl = jsonl_lines(LINES);
    let bytes: usize = jsonl.iter().map(|l| l.len() + 1).sum();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bench.jsonl");
    std::fs::write(&file, jsonl.join("\n") + "\n").expect("write the bench file");
    let jq = |file: &std::path::Path| {
        let status = std::process::Command::new("jq")
            .args(["-c", "."])
            .arg(file)
            .stdout(std::process::Stdio::null())
            .status();
        status.is_ok_and(|s| s.success())
    };
    if jq(&file) {
        group.throughput(Throughput::Elements(LINES as u64));
        group.bench_function("jq_c/lines", |b| b.iter(|| jq(&file)));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("jq_c/bytes", |b| b.iter(|| jq(&file)));
    } else {
        eprintln!("jq is not installed: input/jq_c skipped");
    }
    group.finish();
}

criterion_group!(benches, input_bench);
criterion_main!(benches);
