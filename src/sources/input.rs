//! Text input as a source: a file, a growing file (`--follow`, as `tail -F`), or a pipe on
//! stdin, parsed line by line by [`RecordParser`] into [`SourceEvent`]s.
//!
//! Reading runs on a thread of its own and hands its events to a sink that may block: a file
//! is therefore read as fast as its consumer takes the records (the pipeline's queue, or the
//! slowest QUIC client), and a pipe as its producer writes. Lines are never held back for a
//! fuller batch: whatever has been parsed is handed on before any read that could wait.
//!
//! Bad lines and cells are skipped and counted; the first ones are listed with their line
//! numbers in an [`InputReport`], sent whenever it changes (at most every
//! [`REPORT_INTERVAL`]) and at the end. A file or pipe that ends leaves the link
//! [`LinkState::Ended`] with what was read; with `--follow` a file never ends: it is polled
//! every [`FOLLOW_POLL`], reopened when it was replaced (rotation: a new inode at the path) and
//! read again from the start when it shrank (truncation).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::text::{Format, LineError, ParserOptions, RecordParser};
use crate::model::{InputReport, LinkState, MAX_LISTED_PROBLEMS, Record, SourceEvent};

/// How often a followed file is checked for new data, rotation and truncation.
pub const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Most records handed on at once (a batch is also handed on whenever reading could wait).
pub const INPUT_BATCH: usize = 4096;

/// Shortest time between two [`InputReport`]s while problems keep coming.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(250);

/// When a source hands on its [`InputReport`]: after it changed ([`ReportThrottle::changed`]),
/// at most once per [`REPORT_INTERVAL`] while problems keep coming, and at once when asked
/// (the input's end). Every source of the layer (text input, NATS, SSE) uses it.
#[derive(Debug, Clone, Copy)]
pub struct ReportThrottle {
    dirty: bool,
    last: Instant,
}

impl ReportThrottle {
    /// Nothing to report yet; the interval counts from `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            dirty: false,
            last: now,
        }
    }

    /// The report changed since it was last handed on.
    pub fn changed(&mut self) {
        self.dirty = true;
    }

    /// Whether to hand the report on now: it changed, and `now` is [`REPORT_INTERVAL`] or more
    /// after the last one or `force`. A yes counts as handed on.
    pub fn due(&mut self, force: bool, now: Instant) -> bool {
        if self.dirty && (force || now.duration_since(self.last) >= REPORT_INTERVAL) {
            self.dirty = false;
            self.last = now;
            true
        } else {
            false
        }
    }
}

/// Most channels a text source may have: its event channel, a text channel and the numeric
/// fields. Each numeric channel keeps a ring of [`crate::pipeline::RING_CAPACITY`] samples in
/// the pipeline (64 KiB), so 4,096 channels bound that part of memory at 256 MiB; the
/// transport's limit is the same ([`crate::transport::protocol::MAX_CHANNELS`]).
pub const MAX_INPUT_CHANNELS: usize = crate::transport::protocol::MAX_CHANNELS;

/// Read buffer: large enough that a file is read in few system calls.
const READ_BUFFER: usize = 256 * 1024;

/// Where the text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPath {
    Stdin,
    File(PathBuf),
}

impl InputPath {
    /// `-` is stdin, anything else a file.
    pub fn new(path: &Path) -> Self {
        if path.as_os_str() == "-" {
            InputPath::Stdin
        } else {
            InputPath::File(path.to_path_buf())
        }
    }

    /// How the input is shown: the path, or `stdin`.
    pub fn label(&self) -> String {
        match self {
            InputPath::Stdin => "stdin".to_owned(),
            InputPath::File(path) => path.display().to_string(),
        }
    }
}

/// What `open`, `serve --input` and `record --input` say about their input.
#[derive(Debug, Clone)]
pub struct InputOptions {
    pub path: InputPath,
    /// `None`: inferred from the file's extension, else from the first line.
    pub format: Option<Format>,
    /// Keep reading a growing file, across truncation and rotation.
    pub follow: bool,
    /// The field or column holding each record's time (seconds, or RFC 3339).
    pub time_field: Option<String>,
    /// The string field whose words become a text channel.
    pub text_field: Option<String>,
    /// Lines per second; `None`: as fast as the consumer takes them (a pipe: as they come).
    pub rate_hz: Option<f64>,
    /// The source's name (the event channel's); default: the file's stem, or `stdin`.
    pub name: Option<String>,
    /// Print each of the first problems on stderr as it happens (headless commands; the
    /// screen lists them when it closes instead).
    pub echo_problems: bool,
}

impl InputOptions {
    pub fn new(path: InputPath) -> Self {
        Self {
            path,
            format: None,
            follow: false,
            time_field: None,
            text_field: None,
            rate_hz: None,
            name: None,
            echo_problems: false,
        }
    }

    /// The source's name: `--name`, else the file's stem, else `stdin`.
    pub fn source_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match &self.path {
            InputPath::Stdin => "stdin".to_owned(),
            InputPath::File(path) => path
                .file_stem()
                .map_or_else(|| "input".to_owned(), |s| s.to_string_lossy().into_owned()),
        }
    }
}

/// Why an input cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid --rate {0}: must be a finite number of lines per second above 0")]
    Rate(f64),
    #[error("--name must not be empty")]
    EmptyName,
}

/// How reading ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEnd {
    /// The input ended; everything was read.
    Ended,
    /// The consumer went away.
    Stopped,
    /// The input cannot be read on (an I/O error, a CSV without a header); the reason.
    Failed(String),
}

/// An opened text input, ready to [`run`](TextInput::run).
pub struct TextInput {
    opts: InputOptions,
    reader: BufReader<Box<dyn Read + Send>>,
    /// The open file's inode, to notice rotation when following.
    inode: Option<u64>,
}

impl TextInput {
    /// Opens the input now, so a missing file is an error before anything starts.
    pub fn open(opts: InputOptions) -> Result<Self, InputError> {
        if let Some(rate) = opts.rate_hz
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(InputError::Rate(rate));
        }
        if opts.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(InputError::EmptyName);
        }
        let (read, inode): (Box<dyn Read + Send>, _) = match &opts.path {
            InputPath::Stdin => (Box::new(std::io::stdin()), None),
            InputPath::File(path) => {
                let file = open_file(path)?;
                let inode = file.metadata().ok().map(|m| m.ino());
                (Box::new(file), inode)
            }
        };
        Ok(Self {
            opts,
            reader: BufReader::with_capacity(READ_BUFFER, read),
            inode,
        })
    }

    pub fn options(&self) -> &InputOptions {
        &self.opts
    }

    /// Reads on a thread of its own, sending to `events` (waiting while its queue is full).
    /// Whether the input is live: a pipe, or a file followed as it grows. A live input cannot
    /// be held back without losing what its writer produces meanwhile; a file can.
    pub fn is_live(&self) -> bool {
        self.opts.follow || matches!(self.opts.path, InputPath::Stdin)
    }

    pub fn spawn(
        self,
        events: mpsc::Sender<SourceEvent>,
    ) -> std::io::Result<std::thread::JoinHandle<InputEnd>> {
        let name = format!("midstream-input-{}", self.opts.source_name());
        std::thread::Builder::new()
            .name(name)
            .spawn(move || self.run(&mut |event| events.blocking_send(event).is_ok()))
    }

    /// Reads until the input ends (never, when following), the sink refuses an event
    /// (returns false: the consumer is gone), or the input fails. Blocks.
    pub fn run(mut self, sink: &mut dyn FnMut(SourceEvent) -> bool) -> InputEnd {
        let label = self.opts.path.label();
        if !sink(SourceEvent::Link(LinkState::Reading {
            input: label.clone(),
        })) {
            return InputEnd::Stopped;
        }
        let mut reading = Reading {
            parser: None,
            out: Vec::new(),
            problems: Vec::new(),
            report: InputReport::default(),
            throttle: ReportThrottle::new(Instant::now()),
            start: Instant::now(),
            data_lines: 0,
            not_utf8: 0,
        };
        let mut line = Vec::new();
        let mut line_no = 0u64;
        let mut position = 0u64;
        let end = loop {
            if self.reader.buffer().is_empty() && !reading.flush(sink, false) {
                break InputEnd::Stopped;
            }
            let n = match self.reader.read_until(b'\n', &mut line) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break InputEnd::Failed(format!("cannot read {label}: {e}")),
            };
            position += n as u64;
            let complete = line.last() == Some(&b'\n');
            if !complete {
                // End of the input for now: a last line without its line break is kept for
                // later when following (its writer may be midway), else it is a line.
                if self.opts.follow && self.inode.is_some() {
                    if !reading.flush(sink, true) {
                        break InputEnd::Stopped;
                    }
                    std::thread::sleep(FOLLOW_POLL);
                    if let Err(reason) = self.check_rotation(&mut position, &mut line) {
                        break InputEnd::Failed(reason);
                    }
                    continue;
                }
                if !line.is_empty() {
                    line_no += 1;
                    if let Err(reason) = reading.line(&self.opts, line_no, &line, sink) {
                        break InputEnd::Failed(reason);
                    }
                }
                break InputEnd::Ended;
            }
            line_no += 1;
            line.pop();
            if let Err(reason) = reading.line(&self.opts, line_no, &line, sink) {
                break InputEnd::Failed(reason);
            }
            line.clear();
            if reading.out.len() >= INPUT_BATCH && !reading.flush(sink, false) {
                break InputEnd::Stopped;
            }
            if let Some(rate) = self.opts.rate_hz {
                let due = reading.start + Duration::from_secs_f64(reading.data_lines as f64 / rate);
                let now = Instant::now();
                if due > now {
                    if !reading.flush(sink, true) {
                        break InputEnd::Stopped;
                    }
                    std::thread::sleep(due - now);
                }
            }
        };
        if end == InputEnd::Stopped || !reading.flush(sink, true) {
            return InputEnd::Stopped;
        }
        let link = match &end {
            InputEnd::Ended => {
                let stats = reading
                    .parser
                    .as_ref()
                    .map(|p| p.stats.clone())
                    .unwrap_or_default();
                let mut reason = if line_no == 0 {
                    format!("end of input: {label} is empty")
                } else {
                    format!("end of input: {line_no} lines, {} records", stats.records)
                };
                if reading.report.problems() > 0 {
                    reason.push_str(&format!(", {}", reading.report.summary()));
                }
                LinkState::Ended { reason }
            }
            InputEnd::Failed(reason) => LinkState::Failed {
                reason: reason.clone(),
            },
            InputEnd::Stopped => unreachable!("returned above"),
        };
        if !sink(SourceEvent::Link(link)) {
            return InputEnd::Stopped;
        }
        end
    }

    /// At the end of a followed file: reopens the path when it now holds another file
    /// (rotation), starts again from the top when the file shrank below what was read
    /// (truncation). A path that is missing for now is waited for, as `tail -F` does.
    fn check_rotation(&mut self, position: &mut u64, partial: &mut Vec<u8>) -> Result<(), String> {
        let InputPath::File(path) = &self.opts.path else {
            return Ok(());
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        };
        if Some(meta.ino()) != self.inode {
            let file = match open_file(path) {
                Ok(file) => file,
                Err(_) => return Ok(()), // replaced again meanwhile: try at the next poll
            };
            self.inode = Some(meta.ino());
            self.reader = BufReader::with_capacity(READ_BUFFER, Box::new(file));
            *position = 0;
            partial.clear();
        } else if meta.len() < *position {
            let mut file = open_file(path).map_err(|e| e.to_string())?;
            file.seek(SeekFrom::Start(0))
                .map_err(|e| format!("cannot read {} again from the start: {e}", path.display()))?;
            self.reader = BufReader::with_capacity(READ_BUFFER, Box::new(file));
            *position = 0;
            partial.clear();
        }
        Ok(())
    }
}

fn open_file(path: &Path) -> Result<File, InputError> {
    File::open(path).map_err(|source| InputError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// The state of one reading: the parser (made at the first line, which may decide the format)
/// and what waits to be handed on.
struct Reading {
    parser: Option<RecordParser>,
    out: Vec<Record>,
    problems: Vec<LineError>,
    report: InputReport,
    throttle: ReportThrottle,
    start: Instant,
    /// Lines that were not blank: what `--rate` paces.
    data_lines: u64,
    /// Lines that were not UTF-8 (skipped before the parser sees them).
    not_utf8: u64,
}

impl Reading {
    /// Parses one line (without its line break); `Err` when the input cannot go on.
    fn line(
        &mut self,
        opts: &InputOptions,
        line_no: u64,
        bytes: &[u8],
        sink: &mut dyn FnMut(SourceEvent) -> bool,
    ) -> Result<(), String> {
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let problem = LineError {
                    line: line_no,
                    field: None,
                    message: format!("not valid UTF-8 (byte {})", e.valid_up_to() + 1),
                };
                self.not_utf8 += 1;
                self.note(opts, vec![problem]);
                return Ok(());
            }
        };
        if text.trim().is_empty() {
            if let Some(parser) = &mut self.parser {
                parser.stats.lines += 1;
            }
            return Ok(());
        }
        self.data_lines += 1;
        let parser = self.parser.get_or_insert_with(|| {
            let format = opts.format.unwrap_or_else(|| {
                let path = match &opts.path {
                    InputPath::File(path) => Some(path.as_path()),
                    InputPath::Stdin => None,
                };
                Format::infer(path, text)
            });
            RecordParser::new(ParserOptions {
                format,
                name: opts.source_name(),
                time_field: opts.time_field.clone(),
                text_field: opts.text_field.clone(),
                max_channels: MAX_INPUT_CHANNELS,
            })
        });
        let arrival_ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut problems = std::mem::take(&mut self.problems);
        let before = self.out.len();
        let fatal = parser.parse_line(line_no, text, arrival_ns, &mut self.out, &mut problems);
        if let Some(catalog) = parser.take_catalog() {
            // The earlier lines' records, then the catalog, then this line's: a new channel's
            // records never come before the catalog that has it, and a field's formulas start
            // with the line that brought it.
            let this_line = self.out.split_off(before);
            let earlier = std::mem::replace(&mut self.out, this_line);
            if (!earlier.is_empty() && !sink(SourceEvent::Records(earlier)))
                || !sink(SourceEvent::Catalog(catalog))
            {
                return Err("the consumer went away".to_owned());
            }
        }
        if let Err(fatal) = fatal {
            return Err(format!("{}: {fatal}", opts.path.label()));
        }
        if !problems.is_empty() {
            self.note(opts, std::mem::take(&mut problems));
        }
        self.problems = problems;
        Ok(())
    }

    /// Counts problems into the report and echoes the first ones on stderr when asked.
    fn note(&mut self, opts: &InputOptions, problems: Vec<LineError>) {
        for problem in problems {
            let text = problem.to_string();
            if self.report.first.len() < MAX_LISTED_PROBLEMS {
                if opts.echo_problems {
                    elog!("midstream-tui: {}: {text}", opts.path.label());
                }
                self.report.first.push(text.clone());
            }
            self.report.latest = Some(text);
        }
        let stats = self.parser.as_ref().map(|p| &p.stats);
        self.report.bad_lines = stats.map_or(0, |s| s.bad_lines) + self.not_utf8;
        self.report.bad_cells = stats.map_or(0, |s| s.bad_cells);
        self.report.type_changes = stats.map_or(0, |s| s.type_changed());
        self.throttle.changed();
    }

    /// Hands on the parsed records, and the report when it changed (always at `last`).
    fn flush(&mut self, sink: &mut dyn FnMut(SourceEvent) -> bool, last: bool) -> bool {
        if !self.out.is_empty() && !sink(SourceEvent::Records(std::mem::take(&mut self.out))) {
            return false;
        }
        if let Some(parser) = &self.parser {
            self.report.lines = parser.stats.lines + self.not_utf8;
        }
        if self.throttle.due(last, Instant::now()) {
            return sink(SourceEvent::Input(self.report.clone()));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_report_goes_out_at_most_once_an_interval_unless_forced() {
        let t0 = Instant::now();
        let mut throttle = ReportThrottle::new(t0);
        // Nothing changed: not even a forced report.
        assert!(!throttle.due(true, t0 + REPORT_INTERVAL * 2));
        throttle.changed();
        assert!(!throttle.due(false, t0 + REPORT_INTERVAL / 2));
        assert!(throttle.due(false, t0 + REPORT_INTERVAL));
        // Handed on: not again until it changes.
        assert!(!throttle.due(false, t0 + REPORT_INTERVAL * 3));
        throttle.changed();
        // Within an interval of the last one: held back, unless forced (the input's end).
        let last = t0 + REPORT_INTERVAL;
        assert!(!throttle.due(false, last + REPORT_INTERVAL / 4));
        assert!(throttle.due(true, last + REPORT_INTERVAL / 4));
        assert!(!throttle.due(true, last + REPORT_INTERVAL / 2));
    }
}
