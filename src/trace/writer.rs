//! Appending records to a trace file, flushed regularly so a crash loses little.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{FORMAT_VERSION, MAGIC, MAX_FRAME_LEN, TraceEntry, TraceError, TraceHeader, frame_crc};
use crate::model::{Catalog, Record};

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

/// Writes a trace: the header at creation, then one frame per appended record.
pub struct TraceWriter {
    path: String,
    out: BufWriter<File>,
    body: Vec<u8>,
    options: WriterOptions,
    last_flush: Instant,
    last_sync: Instant,
    records: u64,
}

impl TraceWriter {
    /// Creates (or truncates) `path` and writes the magic and the header.
    pub fn create(
        path: &Path,
        header: &TraceHeader,
        options: WriterOptions,
    ) -> Result<Self, TraceError> {
        let display = path.display().to_string();
        let io = |source| TraceError::Io {
            path: display.clone(),
            source,
        };
        let file = File::create(path).map_err(io)?;
        let mut writer = Self {
            path: display.clone(),
            out: BufWriter::with_capacity(256 * 1024, file),
            body: Vec::with_capacity(256),
            options,
            last_flush: Instant::now(),
            last_sync: Instant::now(),
            records: 0,
        };
        let header = TraceHeader {
            version: FORMAT_VERSION,
            ..header.clone()
        };
        writer.out.write_all(MAGIC).map_err(io)?;
        writer.write_frame(&header)?;
        writer.out.flush().map_err(io)?;
        Ok(writer)
    }

    /// Appends one record. The buffer is flushed when `flush_every` has passed.
    pub fn append(&mut self, record: &Record) -> Result<(), TraceError> {
        self.write_entry(record)?;
        self.records += 1;
        if self.last_flush.elapsed() >= self.options.flush_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the catalog again: the channels from here on (channels are only ever added).
    pub fn append_catalog(&mut self, catalog: &Catalog) -> Result<(), TraceError> {
        self.write_frame(&TraceEntry::Catalog(catalog.clone()))
    }

    /// Records appended so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Pushes buffered frames to the file, and syncs when `sync_every` has passed.
    pub fn flush(&mut self) -> Result<(), TraceError> {
        self.out.flush().map_err(|source| self.io_error(source))?;
        self.last_flush = Instant::now();
        if self.last_sync.elapsed() >= self.options.sync_every {
            self.out
                .get_ref()
                .sync_data()
                .map_err(|source| self.io_error(source))?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Flushes and syncs everything, and closes the file.
    pub fn finish(mut self) -> Result<u64, TraceError> {
        self.out.flush().map_err(|source| self.io_error(source))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|source| self.io_error(source))?;
        Ok(self.records)
    }

    /// A record as a [`TraceEntry::Record`] frame, encoded without cloning the record.
    fn write_entry(&mut self, record: &Record) -> Result<(), TraceError> {
        #[derive(serde::Serialize)]
        enum Entry<'a> {
            Record(&'a Record),
        }
        self.write_frame(&Entry::Record(record))
    }

    fn write_frame<T: serde::Serialize>(&mut self, value: &T) -> Result<(), TraceError> {
        self.body.clear();
        let body = std::mem::take(&mut self.body);
        let body =
            postcard::to_extend(value, body).map_err(|e| TraceError::Encode(e.to_string()))?;
        if body.len() > MAX_FRAME_LEN {
            return Err(TraceError::Encode(format!(
                "a frame of {} bytes exceeds the limit of {MAX_FRAME_LEN}",
                body.len()
            )));
        }
        let mut prefix = [0u8; 8];
        prefix[..4].copy_from_slice(&(body.len() as u32).to_le_bytes());
        prefix[4..].copy_from_slice(&frame_crc(&body).to_le_bytes());
        let result = self
            .out
            .write_all(&prefix)
            .and_then(|()| self.out.write_all(&body));
        self.body = body;
        result.map_err(|source| self.io_error(source))
    }

    fn io_error(&self, source: std::io::Error) -> TraceError {
        TraceError::Io {
            path: self.path.clone(),
            source,
        }
    }
}
