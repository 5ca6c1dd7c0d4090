//! Writes one event channel of a trace as JSON lines (one object of its fields per record, in
//! the trace's order), the input `midstream-tui check` reads. Used by
//! `scripts/reliability_events.py` to check a recorded demo's `events` channel.
//!
//!     cargo run --example trace_jsonl -- FILE CHANNEL > CHANNEL.jsonl

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use midstream::model::{FieldValue, Value};
use midstream::trace::{Entry, TraceReader};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(path), Some(channel)) = (args.next().map(PathBuf::from), args.next()) else {
        eprintln!("usage: trace_jsonl FILE CHANNEL");
        return ExitCode::from(2);
    };
    let channel = channel.to_string_lossy().into_owned();
    let mut reader = match TraceReader::open(&path) {
        Ok(reader) => reader,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let id_of = |catalog: &midstream::model::Catalog| {
        catalog
            .channels
            .iter()
            .find(|c| c.name == channel)
            .map(|c| c.id)
    };
    let mut id = id_of(&reader.header().catalog);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut written = 0u64;
    while let Some(entry) = reader.next_entry() {
        match entry {
            Entry::Catalog(catalog) => id = id_of(&catalog),
            Entry::Record(record) if Some(record.channel) == id => {
                let Value::Fields(fields) = &record.value else {
                    eprintln!(
                        "{}: channel {channel} is not an event channel",
                        path.display()
                    );
                    return ExitCode::FAILURE;
                };
                let object: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(name, value)| {
                        let value = match value {
                            FieldValue::Number(x) => serde_json::json!(x),
                            FieldValue::Bool(b) => serde_json::json!(b),
                            FieldValue::Text(s) => serde_json::json!(s),
                        };
                        (name.to_owned(), value)
                    })
                    .collect();
                if writeln!(out, "{}", serde_json::Value::Object(object)).is_err() {
                    return ExitCode::FAILURE;
                }
                written += 1;
            }
            _ => {}
        }
    }
    if let Some(reason) = reader.stop_reason() {
        eprintln!(
            "{}: {written} records of {channel}; {reason:?}",
            path.display()
        );
    }
    if id.is_none() {
        eprintln!("{}: no channel named {channel}", path.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
