//! One channel's running state: counters, gap accounting by `seq`, rate and recent values.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::snapshot::ChannelSnapshot;
use crate::model::{ChannelInfo, ChannelKind, Record, Value};

/// Recent numeric samples kept per channel: enough for the attractor engine's default window
/// (4096 samples) with room to slide.
pub const RING_CAPACITY: usize = 8192;

/// The span over which records per second are measured.
const RATE_SPAN: Duration = Duration::from_secs(2);

/// How often the rate meter takes a sample of the running count.
const RATE_TICK: Duration = Duration::from_millis(100);

/// Records per second over the last `RATE_SPAN`, from samples of the running count.
#[derive(Debug, Default)]
pub struct RateMeter {
    samples: VecDeque<(Instant, u64)>,
}

impl RateMeter {
    /// Notes the running count at `now`.
    pub fn observe(&mut self, now: Instant, count: u64) {
        if let Some(&(last, _)) = self.samples.back()
            && now.duration_since(last) < RATE_TICK
        {
            if let Some(back) = self.samples.back_mut() {
                back.1 = count;
            }
            return;
        }
        self.samples.push_back((now, count));
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= RATE_SPAN {
            self.samples.pop_front();
        }
    }

    /// Records per second, measured up to `now` (a silent channel decays to zero).
    pub fn rate_hz(&self, now: Instant) -> f64 {
        let (Some(&(t0, c0)), Some(&(_, c1))) = (self.samples.front(), self.samples.back()) else {
            return 0.0;
        };
        let span = now.duration_since(t0).as_secs_f64();
        if span <= 0.0 || c1 == c0 {
            return 0.0;
        }
        (c1 - c0) as f64 / span
    }
}

/// Running state of one channel.
#[derive(Debug)]
pub struct ChannelState {
    pub info: ChannelInfo,
    pub received: u64,
    pub missing: u64,
    /// Records whose `seq` was below one already seen (duplicates or reordering).
    pub out_of_order: u64,
    next_seq: Option<u64>,
    pub last_value: Option<Value>,
    pub last_t_ns: u64,
    rate: RateMeter,
    /// One ring per numeric column (one for scalars, one per component for vectors).
    columns: Vec<VecDeque<f64>>,
    /// Numeric samples pushed since the channel started (the ring keeps the last ones).
    pub samples_pushed: u64,
}

impl ChannelState {
    pub fn new(info: ChannelInfo) -> Self {
        let columns = match info.kind {
            ChannelKind::Scalar => 1,
            ChannelKind::Vector { dims } => dims as usize,
            _ => 0,
        };
        Self {
            info,
            received: 0,
            missing: 0,
            out_of_order: 0,
            next_seq: None,
            last_value: None,
            last_t_ns: 0,
            rate: RateMeter::default(),
            columns: (0..columns)
                .map(|_| VecDeque::with_capacity(RING_CAPACITY))
                .collect(),
            samples_pushed: 0,
        }
    }

    /// Takes one record: counts it, accounts for gaps by `seq`, keeps its numeric value.
    pub fn ingest(&mut self, record: &Record) {
        self.count(record);
        self.last_value = Some(record.value.clone());
    }

    /// Takes a run of this channel's records, in order: as [`Self::ingest`] of each, with
    /// only the last one's value kept whole (a field map is cloned once, not per record).
    pub fn ingest_run(&mut self, records: &[Record]) {
        for record in records {
            self.count(record);
        }
        if let Some(last) = records.last() {
            self.last_value = Some(last.value.clone());
        }
    }

    fn count(&mut self, record: &Record) {
        self.received += 1;
        match self.next_seq {
            Some(expected) if record.seq > expected => self.missing += record.seq - expected,
            Some(expected) if record.seq < expected => self.out_of_order += 1,
            _ => {}
        }
        self.next_seq = Some(
            self.next_seq
                .map_or(record.seq + 1, |n| n.max(record.seq + 1)),
        );
        self.last_t_ns = record.t_ns;
        match &record.value {
            Value::Scalar(x) if self.columns.len() == 1 => {
                push_ring(&mut self.columns[0], *x);
                self.samples_pushed += 1;
            }
            Value::Vector(v) if !self.columns.is_empty() => {
                for (column, x) in self.columns.iter_mut().zip(v.iter()) {
                    push_ring(column, *x);
                }
                self.samples_pushed += 1;
            }
            _ => {}
        }
    }

    /// Notes the running count for the rate meter.
    pub fn tick(&mut self, now: Instant) {
        self.rate.observe(now, self.received);
    }

    /// The last `n` samples of column `column`, oldest first.
    pub fn recent(&self, column: usize, n: usize) -> Vec<f64> {
        self.columns.get(column).map_or_else(Vec::new, |ring| {
            let skip = ring.len().saturating_sub(n);
            ring.iter().skip(skip).copied().collect()
        })
    }

    pub fn columns(&self) -> usize {
        self.columns.len()
    }

    pub fn snapshot(&self, now: Instant, points: usize) -> ChannelSnapshot {
        ChannelSnapshot {
            info: self.info.clone(),
            received: self.received,
            missing: self.missing,
            rate_hz: self.rate.rate_hz(now),
            last_value: self.last_value.clone(),
            last_t_ns: self.last_t_ns,
            recent: (0..self.columns.len())
                .map(|c| self.recent(c, points))
                .collect(),
        }
    }
}

fn push_ring(ring: &mut VecDeque<f64>, x: f64) {
    if ring.len() == RING_CAPACITY {
        ring.pop_front();
    }
    ring.push_back(x);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: ChannelKind) -> ChannelInfo {
        ChannelInfo {
            id: 0,
            name: "c".into(),
            kind,
            unit: None,
            period_s: None,
        }
    }

    fn rec(seq: u64, x: f64) -> Record {
        Record {
            channel: 0,
            seq,
            t_ns: seq * 10,
            value: Value::Scalar(x),
        }
    }

    #[test]
    fn gaps_are_counted_from_the_first_seq_seen() {
        let mut ch = ChannelState::new(info(ChannelKind::Scalar));
        for seq in [100, 101, 105, 106, 103, 110] {
            ch.ingest(&rec(seq, seq as f64));
        }
        assert_eq!(ch.received, 6);
        assert_eq!(ch.missing, 3 + 3);
        assert_eq!(ch.out_of_order, 1);
        assert_eq!(ch.recent(0, 3), vec![106.0, 103.0, 110.0]);
    }

    #[test]
    fn ring_keeps_the_newest_samples() {
        let mut ch = ChannelState::new(info(ChannelKind::Vector { dims: 2 }));
        for i in 0..(RING_CAPACITY as u64 + 10) {
            ch.ingest(&Record {
                channel: 0,
                seq: i,
                t_ns: 0,
                value: Value::Vector(vec![i as f64, -(i as f64)]),
            });
        }
        let x = ch.recent(0, usize::MAX);
        assert_eq!(x.len(), RING_CAPACITY);
        assert_eq!(x[0], 10.0);
        assert_eq!(ch.recent(1, 1), vec![-((RING_CAPACITY + 9) as f64)]);
    }

    #[test]
    fn rate_meter_measures_records_per_second() {
        let start = Instant::now();
        let mut meter = RateMeter::default();
        for i in 0..=30u64 {
            meter.observe(start + Duration::from_millis(100 * i), i * 50);
        }
        let rate = meter.rate_hz(start + Duration::from_millis(3000));
        assert!((rate - 500.0).abs() < 1.0, "{rate}");
        // Silence decays the rate.
        let later = meter.rate_hz(start + Duration::from_millis(6000));
        assert!(later < rate * 0.7, "{later}");
    }
}
