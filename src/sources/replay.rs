//! Trace replay as a source: sends a recorded trace's records to the pipeline with their
//! recorded timing at any speed, or as fast as possible, and obeys pause, speed and seek.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::model::{LinkState, Record, SourceEvent};
use crate::trace::{RecoveredTrace, StopReason};

/// How often the replay wakes to send the records that became due.
const REPLAY_TICK: Duration = Duration::from_millis(10);

/// Records sent per batch when replaying as fast as possible.
const FAST_BATCH: usize = 4096;

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

/// A trace being replayed.
pub struct Replay {
    records: Vec<Record>,
    stop: StopReason,
    catalog: crate::model::Catalog,
    /// Speed factor; 0 = as fast as possible.
    speed: f64,
    paused: bool,
    /// Index of the next record to send.
    next: usize,
    /// Trace time reached, nanoseconds (relative to the first record).
    position_ns: u64,
    origin_ns: u64,
    length_ns: u64,
}

impl Replay {
    pub fn new(trace: RecoveredTrace, speed: f64) -> Self {
        let origin_ns = trace.records.iter().map(|r| r.t_ns).min().unwrap_or(0);
        let end_ns = trace.records.iter().map(|r| r.t_ns).max().unwrap_or(0);
        Self {
            records: trace.records,
            stop: trace.stop,
            catalog: trace.header.catalog,
            speed: speed.max(0.0),
            paused: false,
            next: 0,
            position_ns: 0,
            origin_ns,
            length_ns: end_ns - origin_ns,
        }
    }

    fn link(&self) -> LinkState {
        if self.next >= self.records.len() {
            LinkState::Ended {
                reason: format!(
                    "end of trace ({} records, {})",
                    self.records.len(),
                    self.stop
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

    /// Records up to (and including) trace time `position_ns`, from the next unsent one.
    fn due(&mut self, position_ns: u64) -> Vec<Record> {
        let start = self.next;
        while self.next < self.records.len()
            && self.records[self.next].t_ns.saturating_sub(self.origin_ns) <= position_ns
        {
            self.next += 1;
        }
        self.records[start..self.next].to_vec()
    }

    /// Applies a command; returns events to send (a seek backwards resets the pipeline and
    /// replays up to the new position at once, so counts and windows are as if played).
    fn apply(&mut self, command: ReplayCommand) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        let target = match command {
            ReplayCommand::TogglePause => {
                self.paused = !self.paused;
                None
            }
            ReplayCommand::ScaleSpeed(factor) => {
                if self.speed > 0.0 {
                    self.speed = (self.speed * factor).clamp(MIN_SPEED, MAX_SPEED);
                }
                None
            }
            ReplayCommand::Seek(delta) => Some(
                self.position_ns
                    .saturating_add_signed(delta)
                    .min(self.length_ns),
            ),
            ReplayCommand::Restart => Some(0),
        };
        if let Some(target) = target {
            if target < self.position_ns || matches!(command, ReplayCommand::Restart) {
                self.next = 0;
                events.push(SourceEvent::Reset);
            }
            self.position_ns = target;
            let due = self.due(target);
            if !due.is_empty() {
                events.push(SourceEvent::Records(due));
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
    ) {
        if events
            .send(SourceEvent::Catalog(self.catalog.clone()))
            .await
            .is_err()
        {
            return;
        }
        let mut clock = Instant::now();
        let mut ended_sent = false;
        loop {
            let finished = self.next >= self.records.len();
            if finished && !ended_sent {
                ended_sent = true;
                if events.send(SourceEvent::Link(self.link())).await.is_err() {
                    return;
                }
                if commands.is_none() {
                    return;
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
                        if finished { return; }
                        continue;
                    };
                    for event in self.apply(command) {
                        if events.send(event).await.is_err() {
                            return;
                        }
                    }
                    ended_sent = false;
                    clock = Instant::now();
                }
                _ = tokio::time::sleep(wait) => {
                    if idle {
                        continue;
                    }
                    let batch = if self.speed == 0.0 {
                        let end = (self.next + FAST_BATCH).min(self.records.len());
                        let batch = self.records[self.next..end].to_vec();
                        self.next = end;
                        if let Some(last) = batch.last() {
                            self.position_ns = last.t_ns.saturating_sub(self.origin_ns);
                        }
                        batch
                    } else {
                        let now = Instant::now();
                        let elapsed = now.duration_since(clock).as_secs_f64();
                        clock = now;
                        self.position_ns = (self.position_ns as f64 + elapsed * self.speed * 1e9)
                            .min(self.length_ns as f64) as u64;
                        self.due(self.position_ns)
                    };
                    if !batch.is_empty() && events.send(SourceEvent::Records(batch)).await.is_err() {
                        return;
                    }
                    if events.send(SourceEvent::Link(self.link())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

async fn recv(commands: &mut Option<mpsc::Receiver<ReplayCommand>>) -> Option<ReplayCommand> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
