//! A detector for text token streams that repeat themselves: a language model stuck in a
//! loop.
//!
//! After each token, the most recent `window` tokens are searched for in the `lookback`
//! tokens that precede them, allowing up to `max_edits` insertions, deletions or
//! substitutions (approximate string matching with a free start, Sellers 1980, computed
//! bit-parallel after Myers 1999). A match means the stream has just repeated, almost word
//! for word, a stretch it produced earlier. The earlier stretch must end before the recent
//! window begins: a window compared with itself shifted by one token is always within two
//! edits, so overlapping comparisons would flag every stream. A loop of period `p` is thus
//! reported once the loop has run for about `window + p` tokens.
//!
//! Tokens are compared exactly (as strings). Memory is bounded: the detector keeps the last
//! `window + lookback` tokens, interned, and forgets tokens that leave them.

use super::bitparallel::{self, PatternMasks};
use super::error::TemporalError;
use rustc_hash::FxHashMap;

/// Default length of the recent window, in tokens: about a sentence, long enough that a
/// repeat is not a coincidence of common words.
pub const DEFAULT_WINDOW_TOKENS: usize = 16;

/// Default number of edits tolerated: 2 of 16 tokens (12.5%) lets a loop that varies a
/// number or a word per cycle still count as a loop.
pub const DEFAULT_MAX_EDITS: usize = 2;

/// Default number of tokens before the window that are searched: enough for loops of a few
/// sentences to a paragraph.
pub const DEFAULT_LOOKBACK_TOKENS: usize = 512;

/// Parameters of the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepetitionConfig {
    /// Length of the recent window, in tokens (at least 1).
    pub window: usize,
    /// Largest edit distance at which an earlier stretch counts as a repeat (below `window`).
    pub max_edits: usize,
    /// Tokens before the window that are searched (at least `window`).
    pub lookback: usize,
}

impl Default for RepetitionConfig {
    fn default() -> Self {
        RepetitionConfig {
            window: DEFAULT_WINDOW_TOKENS,
            max_edits: DEFAULT_MAX_EDITS,
            lookback: DEFAULT_LOOKBACK_TOKENS,
        }
    }
}

/// A repeat: the recent window matches an earlier stretch of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repetition {
    /// Index (counting tokens from 0) of the first token of the recent window.
    pub window_start: u64,
    /// Length of the recent window, in tokens.
    pub window_len: usize,
    /// Index of the last token of the earlier stretch that matches it.
    pub earlier_end: u64,
    /// Distance in tokens between the two ends: the loop's period, or the smallest multiple of
    /// it that is at least the window's length when the loop is shorter than the window.
    pub period: u64,
    /// Edit distance between the window and the earlier stretch (at most `max_edits`).
    pub edits: usize,
}

/// Interns tokens to small ids with reference counts, so ids stay below the number of tokens
/// held and forgotten tokens free their memory.
#[derive(Debug, Default)]
struct TokenInterner {
    ids: FxHashMap<Box<str>, u32>,
    counts: Vec<u32>,
    names: Vec<Option<Box<str>>>,
    free: Vec<u32>,
}

impl TokenInterner {
    fn acquire(&mut self, token: &str) -> u32 {
        if let Some(&id) = self.ids.get(token) {
            self.counts[id as usize] += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.counts.push(0);
                self.names.push(None);
                (self.counts.len() - 1) as u32
            }
        };
        let name: Box<str> = token.into();
        self.ids.insert(name.clone(), id);
        self.names[id as usize] = Some(name);
        self.counts[id as usize] = 1;
        id
    }

    fn release(&mut self, id: u32) {
        let count = &mut self.counts[id as usize];
        *count -= 1;
        if *count == 0 {
            if let Some(name) = self.names[id as usize].take() {
                self.ids.remove(&name);
            }
            self.free.push(id);
        }
    }

    fn id_bound(&self) -> usize {
        self.counts.len()
    }
}

/// The detector; see the module documentation. Feed it every token of a text channel.
///
/// ```
/// use midstream::engines::temporal::{RepetitionConfig, RepetitionDetector};
///
/// let mut detector = RepetitionDetector::new(RepetitionConfig::default())?;
/// let opening = "once upon a time a small model wrote a story about a lighthouse keeper";
/// let cycle = "and then the keeper said that the light must never go out tonight because \
///              the ships need it to find home";
/// let mut last = None;
/// for token in opening.split(' ').chain(cycle.split_whitespace().cycle().take(60)) {
///     last = detector.push(token);
/// }
/// let repetition = last.expect("the loop is flagged");
/// assert_eq!(repetition.period, 21); // the cycle's length in tokens
/// assert_eq!(repetition.edits, 0);
/// # Ok::<(), midstream::engines::temporal::TemporalError>(())
/// ```
#[derive(Debug)]
pub struct RepetitionDetector {
    config: RepetitionConfig,
    interner: TokenInterner,
    /// Ids of the last `window + lookback` tokens, oldest first.
    recent: std::collections::VecDeque<u32>,
    seen: u64,
    masks: PatternMasks,
    /// Reused buffers: the window's ids, then the searched text's ids.
    window_ids: Vec<u32>,
    text_ids: Vec<u32>,
}

impl RepetitionDetector {
    /// A detector with the given parameters; errors when they cannot work together.
    pub fn new(config: RepetitionConfig) -> Result<RepetitionDetector, TemporalError> {
        if config.window == 0 {
            return Err(TemporalError::InvalidParameter {
                name: "window",
                reason: "the window must hold at least one token".into(),
            });
        }
        if config.max_edits >= config.window {
            return Err(TemporalError::InvalidParameter {
                name: "max_edits",
                reason: format!(
                    "{} edits on a window of {} tokens would match anything",
                    config.max_edits, config.window
                ),
            });
        }
        if config.lookback < config.window {
            return Err(TemporalError::InvalidParameter {
                name: "lookback",
                reason: format!(
                    "a lookback of {} tokens cannot hold an earlier copy of a {}-token window",
                    config.lookback, config.window
                ),
            });
        }
        Ok(RepetitionDetector {
            config,
            interner: TokenInterner::default(),
            recent: std::collections::VecDeque::with_capacity(config.window + config.lookback),
            seen: 0,
            masks: PatternMasks::default(),
            window_ids: Vec::with_capacity(config.window),
            text_ids: Vec::with_capacity(config.lookback),
        })
    }

    /// The parameters in use.
    pub fn config(&self) -> RepetitionConfig {
        self.config
    }

    /// Tokens seen so far.
    pub fn tokens_seen(&self) -> u64 {
        self.seen
    }

    /// Adds a token; returns the repeat the recent window makes, if any (the closest earlier
    /// stretch, the most recent among equally close ones). While a loop lasts, every token
    /// reports it.
    pub fn push(&mut self, token: &str) -> Option<Repetition> {
        let id = self.interner.acquire(token);
        self.recent.push_back(id);
        self.seen += 1;
        if self.recent.len() > self.config.window + self.config.lookback
            && let Some(old) = self.recent.pop_front()
        {
            self.interner.release(old);
        }
        let window = self.config.window;
        let held = self.recent.len();
        if held < window + window.saturating_sub(self.config.max_edits).max(1) {
            return None;
        }
        let text_len = held - window;
        self.window_ids.clear();
        self.window_ids.extend(self.recent.range(text_len..));
        self.text_ids.clear();
        self.text_ids.extend(self.recent.range(..text_len));
        self.masks.rebuild(
            self.window_ids.iter().copied(),
            window,
            self.interner.id_bound(),
        );
        let (edits, end) =
            bitparallel::best_substring_match(&self.masks, self.text_ids.iter().copied())?;
        if edits > self.config.max_edits {
            return None;
        }
        let first_held = self.seen - held as u64;
        let window_start = self.seen - window as u64;
        let earlier_end = first_held + end as u64;
        Some(Repetition {
            window_start,
            window_len: window,
            earlier_end,
            period: self.seen - 1 - earlier_end,
            edits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    #[test]
    fn varied_text_is_not_a_loop() {
        let mut detector = RepetitionDetector::new(RepetitionConfig {
            window: 6,
            max_edits: 1,
            lookback: 64,
        })
        .unwrap();
        let text = "the quick brown fox jumps over the lazy dog while a curious cat watches \
                    from the old wooden fence and birds sing in the tall green trees near a \
                    quiet river that flows toward the distant sea";
        for w in words(text) {
            assert_eq!(detector.push(w), None, "at {w}");
        }
    }

    #[test]
    fn a_loop_is_flagged_with_its_period() {
        let mut detector = RepetitionDetector::new(RepetitionConfig {
            window: 6,
            max_edits: 1,
            lookback: 64,
        })
        .unwrap();
        let intro = words("once upon a time there lived a king who");
        let cycle = words("said the answer is forty two and then");
        let mut first_flag = None;
        let mut last = None;
        for (index, w) in intro
            .iter()
            .chain(cycle.iter().cycle().take(40))
            .enumerate()
        {
            last = detector.push(w);
            if first_flag.is_none() {
                first_flag = last.map(|rep| (index, rep));
            }
        }
        let (at, first) = first_flag.expect("the loop is detected");
        assert_eq!(first.period, cycle.len() as u64);
        assert!(first.edits <= 1);
        // Flagged at the latest once the window is an exact copy of the first cycle's start.
        assert!(at < intro.len() + cycle.len() + 6, "flagged at {at}");
        let last = last.expect("the loop is still flagged");
        assert_eq!((last.period, last.edits), (cycle.len() as u64, 0));
    }

    #[test]
    fn near_repeats_within_the_edit_budget_count() {
        let mut detector = RepetitionDetector::new(RepetitionConfig {
            window: 8,
            max_edits: 2,
            lookback: 64,
        })
        .unwrap();
        let first = words("step 1 of the plan is to wait and see");
        let second = words("step 2 of the plan is to wait and see");
        let mut flagged = None;
        for w in first.iter().chain(&second) {
            flagged = detector.push(w).or(flagged);
        }
        let rep = flagged.expect("near repeat is flagged");
        assert!(rep.edits <= 2);
        assert_eq!(rep.period, first.len() as u64);
    }

    #[test]
    fn memory_stays_bounded_on_endless_unique_tokens() {
        let config = RepetitionConfig {
            window: 4,
            max_edits: 1,
            lookback: 16,
        };
        let mut detector = RepetitionDetector::new(config).unwrap();
        for i in 0..10_000 {
            assert_eq!(detector.push(&format!("t{i}")), None);
        }
        assert!(detector.interner.id_bound() <= config.window + config.lookback + 1);
        assert_eq!(detector.interner.ids.len(), config.window + config.lookback);
    }

    #[test]
    fn rejects_configurations_that_cannot_work() {
        for config in [
            RepetitionConfig {
                window: 0,
                max_edits: 0,
                lookback: 10,
            },
            RepetitionConfig {
                window: 4,
                max_edits: 4,
                lookback: 10,
            },
            RepetitionConfig {
                window: 8,
                max_edits: 1,
                lookback: 4,
            },
        ] {
            assert!(RepetitionDetector::new(config).is_err());
        }
    }
}
