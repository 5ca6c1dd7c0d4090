//! Helpers shared by the fuzz targets: running the crate's async readers over in-memory bytes,
//! delivered in chunks of sizes the fuzzer chooses, and comparing values by their encoding.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, ReadBuf};

/// Runs a future that never waits (an async read over bytes already in memory) to its end.
///
/// Panics if it returns `Pending`: a reader over an in-memory stream has no reason to wait, so
/// that would be a bug in the reader (it would hang on a real stream that has data).
pub fn now<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("a read of in-memory bytes returned Pending"),
    }
}

/// An in-memory stream that hands out its bytes in chunks: read `i` returns at most
/// `chunks[i % chunks.len()]` bytes (at least 1), as a QUIC stream returns whatever arrived.
pub struct Chunked<'a> {
    bytes: &'a [u8],
    chunks: &'a [u16],
    reads: usize,
    /// Bytes handed out so far.
    pub consumed: usize,
}

impl<'a> Chunked<'a> {
    pub fn new(bytes: &'a [u8], chunks: &'a [u16]) -> Self {
        Self {
            bytes,
            chunks,
            reads: 0,
            consumed: 0,
        }
    }

    /// Bytes not yet handed out.
    pub fn remaining(&self) -> &'a [u8] {
        &self.bytes[self.consumed..]
    }
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let limit = match self.chunks {
            [] => usize::MAX,
            chunks => usize::from(chunks[self.reads % chunks.len()]).max(1),
        };
        let rest = self.remaining();
        let n = rest.len().min(buf.remaining()).min(limit);
        buf.put_slice(&rest[..n]);
        self.consumed += n;
        self.reads += 1;
        Poll::Ready(Ok(()))
    }
}

/// Splits `data` as `[n: u8][n split sizes: u16 LE][rest]` into the chunk sizes of the reads
/// and the stream itself (a short input is all stream, read in one go).
pub fn split_chunks(data: &[u8]) -> (Vec<u16>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let n = usize::from(n % 32);
    if rest.len() < 2 * n {
        return (Vec::new(), rest);
    }
    let (sizes, stream) = rest.split_at(2 * n);
    let chunks = sizes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    (chunks, stream)
}

/// The postcard encoding of a value: how decoded values are compared (`f64` NaNs are not equal
/// to themselves, their encodings are).
pub fn encoding<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("a decoded value encodes again")
}
