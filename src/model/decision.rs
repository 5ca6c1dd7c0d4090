//! A decision of the learning loop (`engines::meta::learning`): what changed on which channel,
//! at which sample, at which level, from what to what, and why, with the measured numbers.
//! Plain data: the engines make them, the pipeline keeps and records them, a trace carries
//! them (`trace::TraceEntry::Decision`), and the screen and `replay --headless` show them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ChannelId;

/// One change made by the learning loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub channel: ChannelId,
    /// The channel's name when the decision was made (a trace is read without the live catalog).
    pub channel_name: String,
    /// The channel's sample count when the decision was made.
    pub sample: u64,
    /// 1: patterns and thresholds; 2: analysis parameters; 3: the loop's judgement of itself.
    pub level: u8,
    /// What changed (`pattern sine@1800`, `E`, `window`, `embedding rule`).
    pub what: String,
    pub from: String,
    pub to: String,
    /// Why, with the measured numbers.
    pub why: String,
}

impl fmt::Display for Decision {
    /// `decision CHANNEL @SAMPLE level N: WHAT FROM -> TO (WHY)`, the line `replay --headless`
    /// prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "decision {} @{} level {}: {} {} -> {} ({})",
            self.channel_name, self.sample, self.level, self.what, self.from, self.to, self.why
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_prints_as_one_line_of_the_contract() {
        let d = Decision {
            channel: 3,
            channel_name: "sine".into(),
            sample: 2048,
            level: 2,
            what: "E".into(),
            from: "2".into(),
            to: "3".into(),
            why: "rho 0.91 at E 3 vs 0.85 at E 2".into(),
        };
        assert_eq!(
            d.to_string(),
            "decision sine @2048 level 2: E 2 -> 3 (rho 0.91 at E 3 vs 0.85 at E 2)"
        );
    }
}
