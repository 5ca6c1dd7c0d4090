//! The decision log: every change the learning loop makes, newest last, bounded in memory.

use std::collections::VecDeque;

use crate::model::Decision;

/// Decisions the log keeps: the newest 1,024, oldest dropped first (and counted). A decision is
/// about 200 bytes with its strings, so the log holds at most about 200 KiB however long the
/// stream runs. A live run makes a few decisions per channel while it learns and few after
/// (the rules have hysteresis), so 1,024 covers hours of the demo's nine numeric channels;
/// the trace keeps every decision for good.
pub const DECISION_LOG_CAPACITY: usize = 1024;

/// The newest [`DECISION_LOG_CAPACITY`] decisions and how many were dropped before them.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionLog {
    entries: VecDeque<Decision>,
    dropped: u64,
    capacity: usize,
}

impl Default for DecisionLog {
    fn default() -> Self {
        Self::with_capacity(DECISION_LOG_CAPACITY)
    }
}

impl DecisionLog {
    /// A log of another bound: `replay --headless` keeps every decision of its run (a trace is
    /// finite, and a round makes a handful at most).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            dropped: 0,
            capacity: capacity.max(1),
        }
    }

    /// Appends a decision, dropping the oldest when the log is full.
    pub fn push(&mut self, decision: Decision) {
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(decision);
    }

    pub fn extend(&mut self, decisions: impl IntoIterator<Item = Decision>) {
        decisions.into_iter().for_each(|d| self.push(d));
    }

    /// The decisions kept, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Decision> + ExactSizeIterator {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Decisions dropped to keep the bound.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_newest_and_counts_the_dropped() {
        let mut log = DecisionLog::default();
        for i in 0..DECISION_LOG_CAPACITY as u64 + 10 {
            log.push(Decision {
                channel: 0,
                channel_name: "x".into(),
                sample: i,
                level: 1,
                what: "w".into(),
                from: "a".into(),
                to: "b".into(),
                why: String::new(),
            });
        }
        assert_eq!(log.len(), DECISION_LOG_CAPACITY);
        assert_eq!(log.dropped(), 10);
        assert_eq!(log.iter().next().map(|d| d.sample), Some(10));
    }
}
