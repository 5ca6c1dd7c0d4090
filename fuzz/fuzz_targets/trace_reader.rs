//! The trace reader over arbitrary bytes: `TraceReader::new("fuzz", data)`, every record, the
//! stop reason; then what was read is written again with the crate's `TraceWriter` and read
//! back.
//!
//! Input: the bytes of a trace file (seeds are traces the writer made, some cut or damaged).
//!
//! Only `header()`, the `Iterator` impl and `stop_reason()` are used, which the reader keeps
//! whether it reads a slice or any `std::io::Read`.
//!
//! Checked: the reader stops once, with a reason (and stays stopped); the reason's offset lies
//! in the input, after the magic, and what it says holds (a truncation names what remains, an
//! oversized length is over the limit, a CRC mismatch differs); every record took at least one
//! frame of the input; a trace written again from what was read reads back to the same header
//! and records, with a clean end.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use midstream::model::{Catalog, Record};
use midstream::trace::{
    FORMAT_VERSION, FRAME_PREFIX_LEN, MAGIC, MAX_FRAME_LEN, StopReason, TraceReader, TraceWriter,
    WriterOptions,
};
use midstream_fuzz::encoding;

/// One file per fuzzing process, rewritten by every input that has records.
fn scratch() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        DIR.get_or_init(|| tempfile::tempdir().expect("a scratch directory"))
            .path()
            .join("again.trace")
    })
}

enum Item {
    Catalog(Catalog),
    Record(Record),
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = TraceReader::new("fuzz", data) else {
        return;
    };
    assert!(data.len() >= MAGIC.len() + FRAME_PREFIX_LEN);
    let version = reader.header().version;
    assert!((1..=FORMAT_VERSION).contains(&version), "version {version}");
    let header = reader.header().clone();

    let mut items = Vec::new();
    let mut catalog = header.catalog.clone();
    let mut records = 0usize;
    while let Some(record) = reader.next() {
        if reader.header().catalog != catalog {
            catalog = reader.header().catalog.clone();
            items.push(Item::Catalog(catalog.clone()));
        }
        assert!(reader.stop_reason().is_none(), "a record after the stop");
        items.push(Item::Record(record));
        records += 1;
    }
    if reader.header().catalog != catalog {
        catalog = reader.header().catalog.clone();
        items.push(Item::Catalog(catalog.clone()));
    }
    // Every record is a frame: a prefix and a non-empty body.
    assert!(MAGIC.len() + (records + 1) * (FRAME_PREFIX_LEN + 1) <= data.len());
    let stop = reader
        .stop_reason()
        .cloned()
        .expect("a stopped reader says why");
    assert!(reader.next().is_none() && reader.stop_reason() == Some(&stop));
    let len = data.len() as u64;
    let first = (MAGIC.len() + FRAME_PREFIX_LEN + 1) as u64;
    match &stop {
        StopReason::CleanEnd => {}
        StopReason::Truncated {
            offset,
            needed,
            available,
        } => {
            assert!(
                *offset >= first && *offset <= len,
                "{stop:?} in {len} bytes"
            );
            assert_eq!(*available, len - offset, "{stop:?}");
            assert!(needed > available, "{stop:?}");
        }
        StopReason::Oversized { offset, length } => {
            assert!(*offset >= first && offset + (FRAME_PREFIX_LEN as u64) <= len);
            assert!(*length > MAX_FRAME_LEN as u64);
        }
        StopReason::BadCrc {
            offset,
            expected,
            found,
        } => {
            assert!(*offset >= first && offset + (FRAME_PREFIX_LEN as u64) <= len);
            assert_ne!(expected, found);
        }
        StopReason::Malformed { offset, .. } => {
            assert!(*offset >= first && offset + (FRAME_PREFIX_LEN as u64) <= len);
        }
        StopReason::Io { .. } => panic!("reading a slice cannot fail: {stop}"),
    }
    let _ = stop.to_string();
    if items.is_empty() && !stop.is_clean() {
        return;
    }

    // What was read, written again, reads back the same (as version 2).
    let path = scratch();
    let mut writer =
        TraceWriter::create(path, &header, WriterOptions::default()).expect("scratch trace");
    for item in &items {
        let written = match item {
            Item::Catalog(catalog) => writer.append_catalog(catalog),
            Item::Record(record) => writer.append(record),
        };
        written.expect("what was read from a trace is written again");
    }
    writer.finish().expect("scratch trace finished");
    let bytes = std::fs::read(path).expect("scratch trace read");
    let mut again = TraceReader::new("again", &bytes[..]).expect("a written trace reads back");
    assert_eq!(again.header().version, FORMAT_VERSION);
    assert_eq!(encoding(&again.header().source), encoding(&header.source));
    assert_eq!(again.header().started_unix_ns, header.started_unix_ns);
    let mut read_again = Vec::new();
    while let Some(record) = again.next() {
        read_again.push(encoding(&record));
    }
    assert_eq!(again.stop_reason(), Some(&StopReason::CleanEnd));
    let written: Vec<Vec<u8>> = items
        .iter()
        .filter_map(|item| match item {
            Item::Record(record) => Some(encoding(record)),
            Item::Catalog(_) => None,
        })
        .collect();
    assert!(read_again == written, "records differ after writing again");
    assert_eq!(encoding(&again.header().catalog), encoding(&catalog));
});
