//! Trace file format: writer, reader, recovery.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! "MIDTRACE"                                  8 bytes of magic
//! [u32 length][u32 crc32][postcard TraceHeader] the header frame
//! [u32 length][u32 crc32][postcard TraceEntry]  one frame per record or catalog, appended
//! [u32 length][u32 crc32][postcard TraceEntry::Index]  at the end of a clean recording:
//! [u64 offset of the index frame]["MIDINDEX"]          the footer
//! ```
//!
//! Frames after the header are [`TraceEntry`]s: records, the learning loop's decisions, and
//! the whole catalog again whenever
//! it grew while recording (a text input's field that appeared later), so every record has its
//! channel described before it. A recording that finishes cleanly ends with a sparse
//! [`TraceIndex`] (version 3), so a replay can seek and knows the trace's span without reading
//! it; a trace without one (cut by a crash, or older) is scanned instead. Version 2 is version
//! 3 without the footer, and version 1 frames are bare records; all three are read.
//!
//! The CRC (CRC-32/ISO-HDLC, as `crc32fast` computes it) covers the postcard body. A reader
//! stops at the first short, oversized or bad-CRC frame, keeps every record before it and
//! reports how many it recovered and why it stopped, so a trace cut by a crash still replays.

mod index;
mod reader;
mod writer;

pub use index::{
    INITIAL_INDEX_SPACING, IndexBuilder, IndexPoint, MAX_INDEX_POINTS, TraceIndex, point_before,
    previous,
};
pub use reader::{Entry, RecoveredTrace, StopReason, TraceReader, read_trace};
pub use writer::{TraceWriter, WriterOptions};

use serde::{Deserialize, Serialize};

use crate::model::Catalog;

/// The first eight bytes of every trace file.
pub const MAGIC: &[u8; 8] = b"MIDTRACE";

/// The format version this build writes; it reads this one and [`FORMAT_VERSION_RECORDS_ONLY`].
pub const FORMAT_VERSION: u16 = 3;

/// Version 1: every frame after the header is a bare [`crate::model::Record`].
pub const FORMAT_VERSION_RECORDS_ONLY: u16 = 1;

/// Length + CRC prefix of every frame, in bytes.
pub const FRAME_PREFIX_LEN: usize = 8;

/// The largest frame body accepted. Records are small (a vector or a handful of fields); a
/// length above this is damage, not data, and reading it would only waste memory.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// What a trace says about itself before its records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceHeader {
    pub version: u16,
    /// Wall-clock start of the recording, nanoseconds since the Unix epoch.
    pub started_unix_ns: u64,
    /// Where the records came from ("127.0.0.1:4433", "demo").
    pub source: String,
    pub catalog: Catalog,
}

/// One frame after the header (format version 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TraceEntry {
    Record(crate::model::Record),
    /// The catalog from here on (a superset of the one before: channels are only added).
    Catalog(Catalog),
    /// The footer's index: the last frame of a clean recording, followed by the trailer.
    Index(TraceIndex),
    /// A decision of the learning loop, written when it was made, between the records it
    /// followed. Added after the other variants, so traces written before it read unchanged
    /// (a reader older than this variant stops at the first decision, as at damage).
    Decision(crate::model::Decision),
}

/// A trace that cannot be read at all (its header is missing or damaged), or a write failure.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a Midstream trace (the file does not start with MIDTRACE)")]
    NotATrace { path: String },
    #[error("{path}: damaged header: {reason}")]
    BadHeader { path: String, reason: String },
    #[error(
        "{path}: trace format version {found} is not supported (this build reads {FORMAT_VERSION})"
    )]
    UnsupportedVersion { path: String, found: u16 },
    #[error("cannot encode record: {0}")]
    Encode(String),
    /// Writing failed (a full disk, a file-size limit): the file was cut back to the last
    /// complete frame, so it replays every record written before.
    #[error(
        "{path}: {source}; recording stopped, the trace keeps the {records} complete records written before"
    )]
    WriteFailed {
        path: String,
        records: u64,
        #[source]
        source: std::io::Error,
    },
}

fn frame_crc(body: &[u8]) -> u32 {
    crc32fast::hash(body)
}
