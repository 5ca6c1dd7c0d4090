//! Appending records to a trace file, flushed regularly so a crash loses little, and cut back
//! to the last complete frame when a write fails, so a full disk loses nothing written before.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::index::{IndexBuilder, trailer};
use super::{
    FORMAT_VERSION, FRAME_PREFIX_LEN, MAGIC, MAX_FRAME_LEN, TraceEntry, TraceError, TraceHeader,
    frame_crc,
};
use crate::model::{Catalog, Record};

/// Bytes buffered before they are written to the file (also written every `flush_every`).
const WRITE_BUFFER: usize = 256 * 1024;

/// How often the writer pushes its buffer to the file and syncs it.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Flush the buffer to the operating system at least this often.
    pub flush_every: Duration,
    /// Ask the operating system to put the data on disk at least this often.
    pub sync_every: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        // A crash loses at most ~100 ms of records; a power loss at most ~1 s.
        Self {
            flush_every: Duration::from_millis(100),
            sync_every: Duration::from_secs(1),
        }
    }
}

/// Writes a trace: the header at creation, one frame per appended record, and the index
/// footer at [`TraceWriter::finish`].
///
/// Memory: the write buffer (256 KiB), one frame body and the index (at most 384 KiB).
pub struct TraceWriter {
    path: String,
    file: File,
    /// Whole frames not yet in the file.
    buffer: Vec<u8>,
    body: Vec<u8>,
    options: WriterOptions,
    last_flush: Instant,
    last_sync: Instant,
    /// Records appended (in the file or in the buffer).
    records: u64,
    /// Bytes in the file, all of them complete frames.
    file_len: u64,
    /// Records in the file.
    records_in_file: u64,
    index: IndexBuilder,
    catalog: Catalog,
    /// Set by the first failed write: nothing more is written.
    failed: bool,
}

impl TraceWriter {
    /// Creates (or truncates) `path` and writes the magic and the header.
    pub fn create(
        path: &Path,
        header: &TraceHeader,
        options: WriterOptions,
    ) -> Result<Self, TraceError> {
        let display = path.display().to_string();
        let file = File::create(path).map_err(|source| TraceError::Io {
            path: display.clone(),
            source,
        })?;
        let mut writer = Self {
            path: display,
            file,
            buffer: Vec::with_capacity(WRITE_BUFFER + 4096),
            body: Vec::with_capacity(256),
            options,
            last_flush: Instant::now(),
            last_sync: Instant::now(),
            records: 0,
            file_len: 0,
            records_in_file: 0,
            index: IndexBuilder::default(),
            catalog: header.catalog.clone(),
            failed: false,
        };
        let header = TraceHeader {
            version: FORMAT_VERSION,
            ..header.clone()
        };
        writer.buffer.extend_from_slice(MAGIC);
        writer.write_frame(&header)?;
        writer.write_buffer()?;
        Ok(writer)
    }

    /// Appends one record. The buffer is written when it is full or `flush_every` has passed.
    pub fn append(&mut self, record: &Record) -> Result<(), TraceError> {
        #[derive(serde::Serialize)]
        enum Entry<'a> {
            Record(&'a Record),
        }
        let offset = self.file_len + self.buffer.len() as u64;
        // Encoded without cloning the record; the same bytes as `TraceEntry::Record`.
        self.write_frame(&Entry::Record(record))?;
        self.index.record(offset, record.t_ns);
        self.records += 1;
        if self.buffer.len() >= WRITE_BUFFER
            || self.last_flush.elapsed() >= self.options.flush_every
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the catalog again: the channels from here on (channels are only ever added).
    pub fn append_catalog(&mut self, catalog: &Catalog) -> Result<(), TraceError> {
        self.catalog = catalog.clone();
        self.write_frame(&TraceEntry::Catalog(catalog.clone()))
    }

    /// Appends a decision of the learning loop (`TraceEntry::Decision`), after the records
    /// appended before it.
    pub fn append_decision(&mut self, decision: &crate::model::Decision) -> Result<(), TraceError> {
        self.write_frame(&TraceEntry::Decision(decision.clone()))
    }

    /// Records appended so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Pushes buffered frames to the file, and syncs when `sync_every` has passed.
    pub fn flush(&mut self) -> Result<(), TraceError> {
        self.write_buffer()?;
        self.last_flush = Instant::now();
        if self.last_sync.elapsed() >= self.options.sync_every {
            self.file
                .sync_data()
                .map_err(|source| self.io_error(source))?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Writes what is buffered and the index footer, syncs, and closes the file. Returns the
    /// records the trace holds.
    pub fn finish(mut self) -> Result<u64, TraceError> {
        self.write_buffer()?;
        let index_offset = self.file_len;
        let index = std::mem::take(&mut self.index).finish(self.catalog.clone());
        self.write_frame(&TraceEntry::Index(index))?;
        self.buffer.extend_from_slice(&trailer(index_offset));
        self.write_buffer()?;
        self.file
            .sync_all()
            .map_err(|source| self.io_error(source))?;
        Ok(self.records)
    }

    fn write_frame<T: serde::Serialize>(&mut self, value: &T) -> Result<(), TraceError> {
        if self.failed {
            return Err(self.failure(std::io::Error::other("an earlier write failed")));
        }
        self.body.clear();
        let body = std::mem::take(&mut self.body);
        let body =
            postcard::to_extend(value, body).map_err(|e| TraceError::Encode(e.to_string()))?;
        if body.len() > MAX_FRAME_LEN {
            let err = TraceError::Encode(format!(
                "a frame of {} bytes exceeds the limit of {MAX_FRAME_LEN}",
                body.len()
            ));
            self.body = body;
            return Err(err);
        }
        self.buffer
            .extend_from_slice(&(body.len() as u32).to_le_bytes());
        self.buffer
            .extend_from_slice(&frame_crc(&body).to_le_bytes());
        self.buffer.extend_from_slice(&body);
        self.body = body;
        Ok(())
    }

    /// Writes the buffer to the file. On failure the file is cut back to the end of the last
    /// frame that reached it whole, and the writer stops.
    fn write_buffer(&mut self) -> Result<(), TraceError> {
        if self.failed {
            return Err(self.failure(std::io::Error::other("an earlier write failed")));
        }
        let mut written = 0;
        while written < self.buffer.len() {
            match self.file.write(&self.buffer[written..]) {
                Ok(0) => {
                    return Err(self.cut_back(
                        written,
                        std::io::Error::new(
                            std::io::ErrorKind::WriteZero,
                            "the file took no more bytes",
                        ),
                    ));
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.cut_back(written, e)),
            }
        }
        self.records_in_file += count_records(&self.buffer, self.file_len).1;
        self.file_len += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// After `written` bytes of the buffer reached the file and then a write failed: keeps
    /// the complete frames among them and truncates the rest.
    fn cut_back(&mut self, written: usize, source: std::io::Error) -> TraceError {
        self.failed = true;
        let (complete, records) = count_records(&self.buffer[..written], self.file_len);
        let keep = self.file_len + complete as u64;
        // A file shorter than its magic and header is no trace: keep nothing then.
        if self.file.set_len(keep).is_ok() {
            self.file_len = keep;
            self.records_in_file += records;
        } else {
            // The partial frame stays; a reader stops there and keeps every record before.
            self.records_in_file += records;
        }
        let _ = self.file.sync_all();
        self.buffer.clear();
        self.failure(source)
    }

    fn failure(&self, source: std::io::Error) -> TraceError {
        TraceError::WriteFailed {
            path: self.path.clone(),
            records: self.records_in_file,
            source,
        }
    }

    fn io_error(&self, source: std::io::Error) -> TraceError {
        TraceError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// Of `bytes`, a run of whole frames starting at file offset `at` (the magic first when `at`
/// is 0): the length of its complete frames, and how many of them are records.
fn count_records(bytes: &[u8], at: u64) -> (usize, u64) {
    let mut pos = 0;
    let mut frames = 0u64;
    if at == 0 {
        if bytes.len() < MAGIC.len() {
            return (0, 0);
        }
        pos = MAGIC.len();
    }
    let mut records = 0;
    while let Some(prefix) = bytes.get(pos..pos + FRAME_PREFIX_LEN) {
        let length = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let end = pos + FRAME_PREFIX_LEN + length;
        if end > bytes.len() {
            break;
        }
        // The header (the first frame of the file) is no record; of the rest, records are
        // variant 0 of `TraceEntry`.
        let header = at == 0 && frames == 0;
        if !header && bytes.get(pos + FRAME_PREFIX_LEN) == Some(&0) {
            records += 1;
        }
        frames += 1;
        pos = end;
    }
    (pos, records)
}
