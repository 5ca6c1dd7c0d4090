//! Writes received records to a trace file on a thread of its own, so disk I/O never stalls
//! the pipeline or the screen.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::model::{Catalog, Decision, Record};
use crate::trace::{TraceError, TraceHeader, TraceWriter, WriterOptions};

enum Message {
    Records(Arc<[Record]>),
    Catalog(Catalog),
    Decision(Decision),
    Stop,
}

/// A running recording.
pub struct Recorder {
    path: PathBuf,
    tx: mpsc::Sender<Message>,
    written: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<u64, TraceError>>>,
}

impl Recorder {
    /// Creates the trace file (writing its header) and starts the writer thread.
    pub fn start(path: PathBuf, header: TraceHeader) -> Result<Self, TraceError> {
        let mut writer = TraceWriter::create(&path, &header, WriterOptions::default())?;
        let (tx, rx) = mpsc::channel::<Message>();
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        let thread = std::thread::Builder::new()
            .name("midstream-recorder".into())
            .spawn(move || {
                // Wake at least this often so a quiet stream is still flushed regularly.
                let idle = Duration::from_millis(100);
                loop {
                    match rx.recv_timeout(idle) {
                        Ok(Message::Records(batch)) => {
                            for record in batch.iter() {
                                writer.append(record)?;
                            }
                            counter.store(writer.records(), Ordering::Relaxed);
                        }
                        Ok(Message::Catalog(catalog)) => writer.append_catalog(&catalog)?,
                        Ok(Message::Decision(decision)) => writer.append_decision(&decision)?,
                        Ok(Message::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        Err(mpsc::RecvTimeoutError::Timeout) => writer.flush()?,
                    }
                }
                writer.finish()
            })
            .map_err(|source| TraceError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self {
            path,
            tx,
            written,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Queues records for writing. Returns false when the writer has stopped (a write error).
    pub fn send(&self, records: Arc<[Record]>) -> bool {
        self.tx.send(Message::Records(records)).is_ok()
    }

    /// Queues a grown catalog, written before the records queued after it.
    pub fn send_catalog(&self, catalog: Catalog) -> bool {
        self.tx.send(Message::Catalog(catalog)).is_ok()
    }

    /// Queues a decision of the learning loop, written after the records queued before it.
    pub fn send_decision(&self, decision: Decision) -> bool {
        self.tx.send(Message::Decision(decision)).is_ok()
    }

    /// Writes everything queued, closes the file and returns how many records it holds.
    pub fn stop(mut self) -> Result<u64, TraceError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<u64, TraceError> {
        let _ = self.tx.send(Message::Stop);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(TraceError::Encode("the recorder thread panicked".into()))),
            None => Ok(self.written()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
