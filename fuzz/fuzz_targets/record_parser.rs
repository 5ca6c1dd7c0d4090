//! The text record parser (`sources::text::RecordParser`) on arbitrary bytes split into lines,
//! as the live input feeds it; then the same text through the headless commands' readers
//! (`read_column_from_text`, `parse_numbers`) and the tokenizer.
//!
//! Input: `[options: u8][bytes]`. The options byte picks the format (JSONL, CSV, columns, or
//! inferred from the first non-blank line as `open` does), the time field, the text field and
//! the channel limit. The bytes are split on `\n`; a line that is not UTF-8 is skipped, as the
//! input reader skips it.
//!
//! Checked, after every line: every record's channel is in the catalog the parser hands out
//! (`take_catalog`, called after each line as the input reader does), its value fits the
//! channel's kind, and each channel's `seq` counts up from 0 without a gap; an event's fields
//! are listed in the event channel; channel ids are their positions; the catalog only grows and
//! stays within the channel limit; the statistics count the lines and records. The column
//! reader and the numbers parser only return finite numbers; tokens are non-empty words.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use midstream::model::{Catalog, ChannelKind, Value};
use midstream::sources::text::{
    Format, ParserOptions, RecordParser, parse_numbers, read_column_from_text, tokenize,
};

const NAME: &str = "src";

/// The catalog before a line is a prefix of the one after: channels are only added, the event
/// channel's fields only grow.
fn grows(before: &Catalog, after: &Catalog) {
    assert!(after.channels.len() >= before.channels.len());
    for (old, new) in before.channels.iter().zip(&after.channels) {
        assert_eq!((old.id, &old.name), (new.id, &new.name));
        match (&old.kind, &new.kind) {
            (ChannelKind::Event { fields: old }, ChannelKind::Event { fields: new }) => {
                assert!(new.starts_with(old), "event fields {old:?} became {new:?}");
            }
            (old, new) => assert_eq!(old, new),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, bytes)) = data.split_first() else {
        return;
    };
    let format = match options & 3 {
        0 => Some(Format::Jsonl),
        1 => Some(Format::Csv),
        2 => Some(Format::Columns),
        _ => None,
    };
    let time_field = [None, Some("t"), Some("time"), Some("c1")][usize::from(options >> 2 & 3)];
    let text_field = [None, Some("msg"), Some("c2"), Some(NAME)][usize::from(options >> 4 & 3)];
    let max_channels = [4096, 3, 1, 64][usize::from(options >> 6)];

    let mut parser: Option<RecordParser> = None;
    let mut catalog: Option<Catalog> = None;
    let mut seqs: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut lines = 0u64;
    let mut records = 0u64;
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let line_no = index as u64 + 1;
        if parser.is_none() && line.trim().is_empty() {
            continue;
        }
        let parser = parser.get_or_insert_with(|| {
            RecordParser::new(ParserOptions {
                format: format.unwrap_or_else(|| Format::from_first_line(line)),
                name: NAME.to_owned(),
                time_field: time_field.map(str::to_owned),
                text_field: text_field.map(str::to_owned),
                max_channels,
            })
        });
        let arrival_ns = line_no * 1000;
        let fatal = parser.parse_line(line_no, line, arrival_ns, &mut out, &mut problems);
        lines += 1;
        if let Some(new) = parser.take_catalog() {
            if let Some(old) = &catalog {
                grows(old, &new);
            }
            catalog = Some(new);
        }
        let catalog = catalog
            .as_ref()
            .expect("the first call hands out the catalog");
        assert_eq!(catalog, parser.catalog());
        assert!(catalog.channels.len() <= max_channels.max(1));
        for (i, channel) in catalog.channels.iter().enumerate() {
            assert_eq!(channel.id as usize, i);
        }
        seqs.resize(catalog.channels.len(), 0);
        for record in out.drain(..) {
            let channel = catalog.channel(record.channel).unwrap_or_else(|| {
                panic!("record for channel {} not in the catalog", record.channel)
            });
            assert_eq!(record.seq, seqs[record.channel as usize], "{record:?}");
            seqs[record.channel as usize] += 1;
            if time_field.is_none() {
                assert_eq!(record.t_ns, arrival_ns);
            }
            match (&channel.kind, &record.value) {
                (ChannelKind::Scalar, Value::Scalar(x)) => assert!(x.is_finite()),
                (ChannelKind::Text, Value::Token(token)) => assert!(!token.is_empty()),
                (ChannelKind::Event { fields }, Value::Fields(values)) => {
                    for name in values.keys() {
                        assert!(
                            fields.iter().any(|f| f == name),
                            "field {name:?} not in {fields:?}"
                        );
                    }
                }
                (kind, value) => panic!("a {value:?} on a {kind:?} channel"),
            }
            records += 1;
        }
        for problem in problems.drain(..) {
            assert_eq!(problem.line, line_no);
        }
        assert_eq!(parser.stats.lines, lines);
        assert_eq!(parser.stats.records, records);
        if fatal.is_err() {
            break;
        }
    }

    // The headless readers take text.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let ext = match format {
        Some(Format::Jsonl) => "in.jsonl",
        Some(Format::Csv) => "in.csv",
        Some(Format::Columns) => "in.txt",
        None => "-",
    };
    for column in ["x", "c1", "t"] {
        if let Ok(values) = read_column_from_text(Path::new(ext), text, column) {
            assert!(values.iter().all(|x| x.is_finite()));
        }
    }
    if let Ok(values) = parse_numbers(Path::new("in.txt"), text) {
        assert!(values.iter().all(|x| x.is_finite()));
    }
    for token in tokenize(text) {
        assert!(
            !token.is_empty() && !token.contains(char::is_whitespace),
            "{token:?}"
        );
    }
});
