//! Trace replay as a source: streams a recorded trace's records to the pipeline with their
//! recorded timing at any speed, or as fast as possible, and obeys pause, speed and seek.
//!
//! The file is read a batch at a time, never whole: memory is one batch of records, the read
//! buffer and the sparse index (see [`crate::trace::TraceIndex`]), whatever the trace's size.
//! Seeking jumps through the index: the footer of a clean recording, a scan of the file when
//! it has none ([`ReplayIndex::Scan`]), or the points collected while reading
//! ([`ReplayIndex::AsRead`], which seeks back at once and forward by reading on).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::model::{Catalog, LinkState, Record, SourceEvent};
use crate::trace::{
    Entry, IndexBuilder, IndexPoint, StopReason, TraceError, TraceIndex, TraceReader, point_before,
    previous,
};

/// How often the replay wakes to send the records that became due.
const REPLAY_TICK: Duration = Duration::from_millis(10);

/// Records sent per batch when replaying as fast as possible, and at most per batch otherwise.
const BATCH: usize = 4096;

/// Replay speeds the speed keys step through are clamped to this range.
pub const MIN_SPEED: f64 = 1.0 / 64.0;
pub const MAX_SPEED: f64 = 1024.0;

/// What the user can ask of a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplayCommand {
    TogglePause,
    /// Multiply the speed by this factor (clamped to `MIN_SPEED..=MAX_SPEED`).
    ScaleSpeed(f64),
    /// Move the position by this many nanoseconds of trace time (negative: back).
    Seek(i64),
    /// Back to the start.
    Restart,
}

/// Where a replay's seek index comes from when the trace has no footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayIndex {
    /// Read the whole trace once before playing (without keeping its records), so that its
    /// length is known and every position is one jump away. For the screen.
    Scan,
    /// Collect index points while playing: seeks back are jumps, seeks ahead read on. For a
    /// single pass (`replay --headless`), which never seeks.
    AsRead,
}

/// How a replay ended.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    /// Records in the trace before its end or first damage (as far as it was read).
    pub records: u64,
    pub stop: StopReason,
    pub file_len: u64,
}

/// The index a replay seeks with.
enum Seeking {
    /// From the footer or a scan: the whole trace.
    Complete(TraceIndex),
    /// Points collected while reading, up to byte `read_to`.
    Growing { builder: IndexBuilder, read_to: u64 },
}

impl Seeking {
    fn points(&self) -> &[IndexPoint] {
        match self {
            Seeking::Complete(index) => &index.points,
            Seeking::Growing { builder, .. } => builder.points(),
        }
    }
}

/// A trace being replayed.
pub struct Replay {
    reader: TraceReader<BufReader<File>>,
    seeking: Seeking,
    /// Offset of the first frame after the header.
    data_start: u64,
    file_len: u64,
    /// The catalog the pipeline has: catalogs in the trace only grow, so a smaller one read
    /// again after a seek back is not sent.
    catalog: Catalog,
    /// The next record, read but not yet due.
    pending: Option<Record>,
    /// Speed factor; 0 = as fast as possible.
    speed: f64,
    paused: bool,
    /// Trace time reached, nanoseconds (relative to the first record).
    position_ns: u64,
    origin_ns: Option<u64>,
    length_ns: u64,
}

impl Replay {
    /// Opens a trace for replay at `speed` (0 = as fast as possible).
    pub fn open(path: &Path, speed: f64, index: ReplayIndex) -> Result<Self, TraceError> {
        let mut reader = TraceReader::open(path)?;
        let data_start = reader.offset();
        let file_len =
            std::fs::metadata(path)
                .map(|m| m.len())
                .map_err(|source| TraceError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
        let complete = match reader.read_footer() {
            Some(footer) => Some(footer),
            None if index == ReplayIndex::Scan => {
                let scanned = reader.scan_index();
                reader.seek_to(data_start)?;
                Some(scanned)
            }
            None => None,
        };
        let (seeking, catalog, origin_ns, length_ns) = match complete {
            Some(index) => {
                let catalog = index.catalog.clone();
                let (first, last) = (index.first_t_ns, index.last_t_ns);
                (Seeking::Complete(index), catalog, Some(first), last - first)
            }
            None => (
                Seeking::Growing {
                    builder: IndexBuilder::default(),
                    read_to: data_start,
                },
                reader.header().catalog.clone(),
                None,
                0,
            ),
        };
        Ok(Self {
            reader,
            seeking,
            data_start,
            file_len,
            catalog,
            pending: None,
            speed: speed.max(0.0),
            paused: false,
            position_ns: 0,
            origin_ns,
            length_ns,
        })
    }

    /// Where the trace's records came from, as its header says.
    pub fn source(&self) -> &str {
        &self.reader.header().source
    }

    /// Trace time span in nanoseconds (so far, when the trace is indexed as it is read).
    pub fn length_ns(&self) -> u64 {
        self.length_ns
    }

    fn finished(&self) -> bool {
        self.pending.is_none() && self.reader.stop_reason().is_some()
    }

    fn outcome(&self) -> ReplayOutcome {
        let records = match &self.seeking {
            Seeking::Complete(index) => index.records,
            Seeking::Growing { builder, .. } => builder.records(),
        };
        ReplayOutcome {
            records,
            stop: self
                .reader
                .stop_reason()
                .cloned()
                .unwrap_or(StopReason::CleanEnd),
            file_len: self.file_len,
        }
    }

    fn link(&self) -> LinkState {
        if self.finished() {
            let outcome = self.outcome();
            LinkState::Ended {
                reason: format!(
                    "end of trace ({} records, {})",
                    outcome.records, outcome.stop
                ),
            }
        } else {
            LinkState::Replay {
                speed: self.speed,
                paused: self.paused,
                position_ns: self.position_ns,
                length_ns: self.length_ns,
            }
        }
    }

    /// The next record from the file, noting index points and catalogs that grew on the way.
    fn read(&mut self, events: &mut Vec<SourceEvent>, batch: &mut Vec<Record>) -> Option<Record> {
        if let Some(record) = self.pending.take() {
            return Some(record);
        }
        loop {
            let offset = self.reader.offset();
            match self.reader.next_entry()? {
                Entry::Record(record) => {
                    if let Seeking::Growing { builder, read_to } = &mut self.seeking
                        && offset >= *read_to
                    {
                        builder.record(offset, record.t_ns);
                        *read_to = self.reader.offset();
                        let origin = *self.origin_ns.get_or_insert(record.t_ns);
                        self.length_ns = builder.last_t_ns().saturating_sub(origin);
                    }
                    return Some(record);
                }
                Entry::Decision(decision) => {
                    // In order with the records around it: the batch so far goes first.
                    if !batch.is_empty() {
                        events.push(SourceEvent::Records(std::mem::take(batch)));
                    }
                    events.push(SourceEvent::Decisions(vec![decision]));
                }
                Entry::Catalog(catalog) => {
                    if catalog.channels.len() > self.catalog.channels.len() {
                        if !batch.is_empty() {
                            events.push(SourceEvent::Records(std::mem::take(batch)));
                        }
                        self.catalog = catalog.clone();
                        events.push(SourceEvent::Catalog(catalog));
                    }
                }
            }
        }
    }

    /// Up to [`BATCH`] records from the next unsent one, those at or before trace time
    /// `until_ns` (all when `None`), as events (catalogs that grew come in order between them).
    fn take(&mut self, until_ns: Option<u64>) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        let mut batch = Vec::new();
        while batch.len() < BATCH {
            let Some(record) = self.read(&mut events, &mut batch) else {
                break;
            };
            let origin = *self.origin_ns.get_or_insert(record.t_ns);
            let t = record.t_ns.saturating_sub(origin);
            if until_ns.is_some_and(|until| t > until) {
                self.pending = Some(record);
                break;
            }
            if until_ns.is_none() {
                self.position_ns = t;
            }
            batch.push(record);
        }
        if !batch.is_empty() {
            events.push(SourceEvent::Records(batch));
        }
        events
    }

    /// Everything at or before `until_ns`, in batches.
    fn take_all(&mut self, until_ns: u64) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        loop {
            let more = self.take(Some(until_ns));
            let full = filled(&more);
            events.extend(more);
            if !full {
                return events;
            }
        }
    }

    /// Jumps to trace time `target_ns`: the pipeline is reset and given the records from an
    /// index point at least one index spacing before the target up to it, so its windows hold
    /// recent data (its counts then start there).
    fn jump(&mut self, target_ns: u64, events: &mut Vec<SourceEvent>) {
        let points = self.seeking.points();
        let origin = self.origin_ns.unwrap_or(0);
        let from = point_before(points, origin + target_ns)
            .map(|point| previous(points, point).unwrap_or(point))
            .map_or(self.data_start, |point| point.offset);
        events.push(SourceEvent::Reset);
        self.pending = None;
        if let Err(err) = self.reader.seek_to(from) {
            events.push(SourceEvent::Link(LinkState::Ended {
                reason: format!("seek failed: {err}"),
            }));
            return;
        }
        self.position_ns = target_ns;
        events.extend(self.take_all(target_ns));
    }

    /// Whether reading on from here to `target_ns` is shorter than a jump: when no index
    /// point lies between the next record and the target.
    fn near(&self, target_ns: u64) -> bool {
        let origin = self.origin_ns.unwrap_or(0);
        match point_before(self.seeking.points(), origin + target_ns) {
            Some(point) => point.offset <= self.reader.offset(),
            None => true,
        }
    }

    /// Applies a command; returns the events for the pipeline (a jump starts with
    /// [`SourceEvent::Reset`]). [`Replay::run`] calls it for each command it receives.
    pub fn command(&mut self, command: ReplayCommand) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        match command {
            ReplayCommand::TogglePause => self.paused = !self.paused,
            ReplayCommand::ScaleSpeed(factor) => {
                if self.speed > 0.0 {
                    self.speed = (self.speed * factor).clamp(MIN_SPEED, MAX_SPEED);
                }
            }
            ReplayCommand::Restart => {
                events.push(SourceEvent::Reset);
                self.pending = None;
                self.position_ns = 0;
                if let Err(err) = self.reader.seek_to(self.data_start) {
                    events.push(SourceEvent::Link(LinkState::Ended {
                        reason: format!("restart failed: {err}"),
                    }));
                    return events;
                }
                events.extend(self.take_all(0));
            }
            ReplayCommand::Seek(delta) => {
                let mut target = self.position_ns.saturating_add_signed(delta);
                // Indexed as read, the end is not known yet: reading on stops there.
                if matches!(self.seeking, Seeking::Complete(_)) {
                    target = target.min(self.length_ns);
                }
                if target >= self.position_ns && self.near(target) {
                    // A step ahead: play on to it, as if the time had passed.
                    self.position_ns = target;
                    events.extend(self.take_all(target));
                } else {
                    self.jump(target, &mut events);
                }
            }
        }
        events.push(SourceEvent::Link(self.link()));
        events
    }

    /// Sends the trace to `events`, honouring commands, until the command channel closes (or,
    /// without a command channel, until the trace ends). Returns early if the pipeline is gone.
    pub async fn run(
        mut self,
        events: mpsc::Sender<SourceEvent>,
        mut commands: Option<mpsc::Receiver<ReplayCommand>>,
    ) -> ReplayOutcome {
        if events
            .send(SourceEvent::Catalog(self.catalog.clone()))
            .await
            .is_err()
        {
            return self.outcome();
        }
        let mut clock = Instant::now();
        let mut ended_sent = false;
        loop {
            let finished = self.finished();
            if finished && !ended_sent {
                ended_sent = true;
                if events.send(SourceEvent::Link(self.link())).await.is_err() {
                    return self.outcome();
                }
                if commands.is_none() {
                    return self.outcome();
                }
            }
            let idle = self.paused || finished;
            let wait = if idle {
                Duration::from_secs(3600)
            } else if self.speed == 0.0 {
                Duration::ZERO
            } else {
                REPLAY_TICK
            };
            tokio::select! {
                biased;
                command = recv(&mut commands) => {
                    let Some(command) = command else {
                        commands = None;
                        if finished { return self.outcome(); }
                        continue;
                    };
                    for event in self.command(command) {
                        if events.send(event).await.is_err() {
                            return self.outcome();
                        }
                    }
                    ended_sent = false;
                    clock = Instant::now();
                }
                _ = tokio::time::sleep(wait) => {
                    if idle {
                        continue;
                    }
                    if self.speed == 0.0 {
                        for event in self.take(None) {
                            if events.send(event).await.is_err() {
                                return self.outcome();
                            }
                        }
                    } else {
                        let now = Instant::now();
                        let elapsed = now.duration_since(clock).as_secs_f64();
                        clock = now;
                        let advanced = self.position_ns as f64 + elapsed * self.speed * 1e9;
                        // Indexed as read, the length is only known up to what was read.
                        self.position_ns = if matches!(self.seeking, Seeking::Complete(_)) {
                            advanced.min(self.length_ns as f64) as u64
                        } else {
                            advanced as u64
                        };
                        // Batch after batch: the channel's capacity bounds what waits in memory.
                        loop {
                            let batch = self.take(Some(self.position_ns));
                            let full = filled(&batch);
                            for event in batch {
                                if events.send(event).await.is_err() {
                                    return self.outcome();
                                }
                            }
                            if !full {
                                break;
                            }
                        }
                    }
                    if events.send(SourceEvent::Link(self.link())).await.is_err() {
                        return self.outcome();
                    }
                }
            }
        }
    }
}

/// Whether [`Replay::take`] stopped at a full batch, so more records may be due.
fn filled(events: &[SourceEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, SourceEvent::Records(r) if r.len() == BATCH))
}

async fn recv(commands: &mut Option<mpsc::Receiver<ReplayCommand>>) -> Option<ReplayCommand> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChannelInfo, ChannelKind, Value};
    use crate::trace::{INITIAL_INDEX_SPACING, TraceHeader, TraceWriter, WriterOptions};

    /// One scalar channel, a record every millisecond.
    const RECORDS: u64 = 120_000;
    const STEP_NS: u64 = 1_000_000;

    fn catalog(channels: u32) -> Catalog {
        Catalog {
            source: "test".into(),
            channels: (0..channels)
                .map(|id| ChannelInfo {
                    id,
                    name: format!("c{id}"),
                    kind: ChannelKind::Scalar,
                    unit: None,
                    period_s: Some(0.001),
                })
                .collect(),
        }
    }

    /// Writes the trace; `finish` adds the footer, otherwise the file ends after the records
    /// (as a crash leaves it). A second channel appears halfway, with a catalog frame.
    fn write(path: &Path, finish: bool) {
        let header = TraceHeader {
            version: crate::trace::FORMAT_VERSION,
            started_unix_ns: 0,
            source: "test".into(),
            catalog: catalog(1),
        };
        let mut writer = TraceWriter::create(path, &header, WriterOptions::default()).unwrap();
        for i in 0..RECORDS {
            if i == RECORDS / 2 {
                writer.append_catalog(&catalog(2)).unwrap();
            }
            let channel = u32::from(i >= RECORDS / 2 && i % 2 == 1);
            let record = Record {
                channel,
                seq: i,
                t_ns: 5_000 + i * STEP_NS,
                value: Value::Scalar(i as f64),
            };
            writer.append(&record).unwrap();
        }
        if finish {
            writer.finish().unwrap();
        } else {
            writer.flush().unwrap();
        }
    }

    fn records(events: &[SourceEvent]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match e {
                SourceEvent::Records(r) => Some(r.iter().map(|r| r.seq)),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// A seek to `target` seconds: a reset, then consecutive records from at least one index
    /// spacing before the target (and at most two) up to the last one at the target.
    fn check_jump(replay: &mut Replay, from_s: u64, to_s: u64) {
        let delta = (to_s as i64 - from_s as i64) * 1_000_000_000;
        let events = replay.command(ReplayCommand::Seek(delta));
        assert!(
            matches!(events[0], SourceEvent::Reset),
            "{from_s} s -> {to_s} s"
        );
        let seqs = records(&events);
        let last = *seqs.last().unwrap();
        assert_eq!(
            last,
            to_s * 1000,
            "the last record sent is the one at the target"
        );
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
        let file_len = replay.file_len;
        let per_spacing = INITIAL_INDEX_SPACING * RECORDS / file_len;
        let warm = seqs.len() as u64;
        assert!(
            warm >= per_spacing / 2 && warm <= 3 * per_spacing,
            "{warm} records"
        );
        assert_eq!(replay.position_ns, to_s * 1_000_000_000);
    }

    #[test]
    fn a_clean_trace_seeks_through_its_footer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.mtr");
        write(&path, true);
        let mut replay = Replay::open(&path, 1.0, ReplayIndex::AsRead).unwrap();
        assert!(
            matches!(replay.seeking, Seeking::Complete(_)),
            "footer read"
        );
        assert_eq!(replay.length_ns(), (RECORDS - 1) * STEP_NS);
        assert_eq!(
            replay.catalog.channels.len(),
            2,
            "the final catalog, from the footer"
        );
        check_jump(&mut replay, 0, 100);
        check_jump(&mut replay, 100, 40);
        // A step ahead plays on, without a reset.
        let events = replay.command(ReplayCommand::Seek(500_000_000));
        assert!(!matches!(events[0], SourceEvent::Reset));
        assert_eq!(records(&events), (40_001..=40_500).collect::<Vec<_>>());
        // Restart: the first record again.
        let events = replay.command(ReplayCommand::Restart);
        assert!(matches!(events[0], SourceEvent::Reset));
        assert_eq!(records(&events), [0]);
    }

    #[test]
    fn a_trace_without_footer_is_scanned_to_the_same_index() {
        let dir = tempfile::tempdir().unwrap();
        let clean = dir.path().join("clean.mtr");
        let cut = dir.path().join("cut.mtr");
        write(&clean, true);
        write(&cut, false);
        let footer = Replay::open(&clean, 1.0, ReplayIndex::AsRead).unwrap();
        let mut scanned = Replay::open(&cut, 1.0, ReplayIndex::Scan).unwrap();
        let (Seeking::Complete(a), Seeking::Complete(b)) = (&footer.seeking, &scanned.seeking)
        else {
            panic!("both indexed");
        };
        assert_eq!(a, b);
        assert!(a.points.len() > 3);
        check_jump(&mut scanned, 0, 110);
    }

    #[test]
    fn indexed_as_read_it_seeks_back_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.mtr");
        write(&path, false);
        let mut replay = Replay::open(&path, 1.0, ReplayIndex::AsRead).unwrap();
        assert!(matches!(replay.seeking, Seeking::Growing { .. }));
        // Ahead of what was read: reads on, as if played.
        let events = replay.command(ReplayCommand::Seek(90_000_000_000));
        assert!(!matches!(events[0], SourceEvent::Reset));
        assert_eq!(records(&events).len(), 90_001);
        // The second channel's catalog came in order, before its first record.
        let catalog_at = events
            .iter()
            .position(|e| matches!(e, SourceEvent::Catalog(c) if c.channels.len() == 2))
            .unwrap();
        let before: usize = events[..catalog_at]
            .iter()
            .map(|e| match e {
                SourceEvent::Records(r) => r.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(before as u64, RECORDS / 2);
        check_jump(&mut replay, 90, 30);
    }

    #[test]
    fn a_fast_replay_streams_every_record_and_says_how_it_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.mtr");
        write(&path, true);
        let replay = Replay::open(&path, 0.0, ReplayIndex::AsRead).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let (seqs, outcome) = runtime.block_on(async {
            let (tx, mut rx) = mpsc::channel(4);
            let task = tokio::spawn(replay.run(tx, None));
            let mut seqs = Vec::new();
            while let Some(event) = rx.recv().await {
                if let SourceEvent::Records(r) = event {
                    seqs.extend(r.iter().map(|r| r.seq));
                }
            }
            (seqs, task.await.unwrap())
        });
        assert_eq!(seqs, (0..RECORDS).collect::<Vec<_>>());
        assert_eq!(outcome.records, RECORDS);
        assert!(outcome.stop.is_clean(), "{}", outcome.stop);
    }
}
