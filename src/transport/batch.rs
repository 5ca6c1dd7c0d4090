//! Record batches on the wire, the hot path of every data stream.
//!
//! The bytes are exactly postcard's encoding of a [`RecordBatch`] (so the protocol, the fuzz
//! targets and every older peer are unchanged): a varint count, then per record the varint
//! `channel`, `seq` and `t_ns`, the varint variant index of its [`Value`] and the value. What
//! differs is how they are made. Through serde every field is a call into postcard's flavour,
//! and the encoder grows its buffer one small `extend` at a time; profiled on
//! `quic/midstream/single_stream` that was a tenth of the run on each side. Here a scalar record
//! is written and read in place, and any other value goes through postcard for that value
//! alone.
//!
//! Decoding never has its own opinion about bad input: at the first byte the fast reader does
//! not like, the whole body is decoded again by postcard ([`decode_body`]), so a malformed
//! batch gets postcard's error, and the two can only ever agree (the tests and the
//! `frame_decoder` fuzz target hold them to it).

use super::framing::{FrameError, LENGTH_PREFIX_BYTES, decode_body, finish_frame};
use super::protocol::RecordBatch;
use crate::model::{Record, Value};

/// The variant index of [`Value::Scalar`] in postcard's encoding (declaration order).
const SCALAR: u8 = 0;
/// Bytes of a scalar record at most: three varints of up to 5, 10 and 10 bytes, the variant
/// index and the `f64`.
const MAX_SCALAR_RECORD: usize = 5 + 10 + 10 + 1 + 8;

/// Encodes `batch` as one complete frame (length prefix and body), byte for byte what
/// [`super::framing::encode_frame`] makes of it, refusing a body over `max_len`.
pub fn encode_batch_frame(
    batch: &[Record],
    max_len: usize,
    message: &'static str,
) -> Result<Vec<u8>, FrameError> {
    // The frame is sized for the longest scalar records up front and written through a
    // cursor, so that a record costs no capacity check per byte; it is cut to length at the
    // end (and around any other value, which postcard appends).
    let mut frame = vec![0; LENGTH_PREFIX_BYTES + 10 + batch.len() * MAX_SCALAR_RECORD];
    let mut at = put_varint(&mut frame, LENGTH_PREFIX_BYTES, batch.len() as u64);
    for record in batch {
        if frame.len() - at < MAX_SCALAR_RECORD {
            frame.resize(at + MAX_SCALAR_RECORD, 0);
        }
        at = put_varint(&mut frame, at, u64::from(record.channel));
        at = put_varint(&mut frame, at, record.seq);
        at = put_varint(&mut frame, at, record.t_ns);
        match &record.value {
            Value::Scalar(x) => {
                frame[at] = SCALAR;
                frame[at + 1..at + 9].copy_from_slice(&x.to_le_bytes());
                at += 9;
            }
            other => {
                frame.truncate(at);
                frame = postcard::to_extend(other, frame)
                    .map_err(|source| FrameError::Encode { message, source })?;
                at = frame.len();
            }
        }
    }
    frame.truncate(at);
    finish_frame(frame, max_len)
}

/// Decodes a frame body that must hold exactly one [`RecordBatch`]: the same result, value or
/// error, as [`decode_body`] gives.
pub fn decode_batch(body: &[u8], message: &'static str) -> Result<RecordBatch, FrameError> {
    match read_batch(body) {
        Some(batch) => Ok(batch),
        None => decode_body(body, message),
    }
}

/// The fast reader: `None` wherever the body is not a well-formed batch with nothing after it.
fn read_batch(body: &[u8]) -> Option<RecordBatch> {
    let mut input = Input { bytes: body };
    let count = input.varint_u64()?;
    // Each record takes at least 4 bytes, so a count the body cannot hold is refused before
    // anything is allocated for it (postcard then gives its own error).
    if count > (body.len() / 4) as u64 {
        return None;
    }
    let mut batch = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let channel = input.varint_u32()?;
        let seq = input.varint_u64()?;
        let t_ns = input.varint_u64()?;
        let value = match input.bytes {
            [SCALAR, rest @ ..] if rest.len() >= 8 => {
                let (x, rest) = rest.split_at(8);
                input.bytes = rest;
                Value::Scalar(f64::from_le_bytes(x.try_into().ok()?))
            }
            _ => {
                let (value, rest) = postcard::take_from_bytes::<Value>(input.bytes).ok()?;
                input.bytes = rest;
                value
            }
        };
        batch.push(Record {
            channel,
            seq,
            t_ns,
            value,
        });
    }
    input.bytes.is_empty().then_some(batch)
}

/// Writes `x` at `at` as unsigned LEB128, as postcard writes every integer wider than a byte,
/// and returns where it ends. `out` must have room for 10 bytes from `at`.
fn put_varint(out: &mut [u8], mut at: usize, mut x: u64) -> usize {
    while x >= 0x80 {
        out[at] = x as u8 | 0x80;
        x >>= 7;
        at += 1;
    }
    out[at] = x as u8;
    at + 1
}

struct Input<'a> {
    bytes: &'a [u8],
}

impl Input<'_> {
    /// A varint of at most `max_bytes` bytes whose value fits in `bits`, accepted exactly when
    /// postcard accepts it (its `try_take_varint_*`: a longer one, or a last byte with bits
    /// beyond the type, is refused; a padded one such as `80 00` is not).
    fn varint(&mut self, max_bytes: usize, bits: u32) -> Option<u64> {
        let bytes = self.bytes;
        let mut out = 0u64;
        for (i, &byte) in bytes.iter().take(max_bytes).enumerate() {
            out |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                let last_byte_max = (1u16 << (bits - 7 * (max_bytes as u32 - 1))) - 1;
                if i == max_bytes - 1 && u16::from(byte) > last_byte_max {
                    return None;
                }
                self.bytes = &bytes[i + 1..];
                return Some(out);
            }
        }
        None
    }

    fn varint_u32(&mut self) -> Option<u32> {
        self.varint(5, 32).map(|x| x as u32)
    }

    fn varint_u64(&mut self) -> Option<u64> {
        self.varint(10, 64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldValue, Fields};
    use crate::transport::framing::encode_frame;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => any::<f64>().prop_map(Value::Scalar),
            1 => proptest::collection::vec(any::<f64>(), 0..5).prop_map(Value::Vector),
            1 => "[a-z ]{0,12}".prop_map(Value::Token),
            1 => (any::<f64>(), any::<bool>(), "[a-z]{0,4}").prop_map(|(x, b, s)| {
                Value::Fields(Fields::from([
                    ("x".to_owned(), FieldValue::Number(x)),
                    ("ok".to_owned(), FieldValue::Bool(b)),
                    ("s".to_owned(), FieldValue::Text(s)),
                ]))
            }),
        ]
    }

    fn record() -> impl Strategy<Value = Record> {
        // Integers drawn across every varint length, the edges included.
        let wide = prop_oneof![any::<u64>(), 0u64..300, Just(u64::MAX), Just(1 << 63)];
        (any::<u32>(), wide.clone(), wide, value()).prop_map(|(channel, seq, t_ns, value)| Record {
            channel,
            seq,
            t_ns,
            value,
        })
    }

    /// Postcard's own varint bytes and ours agree at each length's edges.
    #[test]
    fn varints_are_postcards() {
        for x in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut ours = [0; 10];
            let end = put_varint(&mut ours, 0, x);
            assert_eq!(ours[..end], postcard::to_allocvec(&x).unwrap(), "{x}");
        }
    }

    /// Over-long and overflowing varints are refused as postcard refuses them; a padded one
    /// is read as postcard reads it.
    #[test]
    fn odd_varints_are_read_as_postcard_reads_them() {
        let cases: [&[u8]; 6] = [
            &[0x80, 0x00],                         // padded zero
            &[0xff, 0xff, 0xff, 0xff, 0x0f],       // u32::MAX
            &[0xff, 0xff, 0xff, 0xff, 0x10],       // u32::MAX + 1
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // six bytes
            &[0x80],                               // cut short
            &[],
        ];
        for bytes in cases {
            let ours = Input { bytes }.varint_u32();
            let theirs = postcard::take_from_bytes::<u32>(bytes).ok().map(|(x, _)| x);
            assert_eq!(ours, theirs, "{bytes:02x?}");
        }
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Input { bytes: &max }.varint_u64(), Some(u64::MAX));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(Input { bytes: &over }.varint_u64(), None);
        assert!(postcard::from_bytes::<u64>(&over).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The frame is postcard's, byte for byte, and reads back the same.
        #[test]
        fn frames_are_postcards_and_read_back(batch in proptest::collection::vec(record(), 0..40)) {
            let ours = encode_batch_frame(&batch, 1 << 20, "batch").unwrap();
            let theirs = encode_frame(&batch, 1 << 20, "batch").unwrap();
            prop_assert_eq!(&ours, &theirs);
            let back = decode_batch(&ours[LENGTH_PREFIX_BYTES..], "batch").unwrap();
            prop_assert_eq!(format!("{back:?}"), format!("{batch:?}")); // NaN-safe
            prop_assert!(read_batch(&ours[LENGTH_PREFIX_BYTES..]).is_some());
        }

        /// Any damage to a batch decodes exactly as postcard decodes it: the same records, or
        /// an error with the same text.
        #[test]
        fn damaged_bodies_decode_as_postcard_decodes_them(
            batch in proptest::collection::vec(record(), 1..8),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            extra in proptest::collection::vec(any::<u8>(), 0..3),
        ) {
            let frame = encode_frame(&batch, 1 << 20, "batch").unwrap();
            let mut body = frame[LENGTH_PREFIX_BYTES..].to_vec();
            let at = flip.index(body.len());
            body[at] = byte;
            body.truncate(cut.index(body.len() + 1).max(1));
            body.extend_from_slice(&extra);
            let ours = decode_batch(&body, "batch").map(|b| format!("{b:?}")).map_err(|e| e.to_string());
            let theirs = decode_body::<RecordBatch>(&body, "batch").map(|b| format!("{b:?}")).map_err(|e| e.to_string());
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn a_body_over_the_limit_is_refused() {
        let batch = vec![
            Record {
                channel: 1,
                seq: 2,
                t_ns: 3,
                value: Value::Scalar(0.5),
            };
            100
        ];
        let err = encode_batch_frame(&batch, 64, "batch").unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { max: 64, .. }), "{err}");
    }
}
