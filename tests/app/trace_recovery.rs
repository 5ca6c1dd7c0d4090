//! Trace files: round trip, recovery after truncation at any byte, and damage found by CRC.

use midstream::model::{Catalog, ChannelInfo, ChannelKind, FieldValue, Fields, Record, Value};
use midstream::trace::{
    StopReason, TraceError, TraceHeader, TraceWriter, WriterOptions, read_trace,
};
use proptest::prelude::*;

fn header() -> TraceHeader {
    TraceHeader {
        version: midstream::trace::FORMAT_VERSION,
        started_unix_ns: 1_700_000_000_000_000_000,
        source: "test".into(),
        catalog: Catalog {
            source: "test".into(),
            channels: vec![
                ChannelInfo {
                    id: 0,
                    name: "x".into(),
                    kind: ChannelKind::Scalar,
                    unit: None,
                    period_s: Some(0.01),
                },
                ChannelInfo {
                    id: 1,
                    name: "ev".into(),
                    kind: ChannelKind::Event {
                        fields: vec!["latency_ms".into(), "error".into()],
                    },
                    unit: Some("ms".into()),
                    period_s: None,
                },
            ],
        },
    }
}

fn records(n: u64) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let value = match i % 4 {
                0 => Value::Scalar(i as f64 * 0.5 - 3.0),
                1 => Value::Vector(vec![i as f64, -(i as f64), 1e-9]),
                2 => Value::Fields(Fields::from([
                    ("latency_ms".to_string(), FieldValue::Number(i as f64)),
                    ("error".to_string(), FieldValue::Bool(i % 3 == 0)),
                    ("status".to_string(), FieldValue::Text("ok".into())),
                ])),
                _ => Value::Token(format!("tok{i}é")),
            };
            Record {
                channel: (i % 2) as u32,
                seq: i / 2,
                t_ns: i * 1_000_000,
                value,
            }
        })
        .collect()
}

fn write(path: &std::path::Path, recs: &[Record]) {
    let mut w = TraceWriter::create(path, &header(), WriterOptions::default()).unwrap();
    for r in recs {
        w.append(r).unwrap();
    }
    assert_eq!(w.finish().unwrap(), recs.len() as u64);
}

#[test]
fn round_trip_keeps_every_record_and_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.mtr");
    let recs = records(1000);
    write(&path, &recs);
    let back = read_trace(&path).unwrap();
    assert_eq!(back.header, header());
    assert_eq!(back.records, recs);
    assert_eq!(back.stop, StopReason::CleanEnd);
}

#[test]
fn empty_trace_is_a_clean_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.mtr");
    write(&path, &[]);
    let back = read_trace(&path).unwrap();
    assert!(back.records.is_empty());
    assert!(back.stop.is_clean());
}

/// Byte offsets where each record's frame ends (index 0: the header), found by writing
/// prefixes of the trace without their footer, then the end of the whole trace: its footer
/// (the index frame and the trailer) is the last unit a reader checks.
fn frame_ends(dir: &std::path::Path, recs: &[Record]) -> Vec<u64> {
    let mut ends: Vec<u64> = (0..=recs.len())
        .map(|k| {
            let p = dir.join(format!("prefix{k}"));
            let mut w = TraceWriter::create(&p, &header(), WriterOptions::default()).unwrap();
            for r in &recs[..k] {
                w.append(r).unwrap();
            }
            w.flush().unwrap();
            drop(w);
            std::fs::metadata(&p).unwrap().len()
        })
        .collect();
    let p = dir.join("whole");
    write(&p, recs);
    ends.push(std::fs::metadata(&p).unwrap().len());
    ends
}

#[test]
fn truncation_at_every_byte_recovers_every_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records(40);
    let ends = frame_ends(dir.path(), &recs);
    let full = dir.path().join("full");
    write(&full, &recs);
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.path().join("cut");
    for len in 0..=bytes.len() {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let result = read_trace(&cut);
        if (len as u64) < ends[0] {
            // The magic or the header is incomplete: nothing to recover, and it says why.
            let err = result.unwrap_err();
            assert!(
                matches!(
                    err,
                    TraceError::NotATrace { .. } | TraceError::BadHeader { .. }
                ),
                "len {len}: {err}"
            );
            continue;
        }
        let back = result.unwrap();
        let complete = (ends.iter().filter(|&&e| e <= len as u64).count() - 1).min(recs.len());
        assert_eq!(back.records, recs[..complete], "cut at {len}");
        if ends.contains(&(len as u64)) {
            assert_eq!(back.stop, StopReason::CleanEnd, "cut at {len}");
        } else {
            match back.stop {
                StopReason::Truncated { offset, .. } => assert_eq!(offset, ends[complete]),
                other => panic!("cut at {len}: expected truncation, got {other}"),
            }
        }
    }
}

/// A 60-record trace and the byte offsets where each of its frames ends (index 0: the header).
static FLIP_FIXTURE: std::sync::LazyLock<(Vec<Record>, Vec<u64>, Vec<u8>)> =
    std::sync::LazyLock::new(|| {
        let dir = tempfile::tempdir().unwrap();
        let recs = records(60);
        let ends = frame_ends(dir.path(), &recs);
        let path = dir.path().join("t");
        write(&path, &recs);
        let bytes = std::fs::read(&path).unwrap();
        (recs, ends, bytes)
    });

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Flipping any bits of one byte after the header keeps every record before the damaged
    /// frame, and the damage is found (by CRC, or as an impossible length).
    #[test]
    fn flipped_bytes_are_detected(position in 0usize..10_000, mask in 1u8..=255) {
        let (recs, ends, original) = &*FLIP_FIXTURE;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let mut bytes = original.clone();
        let header_end = ends[0] as usize;
        let at = header_end + position % (bytes.len() - header_end);
        bytes[at] ^= mask;
        std::fs::write(&path, &bytes).unwrap();
        let back = read_trace(&path).unwrap();
        // The damaged frame is the one whose span contains `at`.
        let damaged = ends.iter().position(|&e| e as usize > at).unwrap() - 1;
        prop_assert_eq!(&back.records[..], &recs[..damaged.min(recs.len())]);
        let offset = match back.stop {
            StopReason::BadCrc { offset, .. }
            | StopReason::Oversized { offset, .. }
            | StopReason::Truncated { offset, .. }
            | StopReason::Malformed { offset, .. }
            | StopReason::Io { offset, .. } => offset,
            StopReason::CleanEnd => panic!("damage at byte {at} not detected"),
        };
        prop_assert_eq!(offset, ends[damaged]);
    }
}

#[test]
fn not_a_trace_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk");
    std::fs::write(&path, b"hello world, this is not a trace").unwrap();
    let err = read_trace(&path).unwrap_err().to_string();
    assert!(err.contains("not a Midstream trace"), "{err}");
    assert!(err.contains("junk"), "{err}");
}

#[test]
fn bytes_after_the_footer_are_named_and_every_record_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.mtr");
    let recs = records(100);
    write(&path, &recs);
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    let index_at = u64::from_le_bytes(bytes[len - 16..len - 8].try_into().unwrap());
    bytes.push(0);
    std::fs::write(&path, &bytes).unwrap();
    let back = read_trace(&path).unwrap();
    assert_eq!(back.records, recs);
    match back.stop {
        StopReason::Malformed { offset, reason } => {
            assert_eq!(offset, index_at);
            assert!(reason.contains("after the index"), "{reason}");
        }
        other => panic!("expected the footer to be named, got {other}"),
    }
}
