//! Reading a trace back, recovering everything before the first damaged frame.

use std::fmt;
use std::path::Path;

use super::{
    FORMAT_VERSION, FORMAT_VERSION_RECORDS_ONLY, FRAME_PREFIX_LEN, MAGIC, MAX_FRAME_LEN,
    TraceEntry, TraceError, TraceHeader, frame_crc,
};
use crate::model::Record;

/// Why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The file ended exactly after a complete record.
    CleanEnd,
    /// The file ends inside a frame (a cut or a crash while writing).
    Truncated {
        offset: u64,
        needed: u64,
        available: u64,
    },
    /// A frame's length is larger than any valid frame.
    Oversized { offset: u64, length: u64 },
    /// A frame's body does not match its CRC.
    BadCrc {
        offset: u64,
        expected: u32,
        found: u32,
    },
    /// A frame's CRC matches but its body is not a record.
    Malformed { offset: u64, reason: String },
}

impl StopReason {
    pub fn is_clean(&self) -> bool {
        matches!(self, StopReason::CleanEnd)
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::CleanEnd => f.write_str("clean end"),
            StopReason::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "truncated at byte {offset}: the frame needs {needed} bytes, {available} remain"
            ),
            StopReason::Oversized { offset, length } => write!(
                f,
                "damaged at byte {offset}: frame length {length} exceeds the limit of {MAX_FRAME_LEN}"
            ),
            StopReason::BadCrc {
                offset,
                expected,
                found,
            } => write!(
                f,
                "damaged at byte {offset}: CRC mismatch (stored {expected:08x}, computed {found:08x})"
            ),
            StopReason::Malformed { offset, reason } => {
                write!(f, "damaged at byte {offset}: not a record ({reason})")
            }
        }
    }
}

/// Reads frames from an in-memory trace.
pub struct TraceReader<'a> {
    bytes: &'a [u8],
    offset: usize,
    header: TraceHeader,
    stop: Option<StopReason>,
}

impl<'a> TraceReader<'a> {
    /// Checks the magic and decodes the header. `path` is only used in error messages.
    pub fn new(path: &str, bytes: &'a [u8]) -> Result<Self, TraceError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(TraceError::NotATrace { path: path.into() });
        }
        let mut offset = MAGIC.len();
        let header: TraceHeader = match next_frame(bytes, &mut offset) {
            Ok(header) => header,
            Err(reason) => {
                return Err(TraceError::BadHeader {
                    path: path.into(),
                    reason: reason.to_string(),
                });
            }
        };
        if header.version != FORMAT_VERSION && header.version != FORMAT_VERSION_RECORDS_ONLY {
            return Err(TraceError::UnsupportedVersion {
                path: path.into(),
                found: header.version,
            });
        }
        Ok(Self {
            bytes,
            offset,
            header,
            stop: None,
        })
    }

    /// The header; its catalog is the latest one read so far (version 2 traces carry the
    /// catalog again whenever it grew).
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// Why reading stopped; `None` while records remain.
    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.stop.as_ref()
    }

    /// Byte offset of the next frame.
    pub fn offset(&self) -> u64 {
        self.offset as u64
    }
}

impl Iterator for TraceReader<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if self.stop.is_some() {
            return None;
        }
        if self.offset == self.bytes.len() {
            self.stop = Some(StopReason::CleanEnd);
            return None;
        }
        loop {
            if self.offset == self.bytes.len() {
                self.stop = Some(StopReason::CleanEnd);
                return None;
            }
            let entry = if self.header.version == FORMAT_VERSION_RECORDS_ONLY {
                next_frame(self.bytes, &mut self.offset).map(TraceEntry::Record)
            } else {
                next_frame(self.bytes, &mut self.offset)
            };
            match entry {
                Ok(TraceEntry::Record(record)) => return Some(record),
                Ok(TraceEntry::Catalog(catalog)) => self.header.catalog = catalog,
                Err(reason) => {
                    self.stop = Some(reason);
                    return None;
                }
            }
        }
    }
}

/// Decodes the frame at `*offset` and moves past it; on damage, leaves `*offset` unchanged.
fn next_frame<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    offset: &mut usize,
) -> Result<T, StopReason> {
    let start = *offset;
    let rest = &bytes[start..];
    if rest.len() < FRAME_PREFIX_LEN {
        return Err(StopReason::Truncated {
            offset: start as u64,
            needed: FRAME_PREFIX_LEN as u64,
            available: rest.len() as u64,
        });
    }
    let length = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let expected = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if length > MAX_FRAME_LEN {
        return Err(StopReason::Oversized {
            offset: start as u64,
            length: length as u64,
        });
    }
    let available = rest.len() - FRAME_PREFIX_LEN;
    if available < length {
        return Err(StopReason::Truncated {
            offset: start as u64,
            needed: (FRAME_PREFIX_LEN + length) as u64,
            available: rest.len() as u64,
        });
    }
    let body = &rest[FRAME_PREFIX_LEN..FRAME_PREFIX_LEN + length];
    let found = frame_crc(body);
    if found != expected {
        return Err(StopReason::BadCrc {
            offset: start as u64,
            expected,
            found,
        });
    }
    let value = postcard::from_bytes(body).map_err(|e| StopReason::Malformed {
        offset: start as u64,
        reason: e.to_string(),
    })?;
    *offset = start + FRAME_PREFIX_LEN + length;
    Ok(value)
}

/// Everything recoverable from a trace file.
#[derive(Debug, Clone)]
pub struct RecoveredTrace {
    /// The header, with the last catalog the trace holds (every channel of its records).
    pub header: TraceHeader,
    /// Every record before the first damage, in file order.
    pub records: Vec<Record>,
    pub stop: StopReason,
    /// Size of the file in bytes.
    pub file_len: u64,
}

/// Reads a whole trace file, recovering every record before the first damaged frame.
pub fn read_trace(path: &Path) -> Result<RecoveredTrace, TraceError> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TraceError::Io {
        path: display.clone(),
        source,
    })?;
    let mut reader = TraceReader::new(&display, &bytes)?;
    let records: Vec<Record> = reader.by_ref().collect();
    let stop = reader
        .stop_reason()
        .cloned()
        .unwrap_or(StopReason::CleanEnd);
    Ok(RecoveredTrace {
        header: reader.header().clone(),
        records,
        stop,
        file_len: bytes.len() as u64,
    })
}
