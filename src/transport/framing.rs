//! Length-prefixed frames on a byte stream: `[u32 body length, little-endian][postcard body]`.
//!
//! Little-endian because every platform Midstream runs on is, and postcard's own integers are
//! little-endian varints. The reader checks the announced length against a limit *before*
//! reading or allocating the body, rejects empty bodies, and insists that the body decodes to
//! exactly one message with no bytes left over.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// What was wrong with a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: u64, max: usize },
    #[error("empty frame (length 0)")]
    Empty,
    #[error("stream ended inside a frame: {got} of {expected} bytes of the {part}")]
    Truncated {
        part: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("malformed {message} frame body: {source}")]
    Malformed {
        message: &'static str,
        #[source]
        source: postcard::Error,
    },
    #[error("malformed {message} frame body: {trailing} bytes left over after the message")]
    Trailing {
        message: &'static str,
        trailing: usize,
    },
    #[error("cannot encode {message}: {source}")]
    Encode {
        message: &'static str,
        #[source]
        source: postcard::Error,
    },
    #[error("stream error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads into `buf` as much of `part` as the stream gives, up to `buf.len()` bytes; returns how
/// many bytes were read (fewer only at end of stream).
async fn read_fully<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = reader.read(&mut buf[got..]).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// Reads one frame body into `body` (replacing its contents). Returns `Ok(false)` when the
/// stream ended cleanly before the frame started.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: usize,
    body: &mut Vec<u8>,
) -> Result<bool, FrameError> {
    let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
    let got = read_fully(reader, &mut prefix).await?;
    if got == 0 {
        return Ok(false);
    }
    if got < LENGTH_PREFIX_BYTES {
        return Err(FrameError::Truncated {
            part: "length prefix",
            expected: LENGTH_PREFIX_BYTES,
            got,
        });
    }
    let len = u32::from_le_bytes(prefix) as usize;
    if len > max_len {
        return Err(FrameError::TooLarge {
            len: len as u64,
            max: max_len,
        });
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    body.clear();
    body.resize(len, 0);
    let got = read_fully(reader, body).await?;
    if got < len {
        return Err(FrameError::Truncated {
            part: "body",
            expected: len,
            got,
        });
    }
    Ok(true)
}

/// Decodes a frame body that must hold exactly one `T`; `message` names `T` in errors.
pub fn decode_body<T: DeserializeOwned>(
    body: &[u8],
    message: &'static str,
) -> Result<T, FrameError> {
    let (value, rest) = postcard::take_from_bytes::<T>(body)
        .map_err(|source| FrameError::Malformed { message, source })?;
    if !rest.is_empty() {
        return Err(FrameError::Trailing {
            message,
            trailing: rest.len(),
        });
    }
    Ok(value)
}

/// Reads one frame and decodes it as a `T`; `Ok(None)` at a clean end of stream.
pub async fn read_message<T: DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: usize,
    message: &'static str,
) -> Result<Option<T>, FrameError> {
    let mut body = Vec::new();
    if !read_frame(reader, max_len, &mut body).await? {
        return Ok(None);
    }
    decode_body(&body, message).map(Some)
}

/// Encodes `value` as one complete frame (prefix and body), refusing bodies over `max_len`.
pub fn encode_frame<T: Serialize>(
    value: &T,
    max_len: usize,
    message: &'static str,
) -> Result<Vec<u8>, FrameError> {
    let frame = vec![0u8; LENGTH_PREFIX_BYTES];
    let frame = postcard::to_extend(value, frame)
        .map_err(|source| FrameError::Encode { message, source })?;
    finish_frame(frame, max_len)
}

/// Fills in the length prefix of a frame whose body follows its first
/// [`LENGTH_PREFIX_BYTES`] bytes, refusing a body over `max_len`.
pub(super) fn finish_frame(mut frame: Vec<u8>, max_len: usize) -> Result<Vec<u8>, FrameError> {
    let len = frame.len() - LENGTH_PREFIX_BYTES;
    if len > max_len {
        return Err(FrameError::TooLarge {
            len: len as u64,
            max: max_len,
        });
    }
    // len ≤ max_len, and every limit in the protocol is far below u32::MAX.
    frame[..LENGTH_PREFIX_BYTES].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(frame)
}

/// Encodes and writes one message as a frame.
pub async fn write_message<T: Serialize, W: AsyncWrite + Unpin>(
    writer: &mut W,
    value: &T,
    max_len: usize,
    message: &'static str,
) -> Result<(), FrameError> {
    let frame = encode_frame(value, max_len, message)?;
    writer.write_all(&frame).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Record, Value};
    use crate::transport::protocol::ClientMessage;

    fn hello() -> ClientMessage {
        ClientMessage::Hello {
            version: 1,
            token: Some("secret".into()),
        }
    }

    #[tokio::test]
    async fn frames_round_trip_and_end_cleanly() {
        let mut bytes = Vec::new();
        write_message(&mut bytes, &hello(), 1024, "Hello")
            .await
            .unwrap();
        let batch = vec![Record {
            channel: 3,
            seq: 9,
            t_ns: 45_000_000,
            value: Value::Token("loop".into()),
        }];
        write_message(&mut bytes, &batch, 1024, "batch")
            .await
            .unwrap();
        assert_eq!(
            u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize,
            postcard::to_allocvec(&hello()).unwrap().len()
        );
        let mut reader = bytes.as_slice();
        let got: Option<ClientMessage> = read_message(&mut reader, 1024, "Hello").await.unwrap();
        assert_eq!(got, Some(hello()));
        let got: Option<Vec<Record>> = read_message(&mut reader, 1024, "batch").await.unwrap();
        assert_eq!(got, Some(batch));
        let end: Option<Vec<Record>> = read_message(&mut reader, 1024, "batch").await.unwrap();
        assert_eq!(end, None);
    }

    #[tokio::test]
    async fn oversized_frames_are_refused_before_reading_the_body() {
        let bytes = u32::MAX.to_le_bytes();
        let err = read_message::<ClientMessage, _>(&mut bytes.as_slice(), 1024, "Hello")
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                len: 4_294_967_295,
                max: 1024
            }
        ));
        assert_eq!(
            err.to_string(),
            "frame of 4294967295 bytes exceeds the limit of 1024 bytes"
        );
        let big = vec![7u64; 300];
        assert!(matches!(
            encode_frame(&big, 100, "batch"),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[tokio::test]
    async fn truncated_empty_and_malformed_frames_say_what_was_wrong() {
        let mut frame = encode_frame(&hello(), 1024, "Hello").unwrap();
        frame.truncate(frame.len() - 2);
        let err = read_message::<ClientMessage, _>(&mut frame.as_slice(), 1024, "Hello")
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { part: "body", .. }),
            "{err}"
        );

        let err = read_message::<ClientMessage, _>(&mut [1u8, 0].as_slice(), 1024, "Hello")
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                part: "length prefix",
                got: 2,
                ..
            }
        ));

        let err = read_message::<ClientMessage, _>(&mut [0u8; 4].as_slice(), 1024, "Hello")
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Empty));

        // Variant index 9 does not exist in ClientMessage.
        let garbage = [1u8, 0, 0, 0, 9];
        let err = read_message::<ClientMessage, _>(&mut garbage.as_slice(), 1024, "Hello")
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("malformed Hello frame body"),
            "{err}"
        );

        let mut padded = postcard::to_allocvec(&hello()).unwrap();
        padded.push(0);
        let err = decode_body::<ClientMessage>(&padded, "Hello").unwrap_err();
        assert!(matches!(err, FrameError::Trailing { trailing: 1, .. }));
    }
}
