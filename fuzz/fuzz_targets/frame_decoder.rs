//! The transport's frame reader (`transport::framing`) over an arbitrary byte stream, read in
//! chunks of arbitrary sizes, then every frame body decoded as each message of the protocol.
//!
//! Input: `[limit: u8][n: u8][n chunk sizes: u16 LE][stream]` (see `midstream_fuzz::split_chunks`;
//! the limit byte picks the frame size limit).
//!
//! Checked: `read_frame` gives exactly what a plain model of the format gives (the body is the
//! announced bytes of the stream, never more than the stream had, the errors say how many bytes
//! there were), whatever the chunking; `read_message` agrees with `read_frame` + `decode_body`;
//! a decoded message encodes again to a frame no longer than the one read, which decodes to the
//! same message; the data streams' batch codec agrees with postcard on every body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use midstream::transport::batch::{decode_batch, encode_batch_frame};
use midstream::transport::framing::{
    FrameError, LENGTH_PREFIX_BYTES, decode_body, encode_frame, read_frame, read_message,
};
use midstream::transport::protocol::{
    ClientMessage, DataStreamHeader, MAX_CONTROL_FRAME_BYTES, MAX_DATA_FRAME_BYTES, RecordBatch,
    ServerMessage,
};
use midstream_fuzz::{Chunked, encoding, now, split_chunks};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What one `read_frame` must return on `rest`, by the format alone.
#[derive(Debug, PartialEq)]
enum Expected<'a> {
    End,
    Frame(&'a [u8]),
    ShortPrefix(usize),
    TooLarge(u64),
    Empty,
    ShortBody { expected: usize, got: usize },
}

fn model(rest: &[u8], max_len: usize) -> Expected<'_> {
    if rest.is_empty() {
        return Expected::End;
    }
    if rest.len() < LENGTH_PREFIX_BYTES {
        return Expected::ShortPrefix(rest.len());
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if len > max_len {
        return Expected::TooLarge(len as u64);
    }
    if len == 0 {
        return Expected::Empty;
    }
    let body = &rest[LENGTH_PREFIX_BYTES..];
    if body.len() < len {
        return Expected::ShortBody {
            expected: len,
            got: body.len(),
        };
    }
    Expected::Frame(&body[..len])
}

/// Decodes `body` as a `T`; when it is one, checks that it encodes again (as a whole frame) to
/// no more bytes than it came in, and that the new frame reads back to the same value.
fn decodes_as<T: Serialize + DeserializeOwned>(body: &[u8], max_len: usize, name: &'static str) {
    let Ok(value) = decode_body::<T>(body, name) else {
        return;
    };
    let frame = encode_frame(&value, max_len, name)
        .unwrap_or_else(|e| panic!("a {name} read from a frame does not encode again: {e}"));
    assert!(
        frame.len() - LENGTH_PREFIX_BYTES <= body.len(),
        "{name}: decoded from {} bytes, encodes to {}",
        body.len(),
        frame.len() - LENGTH_PREFIX_BYTES
    );
    let mut reader = Chunked::new(&frame, &[]);
    let again: T = now(read_message(&mut reader, max_len, name))
        .expect("a frame we encoded reads back")
        .expect("and is not the end of the stream");
    assert_eq!(encoding(&again), encoding(&value), "{name} round trip");
}

/// The data streams' own batch codec (`transport::batch`) reads every body exactly as
/// postcard does, error text included, and writes postcard's bytes.
fn batch_codec_agrees(body: &[u8], max_len: usize) {
    let ours = decode_batch(body, "record batch");
    let theirs = decode_body::<RecordBatch>(body, "record batch");
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert_eq!(encoding(a), encoding(b), "batch codec read differently"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("batch codec gave {ours:?}, postcard {theirs:?}"),
    }
    if let Ok(batch) = theirs {
        let a = encode_batch_frame(&batch, max_len, "record batch").map_err(|e| e.to_string());
        let b = encode_frame(&batch, max_len, "record batch").map_err(|e| e.to_string());
        assert_eq!(a, b, "batch codec wrote differently");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, data)) = data.split_first() else {
        return;
    };
    let max_len = match limit % 4 {
        0 => MAX_CONTROL_FRAME_BYTES,
        1 => MAX_DATA_FRAME_BYTES,
        2 => 64,
        _ => usize::from(limit),
    };
    let (chunks, stream) = split_chunks(data);

    let mut reader = Chunked::new(stream, &chunks);
    let mut body = Vec::new();
    let mut frames = 0;
    loop {
        let before = reader.consumed;
        let expected = model(reader.remaining(), max_len);
        let got = now(read_frame(&mut reader, max_len, &mut body));
        match (&expected, got) {
            (Expected::End, Ok(false)) => break,
            (Expected::Frame(want), Ok(true)) => {
                assert_eq!(&body[..], *want, "frame {frames}: body");
                assert_eq!(reader.consumed, before + LENGTH_PREFIX_BYTES + want.len());
            }
            (
                Expected::ShortPrefix(n),
                Err(FrameError::Truncated {
                    part,
                    expected,
                    got,
                }),
            ) => {
                assert_eq!(
                    (part, expected, got),
                    ("length prefix", LENGTH_PREFIX_BYTES, *n)
                );
                break;
            }
            (Expected::TooLarge(n), Err(FrameError::TooLarge { len, max })) => {
                assert_eq!((len, max), (*n, max_len));
                // Refused before the body was read.
                assert_eq!(reader.consumed, before + LENGTH_PREFIX_BYTES);
                break;
            }
            (Expected::Empty, Err(FrameError::Empty)) => break,
            (
                Expected::ShortBody {
                    expected: e,
                    got: g,
                },
                Err(FrameError::Truncated {
                    part,
                    expected,
                    got,
                }),
            ) => {
                assert_eq!((part, expected, got), ("body", *e, *g));
                assert_eq!(reader.consumed, stream.len());
                break;
            }
            (expected, got) => panic!("frame {frames}: expected {expected:?}, got {got:?}"),
        }
        assert!(reader.consumed <= stream.len());
        frames += 1;
        decodes_as::<ClientMessage>(&body, max_len, "Hello");
        decodes_as::<ServerMessage>(&body, max_len, "Catalog");
        decodes_as::<DataStreamHeader>(&body, max_len, "stream header");
        decodes_as::<RecordBatch>(&body, max_len, "record batch");
        batch_codec_agrees(&body, max_len);
    }

    // What the sessions call: `read_message` reads the same first frame and decodes it the same.
    let mut reader = Chunked::new(stream, &chunks);
    let message = now(read_message::<ClientMessage, _>(
        &mut reader,
        max_len,
        "Hello",
    ));
    let direct = match model(stream, max_len) {
        Expected::End => None,
        Expected::Frame(body) => Some(decode_body::<ClientMessage>(body, "Hello")),
        _ => {
            assert!(message.is_err(), "a bad frame read as {message:?}");
            return;
        }
    };
    match (message, direct) {
        (Ok(None), None) => {}
        (Ok(Some(a)), Some(Ok(b))) => assert_eq!(encoding(&a), encoding(&b)),
        (Err(a), Some(Err(b))) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("read_message gave {a:?}, read_frame + decode_body {b:?}"),
    }
});
