//! Level 3 of the learning loop: does tuning pay?
//!
//! Each round, before the parameters are revised, the samples that came since the previous
//! round are *held out*: neither the tuned parameters (chosen on the previous round's window,
//! which ended where they begin) nor the defaults (pyEDM's E = 2, τ = 1) have seen them. Both
//! forecast them by simplex projection from the samples before, at the same horizon (the tuned
//! τ, the horizon the tuned embedding is for), and the two skills ρ are kept for the last
//! [`JUDGE_ROUNDS`] rounds. Once [`JUDGE_MIN_ROUNDS`] are in, the embedding rule is backed off
//! (the defaults are used) when the tuned parameters forecast worse by more than
//! [`JUDGE_MARGIN`] on average, and restored when they come to forecast better by more than it.

use std::collections::VecDeque;

use crate::engines::meta::edm::{EdmParams, simplex};

/// pyEDM's defaults (`EdmParams::default`), the baseline tuning must beat.
pub const DEFAULT_E: usize = 2;
pub const DEFAULT_TAU: usize = 1;

/// Held-out scores kept (the newest), and how many are needed for a verdict.
pub const JUDGE_ROUNDS: usize = 8;
pub const JUDGE_MIN_ROUNDS: usize = 4;

/// Mean difference of ρ that counts as paying (or not): twice the embedding tolerance, well
/// above the scatter of a mean of four held-out ρ on a stationary series.
pub const JUDGE_MARGIN: f64 = 0.04;

/// Held-out skill of the tuned parameters and of the defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOutScore {
    pub tuned: f64,
    pub default: f64,
}

/// Scores `tuned` (E, τ) against the defaults on the last `held_out` samples of `series`, from
/// the samples before them; `None` when either cannot forecast (too few samples).
pub fn score(series: &[f64], held_out: usize, e: usize, tau: usize) -> Option<HeldOutScore> {
    let n = series.len();
    if held_out == 0 || held_out >= n {
        return None;
    }
    let split = n - held_out;
    let tp = tau.max(1);
    let run = |e: usize, tau: usize| {
        // Prediction rows start early enough that their embedding reaches back into the library
        // but their targets (t + Tp) all lie in the held-out samples.
        let params = EdmParams {
            e,
            tau,
            tp,
            exclusion_radius: 0,
        };
        let pred_start = split.saturating_sub(tp);
        let lib_end = pred_start;
        simplex(series, 0..lib_end, pred_start..n, &params)
            .ok()
            .map(|s| s.rho)
    };
    Some(HeldOutScore {
        tuned: run(e, tau)?,
        default: run(DEFAULT_E, DEFAULT_TAU)?,
    })
}

/// The running verdict on a channel's embedding rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TuningJudge {
    scores: VecDeque<HeldOutScore>,
    /// The defaults are in use because tuning did not pay.
    pub backed_off: bool,
}

/// A verdict that changed: from, to, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub from: &'static str,
    pub to: &'static str,
    pub why: String,
}

impl TuningJudge {
    /// Mean held-out ρ of the tuned parameters and of the defaults over the kept rounds.
    pub fn means(&self) -> Option<(f64, f64, usize)> {
        let n = self.scores.len();
        (n > 0).then(|| {
            let t = self.scores.iter().map(|s| s.tuned).sum::<f64>() / n as f64;
            let d = self.scores.iter().map(|s| s.default).sum::<f64>() / n as f64;
            (t, d, n)
        })
    }

    /// Adds a round's score and returns the verdict when it changes.
    pub fn push(&mut self, score: HeldOutScore) -> Option<Verdict> {
        if !score.tuned.is_finite() || !score.default.is_finite() {
            return None;
        }
        if self.scores.len() == JUDGE_ROUNDS {
            self.scores.pop_front();
        }
        self.scores.push_back(score);
        let (t, d, n) = self.means()?;
        if n < JUDGE_MIN_ROUNDS {
            return None;
        }
        let why = format!(
            "held-out rho tuned {t:.3} vs default {d:.3} over {n} rounds, margin {JUDGE_MARGIN}"
        );
        if !self.backed_off && t < d - JUDGE_MARGIN {
            self.backed_off = true;
            return Some(Verdict {
                from: "tuned",
                to: "default",
                why,
            });
        }
        if self.backed_off && t > d + JUDGE_MARGIN {
            self.backed_off = false;
            return Some(Verdict {
                from: "default",
                to: "tuned",
                why,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_backs_off_when_it_does_not_pay_and_comes_back_when_it_does() {
        let mut j = TuningJudge::default();
        for _ in 0..3 {
            assert_eq!(
                j.push(HeldOutScore {
                    tuned: 0.5,
                    default: 0.9
                }),
                None
            );
        }
        let v = j
            .push(HeldOutScore {
                tuned: 0.5,
                default: 0.9,
            })
            .expect("backs off after four rounds");
        assert_eq!((v.from, v.to), ("tuned", "default"));
        assert!(j.backed_off);
        let mut restored = None;
        for _ in 0..JUDGE_ROUNDS {
            restored = restored.or(j.push(HeldOutScore {
                tuned: 0.99,
                default: 0.6,
            }));
        }
        assert_eq!(restored.map(|v| v.to), Some("tuned"));
    }

    #[test]
    fn a_sine_is_forecast_from_its_past() {
        let sine: Vec<f64> = (0..1024)
            .map(|i| (std::f64::consts::TAU * i as f64 / 50.0).sin())
            .collect();
        let s = score(&sine, 256, 2, 12).unwrap();
        assert!(s.tuned > 0.99 && s.default > 0.9, "{s:?}");
    }
}
