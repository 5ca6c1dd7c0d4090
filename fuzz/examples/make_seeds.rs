//! Writes the seed inputs of every fuzz target to `fuzz/seeds/<target>/`, made with the crate's
//! own encoders (frames, messages, trace writer) so they are valid inputs the fuzzer can mutate.
//!
//! ```text
//! cd fuzz && cargo run --example make_seeds
//! ```
//!
//! Files are overwritten; other files in `seeds/` (crash inputs kept as regression seeds) are
//! left alone.

use std::path::{Path, PathBuf};

use midstream::model::{Catalog, ChannelInfo, ChannelKind, FieldValue, Fields, Record, Value};
use midstream::trace::{FORMAT_VERSION, MAGIC, TraceHeader, TraceWriter, WriterOptions};
use midstream::transport::framing::encode_frame;
use midstream::transport::protocol::{
    ClientMessage, DataStreamHeader, MAX_CONTROL_FRAME_BYTES, PROTOCOL_VERSION, ServerMessage,
};

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = seeds_dir().join(target);
    std::fs::create_dir_all(&dir).expect("seed directory");
    std::fs::write(dir.join(name), bytes).expect("seed file");
}

fn frame<T: serde::Serialize>(value: &T) -> Vec<u8> {
    encode_frame(value, MAX_CONTROL_FRAME_BYTES, "seed").expect("a seed frame encodes")
}

fn channel(id: u32, name: &str, kind: ChannelKind) -> ChannelInfo {
    ChannelInfo {
        id,
        name: name.to_owned(),
        kind,
        unit: None,
        period_s: Some(0.01),
    }
}

fn catalog() -> Catalog {
    Catalog {
        source: "seed".to_owned(),
        channels: vec![
            channel(
                0,
                "events",
                ChannelKind::Event {
                    fields: vec!["level".into(), "ok".into()],
                },
            ),
            channel(1, "x", ChannelKind::Scalar),
            channel(7, "v", ChannelKind::Vector { dims: 2 }),
            channel(3, "words", ChannelKind::Text),
        ],
    }
}

fn records() -> Vec<Record> {
    let fields: Fields = [
        ("level".to_owned(), FieldValue::Number(2.5)),
        ("ok".to_owned(), FieldValue::Bool(true)),
        ("msg".to_owned(), FieldValue::Text("hi".into())),
    ]
    .into();
    vec![
        Record {
            channel: 1,
            seq: 0,
            t_ns: 1_000,
            value: Value::Scalar(-1.5),
        },
        Record {
            channel: 7,
            seq: 0,
            t_ns: 2_000,
            value: Value::Vector(vec![1.0, 2.0]),
        },
        Record {
            channel: 0,
            seq: 0,
            t_ns: 3_000,
            value: Value::Fields(fields),
        },
        Record {
            channel: 3,
            seq: 0,
            t_ns: 4_000,
            value: Value::Token("word".into()),
        },
    ]
}

/// `[limit][no chunk sizes]` or `[limit][n][n sizes]`, then the stream.
fn frame_input(limit: u8, chunks: &[u16], stream: &[u8]) -> Vec<u8> {
    let mut input = vec![limit, chunks.len() as u8];
    for size in chunks {
        input.extend(size.to_le_bytes());
    }
    input.extend(stream);
    input
}

fn frame_decoder() {
    let hello = frame(&ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        token: Some("secret".into()),
    });
    let subscribe = frame(&ClientMessage::Subscribe {
        channels: vec![1, 7],
    });
    let handshake = [hello.clone(), subscribe].concat();
    write(
        "frame_decoder",
        "hello-subscribe",
        &frame_input(0, &[], &handshake),
    );
    write(
        "frame_decoder",
        "hello-subscribe-chunked",
        &frame_input(0, &[1, 3, 2], &handshake),
    );
    write(
        "frame_decoder",
        "catalog",
        &frame_input(0, &[], &frame(&ServerMessage::Catalog(catalog()))),
    );
    let data = [
        frame(&DataStreamHeader { channel: 7 }),
        frame(&records()[..2].to_vec()),
        frame(&records()[2..].to_vec()),
    ]
    .concat();
    write("frame_decoder", "data-stream", &frame_input(1, &[5], &data));
    write(
        "frame_decoder",
        "truncated",
        &frame_input(0, &[], &hello[..hello.len() - 3]),
    );
    write("frame_decoder", "too-large", &frame_input(2, &[], &data));
}

fn trace(path: &Path, records: &[Record], grow: bool) -> Vec<u8> {
    let header = TraceHeader {
        version: FORMAT_VERSION,
        started_unix_ns: 1_700_000_000_000_000_000,
        source: "seed".into(),
        catalog: Catalog {
            source: "seed".into(),
            channels: catalog().channels[..2].to_vec(),
        },
    };
    let mut writer = TraceWriter::create(path, &header, WriterOptions::default()).expect("trace");
    for (i, record) in records.iter().enumerate() {
        if grow && i == 1 {
            writer.append_catalog(&catalog()).expect("catalog");
        }
        writer.append(record).expect("record");
    }
    writer.finish().expect("finish");
    std::fs::read(path).expect("read trace")
}

/// A version 1 trace (bare records after the header), which the reader still reads.
fn trace_v1(records: &[Record]) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    let mut frame = |body: Vec<u8>| {
        bytes.extend((body.len() as u32).to_le_bytes());
        bytes.extend(crc32fast::hash(&body).to_le_bytes());
        bytes.extend(body);
    };
    frame(
        postcard::to_allocvec(&TraceHeader {
            version: 1,
            started_unix_ns: 5,
            source: "v1".into(),
            catalog: catalog(),
        })
        .expect("header"),
    );
    for record in records {
        frame(postcard::to_allocvec(record).expect("record"));
    }
    bytes
}

fn trace_reader() {
    let dir = tempfile::tempdir().expect("scratch");
    let path = dir.path().join("seed.trace");
    let full = trace(&path, &records(), true);
    write("trace_reader", "v2-records-catalog", &full);
    write("trace_reader", "v2-empty", &trace(&path, &[], false));
    write("trace_reader", "v2-cut", &full[..full.len() - 5]);
    let mut damaged = full.clone();
    let last = damaged.len() - 2;
    damaged[last] ^= 0x40;
    write("trace_reader", "v2-bad-crc", &damaged);
    write("trace_reader", "v1-records", &trace_v1(&records()));
}

fn ltl_parser() {
    let formulas: [(&str, &[u8]); 8] = [
        (
            "G(error -> F recovery)",
            b"\x01\x02\x03\x04\x05\x06\x07\x08",
        ),
        ("latency < 50 U queue_depth == 0", b"\x03\x00\x01\x02\x09"),
        ("G(latency_ms < 1000)", b""),
        ("X p & !X X q | p W q", b"\x05\x01\x00\x01\x01\x00"),
        ("(a R b) <-> G F c", b"\x07\x02\x03\x01\x00\x02"),
        (
            "`queue depth` >= -2.5e1 -> status != \"down\\n\"",
            b"\x02\x04\x05",
        ),
        (
            "50 < latency & ok == true & name == \"x\\u{e9}\"",
            b"\x04\x01\x02\x03",
        ),
        ("G(p -> X(q U r))", b"\x06\x00\x01\x02\x03\x04\x05"),
    ];
    for (i, (formula, states)) in formulas.iter().enumerate() {
        let mut input = formula.as_bytes().to_vec();
        if !states.is_empty() {
            input.push(0);
            input.extend(*states);
        }
        write("ltl_parser", &format!("formula-{i}"), &input);
    }
}

fn config_file() {
    let shipped = include_str!("../../assets/config.toml");
    write("config_file", "shipped-default", shipped.as_bytes());
    write(
        "config_file",
        "everything",
        br#"formulas = ["G(latency_ms < 1000)", "G(error -> F !error)"]
capture_samples = 128
pattern_dir = "saved"

[[pattern]]
name = "dip"
file = "dip.txt"

[[pattern]]
name = "saw"
values = [0, 1, 2, 3, 0, 1, 2, 3]
"#,
    );
    write(
        "config_file",
        "bad-pattern-file",
        b"[[pattern]]\nname = \"b\"\nfile = \"bad.txt\"\n",
    );
    write(
        "config_file",
        "syntax-error",
        b"formulas = [\"a\"]\ncapture_samples = \"many\"\n",
    );
}

fn record_parser() {
    // Options byte: bits 0-1 format (jsonl, csv, columns, inferred), 2-3 time field (none, t,
    // time, c1), 4-5 text field (none, msg, c2, src), 6-7 channel limit (4096, 3, 1, 64).
    let jsonl = b"{\"t\": 0.0, \"x\": 1, \"msg\": \"hello world.\", \"ok\": true}\n\
{\"t\": 0.5, \"x\": 2.5, \"nested\": {\"y\": -1}}\n\
{\"t\": 1.0, \"x\": \"oops\"}\n\
not json\n\
{\"t\": \"2024-01-01T00:00:01Z\", \"x\": 3}\n";
    write(
        "record_parser",
        "jsonl-time-text",
        &[&[0b0001_0100][..], jsonl].concat(),
    );
    write(
        "record_parser",
        "jsonl-inferred",
        &[&[0b0000_0011][..], jsonl].concat(),
    );
    let csv = b"time,x,c2\n0,1.5,\"a, b\"\n1,-2,c\n2,oops,d\n3,4\n\"unterminated\n";
    write(
        "record_parser",
        "csv-time",
        &[&[0b0010_1001][..], csv].concat(),
    );
    write(
        "record_parser",
        "csv-limit",
        &[&[0b0100_0001][..], csv].concat(),
    );
    let columns = b"procs memory\n r b\n1 2\n3 4\nr b\n5 x\n6 7 8\n";
    write(
        "record_parser",
        "columns",
        &[&[0b0000_0010][..], columns].concat(),
    );
    write(
        "record_parser",
        "columns-bad-utf8",
        &[&[0b1110_0010][..], b"1 2\n\xff\xfe 3\n4 5\n"].concat(),
    );
    write(
        "record_parser",
        "numbers",
        &[&[0b0000_0011][..], b"1\n 2.5 \n# c\n-3e2\n"].concat(),
    );
}

fn control_messages() {
    let hello = |token: Option<&str>| {
        frame(&ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            token: token.map(str::to_owned),
        })
    };
    let subscribe = frame(&ClientMessage::Subscribe {
        channels: vec![7, 0, 4095],
    });
    // Server side: mode bit 0 = 0; bits 1-2 = token (none, "secret", "").
    write(
        "control_messages",
        "server-open",
        &[&[0][..], &hello(None), &subscribe].concat(),
    );
    write(
        "control_messages",
        "server-token",
        &[&[2][..], &hello(Some("secret")), &subscribe].concat(),
    );
    write(
        "control_messages",
        "server-wrong-token",
        &[&[2][..], &hello(Some("secreT"))].concat(),
    );
    let old = frame(&ClientMessage::Hello {
        version: 0,
        token: None,
    });
    write(
        "control_messages",
        "server-old-version",
        &[&[0][..], &old].concat(),
    );
    // Client side: mode bit 0 = 1; bit 1 = subscribed to every channel.
    let mut grown = catalog();
    grown.channels.push(channel(9, "late", ChannelKind::Scalar));
    write(
        "control_messages",
        "client-catalog-update",
        &[
            &[3][..],
            &frame(&ServerMessage::Catalog(catalog())),
            &frame(&ServerMessage::CatalogUpdate(grown)),
        ]
        .concat(),
    );
    write(
        "control_messages",
        "client-reject",
        &[
            &[1][..],
            &frame(&ServerMessage::Reject {
                reason: "token does not match".into(),
            }),
        ]
        .concat(),
    );
    let mut twice = catalog();
    twice.channels.push(channel(1, "again", ChannelKind::Text));
    write(
        "control_messages",
        "client-duplicate-id",
        &[&[1][..], &frame(&ServerMessage::Catalog(twice))].concat(),
    );
}

fn main() {
    frame_decoder();
    trace_reader();
    ltl_parser();
    config_file();
    record_parser();
    control_messages();
    println!("seeds written to {}", seeds_dir().display());
}
