//! Level 2 of the learning loop: a channel's analysis parameters from measured quantities.
//!
//! - **E** (embedding dimension) and **τ** (delay) come from the round's dynamics profile:
//!   simplex ρ by E at the series' delay (the first minimum of its mutual information). E moves
//!   only when the current one forecasts worse than the proposal by more than
//!   [`EMBEDDING_RHO_TOLERANCE`]; τ only when two rounds in a row propose a delay more than
//!   [`TAU_DEADBAND`] away. So estimation noise never moves them.
//! - **N** (the analysis window) grows when the attractor measures are unstable across
//!   windows: the coefficient of variation of λ or D2 over the last [`STABILITY_WINDOWS`]
//!   attractor analyses above [`STABILITY_CV`] says the windows hold too little of the
//!   attractor to characterise it, and doubling N gives the EDM library more of it too.
//! - **The re-analysis interval** doubles after [`QUIET_ROUNDS`] rounds without drift, up to
//!   [`MAX_INTERVAL`]: stationary dynamics need not be re-analysed as often.
//! - **The class** (linear or nonlinear dynamics, by the S-map test) follows two rounds that
//!   agree.
//!
//! **Drift** is detected by a two-sided Page–Hinkley test ([`PageHinkley`]; Page 1954, Hinkley
//! 1971) on the forecast skill ρ and on the one-dimensional skill ρ(E = 1), an embedding
//! statistic. An alarm resets N and the interval to their defaults and lets E, τ and the class
//! follow the current round at once.

use std::collections::VecDeque;

pub use crate::engines::meta::edm::EMBEDDING_RHO_TOLERANCE;

/// A proposed delay within this fraction of the current one (or one sample) keeps it.
pub const TAU_DEADBAND: f64 = 0.2;

/// Attractor analyses over which the stability of λ and D2 is measured.
pub const STABILITY_WINDOWS: usize = 3;

/// Coefficient of variation of λ or D2 above which the window is too short: estimates of λ on
/// a well-sampled attractor vary by 10–20% between windows (Rosenstein et al. 1993, Table 1),
/// so beyond 30% the windows disagree about the dynamics.
pub const STABILITY_CV: f64 = 0.3;

/// Rounds without drift after which the interval doubles.
pub const QUIET_ROUNDS: u32 = 8;

/// The re-analysis interval's default and bounds, in samples (the pipeline's stride).
pub const DEFAULT_INTERVAL: u64 = 256;
pub const MAX_INTERVAL: u64 = 1024;

/// Analysis window bounds and default (the meta track's).
pub const DEFAULT_LENGTH: usize = 1024;
pub const MIN_LENGTH: usize = 256;
pub const MAX_LENGTH: usize = 4096;

/// Page–Hinkley tolerance δ: changes of the mean skill smaller than this are not drift (the
/// round-to-round scatter of ρ on a stationary chaotic flow is about 0.01).
pub const DRIFT_TOLERANCE: f64 = 0.01;

/// Page–Hinkley alarm threshold λ on the cumulative deviation: a sustained drop of ρ by 0.05
/// raises it within three rounds, a single outlier of 0.09 does not.
pub const DRIFT_THRESHOLD: f64 = 0.1;

/// Measurements a Page–Hinkley detector takes before it may raise an alarm: its mean must
/// first be known.
pub const DRIFT_WARMUP: u64 = 3;

/// A two-sided Page–Hinkley change detector on a sequence of measurements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageHinkley {
    n: u64,
    mean: f64,
    /// Cumulative deviations for an increase and a decrease of the mean, and their extremes.
    up: f64,
    up_min: f64,
    down: f64,
    down_max: f64,
}

impl PageHinkley {
    /// Adds a measurement; true when it completes a change of the mean (the detector then
    /// starts again from this measurement).
    pub fn push(&mut self, x: f64) -> bool {
        if !x.is_finite() {
            return false;
        }
        self.n += 1;
        self.mean += (x - self.mean) / self.n as f64;
        self.up += x - self.mean - DRIFT_TOLERANCE;
        self.up_min = self.up_min.min(self.up);
        self.down += x - self.mean + DRIFT_TOLERANCE;
        self.down_max = self.down_max.max(self.down);
        let alarm = self.n > DRIFT_WARMUP
            && (self.up - self.up_min > DRIFT_THRESHOLD
                || self.down_max - self.down > DRIFT_THRESHOLD);
        if alarm {
            *self = PageHinkley::default();
            self.push(x);
        }
        alarm
    }
}

/// What a round measured, for the parameter rules.
#[derive(Debug, Clone, Copy)]
pub struct Measured<'a> {
    pub proposed_e: usize,
    pub proposed_tau: usize,
    /// Simplex ρ for E = 1, 2, … at the proposed τ.
    pub rho_by_e: &'a [f64],
    pub forecast_skill: f64,
    pub nonlinear: bool,
    pub theta: f64,
    /// The channel's latest attractor estimates (λ, D2), when there are new ones.
    pub lambda: Option<f64>,
    pub d2: Option<f64>,
    /// The round analysed a full window (a young channel's growing window changes the skill
    /// without any drift, so the detectors skip those rounds).
    pub full_window: bool,
}

/// One parameter change: what, from, to, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub what: &'static str,
    pub from: String,
    pub to: String,
    pub why: String,
}

/// A channel's tuned parameters and what they are tuned from.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterTuner {
    pub e: Option<usize>,
    pub tau: Option<usize>,
    pub length: usize,
    pub interval: u64,
    pub nonlinear: Option<bool>,
    pending_tau: Option<usize>,
    pending_class: Option<bool>,
    skill_drift: PageHinkley,
    embedding_drift: PageHinkley,
    quiet: u32,
    lambdas: VecDeque<f64>,
    d2s: VecDeque<f64>,
}

impl Default for ParameterTuner {
    fn default() -> Self {
        Self {
            e: None,
            tau: None,
            length: DEFAULT_LENGTH,
            interval: DEFAULT_INTERVAL,
            nonlinear: None,
            pending_tau: None,
            pending_class: None,
            skill_drift: PageHinkley::default(),
            embedding_drift: PageHinkley::default(),
            quiet: 0,
            lambdas: VecDeque::new(),
            d2s: VecDeque::new(),
        }
    }
}

/// Coefficient of variation (population), `None` with fewer than [`STABILITY_WINDOWS`] values
/// or a zero mean.
fn cv(values: &VecDeque<f64>) -> Option<f64> {
    if values.len() < STABILITY_WINDOWS {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean != 0.0).then(|| var.sqrt() / mean.abs())
}

fn class_name(nonlinear: bool) -> &'static str {
    if nonlinear { "nonlinear" } else { "linear" }
}

impl ParameterTuner {
    /// Applies the rules (module documentation) to a round's measurements; the changes made.
    pub fn update(&mut self, m: &Measured) -> Vec<Change> {
        let mut changes = Vec::new();
        let rho_e1 = m.rho_by_e.first().copied().unwrap_or(f64::NAN);
        let (skill_alarm, embedding_alarm) = if m.full_window {
            (
                self.skill_drift.push(m.forecast_skill),
                self.embedding_drift.push(rho_e1),
            )
        } else {
            (false, false)
        };
        let drift = (skill_alarm || embedding_alarm) && self.e.is_some();
        if drift {
            let numbers = format!("rho {:.3}, rho(E=1) {:.3}", m.forecast_skill, rho_e1);
            changes.push(Change {
                what: "drift",
                from: "stable".into(),
                to: "drifting".into(),
                why: format!(
                    "Page-Hinkley alarm on {}: rho {:.3}, rho(E=1) {:.3}",
                    if skill_alarm {
                        "forecast skill"
                    } else {
                        "rho(E=1)"
                    },
                    m.forecast_skill,
                    rho_e1
                ),
            });
            self.quiet = 0;
            self.lambdas.clear();
            self.d2s.clear();
            if self.length != DEFAULT_LENGTH {
                changes.push(Change {
                    what: "window",
                    from: self.length.to_string(),
                    to: DEFAULT_LENGTH.to_string(),
                    why: format!("reset after drift: {numbers}"),
                });
                self.length = DEFAULT_LENGTH;
            }
            if self.interval != DEFAULT_INTERVAL {
                changes.push(Change {
                    what: "interval",
                    from: self.interval.to_string(),
                    to: DEFAULT_INTERVAL.to_string(),
                    why: format!("reset after drift: {numbers}"),
                });
                self.interval = DEFAULT_INTERVAL;
            }
        } else {
            self.quiet += 1;
        }
        // E.
        let rho_at = |e: usize| m.rho_by_e.get(e.wrapping_sub(1)).copied();
        let new_e = match self.e {
            None => Some(m.proposed_e),
            Some(e) if e == m.proposed_e => None,
            Some(_) if drift => Some(m.proposed_e),
            Some(e) => match (rho_at(e), rho_at(m.proposed_e)) {
                (Some(cur), Some(new)) if new - cur > EMBEDDING_RHO_TOLERANCE => Some(m.proposed_e),
                (None, _) => Some(m.proposed_e),
                _ => None,
            },
        };
        if let Some(e) = new_e
            && self.e.is_none()
            && e == super::judge::DEFAULT_E
        {
            self.e = Some(e);
        } else if let Some(e) = new_e {
            let from = self.e.map_or_else(|| "default 2".into(), |e| e.to_string());
            let cur = self.e.and_then(rho_at);
            changes.push(Change {
                what: "E",
                from,
                to: e.to_string(),
                why: match cur {
                    Some(cur) => format!(
                        "simplex rho {:.3} at E {e} vs {cur:.3} at E {}",
                        rho_at(e).unwrap_or(f64::NAN),
                        self.e.unwrap_or(0)
                    ),
                    None => format!(
                        "simplex rho {:.3} at E {e}, best of E 1..{} within {EMBEDDING_RHO_TOLERANCE}",
                        rho_at(e).unwrap_or(f64::NAN),
                        m.rho_by_e.len()
                    ),
                },
            });
            self.e = Some(e);
        }
        // τ.
        let near = |a: usize, b: usize| a.abs_diff(b) as f64 <= (TAU_DEADBAND * b as f64).max(1.0);
        let new_tau = match (self.tau, self.pending_tau) {
            (None, _) => Some(m.proposed_tau),
            (Some(t), _) if near(m.proposed_tau, t) => {
                self.pending_tau = None;
                None
            }
            (Some(_), _) if drift => Some(m.proposed_tau),
            (Some(_), Some(p)) if near(m.proposed_tau, p) => Some(m.proposed_tau),
            (Some(_), _) => {
                self.pending_tau = Some(m.proposed_tau);
                None
            }
        };
        if let Some(tau) = new_tau
            && self.tau.is_none()
            && tau == super::judge::DEFAULT_TAU
        {
            self.tau = Some(tau);
        } else if let Some(tau) = new_tau {
            changes.push(Change {
                what: "tau",
                from: self
                    .tau
                    .map_or_else(|| "default 1".into(), |t| t.to_string()),
                to: tau.to_string(),
                why: format!(
                    "first minimum of the mutual information at lag {tau}{}",
                    if self.tau.is_some() && !drift {
                        " in two rounds"
                    } else {
                        ""
                    }
                ),
            });
            self.tau = Some(tau);
            self.pending_tau = None;
        }
        // Class.
        let new_class = match (self.nonlinear, self.pending_class) {
            (None, _) => Some(m.nonlinear),
            (Some(c), _) if c == m.nonlinear => {
                self.pending_class = None;
                None
            }
            (Some(_), _) if drift => Some(m.nonlinear),
            (Some(_), Some(p)) if p == m.nonlinear => Some(m.nonlinear),
            (Some(_), _) => {
                self.pending_class = Some(m.nonlinear);
                None
            }
        };
        if let Some(c) = new_class {
            changes.push(Change {
                what: "class",
                from: self
                    .nonlinear
                    .map_or_else(|| "unknown".into(), |c| class_name(c).into()),
                to: class_name(c).into(),
                why: format!(
                    "S-map best theta {} with rho {:.3}",
                    m.theta, m.forecast_skill
                ),
            });
            self.nonlinear = Some(c);
            self.pending_class = None;
        }
        // N from the stability of λ and D2.
        for (values, x) in [(&mut self.lambdas, m.lambda), (&mut self.d2s, m.d2)] {
            if let Some(x) = x.filter(|x| x.is_finite()) {
                if values.len() == STABILITY_WINDOWS {
                    values.pop_front();
                }
                values.push_back(x);
            }
        }
        let unstable = [("lambda", cv(&self.lambdas)), ("D2", cv(&self.d2s))]
            .into_iter()
            .find_map(|(name, cv)| cv.filter(|&c| c > STABILITY_CV).map(|c| (name, c)));
        if let Some((name, c)) = unstable
            && self.length < MAX_LENGTH
        {
            let to = (self.length * 2).min(MAX_LENGTH);
            changes.push(Change {
                what: "window",
                from: self.length.to_string(),
                to: to.to_string(),
                why: format!(
                    "{name} varies by {:.0}% across the last {STABILITY_WINDOWS} windows (> {:.0}%)",
                    c * 100.0,
                    STABILITY_CV * 100.0
                ),
            });
            self.length = to;
            self.lambdas.clear();
            self.d2s.clear();
        }
        // Interval.
        if self.quiet >= QUIET_ROUNDS && self.interval < MAX_INTERVAL {
            let to = (self.interval * 2).min(MAX_INTERVAL);
            changes.push(Change {
                what: "interval",
                from: self.interval.to_string(),
                to: to.to_string(),
                why: format!("no drift in {} rounds", self.quiet),
            });
            self.interval = to;
            self.quiet = 0;
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_hinkley_is_quiet_on_noise_and_fires_on_a_step() {
        let mut ph = PageHinkley::default();
        let mut s = 7u64;
        let mut noise = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.02
        };
        for _ in 0..200 {
            assert!(!ph.push(0.95 + noise()));
        }
        let fired = (0..5).position(|_| ph.push(0.85 + noise()));
        assert!(matches!(fired, Some(0..=2)), "{fired:?}");
    }
}
