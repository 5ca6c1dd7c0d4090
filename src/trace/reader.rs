//! Reading a trace back as a stream of frames, recovering everything before the first damaged
//! frame. Memory does not grow with the file: one frame body is held at a time.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::index::{INDEX_TRAILER_LEN, IndexBuilder, TraceIndex, parse_trailer};
use super::{
    FORMAT_VERSION, FORMAT_VERSION_RECORDS_ONLY, FRAME_PREFIX_LEN, MAGIC, MAX_FRAME_LEN,
    TraceEntry, TraceError, TraceHeader, frame_crc,
};
use crate::model::{Catalog, ChannelId, Record};

/// Bytes the file reader buffers.
const READ_BUFFER: usize = 256 * 1024;

/// Frames up to this long are read straight into a buffer of their length; longer ones grow
/// it as their bytes arrive.
const DIRECT_READ_LEN: usize = 64 * 1024;

/// Why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The file ended exactly after a complete record (or after its index).
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
    /// The file could not be read further.
    Io { offset: u64, message: String },
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
            StopReason::Io { offset, message } => {
                write!(f, "unreadable at byte {offset}: {message}")
            }
        }
    }
}

/// One frame after the header, as the reader hands it out.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Record(Record),
    /// The catalog from here on (it is also kept in [`TraceReader::header`]).
    Catalog(Catalog),
    /// A decision of the learning loop, where the live run made it.
    Decision(crate::model::Decision),
}

/// Reads frames one at a time from anything readable: a file ([`TraceReader::open`]) or bytes
/// in memory (`TraceReader::new(name, &bytes[..])`).
pub struct TraceReader<R> {
    input: R,
    path: String,
    /// Byte offset of the next frame.
    offset: u64,
    header: TraceHeader,
    stop: Option<StopReason>,
    body: Vec<u8>,
    /// The index footer, once read (the last frame of a cleanly finished recording).
    index: Option<TraceIndex>,
}

impl TraceReader<BufReader<File>> {
    /// Opens a trace file and reads its header.
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        let display = path.display().to_string();
        let file = File::open(path).map_err(|source| TraceError::Io {
            path: display.clone(),
            source,
        })?;
        Self::new(&display, BufReader::with_capacity(READ_BUFFER, file))
    }
}

impl<R: BufRead> TraceReader<R> {
    /// Checks the magic and decodes the header. `path` is only used in error messages.
    pub fn new(path: &str, mut input: R) -> Result<Self, TraceError> {
        let mut magic = [0u8; MAGIC.len()];
        match read_full(&mut input, &mut magic) {
            Ok(n) if n == MAGIC.len() && &magic == MAGIC => {}
            Ok(_) => return Err(TraceError::NotATrace { path: path.into() }),
            Err(source) => {
                return Err(TraceError::Io {
                    path: path.into(),
                    source,
                });
            }
        }
        let mut body = Vec::new();
        let start = MAGIC.len() as u64;
        let mut offset = start;
        let header: TraceHeader = read_frame(&mut input, &mut offset, &mut body, |body| {
            decode(body, start)
        })
        .and_then(|header| match header {
            Some(header) => header,
            None => Err(StopReason::Truncated {
                offset: start,
                needed: FRAME_PREFIX_LEN as u64,
                available: 0,
            }),
        })
        .map_err(|reason| TraceError::BadHeader {
            path: path.into(),
            reason: reason.to_string(),
        })?;
        if !(FORMAT_VERSION_RECORDS_ONLY..=FORMAT_VERSION).contains(&header.version) {
            return Err(TraceError::UnsupportedVersion {
                path: path.into(),
                found: header.version,
            });
        }
        Ok(Self {
            input,
            path: path.into(),
            offset,
            header,
            stop: None,
            body,
            index: None,
        })
    }

    /// The header; its catalog is the latest one read so far (traces carry the catalog again
    /// whenever it grew).
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// Why reading stopped; `None` while frames remain.
    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.stop.as_ref()
    }

    /// Byte offset of the next frame.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The index footer, once the reader has passed it (at the end of a clean recording).
    pub fn index(&self) -> Option<&TraceIndex> {
        self.index.as_ref()
    }

    /// The next record or catalog; `None` at the end or at the first damage (see
    /// [`Self::stop_reason`]).
    pub fn next_entry(&mut self) -> Option<Entry> {
        loop {
            if self.stop.is_some() {
                return None;
            }
            let start = self.offset;
            let records_only = self.header.version == FORMAT_VERSION_RECORDS_ONLY;
            let entry =
                match read_frame(&mut self.input, &mut self.offset, &mut self.body, |body| {
                    if records_only {
                        decode(body, start).map(TraceEntry::Record)
                    } else {
                        decode(body, start)
                    }
                }) {
                    Ok(Some(entry)) => entry,
                    Ok(None) => {
                        self.stop = Some(StopReason::CleanEnd);
                        return None;
                    }
                    Err(reason) => {
                        self.stop = Some(reason);
                        return None;
                    }
                };
            match entry {
                Ok(TraceEntry::Record(record)) => return Some(Entry::Record(record)),
                Ok(TraceEntry::Catalog(catalog)) => {
                    self.header.catalog = catalog.clone();
                    return Some(Entry::Catalog(catalog));
                }
                Ok(TraceEntry::Decision(decision)) => return Some(Entry::Decision(decision)),
                Ok(TraceEntry::Index(index)) => {
                    self.stop = Some(self.finish_at_index(start));
                    self.index = Some(index);
                }
                Err(reason) => self.stop = Some(reason),
            }
        }
    }

    /// After the index frame: the trailer must follow, and then the end of the file.
    fn finish_at_index(&mut self, index_offset: u64) -> StopReason {
        let mut trailer = [0u8; INDEX_TRAILER_LEN];
        let malformed = |reason: &str| StopReason::Malformed {
            offset: index_offset,
            reason: reason.into(),
        };
        match read_full(&mut self.input, &mut trailer) {
            Ok(INDEX_TRAILER_LEN) if parse_trailer(&trailer) == Some(index_offset) => {}
            Ok(INDEX_TRAILER_LEN) => return malformed("the index's trailer does not match it"),
            Ok(got) => {
                return StopReason::Truncated {
                    offset: index_offset,
                    needed: self.offset - index_offset + INDEX_TRAILER_LEN as u64,
                    available: self.offset - index_offset + got as u64,
                };
            }
            Err(e) => {
                return StopReason::Io {
                    offset: self.offset,
                    message: e.to_string(),
                };
            }
        }
        self.offset += INDEX_TRAILER_LEN as u64;
        let mut more = [0u8; 1];
        match read_full(&mut self.input, &mut more) {
            Ok(0) => StopReason::CleanEnd,
            Ok(_) => StopReason::Malformed {
                offset: index_offset,
                reason: "bytes after the index's trailer".into(),
            },
            Err(e) => StopReason::Io {
                offset: self.offset,
                message: e.to_string(),
            },
        }
    }
}

impl<R: BufRead + Seek> TraceReader<R> {
    /// Moves to the frame at `offset`, which must be the start of a frame (an index point).
    pub fn seek_to(&mut self, offset: u64) -> Result<(), TraceError> {
        self.input
            .seek(SeekFrom::Start(offset))
            .map_err(|source| TraceError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.offset = offset;
        self.stop = None;
        Ok(())
    }

    /// The index footer of a cleanly finished recording, read from the end of the file
    /// without reading the records; `None` when the trace has none (an older or damaged
    /// trace). The reading position is unchanged.
    pub fn read_footer(&mut self) -> Option<TraceIndex> {
        let here = self.offset;
        let footer = self.footer();
        // Back to where we were; a failure here shows on the next read.
        let _ = self.input.seek(SeekFrom::Start(here));
        footer
    }

    fn footer(&mut self) -> Option<TraceIndex> {
        let end = self.input.seek(SeekFrom::End(0)).ok()?;
        let trailer_at = end.checked_sub(INDEX_TRAILER_LEN as u64)?;
        self.input.seek(SeekFrom::Start(trailer_at)).ok()?;
        let mut trailer = [0u8; INDEX_TRAILER_LEN];
        if read_full(&mut self.input, &mut trailer).ok()? != INDEX_TRAILER_LEN {
            return None;
        }
        let index_at = parse_trailer(&trailer)?;
        if index_at >= trailer_at {
            return None;
        }
        self.input.seek(SeekFrom::Start(index_at)).ok()?;
        let mut offset = index_at;
        let entry = read_frame(&mut self.input, &mut offset, &mut self.body, |body| {
            decode::<TraceEntry>(body, index_at)
        })
        .ok()??;
        if offset != trailer_at {
            return None;
        }
        match entry.ok()? {
            TraceEntry::Index(index) => Some(index),
            _ => None,
        }
    }

    /// Reads every frame from the current position to the end, without keeping the records,
    /// and returns what an index footer would hold: the sparse index, the record count, the
    /// time span and the last catalog. For traces without a footer (older or damaged ones).
    /// Records are only decoded as far as their time stamp.
    pub fn scan_index(&mut self) -> TraceIndex {
        let mut builder = IndexBuilder::default();
        loop {
            if self.stop.is_some() {
                break;
            }
            let start = self.offset;
            let records_only = self.header.version == FORMAT_VERSION_RECORDS_ONLY;
            // A record is decoded only as far as its time stamp; the variant of a
            // `TraceEntry` is its first byte (a varint below 128).
            let scanned =
                read_frame(
                    &mut self.input,
                    &mut self.offset,
                    &mut self.body,
                    |body| match body.first() {
                        _ if records_only => Ok(ScanItem::Time(record_time(body))),
                        Some(0) => Ok(ScanItem::Time(record_time(&body[1..]))),
                        _ => decode::<TraceEntry>(body, start).map(ScanItem::Entry),
                    },
                );
            let item = match scanned {
                Ok(Some(Ok(item))) => item,
                Ok(Some(Err(reason))) | Err(reason) => {
                    self.stop = Some(reason);
                    break;
                }
                Ok(None) => {
                    self.stop = Some(StopReason::CleanEnd);
                    break;
                }
            };
            match item {
                ScanItem::Time(Ok(t_ns)) => builder.record(start, t_ns),
                ScanItem::Time(Err(reason)) => self.stop = Some(malformed(start, reason)),
                ScanItem::Entry(TraceEntry::Catalog(catalog)) => self.header.catalog = catalog,
                ScanItem::Entry(TraceEntry::Record(record)) => builder.record(start, record.t_ns),
                ScanItem::Entry(TraceEntry::Decision(_)) => {}
                ScanItem::Entry(TraceEntry::Index(index)) => {
                    self.stop = Some(self.finish_at_index(start));
                    self.index = Some(index);
                }
            }
        }
        builder.finish(self.header.catalog.clone())
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Record;

    /// The next record, passing over catalogs (they update [`TraceReader::header`]).
    fn next(&mut self) -> Option<Record> {
        loop {
            match self.next_entry()? {
                Entry::Record(record) => return Some(record),
                Entry::Catalog(_) | Entry::Decision(_) => {}
            }
        }
    }
}

/// What a scan takes from a frame.
enum ScanItem {
    /// A record's time stamp.
    Time(Result<u64, postcard::Error>),
    /// Any other entry, decoded whole.
    Entry(TraceEntry),
}

/// The fields of a record before its value, decoded without the value.
#[derive(serde::Deserialize)]
struct RecordHead {
    _channel: ChannelId,
    _seq: u64,
    t_ns: u64,
}

fn record_time(body: &[u8]) -> Result<u64, postcard::Error> {
    postcard::take_from_bytes::<RecordHead>(body).map(|(head, _)| head.t_ns)
}

fn malformed(offset: u64, reason: postcard::Error) -> StopReason {
    StopReason::Malformed {
        offset,
        reason: reason.to_string(),
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8], offset: u64) -> Result<T, StopReason> {
    postcard::from_bytes(body).map_err(|e| malformed(offset, e))
}

/// Reads the frame at `*offset`, checks its CRC, and hands its body to `use_body`; moves
/// `*offset` past it. `Ok(None)` at the end of the input, exactly between frames. A frame that
/// is whole in the reader's buffer is used where it lies; one that is not is copied into
/// `body` first.
fn read_frame<T>(
    input: &mut impl BufRead,
    offset: &mut u64,
    body: &mut Vec<u8>,
    use_body: impl FnOnce(&[u8]) -> T,
) -> Result<Option<T>, StopReason> {
    let start = *offset;
    let io = |e: std::io::Error| StopReason::Io {
        offset: start,
        message: e.to_string(),
    };
    let buffered = input.fill_buf().map_err(io)?;
    if buffered.is_empty() {
        return Ok(None);
    }
    if let Some(prefix) = buffered.get(..FRAME_PREFIX_LEN) {
        let (length, expected) = parse_prefix(prefix);
        if length > MAX_FRAME_LEN {
            return Err(StopReason::Oversized {
                offset: start,
                length: length as u64,
            });
        }
        if let Some(frame) = buffered.get(FRAME_PREFIX_LEN..FRAME_PREFIX_LEN + length) {
            check_crc(frame, expected, start)?;
            let used = use_body(frame);
            input.consume(FRAME_PREFIX_LEN + length);
            *offset = start + (FRAME_PREFIX_LEN + length) as u64;
            return Ok(Some(used));
        }
    }
    let mut prefix = [0u8; FRAME_PREFIX_LEN];
    match read_full(input, &mut prefix).map_err(io)? {
        FRAME_PREFIX_LEN => {}
        got => {
            return Err(StopReason::Truncated {
                offset: start,
                needed: FRAME_PREFIX_LEN as u64,
                available: got as u64,
            });
        }
    }
    let (length, expected) = parse_prefix(&prefix);
    if length > MAX_FRAME_LEN {
        return Err(StopReason::Oversized {
            offset: start,
            length: length as u64,
        });
    }
    let got = if length <= DIRECT_READ_LEN {
        body.resize(length, 0);
        read_full(input, body).map_err(io)?
    } else {
        // `take` + `read_to_end` grows the buffer with the data actually there, so a damaged
        // length near the limit costs no more memory than the bytes that follow it.
        body.clear();
        input
            .by_ref()
            .take(length as u64)
            .read_to_end(body)
            .map_err(io)?
    };
    if got < length {
        return Err(StopReason::Truncated {
            offset: start,
            needed: (FRAME_PREFIX_LEN + length) as u64,
            available: (FRAME_PREFIX_LEN + got) as u64,
        });
    }
    check_crc(body, expected, start)?;
    *offset = start + (FRAME_PREFIX_LEN + length) as u64;
    Ok(Some(use_body(body)))
}

/// A frame prefix's body length and CRC.
fn parse_prefix(prefix: &[u8]) -> (usize, u32) {
    let length = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    (length, crc)
}

fn check_crc(body: &[u8], expected: u32, offset: u64) -> Result<(), StopReason> {
    let found = frame_crc(body);
    if found == expected {
        Ok(())
    } else {
        Err(StopReason::BadCrc {
            offset,
            expected,
            found,
        })
    }
}

/// Fills `buf` as far as the input allows; returns the bytes read (fewer only at its end).
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Everything recoverable from a trace file, in memory. For tests and small traces: replay
/// streams the file instead ([`crate::sources::replay`]).
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

/// Reads a whole trace file into memory, recovering every record before the first damaged
/// frame.
pub fn read_trace(path: &Path) -> Result<RecoveredTrace, TraceError> {
    let mut reader = TraceReader::open(path)?;
    let records: Vec<Record> = reader.by_ref().collect();
    let stop = reader
        .stop_reason()
        .cloned()
        .unwrap_or(StopReason::CleanEnd);
    let file_len = std::fs::metadata(path)
        .map(|m| m.len())
        .unwrap_or(reader.offset());
    Ok(RecoveredTrace {
        header: reader.header().clone(),
        records,
        stop,
        file_len,
    })
}
